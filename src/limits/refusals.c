/*-------------------------------------------------------------------------
 *
 * refusals.c
 *	  Refusals of the limit trigger: counted per rule, and recorded one by
 *	  one in finsec.limit_refusal by way of a buffer in shared memory.
 *
 * A refused payment rolls back, and with it anything it wrote, so the
 * trigger cannot record the refusal in a table itself.  Right before it
 * raises the refusal it calls finsec_limits_count_refusal(), which
 *
 *	 - adds one to the rule's counter (finsec.limit_refusals(), reset by a
 *	   restart like pg_stat counters), and
 *	 - puts an event (time, database, table, rule, policy name, roles; never
 *	   the payment's data) into a fixed-size buffer of slots in shared
 *	   memory, finsec.limit_refusal_buffer of them.  A spinlock is held for
 *	   a slot's copy; nothing allocates and nothing throws.  When every slot
 *	   is taken the event is counted as dropped, per database, instead.
 *
 * finsec.flush_limit_refusals() (and the audit sealer of the database,
 * every round) moves this database's events into finsec.limit_refusal:
 *
 *	 1. it claims them: under the spinlock, filled slots of this database
 *		become "claimed" by this backend's current (sub)transaction and are
 *		copied out; no other flusher takes a claimed slot;
 *	 2. it inserts one row per event, and writes a ledger event
 *		(limits.refusals_dropped) for the refusals dropped since the last
 *		report, in the same transaction;
 *	 3. transaction callbacks settle the claims: at commit the slots are
 *		freed, at abort (of the transaction, or of the subtransaction that
 *		claimed them) they are filled again and the next flush takes them.
 *
 * So while the server runs each event becomes exactly one row: never lost
 * by a flush that fails or rolls back, never written twice by concurrent
 * flushes.  PREPARE TRANSACTION of a flushing transaction is refused (the
 * claims belong to this backend).  At a clean shutdown the postmaster saves
 * the waiting events to $PGDATA/finsec_limit_refusals and loads them at the
 * next start.  A crash (or immediate shutdown) loses the events not yet
 * flushed -- at most about one sealer interval's worth -- and the counters.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_limits.h"
#include "../audit/ledger_internal.h"

int			finsec_limit_refusal_slots = 1024;

/* ---- per-rule counters --------------------------------------------------- */

typedef struct LimitRefusals
{
	pg_atomic_uint64 count[LIMIT_RULE_COUNT];
	TimestampTz since;
} LimitRefusals;

static LimitRefusals *refusals = NULL;

static const char *const rule_names[LIMIT_RULE_COUNT] = {
	"single", "day", "year", "lifetime", "step_up", "frozen", "closed",
	"channel_off", "restricted", "settlement_hold", "posted"
};

/* ---- the buffer of refusal events ---------------------------------------- */

typedef enum RefusalSlotState
{
	SLOT_FREE = 0,
	SLOT_FILLED,				/* waiting to be recorded */
	SLOT_CLAIMED				/* being recorded by a backend's transaction */
} RefusalSlotState;

typedef struct RefusalEvent
{
	uint64		seq;			/* order of the refusals; 0 in a free slot */
	TimestampTz at;
	Oid			dbid;
	Oid			relid;			/* root of the limited table, or InvalidOid */
	Oid			userid;			/* current role (SET ROLE) of the statement */
	Oid			sessionid;		/* session_user */
	int32		rule;			/* FinsecLimitRule */
	int32		state;			/* RefusalSlotState */
	char		policy[NAMEDATALEN];	/* "" when no policy applies */
} RefusalEvent;

/*
 * Refusals dropped because the buffer was full, per database; drops of
 * databases beyond REFUSAL_DROP_DBS are counted in the last entry, which
 * every database's flush reports.  "claimed" is being reported by a
 * flushing transaction, as for slots.
 */
#define REFUSAL_DROP_DBS		32
#define REFUSAL_UNATTRIBUTED	REFUSAL_DROP_DBS

