-- finsec demo: what finsec does so far.  scripts/demo runs this file against
-- a throwaway cluster with finsec preloaded; errors shown here are expected.
\pset footer off

-- Installing finsec creates schema finsec and five group roles.
CREATE EXTENSION finsec;

-- Is everything in place?  One row per component.
SELECT * FROM finsec.status();

-- The separation-of-duties roles (requirement A6).
SELECT rolname, shobj_description(oid, 'pg_authid') AS duty
  FROM pg_roles WHERE rolname LIKE 'finsec\_%' ORDER BY rolname;

-- Every finsec setting, with who may change it and when.
SELECT name, setting, context, short_desc
  FROM pg_settings WHERE name LIKE 'finsec.%' ORDER BY name;

-- Deny by default: a role outside finsec's roles cannot even see the schema.
CREATE ROLE demo_clerk LOGIN;
SET ROLE demo_clerk;
SELECT * FROM finsec.status();
RESET ROLE;

-- Membership in a finsec role grants exactly that role's duty.
GRANT finsec_auditor TO demo_clerk;
SET ROLE demo_clerk;
SELECT component, ok FROM finsec.status();
RESET ROLE;

-- ===================================================================
-- The audit ledger (docs/audit.md)
-- ===================================================================

-- The application records auditable events; finsec adds who, when, where.
CREATE ROLE demo_app LOGIN IN ROLE finsec_app;
SET ROLE demo_app;
SELECT finsec.audit_event('payment.refund', object => 'order:20261122-0001',
       action => 'refund', description => 'refund of 12.00 CNY',
       detail => '{"amount": "12.00", "currency": "CNY"}', subject => 'teller42');
SELECT finsec.audit_event('login.failure', success => false, subject => 'teller42',
       description => 'wrong one-time code');
RESET ROLE;
SET ROLE demo_clerk;   -- an auditor now
SELECT finsec_seq, event_time::time(0), db_user, event_type, subject, object, success, description
  FROM finsec.audit ORDER BY finsec_seq;
RESET ROLE;

-- Posted transfers become append-only and hash-chained like the ledger.
CREATE TABLE posted_transfers (id bigint PRIMARY KEY, debit text NOT NULL,
                               credit text NOT NULL, amount numeric(18,2) NOT NULL);
INSERT INTO posted_transfers VALUES (1, 'acct-A', 'acct-B', 500.00), (2, 'acct-B', 'acct-C', 75.25);
SELECT finsec.protect_table('posted_transfers');

-- Nobody changes evidence, not even a superuser, within SQL.
UPDATE posted_transfers SET amount = 5 WHERE id = 1;
DELETE FROM finsec.audit;
ALTER TABLE posted_transfers DISABLE TRIGGER ALL;
DROP TABLE posted_transfers;

-- The sealer chains finished transactions in the background; the auditor
-- verifies every row and block.
SELECT pg_sleep(1.5);
SET ROLE demo_clerk;
SELECT relation, ok, rows_checked, blocks_checked, rows_pending, first_failure FROM finsec.audit_verify();
-- A digest to keep outside the database.
SELECT jsonb_pretty(finsec.audit_digest());
RESET ROLE;

-- A superuser goes around SQL: switches the triggers off in the catalog,
-- reconnects, and edits an amount ...
UPDATE pg_trigger SET tgenabled = 'D' WHERE tgrelid = 'posted_transfers'::regclass;
\c
UPDATE posted_transfers SET amount = 5.00 WHERE id = 1;
UPDATE pg_trigger SET tgenabled = 'A' WHERE tgrelid = 'posted_transfers'::regclass;
\c
-- ... and verification names the row.
SELECT relation, ok, first_failure FROM finsec.audit_verify('posted_transfers');

