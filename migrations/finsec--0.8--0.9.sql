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
