--
-- 114_monitor_graph: graph typologies over counterparty edges of
-- finsec.monitor_event (docs/monitor.md): temporal cycles
-- (depth, time order, window, decay, minimum amount, dedup into one hit)
-- and scatter-gather (at n intermediates, quiet at n - 1), evaluated
-- directly against the evaluators over planted events.
--
\set VERBOSITY default
SET client_min_messages = notice;
SET timezone = 'Asia/Shanghai';

-- the shipped rules and kinds
SELECT rule_name, version, kind, entity, time_window, params, category, severity, shadow, action, state
  FROM finsec.monitor_rule WHERE kind IN ('cycle', 'scatter_gather') ORDER BY rule_name;
SELECT kind, scope, entities, window_required, evaluator,
	   (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(parameters) k) AS parameters
  FROM finsec.monitor_rule_kind WHERE kind IN ('cycle', 'scatter_gather') ORDER BY kind;
-- every parameter of the shipped rules is written out
SELECT r.rule_name, (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(r.params) k)
	   = (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(t.parameters) k) AS complete
  FROM finsec.monitor_rule r JOIN finsec.monitor_rule_kind t USING (kind)
 WHERE r.kind IN ('cycle', 'scatter_gather') ORDER BY 1;
-- the application role reads nothing of it
SELECT has_function_privilege('finsec_app', 'finsec._monitor_eval_cycle(finsec.monitor_rule, bigint, bigint)', 'EXECUTE') AS app_cycle,
	   has_function_privilege('finsec_operator', 'finsec._monitor_eval_scatter_gather(finsec.monitor_rule, bigint, bigint)', 'EXECUTE') AS op_sg,
	   has_function_privilege('finsec_app', 'finsec._monitor_graph_step(finsec._monitor_graph_path[], boolean, numeric, numeric, integer, bigint)', 'EXECUTE') AS app_step;

-- direct evaluation: a registered table and planted events
CREATE TABLE g_pay (c text, a numeric, t timestamptz);
INSERT INTO finsec.monitor_table (relid, customer_column, amount_column, posted_at_column, position, enabled_by)
VALUES ('g_pay', 'c', 'a', 't', pg_current_snapshot(), current_user);

-- an event of account acct (customer cust when no account) with counterparty cp
CREATE FUNCTION g_ev(acct text, dir text, cp text, at timestamptz, amt numeric,
					 cust text DEFAULT NULL, ok boolean DEFAULT true) RETURNS bigint
LANGUAGE sql AS $$
	INSERT INTO finsec.monitor_event (event_id, table_id, batch_id, stamp, at, customer, customer_type,
									  account, counterparty, direction, succeeded, currency, amount, amount_cny)
	SELECT nextval('finsec.monitor_event_id_seq'), t.table_id, 1, pg_current_xact_id(), at,
		   coalesce(cust, 'cust-' || acct), 'natural', acct, cp, dir, ok, 'CNY', amt, amt
	  FROM finsec.monitor_table t WHERE t.relid = 'g_pay'::regclass
	RETURNING event_id
$$;
CREATE FUNCTION g_top() RETURNS bigint LANGUAGE sql AS $$ SELECT coalesce(max(event_id), 0) FROM finsec.monitor_event $$;

-- evaluate a shipped rule with some parameters overridden over events lo .. hi
CREATE FUNCTION g_eval(rule text, lo bigint, hi bigint, over jsonb DEFAULT '{}', win interval DEFAULT NULL)
RETURNS SETOF finsec.monitor_hit LANGUAGE plpgsql AS $$
DECLARE
	rr finsec.monitor_rule;
BEGIN
	SELECT * INTO rr FROM finsec.monitor_rule r WHERE r.rule_name = rule AND r.state = 'active';
	rr.params := rr.params || over;
	rr.time_window := coalesce(win, rr.time_window);
	IF rr.kind = 'cycle' THEN
		RETURN QUERY SELECT * FROM finsec._monitor_eval_cycle(rr, lo, hi);
	ELSE
		RETURN QUERY SELECT * FROM finsec._monitor_eval_scatter_gather(rr, lo, hi);
	END IF;
