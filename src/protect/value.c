/*-------------------------------------------------------------------------
 *
 * value.c
 *	  finsec.protected_text and the protected identifier types
 *	  (protected_resident_id, protected_uscc, protected_mobile): values
 *	  encrypted under their policy's keyring key, fingerprinted for
 *	  equality, masked on output (docs/protected-data.md).
 *
 * One implementation for the four types: the kind byte of a value decides
 * its validation and its mask.  The stored form is protect_parse.h's;
 * AES-256-GCM authenticates everything before the nonce and the policy's
 * sensitivity label, so a value cannot be altered, moved to another
 * policy or re-labelled without failing its check.
 *
 * The text form is "<mask>~fp1.<base64url payload>".  The output function
 * decrypts to compute the mask (so destroying a key removes the mask too)
 * and never raises for a stored value: "[shredded]", "[protected]" (no
 * key, no master key) or "[invalid]" (failed authentication) stand in for
 * the mask.  Equality, hashing and ordering use the fingerprint only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "access/hash.h"
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "commands/copyfrom_internal.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"

#include "finsec.h"
#include "finsec_errcodes.h"
#include "finsec_keyring.h"
#include "finsec_mac.h"
#include "finsec_seal.h"
#include "cnid_parse.h"
#include "protect_internal.h"
#include "protect_parse.h"
#include "finsec_b64url.h"

#ifndef ERRCODE_FINSEC_PROTECT_SHREDDED
#define ERRCODE_FINSEC_PROTECT_SHREDDED MAKE_SQLSTATE('S','9','P','2','1')
#endif

typedef struct varlena ProtectedValue;

#define VALUE_HEADER(v) ((const FpValueHeader *) VARDATA_ANY(v))
#define VALUE_LEN(v) VARSIZE_ANY_EXHDR(v)

static const char *const kind_names[] = {"text", "resident_id", "uscc", "mobile"};
static const char *const kind_what[] = {
	"a protected text", "a protected resident ID number",
	"a protected unified social credit code", "a protected mobile phone number"
};

static const char *
kind_type(int kind)
{
	switch (kind)
	{
		case FP_KIND_RESIDENT_ID:
			return "finsec.protected_resident_id";
		case FP_KIND_USCC:
			return "finsec.protected_uscc";
		case FP_KIND_MOBILE:
			return "finsec.protected_mobile";
		default:
			return "finsec.protected_text";
	}
}

/* ---- keys of a policy ------------------------------------------------------ */

static void
enc_label(const FinsecProtectPolicy *p, uint32 period, char *out)
{
	if (period != 0)
		snprintf(out, NAMEDATALEN, "%s.%u", p->enc_key, period);
	else
		strlcpy(out, p->enc_key, NAMEDATALEN);
}

static bool
fp_is_per_period(const FinsecProtectPolicy *p, uint32 period)
{
	return p->fp_per_period && period != 0;
}

static void
fp_label(const FinsecProtectPolicy *p, uint32 period, char *out)
{
	if (fp_is_per_period(p, period))
		snprintf(out, NAMEDATALEN, "%s.%u", p->fp_key, period);
	else
		strlcpy(out, p->fp_key, NAMEDATALEN);
}

/* The hint naming the key to create, for a key of policy p. */
static char *
key_hint(const FinsecProtectPolicy *p, const char *label, bool fingerprint, uint32 period)
{
	if (period != 0)
		return psprintf("Policy \"%s\" %s the values of period %u under key \"%s\": create the period's keys with finsec.protect_period_keys('%s', ...).",
						p->name, fingerprint ? "fingerprints" : "encrypts", period, label, p->name);
	if (fingerprint)
		return psprintf("Policy \"%s\" fingerprints under key \"%s\": create it with finsec.key_generate('%s', 'fingerprint', 'hmac-sha256') and have another administrator approve.",
						p->name, label, label);
	return psprintf("Policy \"%s\" encrypts under key \"%s\": create it with finsec.key_generate('%s', 'encryption', 'aes-256-gcm') and have another administrator approve.",
					p->name, label, label);
}

/*
 * The active version of a key of policy p, the keyring's error completed
 * with a hint naming the key to create.
 */
static const FinsecKey *
policy_key_active(const FinsecProtectPolicy *p, const char *label, bool fingerprint, uint32 period)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	const FinsecKey *volatile key = NULL;

	PG_TRY();
	{
		key = fingerprint ? finsec_key_active(label, FINSEC_KEY_FINGERPRINT, NULL)
			: finsec_key_active(label, FINSEC_KEY_ENCRYPTION, "aes-256-gcm");
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (edata->hint == NULL || edata->sqlerrcode == ERRCODE_UNDEFINED_OBJECT)
			edata->hint = key_hint(p, label, fingerprint, period);
		/* the statement may hold the clear value being protected */
		edata->hide_stmt = true;
		ReThrowError(edata);
	}
	PG_END_TRY();
	return key;
}

/* ---- sealing and opening ------------------------------------------------- */

/*
 * HMAC("FSPF2" || kind || policy_id(4, BE) || plain) under the fingerprint
 * key: values of two policies sharing a key never have equal fingerprints.
 */
static void
fingerprint(const FinsecKey *key, int kind, int32 policy_id, const char *plain, size_t len,
			uint8 *out)
{
	unsigned char *buf = finsec_secret_alloc(10 + len);
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t		maclen;

	memcpy(buf, "FSPF2", 5);
	buf[5] = (unsigned char) ('0' + kind);
	finsec_fp_put_be32(buf + 6, (uint32) policy_id);
	memcpy(buf + 10, plain, len);
	maclen = finsec_keyed_hash(key, buf, 10 + len, mac);
	if (maclen < FP_FP_LEN)
		elog(ERROR, "fingerprint key \"%s\" gives a MAC shorter than %d bytes", key->label, FP_FP_LEN);
	memcpy(out, mac, FP_FP_LEN);
	explicit_bzero(mac, sizeof(mac));
	finsec_secret_free(buf);
	finsec_key_note_use(key, "protect-fingerprint");
}

