--
-- 159_compliance_attack: attacks on the compliance catalog, the dispatcher
-- finsec.compliance_check(), exclusions, the recorded verifications and
-- the last-login record (migration 1.3 sections 1, 1b, 2, 7), as each
-- finsec role, a table owner, and a superuser limited to SQL.  Each attack
-- that found a hole is followed by what the fix makes of it; the others
-- stay as proof that they hold.
--
SET client_min_messages = warning;
CREATE ROLE regress_ca_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ca_b LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ca_aud LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress_ca_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_ca_low LOGIN;
\set VERBOSITY sqlstate

CREATE SCHEMA regress_ca;
GRANT USAGE ON SCHEMA regress_ca TO PUBLIC;
-- a customer check (superuser's) that reports the role it ran as
CREATE FUNCTION regress_ca.chk_who(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql AS $$
BEGIN
	status := 'pass';
	evidence := jsonb_build_object('current_user', current_user);
END
$$;
-- a customer check that switches the session's role and does not switch back
CREATE FUNCTION regress_ca.chk_setrole(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('role', args ->> 'role', false);
	status := 'pass';
	evidence := '{}';
END
$$;
-- a customer check that raises with a SQLSTATE of class 00 (successful
-- completion) or 01 (warning) - never a pass
CREATE FUNCTION regress_ca.chk_raise(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'all is well' USING ERRCODE = args ->> 'code';
END
$$;
-- a status that only looks like pass, and huge evidence
CREATE FUNCTION regress_ca.chk_status(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql AS $$
BEGIN
	status := args ->> 'status';
	evidence := jsonb_build_object('blob', repeat('x', (args ->> 'n')::integer));
END
$$;

SET SESSION AUTHORIZATION regress_ca_a;
SELECT finsec.clause_add('acme:AT-1', 'ACME-AT', 'AT-1', '角色', 'Role', '角色', 'The role checks run as',
						 'automated', 'acme', '无', 'None');
SELECT finsec.clause_add('acme:AT-2', 'ACME-AT', 'AT-2', '状态', 'Status', '状态', 'Statuses',
						 'automated', 'acme', '无', 'None');
SELECT finsec.compliance_check_add('acme.who', 'regress_ca.chk_who(jsonb)', '谁', 'Who');
SELECT finsec.compliance_check_add('acme.setrole', 'regress_ca.chk_setrole(jsonb)', '角色', 'Set role');
SELECT finsec.compliance_check_add('acme.raise', 'regress_ca.chk_raise(jsonb)', '异常', 'Raise');
SELECT finsec.compliance_check_add('acme.status', 'regress_ca.chk_status(jsonb)', '状态', 'Status');
-- acme.setrole runs before acme.who (checks of a clause in name order)
SELECT finsec.clause_check_add('acme:AT-1', 'acme.setrole', '{"role": "regress_ca_aud"}');
SELECT finsec.clause_check_add('acme:AT-1', 'acme.who', '{}');
SELECT finsec.clause_check_add('acme:AT-2', 'acme.raise', '{"code": "00000"}');
SELECT finsec.clause_check_add('acme:AT-2', 'acme.status', '{"status": "PASS ", "n": 1}');
RESET SESSION AUTHORIZATION;

-- ---- attack: a check that changes the role leaks it to the later checks --
-- and to the caller's session.  A superuser runs the self-check; a check
-- switches to an auditor's role (which sees less): acme.who must still run
-- as the superuser, and the session must be the superuser's afterwards.
-- The dispatcher restores the role and reports the role-changing check
-- cannot_verify.
SELECT check_name, status, evidence ->> 'reason' AS reason,
	   evidence ->> 'current_user' = session_user AS ran_as_caller
  FROM finsec.compliance_check('ACME-AT', 'en') WHERE clause_id = 'acme:AT-1' ORDER BY check_name;
SELECT current_user = session_user AS role_restored;
RESET ROLE;
-- as the auditor, the check switches to a role of no privilege: the
-- dispatcher's own reads of the catalog must not fail for the whole run
GRANT regress_ca_low TO regress_ca_aud;
ALTER TABLE finsec.clause_check DISABLE TRIGGER clause_check_guard;
UPDATE finsec.clause_check SET args = '{"role": "regress_ca_low"}' WHERE check_name = 'acme.setrole';
ALTER TABLE finsec.clause_check ENABLE ALWAYS TRIGGER clause_check_guard;
SET SESSION AUTHORIZATION regress_ca_aud;
SELECT check_name, status, evidence ->> 'reason' AS reason, evidence ->> 'current_user' AS ran_as
  FROM finsec.compliance_check('ACME-AT', 'en') WHERE clause_id = 'acme:AT-1' ORDER BY check_name;
SELECT current_user AS role_after_run;
RESET ROLE;
RESET SESSION AUTHORIZATION;
-- a role the caller chose before the run (SET ROLE) is the one restored
SET ROLE regress_ca_aud;
SELECT check_name, status, evidence ->> 'current_user' AS ran_as
  FROM finsec.compliance_check('ACME-AT', 'en') WHERE clause_id = 'acme:AT-1' ORDER BY check_name;
SELECT current_user AS role_after_run;
RESET ROLE;
REVOKE regress_ca_low FROM regress_ca_aud;

-- ---- held: statuses and SQLSTATEs are never taken for pass ---------------
SET SESSION AUTHORIZATION regress_ca_aud;
SELECT check_name, status, evidence ->> 'reason' AS reason, evidence ->> 'sqlstate' AS sqlstate
  FROM finsec.compliance_check('ACME-AT', 'en') WHERE clause_id = 'acme:AT-2' ORDER BY check_name;
RESET SESSION AUTHORIZATION;
-- SQLSTATE 01000 (warning class) and a huge evidence with status 'Pass'
ALTER TABLE finsec.clause_check DISABLE TRIGGER clause_check_guard;
UPDATE finsec.clause_check SET args = '{"code": "01000"}' WHERE check_name = 'acme.raise';
UPDATE finsec.clause_check SET args = '{"status": "Pass", "n": 2000000}' WHERE check_name = 'acme.status';
ALTER TABLE finsec.clause_check ENABLE ALWAYS TRIGGER clause_check_guard;
SET SESSION AUTHORIZATION regress_ca_aud;
SELECT check_name, status, evidence ->> 'reason' AS reason, evidence ->> 'sqlstate' AS sqlstate,
	   length(evidence::text) > 2000000 AS huge_kept
  FROM finsec.compliance_check('ACME-AT', 'en') WHERE clause_id = 'acme:AT-2' ORDER BY check_name;
RESET SESSION AUTHORIZATION;

-- ---- attack: a superuser limited to SQL weakens a builtin mapping ---------
-- (password_weak_rejected's required rules off) without DDL: with
-- session_replication_role = replica an ordinary trigger does not fire.
-- The guards fire ALWAYS.
SELECT tgname, tgenabled FROM pg_trigger
 WHERE tgrelid IN ('finsec.clause'::regclass, 'finsec.compliance_check_def'::regclass, 'finsec.clause_check'::regclass)
   AND NOT tgisinternal ORDER BY tgname;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE finsec.clause_check SET args = '{"common": false, "username": false}'
 WHERE builtin AND check_name = 'password_weak_rejected';
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
DELETE FROM finsec.clause_check WHERE builtin AND check_name = 'login_lockout';
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE finsec.clause SET kind = 'manual' WHERE builtin AND clause_id = (SELECT min(clause_id) FROM finsec.clause_check WHERE builtin);
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE finsec.compliance_check_def SET function = 'regress_ca.chk_who(jsonb)' WHERE check_name = 'login_lockout';
ROLLBACK;
-- held: without the replica trick, as a superuser and as the table owner
UPDATE finsec.clause_check SET args = '{"common": false}' WHERE builtin AND check_name = 'password_weak_rejected';
INSERT INTO finsec.clause_check (clause_id, check_name, args, builtin)
SELECT min(clause_id), 'acme.who', '{}', true FROM finsec.clause WHERE builtin;
-- held: finsec_admin has no privilege on the catalog tables but SELECT
SET SESSION AUTHORIZATION regress_ca_a;
UPDATE finsec.clause_check SET args = '{}' WHERE check_name = 'password_weak_rejected';
DELETE FROM finsec.clause WHERE builtin;
INSERT INTO finsec.compliance_exclusion (clause_id, justification, valid_until, requested_by, approved_by, request_id)
VALUES ('acme:AT-1', 'forged exclusion without any approval', now() + interval '1 day', 'regress_ca_a', 'regress_ca_b', 0);
-- held: the remove functions refuse builtin rows
SELECT finsec.clause_check_remove(min(clause_id), 'password_weak_rejected') FROM finsec.clause_check WHERE builtin AND check_name = 'password_weak_rejected';
SELECT finsec.compliance_check_remove('login_lockout');
SELECT finsec.clause_remove(min(clause_id)) FROM finsec.clause WHERE builtin;
-- attack: one administrator maps a builtin check, with thresholds of its
-- choice, onto a builtin clause finsec reports as manual: it would pass.
-- Refused; so is registering a builtin check again under another name.
SELECT min(c.clause_id) AS manual_clause FROM finsec.clause c
 WHERE c.builtin AND c.kind = 'manual' AND NOT EXISTS (SELECT 1 FROM finsec.clause_check cc WHERE cc.clause_id = c.clause_id) \gset
SELECT finsec.clause_check_add(:'manual_clause', 'password_min_length', '{"min_length": 0}');
SELECT finsec.compliance_check_add('acme.len', 'finsec._check_password_min_length(jsonb)', '长度', 'Length');
SELECT count(*) AS mapped FROM finsec.clause_check WHERE clause_id = :'manual_clause';
-- a builtin check onto a customer clause stays possible
SELECT finsec.clause_check_add('acme:AT-1', 'password_min_length', '{"min_length": 12}');
SELECT finsec.clause_check_remove('acme:AT-1', 'password_min_length');
-- held: a customer clause id in finsec's own namespace
SELECT finsec.clause_add('004:7.5.9a-x', 'JR/T 0117-2014', 'x', 'x', 'x', 'x', 'x', 'automated', 'x', 'x', 'x');
RESET SESSION AUTHORIZATION;

-- ---- exclusions ---------------------------------------------------------
-- held: one administrator alone: self-approval, SET ROLE to the other
-- administrator, a past or endless valid_until, a short justification
SET SESSION AUTHORIZATION regress_ca_a;
SELECT finsec.compliance_exclude('acme:AT-2', 'the acme raise check is replaced by a vendor report', 'acme.raise') AS req \gset
SELECT finsec.approve(:req);
SET ROLE regress_ca_b;
SELECT finsec.approve(:req);
RESET ROLE;
SELECT finsec.compliance_exclude('acme:AT-2', 'the acme raise check is replaced by a vendor report', 'acme.status', now() - interval '1 day');
SELECT finsec.compliance_exclude('acme:AT-2', 'the acme raise check is replaced by a vendor report', 'acme.status', 'infinity');
SELECT finsec.compliance_exclude('acme:AT-2', '                    x', 'acme.status');
SELECT finsec.compliance_exclude('acme:AT-2', 'the acme raise check is replaced by a vendor report', 'acme.nosuch');
RESET SESSION AUTHORIZATION;
-- held: the auditor and the application cannot request, approve or forge
SET SESSION AUTHORIZATION regress_ca_aud;
SELECT finsec.compliance_exclude('acme:AT-2', 'the acme raise check is replaced by a vendor report', 'acme.raise');
SELECT finsec.approve(:req);
RESET SESSION AUTHORIZATION;
-- two people: the exclusion of acme.raise is approved by the other one
SET SESSION AUTHORIZATION regress_ca_b;
SELECT finsec.approve(:req) ->> 'check_name' AS excluded;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ca_aud;
SELECT check_name, status FROM finsec.compliance_check('ACME-AT', 'en') WHERE clause_id = 'acme:AT-2' ORDER BY check_name;
RESET SESSION AUTHORIZATION;
-- attack: one administrator removes the excluded mapping and maps a check
-- of the same name again (another function, other args): the exclusion
-- two people approved for the old one must not cover the new one.  The
-- removal ends the exclusion.
CREATE FUNCTION regress_ca.chk_fail(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql AS $$ SELECT 'fail'::text, '{"new": true}'::jsonb $$;
SET SESSION AUTHORIZATION regress_ca_a;
SELECT finsec.clause_check_remove('acme:AT-2', 'acme.raise');
SELECT finsec.clause_check_add('acme:AT-2', 'acme.raise', '{"code": "P0001"}');
RESET SESSION AUTHORIZATION;
SELECT clause_id, check_name, ended_by = 'regress_ca_a' AS ended_by_a, end_reason
  FROM finsec.compliance_exclusion WHERE clause_id = 'acme:AT-2';
SET SESSION AUTHORIZATION regress_ca_aud;
SELECT check_name, status FROM finsec.compliance_check('ACME-AT', 'en') WHERE clause_id = 'acme:AT-2' ORDER BY check_name;
RESET SESSION AUTHORIZATION;
-- the same through compliance_check_remove: exclude acme.status, then
-- remove the check and define it again with another function
SET SESSION AUTHORIZATION regress_ca_a;
SELECT finsec.compliance_exclude('acme:AT-2', 'the acme status check is replaced by a vendor report', 'acme.status') AS req2 \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ca_b;
SELECT finsec.approve(:req2) ->> 'check_name' AS excluded;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ca_a;
SELECT finsec.compliance_check_remove('acme.status');
SELECT finsec.compliance_check_add('acme.status', 'regress_ca.chk_fail(jsonb)', '状态', 'Status');
SELECT finsec.clause_check_add('acme:AT-2', 'acme.status', '{}');
RESET SESSION AUTHORIZATION;
SELECT clause_id, check_name, end_reason
  FROM finsec.compliance_exclusion WHERE clause_id = 'acme:AT-2' AND check_name = 'acme.status';
SET SESSION AUTHORIZATION regress_ca_aud;
SELECT check_name, status, evidence FROM finsec.compliance_check('ACME-AT', 'en')
 WHERE clause_id = 'acme:AT-2' ORDER BY check_name;
RESET SESSION AUTHORIZATION;

-- ---- held: forged ledger events ----------------------------------------
-- The recorded verifications and runs are reserved event types: neither
-- the application nor an administrator writes them with audit_event().
SET SESSION AUTHORIZATION regress_ca_app;
SELECT finsec.audit_event('key.verify', 'keyring', 'verify', true);
SELECT finsec.audit_event('audit.verify', 'ledger', 'verify', true);
SELECT finsec.audit_event('compliance.check', 'compliance_check', 'check', true);
SELECT finsec.audit_event('KEY.verify', 'keyring', 'verify', true);
SELECT finsec.audit_event(' key.verify', 'keyring', 'verify', true);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ca_a;
SELECT finsec.audit_event('key.verify', 'keyring', 'verify', true);
RESET SESSION AUTHORIZATION;
-- the auditor cannot call audit_event() at all, nor _compliance_record()
-- outside a run
SET SESSION AUTHORIZATION regress_ca_aud;
SELECT finsec.audit_event('app.x', 'x', 'x', true);
SELECT finsec._compliance_record('ACME-AT', 'en', '{"pass": 1000}', 1000, now());
DO $$ BEGIN PERFORM finsec._compliance_record('ACME-AT', 'en', '{"pass": 1000}', 1000, now()); END $$;
RESET SESSION AUTHORIZATION;

-- ---- held: last login ---------------------------------------------------
-- nobody writes finsec.role_login but finsec
SET SESSION AUTHORIZATION regress_ca_a;
INSERT INTO finsec.role_login (role, role_oid, last_login_at) VALUES ('regress_ca_low', 'regress_ca_low'::regrole, now());
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ca_aud;
UPDATE finsec.role_login SET last_login_at = now();
RESET SESSION AUTHORIZATION;
-- a role renamed keeps its own history; a role dropped and made again
-- under the same name does not inherit it (role_oid)
\c - regress_ca_low
\c - postgres
SET client_min_messages = warning;
\set VERBOSITY sqlstate
SELECT role, last_login_at IS NOT NULL AS logged_in FROM finsec.role_last_login() WHERE role LIKE 'regress_ca_l%' ORDER BY role;
ALTER ROLE regress_ca_low RENAME TO regress_ca_lower;
SELECT role, last_login_at IS NOT NULL AS logged_in FROM finsec.role_last_login() WHERE role LIKE 'regress_ca_l%' ORDER BY role;
CREATE ROLE regress_ca_low LOGIN;
SELECT role, last_login_at IS NOT NULL AS logged_in FROM finsec.role_last_login() WHERE role LIKE 'regress_ca_l%' ORDER BY role;
DROP ROLE regress_ca_lower;
DROP ROLE regress_ca_low;
CREATE ROLE regress_ca_low LOGIN;
SELECT role, last_login_at IS NOT NULL AS logged_in FROM finsec.role_last_login() WHERE role LIKE 'regress_ca_l%' ORDER BY role;

-- ---- attack: the caller SETs a judged setting for its own session --------
-- The server (here: the auditor's role setting) stores md5 verifiers and
-- has no idle timeouts; the auditor sets the right values in its session
-- only.  A timeout check called alone reads the session's value; compliance_check()
-- judges the settings as a new session gets them, and gives the caller
-- its own values back.
ALTER ROLE regress_ca_aud SET password_encryption = md5;
\c - regress_ca_aud
SET client_min_messages = warning;
\set VERBOSITY sqlstate
SET password_encryption = 'scram-sha-256';
SET idle_session_timeout = '10min';
SET idle_in_transaction_session_timeout = '1min';
SELECT 'password_encryption' AS check_name, status FROM finsec._check_password_encryption('{}')
UNION ALL
SELECT 'idle_session_timeout', status FROM finsec._check_idle_session_timeout('{}');
SELECT check_name, status, min(evidence::text) AS evidence
  FROM finsec.compliance_check(NULL, 'en')
 WHERE check_name IN ('password_encryption', 'idle_session_timeout', 'idle_in_transaction_timeout')
 GROUP BY check_name, status ORDER BY check_name;
SHOW password_encryption;
SHOW idle_session_timeout;
SHOW idle_in_transaction_session_timeout;
-- in a transaction too, and a SET LOCAL of the caller's
BEGIN;
SET LOCAL idle_session_timeout = '20min';
SELECT DISTINCT check_name, status FROM finsec.compliance_check(NULL, 'en') WHERE check_name = 'idle_session_timeout';
SHOW idle_session_timeout;
COMMIT;
SHOW idle_session_timeout;
-- the auditor gives its own role good defaults (any role may): its new
-- sessions no longer show the server's values; the checks say so
ALTER ROLE regress_ca_aud RESET password_encryption;
ALTER ROLE regress_ca_aud SET idle_session_timeout = '10min';
ALTER ROLE regress_ca_aud SET idle_in_transaction_session_timeout = '1min';
\c - regress_ca_aud
SET client_min_messages = warning;
\set VERBOSITY sqlstate
SELECT check_name, status, min(evidence::text) AS evidence
  FROM finsec.compliance_check(NULL, 'en')
 WHERE check_name IN ('password_encryption', 'idle_session_timeout', 'idle_in_transaction_timeout')
 GROUP BY check_name, status ORDER BY check_name;
\c - postgres
SET client_min_messages = warning;
\set VERBOSITY sqlstate
-- another role without timeouts of its own, and one storing md5
-- verifiers: offending overrides, whoever runs the check
ALTER ROLE regress_ca_aud RESET ALL;
ALTER ROLE regress_ca_app SET idle_session_timeout = 0;
ALTER ROLE regress_ca_app SET password_encryption = md5;
SET idle_session_timeout = '10min';
SELECT check_name, status, min(evidence::text) AS evidence
  FROM finsec.compliance_check(NULL, 'en')
 WHERE check_name IN ('password_encryption', 'idle_session_timeout')
 GROUP BY check_name, status ORDER BY check_name;
RESET idle_session_timeout;
ALTER ROLE regress_ca_app RESET ALL;

-- ---- held: a clause removed and added again has no exclusion -------------
SET SESSION AUTHORIZATION regress_ca_a;
SELECT finsec.compliance_exclude('acme:AT-2', 'the whole acme clause AT-2 is covered by a vendor audit') AS req3 \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ca_b;
SELECT finsec.approve(:req3) ->> 'clause_id' AS excluded;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ca_a;
SELECT finsec.clause_remove('acme:AT-2');
SELECT finsec.clause_add('acme:AT-2', 'ACME-AT', 'AT-2', '状态', 'Status', '状态', 'Statuses',
						 'automated', 'acme', '无', 'None');
RESET SESSION AUTHORIZATION;
SELECT count(*) AS exclusions_left FROM finsec.compliance_exclusion WHERE clause_id = 'acme:AT-2';
SET SESSION AUTHORIZATION regress_ca_aud;
SELECT clause_id, check_name, status FROM finsec.compliance_check('ACME-AT', 'en') WHERE clause_id = 'acme:AT-2';
-- ---- held: NULL and huge inputs -----------------------------------------
SELECT count(*) FROM finsec.compliance_check(repeat('x', 1000000));
SELECT count(*) FROM finsec.compliance_check(NULL, repeat('x', 1000000));
SELECT count(*) FROM finsec.compliance_check(E'001\n');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ca_a;
SELECT finsec.compliance_exclude(NULL, 'the whole acme clause AT-2 is covered by a vendor audit');
SELECT finsec.compliance_exclude('acme:AT-2', NULL);
SELECT finsec.compliance_exclude('acme:AT-2', repeat('j', 2001));
SELECT finsec.compliance_exclude(repeat('c', 100000), 'the whole acme clause AT-2 is covered by a vendor audit');
SELECT finsec.compliance_unexclude(NULL);
SELECT finsec.clause_check_add(NULL, NULL, NULL);
SELECT finsec.clause_check_remove(NULL, NULL);
SELECT finsec.compliance_check_add('acme.x', NULL, 'x', 'x');
SELECT finsec.compliance_check_remove(NULL);
SELECT finsec.clause_remove(NULL);
RESET SESSION AUTHORIZATION;

-- ---- clean up -------------------------------------------------------------
SET SESSION AUTHORIZATION regress_ca_a;
SELECT finsec.clause_remove('acme:AT-1');
SELECT finsec.clause_remove('acme:AT-2');
SELECT finsec.compliance_check_remove(c) FROM unnest(ARRAY['acme.who', 'acme.setrole', 'acme.raise', 'acme.status']) c;
RESET SESSION AUTHORIZATION;
DROP SCHEMA regress_ca CASCADE;
DROP ROLE regress_ca_a, regress_ca_b, regress_ca_aud, regress_ca_app, regress_ca_low;
