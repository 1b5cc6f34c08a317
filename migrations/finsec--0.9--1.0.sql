/* finsec 0.9 -> 1.0 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '1.0'" to load this file. \quit

-- =====================================================================
-- Transaction monitoring (issue 16, docs/monitor.md): a task of the
-- worker framework processes every committed payment of the registered
-- tables exactly once, in snapshot-bounded batches over a transaction-id
-- stamp, evaluates the rules of finsec.monitor_rule over the monitor's
-- own event history and raises deduplicated alerts that join cases.
-- Clauses W1, W2, W4, W5, R1, R7.
-- =====================================================================

-- ---------------------------------------------------------------------
-- 1. Core: registered tables, the event history, batches, the rule
--    catalog, alerts, snoozes, cases for alerts.
-- ---------------------------------------------------------------------

/*
 * Payments tables the monitor reads.  position is the pg_snapshot of the
 * last batch committed: exactly the payments whose stamp is visible in it
 * have been processed.
 */
CREATE TABLE finsec.monitor_table (
	table_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	relid regclass NOT NULL UNIQUE,
	customer_column text NOT NULL,
	amount_column text NOT NULL,
	posted_at_column text NOT NULL,
	account_column text,
	counterparty_column text,
	currency_column text,
	direction_column text,
	direction_default text NOT NULL DEFAULT 'out' CHECK (direction_default IN ('in', 'out')),
	customer_type_column text,
	customer_type_default text NOT NULL DEFAULT 'natural' CHECK (customer_type_default IN ('natural', 'legal')),
	cash_column text,
	cross_border_column text,
	status_column text,
	device_column text,
	ip_column text,
	reference_column text,
	stamp_column text NOT NULL DEFAULT 'finsec_mon_txid',
	position pg_snapshot NOT NULL,
	enabled_by name NOT NULL,
	enabled_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	payments bigint NOT NULL DEFAULT 0,
	null_amounts bigint NOT NULL DEFAULT 0,
	unknown_currencies bigint NOT NULL DEFAULT 0,
	batches bigint NOT NULL DEFAULT 0,
	alerts bigint NOT NULL DEFAULT 0,
	last_batch_at timestamptz,
	last_checked_at timestamptz,
	last_payment_at timestamptz,
	-- after a rebase (restore into another cluster): the highest stamp restored; see _monitor_batch
	rebase_ceiling xid8
);
COMMENT ON TABLE finsec.monitor_table IS
	'payments tables registered for transaction monitoring (finsec.enable_monitoring): column mapping and the committed position';
REVOKE ALL ON finsec.monitor_table FROM PUBLIC;
GRANT SELECT ON finsec.monitor_table TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.monitor_table', '');

/*
 * Batches: one row per committed batch, the event-id range it added and
 * the snapshots that bound it.  A rule evaluation of batch b reads events
 * with event_id <= b.last_event only, so that a backtest replays batches
 * exactly as the monitor saw them.
 */
CREATE SEQUENCE finsec.monitor_batch_id_seq AS bigint;
CREATE TABLE finsec.monitor_batch (
	batch_id bigint PRIMARY KEY,
	table_id integer NOT NULL,
	started_at timestamptz NOT NULL,
	finished_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	snapshot_from pg_snapshot NOT NULL,
	snapshot_to pg_snapshot NOT NULL,
	first_event bigint,
	last_event bigint,
	first_at timestamptz,
	last_at timestamptz,
	payments integer NOT NULL,
	alerts integer NOT NULL DEFAULT 0,
	rules_failed integer NOT NULL DEFAULT 0,
	max_lag interval,
	by_worker boolean NOT NULL,
	backfill boolean NOT NULL DEFAULT false
);
CREATE INDEX ON finsec.monitor_batch (table_id, batch_id);
COMMENT ON TABLE finsec.monitor_batch IS
	'batches the monitor committed: event range, bounding snapshots, payments, alerts, lag';
REVOKE ALL ON finsec.monitor_batch FROM PUBLIC;
GRANT SELECT ON finsec.monitor_batch TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.monitor_batch', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.monitor_batch_id_seq', '');

/*
 * The event history the rules read: one normalised row per committed
 * payment, in processing order.  Amounts converted at the rate of the
 * payment's day (finsec.currency_rate); amount NULL and amount_cny NULL
 * mark a payment whose amount or currency could not be read (counted in
 * finsec.monitor_table and raised by rule monitor.data_quality).
 */
CREATE TABLE finsec.monitor_event (
	event_id bigint PRIMARY KEY,
	table_id integer NOT NULL,
	batch_id bigint NOT NULL,
	stamp xid8,						-- NULL: history backfilled at registration
	reference text,
	at timestamptz NOT NULL,
	customer text NOT NULL,
	customer_type text NOT NULL CHECK (customer_type IN ('natural', 'legal')),
	account text,
	counterparty text,
	direction text NOT NULL CHECK (direction IN ('in', 'out')),
	cash boolean NOT NULL DEFAULT false,
	cross_border boolean NOT NULL DEFAULT false,
	succeeded boolean NOT NULL DEFAULT true,
	currency text NOT NULL DEFAULT 'CNY',
	amount numeric,
	amount_cny numeric,
	amount_usd numeric,
	device text,
	ip text
);
CREATE SEQUENCE finsec.monitor_event_id_seq AS bigint;
CREATE INDEX monitor_event_customer_at ON finsec.monitor_event (customer, at);
CREATE INDEX monitor_event_account_at ON finsec.monitor_event (account, at) WHERE account IS NOT NULL;
CREATE INDEX monitor_event_counterparty_at ON finsec.monitor_event (counterparty, at) WHERE counterparty IS NOT NULL;
CREATE INDEX monitor_event_device_at ON finsec.monitor_event (device, at) WHERE device IS NOT NULL;
CREATE INDEX monitor_event_ip_at ON finsec.monitor_event (ip, at) WHERE ip IS NOT NULL;
CREATE INDEX monitor_event_at ON finsec.monitor_event (at);
CREATE INDEX monitor_event_batch ON finsec.monitor_event (batch_id);
COMMENT ON TABLE finsec.monitor_event IS
	'the monitor''s event history: one normalised row per committed payment, in processing order (rules read it through indexes)';
REVOKE ALL ON finsec.monitor_event FROM PUBLIC;
GRANT SELECT ON finsec.monitor_event TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.monitor_event', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.monitor_event_id_seq', '');

/*
 * Kinds of rules: evaluator(rule, first_event, last_event) returns the
 * hits (finsec.monitor_hit) of a rule over the events of one batch
 * (scope 'payment') or once per round (scope 'system': events NULL).
 * parameters: name -> {"type": numeric|integer|interval|text|boolean|
 * text[], "required": bool, "default": value, "min": n, "max": n}.
 * on_alert(alert_id, rule, created boolean), when set, is called for a
 * non-shadow rule's alert after it is raised or extended (never in a
 * backtest).
 */
CREATE TABLE finsec.monitor_rule_kind (
	kind text PRIMARY KEY,
	scope text NOT NULL CHECK (scope IN ('payment', 'system')),
	entities text[] NOT NULL,
	parameters jsonb NOT NULL DEFAULT '{}',
	window_required boolean NOT NULL DEFAULT false,
	evaluator regprocedure NOT NULL,
	on_alert regprocedure,
	description text NOT NULL
);
COMMENT ON TABLE finsec.monitor_rule_kind IS
	'kinds of monitoring rules: scope, entities, parameters, evaluator';
REVOKE ALL ON finsec.monitor_rule_kind FROM PUBLIC;
GRANT SELECT ON finsec.monitor_rule_kind TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * The rule catalog: versions of named rules.  A version is 'draft'
 * (backtest only), 'active' (at most one per name) or 'retired'.  Changed
 * only through two-person change kinds monitor.rule_set,
 * monitor.rule_deploy and monitor.rule_retire.
 */
CREATE TABLE finsec.monitor_rule (
	rule_name text NOT NULL CHECK (rule_name ~ '^[a-z][a-z0-9_.]{0,62}$'),
	version integer NOT NULL CHECK (version > 0),
	kind text NOT NULL REFERENCES finsec.monitor_rule_kind,
	entity text NOT NULL,
	time_window interval,
	params jsonb NOT NULL DEFAULT '{}',
	category text REFERENCES finsec.risk_category,
	severity text NOT NULL DEFAULT 'medium' CHECK (severity IN ('low', 'medium', 'high', 'critical')),
	shadow boolean NOT NULL DEFAULT false,
	action text NOT NULL DEFAULT 'alert' CHECK (action IN ('alert', 'suspend')),
	state text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'active', 'retired')),
	description text,
	created_by name NOT NULL DEFAULT session_user,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	request_id bigint,
	approved_by name,
	activated_at timestamptz,
	retired_at timestamptz,
	PRIMARY KEY (rule_name, version),
	CHECK (time_window IS NULL OR time_window > interval '0')
);
CREATE UNIQUE INDEX monitor_rule_one_active ON finsec.monitor_rule (rule_name) WHERE state = 'active';
COMMENT ON TABLE finsec.monitor_rule IS
	'monitoring rules (typologies, large-value reports, service quality): versioned, changed by two-person approval';
REVOKE ALL ON finsec.monitor_rule FROM PUBLIC;
GRANT SELECT ON finsec.monitor_rule TO finsec_admin, finsec_auditor, finsec_operator;
-- rules an administrator made; the installed ones come with CREATE EXTENSION (docs/monitor.md, dump and restore)
SELECT pg_catalog.pg_extension_config_dump('finsec.monitor_rule', 'WHERE created_by <> ''finsec''');

/*
 * What an evaluator returns: one hit of a rule on one entity in one
 * period (the deduplication key with the rule and entity; by default the
 * local day of the hit in finsec.monitor_timezone), the events it covers,
 * the amount involved and the measured value that crossed the threshold.
 */
CREATE TYPE finsec.monitor_hit AS (
	entity text,
	period text,
	hit_at timestamptz,
	events bigint[],
	amount numeric,
	value numeric,
	detail jsonb
);

/*
 * Alerts: at most one open alert per (rule, entity type, entity,
 * period); a new hit extends it (hits, events, last_hit_at).
 */
CREATE TABLE finsec.alert (
	alert_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	rule_name text NOT NULL,
	rule_version integer NOT NULL,
	kind text NOT NULL,
	entity_type text NOT NULL,
	entity text NOT NULL,
	period text NOT NULL,
	state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'assigned', 'closed')),
	severity text NOT NULL,
	category text,
	shadow boolean NOT NULL DEFAULT false,
	first_hit_at timestamptz NOT NULL,
	last_hit_at timestamptz NOT NULL,
	raised_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	hits integer NOT NULL DEFAULT 1,
	events bigint[] NOT NULL DEFAULT '{}',
	amount numeric,
	value numeric,
	detail jsonb NOT NULL DEFAULT '{}',
	table_id integer,
	batch_id bigint,
	case_id bigint,
	assignee name,
	closed_by name,
	closed_at timestamptz,
	outcome text CHECK (outcome IN ('confirmed', 'false_positive', 'inconclusive', 'duplicate', 'reported')),
	note text,
	CHECK ((state = 'closed') = (outcome IS NOT NULL))
);
CREATE UNIQUE INDEX alert_open_key ON finsec.alert (rule_name, entity_type, entity, period) WHERE state <> 'closed';
CREATE INDEX alert_entity ON finsec.alert (entity_type, entity);
CREATE INDEX alert_state ON finsec.alert (state, raised_at);
COMMENT ON TABLE finsec.alert IS
	'monitoring alerts: one open alert per rule, entity and period, extended by new hits; joined to cases';
REVOKE ALL ON finsec.alert FROM PUBLIC;
GRANT SELECT ON finsec.alert TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.alert', '');

/* Snoozes: hits of a rule on an entity raise nothing until the snooze expires. */
CREATE TABLE finsec.alert_snooze (
	snooze_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	rule_name text NOT NULL,
	entity_type text NOT NULL,
	entity text NOT NULL,
	until timestamptz NOT NULL,
	reason text NOT NULL CHECK (length(btrim(reason)) > 0),
	snoozed_by name NOT NULL DEFAULT session_user,
	snoozed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	suppressed integer NOT NULL DEFAULT 0,
	lifted_by name,
	lifted_at timestamptz
);
CREATE INDEX alert_snooze_key ON finsec.alert_snooze (rule_name, entity_type, entity, until);
COMMENT ON TABLE finsec.alert_snooze IS
	'snoozes of a rule on an entity, with expiry and reason (audited); hits during a snooze are counted, not raised';
REVOKE ALL ON finsec.alert_snooze FROM PUBLIC;
GRANT SELECT ON finsec.alert_snooze TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.alert_snooze', '');

/* Per-rule evaluation status: a rule that fails is recorded here and skipped for that batch only. */
CREATE TABLE finsec.monitor_rule_status (
	rule_name text PRIMARY KEY,
	version integer NOT NULL,
	evaluations bigint NOT NULL DEFAULT 0,
	hits bigint NOT NULL DEFAULT 0,
	suppressed bigint NOT NULL DEFAULT 0,
	failures bigint NOT NULL DEFAULT 0,
	last_run_at timestamptz,
	last_success_at timestamptz,
	last_failure_at timestamptz,
	last_sqlstate text,
	last_error text
);
COMMENT ON TABLE finsec.monitor_rule_status IS
	'per rule: evaluations, hits, suppressed hits, failures and the last error';
REVOKE ALL ON finsec.monitor_rule_status FROM PUBLIC;
GRANT SELECT ON finsec.monitor_rule_status TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * Currency rates (data, maintained by operators): CNY per unit of a
 * currency from a day on.  CNY itself is 1 and needs no row.  A payment
 * in a currency without a rate on its day has amount_cny NULL and is
 * counted as an unknown currency.
 */
CREATE TABLE finsec.currency_rate (
	currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$' AND currency <> 'CNY'),
	valid_from date NOT NULL,
	cny_per_unit numeric NOT NULL CHECK (cny_per_unit > 0 AND cny_per_unit < 'Infinity'),
	source text,
	recorded_by name NOT NULL DEFAULT session_user,
	recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (currency, valid_from)
);
COMMENT ON TABLE finsec.currency_rate IS
	'CNY per unit of a currency from a day on (data, maintained by operators); monitoring converts amounts with the rate of the payment''s day';
REVOKE ALL ON finsec.currency_rate FROM PUBLIC;
GRANT SELECT ON finsec.currency_rate TO finsec_admin, finsec_auditor, finsec_operator;
GRANT INSERT, UPDATE, DELETE ON finsec.currency_rate TO finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.currency_rate', '');

/*
 * The local time and day of an instant in finsec.monitor_timezone (default
 * Asia/Shanghai).  Without a SET clause, every name qualified, so that the
 * planner inlines them into the rules' queries.
 */
