--
-- 117_monitor_ddl: DDL protection of monitored tables (docs/monitor.md):
-- while a table is registered in finsec.monitor_table, the statements that
-- would stop its payments from being stamped, make the monitor read other
-- columns or lose payments are refused for its owner and for superusers
-- (S9M70, S9M71, S9M72); unmonitored tables are untouched; partitions of
-- a monitored partitioned table stamp and detach.
--
\set VERBOSITY default
SET client_min_messages = warning;
CREATE ROLE regress_mddl_owner LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_mddl_bob LOGIN IN ROLE finsec_admin;
SET client_min_messages = notice;
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;
CREATE SCHEMA mddl AUTHORIZATION regress_mddl_owner;

SET SESSION AUTHORIZATION regress_mddl_owner;
CREATE TABLE mddl.pay (
	id bigserial PRIMARY KEY,
	cust text NOT NULL,
	amount numeric,
	at timestamptz NOT NULL DEFAULT now(),
	acct text,
	note text
);
CREATE FUNCTION mddl.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER a_touch BEFORE INSERT ON mddl.pay FOR EACH ROW EXECUTE FUNCTION mddl.touch();
SELECT finsec.enable_monitoring('mddl.pay', customer => 'cust', posted_at => 'at', account => 'acct');
-- an unmonitored twin: every statement refused below works on it
CREATE TABLE mddl.other (LIKE mddl.pay);
CREATE INDEX ON mddl.other (finsec_mon_txid);
CREATE FUNCTION mddl.touch2() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER a_touch2 BEFORE INSERT ON mddl.pay FOR EACH ROW EXECUTE FUNCTION mddl.touch2();

\set VERBOSITY verbose
-- the whole message once
DROP TRIGGER finsec_monitor_stamp ON mddl.pay;
\set VERBOSITY default

-- The stamp trigger: not dropped, disabled, demoted, replaced, renamed.
SELECT pg_temp.try($$ALTER TABLE mddl.pay DISABLE TRIGGER finsec_monitor_stamp$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay DISABLE TRIGGER ALL$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay DISABLE TRIGGER USER$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay ENABLE TRIGGER finsec_monitor_stamp$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay ENABLE REPLICA TRIGGER finsec_monitor_stamp$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay ENABLE TRIGGER ALL$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay ENABLE ALWAYS TRIGGER finsec_monitor_stamp$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay DISABLE TRIGGER a_touch$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay ENABLE TRIGGER a_touch$$);
SELECT pg_temp.try($$CREATE OR REPLACE TRIGGER finsec_monitor_stamp BEFORE INSERT OR UPDATE ON mddl.pay FOR EACH ROW WHEN (false) EXECUTE FUNCTION finsec.monitor_stamp()$$);
SELECT pg_temp.try($$ALTER TRIGGER finsec_monitor_stamp ON mddl.pay RENAME TO a_stamp$$);
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'mddl.pay'::regclass ORDER BY tgname;

-- BEFORE row triggers that would fire after the stamp (name order).
SELECT pg_temp.try($$CREATE TRIGGER zz BEFORE INSERT ON mddl.pay FOR EACH ROW EXECUTE FUNCTION mddl.touch()$$);
SELECT pg_temp.try($$CREATE TRIGGER zz BEFORE UPDATE OF note ON mddl.pay FOR EACH ROW EXECUTE FUNCTION mddl.touch()$$);
SELECT pg_temp.try($$CREATE TRIGGER finsec_monitor_stamq BEFORE INSERT ON mddl.pay FOR EACH ROW EXECUTE FUNCTION mddl.touch()$$);
SELECT pg_temp.try($$CREATE TRIGGER zz AFTER INSERT ON mddl.pay FOR EACH ROW EXECUTE FUNCTION mddl.touch()$$);
SELECT pg_temp.try($$CREATE TRIGGER zz_del BEFORE DELETE ON mddl.pay FOR EACH ROW EXECUTE FUNCTION mddl.touch()$$);
SELECT pg_temp.try($$CREATE TRIGGER zz_stmt BEFORE INSERT ON mddl.pay FOR EACH STATEMENT EXECUTE FUNCTION mddl.touch()$$);
SELECT pg_temp.try($$CREATE TRIGGER b_touch BEFORE INSERT OR UPDATE ON mddl.pay FOR EACH ROW EXECUTE FUNCTION mddl.touch()$$);
SELECT pg_temp.try($$ALTER TRIGGER b_touch ON mddl.pay RENAME TO zz_touch$$);
SELECT pg_temp.try($$ALTER TRIGGER zz ON mddl.pay RENAME TO zzz$$);
SELECT pg_temp.try($$ALTER TRIGGER b_touch ON mddl.pay RENAME TO c_touch$$);
SELECT pg_temp.try($$CREATE TRIGGER zz BEFORE INSERT ON mddl.other FOR EACH ROW EXECUTE FUNCTION mddl.touch()$$);

