--
-- 111_monitor_large_value: large-value transaction reports (PBOC Order
-- 2016 No. 3 Art. 5).  Each class fires at its threshold and stays quiet
-- one fen below, per direction, customer type and currency group (RMB in
-- CNY, foreign currency in USD equivalent), single and same-day cumulative
-- over the local day in Asia/Shanghai; report candidates with their due
-- dates, submit / exclude, supplements, overdue alerts, threshold changes
-- by two-person approval, privileges.
--
-- End to end: payments inserted into a monitored table, finsec.monitor_now()
-- (lv_raise() runs it and lists the large-value alerts it raised or
-- extended), finsec.alert, finsec.large_value_report; the evaluators are
-- called directly only to show that a batch never reads later events.
--
SET client_min_messages = warning;
CREATE ROLE regress_lv_op LOGIN IN ROLE finsec_operator;
CREATE ROLE regress_lv_aud LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress_lv_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_lv_admin1 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_lv_admin2 LOGIN IN ROLE finsec_admin;
RESET client_min_messages;
SHOW finsec.monitor_timezone;

-- The shipped rules and thresholds.
SELECT rule_name, version, kind, entity, params, category, severity, shadow, state
  FROM finsec.monitor_rule WHERE kind LIKE 'large_value%' ORDER BY rule_name;
SELECT class, valid_from, cny_threshold, usd_threshold FROM finsec.large_value_threshold ORDER BY cny_threshold;
SELECT kind, scope, entities, on_alert IS NOT NULL AS has_on_alert FROM finsec.monitor_rule_kind
 WHERE kind LIKE 'large_value%' ORDER BY kind;

-- A monitored payments table, with every column large-value reports need, and a USD and an EUR rate.
CREATE TABLE lv_pay (id bigserial PRIMARY KEY, cust text NOT NULL, amount numeric, at timestamptz NOT NULL,
					 cur text NOT NULL DEFAULT 'CNY', dir text NOT NULL DEFAULT 'out', ctype text NOT NULL DEFAULT 'natural',
					 is_cash boolean NOT NULL DEFAULT false, xb boolean NOT NULL DEFAULT false,
					 ok boolean NOT NULL DEFAULT true, ref text);
ALTER TABLE lv_pay OWNER TO regress_lv_admin1;
SET SESSION AUTHORIZATION regress_lv_admin1;
SELECT finsec.enable_monitoring('lv_pay', customer => 'cust', amount => 'amount', posted_at => 'at', currency => 'cur',
	direction => 'dir', customer_type => 'ctype', cash => 'is_cash', cross_border => 'xb', status => 'ok', reference => 'ref');
RESET SESSION AUTHORIZATION;
SELECT table_id AS lv_table FROM finsec.monitor_table WHERE relid = 'lv_pay'::regclass \gset
INSERT INTO finsec.currency_rate (currency, valid_from, cny_per_unit, source) VALUES
	('USD', '2026-01-01', 7.1, 'test'), ('EUR', '2026-01-01', 7.8, 'test');

-- a payment
CREATE FUNCTION lv_ev(cust text, at timestamptz, amount numeric, dir text DEFAULT 'out', ctype text DEFAULT 'natural',
					  cash boolean DEFAULT false, xb boolean DEFAULT false, cur text DEFAULT 'CNY',
					  ok boolean DEFAULT true, ref text DEFAULT NULL)
RETURNS bigint LANGUAGE sql AS $$
	INSERT INTO lv_pay (cust, amount, at, cur, dir, ctype, is_cash, xb, ok, ref)
	VALUES (cust, amount, at, cur, dir, ctype, cash, xb, ok, coalesce(ref, 'ref-' || currval('lv_pay_id_seq')))
	RETURNING id
$$;
-- one monitor round; the large-value alerts it raised (created) or extended
CREATE TABLE lv_seen (alert_id bigint PRIMARY KEY, hits integer);
CREATE FUNCTION lv_raise()
RETURNS TABLE (rule_name text, entity text, period text, amount numeric, created boolean)
LANGUAGE plpgsql AS $$
DECLARE
	m record;
