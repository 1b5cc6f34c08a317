/* finsec 1.0 -> 1.1 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '1.1'" to load this file. \quit

-- =====================================================================
-- Protected personal data (issue 17, docs/protected-data.md):
-- finsec.protected_text and the protected identifier types, encrypted
-- under a policy's keyring key, fingerprinted for equality, masked on
-- output; reveal through one audited, rate-limited gate; period keys and
-- crypto-shredding; the finsec sensitivity-label provider.
-- Clauses D3, D4 (002 4.4.3, 004 8.3.5 b, 004 8.3.4 b/d enhanced,
-- 003 6.4.2.5.1, 002 3.2.7).
-- =====================================================================

-- ---------------------------------------------------------------------
-- 1. Core: policies, the protected types, their operators and casts,
--    mask(), protected_info(), protected_rekey().
-- ---------------------------------------------------------------------

/*
 * Protection policies: which keyring keys encrypt and fingerprint a
 * column's values, how they are masked, their key period and label.  The
 * type modifier of a protected column is its policy's id, a hash of the
 * name (the same in every database).  Policies are immutable; dropping
 * one is two-person (protect.policy_drop) and refused while in use.
 */
CREATE FUNCTION finsec._protect_policy_id(name text) RETURNS integer
	AS 'MODULE_PATHNAME', 'finsec_protect_policy_id' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec._protect_policy_id(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._protect_policy_id(text) TO finsec_admin, finsec_auditor, finsec_operator;

CREATE TABLE finsec.protect_policy (
	policy_name	text PRIMARY KEY CHECK (policy_name ~ '^[a-z][a-z0-9_]{0,47}$'),
	policy_id	integer NOT NULL UNIQUE CHECK (policy_id >= 0 AND policy_id < 1073741824),
	enc_key		text NOT NULL CHECK (enc_key ~ '^[A-Za-z0-9_.:-]{1,40}$'),
	fp_key		text CHECK (fp_key ~ '^[A-Za-z0-9_.:-]{1,40}$'),
	fp_scope	text NOT NULL DEFAULT 'global' CHECK (fp_scope IN ('global', 'period')),
	mask		text NOT NULL DEFAULT 'none' CHECK (mask IN ('name', 'phone', 'address', 'email', 'none')),
	period_unit	text CHECK (period_unit IN ('day', 'month', 'year')),
	label		text NOT NULL DEFAULT 'sensitive'
				CHECK (label IN ('public', 'internal', 'quasi_identifier', 'identifier', 'sensitive')),
	description	text,
	created_by	name NOT NULL DEFAULT session_user,
	created_at	timestamptz NOT NULL DEFAULT now(),
	CHECK (policy_id = finsec._protect_policy_id(policy_name)),
	CHECK (fp_scope = 'global' OR (period_unit IS NOT NULL AND fp_key IS NOT NULL))
);
COMMENT ON TABLE finsec.protect_policy IS
	'finsec: protection policies of protected_text and the protected identifier types (the type modifier is policy_id)';
REVOKE ALL ON TABLE finsec.protect_policy FROM PUBLIC;
GRANT SELECT ON TABLE finsec.protect_policy TO finsec_admin, finsec_auditor, finsec_operator;
INSERT INTO finsec.protect_policy (policy_name, policy_id, enc_key, fp_key, mask, description, created_by)
VALUES ('default', 0, 'protect.enc', 'protect.fp', 'none',
		'built in: literals and parameters, and columns without a type modifier', 'finsec');
SELECT pg_catalog.pg_extension_config_dump('finsec.protect_policy', 'WHERE policy_id <> 0');

CREATE FUNCTION finsec._protect_policy_changed() RETURNS trigger
	LANGUAGE C AS 'MODULE_PATHNAME', 'finsec_protect_policy_changed';
REVOKE ALL ON FUNCTION finsec._protect_policy_changed() FROM PUBLIC;
CREATE TRIGGER finsec_protect_policy_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON finsec.protect_policy FOR EACH STATEMENT EXECUTE FUNCTION finsec._protect_policy_changed();

-- Immutable: a policy's keys, mask and label are authenticated into its values.
CREATE FUNCTION finsec._protect_policy_immutable() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION 'protection policies cannot be changed'
		USING ERRCODE = 'S9P02',
			  DETAIL = 'Values sealed under a policy authenticate its keys, mask and label.',
			  HINT = 'Create a new policy and move values with finsec.protected_rekey(value, policy).';
END
$$;
REVOKE ALL ON FUNCTION finsec._protect_policy_immutable() FROM PUBLIC;
CREATE TRIGGER finsec_protect_policy_immutable BEFORE UPDATE
	ON finsec.protect_policy FOR EACH ROW EXECUTE FUNCTION finsec._protect_policy_immutable();

CREATE FUNCTION finsec.protect_policy_create(
	name text,
	enc_key text DEFAULT 'protect.enc',
	fp_key text DEFAULT 'protect.fp',
	mask text DEFAULT 'none',
	period_unit text DEFAULT NULL,
	label text DEFAULT 'sensitive',
	fp_scope text DEFAULT NULL,
	description text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id integer;
	other text;
	scope text := coalesce(fp_scope, CASE WHEN period_unit IS NULL THEN 'global' ELSE 'period' END);
BEGIN
	IF NOT pg_has_role(session_user, 'finsec_admin', 'MEMBER') THEN
		RAISE EXCEPTION 'permission denied to create a protection policy'
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Creating a policy needs membership in finsec_admin.';
	END IF;
	IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{0,47}$' OR name = 'default' THEN
		RAISE EXCEPTION 'invalid protection policy name'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A policy name is a lower-case letter, then up to 47 lower-case letters, digits or underscores, other than "default".';
	END IF;
	IF enc_key IS NULL OR enc_key !~ '^[A-Za-z0-9_.:-]{1,40}$' OR fp_key !~ '^[A-Za-z0-9_.:-]{1,40}$' THEN
		RAISE EXCEPTION 'invalid key label for protection policy "%"', name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Key labels are 1 to 40 letters, digits, "_", ".", ":" or "-".';
	END IF;
	IF mask IS NULL OR mask NOT IN ('name', 'phone', 'address', 'email', 'none') THEN
		RAISE EXCEPTION 'invalid mask "%" for protection policy "%"', mask, name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Masks are name, phone, address, email and none.';
	END IF;
	IF period_unit IS NOT NULL AND period_unit NOT IN ('day', 'month', 'year') THEN
		RAISE EXCEPTION 'invalid period unit "%" for protection policy "%"', period_unit, name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Period units are day, month and year.';
	END IF;
	IF label IS NULL OR label NOT IN ('public', 'internal', 'quasi_identifier', 'identifier', 'sensitive') THEN
		RAISE EXCEPTION 'invalid sensitivity label "%" for protection policy "%"', label, name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Labels are public, internal, quasi_identifier, identifier and sensitive.';
	END IF;
	IF scope NOT IN ('global', 'period') OR (scope = 'period' AND (period_unit IS NULL OR fp_key IS NULL)) THEN
		RAISE EXCEPTION 'invalid fingerprint scope "%" for protection policy "%"', scope, name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'fp_scope is global, or period for a policy with a period unit and a fingerprint key.';
	END IF;
	-- A shredded value must not stay comparable under a key never destroyed.
	IF period_unit IS NOT NULL AND fp_key IS NOT NULL AND scope = 'global' THEN
		RAISE EXCEPTION 'protection policy "%" would keep the fingerprints of shredded values', name
			USING ERRCODE = 'S9P10',
				  DETAIL = 'A period policy with fp_scope global fingerprints every period under one key that shredding never destroys.',
				  HINT = 'Use fp_scope period (the default with a period unit), or no fingerprint key.';
	END IF;
	-- One shred must destroy one policy's period keys: no shared key family.
	SELECT p.policy_name INTO other FROM finsec.protect_policy p
	 WHERE (protect_policy_create.period_unit IS NOT NULL AND p.period_unit IS NOT NULL
			AND (p.enc_key = protect_policy_create.enc_key OR (p.fp_scope = 'period' AND scope = 'period' AND p.fp_key = protect_policy_create.fp_key)))
		OR (protect_policy_create.period_unit IS NOT NULL
			AND (starts_with(p.enc_key, protect_policy_create.enc_key || '.') OR starts_with(p.fp_key, protect_policy_create.fp_key || '.')
				 OR starts_with(p.enc_key, protect_policy_create.fp_key || '.') OR starts_with(p.fp_key, protect_policy_create.enc_key || '.')))
		OR (p.period_unit IS NOT NULL
			AND (starts_with(protect_policy_create.enc_key, p.enc_key || '.') OR starts_with(protect_policy_create.fp_key, p.enc_key || '.')
				 OR starts_with(protect_policy_create.enc_key, p.fp_key || '.') OR starts_with(protect_policy_create.fp_key, p.fp_key || '.')))
	 ORDER BY p.policy_name LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'protection policy "%" would share the period keys of policy "%"', name, other
			USING ERRCODE = 'S9P10',
				  DETAIL = 'Shredding a period of one policy would destroy the period keys of the other.',
				  HINT = 'Give each period policy its own enc_key and fp_key (finsec.key_generate).';
	END IF;
	id := finsec._protect_policy_id(name);
	SELECT p.policy_name INTO other FROM finsec.protect_policy p WHERE p.policy_id = id;
	IF FOUND THEN
		IF other = name THEN
			RAISE EXCEPTION 'protection policy "%" already exists', name
				USING ERRCODE = 'duplicate_object';
		END IF;
		RAISE EXCEPTION 'protection policy name "%" has the same id as policy "%"', name, other
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Choose another name.';
	END IF;
	INSERT INTO finsec.protect_policy (policy_name, policy_id, enc_key, fp_key, fp_scope, mask,
									   period_unit, label, description, created_by)
	VALUES (name, id, enc_key, fp_key, scope, mask, period_unit, label, description, session_user);
	PERFORM finsec.audit_event('protect.policy_create', name, 'create', true, description,
							   jsonb_build_object('policy_id', id, 'enc_key', enc_key, 'fp_key', fp_key,
												  'fp_scope', scope, 'mask', mask, 'period_unit', period_unit,
												  'label', label),
							   session_user);
	RETURN id;
END
$$;
COMMENT ON FUNCTION finsec.protect_policy_create(text, text, text, text, text, text, text, text) IS
	'create a protection policy (the type modifier of protected columns): keys, mask, period unit, label; returns its id';
REVOKE ALL ON FUNCTION finsec.protect_policy_create(text, text, text, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.protect_policy_create(text, text, text, text, text, text, text, text) TO finsec_admin;

CREATE FUNCTION finsec._protect_policy_drop_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p finsec.protect_policy;
	used text;
BEGIN
	SELECT * INTO p FROM finsec.protect_policy pp WHERE pp.policy_name = target;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'protection policy "%" does not exist', target
			USING ERRCODE = 'S9P01';
	END IF;
	IF p.policy_id = 0 THEN
		RAISE EXCEPTION 'the built-in protection policy "default" cannot be dropped'
			USING ERRCODE = 'S9P02';
	END IF;
	SELECT string_agg(format('%s.%I', c.tbl, c.col), ', ') INTO used
	  FROM finsec._protect_policy_columns(p.policy_id) c;
	IF used IS NOT NULL THEN
		RAISE EXCEPTION 'protection policy "%" is in use', target
			USING ERRCODE = 'S9P02',
				  DETAIL = format('Columns %s have it as their type modifier.', used),
				  HINT = 'Move their values to another policy (finsec.protected_rekey) and alter the columns first.';
	END IF;
	RETURN jsonb_build_object('policy_id', p.policy_id);
END
$$;
REVOKE ALL ON FUNCTION finsec._protect_policy_drop_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._protect_policy_drop_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- checked again, locked: a column may have appeared since the request
	LOCK TABLE finsec.protect_policy IN SHARE ROW EXCLUSIVE MODE;
	PERFORM finsec._protect_policy_drop_prepare(kind, target, payload);
	DELETE FROM finsec.protect_policy WHERE policy_name = target;
	PERFORM finsec.audit_event('protect.policy_drop', target, 'drop', true, NULL,
							   jsonb_build_object('request_id', request_id, 'policy_id', payload->'policy_id'),
							   session_user);
	RETURN jsonb_build_object('dropped', target);
END
$$;
REVOKE ALL ON FUNCTION finsec._protect_policy_drop_apply(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('protect.policy_drop', 'finsec._protect_policy_drop_prepare(text, text, jsonb)',
	 'finsec._protect_policy_drop_apply(bigint, text, text, jsonb)', NULL,
	 'drop a protection policy that no column uses');

/*
 * The protected types: one C implementation, the kind decides validation
 * and mask.  Type modifier: the policy, protected_text(customer_name).
 */
CREATE TYPE finsec.protected_text;
CREATE TYPE finsec.protected_resident_id;
CREATE TYPE finsec.protected_uscc;
CREATE TYPE finsec.protected_mobile;

CREATE FUNCTION finsec.protected_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME', 'finsec_protected_typmod_in' LANGUAGE C STABLE STRICT;
CREATE FUNCTION finsec.protected_typmod_out(integer) RETURNS cstring
	AS 'MODULE_PATHNAME', 'finsec_protected_typmod_out' LANGUAGE C STABLE STRICT;

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['text', 'resident_id', 'uscc', 'mobile'] LOOP
		EXECUTE format($f$
			CREATE FUNCTION finsec.protected_%1$s_in(cstring, oid, integer) RETURNS finsec.protected_%1$s
				AS 'MODULE_PATHNAME', 'finsec_protected_%1$s_in' LANGUAGE C STABLE STRICT;
			CREATE FUNCTION finsec.protected_%1$s_out(finsec.protected_%1$s) RETURNS cstring
				AS 'MODULE_PATHNAME', 'finsec_protected_out' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
			CREATE FUNCTION finsec.protected_%1$s_recv(internal, oid, integer) RETURNS finsec.protected_%1$s
				AS 'MODULE_PATHNAME', 'finsec_protected_%1$s_recv' LANGUAGE C STABLE STRICT;
			CREATE FUNCTION finsec.protected_%1$s_send(finsec.protected_%1$s) RETURNS bytea
				AS 'MODULE_PATHNAME', 'finsec_protected_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
			CREATE TYPE finsec.protected_%1$s (
				INPUT = finsec.protected_%1$s_in, OUTPUT = finsec.protected_%1$s_out,
				RECEIVE = finsec.protected_%1$s_recv, SEND = finsec.protected_%1$s_send,
				TYPMOD_IN = finsec.protected_typmod_in, TYPMOD_OUT = finsec.protected_typmod_out,
				INTERNALLENGTH = VARIABLE, ALIGNMENT = int4, STORAGE = external);
			CREATE FUNCTION finsec.protected_%1$s(finsec.protected_%1$s, integer, boolean) RETURNS finsec.protected_%1$s
				AS 'MODULE_PATHNAME', 'finsec_protected_coerce' LANGUAGE C STABLE STRICT;
			CREATE CAST (finsec.protected_%1$s AS finsec.protected_%1$s)
				WITH FUNCTION finsec.protected_%1$s(finsec.protected_%1$s, integer, boolean) AS IMPLICIT;
			-- Input, receive and the length cast are STABLE, as bank_card's input
			-- is: a value's nonce is random but what it means (its fingerprint,
			-- its plaintext) is not, and a text parameter cast to the column's
			-- type (CoerceViaIO, as volatile as the input function) must stay an
			-- index condition, evaluated once per scan, not re-sealed per row.
		$f$, t);
	END LOOP;
END
$$;
COMMENT ON TYPE finsec.protected_text IS
	'sensitive text (names, addresses, contacts, transaction content): encrypted, fingerprinted, masked by its policy (type modifier); finsec.reveal() for finsec_unmask';
COMMENT ON TYPE finsec.protected_resident_id IS
	'resident ID number, validated like cn_resident_id, stored encrypted; masked 110105********002X';
COMMENT ON TYPE finsec.protected_uscc IS
	'unified social credit code, validated like uscc, stored encrypted; masked 91350100********43';
COMMENT ON TYPE finsec.protected_mobile IS
	'mainland mobile number, validated like cn_mobile, stored encrypted; masked 138****5678';

-- The columns of a protected type under a policy (its type modifier).
CREATE FUNCTION finsec._protect_policy_columns(policy_id integer)
RETURNS TABLE (tbl regclass, col name)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT a.attrelid::regclass, a.attname
	  FROM pg_attribute a
	 WHERE a.atttypid IN ('finsec.protected_text'::regtype, 'finsec.protected_resident_id'::regtype,
						  'finsec.protected_uscc'::regtype, 'finsec.protected_mobile'::regtype)
	   AND a.atttypmod = policy_id AND NOT a.attisdropped AND a.attnum > 0
	 ORDER BY 1, 2
$$;
REVOKE ALL ON FUNCTION finsec._protect_policy_columns(integer) FROM PUBLIC;

-- From the clear identifier types (assignment); no cast back: only reveal().
CREATE FUNCTION finsec.protected_resident_id(finsec.cn_resident_id) RETURNS finsec.protected_resident_id
	AS 'MODULE_PATHNAME', 'finsec_protected_from_resident_id' LANGUAGE C STABLE STRICT;
CREATE FUNCTION finsec.protected_uscc(finsec.uscc) RETURNS finsec.protected_uscc
	AS 'MODULE_PATHNAME', 'finsec_protected_from_uscc' LANGUAGE C STABLE STRICT;
CREATE FUNCTION finsec.protected_mobile(finsec.cn_mobile) RETURNS finsec.protected_mobile
	AS 'MODULE_PATHNAME', 'finsec_protected_from_mobile' LANGUAGE C STABLE STRICT;
CREATE CAST (finsec.cn_resident_id AS finsec.protected_resident_id)
	WITH FUNCTION finsec.protected_resident_id(finsec.cn_resident_id) AS ASSIGNMENT;
CREATE CAST (finsec.uscc AS finsec.protected_uscc)
	WITH FUNCTION finsec.protected_uscc(finsec.uscc) AS ASSIGNMENT;
CREATE CAST (finsec.cn_mobile AS finsec.protected_mobile)
	WITH FUNCTION finsec.protected_mobile(finsec.cn_mobile) AS ASSIGNMENT;

/*
 * Comparison on fingerprints, operators in pg_catalog as the cards' are
 * (they take only finsec's types, so they capture no other expression).
 */
DO $$
DECLARE
	t text;
	op record;
BEGIN
	FOREACH t IN ARRAY ARRAY['protected_text', 'protected_resident_id', 'protected_uscc', 'protected_mobile'] LOOP
		FOR op IN SELECT * FROM (VALUES ('eq', 'boolean'), ('ne', 'boolean'), ('lt', 'boolean'), ('le', 'boolean'),
										('gt', 'boolean'), ('ge', 'boolean'), ('cmp', 'integer')) v(fn, ret)
		LOOP
			EXECUTE format('CREATE FUNCTION finsec.%1$s_%2$s(finsec.%1$s, finsec.%1$s) RETURNS %3$s '
						   'AS ''MODULE_PATHNAME'', ''finsec_protected_%2$s'' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE',
						   t, op.fn, op.ret);
		END LOOP;
		EXECUTE format('CREATE FUNCTION finsec.%1$s_hash(finsec.%1$s) RETURNS integer '
					   'AS ''MODULE_PATHNAME'', ''finsec_protected_hash'' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE', t);
		EXECUTE format('CREATE FUNCTION finsec.%1$s_hash_extended(finsec.%1$s, bigint) RETURNS bigint '
					   'AS ''MODULE_PATHNAME'', ''finsec_protected_hash_extended'' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE', t);
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
		EXECUTE format($f$
			CREATE FUNCTION finsec.mask(value finsec.%1$s) RETURNS text
				AS 'MODULE_PATHNAME', 'finsec_protected_mask' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
			CREATE FUNCTION finsec.protected_info(value finsec.%1$s,
				OUT kind text, OUT policy text, OUT enc_key text, OUT enc_version integer,
				OUT fp_key text, OUT fp_version integer, OUT period integer, OUT state text)
				RETURNS record AS 'MODULE_PATHNAME', 'finsec_protected_info' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
			CREATE FUNCTION finsec.protected_rekey(value finsec.%1$s, policy text DEFAULT NULL) RETURNS finsec.%1$s
				AS 'MODULE_PATHNAME', 'finsec_protected_rekey' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
			CREATE FUNCTION finsec.reveal(value finsec.%1$s, reason text DEFAULT NULL, context text DEFAULT NULL)
				RETURNS text AS 'MODULE_PATHNAME', 'finsec_protected_reveal' LANGUAGE C VOLATILE PARALLEL UNSAFE;
		$f$, t);
	END LOOP;
END
$$;
COMMENT ON FUNCTION finsec.mask(finsec.protected_text) IS
	'the mask of a protected text by its policy (name, phone, address, email, none); shredded: NULL or S9P21 by finsec.protect_shredded_read';
COMMENT ON FUNCTION finsec.protected_info(finsec.protected_text) IS
	'kind, policy, keys and versions, period and state (ok, shredded, no_key, invalid) of a protected value';
COMMENT ON FUNCTION finsec.protected_rekey(finsec.protected_text, text) IS
	'the same value under the active key versions of its policy, or moved to another policy (finsec_admin)';
COMMENT ON FUNCTION finsec.reveal(finsec.protected_text, text, text) IS
	'the clear value, for finsec_unmask; every call is written to the audit ledger, surviving rollback';

-- Deny by default: the types and their functions to finsec's roles only;
-- revealing to finsec_unmask, re-keying to finsec_admin.
DO $$
DECLARE
	f record;
BEGIN
	REVOKE USAGE ON TYPE finsec.protected_text, finsec.protected_resident_id, finsec.protected_uscc,
		finsec.protected_mobile FROM PUBLIC;
	GRANT USAGE ON TYPE finsec.protected_text, finsec.protected_resident_id, finsec.protected_uscc,
		finsec.protected_mobile TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;
	FOR f IN SELECT p.oid::regprocedure AS fn, p.proname FROM pg_proc p
			  WHERE p.pronamespace = 'finsec'::regnamespace
				AND (p.proname ~ '^protected_' OR p.proname IN ('mask', 'reveal'))
				AND pg_get_function_identity_arguments(p.oid) ~ '^(value )?(finsec\.)?protected_|^(finsec\.)?(cn_resident_id|uscc|cn_mobile)$|cstring|internal|^integer$'
	LOOP
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.fn);
		IF f.proname = 'reveal' THEN
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO finsec_unmask', f.fn);
		ELSIF f.proname = 'protected_rekey' THEN
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO finsec_admin', f.fn);
		ELSE
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask', f.fn);
		END IF;
	END LOOP;
END
$$;

-- (end of section 1)

-- ---------------------------------------------------------------------
-- 2. Reveal gate, period keys, crypto-shredding, batch re-keying.
-- ---------------------------------------------------------------------

CREATE FUNCTION finsec.reveal_stats(
	OUT budget integer,
	OUT revealed bigint,
	OUT refused bigint,
	OUT evicted_busy bigint,
	OUT level double precision,
	OUT since timestamptz)
RETURNS record
LANGUAGE C VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_reveal_stats';
COMMENT ON FUNCTION finsec.reveal_stats() IS
	'the reveal budget: the setting in this session, reveals counted and refused and busy buckets pushed out since the server started, and the session user''s bucket level now';
REVOKE ALL ON FUNCTION finsec.reveal_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.reveal_stats() TO finsec_admin, finsec_auditor, finsec_operator, finsec_unmask;

-- Period keys: a column whose policy has a period_unit is re-sealed by
-- the C trigger finsec_protect_period under the key of its row's period
-- (<enc_key>.<period>, and <fp_key>.<period> for fp_scope period).
CREATE TABLE finsec.protect_period_column (
	relid		regclass NOT NULL,
	column_name name NOT NULL,
	date_column name NOT NULL,
	policy_name text NOT NULL,
	created_by	name NOT NULL DEFAULT session_user,
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (relid, column_name)
);
COMMENT ON TABLE finsec.protect_period_column IS
	'columns whose values are sealed under the period key of a date column of their row (finsec.protect_period)';
REVOKE ALL ON TABLE finsec.protect_period_column FROM PUBLIC;
GRANT SELECT ON TABLE finsec.protect_period_column TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.protect_period_column', '');

-- Periods whose keys were destroyed (crypto-shredded).
CREATE TABLE finsec.protect_shredded (
	policy_name text NOT NULL,
	period		integer NOT NULL CHECK (period > 0),
	period_start date NOT NULL,
	period_end	date NOT NULL,
	keys		jsonb NOT NULL,
	request_id	bigint NOT NULL,
	requested_by name NOT NULL,
	shredded_by name NOT NULL DEFAULT session_user,
	shredded_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (policy_name, period)
);
COMMENT ON TABLE finsec.protect_shredded IS
	'periods of a protect policy whose keys were destroyed: their values read as shredded (finsec.protect_shred)';
REVOKE ALL ON TABLE finsec.protect_shredded FROM PUBLIC;
GRANT SELECT ON TABLE finsec.protect_shredded TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.protect_shredded', '');

CREATE FUNCTION finsec._protect_period_trigger()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'finsec_protect_period';
COMMENT ON FUNCTION finsec._protect_period_trigger() IS
	'trigger finsec_protect_period: re-seals a protected column under the key of its row''s period (finsec.protect_period)';
REVOKE ALL ON FUNCTION finsec._protect_period_trigger() FROM PUBLIC;
-- Table owners create the trigger as themselves (finsec.protect_period).
GRANT EXECUTE ON FUNCTION finsec._protect_period_trigger() TO PUBLIC;

-- The period policy of a column of a protected type, or an error.
CREATE FUNCTION finsec._protect_period_policy(tbl regclass, col name)
RETURNS finsec.protect_policy
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a record;
	p finsec.protect_policy;
BEGIN
	SELECT at.atttypid::regtype::text AS typ, at.atttypmod INTO a
	  FROM pg_attribute at WHERE at.attrelid = tbl AND at.attname = col AND at.attnum > 0 AND NOT at.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'column "%" of relation % does not exist', col, tbl USING ERRCODE = 'undefined_column';
	END IF;
	IF a.typ NOT IN ('finsec.protected_text', 'finsec.protected_resident_id', 'finsec.protected_uscc',
					 'finsec.protected_mobile') THEN
		RAISE EXCEPTION 'column "%" of relation % is not of a protected type', col, tbl
			USING ERRCODE = 'S9P22', HINT = 'Period keys are for columns of finsec.protected_text and its identifier variants.';
	END IF;
	SELECT * INTO p FROM finsec.protect_policy pp WHERE pp.policy_id = a.atttypmod;
	IF NOT FOUND OR p.period_unit IS NULL THEN
		RAISE EXCEPTION 'column "%" of relation % has no period policy', col, tbl
			USING ERRCODE = 'S9P22',
				  DETAIL = format('Its type modifier names policy %s.', coalesce(p.policy_name, 'default')),
				  HINT = 'Declare the column with a policy created with a period_unit (finsec.protect_policy_create).';
	END IF;
	RETURN p;
END
$$;
REVOKE ALL ON FUNCTION finsec._protect_period_policy(regclass, name) FROM PUBLIC;
-- Reads the catalog and finsec.protect_policy only; for protect_period's callers.
GRANT EXECUTE ON FUNCTION finsec._protect_period_policy(regclass, name) TO PUBLIC;

-- The registration, for the table's owner (the caller of protect_period).
CREATE FUNCTION finsec._protect_period_register(tbl regclass, col name, date_col name, policy text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT pg_has_role(session_user, (SELECT c.relowner FROM pg_class c WHERE c.oid = tbl), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF EXISTS (SELECT 1 FROM finsec.protect_period_column pc WHERE pc.relid = tbl AND pc.column_name = col) THEN
		RAISE EXCEPTION 'column "%" of % already has a period trigger', col, tbl USING ERRCODE = 'duplicate_object';
	END IF;
	INSERT INTO finsec.protect_period_column (relid, column_name, date_column, policy_name)
	VALUES (tbl, col, date_col, policy);
	PERFORM finsec.audit_event('protect.period', tbl::text || '.' || col, 'create', true, NULL,
							   jsonb_build_object('date_column', date_col, 'policy', policy), session_user);
END
$$;
REVOKE ALL ON FUNCTION finsec._protect_period_register(regclass, name, name, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._protect_period_register(regclass, name, name, text) TO PUBLIC;

CREATE FUNCTION finsec._protect_period_sync(tbl regclass)
RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'finsec_protect_period_sync';
COMMENT ON FUNCTION finsec._protect_period_sync(regclass) IS
	'make the trigger finsec_protect_period of a table cover its registered period columns; as the current user, who must own the table';
REVOKE ALL ON FUNCTION finsec._protect_period_sync(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._protect_period_sync(regclass) TO PUBLIC;

-- Runs as the caller: CREATE TRIGGER on the user's table is the owner's.
CREATE FUNCTION finsec.protect_period(tbl regclass, col name, date_col name)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p finsec.protect_policy;
	dtype text;
BEGIN
	IF tbl IS NULL OR col IS NULL OR date_col IS NULL THEN
		RAISE EXCEPTION 'table, column and date column must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT pg_has_role(current_user, (SELECT c.relowner FROM pg_class c WHERE c.oid = tbl), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF (SELECT c.relkind FROM pg_class c WHERE c.oid = tbl) NOT IN ('r', 'p') THEN
		RAISE EXCEPTION '% is not a table', tbl USING ERRCODE = 'wrong_object_type';
	END IF;
	p := finsec._protect_period_policy(tbl, col);
	SELECT at.atttypid::regtype::text INTO dtype
	  FROM pg_attribute at WHERE at.attrelid = tbl AND at.attname = date_col AND at.attnum > 0 AND NOT at.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'column "%" of relation % does not exist', date_col, tbl USING ERRCODE = 'undefined_column';
	END IF;
	IF dtype NOT IN ('date', 'timestamp with time zone') THEN
		RAISE EXCEPTION 'the period column "%" must be of type date or timestamptz, not %', date_col, dtype
			USING ERRCODE = 'datatype_mismatch';
	END IF;
	PERFORM finsec._protect_period_register(tbl, col, date_col, p.policy_name);
	-- The trigger, created as the caller (the table's owner).
	PERFORM finsec._protect_period_sync(tbl);
END
$$;
COMMENT ON FUNCTION finsec.protect_period(regclass, name, name) IS
	'seal a protected column of a period policy under the period key of each row''s date column (trigger finsec_protect_period); by the table''s owner';
REVOKE ALL ON FUNCTION finsec.protect_period(regclass, name, name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.protect_period(regclass, name, name) TO PUBLIC;

-- The period number of a date under a unit, and its first and last day.
CREATE FUNCTION finsec._protect_period_bounds(unit text, d date, OUT period integer, OUT first_day date, OUT last_day date)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE unit WHEN 'day' THEN to_char(d, 'YYYYMMDD')::integer
					 WHEN 'month' THEN to_char(d, 'YYYYMM')::integer
					 WHEN 'year' THEN to_char(d, 'YYYY')::integer END,
		   date_trunc(unit, d::timestamp)::date,
		   (date_trunc(unit, d::timestamp) + ('1 ' || unit)::interval)::date - 1
$$;
REVOKE ALL ON FUNCTION finsec._protect_period_bounds(text, date) FROM PUBLIC;

-- The key labels of a period: encryption, and fingerprint if per period.
CREATE FUNCTION finsec._protect_period_labels(p finsec.protect_policy, period integer)
RETURNS TABLE (label text, purpose text, algorithm text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT p.enc_key || '.' || period, 'encryption', 'aes-256-gcm'
	UNION ALL
	SELECT p.fp_key || '.' || period, 'fingerprint',
		   coalesce((SELECT k.algorithm FROM finsec.key k WHERE k.label = p.fp_key), 'hmac-sha256')
	 WHERE p.fp_key IS NOT NULL AND p.fp_scope = 'period'
$$;
REVOKE ALL ON FUNCTION finsec._protect_period_labels(finsec.protect_policy, integer) FROM PUBLIC;

-- protect.period_keys: each missing key is generated by the keyring
-- (finsec.key_generate: a pending version and its key.generate request);
-- the one protect.period_keys request approves them all.
CREATE FUNCTION finsec.protect_period_keys(policy text, from_date date, through_date date, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p finsec.protect_policy;
	d date;
	b record;
	l record;
	n integer := 0;
	children jsonb := '[]';
	periods jsonb := '[]';
BEGIN
	PERFORM finsec._require_admin('request');
	IF policy IS NULL OR from_date IS NULL OR through_date IS NULL THEN
		RAISE EXCEPTION 'policy and dates must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO p FROM finsec.protect_policy pp WHERE pp.policy_name = policy;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'protect policy "%" does not exist', policy USING ERRCODE = 'undefined_object';
	END IF;
	IF p.period_unit IS NULL THEN
		RAISE EXCEPTION 'protect policy "%" has no period', policy USING ERRCODE = 'S9P22';
	END IF;
	IF through_date < from_date THEN
		RAISE EXCEPTION 'the period range ends before it starts' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	d := (finsec._protect_period_bounds(p.period_unit, from_date)).first_day;
	WHILE d <= through_date LOOP
		b := finsec._protect_period_bounds(p.period_unit, d);
		n := n + 1;
		IF n > 120 THEN
			RAISE EXCEPTION 'a request creates the keys of at most 120 periods'
				USING ERRCODE = 'S9P23', HINT = 'Request the range in parts.';
		END IF;
		IF EXISTS (SELECT 1 FROM finsec.protect_shredded s WHERE s.policy_name = p.policy_name AND s.period = b.period) THEN
			RAISE EXCEPTION 'period % of protect policy "%" was shredded', b.period, p.policy_name
				USING ERRCODE = 'S9P24', HINT = 'A shredded period never gets keys again.';
		END IF;
		FOR l IN SELECT * FROM finsec._protect_period_labels(p, b.period) LOOP
			IF NOT EXISTS (SELECT 1 FROM finsec.key k WHERE k.label = l.label) THEN
				children := children || jsonb_build_array(jsonb_build_object(
					'label', l.label,
					'request_id', finsec.key_generate(l.label, l.purpose, l.algorithm, reason,
													  format('period %s of protect policy %s', b.period, p.policy_name))));
			ELSIF NOT EXISTS (SELECT 1 FROM finsec.key k JOIN finsec.key_version kv USING (key_id)
							   WHERE k.label = l.label AND kv.state IN ('active', 'pending')) THEN
				-- A label left with no usable version (an earlier request rejected):
				-- a new version of it, the keyring's key.rotate.
				children := children || jsonb_build_array(jsonb_build_object(
					'label', l.label, 'request_id', finsec.key_rotate(l.label, reason)));
			END IF;
		END LOOP;
		periods := periods || to_jsonb(b.period);
		d := b.last_day + 1;
	END LOOP;
	IF jsonb_array_length(children) = 0 THEN
		RAISE EXCEPTION 'every period key of protect policy "%" from % through % exists', p.policy_name, from_date, through_date
			USING ERRCODE = 'S9P25';
	END IF;
	RETURN finsec.request_change('protect.period_keys', p.policy_name,
								 jsonb_build_object('periods', periods, 'keys', children), reason);
END
$$;
COMMENT ON FUNCTION finsec.protect_period_keys(text, date, date, text) IS
	'request the missing period keys of a protect policy for the periods from_date through through_date (at most 120); another finsec_admin approves';
REVOKE ALL ON FUNCTION finsec.protect_period_keys(text, date, date, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.protect_period_keys(text, date, date, text) TO finsec_admin;

CREATE FUNCTION finsec._protect_period_keys_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c jsonb;
	p finsec.protect_policy;
BEGIN
	SELECT * INTO p FROM finsec.protect_policy pp WHERE pp.policy_name = target;
	IF NOT FOUND OR p.period_unit IS NULL THEN
		RAISE EXCEPTION 'protect policy "%" does not exist or has no period', target USING ERRCODE = 'undefined_object';
	END IF;
	IF jsonb_typeof(payload -> 'keys') IS DISTINCT FROM 'array' OR jsonb_array_length(payload -> 'keys') = 0 THEN
		RAISE EXCEPTION 'a protect.period_keys request is filed by finsec.protect_period_keys'
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use finsec.protect_period_keys.';
	END IF;
	-- Each key: a pending key.generate (or key.rotate) request of this
	-- session user, for a label of this policy's periods.
	FOR c IN SELECT * FROM jsonb_array_elements(payload -> 'keys') LOOP
		IF NOT EXISTS (SELECT 1 FROM finsec.change_request cr
						WHERE cr.request_id = (c ->> 'request_id')::bigint AND cr.kind IN ('key.generate', 'key.rotate')
						  AND cr.state = 'pending' AND cr.requested_by = session_user
						  AND cr.target = c ->> 'label'
						  AND (cr.target LIKE p.enc_key || '.%' OR cr.target LIKE p.fp_key || '.%')) THEN
			RAISE EXCEPTION 'a protect.period_keys request is filed by finsec.protect_period_keys'
				USING ERRCODE = 'invalid_parameter_value', HINT = 'Use finsec.protect_period_keys.';
		END IF;
	END LOOP;
	RETURN payload;
END
$$;
REVOKE ALL ON FUNCTION finsec._protect_period_keys_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._protect_period_keys_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c jsonb;
	st text;
	done jsonb := '[]';
BEGIN
	FOR c IN SELECT * FROM jsonb_array_elements(payload -> 'keys') LOOP
		SELECT cr.state INTO st FROM finsec.change_request cr WHERE cr.request_id = (c ->> 'request_id')::bigint;
		IF st = 'pending' THEN
			-- The keyring's own approval: the same two people, its audit rows.
			PERFORM finsec.approve((c ->> 'request_id')::bigint,
								   format('protect.period_keys request %s', request_id));
		ELSIF st IS DISTINCT FROM 'applied' THEN
			RAISE EXCEPTION 'key request % of this protect.period_keys request is %', c ->> 'request_id', st
				USING ERRCODE = 'S9R03', HINT = 'File finsec.protect_period_keys again.';
		END IF;
		done := done || to_jsonb(c ->> 'label');
	END LOOP;
	PERFORM finsec.audit_event('protect.period_keys', target, 'generate', true, NULL,
							   jsonb_build_object('request_id', request_id, 'periods', payload -> 'periods',
												  'keys', done),
							   session_user);
	RETURN jsonb_build_object('policy', target, 'keys', done);
END
$$;
REVOKE ALL ON FUNCTION finsec._protect_period_keys_apply(bigint, text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._protect_period_keys_discard(request_id bigint, kind text, target text, payload jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c jsonb;
BEGIN
	FOR c IN SELECT * FROM jsonb_array_elements(payload -> 'keys') LOOP
		IF EXISTS (SELECT 1 FROM finsec.change_request cr
					WHERE cr.request_id = (c ->> 'request_id')::bigint AND cr.state = 'pending'
					  AND cr.expires_at > now()) THEN
			PERFORM finsec.reject((c ->> 'request_id')::bigint,
								  format('protect.period_keys request %s was not approved', request_id));
		END IF;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION finsec._protect_period_keys_discard(bigint, text, text, jsonb) FROM PUBLIC;

-- protect.shred: every version of the period's keys retired and destroyed
-- by the keyring's own apply (finsec._key_apply: key.retire, key.destroy).
CREATE FUNCTION finsec.protect_shred(policy text, period_date date, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT finsec.request_change('protect.shred', policy, jsonb_build_object('period_date', period_date), reason)
$$;
COMMENT ON FUNCTION finsec.protect_shred(text, date, text) IS
	'request that the keys of the (ended) period of period_date of a protect policy be destroyed: its values become unrecoverable; another finsec_admin approves';
REVOKE ALL ON FUNCTION finsec.protect_shred(text, date, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.protect_shred(text, date, text) TO finsec_admin;

CREATE FUNCTION finsec._protect_shred_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p finsec.protect_policy;
	b record;
	d date := (payload ->> 'period_date')::date;
	labels jsonb;
BEGIN
	SELECT * INTO p FROM finsec.protect_policy pp WHERE pp.policy_name = target;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'protect policy "%" does not exist', target USING ERRCODE = 'undefined_object';
	END IF;
	IF p.period_unit IS NULL THEN
		RAISE EXCEPTION 'protect policy "%" has no period', target USING ERRCODE = 'S9P22';
	END IF;
	IF d IS NULL THEN
		RAISE EXCEPTION 'the period date must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	b := finsec._protect_period_bounds(p.period_unit, d);
	IF b.last_day >= current_date THEN
		RAISE EXCEPTION 'period % of protect policy "%" has not ended', b.period, target
			USING ERRCODE = 'S9P26',
				  DETAIL = format('It ends on %s; only a period that has ended can be shredded.', b.last_day);
	END IF;
	IF EXISTS (SELECT 1 FROM finsec.protect_shredded s WHERE s.policy_name = target AND s.period = b.period) THEN
		RAISE EXCEPTION 'period % of protect policy "%" is already shredded', b.period, target USING ERRCODE = 'S9P24';
	END IF;
	SELECT jsonb_agg(l.label) INTO labels FROM finsec._protect_period_labels(p, b.period) l
	 WHERE EXISTS (SELECT 1 FROM finsec.key k WHERE k.label = l.label);
	IF labels IS NULL THEN
		RAISE EXCEPTION 'period % of protect policy "%" has no keys', b.period, target USING ERRCODE = 'S9P27';
	END IF;
	RETURN jsonb_build_object('period_date', d, 'period', b.period, 'first_day', b.first_day,
							  'last_day', b.last_day, 'labels', labels);
END
$$;
REVOKE ALL ON FUNCTION finsec._protect_shred_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._protect_shred_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	lbl text;
	v record;
	keys jsonb := '[]';
	ver jsonb;
BEGIN
	IF (payload ->> 'last_day')::date >= current_date THEN
		RAISE EXCEPTION 'period % of protect policy "%" has not ended', payload ->> 'period', target USING ERRCODE = 'S9P26';
	END IF;
	FOR lbl IN SELECT * FROM jsonb_array_elements_text(payload -> 'labels') LOOP
		ver := '[]';
		FOR v IN SELECT kv.key_id, kv.version, kv.state FROM finsec.key_version kv JOIN finsec.key k USING (key_id)
				  WHERE k.label = lbl AND kv.state <> 'destroyed' ORDER BY kv.version LOOP
			IF v.state = 'active' THEN
				PERFORM finsec._key_apply(request_id, 'key.retire', lbl,
										  jsonb_build_object('key_id', v.key_id, 'version', v.version));
			END IF;
			PERFORM finsec._key_apply(request_id, 'key.destroy', lbl,
									  jsonb_build_object('key_id', v.key_id, 'version', v.version));
			ver := ver || to_jsonb(v.version);
		END LOOP;
		keys := keys || jsonb_build_object(lbl, ver);
	END LOOP;
	INSERT INTO finsec.protect_shredded (policy_name, period, period_start, period_end, keys, request_id, requested_by)
	VALUES (target, (payload ->> 'period')::integer, (payload ->> 'first_day')::date, (payload ->> 'last_day')::date,
			keys, request_id, (SELECT cr.requested_by FROM finsec.change_request cr WHERE cr.request_id = _protect_shred_apply.request_id));
	PERFORM finsec.audit_event('protect.shred', target, 'shred', true, NULL,
							   jsonb_build_object('request_id', request_id, 'period', (payload ->> 'period')::integer,
												  'keys', keys),
							   session_user);
	RETURN jsonb_build_object('policy', target, 'period', (payload ->> 'period')::integer, 'destroyed', keys);
END
$$;
REVOKE ALL ON FUNCTION finsec._protect_shred_apply(bigint, text, text, jsonb) FROM PUBLIC;

-- protect.period_drop: the period trigger removed, and its registration.
CREATE FUNCTION finsec.protect_period_drop(tbl regclass, col name, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT finsec.request_change('protect.period_drop', tbl::text,
								 jsonb_build_object('relid', tbl::oid, 'column', col), reason)
$$;
COMMENT ON FUNCTION finsec.protect_period_drop(regclass, name, text) IS
	'request that the period trigger of a protected column be removed; another finsec_admin approves';
REVOKE ALL ON FUNCTION finsec.protect_period_drop(regclass, name, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.protect_period_drop(regclass, name, text) TO finsec_admin;

CREATE FUNCTION finsec._protect_period_drop_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM finsec.protect_period_column pc
					WHERE pc.relid = (payload ->> 'relid')::oid AND pc.column_name = payload ->> 'column') THEN
		RAISE EXCEPTION 'column "%" of % has no period trigger', payload ->> 'column', target
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN payload;
END
$$;
REVOKE ALL ON FUNCTION finsec._protect_period_drop_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._protect_period_drop_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tbl regclass := (payload ->> 'relid')::oid::regclass;
	col name := payload ->> 'column';
BEGIN
	DELETE FROM finsec.protect_period_column pc WHERE pc.relid = tbl AND pc.column_name = col;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'column "%" of % has no period trigger', col, target USING ERRCODE = 'undefined_object';
	END IF;
	-- DDL only, as finsec's owner: no code of the table's owner runs.
	PERFORM finsec._protect_period_sync(tbl);
	PERFORM finsec.audit_event('protect.period_drop', tbl::text || '.' || col, 'drop', true, NULL,
							   jsonb_build_object('request_id', request_id), session_user);
	RETURN jsonb_build_object('table', tbl::text, 'column', col, 'dropped', true);
END
$$;
REVOKE ALL ON FUNCTION finsec._protect_period_drop_apply(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('protect.period_keys', 'finsec._protect_period_keys_prepare(text, text, jsonb)',
	 'finsec._protect_period_keys_apply(bigint, text, text, jsonb)',
	 'finsec._protect_period_keys_discard(bigint, text, text, jsonb)',
	 'generate the missing period keys of a protect policy through the keyring (finsec.protect_period_keys)'),
	('protect.shred', 'finsec._protect_shred_prepare(text, text, jsonb)',
	 'finsec._protect_shred_apply(bigint, text, text, jsonb)', NULL,
	 'destroy every version of the keys of an ended period of a protect policy (finsec.protect_shred)'),
	('protect.period_drop', 'finsec._protect_period_drop_prepare(text, text, jsonb)',
	 'finsec._protect_period_drop_apply(bigint, text, text, jsonb)', NULL,
	 'remove the period trigger of a protected column (finsec.protect_period_drop)');

-- Batch re-keying: as the caller (the table is the user's), one
-- transaction per batch, rows locked by others skipped and taken later.
CREATE FUNCTION finsec._protected_is_current(value finsec.protected_text)
RETURNS boolean
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_protected_is_current';
CREATE FUNCTION finsec._protected_is_current(value finsec.protected_resident_id)
RETURNS boolean
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_protected_is_current';
CREATE FUNCTION finsec._protected_is_current(value finsec.protected_uscc)
RETURNS boolean
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_protected_is_current';
CREATE FUNCTION finsec._protected_is_current(value finsec.protected_mobile)
RETURNS boolean
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_protected_is_current';
COMMENT ON FUNCTION finsec._protected_is_current(finsec.protected_text) IS
	'whether a protected value is under the active versions of its keys (a shredded or unopenable one counts as current: nothing to re-key)';
REVOKE ALL ON FUNCTION finsec._protected_is_current(finsec.protected_text) FROM PUBLIC;
REVOKE ALL ON FUNCTION finsec._protected_is_current(finsec.protected_resident_id) FROM PUBLIC;
REVOKE ALL ON FUNCTION finsec._protected_is_current(finsec.protected_uscc) FROM PUBLIC;
REVOKE ALL ON FUNCTION finsec._protected_is_current(finsec.protected_mobile) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._protected_is_current(finsec.protected_text) TO finsec_admin;
GRANT EXECUTE ON FUNCTION finsec._protected_is_current(finsec.protected_resident_id) TO finsec_admin;
GRANT EXECUTE ON FUNCTION finsec._protected_is_current(finsec.protected_uscc) TO finsec_admin;
GRANT EXECUTE ON FUNCTION finsec._protected_is_current(finsec.protected_mobile) TO finsec_admin;

-- No SET clause: a procedure with one cannot COMMIT.  It runs as the
-- caller, whose search_path resolves nothing but pg_catalog's names here.
CREATE PROCEDURE finsec.protected_rekey_column(tbl regclass, col name, batch_size integer DEFAULT 1000)
LANGUAGE plpgsql
AS $$
DECLARE
	n bigint;
	total bigint := 0;
	skipped_rounds integer := 0;
	q text;
BEGIN
	IF tbl IS NULL OR col IS NULL OR batch_size IS NULL OR batch_size < 1 THEN
		RAISE EXCEPTION 'table, column and a positive batch size are needed' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM 1 FROM pg_catalog.pg_attribute at
	 WHERE at.attrelid = tbl AND at.attname = col AND at.attnum > 0 AND NOT at.attisdropped
	   AND at.atttypid IN ('finsec.protected_text'::pg_catalog.regtype, 'finsec.protected_resident_id'::pg_catalog.regtype,
						   'finsec.protected_uscc'::pg_catalog.regtype, 'finsec.protected_mobile'::pg_catalog.regtype);
	IF NOT FOUND THEN
		RAISE EXCEPTION 'column "%" of relation % is not of a protected type', col, tbl USING ERRCODE = 'S9P22';
	END IF;
	q := pg_catalog.format(
		'WITH batch AS (SELECT tableoid, ctid FROM %1$s WHERE %2$I IS NOT NULL AND NOT finsec._protected_is_current(%2$I) '
		'LIMIT %3$s FOR UPDATE SKIP LOCKED) '
		'UPDATE %1$s t SET %2$I = finsec.protected_rekey(t.%2$I) FROM batch '
		'WHERE t.tableoid OPERATOR(pg_catalog.=) batch.tableoid AND t.ctid OPERATOR(pg_catalog.=) batch.ctid',
		tbl, col, batch_size);
	LOOP
		EXECUTE q;
		GET DIAGNOSTICS n = ROW_COUNT;
		COMMIT;
		total := total + n;
		IF n = 0 THEN
			-- Nothing left, or only rows other transactions hold: wait a little and look again.
			EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %1$s WHERE %2$I IS NOT NULL AND NOT finsec._protected_is_current(%2$I)',
									  tbl, col) INTO n;
			COMMIT;
			EXIT WHEN n = 0;
			skipped_rounds := skipped_rounds + 1;
			IF skipped_rounds > 600 THEN
				RAISE EXCEPTION '% values of %.% stayed locked by other transactions', n, tbl, col
					USING ERRCODE = 'lock_not_available', HINT = 'Call finsec.protected_rekey_column again.';
			END IF;
			PERFORM pg_catalog.pg_sleep(0.1);
		END IF;
	END LOOP;
	RAISE NOTICE 're-keyed % values of %.%', total, tbl, col;
END
$$;
COMMENT ON PROCEDURE finsec.protected_rekey_column(regclass, name, integer) IS
	're-encrypt the values of a protected column not under the active key versions, in batches of one transaction each (FOR UPDATE SKIP LOCKED), as the caller';
REVOKE ALL ON PROCEDURE finsec.protected_rekey_column(regclass, name, integer) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE finsec.protected_rekey_column(regclass, name, integer) TO finsec_admin;

-- (end of section 2)

-- ---------------------------------------------------------------------
-- 3. Sensitivity labels: the finsec label provider's clearances,
--    labelled_columns(), label_suggestions().
-- ---------------------------------------------------------------------

/*
 * The provider itself is C (src/protect/label.c, registered when the
 * library is preloaded): SECURITY LABEL FOR finsec ON TABLE|COLUMN ...
 * IS 'public'|'internal'|'quasi_identifier'|'identifier'|'sensitive'.
 * Setting or raising a label is the owner's (PostgreSQL's check);
 * lowering or removing a restricted one is the two-person kind
 * protect.label_change.  A role reads a column whose effective label is
 * restricted only with a clearance (granting: protect.clearance_grant;
 * revoking: direct); columns of a protected type are readable as masks.
 */
CREATE TABLE finsec.label_clearance (
	label			text NOT NULL CHECK (label IN ('quasi_identifier', 'identifier', 'sensitive')),
	grantee			name NOT NULL,
	audited			boolean NOT NULL DEFAULT true,
	request_id		bigint,
	requested_by	name,
	granted_by		name NOT NULL DEFAULT session_user,
	granted_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (label, grantee)
);
COMMENT ON TABLE finsec.label_clearance IS
	'finsec: roles cleared to read columns labelled up to label (members of grantee included); audited = false: reads leave no label.read row';
SELECT pg_catalog.pg_extension_config_dump('finsec.label_clearance', '');
REVOKE ALL ON TABLE finsec.label_clearance FROM PUBLIC;
GRANT SELECT ON TABLE finsec.label_clearance TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._label_clearance_changed() RETURNS trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'finsec_label_clearance_changed';
REVOKE ALL ON FUNCTION finsec._label_clearance_changed() FROM PUBLIC;
CREATE TRIGGER label_clearance_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON finsec.label_clearance
	FOR EACH STATEMENT EXECUTE FUNCTION finsec._label_clearance_changed();

CREATE FUNCTION finsec._label_current(tbl regclass, col name)
RETURNS text
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'finsec_label_current';
COMMENT ON FUNCTION finsec._label_current(regclass, name) IS
	'internal: the finsec label of a table (col NULL) or column, after checking it can carry one';
REVOKE ALL ON FUNCTION finsec._label_current(regclass, name) FROM PUBLIC;

CREATE FUNCTION finsec._label_apply(tbl regclass, col name, new_label text, expected text)
RETURNS text
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'finsec_label_apply';
COMMENT ON FUNCTION finsec._label_apply(regclass, name, text, text) IS
	'internal: apply an approved protect.label_change (the label must still be the one pinned); returns the label replaced';
REVOKE ALL ON FUNCTION finsec._label_apply(regclass, name, text, text) FROM PUBLIC;

CREATE FUNCTION finsec._label_effective(tbl regclass, attnum smallint)
RETURNS text
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'finsec_label_effective';
COMMENT ON FUNCTION finsec._label_effective(regclass, smallint) IS
	'internal: the effective finsec label of a column (attnum 0: of the table), through inheritance both ways';
REVOKE ALL ON FUNCTION finsec._label_effective(regclass, smallint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._label_effective(regclass, smallint)
	TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec._label_masked_type(typ oid)
RETURNS boolean
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'finsec_label_masked_type';
COMMENT ON FUNCTION finsec._label_masked_type(oid) IS
	'internal: is the type (or its base or element type) one of finsec''s protected types, whose output is a mask';
REVOKE ALL ON FUNCTION finsec._label_masked_type(oid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._label_masked_type(oid)
	TO finsec_admin, finsec_auditor, finsec_operator;

-- protect.label_change: prepare pins the label it replaces.
CREATE FUNCTION finsec._label_change_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass;
	col name;
	new_label text;
	cur text;
BEGIN
	IF jsonb_typeof(payload) IS DISTINCT FROM 'object' OR jsonb_typeof(payload->'relid') IS DISTINCT FROM 'number'
	   OR jsonb_typeof(coalesce(payload->'column', 'null')) NOT IN ('string', 'null')
	   OR jsonb_typeof(coalesce(payload->'label', 'null')) NOT IN ('string', 'null')
	   OR EXISTS (SELECT 1 FROM jsonb_object_keys(payload) k WHERE k NOT IN ('relid', 'column', 'label')) THEN
		RAISE EXCEPTION 'a protect.label_change request needs the payload {"relid": <table OID>, "column": <name or null>, "label": <label or null>}'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF (payload->>'relid')::numeric NOT BETWEEN 1 AND 4294967295 THEN
		RAISE EXCEPTION 'relid of a protect.label_change request is not a table OID' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	rel := (payload->>'relid')::numeric::bigint::oid;
	col := payload->>'column';
	new_label := payload->>'label';
	IF new_label IS NOT NULL AND new_label NOT IN ('public', 'internal', 'quasi_identifier', 'identifier', 'sensitive') THEN
		RAISE EXCEPTION '"%" is not a finsec sensitivity label', new_label
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The labels are public, internal, quasi_identifier, identifier and sensitive.';
	END IF;
	cur := finsec._label_current(rel, col);
	IF cur IS NOT DISTINCT FROM new_label THEN
		RAISE EXCEPTION '% already has the finsec label %', CASE WHEN col IS NULL THEN format('table %s', rel)
			ELSE format('column %I of %s', col, rel) END, coalesce(new_label, '(none)')
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	RETURN jsonb_build_object('relid', rel::oid::bigint, 'relation', rel::text, 'column', col,
							  'label', new_label, 'replaces', cur);
END
$$;
REVOKE ALL ON FUNCTION finsec._label_change_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._label_change_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass;
	old text;
BEGIN
	SELECT c.oid INTO rel FROM pg_class c WHERE c.oid = (payload->>'relid')::numeric::bigint::oid;
	IF rel IS NULL THEN
		RAISE EXCEPTION 'the table of change request % no longer exists', request_id
			USING ERRCODE = 'undefined_table';
	END IF;
	old := finsec._label_apply(rel, payload->>'column', payload->>'label', payload->>'replaces');
	PERFORM finsec.audit_event('label.change', target, 'change', true,
							   'finsec label changed on approval',
							   jsonb_build_object('request_id', request_id, 'relation', rel::text,
												  'column', payload->>'column', 'label', payload->>'label',
												  'replaced', old),
							   session_user);
	RETURN jsonb_build_object('relation', rel::text, 'column', payload->>'column',
							  'label', payload->>'label', 'replaced', old);
END
$$;
REVOKE ALL ON FUNCTION finsec._label_change_apply(bigint, text, text, jsonb) FROM PUBLIC;

-- protect.clearance_grant: prepare checks the role and pins the clearance it replaces.
CREATE FUNCTION finsec._label_grant_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cur finsec.label_clearance;
BEGIN
	IF jsonb_typeof(payload) IS DISTINCT FROM 'object'
	   OR jsonb_typeof(payload->'label') IS DISTINCT FROM 'string'
	   OR jsonb_typeof(payload->'grantee') IS DISTINCT FROM 'string'
	   OR jsonb_typeof(payload->'audited') IS DISTINCT FROM 'boolean'
	   OR EXISTS (SELECT 1 FROM jsonb_object_keys(payload) k WHERE k NOT IN ('label', 'grantee', 'audited')) THEN
		RAISE EXCEPTION 'a protect.clearance_grant request needs the payload {"label": <label>, "grantee": <role>, "audited": <boolean>}'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF payload->>'label' NOT IN ('quasi_identifier', 'identifier', 'sensitive') THEN
		RAISE EXCEPTION '"%" is not a finsec label that needs a clearance', payload->>'label'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Clearances are for quasi_identifier, identifier and sensitive; a clearance for a label covers the lower ones.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = payload->>'grantee') THEN
		RAISE EXCEPTION 'role "%" does not exist', payload->>'grantee'
			USING ERRCODE = 'undefined_object';
	END IF;
	SELECT * INTO cur FROM finsec.label_clearance c
	 WHERE c.label = payload->>'label' AND c.grantee = payload->>'grantee';
	IF FOUND AND cur.audited = (payload->>'audited')::boolean THEN
		RAISE EXCEPTION 'role "%" already holds this clearance for %', payload->>'grantee', payload->>'label'
			USING ERRCODE = 'duplicate_object';
	END IF;
	RETURN payload || jsonb_build_object('replaces_audited', cur.audited);
END
$$;
REVOKE ALL ON FUNCTION finsec._label_grant_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._label_grant_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	requester name;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = payload->>'grantee') THEN
		RAISE EXCEPTION 'role "%" does not exist', payload->>'grantee'
			USING ERRCODE = 'undefined_object';
	END IF;
	SELECT cr.requested_by INTO requester FROM finsec.change_request cr WHERE cr.request_id = _label_grant_apply.request_id;
	INSERT INTO finsec.label_clearance AS c (label, grantee, audited, request_id, requested_by, granted_by, granted_at)
	VALUES (payload->>'label', payload->>'grantee', (payload->>'audited')::boolean, request_id, requester,
			session_user, now())
	ON CONFLICT (label, grantee) DO UPDATE
	   SET audited = EXCLUDED.audited, request_id = EXCLUDED.request_id,
		   requested_by = EXCLUDED.requested_by, granted_by = EXCLUDED.granted_by,
		   granted_at = EXCLUDED.granted_at;
	PERFORM finsec.audit_event('label.clearance_grant', target, 'grant', true,
							   'finsec label clearance granted on approval',
							   jsonb_build_object('request_id', request_id, 'label', payload->>'label',
												  'grantee', payload->>'grantee',
												  'audited', (payload->>'audited')::boolean,
												  'requested_by', requester),
							   session_user);
	RETURN jsonb_build_object('label', payload->>'label', 'grantee', payload->>'grantee',
							  'audited', (payload->>'audited')::boolean);
END
$$;
REVOKE ALL ON FUNCTION finsec._label_grant_apply(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('protect.label_change', 'finsec._label_change_prepare(text, text, jsonb)',
	 'finsec._label_change_apply(bigint, text, text, jsonb)', NULL,
	 'change or remove the finsec sensitivity label of a table or column (target: table[.column]; the label replaced is pinned at request)'),
	('protect.clearance_grant', 'finsec._label_grant_prepare(text, text, jsonb)',
	 'finsec._label_grant_apply(bigint, text, text, jsonb)', NULL,
	 'grant a role a clearance to read columns labelled up to a label (target: role:label)');

CREATE FUNCTION finsec.label_change(tbl regclass, col name, new_label text, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT finsec.request_change('protect.label_change',
								 coalesce($1::text, '?') || coalesce('.' || quote_ident($2), ''),
								 jsonb_build_object('relid', $1::oid::bigint, 'column', $2, 'label', $3), $4)
$$;
COMMENT ON FUNCTION finsec.label_change(regclass, name, text, text) IS
	'request a change or removal (new_label NULL) of the finsec label of a table (col NULL) or column; another finsec_admin approves (finsec.approve)';
REVOKE ALL ON FUNCTION finsec.label_change(regclass, name, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.label_change(regclass, name, text, text) TO finsec_admin;

CREATE FUNCTION finsec.label_grant(label text, grantee name, audited boolean DEFAULT true, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT finsec.request_change('protect.clearance_grant', coalesce($2::text, '?') || ':' || coalesce($1, '?'),
								 jsonb_build_object('label', $1, 'grantee', $2, 'audited', $3), $4)
$$;
COMMENT ON FUNCTION finsec.label_grant(text, name, boolean, text) IS
	'request a clearance for a role to read columns labelled up to label (audited = false: no label.read rows); another finsec_admin approves';
REVOKE ALL ON FUNCTION finsec.label_grant(text, name, boolean, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.label_grant(text, name, boolean, text) TO finsec_admin;

CREATE FUNCTION finsec.label_revoke(label text, grantee name, reason text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	gone boolean;
BEGIN
	PERFORM finsec._require_admin('revoke');
	IF label IS NULL OR grantee IS NULL THEN
		RAISE EXCEPTION 'label and grantee must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	DELETE FROM finsec.label_clearance c WHERE c.label = label_revoke.label AND c.grantee = label_revoke.grantee;
	gone := FOUND;
	PERFORM finsec.audit_event('label.clearance_revoke', grantee || ':' || label, 'revoke', gone, reason,
							   jsonb_build_object('label', label, 'grantee', grantee, 'revoked', gone),
							   session_user);
	RETURN gone;
END
$$;
COMMENT ON FUNCTION finsec.label_revoke(text, name, text) IS
	'revoke a label clearance at once (taking a right away needs one administrator); false when there was none';
REVOKE ALL ON FUNCTION finsec.label_revoke(text, name, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.label_revoke(text, name, text) TO finsec_admin;

CREATE FUNCTION finsec.labelled_columns()
RETURNS TABLE (table_name regclass, column_name name, label text, effective_label text, masked boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH RECURSIVE labelled AS (
		SELECT DISTINCT s.objoid AS relid FROM pg_seclabel s
		 WHERE s.provider = 'finsec' AND s.classoid = 'pg_class'::regclass
	), descendants(relid) AS (
		SELECT relid FROM labelled
		UNION
		SELECT i.inhrelid FROM pg_inherits i JOIN descendants d ON i.inhparent = d.relid
	), ancestors(relid) AS (
		SELECT relid FROM labelled
		UNION
		SELECT i.inhparent FROM pg_inherits i JOIN ancestors a ON i.inhrelid = a.relid
	), rels AS (
		SELECT relid FROM descendants UNION SELECT relid FROM ancestors
	), cols AS (
		SELECT c.oid AS relid, a.attname, a.attnum, a.atttypid
		  FROM rels JOIN pg_class c ON c.oid = rels.relid
		  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		UNION ALL
		SELECT rels.relid, NULL::name, 0::smallint, NULL::oid FROM rels
	)
	SELECT x.relid::regclass, x.attname, s.label, x.effective, x.masked
	  FROM (SELECT cols.*, finsec._label_effective(cols.relid, cols.attnum) AS effective,
				   CASE WHEN cols.attnum > 0 THEN finsec._label_masked_type(cols.atttypid) END AS masked
			  FROM cols) x
	  LEFT JOIN pg_seclabel s ON s.objoid = x.relid AND s.classoid = 'pg_class'::regclass
							 AND s.objsubid = x.attnum AND s.provider = 'finsec'
	 WHERE x.effective IS NOT NULL
	 ORDER BY x.relid::regclass::text, x.attnum
$$;
COMMENT ON FUNCTION finsec.labelled_columns() IS
	'every labelled table (column_name NULL) and column, with its own label, its effective label (inheritance both ways) and whether its type shows only masks';
REVOKE ALL ON FUNCTION finsec.labelled_columns() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.labelled_columns() TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec.label_suggestions()
RETURNS TABLE (table_name regclass, column_name name, column_type regtype, suggested_label text, reason text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT x.relid::regclass, x.attname, x.atttypid::regtype, x.suggestion[1], x.suggestion[2]
	  FROM (SELECT c.oid AS relid, a.attname, a.attnum, a.atttypid,
				   CASE
					 WHEN bt.typnamespace = 'finsec'::regnamespace AND bt.typname IN
						  ('bank_card', 'bank_account', 'cn_resident_id', 'protected_resident_id', 'protected_text')
					   THEN ARRAY['sensitive', 'type finsec.' || bt.typname]
					 WHEN bt.typnamespace = 'finsec'::regnamespace AND bt.typname IN
						  ('uscc', 'protected_uscc', 'cn_mobile', 'protected_mobile')
					   THEN ARRAY['identifier', 'type finsec.' || bt.typname]
					 WHEN bt.typcategory <> 'S' THEN NULL
					 WHEN a.attname ~* '(^|_)(id_?no|id_?card|id_?number|resident_?id|cert_?no)($|_)|身份证|证件号'
					   THEN ARRAY['sensitive', 'name looks like an identity number']
					 WHEN a.attname ~* '(^|_)(phone|mobile|tel|telephone|cellphone)($|_)|手机|电话'
					   THEN ARRAY['identifier', 'name looks like a phone number']
					 WHEN a.attname ~* '(^|_)e_?mail($|_)|邮箱'
					   THEN ARRAY['identifier', 'name looks like an e-mail address']
					 WHEN a.attname ~* '(^|_)(address|addr)($|_)|地址|住址'
					   THEN ARRAY['quasi_identifier', 'name looks like an address']
					 WHEN a.attname ~* '(^|_)name$|姓名'
					   THEN ARRAY['quasi_identifier', 'name looks like a personal name']
				   END AS suggestion
			  FROM pg_class c
			  JOIN pg_namespace n ON n.oid = c.relnamespace
			  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
			  JOIN pg_type t ON t.oid = a.atttypid
			  JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
			 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
			   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'finsec', 'pg_toast')
			   AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%') x
	 WHERE x.suggestion IS NOT NULL
	   AND finsec._label_effective(x.relid, x.attnum) IS NULL
	 ORDER BY x.relid::regclass::text, x.attnum
$$;
COMMENT ON FUNCTION finsec.label_suggestions() IS
	'unlabelled columns that look sensitive (a protected or identifier type, or a name like name/phone/id_no/address/email and their Chinese forms), with a suggested finsec label; label a column public to dismiss it';
REVOKE ALL ON FUNCTION finsec.label_suggestions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.label_suggestions() TO finsec_admin, finsec_auditor, finsec_operator;

-- (end of section 3)

-- ---------------------------------------------------------------------
-- 4. finsec.status(): the keys each protected column needs, now and for
--    the next period.
-- ---------------------------------------------------------------------

/*
 * One row per policy some column uses (a column without a policy uses
 * "default"): ok when its encryption key and fingerprint key have an
 * active version, and for a period policy whose column is registered
 * with finsec.protect_period(), when the keys of the current and of the
 * next period exist, so that writes do not start failing when a period
 * turns.  Shredded periods are not required.
 */
CREATE FUNCTION finsec.status_protect(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	WITH used AS (
		SELECT CASE WHEN a.atttypmod < 0 THEN 0 ELSE a.atttypmod END AS policy_id,
			   count(DISTINCT a.attrelid) AS tables
		  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		 WHERE a.atttypid IN ('finsec.protected_text'::regtype, 'finsec.protected_resident_id'::regtype,
							  'finsec.protected_uscc'::regtype, 'finsec.protected_mobile'::regtype)
		   AND NOT a.attisdropped AND a.attnum > 0 AND c.relkind IN ('r', 'p', 'm')
		 GROUP BY 1
	), active AS (
		SELECT k.label, k.purpose
		  FROM finsec.key k JOIN finsec.key_version v ON v.key_id = k.key_id
		 WHERE v.state = 'active'
	), periods AS (
		SELECT p.policy_name, b.period, b.first_day
		  FROM used u JOIN finsec.protect_policy p ON p.policy_id = u.policy_id
		 CROSS JOIN LATERAL (VALUES (current_date),
							 ((current_date + CASE p.period_unit WHEN 'day' THEN interval '1 day'
												   WHEN 'month' THEN interval '1 month'
												   ELSE interval '1 year' END)::date)) AS d(day)
		 CROSS JOIN LATERAL finsec._protect_period_bounds(p.period_unit, d.day) AS b
		 WHERE p.period_unit IS NOT NULL
		   AND EXISTS (SELECT FROM finsec.protect_period_column pc WHERE pc.policy_name = p.policy_name)
		   AND NOT EXISTS (SELECT FROM finsec.protect_shredded s
						   WHERE s.policy_name = p.policy_name AND s.period = b.period)
	), missing AS (
		SELECT p.policy_name, l.label
		  FROM used u JOIN finsec.protect_policy p ON p.policy_id = u.policy_id
		 CROSS JOIN LATERAL (VALUES (p.enc_key, 'encryption'), (p.fp_key, 'fingerprint')) AS l(label, purpose)
		 WHERE p.period_unit IS NULL AND l.label IS NOT NULL
		   AND NOT EXISTS (SELECT FROM active a WHERE a.label = l.label AND a.purpose = l.purpose)
		UNION ALL
		SELECT pe.policy_name, l.label
		  FROM periods pe JOIN finsec.protect_policy p ON p.policy_name = pe.policy_name
		 CROSS JOIN LATERAL finsec._protect_period_labels(p, pe.period) AS l
		 WHERE NOT EXISTS (SELECT FROM active a WHERE a.label = l.label)
	)
	SELECT 'protect_keys', true,
		   'no column has a protected type (finsec.protected_text, protected_resident_id, protected_uscc, protected_mobile)'
	 WHERE NOT EXISTS (SELECT FROM used)
	UNION ALL
	SELECT 'protect_keys:' || p.policy_name,
		   NOT EXISTS (SELECT FROM missing m WHERE m.policy_name = p.policy_name),
		   CASE WHEN NOT EXISTS (SELECT FROM missing m WHERE m.policy_name = p.policy_name)
				THEN format('%s table(s) use policy %s; its keys are active', u.tables, p.policy_name)
				ELSE format('%s table(s) use policy %s, but key(s) %s have no active version: see docs/protected-data.md#keys',
							u.tables, p.policy_name,
							(SELECT string_agg(m.label, ', ' ORDER BY m.label) FROM missing m
							  WHERE m.policy_name = p.policy_name))
		   END
	  FROM used u JOIN finsec.protect_policy p ON p.policy_id = u.policy_id
$$;
COMMENT ON FUNCTION finsec.status_protect() IS
	'protected data in finsec.status(): per policy in use, whether its keys (and for period policies those of the current and the next period) are active';
REVOKE ALL ON FUNCTION finsec.status_protect() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_protect() TO finsec_admin, finsec_auditor, finsec_operator;

-- (end of section 4)
