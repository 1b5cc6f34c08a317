--
-- 092_limits_controls: no single-person switch around limits, guards and
-- risk scoring (issue 14, class 6); application fields that cannot weaken
-- limits (class 7); the table owner's statements on a limited table
-- (class 5); enable_limits' argument checks and ATTACH PARTITION (class 9).
-- Every block below was an attack that worked on finsec 0.7.
--
\set VERBOSITY default
-- In a database of its own: the ledger rows these attacks leave are
-- immutable and would otherwise show in later tests.
SELECT current_database() AS regress_db \gset
CREATE DATABASE regress_ctl_limits;
\c regress_ctl_limits
CREATE EXTENSION finsec;
\set VERBOSITY default
SET client_min_messages = warning;
CREATE ROLE regress_ctl_adm1 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ctl_adm2 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ctl_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_ctl_owner LOGIN;
CREATE ROLE regress_ctl_op LOGIN IN ROLE finsec_operator;
SET client_min_messages = notice;
-- Outcome of a statement: ok, or SQLSTATE and message (request numbers as N).
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'request \d+', 'request N');
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;

-- The application's schema, owned by the application's owner, as usual.
CREATE SCHEMA ctl AUTHORIZATION regress_ctl_owner;
SET SESSION AUTHORIZATION regress_ctl_owner;
CREATE TABLE ctl.pay (
	id bigserial PRIMARY KEY,
	payer text NOT NULL,
	amount numeric NOT NULL,
	kind text NOT NULL DEFAULT 'payment',
	orig bigint,
	posted_at timestamptz
);
CREATE TABLE ctl.ppay (id bigint NOT NULL, payer text NOT NULL, amount numeric NOT NULL,
	kind text NOT NULL DEFAULT 'payment', orig bigint, region int NOT NULL) PARTITION BY LIST (region);
CREATE TABLE ctl.ppay_1 PARTITION OF ctl.ppay FOR VALUES IN (1);
CREATE TABLE ctl.plain (id bigserial, payer text, amount numeric, kind text DEFAULT 'payment');
GRANT USAGE ON SCHEMA ctl TO PUBLIC;
GRANT SELECT, INSERT ON ctl.pay, ctl.ppay, ctl.plain TO regress_ctl_app;
GRANT USAGE ON SEQUENCE ctl.pay_id_seq, ctl.plain_id_seq TO regress_ctl_app;
GRANT TRIGGER ON ctl.pay, ctl.ppay, ctl.plain TO finsec_admin;
GRANT SELECT ON ctl.pay TO finsec_admin;
GRANT UPDATE (orig, amount) ON ctl.pay TO regress_ctl_app;
RESET SESSION AUTHORIZATION;

-- ---- class 9: a kind both reversal and exempt (list_member on strings) ----
SELECT pg_temp.try($$SELECT finsec.enable_limits('ctl.pay', customer => 'payer', kind => 'kind',
	reversal_kinds => '{refund}', exempt_kinds => '{refund}')$$);

-- ---- set up: limits on ctl.pay with reversals tied to payments --------------
SELECT pg_temp.try($$SELECT finsec.enable_limits('ctl.pay', customer => 'payer', kind => 'kind',
	payment_id => 'id')$$);
SELECT pg_temp.try($$SELECT finsec.enable_limits('ctl.pay', customer => 'payer', kind => 'kind',
	payment_id => 'id', reversal_of => 'payer')$$);
SELECT finsec.enable_limits('ctl.pay', customer => 'payer', kind => 'kind', posted_at => 'posted_at',
	payment_id => 'id', reversal_of => 'orig') IS NULL AS no_request;
SELECT finsec.enable_limits('ctl.ppay', customer => 'payer', kind => 'kind',
	payment_id => 'id', reversal_of => 'orig') IS NULL AS no_request;
