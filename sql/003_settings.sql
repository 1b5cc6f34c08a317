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