typedef struct RefusalDrops
{
	Oid			dbid;
	bool		used;
	uint64		dropped;
	uint64		claimed;
} RefusalDrops;

typedef struct RefusalRing
{
	slock_t		mutex;
	int			capacity;
	int			nfree;			/* entries of the free-slot stack */
	int			nclaimed;
	uint64		next_seq;
	uint64		dropped_total;	/* since the server started */
	RefusalDrops drops[REFUSAL_DROP_DBS + 1];
	/* then int free_stack[capacity]; then RefusalEvent events[capacity] */
} RefusalRing;

static RefusalRing *ring = NULL;
static int *ring_free = NULL;
static RefusalEvent *ring_events = NULL;

/* Slots examined per spinlock acquisition when flushing. */
#define CLAIM_CHUNK				64

/* Saved at a clean shutdown, loaded at start. */
#define REFUSAL_FILE			"finsec_limit_refusals"
#define REFUSAL_FILE_TMP		"finsec_limit_refusals.tmp"
#define REFUSAL_FILE_MAGIC		0x46534c52	/* "FSLR" */

typedef struct RefusalFileHeader
{
	uint32		magic;
	uint32		event_size;
	int32		nevents;
	int32		ndrops;
} RefusalFileHeader;

typedef struct RefusalFileDrop
{
	Oid			dbid;			/* InvalidOid: unattributed */
	uint64		dropped;
} RefusalFileDrop;

/* ---- this backend's claims ----------------------------------------------- */

typedef struct RefusalClaim
{
	int			idx;
	uint64		seq;
	SubTransactionId subid;
} RefusalClaim;

typedef struct DropClaim
{
	int			entry;
	uint64		count;
	SubTransactionId subid;
} DropClaim;

#define MAX_DROP_CLAIMS			64

static RefusalClaim *claims = NULL; /* ring->capacity entries, TopMemoryContext */
static int	nclaims = 0;
static DropClaim drop_claims[MAX_DROP_CLAIMS];
static int	ndrop_claims = 0;
static bool callbacks_registered = false;
static TimestampTz last_sealer_warning = 0;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
ring_size(int capacity)
{
	return add_size(MAXALIGN(sizeof(RefusalRing)),
					add_size(MAXALIGN(mul_size(sizeof(int), capacity)),
							 mul_size(sizeof(RefusalEvent), capacity)));
}

static void
ring_attach(void)
{
	ring_free = (int *) ((char *) ring + MAXALIGN(sizeof(RefusalRing)));
	ring_events = (RefusalEvent *) ((char *) ring_free +
									MAXALIGN(sizeof(int) * ring->capacity));
}

/* Caller holds ring->mutex (or is alone). */
static void
count_drop_locked(Oid dbid, uint64 n)
{
	int			i;
	int			unused = -1;

	for (i = 0; i < REFUSAL_DROP_DBS; i++)
	{
		if (ring->drops[i].used && ring->drops[i].dbid == dbid)
		{
			ring->drops[i].dropped += n;
			return;
		}
		if (!ring->drops[i].used && unused < 0)
			unused = i;
	}
	if (unused >= 0)
	{
		ring->drops[unused].used = true;
		ring->drops[unused].dbid = dbid;
		ring->drops[unused].dropped = n;
		ring->drops[unused].claimed = 0;
		return;
	}
	ring->drops[REFUSAL_UNATTRIBUTED].dropped += n;
}

/* Put an event into a free slot; false when there is none.  Holds the lock. */
static bool
store_locked(RefusalEvent *ev)
{
	int			idx;

	if (ring->nfree == 0)
		return false;
	idx = ring_free[--ring->nfree];
	ev->seq = ++ring->next_seq;
	ev->state = SLOT_FILLED;
	ring_events[idx] = *ev;
	return true;
}