SELECT finsec.enable_limits('ctl.plain', customer => 'payer', kind => 'kind') IS NULL AS no_request;
SET SESSION AUTHORIZATION regress_ctl_adm1;
SELECT finsec.request_limit_policy('ctl day', 'day', 1000) AS req \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ctl_adm2;
SELECT finsec.approve(:req) ->> 'action' AS action;
RESET SESSION AUTHORIZATION;

-- ---- class 7: NaN and Infinity are no amounts -------------------------------
SET SESSION AUTHORIZATION regress_ctl_app;
INSERT INTO ctl.pay (payer, amount) VALUES ('c1', 600);
SELECT pg_temp.try($$INSERT INTO ctl.pay (payer, amount) VALUES ('c1', 'NaN')$$);
SELECT pg_temp.try($$INSERT INTO ctl.pay (payer, amount, kind, orig) VALUES ('c1', 'NaN', 'refund', 1)$$);
SELECT pg_temp.try($$INSERT INTO ctl.pay (payer, amount) VALUES ('c1', 'Infinity')$$);
SELECT pg_temp.try($$INSERT INTO ctl.pay (payer, amount, kind, orig) VALUES ('c1', 'Infinity', 'refund', 1)$$);
RESET SESSION AUTHORIZATION;
SELECT subject, day_amount, day_count, life_amount FROM finsec.limit_usage
 WHERE relid = 'ctl.pay'::regclass ORDER BY subject;
-- not through a policy either (a superuser's direct write; requests take JSON numbers only)
SELECT pg_temp.try($$INSERT INTO finsec.limit_policy (name, period, max_amount) VALUES ('nan', 'day', 'NaN')$$);
SELECT pg_temp.try($$INSERT INTO finsec.limit_policy (name, period, max_amount) VALUES ('inf', 'day', 'Infinity')$$);

-- ---- class 7: a reversal names a posted payment of the same payer -----------
SET SESSION AUTHORIZATION regress_ctl_app;
INSERT INTO ctl.pay (payer, amount) VALUES ('c2', 300);
-- a fake refund, naming nothing or no payment, restores nothing
SELECT pg_temp.try($$INSERT INTO ctl.pay (payer, amount, kind) VALUES ('c1', 500, 'refund')$$);
SELECT pg_temp.try($$INSERT INTO ctl.pay (payer, amount, kind, orig) VALUES ('c1', 500, 'refund', 999999)$$);
-- another payer's payment
SELECT pg_temp.try(format($$INSERT INTO ctl.pay (payer, amount, kind, orig) VALUES ('c1', 100, 'refund', %s)$$,
	(SELECT id FROM ctl.pay WHERE payer = 'c2')));
-- more than the payment, at once or in parts
SELECT pg_temp.try(format($$INSERT INTO ctl.pay (payer, amount, kind, orig) VALUES ('c1', 600.01, 'refund', %s)$$,
	(SELECT id FROM ctl.pay WHERE payer = 'c1' AND kind = 'payment')));
SELECT pg_temp.try(format($$INSERT INTO ctl.pay (payer, amount, kind, orig) VALUES ('c1', 400, 'refund', %s)$$,
	(SELECT id FROM ctl.pay WHERE payer = 'c1' AND kind = 'payment')));
SELECT pg_temp.try(format($$INSERT INTO ctl.pay (payer, amount, kind, orig) VALUES ('c1', 200.01, 'refund', %s)$$,
	(SELECT id FROM ctl.pay WHERE payer = 'c1' AND kind = 'payment')));
SELECT pg_temp.try(format($$INSERT INTO ctl.pay (payer, amount, kind, orig) VALUES ('c1', 200, 'refund', %s)$$,
	(SELECT id FROM ctl.pay WHERE payer = 'c1' AND kind = 'payment')));
-- a refund of a refund
SELECT pg_temp.try(format($$INSERT INTO ctl.pay (payer, amount, kind, orig) VALUES ('c1', 1, 'refund', %s)$$,
	(SELECT min(id) FROM ctl.pay WHERE payer = 'c1' AND kind = 'refund')));
-- the reference of a posted payment cannot change
SELECT pg_temp.try($$UPDATE ctl.pay SET orig = NULL WHERE kind = 'refund'$$);
-- a table without a reference column takes no reversals
SELECT pg_temp.try($$INSERT INTO ctl.plain (payer, amount, kind) VALUES ('c1', 500, 'refund')$$);
RESET SESSION AUTHORIZATION;
SELECT payment = (SELECT id FROM ctl.pay WHERE payer = 'c1' AND kind = 'payment')::text AS same_payment,
	   subject, amount, reversed FROM finsec.limit_reversal WHERE relid = 'ctl.pay'::regclass;
SELECT subject, day_amount, day_count FROM finsec.limit_usage
 WHERE relid = 'ctl.pay'::regclass ORDER BY subject;

-- ---- class 7: exempt kinds are a two-person decision ------------------------
SET SESSION AUTHORIZATION regress_ctl_adm1;
SELECT finsec.disable_limits('ctl.plain') AS req \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ctl_adm2;
SELECT finsec.approve(:req) ->> 'action' AS action;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ctl_adm1;
SELECT finsec.enable_limits('ctl.plain', customer => 'payer', kind => 'kind',
	exempt_kinds => '{own_transfer}') AS req \gset
SELECT kind, payload->'exempt_kinds' AS exempt_kinds, requested_by FROM finsec.change_request WHERE request_id = :req;
SELECT exempt_kinds FROM finsec.limit_table WHERE relid = 'ctl.plain'::regclass;
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :req));
RESET SESSION AUTHORIZATION;
-- until approved, the "exempt" kind is counted and checked
SET SESSION AUTHORIZATION regress_ctl_app;
SELECT pg_temp.try($$INSERT INTO ctl.plain (payer, amount, kind) VALUES ('e1', 1500, 'own_transfer')$$);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ctl_adm2;
SELECT finsec.approve(:req) ->> 'action' AS action;
RESET SESSION AUTHORIZATION;
SELECT exempt_kinds FROM finsec.limit_table WHERE relid = 'ctl.plain'::regclass;
SET SESSION AUTHORIZATION regress_ctl_app;
SELECT pg_temp.try($$INSERT INTO ctl.plain (payer, amount, kind) VALUES ('e1', 1500, 'own_transfer')$$);
RESET SESSION AUTHORIZATION;

