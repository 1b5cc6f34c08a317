--
-- 020_passwords: password rules, expiry and pre-hashed passwords at
-- CREATE/ALTER ROLE (docs/auth.md; A1, A1b, A1c, A2).  Each rejection names
-- its rule and never the password.
--
-- The NOTICE that reports an automatic expiry names a time; keep it quiet.
SET client_min_messages = warning;

-- A1: length, character classes, the role name.
CREATE ROLE regress_pw LOGIN PASSWORD 'Ab1!xyz';
CREATE ROLE regress_pw LOGIN PASSWORD 'kcvbnqtz';          -- 1 class
CREATE ROLE regress_pw LOGIN PASSWORD 'kcvbnqtz19';        -- 2 classes
CREATE ROLE regress_pw LOGIN PASSWORD 'Xregress9q';
CREATE ROLE regress_pw LOGIN PASSWORD 'xq7Z_PW9k2';        -- "_pw" of the name, any case
CREATE ROLE regress_pw LOGIN PASSWORD 'xq7Z-Pw9k2!';       -- only "pw": fine
DROP ROLE regress_pw;

-- A1b: trivial passwords, each refused for the weakness it has (checked
-- before the character classes, so the message is the most precise one).
CREATE ROLE regress_trivial LOGIN PASSWORD 'aaaaaaaa';
CREATE ROLE regress_trivial LOGIN PASSWORD '11111111Aa';    -- a run of 4 or more
CREATE ROLE regress_trivial LOGIN PASSWORD 'Aa1Aa1Aa1';     -- a repeated unit
CREATE ROLE regress_trivial LOGIN PASSWORD '12345678';      -- digit run
CREATE ROLE regress_trivial LOGIN PASSWORD '987654321';     -- descending
CREATE ROLE regress_trivial LOGIN PASSWORD 'Abcdefghij';    -- alphabet run, any case
CREATE ROLE regress_trivial LOGIN PASSWORD 'qwertyuiop';    -- keyboard row
CREATE ROLE regress_trivial LOGIN PASSWORD 'POIUYTRE';      -- keyboard row, backwards
CREATE ROLE regress_trivial LOGIN PASSWORD '1qaz2wsx3edc';  -- keyboard column run
CREATE ROLE regress_trivial LOGIN PASSWORD 'Password2024!'; -- common word + digits and symbols
CREATE ROLE regress_trivial LOGIN PASSWORD 'P@ssw0rd';
CREATE ROLE regress_trivial LOGIN PASSWORD 'Woaini1314!';   -- pinyin "I love you (for life)"
CREATE ROLE regress_trivial LOGIN PASSWORD 'X5201314y!';    -- numeric favourite inside
CREATE ROLE regress_trivial LOGIN PASSWORD 'Zhangwei#88';   -- most common Chinese name
SELECT count(*) AS created FROM pg_roles WHERE rolname = 'regress_trivial';

-- A strong password passes every rule.
CREATE ROLE regress_ok LOGIN PASSWORD 'Gx7#mQ2v!Lp9';

-- A2: a password without VALID UNTIL expires after finsec.password_max_age.
SELECT rolvaliduntil BETWEEN now() + interval '89 days' AND now() + interval '91 days' AS expires_in_90_days
  FROM pg_roles WHERE rolname = 'regress_ok';
-- A later VALID UNTIL is refused, with or without a new password.
ALTER ROLE regress_ok PASSWORD 'Hy8$nR3w!Mq0' VALID UNTIL 'infinity';
ALTER ROLE regress_ok VALID UNTIL '2999-01-01';
-- An earlier one is fine.
ALTER ROLE regress_ok PASSWORD 'Hy8$nR3w!Mq0' VALID UNTIL 'tomorrow';
SELECT rolvaliduntil::date = current_date + 1 AS tomorrow FROM pg_roles WHERE rolname = 'regress_ok';
ALTER ROLE regress_ok VALID UNTIL 'today';
-- Other role changes are untouched by the policy.
ALTER ROLE regress_ok CONNECTION LIMIT 3;