BEGIN
	FOR m IN SELECT * FROM finsec.monitor_now() LOOP
		IF m.rules_failed <> 0 THEN
			RAISE WARNING 'monitor_now: % rule(s) failed', m.rules_failed;
		END IF;
	END LOOP;
	RETURN QUERY
	SELECT a.rule_name, a.entity, a.period, a.amount, s.alert_id IS NULL
	  FROM finsec.alert a LEFT JOIN lv_seen s USING (alert_id)
	 WHERE a.kind = 'large_value' AND (s.alert_id IS NULL OR s.hits <> a.hits)
	 ORDER BY 1, 2, 3;
	INSERT INTO lv_seen SELECT a.alert_id, a.hits FROM finsec.alert a WHERE a.kind = 'large_value'
	ON CONFLICT ON CONSTRAINT lv_seen_pkey DO UPDATE SET hits = EXCLUDED.hits;
END
$$;
-- whatever earlier tests left in the history is processed and not ours
SELECT count(*) >= 0 AS ok FROM lv_raise();

\set VERBOSITY sqlstate

-- ---- cash (Art. 5 (1)): RMB 50,000 ----------------------------------------
-- single at the threshold: a hit; one fen below: none
SELECT lv_ev('c_single', '2026-03-02 10:00+08', 50000.00, cash => true) IS NOT NULL AS ok;
SELECT lv_ev('c_below', '2026-03-02 10:00+08', 49999.99, cash => true) IS NOT NULL AS ok;
-- cumulative: 49,999.99 in one batch, +0.01 in the next
SELECT lv_ev('c_cum', '2026-03-02 09:00+08', 20000, cash => true) IS NOT NULL AS ok;
SELECT lv_ev('c_cum', '2026-03-02 11:00+08', 29999.99, cash => true) IS NOT NULL AS ok;
-- per direction: 30,000 in and 30,000 out the same day are summed separately
SELECT lv_ev('c_dirs', '2026-03-02 09:00+08', 30000, dir => 'in', cash => true) IS NOT NULL AS ok;
SELECT lv_ev('c_dirs', '2026-03-02 10:00+08', 30000, dir => 'out', cash => true) IS NOT NULL AS ok;
-- cash of a non-natural person is cash too; a failed payment counts nothing
SELECT lv_ev('c_legal', '2026-03-02 10:00+08', 50000, ctype => 'legal', cash => true) IS NOT NULL AS ok;
SELECT lv_ev('c_failed', '2026-03-02 10:00+08', 80000, cash => true, ok => false) IS NOT NULL AS ok;
-- amounts that are not finite and positive count nothing (the core reports them): NaN, Infinity, a negative
-- amount does not lower a day's total
SELECT lv_ev('c_nan', '2026-03-02 10:00+08', 'NaN', cash => true) IS NOT NULL AS ok;
SELECT lv_ev('c_nan', '2026-03-02 10:01+08', 'Infinity', cash => true) IS NOT NULL AS ok;
SELECT lv_ev('c_neg', '2026-03-02 10:00+08', 50000, cash => true) IS NOT NULL AS ok;
SELECT lv_ev('c_neg', '2026-03-02 10:01+08', -10000, cash => true) IS NOT NULL AS ok;
SELECT * FROM lv_raise();
SELECT lv_ev('c_cum', '2026-03-02 23:00+08', 0.01, cash => true) IS NOT NULL AS ok;
SELECT lv_ev('c_dirs', '2026-03-02 12:00+08', 19999.99, dir => 'in', cash => true) IS NOT NULL AS ok;
-- the next batch: only the customers it touches; c_cum reaches 50,000.00, c_dirs' inflow 49,999.99
SELECT * FROM lv_raise();
SELECT lv_ev('c_dirs', '2026-03-02 13:00+08', 0.01, dir => 'in', cash => true) IS NOT NULL AS ok;
SELECT * FROM lv_raise();

-- ---- same day across midnight in Asia/Shanghai ----------------------------
-- 23:59 and 00:01 local are two days (the same UTC day): quiet
SELECT lv_ev('c_midnight', '2026-03-10 23:59+08', 30000, cash => true) IS NOT NULL AS ok;
SELECT lv_ev('c_midnight', '2026-03-11 00:01+08', 30000, cash => true) IS NOT NULL AS ok;
-- 00:30 and 23:30 local are one day (two UTC days): a hit on 2026-03-11
SELECT lv_ev('c_oneday', '2026-03-11 00:30+08', 25000, cash => true) IS NOT NULL AS ok;
SELECT lv_ev('c_oneday', '2026-03-11 23:30+08', 25000, cash => true) IS NOT NULL AS ok;
SELECT * FROM lv_raise();