END
$$;
-- what a hit says, compactly
CREATE FUNCTION g_show(rule text, lo bigint, hi bigint, over jsonb DEFAULT '{}', win interval DEFAULT NULL)
RETURNS TABLE (entity text, period text, hit_at timestamptz, events integer, amount numeric, value numeric, info text)
LANGUAGE sql AS $$
	SELECT h.entity, h.period, h.hit_at, cardinality(h.events), h.amount, h.value,
		   CASE WHEN h.detail ? 'path'
				THEN (SELECT string_agg(p->>'from', '>' ORDER BY o) FROM jsonb_array_elements(h.detail->'path') WITH ORDINALITY a(p, o))
					 || '>' || (h.detail->'path'->-1->>'to') || ' cycles ' || (h.detail->>'cycles') || ' span ' || (h.detail->>'span')
				ELSE 'sink ' || (h.detail->>'sink') || ' via ' || (h.detail->>'intermediate_list') END
	  FROM g_eval(rule, lo, hi, over, win) h
$$;

-- ---------------------------------------------------------------------
-- cycle of depth 3: a1 -> a2 -> a3 -> a1, recorded as out, in, out
SELECT g_top() AS lo \gset
SELECT g_ev('a1', 'out', 'a2', '2026-03-02 10:00', 100000) AS e1,
	   g_ev('a3', 'in',  'a2', '2026-03-02 11:00', 95000) AS e2,
	   g_ev('a3', 'out', 'a1', '2026-03-02 12:00', 90000) AS e3 \gset
SELECT * FROM g_show('aml.cycle', :lo + 1, g_top());
-- the events of the hit are exactly the three hops
SELECT events = ARRAY[:e1, :e2, :e3]::bigint[] AS exact FROM g_eval('aml.cycle', :lo + 1, g_top());
-- each hop found alone (three batches in turn): only the batch of the last one fires
SELECT count(*) AS batch1 FROM g_eval('aml.cycle', :e1, :e1);
SELECT count(*) AS batch2 FROM g_eval('aml.cycle', :e2, :e2);
SELECT entity, value FROM g_eval('aml.cycle', :e3, :e3);
-- history stops at last_event: the first two hops with history up to the second see nothing
SELECT count(*) AS history_bound FROM g_eval('aml.cycle', :e1, :e2);
-- depth 3 is not found when min_depth is 4
SELECT count(*) AS min_depth_4 FROM g_eval('aml.cycle', :lo + 1, g_top(), '{"min_depth": 4}');
-- nor when max_depth is 2 (and min_depth 2)
SELECT count(*) AS max_depth_2 FROM g_eval('aml.cycle', :lo + 1, g_top(), '{"min_depth": 2, "max_depth": 2}');

-- committed out of time order: the earliest hop processed last is found by the forward
-- search, a middle hop processed last by the two searches meeting; origin is q1 / r1
SELECT g_top() AS lo \gset
SELECT g_ev('q2', 'out', 'q3', '2026-03-02 11:00', 90000), g_ev('q3', 'out', 'q1', '2026-03-02 12:00', 85000) \gset ign_
SELECT count(*) AS q_early FROM g_eval('aml.cycle', :lo + 1, g_top());
SELECT g_ev('q1', 'out', 'q2', '2026-03-02 10:00', 95000) AS e1 \gset
SELECT * FROM g_show('aml.cycle', :e1, :e1);
SELECT g_top() AS lo \gset
SELECT g_ev('r1', 'out', 'r2', '2026-03-02 10:00', 95000), g_ev('r3', 'out', 'r4', '2026-03-02 12:00', 90000),
	   g_ev('r4', 'out', 'r1', '2026-03-02 13:00', 85000) \gset ign_
SELECT count(*) AS r_early FROM g_eval('aml.cycle', :lo + 1, g_top());
SELECT g_ev('r2', 'out', 'r3', '2026-03-02 11:00', 92000) AS e1 \gset
SELECT * FROM g_show('aml.cycle', :e1, :e1);

-- depth 2: b1 -> b2 -> b1 is quiet with min_depth 3, fires with min_depth 2
SELECT g_top() AS lo \gset
SELECT g_ev('b1', 'out', 'b2', '2026-03-02 10:00', 50000), g_ev('b2', 'out', 'b1', '2026-03-02 10:30', 49000) \gset ign_
SELECT count(*) AS depth2_quiet FROM g_eval('aml.cycle', :lo + 1, g_top());
SELECT * FROM g_show('aml.cycle', :lo + 1, g_top(), '{"min_depth": 2}');

