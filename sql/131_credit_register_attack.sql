--
-- 131_credit_register_attack: a registered credit table is read only
-- through finsec (credit_query, the de-identification batch); direct
-- reads are refused to the application and the owner in every form
-- (SELECT, count(*), WHERE-only, RETURNING, COPY, views, SECURITY DEFINER,
-- SET ROLE), allowed and audited for auditors and superusers; its DDL and
-- its archive table are guarded.
--
SET client_min_messages = warning;
CREATE DATABASE regress_cratk;
\c regress_cratk
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_ca_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ca_b LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ca_owner LOGIN IN ROLE finsec_app;
CREATE ROLE regress_ca_reg LOGIN IN ROLE finsec_admin, regress_ca_owner;
CREATE ROLE regress_ca_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_ca_aud LOGIN IN ROLE finsec_auditor;
GRANT CREATE ON SCHEMA public TO regress_ca_owner;

SET SESSION AUTHORIZATION regress_ca_a;
SELECT finsec.key_generate('credit.enc', 'encryption', 'aes-256-gcm') AS k1 \gset
SELECT finsec.key_generate('credit.fp', 'fingerprint', 'hmac-sm3') AS k2 \gset
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') AS k3 \gset
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sm3') AS k4 \gset
SET SESSION AUTHORIZATION regress_ca_b;
SELECT finsec.approve(:k1) ->> 'state', finsec.approve(:k2) ->> 'state',
	   finsec.approve(:k3) ->> 'state', finsec.approve(:k4) ->> 'state';
SET SESSION AUTHORIZATION regress_ca_a;
SELECT finsec.protect_policy_create('credit_p', enc_key => 'credit.enc', fp_key => 'credit.fp',
									mask => 'name', period_unit => 'month') > 0 AS created;
SELECT finsec.protect_period_keys('credit_p', '2025-06-01', '2025-06-30', 'June 2025') AS pk \gset
SELECT finsec.protect_period_keys('credit_p', '2015-06-01', '2015-06-30', 'June 2015 (restore test)') AS pk2 \gset
SET SESSION AUTHORIZATION regress_ca_b;
SELECT finsec.approve(:pk) IS NOT NULL AS approved, finsec.approve(:pk2) IS NOT NULL AS approved2;
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION regress_ca_owner;
CREATE TABLE loan (
	id			bigint PRIMARY KEY,
	name		finsec.protected_text(credit_p) NOT NULL,
	region		finsec.protected_text(credit_p),
	amount		numeric,
	closed_on	date NOT NULL);
GRANT SELECT, INSERT ON loan TO regress_ca_app, regress_ca_aud;
CREATE VIEW loan_view AS SELECT id, amount FROM loan;
GRANT SELECT ON loan_view TO regress_ca_app;
CREATE FUNCTION loan_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER
	SET search_path = public, pg_temp AS $$ SELECT count(*) FROM loan $$;
GRANT EXECUTE ON FUNCTION loan_count() TO regress_ca_app;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ca_reg;
SELECT finsec.register_credit_table('loan', key => 'id', subject => 'name', behaviour_end => 'closed_on',
	policy => 'credit_p', quasi_identifiers => '{"region": ["prefix:4", "prefix:2"]}') AS archive;
RESET SESSION AUTHORIZATION;

-- writing is the application's (INSERT without RETURNING)
SET SESSION AUTHORIZATION regress_ca_app;
INSERT INTO loan VALUES (1, '张三', '110105', 1000, '2025-06-30'), (2, '李四', '110106', 2000, '2025-06-15');

\set VERBOSITY default
SELECT * FROM loan;
\set VERBOSITY sqlstate
SELECT count(*) FROM loan;
SELECT 1 FROM loan WHERE id = 1;
SELECT id FROM ONLY loan;
SELECT loan FROM loan;
SELECT EXISTS (SELECT 1 FROM loan);
WITH c AS (SELECT id FROM loan) SELECT 1;
INSERT INTO loan VALUES (3, '王五', '110107', 3000, '2025-06-30') RETURNING id;
COPY loan TO STDOUT;
COPY (SELECT id FROM loan) TO STDOUT;
SELECT * FROM loan_view;
SELECT loan_count();
-- a refusal leaves a ledger row even when the transaction rolls back
BEGIN;
SELECT id FROM loan;
ROLLBACK;
RESET SESSION AUTHORIZATION;

-- the owner is refused as well, directly and through SET ROLE
SET SESSION AUTHORIZATION regress_ca_reg;
SELECT count(*) FROM loan;
SET ROLE regress_ca_owner;
SELECT count(*) FROM loan;
RESET ROLE;
-- a PL/pgSQL function of the owner, dynamic SQL
SET ROLE regress_ca_owner;
CREATE FUNCTION peek() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint; BEGIN EXECUTE 'SELECT count(*) FROM loan' INTO n; RETURN n; END $$;
SELECT peek();
-- a materialized view over it reads it when made
CREATE MATERIALIZED VIEW loan_mv AS SELECT id FROM loan;
RESET ROLE;
RESET SESSION AUTHORIZATION;

-- auditors and superusers read, audited
SET SESSION AUTHORIZATION regress_ca_aud;
SELECT id, amount, closed_on FROM loan ORDER BY id;
SELECT count(*) FROM loan;
RESET SESSION AUTHORIZATION;
SELECT id, amount, split_part(name::text, '~', 1) AS name FROM loan ORDER BY id;
COPY (SELECT id FROM loan ORDER BY id) TO STDOUT;
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT event_type, success, detail ->> 'role' AS role, detail ->> 'access' AS access, count(*)
  FROM finsec.audit WHERE event_type LIKE 'credit.direct_read%'
 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;

