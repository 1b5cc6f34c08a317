// fuzz_credit_ladder.c -- libFuzzer target for generalisation ladders of
// credit quasi-identifiers (src/credit/ladder_parse.c): the step grammar,
// the order rules and the transforms.
// sources: src/credit/ladder_parse.c
//
// The first byte picks the mode; the rest is the input.
//  0: a ladder, steps separated by '\n': parse each step, check the order.
//     Invariants: an accepted step has a kind and a number in range; an
//     accepted ladder is strictly coarser step by step (date and number
//     widths strictly increasing and each a multiple of the one before,
//     prefixes strictly shorter), "*" only last; every error has a message.
//  1: a date band: the second byte picks the width (1, 12, 60, 120, 7
//     months...), the rest is the value.  The output is NUL-terminated
//     and shorter than CL_OUT_MAXLEN; a value readable at one width is
//     readable at every width (so the ladder nests: unreadable is "*" at
//     every level).
//  2: a number band: the next 8 bytes the width (1..10^15), the rest the
//     value.  Output "[a,b)" with b - a = n and a a multiple of n, or
//     false; readable at one width means readable at every width.
//  3: a prefix: the next 2 bytes n; the result is at most len, never more
//     than 4n bytes, grows with n and is len once n >= len.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/credit/ladder_parse.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_out(const char *out)
{
	if (memchr(out, '\0', CL_OUT_MAXLEN) == NULL)
		abort();
}

static void
fuzz_ladder(const char *s, size_t len)
{
	ClStep		prev;
	bool		have_prev = false;
	bool		seen_map = false;
	size_t		start = 0;
	int			nsteps = 0;

	while (start <= len)
	{
		const char *nl = memchr(s + start, '\n', len - start);
		size_t		end = nl ? (size_t) (nl - s) : len;
		ClStep		step;
		ClError		err = finsec_cl_parse_step(s + start, end - start, &step);

		if (finsec_cl_error_message(err) == NULL)
			abort();
		if (err == CL_OK)
		{
			switch (step.kind)
			{
				case CL_MONTHS:
					if (step.n < 1 || step.n > 12 * 1000)
						abort();
					break;
				case CL_PREFIX:
					if (step.n < 1 || step.n > 256)
						abort();
					break;
				case CL_ROUND:
					if (step.n < 1 || step.n > INT64_C(1000000000000000))
						abort();
					break;
				case CL_MAP:
					if (step.map[0] == '\0' || memchr(step.map, '\0', CL_MAP_NAMELEN) == NULL)
						abort();
					break;
				case CL_TOP:
					break;
				default:
					abort();
			}
			err = finsec_cl_check_order(have_prev ? &prev : NULL, &step, seen_map);
			if (finsec_cl_error_message(err) == NULL)
				abort();
			if (err == CL_OK && have_prev)
			{
				if (prev.kind == CL_TOP)
					abort();	/* nothing after "*" */
				if (prev.kind == step.kind && (step.kind == CL_MONTHS || step.kind == CL_ROUND) &&
					(step.n <= prev.n || step.n % prev.n != 0))
					abort();
				if (prev.kind == CL_PREFIX && step.kind == CL_PREFIX && step.n >= prev.n)
					abort();
				if (prev.kind != step.kind && prev.kind != CL_MAP && step.kind != CL_MAP &&
					step.kind != CL_TOP)
					abort();	/* families do not mix */
			}
			if (err == CL_OK)
			{
				if (step.kind == CL_MAP)
					seen_map = true;
				prev = step;
				have_prev = true;
				if (++nsteps > 64)
					return;
			}
		}
		if (nl == NULL)
			break;
		start = end + 1;
	}
}

static void
fuzz_months(const uint8_t *data, size_t size)
{
	static const int64_t widths[] = {1, 2, 3, 6, 7, 12, 24, 60, 120, 240, 12000, 0, -1};
	char		out[CL_OUT_MAXLEN];
	int64_t		n;
	bool		any = false,
				all = true;

	if (size < 1)
		return;
	n = widths[data[0] % (sizeof(widths) / sizeof(widths[0]))];
	data++;
	size--;
	if (finsec_cl_apply_months(n, (const char *) data, size, out))
	{
		check_out(out);
		if (out[0] == '\0' || n < 1)
			abort();
	}
	else if (out[0] != '\0')
		abort();
	/* readable at one width, readable at all */
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++)
	{
		bool		ok;

		if (widths[i] < 1)
			continue;
		ok = finsec_cl_apply_months(widths[i], (const char *) data, size, out);
		check_out(out);
		any |= ok;
		all &= ok;
	}
	if (any != all)
		abort();
}

static void
fuzz_round(const uint8_t *data, size_t size)
{
	char		out[CL_OUT_MAXLEN];
	uint64_t	raw = 0;
	int64_t		n;
	bool		first;

	if (size < 8)
		return;
	for (int i = 0; i < 8; i++)
		raw = (raw << 8) | data[i];
	n = (int64_t) (raw % INT64_C(1000000000000000)) + 1;
	data += 8;
	size -= 8;
	first = finsec_cl_apply_round(n, (const char *) data, size, out);
	check_out(out);
	if (first)
	{
		long long	a,
					b;
		char		tail;

		if (sscanf(out, "[%lld,%lld%c", &a, &b, &tail) != 3 || tail != ')')
			abort();
		if (b - a != n || a % n != 0)
			abort();
	}
	else if (out[0] != '\0')
		abort();
	if (finsec_cl_apply_round(1, (const char *) data, size, out) != first)
		abort();
	check_out(out);
	if (finsec_cl_apply_round(INT64_C(1000000000000000), (const char *) data, size, out) != first)
		abort();
	check_out(out);
}

static void
fuzz_prefix(const uint8_t *data, size_t size)
{
	int64_t		n;
	size_t		r,
				r2;

	if (size < 2)
		return;
	n = ((int64_t) data[0] << 8 | data[1]) % 300;
	data += 2;
	size -= 2;
	r = finsec_cl_prefix_bytes((const char *) data, size, n);
	if (r > size || (uint64_t) r > (uint64_t) n * 4)
		abort();
	r2 = finsec_cl_prefix_bytes((const char *) data, size, n + 1);
	if (r2 < r)
		abort();
	if ((size_t) n >= size && r != size)
		abort();
	if (finsec_cl_prefix_bytes(NULL, size, n) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4)
	{
		case 0:
			fuzz_ladder((const char *) data + 1, size - 1);
			break;
		case 1:
			fuzz_months(data + 1, size - 1);
			break;
		case 2:
			fuzz_round(data + 1, size - 1);
			break;
		case 3:
			fuzz_prefix(data + 1, size - 1);
			break;
	}
	return 0;
}