-- ---- class 6: disabling limits takes two administrators, and keeps usage ----
SET SESSION AUTHORIZATION regress_ctl_app;
INSERT INTO ctl.pay (payer, amount) VALUES ('c3', 800);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ctl_adm1;
SELECT finsec.disable_limits('ctl.pay', 'maintenance') AS req \gset
SELECT kind, target, payload->'reset_usage' AS reset_usage, state FROM finsec.change_request WHERE request_id = :req;
SELECT count(*) AS limited FROM finsec.limit_table WHERE relid = 'ctl.pay'::regclass;
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :req));
-- nor can the requester call what approval calls
SELECT pg_temp.try($$SELECT finsec._disable_limits('ctl.pay', true)$$);
RESET SESSION AUTHORIZATION;
-- still enforced until a second administrator approves
SET SESSION AUTHORIZATION regress_ctl_app;
SELECT pg_temp.try($$INSERT INTO ctl.pay (payer, amount) VALUES ('c3', 300)$$);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ctl_adm2;
SELECT finsec.approve(:req) ->> 'action' AS action;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS limited FROM finsec.limit_table WHERE relid = 'ctl.pay'::regclass;
SELECT subject, day_amount FROM finsec.limit_usage WHERE relid = 'ctl.pay'::regclass ORDER BY subject;
SET SESSION AUTHORIZATION regress_ctl_app;
SELECT pg_temp.try($$INSERT INTO ctl.pay (payer, amount) VALUES ('c3', 300)$$);
RESET SESSION AUTHORIZATION;
-- re-enabled, the kept usage still counts
SET SESSION AUTHORIZATION regress_ctl_adm1;
SELECT finsec.enable_limits('ctl.pay', customer => 'payer', kind => 'kind', posted_at => 'posted_at',
	payment_id => 'id', reversal_of => 'orig') IS NULL AS no_request;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ctl_app;
