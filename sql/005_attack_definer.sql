--
-- 005_attack_definer: no user-defined code runs with finsec's owner's
-- privileges (issue 14, class 1; docs/security-model.md).
--
-- The application owns its tables in its own schema and is in finsec_app;
-- admins enable guards and limits and register tables; an operator walks
-- linked entities.  Every trap below is a function the application defines
-- (a cast, or a function an index predicate calls): it records the role it
-- runs as and tries to make the application a superuser.  After each
-- attack the application is still not a superuser and no trap ran as
-- finsec's owner: finsec converts values in C (no cast runs at all), and
-- SQL over an application table runs as the table's owner in a
-- security-restricted operation.
--
-- In a database of its own: the ledger rows these attacks leave (enabling
-- and disabling guards, limits, registrations) are immutable and would
-- otherwise show in later tests.
SELECT current_database() AS regress_db \gset
CREATE DATABASE regress_atk_definer;
\c regress_atk_definer
CREATE EXTENSION finsec;
CREATE ROLE regress_atk_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_atk_adm LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_atk_op LOGIN IN ROLE finsec_operator;
CREATE SCHEMA atk AUTHORIZATION regress_atk_app;
CREATE SCHEMA atk_hidden AUTHORIZATION regress_atk_app;

SET ROLE regress_atk_app;
GRANT USAGE ON SCHEMA atk TO finsec_admin, finsec_operator;
-- What the traps saw: the role they ran as.
CREATE TABLE atk.seen (what text, who name DEFAULT current_user);
GRANT INSERT, SELECT ON atk.seen TO PUBLIC;
-- The payload: record, then try to become superuser.
CREATE FUNCTION atk.payload(what text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	INSERT INTO atk.seen (what) VALUES (what);
	BEGIN
		EXECUTE 'ALTER ROLE regress_atk_app SUPERUSER';
	EXCEPTION WHEN insufficient_privilege THEN
		NULL;
	END;
	RETURN true;
END
$$;
-- An immutable wrapper, for index predicates: the planner folds it.
CREATE FUNCTION atk.trap_const(what text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT atk.payload(what) $$;
RESET ROLE;

-- Whether any trap ran as finsec's owner, and whether the application
-- became a superuser.
CREATE FUNCTION atk.verdict(OUT app_is_superuser boolean, OUT ran_as_owner bigint)
LANGUAGE sql AS $$
	SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_atk_app'),
		   (SELECT count(*) FROM atk.seen s JOIN pg_extension e ON e.extname = 'finsec'
			 WHERE s.who = e.extowner::regrole::name)
$$;

-- ---- refund guard: an enum status with a user cast to text --------------

SET ROLE regress_atk_app;
CREATE TYPE atk.ost AS ENUM ('new', 'paid', 'cancelled');
CREATE FUNCTION atk.ost_text(atk.ost) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	PERFORM atk.payload('cast ost to text');
	RETURN pg_catalog.textin(pg_catalog.enum_out($1));
END
$$;
CREATE CAST (atk.ost AS text) WITH FUNCTION atk.ost_text(atk.ost);
CREATE TABLE atk.orders (id int PRIMARY KEY, status atk.ost NOT NULL DEFAULT 'new',
						 paid_amount numeric);
CREATE TABLE atk.refunds (id serial PRIMARY KEY, order_id int NOT NULL, amount numeric NOT NULL);
-- An index whose predicate calls the application's code when planned.
CREATE INDEX orders_trap ON atk.orders (id) WHERE atk.trap_const('orders index predicate');
CREATE INDEX refunds_trap ON atk.refunds (order_id) WHERE atk.trap_const('refunds index predicate');
GRANT TRIGGER ON atk.orders, atk.refunds TO finsec_admin;
RESET ROLE;

SET ROLE regress_atk_adm;
SELECT finsec.enable_order_guard('atk.orders', paid_states => '{paid}', cancelled_states => '{cancelled}');
SELECT finsec.enable_refund_guard('atk.refunds', 'atk.orders');
RESET ROLE;

SET ROLE regress_atk_app;
INSERT INTO atk.orders VALUES (1, 'paid', 100), (2, 'new', NULL);
RESET ROLE;
TRUNCATE atk.seen;
-- A new session: the index predicate is planned afresh by the refund guard.
\c
SET ROLE regress_atk_app;
-- Legitimate use of the enum status: a refund within the paid amount is
-- accepted, one beyond it refused, one of an unpaid order refused.
INSERT INTO atk.refunds (order_id, amount) VALUES (1, 30);
\set VERBOSITY sqlstate
INSERT INTO atk.refunds (order_id, amount) VALUES (1, 80);
INSERT INTO atk.refunds (order_id, amount) VALUES (2, 1);
\set VERBOSITY default
INSERT INTO atk.refunds (order_id, amount) VALUES (1, 70);
-- Forced row security cannot hide refunds from the sum, read as the
-- table's owner.
ALTER TABLE atk.refunds ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY hide ON atk.refunds FOR SELECT USING (false);
CREATE POLICY ins ON atk.refunds FOR INSERT WITH CHECK (true);
\set VERBOSITY sqlstate
INSERT INTO atk.refunds (order_id, amount) VALUES (1, 1);
\set VERBOSITY default
ALTER TABLE atk.refunds NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
-- The order guard compares the enum's labels: paid cannot become cancelled.
UPDATE atk.orders SET status = 'cancelled' WHERE id = 1;
RESET ROLE;
-- The cast never ran; the index predicate ran as the table's owner only.
SELECT * FROM atk.verdict();
SELECT DISTINCT what, who FROM atk.seen ORDER BY what, who;
TRUNCATE atk.seen;

-- ---- limits: rebuild_limit_usage() over an enum customer column ----------

SET ROLE regress_atk_app;
CREATE TYPE atk.cust AS ENUM ('alice', 'bob');
CREATE FUNCTION atk.cust_text(atk.cust) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	PERFORM atk.payload('cast cust to text');
	RETURN pg_catalog.textin(pg_catalog.enum_out($1));
END
$$;
CREATE CAST (atk.cust AS text) WITH FUNCTION atk.cust_text(atk.cust);
CREATE TABLE atk.pay (id bigserial PRIMARY KEY, cust atk.cust NOT NULL, amount numeric NOT NULL,
					  kind text NOT NULL DEFAULT 'payment', posted_at timestamptz);
CREATE INDEX pay_trap ON atk.pay (id) WHERE atk.trap_const('pay index predicate');
GRANT TRIGGER ON atk.pay TO finsec_admin;
RESET ROLE;
SET ROLE regress_atk_adm;
SELECT finsec.enable_limits('atk.pay', customer => 'cust', kind => 'kind', posted_at => 'posted_at');
RESET ROLE;
SET ROLE regress_atk_app;
INSERT INTO atk.pay (cust, amount) VALUES ('alice', 10), ('alice', 5), ('bob', 7);
INSERT INTO atk.pay (cust, amount, kind) VALUES ('alice', 3, 'refund');
RESET ROLE;
TRUNCATE atk.seen;
\c
SELECT subject, day_amount, day_count, life_amount FROM finsec.limit_usage
 WHERE relid = 'atk.pay'::regclass AND bucket = '' ORDER BY subject;
SET ROLE regress_atk_adm;
SELECT finsec.rebuild_limit_usage('atk.pay');
RESET ROLE;
-- The same usage, from the enum's labels; no cast ran, the index predicate
-- ran as the table's owner.
SELECT subject, day_amount, day_count, life_amount FROM finsec.limit_usage
 WHERE relid = 'atk.pay'::regclass AND bucket = '' ORDER BY subject;
SELECT * FROM atk.verdict();
SELECT DISTINCT what, who FROM atk.seen ORDER BY what, who;
TRUNCATE atk.seen;

-- ---- risk: linked_entities() over an enum device column -----------------

SET ROLE regress_atk_app;
CREATE TYPE atk.dev AS ENUM ('d-1', 'd-2');
CREATE FUNCTION atk.dev_text(atk.dev) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	PERFORM atk.payload('cast dev to text');
	RETURN pg_catalog.textin(pg_catalog.enum_out($1));
END
$$;
CREATE FUNCTION atk.text_dev(text) RETURNS atk.dev
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	PERFORM atk.payload('cast text to dev');
	RETURN pg_catalog.enum_in(pg_catalog.textout($1), 'atk.dev'::regtype);
END
$$;
CREATE CAST (atk.dev AS text) WITH FUNCTION atk.dev_text(atk.dev);
CREATE CAST (text AS atk.dev) WITH FUNCTION atk.text_dev(text);
CREATE TABLE atk.rpay (id bigserial PRIMARY KEY, cust text NOT NULL, amount numeric NOT NULL,
					   at timestamptz NOT NULL DEFAULT now(), device atk.dev);
CREATE INDEX rpay_trap ON atk.rpay (id) WHERE atk.trap_const('rpay index predicate');
INSERT INTO atk.rpay (cust, amount, device) VALUES ('c-1', 10, 'd-1'), ('c-2', 20, 'd-1'), ('c-3', 5, 'd-2');
GRANT SELECT ON atk.rpay TO finsec_admin;
RESET ROLE;
SET ROLE regress_atk_adm;
SELECT finsec.enable_risk('atk.rpay', customer => 'cust', posted_at => 'at', device => 'device');
RESET ROLE;
TRUNCATE atk.seen;
\c
SET ROLE regress_atk_op;
-- customer -> device -> customers: both directions over the enum column.
SELECT entity_type, value, distance, via_type, via_value, links
  FROM finsec.linked_entities('customer', 'c-1', 2) ORDER BY distance, entity_type, value;
-- A value that is no label of the enum is simply not in the column.
SELECT count(*) FROM finsec.linked_entities('device', 'no-such-device', 1);
RESET ROLE;
SELECT * FROM atk.verdict();
SELECT DISTINCT what, who FROM atk.seen ORDER BY what, who;
TRUNCATE atk.seen;
SET ROLE regress_atk_adm;
SELECT finsec.disable_risk('atk.rpay');
RESET ROLE;

-- ---- registration accepts trusted types only (S9T01) ---------------------

SET ROLE regress_atk_app;
CREATE TYPE atk.pair AS (a int, b text);
CREATE TYPE atk.irange AS RANGE (subtype = int4);
CREATE DOMAIN atk.ref AS text CHECK (VALUE <> '');
CREATE TABLE atk.orders2 (id int PRIMARY KEY, status text, paid_amount numeric, ref atk.pair);
CREATE TABLE atk.orders3 (id int PRIMARY KEY, status text, paid_amount numeric, ref atk.ref);
CREATE TABLE atk.pay2 (id bigserial PRIMARY KEY, cust atk.pair, amount numeric NOT NULL);
CREATE TABLE atk.pay3 (id bigserial PRIMARY KEY, cust text NOT NULL, amount numeric NOT NULL,
					   channel text, at timestamptz NOT NULL DEFAULT now(), device atk.irange);
GRANT TRIGGER ON atk.orders2, atk.orders3, atk.pay2, atk.pay3 TO finsec_admin;
GRANT SELECT ON atk.pay3 TO finsec_admin;
RESET ROLE;
SET ROLE regress_atk_adm;
\set VERBOSITY sqlstate
-- A composite payment reference, a composite customer, a range device.
SELECT finsec.enable_order_guard('atk.orders2', payment_ref => 'ref');
SELECT finsec.enable_limits('atk.pay2', customer => 'cust');
SELECT finsec.enable_risk('atk.pay3', customer => 'cust', posted_at => 'at', device => 'device');
\set VERBOSITY default
SELECT finsec.enable_risk('atk.pay3', customer => 'cust', posted_at => 'at', device => 'device');
-- A domain over text is handled as text: accepted.
SELECT finsec.enable_order_guard('atk.orders3', payment_ref => 'ref');
RESET ROLE;

-- The internal helpers: for finsec's own functions only; read-only; trusted
-- types only.
SET ROLE regress_atk_adm;
SELECT * FROM finsec._select_as_table_owner('atk.pay', 'SELECT 1') AS t(x int);
SELECT finsec._trusted_text(1);
RESET ROLE;
SELECT * FROM finsec._select_as_table_owner('atk.seen', 'DELETE FROM atk.seen RETURNING 1') AS t(x int);
SELECT * FROM finsec._select_as_table_owner('atk.seen', 'SELECT current_user') AS t(x name);
SELECT * FROM finsec._select_as_table_owner('atk.pay2', 'SELECT cust FROM atk.pay2') AS t(x atk.pair);
SELECT finsec._trusted_text(ROW(1, 'x')::atk.pair);
SELECT finsec._trusted_text('paid'::atk.ost), finsec._trusted_text('ab'::char(4)) || '|';

-- ---- and checks the type again at use ------------------------------------

SET ROLE regress_atk_app;
INSERT INTO atk.orders3 VALUES (1, 'paid', 10, 'r-1');
UPDATE atk.orders3 SET ref = 'r-1' WHERE id = 1;
-- The owner cannot alter guarded and limited columns' types (S9L14, S9L12) ...
\set VERBOSITY sqlstate
ALTER TABLE atk.orders3 ALTER COLUMN ref TYPE atk.pair USING ROW(1, ref);
ALTER TABLE atk.orders ALTER COLUMN id TYPE bigint;
ALTER TABLE atk.pay ALTER COLUMN kind TYPE atk.pair USING ROW(1, kind);
\set VERBOSITY default
-- ... a superuser can, to types finsec refuses, and finsec checks again at use.
RESET ROLE;
ALTER TABLE atk.orders3 ALTER COLUMN ref TYPE atk.pair USING ROW(1, ref);
ALTER TABLE atk.orders ALTER COLUMN id TYPE bigint;
SET ROLE regress_atk_app;
INSERT INTO atk.refunds (order_id, amount) VALUES (1, 1);
ALTER TABLE atk.pay ALTER COLUMN kind DROP DEFAULT;
RESET ROLE;
ALTER TABLE atk.pay ALTER COLUMN kind TYPE atk.pair USING ROW(1, kind);
SET ROLE regress_atk_app;
\set VERBOSITY sqlstate
UPDATE atk.orders3 SET paid_amount = 10 WHERE id = 1;
INSERT INTO atk.pay (cust, amount, kind) VALUES ('bob', 1, ROW(1, 'payment'));
\set VERBOSITY default
INSERT INTO atk.pay (cust, amount, kind) VALUES ('bob', 1, ROW(1, 'payment'));
RESET ROLE;
-- rebuild_limit_usage() refuses to read the column too.
SET ROLE regress_atk_adm;
\set VERBOSITY sqlstate
SELECT finsec.rebuild_limit_usage('atk.pay');
\set VERBOSITY default
RESET ROLE;

-- ---- a table given by OID gets the schema check a name gets --------------

SET ROLE regress_atk_app;
CREATE TABLE atk_hidden.pay (id bigserial PRIMARY KEY, customer_id text NOT NULL, amount numeric NOT NULL,
							 posted_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE atk_hidden.orders (id int PRIMARY KEY, status text, paid_amount numeric);
-- Privileges on the tables, but no USAGE on their schema.
GRANT TRIGGER, SELECT ON atk_hidden.pay, atk_hidden.orders TO finsec_admin;
RESET ROLE;
SELECT 'atk_hidden.pay'::regclass::oid AS hidden_pay, 'atk_hidden.orders'::regclass::oid AS hidden_orders \gset
SET ROLE regress_atk_adm;
SELECT finsec.enable_limits('atk_hidden.pay');
SELECT finsec.enable_limits(:hidden_pay::oid::regclass);
SELECT finsec.enable_order_guard(:hidden_orders::oid::regclass);
SELECT finsec.enable_risk(:hidden_pay::oid::regclass);
RESET ROLE;
SELECT count(*) AS registered FROM pg_trigger
 WHERE tgrelid IN (:hidden_pay, :hidden_orders) AND tgname LIKE 'finsec%';
SELECT count(*) AS registered FROM finsec.risk_table WHERE relid = :hidden_pay::regclass;

-- ---- after all of it -----------------------------------------------------

SELECT * FROM atk.verdict();

-- Clean up.
SET ROLE regress_atk_adm;
SELECT finsec.disable_refund_guard('atk.refunds');
SELECT finsec.disable_order_guard('atk.orders');
SELECT finsec.disable_order_guard('atk.orders3');
SELECT finsec.disable_limits('atk.pay');
RESET ROLE;
SET client_min_messages = warning;
DROP SCHEMA atk, atk_hidden CASCADE;
RESET client_min_messages;
\c :regress_db
DROP DATABASE regress_atk_definer WITH (FORCE);
DROP ROLE regress_atk_app, regress_atk_adm, regress_atk_op;
