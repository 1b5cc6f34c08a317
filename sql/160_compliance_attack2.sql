--
-- 160_compliance_attack2: second attack pass on issue 19 (migration 1.3
-- sections 3 to 7): the SECURITY DEFINER fact functions, reports reading
-- a table owner's tables, the backup register, the printable report and
-- report periods.  Each attack that found a hole is followed by what the
-- fix makes of it; the others stay as proof that they hold.
--
SET client_min_messages = warning;
CREATE ROLE regress_cb_aud LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress_cb_op LOGIN IN ROLE finsec_operator;
CREATE ROLE regress_cb_low LOGIN PASSWORD 'Xq7#vLp2$Rz9!mWk';
CREATE ROLE "regress_cb_</style><svg/onload=alert(1)>" LOGIN PASSWORD 'Jt4&nBw8%Hs6^cYe';
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

-- 1. The SECURITY DEFINER functions of finsec that 1.3 added to the
-- compliance self-check and the register: none executable by PUBLIC or a
-- role outside finsec's, each with its search_path pinned.
SELECT p.oid::regprocedure AS definer_function,
	   has_function_privilege('regress_cb_low', p.oid, 'EXECUTE') AS low_may_execute,
	   has_function_privilege('regress_cb_aud', p.oid, 'EXECUTE') AS auditor_may_execute,
	   has_function_privilege('regress_cb_op', p.oid, 'EXECUTE') AS operator_may_execute,
	   coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false) AS path_pinned
  FROM pg_proc p
 WHERE p.prosecdef AND p.pronamespace = 'finsec'::regnamespace
   AND p.proname IN ('compliance_settings', 'compliance_hba_rules', 'compliance_role_verifiers',
					 '_continuity_facts', 'record_backup', 'record_restore_test', 'record_switchover_drill')
 ORDER BY 1::text;
-- Held: the verifier kind, never the verifier (no hash nor password in any
-- column), for the auditor.
SET ROLE regress_cb_aud;
SELECT role, verifier FROM finsec.compliance_role_verifiers() WHERE role LIKE 'regress\_cb\_%' ORDER BY 1;
SELECT count(*) AS rows_with_a_secret
  FROM finsec.compliance_role_verifiers() v
 WHERE v::text ~ '(SCRAM-SHA-256\$|md5[0-9a-f]{32}|Xq7#|Jt4&)';
-- Held: the replication facts hold no connection string (no
-- primary_conninfo, no password) and the settings no secret setting.
SELECT finsec._continuity_facts()::text ~* '(conninfo|password|user=)' AS facts_leak;
SELECT string_agg(name, ',' ORDER BY name) AS settings FROM finsec.compliance_settings();
RESET ROLE;
SET ROLE regress_cb_low;
SELECT pg_temp.try('SELECT finsec.compliance_role_verifiers()') AS low_verifiers;
SELECT pg_temp.try('SELECT finsec._continuity_facts()') AS low_facts;
SELECT pg_temp.try($$SELECT finsec.record_backup('full', 'forged', now() - interval '1 hour', now())$$) AS low_records_backup;
RESET ROLE;