/* A new value: fingerprinted (when the policy keeps one) and encrypted. */
struct varlena *
finsec_protect_seal(FinsecProtectKind kind, const FinsecProtectPolicy *p, int32 period,
					const char *plain, size_t len)
{
	char		elabel[NAMEDATALEN];
	char		flabel[NAMEDATALEN];
	const FinsecKey *enc;
	const FinsecKey *fp = NULL;
	ProtectedValue *v;
	FpValueHeader *h;
	uint8	   *ct;

	if (len > FP_PLAIN_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s holds at most %d bytes", kind_what[kind], FP_PLAIN_MAX),
				 errhidestmt(true)));
	enc_label(p, (uint32) period, elabel);
	enc = policy_key_active(p, elabel, false, (uint32) period);
	if (p->fp_key[0] != '\0')
	{
		fp_label(p, (uint32) period, flabel);
		fp = policy_key_active(p, flabel, true, fp_is_per_period(p, (uint32) period) ? (uint32) period : 0);
	}

	v = palloc0(VARHDRSZ + FP_VALUE_SIZE(len));
	SET_VARSIZE(v, VARHDRSZ + FP_VALUE_SIZE(len));
	h = (FpValueHeader *) VARDATA(v);
	h->format = FP_FORMAT_V1;
	h->kind = (uint8) kind;
	h->mask = (uint8) finsec_protect_policy_mask(p);
	finsec_fp_put_be32(h->policy_id, (uint32) p->policy_id);
	finsec_fp_put_be32(h->enc_version, (uint32) enc->version);
	finsec_fp_put_be32(h->period, (uint32) period);
	if (fp)
	{
		h->flags |= FP_FLAG_HAS_FP;
		if (fp_is_per_period(p, (uint32) period))
			h->flags |= FP_FLAG_FP_PERIOD;
		finsec_fp_put_be32(h->fp_key_id, finsec_fp_name_hash32(p->fp_key, strlen(p->fp_key)));
		finsec_fp_put_be32(h->fp_version, (uint32) fp->version);
		fingerprint(fp, kind, p->policy_id, plain, len, h->fp);
	}
	ct = (uint8 *) h + FP_HEADER_LEN;
	finsec_gcm_seal(enc, (const uint8 *) h, FP_AAD_LEN, (const uint8 *) p->label, strlen(p->label),
					(const uint8 *) plain, len, h->nonce, ct, ct + len);
	finsec_key_note_use(enc, "protect-encrypt");
	return v;
}

/*
 * The state of a value's encryption key, and the key when usable; the
 * policy (NULL when this database has no such policy) through *policy.
 */
static FinsecKeyLookup
value_key(const FpValueHeader *h, const FinsecProtectPolicy **policy, const FinsecKey **key)
{
	const FinsecProtectPolicy *p = finsec_protect_policy_if_exists((int32) finsec_fp_get_be32(h->policy_id));
	char		label[NAMEDATALEN];
	FinsecKeyLookup st;

	*policy = p;
	*key = NULL;
	if (p == NULL)
		return FINSEC_KEY_LOOKUP_ABSENT;
	enc_label(p, finsec_fp_get_be32(h->period), label);
	st = finsec_key_version_lookup(label, FINSEC_KEY_ENCRYPTION,
								   (int32) finsec_fp_get_be32(h->enc_version), key);
	if (st == FINSEC_KEY_LOOKUP_FOUND &&
		(strcmp((*key)->algorithm, "aes-256-gcm") != 0 || (*key)->length != 32))
	{
		*key = NULL;
		return FINSEC_KEY_LOOKUP_PROBLEM;	/* an encryption key of another
											 * algorithm */
	}
	return st;
}

/* Decrypt with key into a palloc'd buffer (len + 1); false on failure. */
static bool
decrypt(const FinsecKey *key, const FinsecProtectPolicy *p, const FpValueHeader *h, size_t vlen,
		char **plain, size_t *len)
{
	size_t		n = FP_PLAIN_LEN(vlen);
	const uint8 *ct = (const uint8 *) h + FP_HEADER_LEN;
	char	   *buf = palloc(n + 1);
	bool		ok;

	ok = finsec_gcm_open(key, (const uint8 *) h, FP_AAD_LEN, (const uint8 *) p->label, strlen(p->label),
						 ct, n, h->nonce, ct + n, (uint8 *) buf);
	finsec_key_note_use(key, ok ? "protect-decrypt" : "protect-decrypt-failed");
	if (!ok)
	{
		explicit_bzero(buf, n + 1); /* unauthenticated plaintext */
		pfree(buf);
		return false;
	}
	buf[n] = '\0';
	*plain = buf;
	*len = n;
	return true;
}

FinsecProtectOpenStatus
finsec_protect_open(const struct varlena *value, char **plain, size_t *len)
{
	const FpValueHeader *h = VALUE_HEADER(value);
	size_t		vlen = VALUE_LEN(value);
	const FinsecProtectPolicy *p;
	const FinsecKey *key;

	*plain = NULL;
	*len = 0;
	if (finsec_fp_payload_check((const uint8 *) h, vlen) != FP_OK)
		return FINSEC_PROTECT_OPEN_INVALID;
	switch (value_key(h, &p, &key))
	{
		case FINSEC_KEY_LOOKUP_FOUND:
			return decrypt(key, p, h, vlen, plain, len) ? FINSEC_PROTECT_OPEN_OK
				: FINSEC_PROTECT_OPEN_INVALID;
		case FINSEC_KEY_LOOKUP_DESTROYED:
			return FINSEC_PROTECT_OPEN_SHREDDED;
		default:
			return FINSEC_PROTECT_OPEN_NO_KEY;
	}
}

FinsecProtectKind
finsec_protect_kind(const struct varlena *value)
{
	return (FinsecProtectKind) VALUE_HEADER(value)->kind;
}

int32
finsec_protect_value_policy(const struct varlena *value)
{
	return (int32) finsec_fp_get_be32(VALUE_HEADER(value)->policy_id);
}

int32
finsec_protect_value_period(const struct varlena *value)
{
	return (int32) finsec_fp_get_be32(VALUE_HEADER(value)->period);
}

int32
finsec_protect_period_of(const char *unit, int32 date_adt)
{
	int			y,
				m,
				d;

	if (DATE_NOT_FINITE(date_adt))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("an infinite date has no key period"),
				 errhidestmt(true)));
	j2date(date_adt + POSTGRES_EPOCH_JDATE, &y, &m, &d);
	if (y < 1000 || y > 9999)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("key periods cover the years 1000 to 9999"),
				 errhidestmt(true)));
	if (strcmp(unit, "day") == 0)
		return y * 10000 + m * 100 + d;
	if (strcmp(unit, "month") == 0)
		return y * 100 + m;
	if (strcmp(unit, "year") == 0)
		return y;
	return 0;
}

/* The policy name of a value, for messages ("policy 12345" if unknown). */
static const char *
policy_name_of(int32 policy_id)
{
	const FinsecProtectPolicy *p = finsec_protect_policy_if_exists(policy_id);

	return p ? p->name : psprintf("%d", policy_id);
}

/*
 * The clear value, or an ERROR saying why not (shredded: S9P21 unless
 * shredded_ok, when NULL is returned).  The caller zeroizes and frees.
 */
