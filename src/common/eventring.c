/*-------------------------------------------------------------------------
 *
 * eventring.c
 *	  Buffers of events in shared memory that outlive the transaction
 *	  putting them, moved into tables exactly once by flushing
 *	  transactions (finsec_eventring.h describes the model).
 *
 * An instance's shared memory holds a header, a stack of free slot
 * numbers, one FinsecEventSlot per slot (its state, order and database,
 * which is all a scan for a database's events reads) and the events
 * themselves.  A slot is
 *
 *	 free --put--> filled --claim--> claimed --commit--> free
 *								   claimed --abort---> filled
 *	 free --hold--> held --commit--> free
 *					held --abort---> filled
 *
 * A held slot is one whose (sub)transaction also wrote the event itself:
 * its commit makes the slot unnecessary, its rollback makes the slot the
 * only record left (src/audit/pending.c).
 *
 * Only the backend holding a claim changes a claimed slot, and only a put
 * writes a free one, so a claimed event is read without the lock.
 *
 * Drops (a put with every slot taken) are counted per database, for
 * FINSEC_EVENTRING_DROP_DBS databases; the drops of further databases are
 * counted in one unattributed entry, which every database's flush reports.
 * A flush claims counts the same way it claims events.
 *
 * The file saved at a clean shutdown holds a header, the waiting events
 * and the drop counts.  Its layout is the one src/limits/refusals.c wrote
 * before this file existed, so that refusals saved by an older library
 * are restored by a newer one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_eventring.h"
#include "finsec_hooks.h"
#include "finsec_owner.h"
#include "finsec_worker.h"

typedef enum EventSlotState
{
	SLOT_FREE = 0,
	SLOT_FILLED,				/* waiting to be flushed */
	SLOT_CLAIMED,				/* being flushed by a backend's transaction */
	SLOT_HELD					/* kept for a backend's open transaction */
} EventSlotState;

typedef struct FinsecEventSlot
{
	uint64		seq;			/* order of the puts; 0 in a free slot */
	Oid			dbid;
	int32		state;			/* EventSlotState */
} FinsecEventSlot;

#define EVENTRING_DROP_DBS		32
#define EVENTRING_UNATTRIBUTED	EVENTRING_DROP_DBS

typedef struct EventRingDrops
{
	Oid			dbid;
	bool		used;
	uint64		dropped;
	uint64		claimed;		/* being reported by a flushing transaction */
} EventRingDrops;

struct FinsecEventRingShared
{
	slock_t		mutex;
	int			capacity;
	int			nfree;			/* entries of the free-slot stack */
	int			nclaimed;
	int			nheld;
	uint64		next_seq;
	uint64		dropped_total;	/* since the server started */
	EventRingDrops drops[EVENTRING_DROP_DBS + 1];
	/* then int free_stack[capacity], FinsecEventSlot meta[capacity], events */
};

/*
 * A claim of this backend: a slot (idx, and the seq it had when claimed) or
 * a drop count (idx the drops entry, seq the count claimed).
 */
struct FinsecEventClaim
{
	int			idx;
	bool		drop;
	uint64		seq;
	SubTransactionId subid;
};

/* A slot held by this backend for its (sub)transaction. */
struct FinsecEventHold
{
	int			idx;
	uint64		seq;
	SubTransactionId subid;
};

/* Claimed drop counts one backend may hold at once. */
#define MAX_DROP_CLAIMS			64

/* Slots examined per spinlock acquisition. */
#define CLAIM_CHUNK				64

typedef struct EventFileHeader
{
	uint32		magic;
	uint32		event_size;
	int32		nevents;
	int32		ndrops;
} EventFileHeader;

typedef struct EventFileDrop
{
	Oid			dbid;			/* InvalidOid: unattributed */
	uint64		dropped;
} EventFileDrop;

#define MAX_RINGS				8

static FinsecEventRing *rings[MAX_RINGS];
static int	nrings = 0;

/* ---- layout -------------------------------------------------------------- */

#define EVENT_STRIDE(ring)		MAXALIGN((ring)->payload_size)
#define EVENT_AT(ring, i)		((ring)->payloads + (Size) (i) * EVENT_STRIDE(ring))

