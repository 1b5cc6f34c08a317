/*-------------------------------------------------------------------------
 *
 * lockout.c
 *	  Login failure handling (A3, A3b): count failed authentications per
 *	  role, delay each failure, lock the role after
 *	  finsec.max_auth_failures failures within finsec.auth_failure_window,
 *	  for finsec.lockout_duration; unlock by finsec_admin.
 *
 * State lives in shared memory (a hash table under one LWLock, so counts
 * are exact under concurrent attempts) and, for locks, in a state file in
 * the data directory written with durable_rename() at every lock and
 * unlock, so a lock survives a restart or a crash.  Failures are counted
 * for role names that do not exist too, so lockout says nothing about
 * which roles exist.
 *
 * The authentication path cannot write tables (no transaction, and a
 * failed connection commits nothing), so every failure and lock is written
 * to the server log with role, client address and reason.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/auth.h"
#include "libpq/libpq-be.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "catalog/pg_authid.h"
#include "parser/analyze.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_auth.h"
#include "finsec_hooks.h"
#include "finsec_owner.h"
#include "finsec_worker.h"

#define LOCKOUT_SLOTS		4096
#define LOCKOUT_FILE		"finsec_auth_locks"
#define LOCKOUT_FILE_TMP	"finsec_auth_locks.tmp"
#define LOCKOUT_FILE_MAGIC	0x46534c32	/* "FSL2" */

int			finsec_max_auth_failures = FINSEC_MAX_AUTH_FAILURES_DEFAULT;
int			finsec_lockout_duration_s = FINSEC_LOCKOUT_DURATION_DEFAULT;
int			finsec_auth_failure_window_s = FINSEC_AUTH_FAILURE_WINDOW_DEFAULT;
int			finsec_auth_failure_delay_ms = FINSEC_AUTH_FAILURE_DELAY_DEFAULT;
char	   *finsec_lockout_exempt_roles = NULL;
bool		finsec_lockout_by_address = FINSEC_LOCKOUT_BY_ADDRESS_DEFAULT;
char	   *finsec_auth_audit_database = NULL;
int			finsec_password_expiry_warning_s = FINSEC_PASSWORD_EXPIRY_WARNING_DEFAULT;

/* Set at a successful login whose password expires soon; said once. */
static TimestampTz pending_expiry = 0;

typedef struct LockoutKey
{
	NameData	role;
	char		addr[64];		/* client address, or "" unless by address */
} LockoutKey;

typedef struct LockoutEntry
{
	LockoutKey	key;
	int			failures;		/* within the current window */
	TimestampTz window_start;
	TimestampTz last_failure;
	TimestampTz locked_until;	/* 0: not locked */
	char		last_addr[64];
} LockoutEntry;

/*
 * Authentication events waiting to be written to the audit ledger.  The
 * authentication path cannot write tables; the sealer worker of the audit
 * database drains this queue (at least once: it advances the tail only
 * after its transaction committed).  When full, new events are counted as
 * dropped, and the count itself is recorded; the server log has them all.
 */
#define AUTH_QUEUE_LEN		1024
#define AUTH_DRAIN_BATCH	256

typedef enum AuthEventKind
{
	AUTH_EV_FAILURE,
	AUTH_EV_LOCK,
	AUTH_EV_LOCKED_LOGIN,
	AUTH_EV_EXEMPT_FAILURE,
	AUTH_EV_EXEMPT_LOGIN
} AuthEventKind;

typedef struct AuthEvent
{
	TimestampTz at;
	NameData	role;
	char		addr[64];
	int			kind;
	int			failures;
} AuthEvent;

typedef struct LockoutShared
{
	LWLock	   *lock;
	uint64		head;			/* next event written */
	uint64		tail;			/* oldest event not yet in the ledger */
	uint64		dropped;
	AuthEvent	events[AUTH_QUEUE_LEN];
} LockoutShared;

static LockoutShared *lockout = NULL;
static HTAB *lockout_hash = NULL;

