/* finsec 1.2 -> 1.3 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '1.3'" to load this file. \quit

-- =====================================================================
-- Compliance self-check and reports (issue 19, docs/compliance.md): the
-- clause catalog of the four standards, finsec.compliance_check() that
-- inspects the live system clause by clause (and says cannot_verify,
-- never pass, where the caller cannot see), exclusions by two people,
-- the disaster-recovery level, the backup register, the reports and the
-- printable HTML report.  Requirements P1, U4, Q1, B1, B2, B3-B6 and the
-- check half of A1c, A4, A5, A6, A9-A14, A17, A18, D1, D13, C7, W8.
--
-- Calling convention of a check (section 2): a function
--	  f(args jsonb, OUT status text, OUT evidence jsonb)
-- registered in finsec.compliance_check_def, SECURITY INVOKER (it sees
-- what its caller sees), status one of pass, fail, warn, cannot_verify,
-- out_of_scope; finsec.compliance_check() turns manual clauses into
-- manual and excluded clauses into excluded itself.  A check that cannot
-- see what it must judge returns cannot_verify with evidence saying
-- what it could not read; an error inside a check is cannot_verify too.
-- =====================================================================

-- ---------------------------------------------------------------------
-- 1. Catalog: finsec.clause, the checks, which clause each check answers
--    (with that clause's numbers), exclusions.
-- ---------------------------------------------------------------------

/*
 * The checks finsec knows: one function each (calling convention above).
 * builtin rows are finsec's; a customer may add checks of its own internal
 * controls (builtin false): the function must be owned by a superuser, or
 * compliance_check() reports the check as cannot_verify without calling it
 * (a function a non-superuser can redefine must never run under an
 * auditor's or a superuser's privileges).
 */
