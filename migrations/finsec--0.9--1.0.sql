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


/*
 * Clauses: 004 9.3 c) (abnormal operations by internal and external users
 * are monitored; the rights of a user who breaks the rules are suspended
 * when necessary), 004 9.7 c) (abnormal queries: suspend query rights,
 * investigate); requirements W4, C2.  docs/monitor-oper.md.
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
	  "baseline": {"type": "interval", "required": false, "default": "14 days",
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
