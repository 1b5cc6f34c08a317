--
-- 010_audit: the audit ledger and protected tables (docs/audit.md).
-- Output avoids values that differ per run (transaction ids, times, hashes).
--
CREATE ROLE regress_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_auditor LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress_admin LOGIN IN ROLE finsec_admin;
SET application_name = 'regress-010';

-- The application records events through finsec.audit_event(); finsec
-- fills in who, when, where from.
SET ROLE regress_app;
SELECT finsec.audit_event('payment.refund', object => 'order:1001', action => 'refund',
       description => 'refund of 12.00 CNY', detail => '{"amount": "12.00"}') AS seq;
SELECT finsec.audit_event('login.failure', success => false, subject => 'teller42',
       description => 'wrong password') AS seq;
-- ...but can neither read nor write the ledger directly.
SELECT count(*) FROM finsec.audit;
INSERT INTO finsec.audit (event_time, db_user, session_user_name, application_name,
       backend_pid, event_type, success) VALUES (now(), 'x', 'x', 'x', 0, 'forged', true);
RESET ROLE;

-- Bad input is refused, and nothing is written.
SELECT finsec.audit_event(NULL);
SELECT finsec.audit_event('Not A Type');
SELECT finsec.audit_event('');
SELECT finsec.audit_event('ok.type', success => NULL);

-- The auditor reads every U1 field.
SET ROLE regress_auditor;
SELECT finsec_seq, db_user, session_user_name, event_type, subject, object, action,
       success, description, detail,
       application_name, backend_pid = pg_backend_pid() AS same_backend,
       event_time BETWEEN now() - interval '1 hour' AND clock_timestamp() AS recent,
       finsec_txid IS NOT NULL AS stamped
  FROM finsec.audit ORDER BY finsec_seq;
-- The auditor changes nothing.
UPDATE finsec.audit SET success = true;
SELECT finsec.audit_event('auditor.write');
RESET ROLE;

-- Nobody can change or remove ledger rows: not the owner, not a superuser.
UPDATE finsec.audit SET success = true;
DELETE FROM finsec.audit;
TRUNCATE finsec.audit;
-- Replica mode does not skip the triggers: they fire ALWAYS.
SET session_replication_role = replica;
DELETE FROM finsec.audit;
RESET session_replication_role;
-- Nor can the protection be altered, disabled, replaced or dropped.
ALTER TABLE finsec.audit DISABLE TRIGGER finsec_ledger_immutable;
ALTER TABLE finsec.audit DISABLE TRIGGER ALL;
ALTER TABLE finsec.audit DROP COLUMN detail;
ALTER TABLE finsec.audit ALTER event_type TYPE varchar(10);
ALTER TABLE finsec.audit SET UNLOGGED;
ALTER TABLE finsec.audit RENAME COLUMN finsec_seq TO seq;
ALTER TRIGGER finsec_ledger_immutable ON finsec.audit RENAME TO gone;
DROP TRIGGER finsec_ledger_immutable ON finsec.audit;
CREATE OR REPLACE TRIGGER finsec_ledger_immutable BEFORE UPDATE ON finsec.audit
	FOR EACH ROW EXECUTE FUNCTION finsec.ledger_stamp();
ALTER SEQUENCE finsec.audit_finsec_seq RESTART;
DROP TABLE finsec.audit;
DROP SCHEMA finsec CASCADE;
DROP EXTENSION finsec;
SELECT count(*) AS rows_still_there FROM finsec.audit;

-- Sealing hashes finished transactions into the chain; verification
-- recomputes every row and block.
SELECT relation, blocks_sealed, rows_sealed FROM finsec.audit_seal();
SELECT relation, blocks_sealed, rows_sealed FROM finsec.audit_seal();  -- nothing new
-- The chain's own records are as immutable as the rows they seal.
UPDATE finsec.ledger_block SET row_count = 0;
DELETE FROM finsec.ledger_chain;
TRUNCATE finsec.ledger_block;
SET ROLE regress_auditor;
SELECT relation, ok, rows_checked, blocks_checked, rows_pending, first_failure
  FROM finsec.audit_verify();
-- Unsealed rows are reported as pending, not as failures.
RESET ROLE;
SELECT finsec.audit_event('after.seal') > 0 AS written;
SET ROLE regress_auditor;
SELECT relation, ok, rows_checked, rows_pending FROM finsec.audit_verify();
RESET ROLE;