static char *
open_or_raise(const ProtectedValue *v, size_t *len, bool shredded_ok)
{
	const FpValueHeader *h = VALUE_HEADER(v);
	const FinsecProtectPolicy *p;
	const FinsecKey *key;
	char	   *plain = NULL;
	char		label[NAMEDATALEN];
	int32		policy_id = (int32) finsec_fp_get_be32(h->policy_id);

	if (finsec_fp_payload_check((const uint8 *) h, VALUE_LEN(v)) != FP_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s is corrupted", kind_what[h->kind <= FP_KIND_MAX ? h->kind : 0]),
				 errhidestmt(true)));
	switch (value_key(h, &p, &key))
	{
		case FINSEC_KEY_LOOKUP_FOUND:
			if (!decrypt(key, p, h, VALUE_LEN(v), &plain, len))
				ereport(ERROR,
						(errcode(ERRCODE_FINSEC_KEY_INTEGRITY),
						 errmsg("%s failed its integrity check", kind_what[h->kind]),
						 errdetail("It was altered, or sealed under another policy or key than it says."),
						 errhidestmt(true)));
			return plain;
		case FINSEC_KEY_LOOKUP_DESTROYED:
			if (shredded_ok)
				return NULL;
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_PROTECT_SHREDDED),
					 errmsg("%s was shredded", kind_what[h->kind]),
					 errdetail("The key version that encrypted it was destroyed."),
					 errhint("finsec.protect_shredded_read = 'null' reads shredded values as NULL."),
					 errhidestmt(true)));
			break;
		default:
			if (p == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FINSEC_PROTECT_NO_POLICY),
						 errmsg("protection policy %d of %s does not exist", policy_id, kind_what[h->kind]),
						 errhint("finsec.protect_policy lists the policies; restore the policy rows of the dump."),
						 errhidestmt(true)));
			/* the keyring's own error, completed with a hint */
			enc_label(p, finsec_fp_get_be32(h->period), label);
			(void) policy_key_active(p, label, false, finsec_fp_get_be32(h->period));
			(void) finsec_key_version(label, FINSEC_KEY_ENCRYPTION, (int32) finsec_fp_get_be32(h->enc_version));
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_PROTECT_UNREADABLE),
					 errmsg("%s cannot be decrypted", kind_what[h->kind]),
					 errhint("finsec.key_inventory shows the state of key \"%s\".", label),
					 errhidestmt(true)));
	}
	return NULL;
}

static void
free_plain(char *plain, size_t len)
{
	if (plain)
	{
		explicit_bzero(plain, len);
		pfree(plain);
	}
}

/* ---- input ----------------------------------------------------------------- */

static void
sealed_form_error(int kind, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid sealed form for %s", kind_type(kind)),
			 errdetail("%s", detail),
			 errhidestmt(true)));
}

/*
 * Whether the text before the mark of a sealed form is what finsec writes
 * there for the value (its mask, or "[protected]" / "[shredded]", printed
 * where the key could not be read): clear text around another row's
 * sealed form is no sealed value.  plain is not freed.
 */
static bool
prefix_matches(const FpValueHeader *h, const char *plain, size_t plen, const char *prefix,
			   size_t prefixlen)
{
	char	   *volatile masked = NULL;
	bool		ok;

	if ((prefixlen == 11 && memcmp(prefix, "[protected]", 11) == 0) ||
		(prefixlen == 10 && memcmp(prefix, "[shredded]", 10) == 0))
		return true;
	PG_TRY();
	{
		size_t		mlen;

		masked = palloc(FP_MASK_BOUND(plen));
		mlen = finsec_fp_mask_value(h->kind, h->mask, plain, plen, masked);
		ok = mlen == prefixlen && memcmp(masked, prefix, mlen) == 0;
	}
	PG_FINALLY();
	{
		if (masked)
		{
			explicit_bzero(masked, FP_MASK_BOUND(plen));
			pfree(masked);
		}
	}
	PG_END_TRY();
	return ok;
}

/*
 * A value from a payload (sealed text or binary): structure checked, kind
 * and policy matched, then authenticated when the key version exists.
 * Accepted unchecked when the keyring has no version of the key at all or
 * the version was destroyed (a restore before the keyring is loaded, a
 * shredded row restored), or when this database has no such policy yet
 * (a restore loads policy rows after the tables).
 */
static ProtectedValue *
value_from_payload(const uint8 *payload, size_t len, int kind, int32 typmod,
				   const char *prefix, size_t prefixlen)
{
	const FpValueHeader *h = (const FpValueHeader *) payload;
	const FinsecProtectPolicy *p;
	const FinsecKey *key;
	ProtectedValue *v;
	int32		policy_id;
	FinsecKeyLookup st;
	char	   *plain;
	size_t		plen;

	switch (finsec_fp_payload_check(payload, len))
	{
		case FP_OK:
			break;
		case FP_ERR_TOO_LONG:
			sealed_form_error(kind, "It is longer than any value finsec writes.");
			break;
		default:
			sealed_form_error(kind, "The text after \"~fp1.\" is not a sealed value finsec wrote.");
	}
	if (h->kind != kind)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid sealed form for %s: it holds a value of %s", kind_type(kind),
						kind_type(h->kind)),
				 errhidestmt(true)));
	policy_id = (int32) finsec_fp_get_be32(h->policy_id);
	if (policy_id == FP_POLICY_UNBOUND)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid sealed form for %s: it holds a value bound to no policy", kind_type(kind)),
				 errdetail("Only values stored under a policy are read back in sealed form."),
				 errhint("Seal the clear value under the column's policy, e.g. '...'::%s(\"default\").", kind_type(kind)),
				 errhidestmt(true)));
	if (typmod >= 0 && policy_id != typmod)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PROTECT_POLICY_MISMATCH),
				 errmsg("a value protected under policy \"%s\" cannot be stored under policy \"%s\"",
						policy_name_of(policy_id), policy_name_of(typmod)),
				 errhint("finsec.protected_rekey(value, '%s') re-protects a value under another policy.",
						 policy_name_of(typmod)),
				 errhidestmt(true)));
	st = value_key(h, &p, &key);
	if (st == FINSEC_KEY_LOOKUP_FOUND)
	{
		if (!decrypt(key, p, h, len, &plain, &plen))
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_KEY_INTEGRITY),
					 errmsg("invalid sealed form for %s: it failed its integrity check", kind_type(kind)),
					 errdetail("It was altered, truncated, or sealed under another policy, label or master key."),
					 errhidestmt(true)));
		if (prefix != NULL && !prefix_matches(h, plain, plen, prefix, prefixlen))
		{
			free_plain(plain, plen);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input for %s: not a sealed value", kind_type(kind)),
					 errdetail("The text before \"~fp1.\" is not the mask of the sealed value."),
					 errhidestmt(true)));
		}
		free_plain(plain, plen);
	}
	else if (st == FINSEC_KEY_LOOKUP_PROBLEM)
	{
		char		label[NAMEDATALEN];

		/* raise the keyring's own error */
		enc_label(p, finsec_fp_get_be32(h->period), label);
		(void) finsec_key_version(label, FINSEC_KEY_ENCRYPTION, (int32) finsec_fp_get_be32(h->enc_version));
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_KEY_STATE),
				 errmsg("invalid sealed form for %s: its key cannot be read", kind_type(kind)),
				 errhint("finsec.key_inventory shows the state of key \"%s\".", label),
				 errhidestmt(true)));
	}
	v = palloc(VARHDRSZ + len);
	SET_VARSIZE(v, VARHDRSZ + len);
	memcpy(VARDATA(v), payload, len);
	return v;
}