-- hops out of time order: c1 -> c2 at 12:00, c2 -> c3 at 11:00, c3 -> c1 at 10:00: no temporal cycle
SELECT g_top() AS lo \gset
SELECT g_ev('c1', 'out', 'c2', '2026-03-02 12:00', 50000), g_ev('c2', 'out', 'c3', '2026-03-02 11:00', 50000),
	   g_ev('c3', 'out', 'c1', '2026-03-02 10:00', 50000) \gset ign_
SELECT count(*) AS out_of_order FROM g_eval('aml.cycle', :lo + 1, g_top());
-- two hops at the same instant are not in order either
SELECT g_top() AS lo \gset
SELECT g_ev('c4', 'out', 'c5', '2026-03-02 10:00', 50000), g_ev('c5', 'out', 'c6', '2026-03-02 10:00', 50000),
	   g_ev('c6', 'out', 'c4', '2026-03-02 11:00', 50000) \gset ign_
SELECT count(*) AS same_instant FROM g_eval('aml.cycle', :lo + 1, g_top());

-- window: a cycle spanning exactly 72 hours is outside, one microsecond less is inside
SELECT g_top() AS lo \gset
SELECT g_ev('d1', 'out', 'd2', '2026-03-02 10:00', 50000), g_ev('d2', 'out', 'd3', '2026-03-03 10:00', 50000),
	   g_ev('d3', 'out', 'd1', '2026-03-05 10:00', 50000) \gset ign_
SELECT count(*) AS span_72h FROM g_eval('aml.cycle', :lo + 1, g_top());
SELECT g_top() AS lo \gset
SELECT g_ev('d4', 'out', 'd5', '2026-03-02 10:00', 50000), g_ev('d5', 'out', 'd6', '2026-03-03 10:00', 50000),
	   g_ev('d6', 'out', 'd4', '2026-03-05 09:59:59.999999', 50000) \gset ign_
SELECT * FROM g_show('aml.cycle', :lo + 1, g_top());
-- with a window of 1 hour it is quiet
SELECT count(*) AS window_1h FROM g_eval('aml.cycle', :lo + 1, g_top(), '{}', '1 hour');

-- decay: each hop keeps at least half of the one before
SELECT g_top() AS lo \gset
SELECT g_ev('f1', 'out', 'f2', '2026-03-02 10:00', 100000), g_ev('f2', 'out', 'f3', '2026-03-02 11:00', 50000),
	   g_ev('f3', 'out', 'f1', '2026-03-02 12:00', 25000) \gset ign_
SELECT entity, value, amount FROM g_eval('aml.cycle', :lo + 1, g_top());
SELECT g_top() AS lo \gset
SELECT g_ev('f4', 'out', 'f5', '2026-03-02 10:00', 100000), g_ev('f5', 'out', 'f6', '2026-03-02 11:00', 50000),
	   g_ev('f6', 'out', 'f4', '2026-03-02 12:00', 24999.99) \gset ign_
SELECT count(*) AS decayed FROM g_eval('aml.cycle', :lo + 1, g_top());
SELECT count(*) AS decay_off FROM g_eval('aml.cycle', :lo + 1, g_top(), '{"max_decay": 1}');
SELECT count(*) AS decay_strict FROM g_eval('aml.cycle', :lo + 1, g_top(), '{"max_decay": 0.4}');
-- minimum amount: a hop of 9,999.99 CNY under min_amount 10,000 breaks the cycle
SELECT g_top() AS lo \gset
SELECT g_ev('m1', 'out', 'm2', '2026-03-02 10:00', 10000), g_ev('m2', 'out', 'm3', '2026-03-02 11:00', 9999.99),
	   g_ev('m3', 'out', 'm1', '2026-03-02 12:00', 9999.99) \gset ign_
SELECT count(*) AS below_min FROM g_eval('aml.cycle', :lo + 1, g_top());
SELECT count(*) AS min_9999 FROM g_eval('aml.cycle', :lo + 1, g_top(), '{"min_amount": 9999.99}');
-- a failed payment is no edge
SELECT g_top() AS lo \gset
SELECT g_ev('n1', 'out', 'n2', '2026-03-02 10:00', 50000), g_ev('n2', 'out', 'n3', '2026-03-02 11:00', 50000, NULL, false),
	   g_ev('n3', 'out', 'n1', '2026-03-02 12:00', 50000) \gset ign_
