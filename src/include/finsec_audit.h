/*-------------------------------------------------------------------------
 *
 * finsec_audit.h
 *	  The audit ledger and protected tables: public C API.
 *
 * Any capability records an auditable event with finsec_audit_event(); the
 * call either writes a ledger row in the current transaction or raises an
 * ERROR (never both, never neither).  docs/audit.md describes the model.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_AUDIT_H
#define FINSEC_AUDIT_H

#include "access/tupdesc.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "datatype/timestamp.h"
#include "utils/jsonb.h"

/* Version of the canonical row encoding, recorded in every chain. */
#define FINSEC_ROW_ENCODING_VERSION 1

/* Largest digest finsec uses (SHA-256 and SM3 are both 32 bytes). */
#define FINSEC_HASH_LEN 32

/* Rows of one transaction are never split; a block closes after this many. */
#define FINSEC_BLOCK_TARGET_ROWS 10000

/* Names of the columns protect_table() adds to a table. */
#define FINSEC_TXID_COLUMN "finsec_txid"
#define FINSEC_SEQ_COLUMN "finsec_seq"

/* Write one ledger row; see finsec.audit_event() for the meaning of each. */
extern void finsec_audit_event(const char *event_type, const char *object,
							   const char *action, bool success,
							   const char *description, Jsonb *detail);

/*
 * Audit records that survive the caller's rollback (src/audit/pending.c).
 *
 * finsec_audit_event_durable(): the same row as finsec_audit_event(), kept
 * also in shared memory until the (sub)transaction ends; written again by
 * a flush only if it rolled back.  Raises ERROR (and so refuses the action)
 * when the buffer is full.
 */
extern void finsec_audit_event_durable(const char *event_type, const char *object,
									   const char *action, bool success,
									   const char *description, Jsonb *detail);

/*
 * Record a verification (key_verify, audit_verify) as a durable ledger
 * row; when it cannot be written the caller's result stands, with a
 * WARNING (src/audit/seal.c).
 */
extern void finsec_audit_record_verification(const char *event_type, const char *object, bool ok,
											 const char *description, const char *detail_json);

/* An attempt at a one-time code (salt: 16 bytes) that counts even if rolled back. */
extern void finsec_audit_hold_otp_attempt(Oid actor, const unsigned char *salt, const char *subject,
										  const char *purpose, bool ok);

/* Attempts at the code of this salt rolled back and not yet added to finsec.otp. */
extern int	finsec_audit_otp_pending_attempts(const unsigned char *salt);
extern bool finsec_audit_events_waiting(void);

/* Remember the client's address for records written from abort callbacks (no catalog access). */
extern void finsec_audit_note_session(void);

/* From an abort callback: a ledger event for the next flush.  Never throws. */
extern bool finsec_audit_put_aborted(Oid db_user, const char *event_type,
									 const char *object, const char *action, bool success,
									 const char *description, const char *detail_json);
extern void finsec_audit_ring_shmem_init(void);

/*
 * From a commit callback: a committed transaction's uses of one key version
 * for one operation, for the next flush, added into this backend's waiting
 * record of the same key, operation and roles when there is one; the flush
 * writes one key.use row per role pair, key version and operation with the
 * summed count.  False when the buffer is full or unavailable.  Never throws.
 */
extern bool finsec_audit_put_key_use(Oid db_user, const char *label, const char *operation,
									 int64 key_id, int32 version, int64 count);

/* Has the buffer room for committed key uses (more than a quarter free)? */
extern bool finsec_audit_key_use_room(void);


/* Is the innermost running PL/pgSQL function one of finsec's (src/audit/plcaller.c)? */
extern void finsec_plcaller_init(void);
extern bool finsec_called_by_finsec_plpgsql(void);
extern int	finsec_audit_event_slots;
extern int	finsec_audit_event_slots_per_session;
#define FINSEC_AUDIT_EVENT_BUFFER_DEFAULT 1024
#define FINSEC_AUDIT_EVENT_BUFFER_PER_SESSION_DEFAULT 0 /* an eighth of the
														 * buffer */

