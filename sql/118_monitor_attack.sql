--
-- 118_monitor_attack: attacks on the monitor core by the table's owner,
-- the application and each finsec role (docs/monitor.md): forged
-- stamps, hostile column names and types, RLS, search_path capture,
-- in-transaction and rolled-back rounds, odd amounts, large
-- transactions, internal functions, privileges.  Every payment committed
-- is processed exactly once; everything else is refused.
--
\set VERBOSITY default
SET client_min_messages = warning;
CREATE ROLE regress_atk_owner LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_atk_bob LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_atk_op LOGIN IN ROLE finsec_operator;
CREATE ROLE regress_atk_aud LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress_atk_app LOGIN IN ROLE finsec_app;
SET client_min_messages = notice;
SET timezone = 'Asia/Shanghai';
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;
CREATE SCHEMA atk AUTHORIZATION regress_atk_owner;
GRANT USAGE ON SCHEMA atk TO regress_atk_app;
-- events of a table, in processing order
CREATE FUNCTION pg_temp.events(rel regclass) RETURNS TABLE (customer text, amount numeric, n bigint) LANGUAGE sql AS $$
	SELECT e.customer, e.amount, count(*) FROM finsec.monitor_event e JOIN finsec.monitor_table t USING (table_id)
	 WHERE t.relid = rel GROUP BY e.customer, e.amount ORDER BY e.customer, e.amount
$$;

-- ---- 1. Forged stamps: INSERT, UPDATE, COPY, an owner's BEFORE trigger -------
SET SESSION AUTHORIZATION regress_atk_owner;
CREATE TABLE atk.pay (id bigserial PRIMARY KEY, cust text, amount numeric, at timestamptz DEFAULT now(), note text);
GRANT INSERT, UPDATE, SELECT ON atk.pay TO regress_atk_app;
GRANT USAGE ON SEQUENCE atk.pay_id_seq TO regress_atk_app;
-- fires before the stamp on every update: it tries to hide updated rows (NULL stamp) or replay them (a future stamp)
CREATE FUNCTION atk.restamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.finsec_mon_txid := CASE WHEN NEW.note = 'hide' THEN NULL ELSE '99999999'::xid8 END;
	RETURN NEW;
END $$;
SELECT finsec.enable_monitoring('atk.pay', customer => 'cust', posted_at => 'at');
CREATE TRIGGER a_restamp BEFORE INSERT OR UPDATE ON atk.pay FOR EACH ROW EXECUTE FUNCTION atk.restamp();
SELECT pg_temp.try($$CREATE TRIGGER zz_restamp BEFORE INSERT OR UPDATE ON atk.pay FOR EACH ROW EXECUTE FUNCTION atk.restamp()$$);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_atk_app;
INSERT INTO atk.pay (cust, amount, finsec_mon_txid) VALUES ('f1', 1, '1'), ('f2', 2, NULL), ('f3', 3, '99999999');
INSERT INTO atk.pay (cust, amount, note) VALUES ('f4', 4, 'hide');
COPY atk.pay (cust, amount, finsec_mon_txid) FROM stdin;
f5	5	3
\.
SELECT count(*) AS forged_or_missing FROM atk.pay WHERE finsec_mon_txid IS NULL OR finsec_mon_txid IN ('1', '3', '99999999');
RESET SESSION AUTHORIZATION;
SELECT payments FROM finsec.monitor_now() WHERE relid = 'atk.pay'::regclass;
SELECT * FROM pg_temp.events('atk.pay');
-- updates, naming the stamp or not, keep it: nothing is hidden, nothing processed twice
SET SESSION AUTHORIZATION regress_atk_app;
UPDATE atk.pay SET note = 'hide' WHERE cust = 'f1';
UPDATE atk.pay SET note = 'x', finsec_mon_txid = '99999999' WHERE cust = 'f2';
UPDATE atk.pay SET finsec_mon_txid = NULL WHERE cust = 'f3';
INSERT INTO atk.pay (id, cust, amount) VALUES ((SELECT id FROM atk.pay WHERE cust = 'f4'), 'f4', 4)
	ON CONFLICT (id) DO UPDATE SET note = 'hide';