SELECT count(*) AS failed_hop FROM g_eval('aml.cycle', :lo + 1, g_top());

-- depth 6 fires, depth 7 does not (max_depth 6); nodes without an account are customers
SELECT g_top() AS lo \gset
SELECT g_ev('h1', 'out', 'h2', '2026-03-02 10:00', 60000), g_ev('h2', 'out', 'h3', '2026-03-02 11:00', 59000),
	   g_ev(NULL, 'in', 'h3', '2026-03-02 12:00', 58000, 'h4'), g_ev(NULL, 'out', 'h5', '2026-03-02 13:00', 57000, 'h4'),
	   g_ev('h5', 'out', 'h6', '2026-03-02 14:00', 56000), g_ev('h6', 'out', 'h1', '2026-03-02 15:00', 55000) \gset ign_
SELECT * FROM g_show('aml.cycle', :lo + 1, g_top());
SELECT g_top() AS lo \gset
SELECT g_ev('i1', 'out', 'i2', '2026-03-02 10:00', 60000), g_ev('i2', 'out', 'i3', '2026-03-02 11:00', 59000),
	   g_ev('i3', 'out', 'i4', '2026-03-02 12:00', 58000), g_ev('i4', 'out', 'i5', '2026-03-02 13:00', 57000),
	   g_ev('i5', 'out', 'i6', '2026-03-02 14:00', 56000), g_ev('i6', 'out', 'i7', '2026-03-02 15:00', 55000),
	   g_ev('i7', 'out', 'i1', '2026-03-02 16:00', 54000) \gset ign_
SELECT count(*) AS depth7 FROM g_eval('aml.cycle', :lo + 1, g_top());
SELECT value AS depth7_max7 FROM g_eval('aml.cycle', :lo + 1, g_top(), '{"max_depth": 7}');

-- a cycle planted among noise: each payment recorded by both parties (out and in), extra
-- edges in and out of every node, a parallel hop, and a second path; found from every one
-- of its edges, it is one hit for its origin p1
SELECT g_top() AS lo \gset
SELECT count(*) FROM generate_series(1, 30) i,
	   LATERAL g_ev('p' || (1 + i % 4), CASE WHEN i % 3 = 0 THEN 'in' ELSE 'out' END, 'noise' || i,
					timestamptz '2026-03-02 09:00' + i * interval '7 minutes', 20000 + i);
SELECT count(*) FROM (VALUES (1, 'p1', 'out', 'p2', timestamptz '2026-03-02 10:00', 80000),
							 (2, 'p2', 'in',  'p1', '2026-03-02 10:00', 80000),
							 (3, 'p2', 'out', 'p3', '2026-03-02 11:00', 78000),
							 (4, 'p3', 'in',  'p2', '2026-03-02 11:00', 78000),
							 (5, 'p2', 'out', 'p3', '2026-03-02 11:30', 77000),
							 (6, 'p3', 'out', 'p4', '2026-03-02 12:00', 76000),
							 (7, 'p4', 'in',  'p3', '2026-03-02 12:00', 76000),
							 (8, 'p4', 'out', 'p1', '2026-03-02 13:00', 75000),
							 (9, 'p1', 'in',  'p4', '2026-03-02 13:00', 75000)) v(o, a, d, c, t, m),
	   LATERAL g_ev(v.a, v.d, v.c, v.t, v.m);
SELECT count(*) FROM generate_series(31, 60) i,
	   LATERAL g_ev('p' || (1 + i % 4), CASE WHEN i % 3 = 0 THEN 'in' ELSE 'out' END, 'noise' || i,
					timestamptz '2026-03-02 09:00' + i * interval '7 minutes', 20000 + i);
SELECT count(*) FROM generate_series(1, 60) i,
	   LATERAL g_ev('noise' || i, 'out', 'noise' || (i + 1), timestamptz '2026-03-02 09:00' + i * interval '3 minutes', 30000);
SELECT * FROM g_show('aml.cycle', :lo + 1, g_top());
-- the same in batches of 4 events (the planted ones are events 31 to 39): the cycle is
-- found in one batch only, the one holding its last hops
SELECT b - :lo AS batch_from, h.entity, h.value, h.detail->'cycles' AS cycles
  FROM generate_series(:lo + 1, g_top(), 4) b, LATERAL g_eval('aml.cycle', b, b + 3) h;

