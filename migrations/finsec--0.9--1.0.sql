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
	last_payment_at timestamptz
);
COMMENT ON TABLE finsec.monitor_table IS
	'payments tables registered for transaction monitoring (finsec.enable_monitoring): column mapping and the committed position';
REVOKE ALL ON finsec.monitor_table FROM PUBLIC;
GRANT SELECT ON finsec.monitor_table TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * Batches: one row per committed batch, the event-id range it added and
 * the snapshots that bound it.  A rule evaluation of batch b reads events
 * with event_id <= b.last_event only, so that a backtest replays batches
 * exactly as the monitor saw them.
 */
CREATE TABLE finsec.monitor_batch (
	batch_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	table_id integer NOT NULL REFERENCES finsec.monitor_table ON DELETE CASCADE,
	started_at timestamptz NOT NULL,
	finished_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	snapshot_from pg_snapshot NOT NULL,
	snapshot_to pg_snapshot NOT NULL,
	first_event bigint,
	last_event bigint,
	payments integer NOT NULL,
	alerts integer NOT NULL DEFAULT 0,
	max_lag interval,
	by_worker boolean NOT NULL
);
CREATE INDEX ON finsec.monitor_batch (table_id, batch_id);
COMMENT ON TABLE finsec.monitor_batch IS
	'batches the monitor committed: event range, bounding snapshots, payments, alerts, lag';
REVOKE ALL ON finsec.monitor_batch FROM PUBLIC;
GRANT SELECT ON finsec.monitor_batch TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * The event history the rules read: one normalised row per committed
 * payment, in processing order.  Amounts converted at the rate of the
 * payment's day (finsec.currency_rate); amount NULL and amount_cny NULL
 * mark a payment whose amount or currency could not be read (counted in
 * finsec.monitor_table and raised by rule monitor.data_quality).
 */
CREATE TABLE finsec.monitor_event (
	event_id bigint PRIMARY KEY,
	table_id integer NOT NULL REFERENCES finsec.monitor_table ON DELETE CASCADE,
	batch_id bigint NOT NULL,
	stamp xid8 NOT NULL,
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
COMMENT ON TABLE finsec.monitor_event IS
	'the monitor''s event history: one normalised row per committed payment, in processing order (rules read it through indexes)';
REVOKE ALL ON finsec.monitor_event FROM PUBLIC;
GRANT SELECT ON finsec.monitor_event TO finsec_admin, finsec_auditor, finsec_operator;

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

/* The local time and day of an instant in finsec.monitor_timezone (default Asia/Shanghai). */
CREATE FUNCTION finsec._monitor_local(at timestamptz)
RETURNS timestamp
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT at AT TIME ZONE coalesce(nullif(current_setting('finsec.monitor_timezone', true), ''), 'Asia/Shanghai') $$;
REVOKE ALL ON FUNCTION finsec._monitor_local(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._monitor_local(timestamptz) TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec._monitor_day(at timestamptz)
RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT (at AT TIME ZONE coalesce(nullif(current_setting('finsec.monitor_timezone', true), ''), 'Asia/Shanghai'))::date $$;
REVOKE ALL ON FUNCTION finsec._monitor_day(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._monitor_day(timestamptz) TO finsec_admin, finsec_auditor, finsec_operator;

/* An amount in currency cur on day d, in CNY (NULL: no rate that day). */
CREATE FUNCTION finsec.monitor_convert(amount numeric, cur text, d date, to_currency text DEFAULT 'CNY')
RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN amount IS NULL OR cur IS NULL THEN NULL
		WHEN upper(cur) = upper(to_currency) THEN amount
		ELSE amount
			 * CASE WHEN upper(cur) = 'CNY' THEN 1
					ELSE (SELECT r.cny_per_unit FROM finsec.currency_rate r
						   WHERE r.currency = upper(cur) AND r.valid_from <= d
						   ORDER BY r.valid_from DESC LIMIT 1) END
			 / CASE WHEN upper(to_currency) = 'CNY' THEN 1
					ELSE (SELECT r.cny_per_unit FROM finsec.currency_rate r
						   WHERE r.currency = upper(to_currency) AND r.valid_from <= d
						   ORDER BY r.valid_from DESC LIMIT 1) END
	END
$$;
COMMENT ON FUNCTION finsec.monitor_convert(numeric, text, date, text) IS
	'an amount converted between currencies at the rates of finsec.currency_rate valid on a day (NULL without a rate)';
REVOKE ALL ON FUNCTION finsec.monitor_convert(numeric, text, date, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.monitor_convert(numeric, text, date, text) TO finsec_admin, finsec_auditor, finsec_operator;

-- (core functions follow in section 1b, written by the lead)

-- (end of section 1)

-- ---------------------------------------------------------------------
-- 2. Large-value transaction reports (PBOC Order 2016 No. 3): currency
--    rates, thresholds, the working-day calendar, report candidates.
-- ---------------------------------------------------------------------

-- (end of section 2)

-- ---------------------------------------------------------------------
-- 3. Behavioural typologies: structuring, rapid in-and-out, fan-in,
--    fan-out, dormant account reactivated, night-time bursts.
-- ---------------------------------------------------------------------

-- (end of section 3)

-- ---------------------------------------------------------------------
-- 4. Graph typologies: cycles and scatter-gather.
-- ---------------------------------------------------------------------

-- (end of section 4)

-- ---------------------------------------------------------------------
-- 5. Service quality, capacity and replication rules (scope 'system').
-- ---------------------------------------------------------------------

-- (end of section 5)

-- ---------------------------------------------------------------------
-- 6. Abnormal operator behaviour and suspension of a role's finsec duty.
-- ---------------------------------------------------------------------

-- (end of section 6)
