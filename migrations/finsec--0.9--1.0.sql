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

/*
 * The money graph (docs/monitor-graph.md).  An event with a counterparty
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
		SELECT DISTINCT ON (c.origin, finsec._monitor_day(c.hit_at))
			   c.*, finsec._monitor_day(c.hit_at) AS day
		  FROM cyc c
		 ORDER BY c.origin, finsec._monitor_day(c.hit_at), c.depth, c.hit_at DESC, c.key
	)
	SELECT b.origin, b.day::text,
		   (SELECT max(c.hit_at) FROM cyc c WHERE c.origin = b.origin AND finsec._monitor_day(c.hit_at) = b.day),
		   (SELECT array_agg(DISTINCT x ORDER BY x) FROM (
				SELECT x FROM cyc c, unnest(c.events) x
				 WHERE c.origin = b.origin AND finsec._monitor_day(c.hit_at) = b.day
				 ORDER BY x LIMIT 1000) y),
		   b.amounts[1],
		   b.depth::numeric,
		   jsonb_build_object(
			   'cycles', (SELECT count(*) FROM cyc c WHERE c.origin = b.origin AND finsec._monitor_day(c.hit_at) = b.day),
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
 * forward.  The new edges give the candidates (S, K, T): a new edge I -> K
 * with the earlier edges S -> I into it, a new edge S -> I with the later
 * edges I -> K out of it (at most max_paths per new edge each); for each
 * candidate the edges out of S and into K in (T - window, T] (at most
 * max_paths each, the nearest to T) are joined on I.  Entity: the source
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
	 * them, one search seed each: the edges out of S and into K from a
	 * window before the earliest to a window after the latest.
	 */
	WITH cand AS (
		SELECT c.s, c.k, min(c.t) AS t_lo, max(c.t) AS t_hi
		  FROM (SELECT p.nodes[1] AS s, p.nodes[3] AS k, p.hi AS t FROM unnest(gather) p
				UNION ALL
				SELECT p.nodes[1], p.nodes[3], p.lo FROM unnest(scatter) p) c
		 WHERE c.s <> c.k
		 GROUP BY c.s, c.k
	), numbered AS (
		SELECT row_number() OVER (ORDER BY c.s, c.k) AS id, c.* FROM cand c
	)
	SELECT coalesce(array_agg(ROW(c.id, NULL, c.s, 0, c.t_lo - w, c.t_hi + w, c.t_lo - w, NULL,
								  ARRAY[c.s, c.k], '{}'::bigint[], '{}'::timestamptz[], '{}'::numeric[]
								 )::finsec._monitor_graph_path ORDER BY c.id), '{}'),
		   coalesce(array_agg(ROW(c.id, NULL, c.k, 0, c.t_lo - w, c.t_hi + w, c.t_hi + w, NULL,
								  ARRAY[c.k, c.s], '{}'::bigint[], '{}'::timestamptz[], '{}'::numeric[]
								 )::finsec._monitor_graph_path ORDER BY c.id), '{}'),
		   coalesce(array_agg(c.t_lo ORDER BY c.id), '{}'),
		   coalesce(array_agg(c.t_hi ORDER BY c.id), '{}')
	  INTO souts, kins, t_lo, t_hi
	  FROM numbered c;
	souts := finsec._monitor_graph_step(souts, true, 1, min_amount, max_paths, last_event);
	kins := finsec._monitor_graph_step(kins, false, 1, min_amount, max_paths, last_event);

	RETURN QUERY
	WITH pair AS (
		/* s: S -> I (nodes S, K, I), k: I -> K (nodes I, K, S), in order and keeping enough */
		SELECT s.seed, s.nodes[1] AS src, s.nodes[2] AS sink, s.node AS mid,
			   s.events[1] AS ev_in, s.at AS at_in, s.amount AS amount_in,
			   k.events[1] AS ev_out, k.at AS at_out
		  FROM unnest(souts) s
		  JOIN unnest(kins) k ON k.seed = s.seed AND k.node = s.node
		 WHERE s.at < k.at
		   AND k.amount >= keep * s.amount
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
		SELECT DISTINCT ON (f.src, finsec._monitor_day(f.hit_at)) f.*, finsec._monitor_day(f.hit_at) AS day
		  FROM found f
		 ORDER BY f.src, finsec._monitor_day(f.hit_at), f.mids DESC, f.hit_at DESC, f.sink
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

-- (end of section 5)

-- ---------------------------------------------------------------------
-- 6. Abnormal operator behaviour and suspension of a role's finsec duty.
-- ---------------------------------------------------------------------

-- (end of section 6)
