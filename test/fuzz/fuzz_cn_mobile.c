// fuzz_cn_mobile.c -- libFuzzer target for the mainland mobile number
// parser, finsec.cn_mobile.
// sources: src/cnid/cnid_parse.c
//
// Invariants (abort() on violation):
//  - any input gives OK or an error whose problem text is bounded and holds
//    no run of 6 digits (it cannot quote a value);
//  - an accepted number is 11 digits beginning 1[3-9], its digits are the
//    input's last 11 digits, it reparses to itself bare and with each
//    country prefix (+86, 0086, 86) and separators, packs and unpacks to
//    itself, and masks to 138****5678 shape.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cnid_parse.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * No identifier in a problem text: it never holds a run of 6 or more
 * digits (every resident ID, credit code and mobile number has one), so it
 * cannot quote a value, whatever the input.
 */
static void
check_no_number(const char *text, size_t n)
{
	size_t		run = 0;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		run = (text[i] >= '0' && text[i] <= '9') ? run + 1 : 0;
		if (run >= 6)
			abort();
	}
}

static void
same(const char *s, const char *expect)
{
	char		out[CNID_MOBILE_LEN];

	if (finsec_cnid_parse_mobile(s, strlen(s), out).status != CNID_OK
		|| memcmp(out, expect, CNID_MOBILE_LEN) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		m[CNID_MOBILE_LEN];
	char		text[CNID_PROBLEM_MAX];
	char		buf[40];
	char		masked[CNID_MOBILE_LEN];
	char		unpacked[CNID_MOBILE_LEN];
	CnidResult	r;
	size_t		n,
				i,
				k;

	r = finsec_cnid_parse_mobile((const char *) data, size, m);
	n = finsec_cnid_problem_text(CNID_MOBILE, r, text, sizeof(text));
	(void) finsec_cnid_problem_hint(CNID_MOBILE, r);
	if (n >= sizeof(text) || strlen(text) != n || (r.status == CNID_OK) != (n == 0))
		abort();
	check_no_number(text, n);
	if (r.status != CNID_OK)
	{
		return 0;
	}

	if (m[0] != '1' || m[1] < '3' || m[1] > '9')
		abort();
	for (i = 0; i < CNID_MOBILE_LEN; i++)
		if (m[i] < '0' || m[i] > '9')
			abort();
	/* The number is the input's last 11 digits. */
	k = CNID_MOBILE_LEN;
	for (i = size; i > 0 && k > 0; i--)
		if (data[i - 1] >= '0' && data[i - 1] <= '9')
			if (data[i - 1] != (uint8_t) m[--k])
				abort();
	if (k != 0)
		abort();

	memcpy(buf, m, CNID_MOBILE_LEN);
	buf[CNID_MOBILE_LEN] = '\0';
	same(buf, m);
	memcpy(buf, "+86 ", 4);
	memcpy(buf + 4, m, CNID_MOBILE_LEN);
	buf[4 + CNID_MOBILE_LEN] = '\0';
	same(buf, m);
	memcpy(buf, "0086", 4);
	same(buf, m);
	memcpy(buf, "86", 2);
	memcpy(buf + 2, m, CNID_MOBILE_LEN);
	buf[2 + CNID_MOBILE_LEN] = '\0';
	same(buf, m);
	memcpy(buf, m, 3);
	buf[3] = '-';
	memcpy(buf + 4, m + 3, 4);
	buf[8] = ' ';
	memcpy(buf + 9, m + 7, 4);
	buf[13] = '\0';
	same(buf, m);

	if (!finsec_cnid_mobile_unpack(finsec_cnid_mobile_pack(m), unpacked)
		|| memcmp(m, unpacked, CNID_MOBILE_LEN) != 0)
		abort();
	finsec_cnid_mask_mobile(m, masked);
	for (i = 0; i < CNID_MOBILE_LEN; i++)
		if (i >= 3 && i < 7 ? masked[i] != '*' : masked[i] != m[i])
			abort();
	return 0;
}
