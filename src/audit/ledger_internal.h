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

/* The audit event buffer's settings (pending.c), for finsec_audit_define_settings(). */
extern void finsec_audit_define_ring_settings(void);

extern void finsec_create_chain_with(Oid relid, Oid actor, const char *algorithm);
extern void finsec_chain_genesis(const char *algorithm, const unsigned char *chain_id,
								 unsigned char *out);

#endif							/* FINSEC_LEDGER_INTERNAL_H */