SELECT pg_temp.try($$INSERT INTO ctl.pay (payer, amount) VALUES ('c3', 300)$$);
RESET SESSION AUTHORIZATION;
-- forgetting usage must be part of the approved request
SET SESSION AUTHORIZATION regress_ctl_adm1;
SELECT finsec.disable_limits('ctl.pay', 'new configuration', reset_usage => true) AS req \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ctl_adm2;
SELECT finsec.approve(:req) ->> 'action' AS action;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS usage_rows FROM finsec.limit_usage WHERE relid = 'ctl.pay'::regclass;
SELECT count(*) AS reversal_rows FROM finsec.limit_reversal WHERE relid = 'ctl.pay'::regclass;
SELECT finsec.enable_limits('ctl.pay', customer => 'payer', kind => 'kind', posted_at => 'posted_at',
	payment_id => 'id', reversal_of => 'orig') IS NULL AS no_request;

-- ---- class 6: guards and risk scoring likewise ------------------------------
SET SESSION AUTHORIZATION regress_ctl_owner;
CREATE TABLE ctl.orders (id int PRIMARY KEY, status text NOT NULL, paid_amount numeric);
CREATE TABLE ctl.refunds (id serial PRIMARY KEY, order_id int NOT NULL, amount numeric NOT NULL);
GRANT TRIGGER ON ctl.orders, ctl.refunds TO finsec_admin;
GRANT SELECT, INSERT, UPDATE ON ctl.orders, ctl.refunds TO regress_ctl_app;
GRANT USAGE ON SEQUENCE ctl.refunds_id_seq TO regress_ctl_app;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ctl_adm1;
SELECT finsec.enable_order_guard('ctl.orders');
SELECT finsec.enable_refund_guard('ctl.refunds', 'ctl.orders');
SELECT finsec.enable_risk('ctl.pay', customer => 'payer', posted_at => 'posted_at');
SELECT finsec.disable_refund_guard('ctl.refunds', 'test') AS req_refund,
	   finsec.disable_order_guard('ctl.orders', 'test') AS req_order,
	   finsec.disable_risk('ctl.pay', 'test') AS req_risk \gset
SELECT kind, state FROM finsec.change_request WHERE request_id IN (:req_refund, :req_order, :req_risk) ORDER BY request_id;
SELECT (SELECT count(*) FROM finsec.order_guard WHERE relid = 'ctl.orders'::regclass) AS order_guards,
	   (SELECT count(*) FROM finsec.refund_guard WHERE relid = 'ctl.refunds'::regclass) AS refund_guards,
	   (SELECT count(*) FROM finsec.risk_table WHERE relid = 'ctl.pay'::regclass) AS risk_tables;
RESET SESSION AUTHORIZATION;
-- the guards still hold; NaN is no paid amount
SET SESSION AUTHORIZATION regress_ctl_app;
INSERT INTO ctl.orders VALUES (1, 'paid', 100);
SELECT pg_temp.try($$INSERT INTO ctl.refunds (order_id, amount) VALUES (1, 100.01)$$);
SELECT pg_temp.try($$INSERT INTO ctl.orders VALUES (2, 'paid', 'NaN')$$);
SELECT pg_temp.try($$INSERT INTO ctl.refunds (order_id, amount) VALUES (1, 'NaN')$$);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ctl_adm2;
SELECT finsec.approve(:req_refund) ->> 'action' AS action;
SELECT finsec.approve(:req_order) ->> 'action' AS action;
SELECT finsec.approve(:req_risk) ->> 'action' AS action;
RESET SESSION AUTHORIZATION;
SELECT (SELECT count(*) FROM finsec.order_guard WHERE relid = 'ctl.orders'::regclass) AS order_guards,
	   (SELECT count(*) FROM finsec.refund_guard WHERE relid = 'ctl.refunds'::regclass) AS refund_guards,
	   (SELECT count(*) FROM finsec.risk_table WHERE relid = 'ctl.pay'::regclass) AS risk_tables;

