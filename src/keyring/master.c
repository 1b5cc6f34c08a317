/*-------------------------------------------------------------------------
 *
 * master.c
 *	  The keyring's master key: loaded once by the postmaster, never stored.
 *
 * The master key comes from finsec.master_key_file (a file readable only by
 * the server's user, holding 64 hexadecimal digits) or from
 * finsec.master_key_command (a program that prints them, in the manner of
 * ssl_passphrase_command).  It is read while the postmaster loads finsec,
 * before any backend exists; backends inherit what was derived from it when
 * they are forked.  The master key itself is kept only long enough to derive
 * two values with HKDF-SHA256 (RFC 5869):
 *
 *	- the wrapping key, which encrypts every key of the keyring
 *	  (AES-256-GCM, see finsec_wrap/finsec_unwrap), and
 *	- the master check value, 16 hexadecimal digits that identify the
 *	  master key without revealing it, recorded beside each wrapped key so
 *	  that a server started with another master key says so plainly instead
 *	  of failing integrity checks.
 *
 * A previous master key (finsec.master_key_previous_file/_command) can be
 * loaded beside the current one while keys are re-wrapped after a master
 * key change (finsec.rewrap_keys()).
 *
 * A server whose master key cannot be loaded still starts: it logs why, and
 * only functions that need a key fail (SQLSTATE S9K01), with that reason.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "finsec.h"
#include "finsec_keyring.h"
#include "keyring_internal.h"

char	   *finsec_master_key_file = NULL;
char	   *finsec_master_key_command = NULL;
char	   *finsec_master_key_previous_file = NULL;
char	   *finsec_master_key_previous_command = NULL;

#define MASTER_KEY_LEN 32
#define MASTER_SOURCE_MAX 512	/* bytes read from a file or command */

/*
 * What the postmaster derived; one slot for the current master key and one
 * for the previous.  Locked into memory where the platform allows, so that
 * it is not written to swap.
 */
typedef struct MasterSlot
{
	bool		loaded;
	unsigned char wrap_key[32];
	char		kcv[FINSEC_MASTER_KCV_LEN + 1];
	char		problem[256];	/* why not loaded; never secret */
} MasterSlot;

static MasterSlot master_slots[2];

#define SLOT_CURRENT 0
#define SLOT_PREVIOUS 1

static void
			slot_problem(MasterSlot *slot, const char *fmt,...) pg_attribute_printf(2, 3);

static void
slot_problem(MasterSlot *slot, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(slot->problem, sizeof(slot->problem), fmt, ap);
	va_end(ap);
	slot->loaded = false;
}

/*
 * Read at most MASTER_SOURCE_MAX bytes from the file, after checking that
 * nobody but the server's user (or root, read-only for its group) can read
 * it: the rule PostgreSQL applies to ssl_key_file.  Returns the byte count,
 * or -1 with slot->problem set.
 */
static int
read_master_file(MasterSlot *slot, const char *path, char *buf)
{
	struct stat st;
	int			fd;
	int			n = 0;

	fd = open(path, O_RDONLY | PG_BINARY | O_CLOEXEC, 0);
	if (fd < 0)
	{
		slot_problem(slot, "could not open master key file \"%s\": %m", path);
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
	{
		close(fd);
		slot_problem(slot, "master key file \"%s\" is not a regular file", path);
		return -1;
	}
	if (!((st.st_uid == geteuid() && (st.st_mode & (S_IRWXG | S_IRWXO)) == 0) ||
		  (st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO)) == 0)))
	{
		close(fd);
		slot_problem(slot, "master key file \"%s\" has group or world access, or is owned by another user "
					 "(it must be owned by the server's user with mode 0600, or by root with mode 0640 or less)",
					 path);
		return -1;
	}
	for (;;)
	{
		ssize_t		r = read(fd, buf + n, MASTER_SOURCE_MAX - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
		{
			close(fd);
			slot_problem(slot, "could not read master key file \"%s\": %m", path);
			return -1;
		}
		if (r == 0)
			break;
		n += r;
		if (n == MASTER_SOURCE_MAX)
			break;
	}
	close(fd);
	return n;
}