-- A1c: a pre-hashed password (what psql's \password sends) cannot be
-- checked, so it is refused; MD5 likewise.
CREATE ROLE regress_hashed LOGIN PASSWORD 'SCRAM-SHA-256$4096:c2FsdHNhbHQ=$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
CREATE ROLE regress_hashed LOGIN PASSWORD 'md5a3556571e93b0d20722ba62be61e8c2d';

-- Reuse: the last finsec.password_reuse_history (5) passwords of a role
-- are refused; older ones are allowed again.
CREATE ROLE regress_reuse LOGIN PASSWORD 'Hist#Mq7v01x';
ALTER ROLE regress_reuse PASSWORD 'Hist#Mq7v02x';
ALTER ROLE regress_reuse PASSWORD 'Hist#Mq7v01x';
ALTER ROLE regress_reuse PASSWORD 'Hist#Mq7v03x';
ALTER ROLE regress_reuse PASSWORD 'Hist#Mq7v04x';
ALTER ROLE regress_reuse PASSWORD 'Hist#Mq7v05x';
ALTER ROLE regress_reuse PASSWORD 'Hist#Mq7v06x';   -- history now 02..06
ALTER ROLE regress_reuse PASSWORD 'Hist#Mq7v02x';
ALTER ROLE regress_reuse PASSWORD 'Hist#Mq7v01x';   -- six changes ago: allowed
-- History is written with the role change, so a rolled-back change leaves none.
BEGIN;
ALTER ROLE regress_reuse PASSWORD 'Hist#Mq7v07x';
ROLLBACK;
ALTER ROLE regress_reuse PASSWORD 'Hist#Mq7v07x';
-- It holds salted hashes only, 5 per role, and nobody but finsec reads it.
SELECT count(*) AS kept, bool_and(length(salt) = 16 AND length(hash) = 32) AS hashes_only,
       count(DISTINCT salt) AS distinct_salts
  FROM finsec.password_history WHERE rolname = 'regress_reuse';
CREATE ROLE regress_peek LOGIN IN ROLE finsec_admin, finsec_auditor;
SET ROLE regress_peek;
SELECT count(*) FROM finsec.password_history;
RESET ROLE;
DROP ROLE regress_peek;
-- The history follows a rename and goes with the role.
ALTER ROLE regress_reuse RENAME TO regress_renamed;
ALTER ROLE regress_renamed PASSWORD 'Hist#Mq7v07x';
SELECT count(*) AS kept_after_rename FROM finsec.password_history WHERE rolname = 'regress_renamed';
DROP ROLE regress_renamed;
SELECT count(*) AS kept_after_drop FROM finsec.password_history WHERE rolname = 'regress_renamed';

-- A1b: not the person's own data.  The administrator records it; finsec
-- keeps only salted hashes of the tokens a password could contain.
CREATE ROLE regress_person LOGIN PASSWORD 'Strong#Base77q';
SELECT finsec.set_role_profile('regress_person', birth_date => '1949-12-31',
       id_number => '11010519491231002x', phone => '+86 138-0013-8000');
SELECT rolname, token_lengths, cardinality(token_hashes) AS hashes, updated_by
  FROM finsec.role_profile;
-- None of the data, nor any token of it, is among the stored bytes.
SELECT bool_or(position(convert_to(t, 'UTF8') IN b) > 0) AS raw_data_stored
  FROM finsec.role_profile, unnest(token_hashes || salt) b,
       unnest(ARRAY['19491231', '491231', '31121949', '11010519491231002X',
                    '31002X', '13800138000', '138000']) t;
ALTER ROLE regress_person PASSWORD 'Qz#19491231';      -- yyyymmdd
ALTER ROLE regress_person PASSWORD 'Qz#491231ab';      -- yymmdd
ALTER ROLE regress_person PASSWORD 'Qz#31121949';      -- ddmmyyyy
ALTER ROLE regress_person PASSWORD 'Ab#1231002x';      -- last 6 of the ID number, any case
ALTER ROLE regress_person PASSWORD 'Ab#13800138000';   -- the phone number
ALTER ROLE regress_person PASSWORD 'Ab#z138000';       -- its last 6
ALTER ROLE regress_person PASSWORD 'Ab#1949Z12k';      -- a year alone is not a token
-- Bad profile input is refused; so is a role that does not exist.
SELECT finsec.set_role_profile('regress_person', id_number => '123');
SELECT finsec.set_role_profile('regress_person', phone => '138-0013-800a');
SELECT finsec.set_role_profile('regress_person', birth_date => 'infinity');
SELECT finsec.set_role_profile('regress_nobody', birth_date => '2000-01-01');
-- Only finsec_admin records profiles, and each change is audited without
-- the data.
CREATE ROLE regress_clerk LOGIN;
SET ROLE regress_clerk;
SELECT finsec.set_role_profile('regress_person', birth_date => '2000-01-01');
RESET ROLE;
DROP ROLE regress_clerk;
SELECT event_type, subject, object, action, description FROM finsec.audit
 WHERE event_type = 'role.profile' ORDER BY finsec_seq;
-- Clearing the profile lifts the rule; dropping the role removes it.
SELECT finsec.set_role_profile('regress_person');
ALTER ROLE regress_person PASSWORD 'Qz#19491231';
SELECT finsec.set_role_profile('regress_person', phone => '13800138000');
DROP ROLE regress_person;
SELECT count(*) AS profiles_left FROM finsec.role_profile;

-- A4, A5: the inventory of login roles, for the auditor; no password or
-- hash in it.
CREATE ROLE regress_inv LOGIN PASSWORD 'Gx7#mQ2v!Lp9' CONNECTION LIMIT 2 IN ROLE finsec_operator;
CREATE ROLE regress_inv_super LOGIN SUPERUSER;
CREATE ROLE regress_inv_auditor LOGIN IN ROLE finsec_auditor;
SET ROLE regress_inv_auditor;
SELECT role, superuser, connection_limit, has_password, password_changed_at IS NOT NULL AS history,
       valid_until IS NOT NULL AS expires, password_expired, expiry_within_policy,
       recent_failures, locked_until, finsec_duties, member_of
  FROM finsec.role_inventory() WHERE role LIKE 'regress\_inv%' ORDER BY role;
RESET ROLE;
-- A password that never expires (a role from before finsec, simulated by
-- editing the catalog) is flagged, here and in finsec.status().
UPDATE pg_authid SET rolvaliduntil = NULL WHERE rolname = 'regress_inv';
SELECT role, has_password, valid_until, expiry_within_policy
  FROM finsec.role_inventory() WHERE role = 'regress_inv';
SELECT ok, detail FROM finsec.status() WHERE component = 'password_expiry';
DROP ROLE regress_inv, regress_inv_super, regress_inv_auditor;

-- The policy settings are server-wide: no session can relax them.
SET finsec.password_min_length = 6;
SET finsec.password_allow_prehashed = on;
ALTER SYSTEM SET finsec.password_min_length = 4;
ALTER SYSTEM SET finsec.password_valid_until = 'sometimes';

-- The policy reports itself in finsec.status().
SELECT component, ok FROM finsec.status() WHERE component LIKE 'password%' ORDER BY 1;

RESET client_min_messages;
DROP ROLE regress_ok;
