--
-- 140_credit_attack: a security review of issue 18 (credit data
-- lifecycle) as attackers: the registered table's owner, finsec_app,
-- finsec_research, a single finsec_admin, a superuser limited to SQL.
-- Each attack is a test; the holes it found are closed and say so ("Was a hole").
--
SET client_min_messages = warning;
CREATE DATABASE regress_attack;
\c regress_attack
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_at_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_at_b LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_at_owner LOGIN IN ROLE finsec_app;
CREATE ROLE regress_at_admin_owner LOGIN IN ROLE finsec_admin, regress_at_owner;
CREATE ROLE regress_at_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_at_research LOGIN IN ROLE finsec_research;
GRANT CREATE ON SCHEMA public TO regress_at_owner, regress_at_admin_owner, regress_at_a, regress_at_app;

SET SESSION AUTHORIZATION regress_at_a;
SELECT finsec.key_generate('credit.enc', 'encryption', 'aes-256-gcm') AS k1 \gset
SELECT finsec.key_generate('credit.fp', 'fingerprint', 'hmac-sha256') AS k2 \gset
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') AS k3 \gset
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sha256') AS k4 \gset
SELECT finsec.key_generate('credit.pseudonym', 'pseudonym', 'hmac-sha256') AS k5 \gset
SET SESSION AUTHORIZATION regress_at_b;
SELECT finsec.approve(:k1) ->> 'state', finsec.approve(:k2) ->> 'state', finsec.approve(:k3) ->> 'state',
	   finsec.approve(:k4) ->> 'state', finsec.approve(:k5) ->> 'state';
SET SESSION AUTHORIZATION regress_at_a;
SELECT finsec.protect_policy_create('credit_p', enc_key => 'credit.enc', fp_key => 'credit.fp',
									mask => 'name', period_unit => 'month', fp_scope => 'period') > 0 AS created;
SELECT finsec.protect_period_keys('credit_p', (date_trunc('month', current_date) - interval '2 months')::date,
								  current_date, 'three months') AS pk \gset
SET SESSION AUTHORIZATION regress_at_b;
SELECT finsec.approve(:pk) IS NOT NULL AS approved;
RESET SESSION AUTHORIZATION;
SELECT (date_trunc('month', current_date) - interval '2 months')::date AS da,
	   (date_trunc('month', current_date) - interval '1 month')::date AS db,
	   date_trunc('month', current_date)::date AS dc \gset

SET SESSION AUTHORIZATION regress_at_owner;
CREATE TABLE rec (
	id			bigint PRIMARY KEY,
	subject		finsec.protected_text(credit_p) NOT NULL,
	name		finsec.protected_text(credit_p),
	birth_date	finsec.protected_text(credit_p),
	region		finsec.protected_text(credit_p),
	status		finsec.protected_text(credit_p),
	amount		numeric,
	closed_on	date NOT NULL);
GRANT SELECT, INSERT ON rec TO finsec_app;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_at_admin_owner;
SELECT finsec.register_credit_table('rec', key => 'id', subject => 'subject', behaviour_end => 'closed_on',
	policy => 'credit_p', identifiers => '{name}',
	quasi_identifiers => '{"birth_date": ["year", "decade"], "region": ["prefix:2"]}',
	sensitive => '{status}', k => 3, l => 2) AS archive;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_at_owner;
INSERT INTO rec VALUES
	(1, 'S-0001', '张三', '1980-03-01', '110101', 'overdue', 1000, :'da'::date + 1),
	(2, 'S-0002', '李四', '1980-07-09', '110102', 'default', 2000, :'da'::date + 2),
	(3, 'S-0003', '王五', '1980-11-11', '110105', 'overdue', 3000, :'da'::date + 3),
	(7, 'S-0007', '钱七', '1980-12-12', '110108', 'default', 7000, :'da'::date + 4),
	(4, 'S-0001', '张三', '1985-01-02', '310101', 'overdue', 4000, :'da'::date + 5),
	(5, 'S-0005', '孙八', '1985-05-05', '310104', 'default', 5000, :'da'::date + 6),
	(6, 'S-0006', '周九', '1985-09-09', '310115', 'written_off', 6000, :'da'::date + 7),
	(11, 'S-0011', '吴十', '1990-01-01', '120101', 'overdue', 1100, :'db'::date + 1),
	(21, 'S-0021', '陈三', '1990-04-04', '120104', 'default', 2100, :'dc'::date);
RESET SESSION AUTHORIZATION;

