/*-------------------------------------------------------------------------
 *
 * b64url.c
 *	  base64url without padding, total over any input (finsec_b64url.h).
 *
 * No PostgreSQL headers: the fuzz targets link this file alone.
 *
 *-------------------------------------------------------------------------
 */
#include "finsec_b64url.h"

static const char b64chars[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

bool
finsec_b64url_char(char c)
{
	return b64val(c) >= 0;
}

size_t
finsec_b64url_encode(const uint8_t *in, size_t len, char *out)
{
	size_t		o = 0;
	size_t		i;

	for (i = 0; i + 2 < len; i += 3)
	{
		uint32_t	v = ((uint32_t) in[i] << 16) | ((uint32_t) in[i + 1] << 8) | in[i + 2];

		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = b64chars[(v >> 6) & 63];
		out[o++] = b64chars[v & 63];
	}
	if (len - i == 1)
	{
		uint32_t	v = (uint32_t) in[i] << 16;

		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
	}
	else if (len - i == 2)
	{
		uint32_t	v = ((uint32_t) in[i] << 16) | ((uint32_t) in[i + 1] << 8);

		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = b64chars[(v >> 6) & 63];
	}
	return o;
}

bool
finsec_b64url_decode(const char *in, size_t len, uint8_t *out, size_t outcap,
					 size_t *outlen)
{
	size_t		o = 0;
	uint32_t	acc = 0;
	int			bits = 0;

	*outlen = 0;
	if (len % 4 == 1)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		int			v = b64val(in[i]);

		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			if (o == outcap)
				return false;
			out[o++] = (uint8_t) (acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Unused trailing bits must be zero: one encoding per byte string. */
	if (acc != 0)
		return false;
	*outlen = o;
	return true;
}