-- ---- non-natural-person transfers (Art. 5 (2)): RMB 2,000,000 -------------
SELECT lv_ev('l_at', '2026-03-03 10:00+08', 2000000, ctype => 'legal') IS NOT NULL AS ok;
SELECT lv_ev('l_below', '2026-03-03 10:00+08', 1999999.99, ctype => 'legal') IS NOT NULL AS ok;
-- cross-border transfers of a non-natural person are in the same class
SELECT lv_ev('l_xb', '2026-03-03 10:00+08', 1000000, ctype => 'legal', xb => true) IS NOT NULL AS ok;
SELECT lv_ev('l_xb', '2026-03-03 11:00+08', 1000000, ctype => 'legal') IS NOT NULL AS ok;
-- a natural person's 1,999,999.99 transfer is not this class (it is the natural-person one)
SELECT lv_ev('n_big', '2026-03-03 10:00+08', 1999999.99) IS NOT NULL AS ok;

-- ---- natural-person domestic transfers (Art. 5 (3)): RMB 500,000 ----------
SELECT lv_ev('n_at', '2026-03-03 10:00+08', 500000, dir => 'in') IS NOT NULL AS ok;
SELECT lv_ev('n_below', '2026-03-03 10:00+08', 499999.99, dir => 'in') IS NOT NULL AS ok;
-- a legal person's 500,000 is below its class's threshold
SELECT lv_ev('l_half', '2026-03-03 10:00+08', 500000, ctype => 'legal') IS NOT NULL AS ok;

-- ---- natural-person cross-border transfers (Art. 5 (4)): RMB 200,000 ------
SELECT lv_ev('x_at', '2026-03-03 10:00+08', 200000, xb => true) IS NOT NULL AS ok;
SELECT lv_ev('x_below', '2026-03-03 10:00+08', 199999.99, xb => true) IS NOT NULL AS ok;
-- domestic and cross-border are cumulated apart: 150,000 + 150,000 fires neither
SELECT lv_ev('x_mixed', '2026-03-03 10:00+08', 150000, xb => true) IS NOT NULL AS ok;
SELECT lv_ev('x_mixed', '2026-03-03 11:00+08', 150000) IS NOT NULL AS ok;
SELECT * FROM lv_raise();

-- ---- foreign currency: USD equivalent, apart from RMB ----------------------
-- cash USD 10,000 fires; USD 9,999.99 does not
SELECT lv_ev('f_at', '2026-03-04 10:00+08', 10000, cash => true, cur => 'USD') IS NOT NULL AS ok;
SELECT lv_ev('f_below', '2026-03-04 10:00+08', 9999.99, cash => true, cur => 'USD') IS NOT NULL AS ok;
-- EUR at 7.8 and USD at 7.1 CNY: EUR 9,102.56 = USD 9,999.9955 (quiet); + EUR 0.01 = USD 10,000.0065
SELECT lv_ev('f_eur', '2026-03-04 10:00+08', 9102.56, cash => true, cur => 'EUR') IS NOT NULL AS ok;
SELECT lv_ev('f_eur2', '2026-03-04 10:00+08', 9102.56, cash => true, cur => 'EUR') IS NOT NULL AS ok;
SELECT lv_ev('f_eur2', '2026-03-04 10:05+08', 0.01, cash => true, cur => 'EUR') IS NOT NULL AS ok;
-- RMB 40,000 and USD 5,000 (RMB 35,500) the same day: neither group reaches its threshold
SELECT lv_ev('f_mixed', '2026-03-04 10:00+08', 40000, cash => true) IS NOT NULL AS ok;
SELECT lv_ev('f_mixed', '2026-03-04 11:00+08', 5000, cash => true, cur => 'USD') IS NOT NULL AS ok;
-- natural-person cross-border: USD 10,000 (not 100,000) fires; a legal person's USD 199,999.99 does not
SELECT lv_ev('f_xb', '2026-03-04 10:00+08', 10000, xb => true, cur => 'USD') IS NOT NULL AS ok;
SELECT lv_ev('f_dom', '2026-03-04 10:00+08', 99999.99, cur => 'USD') IS NOT NULL AS ok;
SELECT lv_ev('f_dom2', '2026-03-04 10:00+08', 100000, cur => 'USD') IS NOT NULL AS ok;
SELECT lv_ev('f_legal', '2026-03-04 10:00+08', 199999.99, ctype => 'legal', cur => 'USD') IS NOT NULL AS ok;
SELECT lv_ev('f_legal2', '2026-03-04 10:00+08', 200000, ctype => 'legal', cur => 'USD') IS NOT NULL AS ok;
SELECT * FROM lv_raise();

