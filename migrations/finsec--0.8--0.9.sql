/* finsec 0.8 -> 0.9 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '0.9'" to load this file. \quit

-- =====================================================================
-- Architecture (issue 15, docs/development.md): one worker framework, one
-- hook registry, shared primitives in src/common, one layer for
-- application tables.  Behaviour is unchanged except where a section
-- says otherwise.
-- =====================================================================

-- ---------------------------------------------------------------------
-- 1. Every C symbol of the library is prefixed finsec_ (PostgreSQL loads
--    the library RTLD_GLOBAL).  The identifier types' functions are
--    re-pointed at their new symbols; names, signatures and attributes are
--    those of 0.5.
-- ---------------------------------------------------------------------

CREATE OR REPLACE FUNCTION finsec.cn_resident_id_in(cstring) RETURNS finsec.cn_resident_id
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_in';
CREATE OR REPLACE FUNCTION finsec.cn_resident_id_out(finsec.cn_resident_id) RETURNS cstring
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_out';
CREATE OR REPLACE FUNCTION finsec.cn_resident_id_recv(internal) RETURNS finsec.cn_resident_id
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_recv';
CREATE OR REPLACE FUNCTION finsec.cn_resident_id_send(finsec.cn_resident_id) RETURNS bytea
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_send';
CREATE OR REPLACE FUNCTION finsec.uscc_in(cstring) RETURNS finsec.uscc
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_in';
CREATE OR REPLACE FUNCTION finsec.uscc_out(finsec.uscc) RETURNS cstring
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_out';
CREATE OR REPLACE FUNCTION finsec.uscc_recv(internal) RETURNS finsec.uscc
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_recv';
CREATE OR REPLACE FUNCTION finsec.uscc_send(finsec.uscc) RETURNS bytea
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_send';
CREATE OR REPLACE FUNCTION finsec.uscc_eq(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_eq';
CREATE OR REPLACE FUNCTION finsec.uscc_ne(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_ne';
CREATE OR REPLACE FUNCTION finsec.uscc_lt(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_lt';
CREATE OR REPLACE FUNCTION finsec.uscc_le(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_le';
CREATE OR REPLACE FUNCTION finsec.uscc_gt(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_gt';
CREATE OR REPLACE FUNCTION finsec.uscc_ge(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_ge';
CREATE OR REPLACE FUNCTION finsec.uscc_cmp(finsec.uscc, finsec.uscc) RETURNS integer
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_cmp';
CREATE OR REPLACE FUNCTION finsec.uscc_hash(finsec.uscc) RETURNS integer
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_hash';
CREATE OR REPLACE FUNCTION finsec.uscc_hash_extended(finsec.uscc, bigint) RETURNS bigint
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_hash_extended';
CREATE OR REPLACE FUNCTION finsec.cn_mobile_in(cstring) RETURNS finsec.cn_mobile
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_in';
CREATE OR REPLACE FUNCTION finsec.cn_mobile_out(finsec.cn_mobile) RETURNS cstring
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_out';
CREATE OR REPLACE FUNCTION finsec.cn_mobile_recv(internal) RETURNS finsec.cn_mobile
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_recv';
CREATE OR REPLACE FUNCTION finsec.cn_mobile_send(finsec.cn_mobile) RETURNS bytea
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_send';
CREATE OR REPLACE FUNCTION finsec.mask(finsec.cn_resident_id) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_mask';
CREATE OR REPLACE FUNCTION finsec.mask(finsec.uscc) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_mask';
CREATE OR REPLACE FUNCTION finsec.mask(finsec.cn_mobile) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_mask';
CREATE OR REPLACE FUNCTION finsec.cn_resident_id_from_15(text) RETURNS finsec.cn_resident_id
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_from_15';
CREATE OR REPLACE FUNCTION finsec.cn_resident_id_birth_date(finsec.cn_resident_id) RETURNS date
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_birth_date';
CREATE OR REPLACE FUNCTION finsec.cn_resident_id_sex(finsec.cn_resident_id) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_sex';
CREATE OR REPLACE FUNCTION finsec.cn_resident_id_region(finsec.cn_resident_id) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_region';
CREATE OR REPLACE FUNCTION finsec.cn_mobile_e164(finsec.cn_mobile) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_e164';
CREATE OR REPLACE FUNCTION finsec.is_valid_cn_resident_id(value text, as_of date DEFAULT NULL) RETURNS boolean
	LANGUAGE c IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_is_valid';
CREATE OR REPLACE FUNCTION finsec.cn_resident_id_problem(value text, as_of date DEFAULT NULL) RETURNS text
	LANGUAGE c IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_problem';
CREATE OR REPLACE FUNCTION finsec.is_valid_uscc(value text) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_is_valid';
CREATE OR REPLACE FUNCTION finsec.uscc_problem(value text) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_problem';
CREATE OR REPLACE FUNCTION finsec.is_valid_cn_mobile(value text) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_is_valid';
CREATE OR REPLACE FUNCTION finsec.cn_mobile_problem(value text) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_problem';

-- (end of section 1)

-- ---------------------------------------------------------------------
-- 2. Worker framework: registered tasks and their status (src/worker).
-- ---------------------------------------------------------------------

-- One row per database of finsec.audit_seal_databases and task the
-- finsec worker runs there (docs/workers.md); none without the preload.
CREATE FUNCTION finsec.worker_tasks(
	OUT database text,
	OUT task text,
	OUT worker_pid integer,
	OUT on_standby boolean,
	OUT interval_ms integer,
	OUT running boolean,
	OUT runs bigint,
	OUT failures bigint,
	OUT rows_last bigint,
	OUT rows_total bigint,
	OUT last_start timestamptz,
	OUT last_end timestamptz,
	OUT last_success timestamptz,
	OUT last_failure timestamptz,
	OUT last_sqlstate text,
	OUT last_error text)
RETURNS SETOF record
LANGUAGE C VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_worker_tasks';
COMMENT ON FUNCTION finsec.worker_tasks() IS
	'the tasks of the finsec worker of each database: runs, failures, rows done, last run, last success, last error (since the server started)';
REVOKE ALL ON FUNCTION finsec.worker_tasks() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.worker_tasks() TO finsec_admin, finsec_auditor, finsec_operator;

CREATE VIEW finsec.status_worker_tasks AS SELECT * FROM finsec.worker_tasks();
COMMENT ON VIEW finsec.status_worker_tasks IS
	'the tasks of the finsec worker of each database, as finsec.worker_tasks() shows them';
REVOKE ALL ON finsec.status_worker_tasks FROM PUBLIC;
GRANT SELECT ON finsec.status_worker_tasks TO finsec_admin, finsec_auditor, finsec_operator;

-- In finsec.status(): one row per database with a worker; not ok while a
-- task's last run failed.
CREATE FUNCTION finsec.status_worker(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT 'worker', finsec.preloaded(),
		   CASE WHEN finsec.preloaded()
				THEN 'no database in finsec.audit_seal_databases: no finsec worker seals, flushes or maintains in the background'
				ELSE 'no finsec worker runs without finsec in shared_preload_libraries'
		   END
	 WHERE NOT EXISTS (SELECT FROM finsec.worker_tasks())
	UNION ALL
	SELECT 'worker:' || t.database,
		   count(*) FILTER (WHERE t.last_failure > coalesce(t.last_success, '-infinity')) = 0,
		   CASE WHEN count(*) FILTER (WHERE t.last_failure > coalesce(t.last_success, '-infinity')) = 0
				THEN format('%s tasks, %s runs, %s failures; worker %s', count(*), sum(t.runs), sum(t.failures),
							coalesce('pid ' || max(t.worker_pid), 'not running'))
				ELSE 'failing: ' || string_agg(format('%s (%s: %s)', t.task, t.last_sqlstate, t.last_error), ', ' ORDER BY t.task)
						FILTER (WHERE t.last_failure > coalesce(t.last_success, '-infinity'))
					 || '; see finsec.status_worker_tasks and the server log'
		   END
	  FROM finsec.worker_tasks() t
	 GROUP BY t.database
$$;
COMMENT ON FUNCTION finsec.status_worker() IS
	'the finsec worker of each database: ok unless a task''s last run failed';
REVOKE ALL ON FUNCTION finsec.status_worker() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_worker() TO finsec_admin, finsec_auditor, finsec_operator;

-- (end of section 2)

-- ---------------------------------------------------------------------
-- 3. Hooks and settings (src/finsec.c, src/common/hooks.c).
-- ---------------------------------------------------------------------

/*
 * finsec.risk_log_retention takes units (GUC_UNIT_MIN, like
 * finsec.audit_retention and finsec.limit_refusal_retention) and is 0 or a
 * whole number of days; it counted days before 0.9, so a unitless old value
 * is refused (docs/install.md).  finsec.risk_log_maintain() reads it, and
 * finsec.risk_timezone, after loading the library: the settings' defaults
 * are the library's alone.  Otherwise as in 0.7.
 */
