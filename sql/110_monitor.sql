--
-- 110_monitor: transaction monitoring core (W1, R7, docs/monitor.md):
-- registration and its refusals, exactly-once batches (rolled back and
-- late payments), the threshold and data-quality rules, alerts
-- (deduplication, snoozes, cases, NOTIFY), two-person rule changes and
-- switch-off, rule validation, failing rules, backtest, status,
-- privileges.
--
\set VERBOSITY default
SET client_min_messages = warning;
CREATE ROLE regress_mon_alice LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_mon_bob LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_mon_op LOGIN IN ROLE finsec_operator;
CREATE ROLE regress_mon_auditor LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress_mon_app LOGIN IN ROLE finsec_app;
SET client_min_messages = notice;
SET timezone = 'Asia/Shanghai';
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '(request|alert|case|snooze) \d+', '\1 N', 'g');
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;

CREATE TABLE mon_pay (
	id bigserial PRIMARY KEY,
	cust text NOT NULL,
	amount numeric,
	at timestamptz NOT NULL DEFAULT now(),
	acct text,
	payee text,
	cur text DEFAULT 'CNY',
	dir text,
	ctype text,
	is_cash boolean,
	xborder boolean,
	ok boolean,
	note jsonb
);
ALTER TABLE mon_pay OWNER TO regress_mon_alice;
GRANT INSERT, SELECT ON mon_pay TO regress_mon_app;
GRANT USAGE ON SEQUENCE mon_pay_id_seq TO regress_mon_app;
INSERT INTO mon_pay (cust, amount) VALUES ('old', 1);

-- Registration: columns and types checked, owner only, admins only.
SET ROLE regress_mon_op;
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('mon_pay', customer => 'cust', posted_at => 'at')$$);
RESET ROLE;
SET SESSION AUTHORIZATION regress_mon_bob;
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('mon_pay', customer => 'cust', posted_at => 'at')$$);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_mon_alice;
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('mon_pay', customer => 'nope', posted_at => 'at')$$);
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('mon_pay', customer => 'cust', posted_at => 'acct')$$);
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('mon_pay', customer => 'cust', posted_at => 'at', amount => 'acct')$$);
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('mon_pay', customer => 'cust', posted_at => 'at', account => 'note')$$);
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('mon_pay', customer => 'cust', posted_at => 'at', account => 'cust')$$);
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('mon_pay', customer => 'cust', posted_at => 'at', cash => 'cur')$$);
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('mon_pay', customer => 'cust', posted_at => 'at', direction_default => 'sideways')$$);
SELECT pg_temp.try($$SELECT finsec.enable_monitoring(NULL)$$);
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('mon_pay', customer => 'cust', posted_at => 'at', backfill => '-1 day')$$);
-- a BEFORE row trigger that would run after finsec's stamp trigger could rewrite the stamp
RESET SESSION AUTHORIZATION;
CREATE FUNCTION mon_forge() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER zz_forge BEFORE INSERT ON mon_pay FOR EACH ROW EXECUTE FUNCTION mon_forge();
SET SESSION AUTHORIZATION regress_mon_alice;
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('mon_pay', customer => 'cust', posted_at => 'at')$$);
RESET SESSION AUTHORIZATION;
DROP TRIGGER zz_forge ON mon_pay;
SET SESSION AUTHORIZATION regress_mon_alice;
SELECT finsec.enable_monitoring('mon_pay', customer => 'cust', posted_at => 'at', account => 'acct',
	counterparty => 'payee', currency => 'cur', direction => 'dir', customer_type => 'ctype', cash => 'is_cash',
	cross_border => 'xborder', status => 'ok', reference => 'id');
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('mon_pay', customer => 'cust', posted_at => 'at')$$);
RESET SESSION AUTHORIZATION;
SELECT relid, customer_column, amount_column, stamp_column, payments FROM finsec.monitor_table;
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'mon_pay'::regclass ORDER BY 1;
SELECT indexdef FROM pg_indexes WHERE tablename = 'mon_pay' AND indexdef LIKE '%finsec_mon_txid%';
SELECT event_type, action, success FROM finsec.audit WHERE event_type = 'monitor.enable';
SELECT * FROM finsec.monitor_index_advice();

