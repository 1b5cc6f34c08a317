--
-- 155_compliance_reports: the reports of issue 19 (P1, U4, U11, Q1, C14;
-- docs/compliance.md) on a fixed data set: exact figures of the
-- business, limits, risk and monitor reports, each cross-checked by an
-- independent query; both languages; the period's checks; a caller who
-- cannot read the payments table gets cannot_read, never zeros; the audit
-- and key reports against an independent count of the ledger; the access
-- review; data quality with planted NULLs, bad check digits and orphans.
--
\set VERBOSITY default
SET client_min_messages = warning;
CREATE ROLE regress_rpt_op LOGIN IN ROLE finsec_operator;
CREATE ROLE regress_rpt_auditor LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress_rpt_admin LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_rpt_nobody LOGIN;
CREATE ROLE regress_rpt_dual LOGIN IN ROLE finsec_admin, finsec_auditor;
SET client_min_messages = notice;
SET timezone = 'Asia/Shanghai';
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	hint text;
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
	RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' HINT: ' || nullif(hint, ''), '');
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;

-- The payments table, registered with limits (kind, payment id, reversal
-- of, counterparty) and risk (event time, currency, card).
CREATE TABLE rpt_pay (
	id bigint PRIMARY KEY,
	payer text NOT NULL,
	acct text,
	amount numeric NOT NULL,
	cur text,
	kind text NOT NULL DEFAULT 'payment',
	at timestamptz NOT NULL,
	card text,
	payee_idno text,
	orig bigint
);
SELECT finsec.enable_limits('rpt_pay', customer => 'payer', amount => 'amount', account => 'acct',
	kind => 'kind', counterparty => 'payee_idno', payment_id => 'id', reversal_of => 'orig');
SELECT finsec.enable_risk('rpt_pay', customer => 'payer', amount => 'amount', posted_at => 'at',
	account => 'acct', currency => 'cur', card => 'card');
SELECT * FROM finsec._report_payment_tables() WHERE relid = 'rpt_pay'::regclass;

-- Period [2026-11-01, 2026-11-04) Beijing time: three days.  Rows 7 and 8
-- fall just outside it; A4 and A5 paid before it (not registered in it).
INSERT INTO rpt_pay (id, payer, acct, amount, cur, kind, at, card, payee_idno, orig) VALUES
	(1, 'p1', 'A1', 100.00, 'CNY', 'payment',    '2026-11-01 10:00', '4111111111111111', '11010519491231002X', NULL),
	(2, 'p1', 'A1',  50.50, 'CNY', 'payment',    '2026-11-02 09:00', '4111111111111111', '110105194912310021', NULL),
	(3, 'p2', 'A2', 200,    'USD', 'transfer',   '2026-11-02 23:30', '4111111111111112', NULL, NULL),
	(4, 'p2', 'A2',  30,    NULL,  'withdrawal', '2026-11-03 08:00', NULL, NULL, NULL),
	(5, 'p3', 'A3', 1000,   'CNY', 'settlement', '2026-11-03 12:00', NULL, NULL, NULL),
	(6, 'p1', 'A1',  20,    'CNY', 'refund',     '2026-11-03 13:00', NULL, NULL, 1),
	(7, 'p4', 'A4',   5,    'CNY', 'payment',    '2026-10-31 23:59:59', NULL, NULL, NULL),
	(8, 'p1', 'A1',   7,    'CNY', 'payment',    '2026-11-04 00:00', NULL, NULL, NULL),
	(9, 'p5', 'A5',   1,    'CNY', 'payment',    '2026-10-15 12:00', NULL, NULL, NULL),
	(11, 'p5', 'A5',  1,    'CNY', 'payment',    '2026-11-01 11:00', NULL, NULL, NULL);
-- An orphan refund (its original 999 does not exist), planted past the
-- limits trigger.
SET session_replication_role = replica;
INSERT INTO rpt_pay (id, payer, acct, amount, cur, kind, at, orig) VALUES
	(10, 'p3', 'A3', 3, 'CNY', 'refund', '2026-11-03 14:00', 999);