CREATE OR REPLACE FUNCTION finsec.risk_log_maintain()
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tz text;
	keep integer;				-- days
	today date;
	d date;
	lo timestamptz;
	hi timestamptz;
	part text;
	changed integer := 0;
	gone bigint;
	r record;
BEGIN
	-- one maintainer at a time; others skip (the next flush catches up)
	IF NOT pg_try_advisory_xact_lock(hashtext('finsec.risk_log_maintain')) THEN
		RETURN 0;
	END IF;
	-- Loads the library, so that the settings below are finsec's (with
	-- their defaults, units and checks), never a placeholder's raw text.
	PERFORM finsec.library_version();
	tz := current_setting('finsec.risk_timezone');
	-- minutes shown in their largest unit ('180d'); 0 or whole days
	keep := extract(epoch FROM current_setting('finsec.risk_log_retention')::interval)::bigint / 86400;
	today := (now() AT TIME ZONE tz)::date;
	FOR d IN SELECT today + i FROM generate_series(-1, 3) i LOOP
		part := 'risk_decision_log_p' || to_char(d, 'YYYYMMDD');
		CONTINUE WHEN to_regclass('finsec.' || quote_ident(part)) IS NOT NULL;
		lo := d::timestamp AT TIME ZONE tz;
		hi := (d + 1)::timestamp AT TIME ZONE tz;
		CONTINUE WHEN EXISTS (SELECT 1 FROM finsec.risk_decision_log_default
							   WHERE decided_at >= lo AND decided_at < hi);
		EXECUTE format('CREATE TABLE finsec.%I PARTITION OF finsec.risk_decision_log (PRIMARY KEY (decision_id, decided_at)) FOR VALUES FROM (%L) TO (%L)',
					   part, lo, hi);
		EXECUTE format('CREATE INDEX %I ON finsec.%I (customer, decided_at)', part || '_customer_idx', part);
		EXECUTE format('REVOKE ALL ON finsec.%I FROM PUBLIC', part);
		changed := changed + 1;
	END LOOP;
	IF keep > 0 THEN
		FOR r IN SELECT c.relname
				   FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
				  WHERE i.inhparent = 'finsec.risk_decision_log'::regclass
					AND c.relname ~ '^risk_decision_log_p[0-9]{8}$'
					AND to_date(substr(c.relname, 20), 'YYYYMMDD') < today - keep
				  ORDER BY c.relname LOOP
			EXECUTE format('DROP TABLE finsec.%I', r.relname);
			PERFORM finsec.audit_event('risk.log_retention', 'finsec.' || r.relname, 'drop', true,
				format('risk decisions of %s dropped: older than finsec.risk_log_retention (%s days)',
					   to_date(substr(r.relname, 20), 'YYYYMMDD'), keep));
			changed := changed + 1;
		END LOOP;
		DELETE FROM finsec.risk_decision_log_default
		 WHERE decided_at < ((today - keep)::timestamp AT TIME ZONE tz);
		GET DIAGNOSTICS gone = ROW_COUNT;
		IF gone > 0 THEN
			PERFORM finsec.audit_event('risk.log_retention', 'finsec.risk_decision_log_default', 'delete', true,
				format('%s risk decision(s) before %s deleted: older than finsec.risk_log_retention (%s days)',
					   gone, today - keep, keep));
		END IF;
	END IF;
	RETURN changed;
END
$$;

-- (end of section 3)

-- ---------------------------------------------------------------------
-- 4. Application tables: one layer, finsec.money amounts everywhere
--    (src/common/apptable.c).
-- ---------------------------------------------------------------------

-- (end of section 4)

-- ---------------------------------------------------------------------
-- 5. Dispatchers split (risk rules, key versions, history scans, limit
--    trigger, purge).
-- ---------------------------------------------------------------------

-- (end of section 5)

-- ---------------------------------------------------------------------
-- 6. Messages, schema listing, script headers.
-- ---------------------------------------------------------------------

-- (end of section 6)
