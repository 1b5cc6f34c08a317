--
-- 135_credit_deid: de-identification of expired credit records
-- (docs/credit.md): a retention batch of a hand-checked small table
-- (archive content, proof numbers, keys destroyed, production values
-- shredded, the ledger verifies), the refusal of a batch whose k cannot
-- be reached, deidentify_now twice (the second does nothing), a
-- de-identified copy for tests, and the refusals of every bad call.
--
-- "Today" is moved with finsec.deid_test_days_ahead (a superuser's test
-- setting): the rows are inserted at the real date, then the retention of
-- their month is made to have ended.
--
SET client_min_messages = warning;
CREATE DATABASE regress_deid;
\c regress_deid
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_dd_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_dd_b LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_dd_owner LOGIN IN ROLE finsec_app;
CREATE ROLE regress_dd_admin_owner LOGIN IN ROLE finsec_admin, regress_dd_owner;
CREATE ROLE regress_dd_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_dd_research LOGIN IN ROLE finsec_research;
GRANT CREATE ON SCHEMA public TO regress_dd_owner, regress_dd_admin_owner;

SET SESSION AUTHORIZATION regress_dd_a;
SELECT finsec.key_generate('credit.enc', 'encryption', 'aes-256-gcm') AS k1 \gset
SELECT finsec.key_generate('credit.fp', 'fingerprint', 'hmac-sha256') AS k2 \gset
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') AS k3 \gset
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sha256') AS k4 \gset
SELECT finsec.key_generate('small.enc', 'encryption', 'aes-256-gcm') AS k5 \gset
SELECT finsec.key_generate('small.fp', 'fingerprint', 'hmac-sha256') AS k6 \gset
SET SESSION AUTHORIZATION regress_dd_b;
SELECT finsec.approve(:k1) ->> 'state', finsec.approve(:k2) ->> 'state', finsec.approve(:k3) ->> 'state',
	   finsec.approve(:k4) ->> 'state', finsec.approve(:k5) ->> 'state', finsec.approve(:k6) ->> 'state';
SET SESSION AUTHORIZATION regress_dd_a;
SELECT finsec.protect_policy_create('credit_p', enc_key => 'credit.enc', fp_key => 'credit.fp',
									mask => 'name', period_unit => 'month', fp_scope => 'period') > 0 AS created;
SELECT finsec.protect_policy_create('small_p', enc_key => 'small.enc', fp_key => 'small.fp',
									mask => 'name', period_unit => 'month', fp_scope => 'period') > 0 AS created;
-- keys of three months: two months ago (A, made due below), last month (B), this month (C)
SELECT finsec.protect_period_keys('credit_p', (date_trunc('month', current_date) - interval '2 months')::date,
								  current_date, 'three months') AS pk \gset
SELECT finsec.protect_period_keys('small_p', (date_trunc('month', current_date) - interval '2 months')::date,
								  current_date, 'three months') AS pk2 \gset
SET SESSION AUTHORIZATION regress_dd_b;
SELECT finsec.approve(:pk) IS NOT NULL AS approved, finsec.approve(:pk2) IS NOT NULL AS approved;
RESET SESSION AUTHORIZATION;

-- The periods, as numbers, for the rest of the file.
SELECT to_char(current_date - interval '2 months', 'YYYYMM')::int AS pa,
	   to_char(current_date - interval '1 month', 'YYYYMM')::int AS pb,
	   to_char(current_date, 'YYYYMM')::int AS pc,
	   (date_trunc('month', current_date) - interval '2 months')::date AS da,
	   (date_trunc('month', current_date) - interval '1 month')::date AS db,
	   date_trunc('month', current_date)::date AS dc \gset

SET SESSION AUTHORIZATION regress_dd_owner;
CREATE TABLE rec (
	id			bigint PRIMARY KEY,
	subject		finsec.protected_text(credit_p) NOT NULL,
	name		finsec.protected_text(credit_p),
	birth_date	finsec.protected_text(credit_p),
	region		finsec.protected_text(credit_p),
	status		finsec.protected_text(credit_p),
	amount		numeric,
	closed_on	date NOT NULL);
