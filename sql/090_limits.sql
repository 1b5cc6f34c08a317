--
-- 090_limits: transaction limits, account state and loss controls on the
-- application's own payments table (L1-L4, docs/limits.md).
--
\set VERBOSITY default
SET client_min_messages = notice;
CREATE TEMP TABLE refusals0 AS SELECT rule, refusals FROM finsec.limit_refusals();
-- Two administrators for two-person approval of policy changes, an
-- operator, an auditor and an application login.
SET client_min_messages = warning;
CREATE ROLE regress_lim_alice LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_lim_bob LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_lim_op LOGIN IN ROLE finsec_operator;
CREATE ROLE regress_lim_auditor LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress_lim_app LOGIN IN ROLE finsec_app;
SET client_min_messages = notice;
-- Errors that name a change request by its number, which depends on the
-- tests before this one, are shown with "N" for the number.
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	hint text;
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'request \d+', 'request N')
		   || coalesce(' HINT: ' || nullif(hint, ''), '');
END
$$;
-- No refusal of this database waits in the shared buffer.
SELECT waiting_here FROM finsec.limit_refusal_buffer();

CREATE TABLE lim_payments (
	id bigserial PRIMARY KEY,
	payer text NOT NULL,
	acct text NOT NULL,
	amount numeric NOT NULL,
	posted_at timestamptz,
	channel text NOT NULL DEFAULT 'app',
	tier int NOT NULL DEFAULT 1,
	kind text NOT NULL DEFAULT 'payment',
	payee text,
	class text,
	held boolean NOT NULL DEFAULT false,
	orig bigint
);

-- Columns are checked: names and types.
SELECT finsec.enable_limits('lim_payments', customer => 'nope');
SELECT finsec.enable_limits('lim_payments', customer => 'payer', amount => 'payer');
SELECT finsec.enable_limits('lim_payments', customer => 'payer', amount => 'amount', posted_at => 'kind');
SELECT finsec.enable_limits('lim_payments', customer => 'payer', amount => 'amount', auth_tier => 'kind');
SELECT finsec.enable_limits('finsec.limit_policy', customer => 'name', amount => 'max_amount');

SELECT finsec.enable_limits('lim_payments', customer => 'payer', amount => 'amount', account => 'acct',
	posted_at => 'posted_at', channel => 'channel', auth_tier => 'tier', kind => 'kind',
	counterparty => 'payee', account_class => 'class', settlement_hold => 'held',
	exempt_kinds => '{own_transfer}', payment_id => 'id', reversal_of => 'orig');
SELECT finsec.enable_limits('lim_payments', customer => 'payer');
SELECT relid, customer_column, account_column, reversal_kinds, exempt_kinds FROM finsec.limit_table;
SELECT * FROM finsec.status_limits();

-- Policies change only through two-person approval: an administrator
-- cannot write finsec.limit_policy.
SET SESSION AUTHORIZATION regress_lim_alice;
INSERT INTO finsec.limit_policy (name, period, max_amount) VALUES ('mine', 'day', 1);
UPDATE finsec.limit_policy SET max_amount = 1;
DELETE FROM finsec.limit_policy;

-- A bad policy is refused when it is requested, with nothing written.
\set SHOW_CONTEXT never
SELECT finsec.request_limit_policy('bad', 'week', 1000);
SELECT finsec.request_limit_policy('bad', 'day');
SELECT finsec.request_limit_policy('bad', 'day', -1);
SELECT finsec.request_limit_policy('bad', 'single', 1000, 5);
SELECT finsec.request_limit_policy('bad', 'day', max_count => 5, channel => '');
SELECT finsec.request_limit_policy('', 'day', 1000);
SELECT finsec.request_limit_policy(repeat('x', 64), 'day', 1000);
SELECT finsec.request_limit_policy('bad', 'day', 1000, relid => 'finsec.change_request_id_seq');
SELECT finsec.request_change('limits.policy_set', 'bad', '{"period": "day", "max_ammount": 1000}');
SELECT finsec.request_change('limits.policy_set', 'bad', '{"period": "day", "max_amount": "1000"}');
SELECT finsec.request_change('limits.policy_set', 'bad', '{"period": "day", "max_count": 2.5}');
SELECT finsec.request_change('limits.policy_set', 'bad', '{"period": "day", "max_count": 2, "relid": "lim_payments"}');
SELECT finsec.request_change('limits.preset', 'p', '{"policies": [{"name": "a", "period": "day", "max_count": 1}, {"name": "a", "period": "day", "max_count": 2}]}');
SELECT finsec.request_limit_policy_drop('no such policy');
SELECT finsec.request_limit_policy_enabled('no such policy', false);
SELECT count(*) AS nothing_requested FROM finsec.change_request WHERE kind LIKE 'limits.%';