/* A typmod's policy; no typmod: the unbound pseudo-policy. */
static const FinsecProtectPolicy *
policy_for_typmod(int32 typmod)
{
	return finsec_protect_policy(typmod >= 0 ? typmod : FP_POLICY_UNBOUND);
}

/* Validate and canonicalise an identifier (out: room for 18); its length. */
static size_t
identifier_canonical(int kind, const char *s, size_t len, char *out)
{
	CnidKind	ck = kind == FP_KIND_RESIDENT_ID ? CNID_RESIDENT_ID :
	kind == FP_KIND_USCC ? CNID_USCC : CNID_MOBILE;
	CnidResult	r;
	char		problem[CNID_PROBLEM_MAX];
	const char *hint;

	if (kind == FP_KIND_RESIDENT_ID)
		r = finsec_cnid_parse_resident_id(s, len, out);
	else if (kind == FP_KIND_USCC)
		r = finsec_cnid_parse_uscc(s, len, out);
	else
		r = finsec_cnid_parse_mobile(s, len, out);
	if (r.status == CNID_OK)
		return finsec_fp_kind_length(kind);
	explicit_bzero(out, CNID_RESIDENT_ID_LEN);
	(void) finsec_cnid_problem_text(ck, r, problem, sizeof(problem));
	hint = finsec_cnid_problem_hint(ck, r);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid %s: %s", kind == FP_KIND_RESIDENT_ID ? "resident ID number" :
					kind == FP_KIND_USCC ? "unified social credit code" : "mobile phone number",
					problem),
			 hint ? errhint("%s", hint) : 0,
			 errhidestmt(true)));
	return 0;
}

static void probe_count(const ProtectedValue *v, const char *plain, size_t len);

/* A new value from clear bytes of kind (validated here), under typmod's policy. */
static ProtectedValue *
value_from_clear(int kind, const char *s, size_t len, int32 typmod)
{
	const FinsecProtectPolicy *p = policy_for_typmod(typmod);
	ProtectedValue *v;

	if (kind == FP_KIND_TEXT)
	{
		if (len > FP_PLAIN_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
					 errmsg("a protected text holds at most %d bytes", FP_PLAIN_MAX),
					 errhidestmt(true)));
		if (!pg_verifymbstr(s, (int) len, true))
			ereport(ERROR,
					(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
					 errmsg("invalid byte sequence for encoding \"%s\" in a protected text",
							GetDatabaseEncodingName()),
					 errhidestmt(true)));
		v = finsec_protect_seal(kind, p, 0, s, len);
		probe_count(v, s, len);
	}
	else
	{
		char		id[CNID_RESIDENT_ID_LEN];
		size_t		n = identifier_canonical(kind, s, len, id);

		PG_TRY();
		{
			v = finsec_protect_seal(kind, p, 0, id, n);
			probe_count(v, id, n);
		}
		PG_FINALLY();
		{
			explicit_bzero(id, sizeof(id));
		}
		PG_END_TRY();
	}
	return v;
}

/*
 * Re-raise the error being handled without the statement and without its
 * context: COPY's context line quotes the clear field being read.
 */
static void
rethrow_hidden(MemoryContext cxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	edata->hide_stmt = true;
	edata->hide_ctx = true;
	ReThrowError(edata);
}

/*
 * COPY FROM names the field it is reading in the CONTEXT of any error
 * (CopyFromErrorCallback): "column name: \"<the clear value>\"", which
 * reaches the server log.  Without the value it says only the line and
 * the column.
 */
static void
hide_copy_field(void)
{
	for (ErrorContextCallback *e = error_context_stack; e != NULL; e = e->previous)
		if (e->callback == CopyFromErrorCallback && e->arg != NULL)
			((CopyFromState) e->arg)->cur_attval = NULL;
}

static ProtectedValue *
value_in_raw(const char *str, int kind, int32 typmod)
{
	size_t		len = strlen(str);
	long		start;

	hide_copy_field();
	start = finsec_fp_token_start(str, len);

	if (start >= 0)
	{
		size_t		cap = Min((len - start) * 3 / 4 + 3, FP_MAX_PAYLOAD + 3);
		uint8	   *payload = palloc(cap);
		size_t		plen;
		ProtectedValue *v;

		switch (finsec_fp_token_decode(str, len, payload, cap, &plen))
		{
			case FP_OK:
				break;
			case FP_ERR_ENCODING:
				sealed_form_error(kind, "The text after \"~fp1.\" is not base64url.");
				break;
			case FP_ERR_TOO_LONG:
				sealed_form_error(kind, "It is longer than any value finsec writes.");
				break;
			default:
				sealed_form_error(kind, "The text after \"~fp1.\" is not a sealed value finsec wrote.");
		}
		if (strstr(str, FP_TOKEN_MARK) + FP_TOKEN_MARK_LEN != str + start)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input for %s: not a sealed value", kind_type(kind)),
					 errdetail("A sealed form holds \"~fp1.\" once."),
					 errhidestmt(true)));
		v = value_from_payload(payload, plen, kind, typmod, str,
							   (size_t) start - FP_TOKEN_MARK_LEN);
		pfree(payload);
		return v;
	}
	return value_from_clear(kind, str, len, typmod);
}

/* The input function of every protected type: errors hide statement and context. */
static ProtectedValue *
value_in(const char *str, int kind, int32 typmod)
{
	MemoryContext cxt = CurrentMemoryContext;
	ProtectedValue *volatile v = NULL;

	PG_TRY();
	{
		v = value_in_raw(str, kind, typmod);
	}
	PG_CATCH();
	{
		rethrow_hidden(cxt);
	}
	PG_END_TRY();
	return v;
}

#define IN_FUNC(name, kind) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_POINTER(value_in(PG_GETARG_CSTRING(0), (kind), PG_NARGS() > 2 ? PG_GETARG_INT32(2) : -1)); \
}

IN_FUNC(finsec_protected_text_in, FP_KIND_TEXT)
IN_FUNC(finsec_protected_resident_id_in, FP_KIND_RESIDENT_ID)
IN_FUNC(finsec_protected_uscc_in, FP_KIND_USCC)
IN_FUNC(finsec_protected_mobile_in, FP_KIND_MOBILE)

static Datum
value_recv(FunctionCallInfo fcinfo, int kind)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			len = buf->len - buf->cursor;
	const char *p = pq_getmsgbytes(buf, len);
	int32		typmod = PG_NARGS() > 2 ? PG_GETARG_INT32(2) : -1;
	MemoryContext cxt = CurrentMemoryContext;
	ProtectedValue *volatile v = NULL;

	PG_TRY();
	{
		v = value_from_payload((const uint8 *) p, len, kind, typmod, NULL, 0);
	}
	PG_CATCH();
	{
		rethrow_hidden(cxt);
	}
	PG_END_TRY();
	PG_RETURN_POINTER(v);
}