SET session_replication_role = origin;

-- report_business, in English: every figure's total and daily rows.
SELECT * FROM finsec.report_business('2026-11-01', '2026-11-04', 'en', '{rpt_pay}');
-- The same counts by an independent query over the table.
SELECT CASE WHEN kind IN ('refund', 'reversal') THEN 'refunds' ELSE kind || 's' END AS figure,
	   (at AT TIME ZONE 'Asia/Shanghai')::date AS day, count(*), sum(amount)
  FROM rpt_pay WHERE at >= '2026-11-01' AND at < '2026-11-04' GROUP BY 1, 2 ORDER BY 1, 2;
-- In Chinese (the default language), totals only.
SELECT figure, label, dimension, value, unit FROM finsec.report_business('2026-11-01', '2026-11-04', tables => '{rpt_pay}')
 WHERE day IS NULL;
SET finsec.report_language = 'en';
SELECT label FROM finsec.report_business('2026-11-01', '2026-11-04', tables => '{rpt_pay}') WHERE figure = 'payments' AND day IS NULL;
RESET finsec.report_language;
-- An empty period: totals 0, no daily rows.
SELECT figure, day, dimension, value FROM finsec.report_business('2026-11-01', '2026-11-01', 'en', '{rpt_pay}');

-- The period's checks.
SELECT pg_temp.try($$SELECT * FROM finsec.report_business(NULL, '2026-11-04')$$);
SELECT pg_temp.try($$SELECT * FROM finsec.report_business('2026-11-01', NULL)$$);
SELECT pg_temp.try($$SELECT * FROM finsec.report_business('2026-11-04', '2026-11-01', tables => '{rpt_pay}')$$);
SELECT pg_temp.try($$SELECT * FROM finsec.report_limits('2020-01-01', '2026-01-01')$$);
SELECT pg_temp.try($$SELECT * FROM finsec.report_risk('2026-11-01', '2026-11-04', 'fr')$$);
SELECT pg_temp.try($$SELECT * FROM finsec.report_label('payments', 'zh_TW')$$);
SELECT pg_temp.try($$SELECT * FROM finsec.report_audit('2026-11-01', '2026-11-04', 'en', '18:00', '09:00')$$);
SELECT pg_temp.try($$SELECT * FROM finsec.report_audit('2026-11-01', '2026-11-04', 'en', NULL, '09:00')$$);
SELECT pg_temp.try($$SELECT * FROM finsec.report_data_quality('2026-11-01', '2026-11-04', 'en', 0)$$);
-- Exactly five years is allowed.
SELECT count(*) > 0 FROM finsec.report_limits('2021-11-01', '2026-11-01');

