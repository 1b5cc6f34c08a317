--
-- 100_risk: real-time risk scoring (R1-R9, docs/risk.md): every rule kind
-- fires and stays quiet at its boundaries, shadow mode, lists (expiry,
-- side, CIDR, cards, phones), decisions and forces, explainable reasons,
-- minimal output for callers outside finsec_operator, the per-role rate
-- limit, degraded decisions, registration and parameter checks.
--
\set VERBOSITY default
SET client_min_messages = warning;
CREATE ROLE regress_risk_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_risk_op LOGIN IN ROLE finsec_operator;
SET client_min_messages = notice;
SET timezone = 'Asia/Shanghai';

CREATE TABLE risk_pay (
	id bigserial PRIMARY KEY,
	cust text NOT NULL,
	amount numeric NOT NULL,
	at timestamptz NOT NULL,
	acct text,
	payee text,
	device text,
	ip inet,
	phone text,
	geo point,
	region text,
	channel text,
	merchant text
);
GRANT SELECT ON risk_pay TO regress_risk_app;
-- The indexes history rules read (finsec.risk_index_advice() names them).
CREATE INDEX risk_pay_cust_at ON risk_pay (cust, at);
CREATE INDEX risk_pay_dev_at ON risk_pay (device, at);
CREATE INDEX risk_pay_ip_at ON risk_pay (ip, at);
CREATE INDEX risk_pay_pair_at ON risk_pay (cust, payee, at);
CREATE INDEX risk_pay_cust_dev ON risk_pay (cust, device);

-- Registration checks columns and types.
SELECT finsec.enable_risk('risk_pay', customer => 'nope', amount => 'amount', posted_at => 'at');
SELECT finsec.enable_risk('risk_pay', customer => 'cust', amount => 'cust', posted_at => 'at');
SELECT finsec.enable_risk('risk_pay', customer => 'cust', amount => 'amount', posted_at => 'region');
SELECT finsec.enable_risk('risk_pay', customer => 'cust', amount => 'amount', posted_at => 'at', geo => 'region');
SELECT finsec.enable_risk('risk_pay', customer => 'cust', amount => 'amount', posted_at => 'at', device => 'cust');
SELECT finsec.enable_risk('finsec.risk_rule', customer => 'name', amount => 'weight', posted_at => 'at');
SELECT finsec.enable_risk('risk_pay', customer => 'cust', amount => 'amount', posted_at => 'at',
	account => 'acct', counterparty => 'payee', device => 'device', ip => 'ip', phone => 'phone',
	geo => 'geo', region => 'region', channel => 'channel', merchant => 'merchant');
SELECT relid, customer_column, posted_at_column, device_column, geo_column FROM finsec.risk_table;
-- Registered, audited.
SELECT event_type, action, description FROM finsec.audit WHERE event_type LIKE 'risk.%' ORDER BY finsec_seq;

-- Rule parameters are checked when a rule is stored.
SELECT finsec._risk_check_rule('velocity', '{"entity": "customer", "window": "1 hour"}');
SELECT finsec._risk_check_rule('velocity', '{"entity": "customer", "window": "1 month", "max": 3}');
SELECT finsec._risk_check_rule('velocity', '{"entity": "customer", "window": "soon", "max": 3}');
SELECT finsec._risk_check_rule('velocity', '{"entity": "planet", "window": "1 hour", "max": 3}');
SELECT finsec._risk_check_rule('velocity', '{"entity": "customer", "window": "1 hour", "max": 3, "maxx": 4}');
SELECT finsec._risk_check_rule('velocity', '{"entity": "customer", "window": "1 hour", "max": 3, "of": "device"}');
SELECT finsec._risk_check_rule('threshold', '{"attribute": "amount", "op": "in", "values": ["1"]}');
SELECT finsec._risk_check_rule('threshold', '{"attribute": "channel", "op": ">", "value": "web"}');
SELECT finsec._risk_check_rule('list', '{"color": "black", "entity": "device", "side": "payee"}');
SELECT finsec._risk_check_rule('list', '{"color": "blue", "entity": "device"}');
SELECT finsec._risk_check_rule('time_of_day', '{"from": "25:00", "to": "05:00"}');
SELECT finsec._risk_check_rule('time_of_day', '{"from": "01:00", "to": "05:00", "timezone": "Mars/Olympus"}');
SELECT finsec._risk_check_rule('travel', '{"max_kmh": 900, "max_km": 5}');
SELECT finsec._risk_check_rule('structuring', '{"window": "1 day", "threshold": 50000, "below_pct": 100, "min_count": 3}');
SELECT finsec._risk_check_rule('model', '{"intercept": 1, "features": [{"feature": "shoe_size", "weight": 1}]}');
SELECT finsec._risk_check_rule('threshold', '{"attribute": "amount", "op": ">", "value": 1, "force": "allow"}');
SELECT finsec._risk_check_rule('threshold', '[1, 2]');
SELECT finsec._risk_check_rule('threshold', '{"attribute": "amount", "op": ">", "value": 1, "when": {"channel": ["web"], "colour": "red"}}');
INSERT INTO finsec.risk_ruleset (version) VALUES (1000);
INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category)
	VALUES (1000, 'bad', 'velocity', '{"entity": "customer"}', 1, 'X', 'card_not_present');
INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category)
	VALUES (1000, 'bad', 'threshold', '{"attribute": "amount", "op": ">", "value": 1}', 1, 'X', 'not_a_category');
SELECT count(*) FROM finsec.risk_rule WHERE ruleset_version = 1000;

-- No active ruleset: allow, degraded, nothing to explain.
SELECT decision, score, reasons, ruleset_version, degraded, decision_id
  FROM finsec.risk_score(customer => 'c0', amount => 1);

-- One ruleset with a rule of every kind.  Each rule applies only to the
-- payments of its own channel ("when"), so each block below exercises
-- one kind; thresholds: challenge 10, review 20, block 30.
INSERT INTO finsec.risk_ruleset (version, challenge_at, review_at, block_at) VALUES (1, 10, 20, 30);
INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category, mode) VALUES
 (1, 'amount_high', 'threshold', '{"attribute": "amount", "op": ">=", "value": 1000, "when": {"channel": ["thr"]}}', 10, 'AMOUNT_HIGH', 'card_not_present', 'enforce'),
 (1, 'mcc_gambling', 'threshold', '{"attribute": "mcc", "op": "in", "values": ["7995", "7801"], "when": {"channel": ["thr"]}}', 25, 'MCC_RISKY', 'illegal_fundraising', 'enforce'),
 (1, 'tier_low', 'threshold', '{"attribute": "auth_tier", "op": "<", "value": 2, "when": {"channel": ["thr"], "min_amount": 500}}', 5, 'WEAK_AUTH', 'account_takeover', 'enforce'),
 (1, 'cust_1h', 'velocity', '{"entity": "customer", "window": "1 hour", "max": 2, "when": {"channel": ["vel"]}}', 12, 'VEL_CUSTOMER', 'account_takeover', 'enforce'),
 (1, 'cust_sum_1d', 'velocity', '{"entity": "customer", "window": "1 day", "measure": "sum", "max": 1000, "when": {"channel": ["vel"]}}', 11, 'SUM_CUSTOMER', 'money_laundering', 'enforce'),
 (1, 'dev_payees', 'velocity', '{"entity": "device", "window": "1 day", "measure": "distinct", "of": "counterparty", "max": 2, "when": {"channel": ["vel"]}}', 7, 'DEVICE_FANOUT', 'telecom_fraud', 'enforce'),
 (1, 'pair_1d', 'velocity', '{"entity": "pair", "window": "1 day", "max": 1, "when": {"channel": ["vel"]}}', 3, 'PAIR_REPEAT', 'marketing_fraud', 'enforce'),
 (1, 'ip_10m', 'velocity', '{"entity": "ip", "window": "10 minutes", "max": 1, "when": {"channel": ["vel"]}}', 4, 'IP_BURST', 'card_not_present', 'enforce'),
 (1, 'new_device', 'first_seen', '{"of": "device", "when": {"channel": ["seen"]}}', 10, 'NEW_DEVICE', 'account_takeover', 'enforce'),
 (1, 'new_payee_90d', 'first_seen', '{"of": "counterparty", "lookback": "90 days", "when": {"channel": ["seen"]}}', 6, 'NEW_PAYEE', 'telecom_fraud', 'enforce'),
 (1, 'new_region', 'first_seen', '{"of": "region", "when": {"channel": ["seen"]}}', 4, 'NEW_REGION', 'account_takeover', 'shadow'),
 (1, 'smurfing', 'structuring', '{"window": "1 day", "threshold": 50000, "below_pct": 10, "min_count": 3, "when": {"channel": ["str"]}}', 30, 'STRUCTURING', 'money_laundering', 'enforce'),
 (1, 'night', 'time_of_day', '{"from": "00:00", "to": "05:00", "when": {"channel": ["tod"]}}', 10, 'NIGHT', 'card_not_present', 'enforce'),
 (1, 'late_utc', 'time_of_day', '{"from": "22:00", "to": "02:00", "timezone": "UTC", "when": {"channel": ["tod"]}}', 1, 'LATE_UTC', 'card_not_present', 'enforce'),
 (1, 'jump', 'travel', '{"max_kmh": 900, "min_km": 50, "when": {"channel": ["geo"]}}', 20, 'IMPOSSIBLE_TRAVEL', 'account_takeover', 'enforce'),
 (1, 'pos_moved', 'travel', '{"entity": "device", "max_km": 5, "when": {"channel": ["geo"]}}', 10, 'TERMINAL_MOVED', 'terminal_relocation', 'enforce'),
 (1, 'black_customer', 'list', '{"color": "black", "entity": "customer", "force": "block"}', 0, 'BLACKLISTED', 'account_takeover', 'enforce'),
 (1, 'grey_device', 'list', '{"color": "grey", "entity": "device"}', 15, 'GREY_DEVICE', 'account_takeover', 'enforce'),
 (1, 'black_ip', 'list', '{"color": "black", "entity": "ip", "force": "review"}', 5, 'BLACK_IP', 'card_not_present', 'enforce'),
 (1, 'black_payee', 'list', '{"color": "black", "entity": "account", "side": "payee"}', 30, 'BLACK_PAYEE', 'telecom_fraud', 'enforce'),
 (1, 'black_phone', 'list', '{"color": "black", "entity": "phone"}', 30, 'BLACK_PHONE', 'telecom_fraud', 'enforce'),
 (1, 'black_card', 'list', '{"color": "black", "entity": "card"}', 30, 'BLACK_CARD', 'card_not_present', 'enforce'),
 (1, 'merchant_unapproved', 'list', '{"color": "white", "entity": "merchant", "side": "payee", "absent": true, "force": "review", "when": {"channel": ["mq"]}}', 0, 'MERCHANT_UNAPPROVED', 'merchant_collusion', 'enforce'),
 (1, 'white_customer', 'list', '{"color": "white", "entity": "customer", "force": "allow"}', -100, 'TRUSTED', 'card_not_present', 'enforce'),
 (1, 'shadow_amount', 'threshold', '{"attribute": "amount", "op": ">", "value": 100, "when": {"channel": ["thr"]}}', 50, 'SHADOW_AMOUNT', 'card_not_present', 'shadow'),
 (1, 'off_rule', 'threshold', '{"attribute": "amount", "op": ">", "value": 0}', 99, 'OFF', 'card_not_present', 'off'),
 (1, 'model', 'model', '{"intercept": -6, "features": [{"feature": "log_amount", "weight": 0.5}, {"feature": "rule:cust_1h", "weight": 1.0}, {"feature": "fired:new_device", "weight": 2}], "min_probability": 0.5, "when": {"channel": ["mdl", "seen"]}}', 20, 'MODEL', 'account_takeover', 'enforce');
