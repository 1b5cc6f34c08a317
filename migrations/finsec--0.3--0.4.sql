/* finsec--0.3--0.4.sql -- keyring with two-person control, and message
 * security: MACs, signatures, replay and duplicate-payment guards, one-time
 * codes.
 *
 * Requirements D5, D7, A7, M1-M4, M6, M7 (docs/keyring.md, docs/mac.md,
 * docs/signatures.md, docs/guards.md).
 */

\echo Use "ALTER EXTENSION finsec UPDATE TO '0.4'" to load this file. \quit

-- =====================================================================
-- Keyring and two-person approvals (src/keyring)
-- =====================================================================

-- (keyring section)

-- =====================================================================
-- Message authentication codes and one-time codes (src/mac)
-- =====================================================================

-- (mac section)

-- =====================================================================
-- Replay and duplicate-payment guards (src/guard)
-- =====================================================================

-- (guard section)

-- =====================================================================
-- Signatures: registered signers, proof of origin and receipt (src/signature)
-- =====================================================================

/*
 * Registered signers (M4, M6): the counterparties' public keys and
 * certificates whose signatures finsec accepts as proof of origin.
 * Registering is the trust decision (no chain building): the DBA compares
 * spki_sha256 with the counterparty out of band.  Written only by
 * finsec.register_signer() and finsec.revoke_signer(), which audit it.
 */
CREATE SEQUENCE finsec.signer_id_seq AS bigint;
CREATE TABLE finsec.signer (
	id				bigint NOT NULL DEFAULT nextval('finsec.signer_id_seq') PRIMARY KEY,
	name			text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
	algorithm		text NOT NULL CHECK (algorithm IN ('rsa', 'ec-p256', 'sm2')),
	key_bits		integer NOT NULL CHECK (key_bits >= 256),
	spki_sha256		text NOT NULL CHECK (spki_sha256 ~ '^[0-9a-f]{64}$'),
	pem				text NOT NULL,
	sm2_id			bytea CHECK (sm2_id IS NULL OR algorithm = 'sm2'),
	cert_subject	text,
	cert_issuer		text,
	cert_serial		text,
	not_before		timestamptz,
	not_after		timestamptz,
	registered_by	name NOT NULL,
	registered_at	timestamptz NOT NULL DEFAULT now(),
	revoked_by		name,
	revoked_at		timestamptz,
	revoke_reason	text,
	CHECK ((revoked_at IS NULL) = (revoked_by IS NULL)),
	CHECK ((cert_subject IS NULL) = (not_after IS NULL))
);
ALTER SEQUENCE finsec.signer_id_seq OWNED BY finsec.signer.id;
CREATE UNIQUE INDEX signer_active_name_idx ON finsec.signer (name) WHERE revoked_at IS NULL;
COMMENT ON TABLE finsec.signer IS
	'finsec: public keys and certificates whose signatures are accepted as proof of origin (docs/signatures.md)';
COMMENT ON COLUMN finsec.signer.spki_sha256 IS
	'SHA-256 of the DER SubjectPublicKeyInfo, to compare with the counterparty out of band';
COMMENT ON COLUMN finsec.signer.sm2_id IS
	'SM2 user id agreed with this signer; NULL: the GM/T 0009 default 1234567812345678';
