--
-- 022_password_keyed: password history and personal-data profiles kept
-- under the keyring fingerprint key "auth.password" (docs/auth.md "Keyed
-- history").  On 0.7 they were salted hashes only, with no key: a reader
-- of the tables could test every birth date offline.
--
-- In a database of its own: the key it creates stays in that keyring.
SET client_min_messages = warning;
CREATE DATABASE regress_keyed;
\c regress_keyed
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_kh_adm1 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_kh_adm2 LOGIN IN ROLE finsec_admin;

-- Before the key exists, rows are kept as in 0.7 (no key version): the
-- documented fallback, which reuse detection still covers.
CREATE ROLE regress_kh LOGIN PASSWORD 'Kh#Alpha7q';
SELECT finsec.set_role_profile('regress_kh', birth_date => '1988-02-29');
SELECT count(*) AS unkeyed_rows, count(key_version) AS keyed_rows FROM finsec.password_history;
SELECT count(key_version) AS keyed_profiles FROM finsec.role_profile;
SELECT hash AS legacy_hash FROM finsec.password_history WHERE rolname = 'regress_kh' \gset
SELECT token_hashes AS legacy_tokens FROM finsec.role_profile WHERE rolname = 'regress_kh' \gset
SELECT finsec.password_rekey() AS moved_without_key;
ALTER ROLE regress_kh PASSWORD 'Kh#Alpha7q';

-- Two administrators create the key (two-person, like any key).
SET SESSION AUTHORIZATION regress_kh_adm1;
SELECT finsec.key_generate('auth.password', 'fingerprint', 'hmac-sha256', 'password history') AS req \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_kh_adm2;
SELECT finsec.approve(:req) IS NOT NULL AS approved;
RESET SESSION AUTHORIZATION;

-- The rows of 0.7 move under it, without any password: the stored values
-- change, and the same password is still refused.
SET SESSION AUTHORIZATION regress_kh_adm1;
SELECT finsec.password_rekey() AS moved;
SELECT finsec.password_rekey() AS moved_again;
RESET SESSION AUTHORIZATION;
SELECT key_version, hash <> :'legacy_hash' AS hash_changed, length(hash) AS len
  FROM finsec.password_history WHERE rolname = 'regress_kh';
SELECT key_version, token_hashes <> :'legacy_tokens' AS tokens_changed
  FROM finsec.role_profile WHERE rolname = 'regress_kh';
ALTER ROLE regress_kh PASSWORD 'Kh#Alpha7q';
ALTER ROLE regress_kh PASSWORD 'Qz#19880229k';       -- the birth date, still found
-- New rows are keyed from the start; reuse is detected as before.
ALTER ROLE regress_kh PASSWORD 'Kh#Beta8qz';
ALTER ROLE regress_kh PASSWORD 'Kh#Beta8qz';
SELECT count(*) AS rows, count(*) FILTER (WHERE key_version = 1) AS under_v1
  FROM finsec.password_history WHERE rolname = 'regress_kh';
SELECT finsec.set_role_profile('regress_kh', birth_date => '1988-02-29', phone => '13912093847');
SELECT key_version FROM finsec.role_profile WHERE rolname = 'regress_kh';
ALTER ROLE regress_kh PASSWORD 'Qz#093847k!';         -- last 6 of the phone
-- Key use is counted in the ledger (at the flush), without any value.
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT DISTINCT event_type, object, action FROM finsec.audit
 WHERE event_type = 'key.use' AND object = 'auth.password' ORDER BY action;

-- Rotation: rows of the retired version still verify; new rows use the
-- new version.
SET SESSION AUTHORIZATION regress_kh_adm1;
SELECT finsec.key_rotate('auth.password', 'yearly rotation') AS req \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_kh_adm2;
SELECT finsec.approve(:req) IS NOT NULL AS approved;
RESET SESSION AUTHORIZATION;
ALTER ROLE regress_kh PASSWORD 'Kh#Beta8qz';
ALTER ROLE regress_kh PASSWORD 'Kh#Gamma9z';
SELECT key_version, count(*) FROM finsec.password_history WHERE rolname = 'regress_kh'
 GROUP BY 1 ORDER BY 1;

-- The stored value depends on the key: a row copied to another role
-- matches under the version it was made with, and not once it claims
-- another version (nor would it in another database's keyring).
CREATE ROLE regress_kh_v1 LOGIN PASSWORD 'Kh#Delta1zq';
CREATE ROLE regress_kh_v2 LOGIN PASSWORD 'Kh#Delta1zq';
INSERT INTO finsec.password_history (rolname, changed_at, salt, hash, key_version)
SELECT r, changed_at + interval '1 second', salt, hash, v
  FROM finsec.password_history h,
	   (VALUES ('regress_kh_v1'::name, 1), ('regress_kh_v2', 2)) c(r, v)
 WHERE h.rolname = 'regress_kh' AND h.key_version = 1
   AND h.id = (SELECT max(id) FROM finsec.password_history WHERE rolname = 'regress_kh' AND key_version = 1);
ALTER ROLE regress_kh_v1 PASSWORD 'Kh#Beta8qz';     -- same key version: found
ALTER ROLE regress_kh_v2 PASSWORD 'Kh#Beta8qz';     -- another key: not the same value
-- A keyed row relabelled as unkeyed does not match either: it is moved
-- under the key again, and matches nothing.
CREATE ROLE regress_kh_nk LOGIN PASSWORD 'Kh#Delta1zq';
INSERT INTO finsec.password_history (rolname, changed_at, salt, hash, key_version)
SELECT 'regress_kh_nk', now() + interval '1 day', salt, hash, 1
  FROM finsec.password_history WHERE rolname = 'regress_kh_v1' ORDER BY id DESC LIMIT 1;
UPDATE finsec.password_history SET key_version = NULL WHERE rolname = 'regress_kh_nk'
   AND changed_at > now();
SELECT finsec.password_rekey() AS rekeyed_the_copy;   -- HMAC over an HMAC: no match
ALTER ROLE regress_kh_nk PASSWORD 'Kh#Beta8qz';

-- Only finsec's code reads the tables; the application cannot rekey.
CREATE ROLE regress_kh_app LOGIN IN ROLE finsec_app;
SET SESSION AUTHORIZATION regress_kh_app;
SELECT finsec.password_rekey();
SELECT count(*) FROM finsec.password_history;
RESET SESSION AUTHORIZATION;

DROP ROLE regress_kh, regress_kh_v1, regress_kh_v2, regress_kh_nk, regress_kh_app;
\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_keyed;
DROP ROLE regress_kh_adm1, regress_kh_adm2;
