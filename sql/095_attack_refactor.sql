--
-- 095_attack_refactor: attacks on the checks that the 0.9 refactoring
-- (issue 15) moved into common: the amount abstraction, the before-row
-- trigger check, the two-person switch and the worker's status.
--
SET client_min_messages = warning;
CREATE ROLE regress_ar_admin LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ar_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_ar_nobody LOGIN;
RESET client_min_messages;
\set VERBOSITY sqlstate

-- ---- amounts: mixing currencies within one order (S9G15) -------------------
-- Orders paid in numeric, refunds in finsec.money: a refund in CNY and one in
-- USD for the same order are refunds in two currencies of one order.
CREATE TABLE ar_orders (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'unpaid',
						paid_amount numeric);
SELECT finsec.enable_order_guard('ar_orders');
CREATE TABLE ar_refunds (id serial PRIMARY KEY, order_id bigint NOT NULL, amount finsec.money);
SELECT finsec.enable_refund_guard('ar_refunds', 'ar_orders');
INSERT INTO ar_orders VALUES (1, 'paid', 100);
INSERT INTO ar_refunds (order_id, amount) VALUES (1, 'CNY 50');
-- should be refused: S9G15 (a second currency for one order)
INSERT INTO ar_refunds (order_id, amount) VALUES (1, 'USD 50');
SELECT order_id, amount FROM ar_refunds ORDER BY id;

-- Orders paid in numeric with a finsec.money refunded amount: the refunded
-- amount of one order changing its currency mixes currencies in one order.
CREATE TABLE ar_norders (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'unpaid',
						 paid_amount numeric, refunded finsec.money);
SELECT finsec.enable_order_guard('ar_norders', refunded_amount => 'refunded');
INSERT INTO ar_norders (id, status, paid_amount) VALUES (1, 'paid', 100);
UPDATE ar_norders SET refunded = 'CNY 30' WHERE id = 1;
-- should be refused: S9G15 (CNY 30 refunded, then "USD 60")
UPDATE ar_norders SET refunded = 'USD 60' WHERE id = 1;
SELECT id, status, paid_amount, refunded FROM ar_norders ORDER BY id;

-- Orders paid in finsec.money; a paid order going to a refunded state
-- whose paid amount changes only its currency.
CREATE TABLE ar_morders (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'unpaid',
						 paid_amount finsec.money, refunded finsec.money);
SELECT finsec.enable_order_guard('ar_morders', refunded_amount => 'refunded');
INSERT INTO ar_morders (id, status, paid_amount) VALUES (1, 'paid', 'CNY 100');
-- should be refused: S9G11 or S9G15
UPDATE ar_morders SET status = 'refunded', paid_amount = 'USD 100', refunded = 'USD 100' WHERE id = 1;
SELECT id, status, paid_amount, refunded FROM ar_morders ORDER BY id;

-- A domain over finsec.money is finsec.money: the currency check applies.
CREATE DOMAIN ar_dmoney AS finsec.money;
CREATE TABLE ar_dorders (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'unpaid',
						 paid_amount ar_dmoney);
SELECT finsec.enable_order_guard('ar_dorders');
INSERT INTO ar_dorders VALUES (1, 'paid', 'CNY 100');
UPDATE ar_dorders SET paid_amount = 'USD 100' WHERE id = 1;
-- Types that are no amounts: pg_catalog.money, a type named money in
-- another schema, an array of finsec.money (42804 or similar).
CREATE SCHEMA ar_s;
CREATE DOMAIN ar_s.money AS text;
CREATE TABLE ar_bad (id bigint PRIMARY KEY, status text, a1 pg_catalog.money, a2 ar_s.money,
					 a3 finsec.money[]);
SELECT finsec.enable_order_guard('ar_bad', paid_amount => 'a1');
SELECT finsec.enable_order_guard('ar_bad', paid_amount => 'a2');
SELECT finsec.enable_order_guard('ar_bad', paid_amount => 'a3');
-- NaN and Infinity are no amounts.
INSERT INTO ar_orders VALUES (2, 'paid', 'NaN');
INSERT INTO ar_orders VALUES (3, 'paid', 'Infinity');

-- ---- finsec's trigger functions outside a BEFORE ROW trigger ---------------
CREATE TABLE ar_own (id bigint PRIMARY KEY, status text, paid_amount numeric);
CREATE TRIGGER ar_after AFTER INSERT ON ar_own FOR EACH ROW
	EXECUTE FUNCTION finsec.order_guard_trigger();
