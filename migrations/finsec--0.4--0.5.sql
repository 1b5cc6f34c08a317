/* finsec--0.4--0.5.sql -- types: protected bank card and account numbers,
 * exact money with currency, validated Chinese identifiers.
 *
 * Requirements D1, D2, D3, D8, D9 (docs/cards.md, docs/money.md,
 * docs/identifiers.md).
 */

\echo Use "ALTER EXTENSION finsec UPDATE TO '0.5'" to load this file. \quit

-- =====================================================================
-- Money: exact amounts in minor units with an ISO 4217 currency (src/money)
-- =====================================================================

-- (money section)

-- =====================================================================
-- Chinese identifiers: resident ID, unified social credit code, mobile (src/cnid)
-- =====================================================================

-- (identifier section)

-- =====================================================================
-- Protected bank card and account numbers (src/card)
-- =====================================================================

/*
 * finsec.bank_card (13-19 digits, Luhn) and finsec.bank_account (8-32
 * digits): never stored in the clear (docs/cards.md).  The keyring needs an
 * encryption key "card.enc" (aes-256-gcm) and a fingerprint key "card.fp"
 * (hmac-sha256 or hmac-sm3), each created under two-person control.
 */
CREATE TYPE finsec.bank_card;
CREATE TYPE finsec.bank_account;

CREATE FUNCTION finsec.bank_card_in(cstring) RETURNS finsec.bank_card
	AS 'MODULE_PATHNAME', 'finsec_bank_card_in' LANGUAGE C STABLE STRICT;
CREATE FUNCTION finsec.bank_card_out(finsec.bank_card) RETURNS cstring
	AS 'MODULE_PATHNAME', 'finsec_bank_number_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION finsec.bank_card_recv(internal) RETURNS finsec.bank_card
	AS 'MODULE_PATHNAME', 'finsec_bank_card_recv' LANGUAGE C STABLE STRICT;
CREATE FUNCTION finsec.bank_card_send(finsec.bank_card) RETURNS bytea
	AS 'MODULE_PATHNAME', 'finsec_bank_number_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION finsec.bank_account_in(cstring) RETURNS finsec.bank_account
	AS 'MODULE_PATHNAME', 'finsec_bank_account_in' LANGUAGE C STABLE STRICT;
CREATE FUNCTION finsec.bank_account_out(finsec.bank_account) RETURNS cstring
	AS 'MODULE_PATHNAME', 'finsec_bank_number_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION finsec.bank_account_recv(internal) RETURNS finsec.bank_account
	AS 'MODULE_PATHNAME', 'finsec_bank_account_recv' LANGUAGE C STABLE STRICT;
CREATE FUNCTION finsec.bank_account_send(finsec.bank_account) RETURNS bytea
	AS 'MODULE_PATHNAME', 'finsec_bank_number_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE finsec.bank_card (
	INPUT = finsec.bank_card_in, OUTPUT = finsec.bank_card_out,
	RECEIVE = finsec.bank_card_recv, SEND = finsec.bank_card_send,
	INTERNALLENGTH = VARIABLE, ALIGNMENT = int4, STORAGE = main);
CREATE TYPE finsec.bank_account (
	INPUT = finsec.bank_account_in, OUTPUT = finsec.bank_account_out,
	RECEIVE = finsec.bank_account_recv, SEND = finsec.bank_account_send,
	INTERNALLENGTH = VARIABLE, ALIGNMENT = int4, STORAGE = main);
COMMENT ON TYPE finsec.bank_card IS
	'bank card number (13-19 digits, Luhn): encrypted, fingerprinted, masked; finsec.reveal() for finsec_unmask';
COMMENT ON TYPE finsec.bank_account IS
	'bank account number (8-32 digits): encrypted, fingerprinted, masked; finsec.reveal() for finsec_unmask';

/*
 * The comparison operators live in pg_catalog, the one schema every
 * search_path includes, so that "card = other_card", joins and GROUP BY
 * work without putting finsec on the search path.  They take only
 * finsec's types, so they cannot capture any other expression.
 */
DO $$
DECLARE
	t text;
	op record;
