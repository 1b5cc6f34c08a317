/*
 * label.c -- placeholder of the protect skeleton, replaced by its owner.
 */
#include "postgres.h"

#include "finsec_protect.h"

void
finsec_protect_label_define_settings(void)
{
}

void
finsec_protect_label_init(void)
{
}