-- An operator without SELECT on rpt_pay: cannot_read, never zeros.
SET ROLE regress_rpt_op;
SELECT * FROM finsec.report_business('2026-11-01', '2026-11-04', 'en', '{rpt_pay}');
RESET ROLE;
-- Granted SELECT, the operator gets the figures.
GRANT SELECT ON rpt_pay TO regress_rpt_op;
SET ROLE regress_rpt_op;
SELECT figure, dimension, value, unit FROM finsec.report_business('2026-11-01', '2026-11-04', 'en', '{rpt_pay}') WHERE day IS NULL;
RESET ROLE;
-- Row-level security on the table: the read is refused, not filtered.
ALTER TABLE rpt_pay ENABLE ROW LEVEL SECURITY;
CREATE POLICY rpt_pay_p1 ON rpt_pay FOR SELECT USING (payer = 'p1');
SET ROLE regress_rpt_op;
SELECT figure, dimension, value, unit FROM finsec.report_business('2026-11-01', '2026-11-04', 'en', '{rpt_pay}') WHERE figure IN ('payments', 'unreadable_table');
RESET ROLE;
GRANT SELECT ON rpt_pay TO regress_rpt_auditor;
SET ROLE regress_rpt_auditor;
SELECT table_name, dimension, measure, detail FROM finsec.report_data_quality('2026-11-01', '2026-11-04', tables => '{rpt_pay}');
RESET ROLE;
REVOKE SELECT ON rpt_pay FROM regress_rpt_auditor;
ALTER TABLE rpt_pay DISABLE ROW LEVEL SECURITY;
DROP POLICY rpt_pay_p1 ON rpt_pay;
REVOKE SELECT ON rpt_pay FROM regress_rpt_op;
-- Only the amount column granted: still cannot_read (it needs the time).
GRANT SELECT (amount) ON rpt_pay TO regress_rpt_op;
SET ROLE regress_rpt_op;
SELECT figure, dimension, value, unit FROM finsec.report_business('2026-11-01', '2026-11-04', 'en', '{rpt_pay}') WHERE figure = 'unreadable_table';
RESET ROLE;
REVOKE SELECT (amount) ON rpt_pay FROM regress_rpt_op;
-- A role outside finsec may not call the reports at all.
SET ROLE regress_rpt_nobody;
SELECT pg_temp.try($$SELECT * FROM finsec.report_business('2026-11-01', '2026-11-04', tables => '{rpt_pay}')$$);
SELECT pg_temp.try($$SELECT * FROM finsec.report_audit('2026-11-01', '2026-11-04')$$);
SELECT pg_temp.try($$SELECT * FROM finsec.report_access_review('2026-11-01', '2026-11-04')$$);
RESET ROLE;
-- The operator may not run the audit report; an administrator may, but
-- cannot read the ledger: cannot_read.
SET ROLE regress_rpt_op;
SELECT pg_temp.try($$SELECT * FROM finsec.report_audit('2026-11-01', '2026-11-04')$$);
RESET ROLE;
SET ROLE regress_rpt_admin;
SELECT figure, dimension, value, unit FROM finsec.report_audit('2026-11-01', '2026-11-04', 'en');
RESET ROLE;

-- report_limits: refusals recorded on fixed days.
INSERT INTO finsec.limit_refusal (refused_at, rule, relation, policy) VALUES
	('2026-11-01 09:00', 'day', 'public.rpt_pay', 'daily_cap'),
	('2026-11-01 10:00', 'day', 'public.rpt_pay', 'daily_cap'),
	('2026-11-03 10:00', 'frozen', 'public.rpt_pay', NULL),
	('2026-11-05 10:00', 'frozen', 'public.rpt_pay', NULL);
SELECT * FROM finsec.report_limits('2026-11-01', '2026-11-04', 'en');
SELECT rule, count(*) FROM finsec.limit_refusal
 WHERE refused_at >= '2026-11-01' AND refused_at < '2026-11-04' GROUP BY 1 ORDER BY 1;

-- report_risk: decisions, cases and list entries on fixed days.
INSERT INTO finsec.risk_decision_log (decision_id, decided_at, decision, score, degraded, rules, shadow_rules,
	rules_truncated, relation, customer) VALUES
	(900001, '2026-11-01 10:00', 'block', 90, false, '{}', '{}', false, 'public.rpt_pay', 'p1'),
	(900002, '2026-11-02 10:00', 'review', 60, false, '{}', '{}', false, 'public.rpt_pay', 'p2'),
	(900003, '2026-11-02 11:00', 'block', 95, true, '{}', '{}', false, 'public.rpt_pay', 'p2'),
	(900004, '2026-11-04 11:00', 'block', 95, false, '{}', '{}', false, 'public.rpt_pay', 'p2');
INSERT INTO finsec.risk_case (decision_id, decided_at, decision, opened_by, opened_at, entities, state, outcome, closed_by, closed_at) VALUES
	(900001, '2026-11-01 10:00', 'block', 'regress', '2026-11-01 10:05', '{}', 'closed', 'false_positive', 'regress', '2026-11-02 10:00'),
	(900003, '2026-11-02 11:00', 'block', 'regress', '2026-11-02 11:05', '{}', 'open', NULL, NULL, NULL);
INSERT INTO finsec.risk_list_entry (color, entity_type, value, added_by, added_at) VALUES
	('black', 'customer', 'p9', 'regress', '2026-11-02 12:00');