-- The row that existed before is not new; a forged stamp is overwritten.
SELECT count(*) FROM finsec.monitor_now();
SELECT count(*) FROM finsec.monitor_event;
SET ROLE regress_mon_app;
INSERT INTO mon_pay (cust, amount, finsec_mon_txid) VALUES ('c1', 10, '3');
RESET ROLE;
SELECT finsec_mon_txid = pg_current_xact_id() AS own_stamp FROM mon_pay WHERE cust = 'c1';
SELECT finsec_mon_txid::text::bigint > 3 AS stamped FROM mon_pay WHERE cust = 'c1';
-- an UPDATE keeps the stamp
UPDATE mon_pay SET finsec_mon_txid = '5' WHERE cust = 'c1';
SELECT finsec_mon_txid::text::bigint > 5 AS kept FROM mon_pay WHERE cust = 'c1';

-- A rule: single payments of at least 1,000 CNY (two-person).
SET SESSION AUTHORIZATION regress_mon_alice;
SELECT finsec.request_change('monitor.rule_set', 'test.big',
	'{"kind": "threshold", "entity": "customer", "params": {"min_amount_cny": 1000}, "category": "money_laundering"}') AS req \gset
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :req));
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_mon_bob;
SELECT finsec.approve(:req);
RESET SESSION AUTHORIZATION;
SELECT rule_name, version, kind, entity, params, state, created_by, approved_by FROM finsec.monitor_rule WHERE rule_name = 'test.big';

-- Exactly once: a rolled-back payment never appears, a savepoint's rolled-back row neither.
BEGIN;
INSERT INTO mon_pay (cust, amount) VALUES ('rolled', 5000);
ROLLBACK;
BEGIN;
INSERT INTO mon_pay (cust, amount) VALUES ('c2', 999.99);
SAVEPOINT s;
INSERT INTO mon_pay (cust, amount) VALUES ('sp', 5000);
ROLLBACK TO s;
INSERT INTO mon_pay (cust, amount, dir, ctype, is_cash, xborder, ok) VALUES ('c2', 1000, 'IN', 'corporate', true, true, false);
COMMIT;
SELECT relid, batches, payments, alerts, rules_failed FROM finsec.monitor_now();
SELECT customer, customer_type, direction, cash, cross_border, succeeded, currency, amount, amount_cny
  FROM finsec.monitor_event ORDER BY event_id;
SELECT relid, batches, payments, alerts FROM finsec.monitor_now();
SELECT rule_name, entity_type, entity, hits, amount, state, shadow, case_id IS NOT NULL AS has_case FROM finsec.alert;

-- Dedup: a second hit the same day extends the open alert; another customer gets its own.
INSERT INTO mon_pay (cust, amount) VALUES ('c2', 2000), ('c3', 1500);
SELECT relid, batches, payments, alerts FROM finsec.monitor_now();
SELECT entity, hits, amount, cardinality(events) AS events FROM finsec.alert ORDER BY alert_id;
-- each alert's case; c2's second alert (a new day) would join the same case
SELECT c.case_id IS NOT NULL, c.entities, c.state, c.alert_id = a.alert_id AS opened_by_alert
  FROM finsec.alert a JOIN finsec.risk_case c ON c.case_id = a.case_id ORDER BY a.alert_id;
INSERT INTO mon_pay (cust, amount, at) VALUES ('c2', 3000, now() + interval '1 day');
SELECT relid, batches, payments, alerts FROM finsec.monitor_now();
SELECT entity, period = to_char(now() + interval '1 day', 'YYYY-MM-DD') AS tomorrow, hits,
	   case_id = (SELECT case_id FROM finsec.alert WHERE entity = 'c2' ORDER BY alert_id LIMIT 1) AS same_case
  FROM finsec.alert WHERE entity = 'c2' ORDER BY alert_id;

-- Unvalued payments: NULL amount, a currency without a rate; counted and raised.
INSERT INTO mon_pay (cust, amount, cur) VALUES ('c4', NULL, 'CNY'), ('c5', 100, 'XXX'), ('c9', 'NaN', 'CNY'), ('c9', 'Infinity', 'CNY');
SELECT relid, batches, payments, alerts FROM finsec.monitor_now();
SELECT null_amounts, unknown_currencies FROM finsec.monitor_table;
-- NaN and Infinity are not valued: they hit no threshold
SELECT count(*) FROM finsec.alert WHERE entity = 'c9';
SELECT rule_name, entity_type, entity, value, detail FROM finsec.alert WHERE rule_name = 'monitor.data_quality';
-- with a rate, USD is converted
INSERT INTO finsec.currency_rate (currency, valid_from, cny_per_unit) VALUES ('USD', '2000-01-01', 7.1);
INSERT INTO mon_pay (cust, amount, cur) VALUES ('c6', 150, 'usd');
SELECT relid, batches, payments, alerts FROM finsec.monitor_now();
SELECT customer, currency, amount, amount_cny, amount_usd FROM finsec.monitor_event WHERE customer = 'c6';
SELECT entity, amount FROM finsec.alert WHERE entity = 'c6';