#define RECV_FUNC(name, kind) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	return value_recv(fcinfo, (kind)); \
}

RECV_FUNC(finsec_protected_text_recv, FP_KIND_TEXT)
RECV_FUNC(finsec_protected_resident_id_recv, FP_KIND_RESIDENT_ID)
RECV_FUNC(finsec_protected_uscc_recv, FP_KIND_USCC)
RECV_FUNC(finsec_protected_mobile_recv, FP_KIND_MOBILE)

/* ---- output ---------------------------------------------------------------- */

/*
 * The mask of a value as the output function shows it, never raising:
 * the mask, or "[shredded]", "[protected]", "[invalid]".  *status gets
 * the outcome.
 */
static char *
display_mask(const ProtectedValue *v, FinsecProtectOpenStatus *status)
{
	const FpValueHeader *h = VALUE_HEADER(v);
	char	   *plain;
	size_t		len;
	char	   *volatile out = NULL;

	*status = finsec_protect_open(v, &plain, &len);
	switch (*status)
	{
		case FINSEC_PROTECT_OPEN_OK:
			PG_TRY();
			{
				out = palloc(FP_MASK_BOUND(len));
				(void) finsec_fp_mask_value(h->kind, h->mask, plain, len, out);
			}
			PG_FINALLY();
			{
				free_plain(plain, len);
			}
			PG_END_TRY();
			return out;
		case FINSEC_PROTECT_OPEN_SHREDDED:
			return pstrdup("[shredded]");
		case FINSEC_PROTECT_OPEN_NO_KEY:
			return pstrdup("[protected]");
		default:
			return pstrdup("[invalid]");
	}
}

PG_FUNCTION_INFO_V1(finsec_protected_out);

/* "<mask>~fp1.<payload>": lossless, and shows only what the mask may show. */
Datum
finsec_protected_out(PG_FUNCTION_ARGS)
{
	ProtectedValue *v = (ProtectedValue *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	size_t		len = VALUE_LEN(v);
	FinsecProtectOpenStatus st;
	char	   *mask;
	size_t		mlen;
	char	   *out;
	size_t		o;

	/*
	 * Where the policy table and the keyring cannot be read (a walsender
	 * decoding under a historic snapshot, outside a transaction or a
	 * snapshot): the sealed form, no mask.
	 */
	if (HistoricSnapshotActive() || !IsTransactionState() || !ActiveSnapshotSet())
		mask = pstrdup("[protected]");
	else
		mask = display_mask(v, &st);
	mlen = strlen(mask);
	out = palloc(mlen + FP_TOKEN_MARK_LEN + FINSEC_B64URL_ENCODED_LEN(len) + 1);
	o = mlen;
	memcpy(out, mask, mlen);
	memcpy(out + o, FP_TOKEN_MARK, FP_TOKEN_MARK_LEN);
	o += FP_TOKEN_MARK_LEN;
	o += finsec_b64url_encode((const uint8 *) VARDATA_ANY(v), len, out + o);
	out[o] = '\0';
	pfree(mask);
	PG_RETURN_CSTRING(out);
}

PG_FUNCTION_INFO_V1(finsec_protected_send);
Datum
finsec_protected_send(PG_FUNCTION_ARGS)
{
	ProtectedValue *v = (ProtectedValue *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(v), VALUE_LEN(v));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---- type modifier: the policy --------------------------------------------- */

PG_FUNCTION_INFO_V1(finsec_protected_typmod_in);

/*
 * protected_text(policy_name): the policy's id.  An unknown name is
 * refused unless check_function_bodies is off (pg_dump scripts: the
 * policy rows are restored after the tables); the id is the name's hash,
 * the same in every database.
 */
Datum
finsec_protected_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *elems;
	int			n;
	char	   *name;
	const FinsecProtectPolicy *p;

	if (ARR_NDIM(ta) > 1 || (ARR_NDIM(ta) == 1 && ARR_LBOUND(ta)[0] != 1))
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("a protected type's modifier must be a one-dimensional array starting at 1"),
				 errhidestmt(true)));
	deconstruct_array(ta, CSTRINGOID, -2, false, TYPALIGN_CHAR, &elems, NULL, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a protected type takes one modifier: the name of its protection policy"),
				 errhidestmt(true)));
	name = DatumGetCString(elems[0]);
	{
		size_t		len = strlen(name);
		bool		ok = len >= 1 && len <= 48 && name[0] >= 'a' && name[0] <= 'z';

		for (size_t i = 1; ok && i < len; i++)
			ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_';
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid protection policy name in a type modifier"),
					 errdetail("A policy name is a lower-case letter, then up to 47 lower-case letters, digits or underscores."),
					 errhidestmt(true)));
	}
	p = finsec_protect_policy_by_name(name);
	if (p)
		PG_RETURN_INT32(p->policy_id);
	if (!check_function_bodies)
		PG_RETURN_INT32(finsec_protect_policy_id_of(name));
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_PROTECT_NO_POLICY),
			 errmsg("protection policy \"%s\" does not exist", name),
			 errhint("Create it with finsec.protect_policy_create('%s', ...).", name),
			 errhidestmt(true)));
	PG_RETURN_INT32(0);
}

PG_FUNCTION_INFO_V1(finsec_protected_typmod_out);
Datum
finsec_protected_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);
	const FinsecProtectPolicy *p;

	if (typmod < 0)
		PG_RETURN_CSTRING(pstrdup(""));
	p = finsec_protect_policy_if_exists(typmod);
	if (p)
		PG_RETURN_CSTRING(psprintf("(%s)", quote_identifier(p->name))); /* "default" */
	PG_RETURN_CSTRING(psprintf("(\"policy %d\")", typmod));
}

PG_FUNCTION_INFO_V1(finsec_protected_coerce);

/*
 * The length-coercion cast protected_x(value, typmod, explicit): unchanged
 * under the same policy (or no typmod); an unbound value (what a literal or
 * parameter without a typmod becomes) is re-sealed under the target
 * policy; a value of any policy ("default" included) is refused (S9P03).
 */