SELECT * FROM finsec.report_risk('2026-11-01', '2026-11-04', 'en');
SELECT decision, count(*) FROM finsec.risk_decision_log
 WHERE decided_at >= '2026-11-01' AND decided_at < '2026-11-04' GROUP BY 1 ORDER BY 1;

-- report_monitor: alerts on fixed days.
INSERT INTO finsec.alert (rule_name, rule_version, kind, entity_type, entity, period, state, severity,
	first_hit_at, last_hit_at, raised_at, outcome, closed_by, closed_at, case_id) VALUES
	('velocity', 1, 'velocity', 'customer', 'p1', '1 day', 'open', 'high', '2026-11-01 10:00', '2026-11-01 10:00', '2026-11-01 10:01', NULL, NULL, NULL, 7),
	('velocity', 1, 'velocity', 'customer', 'p2', '1 day', 'closed', 'high', '2026-11-02 10:00', '2026-11-02 10:00', '2026-11-02 10:01', 'false_positive', 'regress', '2026-11-03 09:00', 7),
	('large_value.cash', 1, 'large_value', 'customer', 'p3', '1 day', 'assigned', 'medium', '2026-11-03 10:00', '2026-11-03 10:00', '2026-11-03 10:01', NULL, NULL, NULL, NULL);
INSERT INTO finsec.alert (rule_name, rule_version, kind, entity_type, entity, period, severity, shadow,
	first_hit_at, last_hit_at, raised_at) VALUES
	('velocity', 2, 'velocity', 'customer', 'p1-shadow', '1 day', 'high', true, '2026-11-01 10:00', '2026-11-01 10:00', '2026-11-01 10:01');
SELECT * FROM finsec.report_monitor('2026-11-01', '2026-11-04', 'zh_CN');

-- report_audit: against an independent count of the ledger over a period
-- that holds this test's own events (now).
CREATE TEMP TABLE p AS SELECT now() - interval '1 hour' AS f, now() + interval '1 hour' AS t;
SELECT finsec.audit_event('regress.report', 'x', 'probe', false, 'a refused probe') IS NOT NULL AS written;
SELECT r.figure, r.dimension IS NULL AS total, r.value = c.n AS agrees
  FROM p, finsec.report_audit(p.f, p.t, 'en') r
  JOIN LATERAL (SELECT count(*) AS n FROM finsec.audit a, p
				 WHERE a.event_time >= p.f AND a.event_time < p.t
				   AND CASE r.figure
						 WHEN 'events' THEN true
						 WHEN 'events_by_user' THEN true
						 WHEN 'login_failures' THEN a.event_type = 'auth.failure'
						 WHEN 'off_hours_events' THEN finsec._report_off_hours(a.event_time, '09:00', '18:00')
						 WHEN 'events_failed' THEN NOT a.success
						 WHEN 'events_succeeded' THEN a.success
						 WHEN 'refused_actions' THEN NOT a.success AND a.event_type NOT LIKE 'auth.%'
						 WHEN 'privilege_changes' THEN finsec._report_privilege_event(a.event_type)
						 ELSE NULL END) c ON true
 WHERE r.day IS NULL AND r.dimension IS NULL ORDER BY 1;
SELECT figure, dimension, value FROM finsec.report_audit((SELECT f FROM p), (SELECT t FROM p), 'en')
 WHERE dimension = 'regress.report';
-- Off-hours: a working day (Wednesday 2026-12-02) at 08:59 and 18:00 is
-- off hours, 09:00 and 17:59 is not; a Saturday always is; the calendar
-- overrides the weekday.
SELECT finsec._report_off_hours('2026-12-02 08:59+08', '09:00', '18:00'),
	   finsec._report_off_hours('2026-12-02 09:00+08', '09:00', '18:00'),
	   finsec._report_off_hours('2026-12-02 17:59+08', '09:00', '18:00'),
	   finsec._report_off_hours('2026-12-02 18:00+08', '09:00', '18:00'),
	   finsec._report_off_hours('2026-12-05 10:00+08', '09:00', '18:00');

