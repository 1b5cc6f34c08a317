--
-- 003_settings: every finsec.* setting, its context, and refusal of bad
-- values.  A setting added without a row here fails this test.
--
SELECT name, context, vartype, unit, boot_val, enumvals, short_desc
  FROM pg_settings WHERE name LIKE 'finsec.%' ORDER BY name;

-- sighup settings cannot be changed in a session...
SET finsec.hash_algorithm = 'sm3';
-- ...and ALTER SYSTEM rejects values outside the list before writing them.
ALTER SYSTEM SET finsec.hash_algorithm = 'md5';
SELECT count(*) AS written FROM pg_file_settings WHERE name LIKE 'finsec.%';

-- The finsec prefix is reserved: a misspelt setting is an error, not a
-- silently kept placeholder.
SET finsec.hash_algorthm = 'sm3';
ALTER SYSTEM SET finsec.no_such_setting = 'on';

-- Retention settings take units, in minutes (GUC_UNIT_MIN).
-- finsec.risk_log_retention counted days before 0.9: it is 0 or a whole
-- number of days, so an old unitless value (days) is refused, not read as
-- minutes, and neither is part of a day.
ALTER SYSTEM SET finsec.risk_log_retention = 30;
ALTER SYSTEM SET finsec.risk_log_retention = 1825;
ALTER SYSTEM SET finsec.risk_log_retention = '36h';
ALTER SYSTEM SET finsec.risk_log_retention = '30d';
SELECT setting FROM pg_file_settings WHERE name = 'finsec.risk_log_retention';
ALTER SYSTEM SET finsec.risk_log_retention = 0;
SELECT setting FROM pg_file_settings WHERE name = 'finsec.risk_log_retention';
ALTER SYSTEM RESET finsec.risk_log_retention;
SELECT count(*) AS written FROM pg_file_settings WHERE name = 'finsec.risk_log_retention';
-- The default is unchanged in effect: 180 days.
SELECT name, current_setting(name) AS shown, setting, unit, min_val, max_val
  FROM pg_settings WHERE name LIKE 'finsec.%retention' ORDER BY name;