-- ---- class 7: a NaN row in a scored table does not poison velocity sums -----
CREATE TABLE ctl.rpay (id serial, cust text, amount numeric, at timestamptz DEFAULT now());
CREATE INDEX ON ctl.rpay (cust, at);
SELECT finsec.enable_risk('ctl.rpay', customer => 'cust', posted_at => 'at');
INSERT INTO finsec.risk_ruleset (version, challenge_at, review_at, block_at) VALUES (1, 10, 20, 30);
INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category, mode) VALUES
 (1, 'cust_sum_1d', 'velocity', '{"entity": "customer", "window": "1 day", "measure": "sum", "max": 1000}',
  11, 'SUM_CUSTOMER', 'money_laundering', 'enforce');
UPDATE finsec.risk_ruleset SET state = 'active', deployed_by = current_user, deployed_at = now() WHERE version = 1;
INSERT INTO ctl.rpay (cust, amount) VALUES ('n1', 100), ('n1', 'NaN'), ('n2', 995);
SELECT decision, score, degraded FROM finsec.risk_score(customer => 'n1', amount => 10, payments => 'ctl.rpay');
SELECT decision, score, degraded FROM finsec.risk_score(customer => 'n2', amount => 10, payments => 'ctl.rpay');
SELECT pg_temp.try($$SELECT finsec.risk_score(customer => 'n1', amount => 'NaN', payments => 'ctl.rpay')$$);
UPDATE finsec.risk_ruleset SET state = 'retired' WHERE version = 1;

-- ---- class 6: lifting a loss control takes two administrators -------------
-- freezing, restricting and switching off stay single-person
SET SESSION AUTHORIZATION regress_ctl_op;
SELECT finsec.freeze_account('c9', 'court order', 'ref-9');
SELECT finsec.set_channel('kiosk', false, 'fraud wave') IS NULL AS at_once;
SELECT finsec.restrict_account('c8', '{withdrawal}', true, 'suspected takeover', 'I') IS NULL AS at_once;
-- lifting them is not for one operator ...
SELECT pg_temp.try($$SELECT finsec.unfreeze_account('c9', 'order lifted')$$);
SELECT pg_temp.try($$SELECT finsec.set_account_state('c9', 'normal', 'order lifted')$$);
SELECT pg_temp.try($$SELECT finsec.set_channel('kiosk', true, 'resolved')$$);
SELECT pg_temp.try($$SELECT finsec.restrict_account('c8', '{}', false, 'cleared')$$);
SELECT pg_temp.try($$SELECT finsec._set_account_state_now('c9', 'normal', 'order lifted')$$);
RESET SESSION AUTHORIZATION;
-- ... nor for one administrator: each is a request
SET SESSION AUTHORIZATION regress_ctl_adm1;
SELECT finsec.unfreeze_account('c9', 'order lifted', 'ref-9-lift') AS req_unfreeze,
	   finsec.set_channel('kiosk', true, 'resolved') AS req_channel,
	   finsec.restrict_account('c8', '{withdrawal}', false, 'hold lifted') AS req_hold,
	   finsec.restrict_account('c8', '{withdrawal}', true, 'upgrade', 'III') AS req_class \gset
SELECT kind, state FROM finsec.change_request
 WHERE request_id IN (:req_unfreeze, :req_channel, :req_hold, :req_class) ORDER BY request_id;
