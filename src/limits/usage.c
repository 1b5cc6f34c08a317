/*-------------------------------------------------------------------------
 *
 * usage.c
 *	  Limit usage as a cache of the payments table (finsec 1.4, issue 20):
 *	  no write per payment on a table that has a posted_at column.
 *
 * The payments table is the truth: usage is the sum of its counted rows.
 * This file keeps that sum without writing it per payment:
 *
 *	- Per-payer serialisation.  A payment first takes a lock of finsec's
 *	  own on its payer (an object lock: class finsec.limit_usage_flushed,
 *	  object id a hash of table and payer, sub-id 1; visible in pg_locks),
 *	  held to the end of the transaction as the usage row's lock was, so
 *	  the payments of one payer are checked one transaction after another.
 *	- Committed totals in shared memory (finsec.limit_cache_size entries),
 *	  written at commit by the transaction callback, before the payer's lock
 *	  is released: the next payment of the payer reads totals that include
 *	  every committed payment and none that rolled back.
 *	- A transaction's own payments are added in backend memory (with a
 *	  saved version per subtransaction, restored if it aborts), and reach
 *	  shared memory only at commit.  PREPARE TRANSACTION forgets the payer's
 *	  shared entry instead (the prepared transaction keeps the lock; the
 *	  payment after COMMIT PREPARED recomputes).
 *	- A durable roll-up, finsec.limit_usage_flushed: the payer's totals as
 *	  of its payment stamped flushed_at, written by the payment transaction
 *	  only once every finsec.limit_flush_every payments of the payer (and at
 *	  the first payment after an upgrade or a rebuild).  Stamps are
 *	  monotonic per payer: a payment's posted_at is its statement's start,
 *	  raised if need be above the payer's last stamp and flushed_at.  So the
 *	  roll-up includes exactly the payments stamped at or before flushed_at.
 *	- A miss (restart, crash, promotion, eviction, PREPARE, a rebuild) reads
 *	  the roll-up and adds the payer's rows stamped after flushed_at,
 *	  replayed in posted order as the trigger counted them (limits.c reads
 *	  them, through an index on the payer column when the table has one).
 *
 * Tables without posted_at keep usage rows written per payment (store.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include <openssl/evp.h>

#include "finsec.h"
#include "finsec_hooks.h"
#include "finsec_limits.h"
#include "limits_internal.h"

/* Largest numeric total kept inline in shared memory (about 70 digits). */
#define USAGE_NUMERIC_MAX 40

int			finsec_limit_cache_size = 131072;
int			finsec_limit_flush_every = 1000;
int			finsec_limit_lock_threshold = 256;

/*
 * A payer's bucket: "subject NUL bucket" itself when it fits (the common
 * case: exact, no hashing beyond the hash table's), else a marker byte and
 * the SHA-256 of it (collisions infeasible: two payers never share totals).
 */
#define USAGE_NAME_MAX 70

typedef struct UsageKey
{
	Oid			dbid;
	Oid			relid;
	uint8		len;			/* bytes of name used; 0xff: name is a digest */
	char		name[USAGE_NAME_MAX];
} UsageKey;

/* Committed totals of one (table, payer, bucket), as shared memory keeps them. */
typedef struct UsageShared
{
	DateADT		day;
	int32		year;
	int64		count[3];
	uint8		len[3];
	char		amount[3][USAGE_NUMERIC_MAX];
	TimestampTz flushed_at;		/* the roll-up's stamp; DT_NOBEGIN: no row */
	TimestampTz last_stamp;		/* the latest committed payment's posted_at */
	int32		unflushed;		/* payments after flushed_at */
	FullTransactionId last_xid; /* the transaction that committed last */
} UsageShared;

typedef struct UsageEntry
{
	UsageKey	key;
	slock_t		mutex;
	uint64		used;			/* clock value of the last use, for eviction */
	UsageShared t;
} UsageEntry;

typedef struct UsageState
{
	LWLock	   *lock;
	pg_atomic_uint64 clock;
	pg_atomic_uint64 hits;
	pg_atomic_uint64 misses;
	pg_atomic_uint64 flushes;
	pg_atomic_uint64 evictions;
	pg_atomic_uint64 escalations;
	pg_atomic_uint64 forgotten;
	pg_atomic_uint64 miss_rows;
} UsageState;