/* Run the command and read what it prints; it must exit with status 0. */
static int
read_master_command(MasterSlot *slot, const char *command, char *buf)
{
	FILE	   *fp;
	size_t		n;
	int			status;

	fflush(NULL);
	fp = popen(command, "r");
	if (fp == NULL)
	{
		slot_problem(slot, "could not run master key command: %m");
		return -1;
	}
	n = fread(buf, 1, MASTER_SOURCE_MAX, fp);
	status = pclose(fp);
	if (status != 0)
	{
		slot_problem(slot, "master key command failed (%s)",
					 status < 0 ? "could not be waited for"
					 : WIFEXITED(status) ? "non-zero exit status"
					 : "terminated by a signal");
		return -1;
	}
	return (int) n;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The source must hold exactly 64 hexadecimal digits, optionally surrounded
 * by white space.  Nothing of the content goes into the problem text.
 */
static bool
parse_master(MasterSlot *slot, const char *buf, int len, unsigned char *key)
{
	int			i = 0,
				end = len,
				k;

	while (i < end && isspace((unsigned char) buf[i]))
		i++;
	while (end > i && isspace((unsigned char) buf[end - 1]))
		end--;
	if (end - i != 2 * MASTER_KEY_LEN)
	{
		slot_problem(slot, "the master key must be %d hexadecimal digits (256 bits); the source holds %d characters",
					 2 * MASTER_KEY_LEN, end - i);
		return false;
	}
	for (k = 0; k < MASTER_KEY_LEN; k++)
	{
		int			hi = hexval(buf[i + 2 * k]);
		int			lo = hexval(buf[i + 2 * k + 1]);

		if (hi < 0 || lo < 0)
		{
			slot_problem(slot, "the master key source contains a character that is not a hexadecimal digit");
			return false;
		}
		key[k] = (unsigned char) ((hi << 4) | lo);
	}
	return true;
}

/* HKDF-SHA256(master, salt "finsec", info) into out (outlen bytes). */
static bool
hkdf(const unsigned char *master, const char *info, unsigned char *out, size_t outlen)
{
	EVP_KDF    *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kctx;
	OSSL_PARAM	params[5];
	bool		ok;

	if (kdf == NULL)
		return false;
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kctx == NULL)
		return false;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *) master, MASTER_KEY_LEN);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, "finsec", 6);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *) info, strlen(info));
	params[4] = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kctx, out, outlen, params) == 1;
	EVP_KDF_CTX_free(kctx);
	return ok;
}

static void
load_slot(MasterSlot *slot, const char *file, const char *command, const char *what)
{
	char		buf[MASTER_SOURCE_MAX];
	unsigned char key[MASTER_KEY_LEN];
	unsigned char check[FINSEC_MASTER_KCV_LEN / 2];
	int			n;
	bool		have_file = file != NULL && file[0] != '\0';
	bool		have_command = command != NULL && command[0] != '\0';

	memset(slot, 0, sizeof(*slot));
	if (have_file && have_command)
	{
		slot_problem(slot, "both the %s file and the %s command are set; set only one", what, what);
		return;
	}
	if (!have_file && !have_command)
	{
		slot_problem(slot, "neither finsec.%s_file nor finsec.%s_command is set", what, what);
		return;
	}

	n = have_file ? read_master_file(slot, file, buf) : read_master_command(slot, command, buf);
	if (n >= 0 && parse_master(slot, buf, n, key))
	{
		if (hkdf(key, "finsec keyring wrapping key v1", slot->wrap_key, sizeof(slot->wrap_key)) &&
			hkdf(key, "finsec master key check value v1", check, sizeof(check)))
		{
			hex_encode((const char *) check, sizeof(check), slot->kcv);
			slot->kcv[FINSEC_MASTER_KCV_LEN] = '\0';
			slot->loaded = true;
		}
		else
			slot_problem(slot, "OpenSSL could not derive keys from the master key (HKDF-SHA256 unavailable)");
	}
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(key, sizeof(key));
	explicit_bzero(check, sizeof(check));
}

/*
 * Called by _PG_init in the postmaster.  Never fails: a missing or bad
 * master key is logged, and key functions report it when used.
 */
void
finsec_master_key_load(void)
{
	/* Keep the derived keys out of swap and core dumps, where supported. */
	(void) mlock(master_slots, sizeof(master_slots));
#ifdef MADV_DONTDUMP
	{
		uintptr_t	page = (uintptr_t) sysconf(_SC_PAGESIZE);
		uintptr_t	start = (uintptr_t) master_slots & ~(page - 1);
		uintptr_t	end = ((uintptr_t) master_slots + sizeof(master_slots) + page - 1) & ~(page - 1);

		(void) madvise((void *) start, end - start, MADV_DONTDUMP);
	}
#endif

	load_slot(&master_slots[SLOT_CURRENT], finsec_master_key_file,
			  finsec_master_key_command, "master_key");
	if (master_slots[SLOT_CURRENT].loaded)
		ereport(LOG,
				(errmsg("finsec: keyring master key loaded (check value %s)",
						master_slots[SLOT_CURRENT].kcv)));
	else
		ereport(LOG,
				(errmsg("finsec: keyring master key not loaded; key functions will fail until it is"),
				 errdetail_internal("%s", master_slots[SLOT_CURRENT].problem)));

	if ((finsec_master_key_previous_file && finsec_master_key_previous_file[0]) ||
		(finsec_master_key_previous_command && finsec_master_key_previous_command[0]))
	{
		load_slot(&master_slots[SLOT_PREVIOUS], finsec_master_key_previous_file,
				  finsec_master_key_previous_command, "master_key_previous");
		if (master_slots[SLOT_PREVIOUS].loaded)
			ereport(LOG,
					(errmsg("finsec: previous keyring master key loaded (check value %s); run finsec.rewrap_keys() in each database",
							master_slots[SLOT_PREVIOUS].kcv)));
		else
			ereport(LOG,
					(errmsg("finsec: previous keyring master key not loaded"),
					 errdetail_internal("%s", master_slots[SLOT_PREVIOUS].problem)));
	}
}