-- The stamp column and the mapped columns keep their name and type.
SELECT pg_temp.try($$ALTER TABLE mddl.pay DROP COLUMN finsec_mon_txid$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay DROP COLUMN cust$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay DROP COLUMN amount CASCADE$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay DROP COLUMN acct$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay RENAME COLUMN at TO posted$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay RENAME COLUMN finsec_mon_txid TO x$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay ALTER COLUMN cust TYPE varchar(40)$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay ALTER COLUMN finsec_mon_txid TYPE text$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay ADD COLUMN extra int, ALTER COLUMN amount TYPE int$$);
-- other columns are the application's
SELECT pg_temp.try($$ALTER TABLE mddl.pay ALTER COLUMN note TYPE varchar(200)$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay RENAME COLUMN note TO memo$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay ADD COLUMN extra int$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay DROP COLUMN extra$$);
-- a column drop reached through a type drop
CREATE DOMAIN mddl.acct_t AS text;
SELECT pg_temp.try($$ALTER TABLE mddl.pay ADD COLUMN acct2 mddl.acct_t$$);
SELECT pg_temp.try($$DROP DOMAIN mddl.acct_t CASCADE$$);
SELECT pg_temp.try($$ALTER TABLE mddl.other RENAME COLUMN cust TO c$$);
SELECT pg_temp.try($$ALTER TABLE mddl.other ALTER COLUMN finsec_mon_txid TYPE text$$);
SELECT pg_temp.try($$ALTER TABLE mddl.other ALTER COLUMN finsec_mon_txid TYPE xid8 USING NULL$$);

-- The stamp index: the last valid one stays.
SELECT indexrelid::regclass AS stamp_index FROM pg_index WHERE indrelid = 'mddl.pay'::regclass AND indkey[0] =
	(SELECT attnum FROM pg_attribute WHERE attrelid = 'mddl.pay'::regclass AND attname = 'finsec_mon_txid') \gset
SELECT pg_temp.try(format('DROP INDEX %s', :'stamp_index'));
SELECT pg_temp.try(format('DROP INDEX CONCURRENTLY %s', :'stamp_index'));
CREATE INDEX pay_stamp2 ON mddl.pay (finsec_mon_txid, id);
SELECT pg_temp.try(format('DROP INDEX %s, mddl.pay_stamp2', :'stamp_index'));
SELECT pg_temp.try(format('DROP INDEX %s', :'stamp_index'));
SELECT pg_temp.try($$DROP INDEX mddl.pay_stamp2$$);
CREATE INDEX pay_stamp_partial ON mddl.pay (finsec_mon_txid) WHERE amount > 0;
SELECT pg_temp.try($$DROP INDEX mddl.pay_stamp_partial$$);
REINDEX TABLE CONCURRENTLY mddl.pay;
SELECT count(*) AS stamp_indexes FROM pg_index i WHERE i.indrelid = 'mddl.pay'::regclass AND i.indisvalid AND i.indpred IS NULL
	AND i.indkey[0] = (SELECT attnum FROM pg_attribute WHERE attrelid = 'mddl.pay'::regclass AND attname = 'finsec_mon_txid');

-- Persistence, partitioning, inheritance.
SELECT pg_temp.try($$ALTER TABLE mddl.pay SET UNLOGGED$$);
SELECT pg_temp.try($$CREATE TABLE mddl.child () INHERITS (mddl.pay)$$);
CREATE TABLE mddl.base (id bigint);
SELECT pg_temp.try($$ALTER TABLE mddl.other INHERIT mddl.pay$$);
CREATE TABLE mddl.parent (LIKE mddl.pay) PARTITION BY RANGE (at);
SELECT pg_temp.try($$ALTER TABLE mddl.parent ATTACH PARTITION mddl.pay FOR VALUES FROM (MINVALUE) TO (MAXVALUE)$$);
SELECT pg_temp.try($$ALTER TABLE mddl.other SET UNLOGGED$$);
SELECT pg_temp.try($$ALTER TABLE mddl.other SET LOGGED$$);