BEGIN
	FOREACH t IN ARRAY ARRAY['bank_card', 'bank_account'] LOOP
		FOR op IN SELECT * FROM (VALUES ('eq', '=', 'boolean'), ('ne', '<>', 'boolean'),
										('lt', '<', 'boolean'), ('le', '<=', 'boolean'),
										('gt', '>', 'boolean'), ('ge', '>=', 'boolean'),
										('cmp', NULL, 'integer')) v(fn, sym, ret)
		LOOP
			EXECUTE format('CREATE FUNCTION finsec.%1$s_%2$s(finsec.%1$s, finsec.%1$s) RETURNS %3$s '
						   'AS ''MODULE_PATHNAME'', ''finsec_bank_number_%2$s'' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE',
						   t, op.fn, op.ret);
		END LOOP;
		EXECUTE format('CREATE FUNCTION finsec.%1$s_hash(finsec.%1$s) RETURNS integer '
					   'AS ''MODULE_PATHNAME'', ''finsec_bank_number_hash'' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE', t);
		EXECUTE format('CREATE FUNCTION finsec.%1$s_hash_extended(finsec.%1$s, bigint) RETURNS bigint '
					   'AS ''MODULE_PATHNAME'', ''finsec_bank_number_hash_extended'' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE', t);
		EXECUTE format($f$
			CREATE OPERATOR pg_catalog.= (LEFTARG = finsec.%1$s, RIGHTARG = finsec.%1$s, FUNCTION = finsec.%1$s_eq,
				COMMUTATOR = OPERATOR(pg_catalog.=), NEGATOR = OPERATOR(pg_catalog.<>), RESTRICT = eqsel, JOIN = eqjoinsel,
				HASHES, MERGES);
			CREATE OPERATOR pg_catalog.<> (LEFTARG = finsec.%1$s, RIGHTARG = finsec.%1$s, FUNCTION = finsec.%1$s_ne,
				COMMUTATOR = OPERATOR(pg_catalog.<>), NEGATOR = OPERATOR(pg_catalog.=), RESTRICT = neqsel, JOIN = neqjoinsel);
			CREATE OPERATOR pg_catalog.< (LEFTARG = finsec.%1$s, RIGHTARG = finsec.%1$s, FUNCTION = finsec.%1$s_lt,
				COMMUTATOR = OPERATOR(pg_catalog.>), NEGATOR = OPERATOR(pg_catalog.>=), RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
			CREATE OPERATOR pg_catalog.<= (LEFTARG = finsec.%1$s, RIGHTARG = finsec.%1$s, FUNCTION = finsec.%1$s_le,
				COMMUTATOR = OPERATOR(pg_catalog.>=), NEGATOR = OPERATOR(pg_catalog.>), RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
			CREATE OPERATOR pg_catalog.> (LEFTARG = finsec.%1$s, RIGHTARG = finsec.%1$s, FUNCTION = finsec.%1$s_gt,
				COMMUTATOR = OPERATOR(pg_catalog.<), NEGATOR = OPERATOR(pg_catalog.<=), RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
			CREATE OPERATOR pg_catalog.>= (LEFTARG = finsec.%1$s, RIGHTARG = finsec.%1$s, FUNCTION = finsec.%1$s_ge,
				COMMUTATOR = OPERATOR(pg_catalog.<=), NEGATOR = OPERATOR(pg_catalog.<), RESTRICT = scalargesel, JOIN = scalargejoinsel);
			CREATE OPERATOR CLASS finsec.%1$s_ops DEFAULT FOR TYPE finsec.%1$s USING btree AS
				OPERATOR 1 pg_catalog.<, OPERATOR 2 pg_catalog.<=, OPERATOR 3 pg_catalog.=, OPERATOR 4 pg_catalog.>=, OPERATOR 5 pg_catalog.>,
				FUNCTION 1 finsec.%1$s_cmp(finsec.%1$s, finsec.%1$s);
			CREATE OPERATOR CLASS finsec.%1$s_hash_ops DEFAULT FOR TYPE finsec.%1$s USING hash AS
				OPERATOR 1 pg_catalog.=,
				FUNCTION 1 finsec.%1$s_hash(finsec.%1$s),
				FUNCTION 2 finsec.%1$s_hash_extended(finsec.%1$s, bigint);
		$f$, t);
	END LOOP;
END
$$;

CREATE FUNCTION finsec.mask(number finsec.bank_card, keep_first integer DEFAULT NULL,
							keep_last integer DEFAULT NULL, grouped boolean DEFAULT NULL)
RETURNS text AS 'MODULE_PATHNAME', 'finsec_bank_number_mask' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION finsec.mask(number finsec.bank_account, keep_first integer DEFAULT NULL,
							keep_last integer DEFAULT NULL, grouped boolean DEFAULT NULL)
RETURNS text AS 'MODULE_PATHNAME', 'finsec_bank_number_mask' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION finsec.mask(finsec.bank_card, integer, integer, boolean) IS
	'masked card number (default finsec.card_mask_first/last: 622202******1234); never more than the BIN and last four';
COMMENT ON FUNCTION finsec.mask(finsec.bank_account, integer, integer, boolean) IS
	'masked account number; at least half the digits always hidden';

CREATE FUNCTION finsec.reveal(number finsec.bank_card, reason text DEFAULT NULL, context text DEFAULT NULL)
RETURNS text AS 'MODULE_PATHNAME', 'finsec_bank_number_reveal' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION finsec.reveal(number finsec.bank_account, reason text DEFAULT NULL, context text DEFAULT NULL)
RETURNS text AS 'MODULE_PATHNAME', 'finsec_bank_number_reveal' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION finsec.reveal(finsec.bank_card, text, text) IS
	'the full card number, for finsec_unmask; every call is written to the audit ledger (who, reason, context)';
COMMENT ON FUNCTION finsec.reveal(finsec.bank_account, text, text) IS
	'the full account number, for finsec_unmask; every call is written to the audit ledger (who, reason, context)';

CREATE FUNCTION finsec.card_rekey(number finsec.bank_card) RETURNS finsec.bank_card
	AS 'MODULE_PATHNAME', 'finsec_bank_number_rekey' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION finsec.card_rekey(number finsec.bank_account) RETURNS finsec.bank_account
	AS 'MODULE_PATHNAME', 'finsec_bank_number_rekey' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION finsec.card_rekey(finsec.bank_card) IS
	'the same number encrypted and fingerprinted under the active versions of card.enc and card.fp (after rotation)';

CREATE FUNCTION finsec.number_info(number finsec.bank_card,
	OUT kind text, OUT digits integer, OUT bin text, OUT last4 text, OUT luhn_valid boolean,
	OUT enc_key_version integer, OUT fp_key_version integer)
RETURNS record AS 'MODULE_PATHNAME', 'finsec_bank_number_info' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION finsec.number_info(number finsec.bank_account,
	OUT kind text, OUT digits integer, OUT bin text, OUT last4 text, OUT luhn_valid boolean,
	OUT enc_key_version integer, OUT fp_key_version integer)
RETURNS record AS 'MODULE_PATHNAME', 'finsec_bank_number_info' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION finsec._is_valid_bank_number(text, boolean) RETURNS boolean
	AS 'MODULE_PATHNAME', 'finsec_is_valid_bank_card' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION finsec.is_valid_bank_card(text) RETURNS boolean
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
	AS $$ SELECT finsec._is_valid_bank_number($1, false) $$;
CREATE FUNCTION finsec.is_valid_bank_account(text) RETURNS boolean
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
	AS $$ SELECT finsec._is_valid_bank_number($1, true) $$;
COMMENT ON FUNCTION finsec.is_valid_bank_card(text) IS
	'whether text is a bank card number (digits, 13-19, Luhn), without raising: for cleaning legacy data';
COMMENT ON FUNCTION finsec.is_valid_bank_account(text) IS
	'whether text is a bank account number (digits, 8-32), without raising';

-- Deny by default: the types and their functions to finsec's roles only;
-- revealing to finsec_unmask, re-keying to finsec_admin.
DO $$
DECLARE
	f regprocedure;
BEGIN
	REVOKE USAGE ON TYPE finsec.bank_card, finsec.bank_account FROM PUBLIC;
	GRANT USAGE ON TYPE finsec.bank_card, finsec.bank_account
		TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
			  WHERE p.pronamespace = 'finsec'::regnamespace
				AND (p.proname ~ '^bank_(card|account)_' OR p.proname IN ('mask', 'number_info', '_is_valid_bank_number',
																		   'is_valid_bank_card', 'is_valid_bank_account'))
				AND pg_get_function_identity_arguments(p.oid) ~ 'bank_(card|account)|^text|cstring|internal'
	LOOP
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
		EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask', f);
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION finsec.reveal(finsec.bank_card, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION finsec.reveal(finsec.bank_account, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.reveal(finsec.bank_card, text, text) TO finsec_unmask;
GRANT EXECUTE ON FUNCTION finsec.reveal(finsec.bank_account, text, text) TO finsec_unmask;
REVOKE ALL ON FUNCTION finsec.card_rekey(finsec.bank_card) FROM PUBLIC;
REVOKE ALL ON FUNCTION finsec.card_rekey(finsec.bank_account) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.card_rekey(finsec.bank_card) TO finsec_admin;
GRANT EXECUTE ON FUNCTION finsec.card_rekey(finsec.bank_account) TO finsec_admin;

CREATE FUNCTION finsec.status_card(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT 'card_keys',
		   count(*) FILTER (WHERE k.label = 'card.enc' AND k.purpose = 'encryption' AND v.state = 'active') = 1
		   AND count(*) FILTER (WHERE k.label = 'card.fp' AND k.purpose = 'fingerprint' AND v.state = 'active') = 1,
		   CASE WHEN count(*) FILTER (WHERE k.label IN ('card.enc', 'card.fp') AND v.state = 'active') = 2
				THEN 'card.enc and card.fp are active: bank_card and bank_account values can be written'
				ELSE 'bank_card and bank_account need active keys card.enc (encryption, aes-256-gcm) and card.fp (fingerprint): see docs/cards.md'
		   END
	  FROM finsec.key k JOIN finsec.key_version v ON v.key_id = k.key_id
$$;
REVOKE ALL ON FUNCTION finsec.status_card() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_card() TO finsec_admin, finsec_auditor, finsec_operator;

-- =====================================================================
-- end of finsec--0.4--0.5.sql
-- =====================================================================