RESET SESSION AUTHORIZATION;
SELECT count(*) AS unstamped FROM atk.pay WHERE finsec_mon_txid IS NULL OR finsec_mon_txid = '99999999';
SELECT payments FROM finsec.monitor_now() WHERE relid = 'atk.pay'::regclass;
SELECT sum(n) AS events FROM pg_temp.events('atk.pay');
SET SESSION AUTHORIZATION regress_atk_owner;
SELECT pg_temp.try($$ALTER TABLE atk.pay DISABLE TRIGGER finsec_monitor_stamp$$);
RESET SESSION AUTHORIZATION;

-- ---- 2. Hostile column names (the core builds its SQL with %I) --------------
SET SESSION AUTHORIZATION regress_atk_owner;
CREATE TABLE atk."pay ""x""; DROP TABLE atk.pay; --" (
	"cust""; DROP TABLE atk.pay; --" text,
	"amount $1" numeric,
	"posted at" timestamptz DEFAULT now(),
	"acct'); SELECT 1; --" text,
	"%I %s %L" text
);
SELECT finsec.enable_monitoring('atk."pay ""x""; DROP TABLE atk.pay; --"', customer => 'cust"; DROP TABLE atk.pay; --',
	amount => 'amount $1', posted_at => 'posted at', account => 'acct''); SELECT 1; --', reference => '%I %s %L');
INSERT INTO atk."pay ""x""; DROP TABLE atk.pay; --" VALUES ('q1', 10, now(), 'A''1', '%s');
RESET SESSION AUTHORIZATION;
SELECT payments FROM finsec.monitor_now() WHERE relid = 'atk."pay ""x""; DROP TABLE atk.pay; --"'::regclass;
SELECT customer, account, reference, amount FROM finsec.monitor_event e JOIN finsec.monitor_table t USING (table_id)
 WHERE t.relid = 'atk."pay ""x""; DROP TABLE atk.pay; --"'::regclass;
SELECT to_regclass('atk.pay') IS NOT NULL AS pay_still_there;

-- ---- 3. Row-level security: the owner's FORCE and a policy hiding rows -------
SET SESSION AUTHORIZATION regress_atk_owner;
CREATE TABLE atk.rls (cust text, amount numeric, at timestamptz DEFAULT now());
GRANT INSERT, SELECT ON atk.rls TO regress_atk_app;
SELECT finsec.enable_monitoring('atk.rls', customer => 'cust', posted_at => 'at');
ALTER TABLE atk.rls ENABLE ROW LEVEL SECURITY;
ALTER TABLE atk.rls FORCE ROW LEVEL SECURITY;
CREATE POLICY hide ON atk.rls FOR SELECT USING (cust NOT LIKE 'hidden%');
CREATE POLICY ins ON atk.rls FOR INSERT WITH CHECK (true);
INSERT INTO atk.rls (cust, amount) VALUES ('r1', 1), ('hidden1', 2);
SELECT count(*) AS owner_sees FROM atk.rls;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_atk_app;
INSERT INTO atk.rls (cust, amount) VALUES ('hidden2', 3);
RESET SESSION AUTHORIZATION;
SELECT payments FROM finsec.monitor_now() WHERE relid = 'atk.rls'::regclass;
SELECT * FROM pg_temp.events('atk.rls');