INSERT INTO ar_own VALUES (1, 'paid', 1);
DROP TRIGGER ar_after ON ar_own;
CREATE TRIGGER ar_stmt BEFORE INSERT ON ar_own FOR EACH STATEMENT
	EXECUTE FUNCTION finsec.refund_guard_trigger();
INSERT INTO ar_own VALUES (2, 'paid', 1);
DROP TRIGGER ar_stmt ON ar_own;
CREATE TRIGGER ar_lim AFTER INSERT ON ar_own FOR EACH ROW
	EXECUTE FUNCTION finsec.limit_trigger();
INSERT INTO ar_own VALUES (3, 'paid', 1);
DROP TRIGGER ar_lim ON ar_own;
SELECT finsec.order_guard_trigger();

-- ---- the two-person switch --------------------------------------------------
-- A finsec_admin whose session is its own (not a superuser's SET ROLE)
-- files a change request; the C functions refuse it directly (42501).
GRANT TRIGGER ON ar_orders, ar_refunds TO finsec_admin;
SET SESSION AUTHORIZATION regress_ar_admin;
SELECT finsec.disable_refund_guard('ar_refunds') IS NOT NULL AS filed_request;
SELECT finsec._disable_refund_guard('ar_refunds');
SELECT finsec._disable_order_guard('ar_orders');
SELECT finsec._disable_order_guard(NULL);
RESET SESSION AUTHORIZATION;
SELECT count(*) AS still_guarded FROM finsec.refund_guard WHERE relid = 'ar_refunds'::regclass;

-- ---- ProcessUtility callbacks: password policy and savepoints ---------------
SET client_min_messages = warning;
BEGIN;
SAVEPOINT s1;
CREATE ROLE regress_ar_pw1 LOGIN PASSWORD 'aaaaaaaa';
ROLLBACK TO SAVEPOINT s1;
CREATE ROLE regress_ar_pw2 LOGIN PASSWORD 'aaaaaaaa';
ROLLBACK;
BEGIN;
SAVEPOINT s1;
SELECT finsec.enable_limits('ar_nosuch', customer => 'c', amount => 'a');
ROLLBACK TO SAVEPOINT s1;
CREATE ROLE regress_ar_pw3 LOGIN PASSWORD '12345678';
ROLLBACK;
DO $$ BEGIN EXECUTE 'CREATE ROLE regress_ar_pw4 LOGIN PASSWORD ''qwertyuiop'''; END $$;
CREATE ROLE regress_ar_pw5 LOGIN PASSWORD 'Gx7#mQ2v!Lp9';
ALTER ROLE regress_ar_pw5 PASSWORD 'P@ssw0rd';
ALTER USER regress_ar_pw5 WITH PASSWORD 'aaaaaaaa';
SET SESSION AUTHORIZATION regress_ar_pw5;
ALTER ROLE regress_ar_pw5 PASSWORD 'aaaaaaaa';
RESET SESSION AUTHORIZATION;
SELECT rolname FROM pg_roles WHERE rolname LIKE 'regress_ar_pw%' ORDER BY 1;
DROP ROLE regress_ar_pw5;
RESET client_min_messages;

-- ---- worker status: not for the application or PUBLIC ----------------------
SET ROLE regress_ar_app;
SELECT count(*) >= 0 FROM finsec.worker_tasks();
SELECT count(*) >= 0 FROM finsec.status_worker_tasks;
SELECT count(*) >= 0 FROM finsec.status_worker();
RESET ROLE;
SET ROLE regress_ar_nobody;
SELECT count(*) >= 0 FROM finsec.worker_tasks();
SELECT count(*) >= 0 FROM finsec.status_worker_tasks;
RESET ROLE;

\set VERBOSITY default
SELECT finsec.disable_refund_guard('ar_refunds');
SELECT finsec.disable_order_guard('ar_orders');
SELECT finsec.disable_order_guard('ar_morders');
SELECT finsec.disable_order_guard('ar_dorders');
SELECT finsec.disable_order_guard('ar_norders');
DROP TABLE ar_orders, ar_refunds, ar_norders, ar_morders, ar_dorders, ar_bad, ar_own;
DROP DOMAIN ar_dmoney;
DROP SCHEMA ar_s CASCADE;
DROP ROLE regress_ar_admin, regress_ar_app, regress_ar_nobody;