UPDATE finsec.risk_ruleset SET state = 'active', deployed_by = current_user, deployed_at = now() WHERE version = 1;

-- What a decision shows, compactly: decision, score, and per rule that
-- fired (or could not be evaluated) name=observed, "~" for shadow rules.
CREATE FUNCTION pg_temp.show(d finsec.risk_decision) RETURNS text LANGUAGE sql AS $$
	SELECT d.decision || ' ' || coalesce(d.score::text, '-') || coalesce(' ' || (
		SELECT string_agg(CASE WHEN r->>'mode' = 'shadow' THEN '~' ELSE '' END || (r->>'rule')
			|| CASE WHEN r ? 'unavailable' THEN '!unavailable' WHEN (r->>'partial')::boolean THEN '!partial' ELSE '' END
			|| '=' || coalesce(r->>'observed', ''), ' ' ORDER BY r->>'rule')
		  FROM jsonb_array_elements(d.reasons) r), '')
		|| CASE WHEN d.degraded THEN ' [degraded]' ELSE '' END
$$;

-- Thresholds: 999.99 is under ">= 1000", 1000 is not; "in" lists; the
-- tier rule applies only from 500 ("when"); shadow rules are reported and
-- not counted.
SELECT pg_temp.show(finsec.risk_score(customer => 't1', amount => 99.99, channel => 'thr'));
SELECT pg_temp.show(finsec.risk_score(customer => 't1', amount => 999.99, channel => 'thr', auth_tier => 2));
SELECT pg_temp.show(finsec.risk_score(customer => 't1', amount => 1000, channel => 'thr', auth_tier => 2));
SELECT pg_temp.show(finsec.risk_score(customer => 't1', amount => 499, channel => 'thr', auth_tier => 1));
SELECT pg_temp.show(finsec.risk_score(customer => 't1', amount => 500, channel => 'thr', auth_tier => 1, mcc => '7995'));
SELECT pg_temp.show(finsec.risk_score(customer => 't1', amount => 500, channel => 'web', auth_tier => 1, mcc => '7995'));

