--
-- 141_credit_tour: the one-page tour of docs/credit.md, end to end, as
-- written there: keys and a period policy, a registered credit table,
-- the registry, the enforced query log, a dispute, the de-identification
-- batch with its proof (the production values of the period shredded
-- afterwards), research aggregates, outbound links and the status.
--
SET client_min_messages = warning;
CREATE DATABASE regress_ctour;
\c regress_ctour
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_ct_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ct_b LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ct_owner LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ct_teller LOGIN IN ROLE finsec_app;
CREATE ROLE regress_ct_handler LOGIN IN ROLE finsec_app;
CREATE ROLE regress_ct_research LOGIN IN ROLE finsec_research;
GRANT CREATE ON SCHEMA public TO regress_ct_owner;

-- Keys under two-person control: the period policy's base keys, the
-- subject pseudonym key, then the keys of three months.
SET SESSION AUTHORIZATION regress_ct_a;
SELECT finsec.key_generate('neg.enc', 'encryption', 'aes-256-gcm') AS k1 \gset
SELECT finsec.key_generate('neg.fp', 'fingerprint', 'hmac-sm3') AS k2 \gset
SELECT finsec.key_generate('credit.pseudonym', 'pseudonym', 'hmac-sha256') AS k3 \gset
-- (the keys of literals: a value is sealed under them before its row's trigger moves it to its month)
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') AS k4 \gset
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sm3') AS k5 \gset
SET SESSION AUTHORIZATION regress_ct_b;
SELECT finsec.approve(:k1) ->> 'state', finsec.approve(:k2) ->> 'state', finsec.approve(:k3) ->> 'state',
	   finsec.approve(:k4) ->> 'state', finsec.approve(:k5) ->> 'state';
SET SESSION AUTHORIZATION regress_ct_a;
SELECT finsec.protect_policy_create('negative', enc_key => 'neg.enc', fp_key => 'neg.fp', mask => 'name',
									period_unit => 'month', fp_scope => 'period') > 0 AS created;
SELECT finsec.protect_period_keys('negative', (date_trunc('month', current_date) - interval '2 months')::date,
								  (current_date + interval '1 month')::date, 'months in use') AS pk \gset
SET SESSION AUTHORIZATION regress_ct_b;
SELECT finsec.approve(:pk) IS NOT NULL AS approved;
RESET SESSION AUTHORIZATION;
SELECT (date_trunc('month', current_date) - interval '2 months')::date AS m0,
	   to_char(current_date - interval '2 months', 'YYYYMM')::int AS p0 \gset

-- The credit table: every personal column under the one period policy.
SET SESSION AUTHORIZATION regress_ct_owner;
CREATE TABLE negative_record (
	id			bigint PRIMARY KEY,
	id_no		finsec.protected_resident_id(negative) NOT NULL,
	name		finsec.protected_text(negative) NOT NULL,
	birth_date	finsec.protected_text(negative),
	region		finsec.protected_text(negative),
	overdue		finsec.protected_text(negative),
	amount		numeric(14, 2) NOT NULL,
	closed_on	date NOT NULL,
	provider	text NOT NULL);
SELECT finsec.register_credit_table('negative_record', key => 'id', subject => 'id_no',
	behaviour_end => 'closed_on', policy => 'negative', identifiers => '{name}',
	quasi_identifiers => '{"birth_date": ["year", "years:5", "decade"], "region": ["prefix:4", "prefix:2"]}',
	sensitive => '{overdue}', institution => 'provider', k => 3, l => 2) AS archive;
GRANT SELECT, INSERT ON negative_record TO regress_ct_teller;   -- SELECT too: the guard refuses, not the ACL
RESET SESSION AUTHORIZATION;

-- The registry: an institution applies, two administrators activate it.
SET SESSION AUTHORIZATION regress_ct_a;
SELECT finsec.credit_institution_apply('B1000001', '示范银行', 'provider_user');
SELECT finsec.credit_institution_activate('B1000001', 'assessment 2026-07', 'interface test passed') AS act \gset
SET SESSION AUTHORIZATION regress_ct_b;
SELECT finsec.approve(:act) ->> 'to' AS status;
SET SESSION AUTHORIZATION regress_ct_a;
SELECT finsec.credit_user_set('regress_ct_teller', 'B1000001', '{query}');
SELECT finsec.credit_user_set('regress_ct_handler', 'B1000001', '{dispute}');
RESET SESSION AUTHORIZATION;

-- Records of two months ago.  The least generalisation that gives classes
-- of k = 3 with l = 2 distinct overdue grades: birth dates to 5-year bands
-- (level 2 of 4), regions to cities (prefix:4, level 1 of 3): loss
-- 2/4 + 1/3; (1980-1984, 1101) and (1985-1989, 3101), 3 records each, 3
-- grades each.  Risks: max 1/3, expected re-identifications 6 * 1/3 = 2.
SET SESSION AUTHORIZATION regress_ct_teller;
INSERT INTO negative_record VALUES
	(1, '11010519811231002X', '张三丰', '1981-12-31', '110105', 'M3', 12000.00, :'m0'::date + 1, 'B1000001'),
	(2, '110105198001011238', '李四', '1980-01-01', '110108', 'M1', 800.00, :'m0'::date + 2, 'B1000001'),
	(3, '110101198203150011', '王五', '1982-03-15', '110101', 'M2', 3000.00, :'m0'::date + 3, 'B1000001'),
	(4, '310104198506060028', '赵六', '1985-06-06', '310104', 'M1', 500.00, :'m0'::date + 4, 'B1000001'),
	(5, '310115198709090015', '钱七', '1987-09-09', '310115', 'M3', 9000.00, :'m0'::date + 5, 'B1000001'),
	(6, '310101198811110037', '孙八', '1988-11-11', '310101', 'M2', 4500.00, :'m0'::date + 6, 'B1000001');

-- Reading the table directly is refused; credit_query is the way in.
\set VERBOSITY default
SELECT * FROM negative_record;
SELECT record_key, record ->> 'name' AS name, record ->> 'amount' AS amount, under_dispute
  FROM finsec.credit_query('negative_record', '11010519811231002X', 'loan_approval', client_address => '203.0.113.7');
SELECT * FROM finsec.credit_query('negative_record', '11010519811231002X', 'curiosity');
RESET SESSION AUTHORIZATION;
SELECT l.institution, l.user_name, l.reason, l.client_address, l.rows_returned,
	   l.subject_pseudonym = finsec.credit_pseudonym('11010519811231002X') AS subject_as_pseudonym
  FROM finsec.credit_query_log l ORDER BY l.id;

-- A dispute: the handler opens, checks, and records the subject's statement.
SET SESSION AUTHORIZATION regress_ct_handler;
SELECT finsec.credit_dispute_open('negative_record', '1', '11010519811231002X', NULL, 'regress_ct_handler') AS d \gset
SELECT finsec.credit_dispute_check(:d, 'core banking', 'the branch cannot confirm the repayment', false);
SELECT finsec.credit_dispute_resolve(:d, 'unconfirmed', '本人已于2026年还清欠款');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ct_teller;
SELECT record_key, under_dispute, disputes -> 0 ->> 'status' AS status, disputes -> 0 ->> 'statement' AS statement
  FROM finsec.credit_query('negative_record', '11010519811231002X', 'post_loan');
RESET SESSION AUTHORIZATION;

-- Five years on (the worker's clock moved by the test setting): the
-- month is due; one batch proves, publishes and shreds it.
SELECT ((:'m0'::date + interval '1 month' - interval '1 day') + interval '5 years')::date + 1
	   - finsec._deid_today() AS ahead \gset
SET finsec.deid_test_days_ahead = :ahead;
SELECT table_name, period = :p0 AS the_month FROM finsec.deid_due;
SET SESSION AUTHORIZATION regress_ct_a;
SELECT count(*) AS batches FROM finsec.deidentify_now('negative_record');
RESET SESSION AUTHORIZATION;
SELECT kind, state, records, published, suppressed, levels,
	   proof -> 'engine' ->> 'min_class' AS min_class, proof -> 'engine' ->> 'max_risk' AS max_risk,
	   proof -> 'engine' ->> 'expected_reidentifications' AS expected_reid,
	   (proof ->> 'test_days_ahead')::int = :ahead AS moved_clock_recorded
  FROM finsec.deid_batches;
SELECT birth_date, region, overdue, amount, length(id_no) > 20 AS pseudonym FROM finsec_archive.negative_record
 ORDER BY amount;
-- production keeps the rows, sealed, verifiable and unreadable
SET SESSION AUTHORIZATION regress_ct_teller;
SELECT count(*) AS returned FROM finsec.credit_query('negative_record', '11010519811231002X', 'post_loan');
RESET SESSION AUTHORIZATION;
SELECT count(*) FILTER (WHERE id_no::text LIKE '[shredded]%') AS shredded, count(*) AS rows FROM negative_record;
SELECT bool_and(ok) AS ledger_verifies FROM finsec.audit_verify();
RESET finsec.deid_test_days_ahead;

-- Research reads aggregates; cells under k are withheld.
SET SESSION AUTHORIZATION regress_ct_research;
SELECT * FROM finsec.deid_aggregate('finsec_archive.negative_record', '{region}');
SELECT * FROM finsec.deid_aggregate('finsec_archive.negative_record', '{region,overdue}');
SELECT * FROM finsec_archive.negative_record;
RESET SESSION AUTHORIZATION;

-- Outbound links and the status.
SELECT kind, object, verdict FROM finsec.outbound_links() WHERE kind IN ('foreign_server', 'subscription');
SELECT component, ok FROM finsec.status() WHERE component LIKE 'credit%' ORDER BY component;

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_ctour;
DROP ROLE regress_ct_a, regress_ct_b, regress_ct_owner, regress_ct_teller, regress_ct_handler, regress_ct_research;
