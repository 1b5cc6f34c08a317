/*-------------------------------------------------------------------------
 *
 * lastlogin.c
 *	  The last successful login of each role (A9: JR/T 0096.5 3.2.5 and
 *	  3.2.6, remove inactive users; the self-check's inactive roles and the
 *	  access review report read it).
 *
 * At each successful authentication of a role that may log in, the client
 * authentication callback records in shared memory (a hash table of
 * LOGIN_SLOTS roles under one LWLock) the role, its OID, the time and the
 * client address, and marks the entry dirty.  The authentication path
 * cannot write tables, so the worker task auth.login_flush of the auth
 * audit database (the database of finsec.auth_audit_database, else the
 * first of finsec.audit_seal_databases: the one that receives the
 * authentication events) upserts the dirty entries into finsec.role_login
 * as finsec's owner, and marks them clean only after its transaction
 * committed.  When the table is full, the oldest clean entry (already in
 * finsec.role_login) makes room; when none is clean the login is counted
 * as dropped (finsec._role_login_pending() reports the count).
 *
 * No state file: what was not flushed when the server stops or crashes
 * (at most one round of finsec.audit_seal_interval) is lost, and the
 * server log, with log_connections, has it.  On a hot standby the worker
 * does not flush (no writes in recovery): logins there stay in the
 * standby's shared memory only, shown by finsec.role_last_login() on the
 * standby until it restarts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/auth.h"
#include "libpq/libpq-be.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_auth.h"
#include "finsec_hooks.h"
#include "finsec_owner.h"
#include "finsec_worker.h"

#define LOGIN_SLOTS			4096
#define LOGIN_ADDR_LEN		64

typedef struct LoginEntry
{
	NameData	role;			/* hash key */
	Oid			roleid;
	TimestampTz at;				/* last successful login */
	char		addr[LOGIN_ADDR_LEN];
	int64		pending;		/* logins not yet counted in the table */
	uint64		gen;			/* generation of the last change */
	bool		dirty;			/* not yet in finsec.role_login */
} LoginEntry;

typedef struct LoginShared
{
	LWLock	   *lock;
	uint64		gen;			/* bumped at every recorded login */
	uint64		dropped;		/* logins not recorded: table full of dirty
								 * entries */
	TimestampTz since;			/* when this server started recording */
} LoginShared;

static LoginShared *login_shared = NULL;
static HTAB *login_hash = NULL;

/* What the running flush wrote, acknowledged after its commit. */
typedef struct LoginFlushed
{
	NameData	role;
	uint64		gen;
	int64		pending;
} LoginFlushed;

static LoginFlushed *flushed = NULL;	/* LOGIN_SLOTS, in TopMemoryContext */
static int	nflushed = 0;

static void
login_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(LoginShared)) +
						   hash_estimate_size(LOGIN_SLOTS, sizeof(LoginEntry)));
	RequestNamedLWLockTranche("finsec_last_login", 1);
}