-- Policies: a single-payment limit, tiered daily limits (tier 2 is the
-- stronger authentication), a yearly limit for class II accounts, a
-- lifetime limit for class I, a daily count and a per-channel daily limit.
SELECT finsec.request_limit_policy('single', 'single', 3000, reason => 'card scheme rule') AS req_single \gset
SELECT finsec.request_limit_policy('day tier 1', 'day', 1000, auth_tier => 1),
	   finsec.request_limit_policy('day tier 2', 'day', 5000, auth_tier => 2),
	   finsec.request_limit_policy('count', 'day', max_count => 5),
	   finsec.request_limit_policy('class II year', 'year', 6000, account_class => 'II'),
	   finsec.request_limit_policy('class I lifetime', 'lifetime', 1500, account_class => 'I'),
	   finsec.request_limit_policy('barcode day', 'day', 500, channel => 'barcode', relid => 'lim_payments',
								   source => 'risk team', note => 'level D codes') \gset
SELECT count(*) AS requested FROM finsec.change_request WHERE kind LIKE 'limits.%';
SELECT kind, target, payload->'policy'->'max_amount' AS max_amount, payload->'replaces' AS replaces,
	   requested_by, reason
  FROM finsec.change_request WHERE request_id = :req_single;
-- The requester cannot approve; until someone else does, nothing is written.
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :req_single));
SELECT count(*) AS no_policies_yet FROM finsec.limit_policy;
RESET SESSION AUTHORIZATION;
-- A second administrator approves: the policies are written in her
-- transaction, each recording the request that put it there.
SET SESSION AUTHORIZATION regress_lim_bob;
SELECT finsec.approve(request_id, 'checked') FROM finsec.change_request
 WHERE state = 'pending' AND kind = 'limits.policy_set' ORDER BY request_id;
RESET SESSION AUTHORIZATION;
SELECT name, relid, account_class, auth_tier, channel, period, max_amount, max_count, enabled, source, note
  FROM finsec.limit_policy ORDER BY policy_id;
SELECT count(*) AS approved_requests FROM finsec.limit_policy p
  JOIN finsec.change_request r USING (request_id)
 WHERE r.state = 'applied' AND r.requested_by = 'regress_lim_alice' AND r.decided_by = 'regress_lim_bob';
\set SHOW_CONTEXT errors

-- Within limits: the trigger writes server time into posted_at.
INSERT INTO lim_payments (payer, acct, amount) VALUES ('c1', 'a1', 600);
SELECT posted_at BETWEEN now() - interval '1 minute' AND statement_timestamp() AS server_time FROM lim_payments;
SELECT subject, bucket, day_amount, day_count, year_amount, life_amount, life_count FROM finsec.limit_usage;

-- The daily limit of tier 1: 400 left.  The refusal names the limit and
-- the remaining allowance, and the step-up hint the tier that would allow
-- it (SQLSTATE S9L02); nothing is written.
INSERT INTO lim_payments (payer, acct, amount) VALUES ('c1', 'a1', 500);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM lim_payments;
SELECT day_amount, day_count FROM finsec.limit_usage WHERE bucket = '';
INSERT INTO lim_payments (payer, acct, amount, tier) VALUES ('c1', 'a1', 500, 2);
INSERT INTO lim_payments (payer, acct, amount) VALUES ('c1', 'a1', 400);

