/*
 * value.c -- placeholder of the protect skeleton, replaced by its owner.
 */
#include "postgres.h"

#include "finsec_protect.h"

void
finsec_protect_core_define_settings(void)
{
}