-- a bad rule version: min_depth above max_depth fails the evaluation (the core records it)
SELECT count(*) FROM g_eval('aml.cycle', :lo + 1, g_top(), '{"min_depth": 5, "max_depth": 4}');
-- no events: nothing
SELECT count(*) AS no_events FROM g_eval('aml.cycle', NULL, NULL);

-- ---------------------------------------------------------------------
-- scatter-gather: s1 pays five intermediates, each forwards to k1 (some forwards recorded
-- by k1 as 'in'); the receipt of x5 is processed last, after all the forwards
SELECT g_top() AS lo \gset
SELECT count(*) FROM generate_series(1, 4) i,
	   LATERAL g_ev('s1', 'out', 'x' || i, timestamptz '2026-03-02 10:00' + i * interval '10 minutes', 100000);
SELECT count(*) FROM generate_series(1, 5) i,
	   LATERAL (SELECT CASE WHEN i % 2 = 0
							THEN g_ev('x' || i, 'out', 'k1', timestamptz '2026-03-03 10:00' + i * interval '10 minutes', 95000)
							ELSE g_ev('k1', 'in', 'x' || i, timestamptz '2026-03-03 10:00' + i * interval '10 minutes', 95000) END) x;
-- four intermediates so far: quiet (also with the forwards as the new edges)
SELECT count(*) AS s1_four FROM g_eval('aml.scatter_gather', :lo + 1, g_top());
SELECT g_ev('x5', 'in', 's1', '2026-03-02 10:50', 100000) AS e1 \gset
-- the last receipt makes five
SELECT * FROM g_show('aml.scatter_gather', :e1, :e1);
SELECT entity, value FROM g_eval('aml.scatter_gather', :lo + 1, g_top());
-- quiet with six required
SELECT count(*) AS need_6 FROM g_eval('aml.scatter_gather', :lo + 1, g_top(), '{"min_intermediates": 6}');
-- four intermediates (n - 1): quiet
SELECT g_top() AS lo \gset
SELECT count(*) FROM (
	SELECT g_ev('s2', 'out', 'y' || i, timestamptz '2026-03-02 10:00' + i * interval '10 minutes', 100000)
	  FROM generate_series(1, 4) i
	UNION ALL
	SELECT g_ev('y' || i, 'out', 'k2', timestamptz '2026-03-02 12:00' + i * interval '10 minutes', 95000)
	  FROM generate_series(1, 4) i) x;
SELECT count(*) AS four FROM g_eval('aml.scatter_gather', :lo + 1, g_top());
SELECT entity, value FROM g_eval('aml.scatter_gather', :lo + 1, g_top(), '{"min_intermediates": 4}');
-- a fifth intermediate that forwards before it receives does not count; one that forwards
-- in time does
SELECT g_top() AS lo \gset
SELECT g_ev('y5', 'out', 'k2', '2026-03-02 09:00', 95000), g_ev('s2', 'out', 'y5', '2026-03-02 11:00', 100000) \gset ign_
SELECT count(*) AS forward_first FROM g_eval('aml.scatter_gather', :lo + 1, g_top());
SELECT g_top() AS lo \gset
SELECT g_ev('s2', 'out', 'y6', '2026-03-02 11:00', 100000), g_ev('y6', 'out', 'k2', '2026-03-02 13:00', 50000) \gset ign_
-- the last forward alone is enough to find it
SELECT * FROM g_show('aml.scatter_gather', g_top(), g_top());
-- a forward keeping less than half does not count (y6 forwarded exactly half: counted above)
SELECT count(*) AS strict_decay FROM g_eval('aml.scatter_gather', :lo + 1, g_top(), '{"max_decay": 0.49}');
-- the window: with 2 hours, the receipts are too early
SELECT count(*) AS window_2h FROM g_eval('aml.scatter_gather', :lo + 1, g_top(), '{}', '2 hours');

-- no sequential scan of monitor_event, with enough history for the planner to choose
SELECT count(*) FROM (
	SELECT g_ev('z' || (i % 2000), CASE WHEN i % 2 = 0 THEN 'out' ELSE 'in' END, 'z' || ((i * 7919) % 2000),
				timestamptz '2026-03-01 00:00' + i * interval '1 minute', 10000 + i % 5000)
	  FROM generate_series(1, 20000) i) x;
