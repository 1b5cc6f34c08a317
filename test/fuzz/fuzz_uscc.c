// fuzz_uscc.c -- libFuzzer target for the unified social credit code parser
// (GB 32100-2015, organization code check of GB 11714), finsec.uscc.
// sources: src/cnid/cnid_parse.c
//
// Invariants (abort() on violation):
//  - any input gives OK or an error whose problem text is bounded and holds
//    no run of 6 digits (it cannot quote a value);
//  - an accepted code has 18 characters of the 31-character alphabet,
//    digits at 3-8, satisfies the MOD 31 congruence and the GB 11714
//    congruence computed here independently, reparses to itself (also
//    from lower case), and masks to the same length with the kept parts.
#include <ctype.h>
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

static const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

static int
value31(char c)
{
	const char *p = memchr(alphabet, c, 31);

	if (p == NULL)
		abort();
	return (int) (p - alphabet);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		code[CNID_USCC_LEN];
	char		again[CNID_USCC_LEN];
	char		lower[CNID_USCC_LEN];
	char		masked[CNID_USCC_LEN];
	char		text[CNID_PROBLEM_MAX];
	CnidResult	r;
	size_t		n;
	int			i,
				sum,
				w;

	r = finsec_cnid_parse_uscc((const char *) data, size, code);
	n = finsec_cnid_problem_text(CNID_USCC, r, text, sizeof(text));
	(void) finsec_cnid_problem_hint(CNID_USCC, r);
	if (n >= sizeof(text) || strlen(text) != n || (r.status == CNID_OK) != (n == 0))
		abort();
	check_no_number(text, n);
	if (r.status != CNID_OK)
	{
		return 0;
	}

	/* MOD 31: sum of v_i * 3^(i-1) over 1..17, plus v_18, is 0 mod 31. */
	sum = 0;
	w = 1;
	for (i = 0; i < 17; i++)
	{
		sum = (sum + value31(code[i]) * w) % 31;
		w = (w * 3) % 31;
	}
	if ((sum + value31(code[17])) % 31 != 0)
		abort();
	for (i = 2; i < 8; i++)
		if (!isdigit((unsigned char) code[i]))
			abort();
	/* GB 11714: sum of c_i * w_i over 9..16 plus the check (X = 10) is 0 mod 11. */
	{
		static const int ow[8] = {3, 7, 9, 10, 5, 8, 4, 2};
		int			osum = 0;
		int			c = code[16] == 'X' ? 10 : code[16] - '0';

		if (!(isdigit((unsigned char) code[16]) || code[16] == 'X'))
			abort();
		for (i = 0; i < 8; i++)
		{
			char		ch = code[8 + i];

			osum += (isdigit((unsigned char) ch) ? ch - '0' : ch - 'A' + 10) * ow[i];
		}
		if ((osum + c) % 11 != 0)
			abort();
	}
	if (finsec_cnid_parse_uscc(code, CNID_USCC_LEN, again).status != CNID_OK
		|| memcmp(code, again, CNID_USCC_LEN) != 0)
		abort();
	for (i = 0; i < CNID_USCC_LEN; i++)
		lower[i] = (char) tolower((unsigned char) code[i]);
	if (finsec_cnid_parse_uscc(lower, CNID_USCC_LEN, again).status != CNID_OK
		|| memcmp(code, again, CNID_USCC_LEN) != 0)
		abort();
	finsec_cnid_mask_uscc(code, masked);
	for (i = 0; i < CNID_USCC_LEN; i++)
		if (i >= 8 && i < 16 ? masked[i] != '*' : masked[i] != code[i])
			abort();
	return 0;
}
