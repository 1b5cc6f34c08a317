/*-------------------------------------------------------------------------
 *
 * relcache.c
 *	  One relcache invalidation callback for all of finsec.
 *
 * PostgreSQL keeps at most MAX_RELCACHE_CALLBACKS (10 in PostgreSQL 15)
 * relcache callbacks per backend, for every library together, and a
 * backend that registers one more ends with FATAL "out of
 * relcache_callback_list slots".  finsec's capabilities each keep caches
 * keyed by relation (limits, risk, the monitor's DDL guard, the keyring,
 * protected-data policies and labels, the application-table layer): nine
 * callbacks, which with PostgreSQL's own plan cache and pgoutput's in a
 * walsender, or any other extension, overflowed the list in a session
 * that used them all.  So a capability registers its callback here; the
 * first registration in a backend installs the one PostgreSQL callback,
 * which calls each registered one in registration order.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/inval.h"

#include "finsec.h"

#define FINSEC_RELCACHE_CALLBACKS 16

typedef struct RelcacheCallbackEntry
{
	RelcacheCallbackFunction fn;
	Datum		arg;
} RelcacheCallbackEntry;

static RelcacheCallbackEntry callbacks[FINSEC_RELCACHE_CALLBACKS];
static int	ncallbacks = 0;
static bool installed = false;

static void
relcache_dispatch(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < ncallbacks; i++)
		callbacks[i].fn(callbacks[i].arg, relid);
}

/*
 * Register fn(arg, relid) for every relcache invalidation of this backend
 * (relid InvalidOid: all relations).  Registering the same function and
 * argument again does nothing.  Never unregistered, like PostgreSQL's own.
 */
void
finsec_register_relcache_callback(RelcacheCallbackFunction fn, Datum arg)
{
	int			i;

	for (i = 0; i < ncallbacks; i++)
		if (callbacks[i].fn == fn && callbacks[i].arg == arg)
			return;
	if (ncallbacks >= FINSEC_RELCACHE_CALLBACKS)
		elog(ERROR, "finsec: out of relcache callback slots");
	if (!installed)
	{
		CacheRegisterRelcacheCallback(relcache_dispatch, (Datum) 0);
		installed = true;
	}
	callbacks[ncallbacks].fn = fn;
	callbacks[ncallbacks].arg = arg;
	ncallbacks++;
}
