/*-------------------------------------------------------------------------
 *
 * finsec_eventring.h
 *	  A fixed-size buffer of events in shared memory, kept across the
 *	  rollback of the transaction that put an event and across a clean
 *	  shutdown, and moved into a table by a flushing transaction exactly
 *	  once (src/common/eventring.c).
 *
 * A capability whose events must outlive the transaction that causes them
 * (a refused payment, a blocked payment: both roll back) puts them here and
 * copies them into a table later:
 *
 *	 - finsec_eventring_put() copies an event into a free slot under a
 *	   spinlock; nothing allocates and nothing throws.  When every slot is
 *	   taken the event is counted as dropped, per database.
 *	 - A flushing transaction claims this database's events
 *	   (finsec_eventring_claim()) and the drop counts it reports
 *	   (finsec_eventring_claim_drops()); transaction callbacks settle the
 *	   claims: at commit the slots are freed and the counts forgotten, at
 *	   abort (of the transaction, or of the subtransaction that claimed
 *	   them) they wait again for the next flush.  No other backend takes a
 *	   claimed slot, so each event is written once.  PREPARE TRANSACTION of
 *	   a flushing transaction is refused.
 *	 - The postmaster saves what waits to a file in the data directory at a
 *	   clean shutdown and restores it at the next start.  A crash loses it.
 *
 * One FinsecEventRing, a static of its capability, describes an instance;
 * finsec_eventring_register() (in _PG_init, preloaded only) sets up its
 * shared memory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_EVENTRING_H
#define FINSEC_EVENTRING_H

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/jsonb.h"

typedef struct FinsecEventRingShared FinsecEventRingShared;
typedef struct FinsecEventClaim FinsecEventClaim;
typedef struct FinsecEventHold FinsecEventHold;

/*
 * The messages of a ring, each a whole format string (PostgreSQL's message
 * style: no sentence is assembled from words of a ring).  The comment of
 * each names its severity and the arguments it receives, in order; a
 * _one/_many pair is the singular and plural form of one message
 * (errmsg_plural), chosen by its first number.  Messages of the server log
 * only start with "finsec: " (docs/development.md, "Messages").
 */
typedef struct FinsecEventRingMessages
{
	/* LOG at a clean shutdown: (int events, const char *file); ends in %m */
	const char *save_failed_one;
	const char *save_failed_many;
	const char *save_lost;		/* errdetail of a failed save, or NULL */
	/* LOG at start: (const char *file); ends in %m */
	const char *read_failed;
	/* LOG at start: (const char *file) */
	const char *unknown_format;
	/* LOG at start: (const char *file, int restored) */
	const char *truncated;
	/* LOG at start: (int restored) */
	const char *restored_one;
	const char *restored_many;
	/* ERROR at PREPARE TRANSACTION holding events: no argument */
	const char *prepare_held;
	/* ERROR at PREPARE TRANSACTION of a flush; message, detail, hint: none */
	const char *prepare_claimed;
	const char *prepare_claimed_detail;
	const char *prepare_claimed_hint;
	/* ERROR of a flush without the preload: no argument */
	const char *unavailable;

	/*
	 * Description of the drop event (and the LOG line after "finsec: "):
	 * (unsigned long long here); then with drops of databases the buffer
	 * could not tell apart: (unsigned long long here, unsigned long long
	 * unattributed)
	 */
	const char *dropped_one;
	const char *dropped_many;
	const char *dropped_unattributed;
	/* errhint of that LOG line: (const char *setting, int slots) */
	const char *dropped_hint;
	/* sealer WARNING when its flush failed: (const char *error) */
	const char *flush_failed;
} FinsecEventRingMessages;

/* The signature of finsec_audit_event_internal(), which writes drop events. */
typedef int64 (*FinsecEventWriter) (Oid actor, const char *event_type,
									const char *subject, const char *object,
									const char *action, bool success,
									const char *description, Jsonb *detail);

typedef struct FinsecEventRing
{
	/* ---- set by the capability ---- */
	const char *shmem_name;		/* name of the shared memory struct */
	const char *setting;		/* the postmaster setting: number of slots */
	int		   *slots;			/* ... and its variable */
	Size		payload_size;	/* bytes of one event */
	Size		dbid_offset;	/* offsetof the event's database Oid */
	const char *file;			/* saved there at a clean shutdown */
	uint32		file_magic;
	/* a saved event fit to restore?  May repair it (NUL-terminate, ...) */
	bool		(*restorable) (void *payload);

	/* the ring's messages, whole format strings (above) */
	FinsecEventRingMessages msg;

	/*
	 * Writes the event that reports drops, in the flushing transaction, as
	 * finsec's owner: called as write_drop_event(actor, drop_event, NULL,
	 * drop_object, "flush", false, description, NULL).  The registrant sets
	 * it (finsec_audit_event_internal, from finsec_audit.h), so that
	 * src/common/eventring.c depends on no capability.
	 */
	FinsecEventWriter write_drop_event;
	const char *drop_event;		/* the event type reporting drops */
	const char *drop_object;	/* ... and its object (the table) */

	/* ---- private to eventring.c ---- */
	FinsecEventRingShared *shared;
	int		   *free_stack;
	struct FinsecEventSlot *meta;
	char	   *payloads;
	FinsecEventClaim *claims;	/* this backend's, in TopMemoryContext */
	int			nclaims;
	FinsecEventHold *holds;		/* this backend's held slots, likewise */
	int			nholds;
	int			ndrop_claims;	/* of them, claims of drop counts */
	bool		callbacks_registered;
} FinsecEventRing;

