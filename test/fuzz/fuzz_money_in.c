// fuzz_money_in: the text input of finsec.money (finsec_money_in).
// sources: src/money/money_parse.c
//
// Any byte string must give a value or a status, never a crash.  Checked
// invariants (abort on violation):
//   - a parsed value is in range and its currency is in the table;
//   - format -> parse gives the same value, and format is canonical
//     (formatting the re-parsed value gives the same text);
//   - the binary form round-trips;
//   - the table is sorted, with unique numeric codes, and each lookup
//     finds its own entry.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/money/money_parse.h"

static void
check_table(void)
{
	static int	done = 0;

	if (done)
		return;
	done = 1;
	for (size_t i = 0; i < finsec_money_currency_count(); i++)
	{
		const fm_currency *c = finsec_money_currency_at(i);

		if (i > 0 && strcmp(finsec_money_currency_at(i - 1)->code, c->code) >= 0)
			abort();
		if (finsec_money_currency_by_code(c->code, 3) != c || finsec_money_currency_by_numeric(c->numeric) != c)
			abort();
		if (c->exponent > 4)
			abort();
	}
	if (finsec_money_currency_at(finsec_money_currency_count()) != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fm_value	v,
				w;
	fm_parse_info info;
	char		text[FM_TEXT_MAX],
				text2[FM_TEXT_MAX];
	unsigned char bin[FM_BINARY_LEN];
	size_t		n;
	fm_status	st;

	check_table();
	st = finsec_money_parse((const char *) data, size, &v, &info);
	if (st != FM_OK)
	{
		if ((st == FM_TOO_MANY_DECIMALS || st == FM_OUT_OF_RANGE) && info.cur == NULL)
			abort();
		if (st == FM_UNKNOWN_CURRENCY && strlen(info.code) != 3)
			abort();
		return 0;
	}
	if (v.units == INT64_MIN || v.cur == NULL || finsec_money_currency_by_code(v.cur->code, 3) != v.cur)
		abort();

	n = finsec_money_format(&v, text);
	if (n != strlen(text) || n >= FM_TEXT_MAX)
		abort();
	if (finsec_money_parse(text, n, &w, NULL) != FM_OK || w.units != v.units || w.cur != v.cur)
		abort();
	finsec_money_format(&w, text2);
	if (strcmp(text, text2) != 0)
		abort();

	finsec_money_encode(&v, bin);
	if (finsec_money_decode(bin, sizeof(bin), &w) != FM_OK || w.units != v.units || w.cur != v.cur)
		abort();
	return 0;
}