-- ---- history is bounded by the batch: later events are not read -----------
-- two payments in two batches: the second makes the hit; re-evaluating the
-- first batch alone (as a backtest does) sees only the first payment
SELECT lv_ev('h_cust', '2026-03-05 10:00+08', 30000, cash => true, ref => 'h1') IS NOT NULL AS ok;
SELECT * FROM lv_raise();
SELECT lv_ev('h_cust', '2026-03-05 11:00+08', 30000, cash => true, ref => 'h2') IS NOT NULL AS ok;
SELECT * FROM lv_raise();
SELECT event_id AS h1 FROM finsec.monitor_event WHERE table_id = :lv_table AND reference = 'h1' \gset
SELECT event_id AS h2 FROM finsec.monitor_event WHERE table_id = :lv_table AND reference = 'h2' \gset
SELECT count(*) AS hits_up_to_h1 FROM finsec._monitor_eval_large_value(
	(SELECT r FROM finsec.monitor_rule r WHERE r.rule_name = 'large_value.cash' AND r.state = 'active'), :h1, :h1);
SELECT count(*) AS hits_up_to_h2 FROM finsec._monitor_eval_large_value(
	(SELECT r FROM finsec.monitor_rule r WHERE r.rule_name = 'large_value.cash' AND r.state = 'active'), :h2, :h2);
-- the backtest of each class raises exactly the alerts the monitor raised
SELECT r.rule_name,
	   (SELECT count(*) FROM finsec.monitor_backtest(r.rule_name, 1) b WHERE b.entity IN (SELECT cust FROM lv_pay)) AS backtest,
	   (SELECT count(*) FROM finsec.alert a WHERE a.rule_name = r.rule_name AND a.entity IN (SELECT cust FROM lv_pay)) AS raised,
	   (SELECT count(*) FROM (SELECT b.entity, b.period, b.amount FROM finsec.monitor_backtest(r.rule_name, 1) b
							  EXCEPT SELECT a.entity, a.period, a.amount FROM finsec.alert a WHERE a.rule_name = r.rule_name) x
		 WHERE x.entity IN (SELECT cust FROM lv_pay)) AS differ
  FROM finsec.monitor_rule r WHERE r.kind = 'large_value' ORDER BY 1;

-- ---- the alerts and report candidates so far -------------------------------
SELECT rule_name, entity, period, hits, amount, cardinality(events) AS events, case_id IS NOT NULL AS in_case
  FROM finsec.alert WHERE kind = 'large_value' AND entity IN (SELECT cust FROM lv_pay) ORDER BY alert_id;
SELECT customer, customer_type, class, direction, currency_group, day, unit, total, amount, threshold,
	   payments, cardinality(events) AS events, payment_references[1] ~ '^ref-' AS refs, due_date, calendar_loaded, status
  FROM finsec.large_value_report WHERE customer IN (SELECT cust FROM lv_pay) ORDER BY report_id;
-- every report's events are its alert's (the alerts keep all of them here)
SELECT bool_and(lr.events <@ a.events) AS covered FROM finsec.large_value_report lr JOIN finsec.alert a USING (alert_id);
SELECT action, count(*) FROM finsec.audit WHERE event_type = 'monitor.large_value_report'
   AND object::bigint IN (SELECT report_id FROM finsec.large_value_report WHERE customer IN (SELECT cust FROM lv_pay))
 GROUP BY 1 ORDER BY 1;