/* At a clean shutdown of the postmaster: keep what waits for the next start. */
static void
ring_save(int code, Datum arg)
{
	RefusalFileHeader h;
	FILE	   *f;
	int			i;

	if (code != 0 || ring == NULL)
		return;
	memset(&h, 0, sizeof(h));
	h.magic = REFUSAL_FILE_MAGIC;
	h.event_size = sizeof(RefusalEvent);
	/* Everyone else has exited, so no claim is open: only filled slots wait. */
	for (i = 0; i < ring->capacity; i++)
		if (ring_events[i].state == SLOT_FILLED)
			h.nevents++;
	for (i = 0; i <= REFUSAL_DROP_DBS; i++)
		if (ring->drops[i].dropped > 0)
			h.ndrops++;
	if (h.nevents == 0 && h.ndrops == 0)
		return;

	f = AllocateFile(REFUSAL_FILE_TMP, PG_BINARY_W);
	if (f == NULL || fwrite(&h, sizeof(h), 1, f) != 1)
		goto fail;
	for (i = 0; i < ring->capacity; i++)
		if (ring_events[i].state == SLOT_FILLED &&
			fwrite(&ring_events[i], sizeof(RefusalEvent), 1, f) != 1)
			goto fail;
	for (i = 0; i <= REFUSAL_DROP_DBS; i++)
	{
		RefusalFileDrop d;

		if (ring->drops[i].dropped == 0)
			continue;
		memset(&d, 0, sizeof(d));
		d.dbid = i == REFUSAL_UNATTRIBUTED ? InvalidOid : ring->drops[i].dbid;
		d.dropped = ring->drops[i].dropped;
		if (fwrite(&d, sizeof(d), 1, f) != 1)
			goto fail;
	}
	if (FreeFile(f) != 0)
	{
		f = NULL;
		goto fail;
	}
	f = NULL;
	if (durable_rename(REFUSAL_FILE_TMP, REFUSAL_FILE, LOG) != 0)
		goto fail;
	return;

fail:
	if (f)
		FreeFile(f);
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("finsec: could not save %d limit refusal(s) not yet recorded to \"%s\": %m",
					h.nevents, REFUSAL_FILE),
			 errdetail("They are lost; the server log has each refusal.")));
	unlink(REFUSAL_FILE_TMP);
}

/* At start, in the postmaster: take back what a clean shutdown saved. */
static void
ring_load(void)
{
	RefusalFileHeader h;
	FILE	   *f;
	int			i;
	int			restored = 0;

	f = AllocateFile(REFUSAL_FILE, PG_BINARY_R);
	if (f == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("finsec: could not read saved limit refusals \"%s\": %m", REFUSAL_FILE)));
		return;
	}
	if (fread(&h, sizeof(h), 1, f) != 1 || h.magic != REFUSAL_FILE_MAGIC ||
		h.event_size != sizeof(RefusalEvent) || h.nevents < 0 || h.ndrops < 0)
	{
		ereport(LOG,
				(errmsg("finsec: ignoring saved limit refusals \"%s\" of an unknown format",
						REFUSAL_FILE)));
		goto done;
	}
	for (i = 0; i < h.nevents; i++)
	{
		RefusalEvent ev;

		if (fread(&ev, sizeof(ev), 1, f) != 1)
			goto truncated;
		ev.policy[NAMEDATALEN - 1] = '\0';
		if (ev.rule < 0 || ev.rule >= LIMIT_RULE_COUNT)
			continue;
		if (store_locked(&ev))
			restored++;
		else
			count_drop_locked(ev.dbid, 1);	/* the buffer was made smaller */
	}
	for (i = 0; i < h.ndrops; i++)
	{
		RefusalFileDrop d;

		if (fread(&d, sizeof(d), 1, f) != 1)
			goto truncated;
		if (OidIsValid(d.dbid))
			count_drop_locked(d.dbid, d.dropped);
		else
			ring->drops[REFUSAL_UNATTRIBUTED].dropped += d.dropped;
	}
	if (restored > 0)
		ereport(LOG,
				(errmsg("finsec: restored %d limit refusal(s) not yet recorded at shutdown", restored)));
	goto done;

truncated:
	ereport(LOG,
			(errmsg("finsec: saved limit refusals \"%s\" are truncated; restored %d",
					REFUSAL_FILE, restored)));