static Size
ring_size(FinsecEventRing *ring, int capacity)
{
	Size		sz = MAXALIGN(sizeof(FinsecEventRingShared));

	sz = add_size(sz, MAXALIGN(mul_size(sizeof(int), capacity)));
	sz = add_size(sz, MAXALIGN(mul_size(sizeof(FinsecEventSlot), capacity)));
	return add_size(sz, mul_size(EVENT_STRIDE(ring), capacity));
}

static void
ring_attach(FinsecEventRing *ring, FinsecEventRingShared *shared)
{
	char	   *p = (char *) shared + MAXALIGN(sizeof(FinsecEventRingShared));

	ring->shared = shared;
	ring->free_stack = (int *) p;
	p += MAXALIGN(sizeof(int) * shared->capacity);
	ring->meta = (FinsecEventSlot *) p;
	p += MAXALIGN(sizeof(FinsecEventSlot) * shared->capacity);
	ring->payloads = p;
}

static Oid
payload_dbid(FinsecEventRing *ring, const void *payload)
{
	Oid			dbid;

	memcpy(&dbid, (const char *) payload + ring->dbid_offset, sizeof(Oid));
	return dbid;
}

/* ---- putting ------------------------------------------------------------- */

/* Caller holds the mutex (or is alone). */
static void
count_drop_locked(FinsecEventRing *ring, Oid dbid, uint64 n)
{
	FinsecEventRingShared *s = ring->shared;
	int			i;
	int			unused = -1;

	for (i = 0; i < EVENTRING_DROP_DBS; i++)
	{
		if (s->drops[i].used && s->drops[i].dbid == dbid)
		{
			s->drops[i].dropped += n;
			return;
		}
		if (!s->drops[i].used && unused < 0)
			unused = i;
	}
	if (unused >= 0)
	{
		s->drops[unused].used = true;
		s->drops[unused].dbid = dbid;
		s->drops[unused].dropped = n;
		s->drops[unused].claimed = 0;
		return;
	}
	s->drops[EVENTRING_UNATTRIBUTED].dropped += n;
}

/*
 * Put an event into a free slot, in the given state (filled or held); its
 * index, or -1 when no slot is free.  Caller holds the mutex (or is alone).
 */
static int
store_locked(FinsecEventRing *ring, const void *payload, EventSlotState state)
{
	FinsecEventRingShared *s = ring->shared;
	int			idx;

	if (s->nfree == 0)
		return -1;
	idx = ring->free_stack[--s->nfree];

	/*
	 * The state last: the postmaster saves filled slots without the lock
	 * after an immediate shutdown, when a backend may have been killed here.
	 */
	memcpy(EVENT_AT(ring, idx), payload, ring->payload_size);
	ring->meta[idx].seq = ++s->next_seq;
	ring->meta[idx].dbid = payload_dbid(ring, payload);
	ring->meta[idx].state = state;
	return idx;
}

bool
finsec_eventring_available(FinsecEventRing *ring)
{
	return ring->shared != NULL;
}

bool
finsec_eventring_put(FinsecEventRing *ring, const void *payload)
{
	FinsecEventRingShared *s = ring->shared;
	bool		stored;

	if (s == NULL)
		return false;
	SpinLockAcquire(&s->mutex);
	stored = store_locked(ring, payload, SLOT_FILLED) >= 0;
	if (!stored)
	{
		s->dropped_total++;
		count_drop_locked(ring, payload_dbid(ring, payload), 1);
	}
	SpinLockRelease(&s->mutex);
	return stored;
}

bool
finsec_eventring_put_if_room(FinsecEventRing *ring, const void *payload)
{
	FinsecEventRingShared *s = ring->shared;
	bool		stored;

	if (s == NULL)
		return false;
	SpinLockAcquire(&s->mutex);
	stored = store_locked(ring, payload, SLOT_FILLED) >= 0;
	SpinLockRelease(&s->mutex);
	return stored;
}