-- Velocity over the customer's committed history.  The payment scored
-- counts too: two earlier payments in the hour make three (> 2).
INSERT INTO risk_pay (cust, amount, at, payee, device, ip, channel) VALUES
	('v1', 100, '2026-03-10 11:00:00', 'p1', 'dv1', '10.0.0.1', 'vel'),	-- exactly 1 hour before: outside the window
	('v1', 300, '2026-03-10 11:20:00', 'p2', 'dv1', '10.0.0.1', 'vel'),
	('v1', 200, '2026-03-10 11:55:00', 'p2', 'dv1', '10.0.0.2', 'vel'),
	('v1', 999, '2026-03-10 12:30:00', 'p9', 'dv1', '10.0.0.2', 'vel');	-- after the payment: not counted
SELECT pg_temp.show(finsec.risk_score(customer => 'v1', amount => 100, channel => 'vel', at => '2026-03-10 12:00:00'));
SELECT pg_temp.show(finsec.risk_score(customer => 'v1', amount => 100, channel => 'vel', at => '2026-03-10 12:20:00.000001'));
-- sum over the day: 100 + 300 + 200 + 400 = 1000 is not above 1000; 400.01 is.
SELECT pg_temp.show(finsec.risk_score(customer => 'v1', amount => 400, channel => 'vel', at => '2026-03-10 12:00:00'));
SELECT pg_temp.show(finsec.risk_score(customer => 'v1', amount => 400.01, channel => 'vel', at => '2026-03-10 12:00:00'));
-- distinct counterparties of the device (p1, p2 + p3 = 3 > 2), payer->payee
-- pairs (v1->p2 twice before), IPs (10.0.0.2 once in 10 minutes + this one).
SELECT pg_temp.show(finsec.risk_score(customer => 'v1', amount => 1, channel => 'vel', device => 'dv1',
	counterparty => 'p3', at => '2026-03-10 12:00:00'));
SELECT pg_temp.show(finsec.risk_score(customer => 'v1', amount => 1, channel => 'vel', device => 'dv1',
	counterparty => 'p2', ip => '10.0.0.2', at => '2026-03-10 12:00:00'));
SELECT pg_temp.show(finsec.risk_score(customer => 'v1', amount => 1, channel => 'vel',
	ip => '10.0.0.2', at => '2026-03-10 12:05:00.000001'));