CREATE TABLE small (
	id			bigint PRIMARY KEY,
	subject		finsec.protected_text(small_p) NOT NULL,
	birth_date	finsec.protected_text(small_p),
	status		finsec.protected_text(small_p),
	closed_on	date NOT NULL);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_dd_admin_owner;
SELECT finsec.register_credit_table('rec', key => 'id', subject => 'subject', behaviour_end => 'closed_on',
	policy => 'credit_p', identifiers => '{name}',
	quasi_identifiers => '{"birth_date": ["year", "decade"], "region": ["prefix:2"]}',
	sensitive => '{status}', k => 3, l => 2) AS archive;
SELECT finsec.register_credit_table('small', key => 'id', subject => 'subject', behaviour_end => 'closed_on',
	policy => 'small_p', quasi_identifiers => '{"birth_date": ["year", "decade"]}',
	sensitive => '{status}', k => 5, l => 2) AS archive;
RESET SESSION AUTHORIZATION;

-- Period A (two months ago): 7 records.  At (year, prefix:2) the classes
-- are {1980, 11} of 4 records (statuses overdue, default, overdue,
-- default: 2 distinct) and {1985, 31} of 3 (overdue, default,
-- written_off: 3 distinct): k = 3 and l = 2 hold with nothing
-- suppressed.  Every finer node fails (a clear birth date or region
-- leaves classes of 1), so (1, 1) is the optimum under any measure of
-- loss.  Risks: max 1/3; expected re-identifications 4 * 1/4 + 3 * 1/3
-- = 2; average 2/7.  Records 1 and 4 are of the same subject.
-- Periods B (last month, 3 records) and C (this month, 2) stay.
SET SESSION AUTHORIZATION regress_dd_owner;
INSERT INTO rec VALUES
	(1, 'S-0001', '张三', '1980-03-01', '110101', 'overdue', 1000, :'da'::date + 1),
	(2, 'S-0002', '李四', '1980-07-09', '110102', 'default', 2000, :'da'::date + 2),
	(3, 'S-0003', '王五', '1980-11-11', '110105', 'overdue', 3000, :'da'::date + 3),
	(7, 'S-0007', '钱七', '1980-12-12', '110108', 'default', 7000, :'da'::date + 4),
	(4, 'S-0001', '张三', '1985-01-02', '310101', 'overdue', 4000, :'da'::date + 5),
	(5, 'S-0005', '孙八', '1985-05-05', '310104', 'default', 5000, :'da'::date + 6),
	(6, 'S-0006', '周九', '1985-09-09', '310115', 'written_off', 6000, :'da'::date + 7),
	(11, 'S-0011', '吴十', '1990-01-01', '120101', 'overdue', 1100, :'db'::date + 1),
	(12, 'S-0012', '郑一', '1990-02-02', '120102', 'default', 1200, :'db'::date + 2),
	(13, 'S-0013', '冯二', '1990-03-03', '120103', 'overdue', 1300, :'db'::date + 3),
	(21, 'S-0021', '陈三', '1990-04-04', '120104', 'default', 2100, :'dc'::date),
	(22, 'S-0022', '褚四', '1990-05-05', '120105', 'written_off', 2200, :'dc'::date);
-- small: 3 records in A, k = 5: unreachable within 5 % suppression
INSERT INTO small VALUES
	(1, 'T-1', '1970-01-01', 'overdue', :'da'::date + 1),
	(2, 'T-2', '1975-01-01', 'default', :'da'::date + 2),
	(3, 'T-3', '1999-01-01', 'overdue', :'da'::date + 3);
RESET SESSION AUTHORIZATION;

-- Nothing is due today.
SELECT count(*) AS due_today FROM finsec.deid_due;
SET SESSION AUTHORIZATION regress_dd_a;
SELECT count(*) AS batches FROM finsec.deidentify_now('rec');
RESET SESSION AUTHORIZATION;

