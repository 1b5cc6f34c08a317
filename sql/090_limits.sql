--
-- 090_limits: transaction limits, account state and loss controls on the
-- application's own payments table (L1-L4, docs/limits.md).
--
\set VERBOSITY default
SET client_min_messages = notice;
CREATE TEMP TABLE refusals0 AS SELECT rule, refusals FROM finsec.limit_refusals();

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
	held boolean NOT NULL DEFAULT false
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
	exempt_kinds => '{own_transfer}');
SELECT finsec.enable_limits('lim_payments', customer => 'payer');
SELECT relid, customer_column, account_column, reversal_kinds, exempt_kinds FROM finsec.limit_table;
SELECT * FROM finsec.status_limits();

-- Policies: a single-payment limit, tiered daily limits (tier 2 is the
-- stronger authentication), a yearly limit for class II accounts, a
-- lifetime limit for class I, a daily count and a per-channel daily limit.
INSERT INTO finsec.limit_policy (name, period, max_amount, max_count, auth_tier, account_class, channel) VALUES
	('single', 'single', 3000, NULL, NULL, NULL, NULL),
	('day tier 1', 'day', 1000, NULL, 1, NULL, NULL),
	('day tier 2', 'day', 5000, NULL, 2, NULL, NULL),
	('count', 'day', NULL, 5, NULL, NULL, NULL),
	('class II year', 'year', 6000, NULL, NULL, 'II', NULL),
	('class I lifetime', 'lifetime', 1500, NULL, NULL, 'I', NULL),
	('barcode day', 'day', 500, NULL, NULL, NULL, 'barcode');

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

-- Refunds restore allowance and are not limited themselves; exempt kinds
-- are neither checked nor counted.
INSERT INTO lim_payments (payer, acct, amount, kind) VALUES ('c1', 'a1', 300, 'refund');
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
SELECT finsec.freeze_account('a4', 'court order', 'ref-2025-001');
SELECT account, state, reason, reference, changed_by = current_user AS by_me FROM finsec.limit_account;
INSERT INTO lim_payments (payer, acct, amount) VALUES ('c4', 'a4', 10);
INSERT INTO lim_payments (payer, acct, amount, payee) VALUES ('c5', 'a5', 10, 'a4');
INSERT INTO lim_payments (payer, acct, amount, kind) VALUES ('c4', 'a4', 10, 'refund');
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

-- Partitioned tables: one trigger, one usage per payer across partitions.
CREATE TABLE ppay (payer text, amount finsec.money, region int) PARTITION BY LIST (region);
CREATE TABLE ppay_1 PARTITION OF ppay FOR VALUES IN (1);
CREATE TABLE ppay_2 PARTITION OF ppay FOR VALUES IN (2);
SELECT finsec.enable_limits('ppay', customer => 'payer', amount => 'amount');
INSERT INTO finsec.limit_policy (name, relid, period, max_amount) VALUES ('ppay day', 'ppay', 'day', 100);
INSERT INTO ppay VALUES ('p', 'CNY 60.00', 1);
INSERT INTO ppay VALUES ('p', 'CNY 50.00', 2);
INSERT INTO ppay VALUES ('p', 'CNY 40.00', 2);
SELECT relid::regclass, subject, day_amount FROM finsec.limit_usage WHERE relid = 'ppay'::regclass;

-- Disabling removes the trigger and the usage, symmetric to enabling.
SELECT finsec.disable_limits('ppay');
SELECT finsec.disable_limits('ppay');
SELECT count(*) FROM finsec.limit_usage WHERE relid = 'ppay'::regclass;
INSERT INTO ppay VALUES ('p', 'CNY 500.00', 2);
DROP TABLE ppay;
SELECT finsec.disable_limits('lim_payments');
DELETE FROM finsec.limit_policy;
DELETE FROM finsec.limit_account;
DELETE FROM finsec.limit_channel;
DROP TABLE lim_payments;
SELECT * FROM finsec.status_limits();

-- The optional PBOC [2015] No. 43 preset: documented policies, audited.
SELECT finsec.limit_preset_pboc_2015_43();
SELECT name, account_class, auth_tier, channel, period, max_amount FROM finsec.limit_policy ORDER BY policy_id;
SELECT count(*) FROM finsec.audit WHERE event_type = 'limits.policy' AND action = 'insert';
DELETE FROM finsec.limit_policy;