-- Snooze: hits are counted on the snooze, not raised.
SET ROLE regress_mon_op;
SELECT pg_temp.try($$SELECT finsec.alert_snooze('test.big', 'customer', 'c7', '1 day', '')$$);
SELECT pg_temp.try($$SELECT finsec.alert_snooze('test.big', 'customer', 'c7', '1000 days', 'known')$$);
SELECT pg_temp.try($$SELECT finsec.alert_snooze('test.big', 'device', 'c7', '1 day', 'known')$$);
SELECT finsec.alert_snooze('test.big', 'customer', 'c7', '1 day', 'payroll account, reviewed') AS snooze \gset
RESET ROLE;
INSERT INTO mon_pay (cust, amount) VALUES ('c7', 5000), ('c7', 6000);
SELECT relid, batches, payments, alerts FROM finsec.monitor_now();
SELECT count(*) FROM finsec.alert WHERE entity = 'c7';
SELECT suppressed FROM finsec.alert_snooze WHERE snooze_id = :snooze;
SET ROLE regress_mon_op;
SELECT finsec.alert_unsnooze(:snooze, 'reopened');
RESET ROLE;
INSERT INTO mon_pay (cust, amount) VALUES ('c7', 7000);
SELECT relid, batches, payments, alerts FROM finsec.monitor_now();
SELECT entity, hits FROM finsec.alert WHERE entity = 'c7';
SELECT event_type, action FROM finsec.audit WHERE event_type IN ('monitor.snooze', 'monitor.unsnooze') ORDER BY finsec_seq;

-- Operators assign and close; auditors read; the application sees nothing.
SET ROLE regress_mon_op;
SELECT finsec.alert_assign(alert_id) FROM finsec.alert WHERE entity = 'c3';
SELECT pg_temp.try(format('SELECT finsec.alert_close(%s, %L, NULL)', alert_id, 'false_positive')) FROM finsec.alert WHERE entity = 'c3';
SELECT pg_temp.try(format('SELECT finsec.alert_close(%s, %L, %L)', alert_id, 'maybe', 'x')) FROM finsec.alert WHERE entity = 'c3';
SELECT finsec.alert_close(alert_id, 'false_positive', 'salary') FROM finsec.alert WHERE entity = 'c3';
SELECT pg_temp.try(format('SELECT finsec.alert_close(%s, %L, %L)', alert_id, 'confirmed', 'again')) FROM finsec.alert WHERE entity = 'c3';
RESET ROLE;
SELECT entity, state, assignee, outcome, closed_by FROM finsec.alert WHERE entity = 'c3';
-- a new hit after the close opens a new alert
INSERT INTO mon_pay (cust, amount) VALUES ('c3', 1200);
SELECT relid, batches, payments, alerts FROM finsec.monitor_now();
SELECT entity, state, hits FROM finsec.alert WHERE entity = 'c3' ORDER BY alert_id;
SET ROLE regress_mon_auditor;
SELECT count(*) > 0 FROM finsec.alert;
SELECT pg_temp.try($$SELECT finsec.monitor_now()$$);
SELECT pg_temp.try($$SELECT finsec.alert_close(1, 'confirmed', 'x')$$);
RESET ROLE;
SET ROLE regress_mon_app;
SELECT pg_temp.try($$SELECT count(*) FROM finsec.alert$$);
SELECT pg_temp.try($$SELECT count(*) FROM finsec.monitor_event$$);
SELECT pg_temp.try($$SELECT finsec.monitor_now()$$);
SELECT pg_temp.try($$SELECT * FROM finsec.monitor_backtest('test.big')$$);
RESET ROLE;
SELECT rule_name, day IS NOT NULL, alerts, closed, false_positives FROM finsec.alert_statistics WHERE rule_name = 'test.big' ORDER BY day;