CREATE TABLE finsec.compliance_check_def (
	check_name	text PRIMARY KEY CHECK (check_name ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$'),
	function	regprocedure NOT NULL,
	title_zh	text NOT NULL,
	title_en	text NOT NULL,
	builtin		boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE finsec.compliance_check_def IS
	'the checks of finsec.compliance_check(): a function (args jsonb, OUT status text, OUT evidence jsonb) each; customer checks have builtin false';
REVOKE ALL ON TABLE finsec.compliance_check_def FROM PUBLIC;
GRANT SELECT ON TABLE finsec.compliance_check_def TO finsec_admin, finsec_auditor;

/*
 * The clause catalog: every clause of the four standards that a database
 * can enforce or check, and the organisational ones as manual.  Data, not
 * code: a customer adds its own internal controls (builtin false).
 */
CREATE TABLE finsec.clause (
	clause_id		text PRIMARY KEY CHECK (clause_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]*$'),
	standard		text NOT NULL,			-- 'JR/T 0199-2020', 'JR/T 0096.5-2012', 'JR/T 0117-2014', 'PAY-FAC-V3.0', or the customer's own
	clause			text NOT NULL,			-- the standard's own clause number, e.g. '7.5.9 a'
	digest_ids		text[] NOT NULL DEFAULT '{}',	-- the requirement digest's ids (A1, D2, ...) that cite it
	title_zh		text NOT NULL,
	title_en		text NOT NULL,
	requirement_zh	text NOT NULL,
	requirement_en	text NOT NULL,
	kind			text NOT NULL CHECK (kind IN ('automated', 'manual')),
	level			text,					-- enhanced ('增强') or basic, where the standard grades it
	control			text NOT NULL,			-- the finsec control that answers it (docs page and object)
	remediation_zh	text NOT NULL,
	remediation_en	text NOT NULL,
	refs			text,					-- further references (other standards' clauses, docs)
	builtin			boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE finsec.clause IS
	'clause catalog of the four standards (and the customer''s own controls, builtin false): requirement and remediation in Chinese and English, automated or manual, the finsec control';
REVOKE ALL ON TABLE finsec.clause FROM PUBLIC;
GRANT SELECT ON TABLE finsec.clause TO finsec_admin, finsec_auditor;

/* Which checks answer a clause, with that clause's own numbers (args). */
CREATE TABLE finsec.clause_check (
	clause_id	text NOT NULL REFERENCES finsec.clause ON UPDATE CASCADE ON DELETE CASCADE,
	check_name	text NOT NULL REFERENCES finsec.compliance_check_def ON UPDATE CASCADE,
	args		jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(args) = 'object'),
	builtin		boolean NOT NULL DEFAULT false,
	PRIMARY KEY (clause_id, check_name)
);
COMMENT ON TABLE finsec.clause_check IS
	'the checks that verify each clause, with the clause''s thresholds as args';
REVOKE ALL ON TABLE finsec.clause_check FROM PUBLIC;
GRANT SELECT ON TABLE finsec.clause_check TO finsec_admin, finsec_auditor;

-- (end of section 1)



-- ---------------------------------------------------------------------
-- 1b. The catalog's rows: the four standards, clause by clause (clause
--     ids '<seed>:<clause>', e.g. '004:7.5.9a', '004:8.3.4b-enh').
--     Sections 3 and 4 map their checks onto these rows.
-- ---------------------------------------------------------------------

-- (end of section 1b)



-- ---------------------------------------------------------------------
-- 2. finsec.compliance_check(standard, lang) and compliance_exclude.
-- ---------------------------------------------------------------------

-- (end of section 2)



-- ---------------------------------------------------------------------
-- 3. Checks of identity, credentials, roles, connections, logging,
--    keys and the ledger.
-- ---------------------------------------------------------------------

/*
 * Facts the self-check needs that PostgreSQL 15 shows to superusers only.
 * Each is a narrow SECURITY DEFINER function: it reads system catalogs and
 * settings only, runs no code a non-superuser can define, and returns no
 * secret (never a password hash, never an LDAP bind password or RADIUS
 * secret).  Granted to finsec_admin and finsec_auditor.
 */

-- Settings readable only with pg_read_all_settings, none of them secret.
CREATE FUNCTION finsec.compliance_settings(
	OUT name text,
	OUT setting text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT s.name, s.setting FROM pg_settings s
	 WHERE s.name IN ('ssl', 'ssl_ciphers', 'ssl_min_protocol_version', 'ssl_max_protocol_version',
					  'ssl_prefer_server_ciphers', 'shared_preload_libraries')
	 ORDER BY s.name
$$;
COMMENT ON FUNCTION finsec.compliance_settings() IS
	'the ssl and preload settings the compliance self-check judges (readable otherwise only with pg_read_all_settings); no secret';
REVOKE ALL ON FUNCTION finsec.compliance_settings() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.compliance_settings() TO finsec_admin, finsec_auditor;

-- pg_hba_file_rules, with the values of secret options replaced.
CREATE FUNCTION finsec.compliance_hba_rules(
	OUT line_number integer,
	OUT type text,
	OUT database text[],
	OUT user_name text[],
	OUT address text,
	OUT netmask text,
	OUT auth_method text,
	OUT options text[],
	OUT error text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT h.line_number, h.type, h.database, h.user_name, h.address, h.netmask, h.auth_method,
		   ARRAY(SELECT CASE WHEN split_part(o, '=', 1) ~* '(passw|secret|key)'
							 THEN split_part(o, '=', 1) || '=<redacted>' ELSE o END
				   FROM unnest(h.options) WITH ORDINALITY AS u(o, n) ORDER BY n),
		   h.error
	  FROM pg_hba_file_rules h
	 ORDER BY h.line_number
$$;
COMMENT ON FUNCTION finsec.compliance_hba_rules() IS
	'pg_hba_file_rules for the compliance self-check, values of secret options (ldapbindpasswd, radiussecrets, ...) redacted';
REVOKE ALL ON FUNCTION finsec.compliance_hba_rules() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.compliance_hba_rules() TO finsec_admin, finsec_auditor;

-- The kind of each role's password verifier; never the verifier itself.
CREATE FUNCTION finsec.compliance_role_verifiers(
	OUT role name,
	OUT can_login boolean,
	OUT verifier text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT a.rolname, a.rolcanlogin,
		   CASE WHEN a.rolpassword LIKE 'SCRAM-SHA-256$%' THEN 'scram-sha-256'
				WHEN a.rolpassword ~ '^md5[0-9a-f]{32}$' THEN 'md5'
				ELSE 'plaintext' END
	  FROM pg_authid a
	 WHERE a.rolpassword IS NOT NULL
	 ORDER BY a.rolname
$$;
COMMENT ON FUNCTION finsec.compliance_role_verifiers() IS
	'the kind of password verifier (scram-sha-256, md5, plaintext) of each role that has a password; never the verifier';
REVOKE ALL ON FUNCTION finsec.compliance_role_verifiers() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.compliance_role_verifiers() TO finsec_admin, finsec_auditor;

/*
 * Helpers of the hba checks (no privilege of their own: plain SQL over
 * their arguments and pg_has_role).
 */
-- Does a pg_hba line's user list reach role r ('all', its name, or +group)?
CREATE FUNCTION finsec._compliance_hba_reaches(users text[], r oid)
RETURNS boolean
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (
		SELECT 1 FROM unnest(users) u
		 WHERE u = 'all'
			OR u = (SELECT rolname::text FROM pg_roles WHERE oid = r)
			OR (left(u, 1) = '+'
				AND EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = substr(u, 2)
							   AND pg_has_role(r, g.oid, 'MEMBER'))))
$$;
REVOKE ALL ON FUNCTION finsec._compliance_hba_reaches(text[], oid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_hba_reaches(text[], oid) TO finsec_admin, finsec_auditor;

-- Is a pg_hba line's address every address ('all', 0.0.0.0/0, ::/0)?
CREATE FUNCTION finsec._compliance_hba_wide(address text, netmask text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(address = 'all'
					OR (netmask ~ '^[0-9a-fA-F:.]+$' AND netmask::inet IN ('0.0.0.0'::inet, '::'::inet)),
					false)
$$;
REVOKE ALL ON FUNCTION finsec._compliance_hba_wide(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_hba_wide(text, text) TO finsec_admin, finsec_auditor;

-- One line of pg_hba.conf as evidence.
CREATE FUNCTION finsec._compliance_hba_line(h record)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN jsonb_build_object('line', h.line_number, 'type', h.type, 'database', to_jsonb(h.database),
							  'user', to_jsonb(h.user_name),
							  'address', CASE WHEN h.netmask IS NULL THEN h.address
											  ELSE h.address || '/' || h.netmask END,
							  'method', h.auth_method, 'options', to_jsonb(h.options));
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_hba_line(record) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_hba_line(record) TO finsec_admin, finsec_auditor;

-- A threshold of a check's args: an integer (default dflt when absent or
-- null); anything else is refused, naming the argument (S9Q10).
CREATE FUNCTION finsec._compliance_arg_int(args jsonb, key text, dflt integer)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v jsonb := args -> key;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN dflt;
	END IF;
	IF jsonb_typeof(v) <> 'number' OR v::text !~ '^-?[0-9]{1,9}$' THEN
		RAISE EXCEPTION 'The compliance check argument "%" is not an integer of at most nine digits.', key
			USING ERRCODE = 'S9Q10', DETAIL = format('It is %s.', left(v::text, 40)),
				  HINT = 'Correct the args of the clause''s row in finsec.clause_check.';
	END IF;
	RETURN v::text::integer;
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_arg_int(jsonb, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_arg_int(jsonb, text, integer) TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._compliance_arg_bool(args jsonb, key text, dflt boolean)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v jsonb := args -> key;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN dflt;
	END IF;
	IF jsonb_typeof(v) <> 'boolean' THEN
		RAISE EXCEPTION 'The compliance check argument "%" is not true or false.', key
			USING ERRCODE = 'S9Q10', DETAIL = format('It is %s.', left(v::text, 40)),
				  HINT = 'Correct the args of the clause''s row in finsec.clause_check.';
	END IF;
	RETURN v::text::boolean;
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_arg_bool(jsonb, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_arg_bool(jsonb, text, boolean) TO finsec_admin, finsec_auditor;

-- The evidence of a caller that may not call a function it needs.
CREATE FUNCTION finsec._compliance_cannot(fn text)
RETURNS jsonb
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT jsonb_build_object('reason', format('%s may not execute %s', quote_ident(current_user::text), fn),
							  'needs', format('EXECUTE on %s (a member of finsec_admin or finsec_auditor)', fn))
$$;
REVOKE ALL ON FUNCTION finsec._compliance_cannot(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_cannot(text) TO finsec_admin, finsec_auditor;

-- ------------------------------ finsec itself, keys -------------------

CREATE FUNCTION finsec._check_finsec_preloaded(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT has_function_privilege('finsec.preloaded()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.preloaded()'); RETURN;
	END IF;
	status := CASE WHEN finsec.preloaded() THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('preloaded', finsec.preloaded());
END
$$;

CREATE FUNCTION finsec._check_finsec_components(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	missing text[];
	bad jsonb;
	n integer;
BEGIN
	-- finsec.status() calls every finsec.status_*(): the caller needs them all.
	SELECT array_agg(p.oid::regprocedure::text ORDER BY p.proname) INTO missing
	  FROM pg_proc p
	 WHERE p.pronamespace = 'finsec'::regnamespace AND p.proname LIKE 'status\_%' AND p.pronargs = 0
	   AND NOT has_function_privilege(p.oid, 'EXECUTE');
	IF missing IS NOT NULL OR NOT has_function_privilege('finsec.status()', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not execute finsec.status() or a component function it calls',
									   'needs', 'EXECUTE on finsec.status() and every finsec.status_*() (finsec_admin, finsec_auditor, finsec_operator)',
									   'functions', to_jsonb(coalesce(missing, ARRAY['finsec.status()'])));
		RETURN;
	END IF;
	SELECT count(*), coalesce(jsonb_agg(jsonb_build_object('component', s.component, 'detail', s.detail)
										ORDER BY s.component) FILTER (WHERE NOT s.ok), '[]')
	  INTO n, bad
	  FROM finsec.status() s;
	status := CASE WHEN jsonb_array_length(bad) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('components', n, 'not_ok', bad,
								   'program_integrity', 'finsec.status() has no program-integrity component in this version');
END
$$;

CREATE FUNCTION finsec._check_master_key(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m record;
BEGIN
	IF NOT has_function_privilege('finsec.keyring_master()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.keyring_master()'); RETURN;
	END IF;
	SELECT * INTO m FROM finsec.keyring_master();
	status := CASE WHEN m.loaded AND m.problem IS NULL THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('loaded', coalesce(m.loaded, false), 'check_value', m.check_value,
								   'problem', m.problem);
END
$$;

-- The last recorded verification (ledger event of type kind) within the interval.
CREATE FUNCTION finsec._compliance_last_verify(kind text, object text, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	secs bigint := (SELECT s.setting::bigint FROM pg_settings s WHERE s.name = 'finsec.compliance_verify_interval');
	e record;
BEGIN
	IF NOT has_table_privilege('finsec.audit', 'SELECT') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', format('%s may not read the audit ledger, where %s results are recorded',
														 quote_ident(current_user::text), kind),
									   'needs', 'SELECT on finsec.audit (finsec_auditor)');
		RETURN;
	END IF;
	SELECT a.event_time, a.success, a.db_user, a.detail INTO e
	  FROM finsec.audit a
	 WHERE a.event_type = kind AND (_compliance_last_verify.object IS NULL OR a.object = _compliance_last_verify.object)
	   AND a.event_time >= now() - make_interval(secs => secs)
	 ORDER BY a.event_time DESC, a.finsec_seq DESC LIMIT 1;
	IF NOT FOUND THEN
		status := 'fail';
		evidence := jsonb_build_object('event_type', kind, 'interval_seconds', secs,
									   'last', NULL, 'problem', format('no %s recorded within the last %s seconds', kind, secs));
		RETURN;
	END IF;
	status := CASE WHEN e.success THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('event_type', kind, 'interval_seconds', secs,
								   'last', e.event_time, 'success', e.success,
								   'by', quote_ident(e.db_user::text), 'detail', e.detail);
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_last_verify(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_last_verify(text, text) TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._check_keys_verified(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_last_verify('key.verify', 'keyring') $$;

CREATE FUNCTION finsec._check_ledger_verified(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_last_verify('audit.verify', NULL) $$;

CREATE FUNCTION finsec._check_key_rotation(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	max_days integer := finsec._compliance_arg_int(args, 'max_age_days', 365);
	old jsonb;
	n integer;
BEGIN
	IF NOT has_table_privilege('finsec.key_inventory', 'SELECT') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', format('%s may not read finsec.key_inventory', quote_ident(current_user::text)),
									   'needs', 'SELECT on finsec.key_inventory (finsec_admin, finsec_auditor)');
		RETURN;
	END IF;
	SELECT count(*), coalesce(jsonb_agg(jsonb_build_object('label', k.label, 'version', k.version,
														   'active_since', coalesce(k.activated_at, k.created_at))
										ORDER BY k.label, k.version)
								 FILTER (WHERE coalesce(k.activated_at, k.created_at) < now() - make_interval(days => max_days)), '[]')
	  INTO n, old
	  FROM finsec.key_inventory k WHERE k.state = 'active';
	status := CASE WHEN jsonb_array_length(old) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('max_age_days', max_days, 'active_versions', n, 'overdue', old);
END
$$;

-- ------------------------------ passwords ----------------------------

-- A finsec password setting, or NULL when finsec is not preloaded (then
-- the setting does not exist and nothing is enforced).
CREATE FUNCTION finsec._check_password_min_length(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	want integer := finsec._compliance_arg_int(args, 'min_length', 8);
	have integer := current_setting('finsec.password_min_length', true)::integer;
	pre boolean := finsec.preloaded();
BEGIN
	status := CASE WHEN pre AND have >= want THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'finsec.password_min_length', 'value', have, 'min_length', want,
								   'enforced', pre);
END
$$;

CREATE FUNCTION finsec._check_password_classes(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	want integer := finsec._compliance_arg_int(args, 'min_classes', 3);
	have integer := current_setting('finsec.password_min_classes', true)::integer;
	pre boolean := finsec.preloaded();
BEGIN
	status := CASE WHEN pre AND have >= want THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'finsec.password_min_classes', 'value', have, 'min_classes', want,
								   'enforced', pre);
END
$$;

CREATE FUNCTION finsec._check_password_max_age(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	max_days integer := finsec._compliance_arg_int(args, 'max_days', 180);
	app_days integer := finsec._compliance_arg_int(args, 'app_max_days', 90);
	setting interval := nullif(current_setting('finsec.password_max_age', true), '0')::interval;
	pre boolean := finsec.preloaded();
	app oid := to_regrole('finsec_app');
	late jsonb;
	probs text[] := '{}';
BEGIN
	IF NOT has_function_privilege('finsec.role_inventory()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.role_inventory()'); RETURN;
	END IF;
	IF NOT pre THEN
		probs := probs || 'finsec is not preloaded: password expiry is not enforced'::text;
	END IF;
	IF setting IS NULL THEN
		probs := probs || 'finsec.password_max_age is 0 (off)'::text;
	ELSIF setting > make_interval(days => max_days) THEN
		probs := probs || format('finsec.password_max_age %s exceeds %s days', setting, max_days);
	END IF;
	-- each login role with a password: VALID UNTIL within its maximum
	SELECT coalesce(jsonb_agg(jsonb_build_object('role', quote_ident(i.role::text), 'valid_until', i.valid_until,
												 'max_days', d.lim) ORDER BY i.role), '[]')
	  INTO late
	  FROM finsec.role_inventory() i
	  JOIN pg_roles r ON r.rolname = i.role
	 CROSS JOIN LATERAL (SELECT CASE WHEN app IS NOT NULL AND pg_has_role(r.oid, app, 'MEMBER') AND NOT r.rolsuper
									 THEN app_days ELSE max_days END AS lim) d
	 WHERE i.has_password
	   AND (i.valid_until IS NULL OR i.valid_until > now() + make_interval(days => d.lim));
	status := CASE WHEN cardinality(probs) = 0 AND jsonb_array_length(late) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'finsec.password_max_age', 'value', current_setting('finsec.password_max_age', true),
								   'max_days', max_days, 'app_max_days', app_days,
								   'problems', to_jsonb(probs), 'roles_beyond_max_age', late);
END
$$;

CREATE FUNCTION finsec._check_password_encryption(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	want text := coalesce(args ->> 'value', 'scram-sha-256');
	have text := current_setting('password_encryption');
BEGIN
	status := CASE WHEN have = want THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'password_encryption', 'value', have, 'required', want);
END
$$;

CREATE FUNCTION finsec._check_password_verifiers(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	weak jsonb;
	n integer;
BEGIN
	IF NOT has_function_privilege('finsec.compliance_role_verifiers()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.compliance_role_verifiers()'); RETURN;
	END IF;
	SELECT count(*), coalesce(jsonb_agg(jsonb_build_object('role', quote_ident(v.role::text), 'verifier', v.verifier,
														   'can_login', v.can_login) ORDER BY v.role)
								 FILTER (WHERE v.verifier <> 'scram-sha-256'), '[]')
	  INTO n, weak
	  FROM finsec.compliance_role_verifiers() v;
	status := CASE WHEN jsonb_array_length(weak) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('roles_with_password', n, 'weak_verifiers', weak);
END
$$;

CREATE FUNCTION finsec._check_login_valid_until(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	bad jsonb;
	n integer;
BEGIN
	IF NOT has_function_privilege('finsec.role_inventory()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.role_inventory()'); RETURN;
	END IF;
	SELECT count(*) FILTER (WHERE i.has_password),
		   coalesce(jsonb_agg(quote_ident(i.role::text) ORDER BY i.role)
					FILTER (WHERE i.has_password AND (i.valid_until IS NULL OR i.valid_until = 'infinity')), '[]')
	  INTO n, bad
	  FROM finsec.role_inventory() i;
	status := CASE WHEN jsonb_array_length(bad) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('login_roles_with_password', n, 'without_valid_until', bad);
END
$$;

-- ------------------------------ roles --------------------------------

CREATE FUNCTION finsec._check_superusers(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	max_extra integer := finsec._compliance_arg_int(args, 'max_extra', 0);
	extra jsonb;
BEGIN
	SELECT coalesce(jsonb_agg(jsonb_build_object('role', quote_ident(r.rolname::text), 'can_login', r.rolcanlogin)
							  ORDER BY r.rolname), '[]')
	  INTO extra
	  FROM pg_roles r WHERE r.rolsuper AND r.oid <> 10;
	status := CASE WHEN jsonb_array_length(extra) <= max_extra THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('bootstrap_superuser', (SELECT quote_ident(rolname::text) FROM pg_roles WHERE oid = 10),
								   'max_extra', max_extra, 'extra_superusers', extra);
END
$$;

-- Business schemas: every schema but the system's and finsec's.
CREATE FUNCTION finsec._compliance_business_schemas()
RETURNS SETOF oid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT n.oid FROM pg_namespace n
	 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'finsec', 'pg_toast')
	   AND n.nspname !~ '^pg_(toast_)?temp_'
$$;
REVOKE ALL ON FUNCTION finsec._compliance_business_schemas() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_business_schemas() TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._check_duty_conflicts(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	bad jsonb;
BEGIN
	-- duties each non-superuser login role holds (membership, direct or not)
	WITH duty AS (
		SELECT r.oid, r.rolname, d.duty
		  FROM pg_roles r
		  JOIN (VALUES ('finsec_admin'), ('finsec_auditor'), ('finsec_operator'), ('finsec_app'), ('finsec_unmask')) d(duty)
			ON to_regrole(d.duty) IS NOT NULL AND pg_has_role(r.oid, to_regrole(d.duty), 'MEMBER')
		 WHERE r.rolcanlogin AND NOT r.rolsuper
		UNION ALL
		-- developer (judged for operators only, the one pair it is in): CREATE
		-- on a business schema, or owner (or member of the owner) of a table of one
		SELECT r.oid, r.rolname, 'developer'
		  FROM pg_roles r
		 WHERE r.rolcanlogin AND NOT r.rolsuper
		   AND to_regrole('finsec_operator') IS NOT NULL AND pg_has_role(r.oid, to_regrole('finsec_operator'), 'MEMBER')
		   AND (EXISTS (SELECT 1 FROM finsec._compliance_business_schemas() s
						 WHERE has_schema_privilege(r.oid, s, 'CREATE'))
				OR EXISTS (SELECT 1 FROM (SELECT DISTINCT c.relowner FROM pg_class c
										   WHERE c.relnamespace IN (SELECT finsec._compliance_business_schemas())
											 AND c.relkind IN ('r', 'p')) o
							WHERE pg_has_role(r.oid, o.relowner, 'USAGE')))
	), pairs(a, b) AS (VALUES
		('finsec_admin', 'finsec_auditor'), ('finsec_admin', 'finsec_operator'),
		('finsec_auditor', 'finsec_operator'), ('finsec_admin', 'finsec_unmask'),
		('finsec_auditor', 'finsec_app'), ('finsec_operator', 'developer'))
	SELECT coalesce(jsonb_agg(jsonb_build_object('role', quote_ident(x.rolname::text), 'duties', jsonb_build_array(p.a, p.b))
							  ORDER BY x.rolname, p.a, p.b), '[]')
	  INTO bad
	  FROM pairs p
	  JOIN duty x ON x.duty = p.a
	  JOIN duty y ON y.oid = x.oid AND y.duty = p.b;
	status := CASE WHEN jsonb_array_length(bad) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('conflicting_pairs', '[["finsec_admin","finsec_auditor"],["finsec_admin","finsec_operator"],["finsec_auditor","finsec_operator"],["finsec_admin","finsec_unmask"],["finsec_auditor","finsec_app"],["finsec_operator","developer"]]'::jsonb,
								   'developer', 'CREATE on a business schema or owner of a business table',
								   'superusers', 'not judged here (see the superusers check)',
								   'conflicts', bad);
END
$$;

CREATE FUNCTION finsec._check_duty_two_people(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	want integer := finsec._compliance_arg_int(args, 'min_people', 2);
	duties text[];
	counts jsonb;
	short jsonb;
BEGIN
	IF args ? 'duties' AND jsonb_typeof(args -> 'duties') = 'array' THEN
		duties := ARRAY(SELECT jsonb_array_elements_text(args -> 'duties'));
	ELSE
		duties := ARRAY['finsec_admin', 'finsec_auditor', 'finsec_operator'];
	END IF;
	SELECT jsonb_object_agg(d, jsonb_build_object('holders', h.names)),
		   coalesce(jsonb_agg(d ORDER BY d) FILTER (WHERE cardinality(h.names) < want), '[]')
	  INTO counts, short
	  FROM unnest(duties) d
	 CROSS JOIN LATERAL (
		SELECT ARRAY(SELECT quote_ident(r.rolname::text) FROM pg_roles r
					  WHERE r.rolcanlogin AND NOT r.rolsuper
						AND (r.rolvaliduntil IS NULL OR r.rolvaliduntil > now())
						AND to_regrole(d) IS NOT NULL AND pg_has_role(r.oid, to_regrole(d), 'MEMBER')
					  ORDER BY r.rolname) AS names) h;
	status := CASE WHEN jsonb_array_length(short) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('min_people', want, 'duties', coalesce(counts, '{}'), 'understaffed', short);
END
$$;

CREATE FUNCTION finsec._check_default_accounts(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	names text[];
	bad jsonb;
BEGIN
	IF jsonb_typeof(args -> 'names') = 'array' THEN
		names := ARRAY(SELECT lower(jsonb_array_elements_text(args -> 'names')));
	ELSE
		names := ARRAY['postgres', 'admin', 'administrator', 'test', 'demo', 'guest', 'user', 'root', 'sa', 'dba'];
	END IF;
	IF NOT has_function_privilege('finsec.role_inventory()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.role_inventory()'); RETURN;
	END IF;
	SELECT coalesce(jsonb_agg(quote_ident(i.role::text) ORDER BY i.role), '[]') INTO bad
	  FROM finsec.role_inventory() i
	 WHERE i.has_password AND lower(i.role::text) = ANY (names);
	status := CASE WHEN jsonb_array_length(bad) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('names', to_jsonb(names), 'default_accounts_with_password', bad);
END
$$;

CREATE FUNCTION finsec._check_inactive_roles(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	secs bigint := (SELECT s.setting::bigint FROM pg_settings s WHERE s.name = 'finsec.compliance_inactive_after');
	f regprocedure := to_regprocedure('finsec.role_last_login()');
	bad jsonb;
	unknown jsonb;
	since timestamptz;
BEGIN
	IF f IS NULL THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'this finsec has no finsec.role_last_login()', 'needs', 'finsec.role_last_login()');
		RETURN;
	END IF;
	IF NOT has_function_privilege(f, 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.role_last_login()'); RETURN;
	END IF;
	EXECUTE $q$
		SELECT min(l.recording_since),
			   coalesce(jsonb_agg(jsonb_build_object('role', quote_ident(r.rolname::text), 'last_login_at', l.last_login_at)
								  ORDER BY r.rolname)
						FILTER (WHERE coalesce(l.last_login_at, l.recording_since) < now() - make_interval(secs => $1)), '[]'),
			   coalesce(jsonb_agg(quote_ident(r.rolname::text) ORDER BY r.rolname)
						FILTER (WHERE l.last_login_at IS NULL
								AND (l.recording_since IS NULL OR l.recording_since >= now() - make_interval(secs => $1))), '[]')
		  FROM pg_roles r
		  LEFT JOIN finsec.role_last_login() l ON l.role = r.rolname
		 WHERE r.rolcanlogin
		   AND (r.rolvaliduntil IS NULL OR r.rolvaliduntil > now())$q$
	  INTO since, bad, unknown USING secs;
	status := CASE WHEN jsonb_array_length(bad) > 0 THEN 'fail'
				   WHEN jsonb_array_length(unknown) > 0 THEN 'warn' ELSE 'pass' END;
	evidence := jsonb_build_object('inactive_after_seconds', secs, 'recording_since', since,
								   'inactive', bad, 'not_yet_judged', unknown);
END
$$;

CREATE FUNCTION finsec._check_privileged_attributes(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	repl text[] := CASE WHEN jsonb_typeof(args -> 'replication_roles') = 'array'
						THEN ARRAY(SELECT jsonb_array_elements_text(args -> 'replication_roles')) ELSE '{}' END;
	bad jsonb;
BEGIN
	SELECT coalesce(jsonb_agg(jsonb_build_object('role', quote_ident(r.rolname::text),
												 'attributes', to_jsonb(array_remove(ARRAY[
													CASE WHEN r.rolcreaterole THEN 'CREATEROLE' END,
													CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END,
													CASE WHEN r.rolreplication AND r.rolname <> ALL (repl) THEN 'REPLICATION' END], NULL)))
							  ORDER BY r.rolname), '[]')
	  INTO bad
	  FROM pg_roles r
	 WHERE r.rolcanlogin AND NOT r.rolsuper
	   AND (r.rolcreaterole OR r.rolbypassrls OR (r.rolreplication AND r.rolname <> ALL (repl)));
	status := CASE WHEN jsonb_array_length(bad) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('replication_roles', to_jsonb(repl), 'roles', bad);
END
$$;

CREATE FUNCTION finsec._check_public_privileges(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	lim integer := 100;
	schemas jsonb;
	tabs jsonb;
	funcs jsonb;
	ntabs integer;
	nfuncs integer;
BEGIN
	-- PUBLIC CREATE on any schema (public included)
	SELECT coalesce(jsonb_agg(quote_ident(n.nspname::text) ORDER BY n.nspname), '[]') INTO schemas
	  FROM pg_namespace n
	 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname !~ '^pg_(toast_)?temp_'
	   AND EXISTS (SELECT 1 FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) x
				    WHERE x.grantee = 0 AND x.privilege_type = 'CREATE');
	-- PUBLIC privileges on relations of business schemas (not extension members)
	SELECT count(*), coalesce(jsonb_agg(t.j ORDER BY t.k) FILTER (WHERE t.rn <= lim), '[]') INTO ntabs, tabs
	  FROM (SELECT format('%I.%I', n.nspname, c.relname) AS k,
				   jsonb_build_object('relation', format('%I.%I', n.nspname, c.relname),
									  'privileges', (SELECT jsonb_agg(DISTINCT x.privilege_type)
													   FROM aclexplode(c.relacl) x WHERE x.grantee = 0)) AS j,
				   row_number() OVER (ORDER BY n.nspname, c.relname) AS rn
			  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			 WHERE c.relnamespace IN (SELECT finsec._compliance_business_schemas())
			   AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.relacl IS NOT NULL
			   AND EXISTS (SELECT 1 FROM aclexplode(c.relacl) x WHERE x.grantee = 0)
			   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
								  AND d.objid = c.oid AND d.deptype = 'e')) t;
	-- PUBLIC EXECUTE on SECURITY DEFINER functions of business schemas
	SELECT count(*), coalesce(jsonb_agg(t.k ORDER BY t.k) FILTER (WHERE t.rn <= lim), '[]') INTO nfuncs, funcs
	  FROM (SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS k,
				   row_number() OVER (ORDER BY n.nspname, p.proname, p.oid) AS rn
			  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			 WHERE p.prosecdef AND p.pronamespace IN (SELECT finsec._compliance_business_schemas())
			   AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) x
							WHERE x.grantee = 0 AND x.privilege_type = 'EXECUTE')
			   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
								  AND d.objid = p.oid AND d.deptype = 'e')) t;
	status := CASE WHEN jsonb_array_length(schemas) = 0 AND ntabs = 0 AND nfuncs = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('public_create_schemas', schemas,
								   'public_relations', ntabs, 'relations', tabs,
								   'public_security_definer_functions', nfuncs, 'functions', funcs,
								   'listed_at_most', lim);
END
$$;

-- ------------------------------ connections --------------------------

-- A setting of finsec.compliance_settings(), or NULL if the caller may not.
CREATE FUNCTION finsec._compliance_setting(n text)
RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT s.setting FROM finsec.compliance_settings() s WHERE s.name = n
$$;
REVOKE ALL ON FUNCTION finsec._compliance_setting(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_setting(text) TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._check_ssl_enabled(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	status := CASE WHEN current_setting('ssl') = 'on' THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'ssl', 'value', current_setting('ssl'));
END
$$;

CREATE FUNCTION finsec._check_ssl_protocol(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	versions text[] := ARRAY['', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
	want text := coalesce(args ->> 'min', 'TLSv1.2');
	have text;
BEGIN
	IF NOT has_function_privilege('finsec.compliance_settings()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.compliance_settings()'); RETURN;
	END IF;
	have := finsec._compliance_setting('ssl_min_protocol_version');
	status := CASE WHEN current_setting('ssl') <> 'on' THEN 'fail'
				   WHEN array_position(versions, have) >= coalesce(array_position(versions, want), 4) THEN 'pass'
				   ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'ssl_min_protocol_version', 'value', have, 'min', want,
								   'ssl', current_setting('ssl'));
END
$$;

CREATE FUNCTION finsec._check_ssl_ciphers(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ciphers text;
	minv text;
	tok text;
	toks text[];
	allowed text[] := '{}';
	banned text[] := '{}';
	w text;
	open text[] := '{}';
BEGIN
	IF NOT has_function_privilege('finsec.compliance_settings()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.compliance_settings()'); RETURN;
	END IF;
	ciphers := finsec._compliance_setting('ssl_ciphers');
	minv := finsec._compliance_setting('ssl_min_protocol_version');
	IF minv = 'TLSv1.3' THEN
		-- ssl_ciphers governs TLS 1.2 and older only; TLS 1.3 suites are all strong
		status := 'pass';
		evidence := jsonb_build_object('setting', 'ssl_ciphers', 'value', ciphers, 'ssl_min_protocol_version', minv,
									   'note', 'only TLS 1.3 is accepted, whose cipher suites are all of 128 bits or more');
		RETURN;
	END IF;
	toks := regexp_split_to_array(upper(coalesce(ciphers, '')), '[:, ]+');
	FOREACH tok IN ARRAY toks LOOP
		CONTINUE WHEN tok = '';
		IF left(tok, 1) = '!' THEN
			banned := banned || regexp_split_to_array(substr(tok, 2), '\+');
		ELSIF left(tok, 1) IN ('-', '+', '@') THEN
			CONTINUE;		-- removes (for now) or reorders: enables nothing
		ELSE
			allowed := allowed || regexp_split_to_array(tok, '\+');
		END IF;
	END LOOP;
	-- a weak class is open when a token enables it (or everything) and no ! removes it
	FOREACH w IN ARRAY ARRAY['NULL', 'EXPORT', 'RC4', 'DES', '3DES', 'MD5', 'MEDIUM', 'LOW', 'ANULL'] LOOP
		IF (w = ANY (allowed)
			OR (w IN ('NULL', 'ANULL') AND 'ENULL' = ANY (allowed))
			OR (w = 'EXPORT' AND 'EXP' = ANY (allowed))
			OR (allowed && ARRAY['ALL', 'COMPLEMENTOFALL', 'DEFAULT', 'COMPLEMENTOFDEFAULT'])
			OR (w = '3DES' AND 'MEDIUM' = ANY (allowed)))
		   AND NOT (w = ANY (banned)
					OR (w = 'NULL' AND 'ENULL' = ANY (banned))
					OR (w = 'EXPORT' AND 'EXP' = ANY (banned))) THEN
			open := open || w;
		END IF;
	END LOOP;
	status := CASE WHEN cardinality(open) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'ssl_ciphers', 'value', ciphers, 'ssl_min_protocol_version', minv,
								   'weak_classes_allowed', to_jsonb(open),
								   'judged', 'NULL, EXPORT, RC4, DES, 3DES, MD5, MEDIUM, LOW, aNULL must each be excluded with !');
END
$$;

-- pg_hba checks: every line, through the definer fact function.
CREATE FUNCTION finsec._compliance_hba(which text, args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	h record;
	bad jsonb := '[]';
	weak jsonb := '[]';
	errors jsonb := '[]';
	n integer := 0;
	supers oid[];
	batch text[];
	batch_oids oid[];
	admins oid[];
	r oid;
BEGIN
	IF NOT has_function_privilege('finsec.compliance_hba_rules()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.compliance_hba_rules()'); RETURN;
	END IF;
	supers := ARRAY(SELECT oid FROM pg_roles WHERE rolsuper);
	admins := supers || ARRAY(SELECT oid FROM pg_roles WHERE rolcanlogin AND NOT rolsuper
								 AND to_regrole('finsec_admin') IS NOT NULL
								 AND pg_has_role(oid, to_regrole('finsec_admin'), 'MEMBER'));
	IF which = 'batch' THEN
		batch := ARRAY(SELECT btrim(x) FROM regexp_split_to_table(current_setting('finsec.compliance_batch_roles'), ',') x
						WHERE btrim(x) <> '');
		IF cardinality(batch) = 0 THEN
			status := 'out_of_scope';
			evidence := jsonb_build_object('setting', 'finsec.compliance_batch_roles', 'value', '',
										   'reason', 'no batch client role is declared');
			RETURN;
		END IF;
		batch_oids := ARRAY(SELECT oid FROM pg_roles WHERE rolname = ANY (batch));
	END IF;
	FOR h IN SELECT * FROM finsec.compliance_hba_rules() LOOP
		n := n + 1;
		IF h.error IS NOT NULL THEN
			errors := errors || jsonb_build_object('line', h.line_number, 'error', h.error);
			CONTINUE;
		END IF;
		CONTINUE WHEN h.auth_method = 'reject';
		IF which = 'trust' THEN
			IF h.auth_method = 'trust' THEN bad := bad || finsec._compliance_hba_line(h); END IF;
		ELSIF which = 'password_ssl' THEN
			IF h.type IN ('host', 'hostnossl') AND h.auth_method IN ('password', 'md5') THEN
				bad := bad || finsec._compliance_hba_line(h);
			END IF;
		ELSIF which = 'superuser_wide' THEN
			IF h.type <> 'local' AND finsec._compliance_hba_wide(h.address, h.netmask)
			   AND EXISTS (SELECT 1 FROM unnest(supers) s WHERE finsec._compliance_hba_reaches(h.user_name, s)) THEN
				bad := bad || finsec._compliance_hba_line(h);
			END IF;
		ELSIF which = 'batch' THEN
			IF EXISTS (SELECT 1 FROM unnest(batch_oids) b WHERE finsec._compliance_hba_reaches(h.user_name, b))
			   AND NOT (h.type = 'hostssl'
						AND (h.auth_method = 'cert' OR 'clientcert=verify-full' = ANY (h.options))) THEN
				bad := bad || finsec._compliance_hba_line(h);
			END IF;
		ELSIF which = 'admin' THEN
			CONTINUE WHEN NOT EXISTS (SELECT 1 FROM unnest(admins) a WHERE finsec._compliance_hba_reaches(h.user_name, a));
			IF h.type = 'local' THEN
				IF h.auth_method NOT IN ('peer', 'scram-sha-256', 'cert') THEN
					bad := bad || finsec._compliance_hba_line(h);
				END IF;
			ELSIF h.type <> 'hostssl' OR h.auth_method NOT IN ('cert', 'scram-sha-256')
				  OR finsec._compliance_hba_wide(h.address, h.netmask) THEN
				bad := bad || finsec._compliance_hba_line(h);
			ELSIF h.auth_method = 'scram-sha-256'
				  AND NOT h.options && ARRAY['clientcert=verify-full', 'clientcert=verify-ca'] THEN
				weak := weak || finsec._compliance_hba_line(h);		-- one factor only
			END IF;
		END IF;
	END LOOP;
	status := CASE WHEN jsonb_array_length(errors) > 0 OR jsonb_array_length(bad) > 0 THEN 'fail'
				   WHEN jsonb_array_length(weak) > 0 THEN 'warn'
				   WHEN which = 'batch' AND cardinality(batch_oids) < cardinality(batch) THEN 'warn'
				   ELSE 'pass' END;
	evidence := jsonb_build_object('hba_lines', n, 'errors', errors, 'offending_lines', bad);
	IF which = 'admin' THEN
		evidence := evidence || jsonb_build_object('single_factor_lines', weak,
			'admin_roles', (SELECT coalesce(jsonb_agg(quote_ident(rolname::text) ORDER BY rolname), '[]')
							  FROM pg_roles WHERE oid = ANY (admins)));
	ELSIF which = 'batch' THEN
		evidence := evidence || jsonb_build_object('batch_roles', to_jsonb(batch),
			'undefined_roles', to_jsonb(ARRAY(SELECT x FROM unnest(batch) x
											   WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = x))));
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_hba(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_hba(text, jsonb) TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._check_hba_no_trust(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_hba('trust', args) $$;
CREATE FUNCTION finsec._check_hba_password_over_ssl(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_hba('password_ssl', args) $$;
CREATE FUNCTION finsec._check_hba_superuser_wide(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_hba('superuser_wide', args) $$;
CREATE FUNCTION finsec._check_hba_batch_clientcert(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_hba('batch', args) $$;
CREATE FUNCTION finsec._check_admin_strong_auth(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_hba('admin', args) $$;

-- A timeout setting (milliseconds) at most max_seconds and not 0.
CREATE FUNCTION finsec._compliance_timeout(name text, args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	max_s bigint := finsec._compliance_arg_int(args, 'max_seconds', 1800);
	ms bigint := (SELECT s.setting::bigint FROM pg_settings s WHERE s.name = _compliance_timeout.name);
BEGIN
	status := CASE WHEN ms > 0 AND ms <= max_s * 1000 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', name, 'value_ms', ms, 'max_seconds', max_s);
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_timeout(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_timeout(text, jsonb) TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._check_idle_session_timeout(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_timeout('idle_session_timeout', args) $$;
CREATE FUNCTION finsec._check_idle_in_transaction_timeout(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_timeout('idle_in_transaction_session_timeout', args) $$;

CREATE FUNCTION finsec._check_connection_limits(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	max_total integer := finsec._compliance_arg_int(args, 'max_connections', 1000);
	per_role boolean := finsec._compliance_arg_bool(args, 'require_per_role', true);
	have integer := current_setting('max_connections')::integer;
	unlimited jsonb;
BEGIN
	SELECT coalesce(jsonb_agg(quote_ident(r.rolname::text) ORDER BY r.rolname), '[]') INTO unlimited
	  FROM pg_roles r WHERE r.rolcanlogin AND NOT r.rolsuper AND r.rolconnlimit < 0;
	status := CASE WHEN have > max_total OR (per_role AND jsonb_array_length(unlimited) > 0) THEN 'fail' ELSE 'pass' END;
	evidence := jsonb_build_object('max_connections', have, 'max_connections_allowed', max_total,
								   'require_per_role', per_role, 'login_roles_without_limit', unlimited);
END
$$;

CREATE FUNCTION finsec._check_resource_limits(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	want text[] := ARRAY['statement_timeout', 'temp_file_limit', 'work_mem'];
	app oid := to_regrole('finsec_app');
	n integer;
	bad jsonb;
BEGIN
	IF jsonb_typeof(args -> 'settings') = 'array' THEN
		want := ARRAY(SELECT jsonb_array_elements_text(args -> 'settings'));
	END IF;
	SELECT count(*),
		   coalesce(jsonb_agg(jsonb_build_object('role', quote_ident(r.rolname::text), 'missing', to_jsonb(m.missing))
							  ORDER BY r.rolname) FILTER (WHERE cardinality(m.missing) > 0), '[]')
	  INTO n, bad
	  FROM pg_roles r
	 CROSS JOIN LATERAL (
		SELECT ARRAY(SELECT w FROM unnest(want) w
					  WHERE NOT EXISTS (SELECT 1 FROM pg_db_role_setting s, unnest(s.setconfig) c
										 WHERE s.setrole = r.oid
										   AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
										   AND split_part(c, '=', 1) = w)) AS missing) m
	 WHERE app IS NOT NULL AND r.rolcanlogin AND NOT r.rolsuper AND pg_has_role(r.oid, app, 'MEMBER');
	IF n = 0 THEN
		status := 'out_of_scope';
		evidence := jsonb_build_object('reason', 'no login role is a member of finsec_app', 'settings', to_jsonb(want));
		RETURN;
	END IF;
	status := CASE WHEN jsonb_array_length(bad) = 0 THEN 'pass' ELSE 'warn' END;
	evidence := jsonb_build_object('settings', to_jsonb(want), 'application_roles', n, 'roles_missing_limits', bad);
END
$$;

-- ------------------------------ logging, the ledger ------------------

CREATE FUNCTION finsec._check_log_connections(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	status := CASE WHEN current_setting('log_connections') = 'on' THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'log_connections', 'value', current_setting('log_connections'));
END
$$;

CREATE FUNCTION finsec._check_log_disconnections(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	status := CASE WHEN current_setting('log_disconnections') = 'on' THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'log_disconnections', 'value', current_setting('log_disconnections'));
END
$$;

CREATE FUNCTION finsec._check_log_ddl(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ls text := current_setting('log_statement');
	spl text;
	pga text := current_setting('pgaudit.log', true);
BEGIN
	IF ls IN ('ddl', 'mod', 'all') THEN
		status := 'pass';
		evidence := jsonb_build_object('setting', 'log_statement', 'value', ls);
		RETURN;
	END IF;
	IF NOT has_function_privilege('finsec.compliance_settings()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.compliance_settings()'); RETURN;
	END IF;
	spl := finsec._compliance_setting('shared_preload_libraries');
	status := CASE WHEN 'pgaudit' = ANY (regexp_split_to_array(spl, '\s*,\s*'))
					AND EXISTS (SELECT 1 FROM regexp_split_to_table(lower(coalesce(pga, '')), '\s*,\s*') c
								 WHERE c IN ('ddl', 'all'))
					AND NOT EXISTS (SELECT 1 FROM regexp_split_to_table(lower(coalesce(pga, '')), '\s*,\s*') c
									 WHERE c IN ('-ddl'))
			  THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'log_statement', 'value', ls, 'shared_preload_libraries', spl,
								   'pgaudit.log', pga);
END
$$;

CREATE FUNCTION finsec._check_ledger_retention(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	want integer := finsec._compliance_arg_int(args, 'min_days', 183);
	have_s bigint := (SELECT CASE s.unit WHEN 'd' THEN s.setting::bigint * 86400 WHEN 'h' THEN s.setting::bigint * 3600
										  WHEN 'min' THEN s.setting::bigint * 60 WHEN 'ms' THEN s.setting::bigint / 1000
										  ELSE s.setting::bigint END
						FROM pg_settings s WHERE s.name = 'finsec.audit_retention');
BEGIN
	IF have_s IS NULL THEN
		status := 'fail';
		evidence := jsonb_build_object('setting', 'finsec.audit_retention', 'value', NULL, 'min_days', want,
									   'problem', 'finsec is not preloaded: the ledger retention is not defined');
		RETURN;
	END IF;
	status := CASE WHEN have_s >= want::bigint * 86400 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'finsec.audit_retention', 'value', current_setting('finsec.audit_retention'),
								   'days', round(have_s / 86400.0, 2), 'min_days', want);
END
$$;

CREATE FUNCTION finsec._check_ledger_capacity(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s record;
BEGIN
	IF NOT has_function_privilege('finsec.status_audit()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.status_audit()'); RETURN;
	END IF;
	SELECT * INTO s FROM finsec.status_audit() a WHERE a.component = 'audit_capacity';
	IF NOT FOUND THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'finsec.status_audit() has no audit_capacity row', 'needs', 'finsec 0.2 or later');
		RETURN;
	END IF;
	status := CASE WHEN s.ok THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('component', 'audit_capacity', 'ok', s.ok, 'detail', s.detail,
								   'capacity_warning', current_setting('finsec.audit_capacity_warning', true));
END
$$;

-- Every check of this section: invoker rights, finsec_admin and finsec_auditor.
DO $grants$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
			  WHERE p.pronamespace = 'finsec'::regnamespace AND p.proname IN (
				'_check_finsec_preloaded', '_check_finsec_components', '_check_master_key', '_check_keys_verified',
				'_check_key_rotation', '_check_password_min_length', '_check_password_classes',
				'_check_password_max_age', '_check_password_encryption', '_check_password_verifiers',
				'_check_login_valid_until', '_check_superusers', '_check_duty_conflicts', '_check_duty_two_people',
				'_check_default_accounts', '_check_inactive_roles', '_check_privileged_attributes',
				'_check_public_privileges', '_check_ssl_enabled', '_check_ssl_protocol', '_check_ssl_ciphers',
				'_check_hba_no_trust', '_check_hba_password_over_ssl', '_check_hba_superuser_wide',
				'_check_hba_batch_clientcert', '_check_admin_strong_auth', '_check_idle_session_timeout',
				'_check_idle_in_transaction_timeout', '_check_connection_limits', '_check_resource_limits',
				'_check_log_connections', '_check_log_disconnections', '_check_log_ddl', '_check_ledger_verified',
				'_check_ledger_retention', '_check_ledger_capacity')
	LOOP
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
		EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO finsec_admin, finsec_auditor', f);
	END LOOP;
END
$grants$;

INSERT INTO finsec.compliance_check_def (check_name, function, title_zh, title_en, builtin) VALUES
	('finsec_preloaded', 'finsec._check_finsec_preloaded(jsonb)', 'finsec 已预加载', 'finsec is preloaded', true),
	('finsec_components', 'finsec._check_finsec_components(jsonb)', 'finsec 各组件状态正常', 'finsec components are ok', true),
	('master_key', 'finsec._check_master_key(jsonb)', '主密钥已加载', 'Keyring master key loaded', true),
	('keys_verified', 'finsec._check_keys_verified(jsonb)', '密钥定期校验', 'Keys verified recently', true),
	('key_rotation', 'finsec._check_key_rotation(jsonb)', '密钥按期更换', 'No key overdue for rotation', true),
	('password_min_length', 'finsec._check_password_min_length(jsonb)', '口令最小长度', 'Password minimum length', true),
	('password_classes', 'finsec._check_password_classes(jsonb)', '口令复杂度（字符类别）', 'Password character classes', true),
	('password_max_age', 'finsec._check_password_max_age(jsonb)', '口令最长有效期', 'Password maximum age', true),
	('password_encryption', 'finsec._check_password_encryption(jsonb)', '口令加密存储（scram-sha-256）', 'Password encryption (scram-sha-256)', true),
	('password_verifiers', 'finsec._check_password_verifiers(jsonb)', '无 md5 或明文口令', 'No md5 or plaintext password verifier', true),
	('login_valid_until', 'finsec._check_login_valid_until(jsonb)', '登录角色口令均有有效期', 'Every login password has VALID UNTIL', true),
	('superusers', 'finsec._check_superusers(jsonb)', '超级用户最少化', 'No superuser beyond the bootstrap role', true),
	('duty_conflicts', 'finsec._check_duty_conflicts(jsonb)', '职责分离（无互斥职责兼任）', 'No login role holds conflicting duties', true),
	('duty_two_people', 'finsec._check_duty_two_people(jsonb)', '关键岗位至少两人（A/B 角）', 'Each finsec duty held by two people', true),
	('default_accounts', 'finsec._check_default_accounts(jsonb)', '无默认账户', 'No default account with a password', true),
	('inactive_roles', 'finsec._check_inactive_roles(jsonb)', '无长期未用账户', 'No inactive login role', true),
	('privileged_attributes', 'finsec._check_privileged_attributes(jsonb)', '特权属性最小化', 'No CREATEROLE, BYPASSRLS or stray REPLICATION', true),
	('public_privileges', 'finsec._check_public_privileges(jsonb)', '无 PUBLIC 权限', 'No privileges granted to PUBLIC', true),
	('ssl_enabled', 'finsec._check_ssl_enabled(jsonb)', '启用 SSL', 'SSL enabled', true),
	('ssl_protocol', 'finsec._check_ssl_protocol(jsonb)', 'SSL 最低协议版本', 'SSL minimum protocol version', true),
	('ssl_ciphers', 'finsec._check_ssl_ciphers(jsonb)', '强加密套件', 'Strong SSL ciphers only', true),
	('hba_no_trust', 'finsec._check_hba_no_trust(jsonb)', '无免认证（trust）访问', 'No trust lines in pg_hba.conf', true),
	('hba_password_over_ssl', 'finsec._check_hba_password_over_ssl(jsonb)', '口令仅经 SSL 传输', 'Passwords only over SSL', true),
	('hba_superuser_wide', 'finsec._check_hba_superuser_wide(jsonb)', '超级用户不可从任意地址访问', 'Superusers not reachable from any address', true),
	('hba_batch_clientcert', 'finsec._check_hba_batch_clientcert(jsonb)', '批量客户端双向认证', 'Batch clients use client certificates', true),
	('admin_strong_auth', 'finsec._check_admin_strong_auth(jsonb)', '管理员强认证与登录地址限制', 'Strong authentication and restricted addresses for administrators', true),
	('idle_session_timeout', 'finsec._check_idle_session_timeout(jsonb)', '空闲会话超时', 'Idle session timeout', true),
	('idle_in_transaction_timeout', 'finsec._check_idle_in_transaction_timeout(jsonb)', '事务内空闲超时', 'Idle in transaction timeout', true),
	('connection_limits', 'finsec._check_connection_limits(jsonb)', '并发连接数限制', 'Connection limits in total and per role', true),
	('resource_limits', 'finsec._check_resource_limits(jsonb)', '应用账户资源限制', 'Resource limits of application roles', true),
	('log_connections', 'finsec._check_log_connections(jsonb)', '记录连接', 'Connections logged', true),
	('log_disconnections', 'finsec._check_log_disconnections(jsonb)', '记录断开连接', 'Disconnections logged', true),
	('log_ddl', 'finsec._check_log_ddl(jsonb)', '记录 DDL 语句', 'DDL statements logged', true),
	('ledger_verified', 'finsec._check_ledger_verified(jsonb)', '审计账本定期校验', 'Audit ledger verified recently', true),
	('ledger_retention', 'finsec._check_ledger_retention(jsonb)', '审计记录保存期限', 'Audit ledger retention', true),
	('ledger_capacity', 'finsec._check_ledger_capacity(jsonb)', '审计存储容量', 'Audit ledger below its capacity warning', true);

-- (end of section 3)



-- ---------------------------------------------------------------------
-- 4. Checks of data: card data in plain columns, sensitive
--    authentication data, unprotected posted tables, unlabelled
--    sensitive columns, outbound links.
-- ---------------------------------------------------------------------

-- (end of section 4)



-- ---------------------------------------------------------------------
-- 4b. Checks of durability and continuity; the backup register;
--     finsec.dr_level().
-- ---------------------------------------------------------------------

-- (end of section 4b)



-- ---------------------------------------------------------------------
-- 5. Reports: finsec.report_*(from, to, lang).
-- ---------------------------------------------------------------------

-- (end of section 5)



-- ---------------------------------------------------------------------
-- 6. The printable report (compliance_report_html) and compliance_json.
-- ---------------------------------------------------------------------

-- (end of section 6)



-- ---------------------------------------------------------------------
-- 7. Last successful login of each role; recorded key and ledger
--    verifications.
-- ---------------------------------------------------------------------

-- (end of section 7)