done:
	FreeFile(f);
	unlink(REFUSAL_FILE);
}

static void
refusals_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(add_size(MAXALIGN(sizeof(LimitRefusals)),
									ring_size(finsec_limit_refusal_slots)));
}

static void
refusals_shmem_startup(void)
{
	bool		found;
	bool		ring_found;
	int			i;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	refusals = ShmemInitStruct("finsec limit refusals", sizeof(LimitRefusals), &found);
	if (!found)
	{
		for (i = 0; i < LIMIT_RULE_COUNT; i++)
			pg_atomic_init_u64(&refusals->count[i], 0);
		refusals->since = GetCurrentTimestamp();
	}
	ring = ShmemInitStruct("finsec limit refusal buffer",
						   ring_size(finsec_limit_refusal_slots), &ring_found);
	if (!ring_found)
	{
		memset(ring, 0, ring_size(finsec_limit_refusal_slots));
		SpinLockInit(&ring->mutex);
		ring->capacity = finsec_limit_refusal_slots;
		ring_attach();
		/* Pop order: slot 0 first. */
		for (i = 0; i < ring->capacity; i++)
			ring_free[i] = ring->capacity - 1 - i;
		ring->nfree = ring->capacity;
	}
	else
		ring_attach();
	LWLockRelease(AddinShmemInitLock);

	if (!IsUnderPostmaster)
	{
		if (!ring_found)
			ring_load();
		on_shmem_exit(ring_save, (Datum) 0);
	}
}

void
finsec_limits_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = refusals_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = refusals_shmem_startup;
}

/* Called from define_settings() in _PG_init; postmaster settings need the preload. */
void
finsec_limits_define_refusal_settings(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("finsec.limit_refusal_buffer",
							"Number of limit refusals shared memory holds until they are recorded.",
							"Refusals wait there until finsec.flush_limit_refusals(), or the audit "
							"sealer of their database, records them in finsec.limit_refusal; when "
							"every slot is taken, further refusals are counted as dropped. "
							"About 100 bytes each.",
							&finsec_limit_refusal_slots,
							1024, 16, 262144,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);
}

/*
 * Count and record a refusal.  Called right before ereport(ERROR): must not
 * throw, must not allocate.  The policy name is copied whole up to
 * NAMEDATALEN - 1 bytes, cut at a character boundary.
 */
void
finsec_limits_count_refusal(int rule, Oid relid, const char *policy)
{
	RefusalEvent ev;
	bool		stored;

	if (rule < 0 || rule >= LIMIT_RULE_COUNT)
		return;
	if (refusals != NULL)
		pg_atomic_fetch_add_u64(&refusals->count[rule], 1);
	if (ring == NULL)
		return;

	memset(&ev, 0, sizeof(ev));
	ev.at = GetCurrentTimestamp();
	ev.dbid = MyDatabaseId;
	ev.relid = relid;
	ev.userid = GetOuterUserId();
	ev.sessionid = GetSessionUserId();
	ev.rule = rule;
	if (policy != NULL)
	{
		int			len = (int) strnlen(policy, NAMEDATALEN);

		len = pg_mbcliplen(policy, len, NAMEDATALEN - 1);
		memcpy(ev.policy, policy, len);
		ev.policy[len] = '\0';
	}

	SpinLockAcquire(&ring->mutex);
	stored = store_locked(&ev);
	if (!stored)
	{
		ring->dropped_total++;
		count_drop_locked(ev.dbid, 1);
	}
	SpinLockRelease(&ring->mutex);
}

/* ---- claims and their settlement at transaction end ---------------------- */

/*
 * Settle claims: those of subtransaction "subid" (all of them when
 * InvalidSubTransactionId), freeing the slots (committed) or filling them
 * again (aborted).  Never throws: runs in commit and abort callbacks.
 */
