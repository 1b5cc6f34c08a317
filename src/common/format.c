/*-------------------------------------------------------------------------
 *
 * format.c
 *	  A palloc'd message from a format and a va_list, for the functions that
 *	  take printf-style arguments and pass them on to ereport.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "finsec.h"

/* fmt formatted with args (which the caller va_starts and va_ends), palloc'd. */
char *
finsec_vformat(const char *fmt, va_list args)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		va_list		copy;
		int			needed;

		va_copy(copy, args);
		needed = appendStringInfoVA(&buf, fmt, copy);
		va_end(copy);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	return buf.data;
}
