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

-- Who changed a day is who is logged in, whatever the statement says.
CREATE FUNCTION finsec._working_day_stamp()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	NEW.recorded_by := session_user;
	NEW.recorded_at := pg_catalog.now();
	RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION finsec._working_day_stamp() FROM PUBLIC;
CREATE TRIGGER working_day_stamp BEFORE INSERT OR UPDATE ON finsec.working_day
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

/* The large-value class of a payment. */
CREATE FUNCTION finsec._large_value_class(cash boolean, customer_type text, cross_border boolean)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN cash THEN 'cash'
				WHEN customer_type = 'legal' THEN 'transfer_legal'
				WHEN cross_border THEN 'transfer_natural_cross_border'
				ELSE 'transfer_natural_domestic' END
$$;
REVOKE ALL ON FUNCTION finsec._large_value_class(boolean, text, boolean) FROM PUBLIC;

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
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT bool_and(EXISTS (SELECT 1 FROM finsec.working_day wd
							 WHERE wd.day >= make_date(y, 1, 1) AND wd.day < make_date(y + 1, 1, 1)))
	  FROM generate_series(extract(year FROM d1)::integer, extract(year FROM d2)::integer) y
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
		   AND e.succeeded AND e.amount IS NOT NULL
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
			   AND x.succeeded AND x.amount IS NOT NULL
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
		   AND x.succeeded AND x.amount IS NOT NULL
		   AND finsec._large_value_class(x.cash, x.customer_type, x.cross_border) = cls)
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