void
finsec_eventring_count_drop(FinsecEventRing *ring, const void *payload)
{
	FinsecEventRingShared *s = ring->shared;

	if (s == NULL)
		return;
	SpinLockAcquire(&s->mutex);
	s->dropped_total++;
	count_drop_locked(ring, payload_dbid(ring, payload), 1);
	SpinLockRelease(&s->mutex);
}

bool
finsec_eventring_put_merge(FinsecEventRing *ring, const void *payload,
						   bool (*merge) (void *slot, const void *payload),
						   int *hint_idx, uint64 *hint_seq)
{
	FinsecEventRingShared *s = ring->shared;
	int			idx;

	if (s == NULL)
		return false;
	SpinLockAcquire(&s->mutex);
	idx = *hint_idx;
	if (idx >= 0 && idx < s->capacity &&
		ring->meta[idx].state == SLOT_FILLED && ring->meta[idx].seq == *hint_seq &&
		merge(EVENT_AT(ring, idx), payload))
	{
		SpinLockRelease(&s->mutex);
		return true;
	}
	idx = store_locked(ring, payload, SLOT_FILLED);
	if (idx < 0)
	{
		s->dropped_total++;
		count_drop_locked(ring, payload_dbid(ring, payload), 1);
		SpinLockRelease(&s->mutex);
		return false;
	}
	*hint_idx = idx;
	*hint_seq = ring->meta[idx].seq;
	SpinLockRelease(&s->mutex);
	return true;
}

uint64
finsec_eventring_dropped_total(FinsecEventRing *ring)
{
	FinsecEventRingShared *s = ring->shared;
	uint64		n;

	if (s == NULL)
		return 0;
	SpinLockAcquire(&s->mutex);
	n = s->dropped_total;
	SpinLockRelease(&s->mutex);
	return n;
}

int
finsec_eventring_free_slots(FinsecEventRing *ring)
{
	FinsecEventRingShared *s = ring->shared;

	return s == NULL ? 0 : *((volatile int *) &s->nfree);
}

/* ---- saved across a clean shutdown --------------------------------------- */

/* At a clean shutdown of the postmaster: keep what waits for the next start. */
static void
ring_save(int code, Datum arg)
{
	FinsecEventRing *ring = (FinsecEventRing *) DatumGetPointer(arg);
	FinsecEventRingShared *s = ring->shared;
	EventFileHeader h;
	char		tmp[MAXPGPATH];
	FILE	   *f;
	int			i;

	if (code != 0 || s == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", ring->file);
	memset(&h, 0, sizeof(h));
	h.magic = ring->file_magic;
	h.event_size = (uint32) ring->payload_size;
	/* Everyone else has exited, so no claim is open: only filled slots wait. */
	for (i = 0; i < s->capacity; i++)
		if (ring->meta[i].state == SLOT_FILLED)
			h.nevents++;
	for (i = 0; i <= EVENTRING_DROP_DBS; i++)
		if (s->drops[i].dropped > 0)
			h.ndrops++;
	if (h.nevents == 0 && h.ndrops == 0)
		return;

	f = AllocateFile(tmp, PG_BINARY_W);
	if (f == NULL || fwrite(&h, sizeof(h), 1, f) != 1)
		goto fail;
	for (i = 0; i < s->capacity; i++)
		if (ring->meta[i].state == SLOT_FILLED &&
			fwrite(EVENT_AT(ring, i), ring->payload_size, 1, f) != 1)
			goto fail;
	for (i = 0; i <= EVENTRING_DROP_DBS; i++)
	{
		EventFileDrop d;

		if (s->drops[i].dropped == 0)
			continue;
		memset(&d, 0, sizeof(d));
		d.dbid = i == EVENTRING_UNATTRIBUTED ? InvalidOid : s->drops[i].dbid;
		d.dropped = s->drops[i].dropped;
		if (fwrite(&d, sizeof(d), 1, f) != 1)
			goto fail;
	}
	if (FreeFile(f) != 0)
	{
		f = NULL;
		goto fail;
	}
	f = NULL;
	if (durable_rename(tmp, ring->file, LOG) != 0)
		goto fail;
	return;

fail:
	if (f)
		FreeFile(f);
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg_plural(ring->msg.save_failed_one, ring->msg.save_failed_many,
						   h.nevents, h.nevents, ring->file),
			 ring->msg.save_lost ? errdetail("%s", ring->msg.save_lost) : 0));
	unlink(tmp);
}