\set VERBOSITY sqlstate
-- =====================================================================
-- (1) direct reads without credit_query, as the owner and finsec_app
-- =====================================================================
SET SESSION AUTHORIZATION regress_at_app;
SELECT count(*) FROM rec;                                     -- 42501
WITH c AS (SELECT amount FROM rec) SELECT * FROM c;           -- 42501
SELECT EXISTS (SELECT 1 FROM rec WHERE amount > 0);           -- 42501
COPY rec TO STDOUT;                                           -- 42501
COPY (SELECT amount FROM rec) TO STDOUT;                      -- 42501
BEGIN;
DECLARE c CURSOR FOR SELECT amount FROM rec;                  -- 42501
ROLLBACK;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM rec WHERE amount = 1000;  -- 42501
EXPLAIN (COSTS OFF) SELECT * FROM rec WHERE amount = 1000;    -- 42501
PREPARE p AS SELECT amount FROM rec;
EXECUTE p;                                                    -- 42501
INSERT INTO rec VALUES (100, 'S-X', 'x', '1980-01-01', '11', 'ok', 1, current_date) RETURNING amount;  -- 42501
INSERT INTO rec VALUES (1, 'S-X', 'x', '1980-01-01', '11', 'ok', 1, current_date)
	ON CONFLICT (id) DO UPDATE SET amount = rec.amount RETURNING rec.amount;   -- 42501
SELECT rec FROM rec;                                          -- 42501
SELECT tableoid FROM rec;                                     -- 42501
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION regress_at_owner;
CREATE VIEW v_rec AS SELECT id, amount FROM rec;
SELECT * FROM v_rec;                                          -- 42501
CREATE VIEW v_rec2 WITH (security_invoker) AS SELECT id, amount FROM rec;
SELECT * FROM v_rec2;                                         -- 42501
CREATE FUNCTION f_rec() RETURNS SETOF numeric LANGUAGE sql SECURITY DEFINER AS 'SELECT amount FROM rec';
GRANT EXECUTE ON FUNCTION f_rec() TO regress_at_app;
SELECT * FROM f_rec();                                        -- 42501
CREATE MATERIALIZED VIEW mv_rec AS SELECT id, amount FROM rec;    -- 42501
CREATE MATERIALIZED VIEW mv_rec AS SELECT id, amount FROM rec WITH NO DATA;
REFRESH MATERIALIZED VIEW mv_rec;                             -- 42501
CREATE TABLE copy_rec AS SELECT * FROM rec;                   -- 42501
CREATE RULE r AS ON INSERT TO rec DO ALSO NOTHING;            -- refused
CREATE POLICY p ON rec USING (true);                          -- refused
ALTER TABLE rec ENABLE ROW LEVEL SECURITY;                    -- refused
ALTER TABLE rec ADD COLUMN extra int;                         -- refused
ALTER TABLE rec RENAME COLUMN amount TO amt;                  -- refused
ALTER TABLE rec ALTER COLUMN amount TYPE text;                -- refused
UPDATE rec SET amount = 0 WHERE id = 1;                       -- refused
DELETE FROM rec;                                              -- refused
TRUNCATE rec;                                                 -- refused
DROP TABLE rec;                                               -- refused
CREATE TABLE parent_x (id bigint);
ALTER TABLE rec INHERIT parent_x;                             -- refused
DROP TRIGGER finsec_credit_guard ON rec;                      -- refused
ALTER TABLE rec DISABLE TRIGGER finsec_credit_guard;          -- refused
\set VERBOSITY default

-- Held: an index build scans every row outside the executor (no read
-- check): the label guard refuses the owner's expression index.
CREATE FUNCTION leak(numeric) RETURNS numeric LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RAISE WARNING 'leaked %', $1;
	RETURN $1;
