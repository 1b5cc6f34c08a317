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
AS $$
DECLARE
	col text := finsec._monitor_typ_column(r);
	band text := '%1$s.succeeded AND %1$s.direction = ANY ($7)'
				 ' AND %1$s.amount_cny >= $4 * (1 - $5) AND %1$s.amount_cny < $4';
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
		  (r.params->>'min_count')::integer, finsec._monitor_typ_directions(r);
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
AS $$
DECLARE
	col text := finsec._monitor_typ_column(r);
	counted text := '%1$s.succeeded AND %1$s.amount_cny IS NOT NULL';
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
		  (r.params->>'ratio')::numeric, (r.params->>'min_amount')::numeric;
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
AS $$
DECLARE
	col text := finsec._monitor_typ_column(r);
	counted text := '%1$s.succeeded AND %1$s.direction = $4 AND %1$s.counterparty IS NOT NULL';
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
		  (r.params->>'min_counterparties')::integer, (r.params->>'min_amount')::numeric;
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
AS $$
DECLARE
	col text := finsec._monitor_typ_column(r);
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
	$q$, finsec._monitor_typ_stream(col, 'true', predecessor => true),
		 finsec._monitor_typ_events(col, 'true', since => 'y.at >= g.react_at'))
	USING first_event, last_event, coalesce(r.time_window, interval '7 days'),
		  (r.params->>'dormancy')::interval, (r.params->>'min_count')::integer,
		  (r.params->>'min_amount')::numeric;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_dormant_reactivated(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

/* Whether an instant is in the local night [s, e) (a night may wrap midnight). */
CREATE FUNCTION finsec._monitor_typ_night(at timestamptz, s time, e time)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN s < e THEN t >= s AND t < e ELSE t >= s OR t < e END
	  FROM (SELECT finsec._monitor_local(at)::time AS t) l
$$;
REVOKE ALL ON FUNCTION finsec._monitor_typ_night(timestamptz, time, time) FROM PUBLIC;

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
AS $$
DECLARE
	col text := finsec._monitor_typ_column(r);
	counted text := '%1$s.succeeded AND %1$s.direction = ANY ($7) AND finsec._monitor_typ_night(%1$s.at, $4, $5)';
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
		  FROM (SELECT h.*, (finsec._monitor_local(h.at) - $4::interval)::date AS night FROM h) h
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
		  finsec._monitor_typ_directions(r), (r.params->>'min_amount')::numeric;
END
$$;
REVOKE ALL ON FUNCTION finsec._monitor_eval_night_burst(finsec.monitor_rule, bigint, bigint) FROM PUBLIC;

/* The kinds and their parameters (validated and defaulted by the core when a rule is stored). */
INSERT INTO finsec.monitor_rule_kind (kind, scope, entities, parameters, window_required, evaluator, description) VALUES
('structuring', 'payment', '{customer,account}', '{
  "threshold": {"type": "numeric", "required": false, "default": 50000, "min": 0, "description": "reporting threshold in CNY; payments at or above it are not structuring"},
  "margin": {"type": "numeric", "required": false, "default": 0.1, "min": 0, "max": 1, "description": "band below the threshold: payments in [threshold * (1 - margin), threshold) count"},
  "min_count": {"type": "integer", "required": false, "default": 3, "min": 2, "description": "payments in the band within the window, per direction"},
  "direction": {"type": "text", "required": false, "default": "any", "description": "in, out or any (each direction counted on its own)"}
}', false, 'finsec._monitor_eval_structuring(finsec.monitor_rule,bigint,bigint)',
 'several payments just below a reporting threshold by one customer or account within a window (splitting to evade a large-value report)'),
('rapid_in_out', 'payment', '{customer,account}', '{
  "ratio": {"type": "numeric", "required": false, "default": 0.8, "min": 0, "description": "outflow at least this share of the inflow in the window"},
  "min_amount": {"type": "numeric", "required": false, "default": 100000, "min": 0, "description": "inflow in CNY within the window at least this"}
}', false, 'finsec._monitor_eval_rapid_in_out(finsec.monitor_rule,bigint,bigint)',
 'most of the funds received leave again within hours (at an outgoing payment: outflow >= ratio * inflow in the window, inflow >= min_amount)'),
('fan_in', 'payment', '{account,customer}', '{
  "min_counterparties": {"type": "integer", "required": false, "default": 10, "min": 2, "description": "distinct counterparties paying in within the window"},
  "min_amount": {"type": "numeric", "required": false, "default": 0, "min": 0, "description": "their total in CNY at least this (0: any)"}
}', false, 'finsec._monitor_eval_fan_in(finsec.monitor_rule,bigint,bigint)',
 'many distinct counterparties pay into one account or customer within a window (collection account)'),