static void
lockout_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(LockoutShared)) +
						   hash_estimate_size(LOCKOUT_SLOTS, sizeof(LockoutEntry)));
	RequestNamedLWLockTranche("finsec_lockout", 1);
}

/* Write every active lock to the state file; caller holds the lock. */
static void
save_locks(void)
{
	HASH_SEQ_STATUS seq;
	LockoutEntry *e;
	FILE	   *f;
	uint32		magic = LOCKOUT_FILE_MAGIC;
	TimestampTz now = GetCurrentTimestamp();

	f = AllocateFile(LOCKOUT_FILE_TMP, PG_BINARY_W);
	if (f == NULL)
		goto fail;
	if (fwrite(&magic, sizeof(magic), 1, f) != 1)
		goto fail;
	hash_seq_init(&seq, lockout_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (e->locked_until > now && fwrite(e, sizeof(*e), 1, f) != 1)
		{
			hash_seq_term(&seq);
			goto fail;
		}
	}
	if (FreeFile(f) != 0)
	{
		f = NULL;
		goto fail;
	}
	f = NULL;
	if (durable_rename(LOCKOUT_FILE_TMP, LOCKOUT_FILE, LOG) != 0)
		goto fail;
	return;

fail:
	if (f)
		FreeFile(f);
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("finsec: could not save login lock state to \"%s\": %m", LOCKOUT_FILE),
			 errdetail("Locks stay in force until restart.")));
}

static void
load_locks(void)
{
	FILE	   *f = AllocateFile(LOCKOUT_FILE, PG_BINARY_R);
	uint32		magic;
	LockoutEntry rec;
	TimestampTz now = GetCurrentTimestamp();
	int			n = 0;

	if (f == NULL)
		return;					/* no locks saved */
	if (fread(&magic, sizeof(magic), 1, f) != 1 || magic != LOCKOUT_FILE_MAGIC)
	{
		ereport(LOG,
				(errmsg("finsec: ignoring login lock state file \"%s\" of an unknown format",
						LOCKOUT_FILE)));
		FreeFile(f);
		return;
	}
	while (fread(&rec, sizeof(rec), 1, f) == 1)
	{
		LockoutEntry *e;
		bool		found;

		if (rec.locked_until <= now)
			continue;
		e = hash_search(lockout_hash, &rec.key, HASH_ENTER_NULL, &found);
		if (e == NULL)
			break;
		*e = rec;
		n++;
	}
	FreeFile(f);
	if (n > 0)
		ereport(LOG, (errmsg_plural("finsec: restored %d login lock", "finsec: restored %d login locks", n, n)));
}

static void
lockout_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	lockout = ShmemInitStruct("finsec lockout", sizeof(LockoutShared), &found);
	if (!found)
	{
		lockout->lock = &(GetNamedLWLockTranche("finsec_lockout"))->lock;
		lockout->head = lockout->tail = lockout->dropped = 0;
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(LockoutKey);
	info.entrysize = sizeof(LockoutEntry);
	lockout_hash = ShmemInitHash("finsec lockout table", LOCKOUT_SLOTS, LOCKOUT_SLOTS,
								 &info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);

	/* The postmaster loads saved locks once; backends inherit the table. */
	if (!found && !IsUnderPostmaster)
		load_locks();
}

static void
enqueue(AuthEventKind kind, const char *role, const char *addr, int failures, TimestampTz at)
{
	AuthEvent  *ev;

	LWLockAcquire(lockout->lock, LW_EXCLUSIVE);
	if (lockout->head - lockout->tail >= AUTH_QUEUE_LEN)
		lockout->dropped++;
	else
	{
		ev = &lockout->events[lockout->head % AUTH_QUEUE_LEN];
		ev->at = at;
		namestrcpy(&ev->role, role);
		strlcpy(ev->addr, addr, sizeof(ev->addr));
		ev->kind = kind;
		ev->failures = failures;
		lockout->head++;
	}
	LWLockRelease(lockout->lock);
}

