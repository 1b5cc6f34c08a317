--
-- 154_compliance_continuity: the backup register (record_backup,
-- record_restore_test, record_switchover_drill: validation, immutability,
-- privileges, NULLs, the ledger, the dump), the durability and continuity
-- checks on the regression cluster (fsync off, no checksums, no archiving,
-- no standby: each fails with its evidence; each pass paired with its
-- failure), cannot_verify for a caller who cannot see, and
-- finsec.dr_level() on a single node without archiving (docs/compliance.md).
--
SET client_min_messages = warning;
CREATE DATABASE regress_cont;
\c regress_cont
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_ct_oper LOGIN IN ROLE finsec_operator;
CREATE ROLE regress_ct_aud LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress_ct_adm LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ct_plain LOGIN;
CREATE ROLE regress_ct_backup LOGIN;
-- a dedicated backup login role: the schema and record_backup, nothing else
GRANT USAGE ON SCHEMA finsec TO regress_ct_backup;
GRANT EXECUTE ON FUNCTION finsec.record_backup(text, text, timestamptz, timestamptz, boolean, text, bigint, text, timestamptz, jsonb)
	TO regress_ct_backup;

-- try(sql): 'ok' or the SQLSTATE and message of the error it raised.
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text;
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN st || ': ' || msg;
END $$;

-- 1. The register is empty: every register check fails (never passes
-- vacuously), with the thresholds it used.
SELECT status, evidence -> 'problems' AS problems, evidence -> 'full_days' AS full_days, evidence -> 'incr_days' AS incr_days
  FROM finsec._check_backup_schedule('{}');
SELECT status, evidence -> 'days' AS days FROM finsec._check_restore_tested('{}');
SELECT status, evidence -> 'days' AS days FROM finsec._check_switchover_drilled('{}');

-- 2. Validation: every bad input refused with its SQLSTATE, nothing recorded.
SET SESSION AUTHORIZATION regress_ct_oper;
SELECT pg_temp.try($$SELECT finsec.record_backup('weekly', 'x', now() - interval '1 hour', now())$$) AS unknown_kind;
SELECT pg_temp.try($$SELECT finsec.record_backup('full', 'x', now(), now() - interval '1 second')$$) AS finished_before_started;
SELECT pg_temp.try($$SELECT finsec.record_backup('full', 'x', now(), now() + interval '1 hour')$$) AS in_the_future;
-- (five minutes of clock skew are accepted: recorded, as a failure, so
-- that it does not count as a backup below)
SELECT pg_temp.try($$SELECT finsec.record_backup('full', 'skewed', now() + interval '4 minutes', now() + interval '4 minutes', success => false)$$) AS within_clock_skew;
SELECT pg_temp.try($$SELECT finsec.record_backup('full', 'x', '1999-12-31 23:00+00', '2000-01-01 01:00+00')$$) AS before_2000;
SELECT pg_temp.try($$SELECT finsec.record_backup('full', '  ', now(), now())$$) AS empty_label;
SELECT pg_temp.try($$SELECT finsec.record_backup('full', 'x', now(), now(), size_bytes => -1)$$) AS negative_size;
SELECT pg_temp.try($$SELECT finsec.record_backup('full', 'x', now(), now(), retention_until => now() - interval '1 day')$$) AS retention_before_finish;
SELECT pg_temp.try($$SELECT finsec.record_backup('full', repeat('x', 1001), now(), now())$$) AS huge_label;
SELECT pg_temp.try($$SELECT finsec.record_backup('full', 'x', now(), now(), detail => '[1, 2]')$$) AS detail_not_object;
SELECT pg_temp.try($$SELECT finsec.record_backup('full', 'x', now(), now(), detail => jsonb_build_object('k', repeat('y', 70000)))$$) AS detail_too_big;
SELECT pg_temp.try($$SELECT finsec.record_backup(NULL, 'x', now(), now())$$) AS null_kind;
SELECT pg_temp.try($$SELECT finsec.record_backup('full', NULL, now(), now())$$) AS null_label;
SELECT pg_temp.try($$SELECT finsec.record_backup('full', 'x', NULL, now())$$) AS null_started;
SELECT pg_temp.try($$SELECT finsec.record_backup('full', 'x', now(), now(), success => NULL)$$) AS null_success;
SELECT pg_temp.try($$SELECT finsec.record_restore_test(now(), now(), NULL)$$) AS restore_null_success;
SELECT pg_temp.try($$SELECT finsec.record_restore_test(now(), now() - interval '1 minute', true)$$) AS restore_backwards;
SELECT pg_temp.try($$SELECT finsec.record_restore_test(now(), now(), true, rto_seconds => -1)$$) AS restore_negative_rto;
SELECT pg_temp.try($$SELECT finsec.record_restore_test(now(), now(), true, rpo_seconds => 'NaN')$$) AS restore_nan_rpo;
SELECT pg_temp.try($$SELECT finsec.record_switchover_drill('a', NULL, now(), now(), true)$$) AS drill_null_node;
SELECT pg_temp.try($$SELECT finsec.record_switchover_drill('a', '', now(), now(), true)$$) AS drill_empty_node;
SELECT pg_temp.try($$SELECT finsec.record_switchover_drill('a', 'b', now(), now() + interval '1 day', true)$$) AS drill_future;
RESET SESSION AUTHORIZATION;
SELECT (SELECT count(*) FROM finsec.backup_register WHERE success) AS successful_backups,
	   (SELECT count(*) FROM finsec.restore_test) AS restores,
	   (SELECT count(*) FROM finsec.switchover_drill) AS drills;