-- Move "today" to the first day after period A's retention: A is due,
-- B and C are not.
SELECT ((:'db'::date - 1) + interval '5 years')::date + 1 - finsec._deid_today() AS ahead \gset
SET finsec.deid_test_days_ahead = :ahead;
SELECT table_name, period = :pa AS is_a, days_overdue, refusal FROM finsec.deid_due ORDER BY 1, 2;

-- Bad calls: not an admin, not registered, NULL, REPEATABLE READ.
\set VERBOSITY sqlstate
SET SESSION AUTHORIZATION regress_dd_app;
SELECT finsec.deidentify_now('rec');
SET SESSION AUTHORIZATION regress_dd_owner;
SELECT finsec.deidentify_now('rec');
SET SESSION AUTHORIZATION regress_dd_a;
SELECT finsec.deidentify_now('pg_class');
SELECT finsec.deidentify_now(NULL);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT finsec.deidentify_now('rec');
ROLLBACK;
\set VERBOSITY default

-- The batch of period A.
SELECT array_agg(b) AS batch FROM finsec.deidentify_now('rec') b \gset
RESET SESSION AUTHORIZATION;
SELECT cardinality(:'batch'::bigint[]) AS batches;
SELECT (:'batch'::bigint[])[1] AS bid \gset
SELECT kind, period = :pa AS is_a, period_start = :'da' AS starts, state, reason, action, records, published,
	   suppressed, target, levels, rows_hash ~ '^[0-9a-f]{64}$' AS rows_hash, run_by
  FROM finsec.deid_batches WHERE id = :bid;
-- the engine's proof: the numbers computed by hand above
SELECT proof -> 'engine' ->> 'min_class' AS min_class, proof -> 'engine' ->> 'classes' AS classes,
	   round((proof -> 'engine' ->> 'max_risk')::numeric, 4) AS max_risk,
	   round((proof -> 'engine' ->> 'avg_risk')::numeric, 4) AS avg_risk,
	   round((proof -> 'engine' ->> 'expected_reidentifications')::numeric, 4) AS expected,
	   proof -> 'engine' -> 'histogram' AS histogram, proof ->> 'pseudonyms' AS pseudonyms,
	   proof ->> 'row_order' AS row_order
  FROM finsec.deid_batch WHERE id = :bid;
-- the archive: 7 rows, QIs generalised, sensitives in clear, public kept,
-- pseudonyms 64 hex digits, one per subject within the batch
SELECT archive_table FROM finsec.credit_table WHERE relid = 'rec'::regclass;
SELECT column_name, data_type FROM information_schema.columns
 WHERE table_schema = 'finsec_archive' AND table_name = 'rec' ORDER BY ordinal_position;
SELECT birth_date, region, status, amount, period = :pa AS is_a, batch_id = :bid AS of_batch
  FROM finsec_archive.rec ORDER BY amount;
SELECT count(*) AS rows, count(DISTINCT subject) AS subjects, count(DISTINCT name) AS names,
	   bool_and(subject ~ '^[0-9a-f]{64}$' AND name ~ '^[0-9a-f]{64}$') AS hex
  FROM finsec_archive.rec;
SELECT count(DISTINCT subject) AS same_subject FROM finsec_archive.rec WHERE amount IN (1000, 4000);
-- the keys of A destroyed by the keyring, B and C untouched
SELECT label ~ ('\.' || :pa || '$') AS of_a, purpose, state FROM finsec.key_inventory
 WHERE label LIKE 'credit.%.%' ORDER BY 1 DESC, label;
SELECT policy_name, period = :pa AS is_a, request_id, deid_batch = :bid AS by_batch, keys IS NOT NULL AS keys
  FROM finsec.protect_shredded;
SELECT keys_destroyed = (SELECT keys FROM finsec.protect_shredded WHERE deid_batch = :bid) AS keys_recorded
  FROM finsec.deid_batch WHERE id = :bid;
