/*-------------------------------------------------------------------------
 *
 * ledger_internal.h
 *	  Shared by the files of src/audit; not part of finsec's public C API.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_LEDGER_INTERNAL_H
#define FINSEC_LEDGER_INTERNAL_H

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

#define FINSEC_STAMP_TRIGGER		"finsec_ledger_stamp"
#define FINSEC_IMMUTABLE_TRIGGER	"finsec_ledger_immutable"
#define FINSEC_TRUNCATE_TRIGGER		"finsec_ledger_no_truncate"

/* Bytes per sealed row in ledger_block.row_hashes: u64be seq || hash. */
#define FINSEC_SEALED_ROW_LEN		(8 + FINSEC_HASH_LEN)

typedef struct FinsecOwnerContext
{
	Oid			caller;			/* the role that called finsec */
	Oid			save_userid;
	int			save_sec;
	int			nestlevel;
	int			saved_encoding;
} FinsecOwnerContext;

extern Oid	finsec_owner(void);
extern Oid	finsec_audit_relid(void);
extern void finsec_begin_owner(FinsecOwnerContext *ctx);
extern void finsec_end_owner(FinsecOwnerContext *ctx);
extern ErrorData *finsec_try_as_owner(void (*work) (Oid actor, void *arg), void *arg);
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
extern char *finsec_quoted_relname(Oid relid);
extern void finsec_create_chain_with(Oid relid, Oid actor, const char *algorithm);
extern void finsec_chain_genesis(const char *algorithm, const unsigned char *chain_id,
								 unsigned char *out);

#endif							/* FINSEC_LEDGER_INTERNAL_H */