Datum
finsec_protected_coerce(PG_FUNCTION_ARGS)
{
	ProtectedValue *v = (ProtectedValue *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	int32		typmod = PG_GETARG_INT32(1);
	const FpValueHeader *h = VALUE_HEADER(v);
	int32		policy_id = (int32) finsec_fp_get_be32(h->policy_id);
	const FinsecProtectPolicy *target;
	char	   *plain;
	size_t		len;
	ProtectedValue *result;

	if (typmod < 0 || typmod == policy_id)
		PG_RETURN_POINTER(v);
	if (policy_id != FP_POLICY_UNBOUND)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PROTECT_POLICY_MISMATCH),
				 errmsg("a value protected under policy \"%s\" cannot be stored under policy \"%s\"",
						policy_name_of(policy_id), policy_name_of(typmod)),
				 errhint("finsec.protected_rekey(value, '%s') re-protects a value under another policy.",
						 policy_name_of(typmod)),
				 errhidestmt(true)));
	target = finsec_protect_policy(typmod);
	plain = open_or_raise(v, &len, false);
	PG_TRY();
	{
		result = finsec_protect_seal(h->kind, target, 0, plain, len);
		/* a literal cast to the column's policy: counted under it */
		probe_count(result, plain, len);
	}
	PG_FINALLY();
	{
		free_plain(plain, len);
	}
	PG_END_TRY();
	PG_RETURN_POINTER(result);
}

/* ---- casts from the clear identifier types ------------------------------- */

/*
 * A value of kind under the default policy from a clear identifier (the
 * assignment casts), counted by the probe budget; buf is zeroized.
 */
static ProtectedValue *
from_clear_identifier(FinsecProtectKind kind, char *buf, size_t n)
{
	ProtectedValue *v;

	PG_TRY();
	{
		v = finsec_protect_seal(kind, policy_for_typmod(-1), 0, buf, n);
		probe_count(v, buf, n);
	}
	PG_FINALLY();
	{
		explicit_bzero(buf, n);
	}
	PG_END_TRY();
	return v;
}

PG_FUNCTION_INFO_V1(finsec_protected_from_resident_id);
Datum
finsec_protected_from_resident_id(PG_FUNCTION_ARGS)
{
	char		id[CNID_RESIDENT_ID_LEN];

	if (!finsec_cnid_resident_id_unpack(PG_GETARG_INT64(0), id))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("stored finsec.cn_resident_id value is out of range"),
				 errhidestmt(true)));
	PG_RETURN_POINTER(from_clear_identifier(FINSEC_PROTECT_RESIDENT_ID, id, sizeof(id)));
}

PG_FUNCTION_INFO_V1(finsec_protected_from_uscc);
Datum
finsec_protected_from_uscc(PG_FUNCTION_ARGS)
{
	char		code[CNID_USCC_LEN];

	memcpy(code, PG_GETARG_POINTER(0), CNID_USCC_LEN);
	PG_RETURN_POINTER(from_clear_identifier(FINSEC_PROTECT_USCC, code, sizeof(code)));
}

PG_FUNCTION_INFO_V1(finsec_protected_from_mobile);
Datum
finsec_protected_from_mobile(PG_FUNCTION_ARGS)
{
	char		m[CNID_MOBILE_LEN];

	if (!finsec_cnid_mobile_unpack(PG_GETARG_INT64(0), m))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("stored finsec.cn_mobile value is out of range"),
				 errhidestmt(true)));
	PG_RETURN_POINTER(from_clear_identifier(FINSEC_PROTECT_MOBILE, m, sizeof(m)));
}

/* ---- comparison on fingerprints -------------------------------------------- */

static void
require_fingerprint(const FpValueHeader *h)
{
	if (!(h->flags & FP_FLAG_HAS_FP))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PROTECT_NO_FINGERPRINT),
				 errmsg("policy \"%s\" keeps no fingerprint",
						policy_name_of((int32) finsec_fp_get_be32(h->policy_id))),
				 errdetail("Values of a policy without a fingerprint key cannot be compared, indexed, joined or grouped."),
				 errhint("Create a policy with a fingerprint key (finsec.protect_policy_create(..., fp_key => 'protect.fp')) for columns that need equality."),
				 errhidestmt(true)));
}

static uint32
fp_period(const FpValueHeader *h)
{
	return (h->flags & FP_FLAG_FP_PERIOD) ? finsec_fp_get_be32(h->period) : 0;
}

/*
 * Order of two values: by fingerprint key, then fingerprint period, then
 * fingerprint; values fingerprinted under different versions of one key
 * cannot be compared (55000).
 */
static int
value_cmp(const ProtectedValue *a, const ProtectedValue *b)
{
	const FpValueHeader *ha = VALUE_HEADER(a);
	const FpValueHeader *hb = VALUE_HEADER(b);
	uint32		ka,
				kb,
				pa,
				pb;
	int32		pola,
				polb;

	if (VALUE_LEN(a) < FP_HEADER_LEN || VALUE_LEN(b) < FP_HEADER_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("protected value is truncated"),
				 errhidestmt(true)));
	pola = (int32) finsec_fp_get_be32(ha->policy_id);
	polb = (int32) finsec_fp_get_be32(hb->policy_id);
	if (pola != polb)
	{
		int32		bound = pola == FP_POLICY_UNBOUND ? polb : pola;

		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PROTECT_POLICY_COMPARE),
				 errmsg("cannot compare a value protected under policy \"%s\" with one under policy \"%s\"",
						policy_name_of(pola), policy_name_of(polb)),
				 errdetail("Fingerprints are bound to their policy: a comparison across policies would count no guess."),
				 errhint("Seal the value you look up under the column's policy: WHERE c = '...'::%s(%s).",
						 kind_type(ha->kind <= FP_KIND_MAX ? ha->kind : 0), policy_name_of(bound)),
				 errhidestmt(true)));
	}
	require_fingerprint(ha);
	require_fingerprint(hb);
	ka = finsec_fp_get_be32(ha->fp_key_id);
	kb = finsec_fp_get_be32(hb->fp_key_id);
	if (ka != kb)
		return ka < kb ? -1 : 1;
	pa = fp_period(ha);
	pb = fp_period(hb);
	if (pa != pb)
		return pa < pb ? -1 : 1;
	if (memcmp(ha->fp_version, hb->fp_version, 4) != 0)
	{
		const FinsecProtectPolicy *p = finsec_protect_policy_if_exists((int32) finsec_fp_get_be32(ha->policy_id));

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot compare protected values fingerprinted under different versions of key \"%s\"",
						p ? p->fp_key : "?"),
				 errdetail("Versions %u and %u.", finsec_fp_get_be32(ha->fp_version),
						   finsec_fp_get_be32(hb->fp_version)),
				 errhint("Re-fingerprint stored values with finsec.protected_rekey() after rotating the fingerprint key."),
				 errhidestmt(true)));
	}
	return memcmp(ha->fp, hb->fp, FP_FP_LEN);
}

#define CMP_FUNC(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	ProtectedValue *a = (ProtectedValue *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0)); \
	ProtectedValue *b = (ProtectedValue *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(1)); \
	int			c = value_cmp(a, b); \
	PG_RETURN_BOOL(expr); \
}

CMP_FUNC(finsec_protected_eq, c == 0)
CMP_FUNC(finsec_protected_ne, c != 0)
CMP_FUNC(finsec_protected_lt, c < 0)
CMP_FUNC(finsec_protected_le, c <= 0)
CMP_FUNC(finsec_protected_gt, c > 0)
CMP_FUNC(finsec_protected_ge, c >= 0)

