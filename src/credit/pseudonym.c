/*-------------------------------------------------------------------------
 *
 * pseudonym.c
 *	  Keyed pseudonyms of credit subjects: what the query log, disputes
 *	  and statements keep instead of the subject's identifier.
 *
 * "p<version>.<hex>": HMAC (hmac-sha256 or hmac-sm3, the key's algorithm)
 * under the keyring key credit.pseudonym (purpose pseudonym) of the
 * subject normalised (ASCII spaces around it removed, ASCII letters upper
 * case: 11010519491231002x and 11010519491231002X are one subject).  The
 * version names the key version, so that a pseudonym written before a
 * rotation still matches (finsec_credit_pseudonym_matches) while the old
 * version is retired and not destroyed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_keyring.h"
#include "finsec_mac.h"
#include "credit.h"

#define PSEUDONYM_KEY	"credit.pseudonym"

PG_FUNCTION_INFO_V1(finsec_credit_pseudonym_sql);

/* The subject normalised, palloc'd (the caller zeroizes and frees it). */
static char *
normalise(const char *subject, size_t *len)
{
	size_t		start = 0;
	size_t		end = strlen(subject);
	char	   *out;

	while (start < end && (subject[start] == ' ' || subject[start] == '\t'))
		start++;
	while (end > start && (subject[end - 1] == ' ' || subject[end - 1] == '\t'))
		end--;
	out = palloc(end - start + 1);
	for (size_t i = start; i < end; i++)
	{
		char		c = subject[i];

		out[i - start] = (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
	}
	out[end - start] = '\0';
	*len = end - start;
	return out;
}

/* "p<version>.<hex>" of subject under key, palloc'd. */
static char *
pseudonym_under(const FinsecKey *key, const char *subject)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t		maclen;
	size_t		len;
	char	   *norm = normalise(subject, &len);
	char	   *hex;
	char	   *result;

	maclen = finsec_keyed_hash(key, (const unsigned char *) norm, len, mac);
	explicit_bzero(norm, len);
	pfree(norm);
	hex = palloc(maclen * 2 + 1);
	hex_encode((const char *) mac, maclen, hex);
	hex[maclen * 2] = '\0';
	explicit_bzero(mac, sizeof(mac));
	result = psprintf("p%d.%s", key->version, hex);
	pfree(hex);
	return result;
}

/* The subject's pseudonym under the active version of credit.pseudonym. */
char *
finsec_credit_pseudonym(const char *subject)
{
	const FinsecKey *key = finsec_key_active(PSEUDONYM_KEY, FINSEC_KEY_PSEUDONYM, NULL);

	return pseudonym_under(key, subject);
}

/*
 * Is pseudonym the subject's, under the version it names?  False for a
 * malformed pseudonym or a version no longer usable (destroyed).
 */
bool
finsec_credit_pseudonym_matches(const char *subject, const char *pseudonym)
{
	int32		version = 0;
	const char *p = pseudonym;
	const FinsecKey *key;
	char	   *mine;
	bool		match;
	size_t		len;

	if (subject == NULL || pseudonym == NULL || *p++ != 'p')
		return false;
	while (*p >= '0' && *p <= '9' && version < 100000000)
		version = version * 10 + (*p++ - '0');
	if (*p != '.' || version <= 0)
		return false;
	if (finsec_key_version_lookup(PSEUDONYM_KEY, FINSEC_KEY_PSEUDONYM, version, &key)
		!= FINSEC_KEY_LOOKUP_FOUND)
		return false;
	mine = pseudonym_under(key, subject);
	len = strlen(mine);
	match = (strlen(pseudonym) == len && CRYPTO_memcmp(mine, pseudonym, len) == 0);
	pfree(mine);
	return match;
}

/*
 * finsec.credit_pseudonym(subject text): for an auditor tracing a subject
 * through the query log and disputes.  Each call is a durable ledger row
 * (credit.pseudonym: the pseudonym it returned, never the subject).
 */
Datum
finsec_credit_pseudonym_sql(PG_FUNCTION_ARGS)
{
	char	   *subject = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *result = finsec_credit_pseudonym(subject);
	char	   *detail;

	explicit_bzero(subject, strlen(subject));
	pfree(subject);
	detail = psprintf("{\"pseudonym\": \"%s\"}", result);
	finsec_audit_event_durable("credit.pseudonym", "key:" PSEUDONYM_KEY, "pseudonym", true,
							   "credit subject pseudonym computed",
							   DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(detail))));
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
