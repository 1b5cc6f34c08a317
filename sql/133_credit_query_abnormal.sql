--
-- 133_credit_query_abnormal: abnormal querying (004 9.7 c, 9.3 c;
-- docs/credit.md): per user per hour, distinct subjects, refusals
-- for the reason and subjects without a record of the user's institution
-- past their limits suspend the user's query right at once (the call
-- that crosses returns nothing, with a WARNING, and commits the
-- suspension); counted from the ledger, so rolled-back queries and a
-- rolled-back suspension count; restored only by two administrators.
--
SET client_min_messages = warning;
CREATE DATABASE regress_cabnormal;
\c regress_cabnormal
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_ca_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ca_b LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ca_owner LOGIN IN ROLE finsec_app;
CREATE ROLE regress_ca_admin_owner LOGIN IN ROLE finsec_admin, regress_ca_owner;
CREATE ROLE regress_ca_u1 LOGIN IN ROLE finsec_app;      -- BANK0001: distinct subjects
CREATE ROLE regress_ca_u2 LOGIN IN ROLE finsec_app;      -- BANK0002: rolled-back queries count
CREATE ROLE regress_ca_u3 LOGIN IN ROLE finsec_app;      -- BANK0001: refusals
CREATE ROLE regress_ca_u4 LOGIN IN ROLE finsec_app;      -- BANK0001: foreign subjects
GRANT CREATE ON SCHEMA public TO regress_ca_owner;

-- keys, the period policy, period keys for three months
SET SESSION AUTHORIZATION regress_ca_a;
SELECT finsec.key_generate('credit.enc', 'encryption', 'aes-256-gcm') AS k1 \gset
SELECT finsec.key_generate('credit.fp', 'fingerprint', 'hmac-sha256') AS k2 \gset
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') AS k3 \gset
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sha256') AS k4 \gset
SELECT finsec.key_generate('credit.pseudonym', 'pseudonym', 'hmac-sha256') AS k5 \gset
SET SESSION AUTHORIZATION regress_ca_b;
SELECT finsec.approve(:k1) ->> 'state', finsec.approve(:k2) ->> 'state', finsec.approve(:k3) ->> 'state',
	   finsec.approve(:k4) ->> 'state', finsec.approve(:k5) ->> 'state';
SET SESSION AUTHORIZATION regress_ca_a;
SELECT finsec.protect_policy_create('credit_p', enc_key => 'credit.enc', fp_key => 'credit.fp',
									mask => 'name', period_unit => 'month', fp_scope => 'period') > 0 AS created;
SELECT finsec.protect_period_keys('credit_p', current_date - 400, current_date - 400) AS pk1 \gset
SELECT finsec.protect_period_keys('credit_p', current_date - 70, current_date - 70) AS pk2 \gset
SELECT finsec.protect_period_keys('credit_p', current_date, current_date) AS pk3 \gset
SET SESSION AUTHORIZATION regress_ca_b;
SELECT finsec.approve(:pk1) ->> 'policy', finsec.approve(:pk2) ->> 'policy', finsec.approve(:pk3) ->> 'policy';
RESET SESSION AUTHORIZATION;