/*
 * Write queued authentication events to the audit ledger, in the caller's
 * transaction (SPI connected, running as finsec's owner).  Returns the
 * queue position to acknowledge with finsec_auth_events_ack() once the
 * transaction has committed.
 */
static uint64
finsec_auth_events_write(Oid actor)
{
	AuthEvent	batch[AUTH_DRAIN_BATCH];
	uint64		tail,
				dropped;
	int			n,
				i;

	if (lockout == NULL)
		return 0;
	LWLockAcquire(lockout->lock, LW_SHARED);
	tail = lockout->tail;
	n = (int) Min(lockout->head - tail, AUTH_DRAIN_BATCH);
	for (i = 0; i < n; i++)
		batch[i] = lockout->events[(tail + i) % AUTH_QUEUE_LEN];
	dropped = lockout->dropped;
	LWLockRelease(lockout->lock);

	for (i = 0; i < n; i++)
	{
		AuthEvent  *ev = &batch[i];
		const char *type;
		char	   *desc;

		switch (ev->kind)
		{
			case AUTH_EV_LOCK:
				type = "auth.lock";
				desc = psprintf("role locked after %d failed logins, the last from %s",
								ev->failures, ev->addr);
				break;
			case AUTH_EV_LOCKED_LOGIN:
				type = "auth.locked_login";
				desc = psprintf("login of a locked role refused, from %s", ev->addr);
				break;
			case AUTH_EV_EXEMPT_FAILURE:
				type = "auth.failure";
				desc = psprintf("authentication failed from %s (role exempt from lockout)", ev->addr);
				break;
			case AUTH_EV_EXEMPT_LOGIN:
				type = "auth.exempt_login";
				desc = psprintf("login of a role exempt from lockout, from %s", ev->addr);
				break;
			default:
				type = "auth.failure";
				desc = psprintf("authentication failed from %s (failure %d of %d)",
								ev->addr, ev->failures, finsec_max_auth_failures);
				break;
		}
		(void) finsec_audit_event_at(actor, type, NameStr(ev->role), ev->addr, "login",
									 ev->kind == AUTH_EV_EXEMPT_LOGIN, desc, NULL, ev->at);
	}
	if (dropped > 0)
		(void) finsec_audit_event_internal(actor, "auth.dropped", NULL, NULL, "login", false,
										   psprintf("%llu authentication events were not recorded here because the queue was full; the server log has them",
													(unsigned long long) dropped),
										   NULL);
	return (tail + n) | ((uint64) (dropped > 0) << 63);
}

/*
 * Whether the finsec worker of dbname writes authentication events: the
 * one named by finsec.auth_audit_database, or else the first database of
 * finsec.audit_seal_databases.
 */
bool
finsec_auth_events_here(const char *dbname)
{
	char	   *raw;
	List	   *names;

	if (finsec_auth_audit_database && finsec_auth_audit_database[0])
		return strcmp(finsec_auth_audit_database, dbname) == 0;
	if (finsec_audit_seal_databases == NULL)
		return false;
	raw = pstrdup(finsec_audit_seal_databases);
	if (!SplitIdentifierString(raw, ',', &names) || names == NIL)
		return false;
	return strcmp((char *) linitial(names), dbname) == 0;
}

/* After commit: forget what was written. */
static void
finsec_auth_events_ack(uint64 position)
{
	bool		dropped_reported = (position >> 63) != 0;
	uint64		upto = position & ~((uint64) 1 << 63);

	if (lockout == NULL)
		return;
	LWLockAcquire(lockout->lock, LW_EXCLUSIVE);
	if (upto > lockout->tail && upto <= lockout->head)
		lockout->tail = upto;
	if (dropped_reported)
		lockout->dropped = 0;
	LWLockRelease(lockout->lock);
}

/* ---- the worker task writing the queue to the ledger ---- */

static uint64 drain_position;	/* to acknowledge after commit */