-- Rule validation when stored.
SET SESSION AUTHORIZATION regress_mon_alice;
SELECT pg_temp.try($$SELECT finsec.request_change('monitor.rule_set', 'x', '{"kind": "nope", "entity": "customer"}')$$);
SELECT pg_temp.try($$SELECT finsec.request_change('monitor.rule_set', 'x', '{"kind": "threshold", "entity": "planet", "params": {"min_amount_cny": 1}}')$$);
SELECT pg_temp.try($$SELECT finsec.request_change('monitor.rule_set', 'x', '{"kind": "threshold", "entity": "customer", "params": {}}')$$);
SELECT pg_temp.try($$SELECT finsec.request_change('monitor.rule_set', 'x', '{"kind": "threshold", "entity": "customer", "params": {"min_amount_cny": "1000"}}')$$);
SELECT pg_temp.try($$SELECT finsec.request_change('monitor.rule_set', 'x', '{"kind": "threshold", "entity": "customer", "params": {"min_amount_cny": -1}}')$$);
SELECT pg_temp.try($$SELECT finsec.request_change('monitor.rule_set', 'x', '{"kind": "threshold", "entity": "customer", "params": {"min_amount_cny": 1, "max": 2}}')$$);
SELECT pg_temp.try($$SELECT finsec.request_change('monitor.rule_set', 'x', '{"kind": "threshold", "entity": "customer", "params": {"min_amount_cny": 1, "direction": "up"}}')$$);
SELECT pg_temp.try($$SELECT finsec.request_change('monitor.rule_set', 'x', '{"kind": "threshold", "entity": "customer", "time_window": "-1 hour", "params": {"min_amount_cny": 1}}')$$);
SELECT pg_temp.try($$SELECT finsec.request_change('monitor.rule_set', 'x', '{"kind": "threshold", "entity": "customer", "time_window": "soon", "params": {"min_amount_cny": 1}}')$$);
SELECT pg_temp.try($$SELECT finsec.request_change('monitor.rule_set', 'x', '{"kind": "threshold", "entity": "customer", "params": {"min_amount_cny": 1}, "colour": "red"}')$$);
SELECT pg_temp.try($$SELECT finsec.request_change('monitor.rule_set', 'x', '{"kind": "threshold", "entity": "customer", "params": {"min_amount_cny": 1}, "category": "nope"}')$$);
SELECT pg_temp.try($$SELECT finsec.request_change('monitor.rule_set', 'Bad Name', '{"kind": "threshold", "entity": "customer", "params": {"min_amount_cny": 1}}')$$);
RESET SESSION AUTHORIZATION;

-- Backtest: a draft version over the batches so far, without writing; the active version equals what was raised.
SET SESSION AUTHORIZATION regress_mon_alice;
SELECT finsec.monitor_rule_draft('test.big', '{"kind": "threshold", "entity": "customer", "params": {"min_amount_cny": 1800}}') AS draft \gset
RESET SESSION AUTHORIZATION;
SELECT count(*) AS alerts_before FROM finsec.alert \gset
SELECT entity, hits FROM finsec.monitor_backtest('test.big', :draft) ORDER BY entity, period;
SELECT count(*) = :alerts_before AS nothing_written FROM finsec.alert;
-- the active version replayed: the same entities, periods and hits as the alerts, except the
-- hits a snooze suppressed (c7: two snoozed, one raised), which a backtest does not replay
SELECT b.entity, b.hits, a.hits AS raised
  FROM finsec.monitor_backtest('test.big') b
  FULL JOIN (SELECT entity, period, sum(hits) AS hits FROM finsec.alert WHERE rule_name = 'test.big' GROUP BY 1, 2) a
	USING (entity, period)
 WHERE b.hits IS DISTINCT FROM a.hits;
SELECT pg_temp.try($$SELECT * FROM finsec.monitor_backtest('test.nope')$$);
-- deploy the draft (two-person)
SET SESSION AUTHORIZATION regress_mon_alice;
SELECT finsec.request_change('monitor.rule_deploy', 'test.big', jsonb_build_object('version', :draft)) AS req \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_mon_bob;
SELECT finsec.approve(:req);
RESET SESSION AUTHORIZATION;
SELECT version, state FROM finsec.monitor_rule WHERE rule_name = 'test.big' ORDER BY version;