-- The ledger records its analyses (audit.analysis); the check
-- audit_analysis passes once the ledger was analysed over a month within
-- the last month.  The analyses above covered two hours: still fail.
SELECT status, evidence - 'last_analysis_at' - 'analysed_by' - 'period_from' - 'period_to' AS evidence
  FROM finsec._check_audit_analysis('{}');
SELECT count(*) AS recorded FROM finsec.audit, p WHERE event_type = 'audit.analysis' AND event_time >= p.f;
-- An administrator's report_audit reads nothing and records nothing; it
-- cannot record an analysis directly either, and its check says
-- cannot_verify.
SET ROLE regress_rpt_admin;
SELECT count(*) FROM finsec.report_audit(now() - interval '30 days', now(), 'en');
SELECT pg_temp.try($$SELECT finsec._report_record_analysis(now() - interval '30 days', now())$$);
SELECT * FROM finsec._check_audit_analysis('{}');
RESET ROLE;
SELECT count(*) AS recorded FROM finsec.audit, p WHERE event_type = 'audit.analysis' AND event_time >= p.f;
-- The auditor analyses the last 30 days: recorded, and the check passes.
SET ROLE regress_rpt_auditor;
SELECT count(*) > 0 FROM finsec.report_audit(now() - interval '30 days', now(), 'en');
SELECT status, evidence ->> 'analysed_by' AS analysed_by, evidence ->> 'min_period_days' AS min_period
  FROM finsec._check_audit_analysis('{}');
RESET ROLE;
SELECT db_user, action, success, detail ? 'events' AS counted FROM finsec.audit
 WHERE event_type = 'audit.analysis' ORDER BY finsec_seq DESC LIMIT 1;
-- The same analysis is too old for a zero-day horizon, and too short for a
-- 31-day period; bad arguments are cannot_verify; a NULL period is refused.
SELECT (finsec._check_audit_analysis('{"max_age_days": -1}')).status,
	   (finsec._check_audit_analysis('{"min_period_days": 31}')).status,
	   (finsec._check_audit_analysis('{"max_age_days": "soon"}')).status,
	   (finsec._check_audit_analysis(NULL)).status;
SELECT pg_temp.try($$SELECT finsec._report_record_analysis(NULL, now())$$);
SELECT check_name, function, title_en FROM finsec.compliance_check_def WHERE check_name = 'audit_analysis';
-- mapped onto the clauses of the catalog (monthly analysis, 004 7.5.7 f and 7.5.5 b)
SELECT clause_id, args FROM finsec.clause_check WHERE check_name = 'audit_analysis' ORDER BY 1;

-- report_keys and report_credit: every figure present, 0 where nothing happened.
SELECT figure, value, unit FROM finsec.report_keys('2026-11-01', '2026-11-04', 'en') WHERE day IS NULL AND dimension IS NULL;
SELECT figure, value, unit FROM finsec.report_credit('2026-11-01', '2026-11-04', 'en') WHERE day IS NULL AND dimension IS NULL;
-- The administrator cannot read the ledger: the key figures say cannot_read.
SET ROLE regress_rpt_admin;
SELECT figure, dimension, value, unit FROM finsec.report_keys('2026-11-01', '2026-11-04', 'en');
RESET ROLE;

-- report_access_review: one row per login role, with findings.
SELECT role, duties, superuser, valid_until, locked, suspended, findings
  FROM finsec.report_access_review('2026-11-01', '2026-11-04', 'en')
 WHERE role::text LIKE 'regress_rpt%' ORDER BY role;
-- conflicting duties only where two conflicting finsec roles are held
SELECT role FROM finsec.report_access_review('2026-11-01', '2026-11-04')
 WHERE 'conflicting_duties' = ANY (findings) AND role::text LIKE 'regress_rpt%';
-- Last logins (finsec.role_last_login): one 100 days ago is inactive
-- (finsec.compliance_inactive_after, 90 days), one yesterday is not.
INSERT INTO finsec.role_login (role, role_oid, last_login_at)
SELECT r.rolname, r.oid, now() - x.ago
  FROM pg_roles r JOIN (VALUES ('regress_rpt_op', interval '100 days'), ('regress_rpt_auditor', interval '1 day')) x(n, ago)
	ON r.rolname = x.n;
