// fuzz_money_recv: the binary input of finsec.money (finsec_money_recv).
// sources: src/money/money_parse.c
//
// Any byte string must decode to a value or a status.  Checked invariants
// (abort on violation): a decoded value is in range with a known currency
// whose exponent the input carried; encoding it gives back the input bytes;
// its text form parses back to the same value.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/money/money_parse.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fm_value	v,
				w;
	unsigned char bin[FM_BINARY_LEN];
	char		text[FM_TEXT_MAX];
	size_t		n;

	if (finsec_money_decode(data, size, &v) != FM_OK)
		return 0;
	if (size != FM_BINARY_LEN || v.units == INT64_MIN || v.cur == NULL ||
		v.cur->exponent != data[11])
		abort();
	finsec_money_encode(&v, bin);
	if (memcmp(bin, data, FM_BINARY_LEN) != 0)
		abort();
	n = finsec_money_format(&v, text);
	if (finsec_money_parse(text, n, &w, NULL) != FM_OK || w.units != v.units || w.cur != v.cur)
		abort();
	return 0;
}