/* At start, in the postmaster: take back what a clean shutdown saved. */
static void
ring_load(FinsecEventRing *ring)
{
	FinsecEventRingShared *s = ring->shared;
	EventFileHeader h;
	FILE	   *f;
	char	   *ev;
	int			i;
	int			restored = 0;

	f = AllocateFile(ring->file, PG_BINARY_R);
	if (f == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg(ring->msg.read_failed, ring->file)));
		return;
	}
	ev = palloc(ring->payload_size);
	if (fread(&h, sizeof(h), 1, f) != 1 || h.magic != ring->file_magic ||
		h.event_size != ring->payload_size || h.nevents < 0 || h.ndrops < 0)
	{
		ereport(LOG,
				(errmsg(ring->msg.unknown_format, ring->file)));
		goto done;
	}
	for (i = 0; i < h.nevents; i++)
	{
		if (fread(ev, ring->payload_size, 1, f) != 1)
			goto truncated;
		if (ring->restorable && !ring->restorable(ev))
			continue;
		if (store_locked(ring, ev, SLOT_FILLED) >= 0)
			restored++;
		else
			count_drop_locked(ring, payload_dbid(ring, ev), 1); /* the buffer was made
																 * smaller */
	}
	for (i = 0; i < h.ndrops; i++)
	{
		EventFileDrop d;

		if (fread(&d, sizeof(d), 1, f) != 1)
			goto truncated;
		if (OidIsValid(d.dbid))
			count_drop_locked(ring, d.dbid, d.dropped);
		else
			s->drops[EVENTRING_UNATTRIBUTED].dropped += d.dropped;
	}
	if (restored > 0)
		ereport(LOG,
				(errmsg_plural(ring->msg.restored_one, ring->msg.restored_many,
							   restored, restored)));
	goto done;

truncated:
	ereport(LOG,
			(errmsg(ring->msg.truncated, ring->file, restored)));
done:
	pfree(ev);
	FreeFile(f);
	unlink(ring->file);
}

/* ---- shared memory ------------------------------------------------------- */

static void
eventring_shmem_request(void)
{
	int			i;

	for (i = 0; i < nrings; i++)
		RequestAddinShmemSpace(ring_size(rings[i], *rings[i]->slots));
}

static void
eventring_shmem_startup(void)
{
	int			r;

	for (r = 0; r < nrings; r++)
	{
		FinsecEventRing *ring = rings[r];
		int			capacity = *ring->slots;
		FinsecEventRingShared *s;
		bool		found;
		int			i;

		LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
		s = ShmemInitStruct(ring->shmem_name, ring_size(ring, capacity), &found);
		if (!found)
		{
			memset(s, 0, ring_size(ring, capacity));
			SpinLockInit(&s->mutex);
			s->capacity = capacity;
			ring_attach(ring, s);
			/* Pop order: slot 0 first. */
			for (i = 0; i < capacity; i++)
				ring->free_stack[i] = capacity - 1 - i;
			s->nfree = capacity;
		}
		else
			ring_attach(ring, s);
		LWLockRelease(AddinShmemInitLock);

		if (!IsUnderPostmaster)
		{
			if (!found)
				ring_load(ring);
			on_shmem_exit(ring_save, PointerGetDatum(ring));
		}
	}
}

void
finsec_eventring_register(FinsecEventRing *ring)
{
	if (nrings == MAX_RINGS)
		elog(ERROR, "too many finsec event buffers");
	if (ring->write_drop_event == NULL || ring->drop_event == NULL)
		elog(ERROR, "finsec event buffer \"%s\" has no drop event writer", ring->shmem_name);
	if (nrings == 0)
	{
		finsec_hooks_register_shmem(FINSEC_SHMEM_EVENTRING, eventring_shmem_request,
									eventring_shmem_startup);
	}
	rings[nrings++] = ring;
}

/* ---- claims and their settlement at transaction end ---------------------- */

/*
 * A claimed or held slot whose transaction ended: free again (committed) or
 * waiting for the next flush (aborted).  Caller holds the mutex.
 */