static bool
drain_has_work(void *arg)
{
	bool		waiting;

	if (lockout == NULL || !finsec_auth_events_here(finsec_worker_database()))
		return false;
	LWLockAcquire(lockout->lock, LW_SHARED);
	waiting = lockout->head != lockout->tail || lockout->dropped > 0;
	LWLockRelease(lockout->lock);
	return waiting;
}

/* Write queued events as finsec's owner; the worker's transaction commits them. */
static int64
drain_run(void *arg)
{
	FinsecOwnerContext ctx;
	uint64		tail;

	drain_position = 0;
	if (lockout == NULL)
		return 0;
	LWLockAcquire(lockout->lock, LW_SHARED);
	tail = lockout->tail;
	LWLockRelease(lockout->lock);
	finsec_begin_owner(&ctx);
	drain_position = finsec_auth_events_write(ctx.caller);
	finsec_end_owner(&ctx);
	return (int64) ((drain_position & ~((uint64) 1 << 63)) - tail);
}

static void
drain_after_commit(void *arg, int64 rows)
{
	finsec_auth_events_ack(drain_position);
}

/* Where a login fails nothing can be written: the worker writes the queue. */
static const FinsecWorkerTask drain_task = {
	.name = "auth.event_drain",
	.has_work = drain_has_work,
	.run = drain_run,
	.after_commit = drain_after_commit,
	.failure_message = "finsec: authentication events not written to the audit ledger: %s",
	.failure_detail = "They stay queued, and the server log has them; sealing continues.",
};

static bool
is_exempt(const char *role)
{
	char	   *raw;
	List	   *names;
	ListCell   *lc;

	if (finsec_lockout_exempt_roles == NULL || finsec_lockout_exempt_roles[0] == '\0')
		return false;
	raw = pstrdup(finsec_lockout_exempt_roles);
	if (!SplitIdentifierString(raw, ',', &names))
		return false;
	foreach(lc, names)
		if (strcmp((char *) lfirst(lc), role) == 0)
		return true;
	return false;
}

/* Find or make the entry of a role; evicts an unlocked entry when full. */
static LockoutEntry *
entry_for(const char *role, const char *addr)
{
	LockoutKey	key;
	LockoutEntry *e;
	bool		found;

	memset(&key, 0, sizeof(key));
	namestrcpy(&key.role, role);
	if (finsec_lockout_by_address)
		strlcpy(key.addr, addr, sizeof(key.addr));
	e = hash_search(lockout_hash, &key, HASH_ENTER_NULL, &found);
	if (e == NULL)
	{
		/* Full: forget the oldest unlocked entry and retry once. */
		HASH_SEQ_STATUS seq;
		LockoutEntry *cand,
				   *oldest = NULL;
		TimestampTz now = GetCurrentTimestamp();

		hash_seq_init(&seq, lockout_hash);
		while ((cand = hash_seq_search(&seq)) != NULL)
			if (cand->locked_until <= now &&
				(oldest == NULL || cand->last_failure < oldest->last_failure))
				oldest = cand;
		if (oldest == NULL)
			return NULL;
		hash_search(lockout_hash, &oldest->key, HASH_REMOVE, NULL);
		e = hash_search(lockout_hash, &key, HASH_ENTER_NULL, &found);
		if (e == NULL)
			return NULL;
	}
	if (!found)
	{
		e->failures = 0;
		e->window_start = 0;
		e->last_failure = 0;
		e->locked_until = 0;
		e->last_addr[0] = '\0';
	}
	return e;
}