-- ===================================================================
-- Credential policy (docs/auth.md)
-- ===================================================================
SET client_min_messages = warning;
CREATE ROLE teller42 LOGIN PASSWORD 'woaini1314';           -- a favourite: refused
CREATE ROLE teller42 LOGIN PASSWORD 'Qx7#teller42';         -- contains the role name
CREATE ROLE teller42 LOGIN PASSWORD 'Gx7#mQ2v!Lp9';         -- accepted, expiry added
SELECT rolname, rolvaliduntil > now() AS expires FROM pg_roles WHERE rolname = 'teller42';
SELECT finsec.set_role_profile('teller42', birth_date => '1990-05-17', phone => '13800138000');
ALTER ROLE teller42 PASSWORD 'Ab#19900517z';                -- the birth date: refused
ALTER ROLE teller42 PASSWORD 'Gx7#mQ2v!Lp9';                -- reused: refused
ALTER ROLE teller42 PASSWORD 'Hy8$nR3w!Mq0' VALID UNTIL 'infinity';  -- never expiring: refused
RESET client_min_messages;
SELECT component, ok, detail FROM finsec.status() WHERE component LIKE 'password%';

-- ===================================================================
-- Keyring with two-person control, MACs, replay guard (docs/keyring.md,
-- docs/mac.md, docs/guards.md)
-- ===================================================================
SET client_min_messages = warning;
CREATE ROLE sec_officer_a LOGIN IN ROLE finsec_admin;
CREATE ROLE sec_officer_b LOGIN IN ROLE finsec_admin;
RESET client_min_messages;
SELECT loaded, check_value FROM finsec.keyring_master();
-- Officer A imports the terminal MAC key from the key ceremony, with its
-- check value, and generates a key for payment notifications ...
SET SESSION AUTHORIZATION sec_officer_a;
SELECT finsec.key_import('terminal.mac', 'mac', 'iso9797-alg3', '\x0123456789abcdeffedcba9876543210',
                         kcv => '08D7B4', reason => 'ceremony 2026-11') AS req1 \gset
SELECT finsec.key_generate('notify.mac', 'mac', 'hmac-sm3', 'payment notifications') AS req2 \gset
-- ... but cannot approve her own requests.
SELECT finsec.approve(:req1);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_officer_b;
SELECT finsec.approve(:req1), finsec.approve(:req2) - 'kcv';
RESET SESSION AUTHORIZATION;
SELECT label, algorithm, version, state, kcv, created_by, activated_by FROM finsec.key_inventory ORDER BY label;
-- The X9.19 retail MAC of ISO 9797-1 annex B, and a payment MAC over the
-- key elements of JR/T 0096.5 4.4.3; a changed amount does not verify.
SELECT encode(finsec.mac('terminal.mac', 'iso9797-alg3', convert_to('Now is the time for all ', 'UTF8')), 'hex') AS retail_mac;
SELECT finsec.payment_mac('notify.mac', 'hmac-sm3', '898110248160001', 'ORD-1', '2026-11-22 10:30:00+08', 100.50) AS pmac \gset
SELECT finsec.payment_mac_verify('notify.mac', 'hmac-sm3', '898110248160001', 'ORD-1', '2026-11-22 10:30:00+08', 100.50, :'pmac') AS genuine,
       finsec.payment_mac_verify('notify.mac', 'hmac-sm3', '898110248160001', 'ORD-1', '2026-11-22 10:30:00+08', 1000.50, :'pmac') AS tampered;
-- A replayed notification is refused.
SELECT finsec.consume_nonce('notify', 'n-7f3a', now());
SELECT finsec.consume_nonce('notify', 'n-7f3a', now());
-- Every step, under the person who took it.
SELECT event_type, object, session_user_name FROM finsec.audit
 WHERE event_type LIKE 'change.%' OR event_type LIKE 'key.%' ORDER BY finsec_seq;