static void
settle_slot_locked(FinsecEventRing *ring, int idx, bool committed)
{
	FinsecEventSlot *e = &ring->meta[idx];

	if (committed)
	{
		e->state = SLOT_FREE;
		e->seq = 0;
		ring->free_stack[ring->shared->nfree++] = idx;
	}
	else
		e->state = SLOT_FILLED;
}

/* Settle one claim.  Caller holds the mutex. */
static void
settle_claim_locked(FinsecEventRing *ring, FinsecEventClaim *c, bool committed)
{
	FinsecEventRingShared *s = ring->shared;

	if (c->drop)
	{
		EventRingDrops *d = &s->drops[c->idx];

		d->claimed -= Min(d->claimed, c->seq);
		if (!committed)
			d->dropped += c->seq;
		else if (c->idx != EVENTRING_UNATTRIBUTED && d->dropped == 0 && d->claimed == 0)
			d->used = false;
	}
	else
	{
		FinsecEventSlot *e = &ring->meta[c->idx];

		if (e->state != SLOT_CLAIMED || e->seq != c->seq)
			return;
		s->nclaimed--;
		settle_slot_locked(ring, c->idx, committed);
	}
}

/*
 * Settle claims: those of subtransaction "subid" (all of them when
 * InvalidSubTransactionId), freeing the slots and forgetting the counts
 * (committed) or making them wait again (aborted).  Never throws: runs in
 * commit and abort callbacks.
 */
static void
settle_claims(FinsecEventRing *ring, bool committed, SubTransactionId subid)
{
	int			i;
	int			keep = 0;

	for (i = 0; i < ring->nclaims; i++)
	{
		FinsecEventClaim *c = &ring->claims[i];

		if (subid != InvalidSubTransactionId && c->subid != subid)
		{
			ring->claims[keep++] = *c;
			continue;
		}
		if (c->drop)
			ring->ndrop_claims--;
		SpinLockAcquire(&ring->shared->mutex);
		settle_claim_locked(ring, c, committed);
		SpinLockRelease(&ring->shared->mutex);
	}
	ring->nclaims = keep;
}

/*
 * Settle holds of subtransaction "subid" (all when InvalidSubTransactionId):
 * free the slots (committed) or make them wait for a flush (aborted).
 * Never throws.
 */
static void
settle_holds(FinsecEventRing *ring, bool committed, SubTransactionId subid)
{
	FinsecEventRingShared *s = ring->shared;
	int			i;
	int			keep = 0;

	for (i = 0; i < ring->nholds; i++)
	{
		FinsecEventHold *h = &ring->holds[i];
		FinsecEventSlot *e = &ring->meta[h->idx];

		if (subid != InvalidSubTransactionId && h->subid != subid)
		{
			ring->holds[keep++] = *h;
			continue;
		}
		SpinLockAcquire(&s->mutex);
		if (e->state == SLOT_HELD && e->seq == h->seq)
		{
			s->nheld--;
			settle_slot_locked(ring, h->idx, committed);
		}
		SpinLockRelease(&s->mutex);
	}
	ring->nholds = keep;
}

/*
 * At transaction end: settle this backend's held slots and claims (freed at
 * commit, waiting again at abort); refuse PREPARE TRANSACTION of either.
 */
static void
eventring_xact_callback(XactEvent event, void *arg)
{
	FinsecEventRing *ring = (FinsecEventRing *) arg;

	if (ring->nholds > 0)
	{
		switch (event)
		{
			case XACT_EVENT_PRE_PREPARE:
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("%s", ring->msg.prepare_held),
						 errdetail("A prepared transaction that is rolled back later would take their only record with it."),
						 errhint("Commit or roll back the transaction instead of preparing it.")));
				break;
			case XACT_EVENT_COMMIT:
			case XACT_EVENT_PARALLEL_COMMIT:
				settle_holds(ring, true, InvalidSubTransactionId);
				break;
			case XACT_EVENT_ABORT:
			case XACT_EVENT_PARALLEL_ABORT:
				settle_holds(ring, false, InvalidSubTransactionId);
				break;
			default:
				break;
		}
	}
	if (ring->nclaims == 0)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s", ring->msg.prepare_claimed),
					 errdetail("%s", ring->msg.prepare_claimed_detail),
					 errhint("%s", ring->msg.prepare_claimed_hint)));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			settle_claims(ring, true, InvalidSubTransactionId);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			settle_claims(ring, false, InvalidSubTransactionId);
			break;
		default:
			break;
	}
}

