--
-- 126_protect_status: finsec.status() for protected data
-- (docs/protected-data.md#status).  One row per policy a column uses:
-- not ok while one of its keys has no active version, and for a period
-- policy registered with protect_period() while the current or the next
-- period has no key (writes would start failing when the period turns).
--
SET client_min_messages = warning;
CREATE DATABASE regress_pstatus;
\c regress_pstatus
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_ps_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ps_b LOGIN IN ROLE finsec_admin;

-- Nothing protected yet: one row, ok.
SELECT component, ok FROM finsec.status() WHERE component LIKE 'protect%' ORDER BY 1;

SET SESSION AUTHORIZATION regress_ps_a;
SELECT finsec.protect_policy_create('ps_name', enc_key => 'ps.enc', fp_key => 'ps.fp', mask => 'name') > 0 AS created;
SELECT finsec.protect_policy_create('ps_month', enc_key => 'psm.enc', fp_key => 'psm.fp', mask => 'name',
									period_unit => 'month') > 0 AS created;
RESET SESSION AUTHORIZATION;
CREATE TABLE ps_customer (id int PRIMARY KEY, name finsec.protected_text(ps_name));

-- A column uses ps_name, whose keys do not exist: not ok, the detail
-- names both keys.
SELECT component, ok, detail FROM finsec.status() WHERE component LIKE 'protect%' ORDER BY 1;

SET SESSION AUTHORIZATION regress_ps_a;
SELECT finsec.key_generate('ps.enc', 'encryption', 'aes-256-gcm') AS r1 \gset
SELECT finsec.key_generate('ps.fp', 'fingerprint', 'hmac-sha256') AS r2 \gset
-- Pending keys are not active: still not ok.
RESET SESSION AUTHORIZATION;
SELECT component, ok FROM finsec.status() WHERE component LIKE 'protect%' ORDER BY 1;
SET SESSION AUTHORIZATION regress_ps_b;
SELECT finsec.approve(:r1) ->> 'state' AS r1, finsec.approve(:r2) ->> 'state' AS r2;
RESET SESSION AUTHORIZATION;
SELECT component, ok, detail FROM finsec.status() WHERE component LIKE 'protect%' ORDER BY 1;

-- A period policy registered on a table: the base keys and the keys of
-- this period and the next are needed.
SET SESSION AUTHORIZATION regress_ps_a;
SELECT finsec.key_generate('psm.enc', 'encryption', 'aes-256-gcm') AS r3 \gset
SELECT finsec.key_generate('psm.fp', 'fingerprint', 'hmac-sha256') AS r4 \gset
SET SESSION AUTHORIZATION regress_ps_b;
SELECT finsec.approve(:r3) ->> 'state' AS r3, finsec.approve(:r4) ->> 'state' AS r4;
RESET SESSION AUTHORIZATION;
CREATE TABLE ps_txn (id int PRIMARY KEY, booked date, name finsec.protected_text(ps_month));
SELECT finsec.protect_period('ps_txn', 'name', 'booked');
SELECT component, ok, detail ~ ('psm\.enc\.' || to_char(current_date, 'YYYYMM')) AS names_this_period,
	   detail ~ ('psm\.enc\.' || to_char(current_date + interval '1 month', 'YYYYMM')) AS names_next_period
  FROM finsec.status() WHERE component = 'protect_keys:ps_month';
-- Keys for this month only: the next month is still missing.
SET SESSION AUTHORIZATION regress_ps_a;
SELECT finsec.protect_period_keys('ps_month', current_date, current_date) AS r5 \gset
SET SESSION AUTHORIZATION regress_ps_b;
SELECT finsec.approve(:r5) ->> 'policy' AS r5;
RESET SESSION AUTHORIZATION;
SELECT component, ok, detail ~ ('psm\.enc\.' || to_char(current_date, 'YYYYMM')) AS names_this_period,
	   detail ~ ('psm\.enc\.' || to_char(current_date + interval '1 month', 'YYYYMM')) AS names_next_period
  FROM finsec.status() WHERE component = 'protect_keys:ps_month';
SET SESSION AUTHORIZATION regress_ps_a;
SELECT finsec.protect_period_keys('ps_month', (current_date + interval '1 month')::date,
								  (current_date + interval '1 month')::date) AS r6 \gset
SET SESSION AUTHORIZATION regress_ps_b;
SELECT finsec.approve(:r6) ->> 'policy' AS r6;
RESET SESSION AUTHORIZATION;
SELECT component, ok FROM finsec.status() WHERE component LIKE 'protect%' ORDER BY 1;

-- Operators and auditors may read it; the application may not.
SET ROLE finsec_app;
SELECT * FROM finsec.status_protect();
RESET ROLE;

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_pstatus;
DROP ROLE regress_ps_a, regress_ps_b;