-- pg_stats: no statistics of any registered column, plain (keys, dates,
-- amounts) or sealed (masks and fingerprints link a subject's rows); only of
-- finsec's chain columns
ANALYZE loan;
SET SESSION AUTHORIZATION regress_ca_app;
SELECT attname FROM pg_stats WHERE tablename = 'loan' ORDER BY attname;
RESET SESSION AUTHORIZATION;

-- DDL on the registered table
SET SESSION AUTHORIZATION regress_ca_owner;
ALTER TABLE loan ALTER COLUMN amount SET STATISTICS 100;
ALTER TABLE loan ADD COLUMN note text;
ALTER TABLE loan RENAME COLUMN amount TO amt;
ALTER TABLE loan ALTER COLUMN amount TYPE float8;
ALTER TABLE loan ALTER COLUMN amount SET DEFAULT 0;
ALTER TABLE loan DROP COLUMN amount;
ALTER TABLE loan ENABLE ROW LEVEL SECURITY;
CREATE POLICY p ON loan USING (true);
CREATE RULE r AS ON INSERT TO loan DO ALSO NOTHING;
CREATE TABLE loan_child () INHERITS (loan);
ALTER TABLE loan RENAME TO loan_old;
ALTER TABLE loan DISABLE TRIGGER finsec_credit_guard;
ALTER TABLE loan DISABLE TRIGGER ALL;
ALTER TABLE loan ENABLE TRIGGER finsec_credit_guard;
ALTER TABLE loan ENABLE REPLICA TRIGGER finsec_credit_guard;
ALTER TRIGGER finsec_credit_guard ON loan RENAME TO a_guard;
DROP TRIGGER finsec_credit_guard ON loan;
DROP TRIGGER IF EXISTS finsec_credit_guard ON public.loan;
TRUNCATE loan;
DROP TABLE loan;
DELETE FROM loan;
RESET SESSION AUTHORIZATION;
-- a superuser is refused the same DDL
ALTER TABLE loan ADD COLUMN note text;
DROP TABLE loan;
DROP TRIGGER finsec_credit_guard ON loan;
SET session_replication_role = replica;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ca_app;
-- ENABLE ALWAYS: a replica session is guarded too (expired on arrival)
INSERT INTO loan VALUES (9, '赵六', '110107', 3000, '2015-06-30');
RESET SESSION AUTHORIZATION;
RESET session_replication_role;
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'loan'::regclass AND tgname = 'finsec_credit_guard';

-- a superuser's COPY FROM (pg_restore) reloads expired rows, recorded; INSERT does not
COPY loan (id, name, region, amount, closed_on) FROM STDIN;
10	孙七	110108	10	2015-06-30
\.
INSERT INTO loan (id, name, closed_on) VALUES (11, '周八', '2015-06-30');
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT event_type, object, action FROM finsec.audit WHERE event_type = 'credit.restore_load';
SELECT id, closed_on FROM loan ORDER BY id;
SET SESSION AUTHORIZATION regress_ca_owner;
COPY loan (id, name, region, amount, closed_on) FROM STDIN;
12	吴九	110108	10	2015-06-30
\.
RESET SESSION AUTHORIZATION;

-- the archive table: rows only appended (its ACL: finsec's owner and superusers);
-- no change, superusers included
SET SESSION AUTHORIZATION regress_ca_owner;
INSERT INTO finsec_archive.loan (batch_id, period, name) VALUES (1, 202506, 'x');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ca_aud;
INSERT INTO finsec_archive.loan (batch_id, period, name) VALUES (1, 202506, 'x');
RESET SESSION AUTHORIZATION;
UPDATE finsec_archive.loan SET name = 'y';
DELETE FROM finsec_archive.loan;
TRUNCATE finsec_archive.loan;
ALTER TABLE finsec_archive.loan ADD COLUMN extra text;
ALTER TABLE finsec_archive.loan RENAME COLUMN name TO n;
ALTER TABLE finsec_archive.loan RENAME TO loan2;
ALTER TABLE finsec_archive.loan OWNER TO regress_ca_owner;
CREATE POLICY p ON finsec_archive.loan USING (true);
CREATE FUNCTION pg_temp.cap() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER cap BEFORE INSERT ON finsec_archive.loan FOR EACH ROW EXECUTE FUNCTION pg_temp.cap();
DROP TABLE finsec_archive.loan;
-- COPY FROM is how pg_restore loads it: a superuser's is allowed and recorded
COPY finsec_archive.loan (batch_id, period, name, region, amount) FROM STDIN;
7	202001	pseudonym	11**	5
\.
SELECT batch_id, period, name, region, amount FROM finsec_archive.loan;
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT event_type, object, action FROM finsec.audit WHERE event_type = 'credit.archive_load';
UPDATE finsec_archive.loan SET name = 'y' WHERE batch_id = 7;
DELETE FROM finsec_archive.loan WHERE batch_id = 7;
SET SESSION AUTHORIZATION regress_ca_app;
SELECT * FROM finsec_archive.loan;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ca_aud;
SELECT count(*) FROM finsec_archive.loan;
RESET SESSION AUTHORIZATION;
\set VERBOSITY default

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_cratk;
DROP ROLE regress_ca_a, regress_ca_b, regress_ca_reg, regress_ca_owner, regress_ca_app, regress_ca_aud;