-- 2. HOLE (fixed): a registered payments table that is partitioned is read
-- with its partitions, and a partition may be a foreign table: the report
-- ran its foreign-data wrapper (e.g. postgres_fdw with a PUBLIC user
-- mapping, connecting as the superuser or auditor who runs the report) -
-- here a wrapper without handler shows the read.  Now the table is
-- cannot_read, with the reason.
CREATE TABLE regress_cb_pay (id bigint, payer text NOT NULL, acct text, amount numeric NOT NULL, cur text,
							 kind text, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE regress_cb_pay_1 PARTITION OF regress_cb_pay FOR VALUES FROM ('2026-01-01') TO ('2026-06-01');
SELECT finsec.enable_limits('regress_cb_pay', customer => 'payer', amount => 'amount', account => 'acct', kind => 'kind') IS NULL AS limits;
SELECT finsec.enable_risk('regress_cb_pay', customer => 'payer', amount => 'amount', posted_at => 'at',
						  account => 'acct', currency => 'cur') IS NULL AS risk;
INSERT INTO regress_cb_pay VALUES (1, 'p1', 'A1', 10, 'CNY', 'payment', '2026-05-02');
-- before the foreign partition: a figure
SELECT figure, value, unit FROM finsec.report_business('2026-05-01', '2026-07-01', 'en', ARRAY['regress_cb_pay'::regclass])
 WHERE day IS NULL AND figure = 'payments';
CREATE FOREIGN DATA WRAPPER regress_cb_nohandler;
CREATE SERVER regress_cb_srv FOREIGN DATA WRAPPER regress_cb_nohandler;
CREATE FOREIGN TABLE regress_cb_pay_f PARTITION OF regress_cb_pay FOR VALUES FROM ('2026-06-01') TO ('2027-01-01')
	SERVER regress_cb_srv;
SELECT figure, dimension, value, unit, label
  FROM finsec.report_business('2026-05-01', '2026-07-01', 'en', ARRAY['regress_cb_pay'::regclass])
 WHERE day IS NULL AND figure IN ('payments', 'unreadable_table');
SELECT DISTINCT measure, detail
  FROM finsec.report_data_quality('2026-05-01', '2026-07-01', 'en', tables => ARRAY['regress_cb_pay'::regclass])
 WHERE measure = 'cannot_read';
DROP FOREIGN TABLE regress_cb_pay_f;
SELECT figure, value, unit FROM finsec.report_business('2026-05-01', '2026-07-01', 'en', ARRAY['regress_cb_pay'::regclass])
 WHERE day IS NULL AND figure = 'payments';

-- Held: a registered name that is a view (or a view named like a finsec
-- table) is not read: not_a_table.
CREATE TABLE regress_cb_pay2 (payer text NOT NULL, amount numeric NOT NULL, at timestamptz NOT NULL);
SELECT finsec.enable_limits('regress_cb_pay2', customer => 'payer', amount => 'amount') IS NULL AS limits;
SELECT finsec.enable_risk('regress_cb_pay2', customer => 'payer', amount => 'amount', posted_at => 'at') IS NULL AS risk;
SELECT finsec._report_unreadable('regress_cb_pay2', ARRAY['at', 'amount'], ARRAY['time', 'number|money']) AS plain_table;
CREATE VIEW "finsec.audit_v" AS SELECT 1 AS x;
SELECT finsec._report_unreadable('"finsec.audit_v"', ARRAY['x'], ARRAY['number']) AS view_named_like_finsec;

-- 3. HOLE (fixed): a backup location's URL password holding '/' or '@'
-- was kept (whole or in part) in the register and the audit ledger.
SELECT x AS location, finsec._redact_location(x) AS recorded
  FROM unnest(ARRAY['s3://AKIA:se/cr@bucket/path', 's3://u:p@ss@host/path', 'postgresql://u:pw@h/db',
					'https://h/p?X-Amz-Signature=abc&x=1', '--repo1-s3-key-secret=abc', 's3://host:9000/bucket']) x;
SELECT finsec.record_backup('full', 'regress-cb-1', now() - interval '2 hours', now() - interval '1 hour',
							location => 's3://AKIA:se/cr@t@bucket/path') > 0 AS recorded;
SELECT location FROM finsec.backup_register WHERE label = 'regress-cb-1';
SELECT count(*) AS ledger_rows_with_the_secret FROM finsec.audit
 WHERE event_type = 'continuity.backup' AND detail::text LIKE '%se/cr%';

-- 4. Held: the register refuses a future, infinite or pre-2000 time (a
-- backup that never finishes cannot keep backup_schedule passing), an
-- update or delete, a NaN recovery time, a forged row or recorder.
SELECT pg_temp.try($$SELECT finsec.record_backup('full', 'x', now() - interval '1 hour', 'infinity')$$) AS infinite_finish;
SELECT pg_temp.try($$SELECT finsec.record_backup('full', 'x', '-infinity', now())$$) AS infinite_start;
SELECT pg_temp.try($$SELECT finsec.record_backup('full', 'x', now(), now() + interval '6 minutes')$$) AS beyond_skew;
SELECT pg_temp.try($$SELECT finsec.record_switchover_drill('a', 'b', now() - interval '1 minute', now(), true, 'NaN')$$) AS nan_rto;
-- HOLE (fixed): an infinite recovery time or point was accepted (numeric
-- has Infinity since PostgreSQL 14), not a number of seconds.
SELECT pg_temp.try($$SELECT finsec.record_restore_test(now() - interval '1 minute', now(), true, rto_seconds => 'Infinity')$$) AS infinite_rto;
SELECT pg_temp.try($$SELECT finsec.record_restore_test(now() - interval '1 minute', now(), true, rpo_seconds => 'Infinity')$$) AS infinite_rpo;
SELECT pg_temp.try($$SELECT finsec.record_switchover_drill('a', 'b', now() - interval '1 minute', now(), true, 'Infinity')$$) AS infinite_drill_rto;
SELECT pg_temp.try($$UPDATE finsec.backup_register SET finished_at = now() WHERE label = 'regress-cb-1'$$) AS backdate;
SET ROLE regress_cb_op;
SELECT pg_temp.try($$UPDATE finsec.backup_register SET success = true$$) AS operator_updates;
SELECT pg_temp.try($$INSERT INTO finsec.backup_register (kind, label, started_at, finished_at, success, recorded_by)
					 VALUES ('full', 'x', now(), now(), true, 'postgres')$$) AS operator_inserts;
-- a failed backup is not a success
SELECT finsec.record_backup('incremental', 'regress-cb-failed', now() - interval '10 minutes', now(), false) > 0 AS recorded;
RESET ROLE;
SELECT (evidence ->> 'last_backup_finished_at')::timestamptz < (evidence ->> 'last_failed_finished_at')::timestamptz AS failed_not_counted,
	   evidence ->> 'last_failed_finished_at' IS NOT NULL AS failure_shown
  FROM finsec._check_backup_schedule('{}');
SELECT recorded_by FROM finsec.backup_register WHERE label = 'regress-cb-failed';

-- 5. Held: the printable report escapes every text that reaches it - a
-- role name, a restore test's target and label, a custom clause's texts
-- and evidence - and carries no script, no external reference.
SELECT finsec.record_restore_test(now() - interval '2 hours', now() - interval '1 hour', true,
	backup_label => '</pre><script>alert(1)</script>',
	target => '<img src=x onerror=alert(1)> url(https://evil.example/x) @import "//evil"; <image href="//e"/> <meta http-equiv="refresh" content="0;url=//e">') > 0 AS recorded;
CREATE TEMP TABLE page AS
SELECT finsec.compliance_report_html(now() - interval '10 days', now(), 'en') AS html;
SELECT length(html) > 1000 AS has_a_page,
	   html ~* '<script' AS script, html ~* '<img' AS img, html ~* '<svg/onload' AS svg_onload,
	   html ~* '<image' AS svg_image, html ~* 'http-equiv="refresh"' AS meta_refresh,
	   html ~* 'url\(' AS css_url, html ~* '@import' AS css_import, html ~* '://' AS any_url,
	   html ~* 'href' AS any_href, html ~* 'onerror=' AS onerror_attr,
	   (SELECT count(*) FROM regexp_matches(html, '</style>', 'g')) AS style_ends,
	   html LIKE '%regress_cb_&lt;/style&gt;&lt;svg/onload=alert(1)&gt;%' AS role_shown_escaped
  FROM page;

-- 6. Held: report periods - infinite, reversed, NULL, beyond 400 days for
-- the page - are refused, not computed.
SELECT pg_temp.try($$SELECT count(*) FROM finsec.report_business('-infinity', now())$$) AS infinite_from;
SELECT pg_temp.try($$SELECT count(*) FROM finsec.report_business(now(), now() - interval '1 day')$$) AS reversed;
SELECT pg_temp.try($$SELECT count(*) FROM finsec.report_business(NULL, now())$$) AS null_from;
SELECT pg_temp.try($$SELECT finsec.compliance_report_html(now() - interval '401 days', now())$$) AS long_page;
SELECT pg_temp.try($$SELECT count(*) FROM finsec.report_business(now() - interval '1 day', now(), '"><script>')$$) AS bad_lang;

-- 7. HOLE (fixed): the monthly analysis of the ledger (audit_analysis)
-- passed on a report_audit of an empty month of 2000; and an auditor's
-- direct call of _report_record_analysis with infinite bounds wrote an
-- event (immutable) that made the check raise from then on.  Now the
-- period must be finite and end within max_age_days before the analysis.
SET ROLE regress_cb_aud;
SELECT count(*) > 0 AS analysed FROM finsec.report_audit('2000-01-01', '2000-02-01', 'en');
SELECT coalesce(evidence ->> 'period_from' LIKE '2000%', false) AS the_2000_month_counted
  FROM finsec._check_audit_analysis('{}');
SELECT pg_temp.try($$SELECT finsec._report_record_analysis('-infinity', 'infinity')$$) AS infinite_analysis;
SELECT pg_temp.try($$SELECT finsec._report_record_analysis(now() - interval '30 days', 'infinity')$$) AS infinite_end;
-- nor can a superuser plant one through audit_event (audit.analysis is
-- finsec's own); the check would skip it
RESET ROLE;
SELECT pg_temp.try($$SELECT finsec.audit_event('audit.analysis', 'finsec.audit', 'report_audit', true, 'regress: an infinite analysis',
						  jsonb_build_object('from', '-infinity'::timestamptz, 'to', 'infinity'::timestamptz, 'events', 0))$$) AS planted;
SET ROLE regress_cb_aud;
SELECT pg_temp.try($$SELECT status FROM finsec._check_audit_analysis('{}')$$) AS check_runs;
-- a month that ends now counts
SELECT count(*) > 0 AS analysed FROM finsec.report_audit(now() - interval '30 days', now(), 'en');
SELECT status FROM finsec._check_audit_analysis('{}');
RESET ROLE;

-- 8. Held: card numbers hidden from the value sampling - in a schema named
-- like finsec's own, a table named like a finsec table, an inheritance
-- child, a partition, a column named innocently, a value with a newline
-- in its table name - are all found (by value: the columns are named
-- "note").
CREATE SCHEMA finsec_x;
CREATE TABLE finsec_x.t (note text);
CREATE TABLE "finsec.audit" (note text);
CREATE TABLE regress_cb_parent (note text);
CREATE TABLE regress_cb_child () INHERITS (regress_cb_parent);
CREATE TABLE regress_cb_parted (note text, k int) PARTITION BY LIST (k);
CREATE TABLE regress_cb_parted_1 PARTITION OF regress_cb_parted FOR VALUES IN (1);
CREATE TABLE "regress_cb_new
line" (note varchar(40));
INSERT INTO finsec_x.t SELECT '4111 1111 1111 1111' FROM generate_series(1, 3);
INSERT INTO "finsec.audit" SELECT '4111111111111111' FROM generate_series(1, 3);
INSERT INTO regress_cb_child SELECT '4111111111111111' FROM generate_series(1, 3);
INSERT INTO regress_cb_parted SELECT '4111-1111-1111-1111', 1 FROM generate_series(1, 3);
INSERT INTO "regress_cb_new
line" SELECT '4111111111111111' FROM generate_series(1, 3);
SELECT status, c ->> 'column' AS found, c ->> 'card_numbers' AS cards
  FROM finsec._check_card_numbers_plain('{}'),
	   LATERAL jsonb_array_elements(evidence -> 'sampled_columns') c
 WHERE c ->> 'column' ~ '^(finsec_x\.t\.|public\."finsec\.audit"\.|public\."?regress_cb_)'
 ORDER BY 2;
DROP TABLE finsec_x.t;
DROP SCHEMA finsec_x;
DROP TABLE "finsec.audit", regress_cb_parent, regress_cb_child, regress_cb_parted, "regress_cb_new
line";

DROP TABLE regress_cb_pay, regress_cb_pay2;
DROP VIEW "finsec.audit_v";
DROP SERVER regress_cb_srv;
DROP FOREIGN DATA WRAPPER regress_cb_nohandler;
SET client_min_messages = warning;
DROP ROLE regress_cb_aud, regress_cb_op, regress_cb_low, "regress_cb_</style><svg/onload=alert(1)>";

-- Held after a fix: a card column in a materialised view is never read (a
-- refresh would run its owner's query; a foreign table its wrapper): it
-- counts as not sampled, so the check cannot pass silently.
CREATE MATERIALIZED VIEW regress_cb_cards_mv AS SELECT '4111111111111111'::text AS x FROM generate_series(1, 5);
SELECT (evidence ->> 'views_and_foreign_tables_not_read')::int >= 1 AS counted,
	   (evidence ->> 'tables_not_sampled')::int >= 1 AS not_sampled, status <> 'pass' AS not_pass
  FROM finsec._check_card_numbers_plain('{}');
DROP MATERIALIZED VIEW regress_cb_cards_mv;