SELECT role, last_login_at < now() - interval '99 days' AS old_login, findings
  FROM finsec.report_access_review('2026-11-01', '2026-11-04', 'en')
 WHERE role IN ('regress_rpt_op', 'regress_rpt_auditor') ORDER BY role;
DELETE FROM finsec.role_login WHERE role IN ('regress_rpt_op', 'regress_rpt_auditor');
-- A privilege change naming a role (written here by the superuser, as
-- finsec writes role.* events) counts for that role only, in the period.
SELECT finsec.audit_event('role.profile', 'regress_rpt_op', 'set', true, 'probe') IS NOT NULL AS written;
SELECT role, privilege_changes, 'privilege_changed' = ANY (findings) AS changed
  FROM p, finsec.report_access_review(p.f, p.t, 'en')
 WHERE role IN ('regress_rpt_op', 'regress_rpt_auditor') ORDER BY role;
SELECT role, privilege_changes FROM finsec.report_access_review('2026-11-01', '2026-11-04', 'en')
 WHERE role = 'regress_rpt_op';
-- A superuser login role is a finding.
ALTER ROLE regress_rpt_nobody SUPERUSER;
SELECT role, superuser, findings FROM finsec.report_access_review('2026-11-01', '2026-11-04', 'en')
 WHERE role = 'regress_rpt_nobody';
ALTER ROLE regress_rpt_nobody NOSUPERUSER;
SET ROLE regress_rpt_op;
SELECT pg_temp.try($$SELECT * FROM finsec.report_access_review('2026-11-01', '2026-11-04')$$);
RESET ROLE;
SET ROLE regress_rpt_admin;
SELECT count(*) > 0 AS rows, bool_and('cannot_read_audit' = ANY (findings)) AS says_cannot_read_audit
  FROM finsec.report_access_review('2026-11-01', '2026-11-04');
RESET ROLE;

-- report_data_quality: planted NULL currency (row 4), bad Luhn card
-- (row 3), bad resident id check character (row 2), orphan refund (row 10).
SELECT * FROM finsec.report_data_quality('2026-11-01', '2026-11-04', 'en', tables => '{rpt_pay}');
-- bounded: one row read per measure
SELECT dimension, measure, checked, detail ->> 'bounded' AS bounded
  FROM finsec.report_data_quality('2026-11-01', '2026-11-04', 'en', 1, '{rpt_pay}') WHERE dimension = 'completeness';
-- A typed identifier column is valid by construction.
CREATE TABLE rpt_pay2 (id bigint PRIMARY KEY, payer finsec.cn_resident_id NOT NULL, amount finsec.money NOT NULL,
	at timestamptz NOT NULL);
SELECT finsec.enable_risk('rpt_pay2', customer => 'payer', amount => 'amount', posted_at => 'at');
INSERT INTO rpt_pay2 VALUES (1, '11010519491231002X', 'CNY 12.34', '2026-11-02 10:00'),
	(2, '11010519491231002X', 'CNY 0.66', '2026-11-02 11:00'), (3, '11010519491231002X', 'JPY 100', '2026-11-03 11:00');
SELECT table_name, dimension, measure, failing, detail FROM finsec.report_data_quality('2026-11-01', '2026-11-04', 'en', tables => '{rpt_pay2}')
 WHERE table_name = 'public.rpt_pay2' AND dimension = 'accuracy';
-- finsec.money amounts are summed exactly per currency, across both tables
SELECT figure, dimension, value FROM finsec.report_business('2026-11-01', '2026-11-04', 'en', '{rpt_pay,rpt_pay2}')
 WHERE figure IN ('payments', 'payments_amount') AND day IS NULL;

-- Hostile names: a table and columns with quotes and markup are read
-- through quote_ident and reported quoted.
CREATE TABLE "rpt <script>""pay" ("id""x" bigint PRIMARY KEY, "pay'er" text NOT NULL, "amt" numeric NOT NULL,
	"at<b>" timestamptz NOT NULL);
