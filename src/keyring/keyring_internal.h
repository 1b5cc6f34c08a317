/*-------------------------------------------------------------------------
 *
 * keyring_internal.h
 *	  Shared by the files of src/keyring; not part of the public C API.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_KEYRING_INTERNAL_H
#define FINSEC_KEYRING_INTERNAL_H

/* Hex digits of a master key check value (64 bits). */
#define FINSEC_MASTER_KCV_LEN 16

/* AES-256-GCM nonce (12) and tag (16) around wrapped material. */
#define FINSEC_WRAP_OVERHEAD 28

/* Hex digits of a key check value (24 bits, the banking convention). */
#define FINSEC_KCV_HEX_LEN 6

/* master.c */
extern char *finsec_master_key_file;
extern char *finsec_master_key_command;
extern char *finsec_master_key_previous_file;
extern char *finsec_master_key_previous_command;
#define FINSEC_MASTER_KEY_FILE_DEFAULT ""
#define FINSEC_MASTER_KEY_COMMAND_DEFAULT ""
#define FINSEC_MASTER_KEY_PREVIOUS_FILE_DEFAULT ""
#define FINSEC_MASTER_KEY_PREVIOUS_COMMAND_DEFAULT ""

extern void finsec_master_require(void);
extern const char *finsec_master_kcv(bool previous);
extern const char *finsec_master_problem(void);
extern bytea *finsec_wrap(const unsigned char *plain, size_t len, const char *aad);
extern bool finsec_unwrap(const unsigned char *wrapped, size_t len, const char *aad,
						  const char *kcv, unsigned char *out);

/* keyring.c */
extern bool finsec_key_cache_enabled;
extern int	finsec_approval_timeout_s;
#define FINSEC_KEY_CACHE_DEFAULT true
#define FINSEC_APPROVAL_TIMEOUT_DEFAULT (24 * 3600) /* s */

#endif							/* FINSEC_KEYRING_INTERNAL_H */