-- ---- 4. Column types: a domain with a CHECK calling the owner's function, an enum, a user type
SET SESSION AUTHORIZATION regress_atk_owner;
CREATE TABLE atk.calls (n int);
CREATE FUNCTION atk.spy(v text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO atk.calls VALUES (1);
	RETURN v IS NOT NULL;
EXCEPTION WHEN OTHERS THEN
	RETURN true;
END $$;
CREATE DOMAIN atk.cust_t AS text CHECK (atk.spy(VALUE));
CREATE TYPE atk.dir_t AS ENUM ('in', 'out', 'credit');
CREATE TYPE atk.pair AS (a text, b text);
CREATE TABLE atk.typed (cust atk.cust_t, amount numeric, at timestamptz DEFAULT now(), dir atk.dir_t, p atk.pair, arr text[]);
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('atk.typed', customer => 'cust', posted_at => 'at', account => 'p')$$);
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('atk.typed', customer => 'cust', posted_at => 'at', account => 'arr')$$);
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('atk.typed', customer => 'cust', posted_at => 'at', direction => 'p')$$);
SELECT finsec.enable_monitoring('atk.typed', customer => 'cust', posted_at => 'at', direction => 'dir');
TRUNCATE atk.calls;
INSERT INTO atk.typed (cust, amount, dir) VALUES ('d1', 1, 'in'), ('d2', 2, 'credit'), ('d3', 3, 'out');
SELECT count(*) AS spy_calls_by_insert FROM atk.calls;
RESET SESSION AUTHORIZATION;
SELECT payments FROM finsec.monitor_now() WHERE relid = 'atk.typed'::regclass;
SELECT e.customer, e.direction FROM finsec.monitor_event e JOIN finsec.monitor_table t USING (table_id)
 WHERE t.relid = 'atk.typed'::regclass ORDER BY 1;
-- the domain's function ran as the table owner only (on INSERT), never as finsec's owner in the batch
SELECT count(*) AS spy_calls FROM atk.calls;
-- renaming an enum label would change the direction of payments to come
SET SESSION AUTHORIZATION regress_atk_owner;
SELECT pg_temp.try($$ALTER TYPE atk.dir_t RENAME VALUE 'credit' TO 'out2'$$);
SELECT pg_temp.try($$ALTER TYPE atk.dir_t ADD VALUE 'debit'$$);
RESET SESSION AUTHORIZATION;

