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

-- The registration, for the table's owner (the caller of protect_period,
-- which created the trigger as that role a moment before).
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
	IF NOT EXISTS (SELECT 1 FROM pg_trigger t
					WHERE t.tgrelid = tbl AND t.tgname = 'finsec_protect_period_' || col
					  AND t.tgfoid = 'finsec._protect_period_trigger()'::regprocedure) THEN
		RAISE EXCEPTION 'table % has no period trigger for column "%"', tbl, col
			USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Use finsec.protect_period().';
	END IF;
	INSERT INTO finsec.protect_period_column (relid, column_name, date_column, policy_name)
	VALUES (tbl, col, date_col, policy);
	PERFORM finsec.audit_event('protect.period', tbl::text || '.' || col, 'create', true, NULL,
							   jsonb_build_object('date_column', date_col, 'policy', policy), session_user);
END
$$;
REVOKE ALL ON FUNCTION finsec._protect_period_register(regclass, name, name, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._protect_period_register(regclass, name, name, text) TO PUBLIC;

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
	EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON %s FOR EACH ROW '
				   'EXECUTE FUNCTION finsec._protect_period_trigger(%L, %L)',
				   'finsec_protect_period_' || col, tbl, col, date_col);
	EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', tbl, 'finsec_protect_period_' || col);
	PERFORM finsec._protect_period_register(tbl, col, date_col, p.policy_name);
END
$$;
COMMENT ON FUNCTION finsec.protect_period(regclass, name, name) IS
	'seal a protected column of a period policy under the period key of each row''s date column (trigger finsec_protect_period_<col>); by the table''s owner';
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
	-- Each key: a pending key.generate request of this session user, for a
	-- label of this policy's periods.
	FOR c IN SELECT * FROM jsonb_array_elements(payload -> 'keys') LOOP
		IF NOT EXISTS (SELECT 1 FROM finsec.change_request cr
						WHERE cr.request_id = (c ->> 'request_id')::bigint AND cr.kind = 'key.generate'
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
	-- DDL only: no code of the table's owner runs.
	EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'finsec_protect_period_' || col, tbl);
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

CREATE PROCEDURE finsec.protected_rekey_column(tbl regclass, col name, batch_size integer DEFAULT 1000)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
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
	PERFORM 1 FROM pg_attribute at
	 WHERE at.attrelid = tbl AND at.attname = col AND at.attnum > 0 AND NOT at.attisdropped
	   AND at.atttypid::regtype::text IN ('finsec.protected_text', 'finsec.protected_resident_id',
										  'finsec.protected_uscc', 'finsec.protected_mobile');
	IF NOT FOUND THEN
		RAISE EXCEPTION 'column "%" of relation % is not of a protected type', col, tbl USING ERRCODE = 'S9P22';
	END IF;
	q := format('WITH batch AS (SELECT ctid FROM %1$s WHERE %2$I IS NOT NULL AND NOT finsec._protected_is_current(%2$I) '
				'LIMIT %3$s FOR UPDATE SKIP LOCKED) '
				'UPDATE %1$s t SET %2$I = finsec.protected_rekey(t.%2$I) FROM batch WHERE t.ctid = batch.ctid',
				tbl, col, batch_size);
	LOOP
		EXECUTE q;
		GET DIAGNOSTICS n = ROW_COUNT;
		COMMIT;
		total := total + n;
		IF n = 0 THEN
			-- Nothing left, or only rows other transactions hold: wait a little and look again.
			EXECUTE format('SELECT count(*) FROM %1$s WHERE %2$I IS NOT NULL AND NOT finsec._protected_is_current(%2$I)',
						   tbl, col) INTO n;
			COMMIT;
			EXIT WHEN n = 0;
			skipped_rounds := skipped_rounds + 1;
			IF skipped_rounds > 600 THEN
				RAISE EXCEPTION '% values of %.% stayed locked by other transactions', n, tbl, col
					USING ERRCODE = 'lock_not_available', HINT = 'Call finsec.protected_rekey_column again.';
			END IF;
			PERFORM pg_sleep(0.1);
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

-- (end of section 3)