-- A payment that rolled back leaves no trace; one committed later counts.
BEGIN;
INSERT INTO risk_pay (cust, amount, at, channel) VALUES ('v2', 1, '2026-03-10 11:50:00', 'vel'), ('v2', 1, '2026-03-10 11:51:00', 'vel');
SELECT pg_temp.show(finsec.risk_score(customer => 'v2', amount => 1, channel => 'vel', at => '2026-03-10 12:00:00'));
ROLLBACK;
SELECT pg_temp.show(finsec.risk_score(customer => 'v2', amount => 1, channel => 'vel', at => '2026-03-10 12:00:00'));

-- First seen: a device, a counterparty within 90 days, a region (shadow).
INSERT INTO risk_pay (cust, amount, at, payee, device, region, channel) VALUES
	('s1', 10, '2026-03-01 10:00:00', 'q1', 'ds1', '310000', 'seen'),
	('s1', 10, '2025-10-01 10:00:00', 'q2', 'ds1', '310000', 'seen');
SELECT pg_temp.show(finsec.risk_score(customer => 's1', amount => 10, channel => 'seen', device => 'ds1',
	counterparty => 'q1', region => '310000', at => '2026-03-10 12:00:00'));
SELECT pg_temp.show(finsec.risk_score(customer => 's1', amount => 10, channel => 'seen', device => 'ds2',
	counterparty => 'q2', region => '110000', at => '2026-03-10 12:00:00'));
-- "earlier" means before the payment's time: at 2026-03-01 10:00 itself ds1 is new.
SELECT pg_temp.show(finsec.risk_score(customer => 's1', amount => 10, channel => 'seen', device => 'ds1',
	at => '2025-10-01 10:00:00'));

-- Structuring: payments in [45000, 50000) within a day; 44999.99 and
-- 50000 are outside the band.
INSERT INTO risk_pay (cust, amount, at, channel) VALUES
	('k1', 45000, '2026-03-10 09:00:00', 'str'),
	('k1', 44999.99, '2026-03-10 10:00:00', 'str'),
	('k1', 50000, '2026-03-10 10:30:00', 'str'),
	('k1', 49999.99, '2026-03-10 11:00:00', 'str');
SELECT pg_temp.show(finsec.risk_score(customer => 'k1', amount => 50000, channel => 'str', at => '2026-03-10 12:00:00'));
SELECT pg_temp.show(finsec.risk_score(customer => 'k1', amount => 45000, channel => 'str', at => '2026-03-10 12:00:00'));

-- Time of day in finsec.risk_timezone (Asia/Shanghai) and in UTC,
-- windows that wrap around midnight.
SELECT pg_temp.show(finsec.risk_score(customer => 'n1', amount => 1, channel => 'tod', at => '2026-03-10 04:59:59+08'));
SELECT pg_temp.show(finsec.risk_score(customer => 'n1', amount => 1, channel => 'tod', at => '2026-03-10 05:00:00+08'));
SELECT pg_temp.show(finsec.risk_score(customer => 'n1', amount => 1, channel => 'tod', at => '2026-03-10 01:59:00+00'));
SELECT pg_temp.show(finsec.risk_score(customer => 'n1', amount => 1, channel => 'tod', at => '2026-03-10 02:00:00+00'));

-- Travel: Beijing (116.40, 39.90) to Shanghai (121.47, 31.23) is about
-- 1067 km: impossible in one hour (> 900 km/h), possible in two.  A
-- terminal (device) more than 5 km from where it last paid has moved.
INSERT INTO risk_pay (cust, amount, at, device, geo, channel) VALUES
	('g1', 10, '2026-03-10 11:00:00', 'pos1', point(116.40, 39.90), 'geo'),
	('g1', 10, '2026-03-10 11:30:00', 'pos1', NULL, 'geo');