static UsageState *ustate = NULL;
static HTAB *utable = NULL;

/* ---- this transaction's payers ------------------------------------------- */

/* A saved version of a local entry, for the abort of a subtransaction. */
typedef struct LocalVersion
{
	SubTransactionId changed_in;
	LimitTotals totals;
	TimestampTz last_stamp;
	int32		unflushed;
} LocalVersion;

typedef struct LocalUsage
{
	UsageKey	key;			/* hash key */
	Oid			relid;
	char	   *subject;
	char	   *bucket;
	SubTransactionId created_in;
	SubTransactionId changed_in;
	bool		dirty;			/* changed by this transaction */
	bool		transient;		/* not in the hash table (past
								 * finsec.limit_batch_size): this payment only */
	bool		force_flush;	/* write the roll-up at commit */
	LimitTotals totals;			/* numerics in local_cxt */
	TimestampTz flushed_at;
	TimestampTz last_stamp;
	int32		unflushed;
	List	   *saved;			/* of LocalVersion, newest first */
	/* set at pre-commit, published at commit */
	bool		publish;
	UsageShared pub;
} LocalUsage;

typedef struct LocalLockKey
{
	Oid			relid;
	uint32		hash;
} LocalLockKey;

typedef struct LocalLock
{
	LocalLockKey key;
	SubTransactionId acquired_in;
} LocalLock;

typedef struct LocalEscalation
{
	Oid			relid;
	SubTransactionId acquired_in;
} LocalEscalation;

static MemoryContext local_cxt = NULL;
static HTAB *local_usage = NULL;
static HTAB *local_locks = NULL;
static List *escalated = NIL;	/* of LocalEscalation */
static bool callbacks_registered = false;

/* ---- shared memory -------------------------------------------------------- */

static Size
usage_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(UsageState)),
					hash_estimate_size(finsec_limit_cache_size, sizeof(UsageEntry)));
}

static void
usage_shmem_request(void)
{
	if (finsec_limit_cache_size <= 0)
		return;
	RequestAddinShmemSpace(usage_shmem_size());
	RequestNamedLWLockTranche("finsec limit cache", 1);
}