RESET SESSION AUTHORIZATION;
SELECT account, state, account_class, restricted_kinds, hold_settlement FROM finsec.limit_account ORDER BY account;
SET SESSION AUTHORIZATION regress_ctl_app;
SELECT pg_temp.try($$INSERT INTO ctl.pay (payer, amount) VALUES ('c9', 1)$$);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ctl_adm2;
SELECT finsec.approve(:req_unfreeze) ->> 'action' AS action;
SELECT finsec.approve(:req_channel) ->> 'action' AS action;
SELECT finsec.approve(:req_hold) ->> 'action' AS action;
-- pinned: the hold was lifted since the class request was filed
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :req_class));
SELECT finsec.reject(:req_class, 'stale');
RESET SESSION AUTHORIZATION;
SELECT account, state, account_class, restricted_kinds, hold_settlement FROM finsec.limit_account ORDER BY account;
SELECT channel, enabled FROM finsec.limit_channel;
SET SESSION AUTHORIZATION regress_ctl_app;
SELECT pg_temp.try($$INSERT INTO ctl.pay (payer, amount) VALUES ('c9', 1)$$);
RESET SESSION AUTHORIZATION;
DELETE FROM finsec.limit_account;
DELETE FROM finsec.limit_channel;

-- ---- class 5: the table owner's statements ----------------------------------
SET SESSION AUTHORIZATION regress_ctl_owner;
SELECT pg_temp.try('ALTER TABLE ctl.pay DISABLE TRIGGER finsec_limits');
SELECT pg_temp.try('ALTER TABLE ctl.pay DISABLE TRIGGER ALL');
SELECT pg_temp.try('ALTER TABLE ctl.pay DISABLE TRIGGER USER');
SELECT pg_temp.try('ALTER TABLE ctl.pay ENABLE REPLICA TRIGGER finsec_limits');
SELECT pg_temp.try('ALTER TABLE ctl.ppay_1 DISABLE TRIGGER finsec_limits');
SELECT pg_temp.try('ALTER TABLE ctl.ppay DISABLE TRIGGER finsec_limits');
SELECT pg_temp.try('DROP TRIGGER finsec_limits ON ctl.pay');
SELECT pg_temp.try('DROP TRIGGER finsec_limits ON ctl.ppay_1');
SELECT pg_temp.try('ALTER TRIGGER finsec_limits ON ctl.pay RENAME TO x');
SELECT pg_temp.try('CREATE OR REPLACE TRIGGER finsec_limits BEFORE INSERT ON ctl.pay FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()');
SELECT pg_temp.try('CREATE TRIGGER zz_after BEFORE INSERT ON ctl.pay FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()');
SELECT pg_temp.try('TRUNCATE ctl.pay');
SELECT pg_temp.try('TRUNCATE ctl.ppay_1');
SELECT pg_temp.try('CREATE TABLE ctl.child () INHERITS (ctl.pay)');
CREATE TABLE ctl.loose (LIKE ctl.pay);
SELECT pg_temp.try('ALTER TABLE ctl.loose INHERIT ctl.pay');
SELECT pg_temp.try('ALTER TABLE ctl.ppay DETACH PARTITION ctl.ppay_1');
SELECT pg_temp.try('DROP TABLE ctl.ppay_1');
-- class 9: a partition attached by the owner gets the limit trigger
-- (enable_limits granted the owner EXECUTE on the trigger function)
RESET SESSION AUTHORIZATION;
SELECT has_function_privilege('regress_ctl_owner', 'finsec.limit_trigger()', 'EXECUTE') AS owner_may_clone;
SET SESSION AUTHORIZATION regress_ctl_owner;
CREATE TABLE ctl.ppay_2 (LIKE ctl.ppay);
SELECT pg_temp.try($$ALTER TABLE ctl.ppay ATTACH PARTITION ctl.ppay_2 FOR VALUES IN (2)$$);
SELECT pg_temp.try($$CREATE TABLE ctl.ppay_3 PARTITION OF ctl.ppay FOR VALUES IN (3)$$);
SELECT tgrelid::regclass, tgname, tgenabled FROM pg_trigger
 WHERE tgrelid IN ('ctl.ppay_1'::regclass, 'ctl.ppay_2'::regclass, 'ctl.ppay_3'::regclass) ORDER BY 1;