SELECT pg_temp.show(finsec.risk_score(customer => 'g1', amount => 10, channel => 'geo', geo => point(121.47, 31.23), at => '2026-03-10 12:00:00'));
SELECT pg_temp.show(finsec.risk_score(customer => 'g1', amount => 10, channel => 'geo', geo => point(121.47, 31.23), at => '2026-03-10 13:00:00'));
SELECT pg_temp.show(finsec.risk_score(customer => 'g2', amount => 10, channel => 'geo', device => 'pos1', geo => point(116.40, 39.94), at => '2026-03-10 12:00:00'));
SELECT pg_temp.show(finsec.risk_score(customer => 'g2', amount => 10, channel => 'geo', device => 'pos1', geo => point(116.40, 39.95), at => '2026-03-10 12:00:00'));

-- Lists: black customer forces block whatever the score; grey device
-- until it expires; black IP ranges; payee side; phones compared as
-- digits without +86; a white customer is allowed unless a block is forced.
-- (The superuser's direct writes: white entries by operators and administrators
-- are two-person, sql/102_risk_lists_two_person.sql.)
INSERT INTO finsec.risk_list_entry (color, entity_type, value, net, side, expires_at) VALUES
	('black', 'customer', 'bad1', NULL, 'any', NULL),
	('grey', 'device', 'dg1', NULL, 'any', '2026-03-10 12:00:00'),
	('black', 'ip', NULL, '192.0.2.0/24', 'any', NULL),
	('black', 'account', 'acc-mule', NULL, 'payee', NULL),
	('black', 'account', 'acc-payer-only', NULL, 'payer', NULL),
	('black', 'phone', '13800138000', NULL, 'any', NULL),
	('white', 'customer', 'vip1', NULL, 'any', NULL),
	('white', 'merchant', 'm-approved', NULL, 'payee', NULL),
	('white', 'customer', 'bad1', NULL, 'any', NULL);
SELECT pg_temp.show(finsec.risk_score(customer => 'bad1', amount => 1));
SELECT pg_temp.show(finsec.risk_score(customer => 'l1', amount => 1, device => 'dg1', at => '2026-03-10 11:59:59'));
SELECT pg_temp.show(finsec.risk_score(customer => 'l1', amount => 1, device => 'dg1', at => '2026-03-10 12:00:00'));
SELECT pg_temp.show(finsec.risk_score(customer => 'l1', amount => 1, ip => '192.0.2.77'));
SELECT pg_temp.show(finsec.risk_score(customer => 'l1', amount => 1, ip => '192.0.3.1'));
SELECT pg_temp.show(finsec.risk_score(customer => 'l1', amount => 1, counterparty => 'acc-mule'));
SELECT pg_temp.show(finsec.risk_score(customer => 'l1', amount => 1, account => 'acc-mule'));
SELECT pg_temp.show(finsec.risk_score(customer => 'l1', amount => 1, counterparty => 'acc-payer-only'));
SELECT pg_temp.show(finsec.risk_score(customer => 'l1', amount => 1, phone => '+86 138-0013-8000'));
SELECT pg_temp.show(finsec.risk_score(customer => 'vip1', amount => 1, phone => '+86 138-0013-8000'));
-- Merchant qualification (JR/T 0122 6.2.5.1): payments to a merchant not
-- on the approved (white) list are held for review.
SELECT pg_temp.show(finsec.risk_score(customer => 'l1', amount => 1, channel => 'mq', merchant => 'm-approved'));
SELECT pg_temp.show(finsec.risk_score(customer => 'l1', amount => 1, channel => 'mq', merchant => 'm-unknown'));
-- a removed entry no longer applies
UPDATE finsec.risk_list_entry SET removed_at = now(), removed_by = current_user WHERE value = 'acc-mule';
SELECT pg_temp.show(finsec.risk_score(customer => 'l1', amount => 1, counterparty => 'acc-mule'));

-- The model: a logistic regression over the amount and other rules'
-- findings, explained by per-feature contributions.
SELECT d.decision, r->>'observed' AS probability, r->'contributions' AS contributions
  FROM finsec.risk_score(customer => 'm1', amount => 1000000, channel => 'mdl') d,
	   jsonb_array_elements(d.reasons) r WHERE r->>'rule' = 'model';