-- 3. Privileges: an operator records; an auditor and a plain role cannot;
-- a dedicated backup role granted record_backup alone can (and is named
-- as the recorder); nobody writes the tables directly.
SET SESSION AUTHORIZATION regress_ct_aud;
SELECT pg_temp.try($$SELECT finsec.record_backup('full', 'x', now(), now())$$) AS auditor_records;
SET SESSION AUTHORIZATION regress_ct_plain;
SELECT pg_temp.try($$SELECT finsec.record_backup('full', 'x', now(), now())$$) AS plain_records;
SELECT pg_temp.try($$SELECT count(*) FROM finsec.backup_register$$) AS plain_reads;
SELECT pg_temp.try($$SELECT * FROM finsec.dr_level()$$) AS plain_dr_level;
SET SESSION AUTHORIZATION regress_ct_oper;
SELECT pg_temp.try($$INSERT INTO finsec.backup_register (kind, label, started_at, finished_at, success, recorded_by)
					 VALUES ('full', 'forged', now(), now(), true, 'someone')$$) AS operator_inserts_directly;
SET SESSION AUTHORIZATION regress_ct_backup;
SELECT pg_temp.try($$SELECT count(*) FROM finsec.backup_register$$) AS backup_role_reads;
SELECT pg_temp.try($$SELECT finsec.record_restore_test(now(), now(), true)$$) AS backup_role_records_restore;
SET SESSION AUTHORIZATION regress_ct_oper;
-- Old rows only (back-filled from a tool's report, explicit past times).
SELECT finsec.record_backup('full', 'old-full', now() - interval '30 days 1 hour', now() - interval '30 days',
							tool => 'pgbackrest', size_bytes => 1048576,
							location => 'https://backup:s3cr3t@repo.example/db?token=abc&region=cn') > 0 AS recorded;
SELECT finsec.record_backup('incremental', 'old-incr', now() - interval '9 days 1 hour', now() - interval '9 days') > 0 AS recorded;
SELECT finsec.record_backup('full', 'older-full', now() - interval '201 days 1 hour', now() - interval '201 days') > 0 AS recorded;
SELECT finsec.record_restore_test(now() - interval '200 days 2 hours', now() - interval '200 days', true, 'older-full') > 0 AS recorded;
-- a restore test of no recorded backup, or of one that finished after the
-- test began, proves nothing: never counted
SELECT finsec.record_restore_test(now() - interval '1 day 1 hour', now() - interval '1 day', true, 'no-such-backup') > 0 AS recorded;
SELECT finsec.record_restore_test(now() - interval '29 days', now() - interval '28 days', true, 'old-incr') > 0 AS recorded;
SELECT finsec.record_switchover_drill('node1', 'node2', now() - interval '400 days', now() - interval '400 days' + interval '90 seconds', true) > 0 AS recorded;
SET SESSION AUTHORIZATION regress_ct_backup;
SELECT finsec.record_backup('incremental', 'hook <script>alert(1)</script> ''q"', now() - interval '8 days 1 hour', now() - interval '8 days', success => false) > 0 AS recorded_by_backup_role;
RESET SESSION AUTHORIZATION;
-- Credentials in the location are redacted before they are stored.
SELECT label, location, recorded_by, success FROM finsec.backup_register ORDER BY id;
-- Rows are immutable, even for a superuser; a correction is a new row.
SELECT pg_temp.try($$UPDATE finsec.backup_register SET success = true$$) AS superuser_updates;
SELECT pg_temp.try($$DELETE FROM finsec.restore_test$$) AS superuser_deletes;
SELECT pg_temp.try($$TRUNCATE finsec.switchover_drill$$) AS superuser_truncates;
-- Each recording is in the audit ledger, with what was recorded.
SELECT event_type, action, success, detail ->> 'label' AS label, detail ->> 'location' AS location
  FROM finsec.audit WHERE event_type LIKE 'continuity.%' ORDER BY finsec_seq;
-- The customer's rows go into pg_dump.
SELECT c.relname FROM pg_extension e, unnest(e.extconfig) t JOIN pg_class c ON c.oid = t
 WHERE e.extname = 'finsec' AND c.relname ~ '^(backup_register|restore_test|switchover_drill)' ORDER BY 1;

-- 4. Old rows only: the checks fail, saying what is missing.
SET SESSION AUTHORIZATION regress_ct_aud;
SELECT status, evidence -> 'problems' AS problems FROM finsec._check_backup_schedule('{}');
SELECT status, evidence ->> 'rto_seconds' AS rto, evidence ->> 'tests_of_no_recorded_backup' AS unmatched
  FROM finsec._check_restore_tested('{}');
SELECT status, evidence ->> 'from_node' AS from_node, evidence ->> 'rto_seconds' AS rto FROM finsec._check_switchover_drilled('{}');
-- The clause's own numbers move the threshold: the 30-day-old full backup
-- passes a 31-day rule, the 200-day-old restore test a 366-day one.
SELECT status FROM finsec._check_backup_schedule('{"full_days": 31, "incr_days": 10}');
SELECT status FROM finsec._check_restore_tested('{"days": 366}');
SELECT level, meets, missing FROM finsec.dr_level() WHERE level <= 2 ORDER BY level;

-- 5. Fresh rows: the same checks pass.
SET SESSION AUTHORIZATION regress_ct_oper;
SELECT finsec.record_backup('full', 'new-full', now() - interval '2 days 1 hour', now() - interval '2 days') > 0 AS recorded;
SELECT finsec.record_backup('incremental', 'new-incr', now() - interval '3 hours', now() - interval '2 hours') > 0 AS recorded;
-- A fresh full backup, no recent restore test: level 1, level 2 misses the test.
SET SESSION AUTHORIZATION regress_ct_aud;
SELECT level, meets, missing FROM finsec.dr_level() WHERE level <= 2 ORDER BY level;
SET SESSION AUTHORIZATION regress_ct_oper;
SELECT finsec.record_backup('full', 'restored-full', now() - interval '11 days 1 hour', now() - interval '11 days') > 0 AS recorded;
SELECT finsec.record_restore_test(now() - interval '10 days 1 hour', now() - interval '10 days', true, 'restored-full',
								  target => '/restore/test') > 0 AS recorded;
SELECT finsec.record_switchover_drill('node2', 'node1', now() - interval '20 days', now() - interval '20 days' + interval '75 seconds', true) > 0 AS recorded;
-- A failed restore test newer than the success does not hide it, and is counted.
SELECT finsec.record_restore_test(now() - interval '1 day 1 hour', now() - interval '1 day', false) > 0 AS recorded;
SET SESSION AUTHORIZATION regress_ct_aud;
SELECT status, evidence -> 'problems' AS problems FROM finsec._check_backup_schedule('{}');
SELECT status, evidence ->> 'rto_seconds' AS rto, evidence ->> 'failures_within_days' AS failures FROM finsec._check_restore_tested('{}');
SELECT status, evidence ->> 'rto_seconds' AS rto FROM finsec._check_switchover_drilled('{}');
-- ... and still fail a rule stricter than the fresh rows.
SELECT status FROM finsec._check_backup_schedule('{"full_days": 1}');
SELECT status FROM finsec._check_restore_tested('{"days": 5}');

-- 6. Server settings on the regression cluster (fsync off, no checksums):
-- each fails, naming the setting and its value.
SELECT 'fsync' AS c, status, evidence ->> 'value' AS value FROM finsec._check_fsync('{}')
UNION ALL SELECT 'full_page_writes', status, evidence ->> 'value' FROM finsec._check_full_page_writes('{}')
UNION ALL SELECT 'data_checksums', status, evidence ->> 'value' FROM finsec._check_data_checksums('{}')
UNION ALL SELECT 'synchronous_commit', status, evidence ->> 'value' FROM finsec._check_synchronous_commit('{}');
-- A SET in the caller's session neither breaks nor fixes the server's value.
SET synchronous_commit = off;
SELECT status, evidence ->> 'value' AS value FROM finsec._check_synchronous_commit('{}');
RESET synchronous_commit;
RESET SESSION AUTHORIZATION;
-- A role that commits without waiting: the check fails, naming it.
CREATE ROLE "regress_ct_""fast" LOGIN;
ALTER ROLE "regress_ct_""fast" SET synchronous_commit = off;
ALTER DATABASE regress_cont SET synchronous_commit = local;
SET SESSION AUTHORIZATION regress_ct_aud;
SELECT status, evidence -> 'overrides_not_allowed' AS overrides FROM finsec._check_synchronous_commit('{}');
RESET SESSION AUTHORIZATION;
ALTER ROLE "regress_ct_""fast" RESET synchronous_commit;
ALTER DATABASE regress_cont RESET synchronous_commit;
SELECT status FROM finsec._check_synchronous_commit('{}');
-- full_page_writes off: fails.
ALTER SYSTEM SET full_page_writes = off;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT status, evidence ->> 'value' AS value FROM finsec._check_full_page_writes('{}');
ALTER SYSTEM RESET full_page_writes;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT status FROM finsec._check_full_page_writes('{}');

-- 7. No archiving and no standby on this cluster.
SET SESSION AUTHORIZATION regress_ct_aud;
SELECT status, evidence -> 'problems' AS problems, evidence ->> 'archive_mode' AS archive_mode
  FROM finsec._check_wal_archiving('{}');
SELECT status, evidence ->> 'streaming_standbys' AS standbys, evidence ->> 'min' AS min FROM finsec._check_standby_present('{}');
SELECT status, evidence ->> 'note' AS note FROM finsec._check_realtime_offsite_backup('{}');

-- 8. dr_level on a single node without archiving: a recent full backup and
-- a restore test give level 2; level 3 misses a bounded recovery point
-- (the backups over the last 7 days lie up to 7 days apart: not daily).
SELECT level, meets, rto_target, rpo_target, availability, missing FROM finsec.dr_level() ORDER BY level;
SELECT level, evidence ->> 'rpo_by' AS rpo_by, evidence ->> 'rto_by' AS rto_by, evidence ->> 'rto_seconds' AS rto
  FROM finsec.dr_level() WHERE level <= 3 ORDER BY level;
SELECT status, evidence -> 'inferred_level' AS inferred, evidence -> 'target_level' AS target,
	   evidence ->> 'missing_for_target' AS missing
  FROM finsec._check_dr_level('{}');
-- A target the configuration meets passes.
SELECT status, evidence -> 'inferred_level' AS inferred FROM finsec._check_dr_level('{"target": 2}');
RESET SESSION AUTHORIZATION;

-- 9. cannot_verify, never pass, for a caller who cannot see: a role
-- granted the checks but neither the register nor the replication facts.
GRANT USAGE ON SCHEMA finsec TO regress_ct_plain;
GRANT EXECUTE ON FUNCTION finsec._check_backup_schedule(jsonb), finsec._check_restore_tested(jsonb),
	finsec._check_switchover_drilled(jsonb), finsec._check_standby_present(jsonb),
	finsec._check_realtime_offsite_backup(jsonb), finsec._check_dr_level(jsonb),
	finsec._continuity_cannot_read(text), finsec._continuity_last_success(text, numeric),
	finsec._continuity_facts_or_null() TO regress_ct_plain;
SET SESSION AUTHORIZATION regress_ct_plain;
SELECT 'backup_schedule' AS c, status, evidence FROM finsec._check_backup_schedule('{}')
UNION ALL SELECT 'restore_tested', status, evidence FROM finsec._check_restore_tested('{}')
UNION ALL SELECT 'switchover_drilled', status, evidence FROM finsec._check_switchover_drilled('{}')
UNION ALL SELECT 'standby_present', status, evidence FROM finsec._check_standby_present('{}')
UNION ALL SELECT 'realtime_offsite_backup', status, evidence FROM finsec._check_realtime_offsite_backup('{}')
UNION ALL SELECT 'dr_level', status, evidence FROM finsec._check_dr_level('{}');
-- The facts function itself is not for it.
SELECT pg_temp.try($$SELECT finsec._continuity_facts()$$) AS plain_facts;
RESET SESSION AUTHORIZATION;

-- 10. NULL and odd args: defaults apply; the checks are registered.
SELECT status FROM finsec._check_backup_schedule(NULL);
SELECT status FROM finsec._check_restore_tested(NULL);
SELECT check_name, function, title_en FROM finsec.compliance_check_def
 WHERE check_name IN ('fsync', 'full_page_writes', 'data_checksums', 'synchronous_commit', 'wal_archiving',
					  'backup_schedule', 'restore_tested', 'switchover_drilled', 'standby_present',
					  'realtime_offsite_backup', 'dr_level')
 ORDER BY 1;
-- Each clause's checks through finsec.compliance_check(), as the auditor,
-- with the clause's own numbers (7.2 g raises the target to level 3).
SELECT cc.clause_id, cc.check_name, cc.args FROM finsec.clause_check cc
  JOIN finsec.compliance_check_def d USING (check_name)
 WHERE d.function::text LIKE 'finsec.\_check\_%' AND cc.check_name IN ('fsync', 'full_page_writes', 'data_checksums',
		'synchronous_commit', 'wal_archiving', 'backup_schedule', 'restore_tested', 'switchover_drilled',
		'standby_present', 'realtime_offsite_backup', 'dr_level')
 ORDER BY 1, 2;
SET SESSION AUTHORIZATION regress_ct_aud;
SELECT clause_id, check_name, status, evidence -> 'target_level' AS target
  FROM finsec.compliance_check(lang => 'en')
 WHERE check_name IN ('fsync', 'full_page_writes', 'data_checksums', 'synchronous_commit', 'wal_archiving',
					  'backup_schedule', 'restore_tested', 'switchover_drilled', 'standby_present',
					  'realtime_offsite_backup', 'dr_level')
 ORDER BY 1, 2;
RESET SESSION AUTHORIZATION;
-- Every function of this part runs as its caller except the recorders and
-- the facts function, which pin search_path.
SELECT p.proname, p.prosecdef, p.proconfig FROM pg_proc p
 WHERE p.pronamespace = 'finsec'::regnamespace
   AND (p.proname IN ('record_backup', 'record_restore_test', 'record_switchover_drill', '_continuity_facts', 'dr_level', '_dr_facts')
		OR p.proname IN ('_check_fsync', '_check_full_page_writes', '_check_data_checksums', '_check_synchronous_commit',
						 '_check_wal_archiving', '_check_backup_schedule', '_check_restore_tested',
						 '_check_switchover_drilled', '_check_standby_present', '_check_realtime_offsite_backup',
						 '_check_dr_level'))
 ORDER BY 1;

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_cont;
DROP ROLE regress_ct_oper, regress_ct_aud, regress_ct_adm, regress_ct_plain, regress_ct_backup, "regress_ct_""fast";