/* ClientAuthentication callback: count a failure, lock the role (or role and address), refuse a locked role, delay every failure. */
static void
finsec_client_auth(Port *port, int status)
{
	const char *role = port->user_name;
	const char *addr = port->remote_host ? port->remote_host : "[local]";
	TimestampTz now;
	LockoutEntry *e;
	TimestampTz locked_until = 0;
	int			failures = 0;
	bool		newly_locked = false;

	if (role == NULL || role[0] == '\0')
		return;

	/* A password about to expire: remember to say so (see expiry_notice). */
	if (status == STATUS_OK && finsec_password_expiry_warning_s > 0)
	{
		HeapTuple	tup = SearchSysCache1(AUTHNAME, CStringGetDatum(role));

		if (HeapTupleIsValid(tup))
		{
			bool		isnull;
			Datum		d = SysCacheGetAttr(AUTHNAME, tup, Anum_pg_authid_rolvaliduntil, &isnull);

			if (!isnull &&
				DatumGetTimestampTz(d) - GetCurrentTimestamp() <
				(TimestampTz) finsec_password_expiry_warning_s * USECS_PER_SEC)
				pending_expiry = DatumGetTimestampTz(d);
			ReleaseSysCache(tup);
		}
	}

	if (finsec_max_auth_failures == 0 || lockout == NULL)
		return;
	if (is_exempt(role))
	{
		/* A break-glass login is always on record. */
		if (status == STATUS_OK)
		{
			ereport(LOG,
					(errmsg("finsec: login of exempt role \"%s\" from %s", role, addr)));
			enqueue(AUTH_EV_EXEMPT_LOGIN, role, addr, 0, GetCurrentTimestamp());
		}
		else
		{
			ereport(LOG,
					(errmsg("finsec: authentication failed for role \"%s\" from %s (exempt from lockout)",
							role, addr)));
			enqueue(AUTH_EV_EXEMPT_FAILURE, role, addr, 0, GetCurrentTimestamp());
			if (finsec_auth_failure_delay_ms > 0)
				pg_usleep((long) finsec_auth_failure_delay_ms * 1000L);
		}
		return;
	}

	now = GetCurrentTimestamp();
	LWLockAcquire(lockout->lock, LW_EXCLUSIVE);
	e = entry_for(role, addr);
	if (e != NULL)
	{
		if (e->locked_until != 0 && e->locked_until <= now)
		{
			/* A lock that ran out: start afresh. */
			e->locked_until = 0;
			e->failures = 0;
		}
		if (e->locked_until == 0)
		{
			if (status == STATUS_OK)
				e->failures = 0;
			else
			{
				if (e->failures == 0 ||
					TimestampDifferenceExceeds(e->window_start, now,
											   finsec_auth_failure_window_s * 1000))
				{
					e->failures = 0;
					e->window_start = now;
				}
				e->failures++;
				e->last_failure = now;
				strlcpy(e->last_addr, addr, sizeof(e->last_addr));
				if (e->failures >= finsec_max_auth_failures)
				{
					e->locked_until = now + (TimestampTz) finsec_lockout_duration_s * USECS_PER_SEC;
					newly_locked = true;
					save_locks();
				}
			}
		}
		locked_until = e->locked_until;
		failures = e->failures;
	}
	LWLockRelease(lockout->lock);

	if (status != STATUS_OK && !(locked_until > now && !newly_locked))
	{
		ereport(LOG,
				(errmsg("finsec: authentication failed for role \"%s\" from %s (failure %d of %d)",
						role, addr, failures, finsec_max_auth_failures)));
		enqueue(AUTH_EV_FAILURE, role, addr, failures, now);
		if (newly_locked)
		{
			ereport(LOG,
					(errmsg("finsec: role \"%s\" locked until %s after %d failed logins, last from %s",
							role, timestamptz_to_str(locked_until), failures, addr)));
			enqueue(AUTH_EV_LOCK, role, addr, failures, now);
		}
		if (finsec_auth_failure_delay_ms > 0)
			pg_usleep((long) finsec_auth_failure_delay_ms * 1000L);
	}

	if (locked_until > now && !newly_locked)
	{
		ereport(LOG,
				(errmsg("finsec: refused login of locked role \"%s\" from %s", role, addr)));
		enqueue(AUTH_EV_LOCKED_LOGIN, role, addr, failures, now);
		if (finsec_auth_failure_delay_ms > 0)
			pg_usleep((long) finsec_auth_failure_delay_ms * 1000L);
		ereport(FATAL,
				(errcode(ERRCODE_FINSEC_ROLE_LOCKED),
				 errmsg("role \"%s\" is locked after repeated failed logins", role),
				 errhint("Wait until the lock expires or ask an administrator to unlock it.")));
	}
}