ANALYZE finsec.monitor_event;
BEGIN;
SELECT count(*) >= 0 AS ran FROM g_eval('aml.cycle', g_top() - 999, g_top());
SELECT count(*) >= 0 AS ran FROM g_eval('aml.scatter_gather', g_top() - 999, g_top());
SELECT pg_stat_get_xact_numscans('finsec.monitor_event'::regclass) AS seq_scans;
COMMIT;

-- ---------------------------------------------------------------------
-- End to end: a payments table -> enable_monitoring -> INSERT -> monitor_now() -> finsec.alert
DELETE FROM finsec.monitor_table WHERE relid = 'g_pay'::regclass;
SET client_min_messages = warning;
CREATE ROLE regress_graph_admin LOGIN IN ROLE finsec_admin;
SET client_min_messages = notice;
CREATE TABLE g2_pay (
	id bigserial PRIMARY KEY,
	cust text NOT NULL,
	acct text,
	payee text,
	dir text NOT NULL DEFAULT 'out',
	amount numeric NOT NULL,
	cur text NOT NULL DEFAULT 'CNY',
	ok boolean NOT NULL DEFAULT true,
	at timestamptz NOT NULL
);
ALTER TABLE g2_pay OWNER TO regress_graph_admin;
SET SESSION AUTHORIZATION regress_graph_admin;
SELECT finsec.enable_monitoring('g2_pay', customer => 'cust', amount => 'amount', posted_at => 'at', account => 'acct',
	counterparty => 'payee', direction => 'dir', currency => 'cur', status => 'ok');
RESET SESSION AUTHORIZATION;
INSERT INTO finsec.currency_rate (currency, valid_from, cny_per_unit, source) VALUES ('USD', '2026-01-01', 7.1, 'regress');
-- a payment of the bank's own customers in g2_pay: the payer's 'out' and the payee's 'in'
CREATE FUNCTION g2(a text, b text, at timestamptz, amt numeric, cur text DEFAULT 'CNY', both_sides boolean DEFAULT true)
RETURNS void LANGUAGE sql AS $$
	INSERT INTO g2_pay (cust, acct, payee, dir, amount, cur, at) VALUES ('cust-' || a, a, b, 'out', amt, cur, at);
	INSERT INTO g2_pay (cust, acct, payee, dir, amount, cur, at)
	SELECT 'cust-' || b, b, a, 'in', amt, cur, at WHERE both_sides;
$$;
-- a round, and the alerts of the graph rules after it (other rules may raise theirs too)
CREATE FUNCTION g2_round(OUT batches integer, OUT payments bigint, OUT graph_alerts bigint)
LANGUAGE plpgsql AS $$
BEGIN
	SELECT m.batches, m.payments INTO batches, payments FROM finsec.monitor_now() m WHERE m.relid = 'g2_pay'::regclass;
	SELECT count(*) INTO graph_alerts FROM finsec.alert a WHERE a.rule_name IN ('aml.cycle', 'aml.scatter_gather');
END
$$;
SELECT * FROM g2_round();

-- a cycle of depth 3, hops in three commits, among noise payments: one alert, on its origin,
-- raised by the round of the last hop
BEGIN;
SELECT g2('E1', 'E2', '2026-04-01 09:00', 200000);
SELECT g2('E' || i, 'N' || i, timestamptz '2026-04-01 08:00' + i * interval '5 minutes', 15000 + i) FROM generate_series(1, 3) i;
COMMIT;
SELECT * FROM g2_round();
SELECT g2('E2', 'E3', '2026-04-01 10:00', 190000);
SELECT g2('N' || i, 'E' || i, timestamptz '2026-04-01 10:30' + i * interval '5 minutes', 16000 + i) FROM generate_series(1, 3) i;
SELECT * FROM g2_round();
SELECT count(*) AS before_last FROM finsec.alert WHERE rule_name = 'aml.cycle';
-- the last hop in US dollars: 26,000 USD = 184,600 CNY keeps more than half of 190,000
SELECT g2('E3', 'E1', '2026-04-01 11:00', 26000, 'USD');
SELECT * FROM g2_round();
SELECT rule_name, rule_version, kind, entity_type, entity, period, hits, cardinality(events) AS events, amount, value,
	   severity, category, detail->'cycles' AS cycles, jsonb_path_query_array(detail, '$.path[*].from') AS route,
	   case_id IS NOT NULL AS has_case
  FROM finsec.alert WHERE rule_name = 'aml.cycle';