-- institutions (the registry part's functions set these; here directly)
INSERT INTO finsec.credit_institution (code, name, kind, status) VALUES
	('BANK0001', 'Bank one', 'provider_user', 'active'),
	('BANK0002', 'Bank two', 'provider_user', 'active'),
	('BANK0003', 'Bank three', 'user', 'suspended');

SET SESSION AUTHORIZATION regress_ca_owner;
CREATE TABLE loan (
	id			bigint PRIMARY KEY,
	name		finsec.protected_text(credit_p) NOT NULL,
	id_no		finsec.protected_resident_id(credit_p) NOT NULL,
	region		finsec.protected_text(credit_p),
	overdue		finsec.protected_text(credit_p),
	amount		numeric,
	closed_on	date NOT NULL,
	inst		text);
CREATE INDEX loan_name ON loan (name);
GRANT SELECT ON loan TO finsec_app;   -- the application's grant: the read check refuses anyway
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ca_admin_owner;
SELECT finsec.register_credit_table('loan', key => 'id', subject => 'name', behaviour_end => 'closed_on',
	policy => 'credit_p', identifiers => '{id_no}',
	quasi_identifiers => '{"region": ["prefix:4", "prefix:2"]}',
	sensitive => '{overdue}', institution => 'inst') IS NOT NULL AS registered;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ca_owner;
INSERT INTO loan (id, name, id_no, region, overdue, amount, closed_on, inst) VALUES
	(1, '张三', '11010519491231002X', '110105', 'M3', 12000, current_date - 400, 'BANK0001'),
	(2, '张三', '11010519491231002X', '110105', 'M1', 3000, current_date - 70, 'BANK0002'),
	(3, '张三', '11010519491231002X', '110108', 'M2', 500, current_date, 'BANK0001'),
	(4, '李四', '110101199003076632', '310101', 'M1', 800, current_date - 70, 'BANK0002');
RESET SESSION AUTHORIZATION;

-- credit users, each for one rule
SET SESSION AUTHORIZATION regress_ca_a;
SELECT finsec.credit_user_set('regress_ca_u1', 'BANK0001', '{query}');
SELECT finsec.credit_user_set('regress_ca_u2', 'BANK0002', '{query,batch_query}');
SELECT finsec.credit_user_set('regress_ca_u3', 'BANK0001', '{query}');
SELECT finsec.credit_user_set('regress_ca_u4', 'BANK0001', '{query}');
RESET SESSION AUTHORIZATION;
-- the settings are superuser-only (ALTER ROLE ... SET in production)
SET SESSION AUTHORIZATION regress_ca_u1;
SET finsec.credit_query_max_subjects = 100000;
RESET SESSION AUTHORIZATION;
SHOW finsec.credit_query_max_subjects;
SHOW finsec.credit_query_max_refusals;
SHOW finsec.credit_query_max_foreign;

-- distinct subjects per hour (limit 3): the same subject again is no
-- new subject; the fourth suspends at once, the call returns nothing
SET finsec.credit_query_max_subjects = 3;
SET SESSION AUTHORIZATION regress_ca_u1;
SELECT count(*) FROM finsec.credit_query('loan', '张三', 'loan_approval');
SELECT count(*) FROM finsec.credit_query('loan', '李四', 'loan_approval');
SELECT count(*) FROM finsec.credit_query('loan', '王五', 'loan_approval');
SELECT count(*) FROM finsec.credit_query('loan', '张三', 'post_loan');
SELECT count(*) FROM finsec.credit_query('loan', '赵六', 'loan_approval');     -- WARNING S9D29
\set VERBOSITY sqlstate
SELECT count(*) FROM finsec.credit_query('loan', '张三', 'loan_approval');     -- S9D23 from now on
\set VERBOSITY default
RESET SESSION AUTHORIZATION;
SELECT role_name, query_status, status_reason FROM finsec.credit_user WHERE role_name = 'regress_ca_u1';
SELECT a.object, a.description, a.detail ->> 'rule' AS rule, a.detail ->> 'count' AS count,
	   a.detail ->> 'limit' AS "limit"
  FROM finsec.audit a WHERE a.event_type = 'credit.user_suspended' ORDER BY a.finsec_seq;
SELECT user_name, rows_returned FROM finsec.credit_query_log ORDER BY id;

-- queries rolled back count too (the ledger keeps them), and a
-- suspension rolled back does not lift it: the next new subject finds
-- the same counts (limit 2)
SET finsec.credit_query_max_subjects = 2;
SET SESSION AUTHORIZATION regress_ca_u2;
BEGIN;
SELECT count(*) FROM finsec.credit_query('loan', '张三', 'post_loan');
SELECT count(*) FROM finsec.credit_query('loan', '李四', 'post_loan');
ROLLBACK;
BEGIN;
SELECT count(*) FROM finsec.credit_query('loan', '王五', 'post_loan');        -- WARNING S9D29
ROLLBACK;
SELECT count(*) FROM finsec.credit_query('loan', '赵六', 'post_loan');        -- WARNING S9D29 again, committed
\set VERBOSITY sqlstate
SELECT count(*) FROM finsec.credit_query('loan', '张三', 'post_loan');        -- S9D23
\set VERBOSITY default
RESET SESSION AUTHORIZATION;
SELECT role_name, query_status FROM finsec.credit_user WHERE role_name = 'regress_ca_u2';
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT a.event_type, a.detail ->> 'rule' AS rule, a.detail ->> 'rows' AS rows, a.detail ->> 'rolled_back' AS rolled_back
  FROM finsec.audit a WHERE a.db_user = 'regress_ca_u2' AND a.event_type LIKE 'credit.%' ORDER BY a.finsec_seq;
RESET finsec.credit_query_max_subjects;

-- refusals for the reason (limit 2): the third suspends
SET finsec.credit_query_max_refusals = 2;
SET SESSION AUTHORIZATION regress_ca_u3;
\set VERBOSITY sqlstate
SELECT count(*) FROM finsec.credit_query('loan', '张三', NULL);               -- S9D24
SELECT count(*) FROM finsec.credit_query('loan', '张三', 'curiosity');        -- S9D25
\set VERBOSITY default
SELECT count(*) FROM finsec.credit_query('loan', '张三', 'dispute_check');    -- WARNING S9D29
\set VERBOSITY sqlstate
SELECT count(*) FROM finsec.credit_query('loan', '张三', 'loan_approval');    -- S9D23
\set VERBOSITY default
RESET SESSION AUTHORIZATION;
RESET finsec.credit_query_max_refusals;
SELECT role_name, query_status, status_reason FROM finsec.credit_user WHERE role_name = 'regress_ca_u3';

-- subjects without a record of the user's institution (limit 1):
-- 李四's only record is BANK0002's, 王五 has none
SET finsec.credit_query_max_foreign = 1;
SET SESSION AUTHORIZATION regress_ca_u4;
SELECT count(*) FROM finsec.credit_query('loan', '张三', 'loan_approval');    -- own institution's records
SELECT count(*) FROM finsec.credit_query('loan', '李四', 'loan_approval');    -- foreign 1
SELECT count(*) FROM finsec.credit_query('loan', '王五', 'loan_approval');    -- foreign 2: WARNING S9D29, nothing returned
RESET SESSION AUTHORIZATION;
RESET finsec.credit_query_max_foreign;
SELECT role_name, query_status, status_reason FROM finsec.credit_user WHERE role_name = 'regress_ca_u4';
SELECT a.detail ->> 'subject' IS NOT NULL AS pseudonym, a.detail ->> 'foreign' AS foreign, a.detail ->> 'rows' AS rows
  FROM finsec.audit a WHERE a.event_type = 'credit.query' AND a.db_user = 'regress_ca_u4' ORDER BY a.finsec_seq;

-- a suspended user cannot be removed (and added back fresh)
SET SESSION AUTHORIZATION regress_ca_a;
\set VERBOSITY sqlstate
SELECT finsec.credit_user_remove('regress_ca_u1');                            -- S9D23
\set VERBOSITY default
-- restore: two administrators (credit.user_restore)
SELECT finsec.credit_user_restore('regress_ca_u1', 'checked with the branch') AS r1 \gset
SELECT finsec.approve(:r1);                                                   -- the requester
\set VERBOSITY sqlstate
SELECT finsec.credit_user_restore('regress_ca_u2', NULL);
SELECT finsec.credit_user_restore('regress_ca_none', 'x');                    -- S9D21
\set VERBOSITY default
SET SESSION AUTHORIZATION regress_ca_b;
SELECT finsec.approve(:r1) ->> 'query_status' AS restored;
RESET SESSION AUTHORIZATION;
SELECT role_name, query_status, status_reason FROM finsec.credit_user WHERE role_name = 'regress_ca_u1';
SELECT event_type, object, success FROM finsec.audit WHERE event_type = 'credit.user_restore';
-- counting starts again at the restore
SET finsec.credit_query_max_subjects = 3;
SET SESSION AUTHORIZATION regress_ca_u1;
SELECT count(*) FROM finsec.credit_query('loan', '赵六', 'loan_approval');
SELECT count(*) FROM finsec.credit_query('loan', '张三', 'loan_approval');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ca_b;
\set VERBOSITY sqlstate
SELECT finsec.credit_user_restore('regress_ca_u1', 'again');                  -- S9D33 not suspended
\set VERBOSITY default
RESET SESSION AUTHORIZATION;
-- the application cannot lift it itself
SET SESSION AUTHORIZATION regress_ca_u3;
UPDATE finsec.credit_user SET query_status = 'active' WHERE role_name = 'regress_ca_u3';
SELECT finsec.credit_user_restore('regress_ca_u3', 'me');
RESET SESSION AUTHORIZATION;

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_cabnormal;
DROP ROLE regress_ca_a, regress_ca_b, regress_ca_owner, regress_ca_admin_owner, regress_ca_u1, regress_ca_u2,
	regress_ca_u3, regress_ca_u4;