-- production rows stay, sealed and unreadable; the others still open
SELECT id, (finsec.protected_info(subject)).state AS subject, (finsec.protected_info(name)).state AS name,
	   (finsec.protected_info(birth_date)).state AS birth_date, (finsec.protected_info(status)).state AS status,
	   finsec.reveal(subject) IS NULL AS unrevealed, subject::text LIKE '[shredded]%' AS prints
  FROM rec ORDER BY id;
SELECT count(*) AS rows FROM rec;
-- the ledger: the batch's event with its proof, the keyring's destroys; it verifies
SELECT event_type, replace(object, :'pa', '<A>') AS object, action, success, detail ->> 'batch_id' = :'bid' AS of_batch
  FROM finsec.audit WHERE event_type IN ('credit.deid_batch', 'key.destroy', 'key.retire', 'protect.shred')
 ORDER BY finsec_seq;
SELECT count(*) > 0 AS sealed FROM (SELECT finsec.audit_seal()) s;
SELECT bool_and(ok) AS verified FROM finsec.audit_verify();
SELECT finsec.deid_verify(:bid) AS archive_verifies;
-- the proof's rows hash is recomputable with plain SQL
SELECT encode(sha256(string_agg(d, ''::bytea ORDER BY d)), 'hex') = (SELECT rows_hash FROM finsec.deid_batches WHERE id = :bid)
	   AS recomputed
  FROM (SELECT sha256(convert_to((to_jsonb(a) - 'batch_id' - 'finsec_txid' - 'finsec_seq')::text, 'UTF8')) AS d FROM finsec_archive.rec a) r;

-- Twice: nothing more is due, nothing is done; a record is never processed twice.
SET SESSION AUTHORIZATION regress_dd_a;
SELECT count(*) AS batches FROM finsec.deidentify_now('rec');
RESET SESSION AUTHORIZATION;
SELECT count(*) AS archive_rows FROM finsec_archive.rec;
-- nor can a second published batch of the period be inserted by hand
\set VERBOSITY sqlstate
INSERT INTO finsec.deid_batch (relid, kind, period, state, action, records, published, suppressed, proof, started_at)
VALUES ('rec', 'retention', :pa, 'published', 'deidentify', 0, 0, 0, '{}', now());
\set VERBOSITY default
-- a late row of the shredded period is refused
SET SESSION AUTHORIZATION regress_dd_owner;
\set VERBOSITY sqlstate
INSERT INTO rec VALUES (8, 'S-0008', 'x', '1980-01-01', '110101', 'overdue', 8000, :'da'::date + 8);
\set VERBOSITY default
RESET SESSION AUTHORIZATION;

-- The refusal: k = 5 with 3 records cannot be met within 5 % suppression.
SET SESSION AUTHORIZATION regress_dd_a;
SELECT array_agg(b) AS sbatch FROM finsec.deidentify_now('small') b \gset
RESET SESSION AUTHORIZATION;
SELECT (:'sbatch'::bigint[])[1] AS sid \gset
SELECT kind, state, reason IS NOT NULL AS has_reason, records, published, suppressed, keys_destroyed
  FROM finsec.deid_batches WHERE id = :sid;
SELECT reason FROM finsec.deid_batch WHERE id = :sid;
SELECT count(*) AS archive_rows FROM finsec_archive.small;
SELECT count(*) AS destroyed FROM finsec.key_inventory WHERE label LIKE 'small.%' AND state = 'destroyed';
SELECT (finsec.protected_info(birth_date)).state FROM small ORDER BY id;
SELECT table_name, period = :pa AS is_a, refused_batch = :sid AS refused_by, refusal IS NOT NULL AS has_refusal
  FROM finsec.deid_due ORDER BY 1;
SELECT event_type, action, success, description IS NOT NULL AS described FROM finsec.audit
 WHERE event_type = 'credit.deid_batch' AND action = 'refuse';