/* In _PG_init when preloaded: request and set up the ring's shared memory. */
extern void finsec_eventring_register(FinsecEventRing *ring);

/* Has the ring its shared memory (finsec preloaded)? */
extern bool finsec_eventring_available(FinsecEventRing *ring);

/* Copy an event in; false when it was dropped.  Never throws, never allocates. */
extern bool finsec_eventring_put(FinsecEventRing *ring, const void *payload);

/*
 * Copy an event in when a slot is free; false (nothing counted) when every
 * slot is taken, so that the caller can wait and try again.  Never throws,
 * never allocates.
 */
extern bool finsec_eventring_put_if_room(FinsecEventRing *ring, const void *payload);

/* Count one event as dropped, as finsec_eventring_put() does when full. */
extern void finsec_eventring_count_drop(FinsecEventRing *ring, const void *payload);

/*
 * Add an event into the slot *hint_idx (with sequence *hint_seq) when that
 * slot still waits (filled, not claimed) and merge(slot, payload) accepts
 * it, else put it into a free slot and point the hint there (*hint_idx -1:
 * no hint yet).  merge runs under the ring's spinlock: it compares and adds,
 * nothing else (no allocation, no error).  False when the event was dropped
 * (every slot taken).  Never throws, never allocates.
 */
extern bool finsec_eventring_put_merge(FinsecEventRing *ring, const void *payload,
									   bool (*merge) (void *slot, const void *payload),
									   int *hint_idx, uint64 *hint_seq);

/* Events dropped since the server started (all databases), or 0 without the preload. */
extern uint64 finsec_eventring_dropped_total(FinsecEventRing *ring);

/* Free slots of the ring (read without the lock: a hint), or 0 without the preload. */
extern int	finsec_eventring_free_slots(FinsecEventRing *ring);

/*
 * Hold an event for the current (sub)transaction: a slot that no flush
 * takes while the (sub)transaction may still commit.  At commit of the
 * transaction the slot is freed (the transaction wrote its own record); at
 * abort of the transaction, or of the subtransaction that held it, the
 * event waits for the next flush like a put one.  PREPARE TRANSACTION of a
 * transaction holding events is refused.  False when every slot is taken
 * (nothing is counted as dropped: the caller refuses its action).
 */
extern bool finsec_eventring_hold(FinsecEventRing *ring, const void *payload);

/* Number of slots this backend holds for its open transaction. */
extern int	finsec_eventring_held_here(FinsecEventRing *ring);

/*
 * Number of waiting or claimed events of this database whose payload holds
 * the len bytes "bytes" at "offset".
 */
extern int	finsec_eventring_count_matching(FinsecEventRing *ring, Size offset,
											const void *bytes, Size len);

/*
 * Claim up to max waiting events of this database for the current
 * (sub)transaction, copying them into out (max * payload_size bytes), in
 * the order they were put.  *cursor starts at 0; call again until it
 * returns 0.
 */
extern int	finsec_eventring_claim(FinsecEventRing *ring, void *out, int max, int *cursor);

/* Claim the drop counts this database reports: its own, and unattributed. */
extern void finsec_eventring_claim_drops(FinsecEventRing *ring, uint64 *here, uint64 *unattributed);

/*
 * Report claimed drop counts: the ring's drop event (write_drop_event,
 * success false) in the current transaction, and the server log.
 */
extern void finsec_eventring_report_drops(FinsecEventRing *ring, Oid actor, uint64 here,
										  uint64 unattributed);

/* Does anything of this database wait: events, or drops to report? */
extern bool finsec_eventring_work_here(FinsecEventRing *ring);

/*
 * The ring's state as the SQL record (capacity integer, waiting integer,
 * waiting_here integer, flushing integer, dropped bigint, dropped_unreported
 * bigint); all NULL without the preload.
 */
extern Datum finsec_eventring_status(FinsecEventRing *ring, FunctionCallInfo fcinfo);

/*
 * The SQL flush function's body: runs flush(actor) with SPI connected, as
 * finsec's owner, acting for the caller; returns what flush returned.
 */
extern int64 finsec_eventring_flush_as_owner(FinsecEventRing *ring, int64 (*flush) (Oid actor));

/*
 * In _PG_init (preloaded only): register the finsec worker task "name"
 * (src/worker/) that runs flush(actor) like finsec_eventring_flush_as_owner
 * every finsec.audit_seal_interval where this database's events wait, in
 * its own transaction.  A failure rolls back, so the claims wait for the
 * next round, and is logged with the ring's msg.flush_failed at most
 * once a minute.
 */
extern void finsec_eventring_register_task(FinsecEventRing *ring, const char *name,
										   int64 (*flush) (Oid actor));

#endif							/* FINSEC_EVENTRING_H */