-- Drops of the table, however reached: disable monitoring first.
SELECT pg_temp.try($$DROP TABLE mddl.pay$$);
SELECT pg_temp.try($$DROP TABLE mddl.pay CASCADE$$);
SELECT pg_temp.try($$DROP SCHEMA mddl CASCADE$$);
SELECT pg_temp.try($$DROP FUNCTION mddl.touch2() CASCADE$$);
SELECT pg_temp.try($$ALTER TABLE mddl.other DROP COLUMN finsec_mon_txid$$);
RESET SESSION AUTHORIZATION;
SELECT pg_temp.try($$DROP OWNED BY regress_mddl_owner$$);

-- A superuser is refused too (disable_monitoring acts at once for one).
SELECT pg_temp.try($$DROP TRIGGER finsec_monitor_stamp ON mddl.pay$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay DISABLE TRIGGER ALL$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay DROP COLUMN cust$$);
SELECT pg_temp.try($$DROP TABLE mddl.pay$$);
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'mddl.pay'::regclass ORDER BY tgname;

-- Still stamping and monitored after all this.
SET SESSION AUTHORIZATION regress_mddl_owner;
INSERT INTO mddl.pay (cust, amount, acct) VALUES ('k1', 10, 'A1');
RESET SESSION AUTHORIZATION;
SELECT payments FROM finsec.monitor_now() WHERE relid = 'mddl.pay'::regclass;
SELECT customer, account, amount FROM finsec.monitor_event e JOIN finsec.monitor_table t USING (table_id)
 WHERE t.relid = 'mddl.pay'::regclass;

-- A table rename is harmless: the registration holds the OID.
SET SESSION AUTHORIZATION regress_mddl_owner;
ALTER TABLE mddl.pay RENAME TO pay2;
INSERT INTO mddl.pay2 (cust, amount, acct) VALUES ('k2', 20, 'A2');
ALTER TABLE mddl.pay2 RENAME TO pay;
RESET SESSION AUTHORIZATION;
SELECT payments FROM finsec.monitor_now() WHERE relid = 'mddl.pay'::regclass;
-- so is a move to another schema
CREATE SCHEMA mddl2 AUTHORIZATION regress_mddl_owner;
SET SESSION AUTHORIZATION regress_mddl_owner;
SELECT pg_temp.try($$ALTER TABLE mddl.pay SET SCHEMA mddl2$$);
INSERT INTO mddl2.pay (cust, amount, acct) VALUES ('k3', 30, 'A3');
SELECT pg_temp.try($$ALTER TABLE mddl2.pay SET SCHEMA mddl$$);
RESET SESSION AUTHORIZATION;
DROP SCHEMA mddl2;
SELECT payments FROM finsec.monitor_now() WHERE relid = 'mddl.pay'::regclass;