('fan_out', 'payment', '{account,customer}', '{
  "min_counterparties": {"type": "integer", "required": false, "default": 10, "min": 2, "description": "distinct counterparties paid within the window"},
  "min_amount": {"type": "numeric", "required": false, "default": 0, "min": 0, "description": "their total in CNY at least this (0: any)"}
}', false, 'finsec._monitor_eval_fan_out(finsec.monitor_rule,bigint,bigint)',
 'one account or customer pays many distinct counterparties within a window (dispersal)'),
('dormant_reactivated', 'payment', '{customer,account}', '{
  "dormancy": {"type": "interval", "required": false, "default": "6 months", "description": "no event for at least this long before the reactivating event"},
  "min_count": {"type": "integer", "required": false, "default": 3, "min": 1, "description": "succeeded payments from the reactivation within the window"},
  "min_amount": {"type": "numeric", "required": false, "default": 50000, "min": 0, "description": "or their total in CNY at least this"}
}', false, 'finsec._monitor_eval_dormant_reactivated(finsec.monitor_rule,bigint,bigint)',
 'an account or customer idle for the dormancy period, then a burst of payments (judged only for dormancy that began inside the monitor''s history)'),
('night_burst', 'payment', '{customer,account}', '{
  "min_count": {"type": "integer", "required": false, "default": 5, "min": 1, "description": "payments of one direction in the local night within the window"},
  "min_amount": {"type": "numeric", "required": false, "default": 200000, "min": 0, "description": "or their total in CNY at least this"},
  "night_start": {"type": "text", "required": false, "default": "00:00", "description": "local time (finsec.monitor_timezone) the night begins, HH:MM"},
  "night_end": {"type": "text", "required": false, "default": "06:00", "description": "local time the night ends (exclusive), HH:MM"},
  "direction": {"type": "text", "required": false, "default": "any", "description": "in, out or any (each direction counted on its own)"}
}', false, 'finsec._monitor_eval_night_burst(finsec.monitor_rule,bigint,bigint)',
 'a burst of payments by one customer or account in the local night');

/* One active default rule per kind, parameters written out. */
INSERT INTO finsec.monitor_rule (rule_name, version, kind, entity, time_window, params, category, severity,
								 state, description, created_by, approved_by, activated_at) VALUES
('typ.structuring', 1, 'structuring', 'customer', '24 hours',
 '{"threshold": 50000, "margin": 0.1, "min_count": 3, "direction": "any"}', 'money_laundering', 'high',
 'active', '3 or more payments of 45,000-49,999.99 CNY in 24 hours, per direction (below the 50,000 CNY cash large-value threshold)',
 'finsec', 'finsec', pg_catalog.now()),
('typ.rapid_in_out', 1, 'rapid_in_out', 'customer', '24 hours',
 '{"ratio": 0.8, "min_amount": 100000}', 'money_laundering', 'high',
 'active', 'at least 80 % of an inflow of 100,000 CNY or more paid out again within 24 hours',
 'finsec', 'finsec', pg_catalog.now()),
('typ.fan_in', 1, 'fan_in', 'account', '24 hours',
 '{"min_counterparties": 10, "min_amount": 0}', 'telecom_fraud', 'medium',
 'active', '10 or more distinct payers into one account in 24 hours',
 'finsec', 'finsec', pg_catalog.now()),
('typ.fan_out', 1, 'fan_out', 'account', '24 hours',
 '{"min_counterparties": 10, "min_amount": 0}', 'money_laundering', 'medium',
 'active', 'one account paying 10 or more distinct payees in 24 hours',
 'finsec', 'finsec', pg_catalog.now()),
('typ.dormant_reactivated', 1, 'dormant_reactivated', 'customer', '7 days',
 '{"dormancy": "6 months", "min_count": 3, "min_amount": 50000}', 'telecom_fraud', 'medium',
 'active', 'no activity for 6 months, then 3 payments or 50,000 CNY within 7 days',
 'finsec', 'finsec', pg_catalog.now()),
('typ.night_burst', 1, 'night_burst', 'customer', '6 hours',
 '{"min_count": 5, "min_amount": 200000, "night_start": "00:00", "night_end": "06:00", "direction": "any"}',
 'account_takeover', 'medium',
 'active', '5 payments or 200,000 CNY of one direction between 00:00 and 06:00 local time',
 'finsec', 'finsec', pg_catalog.now());

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