bool
finsec_master_key_loaded(void)
{
	return master_slots[SLOT_CURRENT].loaded;
}

const char *
finsec_master_kcv(bool previous)
{
	MasterSlot *slot = &master_slots[previous ? SLOT_PREVIOUS : SLOT_CURRENT];

	return slot->loaded ? slot->kcv : NULL;
}

const char *
finsec_master_problem(void)
{
	return master_slots[SLOT_CURRENT].loaded ? NULL : master_slots[SLOT_CURRENT].problem;
}

void
finsec_master_require(void)
{
	if (!finsec_preloaded)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_NO_MASTER_KEY),
				 errmsg("the finsec keyring is not available"),
				 errdetail("The master key is loaded only when finsec is in shared_preload_libraries."),
				 errhint("Add finsec to shared_preload_libraries, set finsec.master_key_file or finsec.master_key_command, and restart the server.")));
	if (!master_slots[SLOT_CURRENT].loaded)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_NO_MASTER_KEY),
				 errmsg("the finsec keyring master key is not loaded"),
				 errdetail_internal("%s", master_slots[SLOT_CURRENT].problem),
				 errhint("Set finsec.master_key_file or finsec.master_key_command and restart the server; the server log shows why loading failed.")));
}

/* ---- wrapping ----------------------------------------------------------- */

/*
 * AES-256-GCM under the wrapping key with a random 96-bit nonce.  The
 * additional authenticated data binds the wrapped bytes to the key's
 * identity (id, version, purpose, algorithm), so that wrapped material
 * copied to another row, or a row whose purpose was altered in the table,
 * fails its integrity check instead of being used.  Output: nonce (12) ||
 * ciphertext || tag (16).
 */
bytea *
finsec_wrap(const unsigned char *plain, size_t len, const char *aad)
{
	MasterSlot *slot = &master_slots[SLOT_CURRENT];
	bytea	   *out;
	unsigned char *p;
	EVP_CIPHER_CTX *ctx;
	int			outl = 0,
				finl = 0;
	bool		ok;

	finsec_master_require();
	out = palloc(VARHDRSZ + FINSEC_WRAP_OVERHEAD + len);
	SET_VARSIZE(out, VARHDRSZ + FINSEC_WRAP_OVERHEAD + len);
	p = (unsigned char *) VARDATA(out);
	if (RAND_bytes(p, 12) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random nonce for key wrapping")));

	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, slot->wrap_key, p) == 1 &&
		EVP_EncryptUpdate(ctx, NULL, &outl, (const unsigned char *) aad, strlen(aad)) == 1 &&
		EVP_EncryptUpdate(ctx, p + 12, &outl, plain, (int) len) == 1 &&
		EVP_EncryptFinal_ex(ctx, p + 12 + outl, &finl) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, p + 12 + len) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("OpenSSL could not wrap a key with AES-256-GCM")));
	return out;
}

/*
 * Unwrap into out (which must have room for len - FINSEC_WRAP_OVERHEAD
 * bytes) with the master key whose check value is kcv.  Returns false when
 * the integrity check fails; the caller reports which key.
 */
bool
finsec_unwrap(const unsigned char *wrapped, size_t len, const char *aad,
			  const char *kcv, unsigned char *out)
{
	MasterSlot *slot = NULL;
	EVP_CIPHER_CTX *ctx;
	int			outl = 0,
				finl = 0;
	bool		ok;
	int			i;

	finsec_master_require();
	for (i = 0; i < 2; i++)
		if (master_slots[i].loaded && strcmp(master_slots[i].kcv, kcv) == 0)
			slot = &master_slots[i];
	if (slot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_MASTER_KEY_MISMATCH),
				 errmsg("a key of the finsec keyring is wrapped under a master key this server does not have"),
				 errdetail("The key was wrapped under the master key with check value %s; this server's master key has check value %s.",
						   kcv, master_slots[SLOT_CURRENT].kcv),
				 errhint("Start the server with the master key this keyring was created with, or load it as finsec.master_key_previous_file and run finsec.rewrap_keys().")));
	if (len < FINSEC_WRAP_OVERHEAD)
		return false;

	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, slot->wrap_key, wrapped) == 1 &&
		EVP_DecryptUpdate(ctx, NULL, &outl, (const unsigned char *) aad, strlen(aad)) == 1 &&
		EVP_DecryptUpdate(ctx, out, &outl, wrapped + 12, (int) (len - FINSEC_WRAP_OVERHEAD)) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16,
							(void *) (wrapped + len - 16)) == 1 &&
		EVP_DecryptFinal_ex(ctx, out + outl, &finl) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		explicit_bzero(out, len - FINSEC_WRAP_OVERHEAD);
	return ok;
}