-- the events of the alert are the six rows of the three payments
SELECT array_agg(e.direction || ':' || coalesce(e.account, '') || '>' || e.counterparty ORDER BY e.event_id) AS rows
  FROM finsec.alert a, unnest(a.events) x JOIN finsec.monitor_event e ON e.event_id = x WHERE a.rule_name = 'aml.cycle';

-- depth 2 (A -> B -> A), out of time order, outside the window: no alert
SELECT g2('F1', 'F2', '2026-04-02 09:00', 100000), g2('F2', 'F1', '2026-04-02 10:00', 99000);
SELECT g2('G1', 'G2', '2026-04-02 12:00', 100000), g2('G2', 'G3', '2026-04-02 11:00', 99000), g2('G3', 'G1', '2026-04-02 10:00', 98000);
SELECT g2('H1', 'H2', '2026-04-02 09:00', 100000), g2('H2', 'H3', '2026-04-03 09:00', 99000), g2('H3', 'H1', '2026-04-05 09:00', 98000);
SELECT * FROM g2_round();
SELECT count(*) AS quiet FROM finsec.alert WHERE rule_name = 'aml.cycle' AND entity <> 'E1';
-- the same window one second shorter fires: on its origin H1, on the day of the last hop
SELECT g2('H4', 'H5', '2026-04-02 09:00:01', 100000), g2('H5', 'H6', '2026-04-03 09:00', 99000), g2('H6', 'H4', '2026-04-05 09:00', 98000);
SELECT * FROM g2_round();
SELECT entity, period, value FROM finsec.alert WHERE rule_name = 'aml.cycle' AND entity <> 'E1';
-- a new cycle of E1 on the same day extends its alert
SELECT g2('E1', 'E4', '2026-04-01 12:00', 50000, 'CNY', false), g2('E4', 'E5', '2026-04-01 13:00', 40000, 'CNY', false),
	   g2('E5', 'E1', '2026-04-01 14:00', 30000, 'CNY', false);
SELECT * FROM g2_round();
SELECT entity, hits, cardinality(events) AS events FROM finsec.alert WHERE rule_name = 'aml.cycle' AND entity = 'E1';

-- scatter-gather: five intermediates fire, four are quiet
SELECT g2('S1', 'X' || i, timestamptz '2026-04-06 09:00' + i * interval '1 minute', 30000) FROM generate_series(1, 5) i;
SELECT g2('S2', 'Y' || i, timestamptz '2026-04-06 09:00' + i * interval '1 minute', 30000) FROM generate_series(1, 4) i;
SELECT * FROM g2_round();
SELECT g2('X' || i, 'K1', timestamptz '2026-04-07 09:00' + i * interval '1 minute', 29000) FROM generate_series(1, 5) i;
SELECT g2('Y' || i, 'K2', timestamptz '2026-04-07 09:00' + i * interval '1 minute', 29000) FROM generate_series(1, 4) i;
SELECT * FROM g2_round();
SELECT rule_name, entity_type, entity, period, hits, cardinality(events) AS events, amount, value,
	   detail->>'sink' AS sink, detail->'intermediate_list' AS via
  FROM finsec.alert WHERE rule_name = 'aml.scatter_gather';

-- the backtest replays what was raised
SELECT b.entity, b.period, b.hits, a.hits AS raised
  FROM finsec.monitor_backtest('aml.cycle') b
  FULL JOIN (SELECT entity, period, hits FROM finsec.alert WHERE rule_name = 'aml.cycle') a USING (entity, period)
 ORDER BY 1, 2;
SELECT b.entity, b.period, b.hits, a.hits AS raised
  FROM finsec.monitor_backtest('aml.scatter_gather') b
  FULL JOIN (SELECT entity, period, hits FROM finsec.alert WHERE rule_name = 'aml.scatter_gather') a USING (entity, period)
 ORDER BY 1, 2;
SELECT rule_name, evaluations > 0 AS evaluated, failures FROM finsec.monitor_rule_status
 WHERE rule_name IN ('aml.cycle', 'aml.scatter_gather') ORDER BY 1;