-- ---- due dates across a holiday week: 30 September 2026 -> 13 October ------
SELECT lv_ev('d_nat', '2026-09-30 15:00+08', 600000, ref => 'TX-930-1') IS NOT NULL AS ok;
SELECT * FROM lv_raise();
SELECT report_id AS d_report, day, due_date, payments, total, payment_references, status
  FROM finsec.large_value_report WHERE customer = 'd_nat' \gset
SELECT :'day' AS day, :'due_date' AS due_date, :payments AS payments, :total AS total;
-- a later payment the same day extends the open alert and the pending candidate
SELECT lv_ev('d_nat', '2026-09-30 20:00+08', 1000, ref => 'TX-930-2') IS NOT NULL AS ok;
SELECT * FROM lv_raise();
SELECT report_id = :d_report AS same_report, payments, total, amount, payment_references, status
  FROM finsec.large_value_report WHERE customer = 'd_nat' ORDER BY report_id;
SELECT hits, cardinality(events) FROM finsec.alert WHERE entity = 'd_nat' AND kind = 'large_value';

-- a due date in a year the calendar has no rows for (2027): Monday to Friday, flagged
SELECT lv_ev('d_dec', '2026-12-28 10:00+08', 50000, cash => true) IS NOT NULL AS ok;
SELECT count(*) FROM lv_raise();
SELECT day, due_date, calendar_loaded FROM finsec.large_value_report WHERE customer = 'd_dec';