-- Partitions of a monitored partitioned table: cloned trigger, stamped, detachable.
SET SESSION AUTHORIZATION regress_mddl_owner;
CREATE TABLE mddl.ppay (id bigint, cust text NOT NULL, amount numeric, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE mddl.ppay_2026 PARTITION OF mddl.ppay FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT finsec.enable_monitoring('mddl.ppay', customer => 'cust', posted_at => 'at');
CREATE TABLE mddl.ppay_2027 PARTITION OF mddl.ppay FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
SELECT c.relname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE t.tgname = 'finsec_monitor_stamp' AND c.relname LIKE 'ppay%' ORDER BY 1;
INSERT INTO mddl.ppay VALUES (1, 'p1', 5, '2026-06-01'), (2, 'p2', 6, '2027-06-01');
INSERT INTO mddl.ppay_2027 (id, cust, amount, at, finsec_mon_txid) VALUES (3, 'p3', 7, '2027-07-01', '1');
SELECT count(*) AS stamped_by_this_xact FROM mddl.ppay WHERE finsec_mon_txid IS NOT NULL AND finsec_mon_txid <> '1';
-- the partition's own trigger: refused like the parent's
SELECT pg_temp.try($$ALTER TABLE mddl.ppay_2027 DISABLE TRIGGER finsec_monitor_stamp$$);
SELECT pg_temp.try($$ALTER TABLE mddl.ppay_2027 DISABLE TRIGGER ALL$$);
SELECT pg_temp.try($$CREATE TRIGGER zz BEFORE INSERT ON mddl.ppay_2027 FOR EACH ROW EXECUTE FUNCTION mddl.touch()$$);
SELECT pg_temp.try($$ALTER TABLE mddl.ppay_2027 SET UNLOGGED$$);
SELECT pg_temp.try($$DROP TRIGGER finsec_monitor_stamp ON mddl.ppay_2027$$);
-- a table with a late trigger is not attached
CREATE TABLE mddl.ppay_2028 (LIKE mddl.ppay);
CREATE TRIGGER zz BEFORE INSERT ON mddl.ppay_2028 FOR EACH ROW EXECUTE FUNCTION mddl.touch();
SELECT pg_temp.try($$ALTER TABLE mddl.ppay ATTACH PARTITION mddl.ppay_2028 FOR VALUES FROM ('2028-01-01') TO ('2029-01-01')$$);
DROP TRIGGER zz ON mddl.ppay_2028;
SELECT pg_temp.try($$ALTER TABLE mddl.ppay ATTACH PARTITION mddl.ppay_2028 FOR VALUES FROM ('2028-01-01') TO ('2029-01-01')$$);
RESET SESSION AUTHORIZATION;
SELECT payments FROM finsec.monitor_now() WHERE relid = 'mddl.ppay'::regclass;
SET SESSION AUTHORIZATION regress_mddl_owner;
-- detach keeps working; the detached table loses the cloned trigger and may be dropped
SELECT pg_temp.try($$ALTER TABLE mddl.ppay DETACH PARTITION mddl.ppay_2026$$);
SELECT count(*) AS detached_triggers FROM pg_trigger WHERE tgrelid = 'mddl.ppay_2026'::regclass;
SELECT pg_temp.try($$DROP TABLE mddl.ppay_2026$$);
SELECT pg_temp.try($$DROP TABLE mddl.ppay_2028$$);
SELECT pg_temp.try($$DROP TABLE mddl.ppay$$);
INSERT INTO mddl.ppay VALUES (4, 'p4', 8, '2027-08-01');
RESET SESSION AUTHORIZATION;
SELECT payments FROM finsec.monitor_now() WHERE relid = 'mddl.ppay'::regclass;
SELECT customer FROM finsec.monitor_event e JOIN finsec.monitor_table t USING (table_id)
 WHERE t.relid = 'mddl.ppay'::regclass ORDER BY event_id;

-- Registration refuses a table with a BEFORE row trigger that fires after the stamp.
SET SESSION AUTHORIZATION regress_mddl_owner;
CREATE TABLE mddl.late (cust text, amount numeric, at timestamptz);
CREATE TRIGGER zz_late BEFORE UPDATE ON mddl.late FOR EACH ROW EXECUTE FUNCTION mddl.touch();
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('mddl.late', customer => 'cust', posted_at => 'at')$$);
ALTER TABLE mddl.late DISABLE TRIGGER zz_late;
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('mddl.late', customer => 'cust', posted_at => 'at')$$);
ALTER TRIGGER zz_late ON mddl.late RENAME TO a_late;
SELECT pg_temp.try($$SELECT finsec.enable_monitoring('mddl.late', customer => 'cust', posted_at => 'at')$$);
RESET SESSION AUTHORIZATION;

-- After monitoring is disabled (two-person) the table is the owner's again.
SET SESSION AUTHORIZATION regress_mddl_owner;
SELECT finsec.disable_monitoring('mddl.pay', 'retire') AS req \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_mddl_bob;
SELECT finsec.approve(:req) IS NOT NULL AS approved;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_mddl_owner;
SELECT pg_temp.try($$CREATE TRIGGER zz BEFORE INSERT ON mddl.pay FOR EACH ROW EXECUTE FUNCTION mddl.touch()$$);
SELECT pg_temp.try($$DROP INDEX mddl.pay_stamp2$$);
SELECT pg_temp.try($$ALTER TABLE mddl.pay DROP COLUMN finsec_mon_txid$$);
SELECT pg_temp.try($$DROP TABLE mddl.pay$$);
RESET SESSION AUTHORIZATION;
SELECT finsec.disable_monitoring('mddl.ppay');
SELECT finsec.disable_monitoring('mddl.late');
DROP SCHEMA mddl CASCADE;
-- the owner's grant on the stamp function went with its last monitored table
SELECT has_function_privilege('regress_mddl_owner', 'finsec.monitor_stamp()', 'EXECUTE') AS still_granted;
SET client_min_messages = warning;
DROP ROLE regress_mddl_owner;
DROP ROLE regress_mddl_bob;