static void
settle_claims(bool committed, SubTransactionId subid)
{
	int			i;
	int			keep = 0;

	for (i = 0; i < nclaims; i++)
	{
		RefusalClaim *c = &claims[i];
		RefusalEvent *e;

		if (subid != InvalidSubTransactionId && c->subid != subid)
		{
			claims[keep++] = *c;
			continue;
		}
		SpinLockAcquire(&ring->mutex);
		e = &ring_events[c->idx];
		if (e->state == SLOT_CLAIMED && e->seq == c->seq)
		{
			ring->nclaimed--;
			if (committed)
			{
				e->state = SLOT_FREE;
				e->seq = 0;
				ring_free[ring->nfree++] = c->idx;
			}
			else
				e->state = SLOT_FILLED;
		}
		SpinLockRelease(&ring->mutex);
	}
	nclaims = keep;

	keep = 0;
	for (i = 0; i < ndrop_claims; i++)
	{
		DropClaim  *c = &drop_claims[i];
		RefusalDrops *d;

		if (subid != InvalidSubTransactionId && c->subid != subid)
		{
			drop_claims[keep++] = *c;
			continue;
		}
		SpinLockAcquire(&ring->mutex);
		d = &ring->drops[c->entry];
		d->claimed -= Min(d->claimed, c->count);
		if (!committed)
			d->dropped += c->count;
		else if (c->entry != REFUSAL_UNATTRIBUTED && d->dropped == 0 && d->claimed == 0)
			d->used = false;
		SpinLockRelease(&ring->mutex);
	}
	ndrop_claims = keep;
}

static void
refusal_xact_callback(XactEvent event, void *arg)
{
	if (nclaims == 0 && ndrop_claims == 0)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot prepare a transaction that has flushed limit refusals"),
					 errdetail("The refusals it took from the shared buffer belong to this session until the transaction ends."),
					 errhint("Call finsec.flush_limit_refusals() in a transaction of its own.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			settle_claims(true, InvalidSubTransactionId);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			settle_claims(false, InvalidSubTransactionId);
			break;
		default:
			break;
	}
}

static void
refusal_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	int			i;

	if (nclaims == 0 && ndrop_claims == 0)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		settle_claims(false, mySubid);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		/* The parent now holds them: they stand or fall with it. */
		for (i = 0; i < nclaims; i++)
			if (claims[i].subid == mySubid)
				claims[i].subid = parentSubid;
		for (i = 0; i < ndrop_claims; i++)
			if (drop_claims[i].subid == mySubid)
				drop_claims[i].subid = parentSubid;
	}
}

/* Allocate what claiming needs, before anything is claimed. */
static void
prepare_to_claim(void)
{
	if (claims == NULL)
		claims = MemoryContextAlloc(TopMemoryContext, sizeof(RefusalClaim) * ring->capacity);
	if (!callbacks_registered)
	{
		RegisterXactCallback(refusal_xact_callback, NULL);
		RegisterSubXactCallback(refusal_subxact_callback, NULL);
		callbacks_registered = true;
	}
}

/* Claim this database's waiting events, copying them into out. */
static int
claim_events(RefusalEvent *out)
{
	SubTransactionId subid = GetCurrentSubTransactionId();
	int			n = 0;
	int			start;

	for (start = 0; start < ring->capacity; start += CLAIM_CHUNK)
	{
		int			end = Min(start + CLAIM_CHUNK, ring->capacity);
		int			i;

		SpinLockAcquire(&ring->mutex);
		for (i = start; i < end && nclaims < ring->capacity; i++)
		{
			RefusalEvent *e = &ring_events[i];

			if (e->state != SLOT_FILLED || e->dbid != MyDatabaseId)
				continue;
			e->state = SLOT_CLAIMED;
			ring->nclaimed++;
			out[n++] = *e;
			claims[nclaims].idx = i;
			claims[nclaims].seq = e->seq;
			claims[nclaims].subid = subid;
			nclaims++;
		}
		SpinLockRelease(&ring->mutex);
	}
	return n;
}