-- a rule whose class has no threshold fails (the core records it) rather than staying quiet
CREATE FUNCTION lv_try(p jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r finsec.monitor_rule;
BEGIN
	SELECT * INTO r FROM finsec.monitor_rule WHERE rule_name = 'large_value.cash';
	r.params := p;
	PERFORM finsec._monitor_eval_large_value(r, 1, 2);
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;
SELECT lv_try('{"class": "coins"}'), lv_try('{}');

-- ---- submit and exclude ----------------------------------------------------
SET SESSION AUTHORIZATION regress_lv_op;
SELECT status FROM finsec.large_value_submit(:d_report, '  ');                 -- S9M21: no reference
SELECT status FROM finsec.large_value_submit(NULL, 'R-1');                     -- 22004
SELECT status FROM finsec.large_value_submit(999999, 'R-1');                   -- 42704
SELECT status, submitted_by, submission_reference, submission_note
  FROM finsec.large_value_submit(:d_report, ' CAMLMAC-2026-0001 ', 'sent by test');
SELECT status FROM finsec.large_value_submit(:d_report, 'again');              -- S9M20: not pending
SELECT status FROM finsec.large_value_exclude(:d_report, 'too late');          -- S9M20
RESET SESSION AUTHORIZATION;
-- the submission settles the candidate's alert and its overdue alert (it was overdue at once: 2026-10-13 has passed)
SELECT rule_name, replace(period, :'d_report', '<d_report>') AS period, state, outcome, replace(note, :'d_report', '<d_report>') AS note
  FROM finsec.alert WHERE entity = 'd_nat' AND kind LIKE 'large_value%' ORDER BY alert_id;
-- a payment of the same day after the submission: a supplementary candidate covering only it
SELECT lv_ev('d_nat', '2026-09-30 21:00+08', 2000, ref => 'TX-930-3') IS NOT NULL AS ok;
SELECT * FROM lv_raise();
SELECT report_id = :d_report AS first, supplements = :d_report AS supplements_first, payments, total, amount,
	   payment_references, status
  FROM finsec.large_value_report WHERE customer = 'd_nat' ORDER BY report_id;
SELECT report_id AS s_report FROM finsec.large_value_report WHERE customer = 'd_nat' AND status = 'pending' \gset
SET SESSION AUTHORIZATION regress_lv_op;
SELECT status FROM finsec.large_value_exclude(:s_report, NULL);                -- S9M21
SELECT status FROM finsec.large_value_exclude(:s_report, E' \t\n ');           -- S9M21
SELECT status, excluded_by, exclusion_rationale
  FROM finsec.large_value_exclude(:s_report, 'correction of TX-930-2 between the customer''s own accounts');
RESET SESSION AUTHORIZATION;
-- nothing left uncovered: a repeated hit writes nothing
SELECT lv_ev('d_nat', '2026-09-30 22:00+08', 5, ok => false) IS NOT NULL AS ok;
SELECT * FROM lv_raise();
SELECT count(*) FROM finsec.large_value_report WHERE customer = 'd_nat';
SELECT action, object::bigint - :d_report AS report, description, detail->>'reference' AS reference, session_user_name
  FROM finsec.audit WHERE event_type = 'monitor.large_value_report' AND action IN ('submit', 'exclude') ORDER BY finsec_seq;

-- ---- large-value rules cannot be snoozed; the overdue rule can ------------
SET SESSION AUTHORIZATION regress_lv_op;
SELECT finsec.alert_snooze('large_value.cash', 'customer', 'c_single', '1 day', 'test');         -- S9M24
SELECT finsec.alert_snooze('large_value.overdue', 'customer', 'c_single', '1 day', 'test') AS snooze \gset
SELECT finsec.alert_unsnooze(:snooze, 'end of test');
RESET SESSION AUTHORIZATION;

-- ---- the calendar moves the due dates of pending candidates ---------------
SELECT report_id AS c_report, due_date FROM finsec.large_value_report WHERE customer = 'c_single' \gset
SELECT :'due_date' AS due_before;       -- 2 March 2026 + 5 working days
INSERT INTO finsec.working_day (day, working, name) VALUES ('2026-03-04', false, 'test holiday');
SELECT due_date FROM finsec.large_value_report WHERE report_id = :c_report;
SELECT detail->'report_due_dates_moved' AS moved FROM finsec.audit WHERE event_type = 'monitor.working_day' ORDER BY finsec_seq DESC LIMIT 1;
DELETE FROM finsec.working_day WHERE day = '2026-03-04';
SELECT due_date FROM finsec.large_value_report WHERE report_id = :c_report;

-- ---- overdue candidates are alerts ----------------------------------------
-- each round evaluates large_value.overdue: every pending candidate past its
-- due date has one open alert on its customer (period report:<id>), raised
-- once however many rounds pass; a candidate of today is not due yet
SELECT lv_ev('today', now(), 60000, cash => true) IS NOT NULL AS ok;
SELECT count(*) FROM lv_raise();
SELECT count(*) FROM lv_raise();
SELECT count(*) >= 16 AS overdue_pending, count(*) = count(a.alert_id) AS each_with_alert, bool_and(a.hits = 1) AS raised_once,
	   bool_and(a.value > 0 AND a.severity = 'high' AND a.case_id IS NOT NULL) AS days_overdue_high_in_case
  FROM finsec.large_value_report lr
  LEFT JOIN finsec.alert a ON a.rule_name = 'large_value.overdue' AND a.entity = lr.customer
						  AND a.period = 'report:' || lr.report_id AND a.state <> 'closed'
 WHERE lr.status = 'pending' AND lr.due_date < finsec._monitor_day(now());
SELECT count(*) AS today_overdue_alerts FROM finsec.alert WHERE rule_name = 'large_value.overdue' AND entity = 'today';
SELECT detail->>'report_id' = :'c_report' AS report, detail->>'due_date' AS due_date, detail->>'class' AS class
  FROM finsec.alert WHERE rule_name = 'large_value.overdue' AND period = 'report:' || :c_report;
-- the candidate's alert and its case: one case for the customer
SELECT count(DISTINCT case_id) AS cases FROM finsec.alert WHERE entity = 'c_single';

-- ---- thresholds change by two-person approval only ------------------------
SET SESSION AUTHORIZATION regress_lv_admin1;
SELECT finsec.request_change('monitor.large_value_threshold', 'cash', jsonb_build_object('cny_threshold', 60000, 'valid_from', '2026-03-01'));  -- S9M22
SELECT finsec.request_change('monitor.large_value_threshold', 'coins', '{"cny_threshold": 60000}');   -- 22023
SELECT finsec.request_change('monitor.large_value_threshold', 'cash', '{"cny": 60000}');              -- 22023
SELECT finsec.request_change('monitor.large_value_threshold', 'cash', '{"cny_threshold": -1}');       -- 22023
SELECT finsec.request_change('monitor.large_value_threshold', 'cash', '{"cny_threshold": "lots"}');   -- 22023
SELECT finsec.request_change('monitor.large_value_threshold', 'cash',
	jsonb_build_object('cny_threshold', 60000, 'valid_from', to_char(finsec._monitor_day(now()), 'YYYY-MM-DD'))) AS req \gset
SELECT finsec.approve(:req);                                                    -- S9R01: not by the requester
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lv_app;
SELECT finsec.approve(:req);                                                    -- 42501
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lv_admin2;
SELECT finsec.approve(:req) - 'valid_from' AS result;
RESET SESSION AUTHORIZATION;
SELECT class, cny_threshold, usd_threshold, request_id = :req AS by_request, recorded_by
  FROM finsec.large_value_threshold WHERE class = 'cash' ORDER BY valid_from;
-- today RMB 59,999.99 of cash is quiet, 60,000 fires; March keeps 50,000
SELECT lv_ev('t_below', now(), 59999.99, cash => true) IS NOT NULL AS ok;
SELECT lv_ev('t_at', now(), 60000, cash => true) IS NOT NULL AS ok;
SELECT lv_ev('t_march', '2026-03-20 10:00+08', 50000, cash => true) IS NOT NULL AS ok;
SELECT rule_name, entity, replace(period, to_char(finsec._monitor_day(now()), 'YYYY-MM-DD'), '<today>') AS period, amount, created
  FROM lv_raise();
SELECT entity, amount, detail->>'threshold' AS threshold FROM finsec.alert
 WHERE rule_name = 'large_value.cash' AND entity IN ('t_below', 't_at', 't_march') ORDER BY 1;
-- nobody writes thresholds or candidates directly
SET SESSION AUTHORIZATION regress_lv_admin1;
UPDATE finsec.large_value_threshold SET cny_threshold = 1;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lv_op;
UPDATE finsec.large_value_threshold SET cny_threshold = 1;
UPDATE finsec.large_value_report SET status = 'excluded';
RESET SESSION AUTHORIZATION;

-- ---- privileges ------------------------------------------------------------
SET SESSION AUTHORIZATION regress_lv_aud;
SELECT count(*) > 0 AS auditor_reads FROM finsec.large_value_report;
SELECT count(*) > 0 AS auditor_reads FROM finsec.large_value_threshold;
SELECT status FROM finsec.large_value_submit(:c_report, 'R-2');                -- 42501
SELECT status FROM finsec.large_value_exclude(:c_report, 'no');                -- 42501
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lv_app;
SELECT count(*) FROM finsec.large_value_report;                                 -- 42501
SELECT count(*) FROM finsec.large_value_threshold;                              -- 42501
SELECT status FROM finsec.large_value_submit(:c_report, 'R-2');                -- 42501
SELECT status FROM finsec.large_value_exclude(:c_report, 'no');                -- 42501
SELECT count(*) FROM finsec._monitor_eval_large_value_overdue(NULL, NULL, NULL); -- 42501
RESET SESSION AUTHORIZATION;
SELECT proname, array(SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END
						FROM aclexplode(proacl) a WHERE a.grantee <> proowner ORDER BY 1) AS granted_to
  FROM pg_proc
 WHERE pronamespace = 'finsec'::regnamespace AND proname ~ '^(_?large_value|_monitor_eval_large|_monitor_large|_working_day|is_working_day|working_days_after)'
 ORDER BY proname;

-- ---- clean up --------------------------------------------------------------
SET SESSION AUTHORIZATION regress_lv_admin1;
SELECT finsec.disable_monitoring('lv_pay', 'end of test') AS req \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lv_admin2;
SELECT finsec.approve(:req) IS NOT NULL AS disabled;
RESET SESSION AUTHORIZATION;
DELETE FROM finsec.alert WHERE kind LIKE 'large_value%';
DELETE FROM finsec.large_value_report;
DELETE FROM finsec.large_value_threshold WHERE request_id IS NOT NULL;
DELETE FROM finsec.monitor_event WHERE table_id = :lv_table;
DELETE FROM finsec.currency_rate WHERE source = 'test';
DROP TABLE lv_pay, lv_seen;
DROP FUNCTION lv_ev, lv_raise, lv_try;
-- enable_monitoring granted the table's owner the stamp trigger's function, which disabling keeps
DROP OWNED BY regress_lv_admin1;
DROP ROLE regress_lv_op, regress_lv_aud, regress_lv_app, regress_lv_admin1, regress_lv_admin2;