-- finsec.deid_batch is append-only, for the superuser too.
\set VERBOSITY sqlstate
UPDATE finsec.deid_batch SET state = 'published' WHERE id = :sid;
DELETE FROM finsec.deid_batch WHERE id = :bid;
TRUNCATE finsec.deid_batch;
\set VERBOSITY default
-- readable by admins and auditors, not by research or the application
SET SESSION AUTHORIZATION regress_dd_research;
\set VERBOSITY sqlstate
SELECT count(*) FROM finsec.deid_batch;
SELECT count(*) FROM finsec.deid_batches;
SET SESSION AUTHORIZATION regress_dd_app;
SELECT count(*) FROM finsec.deid_due;
SELECT finsec.deid_verify(1);
-- the archive: the application and research roles cannot read it directly
SELECT count(*) FROM finsec_archive.rec;
SET SESSION AUTHORIZATION regress_dd_research;
SELECT count(*) FROM finsec_archive.rec;
SET SESSION AUTHORIZATION regress_dd_a;
INSERT INTO finsec_archive.rec (batch_id, period) VALUES (1, 1);
\set VERBOSITY default
RESET SESSION AUTHORIZATION;

-- A de-identified copy for tests: the 5 current records (B and C; A is
-- shredded), under the table's k = 3, l = 2: {1990, 12} of 5 (3 distinct
-- statuses); owned by the caller; keys untouched.  A copy weaker than the
-- registration (k 2, l 1, more suppression) is refused (22023).
SET SESSION AUTHORIZATION regress_dd_admin_owner;
\set VERBOSITY sqlstate
SELECT finsec.deidentified_copy('rec', 'finsec.rec_copy');
SELECT finsec.deidentified_copy('rec', 'finsec_archive.rec_copy');
SELECT finsec.deidentified_copy('rec', 'pg_temp.rec_copy');
SELECT finsec.deidentified_copy('rec', 'pg_catalog.rec_copy');
SELECT finsec.deidentified_copy('rec', 'rec');
SELECT finsec.deidentified_copy('rec', 'rec_copy', k => 1);
SELECT finsec.deidentified_copy('rec', 'rec_copy', k => 2, l => 3);
SELECT finsec.deidentified_copy('rec', 'rec_copy', max_suppression => 0.9);
SELECT finsec.deidentified_copy('rec', NULL);
SELECT finsec.deidentified_copy('rec', 'rec_weak', k => 2);
SELECT finsec.deidentified_copy('rec', 'rec_weak', l => 1);
SELECT finsec.deidentified_copy('rec', 'rec_weak', max_suppression => 0.1);
\set VERBOSITY default
-- small's only records are past their retention: its copy is empty
SELECT finsec.deidentified_copy('small', 'small_copy') > 0 AS copied;
SELECT count(*) AS rows FROM small_copy;
SELECT finsec.deidentified_copy('rec', 'public.rec_copy') AS cid \gset
SELECT relowner::regrole FROM pg_class WHERE oid = 'public.rec_copy'::regclass;
SELECT birth_date, region, status, amount FROM public.rec_copy ORDER BY amount;
SELECT count(DISTINCT subject) AS subjects, bool_and(subject ~ '^[0-9a-f]{64}$') AS hex FROM public.rec_copy;
RESET SESSION AUTHORIZATION;
-- pseudonyms of a copy never match the archive's (another key)
SELECT count(*) AS linked FROM public.rec_copy c JOIN finsec_archive.rec a USING (subject);
SELECT kind, period, state, records, published, suppressed, target, keys_destroyed, rows_hash ~ '^[0-9a-f]{64}$' AS hashed
  FROM finsec.deid_batches WHERE id = :cid;
SELECT count(*) AS destroyed FROM finsec.key_inventory WHERE label LIKE 'credit.%' AND state = 'destroyed';
SELECT event_type, action, success FROM finsec.audit WHERE event_type = 'credit.deid_copy' ORDER BY finsec_seq;

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_deid;
DROP ROLE regress_dd_a, regress_dd_b, regress_dd_owner, regress_dd_admin_owner, regress_dd_app, regress_dd_research;