PG_FUNCTION_INFO_V1(finsec_unlock_role);

/*
 * finsec.unlock_role(role name) returns boolean: whether it was locked.
 */
Datum
finsec_unlock_role(PG_FUNCTION_ARGS)
{
	char	   *role = NameStr(*PG_GETARG_NAME(0));
	LockoutKey	key;
	LockoutEntry *e;
	bool		was_locked = false;
	FinsecOwnerContext ctx;

	finsec_require_preload("finsec.unlock_role()");

	/* Every entry of the role: one, or one per client address. */
	LWLockAcquire(lockout->lock, LW_EXCLUSIVE);
	{
		HASH_SEQ_STATUS seq;
		TimestampTz now = GetCurrentTimestamp();
		bool		removed = false;

		hash_seq_init(&seq, lockout_hash);
		while ((e = hash_seq_search(&seq)) != NULL)
		{
			if (strcmp(NameStr(e->key.role), role) != 0)
				continue;
			was_locked |= e->locked_until > now;
			key = e->key;
			hash_search(lockout_hash, &key, HASH_REMOVE, NULL);
			removed = true;
		}
		if (removed)
			save_locks();
	}
	LWLockRelease(lockout->lock);

	finsec_spi_begin_as_owner(&ctx);
	(void) finsec_audit_event_internal(ctx.caller, "auth.unlock", role, role, "unlock", true,
									   was_locked ? "login lock lifted by an administrator"
									   : "failure count reset by an administrator (role was not locked)",
									   NULL);
	finsec_spi_end(&ctx);
	PG_RETURN_BOOL(was_locked);
}

PG_FUNCTION_INFO_V1(finsec_auth_state);

/*
 * finsec.auth_state() returns table (role name, failures int,
 *		last_failure timestamptz, last_address text, locked_until timestamptz)
 */
Datum
finsec_auth_state(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	LockoutEntry *e;
	TimestampTz now = GetCurrentTimestamp();

	finsec_require_preload("finsec.auth_state()");
	InitMaterializedSRF(fcinfo, 0);
	LWLockAcquire(lockout->lock, LW_SHARED);
	hash_seq_init(&seq, lockout_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		if (e->failures == 0 && e->locked_until <= now)
			continue;
		values[0] = NameGetDatum(&e->key.role);
		values[1] = Int32GetDatum(e->failures);
		values[2] = TimestampTzGetDatum(e->last_failure);
		nulls[2] = e->last_failure == 0;
		values[3] = CStringGetTextDatum(e->last_addr);
		values[4] = TimestampTzGetDatum(e->locked_until);
		nulls[4] = e->locked_until <= now;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(lockout->lock);
	return (Datum) 0;
}

/*
 * During authentication PostgreSQL sends the client nothing but errors, so
 * the expiry warning waits for the session's first statement.
 */
static void
expiry_notice(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (pending_expiry != 0)
	{
		TimestampTz until = pending_expiry;

		pending_expiry = 0;
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("your password expires at %s", timestamptz_to_str(until)),
				 errhint("Change it with ALTER ROLE CURRENT_USER PASSWORD '...' before then (finsec.password_expiry_warning).")));
	}
}

void
finsec_lockout_init(void)
{
	finsec_hooks_register_post_parse(FINSEC_POST_PARSE_AUTH_EXPIRY, expiry_notice);
	finsec_hooks_register_shmem(FINSEC_SHMEM_AUTH_LOCKOUT, lockout_shmem_request,
								lockout_shmem_startup);
	finsec_hooks_register_client_auth(FINSEC_CLIENT_AUTH_LOCKOUT, finsec_client_auth);
	finsec_worker_register_task(&drain_task);
	finsec_last_login_init();
}