-- ---- 5. finsec's functions cannot be replaced; search_path capture --------------
SET SESSION AUTHORIZATION regress_atk_owner;
SELECT pg_temp.try($$CREATE OR REPLACE FUNCTION finsec.monitor_stamp() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'$$);
SELECT pg_temp.try($$CREATE OR REPLACE FUNCTION finsec._monitor_batch(tab integer, by_worker boolean) RETURNS integer LANGUAGE sql AS 'SELECT 0'$$);
RESET SESSION AUTHORIZATION;
SELECT pg_temp.try($$CREATE OR REPLACE FUNCTION finsec._monitor_batch(tab integer, by_worker boolean) RETURNS integer LANGUAGE sql AS 'SELECT 0'$$);
-- look-alikes in public, first on the path: the core calls only qualified names
CREATE FUNCTION public.pg_snapshot_xmin(pg_snapshot) RETURNS xid8 LANGUAGE sql AS $$ SELECT '0'::xid8 $$;
CREATE FUNCTION public.pg_visible_in_snapshot(xid8, pg_snapshot) RETURNS boolean LANGUAGE sql AS $$ SELECT false $$;
CREATE FUNCTION public.nextval(regclass) RETURNS bigint LANGUAGE sql AS $$ SELECT 1::bigint $$;
CREATE FUNCTION public.xid8_ge(xid8, xid8) RETURNS boolean LANGUAGE sql AS $$ SELECT false $$;
CREATE OPERATOR public.>= (LEFTARG = xid8, RIGHTARG = xid8, FUNCTION = public.xid8_ge);
CREATE OPERATOR public.< (LEFTARG = xid8, RIGHTARG = xid8, FUNCTION = public.xid8_ge);
SET search_path = public, pg_catalog;
SET SESSION AUTHORIZATION regress_atk_app;
INSERT INTO atk.pay (cust, amount) VALUES ('s1', 6);
RESET SESSION AUTHORIZATION;
SET search_path = public, pg_catalog;
SELECT payments FROM finsec.monitor_now() WHERE relid = 'atk.pay'::regclass;
RESET search_path;
SELECT customer, count(*) FROM finsec.monitor_event WHERE customer = 's1' GROUP BY 1;
DROP OPERATOR public.>= (xid8, xid8);
DROP OPERATOR public.< (xid8, xid8);
DROP FUNCTION public.xid8_ge(xid8, xid8), public.nextval(regclass), public.pg_visible_in_snapshot(xid8, pg_snapshot),
	public.pg_snapshot_xmin(pg_snapshot);

-- ---- 6. A round inside the inserting transaction, and one rolled back -------
BEGIN;
INSERT INTO atk.pay (cust, amount) VALUES ('own1', 7);
SELECT payments FROM finsec.monitor_now() WHERE relid = 'atk.pay'::regclass;
COMMIT;
SELECT payments FROM finsec.monitor_now() WHERE relid = 'atk.pay'::regclass;
BEGIN;
INSERT INTO atk.pay (cust, amount) VALUES ('own2', 8);
SELECT payments FROM finsec.monitor_now() WHERE relid = 'atk.pay'::regclass;
ROLLBACK;
SELECT payments FROM finsec.monitor_now() WHERE relid = 'atk.pay'::regclass;
-- the round rolled back, the position with it; a payment committed meanwhile is still new
INSERT INTO atk.pay (cust, amount) VALUES ('own3', 9);
SELECT payments FROM finsec.monitor_now() WHERE relid = 'atk.pay'::regclass;
SELECT customer, count(*) FROM finsec.monitor_event WHERE customer LIKE 'own%' GROUP BY 1 ORDER BY 1;

-- ---- 7. NaN, infinities, huge and NULL amounts, NULL customer and time -------
INSERT INTO atk.pay (cust, amount, at) VALUES ('n1', 'NaN', now()), ('n2', 'Infinity', now()), ('n3', '-Infinity', now()),
	('n4', 1e100, now()), ('n5', NULL, now()), (NULL, 11, now()), ('n7', 12, NULL);
SELECT payments FROM finsec.monitor_now() WHERE relid = 'atk.pay'::regclass;
SELECT customer, amount, amount_cny, at IS NOT NULL AS has_time FROM finsec.monitor_event
 WHERE customer IN ('n1', 'n2', 'n3', 'n4', 'n5', '', 'n7') ORDER BY event_id;
SELECT null_amounts FROM finsec.monitor_table WHERE relid = 'atk.pay'::regclass;

-- ---- 8. Small batches: one transaction larger than a batch, many small ones ---
ALTER SYSTEM SET finsec.monitor_batch_rows = 10;
SELECT pg_reload_conf();
DO $$ BEGIN
	FOR i IN 1..100 LOOP
		EXIT WHEN current_setting('finsec.monitor_batch_rows') = '10';
		PERFORM pg_sleep(0.05);
	END LOOP;
END $$;
SHOW finsec.monitor_batch_rows;
INSERT INTO atk.pay (cust, amount) SELECT 'big', g FROM generate_series(1, 25) g;
INSERT INTO atk.pay (cust, amount) VALUES ('small', 1);
INSERT INTO atk.pay (cust, amount) VALUES ('small', 2);
INSERT INTO atk.pay (cust, amount) SELECT 'big2', g FROM generate_series(1, 12) g;
SELECT batches, payments FROM finsec.monitor_now() WHERE relid = 'atk.pay'::regclass;
SELECT payments FROM finsec.monitor_now() WHERE relid = 'atk.pay'::regclass;
SELECT customer, count(*), count(DISTINCT batch_id) AS batches FROM finsec.monitor_event
 WHERE customer IN ('big', 'small', 'big2') GROUP BY 1 ORDER BY 1;
-- every committed payment of the table exactly once
SELECT (SELECT count(*) FROM atk.pay) AS rows,
	   (SELECT count(*) FROM finsec.monitor_event e JOIN finsec.monitor_table t USING (table_id) WHERE t.relid = 'atk.pay'::regclass) AS events;
ALTER SYSTEM RESET finsec.monitor_batch_rows;
SELECT pg_reload_conf();

-- ---- 9. Internal functions and tables, per role -----------------------------
SET ROLE regress_atk_owner;
SELECT pg_temp.try($$SELECT finsec._monitor_batch(1, false)$$);
SELECT pg_temp.try($$SELECT finsec._monitor_attach('atk.pay', false, false)$$);
SELECT pg_temp.try($$SELECT finsec._monitor_detach('atk.pay')$$);
SELECT pg_temp.try($$SELECT * FROM finsec._select_as_table_owner('atk.pay', 'SELECT 1', NULL, NULL) AS s(x int)$$);
SELECT pg_temp.try($$SELECT finsec._disable_monitoring('atk.pay')$$);
SELECT pg_temp.try($$UPDATE finsec.monitor_table SET position = pg_current_snapshot()$$);
SELECT pg_temp.try($$DELETE FROM finsec.monitor_event$$);
SELECT pg_temp.try($$SELECT finsec.monitor_stamp()$$);
RESET ROLE;
SET ROLE regress_atk_op;
SELECT pg_temp.try($$SELECT finsec._monitor_batch(1, false)$$);
SELECT pg_temp.try($$SELECT * FROM finsec._monitor_extract((SELECT t FROM finsec.monitor_table t LIMIT 1), 0, 'true', NULL, NULL, '{text,text}')$$);
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('atk.pay')$$);
SELECT pg_temp.try($$INSERT INTO finsec.monitor_event (event_id, table_id, batch_id, stamp, at, customer, customer_type, direction) VALUES (-1, 1, 1, '1', now(), 'x', 'natural', 'in')$$);
SELECT pg_temp.try($$SELECT count(*) FROM finsec.monitor_now()$$);
RESET ROLE;
SET ROLE regress_atk_aud;
SELECT pg_temp.try($$SELECT count(*) FROM finsec.monitor_now()$$);
SELECT pg_temp.try($$SELECT count(*) FROM finsec.monitor_event$$);
RESET ROLE;
-- the application sees nothing of the monitor
SET ROLE regress_atk_app;
SELECT pg_temp.try($$SELECT count(*) FROM finsec.alert$$);
SELECT pg_temp.try($$SELECT count(*) FROM finsec.monitor_event$$);
SELECT pg_temp.try($$SELECT count(*) FROM finsec.monitor_table$$);
SELECT pg_temp.try($$SELECT count(*) FROM finsec.monitor_status$$);
SELECT pg_temp.try($$SELECT count(*) FROM finsec.monitor_now()$$);
SELECT pg_temp.try($$SELECT finsec._monitor_batch(1, false)$$);
SELECT pg_temp.try($$SELECT * FROM finsec._select_as_table_owner('atk.pay', 'SELECT 1', NULL, NULL) AS s(x int)$$);
RESET ROLE;

-- ---- clean up ------------------------------------------------------------------
SELECT count(finsec.disable_monitoring(relid)) FROM finsec.monitor_table WHERE relid::text LIKE 'atk.%';
DROP SCHEMA atk CASCADE;
-- the grant finsec._monitor_attach gave the owner went with its last monitored table
SELECT has_function_privilege('regress_atk_owner', 'finsec.monitor_stamp()', 'EXECUTE') AS still_granted;
SET client_min_messages = warning;
DROP ROLE regress_atk_owner, regress_atk_bob, regress_atk_op, regress_atk_aud, regress_atk_app;