static void
eventring_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						   SubTransactionId parentSubid, void *arg)
{
	FinsecEventRing *ring = (FinsecEventRing *) arg;
	int			i;

	if (ring->nholds > 0)
	{
		if (event == SUBXACT_EVENT_ABORT_SUB)
			settle_holds(ring, false, mySubid);
		else if (event == SUBXACT_EVENT_COMMIT_SUB)
			for (i = 0; i < ring->nholds; i++)
				if (ring->holds[i].subid == mySubid)
					ring->holds[i].subid = parentSubid;
	}
	if (ring->nclaims == 0)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		settle_claims(ring, false, mySubid);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		/* The parent now holds them: they stand or fall with it. */
		for (i = 0; i < ring->nclaims; i++)
			if (ring->claims[i].subid == mySubid)
				ring->claims[i].subid = parentSubid;
	}
}

/* Allocate what claiming needs, before anything is claimed. */
static void
prepare_to_claim(FinsecEventRing *ring)
{
	if (ring->shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s", ring->msg.unavailable)));
	if (ring->claims == NULL)
		ring->claims = MemoryContextAllocHuge(TopMemoryContext,
											  sizeof(FinsecEventClaim) *
											  ((Size) ring->shared->capacity + MAX_DROP_CLAIMS));
	if (!ring->callbacks_registered)
	{
		RegisterXactCallback(eventring_xact_callback, ring);
		RegisterSubXactCallback(eventring_subxact_callback, ring);
		ring->callbacks_registered = true;
	}
}

int
finsec_eventring_held_here(FinsecEventRing *ring)
{
	return ring->nholds;
}

bool
finsec_eventring_hold(FinsecEventRing *ring, const void *payload)
{
	FinsecEventRingShared *s = ring->shared;
	int			idx;

	if (s == NULL)
		return false;
	prepare_to_claim(ring);
	if (ring->holds == NULL)
		ring->holds = MemoryContextAllocHuge(TopMemoryContext,
											 sizeof(FinsecEventHold) * (Size) s->capacity);
	if (ring->nholds >= s->capacity)
		return false;

	SpinLockAcquire(&s->mutex);
	idx = store_locked(ring, payload, SLOT_HELD);
	if (idx < 0)
	{
		SpinLockRelease(&s->mutex);
		return false;
	}
	s->nheld++;
	ring->holds[ring->nholds].idx = idx;
	ring->holds[ring->nholds].seq = ring->meta[idx].seq;
	ring->holds[ring->nholds].subid = GetCurrentSubTransactionId();
	ring->nholds++;
	SpinLockRelease(&s->mutex);
	return true;
}

int
finsec_eventring_count_matching(FinsecEventRing *ring, Size offset, const void *bytes, Size len)
{
	FinsecEventRingShared *s = ring->shared;
	int			start;
	int			i;
	int			n = 0;

	if (s == NULL)
		return 0;
	Assert(offset + len <= ring->payload_size);
	for (start = 0; start < s->capacity; start += CLAIM_CHUNK)
	{
		int			end = Min(start + CLAIM_CHUNK, s->capacity);

		SpinLockAcquire(&s->mutex);
		for (i = start; i < end; i++)
			if ((ring->meta[i].state == SLOT_FILLED || ring->meta[i].state == SLOT_CLAIMED) &&
				ring->meta[i].dbid == MyDatabaseId &&
				memcmp(EVENT_AT(ring, i) + offset, bytes, len) == 0)
				n++;
		SpinLockRelease(&s->mutex);
	}
	return n;
}

static int
claim_seq_cmp(const void *a, const void *b)
{
	uint64		x = ((const FinsecEventClaim *) a)->seq;
	uint64		y = ((const FinsecEventClaim *) b)->seq;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * Claim this database's waiting events for the current subtransaction, a
 * chunk of slots per spinlock acquisition, and copy them out in put order.
 */
int
finsec_eventring_claim(FinsecEventRing *ring, void *out, int max, int *cursor)
{
	FinsecEventRingShared *s;
	SubTransactionId subid = GetCurrentSubTransactionId();
	int			first;
	int			n;
	int			i;

	prepare_to_claim(ring);
	s = ring->shared;
	first = ring->nclaims;
	while (*cursor < s->capacity && ring->nclaims - first < max)
	{
		int			end = Min(*cursor + CLAIM_CHUNK, s->capacity);

		SpinLockAcquire(&s->mutex);
		for (i = *cursor; i < end && ring->nclaims - first < max; i++)
		{
			FinsecEventSlot *e = &ring->meta[i];

			if (e->state != SLOT_FILLED || e->dbid != MyDatabaseId)
				continue;
			e->state = SLOT_CLAIMED;
			s->nclaimed++;
			ring->claims[ring->nclaims].idx = i;
			ring->claims[ring->nclaims].drop = false;
			ring->claims[ring->nclaims].seq = e->seq;
			ring->claims[ring->nclaims].subid = subid;
			ring->nclaims++;
		}
		SpinLockRelease(&s->mutex);
		*cursor = i;
	}

	/* Claimed slots are ours until we settle them: read without the lock. */
	n = ring->nclaims - first;
	qsort(&ring->claims[first], n, sizeof(FinsecEventClaim), claim_seq_cmp);
	for (i = 0; i < n; i++)
		memcpy((char *) out + (Size) i * ring->payload_size,
			   EVENT_AT(ring, ring->claims[first + i].idx), ring->payload_size);
	return n;
}

void
finsec_eventring_claim_drops(FinsecEventRing *ring, uint64 *here, uint64 *unattributed)
{
	FinsecEventRingShared *s;
	SubTransactionId subid = GetCurrentSubTransactionId();
	int			i;

	prepare_to_claim(ring);
	s = ring->shared;
	*here = *unattributed = 0;
	SpinLockAcquire(&s->mutex);
	for (i = 0; i <= EVENTRING_DROP_DBS && ring->ndrop_claims < MAX_DROP_CLAIMS; i++)
	{
		EventRingDrops *d = &s->drops[i];
		FinsecEventClaim *c;

		if (d->dropped == 0 ||
			(i != EVENTRING_UNATTRIBUTED && !(d->used && d->dbid == MyDatabaseId)))
			continue;
		c = &ring->claims[ring->nclaims++];
		ring->ndrop_claims++;
		c->idx = i;
		c->drop = true;
		c->seq = d->dropped;
		c->subid = subid;
		if (i == EVENTRING_UNATTRIBUTED)
			*unattributed += d->dropped;
		else
			*here += d->dropped;
		d->claimed += d->dropped;
		d->dropped = 0;
	}
	SpinLockRelease(&s->mutex);
}

void
finsec_eventring_report_drops(FinsecEventRing *ring, Oid actor, uint64 here, uint64 unattributed)
{
	char	   *desc;

	if (here + unattributed == 0)
		return;
	if (unattributed > 0)
		desc = psprintf(ring->msg.dropped_unattributed,
						(unsigned long long) here, (unsigned long long) unattributed);
	else
		desc = psprintf(here == 1 ? ring->msg.dropped_one : ring->msg.dropped_many,
						(unsigned long long) here);
	(void) ring->write_drop_event(actor, ring->drop_event, NULL, ring->drop_object,
								  "flush", false, desc, NULL);
	ereport(LOG,
			(errmsg("finsec: %s", desc),
			 errhint(ring->msg.dropped_hint, ring->setting, ring->shared->capacity)));
}

/* Caller holds the mutex. */
static bool
drops_here_locked(FinsecEventRing *ring)
{
	FinsecEventRingShared *s = ring->shared;
	int			i;

	for (i = 0; i <= EVENTRING_DROP_DBS; i++)
		if (s->drops[i].dropped > 0 &&
			(i == EVENTRING_UNATTRIBUTED || s->drops[i].dbid == MyDatabaseId))
			return true;
	return false;
}

bool
finsec_eventring_work_here(FinsecEventRing *ring)
{
	FinsecEventRingShared *s = ring->shared;
	int			start;
	int			i;
	bool		found;

	if (s == NULL)
		return false;
	SpinLockAcquire(&s->mutex);
	found = drops_here_locked(ring);
	if (found || s->nfree + s->nclaimed + s->nheld == s->capacity)
	{
		SpinLockRelease(&s->mutex);
		return found;
	}
	SpinLockRelease(&s->mutex);
	for (start = 0; start < s->capacity && !found; start += CLAIM_CHUNK)
	{
		int			end = Min(start + CLAIM_CHUNK, s->capacity);

		SpinLockAcquire(&s->mutex);
		for (i = start; i < end && !found; i++)
			found = ring->meta[i].state == SLOT_FILLED && ring->meta[i].dbid == MyDatabaseId;
		SpinLockRelease(&s->mutex);
	}
	return found;
}

/* ---- SQL-level helpers --------------------------------------------------- */

Datum
finsec_eventring_status(FinsecEventRing *ring, FunctionCallInfo fcinfo)
{
	FinsecEventRingShared *s = ring->shared;
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
	if (s == NULL)
	{
		memset(nulls, true, sizeof(nulls));
		return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls));
	}

	SpinLockAcquire(&s->mutex);
	capacity = s->capacity;
	flushing = s->nclaimed;
	waiting = s->capacity - s->nfree - s->nclaimed - s->nheld;
	dropped = s->dropped_total;
	for (i = 0; i <= EVENTRING_DROP_DBS; i++)
		if (i == EVENTRING_UNATTRIBUTED ||
			(s->drops[i].used && s->drops[i].dbid == MyDatabaseId))
			unreported += s->drops[i].dropped + s->drops[i].claimed;
	SpinLockRelease(&s->mutex);
	for (start = 0; start < capacity; start += CLAIM_CHUNK)
	{
		int			end = Min(start + CLAIM_CHUNK, capacity);

		SpinLockAcquire(&s->mutex);
		for (i = start; i < end; i++)
			if (ring->meta[i].state == SLOT_FILLED && ring->meta[i].dbid == MyDatabaseId)
				waiting_here++;
		SpinLockRelease(&s->mutex);
	}

	memset(nulls, false, sizeof(nulls));
	values[0] = Int32GetDatum(capacity);
	values[1] = Int32GetDatum(waiting);
	values[2] = Int32GetDatum(waiting_here);
	values[3] = Int32GetDatum(flushing);
	values[4] = Int64GetDatum((int64) dropped);
	values[5] = Int64GetDatum((int64) unreported);
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls));
}