-- a forged limit trigger (by an owner who may use finsec's schema): on a
-- table that is not limited, or under another name
RESET SESSION AUTHORIZATION;
GRANT finsec_app TO regress_ctl_owner;
SET SESSION AUTHORIZATION regress_ctl_owner;
SELECT pg_temp.try($$CREATE TRIGGER finsec_limits BEFORE INSERT ON ctl.loose FOR EACH ROW
	EXECUTE FUNCTION finsec.limit_trigger('payer', 'amount', '', '', '', '', 'kind', '', '', '', '0', 'own_transfer')$$);
SELECT pg_temp.try($$INSERT INTO ctl.loose (id, payer, amount) VALUES (1, 'x', 1)$$);
SELECT pg_temp.try($$CREATE TRIGGER a_limits BEFORE INSERT ON ctl.ppay_2 FOR EACH ROW
	EXECUTE FUNCTION finsec.limit_trigger('payer', 'amount', '', '', '', '', 'kind', '', '', '', '0')$$);
SELECT pg_temp.try($$INSERT INTO ctl.ppay VALUES (20, 'x', 1, 'payment', NULL, 2)$$);
SELECT pg_temp.try('DROP TRIGGER a_limits ON ctl.ppay_2');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ctl_app;
SELECT pg_temp.try($$INSERT INTO ctl.ppay VALUES (21, 'p', 700, 'payment', NULL, 2)$$);
SELECT pg_temp.try($$INSERT INTO ctl.ppay VALUES (22, 'p', 400, 'payment', NULL, 3)$$);
SELECT pg_temp.try($$INSERT INTO ctl.ppay VALUES (23, 'p', 300, 'refund', 21, 1)$$);
SELECT pg_temp.try($$INSERT INTO ctl.ppay VALUES (24, 'p', 400, 'payment', NULL, 3)$$);
RESET SESSION AUTHORIZATION;
-- TRUNCATE is refused for everyone; a superuser's other statements are flagged
SELECT pg_temp.try('TRUNCATE ctl.pay');
SELECT ok FROM finsec.status_limits();
ALTER TABLE ctl.ppay_1 DISABLE TRIGGER finsec_limits;
SELECT ok, detail FROM finsec.status_limits();
ALTER TABLE ctl.ppay_1 ENABLE TRIGGER finsec_limits;
CREATE TABLE ctl.child () INHERITS (ctl.pay);
SELECT ok, detail FROM finsec.status_limits();
DROP TABLE ctl.child;
CREATE TRIGGER zz_late BEFORE UPDATE ON ctl.ppay FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
SELECT ok, detail FROM finsec.status_limits();
DROP TRIGGER zz_late ON ctl.ppay;
SELECT ok FROM finsec.status_limits();

-- clean up
SELECT finsec.disable_limits('ctl.pay', reset_usage => true), finsec.disable_limits('ctl.ppay', reset_usage => true),
	   finsec.disable_limits('ctl.plain', reset_usage => true);
DELETE FROM finsec.limit_policy WHERE name = 'ctl day';
SELECT finsec.flush_limit_refusals() > 0 AS refusals_recorded;
SET client_min_messages = warning;
DROP SCHEMA ctl CASCADE;
RESET client_min_messages;
\c :regress_db
DROP DATABASE regress_ctl_limits WITH (FORCE);
DROP ROLE regress_ctl_adm1, regress_ctl_adm2, regress_ctl_app, regress_ctl_owner, regress_ctl_op;
