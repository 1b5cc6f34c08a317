// fuzz_cn_resident_id.c -- libFuzzer target for the resident ID number parser
// (GB 11643-1999) and the 15-digit conversion, finsec.cn_resident_id.
// sources: src/cnid/cnid_parse.c
//
// Invariants (abort() on violation):
//  - any input gives OK or an error with a problem text shorter than
//    CNID_PROBLEM_MAX that holds no run of 6 digits (it cannot quote an
//    ID number: no echo of personal data);
//  - an accepted value is 17 digits and a check character, satisfies the
//    MOD 11-2 congruence computed here independently (weights 2^(18-i)),
//    has a valid region and birth date, reparses to itself, packs and
//    unpacks to itself, and masks to the same length with the kept parts;
//  - a converted 15-digit number is a valid 18-character number with
//    century 19 and the original digits in place.
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
check_problem(CnidKind kind, CnidResult r)
{
	char		text[CNID_PROBLEM_MAX];
	size_t		n = finsec_cnid_problem_text(kind, r, text, sizeof(text));

	if (n >= sizeof(text) || strlen(text) != n)
		abort();
	if ((r.status == CNID_OK) != (n == 0))
		abort();
	check_no_number(text, n);
}

/* Independent MOD 11-2 check: sum of a_i * 2^(18-i) mod 11 over all 18 is 1. */
static int
mod11_2_ok(const char *id)
{
	int			sum = 0;
	int			w = 1;
	int			i;

	for (i = 17; i >= 0; i--)
	{
		int			a = id[i] == 'X' ? 10 : id[i] - '0';

		sum = (sum + a * w) % 11;
		w = (w * 2) % 11;
	}
	return sum == 1;
}

static void
check_valid(const char *id)
{
	char		again[CNID_RESIDENT_ID_LEN];
	char		unpacked[CNID_RESIDENT_ID_LEN];
	char		masked[CNID_RESIDENT_ID_LEN];
	int			i,
				y,
				m,
				d;

	for (i = 0; i < 17; i++)
		if (id[i] < '0' || id[i] > '9')
			abort();
	if (!((id[17] >= '0' && id[17] <= '9') || id[17] == 'X'))
		abort();
	if (!mod11_2_ok(id))
		abort();
	finsec_cnid_resident_id_birth(id, &y, &m, &d);
	if (y < CNID_MIN_BIRTH_YEAR || y > CNID_MAX_BIRTH_YEAR || m < 1 || m > 12 || d < 1 || d > 31)
		abort();
	if (finsec_cnid_parse_resident_id(id, CNID_RESIDENT_ID_LEN, again).status != CNID_OK
		|| memcmp(id, again, CNID_RESIDENT_ID_LEN) != 0)
		abort();
	if (!finsec_cnid_resident_id_unpack(finsec_cnid_resident_id_pack(id), unpacked)
		|| memcmp(id, unpacked, CNID_RESIDENT_ID_LEN) != 0)
		abort();
	finsec_cnid_mask_resident_id(id, masked);
	for (i = 0; i < CNID_RESIDENT_ID_LEN; i++)
		if (i >= 6 && i < 14 ? masked[i] != '*' : masked[i] != id[i])
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *) data;
	char		id[CNID_RESIDENT_ID_LEN];
	CnidResult	r;

	r = finsec_cnid_parse_resident_id(s, size, id);
	check_problem(CNID_RESIDENT_ID, r);
	(void) finsec_cnid_problem_hint(CNID_RESIDENT_ID, r);
	if (r.status == CNID_OK)
		check_valid(id);
	else if (r.status == CNID_BAD_CHAR && (r.pos == 0 || r.pos > size))
		abort();

	r = finsec_cnid_parse_resident_id_15(s, size, id);
	check_problem(CNID_RESIDENT_ID_15, r);
	(void) finsec_cnid_problem_hint(CNID_RESIDENT_ID_15, r);
	if (r.status == CNID_OK)
	{
		check_valid(id);
		if (id[6] != '1' || id[7] != '9')
			abort();
	}

	/* Unpacking any integer is safe, and what it accepts is consistent. */
	if (size >= 8)
	{
		int64_t		v;
		char		out[CNID_RESIDENT_ID_LEN];

		memcpy(&v, data, sizeof(v));
		if (finsec_cnid_resident_id_unpack(v, out) && finsec_cnid_resident_id_pack(out) != v)
			abort();
	}
	return 0;
}
