--
-- 127_protect_tour: the one-page tour of docs/protected-data.md, as
-- written there, so that the documentation stays true.
--
SET client_min_messages = warning;
CREATE DATABASE regress_ptour;
\c regress_ptour
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_pt_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_pt_b LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_pt_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_pt_unmask LOGIN IN ROLE finsec_unmask;

SET SESSION AUTHORIZATION regress_pt_a;
SELECT finsec.key_generate('cust.enc', 'encryption', 'aes-256-gcm') AS k1 \gset
SELECT finsec.key_generate('cust.fp', 'fingerprint', 'hmac-sm3') AS k2 \gset
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') AS k3 \gset
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sm3') AS k4 \gset
SELECT finsec.key_generate('loan.enc', 'encryption', 'aes-256-gcm') AS k5 \gset
SELECT finsec.key_generate('loan.fp', 'fingerprint', 'hmac-sm3') AS k6 \gset
SET SESSION AUTHORIZATION regress_pt_b;
SELECT finsec.approve(:k1) ->> 'state', finsec.approve(:k2) ->> 'state', finsec.approve(:k3) ->> 'state',
	   finsec.approve(:k4) ->> 'state', finsec.approve(:k5) ->> 'state', finsec.approve(:k6) ->> 'state';

SET SESSION AUTHORIZATION regress_pt_a;
SELECT finsec.protect_policy_create('cust_name',  enc_key => 'cust.enc', fp_key => 'cust.fp', mask => 'name') > 0 AS created;
SELECT finsec.protect_policy_create('cust_phone', enc_key => 'cust.enc', fp_key => 'cust.fp', mask => 'phone') > 0 AS created;
RESET SESSION AUTHORIZATION;

CREATE TABLE customer (
	id      bigint PRIMARY KEY,
	name    finsec.protected_text(cust_name) NOT NULL UNIQUE,
	phone   finsec.protected_text(cust_phone),
	id_no   finsec.protected_resident_id(cust_name),
	address finsec.protected_text("default"));
GRANT SELECT, INSERT ON customer TO regress_pt_app, regress_pt_unmask;

INSERT INTO customer VALUES (1, '张三丰', '138-0013-8000', '11010519491231002X', '北京市海淀区中关村大街1号');
SELECT split_part(name::text, '~', 1) AS name, split_part(phone::text, '~', 1) AS phone,
	   split_part(id_no::text, '~', 1) AS id_no, split_part(address::text, '~', 1) AS address,
	   name::text ~ '~fp1\.' AS sealed
  FROM customer;
SELECT finsec.mask(name), finsec.mask(phone) FROM customer;
SET enable_seqscan = off;
-- (the plan's constant is a sealed value with a random nonce: cut at the quote)
CREATE FUNCTION pg_temp.plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
	FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP RETURN NEXT split_part(l, '''', 1); END LOOP;
END $$;
SELECT pg_temp.plan($$SELECT id FROM customer WHERE name = '张三丰'::finsec.protected_text(cust_name)$$);
SELECT id FROM customer WHERE name = '张三丰'::finsec.protected_text(cust_name);
-- a text value (a typed parameter, a column) cast to the policy is an index condition too
SELECT pg_temp.plan($$SELECT id FROM customer WHERE name = (SELECT '张三丰'::text)::finsec.protected_text(cust_name)$$);
PREPARE by_name(text) AS SELECT id FROM customer WHERE name = $1::finsec.protected_text(cust_name);
EXECUTE by_name('张三丰');
RESET enable_seqscan;
\set VERBOSITY sqlstate
SELECT id FROM customer WHERE name = '张三丰';    -- a literal has no policy: S9P07
\set VERBOSITY default

SET SESSION AUTHORIZATION regress_pt_app;
\set VERBOSITY sqlstate
SELECT finsec.reveal(name, 'KYC review 2026-118', 'customer id=1') FROM customer;
\set VERBOSITY default
SET SESSION AUTHORIZATION regress_pt_unmask;
SELECT finsec.reveal(name, 'KYC review 2026-118', 'customer id=1') FROM customer;
RESET SESSION AUTHORIZATION;
SELECT event_type, db_user, detail ->> 'policy' AS policy, detail ->> 'masked' AS masked, description
  FROM finsec.audit WHERE event_type = 'protect.reveal';

-- Labels: the clearance first (two administrators), then the label.
SET SESSION AUTHORIZATION regress_pt_a;
SELECT finsec.label_grant('identifier', 'regress_pt_app', audited => false, reason => 'the application') AS g \gset
SET SESSION AUTHORIZATION regress_pt_b;
SELECT finsec.approve(:g) IS NOT NULL AS granted;
RESET SESSION AUTHORIZATION;
SECURITY LABEL FOR finsec ON COLUMN customer.name IS 'identifier';
SELECT * FROM finsec.labelled_columns() WHERE table_name = 'customer'::regclass;
SELECT count(*) > 0 AS suggestions FROM finsec.label_suggestions();
SET SESSION AUTHORIZATION regress_pt_app;
SELECT finsec.mask(name) FROM customer;
RESET SESSION AUTHORIZATION;

-- Period keys and crypto-shredding.
SET SESSION AUTHORIZATION regress_pt_a;
SELECT finsec.protect_policy_create('loan_name', enc_key => 'loan.enc', fp_key => 'loan.fp',
									mask => 'name', period_unit => 'month') > 0 AS created;
RESET SESSION AUTHORIZATION;
CREATE TABLE loan (id bigint PRIMARY KEY, closed_on date NOT NULL, borrower finsec.protected_text(loan_name));
SELECT finsec.protect_period('loan', 'borrower', 'closed_on');
SET SESSION AUTHORIZATION regress_pt_a;
SELECT finsec.protect_period_keys('loan_name', '2021-06-01', '2021-07-31', 'the two months of the example') AS pk \gset
SET SESSION AUTHORIZATION regress_pt_b;
SELECT finsec.approve(:pk) ->> 'policy' AS period_keys;
RESET SESSION AUTHORIZATION;
INSERT INTO loan VALUES (1, '2021-06-15', '李四'), (2, '2021-07-02', '王五');
SET SESSION AUTHORIZATION regress_pt_a;
SELECT finsec.protect_shred('loan_name', '2021-06-01', 'retention of June 2021 ended') AS sh \gset
SET SESSION AUTHORIZATION regress_pt_b;
SELECT finsec.approve(:sh) ->> 'policy' AS shredded;
RESET SESSION AUTHORIZATION;
GRANT SELECT ON loan TO regress_pt_unmask;
SET SESSION AUTHORIZATION regress_pt_unmask;
SELECT id, split_part(borrower::text, '~', 1) AS printed, finsec.reveal(borrower, 'tour') AS revealed
  FROM loan ORDER BY id;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS rows_kept FROM loan;

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_ptour;
DROP ROLE regress_pt_a, regress_pt_b, regress_pt_app, regress_pt_unmask;