static void
login_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	login_shared = ShmemInitStruct("finsec last login", sizeof(LoginShared), &found);
	if (!found)
	{
		login_shared->lock = &(GetNamedLWLockTranche("finsec_last_login"))->lock;
		login_shared->gen = 0;
		login_shared->dropped = 0;
		login_shared->since = GetCurrentTimestamp();
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(NameData);
	info.entrysize = sizeof(LoginEntry);
	login_hash = ShmemInitHash("finsec last login table", LOGIN_SLOTS, LOGIN_SLOTS,
							   &info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/* The entry of a role, made if needed; evicts the oldest clean entry when full. */
static LoginEntry *
login_entry_for(const NameData *key)
{
	LoginEntry *e;
	bool		found;

	e = hash_search(login_hash, key, HASH_ENTER_NULL, &found);
	if (e == NULL)
	{
		HASH_SEQ_STATUS seq;
		LoginEntry *cand,
				   *oldest = NULL;

		hash_seq_init(&seq, login_hash);
		while ((cand = hash_seq_search(&seq)) != NULL)
			if (!cand->dirty && (oldest == NULL || cand->at < oldest->at))
				oldest = cand;
		if (oldest == NULL)
			return NULL;
		hash_search(login_hash, &oldest->role, HASH_REMOVE, NULL);
		e = hash_search(login_hash, key, HASH_ENTER_NULL, &found);
		if (e == NULL)
			return NULL;
		found = false;
	}
	if (!found)
	{
		e->roleid = InvalidOid;
		e->at = 0;
		e->addr[0] = '\0';
		e->pending = 0;
		e->gen = 0;
		e->dirty = false;
	}
	return e;
}

/* ClientAuthentication callback: remember a successful login of a login role. */
static void
last_login_client_auth(Port *port, int status)
{
	const char *role = port->user_name;
	const char *addr = port->remote_host ? port->remote_host : "[local]";
	HeapTuple	tup;
	Oid			roleid;
	bool		canlogin;
	NameData	key;
	LoginEntry *e;
	TimestampTz now;

	if (status != STATUS_OK || login_shared == NULL || role == NULL || role[0] == '\0' ||
		strlen(role) >= NAMEDATALEN)
		return;
	tup = SearchSysCache1(AUTHNAME, CStringGetDatum(role));
	if (!HeapTupleIsValid(tup))
		return;
	roleid = ((Form_pg_authid) GETSTRUCT(tup))->oid;
	canlogin = ((Form_pg_authid) GETSTRUCT(tup))->rolcanlogin;
	ReleaseSysCache(tup);
	/* PostgreSQL refuses a role without LOGIN right after this hook. */
	if (!canlogin)
		return;

	memset(&key, 0, sizeof(key));
	namestrcpy(&key, role);
	now = GetCurrentTimestamp();
	LWLockAcquire(login_shared->lock, LW_EXCLUSIVE);
	e = login_entry_for(&key);
	if (e == NULL)
		login_shared->dropped++;
	else
	{
		e->roleid = roleid;
		if (now >= e->at)
		{
			e->at = now;
			strlcpy(e->addr, addr, sizeof(e->addr));
		}
		e->pending++;
		e->gen = ++login_shared->gen;
		e->dirty = true;
	}
	LWLockRelease(login_shared->lock);
}

/* ---- the worker task writing dirty entries to finsec.role_login ---- */

static bool
login_flush_has_work(void *arg)
{
	HASH_SEQ_STATUS seq;
	LoginEntry *e;
	bool		dirty = false;

	if (login_shared == NULL || !finsec_auth_events_here(finsec_worker_database()))
		return false;
	LWLockAcquire(login_shared->lock, LW_SHARED);
	hash_seq_init(&seq, login_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->dirty)
		{
			dirty = true;
			hash_seq_term(&seq);
			break;
		}
	LWLockRelease(login_shared->lock);
	return dirty;
}

typedef struct LoginRow
{
	NameData	role;
	Oid			roleid;
	TimestampTz at;
	char		addr[LOGIN_ADDR_LEN];
	int64		pending;
	uint64		gen;
} LoginRow;

/* Upsert every dirty entry as finsec's owner; the worker's transaction commits them. */
static int64
login_flush_run(void *arg)
{
	HASH_SEQ_STATUS seq;
	LoginEntry *e;
	LoginRow   *rows;
	int			n = 0;
	FinsecOwnerContext ctx;
	SPIPlanPtr	plan;
	Oid			argtypes[5] = {NAMEOID, OIDOID, TIMESTAMPTZOID, TEXTOID, INT8OID};
	Oid			nsp;

	nflushed = 0;
	if (login_shared == NULL)
		return 0;
	/* finsec older than 1.3 here (not yet updated): keep the entries. */
	nsp = get_namespace_oid("finsec", true);
	if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("role_login", nsp)))
		return 0;
	if (flushed == NULL)
		flushed = MemoryContextAlloc(TopMemoryContext, sizeof(LoginFlushed) * LOGIN_SLOTS);

	rows = palloc(sizeof(LoginRow) * LOGIN_SLOTS);
	LWLockAcquire(login_shared->lock, LW_SHARED);
	hash_seq_init(&seq, login_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (!e->dirty || n >= LOGIN_SLOTS)
			continue;
		rows[n].role = e->role;
		rows[n].roleid = e->roleid;
		rows[n].at = e->at;
		memcpy(rows[n].addr, e->addr, LOGIN_ADDR_LEN);
		rows[n].pending = e->pending;
		rows[n].gen = e->gen;
		n++;
	}
	LWLockRelease(login_shared->lock);
	if (n == 0)
		return 0;

	finsec_begin_owner(&ctx);
	plan = SPI_prepare("INSERT INTO finsec.role_login AS r (role, role_oid, last_login_at, last_address, logins) "
					   "VALUES ($1, $2, $3, $4, $5) "
					   "ON CONFLICT (role) DO UPDATE SET "
					   "  role_oid = excluded.role_oid, "
					   "  last_address = CASE WHEN excluded.last_login_at >= r.last_login_at "
					   "                      OR r.role_oid IS DISTINCT FROM excluded.role_oid "
					   "                      THEN excluded.last_address ELSE r.last_address END, "
					   "  last_login_at = CASE WHEN r.role_oid IS DISTINCT FROM excluded.role_oid "
					   "                       THEN excluded.last_login_at "
					   "                       ELSE greatest(r.last_login_at, excluded.last_login_at) END, "
					   "  logins = CASE WHEN r.role_oid IS DISTINCT FROM excluded.role_oid "
					   "                THEN excluded.logins ELSE r.logins + excluded.logins END",
					   5, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare the upsert of finsec.role_login: %s",
			 SPI_result_code_string(SPI_result));
	for (int i = 0; i < n; i++)
	{
		Datum		values[5];
		int			ret;

		values[0] = NameGetDatum(&rows[i].role);
		values[1] = ObjectIdGetDatum(rows[i].roleid);
		values[2] = TimestampTzGetDatum(rows[i].at);
		values[3] = CStringGetTextDatum(rows[i].addr);
		values[4] = Int64GetDatum(rows[i].pending);
		ret = SPI_execute_plan(plan, values, NULL, false, 0);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "could not write finsec.role_login: %s", SPI_result_code_string(ret));
	}
	SPI_freeplan(plan);
	finsec_end_owner(&ctx);

	for (int i = 0; i < n; i++)
	{
		flushed[i].role = rows[i].role;
		flushed[i].gen = rows[i].gen;
		flushed[i].pending = rows[i].pending;
	}
	nflushed = n;
	pfree(rows);
	return n;
}