-- A rule that fails is recorded and does not stop the others or the batch.
SET SESSION AUTHORIZATION regress_mon_alice;
SELECT finsec.request_change('monitor.rule_set', 'test.zero', '{"kind": "threshold", "entity": "customer", "params": {"min_amount_cny": 0}}') AS req \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_mon_bob;
SELECT finsec.approve(:req) IS NOT NULL;
RESET SESSION AUTHORIZATION;
-- sabotage the kind's evaluator for one rule: a bad regex in the params is not possible, so break the data
UPDATE finsec.monitor_rule SET params = '{"min_amount_cny": "x", "direction": "any"}' WHERE rule_name = 'test.zero' AND state = 'active';
INSERT INTO mon_pay (cust, amount) VALUES ('c8', 5000);
SELECT relid, batches, payments, alerts, rules_failed FROM finsec.monitor_now();
SELECT rule_name, failures, last_sqlstate, last_error FROM finsec.monitor_rule_status WHERE rule_name = 'test.zero';
SELECT entity FROM finsec.alert WHERE entity = 'c8';
SELECT component, ok FROM finsec.status() WHERE component LIKE 'monitor%';
SELECT relid, payments, rules_failing FROM finsec.monitor_status;
-- retire it (two-person)
SET SESSION AUTHORIZATION regress_mon_alice;
SELECT finsec.request_change('monitor.rule_retire', 'test.zero') AS req \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_mon_bob;
SELECT finsec.approve(:req);
RESET SESSION AUTHORIZATION;
SELECT rule_name, state FROM finsec.monitor_rule WHERE rule_name = 'test.zero';

-- A large table: finsec does not build the stamp index while writers wait; with the DBA's
-- index built concurrently it registers, and backfills history without raising alerts.
GRANT CREATE ON SCHEMA public TO regress_mon_alice;
CREATE TABLE mon_big (id bigserial PRIMARY KEY, customer_id text, amount numeric, posted_at timestamptz);
ALTER TABLE mon_big OWNER TO regress_mon_alice;
INSERT INTO mon_big (customer_id, amount, posted_at)
	SELECT 'b' || g, 5000, now() - (g - 0.5) * interval '1 hour' FROM generate_series(1, 100) g;
ANALYZE mon_big;
SET finsec.monitor_index_build_limit = 10;
SET SESSION AUTHORIZATION regress_mon_alice;
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('mon_big')$$);
ALTER TABLE mon_big ADD COLUMN finsec_mon_txid xid8;
CREATE INDEX CONCURRENTLY mon_big_stamp ON mon_big (finsec_mon_txid);
SELECT finsec.enable_monitoring('mon_big', backfill => '2 days');
RESET SESSION AUTHORIZATION;
RESET finsec.monitor_index_build_limit;
SELECT b.backfill, b.payments, b.alerts FROM finsec.monitor_batch b JOIN finsec.monitor_table t USING (table_id)
 WHERE t.relid = 'mon_big'::regclass;
SELECT count(*) FROM finsec.alert WHERE entity LIKE 'b%';
SELECT relid, columns, present FROM finsec.monitor_index_advice() ORDER BY relid::text;
INSERT INTO mon_big (customer_id, amount, posted_at) VALUES ('b1', 5000, now());
SELECT relid, batches, payments, alerts FROM finsec.monitor_now() ORDER BY relid::text NULLS LAST;
SELECT entity, hits FROM finsec.alert WHERE entity LIKE 'b%';

-- Switching monitoring off takes two administrators.
SET SESSION AUTHORIZATION regress_mon_alice;
SELECT pg_temp.try($$SELECT finsec._disable_monitoring('mon_pay')$$);
SELECT finsec.disable_monitoring('mon_pay', 'retiring the table') AS req \gset
SELECT count(*) FROM finsec.monitor_table;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_mon_bob;
SELECT finsec.approve(:req);
RESET SESSION AUTHORIZATION;
SELECT count(*) FROM finsec.monitor_table;
SELECT count(*) FROM pg_trigger WHERE tgrelid = 'mon_pay'::regclass AND tgname = 'finsec_monitor_stamp';
SELECT count(*) > 0 AS events_kept FROM finsec.monitor_event;
SELECT event_type, success FROM finsec.audit WHERE event_type = 'monitor.disable';