/* Claim the drop counts this database reports: its own, and unattributed. */
static void
claim_drops(uint64 *here, uint64 *unattributed)
{
	SubTransactionId subid = GetCurrentSubTransactionId();
	int			i;

	*here = *unattributed = 0;
	SpinLockAcquire(&ring->mutex);
	for (i = 0; i <= REFUSAL_DROP_DBS && ndrop_claims < MAX_DROP_CLAIMS; i++)
	{
		RefusalDrops *d = &ring->drops[i];

		if (d->dropped == 0 ||
			(i != REFUSAL_UNATTRIBUTED && !(d->used && d->dbid == MyDatabaseId)))
			continue;
		drop_claims[ndrop_claims].entry = i;
		drop_claims[ndrop_claims].count = d->dropped;
		drop_claims[ndrop_claims].subid = subid;
		ndrop_claims++;
		if (i == REFUSAL_UNATTRIBUTED)
			*unattributed += d->dropped;
		else
			*here += d->dropped;
		d->claimed += d->dropped;
		d->dropped = 0;
	}
	SpinLockRelease(&ring->mutex);
}

/* Is anything of this database waiting: events or drops to report? */
static bool
work_here(void)
{
	int			start;
	int			i;
	bool		found = false;

	SpinLockAcquire(&ring->mutex);
	if (ring->nfree + ring->nclaimed == ring->capacity)
	{
		for (i = 0; i <= REFUSAL_DROP_DBS; i++)
			if (ring->drops[i].dropped > 0 &&
				(i == REFUSAL_UNATTRIBUTED || ring->drops[i].dbid == MyDatabaseId))
				found = true;
		SpinLockRelease(&ring->mutex);
		return found;
	}
	SpinLockRelease(&ring->mutex);
	for (start = 0; start < ring->capacity && !found; start += CLAIM_CHUNK)
	{
		int			end = Min(start + CLAIM_CHUNK, ring->capacity);

		SpinLockAcquire(&ring->mutex);
		for (i = start; i < end; i++)
			if (ring_events[i].state == SLOT_FILLED && ring_events[i].dbid == MyDatabaseId)
				found = true;
		if (start == 0)
			for (i = 0; i <= REFUSAL_DROP_DBS; i++)
				if (ring->drops[i].dropped > 0 &&
					(i == REFUSAL_UNATTRIBUTED || ring->drops[i].dbid == MyDatabaseId))
					found = true;
		SpinLockRelease(&ring->mutex);
	}
	return found;
}

static int
event_seq_cmp(const void *a, const void *b)
{
	uint64		x = ((const RefusalEvent *) a)->seq;
	uint64		y = ((const RefusalEvent *) b)->seq;

	return x < y ? -1 : x > y ? 1 : 0;
}