-- The single-payment limit binds every tier: S9L01, no hint.
INSERT INTO lim_payments (payer, acct, amount, tier) VALUES ('c1', 'a1', 3000.01, 2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Refunds restore allowance (at most their original payment's amount:
-- sql/092_limits_controls.sql) and are not limited themselves; exempt
-- kinds are neither checked nor counted.
INSERT INTO lim_payments (payer, acct, amount, kind, orig)
	VALUES ('c1', 'a1', 300, 'refund', (SELECT min(id) FROM lim_payments WHERE acct = 'a1'));
SELECT day_amount, day_count FROM finsec.limit_usage WHERE bucket = '';
INSERT INTO lim_payments (payer, acct, amount) VALUES ('c1', 'a1', 300);
INSERT INTO lim_payments (payer, acct, amount, kind) VALUES ('c1', 'a1', 2500, 'own_transfer');
SELECT day_amount, day_count FROM finsec.limit_usage WHERE bucket = '';

-- The count limit: 5 payments a day (3 so far for a1).
INSERT INTO lim_payments (payer, acct, amount, tier) VALUES ('c1', 'a1', 1, 2), ('c1', 'a1', 1, 2);
INSERT INTO lim_payments (payer, acct, amount, tier) VALUES ('c1', 'a1', 1, 2);
INSERT INTO lim_payments (payer, acct, amount, tier) VALUES ('c1', 'a1', 1, 2);

-- Per channel: barcode payments at most 500 a day, other channels apart.
INSERT INTO lim_payments (payer, acct, amount, channel) VALUES ('c2', 'a2', 400, 'barcode');
INSERT INTO lim_payments (payer, acct, amount, channel) VALUES ('c2', 'a2', 200, 'barcode');
INSERT INTO lim_payments (payer, acct, amount, channel) VALUES ('c2', 'a2', 200, 'app');
SELECT bucket, day_amount FROM finsec.limit_usage WHERE subject = 'a2' ORDER BY bucket;

-- Account classes from the row: class I has 1500 for life.
INSERT INTO lim_payments (payer, acct, amount, class, tier) VALUES ('c3', 'a3', 1000, 'I', 2);
INSERT INTO lim_payments (payer, acct, amount, class, tier) VALUES ('c3', 'a3', 600, 'I', 2);

-- Day boundaries are Beijing days: usage of "yesterday" does not count.
UPDATE finsec.limit_usage SET day = day - 1 WHERE subject = 'a2';
INSERT INTO lim_payments (payer, acct, amount, channel) VALUES ('c2', 'a2', 450, 'barcode');
SELECT bucket, day = (statement_timestamp() AT TIME ZONE 'Asia/Shanghai')::date AS today, day_amount
  FROM finsec.limit_usage WHERE subject = 'a2' ORDER BY bucket;
-- The client cannot move the day boundary.
SET finsec.limit_timezone = 'UTC';

-- Account state: frozen accounts can neither pay nor be paid; the freeze is
-- audited with its law-enforcement reference.
INSERT INTO lim_payments (payer, acct, amount) VALUES ('c4', 'a4', 10);
SELECT finsec.freeze_account('a4', 'court order', 'ref-2025-001');
SELECT account, state, reason, reference, changed_by = current_user AS by_me FROM finsec.limit_account;
INSERT INTO lim_payments (payer, acct, amount) VALUES ('c4', 'a4', 10);
INSERT INTO lim_payments (payer, acct, amount, payee) VALUES ('c5', 'a5', 10, 'a4');
INSERT INTO lim_payments (payer, acct, amount, kind, orig)
	VALUES ('c4', 'a4', 10, 'refund', (SELECT min(id) FROM lim_payments WHERE acct = 'a4'));
SELECT finsec.unfreeze_account('a4', 'order lifted');
INSERT INTO lim_payments (payer, acct, amount, payee) VALUES ('c5', 'a5', 10, 'a4');
SELECT finsec.close_account('a4', 'customer request');
INSERT INTO lim_payments (payer, acct, amount, kind) VALUES ('c4', 'a4', 10, 'refund');
SELECT finsec.unfreeze_account('a4', 'reopen');
SELECT event_type, action, description FROM finsec.audit WHERE event_type LIKE 'limits.account%' ORDER BY finsec_seq;

-- Loss controls: a channel switched off, restricted kinds, settlement hold.
SELECT finsec.set_channel('wap', false, 'fraud wave');
INSERT INTO lim_payments (payer, acct, amount, channel) VALUES ('c6', 'a6', 10, 'wap');
SELECT finsec.set_channel('wap', true, 'resolved');
INSERT INTO lim_payments (payer, acct, amount, channel) VALUES ('c6', 'a6', 10, 'wap');
SELECT finsec.restrict_account('a6', '{withdrawal}', true, 'suspected takeover');
INSERT INTO lim_payments (payer, acct, amount, kind) VALUES ('c6', 'a6', 10, 'withdrawal');
INSERT INTO lim_payments (payer, acct, amount) VALUES ('c6', 'a6', 10) RETURNING held;
INSERT INTO lim_payments (payer, acct, amount, payee) VALUES ('c7', 'a7', 10, 'a6') RETURNING held;

-- Posted rows are immutable: financial fields cannot change, rows cannot
-- be deleted; other columns can.
UPDATE lim_payments SET amount = 1 WHERE acct = 'a6';
UPDATE lim_payments SET payee = 'x' WHERE acct = 'a6';
DELETE FROM lim_payments WHERE acct = 'a6';
UPDATE lim_payments SET held = false WHERE acct = 'a6';

-- Rebuilding usage from the payments table gives the same totals.
CREATE TEMP TABLE before AS SELECT * FROM finsec.limit_usage WHERE subject <> 'a2';
DELETE FROM finsec.limit_usage WHERE subject = 'a2';
SELECT finsec.rebuild_limit_usage('lim_payments') > 0 AS rebuilt;
SELECT * FROM before EXCEPT SELECT * FROM finsec.limit_usage;
SELECT * FROM finsec.limit_usage WHERE subject <> 'a2' EXCEPT SELECT * FROM before;

-- Refusals are counted per rule, though each refused payment rolled back.
SELECT r.rule, r.refusals - r0.refusals AS refusals
  FROM finsec.limit_refusals() r JOIN refusals0 r0 USING (rule)
 WHERE r.refusals > r0.refusals ORDER BY rule;

-- ...and each waits in shared memory to be recorded: one per refusal.
SELECT sum(r.refusals - r0.refusals) AS refused
  FROM finsec.limit_refusals() r JOIN refusals0 r0 USING (rule) \gset
SELECT waiting_here = :refused AS one_each, flushing, dropped FROM finsec.limit_refusal_buffer();
-- Who may record them: operators and administrators; auditors read the
-- records; the application does neither.
SET SESSION AUTHORIZATION regress_lim_auditor;
SELECT finsec.flush_limit_refusals();
SELECT count(*) FROM finsec.limit_refusal;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lim_app;
SELECT finsec.flush_limit_refusals();
SELECT count(*) FROM finsec.limit_refusal;
RESET SESSION AUTHORIZATION;
-- A flush that rolls back, or whose savepoint does, gives its refusals back
-- to the buffer; a flushing transaction cannot be prepared.
SET SESSION AUTHORIZATION regress_lim_op;
BEGIN;
SELECT finsec.flush_limit_refusals() > 0 AS flushed;
SELECT waiting_here, flushing > 0 AS held FROM finsec.limit_refusal_buffer();
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT finsec.flush_limit_refusals() > 0 AS flushed;
ROLLBACK TO SAVEPOINT s;
COMMIT;
BEGIN;
SELECT finsec.flush_limit_refusals() > 0 AS flushed;
PREPARE TRANSACTION 'regress_lim_flush';
SELECT count(*) AS nothing_recorded FROM finsec.limit_refusal;
SELECT waiting_here > 0 AS still_waiting, flushing FROM finsec.limit_refusal_buffer();
-- Committed, each refusal is one row, in the order they happened: rule,
-- table, policy, roles and time; never the payment's data.
SELECT finsec.flush_limit_refusals() = :refused AS all_recorded;
SELECT waiting_here, flushing FROM finsec.limit_refusal_buffer();
SELECT finsec.flush_limit_refusals() AS nothing_twice;
RESET SESSION AUTHORIZATION;
SELECT rule, relid = 'lim_payments'::regclass AS lim_payments, relation, policy,
	   db_user = current_user AS by_me, session_user_name = session_user AS session_me,
	   refused_at BETWEEN now() - interval '10 minutes' AND clock_timestamp() AS refused_recently,
	   recorded_at >= refused_at AS recorded_after
  FROM finsec.limit_refusal ORDER BY refusal_id;
-- A refusal in the application's own transaction: the payment rolls back,
-- its record does not.
GRANT INSERT ON lim_payments TO regress_lim_app;
GRANT USAGE ON SEQUENCE lim_payments_id_seq TO regress_lim_app;
SET SESSION AUTHORIZATION regress_lim_app;
BEGIN;
INSERT INTO lim_payments (payer, acct, amount) VALUES ('c8', 'a8', 5000);
ROLLBACK;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS no_payment FROM lim_payments WHERE acct = 'a8';
SELECT finsec.flush_limit_refusals();
SELECT rule, relation, policy, db_user, session_user_name FROM finsec.limit_refusal
 ORDER BY refusal_id DESC LIMIT 1;
SELECT max(refusal_id) AS last_refusal FROM finsec.limit_refusal \gset

-- Partitioned tables: one trigger, one usage per payer across partitions.
CREATE TABLE ppay (payer text, amount finsec.money, region int) PARTITION BY LIST (region);
CREATE TABLE ppay_1 PARTITION OF ppay FOR VALUES IN (1);
CREATE TABLE ppay_2 PARTITION OF ppay FOR VALUES IN (2);
SELECT finsec.enable_limits('ppay', customer => 'payer', amount => 'amount');
-- A policy names the partitioned table, not a partition.
\set SHOW_CONTEXT never
SET SESSION AUTHORIZATION regress_lim_alice;
SELECT finsec.request_limit_policy('ppay day', 'day', 100, relid => 'ppay_1');
RESET SESSION AUTHORIZATION;
\set SHOW_CONTEXT errors
-- A superuser can still write the table directly, outside two-person
-- control: the row has no request_id (docs/limits.md).
INSERT INTO finsec.limit_policy (name, relid, period, max_amount) VALUES ('ppay day', 'ppay', 'day', 100);
SELECT name, request_id FROM finsec.limit_policy WHERE name = 'ppay day';
INSERT INTO ppay VALUES ('p', 'CNY 60.00', 1);
INSERT INTO ppay VALUES ('p', 'CNY 50.00', 2);
INSERT INTO ppay VALUES ('p', 'CNY 40.00', 2);
SELECT relid::regclass, subject, day_amount FROM finsec.limit_usage WHERE relid = 'ppay'::regclass;

-- Disabling removes the trigger and, when asked, the usage (a superuser
-- acts at once; an administrator's call is a change request:
-- sql/092_limits_controls.sql).
SELECT finsec.disable_limits('ppay', reset_usage => true);
SELECT finsec.disable_limits('ppay', reset_usage => true);
SELECT count(*) FROM finsec.limit_usage WHERE relid = 'ppay'::regclass;
INSERT INTO ppay VALUES ('p', 'CNY 500.00', 2);
DROP TABLE ppay;
SELECT finsec.disable_limits('lim_payments');
DELETE FROM finsec.limit_policy;
DELETE FROM finsec.limit_account;
DELETE FROM finsec.limit_channel;
DROP TABLE lim_payments;
SELECT * FROM finsec.status_limits();

-- The optional PBOC [2015] No. 43 preset: one request for its six
-- documented policies, written when a second administrator approves.
\set SHOW_CONTEXT never
SET SESSION AUTHORIZATION regress_lim_alice;
SELECT finsec.limit_preset_pboc_2015_43(tier_weak => 2, tier_strong => 2);
SELECT finsec.limit_preset_pboc_2015_43() AS req_preset \gset
SELECT kind, target, jsonb_array_length(payload->'policies') AS policies, reason
  FROM finsec.change_request WHERE request_id = :req_preset;
SELECT count(*) AS no_policies_yet FROM finsec.limit_policy;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lim_bob;
SELECT jsonb_array_length(finsec.approve(:req_preset)->'policies') AS written;
RESET SESSION AUTHORIZATION;
SELECT name, account_class, auth_tier, channel, period, max_amount, request_id = :req_preset AS by_request
  FROM finsec.limit_policy ORDER BY policy_id;
SELECT count(*) FROM finsec.audit WHERE event_type = 'limits.policy' AND action = 'insert';

-- Replacing, disabling and dropping a policy go through approval too; the
-- change is enforced from the approver's commit on.
CREATE TABLE lim_pay2 (payer text, amount numeric);
SELECT finsec.enable_limits('lim_pay2', customer => 'payer', amount => 'amount');
SET SESSION AUTHORIZATION regress_lim_alice;
SELECT finsec.request_limit_policy('pay2 single', 'single', 100, relid => 'lim_pay2') AS req \gset
RESET SESSION AUTHORIZATION;
INSERT INTO lim_pay2 VALUES ('p', 150);		-- not approved yet: allowed
SET SESSION AUTHORIZATION regress_lim_bob;
SELECT finsec.approve(:req) ->> 'action' AS action;
RESET SESSION AUTHORIZATION;
INSERT INTO lim_pay2 VALUES ('p', 150);		-- refused now
SET SESSION AUTHORIZATION regress_lim_bob;	-- either admin may request
SELECT finsec.request_limit_policy('pay2 single', 'single', 200, relid => 'lim_pay2', note => 'raised') AS req \gset
SELECT payload->'replaces'->'max_amount' AS was, payload->'policy'->'max_amount' AS becomes
  FROM finsec.change_request WHERE request_id = :req;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lim_alice;
SELECT finsec.approve(:req) ->> 'action' AS action;
RESET SESSION AUTHORIZATION;
INSERT INTO lim_pay2 VALUES ('p', 150);		-- within the raised limit
INSERT INTO lim_pay2 VALUES ('p', 250);
SET SESSION AUTHORIZATION regress_lim_alice;
SELECT finsec.request_limit_policy_enabled('pay2 single', false, 'promotion day') AS req \gset
SELECT finsec.request_limit_policy_enabled('pay2 single', true);	-- it is enabled
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lim_bob;
SELECT finsec.approve(:req) ->> 'action' AS action;
RESET SESSION AUTHORIZATION;
INSERT INTO lim_pay2 VALUES ('p', 250);		-- disabled: allowed
SELECT name, max_amount, enabled, note FROM finsec.limit_policy WHERE name = 'pay2 single';

-- A request checked against a policy that changed before approval is not
-- applied: it stays pending until rejected.
SET SESSION AUTHORIZATION regress_lim_alice;
SELECT finsec.request_limit_policy_enabled('pay2 single', true) AS req_enable \gset
SELECT finsec.request_limit_policy_drop('pay2 single', 'not needed') AS req_drop \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lim_bob;
SELECT finsec.approve(:req_enable) ->> 'action' AS action;
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :req_drop));
SELECT state FROM finsec.change_request WHERE request_id = :req_drop;
SELECT finsec.reject(:req_drop, 'stale');
RESET SESSION AUTHORIZATION;