int64
finsec_eventring_flush_as_owner(FinsecEventRing *ring, int64 (*flush) (Oid actor))
{
	FinsecOwnerContext ctx;
	int64		n;

	prepare_to_claim(ring);
	finsec_spi_begin_as_owner(&ctx);
	n = flush(ctx.caller);
	finsec_spi_end(&ctx);
	return n;
}

/* ---- the flush as a finsec worker task --------------------------------- */

typedef struct RingTask
{
	FinsecEventRing *ring;
	int64		(*flush) (Oid actor);
} RingTask;

static bool
ring_task_has_work(void *arg)
{
	return finsec_eventring_work_here(((RingTask *) arg)->ring);
}

static int64
ring_task_run(void *arg)
{
	RingTask   *t = (RingTask *) arg;

	return finsec_eventring_flush_as_owner(t->ring, t->flush);
}

void
finsec_eventring_register_task(FinsecEventRing *ring, const char *name, int64 (*flush) (Oid actor))
{
	RingTask   *t = MemoryContextAlloc(TopMemoryContext, sizeof(RingTask));
	FinsecWorkerTask task = {
		.name = name,
		.has_work = ring_task_has_work,
		.run = ring_task_run,
		.arg = t,
		.failure_message = ring->msg.flush_failed,
		.failure_detail = "They stay in the shared buffer for the next round; sealing continues.",
	};

	t->ring = ring;
	t->flush = flush;
	finsec_worker_register_task(&task);
}