SELECT pg_temp.show(finsec.risk_score(customer => 'm1', amount => 100000, channel => 'mdl'));
SELECT pg_temp.show(finsec.risk_score(customer => 'm1', amount => 1000000, channel => 'mdl'));
-- A full reason: rule, code, category, observed value, threshold, weight.
SELECT jsonb_pretty(reasons) FROM finsec.risk_score(customer => 'k1', amount => 45000, channel => 'str', at => '2026-03-10 12:00:00');
-- Non-allow decisions get a decision id (and are logged); plain allows do not.
SELECT decision, decision_id IS NOT NULL AS logged FROM finsec.risk_score(customer => 'bad1', amount => 1);
SELECT decision, decision_id IS NOT NULL AS logged FROM finsec.risk_score(customer => 'x1', amount => 1);

-- Minimal output (JR/T 0199 8.4 f): an application role gets the decision
-- and the codes of enforced rules, no score, observations or shadow rules.
SET ROLE regress_risk_app;
SELECT decision, score, reasons, ruleset_version, degraded
  FROM finsec.risk_score(customer => 'k1', amount => 45000, channel => 'str', at => '2026-03-10 12:00:00');
SELECT decision, score, reasons FROM finsec.risk_score(customer => 't1', amount => 1000, channel => 'thr', mcc => '7995');
-- it cannot read the rules or the lists
SELECT count(*) FROM finsec.risk_rule;
SELECT count(*) FROM finsec.risk_list_entry;
RESET ROLE;
SET ROLE regress_risk_op;
SELECT decision, score, jsonb_array_length(reasons) FROM finsec.risk_score(customer => 't1', amount => 1000, channel => 'thr', mcc => '7995');
RESET ROLE;

-- Rate limit per login role (8.4 g): 3 calls per second; the 4th within the
-- second is refused with S9X01.  The bucket is the session user's.
ALTER ROLE regress_risk_app SET finsec.risk_rate_limit = 3;
SET ROLE regress_risk_app;
SET finsec.risk_rate_limit = 3;
RESET ROLE;
SET finsec.risk_rate_limit = 3;
SET SESSION AUTHORIZATION regress_risk_app;
DO $$
DECLARE
	i int;
	d finsec.risk_decision;
BEGIN
	FOR i IN 1..4 LOOP
		d := finsec.risk_score(customer => 'rl', amount => 1);
		RAISE NOTICE 'call % allowed', i;
	END LOOP;
EXCEPTION WHEN SQLSTATE 'S9X01' THEN
	RAISE NOTICE 'refused: %', SQLERRM;
END
$$;
RESET SESSION AUTHORIZATION;
RESET finsec.risk_rate_limit;
SELECT decision, decisions > 0 AS counted FROM finsec.risk_stats() WHERE decision = 'rate_limited';

-- Degraded: history rules whose index is missing are reported
-- unavailable (never a sequential scan), and so is a history scan cut
-- short by finsec.risk_scan_limit unless what it saw already fires.
SELECT entity, columns, present, create_index FROM finsec.risk_index_advice('risk_pay') ORDER BY entity, columns;
DROP INDEX risk_pay_ip_at;
SELECT entity, columns, present, create_index FROM finsec.risk_index_advice('risk_pay') WHERE NOT present;
SELECT pg_temp.show(finsec.risk_score(customer => 'v1', amount => 1, channel => 'vel',
	ip => '10.0.0.2', at => '2026-03-10 12:05:00.000001'));
-- an index being built (not yet valid) is not used either
CREATE INDEX risk_pay_ip_at ON risk_pay (ip, at);
UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'risk_pay_ip_at'::regclass;
SELECT pg_temp.show(finsec.risk_score(customer => 'v1', amount => 1, channel => 'vel',
	ip => '10.0.0.2', at => '2026-03-10 12:05:00.000001'));
REINDEX INDEX risk_pay_ip_at;
UPDATE pg_index SET indisvalid = true WHERE indexrelid = 'risk_pay_ip_at'::regclass;
SELECT pg_temp.show(finsec.risk_score(customer => 'v1', amount => 1, channel => 'vel',
	ip => '10.0.0.2', at => '2026-03-10 12:05:00.000001'));