SELECT finsec.enable_risk('"rpt <script>""pay"', customer => 'pay''er', amount => 'amt', posted_at => 'at<b>');
INSERT INTO "rpt <script>""pay" VALUES (1, 'x', 5, '2026-11-02 10:00');
SELECT figure, dimension, value FROM finsec.report_business('2026-11-01', '2026-11-04', 'en', ARRAY['rpt_pay', 'rpt_pay2', '"rpt <script>""pay"']::regclass[])
 WHERE figure IN ('payments', 'payments_amount') AND day IS NULL;
SELECT table_name, dimension, measure, checked, failing FROM finsec.report_data_quality('2026-11-01', '2026-11-04', 'en', tables => ARRAY['"rpt <script>""pay"']::regclass[])
 WHERE table_name LIKE '%script%';

-- A table owner plants functions and an operator the reports might pick
-- up by name (lower(text), = on bigint, is_valid_bank_card): the reports
-- pin their search path, so none of them runs.
CREATE FUNCTION public.lower(text) RETURNS text LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'planted lower() ran'; END$$;
CREATE FUNCTION public.planted_eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'planted = ran'; END$$;
CREATE OPERATOR public.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.planted_eq);
CREATE FUNCTION public.is_valid_bank_card(text) RETURNS boolean LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'planted is_valid_bank_card ran'; END$$;
SET search_path = public, pg_catalog;
SELECT figure, value FROM finsec.report_business('2026-11-01', '2026-11-04', 'en', '{rpt_pay}') WHERE figure = 'refunds' AND day IS NULL;
SELECT measure, failing FROM finsec.report_data_quality('2026-11-01', '2026-11-04', 'en', tables => '{rpt_pay}')
 WHERE table_name = 'public.rpt_pay' AND dimension IN ('accuracy', 'consistency');
RESET search_path;
DROP OPERATOR public.= (bigint, bigint);
DROP FUNCTION public.planted_eq(bigint, bigint), public.lower(text), public.is_valid_bank_card(text);

-- Without tables, every registered table is reported (this database may
-- hold other tests' tables too): at least the payments above.  A table in
-- tables that is not registered is cannot_read, not silently left out.
SELECT coalesce(a.value >= b.value, a.unit = 'cannot_read') AS includes_rpt_pay
  FROM finsec.report_business('2026-11-01', '2026-11-04', 'en') a,
	   finsec.report_business('2026-11-01', '2026-11-04', 'en', '{rpt_pay}') b
 WHERE a.figure = 'payments' AND b.figure = 'payments' AND a.day IS NULL AND b.day IS NULL;
SELECT figure, dimension, value, unit FROM finsec.report_business('2026-11-01', '2026-11-04', 'en', '{rpt_pay,pg_class}')
 WHERE figure IN ('payments', 'unreadable_table');
SELECT table_name, dimension, measure, detail ->> 'reason' FROM finsec.report_data_quality('2026-11-01', '2026-11-04', 'en', tables => '{pg_class}');

-- NULL arguments: lang NULL means the setting; NULL bounds are refused.
SELECT pg_temp.try($$SELECT * FROM finsec.report_access_review(NULL, NULL)$$);
SELECT pg_temp.try($$SELECT * FROM finsec.report_data_quality(NULL, NULL)$$);
SELECT pg_temp.try($$SELECT * FROM finsec.report_data_quality('2026-11-01', '2026-11-04', NULL, NULL)$$);
SELECT finsec.report_label(NULL, 'en'), finsec.report_label('no_such_figure', 'en');

-- Clean up.
SELECT finsec.disable_risk('"rpt <script>""pay"');
SELECT finsec.disable_risk('rpt_pay2');
SELECT finsec.disable_risk('rpt_pay');
SELECT finsec.disable_limits('rpt_pay');
DROP TABLE rpt_pay, rpt_pay2, "rpt <script>""pay";
SET client_min_messages = warning;
DROP ROLE regress_rpt_op, regress_rpt_auditor, regress_rpt_admin, regress_rpt_nobody, regress_rpt_dual;