-- ===================================================================
-- Types: protected card numbers, exact money, Chinese identifiers
-- (docs/cards.md, docs/money.md, docs/identifiers.md)
-- ===================================================================
-- The card keys, under two-person control.
SET SESSION AUTHORIZATION sec_officer_a;
SELECT finsec.key_generate('card.enc', 'encryption', 'aes-256-gcm') AS k1 \gset
SELECT finsec.key_generate('card.fp', 'fingerprint', 'hmac-sm3') AS k2 \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_officer_b;
SELECT finsec.approve(:k1) ->> 'state', finsec.approve(:k2) ->> 'state';
RESET SESSION AUTHORIZATION;
CREATE TABLE customer_payment (
	id       serial PRIMARY KEY,
	payer    finsec.cn_resident_id,
	phone    finsec.cn_mobile,
	card     finsec.bank_card,
	amount   finsec.money
);
INSERT INTO customer_payment (payer, phone, card, amount) VALUES
	('11010519491231002x', '+86 138-1234-5678', '6216 2610 0000 0000 018', 'CNY 1000.00'),
	('11010519491231002X', '13812345678', '6216261000000000018', '¥100.50');
INSERT INTO customer_payment (payer, phone, card, amount) VALUES
	('11010519491231002X', '13812345678', '6216261000000000018', 'CNY 100.50');
INSERT INTO customer_payment (payer, phone, card, amount) VALUES
	('11010519491231002X', '13812345678', '6216261000000000017', 'CNY 1.00');     -- wrong Luhn digit
INSERT INTO customer_payment (payer, phone, card, amount) VALUES
	('110105194912310021', '13812345678', '6216261000000000018', 'CNY 1.00');     -- wrong ID check
INSERT INTO customer_payment (payer, phone, card, amount) VALUES
	('11010519491231002X', '13812345678', '6216261000000000018', 'CNY 1.005');    -- more decimals than CNY has
-- Masked for display; the stored card is encrypted and fingerprinted.
SELECT id, finsec.mask(payer) AS payer, finsec.mask(phone) AS phone, finsec.mask(card) AS card, amount
  FROM customer_payment ORDER BY id;
SELECT finsec.mask(card) AS card, count(*), sum(amount) FROM customer_payment GROUP BY card;
SELECT finsec.allocate('CNY 100.00', 3) AS three_way_split, 'CNY 10.00'::finsec.money * 0.333 AS rounded_half_even;
SELECT 'CNY 1.00'::finsec.money + 'USD 1.00'::finsec.money;                    -- mixing currencies

-- Transaction limits on the application's own payments table (docs/limits.md):
-- the PBOC [2015] No. 43 preset, filed by one administrator, approved by another.
CREATE TABLE wallet_payment (
	id        bigserial PRIMARY KEY,
	account   text NOT NULL,
	amount    finsec.money NOT NULL,
	channel   text NOT NULL DEFAULT 'app',
	auth_tier int NOT NULL DEFAULT 1,            -- 1: fewer than two factors, 2: two or more
	kind      text NOT NULL DEFAULT 'payment',
	reversal_of bigint,                          -- a refund names the payment it reverses
	posted_at timestamptz
);
SELECT finsec.enable_limits('wallet_payment', customer => 'account', amount => 'amount',
	posted_at => 'posted_at', channel => 'channel', auth_tier => 'auth_tier', kind => 'kind',
	payment_id => 'id', reversal_of => 'reversal_of');
SET SESSION AUTHORIZATION sec_officer_a;
SELECT finsec.limit_preset_pboc_2015_43('wallet_payment', reason => 'PBOC 2015 No. 43') AS preset \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_officer_b;
SELECT finsec.approve(:preset) IS NOT NULL AS approved;
RESET SESSION AUTHORIZATION;
SELECT name, auth_tier, channel, period, max_amount FROM finsec.limit_policy ORDER BY policy_id;
INSERT INTO wallet_payment (account, amount) VALUES ('W-0001', 'CNY 600.00');
INSERT INTO wallet_payment (account, amount) VALUES ('W-0001', 'CNY 600.00');               -- over 1,000 today: step-up hint
INSERT INTO wallet_payment (account, amount, auth_tier) VALUES ('W-0001', 'CNY 600.00', 2);
INSERT INTO wallet_payment (account, amount, kind) VALUES ('W-0001', 'CNY 100.00', 'refund');  -- names no payment: refused
INSERT INTO wallet_payment (account, amount, kind, reversal_of)
	VALUES ('W-0001', 'CNY 100.00', 'refund', 1);                                               -- restores allowance