REVOKE ALL ON TABLE finsec.signer FROM PUBLIC;
REVOKE ALL ON SEQUENCE finsec.signer_id_seq FROM PUBLIC;
GRANT SELECT ON TABLE finsec.signer TO finsec_admin, finsec_auditor;
SELECT pg_catalog.pg_extension_config_dump('finsec.signer', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.signer_id_seq', '');

CREATE FUNCTION finsec.register_signer(name text, pem text, sm2_id bytea DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'finsec_register_signer'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.register_signer(text, text, bytea) IS
	'register a counterparty''s PEM public key or certificate (RSA, P-256, SM2) under a name; audited; returns the SPKI SHA-256 fingerprint';
REVOKE ALL ON FUNCTION finsec.register_signer(text, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.register_signer(text, text, bytea) TO finsec_admin;

CREATE FUNCTION finsec.revoke_signer(name text, reason text)
RETURNS void
AS 'MODULE_PATHNAME', 'finsec_revoke_signer'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.revoke_signer(text, text) IS
	'stop accepting a signer''s signatures; audited with the reason';
REVOKE ALL ON FUNCTION finsec.revoke_signer(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.revoke_signer(text, text) TO finsec_admin;

/* Proof of origin: false for a wrong signature, ERROR for anything else. */
CREATE FUNCTION finsec.verify_signature(
	signer text,
	data bytea,
	signature bytea,
	algorithm text DEFAULT NULL,
	sm2_id bytea DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'finsec_verify_signature'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.verify_signature(text, bytea, bytea, text, bytea) IS
	'whether signature is the registered signer''s signature of data (proof of origin)';
REVOKE ALL ON FUNCTION finsec.verify_signature(text, bytea, bytea, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.verify_signature(text, bytea, bytea, text, bytea)
	TO finsec_app, finsec_auditor;

CREATE FUNCTION finsec.require_signature(
	signer text,
	data bytea,
	signature bytea,
	algorithm text DEFAULT NULL,
	sm2_id bytea DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'finsec_require_signature'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.require_signature(text, bytea, bytea, text, bytea) IS
	'like verify_signature, but a wrong signature raises SQLSTATE S9S04';
REVOKE ALL ON FUNCTION finsec.require_signature(text, bytea, bytea, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.require_signature(text, bytea, bytea, text, bytea) TO finsec_app;

/* Proof of receipt, on the side that receives a receipt. */
CREATE FUNCTION finsec.verify_receipt(signer text, receipt jsonb, data bytea DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'finsec_verify_receipt'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.verify_receipt(text, jsonb, bytea) IS
	'whether a finsec-receipt/1 is signed by the registered signer and (if data is given) acknowledges that message';
REVOKE ALL ON FUNCTION finsec.verify_receipt(text, jsonb, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.verify_receipt(text, jsonb, bytea) TO finsec_app, finsec_auditor;

CREATE FUNCTION finsec.signature_self_test(
	OUT algorithm text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'finsec_signature_self_test'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.signature_self_test() IS
	'generate, import, sign and verify with throw-away keys of every signing algorithm (after an OpenSSL change)';
REVOKE ALL ON FUNCTION finsec.signature_self_test() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.signature_self_test() TO finsec_admin, finsec_operator;

/*
 * Status: the key policy, and registered signers the policy or the
 * calendar no longer accepts (they would fail at verification).
 */
CREATE FUNCTION finsec.status_signature(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT 'signature_policy', current_setting('finsec.signature_min_rsa_bits', true) IS NOT NULL,
		   coalesce(format('RSA keys of at least %s bits, ECDSA P-256, SM2 with SM3 (default user id 1234567812345678)',
						   current_setting('finsec.signature_min_rsa_bits', true)),
					'finsec library not loaded in this session')
	UNION ALL
	SELECT 'signers', count(*) FILTER (WHERE refused) = 0,
		   format('%s active, %s revoked', count(*) FILTER (WHERE revoked_at IS NULL),
				  count(*) FILTER (WHERE revoked_at IS NOT NULL))
		   || CASE WHEN count(*) FILTER (WHERE refused) > 0
				   THEN '; not accepted now (key size or certificate period): '
						|| string_agg(quote_ident(name), ', ' ORDER BY name) FILTER (WHERE refused)
				   ELSE '' END
		   || CASE WHEN count(*) FILTER (WHERE expiring) > 0
				   THEN '; certificates expiring within 30 days: '
						|| string_agg(quote_ident(name), ', ' ORDER BY name) FILTER (WHERE expiring)
				   ELSE '' END
	  FROM (SELECT s.name, s.revoked_at,
				   s.revoked_at IS NULL
				   AND ((s.algorithm = 'rsa'
						 AND s.key_bits < coalesce(current_setting('finsec.signature_min_rsa_bits', true), '2048')::int)
						OR s.not_after < now() OR s.not_before > now()) AS refused,
				   s.revoked_at IS NULL AND s.not_after >= now()
				   AND s.not_after < now() + interval '30 days' AS expiring
			  FROM finsec.signer s) s
$$;
REVOKE ALL ON FUNCTION finsec.status_signature() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_signature()
	TO finsec_admin, finsec_auditor, finsec_operator;

-- =====================================================================
-- end of finsec--0.3--0.4.sql
-- =====================================================================