CREATE FUNCTION finsec._monitor_local(at timestamptz)
RETURNS timestamp
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT pg_catalog.timezone(COALESCE(NULLIF(pg_catalog.current_setting('finsec.monitor_timezone', true), ''), 'Asia/Shanghai'), at) $$;
REVOKE ALL ON FUNCTION finsec._monitor_local(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._monitor_local(timestamptz) TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec._monitor_day(at timestamptz)
RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT CAST(pg_catalog.timezone(COALESCE(NULLIF(pg_catalog.current_setting('finsec.monitor_timezone', true), ''), 'Asia/Shanghai'), at) AS pg_catalog.date) $$;
REVOKE ALL ON FUNCTION finsec._monitor_day(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._monitor_day(timestamptz) TO finsec_admin, finsec_auditor, finsec_operator;

/* The dedup period of a day: its ISO date, whatever the session's DateStyle. */
CREATE FUNCTION finsec._monitor_period(at timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT pg_catalog.to_char(pg_catalog.timezone(COALESCE(NULLIF(pg_catalog.current_setting('finsec.monitor_timezone', true), ''), 'Asia/Shanghai'), at), 'YYYY-MM-DD') $$;
REVOKE ALL ON FUNCTION finsec._monitor_period(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._monitor_period(timestamptz) TO finsec_admin, finsec_auditor, finsec_operator;

/* An amount in currency cur on day d, in CNY (NULL: no rate that day). */
CREATE FUNCTION finsec.monitor_convert(amount numeric, cur text, d date, to_currency text DEFAULT 'CNY')
RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN amount IS NULL OR cur IS NULL OR to_currency IS NULL THEN NULL
		WHEN upper(cur) = upper(to_currency) THEN amount
		WHEN upper(to_currency) = 'CNY' THEN amount * f.rate
		WHEN upper(cur) = 'CNY' THEN round(amount / t.rate, 6)
		ELSE round(amount * f.rate / t.rate, 6)
	END
	  FROM (SELECT (SELECT r.cny_per_unit FROM finsec.currency_rate r
					 WHERE r.currency = upper(cur) AND r.valid_from <= d ORDER BY r.valid_from DESC LIMIT 1) AS rate) f,
		   (SELECT (SELECT r.cny_per_unit FROM finsec.currency_rate r
					 WHERE r.currency = upper(to_currency) AND r.valid_from <= d ORDER BY r.valid_from DESC LIMIT 1) AS rate) t
$$;
COMMENT ON FUNCTION finsec.monitor_convert(numeric, text, date, text) IS
	'an amount converted between currencies at the rates of finsec.currency_rate valid on a day (NULL without a rate)';
REVOKE ALL ON FUNCTION finsec.monitor_convert(numeric, text, date, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.monitor_convert(numeric, text, date, text) TO finsec_admin, finsec_auditor, finsec_operator;


-- (end of section 1)

-- ---------------------------------------------------------------------
-- 1b. Core functions: rule validation and two-person changes, the
--     batch, alerts, snoozes, cases, backtest, status.
-- ---------------------------------------------------------------------

/*
 * One row: its lock serialises the monitor's batches and rounds in a
 * database (worker and monitor_now alike), so that a batch's events are
 * a contiguous event-id range and every batch sees all earlier ones.
 */
CREATE TABLE finsec.monitor_state (
	id boolean PRIMARY KEY DEFAULT true CHECK (id),
	last_round_at timestamptz,
	last_round_by_worker boolean,
	rounds bigint NOT NULL DEFAULT 0,
	events_pruned bigint NOT NULL DEFAULT 0
);
INSERT INTO finsec.monitor_state DEFAULT VALUES;
REVOKE ALL ON finsec.monitor_state FROM PUBLIC;
GRANT SELECT ON finsec.monitor_state TO finsec_admin, finsec_auditor, finsec_operator;

-- ---- cases: one case system for risk decisions and alerts -------------
ALTER TABLE finsec.risk_case ALTER COLUMN decision_id DROP NOT NULL,
	ALTER COLUMN decided_at DROP NOT NULL,
	ALTER COLUMN decision DROP NOT NULL,
	ADD COLUMN alert_id bigint UNIQUE,
	ADD CONSTRAINT risk_case_one_source CHECK (num_nonnulls(decision_id, alert_id) = 1),
	ADD CONSTRAINT risk_case_decision_complete CHECK (decision_id IS NULL OR (decided_at IS NOT NULL AND decision IS NOT NULL));
COMMENT ON COLUMN finsec.risk_case.alert_id IS
	'the monitoring alert that opened the case (exactly one of decision_id and alert_id); later alerts of the entity join it (finsec.alert.case_id)';
CREATE INDEX risk_case_open_entities ON finsec.risk_case USING gin (entities) WHERE state <> 'closed';

-- ---- rule validation ---------------------------------------------------

/*
 * A rule's definition checked against its kind and completed with the
 * kind's defaults: unknown parameters, wrong types, values out of range,
 * a missing or non-positive window are refused.  Returns the rule as
 * stored: {kind, entity, time_window, params, category, severity, shadow,
 * action, description}.
 */
CREATE FUNCTION finsec._monitor_rule_check(def jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k finsec.monitor_rule_kind;
	p jsonb;
	out jsonb := '{}';
	spec jsonb;
	name text;
	v jsonb;
	t text;
	w interval;
	bad text;
	allowed text[] := ARRAY['kind', 'entity', 'time_window', 'params', 'category', 'severity', 'shadow', 'action', 'description'];
BEGIN
	IF jsonb_typeof(def) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'a monitoring rule is a JSON object' USING ERRCODE = 'S9M01',
			HINT = 'Give {"kind": ..., "entity": ..., "time_window": ..., "params": {...}}.';
	END IF;
	SELECT string_agg(x, ', ' ORDER BY x) INTO bad FROM jsonb_object_keys(def) x WHERE x <> ALL (allowed);
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'a monitoring rule has unknown field(s): %', bad USING ERRCODE = 'S9M01',
			HINT = 'The fields are ' || array_to_string(allowed, ', ') || '.';
	END IF;
	SELECT * INTO k FROM finsec.monitor_rule_kind mk WHERE mk.kind = def->>'kind';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'monitoring rule kind "%" does not exist', coalesce(def->>'kind', 'NULL') USING ERRCODE = 'S9M02',
			HINT = 'finsec.monitor_rule_kind lists the kinds.';
	END IF;
	IF jsonb_typeof(def->'entity') IS DISTINCT FROM 'string' OR NOT (def->>'entity' = ANY (k.entities)) THEN
		RAISE EXCEPTION 'rule kind % does not watch entity "%"', k.kind, coalesce(def->>'entity', 'NULL') USING ERRCODE = 'S9M03',
			HINT = 'Its entities are ' || array_to_string(k.entities, ', ') || '.';
	END IF;
	IF def ? 'time_window' AND jsonb_typeof(def->'time_window') <> 'null' THEN
		IF jsonb_typeof(def->'time_window') <> 'string' THEN
			RAISE EXCEPTION 'time_window of a monitoring rule is an interval in a JSON string' USING ERRCODE = 'S9M04';
		END IF;
		BEGIN
			w := (def->>'time_window')::interval;
		EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
			RAISE EXCEPTION 'time_window "%" is not an interval', def->>'time_window' USING ERRCODE = 'S9M04';
		END;
		IF w <= interval '0' OR w > interval '10 years' THEN
			RAISE EXCEPTION 'time_window of a monitoring rule must be positive and at most 10 years, not %', w USING ERRCODE = 'S9M04';
		END IF;
	END IF;
	IF k.window_required AND w IS NULL THEN
		RAISE EXCEPTION 'rule kind % needs a time_window', k.kind USING ERRCODE = 'S9M04';
	END IF;
	p := coalesce(def->'params', '{}');
	IF jsonb_typeof(p) <> 'object' THEN
		RAISE EXCEPTION 'params of a monitoring rule is a JSON object' USING ERRCODE = 'S9M05';
	END IF;
	SELECT string_agg(x, ', ' ORDER BY x) INTO bad FROM jsonb_object_keys(p) x WHERE NOT k.parameters ? x;
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'rule kind % has no parameter(s) %', k.kind, bad USING ERRCODE = 'S9M05',
			HINT = coalesce('Its parameters are ' || (SELECT string_agg(x, ', ' ORDER BY x) FROM jsonb_object_keys(k.parameters) x) || '.',
							'It has no parameters.');
	END IF;
	FOR name, spec IN SELECT key, value FROM jsonb_each(k.parameters) LOOP
		v := coalesce(p->name, spec->'default');
		IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
			IF coalesce((spec->>'required')::boolean, false) THEN
				RAISE EXCEPTION 'rule kind % needs parameter %', k.kind, name USING ERRCODE = 'S9M06';
			END IF;
			CONTINUE;
		END IF;
		t := spec->>'type';
		IF t IN ('numeric', 'integer') THEN
			IF jsonb_typeof(v) <> 'number' OR (t = 'integer' AND (v::text)::numeric <> trunc((v::text)::numeric)) THEN
				RAISE EXCEPTION 'parameter % of rule kind % must be a JSON number%', name, k.kind,
					CASE WHEN t = 'integer' THEN ' without a fraction' ELSE '' END USING ERRCODE = 'S9M07';
			END IF;
			IF (spec ? 'min' AND (v::text)::numeric < (spec->>'min')::numeric)
			   OR (spec ? 'max' AND (v::text)::numeric > (spec->>'max')::numeric) THEN
				RAISE EXCEPTION 'parameter % of rule kind % is %, outside [%, %]', name, k.kind, v,
					coalesce(spec->>'min', '-inf'), coalesce(spec->>'max', 'inf') USING ERRCODE = 'S9M08';
			END IF;
		ELSIF t = 'interval' THEN
			IF jsonb_typeof(v) <> 'string' THEN
				RAISE EXCEPTION 'parameter % of rule kind % must be an interval in a JSON string', name, k.kind USING ERRCODE = 'S9M07';
			END IF;
			BEGIN
				w := (v #>> '{}')::interval;
			EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
				RAISE EXCEPTION 'parameter % of rule kind % is not an interval: %', name, k.kind, v USING ERRCODE = 'S9M07';
			END;
			IF w < interval '0' OR (spec ? 'min' AND w < (spec->>'min')::interval)
			   OR (spec ? 'max' AND w > (spec->>'max')::interval) THEN
				RAISE EXCEPTION 'parameter % of rule kind % is %, outside [%, %]', name, k.kind, w,
					coalesce(spec->>'min', '0'), coalesce(spec->>'max', 'inf') USING ERRCODE = 'S9M08';
			END IF;
		ELSIF t = 'boolean' THEN
			IF jsonb_typeof(v) <> 'boolean' THEN
				RAISE EXCEPTION 'parameter % of rule kind % must be a JSON boolean', name, k.kind USING ERRCODE = 'S9M07';
			END IF;
		ELSIF t = 'text' THEN
			IF jsonb_typeof(v) <> 'string' THEN
				RAISE EXCEPTION 'parameter % of rule kind % must be a JSON string', name, k.kind USING ERRCODE = 'S9M07';
			END IF;
			IF spec ? 'values' AND NOT (spec->'values') ? (v #>> '{}') THEN
				RAISE EXCEPTION 'parameter % of rule kind % is "%", not one of %', name, k.kind, v #>> '{}', spec->'values'
					USING ERRCODE = 'S9M08';
			END IF;
		ELSIF t = 'text[]' THEN
			IF jsonb_typeof(v) <> 'array' OR EXISTS (SELECT FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'string') THEN
				RAISE EXCEPTION 'parameter % of rule kind % must be a JSON array of strings', name, k.kind USING ERRCODE = 'S9M07';
			END IF;
		ELSE
			RAISE EXCEPTION 'rule kind % declares parameter % of unknown type %', k.kind, name, t USING ERRCODE = 'internal_error';
		END IF;
		out := out || jsonb_build_object(name, v);
	END LOOP;
	IF def ? 'category' AND jsonb_typeof(def->'category') <> 'null'
	   AND NOT EXISTS (SELECT FROM finsec.risk_category c WHERE c.category = def->>'category') THEN
		RAISE EXCEPTION 'category "%" is not in finsec.risk_category', def->>'category' USING ERRCODE = 'S9M09';
	END IF;
	IF coalesce(def->>'severity', 'medium') NOT IN ('low', 'medium', 'high', 'critical') THEN
		RAISE EXCEPTION 'severity "%" is not low, medium, high or critical', def->>'severity' USING ERRCODE = 'S9M09';
	END IF;
	IF coalesce(def->>'action', 'alert') NOT IN ('alert', 'suspend') THEN
		RAISE EXCEPTION 'action "%" is not alert or suspend', def->>'action' USING ERRCODE = 'S9M09';
	END IF;
	IF def ? 'shadow' AND jsonb_typeof(def->'shadow') NOT IN ('boolean', 'null') THEN
		RAISE EXCEPTION 'shadow of a monitoring rule is a JSON boolean' USING ERRCODE = 'S9M09';
	END IF;
	RETURN jsonb_build_object('kind', k.kind, 'entity', def->>'entity',
							  'time_window', CASE WHEN def ? 'time_window' AND jsonb_typeof(def->'time_window') <> 'null'
												  THEN (def->>'time_window')::interval::text END,
							  'params', out, 'category', def->>'category',
							  'severity', coalesce(def->>'severity', 'medium'),
							  'shadow', coalesce((def->>'shadow')::boolean, false),
							  'action', coalesce(def->>'action', 'alert'),
							  'description', def->>'description');
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_rule_check(jsonb) FROM PUBLIC;

/* Store a new version of a rule (draft or active) from a checked definition. */
CREATE FUNCTION finsec._monitor_rule_store(rule text, def jsonb, new_state text, requester name, approver name, req bigint)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v integer;
BEGIN
	PERFORM 1 FROM finsec.monitor_rule WHERE rule_name = rule FOR UPDATE;
	SELECT coalesce(max(version), 0) + 1 INTO v FROM finsec.monitor_rule WHERE rule_name = rule;
	IF new_state = 'active' THEN
		UPDATE finsec.monitor_rule SET state = 'retired', retired_at = now() WHERE rule_name = rule AND state = 'active';
	END IF;
	INSERT INTO finsec.monitor_rule (rule_name, version, kind, entity, time_window, params, category, severity, shadow,
									 action, state, description, created_by, request_id, approved_by, activated_at)
	VALUES (rule, v, def->>'kind', def->>'entity', (def->>'time_window')::interval, def->'params', def->>'category',
			def->>'severity', (def->>'shadow')::boolean, def->>'action', new_state, def->>'description',
			requester, req, approver, CASE WHEN new_state = 'active' THEN now() END);
	RETURN v;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_rule_store(text, jsonb, text, name, name, bigint) FROM PUBLIC;

CREATE FUNCTION finsec.monitor_rule_draft(rule_name text, definition jsonb)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v integer;
BEGIN
	PERFORM finsec._require_admin('draft');
	IF rule_name IS NULL OR definition IS NULL THEN
		RAISE EXCEPTION 'rule name and definition must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF rule_name !~ '^[a-z][a-z0-9_.]{0,62}$' THEN
		RAISE EXCEPTION 'rule name "%" is not lower-case letters, digits, _ and . (at most 63)', rule_name USING ERRCODE = 'S9M01';
	END IF;
	v := finsec._monitor_rule_store(rule_name, finsec._monitor_rule_check(definition), 'draft', session_user, NULL, NULL);
	PERFORM finsec.audit_event('monitor.rule_draft', 'monitor_rule:' || rule_name, 'draft', true,
							   format('draft version %s of monitoring rule %s', v, rule_name),
							   jsonb_build_object('version', v, 'definition', definition));
	RETURN v;
END
$$;
COMMENT ON FUNCTION finsec.monitor_rule_draft(text, jsonb) IS
	'store a draft version of a monitoring rule (for finsec.monitor_backtest); deploy it with change kind monitor.rule_deploy';
REVOKE ALL ON FUNCTION finsec.monitor_rule_draft(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.monitor_rule_draft(text, jsonb) TO finsec_admin;

-- prepare: the request pins the checked definition (rule_set), the draft (rule_deploy) or the active version (rule_retire).
CREATE FUNCTION finsec._monitor_rule_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r finsec.monitor_rule;
BEGIN
	IF kind IS NULL OR target IS NULL OR payload IS NULL THEN
		RAISE EXCEPTION 'kind, target and payload of a monitoring rule change must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF target !~ '^[a-z][a-z0-9_.]{0,62}$' THEN
		RAISE EXCEPTION 'rule name "%" is not lower-case letters, digits, _ and . (at most 63)', target USING ERRCODE = 'S9M01';
	END IF;
	IF kind = 'monitor.rule_set' THEN
		RETURN finsec._monitor_rule_check(payload);
	ELSIF kind = 'monitor.rule_deploy' THEN
		IF jsonb_typeof(payload->'version') IS DISTINCT FROM 'number' OR (SELECT count(*) FROM jsonb_object_keys(payload)) <> 1 THEN
			RAISE EXCEPTION 'a monitor.rule_deploy request needs the payload {"version": <draft version>}' USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT * INTO r FROM finsec.monitor_rule mr WHERE mr.rule_name = target AND mr.version = (payload->>'version')::numeric;
		IF NOT FOUND OR r.state <> 'draft' THEN
			RAISE EXCEPTION 'monitoring rule % has no draft version %', target, payload->>'version' USING ERRCODE = 'undefined_object';
		END IF;
		RETURN jsonb_build_object('version', r.version, 'definition', finsec._monitor_rule_check(jsonb_build_object(
			'kind', r.kind, 'entity', r.entity, 'time_window', r.time_window::text, 'params', r.params, 'category', r.category,
			'severity', r.severity, 'shadow', r.shadow, 'action', r.action, 'description', r.description)));
	ELSIF kind = 'monitor.rule_retire' THEN
		IF payload <> '{}' THEN
			RAISE EXCEPTION 'a monitor.rule_retire request has no payload' USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT * INTO r FROM finsec.monitor_rule mr WHERE mr.rule_name = target AND mr.state = 'active';
		IF NOT FOUND THEN
			RAISE EXCEPTION 'monitoring rule % has no active version', target USING ERRCODE = 'undefined_object';
		END IF;
		RETURN jsonb_build_object('version', r.version);
	END IF;
	RAISE EXCEPTION '"%" is not a kind of change of monitoring rules', coalesce(kind, 'NULL') USING ERRCODE = 'invalid_parameter_value';
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_rule_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._monitor_rule_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	requester name;
	v integer;
	n integer;
BEGIN
	IF request_id IS NULL OR kind IS NULL OR target IS NULL OR payload IS NULL THEN
		RAISE EXCEPTION 'request, kind, target and payload of a monitoring rule change must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT cr.requested_by INTO requester FROM finsec.change_request cr WHERE cr.request_id = _monitor_rule_apply.request_id;
	IF kind = 'monitor.rule_set' THEN
		v := finsec._monitor_rule_store(target, finsec._monitor_rule_check(payload), 'active', requester, session_user, request_id);
		RETURN jsonb_build_object('rule', target, 'version', v, 'state', 'active');
	ELSIF kind = 'monitor.rule_deploy' THEN
		v := (payload->>'version')::integer;
		PERFORM 1 FROM finsec.monitor_rule WHERE rule_name = target FOR UPDATE;
		IF NOT EXISTS (SELECT FROM finsec.monitor_rule mr WHERE mr.rule_name = target AND mr.version = v AND mr.state = 'draft') THEN
			RAISE EXCEPTION 'draft version % of monitoring rule % is no longer a draft', v, target
				USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Reject this request and file a new one.';
		END IF;
		UPDATE finsec.monitor_rule SET state = 'retired', retired_at = now() WHERE rule_name = target AND state = 'active';
		UPDATE finsec.monitor_rule SET state = 'active', activated_at = now(), request_id = _monitor_rule_apply.request_id,
									   approved_by = session_user
		 WHERE rule_name = target AND version = v;
		RETURN jsonb_build_object('rule', target, 'version', v, 'state', 'active');
	ELSIF kind = 'monitor.rule_retire' THEN
		UPDATE finsec.monitor_rule SET state = 'retired', retired_at = now()
		 WHERE rule_name = target AND state = 'active' AND version = (payload->>'version')::integer;
		GET DIAGNOSTICS n = ROW_COUNT;
		IF n = 0 THEN
			RAISE EXCEPTION 'the active version of monitoring rule % changed after request % was filed', target, request_id
				USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Reject this request and file a new one.';
		END IF;
		RETURN jsonb_build_object('rule', target, 'version', (payload->>'version')::integer, 'state', 'retired');
	END IF;
	RAISE EXCEPTION '"%" is not a kind of change of monitoring rules', coalesce(kind, 'NULL') USING ERRCODE = 'invalid_parameter_value';
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_rule_apply(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('monitor.rule_set', 'finsec._monitor_rule_prepare(text, text, jsonb)', 'finsec._monitor_rule_apply(bigint, text, text, jsonb)', NULL,
	 'create or change a monitoring rule: a new active version (target: rule name; payload: {kind, entity, time_window, params, category, severity, shadow, action, description})'),
	('monitor.rule_deploy', 'finsec._monitor_rule_prepare(text, text, jsonb)', 'finsec._monitor_rule_apply(bigint, text, text, jsonb)', NULL,
	 'make a draft version of a monitoring rule the active one (target: rule name; payload: {"version"})'),
	('monitor.rule_retire', 'finsec._monitor_rule_prepare(text, text, jsonb)', 'finsec._monitor_rule_apply(bigint, text, text, jsonb)', NULL,
	 'switch a monitoring rule off (target: rule name)');

-- ---- core rule kinds ---------------------------------------------------

/* threshold: every single payment at or above an amount (in CNY) raises the entity's alert of the day. */
CREATE FUNCTION finsec._monitor_eval_threshold(r finsec.monitor_rule, first_event bigint, last_event bigint)
RETURNS SETOF finsec.monitor_hit
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT h.entity, finsec._monitor_period(h.at), h.at, ARRAY[h.event_id], h.amount_cny, h.amount_cny,
		   jsonb_build_object('min_amount_cny', r.params->'min_amount_cny', 'amount_cny', h.amount_cny,
							  'currency', h.currency, 'direction', h.direction)
	  FROM (SELECT e.event_id, e.at, e.amount_cny, e.currency, e.direction,
				   CASE r.entity WHEN 'customer' THEN e.customer WHEN 'account' THEN e.account
								 WHEN 'counterparty' THEN e.counterparty WHEN 'device' THEN e.device
								 WHEN 'ip' THEN e.ip END AS entity
			  FROM finsec.monitor_event e
			 WHERE e.event_id BETWEEN first_event AND last_event
			   AND e.amount_cny >= (r.params->>'min_amount_cny')::numeric
			   AND (r.params->>'direction' = 'any' OR e.direction = r.params->>'direction')) h
	 WHERE h.entity IS NOT NULL
$$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_threshold(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

/* data_quality: payments whose amount is NULL or whose currency has no rate, per table and day. */
CREATE FUNCTION finsec._monitor_eval_data_quality(r finsec.monitor_rule, first_event bigint, last_event bigint)
RETURNS SETOF finsec.monitor_hit
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT t.relid::text, finsec._monitor_period(max(e.at)), max(e.at),
		   (array_agg(e.event_id ORDER BY e.event_id))[1:1000], NULL::numeric, count(*)::numeric,
		   jsonb_build_object('null_amounts', count(*) FILTER (WHERE e.amount IS NULL),
							  'not_finite_amounts', count(*) FILTER (WHERE e.amount IN ('NaN', 'Infinity', '-Infinity')),
							  'unknown_currencies', count(*) FILTER (WHERE e.amount NOT IN ('NaN', 'Infinity', '-Infinity') AND e.amount_cny IS NULL),
							  'currencies', jsonb_agg(DISTINCT e.currency) FILTER (WHERE e.amount NOT IN ('NaN', 'Infinity', '-Infinity') AND e.amount_cny IS NULL))
	  FROM finsec.monitor_event e JOIN finsec.monitor_table t USING (table_id)
	 WHERE e.event_id BETWEEN first_event AND last_event
	   AND (e.amount IS NULL OR e.amount_cny IS NULL)
	 GROUP BY t.relid
$$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_data_quality(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

INSERT INTO finsec.monitor_rule_kind (kind, scope, entities, parameters, window_required, evaluator, description) VALUES
	('threshold', 'payment', '{customer,account,counterparty,device,ip}',
	 '{"min_amount_cny": {"type": "numeric", "required": true, "min": 0, "description": "smallest single payment that hits, in CNY"},
	   "direction": {"type": "text", "default": "any", "values": ["any", "in", "out"], "description": "direction of the payments watched"}}',
	 false, 'finsec._monitor_eval_threshold(finsec.monitor_rule, bigint, bigint)',
	 'a single payment at or above an amount in CNY; one alert per entity and local day'),
	('data_quality', 'payment', '{table}', '{}', false,
	 'finsec._monitor_eval_data_quality(finsec.monitor_rule, bigint, bigint)',
	 'payments the monitor could not value: NULL amount, or a currency without a rate in finsec.currency_rate on the payment''s day; one alert per table and local day');

INSERT INTO finsec.monitor_rule (rule_name, version, kind, entity, params, severity, state, description,
								 created_by, approved_by, activated_at)
VALUES ('monitor.data_quality', 1, 'data_quality', 'table', '{}', 'high', 'active',
		'payments without an amount or with a currency finsec cannot convert are counted and raised, never skipped silently',
		'finsec', 'finsec', now());

-- ---- registration ------------------------------------------------------

CREATE FUNCTION finsec.monitor_stamp()
RETURNS trigger
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_monitor_stamp';
COMMENT ON FUNCTION finsec.monitor_stamp() IS
	'BEFORE INSERT OR UPDATE row trigger of monitored tables: stamps the inserting transaction, keeps the stamp on update';
REVOKE ALL ON FUNCTION finsec.monitor_stamp() FROM PUBLIC;

CREATE FUNCTION finsec._monitor_attach(payments regclass, add_column boolean, add_index boolean)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_monitor_attach';
REVOKE ALL ON FUNCTION finsec._monitor_attach(regclass, boolean, boolean) FROM PUBLIC;

CREATE FUNCTION finsec._monitor_detach(payments regclass)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_monitor_detach';
REVOKE ALL ON FUNCTION finsec._monitor_detach(regclass) FROM PUBLIC;

/* The type class of a mapped column, or a refusal naming what it must be. */
CREATE FUNCTION finsec._monitor_column_check(rel regclass, param text, col text, want text)
RETURNS regtype
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	typ oid;
	base oid;
	cat "char";
	ok boolean;
BEGIN
	SELECT a.atttypid INTO typ FROM pg_attribute a
	 WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION '% column "%" does not exist in %', param, col, rel USING ERRCODE = 'undefined_column';
	END IF;
	base := typ;
	WHILE (SELECT t.typtype FROM pg_type t WHERE t.oid = base) = 'd' LOOP
		base := (SELECT t.typbasetype FROM pg_type t WHERE t.oid = base);
	END LOOP;
	SELECT t.typcategory INTO cat FROM pg_type t WHERE t.oid = base;
	ok := CASE want
		WHEN 'amount' THEN base IN ('numeric'::regtype, 'int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'finsec.money'::regtype)
		WHEN 'timestamptz' THEN base = 'timestamptz'::regtype
		WHEN 'boolean' THEN base = 'bool'::regtype
		WHEN 'label' THEN cat IN ('S', 'E')
		WHEN 'status' THEN base = 'bool'::regtype OR cat IN ('S', 'E')
		ELSE cat NOT IN ('A', 'C', 'P', 'X') AND base NOT IN ('json'::regtype, 'jsonb'::regtype, 'xml'::regtype, 'bytea'::regtype)
	END;
	IF NOT ok THEN
		RAISE EXCEPTION '% column "%" of % is of type %', param, col, rel, format_type(typ, NULL)
			USING ERRCODE = 'datatype_mismatch',
				  DETAIL = 'It must be ' || CASE want
					WHEN 'amount' THEN 'numeric, smallint, integer, bigint or finsec.money'
					WHEN 'timestamptz' THEN 'timestamp with time zone'
					WHEN 'boolean' THEN 'boolean'
					WHEN 'label' THEN 'text, varchar, char or an enum'
					WHEN 'status' THEN 'boolean, or text, varchar, char or an enum'
					ELSE 'a scalar type with equality (text, varchar, integer, bigint, uuid, ...)' END || '.';
	END IF;
	RETURN typ::regtype;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_column_check(regclass, text, text, text) FROM PUBLIC;

/*
 * The SELECT list finsec's owner reads a registered table through
 * finsec._select_as_table_owner(), and the column definition list of that
 * call: every mapped column raw (its trusted type), the stamp first.
 */
CREATE FUNCTION finsec._monitor_source(t finsec.monitor_table, OUT select_list text, OUT column_defs text, OUT from_clause text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f record;
	typ oid;
BEGIN
	select_list := format('%I', t.stamp_column);
	column_defs := 'stamp pg_catalog.xid8';
	FOR f IN SELECT * FROM (VALUES
		('at', t.posted_at_column), ('customer', t.customer_column), ('amount', t.amount_column),
		('account', t.account_column), ('counterparty', t.counterparty_column), ('currency', t.currency_column),
		('direction', t.direction_column), ('customer_type', t.customer_type_column), ('cash', t.cash_column),
		('cross_border', t.cross_border_column), ('status', t.status_column), ('device', t.device_column),
		('ip', t.ip_column), ('reference', t.reference_column)) v(field, col) WHERE v.col IS NOT NULL
	LOOP
		SELECT a.atttypid INTO typ FROM pg_attribute a
		 WHERE a.attrelid = t.relid AND a.attname = f.col AND a.attnum > 0 AND NOT a.attisdropped;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'column "%" of monitored table % no longer exists', f.col, t.relid
				USING ERRCODE = 'undefined_column', HINT = 'Register the table again with finsec.enable_monitoring().';
		END IF;
		select_list := select_list || format(', %I', f.col);
		column_defs := column_defs || format(', %I %s', f.field, format_type(typ, NULL));
	END LOOP;
	from_clause := CASE WHEN (SELECT c.relkind FROM pg_class c WHERE c.oid = t.relid) = 'p' THEN '' ELSE 'ONLY ' END
				   || t.relid::text;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_source(finsec.monitor_table) FROM PUBLIC;

/*
 * Copy the rows of t that match cond (over parameters $1 and $2, two
 * snapshots or a snapshot and a time) into finsec.monitor_event as
 * batch bid, in stamp order, normalised.  Returns the event-id range,
 * the count, the time range and the counts of unvalued payments.
 */
CREATE FUNCTION finsec._monitor_extract(t finsec.monitor_table, bid bigint, cond text, p1 text, p2 text, p_types text[],
										OUT n integer, OUT first_event bigint, OUT last_event bigint,
										OUT first_at timestamptz, OUT last_at timestamptz,
										OUT null_amounts integer, OUT unknown_currencies integer)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	src record;
	money boolean := (SELECT format_type(a.atttypid, NULL) FROM pg_attribute a
					   WHERE a.attrelid = t.relid AND a.attname = t.amount_column AND a.attnum > 0) = 'finsec.money'
					 OR (SELECT bt.typname FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
							JOIN pg_type bt ON bt.oid = CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.oid END
							JOIN pg_namespace n ON n.oid = bt.typnamespace
						  WHERE a.attrelid = t.relid AND a.attname = t.amount_column AND a.attnum > 0
							AND n.nspname = 'finsec') = 'money';
	status_bool boolean;
	q text;
	txt text := 'finsec._trusted_text(s.%I)';
BEGIN
	src := finsec._monitor_source(t);
	IF t.status_column IS NOT NULL THEN
		status_bool := (SELECT format_type(a.atttypid, NULL) FROM pg_attribute a
						 WHERE a.attrelid = t.relid AND a.attname = t.status_column AND a.attnum > 0) = 'boolean';
	END IF;
	q := format($q$
		WITH ins AS (
			INSERT INTO finsec.monitor_event (event_id, table_id, batch_id, stamp, reference, at, customer, customer_type,
											  account, counterparty, direction, cash, cross_border, succeeded, currency,
											  amount, amount_cny, amount_usd, device, ip)
			SELECT nextval('finsec.monitor_event_id_seq'), $3, $4, q.stamp, q.reference, q.at, q.customer, q.customer_type,
				   q.account, q.counterparty, q.direction, q.cash, q.cross_border, q.succeeded, q.currency, q.amount,
				   CASE WHEN q.amount IN ('NaN', 'Infinity', '-Infinity') THEN NULL
						WHEN q.currency = 'CNY' THEN q.amount ELSE q.amount * fx.rate END,
				   CASE WHEN q.amount IN ('NaN', 'Infinity', '-Infinity') THEN NULL
						WHEN q.currency = 'USD' THEN q.amount
						WHEN q.currency = 'CNY' THEN round(q.amount / usd.rate, 6)
						ELSE round(q.amount * fx.rate / usd.rate, 6) END,
				   q.device, q.ip
			  FROM (SELECT s.stamp, %s AS reference, coalesce(s.at, pg_catalog.now()) AS at,
						   coalesce(finsec._trusted_text(s.customer), '') AS customer,
						   %s AS customer_type, %s AS account, %s AS counterparty, %s AS direction,
						   %s AS cash, %s AS cross_border, %s AS succeeded, %s AS currency, %s AS amount,
						   %s AS device, %s AS ip
					  FROM finsec._select_as_table_owner($5, $6, ARRAY[$1, $2], $7::pg_catalog.regtype[]) AS s(%s)
					 ORDER BY s.stamp, s.at) q
			  LEFT JOIN LATERAL (SELECT r.cny_per_unit AS rate FROM finsec.currency_rate r
								  WHERE r.currency = q.currency AND r.valid_from <= finsec._monitor_day(q.at)
								  ORDER BY r.valid_from DESC LIMIT 1) fx ON q.currency <> 'CNY'
			  LEFT JOIN LATERAL (SELECT r.cny_per_unit AS rate FROM finsec.currency_rate r
								  WHERE r.currency = 'USD' AND r.valid_from <= finsec._monitor_day(q.at)
								  ORDER BY r.valid_from DESC LIMIT 1) usd ON q.currency <> 'USD'
			RETURNING event_id, at, amount, amount_cny)
		SELECT count(*)::integer, min(event_id), max(event_id), min(at), max(at),
			   (count(*) FILTER (WHERE amount IS NULL OR amount IN ('NaN', 'Infinity', '-Infinity')))::integer,
			   (count(*) FILTER (WHERE amount NOT IN ('NaN', 'Infinity', '-Infinity') AND amount_cny IS NULL))::integer
		  FROM ins$q$,
		CASE WHEN t.reference_column IS NULL THEN 'NULL::text' ELSE format(txt, 'reference') END,
		CASE WHEN t.customer_type_column IS NULL THEN quote_literal(t.customer_type_default)
			 ELSE format('CASE lower(finsec._trusted_text(s.customer_type)) WHEN ''natural'' THEN ''natural'' WHEN ''individual'' THEN ''natural'' WHEN ''person'' THEN ''natural'' WHEN ''legal'' THEN ''legal'' WHEN ''corporate'' THEN ''legal'' WHEN ''organisation'' THEN ''legal'' WHEN ''organization'' THEN ''legal'' ELSE %L END',
						 t.customer_type_default) END,
		CASE WHEN t.account_column IS NULL THEN 'NULL::text' ELSE format(txt, 'account') END,
		CASE WHEN t.counterparty_column IS NULL THEN 'NULL::text' ELSE format(txt, 'counterparty') END,
		CASE WHEN t.direction_column IS NULL THEN quote_literal(t.direction_default)
			 ELSE format('CASE lower(finsec._trusted_text(s.direction)) WHEN ''in'' THEN ''in'' WHEN ''credit'' THEN ''in'' WHEN ''out'' THEN ''out'' WHEN ''debit'' THEN ''out'' ELSE %L END',
						 t.direction_default) END,
		CASE WHEN t.cash_column IS NULL THEN 'false' ELSE 'coalesce(s.cash, false)' END,
		CASE WHEN t.cross_border_column IS NULL THEN 'false' ELSE 'coalesce(s.cross_border, false)' END,
		CASE WHEN t.status_column IS NULL THEN 'true'
			 WHEN status_bool THEN 'coalesce(s.status, true)'
			 ELSE 'coalesce(lower(finsec._trusted_text(s.status)) NOT IN (''failed'', ''failure'', ''declined'', ''rejected'', ''error'', ''refused'', ''timeout'', ''cancelled'', ''canceled''), true)' END,
		CASE WHEN t.currency_column IS NOT NULL THEN
				 format('coalesce(upper(btrim(finsec._trusted_text(s.currency))), %s''CNY'')',
						CASE WHEN money THEN 'finsec.currency(s.amount), ' ELSE '' END)
			 WHEN money THEN 'coalesce(finsec.currency(s.amount), ''CNY'')'
			 ELSE '''CNY''' END,
		CASE WHEN money THEN 'finsec.amount(s.amount)' ELSE 's.amount::pg_catalog.numeric' END,
		CASE WHEN t.device_column IS NULL THEN 'NULL::text' ELSE format(txt, 'device') END,
		CASE WHEN t.ip_column IS NULL THEN 'NULL::text' ELSE format(txt, 'ip') END,
		src.column_defs);
	EXECUTE q INTO n, first_event, last_event, first_at, last_at, null_amounts, unknown_currencies
		USING p1, p2, t.table_id, bid, t.relid,
			  format('SELECT %s FROM %s WHERE %s', src.select_list, src.from_clause, cond), p_types;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_extract(finsec.monitor_table, bigint, text, text, text, text[]) FROM PUBLIC;

CREATE FUNCTION finsec.enable_monitoring(
	payments regclass,
	customer text DEFAULT NULL,
	amount text DEFAULT NULL,
	posted_at text DEFAULT NULL,
	account text DEFAULT NULL,
	counterparty text DEFAULT NULL,
	currency text DEFAULT NULL,
	direction text DEFAULT NULL,
	direction_default text DEFAULT 'out',
	customer_type text DEFAULT NULL,
	customer_type_default text DEFAULT 'natural',
	cash text DEFAULT NULL,
	cross_border text DEFAULT NULL,
	status text DEFAULT NULL,
	device text DEFAULT NULL,
	ip text DEFAULT NULL,
	reference text DEFAULT NULL,
	backfill interval DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c record;
	rk record;
	lk record;
	cols text[] := '{}';
	stamp_typ oid;
	need_column boolean;
	need_index boolean;
	t finsec.monitor_table;
	bid bigint;
	x record;
	bf record;
	backfilled integer := 0;
BEGIN
	IF payments IS NULL OR direction_default IS NULL OR customer_type_default IS NULL THEN
		RAISE EXCEPTION 'payments table, direction_default and customer_type_default must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT pg_has_role(session_user, 'finsec_admin', 'MEMBER') THEN
		RAISE EXCEPTION 'permission denied to enable monitoring' USING ERRCODE = 'insufficient_privilege',
			DETAIL = format('Role %I is not a member of finsec_admin.', session_user);
	END IF;
	SELECT cl.relkind, cl.relpersistence, cl.relispartition, cl.relowner, cl.reltuples, cl.relname
	  INTO c FROM pg_class cl WHERE cl.oid = payments;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation with OID % does not exist', payments::oid USING ERRCODE = 'undefined_table';
	END IF;
	IF NOT pg_has_role(session_user, c.relowner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', payments USING ERRCODE = 'insufficient_privilege',
			HINT = 'Monitoring adds a stamp column and a trigger to the table: its owner registers it.';
	END IF;
	IF c.relkind NOT IN ('r', 'p') OR c.relpersistence <> 'p' THEN
		RAISE EXCEPTION '% is not a permanent table', payments USING ERRCODE = 'wrong_object_type',
			HINT = 'Monitoring reads an ordinary or partitioned, logged table.';
	END IF;
	IF c.relispartition OR EXISTS (SELECT FROM pg_inherits i WHERE i.inhrelid = payments)
	   OR (c.relkind = 'r' AND EXISTS (SELECT FROM pg_inherits i WHERE i.inhparent = payments)) THEN
		RAISE EXCEPTION '% is a partition or part of an inheritance tree', payments USING ERRCODE = 'wrong_object_type',
			HINT = 'Register the partitioned table itself; inheritance children would not be stamped.';
	END IF;
	IF EXISTS (SELECT FROM finsec.monitor_table mt WHERE mt.relid = payments) THEN
		RAISE EXCEPTION 'table % is already monitored', payments USING ERRCODE = 'duplicate_object',
			HINT = 'Disable monitoring first (two-person) to change its columns.';
	END IF;
	IF direction_default NOT IN ('in', 'out') THEN
		RAISE EXCEPTION 'direction_default must be in or out, not "%"', direction_default USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF customer_type_default NOT IN ('natural', 'legal') THEN
		RAISE EXCEPTION 'customer_type_default must be natural or legal, not "%"', customer_type_default USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF backfill IS NOT NULL AND backfill <= interval '0' THEN
		RAISE EXCEPTION 'backfill must be a positive interval, not %', backfill USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- the column mapping of a risk or limits registration of the same table, where not given
	SELECT * INTO rk FROM finsec.risk_table r WHERE r.relid = payments;
	SELECT * INTO lk FROM finsec.limit_table l WHERE l.relid = payments;
	customer := coalesce(customer, rk.customer_column, lk.customer_column, 'customer_id');
	amount := coalesce(amount, rk.amount_column, lk.amount_column, 'amount');
	posted_at := coalesce(posted_at, rk.posted_at_column, lk.time_column, 'posted_at');
	account := coalesce(account, rk.account_column, lk.account_column);
	counterparty := coalesce(counterparty, rk.counterparty_column, lk.counterparty_column);
	currency := coalesce(currency, rk.currency_column);
	device := coalesce(device, rk.device_column);
	ip := coalesce(ip, rk.ip_column);
	reference := coalesce(reference, rk.reference_column, lk.payment_id_column);
	FOR x IN SELECT * FROM (VALUES
		('customer', customer, 'key'), ('amount', amount, 'amount'), ('posted_at', posted_at, 'timestamptz'),
		('account', account, 'key'), ('counterparty', counterparty, 'key'), ('currency', currency, 'label'),
		('direction', direction, 'label'), ('customer_type', customer_type, 'label'), ('cash', cash, 'boolean'),
		('cross_border', cross_border, 'boolean'), ('status', status, 'status'), ('device', device, 'key'),
		('ip', ip, 'key'), ('reference', reference, 'key')) v(param, col, want) WHERE v.col IS NOT NULL
	LOOP
		IF x.col = ANY (cols) THEN
			RAISE EXCEPTION 'column "%" is mapped twice', x.col USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF x.col = 'finsec_mon_txid' THEN
			RAISE EXCEPTION '% cannot be the stamp column finsec_mon_txid', x.param USING ERRCODE = 'invalid_parameter_value';
		END IF;
		cols := cols || x.col;
		PERFORM finsec._monitor_column_check(payments, x.param, x.col, x.want);
	END LOOP;
	SELECT a.atttypid INTO stamp_typ FROM pg_attribute a
	 WHERE a.attrelid = payments AND a.attname = 'finsec_mon_txid' AND a.attnum > 0 AND NOT a.attisdropped;
	need_column := NOT FOUND;
	IF NOT need_column AND stamp_typ <> 'xid8'::regtype THEN
		RAISE EXCEPTION 'column finsec_mon_txid of % is of type %, not xid8', payments, format_type(stamp_typ, NULL)
			USING ERRCODE = 'datatype_mismatch', HINT = 'Rename that column; finsec adds finsec_mon_txid itself.';
	END IF;
	need_index := need_column OR NOT EXISTS (
		SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
		 WHERE i.indrelid = payments AND a.attname = 'finsec_mon_txid' AND i.indexprs IS NULL AND i.indpred IS NULL
		   AND i.indisvalid);
	IF need_index AND c.reltuples > current_setting('finsec.monitor_index_build_limit')::real THEN
		RAISE EXCEPTION 'table % has about % rows: finsec does not build the stamp index while writers wait', payments, c.reltuples::bigint
			USING ERRCODE = 'S9M10',
				  DETAIL = 'Building an index without CONCURRENTLY blocks inserts for the whole build.',
				  HINT = format('Run first: ALTER TABLE %s ADD COLUMN IF NOT EXISTS finsec_mon_txid pg_catalog.xid8; CREATE INDEX CONCURRENTLY ON %s (finsec_mon_txid);',
								payments, payments);
	END IF;
	PERFORM finsec._monitor_attach(payments, need_column, need_index);
	-- after the trigger exists and its lock waited for every writer: exactly the later commits are new
	INSERT INTO finsec.monitor_table (relid, customer_column, amount_column, posted_at_column, account_column,
									  counterparty_column, currency_column, direction_column, direction_default,
									  customer_type_column, customer_type_default, cash_column, cross_border_column,
									  status_column, device_column, ip_column, reference_column, position, enabled_by)
	VALUES (payments, customer, amount, posted_at, account, counterparty, currency, direction, direction_default,
			customer_type, customer_type_default, cash, cross_border, status, device, ip, reference,
			pg_current_snapshot(), session_user)
	RETURNING * INTO t;
	-- a run of the table's source query as its owner: untrusted column types are refused here (and all of this rolls back)
	PERFORM finsec._monitor_extract(t, 0, 'false', NULL, NULL, '{text,text}');
	IF backfill IS NOT NULL THEN
		PERFORM 1 FROM finsec.monitor_state FOR UPDATE;
		bid := nextval('finsec.monitor_batch_id_seq');
		bf := finsec._monitor_extract(t, bid,
			format('%I IS NULL AND %I OPERATOR(pg_catalog.>=) $2::pg_catalog.timestamptz', 'finsec_mon_txid', posted_at),
			NULL, to_char((now() - backfill) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00', '{text,text}');
		backfilled := bf.n;
		IF bf.n > 0 THEN
			INSERT INTO finsec.monitor_batch (batch_id, table_id, started_at, snapshot_from, snapshot_to, first_event, last_event,
											  first_at, last_at, payments, by_worker, backfill)
			VALUES (bid, t.table_id, now(), t.position, t.position, bf.first_event, bf.last_event, bf.first_at, bf.last_at,
					bf.n, false, true);
		END IF;
	END IF;
	PERFORM finsec.audit_event('monitor.enable', payments::text, 'enable_monitoring', true,
		format('payments table registered for transaction monitoring: customer "%s", amount "%s", time "%s"%s',
			   customer, amount, posted_at, CASE WHEN backfill IS NOT NULL THEN format(', %s payments of history backfilled', backfilled) ELSE '' END),
		jsonb_strip_nulls(to_jsonb(t) - 'position' - 'payments' - 'null_amounts' - 'unknown_currencies' - 'batches' - 'alerts'));
END
$$;
COMMENT ON FUNCTION finsec.enable_monitoring(regclass, text, text, text, text, text, text, text, text, text, text, text, text, text, text, text, text, interval) IS
	'register a payments table for transaction monitoring: its column mapping (defaults from enable_risk/enable_limits), a stamp column and trigger; optionally backfill history (audited)';
REVOKE ALL ON FUNCTION finsec.enable_monitoring(regclass, text, text, text, text, text, text, text, text, text, text, text, text, text, text, text, text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.enable_monitoring(regclass, text, text, text, text, text, text, text, text, text, text, text, text, text, text, text, text, interval) TO finsec_admin;

/* Stop monitoring a table at once (superuser's session, or an approved monitor.disable request). */
CREATE FUNCTION finsec._disable_monitoring(payments regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	t finsec.monitor_table;
BEGIN
	-- only finsec's owner may call this: finsec.approve() for an approved request, or a superuser
	DELETE FROM finsec.monitor_table mt WHERE mt.relid = payments RETURNING * INTO t;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'table % is not monitored', payments USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM finsec._monitor_detach(payments);
	PERFORM finsec.audit_event('monitor.disable', payments::text, 'disable_monitoring', true,
		format('transaction monitoring of %s stopped after %s payments; its events and alerts are kept', payments, t.payments),
		jsonb_build_object('position', t.position::text, 'payments', t.payments));
END
$$;
REVOKE ALL ON FUNCTION finsec._disable_monitoring(regclass) FROM PUBLIC;

CREATE OR REPLACE FUNCTION finsec._switch_registration(kind text, rel oid)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE kind
		WHEN 'limits.disable' THEN (SELECT to_jsonb(t) FROM finsec.limit_table t WHERE t.relid = rel)
		WHEN 'limits.exempt' THEN (SELECT to_jsonb(t) FROM finsec.limit_table t WHERE t.relid = rel)
		WHEN 'guard.order_disable' THEN (SELECT to_jsonb(t) FROM finsec.order_guard t WHERE t.relid = rel)
		WHEN 'guard.refund_disable' THEN (SELECT to_jsonb(t) FROM finsec.refund_guard t WHERE t.relid = rel)
		WHEN 'risk.disable' THEN (SELECT to_jsonb(t) FROM finsec.risk_table t WHERE t.relid = rel)
		WHEN 'monitor.disable' THEN (SELECT to_jsonb(t) - 'position' - 'payments' - 'null_amounts' - 'unknown_currencies'
												- 'batches' - 'alerts' - 'last_batch_at' - 'last_checked_at' - 'last_payment_at'
									   FROM finsec.monitor_table t WHERE t.relid = rel)
	END
$$;

CREATE FUNCTION finsec._monitor_switch_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel oid := (payload->>'relid')::bigint::oid;
BEGIN
	IF finsec._switch_registration(kind, rel) IS DISTINCT FROM payload->'registration' THEN
		RAISE EXCEPTION 'the registration of table % changed after request % was filed', target, request_id
			USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Reject this request and file a new one.';
	END IF;
	PERFORM finsec._disable_monitoring(rel::regclass);
	RETURN jsonb_build_object('relation', rel::regclass::text, 'action', kind);
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_switch_apply(bigint, text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._monitor_switch_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF jsonb_typeof(payload->'relid') = 'number' AND (payload->>'relid')::numeric BETWEEN 1 AND 4294967295
	   AND NOT EXISTS (SELECT FROM finsec.monitor_table t WHERE t.relid::oid = (payload->>'relid')::numeric::bigint::oid) THEN
		RAISE EXCEPTION 'table % is not monitored', target USING ERRCODE = 'undefined_object';
	END IF;
	RETURN finsec._switch_prepare(kind, target, payload);
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_switch_prepare(text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('monitor.disable', 'finsec._monitor_switch_prepare(text, text, jsonb)', 'finsec._monitor_switch_apply(bigint, text, text, jsonb)', NULL,
	 'stop monitoring a payments table (target: table; payload: {"relid"}); its events and alerts are kept');

CREATE FUNCTION finsec.disable_monitoring(payments regclass, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF payments IS NULL THEN
		RAISE EXCEPTION 'payments table must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false) THEN
		PERFORM finsec._disable_monitoring(payments);
		RETURN NULL;
	END IF;
	RETURN finsec.request_change('monitor.disable', payments::text,
								 jsonb_build_object('relid', payments::oid::bigint), reason);
END
$$;
COMMENT ON FUNCTION finsec.disable_monitoring(regclass, text) IS
	'request that monitoring of a payments table stop (returns the request id; a second finsec_admin approves); a superuser''s session acts at once (audited)';
REVOKE ALL ON FUNCTION finsec.disable_monitoring(regclass, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.disable_monitoring(regclass, text) TO finsec_admin;


-- ---- the batch -----------------------------------------------------------

/* Hits merged as alerts merge them: per (entity, period), hits counted, events united, greatest amount and value, latest detail. */
CREATE FUNCTION finsec._monitor_merge(hits finsec.monitor_hit[])
RETURNS TABLE (entity text, period text, first_at timestamptz, last_at timestamptz, hits integer, events bigint[],
			   amount numeric, value numeric, detail jsonb)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT x.entity, x.p, min(x.hit_at), max(x.hit_at), count(DISTINCT x.ord)::integer,
		   coalesce((array_agg(DISTINCT x.e) FILTER (WHERE x.e IS NOT NULL))[1:1000], '{}'),
		   max(x.amount), max(x.value), (array_agg(x.detail ORDER BY x.hit_at DESC NULLS LAST, x.ord DESC))[1]
	  FROM (SELECT u.entity, coalesce(u.period, '') AS p, u.hit_at, u.amount, u.value, u.detail, u.ord, ev.e
			  FROM unnest(hits) WITH ORDINALITY AS u(entity, period, hit_at, events, amount, value, detail, ord)
			  LEFT JOIN LATERAL unnest(u.events) AS ev(e) ON true) x
	 WHERE x.entity IS NOT NULL
	 GROUP BY x.entity, x.p
$$;
REVOKE ALL ON FUNCTION finsec._monitor_merge(finsec.monitor_hit[]) FROM PUBLIC;

/*
 * Hits of one rule turned into alerts: merged per (entity, period), a
 * snoozed entity's hits counted on the snooze, an open alert extended,
 * otherwise a new alert, which (for a rule that is not shadow) joins the
 * open case of its entity or opens one, and is announced by NOTIFY
 * finsec_alert at commit.  Returns the alerts raised or extended.
 */
CREATE FUNCTION finsec._monitor_raise(r finsec.monitor_rule, hits finsec.monitor_hit[], tab integer, bid bigint)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	h record;
	k finsec.monitor_rule_kind;
	aid bigint;
	created boolean;
	cid bigint;
	n integer := 0;
	caseable boolean := r.entity IN ('customer', 'account', 'counterparty', 'device', 'ip', 'role');
	snoozed boolean;
BEGIN
	SELECT * INTO k FROM finsec.monitor_rule_kind mk WHERE mk.kind = r.kind;
	-- one look for snoozes of the rule, not one per hit
	snoozed := EXISTS (SELECT FROM finsec.alert_snooze s
						WHERE s.rule_name = r.rule_name AND s.until > now() AND s.lifted_at IS NULL);
	FOR h IN SELECT * FROM finsec._monitor_merge(hits)
	LOOP
		IF snoozed THEN
			UPDATE finsec.alert_snooze s SET suppressed = s.suppressed + h.hits
			 WHERE s.rule_name = r.rule_name AND s.entity_type = r.entity AND s.entity = h.entity
			   AND s.until > now() AND s.lifted_at IS NULL;
		END IF;
		IF snoozed AND FOUND THEN
			UPDATE finsec.monitor_rule_status SET suppressed = suppressed + h.hits WHERE rule_name = r.rule_name;
			CONTINUE;
		END IF;
		INSERT INTO finsec.alert AS a (rule_name, rule_version, kind, entity_type, entity, period, severity, category, shadow,
									   first_hit_at, last_hit_at, hits, events, amount, value, detail, table_id, batch_id)
		VALUES (r.rule_name, r.version, r.kind, r.entity, h.entity, h.period, r.severity, r.category, r.shadow,
				coalesce(h.first_at, now()), coalesce(h.last_at, now()), h.hits, h.events, h.amount, h.value,
				coalesce(h.detail, '{}'), tab, bid)
		ON CONFLICT (rule_name, entity_type, entity, period) WHERE state <> 'closed'
		DO UPDATE SET hits = a.hits + EXCLUDED.hits,
					  events = CASE WHEN cardinality(a.events) >= 1000 THEN a.events
									ELSE ARRAY(SELECT DISTINCT e FROM unnest(a.events || EXCLUDED.events) e ORDER BY e LIMIT 1000) END,
					  first_hit_at = least(a.first_hit_at, EXCLUDED.first_hit_at),
					  last_hit_at = greatest(a.last_hit_at, EXCLUDED.last_hit_at),
					  amount = greatest(a.amount, EXCLUDED.amount),
					  value = greatest(a.value, EXCLUDED.value),
					  detail = EXCLUDED.detail, rule_version = EXCLUDED.rule_version,
					  updated_at = now(), batch_id = EXCLUDED.batch_id
		RETURNING a.alert_id, (a.xmax = 0) INTO aid, created;
		n := n + 1;
		IF r.shadow THEN
			CONTINUE;
		END IF;
		IF created THEN
			IF caseable THEN
				SELECT c.case_id INTO cid FROM finsec.risk_case c
				 WHERE c.state <> 'closed' AND c.entities @> jsonb_build_object(r.entity, h.entity)
				 ORDER BY c.case_id LIMIT 1 FOR UPDATE;
				IF FOUND THEN
					PERFORM finsec._risk_case_step(cid, 'alert', format('alert %s of rule %s joined the case', aid, r.rule_name),
												   jsonb_build_object('alert_id', aid, 'rule', r.rule_name));
				ELSE
					INSERT INTO finsec.risk_case (alert_id, opened_by, category, entities)
					VALUES (aid, 'finsec.monitor', r.category, jsonb_build_object(r.entity, h.entity))
					RETURNING case_id INTO cid;
					PERFORM finsec._risk_case_step(cid, 'open', format('opened by alert %s of rule %s', aid, r.rule_name),
												   jsonb_build_object('alert_id', aid, 'rule', r.rule_name));
				END IF;
				UPDATE finsec.alert SET case_id = cid WHERE alert_id = aid;
			END IF;
			PERFORM pg_notify('finsec_alert', aid::text);
		END IF;
		IF k.on_alert IS NOT NULL THEN
			EXECUTE format('SELECT %s($1, $2, $3)', k.on_alert::regproc) USING aid, r, created;
		END IF;
	END LOOP;
	RETURN n;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_raise(finsec.monitor_rule, finsec.monitor_hit[], integer, bigint) FROM PUBLIC;

/*
 * Evaluate the active rules of a scope (over events first..last for
 * 'payment', once for 'system'), each in its own subtransaction: a rule
 * that fails is recorded in finsec.monitor_rule_status and skipped, the
 * others and the batch go on.  Returns alerts raised and rules failed.
 */
CREATE FUNCTION finsec._monitor_evaluate(rule_scope text, tab integer, bid bigint, first_event bigint, last_event bigint,
										 OUT alerts integer, OUT failed integer)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r finsec.monitor_rule;
	ev regprocedure;
	found_hits finsec.monitor_hit[];
	n integer;
	st text;
	msg text;
BEGIN
	alerts := 0;
	failed := 0;
	FOR r IN SELECT mr.* FROM finsec.monitor_rule mr JOIN finsec.monitor_rule_kind k USING (kind)
			  WHERE mr.state = 'active' AND k.scope = rule_scope ORDER BY mr.rule_name
	LOOP
		SELECT k.evaluator INTO ev FROM finsec.monitor_rule_kind k WHERE k.kind = r.kind;
		INSERT INTO finsec.monitor_rule_status AS s (rule_name, version) VALUES (r.rule_name, r.version)
		ON CONFLICT (rule_name) DO UPDATE SET version = EXCLUDED.version;
		BEGIN
			EXECUTE format('SELECT coalesce(array_agg(h), ''{}'') FROM %s($1, $2, $3) h', ev::regproc)
				INTO found_hits USING r, first_event, last_event;
			n := finsec._monitor_raise(r, found_hits, tab, bid);
			alerts := alerts + n;
			UPDATE finsec.monitor_rule_status
			   SET evaluations = evaluations + 1, hits = hits + coalesce(cardinality(found_hits), 0),
				   last_run_at = now(), last_success_at = now()
			 WHERE rule_name = r.rule_name;
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
			failed := failed + 1;
			UPDATE finsec.monitor_rule_status
			   SET evaluations = evaluations + 1, failures = failures + 1, last_run_at = now(),
				   last_failure_at = now(), last_sqlstate = st, last_error = left(msg, 1000)
			 WHERE rule_name = r.rule_name;
		END;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_evaluate(text, integer, bigint, bigint, bigint) FROM PUBLIC;

/*
 * One batch of a registered table, in the caller's transaction: the
 * payments committed after the table's position and visible in a current
 * snapshot (bounded to finsec.monitor_batch_rows whole transactions), in
 * stamp order, copied to the event history and evaluated; the new
 * position, events, alerts and counters commit together.  Returns the
 * payments processed.
 */
CREATE FUNCTION finsec._monitor_batch(tab integer, by_worker boolean)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET datestyle = 'ISO, YMD'
SET intervalstyle = 'postgres'
AS $$
DECLARE
	t finsec.monitor_table;
	prev pg_snapshot;
	cur pg_snapshot;
	lim integer := current_setting('finsec.monitor_batch_rows')::integer;
	src record;
	cond text;
	s0 xid8;
	sn xid8;
	x xid8;
	bid bigint;
	res record;
	ev record;
	started timestamptz := clock_timestamp();
	own text;
	ceiling xid8;
BEGIN
	PERFORM 1 FROM finsec.monitor_state FOR UPDATE;
	SELECT * INTO t FROM finsec.monitor_table mt WHERE mt.table_id = tab FOR UPDATE;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	prev := t.position;
	cur := pg_current_snapshot();
	src := finsec._monitor_source(t);
	-- a stamp that is its row's own inserting transaction (not restored from another cluster)
	own := format('pg_catalog.mod(pg_catalog.textin(pg_catalog.xid8out(%1$I))::pg_catalog.numeric, 4294967296)'
				  ' OPERATOR(pg_catalog.=) pg_catalog.textin(pg_catalog.xidout(xmin))::pg_catalog.numeric', t.stamp_column);
	IF pg_snapshot_xmax(prev) > pg_snapshot_xmax(cur) THEN
		/*
		 * The position is from another cluster (a logical restore into a new
		 * one, whose transaction ids are behind).  This batch processes the
		 * restored payments the old position had not seen (their stamps are
		 * the old cluster's) and this cluster's own committed ones, then the
		 * position is this cluster's.  Until its ids pass the highest restored
		 * stamp, rows up to it count only if their stamp is their own.
		 */
		SELECT s.stamp INTO sn FROM finsec._select_as_table_owner(t.relid,
			format('SELECT max(%I) FROM %s', t.stamp_column, src.from_clause), NULL, NULL) AS s(stamp xid8);
		ceiling := CASE WHEN sn >= pg_snapshot_xmax(cur) THEN sn END;
		cond := format('((%1$I OPERATOR(pg_catalog.>=) pg_catalog.pg_snapshot_xmin($1::pg_catalog.pg_snapshot)'
					   ' AND NOT pg_catalog.pg_visible_in_snapshot(%1$I, $1::pg_catalog.pg_snapshot) AND NOT (%2$s))'
					   ' OR ((%2$s) AND pg_catalog.pg_visible_in_snapshot(%1$I, $2::pg_catalog.pg_snapshot)))',
					   t.stamp_column, own);
		PERFORM finsec.audit_event('monitor.rebase', t.relid::text, 'rebase', false,
			format('position of %s is ahead of this cluster''s transactions (restored from another cluster?): the restored payments it had not processed and this cluster''s are processed now, then monitoring goes on from this cluster''s snapshot', t.relid),
			jsonb_build_object('old_position', prev::text, 'new_position', cur::text, 'max_stamp', sn::text));
		RAISE WARNING 'finsec: the monitoring position of % is ahead of this cluster and was rebased', t.relid
			USING DETAIL = 'Restored payments keep the other cluster''s stamps; they are told from this cluster''s by their inserting transaction until its ids pass them.',
				  HINT = 'Restoring into a new cluster after pg_resetwal -e has set its epoch above the source''s avoids the rebase (docs/monitor.md, dump and restore).';
	ELSE
		cond := format('%1$I OPERATOR(pg_catalog.>=) pg_catalog.pg_snapshot_xmin($1::pg_catalog.pg_snapshot)'
					   ' AND %1$I OPERATOR(pg_catalog.<) pg_catalog.pg_snapshot_xmax($2::pg_catalog.pg_snapshot)'
					   ' AND pg_catalog.pg_visible_in_snapshot(%1$I, $2::pg_catalog.pg_snapshot)'
					   ' AND NOT pg_catalog.pg_visible_in_snapshot(%1$I, $1::pg_catalog.pg_snapshot)', t.stamp_column);
		ceiling := t.rebase_ceiling;
		IF ceiling IS NOT NULL AND pg_snapshot_xmin(prev) > ceiling THEN
			ceiling := NULL;
		ELSIF ceiling IS NOT NULL THEN
			cond := cond || format(' AND (%1$I OPERATOR(pg_catalog.>) %2$L::pg_catalog.xid8 OR (%3$s))',
								   t.stamp_column, ceiling, own);
		END IF;
		-- more than a batch waiting: end the batch at a transaction boundary (PgQ's bounded tick)
		SELECT s.stamp INTO sn FROM finsec._select_as_table_owner(t.relid,
			format('SELECT %I FROM %s WHERE %s ORDER BY 1 OFFSET %s LIMIT 1', t.stamp_column, src.from_clause, cond, lim),
			ARRAY[prev::text, cur::text], '{text,text}') AS s(stamp xid8);
		IF sn IS NOT NULL THEN
			SELECT s.stamp INTO s0 FROM finsec._select_as_table_owner(t.relid,
				format('SELECT %I FROM %s WHERE %s ORDER BY 1 LIMIT 1', t.stamp_column, src.from_clause, cond),
				ARRAY[prev::text, cur::text], '{text,text}') AS s(stamp xid8);
			x := CASE WHEN sn > s0 THEN sn ELSE ((sn::text)::numeric + 1)::text::xid8 END;
			x := greatest(x, pg_snapshot_xmax(prev));
			IF x < pg_snapshot_xmax(cur) THEN
				SELECT (least(pg_snapshot_xmin(cur), x)::text || ':' || x::text || ':'
						|| coalesce(string_agg(v::text, ',' ORDER BY v), ''))::pg_snapshot
				  INTO cur FROM pg_snapshot_xip(cur) v WHERE v < x;
			END IF;
		END IF;
	END IF;
	bid := nextval('finsec.monitor_batch_id_seq');
	res := finsec._monitor_extract(t, bid, cond, prev::text, cur::text, '{text,text}');
	IF res.n = 0 THEN
		UPDATE finsec.monitor_table SET position = cur, last_checked_at = now(), rebase_ceiling = ceiling
		 WHERE table_id = tab AND (position::text <> cur::text OR rebase_ceiling IS DISTINCT FROM ceiling);
		IF NOT FOUND THEN
			UPDATE finsec.monitor_table SET last_checked_at = now() WHERE table_id = tab;
		END IF;
		RETURN 0;
	END IF;
	ev := finsec._monitor_evaluate('payment', tab, bid, res.first_event, res.last_event);
	INSERT INTO finsec.monitor_batch (batch_id, table_id, started_at, snapshot_from, snapshot_to, first_event, last_event,
									  first_at, last_at, payments, alerts, rules_failed, max_lag, by_worker)
	VALUES (bid, tab, started, prev, cur, res.first_event, res.last_event, res.first_at, res.last_at, res.n,
			ev.alerts, ev.failed, clock_timestamp() - res.first_at, by_worker);
	UPDATE finsec.monitor_table
	   SET position = cur, rebase_ceiling = ceiling, payments = payments + res.n, null_amounts = null_amounts + res.null_amounts,
		   unknown_currencies = unknown_currencies + res.unknown_currencies, batches = batches + 1,
		   alerts = alerts + ev.alerts, last_batch_at = now(), last_checked_at = now(),
		   last_payment_at = greatest(last_payment_at, res.last_at)
	 WHERE table_id = tab;
	RETURN res.n;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_batch(integer, boolean) FROM PUBLIC;

/* Once per round: the system rules, and pruning of events past finsec.monitor_event_retention. */
CREATE FUNCTION finsec._monitor_system_round(by_worker boolean, OUT alerts integer, OUT failed integer)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET datestyle = 'ISO, YMD'
SET intervalstyle = 'postgres'
AS $$
DECLARE
	ev record;
	keep interval := current_setting('finsec.monitor_event_retention')::interval;
	pruned integer := 0;
BEGIN
	PERFORM 1 FROM finsec.monitor_state FOR UPDATE;
	ev := finsec._monitor_evaluate('system', NULL, NULL, NULL, NULL);
	alerts := ev.alerts;
	failed := ev.failed;
	IF keep > interval '0' THEN
		DELETE FROM finsec.monitor_event e
		 WHERE e.event_id IN (SELECT x.event_id FROM finsec.monitor_event x
							   WHERE x.at < now() - keep ORDER BY x.at LIMIT 10000);
		GET DIAGNOSTICS pruned = ROW_COUNT;
	END IF;
	UPDATE finsec.monitor_state SET last_round_at = now(), last_round_by_worker = by_worker, rounds = rounds + 1,
		   events_pruned = events_pruned + pruned;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_system_round(boolean) FROM PUBLIC;

CREATE FUNCTION finsec.monitor_now(
	OUT relid regclass,
	OUT batches integer,
	OUT payments bigint,
	OUT alerts integer,
	OUT rules_failed integer)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET datestyle = 'ISO, YMD'
SET intervalstyle = 'postgres'
AS $$
DECLARE
	t record;
	n integer;
	b record;
	sys record;
	maxb integer := current_setting('finsec.monitor_max_batches')::integer;
	last_batch bigint;
BEGIN
	IF NOT (pg_has_role(session_user, 'finsec_operator', 'MEMBER') OR pg_has_role(session_user, 'finsec_admin', 'MEMBER')) THEN
		RAISE EXCEPTION 'permission denied to run a monitoring round' USING ERRCODE = 'insufficient_privilege',
			DETAIL = format('Role %I is neither a finsec_operator nor a finsec_admin.', session_user);
	END IF;
	FOR t IN SELECT mt.table_id, mt.relid FROM finsec.monitor_table mt ORDER BY mt.table_id LOOP
		relid := t.relid;
		batches := 0;
		payments := 0;
		alerts := 0;
		rules_failed := 0;
		last_batch := (SELECT coalesce(max(mb.batch_id), 0) FROM finsec.monitor_batch mb WHERE mb.table_id = t.table_id);
		LOOP
			n := finsec._monitor_batch(t.table_id, false);
			-- a batch ends at a transaction boundary: a short one does not mean caught up
			EXIT WHEN n = 0;
			batches := batches + 1;
			payments := payments + n;
			EXIT WHEN batches >= maxb;
		END LOOP;
		SELECT coalesce(sum(mb.alerts), 0)::integer AS a, coalesce(sum(mb.rules_failed), 0)::integer AS f INTO b
		  FROM finsec.monitor_batch mb WHERE mb.table_id = t.table_id AND mb.batch_id > last_batch;
		alerts := b.a;
		rules_failed := b.f;
		RETURN NEXT;
	END LOOP;
	sys := finsec._monitor_system_round(false);
	relid := NULL;
	batches := 0;
	payments := 0;
	alerts := sys.alerts;
	rules_failed := sys.failed;
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION finsec.monitor_now() IS
	'run one monitoring round now, in this transaction, with the worker''s code: a row per table (batches, payments, alerts, failed rules) and one (relid NULL) for the system rules';
REVOKE ALL ON FUNCTION finsec.monitor_now() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.monitor_now() TO finsec_admin, finsec_operator;

-- ---- backtest ------------------------------------------------------------

/*
 * The alerts a rule version (the active one, or a draft) would have
 * raised over the batches the monitor committed whose payments fall in
 * [from_time, to_time): each batch replayed with the events the monitor
 * had then, hits merged per (entity, period) as alerts are.  Writes
 * nothing.  Snoozes and closures of alerts are not replayed.
 */
CREATE FUNCTION finsec.monitor_backtest(
	rule_name text,
	version integer DEFAULT NULL,
	from_time timestamptz DEFAULT '-infinity',
	to_time timestamptz DEFAULT 'infinity')
RETURNS TABLE (entity_type text, entity text, period text, first_hit_at timestamptz, last_hit_at timestamptz,
			   hits integer, events bigint[], amount numeric, value numeric, detail jsonb)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET datestyle = 'ISO, YMD'
SET intervalstyle = 'postgres'
AS $$
DECLARE
	r finsec.monitor_rule;
	k finsec.monitor_rule_kind;
	b record;
	all_hits finsec.monitor_hit[] := '{}';
	batch_hits finsec.monitor_hit[];
BEGIN
	IF NOT (pg_has_role(session_user, 'finsec_operator', 'MEMBER') OR pg_has_role(session_user, 'finsec_admin', 'MEMBER')
			OR pg_has_role(session_user, 'finsec_auditor', 'MEMBER')) THEN
		RAISE EXCEPTION 'permission denied to backtest a monitoring rule' USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF rule_name IS NULL OR from_time IS NULL OR to_time IS NULL THEN
		RAISE EXCEPTION 'rule name, from_time and to_time must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO r FROM finsec.monitor_rule mr
	 WHERE mr.rule_name = monitor_backtest.rule_name
	   AND (mr.version = monitor_backtest.version OR (monitor_backtest.version IS NULL AND mr.state = 'active'));
	IF NOT FOUND THEN
		RAISE EXCEPTION 'monitoring rule % has no %', monitor_backtest.rule_name,
			coalesce('version ' || monitor_backtest.version, 'active version') USING ERRCODE = 'undefined_object';
	END IF;
	SELECT * INTO k FROM finsec.monitor_rule_kind mk WHERE mk.kind = r.kind;
	IF k.scope <> 'payment' THEN
		RAISE EXCEPTION 'rule % of kind % watches the system, not payments: it cannot be replayed', r.rule_name, r.kind
			USING ERRCODE = 'S9M11';
	END IF;
	FOR b IN SELECT mb.first_event, mb.last_event FROM finsec.monitor_batch mb
			  WHERE mb.first_event IS NOT NULL AND NOT mb.backfill
				AND mb.last_at >= from_time AND mb.first_at < to_time
			  ORDER BY mb.batch_id
	LOOP
		EXECUTE format('SELECT coalesce(array_agg(h), ''{}'') FROM %s($1, $2, $3) h WHERE h.hit_at >= $4 AND h.hit_at < $5',
					   k.evaluator::regproc)
			INTO batch_hits USING r, b.first_event, b.last_event, from_time, to_time;
		all_hits := all_hits || batch_hits;
	END LOOP;
	RETURN QUERY
		SELECT r.entity, m.entity, m.period, m.first_at, m.last_at, m.hits, m.events, m.amount, m.value, m.detail
		  FROM finsec._monitor_merge(all_hits) m ORDER BY m.first_at, m.entity, m.period;
END
$$;
COMMENT ON FUNCTION finsec.monitor_backtest(text, integer, timestamptz, timestamptz) IS
	'the alerts a monitoring rule version (active or draft) would have raised over the committed batches of a time range, without writing any';
REVOKE ALL ON FUNCTION finsec.monitor_backtest(text, integer, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.monitor_backtest(text, integer, timestamptz, timestamptz) TO finsec_admin, finsec_operator, finsec_auditor;

-- ---- operators: assign, close, snooze -------------------------------------

CREATE FUNCTION finsec._monitor_require_operator(action text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT (pg_has_role(session_user, 'finsec_operator', 'MEMBER') OR pg_has_role(session_user, 'finsec_admin', 'MEMBER')) THEN
		RAISE EXCEPTION 'permission denied to % alerts', action USING ERRCODE = 'insufficient_privilege',
			DETAIL = format('Role %I is neither a finsec_operator nor a finsec_admin.', session_user);
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_require_operator(text) FROM PUBLIC;

CREATE FUNCTION finsec.alert_assign(alert_id bigint, assignee name DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a finsec.alert;
	who name := coalesce(assignee, session_user);
BEGIN
	PERFORM finsec._monitor_require_operator('assign');
	IF alert_id IS NULL THEN
		RAISE EXCEPTION 'alert id must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = who)
	   OR NOT (pg_has_role(who, 'finsec_operator', 'MEMBER') OR pg_has_role(who, 'finsec_admin', 'MEMBER')) THEN
		RAISE EXCEPTION 'role % cannot be assigned alerts', who USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Assign alerts to members of finsec_operator or finsec_admin.';
	END IF;
	SELECT * INTO a FROM finsec.alert x WHERE x.alert_id = alert_assign.alert_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'alert % does not exist', alert_id USING ERRCODE = 'undefined_object';
	END IF;
	IF a.state = 'closed' THEN
		RAISE EXCEPTION 'alert % is closed', alert_id USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	UPDATE finsec.alert x SET state = 'assigned', assignee = who, updated_at = now() WHERE x.alert_id = a.alert_id;
	PERFORM finsec.audit_event('monitor.alert_assign', 'alert:' || a.alert_id, 'assign', true,
							   format('alert %s of rule %s assigned to %s', a.alert_id, a.rule_name, who),
							   jsonb_build_object('assignee', who, 'previous', a.assignee));
END
$$;
COMMENT ON FUNCTION finsec.alert_assign(bigint, name) IS 'assign an open alert to an operator (default: oneself; audited)';
REVOKE ALL ON FUNCTION finsec.alert_assign(bigint, name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.alert_assign(bigint, name) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.alert_close(alert_id bigint, outcome text, note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a finsec.alert;
BEGIN
	PERFORM finsec._monitor_require_operator('close');
	IF alert_id IS NULL OR outcome IS NULL THEN
		RAISE EXCEPTION 'alert id and outcome must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF outcome NOT IN ('confirmed', 'false_positive', 'inconclusive', 'duplicate', 'reported') THEN
		RAISE EXCEPTION 'outcome "%" is not confirmed, false_positive, inconclusive, duplicate or reported', outcome
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF outcome <> 'duplicate' AND (note IS NULL OR btrim(note) = '') THEN
		RAISE EXCEPTION 'closing an alert needs a note' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'Say what was found: the closure is part of the audit trail.';
	END IF;
	SELECT * INTO a FROM finsec.alert x WHERE x.alert_id = alert_close.alert_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'alert % does not exist', alert_id USING ERRCODE = 'undefined_object';
	END IF;
	IF a.state = 'closed' THEN
		RAISE EXCEPTION 'alert % is already closed', alert_id USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	UPDATE finsec.alert x SET state = 'closed', outcome = alert_close.outcome, note = alert_close.note,
							  closed_by = session_user, closed_at = now(), updated_at = now()
	 WHERE x.alert_id = a.alert_id;
	IF a.case_id IS NOT NULL THEN
		PERFORM finsec._risk_case_step(a.case_id, 'note', format('alert %s closed: %s', a.alert_id, alert_close.outcome),
									   jsonb_build_object('alert_id', a.alert_id, 'outcome', alert_close.outcome));
	END IF;
	PERFORM finsec.audit_event('monitor.alert_close', 'alert:' || a.alert_id, 'close', true, note,
							   jsonb_build_object('outcome', outcome, 'rule', a.rule_name));
END
$$;
COMMENT ON FUNCTION finsec.alert_close(bigint, text, text) IS
	'close an alert with an outcome (confirmed, false_positive, inconclusive, duplicate, reported) and a note (audited)';
REVOKE ALL ON FUNCTION finsec.alert_close(bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.alert_close(bigint, text, text) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.alert_snooze(rule_name text, entity_type text, entity text, duration interval, reason text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id bigint;
	maxd interval := current_setting('finsec.monitor_max_snooze')::interval;
BEGIN
	PERFORM finsec._monitor_require_operator('snooze');
	IF rule_name IS NULL OR entity_type IS NULL OR entity IS NULL OR duration IS NULL OR reason IS NULL THEN
		RAISE EXCEPTION 'rule name, entity type, entity, duration and reason must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF btrim(reason) = '' THEN
		RAISE EXCEPTION 'a snooze needs a reason' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF duration <= interval '0' OR duration > maxd THEN
		RAISE EXCEPTION 'a snooze lasts more than 0 and at most % (finsec.monitor_max_snooze), not %', maxd, duration
			USING ERRCODE = 'S9M12';
	END IF;
	IF NOT EXISTS (SELECT FROM finsec.monitor_rule mr WHERE mr.rule_name = alert_snooze.rule_name AND mr.entity = entity_type) THEN
		RAISE EXCEPTION 'monitoring rule % does not watch entities of type %', rule_name, entity_type USING ERRCODE = 'undefined_object';
	END IF;
	INSERT INTO finsec.alert_snooze (rule_name, entity_type, entity, until, reason)
	VALUES (rule_name, entity_type, entity, now() + duration, reason)
	RETURNING snooze_id INTO id;
	PERFORM finsec.audit_event('monitor.snooze', 'monitor_rule:' || rule_name, 'snooze', true, reason,
							   jsonb_build_object('snooze_id', id, 'entity_type', entity_type, 'entity', entity,
												  'until', now() + duration));
	RETURN id;
END
$$;
COMMENT ON FUNCTION finsec.alert_snooze(text, text, text, interval, text) IS
	'snooze a rule on one entity for a time, with a reason (audited): its hits are counted, not raised, until the snooze expires';
REVOKE ALL ON FUNCTION finsec.alert_snooze(text, text, text, interval, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.alert_snooze(text, text, text, interval, text) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.alert_unsnooze(snooze_id bigint, reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s finsec.alert_snooze;
BEGIN
	PERFORM finsec._monitor_require_operator('lift snoozes of');
	IF snooze_id IS NULL OR reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'snooze id and reason must not be null or blank' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	UPDATE finsec.alert_snooze x SET lifted_by = session_user, lifted_at = now()
	 WHERE x.snooze_id = alert_unsnooze.snooze_id AND x.lifted_at IS NULL AND x.until > now()
	RETURNING * INTO s;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'snooze % does not exist or is no longer in force', snooze_id USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM finsec.audit_event('monitor.unsnooze', 'monitor_rule:' || s.rule_name, 'unsnooze', true, reason,
							   jsonb_build_object('snooze_id', s.snooze_id, 'suppressed', s.suppressed));
END
$$;
COMMENT ON FUNCTION finsec.alert_unsnooze(bigint, text) IS 'lift a snooze before it expires (audited)';
REVOKE ALL ON FUNCTION finsec.alert_unsnooze(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.alert_unsnooze(bigint, text) TO finsec_admin, finsec_operator;

/* Statistics of alerts (003 6.2.2.6): per rule and local day, by state and outcome. */
CREATE VIEW finsec.alert_statistics AS
	SELECT a.rule_name, a.kind, a.category, finsec._monitor_day(a.raised_at) AS day,
		   count(*) AS alerts,
		   count(*) FILTER (WHERE a.state = 'open') AS open,
		   count(*) FILTER (WHERE a.state = 'assigned') AS assigned,
		   count(*) FILTER (WHERE a.state = 'closed') AS closed,
		   count(*) FILTER (WHERE a.outcome = 'confirmed') AS confirmed,
		   count(*) FILTER (WHERE a.outcome = 'false_positive') AS false_positives,
		   count(*) FILTER (WHERE a.shadow) AS shadow,
		   sum(a.hits) AS hits,
		   avg(a.closed_at - a.raised_at) FILTER (WHERE a.state = 'closed') AS mean_time_to_close
	  FROM finsec.alert a
	 GROUP BY a.rule_name, a.kind, a.category, finsec._monitor_day(a.raised_at);
COMMENT ON VIEW finsec.alert_statistics IS
	'alerts per rule and local day: open, assigned, closed, confirmed, false positives, shadow, hits, mean time to close';
REVOKE ALL ON finsec.alert_statistics FROM PUBLIC;
GRANT SELECT ON finsec.alert_statistics TO finsec_admin, finsec_auditor, finsec_operator;

-- ---- status ----------------------------------------------------------------

CREATE VIEW finsec.monitor_status AS
	SELECT t.relid, t.position, t.payments, t.batches, t.alerts, t.null_amounts, t.unknown_currencies,
		   t.last_batch_at, t.last_checked_at, t.last_payment_at,
		   extract(epoch FROM now() - t.last_checked_at) AS lag_seconds,
		   greatest(0, (pg_snapshot_xmax(pg_current_snapshot())::text)::numeric
					   - (pg_snapshot_xmax(t.position)::text)::numeric) AS lag_transactions,
		   (SELECT count(*) FROM finsec.monitor_rule_status s JOIN finsec.monitor_rule r
				ON r.rule_name = s.rule_name AND r.version = s.version AND r.state = 'active'
			 WHERE s.last_failure_at >= coalesce(s.last_success_at, '-infinity')) AS rules_failing
	  FROM finsec.monitor_table t;
COMMENT ON VIEW finsec.monitor_status IS
	'per monitored table: position, payments, batches, alerts, unvalued payments, lag in seconds (since the position was last brought up to date) and in transactions, failing rules';
REVOKE ALL ON finsec.monitor_status FROM PUBLIC;
GRANT SELECT ON finsec.monitor_status TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec.status_monitor(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT 'monitor', true, 'no table is registered for transaction monitoring (finsec.enable_monitoring)'
	 WHERE NOT EXISTS (SELECT FROM finsec.monitor_table)
	UNION ALL
	SELECT 'monitor:' || s.relid::text,
		   s.lag_seconds IS NOT NULL AND s.lag_seconds < 300 AND s.rules_failing = 0,
		   CASE WHEN s.lag_seconds IS NULL THEN 'never processed: is the worker running (finsec.audit_seal_databases) or finsec.monitor_now() called?'
				WHEN s.lag_seconds >= 300 THEN format('position %s s old: the monitor is not keeping up or not running', round(s.lag_seconds))
				WHEN s.rules_failing > 0 THEN format('%s rule(s) failing: see finsec.monitor_rule_status', s.rules_failing)
				ELSE format('%s payments, %s alerts, %s unvalued; position %s s old, %s transactions behind',
							s.payments, s.alerts, s.null_amounts + s.unknown_currencies, round(s.lag_seconds), s.lag_transactions)
		   END
	  FROM finsec.monitor_status s
$$;
COMMENT ON FUNCTION finsec.status_monitor() IS
	'transaction monitoring per table in finsec.status(): ok while its position is under 5 minutes old and no rule fails';
REVOKE ALL ON FUNCTION finsec.status_monitor() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_monitor() TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * The indexes the monitor reads a registered table through: only the
 * stamp's (every rule reads finsec's own event history, whose indexes
 * finsec keeps).  A missing or invalid one is given with the statement
 * that builds it without blocking writers.
 */
CREATE FUNCTION finsec.monitor_index_advice(OUT relid regclass, OUT columns text, OUT present boolean, OUT create_index text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT t.relid, t.stamp_column,
		   EXISTS (SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
					WHERE i.indrelid = t.relid AND a.attname = t.stamp_column AND i.indisvalid
					  AND i.indexprs IS NULL AND i.indpred IS NULL),
		   format('CREATE INDEX CONCURRENTLY ON %s (%I)', t.relid, t.stamp_column)
	  FROM finsec.monitor_table t
	 ORDER BY t.table_id
$$;
COMMENT ON FUNCTION finsec.monitor_index_advice() IS
	'per monitored table: whether the index on its stamp column exists and is valid, and the statement that builds it without blocking writers';
REVOKE ALL ON FUNCTION finsec.monitor_index_advice() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.monitor_index_advice() TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * The identity sequences of the monitor's dumped tables, dumped with them:
 * without them, after pg_restore the next alert, snooze or registration
 * took identifier 1 again and failed on the primary key (every rule that
 * hit failed; test/t/114_monitor_dump.pl).
 */
SELECT pg_catalog.pg_extension_config_dump('finsec.monitor_table_table_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.alert_alert_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.alert_snooze_snooze_id_seq', '');

-- (end of section 1b)

-- ---------------------------------------------------------------------
-- 2. Large-value transaction reports (PBOC Order 2016 No. 3): currency
--    rates, thresholds, the working-day calendar, report candidates.
-- ---------------------------------------------------------------------

/*
 * 2a. The working-day calendar.  Rows only for the exceptions to "Monday
 * to Friday": public holidays on weekdays (working false) and make-up
 * working days on Saturdays or Sundays (调休, working true).  Every other
 * day is working iff it is Monday to Friday.  The State Council publishes
 * the arrangement each November for the next year (国务院办公厅关于20xx年
 * 部分节假日安排的通知); operators load it with plain INSERTs.  Each
 * statement is audited (one record with all the days it changed) by a
 * statement trigger, and recomputes the due dates of pending large-value
 * report candidates it affects.
 */
CREATE TABLE finsec.working_day (
	day date PRIMARY KEY CHECK (day > '1990-01-01' AND day < '2200-01-01'),
	working boolean NOT NULL,
	name text NOT NULL CHECK (name ~ '\S'),
	recorded_by name NOT NULL DEFAULT session_user,
	recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE finsec.working_day IS
	'working-day calendar exceptions: public holidays on weekdays (working false) and make-up working days on weekends (working true); any other day is working iff Monday to Friday';
REVOKE ALL ON finsec.working_day FROM PUBLIC;
GRANT SELECT ON finsec.working_day TO finsec_admin, finsec_auditor, finsec_operator;
GRANT INSERT, UPDATE, DELETE ON finsec.working_day TO finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.working_day', 'WHERE recorded_by <> ''finsec''');

/*
 * The official arrangements shipped: 2025 (国办发明电〔2024〕12号, of
 * 2024-11-12) and 2026 (国务院办公厅关于2026年部分节假日安排的通知, of
 * 2025-11-04), weekday holidays and weekend make-up working days only.
 * Later years must be loaded by operators when each notice appears.
 */
INSERT INTO finsec.working_day (day, working, name, recorded_by)
SELECT v.day::date, v.working, v.name, 'finsec' FROM (VALUES
	('2025-01-01', false, '元旦'),
	('2025-01-26', true,  '春节调休上班'),
	('2025-01-28', false, '春节'), ('2025-01-29', false, '春节'), ('2025-01-30', false, '春节'),
	('2025-01-31', false, '春节'), ('2025-02-03', false, '春节'), ('2025-02-04', false, '春节'),
	('2025-02-08', true,  '春节调休上班'),
	('2025-04-04', false, '清明节'),
	('2025-04-27', true,  '劳动节调休上班'),
	('2025-05-01', false, '劳动节'), ('2025-05-02', false, '劳动节'), ('2025-05-05', false, '劳动节'),
	('2025-06-02', false, '端午节'),
	('2025-09-28', true,  '国庆节调休上班'),
	('2025-10-01', false, '国庆节、中秋节'), ('2025-10-02', false, '国庆节、中秋节'), ('2025-10-03', false, '国庆节、中秋节'),
	('2025-10-06', false, '国庆节、中秋节'), ('2025-10-07', false, '国庆节、中秋节'), ('2025-10-08', false, '国庆节、中秋节'),
	('2025-10-11', true,  '国庆节调休上班'),
	('2026-01-01', false, '元旦'), ('2026-01-02', false, '元旦'),
	('2026-01-04', true,  '元旦调休上班'),
	('2026-02-14', true,  '春节调休上班'),
	('2026-02-16', false, '春节'), ('2026-02-17', false, '春节'), ('2026-02-18', false, '春节'),
	('2026-02-19', false, '春节'), ('2026-02-20', false, '春节'), ('2026-02-23', false, '春节'),
	('2026-02-28', true,  '春节调休上班'),
	('2026-04-06', false, '清明节'),
	('2026-05-01', false, '劳动节'), ('2026-05-04', false, '劳动节'), ('2026-05-05', false, '劳动节'),
	('2026-05-09', true,  '劳动节调休上班'),
	('2026-06-19', false, '端午节'),
	('2026-09-20', true,  '国庆节调休上班'),
	('2026-09-25', false, '中秋节'),
	('2026-10-01', false, '国庆节'), ('2026-10-02', false, '国庆节'), ('2026-10-05', false, '国庆节'),
	('2026-10-06', false, '国庆节'), ('2026-10-07', false, '国庆节'),
	('2026-10-10', true,  '国庆节调休上班')
) v(day, working, name);

/*
 * Who changed a day is who is logged in, whatever the statement says.  The
 * rows finsec ships (recorded_by 'finsec') are not dumped, because CREATE
 * EXTENSION writes them again at restore; changing or deleting one would be
 * lost or collide at restore, so they are refused: operators add the days
 * of later notices.
 */
CREATE FUNCTION finsec._working_day_stamp()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.recorded_by = 'finsec' THEN
		RAISE EXCEPTION 'calendar day % was shipped with finsec and cannot be changed or deleted', to_char(OLD.day, 'YYYY-MM-DD')
			USING ERRCODE = 'S9M25',
				  DETAIL = 'Shipped days are written again by CREATE EXTENSION at a restore; a change would be lost.',
				  HINT = 'A wrong shipped day is corrected by an extension update; add other days with INSERT.';
	END IF;
	IF TG_OP = 'DELETE' THEN
		RETURN OLD;
	END IF;
	NEW.recorded_by := session_user;
	NEW.recorded_at := pg_catalog.now();
	RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION finsec._working_day_stamp() FROM PUBLIC;
CREATE TRIGGER working_day_stamp BEFORE INSERT OR UPDATE OR DELETE ON finsec.working_day
	FOR EACH ROW EXECUTE FUNCTION finsec._working_day_stamp();

/* Is d a working day (calendar exception, else Monday to Friday)? */
CREATE FUNCTION finsec.is_working_day(d date)
RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w boolean;
BEGIN
	IF d IS NULL THEN
		RAISE EXCEPTION 'the day of finsec.is_working_day must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT wd.working INTO w FROM finsec.working_day wd WHERE wd.day = d;
	RETURN coalesce(w, extract(isodow FROM d) < 6);
END
$$;
COMMENT ON FUNCTION finsec.is_working_day(date) IS
	'whether a day is a working day: the calendar finsec.working_day where it has the day, else Monday to Friday';
REVOKE ALL ON FUNCTION finsec.is_working_day(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.is_working_day(date) TO finsec_admin, finsec_auditor, finsec_operator;

/* The n-th working day after d (n = 0: d itself). */
CREATE FUNCTION finsec.working_days_after(d date, n integer)
RETURNS date
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cur date := d;
	k integer := 0;
	exc record;
	nonworking date[];
	extra date[];
BEGIN
	IF d IS NULL OR n IS NULL THEN
		RAISE EXCEPTION 'the day and the count of finsec.working_days_after must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF n < 0 OR n > 3650 THEN
		RAISE EXCEPTION 'finsec.working_days_after counts 0 to 3650 working days, not %', n
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- the calendar's exceptions in the range that can matter, read once
	SELECT coalesce(array_agg(wd.day) FILTER (WHERE NOT wd.working), '{}'),
		   coalesce(array_agg(wd.day) FILTER (WHERE wd.working), '{}')
	  INTO nonworking, extra
	  FROM finsec.working_day wd
	 WHERE wd.day > d AND wd.day <= d + (n * 3 + 400);
	WHILE k < n LOOP
		cur := cur + 1;
		IF cur > d + (n * 3 + 400) THEN
			RAISE EXCEPTION 'no % working days within % days after %', n, n * 3 + 400, to_char(d, 'YYYY-MM-DD')
				USING ERRCODE = 'S9M23',
					  HINT = 'finsec.working_day marks too many days as not working.';
		END IF;
		IF (cur = ANY (extra)) OR (extract(isodow FROM cur) < 6 AND NOT cur = ANY (nonworking)) THEN
			k := k + 1;
		END IF;
	END LOOP;
	RETURN cur;
END
$$;
COMMENT ON FUNCTION finsec.working_days_after(date, integer) IS
	'the n-th working day after a day (finsec.working_day calendar; 0 is the day itself)';
REVOKE ALL ON FUNCTION finsec.working_days_after(date, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.working_days_after(date, integer) TO finsec_admin, finsec_auditor, finsec_operator;


/*
 * 2b. Large-value thresholds (data, by class and from a day on, so that a
 * backtest of an old day uses the threshold then in force).  Changed only
 * by two-person approval (change kind monitor.large_value_threshold).
 */
CREATE TABLE finsec.large_value_threshold (
	class text NOT NULL CHECK (class IN ('cash', 'transfer_legal', 'transfer_natural_domestic', 'transfer_natural_cross_border')),
	valid_from date NOT NULL,
	cny_threshold numeric NOT NULL CHECK (cny_threshold > 0 AND cny_threshold < 'Infinity'),
	usd_threshold numeric NOT NULL CHECK (usd_threshold > 0 AND usd_threshold < 'Infinity'),
	legal_reference text NOT NULL CHECK (legal_reference ~ '\S'),
	request_id bigint,
	recorded_by name NOT NULL DEFAULT session_user,
	recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (class, valid_from)
);
COMMENT ON TABLE finsec.large_value_threshold IS
	'large-value transaction report thresholds (PBOC Order 2016 No. 3 Art. 5) by class from a day on: RMB in CNY, foreign currency in USD equivalent; changed by two-person approval';
REVOKE ALL ON finsec.large_value_threshold FROM PUBLIC;
GRANT SELECT ON finsec.large_value_threshold TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.large_value_threshold', 'WHERE request_id IS NOT NULL');

INSERT INTO finsec.large_value_threshold (class, valid_from, cny_threshold, usd_threshold, legal_reference, recorded_by) VALUES
	('cash', '2017-07-01', 50000, 10000,
	 '金融机构大额交易和可疑交易报告管理办法 (PBOC Order 2016 No. 3) Art. 5 (1): cash, single or same-day cumulative, RMB 50,000 or foreign currency USD 10,000 equivalent and above', 'finsec'),
	('transfer_legal', '2017-07-01', 2000000, 200000,
	 'PBOC Order 2016 No. 3 Art. 5 (2): transfers of non-natural-person customers, single or same-day cumulative, RMB 2,000,000 or USD 200,000 equivalent and above', 'finsec'),
	('transfer_natural_domestic', '2017-07-01', 500000, 100000,
	 'PBOC Order 2016 No. 3 Art. 5 (3): domestic transfers of natural-person customers, single or same-day cumulative, RMB 500,000 or USD 100,000 equivalent and above', 'finsec'),
	('transfer_natural_cross_border', '2017-07-01', 200000, 10000,
	 'PBOC Order 2016 No. 3 Art. 5 (4): cross-border transfers of natural-person customers, single or same-day cumulative, RMB 200,000 or USD 10,000 equivalent and above', 'finsec');

/*
 * prepare: target = class; payload {"cny_threshold", "usd_threshold",
 * "valid_from" (a day not before today, local; default tomorrow),
 * "legal_reference" (default: that of the threshold replaced)}.
 */
CREATE FUNCTION finsec._large_value_threshold_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	bad text;
	cur finsec.large_value_threshold;
	cny numeric;
	usd numeric;
	vf date;
	today date := finsec._monitor_day(pg_catalog.now());
	ref text;
BEGIN
	IF target NOT IN ('cash', 'transfer_legal', 'transfer_natural_domestic', 'transfer_natural_cross_border') THEN
		RAISE EXCEPTION '"%" is not a large-value class', target
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The classes are cash, transfer_legal, transfer_natural_domestic, transfer_natural_cross_border.';
	END IF;
	IF jsonb_typeof(payload) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'a % request needs a JSON object payload', kind USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT string_agg(k, ', ' ORDER BY k) INTO bad FROM jsonb_object_keys(payload) k
	 WHERE k NOT IN ('cny_threshold', 'usd_threshold', 'valid_from', 'legal_reference');
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'a % request has unknown field(s): %', kind, bad
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The fields are cny_threshold, usd_threshold, valid_from, legal_reference.';
	END IF;
	SELECT * INTO cur FROM finsec.large_value_threshold t
	 WHERE t.class = target AND t.valid_from <= today ORDER BY t.valid_from DESC LIMIT 1;
	BEGIN
		cny := coalesce(payload->>'cny_threshold', cur.cny_threshold::text)::numeric;
		usd := coalesce(payload->>'usd_threshold', cur.usd_threshold::text)::numeric;
	EXCEPTION WHEN data_exception THEN
		RAISE EXCEPTION 'the thresholds of a % request must be numbers', kind USING ERRCODE = 'invalid_parameter_value';
	END;
	IF payload ? 'cny_threshold' AND jsonb_typeof(payload->'cny_threshold') NOT IN ('number', 'string')
	   OR payload ? 'usd_threshold' AND jsonb_typeof(payload->'usd_threshold') NOT IN ('number', 'string') THEN
		RAISE EXCEPTION 'the thresholds of a % request must be numbers', kind USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF cny IS NULL OR usd IS NULL OR NOT (cny > 0 AND cny < 'Infinity') OR NOT (usd > 0 AND usd < 'Infinity') THEN
		RAISE EXCEPTION 'the thresholds of a % request must be positive and finite', kind
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	BEGIN
		vf := coalesce(to_date(payload->>'valid_from', 'YYYY-MM-DD'), today + 1);
	EXCEPTION WHEN data_exception THEN
		RAISE EXCEPTION 'valid_from of a % request must be a day YYYY-MM-DD', kind USING ERRCODE = 'invalid_parameter_value';
	END;
	IF vf < today THEN
		RAISE EXCEPTION 'a large-value threshold cannot take effect in the past (%)', to_char(vf, 'YYYY-MM-DD')
			USING ERRCODE = 'S9M22',
				  DETAIL = 'Reports and backtests of past days keep the thresholds that were in force.',
				  HINT = 'Give valid_from today or later.';
	END IF;
	ref := CASE WHEN payload->>'legal_reference' ~ '\S' THEN btrim(payload->>'legal_reference') ELSE cur.legal_reference END;
	IF ref IS NULL THEN
		RAISE EXCEPTION 'a % request needs a legal_reference', kind USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN jsonb_build_object('class', target, 'cny_threshold', cny, 'usd_threshold', usd,
							  'valid_from', to_char(vf, 'YYYY-MM-DD'), 'legal_reference', ref,
							  'replaces', CASE WHEN cur.class IS NOT NULL THEN
								  jsonb_build_object('valid_from', to_char(cur.valid_from, 'YYYY-MM-DD'),
													 'cny_threshold', cur.cny_threshold, 'usd_threshold', cur.usd_threshold) END);
END
$$;
REVOKE ALL ON FUNCTION finsec._large_value_threshold_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._large_value_threshold_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	vf date := to_date(payload->>'valid_from', 'YYYY-MM-DD');
BEGIN
	IF vf < finsec._monitor_day(pg_catalog.now()) THEN
		RAISE EXCEPTION 'request % would change a large-value threshold from %, which has passed', request_id, payload->>'valid_from'
			USING ERRCODE = 'S9M22', HINT = 'Reject this request and file a new one.';
	END IF;
	INSERT INTO finsec.large_value_threshold AS t (class, valid_from, cny_threshold, usd_threshold, legal_reference, request_id, recorded_by)
	VALUES (target, vf, (payload->>'cny_threshold')::numeric, (payload->>'usd_threshold')::numeric,
			payload->>'legal_reference', request_id, session_user)
	ON CONFLICT (class, valid_from) DO UPDATE
	   SET cny_threshold = EXCLUDED.cny_threshold, usd_threshold = EXCLUDED.usd_threshold,
		   legal_reference = EXCLUDED.legal_reference, request_id = EXCLUDED.request_id,
		   recorded_by = EXCLUDED.recorded_by, recorded_at = pg_catalog.now();
	PERFORM finsec.audit_event('monitor.large_value_threshold', target, 'set', true,
		format('large-value threshold %s from %s: CNY %s, USD %s', target, payload->>'valid_from',
			   payload->>'cny_threshold', payload->>'usd_threshold'),
		jsonb_build_object('request_id', request_id, 'payload', payload));
	RETURN jsonb_build_object('class', target, 'valid_from', payload->>'valid_from',
							  'cny_threshold', (payload->>'cny_threshold')::numeric,
							  'usd_threshold', (payload->>'usd_threshold')::numeric);
END
$$;
REVOKE ALL ON FUNCTION finsec._large_value_threshold_apply(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('monitor.large_value_threshold', 'finsec._large_value_threshold_prepare(text, text, jsonb)',
	 'finsec._large_value_threshold_apply(bigint, text, text, jsonb)', NULL,
	 'set a large-value report threshold from a day on (target: class; payload: {"cny_threshold", "usd_threshold", "valid_from", "legal_reference"})');

/*
 * 2c. Report candidates.  One per (customer, local day, direction, class,
 * currency group) and covered set of payments: the monitor writes it when a
 * large_value alert is raised or extended; later payments of the same day
 * extend the pending candidate, or, once it was submitted or excluded, make
 * a supplementary candidate (supplements) with the payments not yet
 * covered.  total is the day's cumulative amount of that key, amount the
 * sum of the payments the candidate covers, both in CNY (group CNY) or USD
 * equivalent (group FX).
 */
CREATE TABLE finsec.large_value_report (
	report_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	alert_id bigint NOT NULL,
	rule_name text NOT NULL,
	customer text NOT NULL,
	customer_type text NOT NULL CHECK (customer_type IN ('natural', 'legal')),
	class text NOT NULL CHECK (class IN ('cash', 'transfer_legal', 'transfer_natural_domestic', 'transfer_natural_cross_border')),
	direction text NOT NULL CHECK (direction IN ('in', 'out')),
	currency_group text NOT NULL CHECK (currency_group IN ('CNY', 'FX')),
	day date NOT NULL,
	unit text NOT NULL CHECK (unit IN ('CNY', 'USD')),
	total numeric NOT NULL,
	amount numeric NOT NULL,
	threshold numeric NOT NULL,
	payments integer NOT NULL,
	events bigint[] NOT NULL,
	payment_references text[] NOT NULL,
	due_date date NOT NULL,
	calendar_loaded boolean NOT NULL,
	supplements bigint REFERENCES finsec.large_value_report,
	status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'submitted', 'excluded')),
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	submitted_by name,
	submitted_at timestamptz,
	submission_reference text,
	submission_note text,
	excluded_by name,
	excluded_at timestamptz,
	exclusion_rationale text,
	CHECK ((status = 'submitted') = (submitted_at IS NOT NULL AND submitted_by IS NOT NULL AND submission_reference ~ '\S')),
	CHECK ((status = 'excluded') = (excluded_at IS NOT NULL AND excluded_by IS NOT NULL AND exclusion_rationale ~ '\S'))
);
CREATE UNIQUE INDEX large_value_report_pending ON finsec.large_value_report (customer, day, direction, class, currency_group)
	WHERE status = 'pending';
CREATE INDEX large_value_report_key ON finsec.large_value_report (customer, day, direction, class, currency_group);
CREATE INDEX large_value_report_due ON finsec.large_value_report (due_date) WHERE status = 'pending';
COMMENT ON TABLE finsec.large_value_report IS
	'large-value transaction report candidates (PBOC Order 2016 No. 3): covered payments, due date 5 working days after the day, pending -> submitted / excluded (audited)';
REVOKE ALL ON finsec.large_value_report FROM PUBLIC;
GRANT SELECT ON finsec.large_value_report TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.large_value_report', '');

/* Whether the calendar has rows for every year from d1 to d2 (else due dates assume Monday to Friday). */
CREATE FUNCTION finsec._working_day_loaded(d1 date, d2 date)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	FOR y IN extract(year FROM d1)::integer .. extract(year FROM d2)::integer LOOP
		IF NOT EXISTS (SELECT 1 FROM finsec.working_day wd WHERE wd.day >= make_date(y, 1, 1) AND wd.day < make_date(y + 1, 1, 1)) THEN
			RETURN false;
		END IF;
	END LOOP;
	RETURN true;
END
$$;
REVOKE ALL ON FUNCTION finsec._working_day_loaded(date, date) FROM PUBLIC;

-- Audit a statement's calendar changes, and move the due dates of the pending candidates they affect.
CREATE FUNCTION finsec._working_day_audit()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	changed jsonb;
	lo date;
	hi date;
	was jsonb;
	n integer;
	moved integer;
BEGIN
	IF TG_OP = 'INSERT' THEN
		SELECT count(*), min(day), max(day),
			   jsonb_agg(jsonb_build_object('day', to_char(day, 'YYYY-MM-DD'), 'working', working, 'name', name) ORDER BY day)
		  INTO n, lo, hi, changed FROM new_days;
	ELSIF TG_OP = 'DELETE' THEN
		SELECT count(*), min(day), max(day),
			   jsonb_agg(jsonb_build_object('day', to_char(day, 'YYYY-MM-DD'), 'working', working, 'name', name) ORDER BY day)
		  INTO n, lo, hi, changed FROM old_days;
	ELSE
		SELECT count(*), least(min(day), (SELECT min(o.day) FROM old_days o)), greatest(max(day), (SELECT max(o.day) FROM old_days o)),
			   jsonb_agg(jsonb_build_object('day', to_char(day, 'YYYY-MM-DD'), 'working', working, 'name', name) ORDER BY day)
		  INTO n, lo, hi, changed FROM new_days;
		SELECT jsonb_agg(jsonb_build_object('day', to_char(o.day, 'YYYY-MM-DD'), 'working', o.working, 'name', o.name) ORDER BY o.day)
		  INTO was FROM old_days o;
	END IF;
	IF n = 0 THEN
		RETURN NULL;
	END IF;
	WITH m AS (
		UPDATE finsec.large_value_report r
		   SET due_date = finsec.working_days_after(r.day, 5),
			   calendar_loaded = finsec._working_day_loaded(r.day, finsec.working_days_after(r.day, 5)),
			   updated_at = pg_catalog.now()
		 WHERE r.status = 'pending' AND r.day >= lo - 60 AND r.day <= hi
		   AND r.due_date IS DISTINCT FROM finsec.working_days_after(r.day, 5)
		RETURNING 1)
	SELECT count(*) INTO moved FROM m;
	PERFORM finsec.audit_event('monitor.working_day', 'finsec.working_day', lower(TG_OP), true,
		format('%s calendar day(s) %s from %s to %s', n,
			   CASE TG_OP WHEN 'INSERT' THEN 'added' WHEN 'DELETE' THEN 'removed' ELSE 'changed' END,
			   to_char(lo, 'YYYY-MM-DD'), to_char(hi, 'YYYY-MM-DD')),
		jsonb_build_object('days', CASE WHEN n <= 400 THEN changed END, 'was', CASE WHEN n <= 400 THEN was END, 'count', n,
						   'report_due_dates_moved', moved));
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION finsec._working_day_audit() FROM PUBLIC;
CREATE TRIGGER working_day_audit_insert AFTER INSERT ON finsec.working_day
	REFERENCING NEW TABLE AS new_days FOR EACH STATEMENT EXECUTE FUNCTION finsec._working_day_audit();
CREATE TRIGGER working_day_audit_update AFTER UPDATE ON finsec.working_day
	REFERENCING NEW TABLE AS new_days OLD TABLE AS old_days FOR EACH STATEMENT EXECUTE FUNCTION finsec._working_day_audit();
CREATE TRIGGER working_day_audit_delete AFTER DELETE ON finsec.working_day
	REFERENCING OLD TABLE AS old_days FOR EACH STATEMENT EXECUTE FUNCTION finsec._working_day_audit();

/*
 * 2d. Rule kind large_value.  For each (customer, local day, direction,
 * currency group) of the rule's class that the batch's new payments touch,
 * the day's cumulative amount over the payments up to last_event (RMB
 * payments in CNY against cny_threshold, foreign-currency payments in USD
 * equivalent against usd_threshold, as Art. 5 treats them separately),
 * through the (customer, at) index over one local day.  At or above the
 * threshold in force that day: a hit, period '<day>:<direction>:<class>:
 * <CNY|FX>', so later payments of the day extend the open alert.
 */
CREATE FUNCTION finsec._monitor_eval_large_value(r finsec.monitor_rule, first_event bigint, last_event bigint)
RETURNS SETOF finsec.monitor_hit
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cls text := r.params->>'class';
	tz text := coalesce(nullif(current_setting('finsec.monitor_timezone', true), ''), 'Asia/Shanghai');
BEGIN
	IF cls IS NULL OR NOT EXISTS (SELECT 1 FROM finsec.large_value_threshold t WHERE t.class = cls) THEN
		RAISE EXCEPTION 'rule % has no large-value class with a threshold: "%"', r.rule_name, coalesce(cls, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'class is one of finsec.large_value_threshold''s classes.';
	END IF;
	RETURN QUERY
	WITH touched AS (
		SELECT DISTINCT e.customer, (e.at AT TIME ZONE tz)::date AS day, e.direction, (upper(e.currency) = 'CNY') AS rmb
		  FROM finsec.monitor_event e
		 WHERE e.event_id BETWEEN first_event AND last_event
		   AND e.succeeded AND e.amount > 0 AND e.amount < 'Infinity'
		   AND CASE WHEN e.cash THEN 'cash' WHEN e.customer_type = 'legal' THEN 'transfer_legal'
					WHEN e.cross_border THEN 'transfer_natural_cross_border' ELSE 'transfer_natural_domestic' END = cls
	), day_events AS (
		SELECT t.customer, t.day, t.direction, t.rmb, e.event_id, e.at, e.customer_type,
			   CASE WHEN t.rmb THEN e.amount
					ELSE coalesce(e.amount_usd, finsec.monitor_convert(e.amount, e.currency, t.day, 'USD')) END AS amt
		  FROM touched t
		  JOIN LATERAL (
			SELECT x.event_id, x.at, x.customer_type, x.amount, x.amount_usd, x.currency
			  FROM finsec.monitor_event x
			 WHERE x.customer = t.customer
			   AND x.at >= (t.day::timestamp AT TIME ZONE tz)
			   AND x.at < ((t.day + 1)::timestamp AT TIME ZONE tz)
			   AND x.event_id <= last_event
			   AND x.direction = t.direction
			   AND (upper(x.currency) = 'CNY') = t.rmb
			   AND x.succeeded AND x.amount > 0 AND x.amount < 'Infinity'
			   AND CASE WHEN x.cash THEN 'cash' WHEN x.customer_type = 'legal' THEN 'transfer_legal'
						WHEN x.cross_border THEN 'transfer_natural_cross_border' ELSE 'transfer_natural_domestic' END = cls) e ON true
	), sums AS (
		SELECT d.customer, d.day, d.direction, d.rmb,
			   sum(d.amt) AS total, count(*) AS n, count(*) FILTER (WHERE d.amt IS NULL) AS unconverted,
			   max(d.at) AS last_at, max(d.event_id) AS last_id,
			   (array_agg(d.event_id ORDER BY d.event_id))[1:1000] AS evs,
			   (array_agg(d.customer_type ORDER BY d.event_id DESC))[1] AS ctype
		  FROM day_events d
		 GROUP BY d.customer, d.day, d.direction, d.rmb
	)
	SELECT s.customer,
		   format('%s:%s:%s:%s', to_char(s.day, 'YYYY-MM-DD'), s.direction, cls, CASE WHEN s.rmb THEN 'CNY' ELSE 'FX' END),
		   s.last_at, s.evs, s.total, s.total,
		   jsonb_build_object('class', cls, 'direction', s.direction, 'currency_group', CASE WHEN s.rmb THEN 'CNY' ELSE 'FX' END,
							  'unit', CASE WHEN s.rmb THEN 'CNY' ELSE 'USD' END, 'day', to_char(s.day, 'YYYY-MM-DD'),
							  'total', s.total, 'threshold', th.thr, 'payments', s.n, 'unconverted', s.unconverted,
							  'customer_type', s.ctype, 'last_event', s.last_id)
	  FROM sums s
	  CROSS JOIN LATERAL (
		SELECT CASE WHEN s.rmb THEN t.cny_threshold ELSE t.usd_threshold END AS thr
		  FROM finsec.large_value_threshold t
		 WHERE t.class = cls AND t.valid_from <= s.day
		 ORDER BY t.valid_from DESC LIMIT 1) th
	 WHERE s.total >= th.thr;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_large_value(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

/*
 * on_alert: write or extend the report candidate of the alert's key.  The
 * candidate covers every payment of that key and day visible now that no
 * submitted or excluded candidate of the key covers.
 */
CREATE FUNCTION finsec._monitor_large_value_on_alert(alert_id bigint, r finsec.monitor_rule, created boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a finsec.alert;
	d date;
	dir text;
	cls text;
	grp text;
	tz text := coalesce(nullif(current_setting('finsec.monitor_timezone', true), ''), 'Asia/Shanghai');
	covered bigint[];
	evs bigint[];
	refs text[];
	amt numeric;
	tot numeric;
	cnt integer;
	ctype text;
	thr numeric;
	due date;
	prev bigint;
	rid bigint;
	fresh boolean;
BEGIN
	SELECT * INTO a FROM finsec.alert al WHERE al.alert_id = _monitor_large_value_on_alert.alert_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'alert % does not exist', alert_id USING ERRCODE = 'undefined_object';
	END IF;
	d := to_date(split_part(a.period, ':', 1), 'YYYY-MM-DD');
	dir := split_part(a.period, ':', 2);
	cls := split_part(a.period, ':', 3);
	grp := split_part(a.period, ':', 4);
	IF dir NOT IN ('in', 'out') OR grp NOT IN ('CNY', 'FX') THEN
		RAISE EXCEPTION 'alert % is not a large-value alert (period %)', alert_id, a.period USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- the key's pending candidate, locked first: a decision on it waits for this batch, or came before and counts as covered
	PERFORM 1 FROM finsec.large_value_report lr
	  WHERE lr.customer = a.entity AND lr.day = d AND lr.direction = dir AND lr.class = cls
		AND lr.currency_group = grp AND lr.status = 'pending'
	  FOR UPDATE;
	SELECT coalesce(array_agg(DISTINCT c.e), '{}') INTO covered
	  FROM finsec.large_value_report lr, unnest(lr.events) c(e)
	 WHERE lr.customer = a.entity AND lr.day = d AND lr.direction = dir AND lr.class = cls
	   AND lr.currency_group = grp AND lr.status <> 'pending';
	WITH ev AS (
		SELECT x.event_id, x.reference, x.customer_type,
			   CASE WHEN grp = 'CNY' THEN x.amount
					ELSE coalesce(x.amount_usd, finsec.monitor_convert(x.amount, x.currency, d, 'USD')) END AS amt
		  FROM finsec.monitor_event x
		 WHERE x.customer = a.entity
		   AND x.at >= (d::timestamp AT TIME ZONE tz) AND x.at < ((d + 1)::timestamp AT TIME ZONE tz)
		   AND x.direction = dir AND (upper(x.currency) = 'CNY') = (grp = 'CNY')
		   AND x.succeeded AND x.amount > 0 AND x.amount < 'Infinity'
		   AND CASE WHEN x.cash THEN 'cash' WHEN x.customer_type = 'legal' THEN 'transfer_legal'
					WHEN x.cross_border THEN 'transfer_natural_cross_border' ELSE 'transfer_natural_domestic' END = cls)
	SELECT sum(ev.amt),
		   sum(ev.amt) FILTER (WHERE ev.event_id <> ALL (covered)),
		   count(*) FILTER (WHERE ev.event_id <> ALL (covered)),
		   array_agg(ev.event_id ORDER BY ev.event_id) FILTER (WHERE ev.event_id <> ALL (covered)),
		   array_agg(coalesce(ev.reference, '') ORDER BY ev.event_id) FILTER (WHERE ev.event_id <> ALL (covered)),
		   (array_agg(ev.customer_type ORDER BY ev.event_id DESC))[1]
	  INTO tot, amt, cnt, evs, refs, ctype
	  FROM ev;
	IF coalesce(cnt, 0) = 0 THEN
		RETURN;			-- everything of the day is already reported or excluded
	END IF;
	SELECT CASE WHEN grp = 'CNY' THEN t.cny_threshold ELSE t.usd_threshold END INTO thr
	  FROM finsec.large_value_threshold t WHERE t.class = cls AND t.valid_from <= d
	 ORDER BY t.valid_from DESC LIMIT 1;
	due := finsec.working_days_after(d, 5);
	UPDATE finsec.large_value_report lr
	   SET alert_id = a.alert_id, rule_name = a.rule_name, customer_type = ctype, total = coalesce(tot, 0),
		   amount = coalesce(amt, 0), threshold = thr, payments = cnt, events = evs, payment_references = refs,
		   updated_at = pg_catalog.now()
	 WHERE lr.customer = a.entity AND lr.day = d AND lr.direction = dir AND lr.class = cls
	   AND lr.currency_group = grp AND lr.status = 'pending'
	RETURNING lr.report_id INTO rid;
	IF rid IS NOT NULL THEN
		RETURN;
	END IF;
	SELECT max(lr.report_id) INTO prev FROM finsec.large_value_report lr
	 WHERE lr.customer = a.entity AND lr.day = d AND lr.direction = dir AND lr.class = cls AND lr.currency_group = grp;
	INSERT INTO finsec.large_value_report (alert_id, rule_name, customer, customer_type, class, direction, currency_group,
										   day, unit, total, amount, threshold, payments, events, payment_references,
										   due_date, calendar_loaded, supplements)
	VALUES (a.alert_id, a.rule_name, a.entity, ctype, cls, dir, grp, d, CASE grp WHEN 'CNY' THEN 'CNY' ELSE 'USD' END,
			coalesce(tot, 0), coalesce(amt, 0), thr, cnt, evs, refs, due, finsec._working_day_loaded(d, due), prev)
	ON CONFLICT (customer, day, direction, class, currency_group) WHERE status = 'pending' DO UPDATE
	   SET alert_id = EXCLUDED.alert_id, rule_name = EXCLUDED.rule_name, customer_type = EXCLUDED.customer_type,
		   total = EXCLUDED.total, amount = EXCLUDED.amount, threshold = EXCLUDED.threshold, payments = EXCLUDED.payments,
		   events = EXCLUDED.events, payment_references = EXCLUDED.payment_references, updated_at = pg_catalog.now()
	RETURNING report_id, (xmax = 0) INTO rid, fresh;
	IF NOT fresh THEN
		RETURN;			-- another batch wrote the candidate meanwhile (a second registered table)
	END IF;
	PERFORM finsec.audit_event('monitor.large_value_report', rid::text, 'create', true,
		format('large-value report candidate %s (%s %s %s, %s), due %s', rid, cls, dir, grp, to_char(d, 'YYYY-MM-DD'),
			   to_char(due, 'YYYY-MM-DD')),
		jsonb_build_object('alert_id', a.alert_id, 'rule', a.rule_name, 'payments', cnt, 'supplements', prev));
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_large_value_on_alert(bigint, finsec.monitor_rule, boolean) FROM PUBLIC;

/*
 * Operators' decisions on a pending candidate: submitted (to the reporting
 * system, under its reference) or excluded (needs no report, with a
 * rationale).  One body for both: the same checks, lock and audit.
 */
CREATE FUNCTION finsec._large_value_decide(report_id bigint, verdict text, what text, note text)
RETURNS finsec.large_value_report
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	lr finsec.large_value_report;
	fn text := CASE verdict WHEN 'submitted' THEN 'large_value_submit' ELSE 'large_value_exclude' END;
	txt text := btrim(what, E' \t\r\n');
BEGIN
	IF report_id IS NULL THEN
		RAISE EXCEPTION 'the report of finsec.% must not be null', fn USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF what IS NULL OR what !~ '\S' THEN
		IF verdict = 'submitted' THEN
			RAISE EXCEPTION 'submitting large-value report % needs the reference the reporting system gave it', report_id
				USING ERRCODE = 'S9M21',
					  HINT = 'Pass the receipt or file number of the submission as reference.';
		END IF;
		RAISE EXCEPTION 'excluding large-value report % needs a rationale', report_id
			USING ERRCODE = 'S9M21',
				  HINT = 'Say why the payments need no report, e.g. the exemption of the Order that applies.';
	END IF;
	SELECT * INTO lr FROM finsec.large_value_report x WHERE x.report_id = _large_value_decide.report_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'large-value report % does not exist', report_id USING ERRCODE = 'undefined_object';
	END IF;
	IF lr.status <> 'pending' THEN
		RAISE EXCEPTION 'large-value report % is %, not pending', report_id, lr.status
			USING ERRCODE = 'S9M20',
				  HINT = 'Payments of the day that came later are in a supplementary candidate.';
	END IF;
	IF verdict = 'submitted' THEN
		UPDATE finsec.large_value_report x
		   SET status = 'submitted', submitted_by = session_user, submitted_at = pg_catalog.now(),
			   submission_reference = txt, submission_note = note, updated_at = pg_catalog.now()
		 WHERE x.report_id = lr.report_id
		RETURNING * INTO lr;
	ELSE
		UPDATE finsec.large_value_report x
		   SET status = 'excluded', excluded_by = session_user, excluded_at = pg_catalog.now(),
			   exclusion_rationale = txt, updated_at = pg_catalog.now()
		 WHERE x.report_id = lr.report_id
		RETURNING * INTO lr;
	END IF;
	-- the candidate's alert and any overdue alert of it are settled by the decision
	PERFORM finsec.alert_close(al.alert_id, CASE verdict WHEN 'submitted' THEN 'reported' ELSE 'false_positive' END,
							   format('large-value report %s %s: %s', lr.report_id, verdict, txt))
	   FROM finsec.alert al
	  WHERE al.state <> 'closed'
		AND (al.alert_id = lr.alert_id
			 OR (al.kind = 'large_value_overdue' AND al.entity = lr.customer AND al.period = 'report:' || lr.report_id));
	PERFORM finsec.audit_event('monitor.large_value_report', report_id::text,
		CASE verdict WHEN 'submitted' THEN 'submit' ELSE 'exclude' END, true,
		CASE verdict WHEN 'submitted' THEN note ELSE txt END,
		jsonb_build_object('reference', CASE verdict WHEN 'submitted' THEN txt END,
						   'class', lr.class, 'day', to_char(lr.day, 'YYYY-MM-DD'), 'payments', lr.payments,
						   'due_date', to_char(lr.due_date, 'YYYY-MM-DD'),
						   'late', finsec._monitor_day(pg_catalog.now()) > lr.due_date));
	RETURN lr;
END
$$;
REVOKE ALL ON FUNCTION finsec._large_value_decide(bigint, text, text, text) FROM PUBLIC;

CREATE FUNCTION finsec.large_value_submit(report_id bigint, reference text, note text DEFAULT NULL)
RETURNS finsec.large_value_report
LANGUAGE sql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT finsec._large_value_decide(report_id, 'submitted', reference, note) $$;
COMMENT ON FUNCTION finsec.large_value_submit(bigint, text, text) IS
	'mark a pending large-value report candidate as submitted, with the reporting system''s reference (audited)';
REVOKE ALL ON FUNCTION finsec.large_value_submit(bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.large_value_submit(bigint, text, text) TO finsec_operator;

CREATE FUNCTION finsec.large_value_exclude(report_id bigint, rationale text)
RETURNS finsec.large_value_report
LANGUAGE sql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT finsec._large_value_decide(report_id, 'excluded', rationale, NULL) $$;
COMMENT ON FUNCTION finsec.large_value_exclude(bigint, text) IS
	'mark a pending large-value report candidate as needing no report (e.g. an exemption of Art. 7), with a rationale (audited)';
REVOKE ALL ON FUNCTION finsec.large_value_exclude(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.large_value_exclude(bigint, text) TO finsec_operator;

/*
 * 2e. Rule kind large_value_overdue (scope system): a pending candidate
 * whose due date has passed (local day in finsec.monitor_timezone) is a
 * hit on its customer with period 'report:<id>' (one alert per report;
 * while that alert is open nothing more is returned for it).
 */
CREATE FUNCTION finsec._monitor_eval_large_value_overdue(r finsec.monitor_rule, first_event bigint, last_event bigint)
RETURNS SETOF finsec.monitor_hit
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT lr.customer, 'report:' || lr.report_id, pg_catalog.now(), lr.events[1:1000], lr.total,
		   (finsec._monitor_day(pg_catalog.now()) - lr.due_date)::numeric,
		   jsonb_build_object('report_id', lr.report_id, 'class', lr.class, 'direction', lr.direction,
							  'currency_group', lr.currency_group, 'day', to_char(lr.day, 'YYYY-MM-DD'),
							  'due_date', to_char(lr.due_date, 'YYYY-MM-DD'), 'days_overdue',
							  finsec._monitor_day(pg_catalog.now()) - lr.due_date)
	  FROM finsec.large_value_report lr
	 WHERE lr.status = 'pending' AND lr.due_date < finsec._monitor_day(pg_catalog.now())
	   AND NOT EXISTS (SELECT 1 FROM finsec.alert al
						WHERE al.rule_name = r.rule_name AND al.entity_type = r.entity AND al.entity = lr.customer
						  AND al.period = 'report:' || lr.report_id AND al.state <> 'closed')
	 ORDER BY lr.report_id
$$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_large_value_overdue(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

/*
 * A large-value report leaves no discretion: a snoozed hit would write no
 * candidate.  So rules of kind large_value cannot be snoozed (an operator
 * excludes a candidate, with its rationale, instead).
 */
CREATE FUNCTION finsec._large_value_no_snooze()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM finsec.monitor_rule mr WHERE mr.rule_name = NEW.rule_name AND mr.kind = 'large_value') THEN
		RAISE EXCEPTION 'rule % reports large-value transactions and cannot be snoozed', NEW.rule_name
			USING ERRCODE = 'S9M24',
				  DETAIL = 'PBOC Order 2016 No. 3 requires every large-value transaction to be reported; a snooze would suppress the report candidate.',
				  HINT = 'Exclude a candidate that needs no report with finsec.large_value_exclude and its rationale.';
	END IF;
	RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION finsec._large_value_no_snooze() FROM PUBLIC;
CREATE TRIGGER large_value_no_snooze BEFORE INSERT OR UPDATE OF rule_name ON finsec.alert_snooze
	FOR EACH ROW EXECUTE FUNCTION finsec._large_value_no_snooze();

INSERT INTO finsec.monitor_rule_kind (kind, scope, entities, parameters, window_required, evaluator, on_alert, description) VALUES
	('large_value', 'payment', '{customer}',
	 '{"class": {"type": "text", "required": true, "description": "large-value class: cash, transfer_legal, transfer_natural_domestic or transfer_natural_cross_border (thresholds in finsec.large_value_threshold)"}}',
	 false, 'finsec._monitor_eval_large_value(finsec.monitor_rule, bigint, bigint)',
	 'finsec._monitor_large_value_on_alert(bigint, finsec.monitor_rule, boolean)',
	 'large-value transactions (PBOC Order 2016 No. 3 Art. 5): a customer''s single or same-day cumulative payments of a class, per direction, RMB and foreign currency separately, at or above the threshold; writes a report candidate in finsec.large_value_report'),
	('large_value_overdue', 'system', '{customer}', '{}', false,
	 'finsec._monitor_eval_large_value_overdue(finsec.monitor_rule, bigint, bigint)', NULL,
	 'a pending large-value report candidate past its due date (5 working days after the day of the transactions)');

INSERT INTO finsec.monitor_rule (rule_name, version, kind, entity, time_window, params, category, severity, shadow, action,
								 state, description, created_by, approved_by, activated_at) VALUES
	('large_value.cash', 1, 'large_value', 'customer', NULL, '{"class": "cash"}', 'money_laundering', 'medium', false, 'alert',
	 'active', 'cash: RMB 50,000 / USD 10,000 single or same-day cumulative (PBOC Order 2016 No. 3 Art. 5 (1))', 'finsec', 'finsec', pg_catalog.now()),
	('large_value.transfer_legal', 1, 'large_value', 'customer', NULL, '{"class": "transfer_legal"}', 'money_laundering', 'medium', false, 'alert',
	 'active', 'non-natural-person transfers: RMB 2,000,000 / USD 200,000 (Art. 5 (2))', 'finsec', 'finsec', pg_catalog.now()),
	('large_value.transfer_natural_domestic', 1, 'large_value', 'customer', NULL, '{"class": "transfer_natural_domestic"}', 'money_laundering', 'medium', false, 'alert',
	 'active', 'natural-person domestic transfers: RMB 500,000 / USD 100,000 (Art. 5 (3))', 'finsec', 'finsec', pg_catalog.now()),
	('large_value.transfer_natural_cross_border', 1, 'large_value', 'customer', NULL, '{"class": "transfer_natural_cross_border"}', 'money_laundering', 'medium', false, 'alert',
	 'active', 'natural-person cross-border transfers: RMB 200,000 / USD 10,000 (Art. 5 (4))', 'finsec', 'finsec', pg_catalog.now()),
	('large_value.overdue', 1, 'large_value_overdue', 'customer', NULL, '{}', 'money_laundering', 'high', false, 'alert',
	 'active', 'a large-value report candidate still pending after its due date', 'finsec', 'finsec', pg_catalog.now());


-- (end of section 2)

-- ---------------------------------------------------------------------
-- 3. Behavioural typologies: structuring, rapid in-and-out, fan-in,
--    fan-out, dormant account reactivated, night-time bursts.
-- ---------------------------------------------------------------------

/*
 * Behavioural typologies (docs/monitor.md, "Typologies").  Every evaluator
 * reads the batch's new events (event_id BETWEEN first_event AND
 * last_event, a range of the primary key), takes the entities they touch,
 * and reads each entity's history through its (entity, at) index in ONE
 * range (never a scan of the whole history, never an event after
 * last_event).  Counts and sums over the sliding window
 * (at > t - time_window AND at <= t) are window aggregates over that range
 * (moving count and sum: linear per entity).  A window is judged when it
 * holds at least one new event, at its last event t (hit_at).  period:
 * the local day (finsec._monitor_day) of the FIRST event of the
 * qualifying window, so that a pattern straddling midnight, or one that a
 * later batch extends, stays one alert (the core deduplicates on period).
 * Only succeeded payments count, with their CNY amount (amount_cny).
 * Parameters of every statement: $1 first_event, $2 last_event, $3 the
 * window, $4... the kind's.
 */

/* The event column of a typology rule's entity (customer or account). */
CREATE FUNCTION finsec._monitor_typ_column(r finsec.monitor_rule)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF r.entity IN ('customer', 'account') THEN
		RETURN r.entity;
	END IF;
	RAISE EXCEPTION 'rule "%" of kind % has entity "%"', r.rule_name, r.kind, r.entity
		USING ERRCODE = 'S9M30',
			  DETAIL = 'Behavioural typologies count per customer or per account.',
			  HINT = 'Set the rule''s entity to customer or account.';
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_typ_column(finsec.monitor_rule) FROM PUBLIC;

/* The directions a rule counts: params.direction 'in', 'out' or 'any'. */
CREATE FUNCTION finsec._monitor_typ_directions(r finsec.monitor_rule)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d text := coalesce(r.params->>'direction', 'any');
BEGIN
	IF d = 'any' THEN
		RETURN ARRAY['in', 'out'];
	ELSIF d IN ('in', 'out') THEN
		RETURN ARRAY[d];
	END IF;
	RAISE EXCEPTION 'rule "%" has direction "%"', r.rule_name, d
		USING ERRCODE = 'S9M31',
			  HINT = 'direction is in, out or any (each direction counted on its own).';
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_typ_directions(finsec.monitor_rule) FROM PUBLIC;

/*
 * The two CTEs every evaluator starts with: nw, the entities the batch's
 * new events touch (with their times), and h, each such entity's events
 * from the earliest new time - window to the latest + window, by the
 * entity's index.  filter: a condition on the events counted, with %1$s
 * for the table alias.  predecessor: h also holds each entity's last event
 * before that range (dormancy needs the gap before the first one).  The
 * entity column col comes from _monitor_typ_column (a whitelist).
 */
CREATE FUNCTION finsec._monitor_typ_stream(col text, filter text, predecessor boolean DEFAULT false)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT format($q$
	nw AS (
		SELECT e.%1$I AS ent, min(e.at) AS lo_at, max(e.at) AS hi_at
		  FROM finsec.monitor_event e
		 WHERE e.event_id BETWEEN $1 AND $2 AND e.%1$I IS NOT NULL AND %2$s
		 GROUP BY 1),
	h AS (
		SELECT n.ent, m.*
		  FROM nw n CROSS JOIN LATERAL (%4$s
			SELECT x.event_id, x.at, x.direction, x.counterparty, x.succeeded, x.amount_cny
			  FROM finsec.monitor_event x
			 WHERE x.%1$I = n.ent AND x.at > n.lo_at - $3 AND x.at < n.hi_at + $3
			   AND x.event_id <= $2 AND %3$s) m)
	$q$, col, format(filter, 'e'), format(filter, 'x'),
		CASE WHEN predecessor THEN format($p$
			(SELECT x.event_id, x.at, x.direction, x.counterparty, x.succeeded, x.amount_cny
			   FROM finsec.monitor_event x
			  WHERE x.%1$I = n.ent AND x.at <= n.lo_at - $3 AND x.event_id <= $2
			  ORDER BY x.at DESC LIMIT 1)
			UNION ALL$p$, col) ELSE '' END)
$$;
REVOKE ALL ON FUNCTION finsec._monitor_typ_stream(text, text, boolean) FROM PUBLIC;

/*
 * The events of a hit g (the evaluator's last CTE): the entity's counted
 * events from since (an expression on g) to g.at, by the entity's index,
 * at most 1,000, in event order.
 */
CREATE FUNCTION finsec._monitor_typ_events(col text, filter text, since text DEFAULT 'y.at > g.at - $3')
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT format($q$ARRAY(SELECT y.event_id FROM finsec.monitor_event y
		 WHERE y.%1$I = g.ent AND %2$s AND y.at <= g.at AND y.event_id <= $2 AND %3$s
		 ORDER BY y.event_id LIMIT 1000)$q$, col, since, format(filter, 'y'))
$$;
REVOKE ALL ON FUNCTION finsec._monitor_typ_events(text, text, text) FROM PUBLIC;

/*
 * structuring: at least min_count payments of one direction, each in
 * [threshold * (1 - margin), threshold) CNY, by one entity within the
 * window (default 24 hours).
 */
CREATE FUNCTION finsec._monitor_eval_structuring(r finsec.monitor_rule, first_event bigint, last_event bigint)
RETURNS SETOF finsec.monitor_hit
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET IntervalStyle = iso_8601
SET TimeZone = 'UTC'
AS $$
DECLARE
	col text := finsec._monitor_typ_column(r);
	band text := '%1$s.succeeded AND %1$s.direction = ANY ($7)'
				 ' AND %1$s.amount_cny >= $4 * (1 - $5) AND %1$s.amount_cny < $4'
				 ' AND ($8 = ''any'' OR %1$s.customer_type = $8)';
BEGIN
	RETURN QUERY EXECUTE format($q$
	WITH %1$s,
	f AS (
		SELECT h.*, count(*) OVER win AS cnt, sum(h.amount_cny) OVER win AS total,
			   count(*) FILTER (WHERE h.event_id >= $1) OVER win AS fresh,
			   first_value(h.at) OVER win AS since
		  FROM h
		WINDOW win AS (PARTITION BY h.ent, h.direction ORDER BY h.at
					   RANGE BETWEEN $3 - interval '1 microsecond' PRECEDING AND CURRENT ROW)),
	g AS (
		SELECT DISTINCT ON (f.ent, f.direction, finsec._monitor_day(f.since)) f.*
		  FROM f WHERE f.fresh > 0 AND f.cnt >= $6
		 ORDER BY f.ent, f.direction, finsec._monitor_day(f.since), f.at DESC, f.event_id DESC)
	SELECT g.ent, to_char(finsec._monitor_day(g.since), 'YYYY-MM-DD'), g.at, %2$s,
		   g.total, g.cnt::numeric,
		   jsonb_build_object('direction', g.direction, 'payments', g.cnt, 'min_count', $6,
							  'sum_cny', g.total, 'threshold_cny', $4,
							  'band_from_cny', $4 * (1 - $5), 'window', $3::text,
							  'first_at', g.since, 'last_at', g.at)
	  FROM g ORDER BY g.ent, g.direction, g.at
	$q$, finsec._monitor_typ_stream(col, band),
		 finsec._monitor_typ_events(col, band || ' AND %1$s.direction = g.direction'))
	USING first_event, last_event, coalesce(r.time_window, interval '24 hours'),
		  (r.params->>'threshold')::numeric, (r.params->>'margin')::numeric,
		  (r.params->>'min_count')::integer, finsec._monitor_typ_directions(r),
		  coalesce(r.params->>'customer_type', 'any');
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_structuring(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

/*
 * rapid_in_out: at an outgoing payment t, the entity received at least
 * min_amount CNY in (t - window, t] and sent at least ratio of that in the
 * same window.
 */
CREATE FUNCTION finsec._monitor_eval_rapid_in_out(r finsec.monitor_rule, first_event bigint, last_event bigint)
RETURNS SETOF finsec.monitor_hit
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET IntervalStyle = iso_8601
SET TimeZone = 'UTC'
AS $$
DECLARE
	col text := finsec._monitor_typ_column(r);
	counted text := '%1$s.succeeded AND %1$s.amount_cny IS NOT NULL'
					' AND ($6 = ''any'' OR %1$s.customer_type = $6)';
BEGIN
	RETURN QUERY EXECUTE format($q$
	WITH %1$s,
	f AS (
		SELECT h.*,
			   coalesce(sum(h.amount_cny) FILTER (WHERE h.direction = 'in') OVER win, 0) AS inflow,
			   coalesce(sum(h.amount_cny) FILTER (WHERE h.direction = 'out') OVER win, 0) AS outflow,
			   count(*) FILTER (WHERE h.direction = 'in') OVER win AS n_in,
			   count(*) FILTER (WHERE h.direction = 'out') OVER win AS n_out,
			   count(*) FILTER (WHERE h.event_id >= $1) OVER win AS fresh,
			   first_value(h.at) OVER win AS since
		  FROM h
		WINDOW win AS (PARTITION BY h.ent ORDER BY h.at
					   RANGE BETWEEN $3 - interval '1 microsecond' PRECEDING AND CURRENT ROW)),
	g AS (
		SELECT DISTINCT ON (f.ent, finsec._monitor_day(f.since)) f.*
		  FROM f WHERE f.fresh > 0 AND f.direction = 'out'
		   AND f.inflow >= $5 AND f.inflow > 0 AND f.outflow >= $4 * f.inflow
		 ORDER BY f.ent, finsec._monitor_day(f.since), f.at DESC, f.event_id DESC)
	SELECT g.ent, to_char(finsec._monitor_day(g.since), 'YYYY-MM-DD'), g.at, %2$s,
		   g.outflow, round(g.outflow / g.inflow, 4),
		   jsonb_build_object('inflow_cny', g.inflow, 'outflow_cny', g.outflow,
							  'payments_in', g.n_in, 'payments_out', g.n_out,
							  'ratio', round(g.outflow / g.inflow, 4), 'min_ratio', $4,
							  'min_inflow_cny', $5, 'window', $3::text,
							  'first_at', g.since, 'last_at', g.at)
	  FROM g ORDER BY g.ent, g.at
	$q$, finsec._monitor_typ_stream(col, counted), finsec._monitor_typ_events(col, counted))
	USING first_event, last_event, coalesce(r.time_window, interval '24 hours'),
		  (r.params->>'ratio')::numeric, (r.params->>'min_amount')::numeric,
		  coalesce(r.params->>'customer_type', 'any');
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_rapid_in_out(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

/*
 * fan_in / fan_out: at least min_counterparties distinct counterparties
 * paying into (in) / paid from (out) one entity within the window, their
 * total at least min_amount CNY.  The distinct count is linear too: a
 * counterparty is in the window (t - w, t] while t lies in one of its
 * runs [first payment, last payment + w) (payments less than w apart form
 * one run), so the count at t is the runs started by t minus the runs
 * ended by t (last payment <= t - w): two running counts.
 */
CREATE FUNCTION finsec._monitor_typ_fan(r finsec.monitor_rule, first_event bigint, last_event bigint, dir text)
RETURNS SETOF finsec.monitor_hit
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET IntervalStyle = iso_8601
SET TimeZone = 'UTC'
AS $$
DECLARE
	col text := finsec._monitor_typ_column(r);
	counted text := '%1$s.succeeded AND %1$s.direction = $4 AND %1$s.counterparty IS NOT NULL'
					' AND ($7 = ''any'' OR %1$s.customer_type = $7)';
BEGIN
	RETURN QUERY EXECUTE format($q$
	WITH %1$s,
	runs AS (
		SELECT h.*,
			   coalesce(lag(h.at) OVER cp <= h.at - $3, true) AS run_start,
			   coalesce(lead(h.at) OVER cp >= h.at + $3, true) AS run_end
		  FROM h
		WINDOW cp AS (PARTITION BY h.ent, h.counterparty ORDER BY h.at, h.event_id)),
	f AS (
		SELECT runs.*,
			   count(*) FILTER (WHERE runs.run_start) OVER upto
			   - coalesce(count(*) FILTER (WHERE runs.run_end) OVER ended, 0) AS cps,
			   count(*) OVER win AS cnt, coalesce(sum(runs.amount_cny) OVER win, 0) AS total,
			   count(*) FILTER (WHERE runs.event_id >= $1) OVER win AS fresh,
			   first_value(runs.at) OVER win AS since
		  FROM runs
		WINDOW win AS (PARTITION BY runs.ent ORDER BY runs.at
					   RANGE BETWEEN $3 - interval '1 microsecond' PRECEDING AND CURRENT ROW),
			   upto AS (PARTITION BY runs.ent ORDER BY runs.at
					   RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
			   ended AS (PARTITION BY runs.ent ORDER BY runs.at
					   RANGE BETWEEN UNBOUNDED PRECEDING AND $3 PRECEDING)),
	g AS (
		SELECT DISTINCT ON (f.ent, finsec._monitor_day(f.since)) f.*
		  FROM f WHERE f.fresh > 0 AND f.cps >= $5 AND f.total >= $6
		 ORDER BY f.ent, finsec._monitor_day(f.since), f.at DESC, f.event_id DESC)
	SELECT g.ent, to_char(finsec._monitor_day(g.since), 'YYYY-MM-DD'), g.at, %2$s,
		   g.total, g.cps::numeric,
		   jsonb_build_object('direction', $4, 'counterparties', g.cps, 'min_counterparties', $5,
							  'payments', g.cnt, 'sum_cny', g.total, 'min_amount_cny', $6,
							  'window', $3::text, 'first_at', g.since, 'last_at', g.at)
	  FROM g ORDER BY g.ent, g.at
	$q$, finsec._monitor_typ_stream(col, counted), finsec._monitor_typ_events(col, counted))
	USING first_event, last_event, coalesce(r.time_window, interval '24 hours'), dir,
		  (r.params->>'min_counterparties')::integer, (r.params->>'min_amount')::numeric,
		  coalesce(r.params->>'customer_type', 'any');
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_typ_fan(finsec.monitor_rule, bigint, bigint, text) FROM PUBLIC;

CREATE FUNCTION finsec._monitor_eval_fan_in(r finsec.monitor_rule, first_event bigint, last_event bigint)
RETURNS SETOF finsec.monitor_hit
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._monitor_typ_fan(r, first_event, last_event, 'in') $$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_fan_in(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

CREATE FUNCTION finsec._monitor_eval_fan_out(r finsec.monitor_rule, first_event bigint, last_event bigint)
RETURNS SETOF finsec.monitor_hit
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._monitor_typ_fan(r, first_event, last_event, 'out') $$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_fan_out(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

/*
 * dormant_reactivated: an event of the entity whose previous event is at
 * least dormancy (default 6 months) earlier reactivates it; a burst of at
 * least min_count payments or min_amount CNY from the reactivation within
 * the window (default 7 days) is a hit.  Activity is any event, succeeded
 * or not; the burst counts succeeded payments.  An entity without an
 * earlier event in the history is new, not dormant: the rule judges only
 * dormancy that began inside the history (docs/monitor.md).
 */
CREATE FUNCTION finsec._monitor_eval_dormant_reactivated(r finsec.monitor_rule, first_event bigint, last_event bigint)
RETURNS SETOF finsec.monitor_hit
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET IntervalStyle = iso_8601
SET TimeZone = 'UTC'
AS $$
DECLARE
	col text := finsec._monitor_typ_column(r);
	counted text := '($7 = ''any'' OR %1$s.customer_type = $7)';
BEGIN
	RETURN QUERY EXECUTE format($q$
	WITH %1$s,
	gaps AS (
		SELECT h.*, lag(h.at) OVER ord AS prev_at,
			   coalesce(lag(h.at) OVER ord <= h.at - $4, false) AS react
		  FROM h WINDOW ord AS (PARTITION BY h.ent ORDER BY h.at, h.event_id)),
	spells AS (
		SELECT gaps.*, count(*) FILTER (WHERE gaps.react) OVER ord AS spell
		  FROM gaps WINDOW ord AS (PARTITION BY gaps.ent ORDER BY gaps.at, gaps.event_id)),
	f AS (
		SELECT spells.*,
			   first_value(spells.at) OVER sp AS react_at,
			   first_value(spells.prev_at) OVER sp AS idle_since,
			   count(*) FILTER (WHERE spells.succeeded) OVER sp AS cnt,
			   coalesce(sum(spells.amount_cny) FILTER (WHERE spells.succeeded) OVER sp, 0) AS total,
			   count(*) FILTER (WHERE spells.event_id >= $1) OVER sp AS fresh
		  FROM spells
		 WINDOW sp AS (PARTITION BY spells.ent, spells.spell ORDER BY spells.at, spells.event_id
					   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),
	g AS (
		SELECT DISTINCT ON (f.ent, f.react_at) f.*
		  FROM f WHERE f.spell > 0 AND f.fresh > 0 AND f.at < f.react_at + $3
		   AND (f.cnt >= $5 OR f.total >= $6)
		 ORDER BY f.ent, f.react_at, f.at DESC, f.event_id DESC)
	SELECT g.ent, to_char(finsec._monitor_day(g.react_at), 'YYYY-MM-DD'), g.at, %2$s,
		   g.total, g.cnt::numeric,
		   jsonb_build_object('idle_since', g.idle_since, 'reactivated_at', g.react_at,
							  'idle', (g.react_at - g.idle_since)::text, 'dormancy', $4::text,
							  'payments', g.cnt, 'min_count', $5, 'sum_cny', g.total,
							  'min_amount_cny', $6, 'window', $3::text, 'last_at', g.at)
	  FROM g ORDER BY g.ent, g.at
	$q$, finsec._monitor_typ_stream(col, counted, predecessor => true),
		 finsec._monitor_typ_events(col, counted, since => 'y.at >= g.react_at'))
	USING first_event, last_event, coalesce(r.time_window, interval '7 days'),
		  (r.params->>'dormancy')::interval, (r.params->>'min_count')::integer,
		  (r.params->>'min_amount')::numeric, coalesce(r.params->>'customer_type', 'any');
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_dormant_reactivated(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

/*
 * night_burst: at least min_count payments, or min_amount CNY, of one
 * direction by one entity in the local night [night_start, night_end)
 * (finsec.monitor_timezone; a night may wrap midnight, e.g. 22:00-06:00)
 * within the window (default 6 hours), counted per night (the local date
 * of its start).
 */
CREATE FUNCTION finsec._monitor_eval_night_burst(r finsec.monitor_rule, first_event bigint, last_event bigint)
RETURNS SETOF finsec.monitor_hit
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET IntervalStyle = iso_8601
SET TimeZone = 'UTC'
AS $$
DECLARE
	col text := finsec._monitor_typ_column(r);
	counted text := '%1$s.succeeded AND %1$s.direction = ANY ($7) AND CASE WHEN $4 < $5'
					' THEN timezone($9, %1$s.at)::time >= $4 AND timezone($9, %1$s.at)::time < $5'
					' ELSE timezone($9, %1$s.at)::time >= $4 OR timezone($9, %1$s.at)::time < $5 END'
					' AND ($10 = ''any'' OR %1$s.customer_type = $10)';
	night_start time;
	night_end time;
BEGIN
	BEGIN
		night_start := (r.params->>'night_start')::time;
		night_end := (r.params->>'night_end')::time;
	EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
		night_start := NULL;
	END;
	IF night_start IS NULL OR night_end IS NULL OR night_start = night_end THEN
		RAISE EXCEPTION 'rule "%" has night hours "%" to "%"', r.rule_name,
			r.params->>'night_start', r.params->>'night_end'
			USING ERRCODE = 'S9M32',
				  HINT = 'night_start and night_end are local times HH:MM, different from each other.';
	END IF;
	RETURN QUERY EXECUTE format($q$
	WITH %1$s,
	f AS (
		SELECT h.*, count(*) OVER win AS cnt, coalesce(sum(h.amount_cny) OVER win, 0) AS total,
			   count(*) FILTER (WHERE h.event_id >= $1) OVER win AS fresh,
			   first_value(h.at) OVER win AS since
		  FROM (SELECT h.*, (timezone($9, h.at) - $4::interval)::date AS night FROM h) h
		WINDOW win AS (PARTITION BY h.ent, h.direction, h.night ORDER BY h.at
					   RANGE BETWEEN $3 - interval '1 microsecond' PRECEDING AND CURRENT ROW)),
	g AS (
		SELECT DISTINCT ON (f.ent, f.direction, f.night) f.*
		  FROM f WHERE f.fresh > 0 AND (f.cnt >= $6 OR f.total >= $8)
		 ORDER BY f.ent, f.direction, f.night, f.at DESC, f.event_id DESC)
	SELECT g.ent, to_char(g.night, 'YYYY-MM-DD'), g.at, %2$s,
		   g.total, g.cnt::numeric,
		   jsonb_build_object('direction', g.direction, 'night', g.night, 'night_start', $4::text,
							  'night_end', $5::text, 'payments', g.cnt, 'min_count', $6,
							  'sum_cny', g.total, 'min_amount_cny', $8, 'window', $3::text,
							  'first_at', g.since, 'last_at', g.at)
	  FROM g ORDER BY g.ent, g.direction, g.at
	$q$, finsec._monitor_typ_stream(col, counted),
		 finsec._monitor_typ_events(col, counted || ' AND %1$s.direction = g.direction', since => 'y.at >= g.since'))
	USING first_event, last_event, coalesce(r.time_window, interval '6 hours'),
		  night_start, night_end, (r.params->>'min_count')::integer,
		  finsec._monitor_typ_directions(r), (r.params->>'min_amount')::numeric,
		  coalesce(nullif(current_setting('finsec.monitor_timezone', true), ''), 'Asia/Shanghai'),
		  coalesce(r.params->>'customer_type', 'any');
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_night_burst(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

/* The kinds and their parameters (validated and defaulted by the core when a rule is stored). */
INSERT INTO finsec.monitor_rule_kind (kind, scope, entities, parameters, window_required, evaluator, description) VALUES
('structuring', 'payment', '{customer,account}', '{
  "threshold": {"type": "numeric", "required": false, "default": 50000, "min": 0, "description": "reporting threshold in CNY; payments at or above it are not structuring"},
  "margin": {"type": "numeric", "required": false, "default": 0.1, "min": 0, "max": 1, "description": "band below the threshold: payments in [threshold * (1 - margin), threshold) count"},
  "min_count": {"type": "integer", "required": false, "default": 3, "min": 2, "description": "payments in the band within the window, per direction"},
  "direction": {"type": "text", "required": false, "default": "any", "values": ["in", "out", "any"], "description": "in, out or any (each direction counted on its own)"},
  "customer_type": {"type": "text", "required": false, "default": "any", "values": ["natural", "legal", "any"], "description": "count only payments of natural persons, of legal persons (non-natural persons), or any"}
}', false, 'finsec._monitor_eval_structuring(finsec.monitor_rule,bigint,bigint)',
 'several payments just below a reporting threshold by one customer or account within a window (splitting to evade a large-value report)'),
('rapid_in_out', 'payment', '{customer,account}', '{
  "ratio": {"type": "numeric", "required": false, "default": 0.8, "min": 0, "description": "outflow at least this share of the inflow in the window"},
  "min_amount": {"type": "numeric", "required": false, "default": 100000, "min": 0, "description": "inflow in CNY within the window at least this"},
  "customer_type": {"type": "text", "required": false, "default": "any", "values": ["natural", "legal", "any"], "description": "count only payments of natural persons, of legal persons (non-natural persons), or any"}
}', false, 'finsec._monitor_eval_rapid_in_out(finsec.monitor_rule,bigint,bigint)',
 'most of the funds received leave again within hours (at an outgoing payment: outflow >= ratio * inflow in the window, inflow >= min_amount)'),
('fan_in', 'payment', '{account,customer}', '{
  "min_counterparties": {"type": "integer", "required": false, "default": 10, "min": 2, "description": "distinct counterparties paying in within the window"},
  "min_amount": {"type": "numeric", "required": false, "default": 0, "min": 0, "description": "their total in CNY at least this (0: any)"},
  "customer_type": {"type": "text", "required": false, "default": "any", "values": ["natural", "legal", "any"], "description": "count only payments of natural persons, of legal persons (non-natural persons), or any"}
}', false, 'finsec._monitor_eval_fan_in(finsec.monitor_rule,bigint,bigint)',
 'many distinct counterparties pay into one account or customer within a window (collection account)'),
('fan_out', 'payment', '{account,customer}', '{
  "min_counterparties": {"type": "integer", "required": false, "default": 10, "min": 2, "description": "distinct counterparties paid within the window"},
  "min_amount": {"type": "numeric", "required": false, "default": 0, "min": 0, "description": "their total in CNY at least this (0: any)"},
  "customer_type": {"type": "text", "required": false, "default": "any", "values": ["natural", "legal", "any"], "description": "count only payments of natural persons, of legal persons (non-natural persons), or any"}
}', false, 'finsec._monitor_eval_fan_out(finsec.monitor_rule,bigint,bigint)',
 'one account or customer pays many distinct counterparties within a window (dispersal)'),
('dormant_reactivated', 'payment', '{customer,account}', '{
  "dormancy": {"type": "interval", "required": false, "default": "6 months", "description": "no event for at least this long before the reactivating event"},
  "min_count": {"type": "integer", "required": false, "default": 3, "min": 1, "description": "succeeded payments from the reactivation within the window"},
  "min_amount": {"type": "numeric", "required": false, "default": 50000, "min": 0, "description": "or their total in CNY at least this"},
  "customer_type": {"type": "text", "required": false, "default": "any", "values": ["natural", "legal", "any"], "description": "count only payments of natural persons, of legal persons (non-natural persons), or any"}
}', false, 'finsec._monitor_eval_dormant_reactivated(finsec.monitor_rule,bigint,bigint)',
 'an account or customer idle for the dormancy period, then a burst of payments (judged only for dormancy that began inside the monitor''s history)'),
('night_burst', 'payment', '{customer,account}', '{
  "min_count": {"type": "integer", "required": false, "default": 5, "min": 1, "description": "payments of one direction in the local night within the window"},
  "min_amount": {"type": "numeric", "required": false, "default": 200000, "min": 0, "description": "or their total in CNY at least this"},
  "night_start": {"type": "text", "required": false, "default": "00:00", "description": "local time (finsec.monitor_timezone) the night begins, HH:MM"},
  "night_end": {"type": "text", "required": false, "default": "06:00", "description": "local time the night ends (exclusive), HH:MM"},
  "direction": {"type": "text", "required": false, "default": "any", "values": ["in", "out", "any"], "description": "in, out or any (each direction counted on its own)"},
  "customer_type": {"type": "text", "required": false, "default": "any", "values": ["natural", "legal", "any"], "description": "count only payments of natural persons, of legal persons (non-natural persons), or any"}
}', false, 'finsec._monitor_eval_night_burst(finsec.monitor_rule,bigint,bigint)',
 'a burst of payments by one customer or account in the local night');

/* One active default rule per kind, parameters written out. */
INSERT INTO finsec.monitor_rule (rule_name, version, kind, entity, time_window, params, category, severity,
								 state, description, created_by, approved_by, activated_at) VALUES
('typ.structuring', 1, 'structuring', 'customer', '24 hours',
 '{"threshold": 50000, "margin": 0.1, "min_count": 3, "direction": "any", "customer_type": "any"}', 'money_laundering', 'high',
 'active', '3 or more payments of 45,000-49,999.99 CNY in 24 hours, per direction (below the 50,000 CNY cash large-value threshold)',
 'finsec', 'finsec', pg_catalog.now()),
('typ.rapid_in_out', 1, 'rapid_in_out', 'customer', '24 hours',
 '{"ratio": 0.8, "min_amount": 100000, "customer_type": "any"}', 'money_laundering', 'high',
 'active', 'at least 80 % of an inflow of 100,000 CNY or more paid out again within 24 hours',
 'finsec', 'finsec', pg_catalog.now()),
('typ.fan_in', 1, 'fan_in', 'account', '24 hours',
 '{"min_counterparties": 10, "min_amount": 0, "customer_type": "any"}', 'telecom_fraud', 'medium',
 'active', '10 or more distinct payers into one account in 24 hours',
 'finsec', 'finsec', pg_catalog.now()),
('typ.fan_out', 1, 'fan_out', 'account', '24 hours',
 '{"min_counterparties": 10, "min_amount": 0, "customer_type": "any"}', 'money_laundering', 'medium',
 'active', 'one account paying 10 or more distinct payees in 24 hours',
 'finsec', 'finsec', pg_catalog.now()),
('typ.dormant_reactivated', 1, 'dormant_reactivated', 'customer', '7 days',
 '{"dormancy": "6 months", "min_count": 3, "min_amount": 50000, "customer_type": "any"}', 'telecom_fraud', 'medium',
 'active', 'no activity for 6 months, then 3 payments or 50,000 CNY within 7 days',
 'finsec', 'finsec', pg_catalog.now()),
('typ.night_burst', 1, 'night_burst', 'customer', '6 hours',
 '{"min_count": 5, "min_amount": 200000, "night_start": "00:00", "night_end": "06:00", "direction": "any", "customer_type": "any"}',
 'account_takeover', 'medium',
 'active', '5 payments or 200,000 CNY of one direction between 00:00 and 06:00 local time',
 'finsec', 'finsec', pg_catalog.now());

-- (end of section 3)

-- ---------------------------------------------------------------------
-- 4. Graph typologies: cycles and scatter-gather.
-- ---------------------------------------------------------------------

/*
 * The money graph (docs/monitor.md).  An event with a counterparty
 * is a directed edge between two nodes: the holder node is the event's
 * account when the table maps one, else its customer; the other node is
 * the counterparty (an account).  direction 'out' is holder -> counterparty,
 * 'in' is counterparty -> holder.  Only succeeded events with a CNY amount
 * are edges, and no edge joins a node to itself.  A payment recorded by
 * both parties (the payer's 'out' and the payee's 'in') gives two parallel
 * edges; the graph rules deduplicate what they find, so it is harmless.
 */

/* The edges added by the events first_event .. last_event (a batch). */
CREATE FUNCTION finsec._monitor_graph_edges(first_event bigint, last_event bigint, min_amount numeric)
RETURNS TABLE (event_id bigint, src text, dst text, at timestamptz, amount numeric)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT e.event_id,
		   CASE WHEN e.direction = 'out' THEN coalesce(e.account, e.customer) ELSE e.counterparty END,
		   CASE WHEN e.direction = 'out' THEN e.counterparty ELSE coalesce(e.account, e.customer) END,
		   e.at, e.amount_cny
	  FROM finsec.monitor_event e
	 WHERE e.event_id BETWEEN first_event AND last_event
	   AND e.counterparty IS NOT NULL
	   AND e.succeeded
	   AND e.amount_cny >= min_amount
	   AND e.counterparty <> coalesce(e.account, e.customer)
$$;
REVOKE ALL ON FUNCTION finsec._monitor_graph_edges(bigint, bigint, numeric) FROM PUBLIC;

/*
 * A path of the bounded search: started by edge `seed` (a new edge of the
 * batch, or a candidate of scatter-gather), now at `node` after `depth`
 * hops, the last edge at `at` of `amount`; the search moves only inside
 * the open time range (lo, hi); a path that reaches `stop` ends there.
 * nodes/events/ats/amounts list the path in time order.
 */
CREATE TYPE finsec._monitor_graph_path AS (
	seed bigint,
	stop text,
	node text,
	depth integer,
	lo timestamptz,
	hi timestamptz,
	at timestamptz,
	amount numeric,
	nodes text[],
	events bigint[],
	ats timestamptz[],
	amounts numeric[]
);

/*
 * One level of the breadth-first search: every path of `frontier`
 * extended by one edge, forward in time (an edge out of the node, later
 * than the path's last edge, before hi, appended) or backward (an edge
 * into the node, earlier than the path's first edge, after lo,
 * prepended).  Simple paths only (no node twice); each hop keeps at least
 * `keep` of the amount of the hop before it (in time order); edges of at
 * least min_amount; history only up to last_event.  At most max_paths new
 * paths per seed, the nearest in time first (ties by event_id, so the
 * result is deterministic).  Every edge is read through the indexes
 * (account, at), (customer, at) and (counterparty, at) of
 * finsec.monitor_event, one index range per path.
 */
CREATE FUNCTION finsec._monitor_graph_step(frontier finsec._monitor_graph_path[], forward boolean,
										   keep numeric, min_amount numeric, max_paths integer,
										   last_event bigint)
RETURNS finsec._monitor_graph_path[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(array_agg(s.p ORDER BY s.seed, s.rn), '{}')
	  FROM (SELECT f.seed,
				   ROW(f.seed, f.stop, x.other, f.depth + 1, f.lo, f.hi, x.at, x.amount,
					   CASE WHEN forward THEN f.nodes || x.other ELSE x.other || f.nodes END,
					   CASE WHEN forward THEN f.events || x.event_id ELSE x.event_id || f.events END,
					   CASE WHEN forward THEN f.ats || x.at ELSE x.at || f.ats END,
					   CASE WHEN forward THEN f.amounts || x.amount ELSE x.amount || f.amounts END
				   )::finsec._monitor_graph_path AS p,
				   row_number() OVER (PARTITION BY f.seed
									  ORDER BY CASE WHEN forward THEN x.at - f.at ELSE f.at - x.at END,
											   x.event_id) AS rn
			  FROM unnest(frontier) f
			 CROSS JOIN LATERAL (
					SELECT e.event_id, e.counterparty AS other, e.at, e.amount_cny AS amount
					  FROM finsec.monitor_event e
					 WHERE e.account = f.node
					   AND e.direction = CASE WHEN forward THEN 'out' ELSE 'in' END
					   AND e.at > CASE WHEN forward THEN f.at ELSE f.lo END
					   AND e.at < CASE WHEN forward THEN f.hi ELSE f.at END
					   AND e.event_id <= last_event AND e.succeeded
					   AND e.counterparty IS NOT NULL AND e.counterparty <> e.account
					   AND e.amount_cny >= min_amount
					UNION ALL
					SELECT e.event_id, e.counterparty, e.at, e.amount_cny
					  FROM finsec.monitor_event e
					 WHERE e.customer = f.node AND e.account IS NULL
					   AND e.direction = CASE WHEN forward THEN 'out' ELSE 'in' END
					   AND e.at > CASE WHEN forward THEN f.at ELSE f.lo END
					   AND e.at < CASE WHEN forward THEN f.hi ELSE f.at END
					   AND e.event_id <= last_event AND e.succeeded
					   AND e.counterparty IS NOT NULL AND e.counterparty <> e.customer
					   AND e.amount_cny >= min_amount
					UNION ALL
					SELECT e.event_id, coalesce(e.account, e.customer), e.at, e.amount_cny
					  FROM finsec.monitor_event e
					 WHERE e.counterparty = f.node
					   AND e.direction = CASE WHEN forward THEN 'in' ELSE 'out' END
					   AND e.at > CASE WHEN forward THEN f.at ELSE f.lo END
					   AND e.at < CASE WHEN forward THEN f.hi ELSE f.at END
					   AND e.event_id <= last_event AND e.succeeded
					   AND e.counterparty <> coalesce(e.account, e.customer)
					   AND e.amount_cny >= min_amount
				) x
			 WHERE (f.stop IS NULL OR f.node <> f.stop)
			   AND x.other <> ALL (f.nodes)
			   AND (f.amount IS NULL
					OR CASE WHEN forward THEN x.amount >= keep * f.amount
							ELSE f.amount >= keep * x.amount END)) s
	 WHERE s.rn <= max_paths
$$;
REVOKE ALL ON FUNCTION finsec._monitor_graph_step(finsec._monitor_graph_path[], boolean, numeric, numeric, integer, bigint) FROM PUBLIC;

/*
 * cycle: funds that go round, A -> B -> ... -> A, every hop later than
 * the one before, the whole cycle inside the window, min_depth .. max_depth
 * hops.  For every new edge u -> v of the batch: a forward search from v
 * (later edges) and a backward search from u (earlier edges), each at most
 * max_depth - 1 levels of at most max_paths paths per edge, then the two
 * halves joined where they meet.  So a cycle is found whichever of its
 * edges is the last to be processed, also when the edges of a cycle are
 * committed out of time order.  The entity is the cycle's origin: the
 * node the earliest hop leaves and the latest hop returns to.  It does not
 * depend on the edge that found the cycle, so one cycle found from
 * several of its edges (or recorded by both parties of each payment) is
 * one hit, one alert.  Several cycles of one origin on one local day are
 * one hit (the shortest cycle's path in detail, all their events).
 */
CREATE FUNCTION finsec._monitor_eval_cycle(r finsec.monitor_rule, first_event bigint, last_event bigint)
RETURNS SETOF finsec.monitor_hit
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w interval := r.time_window;
	min_depth integer := (r.params->>'min_depth')::integer;
	max_depth integer := (r.params->>'max_depth')::integer;
	max_decay numeric := (r.params->>'max_decay')::numeric;
	min_amount numeric := (r.params->>'min_amount')::numeric;
	max_paths integer := (r.params->>'max_paths')::integer;
	fwd finsec._monitor_graph_path[];
	bwd finsec._monitor_graph_path[];
	fwd_all finsec._monitor_graph_path[];
	bwd_all finsec._monitor_graph_path[];
BEGIN
	IF first_event IS NULL OR last_event IS NULL OR w IS NULL THEN
		RETURN;
	END IF;
	IF min_depth > max_depth THEN
		RAISE EXCEPTION 'rule % has min_depth % above max_depth %', r.rule_name, min_depth, max_depth
			USING ERRCODE = 'S9M40',
				  HINT = 'Store a version of the rule with min_depth <= max_depth.';
	END IF;

	/* depth 0: the new edges themselves */
	SELECT coalesce(array_agg(ROW(g.event_id, g.src, g.dst, 0, g.at - w, g.at + w, g.at, g.amount,
								  ARRAY[g.dst], '{}'::bigint[], '{}'::timestamptz[], '{}'::numeric[]
								 )::finsec._monitor_graph_path ORDER BY g.event_id), '{}'),
		   coalesce(array_agg(ROW(g.event_id, g.dst, g.src, 0, g.at - w, g.at + w, g.at, g.amount,
								  ARRAY[g.src], '{}'::bigint[], '{}'::timestamptz[], '{}'::numeric[]
								 )::finsec._monitor_graph_path ORDER BY g.event_id), '{}')
	  INTO fwd, bwd
	  FROM finsec._monitor_graph_edges(first_event, last_event, min_amount) g;
	fwd_all := fwd;
	bwd_all := bwd;

	FOR lvl IN 1 .. max_depth - 1 LOOP
		EXIT WHEN cardinality(fwd) = 0;
		fwd := finsec._monitor_graph_step(fwd, true, 1 - max_decay, min_amount, max_paths, last_event);
		fwd_all := fwd_all || fwd;
	END LOOP;
	FOR lvl IN 1 .. max_depth - 1 LOOP
		EXIT WHEN cardinality(bwd) = 0;
		bwd := finsec._monitor_graph_step(bwd, false, 1 - max_decay, min_amount, max_paths, last_event);
		bwd_all := bwd_all || bwd;
	END LOOP;

	RETURN QUERY
	WITH seed AS (
		SELECT f.seed, f.at, f.amount FROM unnest(fwd_all) f WHERE f.depth = 0
	), cyc AS (
		/* b: X .. u (earlier hops), the seed u -> v, f: v .. X (later hops) */
		SELECT DISTINCT ON (k.key)
			   b.nodes[1] AS origin, f.at AS hit_at, f.depth + b.depth + 1 AS depth,
			   b.nodes || f.nodes AS nodes,
			   b.events || s.seed || f.events AS events,
			   b.ats || s.at || f.ats AS ats,
			   b.amounts || s.amount || f.amounts AS amounts,
			   k.key
		  FROM unnest(fwd_all) f
		  JOIN unnest(bwd_all) b ON b.seed = f.seed AND b.node = f.node
		  JOIN seed s ON s.seed = f.seed
		 CROSS JOIN LATERAL (SELECT array_agg(x ORDER BY x) AS key
							   FROM unnest(b.events || s.seed || f.events) x) k
		 WHERE f.depth + b.depth + 1 BETWEEN min_depth AND max_depth
		   AND f.at - b.at < w
		   AND NOT (f.nodes[1:f.depth] && b.nodes)
		 ORDER BY k.key
	), best AS (
		SELECT DISTINCT ON (c.origin, finsec._monitor_period(c.hit_at))
			   c.*, finsec._monitor_period(c.hit_at) AS day
		  FROM cyc c
		 ORDER BY c.origin, finsec._monitor_period(c.hit_at), c.depth, c.hit_at DESC, c.key
	)
	SELECT b.origin, b.day::text,
		   (SELECT max(c.hit_at) FROM cyc c WHERE c.origin = b.origin AND finsec._monitor_period(c.hit_at) = b.day),
		   (SELECT array_agg(DISTINCT x ORDER BY x) FROM (
				SELECT x FROM cyc c, unnest(c.events) x
				 WHERE c.origin = b.origin AND finsec._monitor_period(c.hit_at) = b.day
				 ORDER BY x LIMIT 1000) y),
		   b.amounts[1],
		   b.depth::numeric,
		   jsonb_build_object(
			   'cycles', (SELECT count(*) FROM cyc c WHERE c.origin = b.origin AND finsec._monitor_period(c.hit_at) = b.day),
			   'depth', b.depth,
			   'span', (b.ats[b.depth] - b.ats[1])::text,
			   'path', (SELECT jsonb_agg(jsonb_build_object('from', b.nodes[i], 'to', b.nodes[i + 1],
														   'at', b.ats[i], 'amount', b.amounts[i],
														   'event_id', b.events[i]) ORDER BY i)
						  FROM generate_series(1, b.depth) i),
			   'window', w::text, 'min_depth', min_depth, 'max_depth', max_depth,
			   'max_decay', max_decay, 'min_amount', min_amount)
	  FROM best b
	 ORDER BY b.origin, b.day;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_cycle(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

/*
 * scatter_gather: a source S sends to at least min_intermediates distinct
 * intermediates I, each of which forwards to one sink K (S <> K), every
 * forward later than the receipt it follows and keeping at least
 * (1 - max_decay) of it, all inside one window ending at the latest
 * forward.  The new edges give the candidate pairs (S, K): a new edge
 * I -> K with the earlier edges S -> I into it, a new edge S -> I with the
 * later edges I -> K out of it (at most max_paths per new edge each).
 * Then the edges into each candidate sink (at most max_paths, from a
 * window before its earliest candidate to a window after its latest);
 * only sinks with at least min_intermediates senders go on, and only for
 * them the edges out of the sources; the two joined on I.  Entity: the source
 * (where the funds enter the pattern); one hit per source and local day.
 */
CREATE FUNCTION finsec._monitor_eval_scatter_gather(r finsec.monitor_rule, first_event bigint, last_event bigint)
RETURNS SETOF finsec.monitor_hit
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w interval := r.time_window;
	n integer := (r.params->>'min_intermediates')::integer;
	keep numeric := 1 - (r.params->>'max_decay')::numeric;
	min_amount numeric := (r.params->>'min_amount')::numeric;
	max_paths integer := (r.params->>'max_paths')::integer;
	gather finsec._monitor_graph_path[];
	scatter finsec._monitor_graph_path[];
	souts finsec._monitor_graph_path[];
	kins finsec._monitor_graph_path[];
	t_lo timestamptz[];
	t_hi timestamptz[];
	cand_s text[];
	cand_k text[];
	sinks text[];
BEGIN
	IF first_event IS NULL OR last_event IS NULL OR w IS NULL THEN
		RETURN;
	END IF;

	/* new edge as the forward I -> K: the receipts S -> I before it */
	SELECT finsec._monitor_graph_step(coalesce(array_agg(ROW(g.event_id, NULL, g.src, 0, g.at - w, g.at, g.at, NULL,
									ARRAY[g.src, g.dst], '{}'::bigint[], '{}'::timestamptz[], '{}'::numeric[]
								   )::finsec._monitor_graph_path ORDER BY g.event_id), '{}'),
									  false, 1, min_amount, max_paths, last_event),
	/* new edge as the receipt S -> I: the forwards I -> K after it */
		   finsec._monitor_graph_step(coalesce(array_agg(ROW(g.event_id, NULL, g.dst, 0, g.at, g.at + w, g.at, NULL,
									ARRAY[g.src, g.dst], '{}'::bigint[], '{}'::timestamptz[], '{}'::numeric[]
								   )::finsec._monitor_graph_path ORDER BY g.event_id), '{}'),
									  true, 1, min_amount, max_paths, last_event)
	  INTO gather, scatter
	  FROM finsec._monitor_graph_edges(first_event, last_event, min_amount) g;

	/*
	 * The candidates (S, K) with the times of the new edges that named
	 * them (the id of a candidate indexes cand_s, cand_k, t_lo, t_hi).
	 */
	SELECT coalesce(array_agg(c.s ORDER BY c.s, c.k), '{}'), coalesce(array_agg(c.k ORDER BY c.s, c.k), '{}'),
		   coalesce(array_agg(c.t_lo ORDER BY c.s, c.k), '{}'), coalesce(array_agg(c.t_hi ORDER BY c.s, c.k), '{}')
	  INTO cand_s, cand_k, t_lo, t_hi
	  FROM (SELECT c.s, c.k, min(c.t) AS t_lo, max(c.t) AS t_hi
			  FROM (SELECT p.nodes[1] AS s, p.nodes[3] AS k, p.hi AS t FROM unnest(gather) p
					UNION ALL
					SELECT p.nodes[1], p.nodes[3], p.lo FROM unnest(scatter) p) c
			 WHERE c.s <> c.k
			 GROUP BY c.s, c.k) c;

	/*
	 * The edges into each sink K, from a window before its earliest
	 * candidate to a window after its latest (seed: the sink's number in
	 * sinks); only sinks with at least n distinct senders go on.
	 */
	SELECT coalesce(array_agg(x.k ORDER BY x.k), '{}'),
		   coalesce(array_agg(ROW(x.id, NULL, x.k, 0, x.lo, x.hi, x.hi, NULL, ARRAY[x.k],
								  '{}'::bigint[], '{}'::timestamptz[], '{}'::numeric[])::finsec._monitor_graph_path
							  ORDER BY x.k), '{}')
	  INTO sinks, kins
	  FROM (SELECT row_number() OVER (ORDER BY c.k) AS id, c.k, min(c.t_lo) - w AS lo, max(c.t_hi) + w AS hi
			  FROM unnest(cand_k, t_lo, t_hi) c(k, t_lo, t_hi) GROUP BY c.k) x;
	kins := finsec._monitor_graph_step(kins, false, 1, min_amount, max_paths, last_event);
	SELECT coalesce(array_agg(sinks[k.seed] ORDER BY k.seed), '{}') INTO sinks
	  FROM (SELECT k.seed FROM unnest(kins) k GROUP BY k.seed HAVING count(DISTINCT k.node) >= n) k;

	/* the edges out of each source of a candidate whose sink went on */
	SELECT coalesce(array_agg(ROW(x.id, NULL, x.s, 0, x.lo, x.hi, x.lo, NULL, ARRAY[x.s],
								  '{}'::bigint[], '{}'::timestamptz[], '{}'::numeric[])::finsec._monitor_graph_path
							  ORDER BY x.s), '{}')
	  INTO souts
	  FROM (SELECT row_number() OVER (ORDER BY c.s) AS id, c.s, min(c.t_lo) - w AS lo, max(c.t_hi) + w AS hi
			  FROM unnest(cand_s, cand_k, t_lo, t_hi) c(s, k, t_lo, t_hi)
			 WHERE c.k = ANY (sinks) GROUP BY c.s) x;
	souts := finsec._monitor_graph_step(souts, true, 1, min_amount, max_paths, last_event);

	RETURN QUERY
	WITH cand AS (
		SELECT c.id AS seed, c.s, c.k FROM unnest(cand_s, cand_k) WITH ORDINALITY c(s, k, id)
		 WHERE c.k = ANY (sinks)
	), pair AS (
		/* S -> I then I -> K, in order and keeping enough */
		SELECT c.seed, c.s AS src, c.k AS sink, so.node AS mid,
			   so.events[1] AS ev_in, so.at AS at_in, so.amount AS amount_in,
			   ki.events[1] AS ev_out, ki.at AS at_out
		  FROM cand c
		  JOIN unnest(souts) so ON so.nodes[1] = c.s
		  JOIN unnest(kins) ki ON ki.nodes[2] = c.k AND ki.node = so.node
		 WHERE so.node <> c.k AND ki.node <> c.s
		   AND so.at < ki.at
		   AND ki.amount >= keep * so.amount
	), viable AS (
		/* candidates with enough intermediates at all */
		SELECT p.seed FROM pair p GROUP BY p.seed HAVING count(DISTINCT p.mid) >= n
	), anchor AS (
		/* windows (T - w, T] ending at a forward, holding a new edge's time */
		SELECT DISTINCT p.seed, p.src, p.sink, p.at_out AS t
		  FROM pair p JOIN viable v USING (seed)
		 WHERE p.at_out >= t_lo[p.seed] AND p.at_out - w < t_hi[p.seed]
	), found AS (
		SELECT a.seed, a.src, a.sink, a.t, count(DISTINCT q.mid) AS mids, max(q.at_out) AS hit_at,
			   array_agg(DISTINCT q.mid ORDER BY q.mid) AS mid_list
		  FROM anchor a
		  JOIN pair q ON q.seed = a.seed AND q.at_in > a.t - w AND q.at_out <= a.t
		 GROUP BY a.seed, a.src, a.sink, a.t
		HAVING count(DISTINCT q.mid) >= n
	), best AS (
		SELECT DISTINCT ON (f.src, finsec._monitor_period(f.hit_at)) f.*, finsec._monitor_period(f.hit_at) AS day
		  FROM found f
		 ORDER BY f.src, finsec._monitor_period(f.hit_at), f.mids DESC, f.hit_at DESC, f.sink, f.t
	)
	SELECT b.src, b.day::text, b.hit_at,
		   (SELECT (array_agg(DISTINCT x ORDER BY x))[1:1000]
			  FROM (SELECT q.ev_in FROM pair q WHERE q.seed = b.seed AND q.at_in > b.t - w AND q.at_out <= b.t
					UNION SELECT q.ev_out FROM pair q WHERE q.seed = b.seed AND q.at_in > b.t - w AND q.at_out <= b.t) y(x)),
		   (SELECT sum(d.amount_in)
			  FROM (SELECT DISTINCT q.ev_in, q.amount_in FROM pair q
					 WHERE q.seed = b.seed AND q.at_in > b.t - w AND q.at_out <= b.t) d),
		   b.mids::numeric,
		   jsonb_build_object('sink', b.sink, 'intermediates', b.mids,
							  'intermediate_list', to_jsonb(b.mid_list[1:50]),
							  'window', w::text, 'min_intermediates', n,
							  'max_decay', 1 - keep, 'min_amount', min_amount)
	  FROM best b
	 ORDER BY b.src, b.day;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_scatter_gather(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

INSERT INTO finsec.monitor_rule_kind (kind, scope, entities, parameters, window_required, evaluator, description) VALUES
	('cycle', 'payment', '{account}',
	 '{"min_depth":  {"type": "integer", "required": false, "default": 3, "min": 2, "max": 10,
					  "description": "fewest hops of a cycle (A -> B -> A is 2)"},
	   "max_depth":  {"type": "integer", "required": false, "default": 6, "min": 2, "max": 10,
					  "description": "most hops of a cycle"},
	   "max_decay":  {"type": "numeric", "required": false, "default": 0.5, "min": 0, "max": 1,
					  "description": "each hop keeps at least (1 - max_decay) of the amount of the hop before it; 1 disables the check"},
	   "min_amount": {"type": "numeric", "required": false, "default": 0, "min": 0,
					  "description": "least amount in CNY of every hop"},
	   "max_paths":  {"type": "integer", "required": false, "default": 50, "min": 1, "max": 10000,
					  "description": "bound of the search: at most this many paths per new edge, direction and level"}}',
	 true, 'finsec._monitor_eval_cycle(finsec.monitor_rule, bigint, bigint)'::regprocedure,
	 'funds going round A -> B -> ... -> A, every hop later than the one before, the whole cycle inside the window (AMLSim / AMLworld cycle); entity: the origin of the cycle'),
	('scatter_gather', 'payment', '{account}',
	 '{"min_intermediates": {"type": "integer", "required": false, "default": 5, "min": 2, "max": 1000,
							 "description": "fewest distinct intermediates between the source and the sink"},
	   "max_decay":  {"type": "numeric", "required": false, "default": 0.5, "min": 0, "max": 1,
					  "description": "each forward to the sink keeps at least (1 - max_decay) of what the intermediate received"},
	   "min_amount": {"type": "numeric", "required": false, "default": 0, "min": 0,
					  "description": "least amount in CNY of every edge"},
	   "max_paths":  {"type": "integer", "required": false, "default": 1000, "min": 1, "max": 100000,
					  "description": "bound of the search: at most this many edges per new edge and per candidate side"}}',
	 true, 'finsec._monitor_eval_scatter_gather(finsec.monitor_rule, bigint, bigint)'::regprocedure,
	 'a source sends to many intermediates which each forward to one sink within the window (AMLSim / AMLworld scatter-gather); entity: the source');

INSERT INTO finsec.monitor_rule (rule_name, version, kind, entity, time_window, params, category, severity,
								 shadow, action, state, description, created_by, approved_by, activated_at) VALUES
	('aml.cycle', 1, 'cycle', 'account', interval '72 hours',
	 '{"min_depth": 3, "max_depth": 6, "max_decay": 0.5, "min_amount": 10000, "max_paths": 50}',
	 'money_laundering', 'high', false, 'alert', 'active',
	 'funds of at least 10,000 CNY a hop going round three to six accounts and back within 72 hours, each hop keeping half of the one before (JR/T 0199 5.3.2 b); layering, AMLSim cycle)',
	 'finsec', 'finsec', pg_catalog.now()),
	('aml.scatter_gather', 1, 'scatter_gather', 'account', interval '72 hours',
	 '{"min_intermediates": 5, "max_decay": 0.5, "min_amount": 10000, "max_paths": 1000}',
	 'money_laundering', 'high', false, 'alert', 'active',
	 'one source paying at least five intermediates that each forward at least half of it to one sink within 72 hours, every edge at least 10,000 CNY (JR/T 0199 5.3.2 b); layering, AMLSim scatter-gather)',
	 'finsec', 'finsec', pg_catalog.now());


-- (end of section 4)

-- ---------------------------------------------------------------------
-- 5. Service quality, capacity and replication rules (scope 'system').
-- ---------------------------------------------------------------------

/*
 * Service quality, capacity and replication (W2, W3, W5, W6, W7; clauses
 * 003 6.3.1, 003 6.4.2.8.2, 001 6d, 001 7.4h-i, 003 6.4.1.3.5, 003
 * 6.4.2.4.3, 002 3.2.5; docs/monitor.md).  Each condition is a rule
 * kind of the catalog; every breach is a hit that the core turns into a
 * deduplicated alert.  One measuring function per kind,
 * finsec._monitor_svc_<kind>(rule), returns what it measured (entity,
 * value, threshold, breached, detail) WITHOUT writing anything, so that
 * finsec.monitor_service_status() shows the same numbers the evaluators
 * raise on; the evaluators keep the breached rows.
 */
INSERT INTO finsec.risk_category VALUES
	('service_quality', 'compliance', '003 6.3.1; 003 6.4.2.8.2; 001 6d; 001 7.4h-i; 003 6.4.2.4.3; 002 3.2.5',
	 '服务质量与容量: service below its lowest acceptable level, capacity nearing its limit, disaster-recovery replication behind its RPO');

/* The local hour of an instant ('YYYY-MM-DD"T"HH24' in finsec.monitor_timezone): the dedup period of rate rules. */
CREATE FUNCTION finsec._monitor_hour(at timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT to_char(at AT TIME ZONE coalesce(nullif(current_setting('finsec.monitor_timezone', true), ''), 'Asia/Shanghai'), 'YYYY-MM-DD"T"HH24') $$;
REVOKE ALL ON FUNCTION finsec._monitor_hour(timestamptz) FROM PUBLIC;

/*
 * The counters of pg_stat_database a commit_ratio rule measured last
 * (one row per rule): the next evaluation measures the interval since.
 * Transient measuring state, not dumped.
 */
CREATE TABLE finsec.monitor_service_counter (
	rule_name text PRIMARY KEY,
	xact_commit bigint NOT NULL,
	xact_rollback bigint NOT NULL,
	stats_reset timestamptz,
	measured_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE finsec.monitor_service_counter IS
	'pg_stat_database commit and rollback counters as a commit_ratio rule last measured them (the next evaluation measures the interval since)';
REVOKE ALL ON finsec.monitor_service_counter FROM PUBLIC;
GRANT SELECT ON finsec.monitor_service_counter TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * The RPO of a disaster-recovery level (seed 001, appendix, table 2: level
 * 3 <= 24 h, 4 <= 1 h, 5 ~ 0, 6 = 0).  Levels 1 and 2 are not in that
 * table; GB/T 20988-2007 (its reference [3]) gives them 1 to 7 days: the
 * upper bound is taken.  "~0" and "0" cannot be measured as a replay lag
 * of exactly zero; they take near_zero.
 */
CREATE FUNCTION finsec._monitor_dr_rpo(dr_level integer, near_zero interval)
RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE dr_level
		WHEN 1 THEN interval '7 days' WHEN 2 THEN interval '7 days'
		WHEN 3 THEN interval '24 hours' WHEN 4 THEN interval '1 hour'
		WHEN 5 THEN near_zero WHEN 6 THEN near_zero END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_dr_rpo(integer, interval) FROM PUBLIC;

/*
 * What a service rule measures now: the entity, the measured value and
 * its threshold (shares 0-1, bytes, seconds), whether it is breached, when,
 * the events concerned (success_rate) and a small detail.
 */
CREATE TYPE finsec.monitor_measure AS (
	entity text,
	value numeric,
	threshold numeric,
	breached boolean,
	at timestamptz,
	events bigint[],
	detail jsonb
);

/*
 * Per-minute success counts of the event history, one row per (table,
 * batch, local minute), filled by a statement trigger on
 * finsec.monitor_event: a success rate over an hour reads about one row
 * per batch of the hour instead of every payment of it.  last_event (the
 * greatest event_id counted) keeps a backtest's view: a window judged at
 * event e only counts rows with last_event <= e.  Derived data, not
 * dumped: pg_restore rebuilds it as it loads the events; kept, like the events, when a table stops being monitored.
 */
CREATE TABLE finsec.monitor_event_minute (
	table_id integer NOT NULL,
	batch_id bigint NOT NULL,
	minute timestamptz NOT NULL,
	payments integer NOT NULL,
	failed integer NOT NULL,
	last_event bigint NOT NULL,
	PRIMARY KEY (table_id, batch_id, minute)
);
CREATE INDEX monitor_event_minute_minute ON finsec.monitor_event_minute (minute);
COMMENT ON TABLE finsec.monitor_event_minute IS
	'payments and failed payments of the event history per table, batch and minute (success_rate reads it)';
REVOKE ALL ON finsec.monitor_event_minute FROM PUBLIC;
GRANT SELECT ON finsec.monitor_event_minute TO finsec_admin, finsec_auditor, finsec_operator;
/* Failed payments by time: the events a success_rate hit lists. */
CREATE INDEX monitor_event_failed_at ON finsec.monitor_event (at) WHERE NOT succeeded;

CREATE FUNCTION finsec._monitor_event_minute()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO finsec.monitor_event_minute AS m (table_id, batch_id, minute, payments, failed, last_event)
	SELECT n.table_id, n.batch_id, date_trunc('minute', n.at), count(*), count(*) FILTER (WHERE NOT n.succeeded), max(n.event_id)
	  FROM new_events n
	 GROUP BY 1, 2, 3
	ON CONFLICT (table_id, batch_id, minute) DO UPDATE
	   SET payments = m.payments + excluded.payments, failed = m.failed + excluded.failed,
		   last_event = greatest(m.last_event, excluded.last_event);
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_event_minute() FROM PUBLIC;
CREATE TRIGGER monitor_event_minute AFTER INSERT ON finsec.monitor_event
	REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION finsec._monitor_event_minute();

/*
 * Events pruned (finsec.monitor_event_retention removes the oldest): the
 * minutes before the oldest event left go too.
 */
CREATE FUNCTION finsec._monitor_event_minute_prune()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM finsec.monitor_event_minute m
	 WHERE m.minute < coalesce(date_trunc('minute', (SELECT min(e.at) FROM finsec.monitor_event e)), 'infinity');
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_event_minute_prune() FROM PUBLIC;
CREATE TRIGGER monitor_event_minute_prune AFTER DELETE ON finsec.monitor_event
	FOR EACH STATEMENT EXECUTE FUNCTION finsec._monitor_event_minute_prune();

/*
 * success_rate: succeeded payments / payments over the window ending at
 * end_at, in whole minutes (the minutes from end_at's minute back over the
 * window), among events up to until_event (all tables, or one), from
 * finsec.monitor_event_minute.  The failed events are returned (at most
 * 1000, the latest) when the rate is below the minimum.
 */
CREATE FUNCTION finsec._monitor_svc_success_window(
	r finsec.monitor_rule, tab integer, until_event bigint, end_at timestamptz)
RETURNS SETOF finsec.monitor_measure
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH c AS (
		SELECT coalesce(sum(m.payments), 0) AS payments, coalesce(sum(m.payments - m.failed), 0) AS ok
		  FROM finsec.monitor_event_minute m
		 WHERE m.minute > date_trunc('minute', end_at) - r.time_window
		   AND m.minute <= date_trunc('minute', end_at)
		   AND m.last_event <= until_event
		   AND (tab IS NULL OR m.table_id = tab)
	), j AS (
		SELECT c.*, c.payments >= (r.params->>'min_payments')::integer
					AND c.ok::numeric / c.payments < (r.params->>'min_rate')::numeric AS breached
		  FROM c
	)
	SELECT CASE WHEN tab IS NULL THEN current_database()::text
				ELSE (SELECT t.relid::text FROM finsec.monitor_table t WHERE t.table_id = tab) END,
		   CASE WHEN j.payments > 0 THEN round(j.ok::numeric / j.payments, 6) END,
		   (r.params->>'min_rate')::numeric,
		   j.breached,
		   end_at,
		   CASE WHEN j.breached THEN ARRAY(
				SELECT e.event_id FROM finsec.monitor_event e
				 WHERE NOT e.succeeded
				   AND e.at >= date_trunc('minute', end_at) - r.time_window + interval '1 minute'
				   AND e.at < date_trunc('minute', end_at) + interval '1 minute'
				   AND e.event_id <= until_event AND (tab IS NULL OR e.table_id = tab)
				 ORDER BY e.at DESC, e.event_id DESC LIMIT 1000) END,
		   jsonb_build_object('payments', j.payments, 'succeeded', j.ok, 'failed', j.payments - j.ok,
							  'min_rate', (r.params->>'min_rate')::numeric,
							  'min_payments', (r.params->>'min_payments')::integer,
							  'window', r.time_window::text)
	  FROM j
$$;
REVOKE ALL ON FUNCTION finsec._monitor_svc_success_window(finsec.monitor_rule, integer, bigint, timestamptz) FROM PUBLIC;

/* success_rate now: the window ending at the latest event (status). */
CREATE FUNCTION finsec._monitor_svc_success_rate(r finsec.monitor_rule)
RETURNS SETOF finsec.monitor_measure
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT m.*
	  FROM (SELECT NULL::integer AS table_id WHERE r.entity = 'database'
			UNION ALL
			SELECT t.table_id FROM finsec.monitor_table t WHERE r.entity = 'table') s,
		   LATERAL (SELECT e.event_id, e.at FROM finsec.monitor_event e
					 WHERE s.table_id IS NULL OR e.table_id = s.table_id
					 ORDER BY e.at DESC LIMIT 1) l,
		   LATERAL finsec._monitor_svc_success_window(r, s.table_id,
				(SELECT max(e.event_id) FROM finsec.monitor_event e), l.at) m
$$;
REVOKE ALL ON FUNCTION finsec._monitor_svc_success_rate(finsec.monitor_rule) FROM PUBLIC;

/*
 * success_rate evaluator (scope 'payment', deterministic): for every table
 * (entity 'table') or the database (entity 'database') the batch's events
 * touch, the window ending at the latest new event.
 */
CREATE FUNCTION finsec._monitor_eval_success_rate(r finsec.monitor_rule, first_event bigint, last_event bigint)
RETURNS SETOF finsec.monitor_hit
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT m.entity, finsec._monitor_hour(m.at), m.at, m.events, NULL::numeric, m.value, m.detail
	  FROM (SELECT CASE WHEN r.entity = 'table' THEN e.table_id END AS tab, max(e.at) AS end_at
			  FROM finsec.monitor_event e
			 WHERE e.event_id BETWEEN first_event AND last_event
			 GROUP BY 1) n,
		   LATERAL finsec._monitor_svc_success_window(r, n.tab, last_event, n.end_at) m
	 WHERE m.breached
$$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_success_rate(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

/*
 * commit_ratio: rolled-back share of this database's transactions
 * (pg_stat_database) since the counters the rule last stored.  NULL value
 * on the first measurement, after a statistics reset, and while fewer than
 * min_transactions ended (the interval then goes on accumulating).
 */
CREATE FUNCTION finsec._monitor_svc_commit_ratio(r finsec.monitor_rule)
RETURNS SETOF finsec.monitor_measure
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH cur AS (
		SELECT d.xact_commit, d.xact_rollback, d.stats_reset
		  FROM pg_stat_database d WHERE d.datname = current_database()
	), delta AS (
		SELECT cur.*, p.measured_at AS since,
			   CASE WHEN p.rule_name IS NOT NULL
					 AND p.stats_reset IS NOT DISTINCT FROM cur.stats_reset
					 AND cur.xact_commit >= p.xact_commit AND cur.xact_rollback >= p.xact_rollback
					THEN cur.xact_commit - p.xact_commit END AS commits,
			   CASE WHEN p.rule_name IS NOT NULL
					 AND p.stats_reset IS NOT DISTINCT FROM cur.stats_reset
					 AND cur.xact_commit >= p.xact_commit AND cur.xact_rollback >= p.xact_rollback
					THEN cur.xact_rollback - p.xact_rollback END AS rollbacks
		  FROM cur LEFT JOIN finsec.monitor_service_counter p ON p.rule_name = r.rule_name
	)
	SELECT current_database()::text,
		   CASE WHEN d.commits + d.rollbacks >= (r.params->>'min_transactions')::bigint
				THEN round(d.rollbacks::numeric / (d.commits + d.rollbacks), 6) END,
		   (r.params->>'max_rollback_ratio')::numeric,
		   coalesce(d.commits + d.rollbacks >= (r.params->>'min_transactions')::bigint
					AND d.rollbacks::numeric / (d.commits + d.rollbacks) > (r.params->>'max_rollback_ratio')::numeric, false),
		   now(), NULL::bigint[],
		   jsonb_build_object('commits', d.commits, 'rollbacks', d.rollbacks, 'since', d.since,
							  'max_rollback_ratio', (r.params->>'max_rollback_ratio')::numeric,
							  'min_transactions', (r.params->>'min_transactions')::bigint)
	  FROM delta d
$$;
REVOKE ALL ON FUNCTION finsec._monitor_svc_commit_ratio(finsec.monitor_rule) FROM PUBLIC;

/*
 * commit_ratio evaluator: measures, then stores the current counters when
 * the interval is complete (min_transactions reached), on the first
 * measurement and after a reset.  VOLATILE: it writes its counter row (a
 * system rule is never replayed by a backtest).
 */
CREATE FUNCTION finsec._monitor_eval_commit_ratio(r finsec.monitor_rule, first_event bigint, last_event bigint)
RETURNS SETOF finsec.monitor_hit
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m record;
BEGIN
	PERFORM pg_stat_clear_snapshot();
	SELECT * INTO m FROM finsec._monitor_svc_commit_ratio(r);
	IF m.value IS NOT NULL OR (m.detail->>'commits') IS NULL THEN
		INSERT INTO finsec.monitor_service_counter AS c (rule_name, xact_commit, xact_rollback, stats_reset, measured_at)
		SELECT r.rule_name, d.xact_commit, d.xact_rollback, d.stats_reset, now()
		  FROM pg_stat_database d WHERE d.datname = current_database()
		ON CONFLICT (rule_name) DO UPDATE
		   SET xact_commit = excluded.xact_commit, xact_rollback = excluded.xact_rollback,
			   stats_reset = excluded.stats_reset, measured_at = excluded.measured_at;
	END IF;
	IF m.breached THEN
		RETURN NEXT ROW(m.entity, finsec._monitor_hour(m.at), m.at, NULL::bigint[], NULL::numeric, m.value, m.detail)::finsec.monitor_hit;
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_commit_ratio(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

/*
 * risk_block_rate: share of 'block' decisions among the scoring attempts
 * of the window ending now.  A plain allow is not logged
 * (docs/risk-log.md), so attempts = the larger of the decisions logged in
 * the window and blocks + payments the monitor saw committed in the window
 * (blocked payments are typically rolled back and never reach
 * finsec.monitor_event), counted by whole minutes from
 * finsec.monitor_event_minute.
 */
CREATE FUNCTION finsec._monitor_svc_risk_block_rate(r finsec.monitor_rule)
RETURNS SETOF finsec.monitor_measure
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH d AS (
		SELECT count(*) AS logged, count(*) FILTER (WHERE l.decision = 'block') AS blocks
		  FROM finsec.risk_decision_log l
		 WHERE l.decided_at > now() - r.time_window AND l.decided_at <= now()
	), p AS (
		SELECT coalesce(sum(m.payments), 0) AS committed FROM finsec.monitor_event_minute m
		 WHERE m.minute > now() - r.time_window AND m.minute <= now()
	), a AS (
		SELECT d.*, p.committed, greatest(d.logged, d.blocks + p.committed) AS attempts FROM d, p
	)
	SELECT current_database()::text,
		   CASE WHEN a.attempts > 0 THEN round(a.blocks::numeric / a.attempts, 6) END,
		   (r.params->>'max_block_rate')::numeric,
		   a.attempts >= (r.params->>'min_decisions')::bigint
			 AND a.blocks::numeric / a.attempts > (r.params->>'max_block_rate')::numeric,
		   now(), NULL::bigint[],
		   jsonb_build_object('blocks', a.blocks, 'logged', a.logged, 'committed_payments', a.committed,
							  'attempts', a.attempts, 'window', r.time_window::text,
							  'max_block_rate', (r.params->>'max_block_rate')::numeric,
							  'min_decisions', (r.params->>'min_decisions')::bigint)
	  FROM a
$$;
REVOKE ALL ON FUNCTION finsec._monitor_svc_risk_block_rate(finsec.monitor_rule) FROM PUBLIC;

/*
 * ledger_size: finsec.audit + finsec.ledger_block (what finsec.status()
 * reports as audit_capacity) against the least of warning_bytes (0: the
 * setting finsec.audit_capacity_warning) and limit_share of
 * finsec.audit_capacity_limit (0: off).
 */
CREATE FUNCTION finsec._monitor_svc_ledger_size(r finsec.monitor_rule)
RETURNS SETOF finsec.monitor_measure
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH s AS (
		SELECT (pg_total_relation_size('finsec.audit') + pg_total_relation_size('finsec.ledger_block'))::numeric AS bytes,
			   coalesce((SELECT setting::numeric FROM pg_settings WHERE name = 'finsec.audit_capacity_warning'), 0) * 1048576 AS warning,
			   coalesce((SELECT setting::numeric FROM pg_settings WHERE name = 'finsec.audit_capacity_limit'), 0) * 1048576 AS lim
	), t AS (
		SELECT s.*,
			   nullif(least(coalesce(nullif((r.params->>'warning_bytes')::numeric, 0), nullif(s.warning, 0)),
							nullif(round((r.params->>'limit_share')::numeric * s.lim), 0)), 0) AS threshold
		  FROM s
	)
	SELECT current_database()::text, t.bytes, t.threshold, coalesce(t.bytes >= t.threshold, false),
		   now(), NULL::bigint[],
		   jsonb_build_object('bytes', t.bytes, 'threshold_bytes', t.threshold,
							  'audit_capacity_warning_bytes', t.warning, 'audit_capacity_limit_bytes', t.lim,
							  'limit_share', (r.params->>'limit_share')::numeric)
	  FROM t
$$;
REVOKE ALL ON FUNCTION finsec._monitor_svc_ledger_size(finsec.monitor_rule) FROM PUBLIC;

/*
 * disk_usage: pg_database_size of this database (entity: its name) and
 * the size of the WAL directory (entity 'pg_wal', pg_ls_waldir()) against
 * thresholds in bytes.  max_wal_bytes 0 takes max_wal_share times
 * max_wal_size (WAL beyond it is being retained: a slot, archiving,
 * wal_keep_size); 0 turns a check off.  The free space of the filesystems
 * is not reachable from SQL.
 */
CREATE FUNCTION finsec._monitor_svc_disk_usage(r finsec.monitor_rule)
RETURNS SETOF finsec.monitor_measure
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH m AS (
		SELECT current_database()::text AS entity, 'database' AS what,
			   pg_database_size(current_database())::numeric AS bytes,
			   nullif((r.params->>'max_database_bytes')::numeric, 0) AS threshold
		UNION ALL
		SELECT 'pg_wal', 'wal',
			   (SELECT coalesce(sum(w.size), 0) FROM pg_ls_waldir() w)::numeric,
			   nullif(coalesce(nullif((r.params->>'max_wal_bytes')::numeric, 0),
							   round((r.params->>'max_wal_share')::numeric
									 * pg_size_bytes(current_setting('max_wal_size')))), 0)
	)
	SELECT m.entity, m.bytes, m.threshold, coalesce(m.bytes >= m.threshold, false), now(), NULL::bigint[],
		   jsonb_build_object('measure', m.what, 'bytes', m.bytes, 'threshold_bytes', m.threshold)
	  FROM m
$$;
REVOKE ALL ON FUNCTION finsec._monitor_svc_disk_usage(finsec.monitor_rule) FROM PUBLIC;

/*
 * replication, entity 'standby': fewer streaming physical standbys than
 * min_standbys (entity '*'); per standby (its application_name) a replay
 * lag above the RPO (rpo, or that of dr_level); at dr_level 6 (RPO 0) a
 * standby that is not synchronous.  Nothing on a server in recovery.
 * entity 'slot': per replication slot, WAL retained (current LSN minus
 * restart_lsn) above max_retained_bytes, an inactive slot (inactive
 * true), or a slot whose WAL was lost.
 */
CREATE FUNCTION finsec._monitor_svc_replication(r finsec.monitor_rule)
RETURNS SETOF finsec.monitor_measure
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH p AS (
		SELECT (r.params->>'min_standbys')::integer AS min_standbys,
			   (r.params->>'dr_level')::integer AS dr_level,
			   coalesce((r.params->>'rpo')::interval,
						finsec._monitor_dr_rpo((r.params->>'dr_level')::integer, (r.params->>'near_zero')::interval)) AS rpo,
			   (r.params->>'max_retained_bytes')::numeric AS max_retained,
			   (r.params->>'inactive')::boolean AS inactive
		 WHERE NOT pg_is_in_recovery()
	), sb AS (
		SELECT s.* FROM pg_stat_replication s
		 WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots l
							WHERE l.active_pid = s.pid AND l.slot_type = 'logical')
	)
	SELECT '*', (SELECT count(*) FROM sb WHERE sb.state = 'streaming')::numeric, p.min_standbys::numeric,
		   (SELECT count(*) FROM sb WHERE sb.state = 'streaming') < p.min_standbys, now(), NULL::bigint[],
		   jsonb_build_object('check', 'standbys', 'streaming', (SELECT count(*) FROM sb WHERE sb.state = 'streaming'),
							  'connected', (SELECT count(*) FROM sb), 'min_standbys', p.min_standbys)
	  FROM p WHERE r.entity = 'standby' AND p.min_standbys > 0
	UNION ALL
	SELECT coalesce(nullif(sb.application_name, ''), sb.pid::text),
		   round(extract(epoch FROM coalesce(sb.replay_lag, interval '0')), 3),
		   extract(epoch FROM p.rpo),
		   coalesce(sb.replay_lag > p.rpo, false)
			 OR (p.dr_level = 6 AND (r.params->>'rpo') IS NULL AND sb.sync_state NOT IN ('sync', 'quorum')),
		   now(), NULL::bigint[],
		   jsonb_build_object('check', 'lag', 'state', sb.state, 'sync_state', sb.sync_state,
							  'replay_lag_s', round(extract(epoch FROM sb.replay_lag), 3),
							  'replay_behind_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), sb.replay_lsn),
							  'flush_behind_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), sb.flush_lsn),
							  'rpo_s', extract(epoch FROM p.rpo), 'dr_level', p.dr_level)
	  FROM p, sb WHERE r.entity = 'standby' AND p.rpo IS NOT NULL
	UNION ALL
	SELECT l.slot_name::text,
		   coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), l.restart_lsn), 0),
		   nullif(p.max_retained, 0),
		   coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), l.restart_lsn) > nullif(p.max_retained, 0), false)
			 OR (p.inactive AND NOT l.active) OR l.wal_status = 'lost',
		   now(), NULL::bigint[],
		   jsonb_build_object('check', 'slot', 'slot_type', l.slot_type, 'active', l.active, 'wal_status', l.wal_status,
							  'retained_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), l.restart_lsn),
							  'max_retained_bytes', p.max_retained, 'inactive_alerts', p.inactive)
	  FROM p, pg_replication_slots l WHERE r.entity = 'slot'
$$;
REVOKE ALL ON FUNCTION finsec._monitor_svc_replication(finsec.monitor_rule) FROM PUBLIC;

/*
 * monitor_lag, entity 'table': per registered table the greatest max_lag
 * of its batches committed within the window (the latest 10000 batches
 * looked at; with require_full only batches of finsec.monitor_batch_rows
 * payments, i.e. while a backlog waited: max_lag runs from the payments'
 * posting time, so a backfill or back-dated payments look late), and, when stale_after is not 0, how long ago its position
 * was last brought up to date (last_checked_at: every round does it, with
 * or without payments, unless the table's batch fails).
 */
CREATE FUNCTION finsec._monitor_svc_monitor_lag(r finsec.monitor_rule)
RETURNS SETOF finsec.monitor_measure
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH t AS (
		SELECT t.relid::text AS entity, t.last_checked_at, t.enabled_at,
			   (SELECT max(b.max_lag)
				  FROM (SELECT b.max_lag, b.finished_at, b.payments FROM finsec.monitor_batch b
						 WHERE b.table_id = t.table_id ORDER BY b.batch_id DESC LIMIT 10000) b
				 WHERE b.finished_at > now() - r.time_window
				   AND (NOT (r.params->>'require_full')::boolean
						OR b.payments >= coalesce(nullif(current_setting('finsec.monitor_batch_rows', true), '')::integer, 10000))) AS lag,
			   now() - coalesce(t.last_checked_at, t.enabled_at) AS idle,
			   (r.params->>'max_lag')::interval AS max_lag,
			   (r.params->>'stale_after')::interval AS stale_after
		  FROM finsec.monitor_table t
	)
	SELECT t.entity, round(extract(epoch FROM coalesce(t.lag, interval '0')), 3), extract(epoch FROM t.max_lag),
		   coalesce(t.lag > t.max_lag, false)
			 OR (t.stale_after > interval '0' AND t.idle > t.stale_after),
		   now(), NULL::bigint[],
		   jsonb_build_object('max_lag_s', round(extract(epoch FROM t.lag), 3), 'threshold_s', extract(epoch FROM t.max_lag),
							  'last_checked_at', t.last_checked_at, 'idle_s', round(extract(epoch FROM t.idle), 3),
							  'stale_after_s', extract(epoch FROM t.stale_after), 'window', r.time_window::text,
							  'require_full', (r.params->>'require_full')::boolean)
	  FROM t
$$;
REVOKE ALL ON FUNCTION finsec._monitor_svc_monitor_lag(finsec.monitor_rule) FROM PUBLIC;

/* The measurement of a service rule by its kind (status and the evaluator below). */
CREATE FUNCTION finsec._monitor_svc_measure(r finsec.monitor_rule)
RETURNS SETOF finsec.monitor_measure
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	CASE r.kind
	WHEN 'success_rate' THEN RETURN QUERY SELECT * FROM finsec._monitor_svc_success_rate(r);
	WHEN 'commit_ratio' THEN RETURN QUERY SELECT * FROM finsec._monitor_svc_commit_ratio(r);
	WHEN 'risk_block_rate' THEN RETURN QUERY SELECT * FROM finsec._monitor_svc_risk_block_rate(r);
	WHEN 'ledger_size' THEN RETURN QUERY SELECT * FROM finsec._monitor_svc_ledger_size(r);
	WHEN 'disk_usage' THEN RETURN QUERY SELECT * FROM finsec._monitor_svc_disk_usage(r);
	WHEN 'replication' THEN RETURN QUERY SELECT * FROM finsec._monitor_svc_replication(r);
	WHEN 'monitor_lag' THEN RETURN QUERY SELECT * FROM finsec._monitor_svc_monitor_lag(r);
	ELSE NULL;
	END CASE;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_svc_measure(finsec.monitor_rule) FROM PUBLIC;

/*
 * The evaluator of the system kinds risk_block_rate, ledger_size,
 * disk_usage, replication and monitor_lag: the breached measurements.
 * Period: the local hour for rates and lags (one alert per window-length
 * of degradation), the local day for capacity and replication (lasting
 * conditions: one alert a day per entity).
 */
CREATE FUNCTION finsec._monitor_eval_service(r finsec.monitor_rule, first_event bigint, last_event bigint)
RETURNS SETOF finsec.monitor_hit
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT m.entity,
		   CASE WHEN r.kind IN ('risk_block_rate', 'monitor_lag') THEN finsec._monitor_hour(m.at)
				ELSE finsec._monitor_day(m.at)::text END,
		   m.at, m.events, NULL::numeric, m.value, m.detail
	  FROM finsec._monitor_svc_measure(r) m
	 WHERE m.breached AND r.kind IN ('risk_block_rate', 'ledger_size', 'disk_usage', 'replication', 'monitor_lag')
$$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_service(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

INSERT INTO finsec.monitor_rule_kind (kind, scope, entities, parameters, window_required, evaluator, description) VALUES
	('success_rate', 'payment', '{database,table}',
	 '{"min_rate": {"type": "numeric", "required": false, "default": 0.99, "min": 0, "max": 1, "description": "lowest acceptable share of succeeded payments (003 6.3.1: 99 %)"},
	   "min_payments": {"type": "integer", "required": false, "default": 100, "min": 1, "description": "payments the window must hold before the rate is judged"}}',
	 true, 'finsec._monitor_eval_success_rate(finsec.monitor_rule, bigint, bigint)',
	 'payment success rate (finsec.monitor_event.succeeded) over the window ending at the batch''s latest payment below min_rate (003 6.3.1, 003 6.4.2.8.2, 001 6d)'),
	('commit_ratio', 'system', '{database}',
	 '{"max_rollback_ratio": {"type": "numeric", "required": false, "default": 0.01, "min": 0, "max": 1, "description": "highest acceptable share of rolled-back transactions since the last measurement"},
	   "min_transactions": {"type": "integer", "required": false, "default": 1000, "min": 1, "description": "transactions that must have ended before the share is judged (the interval accumulates until then)"}}',
	 false, 'finsec._monitor_eval_commit_ratio(finsec.monitor_rule, bigint, bigint)',
	 'share of rolled-back transactions of this database (pg_stat_database) since the last measurement above max_rollback_ratio (003 6.3.1, 001 6d)'),
	('risk_block_rate', 'system', '{database}',
	 '{"max_block_rate": {"type": "numeric", "required": false, "default": 0.5, "min": 0, "max": 1, "description": "highest acceptable share of block decisions among scoring attempts in the window"},
	   "min_decisions": {"type": "integer", "required": false, "default": 100, "min": 1, "description": "attempts the window must hold before the share is judged"}}',
	 true, 'finsec._monitor_eval_service(finsec.monitor_rule, bigint, bigint)',
	 'share of block decisions (finsec.risk_decision_log) in the window above max_block_rate: a risk rule that blocks everyone (circuit breaker; 001 6d)'),
	('ledger_size', 'system', '{database}',
	 '{"warning_bytes": {"type": "numeric", "required": false, "default": 0, "min": 0, "description": "ledger bytes that raise an alert; 0: finsec.audit_capacity_warning"},
	   "limit_share": {"type": "numeric", "required": false, "default": 0.9, "min": 0, "max": 1, "description": "share of finsec.audit_capacity_limit that raises an alert; 0: off"}}',
	 false, 'finsec._monitor_eval_service(finsec.monitor_rule, bigint, bigint)',
	 'audit ledger (finsec.audit, finsec.ledger_block) nearing its capacity (003 6.4.1.3.5)'),
	('disk_usage', 'system', '{database}',
	 '{"max_database_bytes": {"type": "numeric", "required": false, "default": 0, "min": 0, "description": "pg_database_size that raises an alert; 0: off"},
	   "max_wal_bytes": {"type": "numeric", "required": false, "default": 0, "min": 0, "description": "WAL directory bytes that raise an alert; 0: max_wal_share times max_wal_size"},
	   "max_wal_share": {"type": "numeric", "required": false, "default": 2, "min": 0, "description": "WAL directory size, in multiples of max_wal_size, that raises an alert when max_wal_bytes is 0; 0: off"}}',
	 false, 'finsec._monitor_eval_service(finsec.monitor_rule, bigint, bigint)',
	 'database size and WAL directory size above their thresholds (003 6.4.2.4.3, 002 3.2.5)'),
	('replication', 'system', '{standby,slot}',
	 '{"min_standbys": {"type": "integer", "required": false, "default": 0, "min": 0, "description": "streaming standbys expected (entity standby); 0: no count check"},
	   "dr_level": {"type": "integer", "required": false, "default": 4, "min": 0, "max": 6, "description": "declared disaster-recovery level (seed 001 appendix table 2) whose RPO bounds the replay lag; 0: no lag check unless rpo is set"},
	   "rpo": {"type": "interval", "required": false, "description": "replay lag bound overriding dr_level"},
	   "near_zero": {"type": "interval", "required": false, "default": "5 seconds", "description": "replay lag taken for the RPO of levels 5 (~0) and 6 (0)"},
	   "max_retained_bytes": {"type": "numeric", "required": false, "default": 1073741824, "min": 0, "description": "WAL a replication slot may retain (entity slot); 0: off"},
	   "inactive": {"type": "boolean", "required": false, "default": true, "description": "an inactive replication slot raises an alert (entity slot)"}}',
	 false, 'finsec._monitor_eval_service(finsec.monitor_rule, bigint, bigint)',
	 'replication: too few standbys, replay lag above the RPO of the declared disaster-recovery level, a standby not synchronous at level 6 (entity standby); a slot retaining WAL, inactive or lost (entity slot) (001 7.4h-i)'),
	('monitor_lag', 'system', '{table}',
	 '{"max_lag": {"type": "interval", "required": false, "default": "5 minutes", "description": "highest acceptable lag of a batch (finsec.monitor_batch.max_lag) committed in the window"},
	   "require_full": {"type": "boolean", "required": false, "default": true, "description": "only full batches (finsec.monitor_batch_rows payments: a backlog) count, since max_lag runs from the payments'' posting time"},
	   "stale_after": {"type": "interval", "required": false, "default": "15 minutes", "description": "time since a table''s position was last brought up to date (finsec.monitor_table.last_checked_at) that raises an alert; 0: off"}}',
	 true, 'finsec._monitor_eval_service(finsec.monitor_rule, bigint, bigint)',
	 'the monitor''s own lag: a batch that processed payments later than max_lag, or a table whose position was not brought up to date for stale_after (W1, 001 6d)');

/*
 * Default rules.  Off by default (shipped 'draft', deployed by two-person
 * approval when the operator knows the number): none; but some checks of
 * the active rules are switched off by their parameters until set:
 * min_standbys 0 (a single server would alarm for ever), disk
 * max_database_bytes 0 (depends on the disk plan), monitor_lag
 * stale_after 0 (a quiet table has no batches).
 */
INSERT INTO finsec.monitor_rule (rule_name, version, kind, entity, time_window, params, category, severity,
								 shadow, action, state, description, created_by, approved_by, activated_at)
SELECT v.rule_name, 1, v.kind, v.entity, v.time_window, v.params::jsonb, 'service_quality', v.severity,
	   false, 'alert', 'active', v.description, 'finsec', 'finsec', pg_catalog.now()
  FROM (VALUES
	('service.success_rate', 'success_rate', 'database', interval '1 hour', 'high',
	 '{"min_rate": 0.99, "min_payments": 100}',
	 'payment success rate of the last hour below 99 % (003 6.3.1)'),
	('service.commit_ratio', 'commit_ratio', 'database', NULL, 'medium',
	 '{"max_rollback_ratio": 0.01, "min_transactions": 1000}',
	 'more than 1 % of the database''s transactions rolled back (003 6.3.1, 001 6d)'),
	('service.risk_block_rate', 'risk_block_rate', 'database', interval '1 hour', 'high',
	 '{"max_block_rate": 0.5, "min_decisions": 100}',
	 'risk scoring blocked more than half of the last hour''s payments (circuit breaker)'),
	('service.ledger_size', 'ledger_size', 'database', NULL, 'high',
	 '{"warning_bytes": 0, "limit_share": 0.9}',
	 'audit ledger at finsec.audit_capacity_warning or 90 % of finsec.audit_capacity_limit (003 6.4.1.3.5)'),
	('service.disk_usage', 'disk_usage', 'database', NULL, 'medium',
	 '{"max_database_bytes": 0, "max_wal_bytes": 0, "max_wal_share": 2}',
	 'WAL directory above twice max_wal_size; database size check off until set (003 6.4.2.4.3, 002 3.2.5)'),
	('service.replication', 'replication', 'standby', NULL, 'high',
	 '{"min_standbys": 0, "dr_level": 4, "near_zero": "5 seconds", "max_retained_bytes": 1073741824, "inactive": true}',
	 'standby replay lag above the RPO of disaster-recovery level 4 (1 hour); standby count check off until min_standbys is set (001 7.4h-i)'),
	('service.replication_slot', 'replication', 'slot', NULL, 'high',
	 '{"min_standbys": 0, "dr_level": 4, "near_zero": "5 seconds", "max_retained_bytes": 1073741824, "inactive": true}',
	 'a replication slot inactive, lost, or retaining more than 1 GB of WAL (001 7.4h-i)'),
	('service.monitor_lag', 'monitor_lag', 'table', interval '15 minutes', 'medium',
	 '{"max_lag": "5 minutes", "require_full": true, "stale_after": "15 minutes"}',
	 'the monitor, with a backlog, processed payments more than 5 minutes after they were posted, or a table not brought up to date for 15 minutes (W1)')
	) v(rule_name, kind, entity, time_window, severity, params, description);

/*
 * Each service rule's current measurement against its threshold, for
 * finsec.status() and operators: what the evaluators would raise now,
 * measured without writing anything.  A rule that measures nothing
 * (no standby, no slot, no table) shows one row with entity NULL.
 */
CREATE FUNCTION finsec.monitor_service_status(
	OUT rule_name text, OUT version integer, OUT kind text, OUT entity_type text, OUT entity text,
	OUT value numeric, OUT threshold numeric, OUT breached boolean, OUT detail jsonb)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT r.rule_name, r.version, r.kind, r.entity, m.entity, m.value, m.threshold, coalesce(m.breached, false),
		   coalesce(m.detail, '{}')
	  FROM finsec.monitor_rule r
	  LEFT JOIN LATERAL finsec._monitor_svc_measure(r) m ON true
	 WHERE r.state = 'active'
	   AND r.kind IN ('success_rate', 'commit_ratio', 'risk_block_rate', 'ledger_size', 'disk_usage', 'replication', 'monitor_lag')
	 ORDER BY r.rule_name, m.entity
$$;
COMMENT ON FUNCTION finsec.monitor_service_status() IS
	'each active service-quality, capacity and replication rule: what it measures now against its threshold (breached: what the monitor raises)';
REVOKE ALL ON FUNCTION finsec.monitor_service_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.monitor_service_status() TO finsec_admin, finsec_auditor, finsec_operator;

-- (end of section 5)

-- ---------------------------------------------------------------------
-- 6. Abnormal operator behaviour and suspension of a role's finsec duty.
-- ---------------------------------------------------------------------


/*
 * Clauses: 004 9.3 c) (abnormal operations by internal and external users
 * are monitored; the rights of a user who breaks the rules are suspended
 * when necessary), 004 9.7 c) (abnormal queries: suspend query rights,
 * investigate); requirements W4, C2.  docs/monitor.md.
 *
 * Who an operation belongs to: the ledger's session_user_name, the login
 * identity (SET ROLE cannot move an operation to another role; the same
 * notion of a person as two-person control's).
 */
INSERT INTO finsec.risk_category VALUES
	('insider_abuse', 'compliance', '004 9.3 c), 9.7 c)',
	 '内部用户异常操作: abnormal operations or queries by an internal user (bulk unmasking, key use, exports)');

/*
 * The operator rules count one role's ledger events of some types in a
 * window and, for a role above its threshold, over its baseline period.
 * The ledger had indexes on (finsec_txid, finsec_seq) and (event_time)
 * only: the window count can use event_time (one hour of ledger), but the
 * baseline of one role over 14 days through event_time would read 14 days
 * of everybody's events.  This index serves the baseline as one range per
 * (role, event type), and finds a role's event types by skipping through
 * its distinct values (a few probes).  It is built on the upgrade (a large
 * ledger takes a while; finsec.audit is append-only, so index-only scans
 * stay cheap once vacuum has set its visibility map).
 */
CREATE INDEX audit_session_event_time_idx ON finsec.audit (session_user_name, event_type, event_time);

-- The event types one role has ever written, by skipping through the index.
CREATE FUNCTION finsec._monitor_role_event_types(who name)
RETURNS SETOF text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH RECURSIVE t(e) AS (
		SELECT (SELECT min(a.event_type) FROM finsec.audit a WHERE a.session_user_name = who)
		UNION ALL
		SELECT (SELECT min(a.event_type) FROM finsec.audit a
				 WHERE a.session_user_name = who AND a.event_type > t.e)
		  FROM t WHERE t.e IS NOT NULL
	)
	SELECT e FROM t WHERE e IS NOT NULL
$$;
REVOKE ALL ON FUNCTION finsec._monitor_role_event_types(name) FROM PUBLIC;

/*
 * operator_rate: per role, ledger events whose type matches one of
 * params.events (LIKE patterns) in the last time_window (default 1 hour).
 * Fires when the count is >= min_count and >= factor x the role's own
 * average per window over the baseline period before the window; a role
 * without any such event in its baseline period fires at max_count.  One
 * hit per role and local hour (period 'YYYY-MM-DD HH24').
 */
CREATE FUNCTION finsec._monitor_eval_operator_rate(r finsec.monitor_rule, first_event bigint, last_event bigint)
RETURNS SETOF finsec.monitor_hit
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	win interval := coalesce(r.time_window, interval '1 hour');
	pats text[] := coalesce(ARRAY(SELECT jsonb_array_elements_text(r.params->'events')),
							'{card.reveal,account.reveal}');
	min_count numeric := coalesce((r.params->>'min_count')::numeric, 20);
	factor numeric := coalesce((r.params->>'factor')::numeric, 5);
	max_count numeric := coalesce((r.params->>'max_count')::numeric, 100);
	base interval := coalesce((r.params->>'baseline')::interval, interval '14 days');
	t_now timestamptz := now();
	w record;
	types text[];
	base_n bigint;
	per_window numeric;
	threshold numeric;
	hit_roles text[] := '{}';
BEGIN
	FOR w IN
		SELECT x.role, sum(x.n)::bigint AS n, sum(x.failed)::bigint AS failed, max(x.last_at) AS last_at,
			   min(x.first_seq) AS first_seq, max(x.last_seq) AS last_seq,
			   jsonb_object_agg(x.event_type, x.n ORDER BY x.event_type) AS by_type
		  FROM (SELECT a.session_user_name AS role, a.event_type, count(*) AS n,
					   count(*) FILTER (WHERE NOT a.success) AS failed,
					   max(a.event_time) AS last_at, min(a.finsec_seq) AS first_seq, max(a.finsec_seq) AS last_seq
				  FROM finsec.audit a
				 WHERE a.event_time > t_now - win
				   AND a.event_type LIKE ANY (pats)
				 GROUP BY 1, 2) x
		 GROUP BY x.role
		HAVING sum(x.n) >= min_count
		 ORDER BY x.role
	LOOP
		SELECT coalesce(array_agg(e), '{}') INTO types
		  FROM finsec._monitor_role_event_types(w.role) e
		 WHERE e LIKE ANY (pats);
		SELECT count(*) INTO base_n
		  FROM finsec.audit a
		 WHERE a.session_user_name = w.role
		   AND a.event_type = ANY (types)
		   AND a.event_time > t_now - win - base
		   AND a.event_time <= t_now - win;
		per_window := round(base_n * extract(epoch FROM win) / extract(epoch FROM base), 3);
		threshold := CASE WHEN base_n = 0 THEN greatest(min_count, max_count)
						  ELSE greatest(min_count, factor * per_window) END;
		IF w.n >= threshold THEN
			RETURN NEXT ROW(w.role::text,
							to_char(finsec._monitor_local(w.last_at), 'YYYY-MM-DD HH24'),
							w.last_at, '{}'::bigint[], NULL::numeric, w.n::numeric,
							jsonb_build_object('count', w.n, 'failed', w.failed, 'by_type', w.by_type,
											   'baseline_count', base_n, 'baseline_per_window', per_window,
											   'threshold', threshold, 'no_baseline', base_n = 0,
											   'min_count', min_count, 'factor', factor, 'max_count', max_count,
											   'window', win::text, 'baseline', base::text,
											   'first_seq', w.first_seq, 'last_seq', w.last_seq))::finsec.monitor_hit;
			hit_roles := hit_roles || w.role::text;
		END IF;
	END LOOP;

	/*
	 * A suspending rule also hits a role whose suspension (by this rule) was
	 * undone outside a restoration: a revoked membership granted again
	 * directly.  The alert's on_alert then revokes it again.
	 */
	IF r.action = 'suspend' THEN
		RETURN QUERY
		SELECT s.role::text, to_char(finsec._monitor_local(t_now), 'YYYY-MM-DD HH24'), t_now, '{}'::bigint[],
			   NULL::numeric, cardinality(g.back)::numeric,
			   jsonb_build_object('suspension_id', s.suspension_id, 'regranted_outside_restore', g.back)
		  FROM finsec.role_suspension s
		 CROSS JOIN LATERAL (
				SELECT array_agg(x ORDER BY x) AS back FROM unnest(s.revoked_roles) x
				 WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members am
								WHERE am.member = s.roleid AND am.roleid = x::regrole)) g
		 WHERE s.lifted_at IS NULL AND s.rule_name = r.rule_name AND g.back IS NOT NULL
		   AND s.role::text <> ALL (hit_roles)
		 ORDER BY s.role;
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_operator_rate(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

/*
 * Suspensions of a role's finsec duties: the memberships revoked (with
 * their admin option), the alert that caused it, and how it was lifted
 * (finsec.request_change('monitor.restore_role', role) approved by a
 * second administrator).  At most one active suspension per role.
 */
CREATE TABLE finsec.role_suspension (
	suspension_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	role name NOT NULL,
	roleid oid NOT NULL,
	revoked_roles name[] NOT NULL,
	admin_option name[] NOT NULL DEFAULT '{}',
	kept_roles name[] NOT NULL DEFAULT '{}',
	alert_id bigint,
	rule_name text,
	suspended_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	detail jsonb NOT NULL DEFAULT '{}',
	lifted_by name,
	lifted_at timestamptz,
	request_id bigint,
	CHECK ((lifted_at IS NULL) = (lifted_by IS NULL))
);
CREATE UNIQUE INDEX role_suspension_active ON finsec.role_suspension (roleid) WHERE lifted_at IS NULL;
COMMENT ON TABLE finsec.role_suspension IS
	'finsec duties (role memberships) suspended by an operator rule with action suspend; lifted only by two-person approval (monitor.restore_role)';
REVOKE ALL ON finsec.role_suspension FROM PUBLIC;
GRANT SELECT ON finsec.role_suspension TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.role_suspension', '');

/*
 * Whether two-person control still works: two login administrators who
 * are not superusers and cannot act as each other (finsec.approve's test).
 */
CREATE FUNCTION finsec._monitor_two_admins()
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH adm AS (
		SELECT r.oid FROM pg_catalog.pg_roles r
		 WHERE r.rolcanlogin AND NOT r.rolsuper
		   AND pg_catalog.pg_has_role(r.oid, 'finsec_admin', 'MEMBER'))
	SELECT EXISTS (SELECT 1 FROM adm a, adm b
					WHERE a.oid < b.oid
					  AND NOT pg_catalog.pg_has_role(a.oid, b.oid, 'MEMBER')
					  AND NOT pg_catalog.pg_has_role(b.oid, a.oid, 'MEMBER'))
$$;
REVOKE ALL ON FUNCTION finsec._monitor_two_admins() FROM PUBLIC;

/*
 * on_alert of operator_rate: for a rule with action 'suspend', revoke the
 * role's direct memberships in finsec's duty roles (finsec_unmask,
 * finsec_operator, finsec_auditor, finsec_admin, as far as params
 * suspend_roles lists them).  Never: finsec_app (the application: payments
 * would stop; its alerts are only alerts), a superuser (nothing to revoke:
 * it bypasses every check; the bootstrap superuser is one), finsec's own
 * group roles, finsec_admin when fewer than two separate administrators
 * would remain (two-person control, and so the restoration, would become
 * impossible).  Runs as finsec's owner (a superuser: the extension is not
 * trusted), which may revoke and grant these roles.  Called again for an
 * extended alert: memberships granted back outside a restoration are
 * revoked again and added to the suspension.
 */
CREATE FUNCTION finsec._monitor_suspend_role(alert_id bigint, r finsec.monitor_rule, created boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a finsec.alert;
	who pg_catalog.pg_roles;
	s finsec.role_suspension;
	duty text[] := ARRAY['finsec_unmask', 'finsec_operator', 'finsec_auditor', 'finsec_admin'];
	asked text[] := coalesce(ARRAY(SELECT jsonb_array_elements_text(r.params->'suspend_roles')), duty);
	m record;
	revoked name[] := '{}';
	adm name[] := '{}';
	kept name[] := '{}';
	why jsonb := '{}';
	still name[];
	regrant name[];
BEGIN
	IF r.action IS DISTINCT FROM 'suspend' OR r.shadow THEN
		RETURN;
	END IF;
	SELECT * INTO a FROM finsec.alert al WHERE al.alert_id = _monitor_suspend_role.alert_id;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	SELECT * INTO who FROM pg_catalog.pg_roles ro WHERE ro.rolname = a.entity;
	IF NOT FOUND OR who.rolsuper OR who.oid = 10 OR who.rolname::text = ANY (duty || ARRAY['finsec_app']) THEN
		IF created THEN
			PERFORM finsec.audit_event('role.suspend', a.entity, 'suspend', false,
				CASE WHEN who.oid IS NULL THEN 'role not suspended: it no longer exists'
					 WHEN who.rolsuper THEN 'role not suspended: a superuser bypasses every privilege check'
					 ELSE 'role not suspended: it is one of finsec''s own group roles' END,
				jsonb_build_object('alert_id', a.alert_id, 'rule_name', r.rule_name));
		END IF;
		RETURN;
	END IF;
	-- One suspension of a role at a time (the worker and monitor_now may race).
	PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('finsec.role_suspension'), who.oid::integer);
	SELECT * INTO s FROM finsec.role_suspension rs WHERE rs.roleid = who.oid AND rs.lifted_at IS NULL FOR UPDATE;
	-- Two administrators restored the role after this alert: their decision
	-- stands while the alert is extended (a new alert suspends again).
	IF s.suspension_id IS NULL
	   AND EXISTS (SELECT 1 FROM finsec.role_suspension rs
				    WHERE rs.roleid = who.oid AND rs.alert_id = a.alert_id AND rs.lifted_at IS NOT NULL) THEN
		RETURN;
	END IF;

	FOR m IN
		SELECT g.rolname, am.admin_option
		  FROM pg_catalog.pg_auth_members am JOIN pg_catalog.pg_roles g ON g.oid = am.roleid
		 WHERE am.member = who.oid
		   AND g.rolname::text = ANY (duty) AND g.rolname::text = ANY (asked)
		 ORDER BY g.rolname
	LOOP
		IF m.rolname = 'finsec_admin' THEN
			BEGIN
				EXECUTE format('REVOKE %I FROM %I', m.rolname, who.rolname);
				IF NOT finsec._monitor_two_admins() THEN
					RAISE EXCEPTION USING ERRCODE = 'S9M62';
				END IF;
			EXCEPTION WHEN SQLSTATE 'S9M62' THEN
				kept := kept || m.rolname;
				why := why || jsonb_build_object(m.rolname,
					'two-person control needs two separate administrators besides this role');
				CONTINUE;
			END;
		ELSE
			EXECUTE format('REVOKE %I FROM %I', m.rolname, who.rolname);
		END IF;
		revoked := revoked || m.rolname;
		IF m.admin_option THEN
			adm := adm || m.rolname;
		END IF;
	END LOOP;

	IF revoked = '{}' THEN
		-- Nothing (new) revoked: say so once, when the alert is raised.
		IF created AND s.suspension_id IS NULL THEN
			PERFORM finsec.audit_event('role.suspend', who.rolname::text, 'suspend', false,
				format('rule %s: role %s has no finsec duty that could be suspended', r.rule_name, who.rolname),
				jsonb_build_object('alert_id', a.alert_id, 'rule_name', r.rule_name, 'kept', kept, 'kept_because', why,
								   'still_member_of', ARRAY(SELECT d FROM unnest(duty) d
															 WHERE pg_catalog.pg_has_role(who.oid, d, 'MEMBER') ORDER BY d)));
		END IF;
		RETURN;
	END IF;

	-- What the role can still do: duties through other roles, or re-granting itself.
	SELECT coalesce(array_agg(d ORDER BY d) FILTER (WHERE pg_catalog.pg_has_role(who.oid, d, 'MEMBER')
														 AND d <> ALL (kept)), '{}'),
		   coalesce(array_agg(d ORDER BY d) FILTER (WHERE pg_catalog.pg_has_role(who.oid, d, 'MEMBER WITH ADMIN OPTION')
														 OR who.rolcreaterole), '{}')
	  INTO still, regrant
	  FROM unnest(duty) d;

	IF s.suspension_id IS NULL THEN
		INSERT INTO finsec.role_suspension (role, roleid, revoked_roles, admin_option, kept_roles, alert_id, rule_name, detail)
		VALUES (who.rolname, who.oid, revoked, adm, kept, a.alert_id, r.rule_name,
				jsonb_build_object('kept_because', why, 'still_member_of', still, 'can_regrant', regrant,
								   'value', a.value, 'period', a.period))
		RETURNING * INTO s;
	ELSE
		UPDATE finsec.role_suspension rs
		   SET revoked_roles = ARRAY(SELECT DISTINCT x FROM unnest(rs.revoked_roles || revoked) x ORDER BY 1),
			   admin_option = ARRAY(SELECT DISTINCT x FROM unnest(rs.admin_option || adm) x ORDER BY 1),
			   detail = rs.detail || jsonb_build_object('regranted_outside_restore', revoked,
														'still_member_of', still, 'can_regrant', regrant)
		 WHERE rs.suspension_id = s.suspension_id
		RETURNING * INTO s;
	END IF;
	PERFORM finsec.audit_event('role.suspend', who.rolname::text, 'suspend', true,
		CASE WHEN s.alert_id IS DISTINCT FROM a.alert_id OR NOT created
			 THEN format('rule %s: duties of role %s granted again outside a restoration, revoked again', r.rule_name, who.rolname)
			 ELSE format('rule %s: finsec duties of role %s suspended', r.rule_name, who.rolname) END,
		jsonb_build_object('suspension_id', s.suspension_id, 'alert_id', a.alert_id, 'rule_name', r.rule_name,
						   'revoked', revoked, 'admin_option', adm, 'kept', kept, 'kept_because', why,
						   'still_member_of', still, 'can_regrant', regrant));
	IF still <> '{}' OR regrant <> '{}' THEN
		RAISE WARNING 'suspension of role % is incomplete', who.rolname
			USING DETAIL = concat_ws(' ',
						CASE WHEN still <> '{}' THEN format('It is still a member of %s through other roles.', array_to_string(still, ', ')) END,
						CASE WHEN regrant <> '{}' THEN format('It can grant %s to itself (CREATEROLE or ADMIN OPTION through another role).', array_to_string(regrant, ', ')) END),
				  HINT = 'Revoke the intermediate role membership, the admin option or the CREATEROLE attribute by hand.';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_suspend_role(bigint, finsec.monitor_rule, boolean) FROM PUBLIC;

INSERT INTO finsec.monitor_rule_kind (kind, scope, entities, parameters, window_required, evaluator, on_alert, description)
VALUES ('operator_rate', 'system', '{role}',
	'{"events": {"type": "text[]", "required": false, "default": ["card.reveal", "account.reveal"],
				 "description": "ledger event types counted (LIKE patterns), e.g. card.reveal, key.use, risk.list_%"},
	  "min_count": {"type": "integer", "required": false, "default": 20, "min": 1,
					"description": "events of one role in the window below which nothing fires"},
	  "factor": {"type": "numeric", "required": false, "default": 5, "min": 1,
				 "description": "fires at this multiple of the role''s average per window over its baseline"},
	  "baseline": {"type": "interval", "required": false, "default": "14 days", "min": "1 hour",
				   "description": "the period before the window that gives a role''s usual rate"},
	  "max_count": {"type": "integer", "required": false, "default": 100, "min": 1,
					"description": "threshold of a role without any such event in its baseline period"},
	  "suspend_roles": {"type": "text[]", "required": false,
						"default": ["finsec_unmask", "finsec_operator", "finsec_auditor", "finsec_admin"],
						"description": "duties revoked by action suspend (of finsec_unmask, finsec_operator, finsec_auditor, finsec_admin)"}}',
	false,
	'finsec._monitor_eval_operator_rate(finsec.monitor_rule, bigint, bigint)',
	'finsec._monitor_suspend_role(bigint, finsec.monitor_rule, boolean)',
	'audited sensitive operations (reveals, key use, list changes, exports) by one role far above its own usual rate (004 9.3 c), 9.7 c)); action suspend revokes the role''s finsec duties');

INSERT INTO finsec.monitor_rule (rule_name, version, kind, entity, time_window, params, category, severity, shadow,
								 action, state, description, created_by, approved_by, activated_at)
VALUES
	('operator.reveal_rate', 1, 'operator_rate', 'role', interval '1 hour',
	 '{"events": ["card.reveal", "account.reveal"], "min_count": 20, "factor": 5, "baseline": "14 days",
	   "max_count": 100, "suspend_roles": ["finsec_unmask", "finsec_operator", "finsec_auditor", "finsec_admin"]}',
	 'insider_abuse', 'high', false, 'alert', 'active',
	 'a role reveals card or account numbers at 5 times its usual hourly rate (at least 20 an hour; 100 without history): 004 9.3 c), 9.7 c)',
	 'finsec', 'finsec', pg_catalog.now()),
	('operator.reveal_flood', 1, 'operator_rate', 'role', interval '1 hour',
	 '{"events": ["card.reveal", "account.reveal"], "min_count": 200, "factor": 20, "baseline": "14 days",
	   "max_count": 500, "suspend_roles": ["finsec_unmask"]}',
	 'insider_abuse', 'critical', false, 'suspend', 'active',
	 'a role reveals card or account numbers at 20 times its usual hourly rate (at least 200 an hour; 500 without history): its finsec_unmask membership is suspended until two administrators restore it (004 9.3 c), 9.7 c))',
	 'finsec', 'finsec', pg_catalog.now());

/*
 * monitor.restore_role: re-grant exactly what a suspension revoked.
 * target: the role's name; payload {} or {"suspension_id": n}.  Neither
 * the requester nor the approver may be the suspended role or able to act
 * as it (S9R01).
 */
/*
 * The login role requesting or approving a restoration must not be the
 * suspended role, nor able to act as it or it as them (membership either
 * way, which includes superusers): the same person test as finsec.approve.
 */
CREATE FUNCTION finsec._monitor_not_the_subject(subject oid, action text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF pg_catalog.pg_has_role(session_user, subject, 'MEMBER')
	   OR pg_catalog.pg_has_role(subject, session_user, 'MEMBER') THEN
		RAISE EXCEPTION 'role % cannot % the restoration of role %', session_user, action, subject::regrole
			USING ERRCODE = 'S9R01',
				  DETAIL = 'It is the suspended role or one of the two can act as the other.',
				  HINT = 'Two other administrators must request and approve the restoration.';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_not_the_subject(oid, text) FROM PUBLIC;

CREATE FUNCTION finsec._monitor_restore_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s finsec.role_suspension;
	bad text;
BEGIN
	IF jsonb_typeof(payload) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'a monitor.restore_role request needs a JSON object payload'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT string_agg(k, ', ' ORDER BY k) INTO bad FROM jsonb_object_keys(payload) k WHERE k <> 'suspension_id';
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'a monitor.restore_role request has unknown field(s): %', bad
			USING ERRCODE = 'invalid_parameter_value', HINT = 'The only field is suspension_id.';
	END IF;
	IF payload ? 'suspension_id' AND jsonb_typeof(payload->'suspension_id') <> 'number' THEN
		RAISE EXCEPTION 'suspension_id of a monitor.restore_role request must be a number'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO s FROM finsec.role_suspension rs
	 WHERE rs.role = target AND rs.lifted_at IS NULL
	   AND (NOT payload ? 'suspension_id' OR rs.suspension_id = (payload->>'suspension_id')::numeric);
	IF NOT FOUND THEN
		RAISE EXCEPTION 'role % has no active suspension%', target,
			CASE WHEN payload ? 'suspension_id' THEN ' ' || (payload->>'suspension_id') ELSE '' END
			USING ERRCODE = 'S9M60',
				  HINT = 'finsec.role_suspension lists suspensions; lifted ones have lifted_at set.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles ro WHERE ro.oid = s.roleid) THEN
		RAISE EXCEPTION 'suspended role % no longer exists', target USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM finsec._monitor_not_the_subject(s.roleid, 'request');
	IF EXISTS (SELECT 1 FROM finsec.change_request cr
				WHERE cr.kind = 'monitor.restore_role' AND cr.state = 'pending'
				  AND (cr.payload->>'suspension_id')::bigint = s.suspension_id) THEN
		RAISE EXCEPTION 'a restoration of role % is already pending', target
			USING ERRCODE = 'S9M61',
				  HINT = 'Approve or reject the pending monitor.restore_role request.';
	END IF;
	RETURN jsonb_build_object('suspension_id', s.suspension_id, 'roleid', s.roleid::bigint,
							  'revoked_roles', to_jsonb(s.revoked_roles), 'admin_option', to_jsonb(s.admin_option),
							  'alert_id', s.alert_id, 'suspended_at', s.suspended_at);
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_restore_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._monitor_restore_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s finsec.role_suspension;
	rname name;
	g name;
	granted name[] := '{}';
	already name[] := '{}';
BEGIN
	SELECT * INTO s FROM finsec.role_suspension rs
	 WHERE rs.suspension_id = (payload->>'suspension_id')::bigint FOR UPDATE;
	IF NOT FOUND OR s.lifted_at IS NOT NULL
	   OR to_jsonb(s.revoked_roles) IS DISTINCT FROM payload->'revoked_roles'
	   OR to_jsonb(s.admin_option) IS DISTINCT FROM payload->'admin_option' THEN
		RAISE EXCEPTION 'the suspension of role % changed after request % was filed', target, request_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Reject this request and file a new one.';
	END IF;
	SELECT ro.rolname INTO rname FROM pg_catalog.pg_roles ro WHERE ro.oid = s.roleid;
	IF rname IS NULL THEN
		RAISE EXCEPTION 'suspended role % no longer exists', target USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM finsec._monitor_not_the_subject(s.roleid, 'approve');
	FOREACH g IN ARRAY s.revoked_roles LOOP
		IF EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members am
					WHERE am.member = s.roleid AND am.roleid = g::regrole
					  AND (am.admin_option OR NOT g = ANY (s.admin_option))) THEN
			already := already || g;
		ELSE
			EXECUTE format('GRANT %I TO %I', g, rname)
				|| CASE WHEN g = ANY (s.admin_option) THEN ' WITH ADMIN OPTION' ELSE '' END;
			granted := granted || g;
		END IF;
	END LOOP;
	UPDATE finsec.role_suspension rs
	   SET lifted_by = session_user, lifted_at = now(), request_id = _monitor_restore_apply.request_id
	 WHERE rs.suspension_id = s.suspension_id;
	PERFORM finsec.audit_event('role.restore', rname::text, 'restore', true,
		format('finsec duties of role %s restored', rname),
		jsonb_build_object('suspension_id', s.suspension_id, 'request_id', request_id,
						   'granted', granted, 'already_member', already, 'admin_option', s.admin_option));
	RETURN jsonb_build_object('role', rname, 'suspension_id', s.suspension_id,
							  'granted', to_jsonb(granted), 'already_member', to_jsonb(already));
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_restore_apply(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('monitor.restore_role', 'finsec._monitor_restore_prepare(text, text, jsonb)',
	 'finsec._monitor_restore_apply(bigint, text, text, jsonb)', NULL,
	 'restore the finsec duties an operator rule suspended (finsec.role_suspension): re-grant exactly the revoked memberships');

-- (end of section 6)
