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

/*
 * The backup register (B2, B4, B5; docs/compliance-continuity.md): what
 * the backup tools and the operators say they did, one row per backup,
 * restore test and switchover drill.  Append-only (the ledger's immutable
 * triggers; a correction is a new row), each row also written to the
 * audit ledger by the function that records it, and dumped with the
 * database (pg_extension_config_dump).  The register is declared, not
 * observed: the checks say so in their evidence.
 */
CREATE TABLE finsec.backup_register (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind			text NOT NULL CHECK (kind IN ('full', 'incremental', 'differential', 'wal')),
	tool			text,
	label			text NOT NULL,
	started_at		timestamptz NOT NULL,
	finished_at		timestamptz NOT NULL,
	size_bytes		bigint CHECK (size_bytes >= 0),
	location		text,			-- credentials in URLs redacted
	retention_until timestamptz,
	success			boolean NOT NULL,
	detail			jsonb CHECK (detail IS NULL OR jsonb_typeof(detail) = 'object'),
	recorded_by		name NOT NULL,
	recorded_at		timestamptz NOT NULL DEFAULT clock_timestamp(),
	CHECK (finished_at >= started_at)
);
CREATE INDEX backup_register_kind_finished ON finsec.backup_register (kind, finished_at);
COMMENT ON TABLE finsec.backup_register IS
	'backups as recorded by finsec.record_backup (001 7.4 b, 004 8.3.5 c, 002 3.2.9); append-only, each row also in the audit ledger';
REVOKE ALL ON TABLE finsec.backup_register FROM PUBLIC;
GRANT SELECT ON TABLE finsec.backup_register TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.backup_register', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.backup_register_id_seq', '');
CREATE TRIGGER finsec_ledger_immutable BEFORE UPDATE OR DELETE ON finsec.backup_register
	FOR EACH ROW EXECUTE FUNCTION finsec.ledger_immutable();
CREATE TRIGGER finsec_ledger_no_truncate BEFORE TRUNCATE ON finsec.backup_register
	FOR EACH STATEMENT EXECUTE FUNCTION finsec.ledger_immutable();
ALTER TABLE finsec.backup_register ENABLE ALWAYS TRIGGER finsec_ledger_immutable,
	ENABLE ALWAYS TRIGGER finsec_ledger_no_truncate;

CREATE TABLE finsec.restore_test (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	backup_label	text,
	started_at		timestamptz NOT NULL,
	finished_at		timestamptz NOT NULL,
	target			text,
	success			boolean NOT NULL,
	rto_seconds		numeric CHECK (rto_seconds >= 0),
	rpo_seconds		numeric CHECK (rpo_seconds >= 0),
	detail			jsonb CHECK (detail IS NULL OR jsonb_typeof(detail) = 'object'),
	recorded_by		name NOT NULL,
	recorded_at		timestamptz NOT NULL DEFAULT clock_timestamp(),
	CHECK (finished_at >= started_at)
);
CREATE INDEX restore_test_finished ON finsec.restore_test (finished_at);
COMMENT ON TABLE finsec.restore_test IS
	'restore tests as recorded by finsec.record_restore_test (001 7.4 c, 004 7.5.11 enhanced b): measured recovery time and point; append-only, each row also in the audit ledger';
REVOKE ALL ON TABLE finsec.restore_test FROM PUBLIC;
GRANT SELECT ON TABLE finsec.restore_test TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.restore_test', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.restore_test_id_seq', '');
CREATE TRIGGER finsec_ledger_immutable BEFORE UPDATE OR DELETE ON finsec.restore_test
	FOR EACH ROW EXECUTE FUNCTION finsec.ledger_immutable();
CREATE TRIGGER finsec_ledger_no_truncate BEFORE TRUNCATE ON finsec.restore_test
	FOR EACH STATEMENT EXECUTE FUNCTION finsec.ledger_immutable();
ALTER TABLE finsec.restore_test ENABLE ALWAYS TRIGGER finsec_ledger_immutable,
	ENABLE ALWAYS TRIGGER finsec_ledger_no_truncate;

CREATE TABLE finsec.switchover_drill (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	from_node		text NOT NULL,
	to_node			text NOT NULL,
	started_at		timestamptz NOT NULL,
	finished_at		timestamptz NOT NULL,
	success			boolean NOT NULL,
	rto_seconds		numeric CHECK (rto_seconds >= 0),
	detail			jsonb CHECK (detail IS NULL OR jsonb_typeof(detail) = 'object'),
	recorded_by		name NOT NULL,
	recorded_at		timestamptz NOT NULL DEFAULT clock_timestamp(),
	CHECK (finished_at >= started_at)
);
CREATE INDEX switchover_drill_finished ON finsec.switchover_drill (finished_at);
COMMENT ON TABLE finsec.switchover_drill IS
	'switchover drills between production and backup as recorded by finsec.record_switchover_drill (001 7.5 b): measured recovery time; append-only, each row also in the audit ledger';
REVOKE ALL ON TABLE finsec.switchover_drill FROM PUBLIC;
GRANT SELECT ON TABLE finsec.switchover_drill TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.switchover_drill', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.switchover_drill_id_seq', '');
CREATE TRIGGER finsec_ledger_immutable BEFORE UPDATE OR DELETE ON finsec.switchover_drill
	FOR EACH ROW EXECUTE FUNCTION finsec.ledger_immutable();
CREATE TRIGGER finsec_ledger_no_truncate BEFORE TRUNCATE ON finsec.switchover_drill
	FOR EACH STATEMENT EXECUTE FUNCTION finsec.ledger_immutable();
ALTER TABLE finsec.switchover_drill ENABLE ALWAYS TRIGGER finsec_ledger_immutable,
	ENABLE ALWAYS TRIGGER finsec_ledger_no_truncate;

/*
 * Common validation of a register row's times and free-text fields
 * (S9Q30, S9Q32): finished not before started, neither later than now
 * plus five minutes of clock skew, nor before 2000; texts of at most 1000
 * characters, detail a jsonb object of at most 64 kB.  Past times are
 * allowed: a hook may record a backup after the fact, from the tool's own
 * report.
 */