/* ---- canonical encoding (src/audit/encoding.c) ------------------------ */

typedef struct FinsecRowHasher FinsecRowHasher;

extern FinsecRowHasher *finsec_row_hasher_create(TupleDesc desc, const char *algorithm);
extern void finsec_row_hash(FinsecRowHasher *h, Datum *values, bool *isnull,
							unsigned char *out);
extern void finsec_row_hasher_destroy(FinsecRowHasher *h);
extern void finsec_digest_bytes(const char *algorithm, const unsigned char *data,
								size_t len, unsigned char *out);

/* ---- ledger internals shared by the files of src/audit ---------------- */

/*
 * finsec's own change to rows of one protected relation, for one operation
 * (TRIGGER_EVENT_UPDATE or TRIGGER_EVENT_DELETE), optionally bounded to rows
 * whose finsec_txid lies in [from_txid, to_txid) or, for finsec's chain and
 * block tables, whose relid column equals chain_relid.  Set around one
 * statement and cleared after it; see ledger.c.
 */
typedef struct FinsecLedgerPermit
{
	Oid			relid;
	uint32		event;
	bool		bounded;
	uint64		from_txid;
	uint64		to_txid;
	Oid			chain_relid;
} FinsecLedgerPermit;

extern const FinsecLedgerPermit *finsec_ledger_permit;

extern const FinsecLedgerPermit *finsec_ledger_permit_set(const FinsecLedgerPermit *permit);

extern bool finsec_is_protected_relation(Oid relid);
extern bool finsec_is_before_insert_row_trigger(Oid relid, const char *trigname);
extern bool finsec_is_own_function(Oid funcid);
extern bool finsec_is_ledger_immutable(Oid funcid);
extern void finsec_own_trigger_ddl_begin(void);
extern void finsec_own_trigger_ddl_end(void);
extern void finsec_audit_init_hooks(void);

/* The sealer task (src/audit/sealer.c), registered with the finsec worker. */
extern void finsec_audit_register_tasks(void);

/* The audit settings (src/audit/settings.c) and their defaults. */
extern void finsec_audit_define_settings(void);
extern int	finsec_audit_retention_minutes;
extern int	finsec_audit_capacity_warning_mb;
extern int	finsec_audit_capacity_limit_mb;
#define FINSEC_AUDIT_RETENTION_DEFAULT (180 * 24 * 60)	/* minutes */
#define FINSEC_AUDIT_CAPACITY_WARNING_DEFAULT 10240 /* MB */
#define FINSEC_AUDIT_CAPACITY_LIMIT_DEFAULT 0

/*
 * Writing audit events from C, for every capability: as the given actor,
 * in the current transaction (internal), at a given time (at), or
 * replaying an event recorded by a transaction that rolled back.
 */
extern Oid	finsec_audit_relid(void);
extern int64 finsec_audit_event_internal(Oid actor, const char *event_type,
										 const char *subject, const char *object,
										 const char *action, bool success,
										 const char *description, Jsonb *detail);
extern int64 finsec_audit_event_at(Oid actor, const char *event_type,
								   const char *subject, const char *object,
								   const char *action, bool success,
								   const char *description, Jsonb *detail,
								   TimestampTz at);

/* An event recorded by a transaction that rolled back, written later. */
typedef struct FinsecAuditReplay
{
	TimestampTz at;
	const char *db_user;
	const char *session_user;
	const char *client_addr;	/* NULL or "": none */
	const char *application_name;
	int32		backend_pid;
	const char *event_type;
	const char *subject;
	const char *object;
	const char *action;
	bool		success;
	const char *description;
	Jsonb	   *detail;
	Jsonb	   *marker;			/* merged into detail: rolled_back etc. */
} FinsecAuditReplay;

extern int64 finsec_audit_event_replay(Oid actor, const FinsecAuditReplay *r);
extern int64 finsec_audit_size_bytes(void);

#endif							/* FINSEC_AUDIT_H */