/* After commit: entries not changed since are clean; others keep their new logins. */
static void
login_flush_after_commit(void *arg, int64 rows)
{
	if (login_shared == NULL || nflushed == 0)
		return;
	LWLockAcquire(login_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < nflushed; i++)
	{
		LoginEntry *e = hash_search(login_hash, &flushed[i].role, HASH_FIND, NULL);

		if (e == NULL)
			continue;
		e->pending -= flushed[i].pending;
		if (e->pending < 0)
			e->pending = 0;
		if (e->gen == flushed[i].gen)
			e->dirty = false;
	}
	LWLockRelease(login_shared->lock);
	nflushed = 0;
}

static const FinsecWorkerTask login_flush_task = {
	.name = "auth.login_flush",
	.has_work = login_flush_has_work,
	.run = login_flush_run,
	.after_commit = login_flush_after_commit,
	.failure_message = "finsec: last logins not written to finsec.role_login: %s",
	.failure_detail = "They stay in shared memory, and finsec.role_last_login() shows them; the next round tries again.",
};

PG_FUNCTION_INFO_V1(finsec_role_login_pending);

/*
 * finsec._role_login_pending() returns table (role name, role_oid oid,
 *		last_login_at timestamptz, last_address text, flushed boolean,
 *		recording_since timestamptz, dropped bigint)
 *
 * The logins this server holds in shared memory (flushed false: not yet in
 * finsec.role_login), when it started recording, and how many logins it
 * could not record.  finsec.role_last_login() is the interface.
 */
Datum
finsec_role_login_pending(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	LoginEntry *e;
	TimestampTz since;
	uint64		dropped;

	finsec_require_preload("finsec.role_last_login()");
	InitMaterializedSRF(fcinfo, 0);
	LWLockAcquire(login_shared->lock, LW_SHARED);
	since = login_shared->since;
	dropped = login_shared->dropped;
	hash_seq_init(&seq, login_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		Datum		values[7];
		bool		nulls[7] = {false, false, false, false, false, false, false};

		values[0] = NameGetDatum(&e->role);
		values[1] = ObjectIdGetDatum(e->roleid);
		values[2] = TimestampTzGetDatum(e->at);
		values[3] = CStringGetTextDatum(e->addr);
		values[4] = BoolGetDatum(!e->dirty);
		values[5] = TimestampTzGetDatum(since);
		values[6] = Int64GetDatum((int64) dropped);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(login_shared->lock);
	return (Datum) 0;
}

void
finsec_last_login_init(void)
{
	finsec_hooks_register_shmem(FINSEC_SHMEM_AUTH_LAST_LOGIN, login_shmem_request,
								login_shmem_startup);
	finsec_hooks_register_client_auth(FINSEC_CLIENT_AUTH_LAST_LOGIN, last_login_client_auth);
	finsec_worker_register_task(&login_flush_task);
}