PG_FUNCTION_INFO_V1(finsec_protected_cmp);
Datum
finsec_protected_cmp(PG_FUNCTION_ARGS)
{
	ProtectedValue *a = (ProtectedValue *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	ProtectedValue *b = (ProtectedValue *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(1));
	int			c = value_cmp(a, b);

	PG_RETURN_INT32(c < 0 ? -1 : c > 0 ? 1 : 0);
}

static const FpValueHeader *
hashable(const ProtectedValue *v)
{
	const FpValueHeader *h = VALUE_HEADER(v);

	if (VALUE_LEN(v) < FP_HEADER_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("protected value is truncated"),
				 errhidestmt(true)));
	require_fingerprint(h);
	return h;
}

PG_FUNCTION_INFO_V1(finsec_protected_hash);
Datum
finsec_protected_hash(PG_FUNCTION_ARGS)
{
	ProtectedValue *v = (ProtectedValue *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));

	return hash_any(hashable(v)->fp, FP_FP_LEN);
}

PG_FUNCTION_INFO_V1(finsec_protected_hash_extended);
Datum
finsec_protected_hash_extended(PG_FUNCTION_ARGS)
{
	ProtectedValue *v = (ProtectedValue *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));

	return hash_any_extended(hashable(v)->fp, FP_FP_LEN, PG_GETARG_INT64(1));
}

/* ---- mask, info, rekey, reveal ------------------------------------------- */

/* Whether finsec.protect_shredded_read says shredded values read as NULL. */
static bool
shredded_reads_null(void)
{
	const char *s = GetConfigOption("finsec.protect_shredded_read", true, false);

	return s == NULL || strcmp(s, "error") != 0;
}

PG_FUNCTION_INFO_V1(finsec_protected_mask);

/* finsec.mask(protected_x) returns text: the mask; shredded: NULL or S9P21. */
Datum
finsec_protected_mask(PG_FUNCTION_ARGS)
{
	ProtectedValue *v = (ProtectedValue *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	const FpValueHeader *h = VALUE_HEADER(v);
	size_t		len;
	char	   *plain = open_or_raise(v, &len, shredded_reads_null());
	char	   *volatile out = NULL;
	text	   *volatile result = NULL;

	if (plain == NULL)
		PG_RETURN_NULL();
	PG_TRY();
	{
		out = palloc(FP_MASK_BOUND(len));
		(void) finsec_fp_mask_value(h->kind, h->mask, plain, len, out);
		result = cstring_to_text(out);
	}
	PG_FINALLY();
	{
		free_plain(plain, len);
		if (out)
			pfree(out);
	}
	PG_END_TRY();
	PG_RETURN_TEXT_P(result);
}

PG_FUNCTION_INFO_V1(finsec_protected_info);

/*
 * finsec.protected_info(protected_x) returns (kind, policy, enc_key,
 * enc_version, fp_key, fp_version, period, state): what a value says
 * about itself, and whether it can be opened.
 */
Datum
finsec_protected_info(PG_FUNCTION_ARGS)
{
	ProtectedValue *v = (ProtectedValue *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	const FpValueHeader *h = VALUE_HEADER(v);
	TupleDesc	tupdesc;
	Datum		values[8];
	bool		nulls[8] = {false, false, false, false, false, false, false, false};
	int32		policy_id;
	uint32		period;
	const FinsecProtectPolicy *p;
	FinsecProtectOpenStatus st;
	char	   *plain;
	size_t		len;
	char		label[NAMEDATALEN];
	static const char *const states[] = {"ok", "shredded", "no_key", "invalid"};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (finsec_fp_payload_check((const uint8 *) h, VALUE_LEN(v)) != FP_OK)
	{
		for (int i = 0; i < 7; i++)
			nulls[i] = true;
		values[7] = CStringGetTextDatum("invalid");
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
	}
	policy_id = (int32) finsec_fp_get_be32(h->policy_id);
	period = finsec_fp_get_be32(h->period);
	p = finsec_protect_policy_if_exists(policy_id);
	values[0] = CStringGetTextDatum(kind_names[h->kind]);
	values[1] = CStringGetTextDatum(p ? p->name : psprintf("%d", policy_id));
	if (p)
	{
		enc_label(p, period, label);
		values[2] = CStringGetTextDatum(label);
	}
	else
		nulls[2] = true;
	values[3] = Int32GetDatum((int32) finsec_fp_get_be32(h->enc_version));
	if ((h->flags & FP_FLAG_HAS_FP) && p)
	{
		fp_label(p, (h->flags & FP_FLAG_FP_PERIOD) ? period : 0, label);
		values[4] = CStringGetTextDatum(label);
	}
	else
		nulls[4] = true;
	if (h->flags & FP_FLAG_HAS_FP)
		values[5] = Int32GetDatum((int32) finsec_fp_get_be32(h->fp_version));
	else
		nulls[5] = true;
	if (period != 0)
		values[6] = Int32GetDatum((int32) period);
	else
		nulls[6] = true;
	st = finsec_protect_open(v, &plain, &len);
	free_plain(plain, len);
	values[7] = CStringGetTextDatum(states[st]);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* Rank of a sensitivity label: public < internal < quasi_identifier < identifier < sensitive. */
static int
label_rank(const char *label)
{
	static const char *const ranks[] = {"public", "internal", "quasi_identifier", "identifier", "sensitive"};

	for (int i = 0; i < lengthof(ranks); i++)
		if (strcmp(label, ranks[i]) == 0)
			return i;
	return lengthof(ranks);		/* unknown: highest */
}

/*
 * A value moves to another policy only when that shows no more of it (the
 * same mask) and labels it no lower: protected_rekey is no reveal.  An
 * unbound value moves anywhere (as the length cast does).
 */
static void
rekey_check_target(const FpValueHeader *h, const FinsecProtectPolicy *target)
{
	int32		from_id = (int32) finsec_fp_get_be32(h->policy_id);
	const FinsecProtectPolicy *from;

	if (from_id == FP_POLICY_UNBOUND)
		return;
	from = finsec_protect_policy(from_id);
	if (finsec_protect_policy_mask(from) != finsec_protect_policy_mask(target) ||
		label_rank(target->label) < label_rank(from->label))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PROTECT_REKEY_WEAKER),
				 errmsg("a value protected under policy \"%s\" cannot be moved to policy \"%s\"",
						from->name, target->name),
				 errdetail("Policy \"%s\" masks %s and labels %s; policy \"%s\" masks %s and labels %s.",
						   from->name, from->mask, from->label, target->name, target->mask, target->label),
				 errhint("A value moves only to a policy of the same mask and a label no lower; anything else is finsec.reveal() and a new value."),
				 errhidestmt(true)));
}

PG_FUNCTION_INFO_V1(finsec_protected_rekey);