-- The canonical encoding, recomputed from its specification with the
-- types' send functions, equals finsec's row hash (fast paths included).
CREATE TYPE regress_mood AS ENUM ('calm', 'angry');
CREATE TEMP TABLE enc (a int2, b int4, c int8, d bool, e float8, f date, g timestamptz,
                       h text, i bytea, j numeric, k jsonb, l regress_mood, m text[], n uuid);
INSERT INTO enc VALUES (-2, 40000, -5000000000, true, 1.5, '2024-02-29',
       '2024-01-01 12:00:00+08', '中文 text', '\x00ff', 12.50, '{"k": [1, "二"]}', 'angry',
       '{a,"b c"}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
       (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE FUNCTION pg_temp.field(ord int, v bytea) RETURNS bytea LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE WHEN v IS NULL THEN ''::bytea
                  ELSE int2send(ord::int2) || int4send(length(v)) || v END $$;
SELECT finsec.row_hash(enc) = sha256('finsec-row-v1'::bytea
       || pg_temp.field(1, int2send(a)) || pg_temp.field(2, int4send(b))
       || pg_temp.field(3, int8send(c)) || pg_temp.field(4, boolsend(d))
       || pg_temp.field(5, float8send(e)) || pg_temp.field(6, date_send(f))
       || pg_temp.field(7, timestamptz_send(g)) || pg_temp.field(8, textsend(h))
       || pg_temp.field(9, byteasend(i)) || pg_temp.field(10, numeric_send(j))
       || pg_temp.field(11, jsonb_send(k)) || pg_temp.field(12, enum_send(l))
       || pg_temp.field(13, array_send(m)) || pg_temp.field(14, uuid_send(n))) AS matches_spec
  FROM enc ORDER BY a NULLS LAST;
-- Session settings do not change a hash: DateStyle, TimeZone, float output,
-- client encoding.
CREATE TEMP TABLE enc_hash AS SELECT finsec.row_hash(enc) AS h FROM enc WHERE a IS NOT NULL;
SET DateStyle = 'SQL, DMY'; SET TimeZone = 'America/New_York'; SET extra_float_digits = 0;
SET client_encoding = 'GB18030';
SELECT finsec.row_hash(enc) = (SELECT h FROM enc_hash) AS unchanged FROM enc WHERE a IS NOT NULL;
RESET client_encoding; RESET DateStyle; RESET TimeZone; RESET extra_float_digits;
-- SM3 gives a different, 32-byte hash.
SELECT length(finsec.row_hash(enc, 'sm3')) AS sm3_len,
       finsec.row_hash(enc, 'sm3') <> finsec.row_hash(enc) AS differs
  FROM enc WHERE a IS NOT NULL;
SELECT finsec.row_hash(enc, 'md5') FROM enc LIMIT 1;
SELECT finsec.row_hash(42);

-- protect_table(): an application table becomes append-only and chained.
CREATE TABLE payments (id int PRIMARY KEY, payer text NOT NULL, amount numeric(18,2) NOT NULL,
                       paid_at timestamptz NOT NULL DEFAULT '2026-01-01 10:00+08');
INSERT INTO payments (id, payer, amount) VALUES (1, 'acct-1', 100.00), (2, 'acct-2', 250.50);
-- only finsec_admin may protect, and only a table it owns (as for ALTER TABLE)
SET ROLE regress_app;
SELECT finsec.protect_table('payments');
SET ROLE regress_admin;
SELECT finsec.protect_table('payments');
RESET ROLE;
ALTER TABLE payments OWNER TO regress_admin;
SET ROLE regress_admin;
SELECT finsec.protect_table('payments');
RESET ROLE;
SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
 WHERE attrelid = 'payments'::regclass AND attnum > 0 ORDER BY attnum;
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'payments'::regclass ORDER BY tgname;
SELECT id, finsec_seq FROM payments ORDER BY id;
-- Writers cannot choose their stamps.
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON payments TO finsec_app;
SET ROLE regress_app;
INSERT INTO payments (id, payer, amount, finsec_txid, finsec_seq)
VALUES (3, 'acct-3', 10.00, '1', 1000000);
SELECT id, finsec_seq, finsec_txid <> '1' AS real_txid FROM payments WHERE id = 3;
-- Privileges to change rows do not help.
UPDATE payments SET amount = 0 WHERE id = 1;
DELETE FROM payments WHERE id = 1;
TRUNCATE payments;
RESET ROLE;
-- Schema changes that keep existing hashes valid are allowed; others not.
ALTER TABLE payments ADD COLUMN memo text;
CREATE INDEX payments_payer_idx ON payments (payer);
ALTER TABLE payments ADD COLUMN channel text DEFAULT 'app';
ALTER TABLE payments ADD COLUMN flag boolean NOT NULL;
ALTER TABLE payments ALTER amount TYPE numeric(20,2);
ALTER TABLE payments DROP COLUMN payer;
ALTER TABLE payments RENAME COLUMN finsec_txid TO t;
ALTER TABLE payments RENAME COLUMN memo TO remark;
DROP TABLE payments;
DROP OWNED BY CURRENT_USER;
-- What cannot be protected, and why.
SELECT finsec.protect_table('payments');
CREATE UNLOGGED TABLE u (i int);
SELECT finsec.protect_table('u');
CREATE TABLE parted (i int) PARTITION BY RANGE (i);
SELECT finsec.protect_table('parted');
CREATE TABLE noseal (a aclitem);
SELECT finsec.protect_table('noseal');
CREATE TABLE clash (finsec_seq int);
SELECT finsec.protect_table('clash');
SELECT finsec.protect_table('pg_class');
SELECT finsec.protect_table('finsec.ledger_block');
SELECT finsec.protect_table('payments', 'md5');
DROP TABLE u, parted, noseal, clash;

-- The protected table verifies, and keeps verifying after the added column.
SELECT relation, blocks_sealed, rows_sealed FROM finsec.audit_seal('payments');
SET ROLE regress_auditor;
SELECT relation, ok, rows_checked, blocks_checked, rows_pending, first_failure
  FROM finsec.audit_verify('payments');
-- The ledger recorded the protection.
SELECT event_type, db_user, object, action, success FROM finsec.audit
 WHERE event_type = 'ledger.protect';
RESET ROLE;

-- One seal round can close several blocks (a block closes between
-- transactions once it holds 10000 rows); every row lands in exactly one.
CREATE TABLE bulk (id int, v text);
SELECT finsec.protect_table('bulk');
INSERT INTO bulk SELECT g, 'first ' || g FROM generate_series(1, 10500) g;
INSERT INTO bulk SELECT g, 'second ' || g FROM generate_series(1, 7) g;
INSERT INTO bulk SELECT g, 'third ' || g FROM generate_series(1, 3) g;
SELECT relation, blocks_sealed, rows_sealed FROM finsec.audit_seal('bulk');
SELECT block_no, row_count FROM finsec.ledger_block WHERE relid = 'bulk'::regclass ORDER BY 1;
SELECT relation, ok, rows_checked, blocks_checked, rows_pending, first_failure
  FROM finsec.audit_verify('bulk');

-- A digest names every chain; verifying since it proves the chain was not
-- rewritten and checks only what came after.
SELECT jsonb_path_query_array(finsec.audit_digest(), '$.chains[*].relation') AS chains,
       finsec.audit_digest() ?& ARRAY['format', 'system_identifier', 'timeline', 'database', 'taken_at'] AS complete;
CREATE TEMP TABLE d AS SELECT finsec.audit_digest() AS digest;
GRANT SELECT ON d TO regress_auditor;
INSERT INTO payments (id, payer, amount) VALUES (4, 'acct-4', 1.00);
SELECT relation, blocks_sealed, rows_sealed FROM finsec.audit_seal('payments');
SET ROLE regress_auditor;
SELECT relation, ok, rows_checked, blocks_checked, first_failure
  FROM finsec.audit_verify('payments', (SELECT digest FROM d));
-- A digest whose head does not match is reported.
SELECT relation, ok, first_failure FROM finsec.audit_verify('payments',
       (SELECT jsonb_set(digest, ARRAY['chains', (i - 1)::text, 'head_hash'], to_jsonb(repeat('00', 32)))
          FROM d, jsonb_array_elements(digest->'chains') WITH ORDINALITY e(c, i)
         WHERE c->>'relation' = 'public.payments'));
RESET ROLE;

-- Retention: nothing younger than finsec.audit_retention can be purged,
-- and purging is the auditor's duty.  (Terse: the detail names today's date.)
\set VERBOSITY terse
SELECT finsec.audit_purge('payments', current_date);
SET ROLE regress_auditor;
SELECT * FROM finsec.audit_purge('payments', current_date - 30);
SELECT * FROM finsec.audit_purge('payments', current_date - 181);
RESET ROLE;
\set VERBOSITY default
-- The retention floor is 90 days; capacities cannot be negative.
ALTER SYSTEM SET finsec.audit_retention = '30d';
ALTER SYSTEM SET finsec.audit_capacity_limit = -1;

DROP TABLE d;
ALTER TABLE payments OWNER TO CURRENT_USER;  -- a protected table outlives its owner role
DROP ROLE regress_app, regress_auditor, regress_admin;