INSERT INTO wallet_payment (account, amount, kind, reversal_of)
	VALUES ('W-0001', 'CNY 600.00', 'refund', 1);                                               -- more than remains of it: refused
SELECT subject, day_amount, day_count FROM finsec.limit_usage;
SELECT finsec.freeze_account('W-0001', 'court order', 'freeze notice 2026-118');
INSERT INTO wallet_payment (account, amount, auth_tier) VALUES ('W-0001', 'CNY 1.00', 2);
UPDATE wallet_payment SET amount = 'CNY 1.00' WHERE id = 1;                                  -- posted rows are final
SELECT finsec.flush_limit_refusals() AS refusals_recorded;
SELECT rule, relation, policy FROM finsec.limit_refusal ORDER BY refusal_id;

-- Real-time risk scoring (docs/risk.md): rules in a versioned ruleset,
-- deployed with two-person approval; explainable decisions for operators,
-- minimal ones for the application; cases feed the black list.
CREATE TABLE card_payment (
	id          bigserial PRIMARY KEY,
	customer_id text NOT NULL,
	amount      numeric(18,2) NOT NULL,
	posted_at   timestamptz NOT NULL DEFAULT now(),
	payee       text,
	device_id   text,
	client_ip   inet,
	geo         point
);
CREATE INDEX ON card_payment (customer_id, posted_at);
CREATE INDEX ON card_payment (customer_id, device_id);
CREATE INDEX ON card_payment (device_id, posted_at);
SELECT finsec.enable_risk('card_payment', counterparty => 'payee', device => 'device_id', ip => 'client_ip', geo => 'geo');
INSERT INTO card_payment (customer_id, amount, posted_at, payee, device_id, client_ip, geo) VALUES
	('C-1001', 120.00, now() - interval '50 minutes', 'P-1', 'phone-A', '203.0.113.10', point(116.40, 39.90)),
	('C-1001', 80.00, now() - interval '20 minutes', 'P-2', 'phone-A', '203.0.113.10', point(116.40, 39.90));
SET SESSION AUTHORIZATION sec_officer_a;
SELECT finsec.risk_ruleset_create('demo rules', challenge_at => 20, review_at => 40, block_at => 60) AS ruleset \gset
INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category) VALUES
	(:ruleset, 'new_device', 'first_seen', '{"of": "device"}', 15, 'NEW_DEVICE', 'account_takeover'),
	(:ruleset, 'burst', 'velocity', '{"entity": "customer", "window": "1 hour", "max": 2}', 15, 'VELOCITY', 'account_takeover'),
	(:ruleset, 'jump', 'travel', '{"max_kmh": 900, "min_km": 50}', 30, 'IMPOSSIBLE_TRAVEL', 'account_takeover'),
	(:ruleset, 'black_device', 'list', '{"color": "black", "entity": "device", "force": "block"}', 0, 'BLACK_DEVICE', 'account_takeover'),
	(:ruleset, 'big', 'threshold', '{"attribute": "amount", "op": ">=", "value": 5000}', 10, 'AMOUNT_HIGH', 'card_not_present');
SELECT finsec.request_risk_deploy(:ruleset, 'demo') AS deploy \gset
SELECT finsec.approve(:deploy);                       -- refused: the requester cannot approve
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_officer_b;
SELECT finsec.approve(:deploy) - 'content_hash' AS deployed;
RESET SESSION AUTHORIZATION;
SELECT version, state, requested_by, deployed_by, encode(content_hash, 'hex') AS content_hash FROM finsec.risk_ruleset;
-- The application gets the decision and reason codes only ...
SET ROLE demo_app;
SELECT decision, score, reasons FROM finsec.risk_score(customer => 'C-1001', amount => 6000, counterparty => 'P-3',
	device => 'phone-B', ip => '198.51.100.7', geo => point(121.47, 31.23));
RESET ROLE;
-- ... an operator sees why: rule, observed value, threshold, weight.
SELECT decision, score, jsonb_pretty(reasons) AS reasons, decision_id FROM finsec.risk_score(customer => 'C-1001',
	amount => 6000, counterparty => 'P-3', device => 'phone-B', ip => '198.51.100.7', geo => point(121.47, 31.23)) \gset