static Datum
text_or_null(const char *s, bool *isnull)
{
	*isnull = (s == NULL);
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/*
 * Record this database's waiting refusals in finsec.limit_refusal, in the
 * current transaction.  The caller has SPI connected and runs as finsec's
 * owner; actor is the role it acts for, named in the ledger.
 */
static int64
flush_refusals(Oid actor)
{
	static const Oid argtypes[7] = {TIMESTAMPTZOID, TEXTOID, OIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	RefusalEvent *events;
	uint64		dropped_here;
	uint64		dropped_unattributed;
	int			n;
	int			i;

	prepare_to_claim();
	events = palloc(sizeof(RefusalEvent) * ring->capacity);
	n = claim_events(events);
	claim_drops(&dropped_here, &dropped_unattributed);

	if (n > 0)
	{
		SPIPlanPtr	plan;

		qsort(events, n, sizeof(RefusalEvent), event_seq_cmp);
		plan = SPI_prepare("INSERT INTO finsec.limit_refusal (refused_at, rule, relid, relation, policy, "
						   "db_user, session_user_name) VALUES ($1, $2, $3, $4, $5, $6, $7)",
						   7, (Oid *) argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		for (i = 0; i < n; i++)
		{
			RefusalEvent *e = &events[i];
			Datum		values[7];
			char		nulls[7];
			bool		isnull;
			char	   *relname = NULL;

			if (OidIsValid(e->relid))
			{
				char	   *rel = get_rel_name(e->relid);
				char	   *nsp = rel ? get_namespace_name(get_rel_namespace(e->relid)) : NULL;

				if (rel && nsp)
					relname = quote_qualified_identifier(nsp, rel);
			}
			memset(nulls, ' ', sizeof(nulls));
			values[0] = TimestampTzGetDatum(e->at);
			values[1] = CStringGetTextDatum(rule_names[e->rule]);
			values[2] = ObjectIdGetDatum(e->relid);
			if (!OidIsValid(e->relid))
				nulls[2] = 'n';
			values[3] = text_or_null(relname, &isnull);
			if (isnull)
				nulls[3] = 'n';
			values[4] = text_or_null(e->policy[0] ? e->policy : NULL, &isnull);
			if (isnull)
				nulls[4] = 'n';
			values[5] = text_or_null(GetUserNameFromId(e->userid, true), &isnull);
			if (isnull)
				nulls[5] = 'n';
			values[6] = text_or_null(GetUserNameFromId(e->sessionid, true), &isnull);
			if (isnull)
				nulls[6] = 'n';
			if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not record a limit refusal in finsec.limit_refusal");
		}
		SPI_freeplan(plan);
	}

	if (dropped_here + dropped_unattributed > 0)
	{
		char	   *desc;

		if (dropped_unattributed == 0)
			desc = psprintf("%llu limit refusal(s) of this database were not recorded because the refusal buffer was full",
							(unsigned long long) dropped_here);
		else
			desc = psprintf("%llu limit refusal(s) of this database, and %llu of databases the buffer could not tell apart, "
							"were not recorded because the refusal buffer was full",
							(unsigned long long) dropped_here, (unsigned long long) dropped_unattributed);
		(void) finsec_audit_event_internal(actor, "limits.refusals_dropped", NULL, "finsec.limit_refusal",
										   "flush", false, desc, NULL);
		ereport(LOG,
				(errmsg("finsec: %s", desc),
				 errhint("Raise finsec.limit_refusal_buffer (now %d), or record refusals more often.",
						 ring->capacity)));
	}
	pfree(events);
	return n;
}

PG_FUNCTION_INFO_V1(finsec_flush_limit_refusals);

/* finsec.flush_limit_refusals() returns bigint */
Datum
finsec_flush_limit_refusals(PG_FUNCTION_ARGS)
{
	FinsecOwnerContext ctx;
	int64		n;

	finsec_require_preload("finsec.flush_limit_refusals()");
	if (ring == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the limit refusal buffer is not available")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	finsec_begin_owner(&ctx);
	n = flush_refusals(ctx.caller);
	finsec_end_owner(&ctx);
	SPI_finish();
	PG_RETURN_INT64(n);
}


/*
 * Delete refusal records older than finsec.limit_refusal_retention, oldest
 * first, at most 10,000 per round so that a first purge of a large table
 * does not hold up the sealer.
 */
static TimestampTz last_purge = 0;

static void
purge_refusals(void)
{
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		values[1];
	int			ret;

	if (finsec_limit_refusal_retention_minutes <= 0)
		return;
	values[0] = TimestampTzGetDatum(GetCurrentTimestamp() -
									(int64) finsec_limit_refusal_retention_minutes * USECS_PER_MINUTE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_with_args("DELETE FROM finsec.limit_refusal WHERE refusal_id IN "
								"(SELECT refusal_id FROM finsec.limit_refusal WHERE refused_at OPERATOR(pg_catalog.<) $1 "
								"ORDER BY refused_at LIMIT 10000)",
								1, argtypes, values, NULL, false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "purging limit refusal records failed: %s", SPI_result_code_string(ret));
	SPI_finish();
}

/*
 * The audit sealer's share, in its round's transaction (SPI connected):
 * record this database's refusals in a subtransaction, so that a failure
 * (the table dropped, the ledger at its capacity limit, ...) leaves them in
 * the buffer for the next round and sealing goes on.  Nothing happens in a
 * database whose finsec has no finsec.limit_refusal (an older version).
 */
void
finsec_limits_sealer_flush(void)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Oid			nsp;

	bool		work;
	bool		purge_due;

	if (ring == NULL)
		return;
	work = work_here();
	/* Old records go at least once a minute, and whenever new ones come. */
	purge_due = finsec_limit_refusal_retention_minutes > 0 &&
		(work || TimestampDifferenceExceeds(last_purge, GetCurrentTimestamp(), 60 * 1000));
	if (!work && !purge_due)
		return;
	nsp = get_namespace_oid("finsec", true);
	if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("limit_refusal", nsp)))
		return;

	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		FinsecOwnerContext ctx;

		finsec_begin_owner(&ctx);
		if (work)
			(void) flush_refusals(ctx.caller);
		if (purge_due)
		{
			purge_refusals();
			last_purge = GetCurrentTimestamp();
		}
		finsec_end_owner(&ctx);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		TimestampTz now = GetCurrentTimestamp();

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		/* Once a minute is enough for a failure that repeats every round. */
		if (TimestampDifferenceExceeds(last_sealer_warning, now, 60 * 1000))
		{
			last_sealer_warning = now;
			ereport(WARNING,
					(errmsg("finsec: limit refusals not recorded in finsec.limit_refusal: %s",
							edata->message),
					 errdetail("They stay in the shared buffer for the next round; sealing continues.")));
		}
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;
}

/* ---- SQL: counters and the buffer's state -------------------------------- */

PG_FUNCTION_INFO_V1(finsec_limit_refusals);

/* finsec.limit_refusals(OUT rule text, OUT refusals bigint, OUT since timestamptz) */
Datum
finsec_limit_refusals(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < LIMIT_RULE_COUNT; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(rule_names[i]);
		values[1] = Int64GetDatum(refusals ? (int64) pg_atomic_read_u64(&refusals->count[i]) : 0);
		if (refusals)
			values[2] = TimestampTzGetDatum(refusals->since);
		else
			nulls[2] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(finsec_limit_refusal_buffer);

/*
 * finsec.limit_refusal_buffer(OUT capacity integer, OUT waiting integer,
 *	 OUT waiting_here integer, OUT flushing integer, OUT dropped bigint,
 *	 OUT dropped_unreported bigint); all NULL without the preload.
 */
Datum
finsec_limit_refusal_buffer(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6];
	int			start;
	int			i;
	int			waiting_here = 0;
	int			capacity,
				waiting,
				flushing;
	uint64		dropped,
				unreported = 0;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (ring == NULL)
	{
		memset(nulls, true, sizeof(nulls));
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
	}

	SpinLockAcquire(&ring->mutex);
	capacity = ring->capacity;
	flushing = ring->nclaimed;
	waiting = ring->capacity - ring->nfree - ring->nclaimed;
	dropped = ring->dropped_total;
	for (i = 0; i <= REFUSAL_DROP_DBS; i++)
		if (i == REFUSAL_UNATTRIBUTED ||
			(ring->drops[i].used && ring->drops[i].dbid == MyDatabaseId))
			unreported += ring->drops[i].dropped + ring->drops[i].claimed;
	SpinLockRelease(&ring->mutex);
	for (start = 0; start < capacity; start += CLAIM_CHUNK)
	{
		int			end = Min(start + CLAIM_CHUNK, capacity);

		SpinLockAcquire(&ring->mutex);
		for (i = start; i < end; i++)
			if (ring_events[i].state == SLOT_FILLED && ring_events[i].dbid == MyDatabaseId)
				waiting_here++;
		SpinLockRelease(&ring->mutex);
	}

	memset(nulls, false, sizeof(nulls));
	values[0] = Int32GetDatum(capacity);
	values[1] = Int32GetDatum(waiting);
	values[2] = Int32GetDatum(waiting_here);
	values[3] = Int32GetDatum(flushing);
	values[4] = Int64GetDatum((int64) dropped);
	values[5] = Int64GetDatum((int64) unreported);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