static void
usage_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (finsec_limit_cache_size <= 0)
		return;
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ustate = ShmemInitStruct("finsec limit cache", sizeof(UsageState), &found);
	if (!found)
	{
		ustate->lock = &(GetNamedLWLockTranche("finsec limit cache"))->lock;
		pg_atomic_init_u64(&ustate->clock, 0);
		pg_atomic_init_u64(&ustate->hits, 0);
		pg_atomic_init_u64(&ustate->misses, 0);
		pg_atomic_init_u64(&ustate->flushes, 0);
		pg_atomic_init_u64(&ustate->evictions, 0);
		pg_atomic_init_u64(&ustate->escalations, 0);
		pg_atomic_init_u64(&ustate->forgotten, 0);
		pg_atomic_init_u64(&ustate->miss_rows, 0);
	}
	info.keysize = sizeof(UsageKey);
	info.entrysize = sizeof(UsageEntry);
	utable = ShmemInitHash("finsec limit cache entries", finsec_limit_cache_size,
						   finsec_limit_cache_size, &info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

void
finsec_limit_cache_shmem_init(void)
{
	finsec_hooks_register_shmem(FINSEC_SHMEM_LIMIT_CACHE, usage_shmem_request, usage_shmem_startup);
}

void
finsec_limit_cache_define_settings(void)
{
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("finsec.limit_cache_size",
								"Number of (table, payer, bucket) usage totals shared memory keeps.",
								"Limits on a table with posted_at keep each payer's committed usage "
								"in shared memory (about 300 bytes each) instead of writing it per "
								"payment; a payer not kept is recomputed from the payments table. "
								"0 recomputes every payment's usage.",
								&finsec_limit_cache_size,
								131072, 0, 64 * 1024 * 1024,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.limit_flush_every",
							"Payments of one payer between two writes of its usage roll-up.",
							"finsec.limit_usage_flushed holds each payer's usage as of a payment; "
							"a payment transaction writes it again once this many payments of the "
							"payer followed, so that recomputing a payer's usage after a restart "
							"reads at most about this many of its payments.",
							&finsec_limit_flush_every,
							1000, 1, 1000000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.limit_lock_threshold",
							"Payers one transaction locks one by one before it locks the whole payments table.",
							"Beyond this number a transaction paying many payers (a bulk load) takes "
							"a SHARE ROW EXCLUSIVE lock on the payments table and its partitions "
							"instead of one lock per payer, so that it does not exhaust the lock table.",
							&finsec_limit_lock_threshold,
							256, 1, 1000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
}

/* ---- keys and locks --------------------------------------------------------- */

static void
usage_key(UsageKey *k, Oid relid, const char *subject, const char *bucket)
{
	size_t		ls = strlen(subject);
	size_t		lb = strlen(bucket);

	memset(k, 0, sizeof(*k));
	k->dbid = MyDatabaseId;
	k->relid = relid;
	if (ls + 1 + lb <= USAGE_NAME_MAX)
	{
		memcpy(k->name, subject, ls + 1);
		memcpy(k->name + ls + 1, bucket, lb);
		k->len = (uint8) (ls + 1 + lb);
	}
	else
	{
		static EVP_MD *sha256 = NULL;
		static EVP_MD_CTX *ctx = NULL;
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;

		if (sha256 == NULL)
			sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
		if (ctx == NULL)
			ctx = EVP_MD_CTX_new();
		if (sha256 == NULL || ctx == NULL ||
			EVP_DigestInit_ex(ctx, sha256, NULL) != 1 ||
			EVP_DigestUpdate(ctx, subject, ls + 1) != 1 ||
			EVP_DigestUpdate(ctx, bucket, lb) != 1 ||
			EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("OpenSSL could not compute SHA-256")));
		memcpy(k->name, md, 32);
		k->len = 0xff;
	}
}

static uint32
payer_hash(Oid relid, const char *subject)
{
	return hash_combine(hash_bytes((const unsigned char *) subject, strlen(subject)),
						hash_bytes_uint32(relid));
}

static void
local_init(void)
{
	HASHCTL		ctl;

	if (local_cxt == NULL)
		local_cxt = AllocSetContextCreate(TopMemoryContext, "finsec limit usage of this transaction",
										  ALLOCSET_DEFAULT_SIZES);
	if (local_usage == NULL)
	{
		ctl.keysize = sizeof(UsageKey);
		ctl.entrysize = sizeof(LocalUsage);
		ctl.hcxt = local_cxt;
		local_usage = hash_create("finsec local limit usage", 64, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		ctl.keysize = sizeof(LocalLockKey);
		ctl.entrysize = sizeof(LocalLock);
		local_locks = hash_create("finsec local payer locks", 64, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
}

static void
local_reset(void)
{
	local_usage = NULL;
	local_locks = NULL;
	escalated = NIL;
	if (local_cxt)
		MemoryContextReset(local_cxt);
}

static bool
is_escalated(Oid relid)
{
	ListCell   *lc;

	foreach(lc, escalated)
		if (((LocalEscalation *) lfirst(lc))->relid == relid)
		return true;
	return false;
}

/*
 * Serialise this transaction with every other payment of the payer, to
 * the end of the transaction; past finsec.limit_lock_threshold payers,
 * lock the payments table instead (see finsec_limit_lock_tree()).
 */
static void
lock_payer(Oid relid, const char *subject)
{
	LocalLockKey key;
	LocalLock  *l;
	bool		found;

	if (is_escalated(relid))
		return;
	key.relid = relid;
	key.hash = payer_hash(relid, subject);
	l = hash_search(local_locks, &key, HASH_FIND, NULL);
	if (l)
		return;
	if (hash_get_num_entries(local_locks) >= finsec_limit_lock_threshold)
	{
		MemoryContext old = MemoryContextSwitchTo(local_cxt);
		LocalEscalation *e = palloc(sizeof(LocalEscalation));

		finsec_limit_lock_tree(relid, ShareRowExclusiveLock);
		e->relid = relid;
		e->acquired_in = GetCurrentSubTransactionId();
		escalated = lappend(escalated, e);
		MemoryContextSwitchTo(old);
		if (ustate)
			pg_atomic_fetch_add_u64(&ustate->escalations, 1);
		return;
	}
	LockDatabaseObject(finsec_limit_usage_relid(), key.hash, 1, ExclusiveLock);
	l = hash_search(local_locks, &key, HASH_ENTER, &found);
	l->acquired_in = GetCurrentSubTransactionId();
}

/* ---- numerics in shared memory -------------------------------------------- */

static bool
pack_numeric(Datum d, char *dst, uint8 *len)
{
	struct varlena *v = PG_DETOAST_DATUM(d);
	Size		sz = VARSIZE(v);

	if (sz > USAGE_NUMERIC_MAX)
		return false;
	memcpy(dst, v, sz);
	*len = (uint8) sz;
	return true;
}

static Datum
unpack_numeric(const char *src, uint8 len)
{
	char	   *v = palloc(len);

	memcpy(v, src, len);
	return PointerGetDatum(v);
}

/* Shared totals into local ones (numerics palloc'd in the current context). */
static void
totals_from_shared(const UsageShared *s, LimitTotals *t)
{
	int			i;

	t->present = true;
	t->day = s->day;
	t->year = s->year;
	for (i = 0; i < 3; i++)
	{
		t->amount[i] = unpack_numeric(s->amount[i], s->len[i]);
		t->count[i] = s->count[i];
	}
}

/* ---- shared entries -------------------------------------------------------- */

/* Copy a payer's committed totals out of shared memory; false if not kept. */
static bool
shared_lookup(const UsageKey *key, UsageShared *out)
{
	UsageEntry *e;
	bool		found = false;

	if (utable == NULL)
		return false;
	LWLockAcquire(ustate->lock, LW_SHARED);
	e = hash_search(utable, key, HASH_FIND, NULL);
	if (e)
	{
		SpinLockAcquire(&e->mutex);
		*out = e->t;
		e->used = pg_atomic_fetch_add_u64(&ustate->clock, 1);
		SpinLockRelease(&e->mutex);
		found = true;
	}
	LWLockRelease(ustate->lock);
	pg_atomic_fetch_add_u64(found ? &ustate->hits : &ustate->misses, 1);
	return found;
}

static int
used_cmp(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a;
	uint64		y = *(const uint64 *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * Make room: drop the least recently used tenth of the entries.  Caller
 * holds the lock exclusively.  Dropping any entry is safe: a payer not
 * kept is recomputed.  Must not throw (runs at commit): no allocation.
 */
static void
shared_evict(void)
{
	HASH_SEQ_STATUS seq;
	UsageEntry *e;
	uint64		threshold;
	uint64		sample[64];
	int			n = 0;
	long		dropped = 0;

	/* the 10th percentile of use, estimated from the first 64 entries */
	hash_seq_init(&seq, utable);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		sample[n++] = e->used;
		if (n == lengthof(sample))
		{
			hash_seq_term(&seq);
			break;
		}
	}
	if (n == 0)
		return;
	qsort(sample, n, sizeof(uint64), used_cmp);
	threshold = sample[n / 10];
	hash_seq_init(&seq, utable);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->used <= threshold)
		{
			hash_search(utable, &e->key, HASH_REMOVE, NULL);
			dropped++;
		}
	pg_atomic_fetch_add_u64(&ustate->evictions, dropped);
}

/* Store a payer's committed totals (at commit: must not throw). */
static void
shared_store(const UsageKey *key, const UsageShared *t)
{
	UsageEntry *e;
	bool		found;

	if (utable == NULL)
		return;
	LWLockAcquire(ustate->lock, LW_SHARED);
	e = hash_search(utable, key, HASH_FIND, NULL);
	if (e)
	{
		SpinLockAcquire(&e->mutex);
		e->t = *t;
		e->used = pg_atomic_fetch_add_u64(&ustate->clock, 1);
		SpinLockRelease(&e->mutex);
		LWLockRelease(ustate->lock);
		return;
	}
	LWLockRelease(ustate->lock);
	LWLockAcquire(ustate->lock, LW_EXCLUSIVE);
	e = hash_search(utable, key, HASH_ENTER_NULL, &found);
	if (e == NULL)
	{
		shared_evict();
		e = hash_search(utable, key, HASH_ENTER_NULL, &found);
	}
	if (e)
	{
		if (!found)
			SpinLockInit(&e->mutex);
		e->t = *t;
		e->used = pg_atomic_fetch_add_u64(&ustate->clock, 1);
	}
	LWLockRelease(ustate->lock);
}

static void
shared_forget(const UsageKey *key)
{
	if (utable == NULL)
		return;
	LWLockAcquire(ustate->lock, LW_EXCLUSIVE);
	if (hash_search(utable, key, HASH_REMOVE, NULL))
		pg_atomic_fetch_add_u64(&ustate->forgotten, 1);
	LWLockRelease(ustate->lock);
}

/* Forget every payer of a table of this database (InvalidOid: every table). */
void
finsec_limit_cache_forget_table(Oid relid)
{
	HASH_SEQ_STATUS seq;
	UsageEntry *e;

	if (utable == NULL)
		return;
	LWLockAcquire(ustate->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, utable);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->key.dbid == MyDatabaseId && (!OidIsValid(relid) || e->key.relid == relid))
		{
			hash_search(utable, &e->key, HASH_REMOVE, NULL);
			pg_atomic_fetch_add_u64(&ustate->forgotten, 1);
		}
	LWLockRelease(ustate->lock);
}

/* ---- transaction callbacks --------------------------------------------------- */

/* Prepare each changed entry for publication; write the roll-ups due. */
static void
usage_pre_commit(void)
{
	HASH_SEQ_STATUS seq;
	LocalUsage *l;

	hash_seq_init(&seq, local_usage);
	while ((l = hash_seq_search(&seq)) != NULL)
	{
		int			i;
		bool		fits = true;

		l->publish = false;
		if (!l->dirty && !l->force_flush)
			continue;
		if (l->force_flush || l->unflushed >= finsec_limit_flush_every)
		{
			finsec_limit_usage_store(l->relid, l->subject, l->bucket, &l->totals, l->last_stamp);
			l->flushed_at = l->last_stamp;
			l->unflushed = 0;
			if (ustate)
				pg_atomic_fetch_add_u64(&ustate->flushes, 1);
		}
		memset(&l->pub, 0, sizeof(l->pub));
		l->pub.day = l->totals.day;
		l->pub.year = l->totals.year;
		for (i = 0; i < 3; i++)
		{
			l->pub.count[i] = l->totals.count[i];
			fits &= pack_numeric(l->totals.amount[i], l->pub.amount[i], &l->pub.len[i]);
		}
		l->pub.flushed_at = l->flushed_at;
		l->pub.last_stamp = l->last_stamp;
		l->pub.unflushed = l->unflushed;
		l->pub.last_xid = GetTopFullTransactionIdIfAny();
		/* A total too long for shared memory: the payer is recomputed. */
		l->publish = fits;
	}
}

static void
usage_commit(void)
{
	HASH_SEQ_STATUS seq;
	LocalUsage *l;

	hash_seq_init(&seq, local_usage);
	while ((l = hash_seq_search(&seq)) != NULL)
	{
		if (l->publish)
			shared_store(&l->key, &l->pub);
		else if (l->dirty)
			shared_forget(&l->key);
	}
}

static void
usage_prepare(void)
{
	HASH_SEQ_STATUS seq;
	LocalUsage *l;

	hash_seq_init(&seq, local_usage);
	while ((l = hash_seq_search(&seq)) != NULL)
		shared_forget(&l->key);
}

static void
usage_xact_callback(XactEvent event, void *arg)
{
	if (local_usage == NULL)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			usage_pre_commit();
			break;
		case XACT_EVENT_COMMIT:
			usage_commit();
			local_reset();
			break;
		case XACT_EVENT_PRE_PREPARE:
			usage_prepare();
			break;
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_ABORT:
			local_reset();
			break;
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			break;
	}
}

static void
version_free(LocalVersion *v)
{
	int			i;

	for (i = 0; i < 3; i++)
		pfree(DatumGetPointer(v->totals.amount[i]));
	pfree(v);
}

/* Keep this transaction's usage exact across savepoints. */
static void
usage_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	HASH_SEQ_STATUS seq;
	LocalUsage *l;
	ListCell   *lc;
	List	   *keep;

	if (local_usage == NULL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		hash_seq_init(&seq, local_usage);
		while ((l = hash_seq_search(&seq)) != NULL)
		{
			/* created in the aborted subtransaction: its lock went with it */
			if (l->created_in >= mySubid)
			{
				hash_search(local_usage, &l->key, HASH_REMOVE, NULL);
				continue;
			}
			while (l->changed_in >= mySubid && l->saved != NIL)
			{
				LocalVersion *v = linitial(l->saved);
				int			i;

				for (i = 0; i < 3; i++)
					pfree(DatumGetPointer(l->totals.amount[i]));
				l->totals = v->totals;
				l->last_stamp = v->last_stamp;
				l->unflushed = v->unflushed;
				l->changed_in = v->changed_in;
				l->saved = list_delete_first(l->saved);
				pfree(v);
			}
		}
		{
			HASH_SEQ_STATUS lseq;
			LocalLock  *k;

			hash_seq_init(&lseq, local_locks);
			while ((k = hash_seq_search(&lseq)) != NULL)
				if (k->acquired_in >= mySubid)
					hash_search(local_locks, &k->key, HASH_REMOVE, NULL);
		}
		keep = NIL;
		foreach(lc, escalated)
		{
			LocalEscalation *e = lfirst(lc);

			if (e->acquired_in < mySubid)
				keep = lappend(keep, e);
		}
		escalated = keep;
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		hash_seq_init(&seq, local_usage);
		while ((l = hash_seq_search(&seq)) != NULL)
		{
			if (l->created_in >= mySubid)
				l->created_in = parentSubid;
			if (l->changed_in >= mySubid)
			{
				l->changed_in = parentSubid;
				/* the parent's own saved version is superseded */
				if (l->saved != NIL &&
					((LocalVersion *) linitial(l->saved))->changed_in >= parentSubid)
				{
					version_free(linitial(l->saved));
					l->saved = list_delete_first(l->saved);
				}
			}
		}
		{
			HASH_SEQ_STATUS lseq;
			LocalLock  *k;

			hash_seq_init(&lseq, local_locks);
			while ((k = hash_seq_search(&lseq)) != NULL)
				if (k->acquired_in >= mySubid)
					k->acquired_in = parentSubid;
		}
		foreach(lc, escalated)
		{
			LocalEscalation *e = lfirst(lc);

			if (e->acquired_in >= mySubid)
				e->acquired_in = parentSubid;
		}
	}
}

/* ---- a payment ----------------------------------------------------------------- */

static void
totals_copy_into(LimitTotals *dst, const LimitTotals *src, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	int			i;

	*dst = *src;
	for (i = 0; i < 3; i++)
		dst->amount[i] = PointerGetDatum(PG_DETOAST_DATUM_COPY(src->amount[i]));
	MemoryContextSwitchTo(old);
}

/*
 * A payer's usage in one bucket, first touched by this transaction: from
 * shared memory, or recomputed (the roll-up and the rows stamped after it).
 */
static LocalUsage *
local_load(LimitPayer *p, const char *bucket, bool xact_snapshot)
{
	UsageKey	key;
	LocalUsage *l;
	UsageShared s;
	bool		found;
	MemoryContext old;

	usage_key(&key, p->relid, p->subject, bucket);
	l = hash_search(local_usage, &key, HASH_FIND, NULL);
	if (l)
		return l;

	/*
	 * Past finsec.limit_batch_size payers in this transaction, a payer's
	 * usage is not kept in backend memory: recomputed at each payment (its
	 * rows of this transaction included), and its shared entry forgotten now,
	 * while this transaction holds its lock (after the commit, the entry
	 * would lack this transaction's payments).
	 */
	if (hash_get_num_entries(local_usage) >= finsec_limit_batch_size)
	{
		LimitTotals t;
		int32		rows;

		shared_forget(&key);
		l = palloc0(sizeof(LocalUsage));
		l->key = key;
		l->transient = true;
		finsec_limit_usage_recompute(p, bucket, xact_snapshot, &t, &l->flushed_at, &l->last_stamp,
									 &rows, &l->force_flush);
		l->totals = t;
		l->changed_in = l->created_in = GetCurrentSubTransactionId();
		return l;
	}

	if (finsec_limit_cache_size > 0 && shared_lookup(&key, &s))
	{
		/*
		 * Under REPEATABLE READ and SERIALIZABLE, a payment of the payer
		 * committed after this transaction's snapshot is a serialization
		 * failure, as the update of a usage row was.
		 */
		if (xact_snapshot && FullTransactionIdIsValid(s.last_xid))
		{
			FullTransactionId next = ReadNextFullTransactionId();

			if (U64FromFullTransactionId(next) - U64FromFullTransactionId(s.last_xid) < (UINT64CONST(1) << 30) &&
				XidInMVCCSnapshot(XidFromFullTransactionId(s.last_xid), GetTransactionSnapshot()))
				finsec_limit_serialization_failure();
		}
		l = hash_search(local_usage, &key, HASH_ENTER, &found);
		old = MemoryContextSwitchTo(local_cxt);
		totals_from_shared(&s, &l->totals);
		MemoryContextSwitchTo(old);
		l->flushed_at = s.flushed_at;
		l->last_stamp = s.last_stamp;
		l->unflushed = s.unflushed;
		l->force_flush = false;
	}
	else
	{
		LimitTotals t;
		TimestampTz flushed_at;
		TimestampTz last_stamp;
		int32		rows;
		bool		force;

		finsec_limit_usage_recompute(p, bucket, xact_snapshot, &t, &flushed_at, &last_stamp, &rows, &force);
		if (ustate)
			pg_atomic_fetch_add_u64(&ustate->miss_rows, rows);
		l = hash_search(local_usage, &key, HASH_ENTER, &found);
		totals_copy_into(&l->totals, &t, local_cxt);
		l->flushed_at = flushed_at;
		l->last_stamp = last_stamp;
		l->unflushed = rows;
		l->force_flush = force;
	}
	old = MemoryContextSwitchTo(local_cxt);
	l->relid = p->relid;
	l->subject = pstrdup(p->subject);
	l->bucket = pstrdup(bucket);
	MemoryContextSwitchTo(old);
	l->created_in = l->changed_in = GetCurrentSubTransactionId();
	l->dirty = false;
	l->transient = false;
	l->saved = NIL;
	l->publish = false;
	return l;
}

/* Add a payment to a local entry, saving its version for a younger subtransaction's abort. */
static void
local_apply(LocalUsage *l, DateADT day, int32 year, Datum delta, int64 count, TimestampTz stamp)
{
	SubTransactionId cur = GetCurrentSubTransactionId();
	MemoryContext old = MemoryContextSwitchTo(l->transient ? CurrentMemoryContext : local_cxt);
	Datum		prev[3];
	int			i;

	if (l->transient)
	{
		finsec_limit_totals_add(&l->totals, day, year, delta, count);
		l->totals.present = true;
		l->last_stamp = Max(l->last_stamp, stamp);
		MemoryContextSwitchTo(old);
		return;
	}
	if (l->changed_in != cur)
	{
		LocalVersion *v = palloc(sizeof(LocalVersion));

		v->changed_in = l->changed_in;
		totals_copy_into(&v->totals, &l->totals, local_cxt);
		v->last_stamp = l->last_stamp;
		v->unflushed = l->unflushed;
		l->saved = lcons(v, l->saved);
		l->changed_in = cur;
	}
	memcpy(prev, l->totals.amount, sizeof(prev));
	finsec_limit_totals_add(&l->totals, day, year, delta, count);
	l->totals.present = true;
	for (i = 0; i < 3; i++)
		if (l->totals.amount[i] != prev[i])
			pfree(DatumGetPointer(prev[i]));
	MemoryContextSwitchTo(old);
	l->last_stamp = Max(l->last_stamp, stamp);
	l->unflushed++;
	l->dirty = true;
}

/*
 * Count a payment of a table with posted_at: lock the payer, find its
 * usage (all channels, and the payment's channel when a policy limits it),
 * stamp the payment, add it, and return the new totals.  The stamp is the
 * statement's start, raised above the payer's last stamp and roll-up.
 */
TimestampTz
finsec_limit_cache_add(LimitPayer *p, TimestampTz stmt_start, Datum delta, int64 count,
					   LimitTotals *all, LimitTotals *chan)
{
	bool		xact_snapshot = IsolationUsesXactSnapshot();
	LocalUsage *la,
			   *lc = NULL;
	TimestampTz stamp = stmt_start;
	DateADT		day;
	int32		year;

	finsec_limit_lock_payer(p->relid, p->subject);
	la = local_load(p, "", xact_snapshot);
	if (p->chan_bucket)
		lc = local_load(p, p->chan_bucket, xact_snapshot);

	/* monotonic per payer, and after the roll-up */
	if (la->last_stamp >= stamp)
		stamp = la->last_stamp;
	if (la->flushed_at >= stamp)
		stamp = la->flushed_at + 1;
	if (lc && lc->last_stamp > stamp)
		stamp = lc->last_stamp;
	if (lc && lc->flushed_at >= stamp)
		stamp = lc->flushed_at + 1;
	finsec_limit_today(stamp, &day, &year);

	local_apply(la, day, year, delta, count, stamp);
	*all = la->totals;
	if (lc)
	{
		local_apply(lc, day, year, delta, count, stamp);
		*chan = lc->totals;
	}
	return stamp;
}

/* The committed totals (and last stamp) shared memory keeps for one payer's bucket; false if not kept. */
bool
finsec_limit_cache_peek_stamps(Oid relid, const char *subject, const char *bucket,
							   LimitTotals *t, TimestampTz *last_stamp)
{
	UsageKey	key;
	UsageShared s;

	if (finsec_limit_cache_size <= 0 || utable == NULL)
		return false;
	usage_key(&key, relid, subject, bucket);
	if (!shared_lookup(&key, &s))
		return false;
	totals_from_shared(&s, t);
	*last_stamp = s.last_stamp;
	return true;
}

/* Take a payer's lock for this transaction, as a payment does. */
void
finsec_limit_lock_payer(Oid relid, const char *subject)
{
	if (!callbacks_registered)
	{
		RegisterXactCallback(usage_xact_callback, NULL);
		RegisterSubXactCallback(usage_subxact_callback, NULL);
		callbacks_registered = true;
	}
	local_init();
	lock_payer(relid, subject);
}

/* The key that names a payer's bucket in a hash table of the caller's (UsageKey's size). */
void
finsec_limit_usage_digest(const char *subject, const char *bucket, uint8 *out)
{
	UsageKey	key;

	StaticAssertStmt(sizeof(UsageKey) == FINSEC_LIMIT_USAGE_KEY_SIZE, "UsageKey size");
	usage_key(&key, InvalidOid, subject, bucket);
	memcpy(out, &key, sizeof(key));
}

/* Forget one payer of a table (every bucket given). */
void
finsec_limit_cache_forget(Oid relid, const char *subject, const char *bucket)
{
	UsageKey	key;

	usage_key(&key, relid, subject, bucket);
	shared_forget(&key);
}

PG_FUNCTION_INFO_V1(finsec_limit_cache_stats);

/* finsec.limit_cache(): the shared cache's size and counters. */
Datum
finsec_limit_cache_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		v[9];
	bool		n[9] = {false};
	long		entries = 0;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (utable)
	{
		LWLockAcquire(ustate->lock, LW_SHARED);
		entries = hash_get_num_entries(utable);
		LWLockRelease(ustate->lock);
	}
	v[0] = Int64GetDatum(utable ? finsec_limit_cache_size : 0);
	v[1] = Int64GetDatum(entries);
	v[2] = Int64GetDatum(ustate ? (int64) pg_atomic_read_u64(&ustate->hits) : 0);
	v[3] = Int64GetDatum(ustate ? (int64) pg_atomic_read_u64(&ustate->misses) : 0);
	v[4] = Int64GetDatum(ustate ? (int64) pg_atomic_read_u64(&ustate->miss_rows) : 0);
	v[5] = Int64GetDatum(ustate ? (int64) pg_atomic_read_u64(&ustate->flushes) : 0);
	v[6] = Int64GetDatum(ustate ? (int64) pg_atomic_read_u64(&ustate->evictions) : 0);
	v[7] = Int64GetDatum(ustate ? (int64) pg_atomic_read_u64(&ustate->forgotten) : 0);
	v[8] = Int64GetDatum(ustate ? (int64) pg_atomic_read_u64(&ustate->escalations) : 0);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, v, n)));
}
