/*-------------------------------------------------------------------------
 *
 * finsec_redact.h
 *	  Keeping key material and identifiers out of the server log
 *	  (src/redact/logredact.c; docs/keyring.md#importing,
 *	  docs/identifiers.md#logs).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_REDACT_H
#define FINSEC_REDACT_H

/* Registers the emit_log callback (FINSEC_EMIT_LOG_REDACT); preloaded only. */
extern void finsec_log_redact_init(void);

/* Called by finsec.key_import() before it reads its arguments. */
extern void finsec_log_key_import(void);

/* Does this text name finsec.key_import (case-insensitively)? */
extern bool finsec_names_key_import(const char *sql);

#endif							/* FINSEC_REDACT_H */
