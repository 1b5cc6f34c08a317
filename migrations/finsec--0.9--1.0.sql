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

/*
 * Service quality, capacity and replication (W2, W3, W5, W6, W7; clauses
 * 003 6.3.1, 003 6.4.2.8.2, 001 6d, 001 7.4h-i, 003 6.4.1.3.5, 003
 * 6.4.2.4.3, 002 3.2.5; docs/monitor-svc.md).  Each condition is a rule
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
 * dumped; deleted with the table's registration.
 */
CREATE TABLE finsec.monitor_event_minute (
	table_id integer NOT NULL REFERENCES finsec.monitor_table ON DELETE CASCADE,
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
 * finsec.monitor_event).
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
		SELECT count(*) AS committed FROM finsec.monitor_event e
		 WHERE e.at > now() - r.time_window AND e.at <= now()
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
 * looked at), and, when stale_after is not 0, how long ago its last batch
 * committed.
 */
CREATE FUNCTION finsec._monitor_svc_monitor_lag(r finsec.monitor_rule)
RETURNS SETOF finsec.monitor_measure
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH t AS (
		SELECT t.relid::text AS entity, t.last_batch_at, t.enabled_at,
			   (SELECT max(b.max_lag)
				  FROM (SELECT b.max_lag, b.finished_at FROM finsec.monitor_batch b
						 WHERE b.table_id = t.table_id ORDER BY b.batch_id DESC LIMIT 10000) b
				 WHERE b.finished_at > now() - r.time_window) AS lag,
			   now() - coalesce(t.last_batch_at, t.enabled_at) AS idle,
			   (r.params->>'max_lag')::interval AS max_lag,
			   (r.params->>'stale_after')::interval AS stale_after
		  FROM finsec.monitor_table t
	)
	SELECT t.entity, round(extract(epoch FROM coalesce(t.lag, interval '0')), 3), extract(epoch FROM t.max_lag),
		   coalesce(t.lag > t.max_lag, false)
			 OR (t.stale_after > interval '0' AND t.idle > t.stale_after),
		   now(), NULL::bigint[],
		   jsonb_build_object('max_lag_s', round(extract(epoch FROM t.lag), 3), 'threshold_s', extract(epoch FROM t.max_lag),
							  'last_batch_at', t.last_batch_at, 'idle_s', round(extract(epoch FROM t.idle), 3),
							  'stale_after_s', extract(epoch FROM t.stale_after), 'window', r.time_window::text)
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
	   "stale_after": {"type": "interval", "required": false, "default": "0", "description": "time without a committed batch of a table that raises an alert; 0: off"}}',
	 true, 'finsec._monitor_eval_service(finsec.monitor_rule, bigint, bigint)',
	 'the monitor''s own lag: a batch that processed payments later than max_lag, or a table without a batch for stale_after (W1, 001 6d)');

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
	 '{"max_lag": "5 minutes", "stale_after": "0"}',
	 'the monitor processed payments more than 5 minutes after they were posted (W1)')
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

-- (end of section 6)