END $$;
CREATE FUNCTION leak_t(finsec.protected_text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RAISE WARNING 'leaked %', $1::text;
	RETURN '';
END $$;
BEGIN;
CREATE INDEX rec_leak ON rec (leak(amount));
ROLLBACK;
BEGIN;
CREATE INDEX rec_leak_t ON rec (leak_t(name));
ROLLBACK;
-- Held: the same through a CHECK constraint's validation scan.
BEGIN;
ALTER TABLE rec ADD CONSTRAINT leak_chk CHECK (leak(amount) IS NOT NULL);
ROLLBACK;

-- Was a hole, closed: ANALYZE (the owner may) computed statistics, and
-- pg_stats showed the public columns' values (amount, closed_on) and the
-- sealed columns' masks with their fp tokens, without credit_query and
-- without a log row.  Registration now turns statistics off on every
-- column (only finsec's chain columns keep them).
-- (CREATE STATISTICS is refused by the label guard.)
ANALYZE rec;
SELECT attname, most_common_vals IS NOT NULL OR histogram_bounds IS NOT NULL AS values_shown
  FROM pg_stats WHERE tablename = 'rec' ORDER BY attname;
SELECT histogram_bounds FROM pg_stats WHERE tablename = 'rec' AND attname = 'amount';
SELECT attname, most_common_vals::text LIKE '%张*~%' OR histogram_bounds::text LIKE '%李*~%' AS masked_names,
	   histogram_bounds::text LIKE '%S*****~fp1.%' AS masked_subjects
  FROM pg_stats WHERE tablename = 'rec' AND attname IN ('subject', 'name') ORDER BY attname;
CREATE STATISTICS rec_st (mcv) ON amount, closed_on FROM rec;
ANALYZE rec;
SELECT count(*) > 0 AS mcv_items FROM pg_stats_ext_exprs e RIGHT JOIN pg_stats_ext s USING (statistics_name)
 WHERE s.tablename = 'rec' AND s.most_common_vals IS NOT NULL;
\set VERBOSITY sqlstate

-- Held: DISABLE TRIGGER ALL / USER (not the guard's name) is refused by
-- protect_table's guard (S9P30).
BEGIN;
ALTER TABLE rec DISABLE TRIGGER USER;
-- a record whose retention ended before it arrived: the guard would refuse
INSERT INTO rec VALUES (200, 'S-OLD', 'old', '1960-01-01', '99', 'overdue', 9, '2000-01-01');
UPDATE rec SET amount = 0 WHERE id = 1;
SELECT 'guard and append-only bypassed' AS outcome;
ROLLBACK;
BEGIN;
ALTER TABLE rec DISABLE TRIGGER ALL;
INSERT INTO rec VALUES (201, 'S-OLD', 'old', '1960-01-01', '99', 'overdue', 9, '2000-01-01');
ROLLBACK;
-- the guard, enabled (control): refused
INSERT INTO rec VALUES (202, 'S-OLD', 'old', '1960-01-01', '99', 'overdue', 9, '2000-01-01');

-- Held: the key's uniqueness dropped by the owner (S9U04)
BEGIN;
ALTER TABLE rec DROP CONSTRAINT rec_pkey;
INSERT INTO rec VALUES (1, 'S-DUP', 'dup', '1980-01-01', '11', 'ok', 1, current_date);
SELECT 'duplicate record key inserted' AS outcome;
ROLLBACK;
-- a child table: rows the batch (FROM ONLY) never sees
CREATE TABLE rec_child () INHERITS (rec);
SELECT count(*) AS child_tables FROM pg_inherits WHERE inhparent = 'rec'::regclass;
DROP TABLE IF EXISTS rec_child;
-- ownership given away
BEGIN;
ALTER TABLE rec OWNER TO regress_at_app;
SELECT 'owner changed' AS outcome;
ROLLBACK;
-- the owner's trigger on the registered table (fires on finsec's correction inserts)
CREATE FUNCTION trg_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
BEGIN;
CREATE TRIGGER zz_owner_trg BEFORE INSERT ON rec FOR EACH ROW EXECUTE FUNCTION trg_fn();
SELECT 'trigger created' AS outcome;
ROLLBACK;
RESET SESSION AUTHORIZATION;

-- =====================================================================
-- (3) forging or erasing finsec's records, as finsec_app and finsec_admin
-- =====================================================================
SET SESSION AUTHORIZATION regress_at_app;
INSERT INTO finsec.credit_query_log DEFAULT VALUES;           -- 42501
INSERT INTO finsec.deid_batch DEFAULT VALUES;                 -- 42501
INSERT INTO finsec.credit_dispute DEFAULT VALUES;             -- 42501
INSERT INTO finsec_archive.rec (batch_id, period) VALUES (1, 1);   -- 42501
SELECT * FROM finsec_archive.rec;                             -- 42501
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_at_a;
DELETE FROM finsec.credit_table;                              -- 42501: unregistration alone
UPDATE finsec.credit_table SET k = 2;                         -- 42501
UPDATE finsec.credit_user SET query_status = 'active';        -- 42501
UPDATE finsec.credit_institution SET status = 'active';       -- 42501
DELETE FROM finsec.credit_query_log;                          -- 42501
INSERT INTO finsec.outbound_allow DEFAULT VALUES;             -- 42501
INSERT INTO finsec_archive.rec (batch_id, period) VALUES (1, 1);   -- refused
DROP TABLE finsec_archive.rec;                                -- refused
-- the SECURITY DEFINER half of registration, called alone (skips the
-- caller-side steps: the "has rows" check, protect_table, protect_period)
CREATE TABLE plain (id bigint PRIMARY KEY, s finsec.protected_text(credit_p) NOT NULL, e date NOT NULL);
SELECT finsec._credit_register_record('plain', 'id', 's', 'e', 'credit_p', '{}', '{}', '{}', NULL, NULL,
	'5 years', 'deidentify', 5, 2, 0.05);                     -- S9D01 not protected
-- two-person kinds requested, then approved by the requester alone
SELECT finsec.unregister_credit_table('rec', 'reason long enough') AS ur \gset
SELECT finsec.approve(:ur);                                   -- refused: own request
SELECT finsec.credit_retention_override('rec', '1 day', 'reason long enough') AS ro \gset
SELECT finsec.approve(:ro);                                   -- refused: own request
RESET SESSION AUTHORIZATION;
SELECT retention FROM finsec.credit_table WHERE relid = 'rec'::regclass;

-- =====================================================================
-- (2) finsec running the caller's code: deid_aggregate, deidentified_copy
-- =====================================================================
SET SESSION AUTHORIZATION regress_at_research;
SELECT finsec.deid_aggregate('rec', '{amount}');              -- S9D43: not an archive
SELECT finsec.deid_aggregate('finsec.credit_table', '{k}');   -- S9D43
SELECT finsec.deid_aggregate('finsec_archive.rec', '{subject}');   -- S9D43: pseudonym
SELECT finsec.deid_aggregate('finsec_archive.rec', '{"amount) FROM pg_authid --"}');   -- S9D43
SELECT finsec.deid_aggregate('finsec_archive.rec', '{amount}', 1);   -- S9D43: k below the table's
SELECT finsec.deid_aggregate('finsec_archive.rec', NULL);     -- S9D43
SELECT finsec.deid_aggregate('finsec_archive.rec', '{amount}', 2147483647);
SELECT finsec.deidentify_now('rec');                          -- 42501
SELECT * FROM finsec_archive.rec;                             -- 42501
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION regress_at_a;
SELECT finsec.deidentified_copy('rec', 'finsec_archive.evil');     -- refused
SELECT finsec.deidentified_copy('rec', 'pg_catalog.evil');         -- refused
SELECT finsec.deidentified_copy('rec', 'pg_temp.evil');            -- refused?
SELECT finsec.deidentified_copy('rec', 'public.evil; DROP TABLE x');   -- a name, not SQL
SELECT finsec.deidentified_copy('rec', NULL);                      -- refused
SELECT finsec.deidentified_copy('rec', 'public.c_nan', 3, 2, 'NaN');   -- refused
SELECT finsec.deidentified_copy('rec', 'public.c_inf', 3, 2, 'Infinity');   -- refused
SELECT finsec.deidentified_copy('rec', 'public.c_big', 2147483647);    -- refused (unreachable)
\set VERBOSITY default
-- Was a hole, closed: a single admin lowered k below the table's (3) and
-- l to 1 for a copy of every current record (classes of 2 published).
-- A copy is never weaker than the registration now (22023).
SELECT finsec.deidentified_copy('rec', 'public.weak', 2, 1, 0.5) IS NOT NULL AS copied;
SELECT count(*) AS rows FROM public.weak;
RESET SESSION AUTHORIZATION;
SELECT proof -> 'engine' ->> 'min_class' AS min_class FROM finsec.deid_batch WHERE kind = 'copy' AND state = 'published';
SELECT min(n) AS smallest_class FROM (SELECT count(*) AS n FROM public.weak GROUP BY birth_date, region) c;
\set VERBOSITY sqlstate

-- =====================================================================
-- (3)/(5) the abnormal-querying suspension, undone by the caller's ROLLBACK
-- =====================================================================
INSERT INTO finsec.credit_institution (code, name, kind, status) VALUES ('BANK0001', 'Bank one', 'provider_user', 'active');
SET SESSION AUTHORIZATION regress_at_a;
SELECT finsec.credit_user_set('regress_at_app', 'BANK0001', '{query}');
RESET SESSION AUTHORIZATION;
SET finsec.credit_query_max_subjects = 2;
SET SESSION AUTHORIZATION regress_at_app;
SELECT count(*) FROM finsec.credit_query('rec', 'S-0001', 'loan_approval');
SELECT count(*) FROM finsec.credit_query('rec', 'S-0002', 'loan_approval');
BEGIN;
SELECT count(*) FROM finsec.credit_query('rec', 'S-0003', 'loan_approval');   -- WARNING: suspended
ROLLBACK;
RESET SESSION AUTHORIZATION;
-- Was a hole, closed: the suspension was rolled back with the caller's
-- transaction, and the user queried on without the two-person restore.
-- The row still says active after the ROLLBACK, but the user's next call
-- applies the suspension again (shared memory, or after a restart the
-- durable credit.user_suspended ledger row) and returns nothing (S9D29),
-- then every call is refused (S9D23).
SELECT role_name, query_status FROM finsec.credit_user WHERE role_name = 'regress_at_app';
SET SESSION AUTHORIZATION regress_at_app;
SELECT count(*) FROM finsec.credit_query('rec', 'S-0001', 'loan_approval');
SELECT count(*) FROM finsec.credit_query('rec', 'S-0002', 'loan_approval');
-- a refusal inside a savepoint rolled back: still a durable row
BEGIN;
SAVEPOINT s;
SELECT count(*) FROM finsec.credit_query('rec', 'S-0001', 'no_such_reason');
ROLLBACK TO SAVEPOINT s;
COMMIT;
RESET SESSION AUTHORIZATION;
RESET finsec.credit_query_max_subjects;
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT event_type, count(*) FROM finsec.audit
 WHERE db_user = 'regress_at_app' AND event_type IN ('credit.query', 'credit.query_refused', 'credit.user_suspended')
 GROUP BY 1 ORDER BY 1;

-- =====================================================================
-- settings that move "today" or the clock of the batches, as one admin
-- =====================================================================
SET SESSION AUTHORIZATION regress_at_a;
SET finsec.deid_test_days_ahead = 100000;                     -- 42501
SHOW finsec.deid_test_days_ahead;
SET finsec.deid_timezone = 'Pacific/Kiritimati';
SHOW finsec.deid_timezone;
RESET finsec.deid_timezone;
RESET SESSION AUTHORIZATION;

-- =====================================================================
-- superuser limited to SQL: direct reads are audited (durably)
-- =====================================================================
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT count(*) AS before FROM finsec.audit WHERE event_type LIKE 'credit.direct_read%' \gset
BEGIN;
SELECT count(*) FROM rec;
ROLLBACK;
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT event_type, success, description FROM finsec.audit
 WHERE event_type LIKE 'credit.direct_read%' ORDER BY finsec_seq DESC LIMIT 1;

-- =====================================================================
-- (4) after the batch: the expired records' personal data
-- =====================================================================
SELECT ((:'db'::date - 1) + interval '5 years')::date + 1 - finsec._deid_today() AS ahead \gset
SET finsec.deid_test_days_ahead = :ahead;
SET SESSION AUTHORIZATION regress_at_a;
\set VERBOSITY default
SELECT count(*) AS batches FROM finsec.deidentify_now('rec');
RESET SESSION AUTHORIZATION;
SELECT kind, state, reason, records, published FROM finsec.deid_batches ORDER BY id;
SELECT id, finsec.reveal(subject) IS NULL AS subject_gone, finsec.reveal(name) IS NULL AS name_gone,
	   subject::text LIKE '[shredded]%' AS prints_shredded
  FROM rec ORDER BY id;
-- The batch above publishes (the archive write refusal found here first
-- was an integration bug, fixed).  After it, the owner still reads no
-- statistics of the table (none were ever computed).
SET SESSION AUTHORIZATION regress_at_owner;
SELECT histogram_bounds FROM pg_stats WHERE tablename = 'rec' AND attname = 'amount';
SELECT attname, most_common_vals::text LIKE '%张*~%' OR histogram_bounds::text LIKE '%李*~%' AS masked_names
  FROM pg_stats WHERE tablename = 'rec' AND attname = 'name';
RESET SESSION AUTHORIZATION;

-- Research differencing (total minus the published cells gives a
-- suppressed cell's size when one cell is suppressed): not verifiable
-- here, the archive stays empty (batch refused above).
SET SESSION AUTHORIZATION regress_at_research;
SELECT finsec.deid_aggregate('finsec_archive.rec', '{}');
SELECT finsec.deid_aggregate('finsec_archive.rec', '{status}');
RESET SESSION AUTHORIZATION;

-- Was a hole, closed: finsec_app (not the owner of rec) blocked rec's
-- retention deletion for good with a table of its own period-keyed under
-- rec's policy (every later batch of rec refused).  A credit table's
-- policy keys that table alone now: protect_period under it is refused
-- (S9D04), and so is a second registration under it.
SET SESSION AUTHORIZATION regress_at_app;
CREATE TABLE blocker (d date NOT NULL, v finsec.protected_text(credit_p));
SELECT finsec.protect_period('blocker', 'v', 'd') IS NOT NULL AS keyed;
RESET SESSION AUTHORIZATION;
RESET finsec.deid_test_days_ahead;
SELECT ((:'dc'::date - 1) + interval '5 years')::date + 1 - finsec._deid_today() AS ahead2 \gset
SET finsec.deid_test_days_ahead = :ahead2;
SET SESSION AUTHORIZATION regress_at_a;
SELECT count(*) AS batches FROM finsec.deidentify_now('rec');
RESET SESSION AUTHORIZATION;
SELECT kind, state, reason ~ 'blocker' AS blocked_by_app, records, published FROM finsec.deid_batches
 WHERE kind = 'retention' ORDER BY id;
RESET finsec.deid_test_days_ahead;
\set VERBOSITY sqlstate

-- =====================================================================
-- (6) NULLs (a second table under credit_p also blocks rec's batches), NaN, huge inputs
-- =====================================================================
SET SESSION AUTHORIZATION regress_at_a;
SELECT finsec.deid_evaluate('[{"q": "1"}]', '{"q": ["prefix:1"]}', '{}', 2, 1, 'NaN');       -- refused
SELECT finsec.deid_evaluate('[{"q": "1"}]', '{"q": ["prefix:1"]}', '{}', 2, 1, 'Infinity');  -- refused
SELECT finsec.deid_evaluate('[{"q": "1"}]', '{"q": ["prefix:1"]}', '{}', 2147483647, 1, 0.05) ->> 'ok' AS ok;
SELECT finsec.deid_evaluate(NULL, NULL, NULL, NULL, NULL, NULL);
SELECT finsec.deid_evaluate('{"not": "an array"}', '{}');
SELECT finsec.deid_evaluate('[{"q": "1"}]', '{"q": ["round:0"]}');          -- refused
SELECT finsec.deid_evaluate('[{"q": "NaN"}]', '{"q": ["round:10"]}') ->> 'ok' AS ok;
SELECT finsec.deid_evaluate('[{"q": "1e400000"}]', '{"q": ["round:10"]}') ->> 'ok' AS ok;
SELECT finsec.deid_evaluate('[{"q": "1"}]', '{"q": ["round:1e999999"]}');   -- refused
CREATE TABLE t_nan (id bigint PRIMARY KEY, s finsec.protected_text(credit_p) NOT NULL, e date NOT NULL);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_at_admin_owner;
CREATE TABLE t_nan2 (id bigint PRIMARY KEY, s finsec.protected_text(credit_p) NOT NULL, e date NOT NULL);
SELECT finsec.register_credit_table('t_nan2', 'id', 's', 'e', 'credit_p', max_suppression => 'NaN');    -- refused
SELECT finsec.register_credit_table('t_nan2', 'id', 's', 'e', 'credit_p', retention => 'infinity');     -- refused
SELECT finsec.register_credit_table('t_nan2', 'id', 's', 'e', 'credit_p', k => 2147483647, l => 2147483647);
SELECT finsec.register_credit_table(NULL, NULL, NULL, NULL, NULL);
SELECT finsec.register_credit_table('t_nan2', 'id', 's', 'e', 'credit_p', identifiers => ARRAY[NULL]::text[]);
SELECT finsec.register_credit_table('t_nan2', 'id', 's', 'e', 'credit_p', quasi_identifiers => '[1]');
SELECT finsec.register_credit_table('t_nan2', 'id', 's', 'e', 'credit_p', quasi_identifiers => '"s"');
RESET SESSION AUTHORIZATION;
SELECT relid::text, k, l, max_suppression FROM finsec.credit_table ORDER BY 1;

\set VERBOSITY default
\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_attack;
DROP ROLE regress_at_a, regress_at_b, regress_at_owner, regress_at_admin_owner, regress_at_app, regress_at_research;