-- Rejected and cancelled requests leave the policies as they were.
SET SESSION AUTHORIZATION regress_lim_alice;
SELECT finsec.request_limit_policy_drop('pay2 single') AS req_drop \gset
SELECT finsec.request_limit_policy('pay2 new', 'day', 1, relid => 'lim_pay2') AS req_new \gset
SELECT finsec.reject(:req_new, 'changed my mind');	-- the requester: a cancellation
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lim_bob;
SELECT finsec.reject(:req_drop, 'keep it');
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :req_drop));
RESET SESSION AUTHORIZATION;
SELECT request_id = :req_drop AS is_drop, state, decided_by FROM finsec.change_request
 WHERE request_id IN (:req_drop, :req_new) ORDER BY request_id;
SELECT name, enabled FROM finsec.limit_policy WHERE relid = 'lim_pay2'::regclass;
INSERT INTO lim_pay2 VALUES ('p', 250);		-- enabled again: refused

-- Dropped through approval: no longer enforced.
SET SESSION AUTHORIZATION regress_lim_bob;
SELECT finsec.request_limit_policy_drop('pay2 single', 'retired') AS req_drop \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lim_alice;
SELECT finsec.approve(:req_drop) ->> 'action' AS action;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS pay2_policies FROM finsec.limit_policy WHERE relid = 'lim_pay2'::regclass;
INSERT INTO lim_pay2 VALUES ('p', 250);
-- Every change is in the ledger: the requests, the decisions, the rows.
SELECT event_type, action, count(*) FROM finsec.audit
 WHERE event_type IN ('change.request', 'change.approve', 'change.reject', 'change.cancel')
   AND object LIKE 'limits.%' OR event_type = 'limits.policy'
 GROUP BY 1, 2 ORDER BY 1, 2;
-- The refusals since: a table dropped before they were recorded has no name.
SELECT finsec.flush_limit_refusals();
SELECT rule, relid = 'lim_pay2'::regclass AS lim_pay2, relation, policy
  FROM finsec.limit_refusal WHERE refusal_id > :last_refusal ORDER BY refusal_id;

SELECT finsec.disable_limits('lim_pay2');
DROP TABLE lim_pay2;
DELETE FROM finsec.limit_policy;
DROP ROLE regress_lim_alice, regress_lim_bob, regress_lim_op, regress_lim_auditor, regress_lim_app;