/*
 * finsec.protected_rekey(value, policy DEFAULT NULL): the same value under
 * the active key versions of its policy (same period), or moved to
 * another policy.  A NULL value gives NULL.
 */
Datum
finsec_protected_rekey(PG_FUNCTION_ARGS)
{
	ProtectedValue *v;
	const FpValueHeader *h;
	const FinsecProtectPolicy *target;
	char	   *plain;
	size_t		len;
	ProtectedValue *result;
	uint32		period;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	v = (ProtectedValue *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	h = VALUE_HEADER(v);
	period = finsec_fp_get_be32(h->period);
	if (!PG_ARGISNULL(1))
	{
		char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));

		target = finsec_protect_policy_by_name(name);
		if (target == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_PROTECT_NO_POLICY),
					 errmsg("protection policy \"%s\" does not exist", name),
					 errhidestmt(true)));
		if (target->policy_id != (int32) finsec_fp_get_be32(h->policy_id))
			rekey_check_target(h, target);
		if (target->policy_id != (int32) finsec_fp_get_be32(h->policy_id) &&
			(target->period_unit[0] == '\0' || strcmp(target->period_unit,
													  finsec_protect_policy((int32) finsec_fp_get_be32(h->policy_id))->period_unit) != 0))
			period = 0;			/* another unit: the period trigger re-seals */
	}
	else
		target = finsec_protect_policy((int32) finsec_fp_get_be32(h->policy_id));
	plain = open_or_raise(v, &len, false);
	PG_TRY();
	{
		result = finsec_protect_seal(h->kind, target, (int32) period, plain, len);
	}
	PG_FINALLY();
	{
		free_plain(plain, len);
	}
	PG_END_TRY();
	PG_RETURN_POINTER(result);
}

PG_FUNCTION_INFO_V1(finsec_protected_reveal);

/*
 * finsec.reveal(protected_x, reason, context): the clear value, for
 * members of finsec_unmask only, through the reveal gate (reveal.c):
 * the role is checked whatever the value, then the durable audit row is
 * written before the value is returned.  A shredded value gives NULL
 * (and the row says so) or S9P21, by finsec.protect_shredded_read.
 */
Datum
finsec_protected_reveal(PG_FUNCTION_ARGS)
{
	ProtectedValue *v;
	const FpValueHeader *h;
	char	   *reason = finsec_text_arg_opt(fcinfo, 1);
	char	   *context = finsec_text_arg_opt(fcinfo, 2);
	char	   *plain;
	size_t		len;
	char	   *masked = NULL;
	char		fphex[17];
	StringInfoData detail;
	text	   *result = NULL;
	const FinsecProtectPolicy *p;
	int32		policy_id;
	uint32		period;
	int			kind;
	Oid			argtype = fcinfo->flinfo ? get_fn_expr_argtype(fcinfo->flinfo, 0) : InvalidOid;

	if (PG_ARGISNULL(0))
	{
		const char *what = "a protected value";

		if (OidIsValid(argtype))
		{
			char	   *tn = format_type_be(argtype);

			for (int k = 0; k <= FP_KIND_MAX; k++)
				if (strcmp(tn, kind_type(k) + strlen("finsec.")) == 0 || strcmp(tn, kind_type(k)) == 0)
					what = kind_what[k];
		}
		finsec_reveal_check_role(what);
		PG_RETURN_NULL();
	}
	v = (ProtectedValue *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	h = VALUE_HEADER(v);
	kind = h->kind <= FP_KIND_MAX ? h->kind : 0;
	finsec_reveal_check_role(kind_what[kind]);

	/* shredded: NULL here; the error (if so set) comes after the audit row */
	plain = open_or_raise(v, &len, true);
	policy_id = (int32) finsec_fp_get_be32(h->policy_id);
	period = finsec_fp_get_be32(h->period);
	p = finsec_protect_policy_if_exists(policy_id);
	PG_TRY();
	{
		if (plain)
		{
			masked = palloc(FP_MASK_BOUND(len));
			(void) finsec_fp_mask_value(h->kind, h->mask, plain, len, masked);
		}
		initStringInfo(&detail);
		appendStringInfo(&detail, "{\"kind\": \"%s\", \"policy\": ", kind_names[kind]);
		escape_json(&detail, p ? p->name : psprintf("%d", policy_id));
		appendStringInfoString(&detail, ", \"masked\": ");
		if (masked)
			escape_json(&detail, masked);
		else
			appendStringInfoString(&detail, "null");
		if (h->flags & FP_FLAG_HAS_FP)
		{
			hex_encode((const char *) h->fp, 8, fphex);
			fphex[16] = '\0';
			appendStringInfo(&detail, ", \"fingerprint\": \"%s\"", fphex);
		}
		else
			appendStringInfoString(&detail, ", \"fingerprint\": null");
		if (period != 0)
			appendStringInfo(&detail, ", \"period\": %u", period);
		else
			appendStringInfoString(&detail, ", \"period\": null");
		if (!plain)
			appendStringInfoString(&detail, ", \"shredded\": true");
		appendStringInfoString(&detail, ", \"context\": ");
		if (context)
			escape_json(&detail, context);
		else
			appendStringInfoString(&detail, "null");
		appendStringInfoChar(&detail, '}');

		/* The audit row first: no reveal without its record. */
		finsec_reveal_record("protect.reveal", kind_what[kind], reason, context,
							 DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(detail.data))));
		if (plain)
			result = cstring_to_text_with_len(plain, (int) len);
	}
	PG_FINALLY();
	{
		free_plain(plain, len);
	}
	PG_END_TRY();
	if (result == NULL && !shredded_reads_null())
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PROTECT_SHREDDED),
				 errmsg("%s was shredded", kind_what[kind]),
				 errdetail("The key version that encrypted it was destroyed."),
				 errhint("finsec.protect_shredded_read = 'null' reads shredded values as NULL."),
				 errhidestmt(true)));
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(result);
}

/* ---- probe budget ---------------------------------------------------------- */

/*
 * Values built from clear text that a guesser could compare (a
 * fingerprint) and whose mask tells most of them (identifiers, phone
 * masks): counted by the probe budget per kind, policy and mask.
 */
static void
probe_count(const ProtectedValue *v, const char *plain, size_t len)
{
	const FpValueHeader *h = VALUE_HEADER(v);
	char	   *masked;

	if (!(h->flags & FP_FLAG_HAS_FP))
		return;
	if (h->kind == FP_KIND_TEXT && h->mask != FP_MASK_PHONE)
		return;
	if (!finsec_protect_probe_wanted())
		return;
	masked = palloc(FP_MASK_BOUND(len));
	(void) finsec_fp_mask_value(h->kind, h->mask, plain, len, masked);
	finsec_protect_probe_count(h->kind, (int32) finsec_fp_get_be32(h->policy_id), masked, h->fp);
	pfree(masked);
}

void
finsec_protect_core_define_settings(void)
{
}