SELECT :'decision' AS decision, :'score' AS score;
\echo :reasons
-- The decision is logged even if the payment is rolled back; a case
-- confirmed as fraud puts the device on the black list.
SELECT finsec.risk_case_open(:decision_id, 'customer called: not me') AS case_id \gset
SELECT finsec.risk_case_close(:case_id, 'confirmed_fraud', 'account takeover confirmed', list_entities => '{device}');
SELECT decision, jsonb_path_query_array(reasons, '$[*].code') AS codes
  FROM finsec.risk_score(customer => 'C-2002', amount => 1, device => 'phone-B');
SELECT entity_type, value, distance, via_type, via_value FROM finsec.linked_entities('customer', 'C-1001');

-- ---------------------------------------------------------------------
-- Transaction monitoring after commit (docs/monitor.md): every committed
-- payment exactly once, large-value reports, typologies, alerts and cases.
-- ---------------------------------------------------------------------
CREATE TABLE demo_transfer (
	id bigserial PRIMARY KEY,
	customer_id text NOT NULL,
	account text,
	payee text,
	direction text NOT NULL DEFAULT 'out',
	customer_type text NOT NULL DEFAULT 'natural',
	is_cash boolean NOT NULL DEFAULT false,
	amount numeric NOT NULL,
	posted_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE demo_transfer OWNER TO sec_officer_a;       -- the owner registers it (a stamp column and trigger are added)
SET SESSION AUTHORIZATION sec_officer_a;
SELECT finsec.enable_monitoring('demo_transfer', account => 'account', counterparty => 'payee',
	direction => 'direction', customer_type => 'customer_type', cash => 'is_cash', reference => 'id');
RESET SESSION AUTHORIZATION;
GRANT INSERT ON demo_transfer TO demo_app;
GRANT USAGE ON SEQUENCE demo_transfer_id_seq TO demo_app;
SET ROLE demo_app;
-- a cash deposit of 50,000 CNY is a large-value transaction; three transfers just under 50,000 look like structuring
INSERT INTO demo_transfer (customer_id, account, direction, is_cash, amount) VALUES ('C-3003', 'A-3003', 'in', true, 50000);
INSERT INTO demo_transfer (customer_id, account, payee, amount, posted_at) VALUES
	('C-4004', 'A-4004', 'A-9', 49000, now() - interval '3 hours'),
	('C-4004', 'A-4004', 'A-9', 48500, now() - interval '2 hours'),
	('C-4004', 'A-4004', 'A-9', 49900, now() - interval '1 hour');
RESET ROLE;
SELECT relid, batches, payments, alerts FROM finsec.monitor_now();    -- the worker does this every second
SELECT alert_id, rule_name, entity_type, entity, hits, amount, case_id IS NOT NULL AS in_case FROM finsec.alert ORDER BY alert_id;
SELECT * FROM finsec.monitor_status;

-- ---------------------------------------------------------------------
-- Protected personal data (docs/protected-data.md): names, phones and ID
-- numbers encrypted under a policy per column, masked on output, looked
-- up by fingerprint; one audited reveal; labels drive access.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION sec_officer_a;
SELECT finsec.key_generate('cust.enc', 'encryption', 'aes-256-gcm') AS p1 \gset
SELECT finsec.key_generate('cust.fp', 'fingerprint', 'hmac-sm3') AS p2 \gset
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') AS p3 \gset
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sm3') AS p4 \gset
SELECT finsec.protect_policy_create('cust_name', enc_key => 'cust.enc', fp_key => 'cust.fp', mask => 'name');
SELECT finsec.protect_policy_create('cust_phone', enc_key => 'cust.enc', fp_key => 'cust.fp', mask => 'phone');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_officer_b;
SELECT finsec.approve(:p1) ->> 'state', finsec.approve(:p2) ->> 'state',
	   finsec.approve(:p3) ->> 'state', finsec.approve(:p4) ->> 'state';
RESET SESSION AUTHORIZATION;
CREATE TABLE demo_customer (
	id bigint PRIMARY KEY,
	name finsec.protected_text(cust_name) NOT NULL UNIQUE,
	phone finsec.protected_text(cust_phone),
	id_no finsec.protected_resident_id(cust_name),
	branch text
);
GRANT SELECT, INSERT ON demo_customer TO demo_app;
SET ROLE demo_app;
INSERT INTO demo_customer VALUES (1, '张三丰', '138-0013-8000', '11010519491231002X', 'Haidian');
SELECT id, finsec.mask(name) AS name, finsec.mask(phone) AS phone, finsec.mask(id_no) AS id_no FROM demo_customer;
SELECT id FROM demo_customer WHERE name = '张三丰'::finsec.protected_text(cust_name);   -- fingerprint, unique index
SELECT finsec.reveal(name, 'demo') FROM demo_customer;          -- refused: the application cannot reveal
RESET ROLE;
-- a label on a plain column: roles without a clearance are refused it, and audited when cleared
SECURITY LABEL FOR finsec ON COLUMN demo_customer.branch IS 'internal';
SECURITY LABEL FOR finsec ON COLUMN demo_customer.name IS 'identifier';
SELECT * FROM finsec.labelled_columns();
SELECT * FROM finsec.label_suggestions();

-- ---------------------------------------------------------------------
-- Credit data (docs/credit.md): a registered credit table read only
-- through the query log; a dispute; expired records de-identified with a
-- proof and their month's keys destroyed; research aggregates.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION sec_officer_a;
SELECT finsec.key_generate('neg.enc', 'encryption', 'aes-256-gcm') AS c1 \gset
SELECT finsec.key_generate('neg.fp', 'fingerprint', 'hmac-sm3') AS c2 \gset
SELECT finsec.key_generate('credit.pseudonym', 'pseudonym', 'hmac-sha256') AS c3 \gset
SET SESSION AUTHORIZATION sec_officer_b;
SELECT finsec.approve(:c1) ->> 'state', finsec.approve(:c2) ->> 'state', finsec.approve(:c3) ->> 'state';
SET SESSION AUTHORIZATION sec_officer_a;
SELECT finsec.protect_policy_create('negative', enc_key => 'neg.enc', fp_key => 'neg.fp', mask => 'name',
                                    period_unit => 'month', fp_scope => 'period');
SELECT finsec.protect_period_keys('negative', (date_trunc('month', current_date) - interval '2 months')::date,
                                  (current_date + interval '1 month')::date, 'months in use') AS pk \gset
SET SESSION AUTHORIZATION sec_officer_b;
SELECT finsec.approve(:pk) IS NOT NULL AS period_keys_approved;
RESET SESSION AUTHORIZATION;
SELECT (date_trunc('month', current_date) - interval '2 months')::date AS m0 \gset

CREATE TABLE demo_negative (
	id bigint PRIMARY KEY,
	id_no finsec.protected_resident_id(negative) NOT NULL,
	name finsec.protected_text(negative) NOT NULL,
	birth_date finsec.protected_text(negative),
	region finsec.protected_text(negative),
	overdue finsec.protected_text(negative),
	amount numeric(14, 2) NOT NULL,
	closed_on date NOT NULL);
SELECT finsec.register_credit_table('demo_negative', key => 'id', subject => 'id_no', behaviour_end => 'closed_on',
	policy => 'negative', identifiers => '{name}',
	quasi_identifiers => '{"birth_date": ["year", "years:5", "decade"], "region": ["prefix:4", "prefix:2"]}',
	sensitive => '{overdue}', k => 3, l => 2);
GRANT SELECT, INSERT ON demo_negative TO demo_app;
SET SESSION AUTHORIZATION sec_officer_a;
SELECT finsec.credit_institution_apply('B1000001', '示范银行', 'provider_user');
SELECT finsec.credit_institution_activate('B1000001', 'assessment 2026-07', 'interface test passed') AS act \gset
SET SESSION AUTHORIZATION sec_officer_b;
SELECT finsec.approve(:act) ->> 'to' AS institution_status;
SET SESSION AUTHORIZATION sec_officer_a;
SELECT finsec.credit_user_set('demo_app', 'B1000001', '{query}');
RESET SESSION AUTHORIZATION;
SET ROLE demo_app;
INSERT INTO demo_negative VALUES
	(1, '11010519811231002X', '张三丰', '1981-12-31', '110105', 'M3', 12000.00, :'m0'::date + 1),
	(2, '110105198001011238', '李四', '1980-01-01', '110108', 'M1', 800.00, :'m0'::date + 2),
	(3, '110101198203150011', '王五', '1982-03-15', '110101', 'M2', 3000.00, :'m0'::date + 3),
	(4, '310104198506060028', '赵六', '1985-06-06', '310104', 'M1', 500.00, :'m0'::date + 4),
	(5, '310115198709090015', '钱七', '1987-09-09', '310115', 'M3', 9000.00, :'m0'::date + 5),
	(6, '310101198811110037', '孙八', '1988-11-11', '310101', 'M2', 4500.00, :'m0'::date + 6);
SELECT * FROM demo_negative;                                  -- refused: credit_query is the way in
SELECT record_key, record ->> 'name' AS name, record ->> 'amount' AS amount
  FROM finsec.credit_query('demo_negative', '11010519811231002X', 'loan_approval');
RESET ROLE;
SELECT user_name, reason, rows_returned, subject_pseudonym FROM finsec.credit_query_log;
-- five years after the month (the test clock moved): one batch proves, publishes, shreds
SELECT ((:'m0'::date + interval '1 month' - interval '1 day') + interval '5 years')::date + 1
	   - finsec._deid_today() AS ahead \gset
SET finsec.deid_test_days_ahead = :ahead;
SELECT finsec.deidentify_now('demo_negative') AS batch;
RESET finsec.deid_test_days_ahead;
SELECT state, records, published, levels, proof -> 'engine' ->> 'max_risk' AS max_risk FROM finsec.deid_batches;
SELECT birth_date, region, overdue, amount FROM finsec_archive.demo_negative ORDER BY amount;
SELECT id, id_no, closed_on FROM demo_negative ORDER BY id;  -- sealed rows stay, unreadable ([shredded])
SELECT * FROM finsec.deid_aggregate('finsec_archive.demo_negative', '{region}');
SELECT component, ok, detail FROM finsec.status() WHERE component LIKE 'credit%';

-- ---------------------------------------------------------------------
-- Compliance self-check and reports (docs/compliance.md): the four
-- standards clause by clause, as the auditor sees them; the backup
-- register; the disaster-recovery level; a report; the printable page.
-- ---------------------------------------------------------------------
SELECT finsec.record_backup(kind => 'full', label => 'demo-full-1', tool => 'pg_basebackup',
                            started_at => now() - interval '20 minutes', finished_at => now() - interval '10 minutes') > 0
       AS backup_recorded;
SELECT count(*) >= 0 AS keys_verified FROM finsec.key_verify();      -- recorded in the ledger
SET ROLE demo_clerk;                                              -- an auditor
SELECT count(*) > 0 AS ledger_verified FROM finsec.audit_verify();
SELECT standard, status, count(*) FROM finsec.compliance_check() GROUP BY 1, 2 ORDER BY 1, 2;
SELECT clause_id, check_name, requirement, remediation
  FROM finsec.compliance_check('JR/T 0117-2014', 'en') WHERE status = 'fail' ORDER BY clause_id LIMIT 5;
SELECT level, meets, missing FROM finsec.dr_level() ORDER BY level;
SELECT figure, label, dimension, value FROM finsec.report_audit(now() - interval '1 day', now() + interval '1 minute', 'zh_CN')
 WHERE day IS NULL AND dimension IS NULL AND figure IN ('events', 'events_failed', 'privilege_changes') ORDER BY figure;
SELECT format('compliance page of %s characters', length(finsec.compliance_report_html(now() - interval '7 days', now(), 'zh_CN')))
       AS compliance_page;
RESET ROLE;