CREATE FUNCTION finsec._backup_register_validate(what text, started timestamptz, finished timestamptz,
												 texts text[], detail jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t text;
BEGIN
	IF started IS NULL OR finished IS NULL THEN
		RAISE EXCEPTION 'a % needs started_at and finished_at', what
			USING ERRCODE = 'null_value_not_allowed',
			HINT = 'Give both times, as the tool reports them.';
	END IF;
	IF finished < started THEN
		RAISE EXCEPTION 'a % cannot finish before it started', what
			USING ERRCODE = 'S9Q30',
			DETAIL = format('started_at %s, finished_at %s.', started, finished);
	END IF;
	IF finished > now() + interval '5 minutes' OR started > now() + interval '5 minutes' THEN
		RAISE EXCEPTION 'a % cannot be recorded in the future', what
			USING ERRCODE = 'S9Q30',
			DETAIL = format('finished_at %s is later than the server''s time %s plus five minutes of clock skew.', finished, now()),
			HINT = 'Check the clock of the host that runs the backup tool.';
	END IF;
	IF started < timestamptz '2000-01-01 00:00:00+00' THEN
		RAISE EXCEPTION 'a % cannot have started before 2000', what
			USING ERRCODE = 'S9Q30',
			DETAIL = format('started_at %s.', started);
	END IF;
	FOREACH t IN ARRAY coalesce(texts, '{}'::text[]) LOOP
		IF t IS NOT NULL AND length(t) > 1000 THEN
			RAISE EXCEPTION 'a text argument of a % is longer than 1000 characters', what
				USING ERRCODE = 'S9Q32';
		END IF;
	END LOOP;
	IF detail IS NOT NULL AND (jsonb_typeof(detail) <> 'object' OR octet_length(detail::text) > 65536) THEN
		RAISE EXCEPTION 'the detail of a % must be a jsonb object of at most 64 kB', what
			USING ERRCODE = 'S9Q32';
	END IF;
END
$$;
COMMENT ON FUNCTION finsec._backup_register_validate(text, timestamptz, timestamptz, text[], jsonb) IS
	'validation shared by record_backup, record_restore_test and record_switchover_drill';
REVOKE ALL ON FUNCTION finsec._backup_register_validate(text, timestamptz, timestamptz, text[], jsonb) FROM PUBLIC;

/*
 * A location with its credentials removed: the password of a URL's user
 * information (scheme://user:password@host), and the values of query or
 * option parameters named like secrets (password, secret, token, key,
 * signature, credential).
 */
CREATE FUNCTION finsec._redact_location(location text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp AS $$
SELECT regexp_replace(
		 regexp_replace(location, '(://[^/@:\s]*):[^/@\s]*@', '\1:***@', 'g'),
		 '((?:^|[?&;\s])[A-Za-z0-9_.-]*(?:pass|secret|token|key|signature|credential)[A-Za-z0-9_.-]*=)[^&;\s]*',
		 '\1***', 'gi')
$$;
COMMENT ON FUNCTION finsec._redact_location(text) IS
	'a backup location with the credentials of URLs and secret-named parameters replaced by ***';
REVOKE ALL ON FUNCTION finsec._redact_location(text) FROM PUBLIC;

/*
 * Record a backup (a backup tool's hook or an operator).  SECURITY DEFINER:
 * the register is append-only and only these functions write it; granted
 * to finsec_operator and finsec_admin (a dedicated backup login role is a
 * member of finsec_operator, or is granted EXECUTE on this function alone).
 * Returns the new row's id.
 */
CREATE FUNCTION finsec.record_backup(
	kind text,
	label text,
	started_at timestamptz,
	finished_at timestamptz,
	success boolean DEFAULT true,
	tool text DEFAULT NULL,
	size_bytes bigint DEFAULT NULL,
	location text DEFAULT NULL,
	retention_until timestamptz DEFAULT NULL,
	detail jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	new_id bigint;
	loc text := finsec._redact_location(location);
BEGIN
	IF kind IS NULL OR label IS NULL OR success IS NULL THEN
		RAISE EXCEPTION 'a backup needs a kind, a label and whether it succeeded'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF kind NOT IN ('full', 'incremental', 'differential', 'wal') THEN
		RAISE EXCEPTION 'unknown backup kind "%"', left(kind, 40)
			USING ERRCODE = 'S9Q31',
			HINT = 'A backup kind is full, incremental, differential or wal.';
	END IF;
	IF btrim(label) = '' THEN
		RAISE EXCEPTION 'a backup needs a non-empty label' USING ERRCODE = 'S9Q32';
	END IF;
	IF size_bytes < 0 THEN
		RAISE EXCEPTION 'a backup''s size cannot be negative' USING ERRCODE = 'S9Q32';
	END IF;
	PERFORM finsec._backup_register_validate('backup', started_at, finished_at,
											 ARRAY[label, tool, location], detail);
	IF retention_until < finished_at THEN
		RAISE EXCEPTION 'a backup''s retention cannot end before the backup finished'
			USING ERRCODE = 'S9Q30',
			DETAIL = format('finished_at %s, retention_until %s.', finished_at, retention_until);
	END IF;
	INSERT INTO finsec.backup_register (kind, tool, label, started_at, finished_at, size_bytes,
										location, retention_until, success, detail, recorded_by)
	VALUES (kind, tool, label, started_at, finished_at, size_bytes, loc, retention_until, success,
			detail, session_user)
	RETURNING id INTO new_id;
	PERFORM finsec.audit_event('continuity.backup', 'backup_register:' || new_id, 'record', success,
							   'backup recorded in the backup register',
							   jsonb_build_object('id', new_id, 'kind', kind, 'tool', tool, 'label', label,
												  'started_at', started_at, 'finished_at', finished_at,
												  'size_bytes', size_bytes, 'location', loc,
												  'retention_until', retention_until, 'success', success));
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION finsec.record_backup(text, text, timestamptz, timestamptz, boolean, text, bigint, text, timestamptz, jsonb) IS
	'record a backup in finsec.backup_register (append-only; credentials in the location redacted); audited';
REVOKE ALL ON FUNCTION finsec.record_backup(text, text, timestamptz, timestamptz, boolean, text, bigint, text, timestamptz, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.record_backup(text, text, timestamptz, timestamptz, boolean, text, bigint, text, timestamptz, jsonb)
	TO finsec_operator, finsec_admin;

/*
 * Record a restore test: rto_seconds defaults to the test's duration
 * (finished_at - started_at), the time the service would have been
 * restored in.
 */
CREATE FUNCTION finsec.record_restore_test(
	started_at timestamptz,
	finished_at timestamptz,
	success boolean,
	backup_label text DEFAULT NULL,
	target text DEFAULT NULL,
	rto_seconds numeric DEFAULT NULL,
	rpo_seconds numeric DEFAULT NULL,
	detail jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	new_id bigint;
	rto numeric;
BEGIN
	IF success IS NULL THEN
		RAISE EXCEPTION 'a restore test needs whether it succeeded'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM finsec._backup_register_validate('restore test', started_at, finished_at,
											 ARRAY[backup_label, target], detail);
	IF rto_seconds < 0 OR rpo_seconds < 0 OR rto_seconds = 'NaN' OR rpo_seconds = 'NaN' THEN
		RAISE EXCEPTION 'a restore test''s recovery time and point are non-negative numbers of seconds'
			USING ERRCODE = 'S9Q32';
	END IF;
	rto := coalesce(rto_seconds, round(extract(epoch FROM finished_at - started_at), 3));
	INSERT INTO finsec.restore_test (backup_label, started_at, finished_at, target, success,
									 rto_seconds, rpo_seconds, detail, recorded_by)
	VALUES (backup_label, started_at, finished_at, target, success, rto, rpo_seconds, detail, session_user)
	RETURNING id INTO new_id;
	PERFORM finsec.audit_event('continuity.restore_test', 'restore_test:' || new_id, 'record', success,
							   'restore test recorded in the backup register',
							   jsonb_build_object('id', new_id, 'backup_label', backup_label, 'target', target,
												  'started_at', started_at, 'finished_at', finished_at,
												  'rto_seconds', rto, 'rpo_seconds', rpo_seconds, 'success', success));
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION finsec.record_restore_test(timestamptz, timestamptz, boolean, text, text, numeric, numeric, jsonb) IS
	'record a restore test in finsec.restore_test (append-only); audited';
REVOKE ALL ON FUNCTION finsec.record_restore_test(timestamptz, timestamptz, boolean, text, text, numeric, numeric, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.record_restore_test(timestamptz, timestamptz, boolean, text, text, numeric, numeric, jsonb)
	TO finsec_operator, finsec_admin;

/* Record a switchover drill; rto_seconds defaults to its duration. */
CREATE FUNCTION finsec.record_switchover_drill(
	from_node text,
	to_node text,
	started_at timestamptz,
	finished_at timestamptz,
	success boolean,
	rto_seconds numeric DEFAULT NULL,
	detail jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	new_id bigint;
	rto numeric;
BEGIN
	IF from_node IS NULL OR to_node IS NULL OR success IS NULL THEN
		RAISE EXCEPTION 'a switchover drill needs the node it left, the node it moved to and whether it succeeded'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF btrim(from_node) = '' OR btrim(to_node) = '' THEN
		RAISE EXCEPTION 'a switchover drill needs non-empty node names' USING ERRCODE = 'S9Q32';
	END IF;
	PERFORM finsec._backup_register_validate('switchover drill', started_at, finished_at,
											 ARRAY[from_node, to_node], detail);
	IF rto_seconds < 0 OR rto_seconds = 'NaN' THEN
		RAISE EXCEPTION 'a switchover drill''s recovery time is a non-negative number of seconds'
			USING ERRCODE = 'S9Q32';
	END IF;
	rto := coalesce(rto_seconds, round(extract(epoch FROM finished_at - started_at), 3));
	INSERT INTO finsec.switchover_drill (from_node, to_node, started_at, finished_at, success,
										 rto_seconds, detail, recorded_by)
	VALUES (from_node, to_node, started_at, finished_at, success, rto, detail, session_user)
	RETURNING id INTO new_id;
	PERFORM finsec.audit_event('continuity.switchover_drill', 'switchover_drill:' || new_id, 'record', success,
							   'switchover drill recorded in the backup register',
							   jsonb_build_object('id', new_id, 'from_node', from_node, 'to_node', to_node,
												  'started_at', started_at, 'finished_at', finished_at,
												  'rto_seconds', rto, 'success', success));
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION finsec.record_switchover_drill(text, text, timestamptz, timestamptz, boolean, numeric, jsonb) IS
	'record a switchover drill in finsec.switchover_drill (append-only); audited';
REVOKE ALL ON FUNCTION finsec.record_switchover_drill(text, text, timestamptz, timestamptz, boolean, numeric, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.record_switchover_drill(text, text, timestamptz, timestamptz, boolean, numeric, jsonb)
	TO finsec_operator, finsec_admin;

/*
 * The replication facts an auditor needs and cannot read itself (the
 * state columns of pg_stat_replication and pg_stat_wal_receiver are
 * visible only to superusers and pg_read_all_stats): SECURITY DEFINER,
 * reads only statistics views, returns no connection string (so no
 * password), granted to finsec_admin and finsec_auditor.
 */
CREATE FUNCTION finsec._continuity_facts()
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
SELECT jsonb_build_object(
	'in_recovery', pg_is_in_recovery(),
	'senders', coalesce((
		SELECT jsonb_agg(jsonb_build_object(
				'application_name', quote_ident(r.application_name),
				'state', r.state,
				'sync_state', r.sync_state,
				'sync_priority', r.sync_priority,
				'client', CASE WHEN r.client_addr IS NULL THEN 'local socket'
							   WHEN r.client_addr << inet '127.0.0.0/8' OR r.client_addr = inet '::1' THEN 'loopback'
							   ELSE host(r.client_addr) END,
				'write_lag_seconds', round(extract(epoch FROM r.write_lag), 3),
				'flush_lag_seconds', round(extract(epoch FROM r.flush_lag), 3),
				'replay_lag_seconds', round(extract(epoch FROM r.replay_lag), 3))
			ORDER BY r.application_name, r.pid)
		FROM pg_stat_replication r), '[]'::jsonb),
	'receiver', (
		SELECT jsonb_build_object('status', w.status, 'sender_host', w.sender_host,
								  'sender_port', w.sender_port, 'slot_name', w.slot_name,
								  'last_msg_receipt_time', w.last_msg_receipt_time)
		FROM pg_stat_wal_receiver w LIMIT 1))
$$;
COMMENT ON FUNCTION finsec._continuity_facts() IS
	'replication state for the continuity checks (walsenders and the WAL receiver, no connection strings)';
REVOKE ALL ON FUNCTION finsec._continuity_facts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._continuity_facts() TO finsec_admin, finsec_auditor;

/*
 * A setting as the server sets it for new sessions (pg_settings.reset_val:
 * the configuration file, ALTER SYSTEM, the database's and the caller's
 * role's settings), not a SET the caller made in its session.
 */
CREATE FUNCTION finsec._server_setting(name text)
RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp AS $$
SELECT reset_val FROM pg_settings WHERE pg_settings.name = _server_setting.name
$$;
REVOKE ALL ON FUNCTION finsec._server_setting(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._server_setting(text) TO finsec_admin, finsec_auditor;

/* fsync (D13): on, or data is lost at a crash. */
CREATE FUNCTION finsec._check_fsync(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
SELECT CASE WHEN finsec._server_setting('fsync') = 'on' THEN 'pass' ELSE 'fail' END,
	   jsonb_build_object('setting', 'fsync', 'value', finsec._server_setting('fsync'), 'required', 'on')
$$;

/* full_page_writes (D13): on, or a torn page is not repaired after a crash. */
CREATE FUNCTION finsec._check_full_page_writes(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
SELECT CASE WHEN finsec._server_setting('full_page_writes') = 'on' THEN 'pass' ELSE 'fail' END,
	   jsonb_build_object('setting', 'full_page_writes', 'value', finsec._server_setting('full_page_writes'),
						  'required', 'on')
$$;

/* data_checksums (D13): corruption on disk is detected, not read as data. */
CREATE FUNCTION finsec._check_data_checksums(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
SELECT CASE WHEN current_setting('data_checksums') = 'on' THEN 'pass' ELSE 'fail' END,
	   jsonb_build_object('setting', 'data_checksums', 'value', current_setting('data_checksums'),
						  'required', 'on',
						  'remedy', 'pg_checksums --enable on the stopped cluster, or initdb --data-checksums')
$$;

/*
 * synchronous_commit (D13): the server's value and every database or role
 * setting that overrides it (pg_db_role_setting, readable by all) must be
 * on, remote_write or remote_apply; off loses committed transactions at a
 * crash, local does not wait for the synchronous standbys.
 */
CREATE FUNCTION finsec._check_synchronous_commit(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	server_value text;
	overrides jsonb;
BEGIN
	SELECT reset_val INTO server_value FROM pg_settings WHERE name = 'synchronous_commit';
	SELECT coalesce(jsonb_agg(jsonb_build_object(
			'database', CASE WHEN d.setdatabase = 0 THEN NULL ELSE quote_ident(db.datname) END,
			'role', CASE WHEN d.setrole = 0 THEN NULL ELSE quote_ident(r.rolname) END,
			'value', split_part(c, '=', 2)) ORDER BY db.datname, r.rolname), '[]'::jsonb)
	  INTO overrides
	  FROM pg_db_role_setting d
	  CROSS JOIN LATERAL unnest(d.setconfig) c
	  LEFT JOIN pg_database db ON db.oid = d.setdatabase
	  LEFT JOIN pg_roles r ON r.oid = d.setrole
	 WHERE split_part(c, '=', 1) = 'synchronous_commit'
	   AND split_part(c, '=', 2) NOT IN ('on', 'remote_write', 'remote_apply', 'true', 'yes', '1');
	status := CASE WHEN server_value IN ('on', 'remote_write', 'remote_apply') AND overrides = '[]'::jsonb
				   THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'synchronous_commit', 'value', server_value,
								   'allowed', jsonb_build_array('on', 'remote_write', 'remote_apply'),
								   'overrides_not_allowed', overrides,
								   'synchronous_standby_names', current_setting('synchronous_standby_names'));
END
$$;

/*
 * WAL archiving (B2, B6): archive_mode on (or always), an archive_command
 * or archive_library set, and pg_stat_archiver (readable by every role)
 * showing no failure newer than the last success and no completed segment
 * waiting longer than args.max_lag_seconds (default 3600): the last
 * success is that recent, or nothing but the segment being written is
 * pending.  On a standby with archive_mode on (not always) nothing is
 * archived there: out_of_scope.  The command itself is not shown (it may
 * hold credentials); only its program's name.
 */
CREATE FUNCTION finsec._check_wal_archiving(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	max_lag numeric := coalesce((args ->> 'max_lag_seconds')::numeric, 3600);
	mode text := current_setting('archive_mode');
	cmd text := current_setting('archive_command');
	lib text := current_setting('archive_library');
	a record;
	segs_per_id numeric := 4294967296 / pg_size_bytes(current_setting('wal_segment_size'));
	cur_seg numeric;
	arch_seg numeric;
	pending numeric;
	age numeric;
	problems text[] := '{}';
BEGIN
	SELECT * INTO a FROM pg_stat_archiver;
	evidence := jsonb_build_object('archive_mode', mode,
		'archive_command_set', cmd NOT IN ('', '(disabled)'),
		'archive_program', CASE WHEN cmd NOT IN ('', '(disabled)')
								THEN regexp_replace(split_part(btrim(cmd), ' ', 1), '^.*/', '') END,
		'archive_library', NULLIF(lib, ''),
		'archive_timeout_seconds', extract(epoch FROM current_setting('archive_timeout')::interval)::bigint,
		'archived_count', a.archived_count, 'last_archived_wal', a.last_archived_wal,
		'last_archived_time', a.last_archived_time, 'failed_count', a.failed_count,
		'last_failed_wal', a.last_failed_wal, 'last_failed_time', a.last_failed_time,
		'max_lag_seconds', max_lag);
	IF pg_is_in_recovery() AND mode <> 'always' THEN
		status := 'out_of_scope';
		evidence := evidence || jsonb_build_object('in_recovery', true,
			'note', 'this server is a standby: with archive_mode on, the primary archives; run the check there');
		RETURN;
	END IF;
	IF mode NOT IN ('on', 'always') THEN
		problems := problems || 'archive_mode is off'::text;
	END IF;
	IF cmd IN ('', '(disabled)') AND lib = '' THEN
		problems := problems || 'neither archive_command nor archive_library is set'::text;
	END IF;
	IF a.last_failed_time IS NOT NULL
	   AND (a.last_archived_time IS NULL OR a.last_failed_time > a.last_archived_time) THEN
		problems := problems || format('the last archiving attempt failed (%s at %s)',
									   a.last_failed_wal, a.last_failed_time);
	END IF;
	IF NOT pg_is_in_recovery() THEN
		cur_seg := ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 9, 8))::bit(32)::bigint * segs_per_id
				   + ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 17, 8))::bit(32)::bigint;
		IF a.last_archived_wal ~ '^[0-9A-F]{24}$' THEN
			arch_seg := ('x' || substr(a.last_archived_wal, 9, 8))::bit(32)::bigint * segs_per_id
						+ ('x' || substr(a.last_archived_wal, 17, 8))::bit(32)::bigint;
			pending := greatest(cur_seg - arch_seg - 1, 0);
		END IF;
		age := round(extract(epoch FROM now() - a.last_archived_time), 3);
		evidence := evidence || jsonb_build_object('segments_pending', pending, 'last_archived_age_seconds', age);
		IF mode IN ('on', 'always') AND (a.last_archived_time IS NULL OR (age > max_lag AND coalesce(pending, 1) > 0)) THEN
			problems := problems || CASE WHEN a.last_archived_time IS NULL
										 THEN 'no WAL segment has been archived since the statistics were reset'
										 ELSE format('the last segment was archived %s seconds ago (more than %s) and %s segments are waiting',
													 age, max_lag, coalesce(pending::text, 'some')) END;
		END IF;
	END IF;
	status := CASE WHEN cardinality(problems) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := evidence || jsonb_build_object('problems', to_jsonb(problems));
END
$$;

/*
 * Reading the register: the checks run as their caller, who needs SELECT
 * on it (finsec_admin, finsec_auditor, finsec_operator have it).
 */
CREATE FUNCTION finsec._continuity_cannot_read(tbl text)
RETURNS jsonb
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp AS $$
SELECT CASE WHEN has_table_privilege(format('finsec.%I', tbl), 'SELECT') THEN NULL
			ELSE jsonb_build_object('reason', format('the caller cannot read finsec.%s', tbl),
									'needs', format('SELECT on finsec.%s (finsec_auditor or finsec_admin)', tbl)) END
$$;
REVOKE ALL ON FUNCTION finsec._continuity_cannot_read(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._continuity_cannot_read(text) TO finsec_admin, finsec_auditor;

/*
 * Backups on schedule (B2; 004 8.3.5 c: daily incremental, weekly full): a
 * successful full backup finished within args.full_days (7) and a
 * successful full, incremental or differential one within args.incr_days
 * (1), in the register (declared by the tools' hooks).
 */
CREATE FUNCTION finsec._check_backup_schedule(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	full_days numeric := coalesce((args ->> 'full_days')::numeric, 7);
	incr_days numeric := coalesce((args ->> 'incr_days')::numeric, 1);
	last_full timestamptz;
	last_any timestamptz;
	last_failed timestamptz;
	problems text[] := '{}';
BEGIN
	evidence := finsec._continuity_cannot_read('backup_register');
	IF evidence IS NOT NULL THEN
		status := 'cannot_verify';
		RETURN;
	END IF;
	SELECT max(finished_at) FILTER (WHERE kind = 'full' AND success),
		   max(finished_at) FILTER (WHERE kind IN ('full', 'incremental', 'differential') AND success),
		   max(finished_at) FILTER (WHERE NOT success)
	  INTO last_full, last_any, last_failed
	  FROM finsec.backup_register;
	IF last_full IS NULL OR last_full < now() - full_days * interval '1 day' THEN
		problems := problems || format('no successful full backup in the last %s days', full_days);
	END IF;
	IF last_any IS NULL OR last_any < now() - incr_days * interval '1 day' THEN
		problems := problems || format('no successful incremental or full backup in the last %s days', incr_days);
	END IF;
	status := CASE WHEN cardinality(problems) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('source', 'finsec.backup_register (declared by the backup tool or operator)',
		'last_full_finished_at', last_full, 'last_backup_finished_at', last_any,
		'last_failed_finished_at', last_failed,
		'full_days', full_days, 'incr_days', incr_days, 'problems', to_jsonb(problems));
END
$$;

/* A successful restore test within args.days (92: a quarter; 001 7.4 c). */
CREATE FUNCTION finsec._check_restore_tested(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	days numeric := coalesce((args ->> 'days')::numeric, 92);
	t record;
BEGIN
	evidence := finsec._continuity_cannot_read('restore_test');
	IF evidence IS NOT NULL THEN
		status := 'cannot_verify';
		RETURN;
	END IF;
	SELECT finished_at, rto_seconds, rpo_seconds, backup_label INTO t
	  FROM finsec.restore_test WHERE success ORDER BY finished_at DESC, id DESC LIMIT 1;
	status := CASE WHEN t.finished_at >= now() - days * interval '1 day' THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('source', 'finsec.restore_test (declared)', 'days', days,
		'last_success_finished_at', t.finished_at, 'rto_seconds', t.rto_seconds,
		'rpo_seconds', t.rpo_seconds, 'backup_label', t.backup_label,
		'failures_within_days', (SELECT count(*) FROM finsec.restore_test
								  WHERE NOT success AND finished_at >= now() - days * interval '1 day'));
END
$$;

/* A successful switchover drill within args.days (366; 001 7.5 b). */
CREATE FUNCTION finsec._check_switchover_drilled(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	days numeric := coalesce((args ->> 'days')::numeric, 366);
	t record;
BEGIN
	evidence := finsec._continuity_cannot_read('switchover_drill');
	IF evidence IS NOT NULL THEN
		status := 'cannot_verify';
		RETURN;
	END IF;
	SELECT finished_at, rto_seconds, from_node, to_node INTO t
	  FROM finsec.switchover_drill WHERE success ORDER BY finished_at DESC, id DESC LIMIT 1;
	status := CASE WHEN t.finished_at >= now() - days * interval '1 day' THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('source', 'finsec.switchover_drill (declared)', 'days', days,
		'last_success_finished_at', t.finished_at, 'rto_seconds', t.rto_seconds,
		'from_node', t.from_node, 'to_node', t.to_node);
END
$$;

/*
 * The replication facts, or NULL when the caller cannot have them (then
 * the check says cannot_verify).
 */
CREATE FUNCTION finsec._continuity_facts_or_null()
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF has_function_privilege('finsec._continuity_facts()', 'EXECUTE') THEN
		RETURN finsec._continuity_facts();
	END IF;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION finsec._continuity_facts_or_null() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._continuity_facts_or_null() TO finsec_admin, finsec_auditor;

/*
 * At least args.min (1) standby streaming from this server (B3; 001 7.3 d,
 * 002 3.2.9), observed in pg_stat_replication.  On a standby: warn, saying
 * this server is itself a standby and its WAL receiver's state (the
 * primary's standbys are counted on the primary).
 */
CREATE FUNCTION finsec._check_standby_present(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	min_standbys int := coalesce((args ->> 'min')::int, 1);
	f jsonb := finsec._continuity_facts_or_null();
	streaming int;
BEGIN
	IF f IS NULL THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller cannot read the replication state',
									   'needs', 'EXECUTE on finsec._continuity_facts() (finsec_auditor or finsec_admin)');
		RETURN;
	END IF;
	IF (f ->> 'in_recovery')::boolean THEN
		status := 'warn';
		evidence := jsonb_build_object('in_recovery', true, 'receiver', f -> 'receiver',
			'note', 'this server is itself a standby; count the standbys on the primary');
		RETURN;
	END IF;
	SELECT count(*) INTO streaming FROM jsonb_array_elements(f -> 'senders') s WHERE s ->> 'state' = 'streaming';
	status := CASE WHEN streaming >= min_standbys THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('streaming_standbys', streaming, 'min', min_standbys,
								   'senders', f -> 'senders', 'source', 'pg_stat_replication (observed)');
END
$$;

/*
 * Real-time local and off-site backup (B6; 004 8.3.5 enhanced b): a
 * standby streaming from another host is real-time and off-host: pass.
 * Working WAL archiving alone is real-time but where its archive lies is
 * not observable (the command's destination): warn, saying so.  Neither:
 * fail.
 */
CREATE FUNCTION finsec._check_realtime_offsite_backup(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	f jsonb := finsec._continuity_facts_or_null();
	remote int;
	streaming int;
	arch record;
BEGIN
	IF f IS NULL THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller cannot read the replication state',
									   'needs', 'EXECUTE on finsec._continuity_facts() (finsec_auditor or finsec_admin)');
		RETURN;
	END IF;
	SELECT count(*) FILTER (WHERE s ->> 'client' NOT IN ('local socket', 'loopback')), count(*)
	  INTO remote, streaming
	  FROM jsonb_array_elements(f -> 'senders') s WHERE s ->> 'state' = 'streaming';
	SELECT * INTO arch FROM finsec._check_wal_archiving(args);
	evidence := jsonb_build_object('streaming_standbys', streaming, 'remote_streaming_standbys', remote,
								   'wal_archiving', arch.status, 'in_recovery', f -> 'in_recovery');
	IF (f ->> 'in_recovery')::boolean THEN
		status := 'warn';
		evidence := evidence || jsonb_build_object('note', 'this server is a standby; run the check on the primary');
	ELSIF remote > 0 THEN
		status := 'pass';
	ELSIF arch.status = 'pass' THEN
		status := 'warn';
		evidence := evidence || jsonb_build_object('note',
			'WAL archiving works, but whether its archive is on another host is not observable from the database; no standby streams from another host');
	ELSE
		status := 'fail';
		evidence := evidence || jsonb_build_object('note',
			'neither a standby streaming from another host nor working WAL archiving');
	END IF;
END
$$;

/*
 * What finsec.dr_level() judges, observed, recorded and declared, as one
 * jsonb object (docs/compliance-continuity.md#dr-level).
 */
CREATE FUNCTION finsec._dr_facts()
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	f jsonb := finsec._continuity_facts_or_null();
	can_register boolean := has_table_privilege('finsec.backup_register', 'SELECT')
		AND has_table_privilege('finsec.restore_test', 'SELECT')
		AND has_table_privilege('finsec.switchover_drill', 'SELECT');
	r jsonb := '{}';
	ssn text := current_setting('synchronous_standby_names');
	m text[];
	method text;
	num_sync int;
	sc text := finsec._server_setting('synchronous_commit');
	arch record;
	atimeout numeric := extract(epoch FROM current_setting('archive_timeout')::interval)::bigint;
	overrides int;
BEGIN
	r := jsonb_build_object('now', now(), 'replication_visible', f IS NOT NULL, 'register_visible', can_register,
							'in_recovery', pg_is_in_recovery());
	IF can_register THEN
		r := r || jsonb_build_object(
			'last_full_backup_at', (SELECT max(finished_at) FROM finsec.backup_register WHERE success AND kind = 'full'),
			'last_backup_at', (SELECT max(finished_at) FROM finsec.backup_register WHERE success),
			-- the worst loss by backups alone: the longest gap between the successful
			-- backups of the last 7 days (from the last one before them) and since the
			-- newest; unknown without a backup older than 7 days (a history shorter
			-- than the window says nothing of the schedule)
			'backup_rpo_seconds', (SELECT round(extract(epoch FROM greatest(max(gap), now() - max(finished_at))), 3)
									 FROM (SELECT finished_at, finished_at - lag(finished_at) OVER (ORDER BY finished_at) AS gap
											 FROM finsec.backup_register
											WHERE success
											  AND finished_at >= (SELECT max(finished_at) FROM finsec.backup_register
																   WHERE success AND finished_at < now() - interval '7 days')) g),
			'restore_test', (SELECT jsonb_build_object('finished_at', finished_at, 'rto_seconds', rto_seconds,
													   'rpo_seconds', rpo_seconds)
							   FROM finsec.restore_test
							  WHERE success AND finished_at >= now() - interval '92 days'
							  ORDER BY finished_at DESC, id DESC LIMIT 1),
			'switchover_drill', (SELECT jsonb_build_object('finished_at', finished_at, 'rto_seconds', rto_seconds)
								   FROM finsec.switchover_drill
								  WHERE success AND finished_at >= now() - interval '366 days'
								  ORDER BY finished_at DESC, id DESC LIMIT 1));
	END IF;
	SELECT * INTO arch FROM finsec._check_wal_archiving(jsonb_build_object('max_lag_seconds', greatest(atimeout, 3600)));
	r := r || jsonb_build_object('wal_archiving', arch.status, 'archive_timeout_seconds', atimeout,
								 'last_archived_age_seconds', arch.evidence -> 'last_archived_age_seconds');
	IF f IS NOT NULL THEN
		r := r || jsonb_build_object(
			'streaming_standbys', (SELECT count(*) FROM jsonb_array_elements(f -> 'senders') s
									WHERE s ->> 'state' = 'streaming'),
			'max_flush_lag_seconds', (SELECT coalesce(max((s ->> 'flush_lag_seconds')::numeric), 0)
									   FROM jsonb_array_elements(f -> 'senders') s
									  WHERE s ->> 'state' = 'streaming'),
			'synchronous_connected', (SELECT count(*) FROM jsonb_array_elements(f -> 'senders') s
									   WHERE s ->> 'state' = 'streaming' AND s ->> 'sync_state' IN ('sync', 'quorum')));
	END IF;
	-- synchronous_standby_names: FIRST n (...), ANY n (...), n (...), or a list (FIRST 1)
	m := regexp_match(ssn, '^\s*(FIRST|ANY)?\s*([0-9]+)\s*\((.*)\)\s*$', 'i');
	IF btrim(ssn) = '' THEN
		method := NULL;
		num_sync := 0;
	ELSIF m IS NOT NULL THEN
		method := upper(coalesce(m[1], 'FIRST'));
		num_sync := least(m[2]::numeric, 1000)::int;
	ELSE
		method := 'FIRST';
		num_sync := 1;
	END IF;
	SELECT count(*) INTO overrides
	  FROM pg_db_role_setting d CROSS JOIN LATERAL unnest(d.setconfig) c
	 WHERE split_part(c, '=', 1) = 'synchronous_commit'
	   AND split_part(c, '=', 2) NOT IN ('on', 'remote_write', 'remote_apply', 'true', 'yes', '1');
	r := r || jsonb_build_object('synchronous_standby_names', ssn, 'sync_method', method, 'num_sync', num_sync,
								 'synchronous_commit', sc, 'synchronous_commit_overrides', overrides,
								 'failover_tool', NULLIF(current_setting('finsec.dr_failover_tool', true), ''));
	RETURN r;
END
$$;
REVOKE ALL ON FUNCTION finsec._dr_facts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._dr_facts() TO finsec_admin, finsec_auditor;

/*
 * The disaster-recovery level (B1; JR/T 0199-2020 7.2 g and its normative
 * appendix, table 2): one row per level 1 to 6, whether the current
 * configuration meets it (and every level below it), the appendix's
 * targets, the evidence judged and what is missing.  Levels 1 and 2 have
 * no figures in the appendix; finsec reads them from GB/T 20988 (RPO 1 to
 * 7 days): level 1 a full backup within 7 days, level 2 that and a
 * restore test within the quarter.  The inferred level is the highest
 * level whose meets is true.  Observed: settings, pg_stat_archiver,
 * pg_stat_replication; recorded: the backup register; declared:
 * finsec.dr_failover_tool.  Availability is not observable and not judged.
 */
CREATE FUNCTION finsec.dr_level()
RETURNS TABLE (level int, meets boolean, rto_target text, rpo_target text, availability text,
			   evidence jsonb, missing text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	f jsonb := finsec._dr_facts();
	full_age numeric := extract(epoch FROM now() - (f ->> 'last_full_backup_at')::timestamptz);
	backup_age numeric := extract(epoch FROM now() - (f ->> 'last_backup_at')::timestamptz);
	backup_rpo numeric := (f ->> 'backup_rpo_seconds')::numeric;
	restore_rto numeric := (f #>> '{restore_test,rto_seconds}')::numeric;
	drill_rto numeric := (f #>> '{switchover_drill,rto_seconds}')::numeric;
	standbys int := (f ->> 'streaming_standbys')::int;
	sync_ok boolean;
	sync_strict boolean;
	rpo_archive numeric;
	rpo_stream numeric;
	lv int;
	rpo_s numeric;
	rto_s numeric;
	best_rpo numeric;
	rpo_by text;
	best_rto numeric;
	rto_by text;
	miss text[];
	below boolean := true;
	ok boolean;
	targets CONSTANT text[][] := ARRAY[
		['not specified by the appendix (GB/T 20988: 2 days or more)', '≤ 7 days (GB/T 20988: 1 to 7 days)', 'not specified'],
		['not specified by the appendix (GB/T 20988: 24 hours or more)', '≤ 7 days (GB/T 20988: 1 to 7 days)', 'not specified'],
		['≤ 24 hours', '≤ 24 hours', '≥ 99% (unplanned outage ≤ 4 days a year)'],
		['≤ 4 hours', '≤ 1 hour', '≥ 99.9% (unplanned outage ≤ 10 hours a year)'],
		['≤ 30 minutes', '≈ 0', '≥ 99.99% (unplanned outage ≤ 1 hour a year)'],
		['≤ 2 minutes', '0', '≥ 99.999% (unplanned outage ≤ 5 minutes a year)']];
	rto_limit CONSTANT numeric[] := ARRAY[NULL, NULL, 86400, 14400, 1800, 120];
	rpo_limit CONSTANT numeric[] := ARRAY[604800, 604800, 86400, 3600, 0, 0];
BEGIN
	sync_ok := (f ->> 'num_sync')::int > 0
		AND f ->> 'synchronous_commit' IN ('on', 'remote_write', 'remote_apply')
		AND coalesce((f ->> 'synchronous_connected')::int, 0) >= (f ->> 'num_sync')::int
		AND (f ->> 'synchronous_commit_overrides')::int = 0;
	sync_strict := sync_ok AND f ->> 'synchronous_commit' IN ('on', 'remote_apply');
	-- archiving bounds the loss by archive_timeout, given a base backup to replay it on
	IF f ->> 'wal_archiving' = 'pass' AND (f ->> 'archive_timeout_seconds')::numeric > 0 AND full_age <= 604800 THEN
		rpo_archive := (f ->> 'archive_timeout_seconds')::numeric;
	END IF;
	IF standbys > 0 THEN
		rpo_stream := (f ->> 'max_flush_lag_seconds')::numeric;
	END IF;
	FOR lv IN 1 .. 6 LOOP
		miss := '{}';
		rpo_s := rpo_limit[lv];
		rto_s := rto_limit[lv];
		best_rpo := NULL;
		rpo_by := NULL;
		best_rto := NULL;
		rto_by := NULL;
		IF NOT (f ->> 'register_visible')::boolean THEN
			miss := miss || 'the caller cannot read the backup register (finsec.backup_register, restore_test, switchover_drill)'::text;
		END IF;
		IF NOT (f ->> 'replication_visible')::boolean THEN
			miss := miss || 'the caller cannot read the replication state (finsec._continuity_facts())'::text;
		END IF;
		IF lv <= 2 THEN
			IF full_age IS NULL OR full_age > 604800 THEN
				miss := miss || 'a successful full backup in the register within 7 days'::text;
			END IF;
			best_rpo := backup_age;
			rpo_by := 'backup register (recorded)';
			IF lv = 2 AND coalesce(jsonb_typeof(f -> 'restore_test'), 'null') = 'null' THEN
				miss := miss || 'a successful restore test in the register within 92 days'::text;
			END IF;
			best_rto := restore_rto;
			rto_by := CASE WHEN restore_rto IS NOT NULL THEN 'restore test (recorded)' END;
		ELSIF lv <= 4 THEN
			-- RPO: the least of the backups' age, the archive's bound, the standby's lag
			SELECT v, b INTO best_rpo, rpo_by FROM (VALUES
				(CASE WHEN full_age <= 604800 THEN backup_rpo END, 'longest gap between the successful backups over the last 7 days (recorded)'),
				(rpo_archive, 'WAL archiving working, archive_timeout (observed)'),
				(rpo_stream, 'streaming standby, flush lag (observed)')) x(v, b)
			 WHERE v IS NOT NULL ORDER BY v LIMIT 1;
			IF best_rpo IS NULL OR best_rpo > rpo_s THEN
				miss := miss || format('a recovery point within %s seconds: WAL archiving with 0 < archive_timeout <= %s and a full backup within 7 days, a streaming standby, or backups over the last 7 days no further apart (now: %s)',
									   rpo_s, rpo_s, coalesce(round(best_rpo)::text || ' seconds by ' || rpo_by, 'none'));
			END IF;
			SELECT v, b INTO best_rto, rto_by FROM (VALUES
				(restore_rto, 'restore test (recorded)'),
				(CASE WHEN standbys > 0 THEN drill_rto END, 'switchover drill to a streaming standby (recorded, standby observed)')) x(v, b)
			 WHERE v IS NOT NULL ORDER BY v LIMIT 1;
			IF best_rto IS NULL OR best_rto > rto_s THEN
				miss := miss || format('a recovery time within %s seconds: a restore test within 92 days or a switchover drill within 366 days (with a standby streaming) that took no longer (now: %s)',
									   rto_s, coalesce(round(best_rto)::text || ' seconds by ' || rto_by, 'none'));
			END IF;
		ELSE
			IF NOT (CASE WHEN lv = 5 THEN sync_ok ELSE sync_strict END) THEN
				miss := miss || CASE WHEN lv = 5
					THEN format('synchronous replication: synchronous_standby_names set, synchronous_commit on, remote_write or remote_apply for every role and database, and at least num_sync standbys connected as sync or quorum (now: %s synchronous of %s required, synchronous_commit %s, %s overriding role or database settings)',
								coalesce(f ->> 'synchronous_connected', 'unknown'), f ->> 'num_sync', f ->> 'synchronous_commit', f ->> 'synchronous_commit_overrides')
					ELSE format('no loss at all: synchronous replication as for level 5 with synchronous_commit on or remote_apply (now: %s synchronous of %s required, synchronous_commit %s)',
								coalesce(f ->> 'synchronous_connected', 'unknown'), f ->> 'num_sync', f ->> 'synchronous_commit') END;
			ELSE
				best_rpo := 0;
				rpo_by := format('synchronous replication, %s %s, synchronous_commit %s (observed)',
								 f ->> 'sync_method', f ->> 'num_sync', f ->> 'synchronous_commit');
			END IF;
			IF f ->> 'failover_tool' IS NULL THEN
				miss := miss || 'failover tooling declared in finsec.dr_failover_tool'::text;
			END IF;
			IF standbys IS NULL OR standbys = 0 THEN
				miss := miss || 'a streaming standby to fail over to'::text;
			END IF;
			IF drill_rto IS NULL OR drill_rto > rto_s THEN
				miss := miss || format('a successful switchover drill within 366 days that took at most %s seconds (now: %s)',
									   rto_s, coalesce(round(drill_rto)::text || ' seconds', 'none'));
			ELSE
				best_rto := drill_rto;
				rto_by := format('switchover drill (recorded) with %s declared', f ->> 'failover_tool');
			END IF;
		END IF;
		ok := below AND cardinality(miss) = 0;
		IF NOT below THEN
			miss := miss || format('level %s is not met', lv - 1);
		END IF;
		level := lv;
		meets := ok;
		rto_target := targets[lv][1];
		rpo_target := targets[lv][2];
		availability := targets[lv][3];
		evidence := jsonb_build_object('rpo_required_seconds', rpo_s, 'rpo_seconds', round(best_rpo, 3),
			'rpo_by', rpo_by, 'rto_required_seconds', rto_s, 'rto_seconds', round(best_rto, 3), 'rto_by', rto_by,
			'availability', 'not observed');
		missing := NULLIF(array_to_string(miss, '; '), '');
		RETURN NEXT;
		below := ok;
	END LOOP;
END
$$;
COMMENT ON FUNCTION finsec.dr_level() IS
	'the disaster-recovery levels 1 to 6 (JR/T 0199-2020 appendix): whether the configuration meets each, its targets, evidence and what is missing';
REVOKE ALL ON FUNCTION finsec.dr_level() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.dr_level() TO finsec_admin, finsec_auditor;

/*
 * The declared target level (finsec.dr_target_level) is met (B1): pass if
 * finsec.dr_level() infers at least it, fail with what the target level
 * misses; cannot_verify when the caller cannot read the register or the
 * replication state.
 */
CREATE FUNCTION finsec._check_dr_level(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	target int := coalesce((args ->> 'target')::int, current_setting('finsec.dr_target_level')::int);
	inferred int;
	target_missing text;
	misses jsonb;
	f jsonb;
BEGIN
	IF finsec._continuity_cannot_read('backup_register') IS NOT NULL
	   OR finsec._continuity_cannot_read('restore_test') IS NOT NULL
	   OR finsec._continuity_cannot_read('switchover_drill') IS NOT NULL
	   OR NOT has_function_privilege('finsec._continuity_facts()', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller cannot read the backup register or the replication state',
			'needs', 'SELECT on finsec.backup_register, restore_test, switchover_drill and EXECUTE on finsec._continuity_facts() (finsec_auditor or finsec_admin)');
		RETURN;
	END IF;
	SELECT coalesce(max(d.level) FILTER (WHERE d.meets), 0), max(d.missing) FILTER (WHERE d.level = target),
		   jsonb_object_agg(d.level::text, d.missing)
	  INTO inferred, target_missing, misses FROM finsec.dr_level() d;
	f := finsec._dr_facts();
	status := CASE WHEN inferred >= target THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('inferred_level', inferred, 'target_level', target,
								   'missing_for_target', target_missing,
								   'missing_for_next', misses ->> (inferred + 1)::text,
								   'facts', f - 'now');
END
$$;

DO $$
DECLARE
	c text;
BEGIN
	FOREACH c IN ARRAY ARRAY['fsync', 'full_page_writes', 'data_checksums', 'synchronous_commit', 'wal_archiving',
							 'backup_schedule', 'restore_tested', 'switchover_drilled', 'standby_present',
							 'realtime_offsite_backup', 'dr_level'] LOOP
		EXECUTE format('COMMENT ON FUNCTION finsec.%I(jsonb) IS %L', '_check_' || c,
					   'compliance check ' || c || ' (docs/compliance-continuity.md)');
		EXECUTE format('REVOKE ALL ON FUNCTION finsec.%I(jsonb) FROM PUBLIC', '_check_' || c);
		EXECUTE format('GRANT EXECUTE ON FUNCTION finsec.%I(jsonb) TO finsec_admin, finsec_auditor', '_check_' || c);
	END LOOP;
END
$$;

INSERT INTO finsec.compliance_check_def (check_name, function, title_zh, title_en, builtin) VALUES
	('fsync', 'finsec._check_fsync(jsonb)', '数据同步写盘（fsync）', 'fsync on', true),
	('full_page_writes', 'finsec._check_full_page_writes(jsonb)', '整页写（full_page_writes）', 'full_page_writes on', true),
	('data_checksums', 'finsec._check_data_checksums(jsonb)', '数据页校验和', 'Data checksums', true),
	('synchronous_commit', 'finsec._check_synchronous_commit(jsonb)', '同步提交', 'Synchronous commit', true),
	('wal_archiving', 'finsec._check_wal_archiving(jsonb)', 'WAL 归档', 'WAL archiving', true),
	('backup_schedule', 'finsec._check_backup_schedule(jsonb)', '每日增量、每周全量备份', 'Daily incremental and weekly full backups', true),
	('restore_tested', 'finsec._check_restore_tested(jsonb)', '备份恢复测试', 'Restore tested', true),
	('switchover_drilled', 'finsec._check_switchover_drilled(jsonb)', '主备切换演练', 'Switchover drilled', true),
	('standby_present', 'finsec._check_standby_present(jsonb)', '热备数据库', 'Standby present', true),
	('realtime_offsite_backup', 'finsec._check_realtime_offsite_backup(jsonb)', '实时备份与异地备份', 'Real-time and off-site backup', true),
	('dr_level', 'finsec._check_dr_level(jsonb)', '容灾能力等级', 'Disaster-recovery level', true);

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
