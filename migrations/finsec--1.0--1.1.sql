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

-- (end of section 2)

-- ---------------------------------------------------------------------
-- 3. Sensitivity labels: the finsec label provider's clearances,
--    labelled_columns(), label_suggestions().
-- ---------------------------------------------------------------------

-- (end of section 3)
