--
-- 112_monitor_calendar: the working-day calendar of large-value reports
-- (finsec.working_day, is_working_day, working_days_after): the shipped
-- 2025 and 2026 arrangements, a holiday week, make-up working days,
-- operators maintaining it (audited), privileges.
--
SET client_min_messages = warning;
CREATE ROLE regress_cal_op LOGIN IN ROLE finsec_operator;
CREATE ROLE regress_cal_aud LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress_cal_app LOGIN IN ROLE finsec_app;
RESET client_min_messages;
\set VERBOSITY sqlstate

-- The shipped rows are exceptions only: holidays on weekdays, make-up days on weekends.
SELECT extract(year FROM day) AS year, working, count(*),
	   bool_and(CASE WHEN working THEN extract(isodow FROM day) >= 6 ELSE extract(isodow FROM day) < 6 END) AS exceptions_only
  FROM finsec.working_day GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) FILTER (WHERE recorded_by = 'finsec') AS shipped, count(*) FROM finsec.working_day;

-- National Day 2026: Thursday 1 to Wednesday 7 October off, Sunday 20
-- September and Saturday 10 October make-up working days.
SELECT to_char(d, 'YYYY-MM-DD Dy') AS day, finsec.is_working_day(d::date) AS working
  FROM generate_series('2026-09-19'::date, '2026-10-12'::date, '1 day') d
 WHERE d::date IN ('2026-09-19', '2026-09-20', '2026-09-24', '2026-09-25', '2026-09-26')
	OR d::date >= '2026-09-30'
 ORDER BY d;
-- Spring Festival 2026 (15 to 23 February; Saturdays 14 and 28 worked); 2025 for comparison.
SELECT d AS day, finsec.is_working_day(d) FROM unnest('{2026-02-13,2026-02-14,2026-02-16,2026-02-23,2026-02-24,2026-02-28,2026-03-01,2025-01-26,2025-02-04,2025-02-08}'::date[]) d;
-- An ordinary week, and a year without rows (2030): Monday to Friday.
SELECT d AS day, finsec.is_working_day(d) FROM unnest('{2030-10-01,2030-10-05,2030-10-06,2030-10-07}'::date[]) d;

-- The n-th working day after a day, across the holidays.
SELECT d AS day, n, finsec.working_days_after(d, n) AS due
  FROM (VALUES ('2026-09-30'::date, 5),     -- Oct 8, 9, 10 (Sat, worked), 12, 13
			   ('2026-09-30', 1),           -- Oct 8
			   ('2026-09-18', 1),           -- Fri -> Sun 20 Sep (worked)
			   ('2026-09-19', 5),           -- Sun 20, Mon 21 .. Thu 24 (Fri 25 is 中秋节)
			   ('2026-02-13', 5),           -- Sat 14 (worked), Tue 24 .. Fri 27
			   ('2026-02-27', 1),           -- Sat 28 (worked)
			   ('2026-12-31', 5),           -- 2027 not shipped: Mon to Fri
			   ('2026-10-03', 0),           -- n = 0: the day itself
			   ('2025-09-26', 5)) v(d, n)   -- Sun 28 Sep 2025 (worked), Mon 29, Tue 30, Thu 9 Oct, Fri 10
 ORDER BY 1, 2;
-- bad arguments
SELECT finsec.working_days_after('2026-01-01', -1);
SELECT finsec.working_days_after('2026-01-01', 4000);
SELECT finsec.working_days_after(NULL, 5);
SELECT finsec.working_days_after('2026-01-01', NULL);
SELECT finsec.is_working_day(NULL);

-- Operators maintain the calendar: loading next year's notice is plain DML,
-- audited once per statement; recorded_by is the login role, whatever is given.
SET SESSION AUTHORIZATION regress_cal_op;
INSERT INTO finsec.working_day (day, working, name, recorded_by) VALUES
	('2027-01-01', false, '元旦 (test)', 'someone_else'),
	('2027-02-06', true, '春节调休上班 (test)', 'someone_else');
UPDATE finsec.working_day SET name = '元旦' WHERE day = '2027-01-01';
DELETE FROM finsec.working_day WHERE day = '2027-02-06';
SELECT day, working, name, recorded_by FROM finsec.working_day WHERE day >= '2027-01-01' ORDER BY day;
SELECT finsec.working_days_after('2026-12-31', 1) AS after_new_year_2027;
-- a day needs a name
INSERT INTO finsec.working_day (day, working, name) VALUES ('2027-01-02', true, ' ');
-- the shipped days cannot be changed or deleted (a restore would lose the change)
UPDATE finsec.working_day SET working = true WHERE day = '2026-10-05';
DELETE FROM finsec.working_day WHERE day = '2026-10-05';
RESET SESSION AUTHORIZATION;
SELECT action, object, description, detail->'count' AS count, detail->'days' AS days, session_user_name
  FROM finsec.audit WHERE event_type = 'monitor.working_day' ORDER BY finsec_seq;

-- Auditors read, cannot change; the application role sees nothing.
SET SESSION AUTHORIZATION regress_cal_aud;
SELECT count(*) > 0 AS auditor_reads FROM finsec.working_day;
SELECT finsec.is_working_day('2026-10-01');
DELETE FROM finsec.working_day WHERE day = '2026-10-01';
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cal_app;
SELECT count(*) FROM finsec.working_day;
SELECT finsec.is_working_day('2026-10-01');
SELECT finsec.working_days_after('2026-10-01', 5);
RESET SESSION AUTHORIZATION;

DELETE FROM finsec.working_day WHERE day >= '2027-01-01';
DROP ROLE regress_cal_op, regress_cal_aud, regress_cal_app;