SET finsec.risk_scan_limit = 10;
INSERT INTO risk_pay (cust, amount, at, channel) SELECT 'busy', 1, '2026-03-10 11:00:00'::timestamptz + i * interval '1 second', 'x' FROM generate_series(1, 50) i;
SELECT pg_temp.show(finsec.risk_score(customer => 'busy', amount => 1, channel => 'vel', at => '2026-03-10 12:00:00'));
SELECT pg_temp.show(finsec.risk_score(customer => 'busy', amount => 1, channel => 'seen', device => 'new', at => '2026-03-10 12:00:00'));
RESET finsec.risk_scan_limit;
SELECT pg_temp.show(finsec.risk_score(customer => 'busy', amount => 1, channel => 'vel', at => '2026-03-10 12:00:00'));

-- The row variant reads the registered columns of a row of the table
-- (a payment about to be inserted: one already in the table would also
-- be counted in its own history).
SELECT pg_temp.show(finsec.risk_score(jsonb_populate_record(NULL::risk_pay,
	'{"id": 0, "cust": "k1", "amount": 45000, "at": "2026-03-10 12:00:00+08", "channel": "str"}')));
SELECT pg_temp.show(finsec.risk_score(jsonb_populate_record(NULL::risk_pay,
	'{"id": 0, "cust": "g1", "amount": 10, "at": "2026-03-10 12:00:00+08", "channel": "geo", "geo": "(121.47,31.23)"}')));
SELECT finsec.risk_score(r) FROM (SELECT 1 AS a) r;

-- Rules of a deployed version cannot change; a changed ruleset is seen by
-- the next call (compiled once per backend and change).
UPDATE finsec.risk_rule SET weight = 1 WHERE name = 'amount_high';
INSERT INTO finsec.risk_ruleset (version, challenge_at, review_at, block_at) VALUES (2, 1, 2, 3);
INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category)
	VALUES (2, 'any_amount', 'threshold', '{"attribute": "amount", "op": ">", "value": 0}', 5, 'ANY', 'card_not_present');
UPDATE finsec.risk_ruleset SET state = 'retired', retired_at = now() WHERE version = 1;
UPDATE finsec.risk_ruleset SET state = 'active', deployed_by = current_user, deployed_at = now() WHERE version = 2;
SELECT pg_temp.show(finsec.risk_score(customer => 't1', amount => 1)), (finsec.risk_score(customer => 't1', amount => 1)).ruleset_version;

-- Several registered tables: the caller names the one whose history applies.
CREATE TABLE risk_pay2 (cust text, amount numeric, posted_at timestamptz);
SELECT finsec.enable_risk('risk_pay2', customer => 'cust');
INSERT INTO finsec.risk_ruleset (version, challenge_at, review_at, block_at) VALUES (3, 10, 20, 30);
INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category)
	VALUES (3, 'vel', 'velocity', '{"entity": "customer", "window": "1 day", "max": 1}', 15, 'VEL', 'account_takeover');
UPDATE finsec.risk_ruleset SET state = 'retired', retired_at = now() WHERE version = 2;
UPDATE finsec.risk_ruleset SET state = 'active', deployed_by = current_user, deployed_at = now() WHERE version = 3;
SELECT finsec.risk_score(customer => 'v1', amount => 1);
SELECT pg_temp.show(finsec.risk_score(customer => 'v1', amount => 1, payments => 'risk_pay', at => '2026-03-10 12:00:00'));
SELECT pg_temp.show(finsec.risk_score(customer => 'v1', amount => 1, payments => 'risk_pay2', at => '2026-03-10 12:00:00'));
SELECT pg_temp.show(finsec.risk_score(customer => 'v1', amount => 1, payments => 'risk_pay_cust_at'));
SELECT finsec.disable_risk('risk_pay2');
SELECT finsec.disable_risk('risk_pay2');
-- With one table registered again, it is the default.
SELECT pg_temp.show(finsec.risk_score(customer => 'v1', amount => 1, at => '2026-03-10 12:00:00'));

SELECT finsec.disable_risk('risk_pay');
DROP TABLE risk_pay, risk_pay2;
DROP ROLE regress_risk_app, regress_risk_op;
