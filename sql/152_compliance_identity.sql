--
-- 152_compliance_identity: the checks of identity, credentials, roles,
-- connections, logging, keys and the ledger (docs/compliance.md).
-- Each check passes on a well-configured database and fails, naming what
-- it judged, when the condition is broken; a caller who cannot see what
-- a check needs gets cannot_verify, a role with no finsec duty cannot run
-- the checks at all.  The database is shared with the other regression
-- files, so role lists are filtered to this file's roles (regress_cmp_*).
--
SET client_min_messages = warning;
CREATE ROLE regress_cmp_adm1 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_cmp_adm2 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_cmp_aud1 LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress_cmp_aud2 LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress_cmp_op1 LOGIN IN ROLE finsec_operator;
CREATE ROLE regress_cmp_op2 LOGIN IN ROLE finsec_operator;
CREATE ROLE regress_cmp_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_cmp_nobody LOGIN;
SET client_min_messages = notice;
-- one check: status and evidence
CREATE FUNCTION pg_temp.chk(c text, args jsonb DEFAULT '{}', OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SELECT * FROM finsec.%I($1)', '_check_' || c) INTO status, evidence USING args;
END
$$;
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
-- does a jsonb array (of names or of objects with a "role") name this role?
CREATE FUNCTION pg_temp.names(a jsonb, r text) RETURNS boolean LANGUAGE sql AS $$
	SELECT EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(a, '[]')) e
					WHERE e = to_jsonb(r) OR e -> 'role' = to_jsonb(r))
$$;
-- wait until this backend sees a reloaded setting
CREATE FUNCTION pg_temp.reload() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_reload_conf();
	PERFORM pg_sleep(0.3);
END
$$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pg_temp TO PUBLIC;

-- ---- 1. The registered checks: invoker rights, pinned search_path, granted to admin and auditor only
SELECT d.check_name, p.prosecdef AS definer, 'search_path=pg_catalog, pg_temp' = ANY (p.proconfig) AS pinned,
	   has_function_privilege('public', p.oid, 'EXECUTE') AS public_exec,
	   has_function_privilege('finsec_admin', p.oid, 'EXECUTE') AND has_function_privilege('finsec_auditor', p.oid, 'EXECUTE') AS granted,
	   has_function_privilege('finsec_operator', p.oid, 'EXECUTE') AS operator
  FROM finsec.compliance_check_def d JOIN pg_proc p ON p.oid = d.function::oid
 WHERE d.check_name IN ('finsec_preloaded', 'finsec_components', 'master_key', 'keys_verified', 'key_rotation',
						'password_min_length', 'password_classes', 'password_max_age', 'password_encryption',
						'password_verifiers', 'login_valid_until', 'superusers', 'duty_conflicts', 'duty_two_people',
						'default_accounts', 'inactive_roles', 'privileged_attributes', 'public_privileges',
						'ssl_enabled', 'ssl_protocol', 'ssl_ciphers', 'hba_no_trust', 'hba_password_over_ssl',
						'hba_superuser_wide', 'hba_batch_clientcert', 'admin_strong_auth', 'idle_session_timeout',
						'idle_in_transaction_timeout', 'connection_limits', 'resource_limits', 'log_connections',
						'log_disconnections', 'log_ddl', 'ledger_verified', 'ledger_retention', 'ledger_capacity')
 ORDER BY d.check_name;
-- the definer fact functions: pinned, not for PUBLIC, no secret column
SELECT p.proname, p.prosecdef, p.proconfig, has_function_privilege('public', p.oid, 'EXECUTE') AS public_exec,
	   pg_get_function_result(p.oid) AS result
  FROM pg_proc p WHERE p.pronamespace = 'finsec'::regnamespace AND p.prosecdef
   AND p.proname IN ('compliance_hba_rules', 'compliance_role_verifiers', 'compliance_settings')
 ORDER BY p.proname;

-- ---- 2. finsec itself and the master key
SELECT * FROM pg_temp.chk('finsec_preloaded');
SELECT status, evidence -> 'not_ok' @> '[{"component": "audit_sealer"}]' AS names_sealer
  FROM pg_temp.chk('finsec_components');      -- this test cluster runs no sealer
SELECT status, evidence ->> 'check_value' AS kcv FROM pg_temp.chk('master_key');

-- ---- 3. Password settings against the clause's numbers
SELECT * FROM pg_temp.chk('password_min_length', '{"min_length": 8}');
SELECT * FROM pg_temp.chk('password_min_length', '{"min_length": 12}');
SELECT * FROM pg_temp.chk('password_classes', '{"min_classes": 3}');
SELECT * FROM pg_temp.chk('password_classes', '{"min_classes": 4}');
SELECT * FROM pg_temp.chk('password_encryption');
SET password_encryption = md5;
SELECT * FROM pg_temp.chk('password_encryption');
-- an md5 verifier is named (kind only, never the hash); finsec's NOTICE of the expiry is dated
SET client_min_messages = warning;
CREATE ROLE regress_cmp_md5 LOGIN PASSWORD 'Kx9#mQ2v!pL7';
RESET password_encryption;
CREATE ROLE regress_cmp_scram LOGIN PASSWORD 'Kx9#mQ2v!pL8';
SET client_min_messages = notice;
SELECT status, pg_temp.names(evidence -> 'weak_verifiers', 'regress_cmp_md5') AS md5_named,
	   evidence -> 'weak_verifiers' @> '[{"role": "regress_cmp_md5", "verifier": "md5"}]' AS kind,
	   pg_temp.names(evidence -> 'weak_verifiers', 'regress_cmp_scram') AS scram_named,
	   evidence::text ~ 'md5[0-9a-f]{32}|SCRAM-SHA-256\$' AS leaks_hash
  FROM pg_temp.chk('password_verifiers');
DROP ROLE regress_cmp_md5;
SELECT status = 'pass' OR NOT pg_temp.names(evidence -> 'weak_verifiers', 'regress_cmp_md5') AS md5_gone
  FROM pg_temp.chk('password_verifiers');
-- the password got finsec's expiry: within both maxima
SELECT pg_temp.names(evidence -> 'roles_beyond_max_age', 'regress_cmp_scram') AS scram_late,
	   pg_temp.names((SELECT evidence -> 'without_valid_until' FROM pg_temp.chk('login_valid_until')), 'regress_cmp_scram') AS no_expiry
  FROM pg_temp.chk('password_max_age');
-- a password without VALID UNTIL (finsec told to ignore it): both checks fail
ALTER SYSTEM SET finsec.password_valid_until = 'ignore';
SELECT pg_temp.reload();
CREATE ROLE regress_cmp_forever LOGIN PASSWORD 'Kx9#mQ2v!pL9';
ALTER SYSTEM RESET finsec.password_valid_until;
SELECT pg_temp.reload();
SELECT status, pg_temp.names(evidence -> 'without_valid_until', 'regress_cmp_forever') AS named
  FROM pg_temp.chk('login_valid_until');
SELECT status, evidence -> 'roles_beyond_max_age' @> '[{"role": "regress_cmp_forever", "valid_until": null, "max_days": 180}]' AS named
  FROM pg_temp.chk('password_max_age', '{"max_days": 180, "app_max_days": 90}');
-- an application role: 3 months, not 6
ALTER ROLE regress_cmp_forever VALID UNTIL 'tomorrow';
ALTER ROLE regress_cmp_app PASSWORD 'Kx9#mQ2v!pL0' VALID UNTIL 'tomorrow';
SELECT pg_temp.names(evidence -> 'roles_beyond_max_age', 'regress_cmp_forever') AS forever_late,
	   pg_temp.names(evidence -> 'roles_beyond_max_age', 'regress_cmp_app') AS app_late
  FROM pg_temp.chk('password_max_age', '{"max_days": 180, "app_max_days": 90}');
SELECT evidence -> 'roles_beyond_max_age' @> '[{"role": "regress_cmp_app", "max_days": 0}]' AS app_late_at_0,
	   pg_temp.names(evidence -> 'roles_beyond_max_age', 'regress_cmp_forever') AS forever_late
  FROM pg_temp.chk('password_max_age', '{"max_days": 180, "app_max_days": 0}');
-- the setting itself against the maximum
SELECT status, evidence -> 'problems' AS problems FROM pg_temp.chk('password_max_age', '{"max_days": 30}');
-- bad thresholds are refused, naming the argument
SELECT pg_temp.try($$SELECT * FROM finsec._check_password_min_length('{"min_length": "eight"}')$$);
SELECT pg_temp.try($$SELECT * FROM finsec._check_password_min_length('{"min_length": 99999999999999999999}')$$);

-- ---- 4. Default accounts (the names are the args'), superusers
SELECT status, evidence -> 'default_accounts_with_password' AS named
  FROM pg_temp.chk('default_accounts', '{"names": ["regress_cmp_nobody", "REGRESS_CMP_SCRAM"]}');
SELECT status FROM pg_temp.chk('default_accounts', '{"names": ["regress_cmp_nobody"]}');   -- no password: fine
CREATE ROLE "regress_cmp_o'q<script>" SUPERUSER;
SELECT pg_temp.names(evidence -> 'extra_superusers', '"regress_cmp_o''q<script>"') AS quoted,
	   evidence ->> 'bootstrap_superuser' AS bootstrap
  FROM pg_temp.chk('superusers', '{"max_extra": 0}');
SELECT status FROM pg_temp.chk('superusers', '{"max_extra": 1000}');
DROP ROLE "regress_cmp_o'q<script>";

-- inactive roles (finsec.role_last_login()): a recording that began minutes
-- ago judges no one yet (warn); with one that began 200 days ago a role
-- never seen is inactive, one seen 100 days ago too, one seen 10 days ago not
SELECT status IN ('warn', 'fail') AS not_pass,
	   pg_temp.names(evidence -> 'not_yet_judged', 'regress_cmp_nobody') AS nobody_pending,
	   pg_temp.names(evidence -> 'inactive', 'regress_cmp_nobody') AS nobody_inactive
  FROM pg_temp.chk('inactive_roles');
BEGIN;
UPDATE finsec.role_login_since SET recording_since = now() - interval '200 days';
INSERT INTO finsec.role_login (role, role_oid, last_login_at, last_address) VALUES
	('regress_cmp_adm1', 'regress_cmp_adm1'::regrole, now() - interval '10 days', '10.0.0.1'),
	('regress_cmp_adm2', 'regress_cmp_adm2'::regrole, now() - interval '100 days', '10.0.0.2');
SELECT status, pg_temp.names(evidence -> 'inactive', 'regress_cmp_nobody') AS nobody,
	   pg_temp.names(evidence -> 'inactive', 'regress_cmp_adm1') AS adm1,
	   pg_temp.names(evidence -> 'inactive', 'regress_cmp_adm2') AS adm2,
	   evidence -> 'inactive_after_seconds' AS threshold
  FROM pg_temp.chk('inactive_roles');
ROLLBACK;
-- the auditor sees it too; a role without the function's privilege cannot
SET ROLE regress_cmp_aud1;
SELECT status <> 'cannot_verify' AS judged FROM pg_temp.chk('inactive_roles');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION finsec.role_last_login() FROM finsec_auditor;
SET ROLE regress_cmp_aud1;
SELECT * FROM pg_temp.chk('inactive_roles');
RESET ROLE;
GRANT EXECUTE ON FUNCTION finsec.role_last_login() TO finsec_auditor;
REVOKE SELECT ON finsec.role_login FROM finsec_auditor;
SET ROLE regress_cmp_aud1;
SELECT status, evidence ->> 'needs' AS needs FROM pg_temp.chk('inactive_roles');
RESET ROLE;
GRANT SELECT ON finsec.role_login TO finsec_auditor;

-- ---- 5. Duties: conflicts, two people each
SELECT status, pg_temp.names(evidence -> 'conflicts', 'regress_cmp_adm1') AS adm1
  FROM pg_temp.chk('duty_conflicts');
GRANT finsec_auditor TO regress_cmp_adm1;
GRANT finsec_unmask TO regress_cmp_adm2;
CREATE SCHEMA regress_cmp_s AUTHORIZATION regress_cmp_op1;     -- op1 becomes a developer
SELECT e -> 'role' AS role, e -> 'duties' AS duties
  FROM pg_temp.chk('duty_conflicts') c, jsonb_array_elements(c.evidence -> 'conflicts') e
 WHERE e ->> 'role' LIKE 'regress\_cmp\_%' ORDER BY 1, 2;
REVOKE finsec_auditor FROM regress_cmp_adm1;
REVOKE finsec_unmask FROM regress_cmp_adm2;
ALTER SCHEMA regress_cmp_s OWNER TO regress_cmp_adm1;
SELECT count(*) AS cmp_conflicts
  FROM pg_temp.chk('duty_conflicts') c, jsonb_array_elements(c.evidence -> 'conflicts') e
 WHERE e ->> 'role' LIKE 'regress\_cmp\_%';
SELECT status FROM pg_temp.chk('duty_two_people');          -- two of each here
SELECT status, evidence -> 'understaffed' AS understaffed FROM pg_temp.chk('duty_two_people', '{"min_people": 100000}');
ALTER ROLE regress_cmp_op2 NOLOGIN;     -- an account that cannot log in is nobody
SELECT pg_temp.names(evidence #> '{duties,finsec_operator,holders}', 'regress_cmp_op2') AS op2_counted,
	   pg_temp.names(evidence #> '{duties,finsec_operator,holders}', 'regress_cmp_op1') AS op1_counted
  FROM pg_temp.chk('duty_two_people');
ALTER ROLE regress_cmp_op2 LOGIN;

-- ---- 6. Privileged attributes, PUBLIC privileges
ALTER ROLE regress_cmp_op1 CREATEROLE;
CREATE ROLE regress_cmp_repl LOGIN REPLICATION;
SELECT e FROM pg_temp.chk('privileged_attributes') c, jsonb_array_elements(c.evidence -> 'roles') e
 WHERE e ->> 'role' LIKE 'regress\_cmp\_%' ORDER BY 1;
SELECT e FROM pg_temp.chk('privileged_attributes', '{"replication_roles": ["regress_cmp_repl"]}') c,
			  jsonb_array_elements(c.evidence -> 'roles') e
 WHERE e ->> 'role' LIKE 'regress\_cmp\_%' ORDER BY 1;
ALTER ROLE regress_cmp_op1 NOCREATEROLE;
DROP ROLE regress_cmp_repl;
GRANT CREATE ON SCHEMA regress_cmp_s TO PUBLIC;
CREATE TABLE regress_cmp_s."t'<script>" (id int);
GRANT SELECT, UPDATE ON regress_cmp_s."t'<script>" TO PUBLIC;
CREATE FUNCTION regress_cmp_s.lift() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
CREATE FUNCTION regress_cmp_s.plain() RETURNS int LANGUAGE sql AS 'SELECT 1';
SELECT status, evidence -> 'public_create_schemas' ? 'regress_cmp_s' AS schema_named,
	   evidence -> 'relations' @> '[{"relation": "regress_cmp_s.\"t''<script>\"", "privileges": ["SELECT", "UPDATE"]}]' AS table_named,
	   evidence -> 'functions' ? 'regress_cmp_s.lift()' AS definer_named,
	   evidence -> 'functions' ? 'regress_cmp_s.plain()' AS invoker_named
  FROM pg_temp.chk('public_privileges');
REVOKE CREATE ON SCHEMA regress_cmp_s FROM PUBLIC;
REVOKE ALL ON regress_cmp_s."t'<script>" FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION regress_cmp_s.lift() FROM PUBLIC;
SELECT evidence -> 'public_create_schemas' ? 'regress_cmp_s' AS schema_named,
	   evidence::text LIKE '%regress_cmp_s%' AS anything_named
  FROM pg_temp.chk('public_privileges');

-- ---- 7. Connections: ssl (off in this cluster), hba (trust here), timeouts, limits
SELECT * FROM pg_temp.chk('ssl_enabled');
SELECT status, evidence ->> 'ssl' AS ssl FROM pg_temp.chk('ssl_protocol');
SELECT status, evidence -> 'weak_classes_allowed' AS weak FROM pg_temp.chk('ssl_ciphers');   -- PostgreSQL's default
ALTER SYSTEM SET ssl_ciphers = 'HIGH:!aNULL:!MD5:!MEDIUM:!3DES:!RC4:!DES:!LOW:!EXPORT:!NULL';
SELECT pg_temp.reload();
SELECT status, evidence -> 'weak_classes_allowed' AS weak FROM pg_temp.chk('ssl_ciphers');
ALTER SYSTEM SET ssl_ciphers = 'ALL:!aNULL';
SELECT pg_temp.reload();
SELECT status, evidence -> 'weak_classes_allowed' AS weak FROM pg_temp.chk('ssl_ciphers');
-- a weak cipher named explicitly
ALTER SYSTEM SET ssl_ciphers = 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-DES-CBC3-SHA:!aNULL:!MEDIUM';
SELECT pg_temp.reload();
SELECT status, evidence -> 'weak_classes_allowed' AS weak, evidence -> 'weak_ciphers_named' AS named FROM pg_temp.chk('ssl_ciphers');
ALTER SYSTEM RESET ssl_ciphers;
SELECT pg_temp.reload();
SELECT status, jsonb_array_length(evidence -> 'offending_lines') > 0 AS lines_named,
	   evidence -> 'offending_lines' -> 0 ->> 'method' AS method
  FROM pg_temp.chk('hba_no_trust');
SELECT * FROM pg_temp.chk('hba_batch_clientcert');           -- none declared
SELECT status FROM pg_temp.chk('admin_strong_auth');         -- trust reaches the superuser
SET idle_session_timeout = '10min';
SET idle_in_transaction_session_timeout = '1min';
SELECT * FROM pg_temp.chk('idle_session_timeout', '{"max_seconds": 1800}');
SELECT * FROM pg_temp.chk('idle_in_transaction_timeout', '{"max_seconds": 300}');
SELECT * FROM pg_temp.chk('idle_session_timeout', '{"max_seconds": 60}');
RESET idle_session_timeout;
SELECT * FROM pg_temp.chk('idle_session_timeout', '{"max_seconds": 1800}');   -- 0: never
RESET idle_in_transaction_session_timeout;
SELECT pg_temp.names(evidence -> 'login_roles_without_limit', 'regress_cmp_aud1') AS aud1_unlimited,
	   evidence -> 'max_connections_allowed' AS allowed
  FROM pg_temp.chk('connection_limits');
ALTER ROLE regress_cmp_aud1 CONNECTION LIMIT 5;
SELECT pg_temp.names(evidence -> 'login_roles_without_limit', 'regress_cmp_aud1') AS aud1_unlimited
  FROM pg_temp.chk('connection_limits');
SELECT status, evidence -> 'max_connections_allowed' AS allowed
  FROM pg_temp.chk('connection_limits', '{"max_connections": 10, "require_per_role": false}');
SELECT pg_temp.try($$SELECT * FROM finsec._check_connection_limits('{"require_per_role": "yes"}')$$);
-- resource limits of the application role: warn, then set
SELECT status, evidence -> 'roles_missing_limits' @> '[{"role": "regress_cmp_app", "missing": ["statement_timeout", "temp_file_limit", "work_mem"]}]' AS named
  FROM pg_temp.chk('resource_limits');
ALTER ROLE regress_cmp_app SET statement_timeout = '30s';
ALTER ROLE regress_cmp_app SET work_mem = '16MB';
ALTER ROLE regress_cmp_app IN DATABASE contrib_regression SET temp_file_limit = '1GB';
SELECT pg_temp.names(evidence -> 'roles_missing_limits', 'regress_cmp_app') AS app_named
  FROM pg_temp.chk('resource_limits');

-- ---- 8. Logging and the ledger
SELECT * FROM pg_temp.chk('log_connections');
SELECT * FROM pg_temp.chk('log_disconnections');
SET log_statement = 'ddl';
SELECT * FROM pg_temp.chk('log_ddl');
SET log_statement = 'none';
SELECT status, evidence ->> 'pgaudit.log' AS pgaudit FROM pg_temp.chk('log_ddl');
RESET log_statement;
SELECT * FROM pg_temp.chk('ledger_retention', '{"min_days": 92}');
SELECT * FROM pg_temp.chk('ledger_retention', '{"min_days": 183}');
SELECT status, evidence ->> 'component' AS component FROM pg_temp.chk('ledger_capacity');
-- the last recorded verification decides.  A verification of the whole
-- ledger against a digest whose head does not match fails, and so does the
-- check; the next real verification decides again
CREATE TABLE cmp_posted (id int PRIMARY KEY);
SELECT finsec.protect_table('cmp_posted');
INSERT INTO cmp_posted VALUES (1), (2);
SELECT relation, rows_sealed FROM finsec.audit_seal('cmp_posted');
CREATE TEMP TABLE cmp_d AS SELECT finsec.audit_digest() AS digest;
SELECT jsonb_path_query_array(digest, '$.chains[*].relation') @> '["public.cmp_posted"]' AS has_chain FROM cmp_d;
SELECT count(*) FILTER (WHERE NOT ok) > 0 AS failed FROM finsec.audit_verify(NULL,
       (SELECT jsonb_set(digest, '{chains}',
                         (SELECT jsonb_agg(jsonb_set(c, '{head_hash}', to_jsonb(repeat('00', 32))))
                            FROM jsonb_array_elements(digest -> 'chains') c))
          FROM cmp_d));
SELECT status, (evidence #>> '{detail,problems}')::int > 0 AS problems FROM pg_temp.chk('ledger_verified');
SELECT coalesce(bool_and(ok), true) AS ledger_ok FROM finsec.audit_verify() \gset
SELECT status = CASE WHEN :'ledger_ok'::boolean THEN 'pass' ELSE 'fail' END AS judged_by_the_last_run FROM pg_temp.chk('ledger_verified');
-- nobody writes a verification through audit_event(), not even a superuser:
-- a forged row could stand for one that never ran
SELECT finsec.audit_event('audit.verify', 'ledger', 'verify', true, 'forged', '{"relation": null}');
SELECT finsec.audit_event('key.verify', 'keyring', 'verify', true, 'forged', '{"failed": 0}');
SELECT finsec.audit_event('compliance.check', 'compliance_check', 'check', true, 'forged', '{}');
SELECT finsec.audit_event('audit.analysis', 'ledger', 'analyse', true, 'forged', '{}');
-- key rotation: a key generated and approved by two administrators
SET SESSION AUTHORIZATION regress_cmp_adm1;
SELECT finsec.key_generate('regress_cmp.k', 'mac', 'hmac-sha256') AS req \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cmp_adm2;
SELECT finsec.approve(:req) IS NOT NULL AS approved;
RESET SESSION AUTHORIZATION;
SELECT evidence -> 'overdue' @> '[{"label": "regress_cmp.k"}]' AS overdue FROM pg_temp.chk('key_rotation', '{"max_age_days": 365}');
SELECT status, evidence -> 'overdue' @> '[{"label": "regress_cmp.k", "version": 1}]' AS overdue
  FROM pg_temp.chk('key_rotation', '{"max_age_days": 0}');
-- a tampered key fails key_verify(), which records it: keys_verified fails
-- naming it; restored, the next verification decides again
SELECT kcv AS cmp_kcv FROM finsec.key_version
 WHERE key_id = (SELECT key_id FROM finsec.key WHERE label = 'regress_cmp.k') \gset
UPDATE finsec.key_version SET kcv = '000000'
 WHERE key_id = (SELECT key_id FROM finsec.key WHERE label = 'regress_cmp.k');
SELECT label, ok FROM finsec.key_verify() WHERE label = 'regress_cmp.k';
SELECT status, evidence -> 'success' AS success, evidence #> '{detail,failed_labels}' ? 'regress_cmp.k' AS names_it
  FROM pg_temp.chk('keys_verified');
UPDATE finsec.key_version SET kcv = :'cmp_kcv'
 WHERE key_id = (SELECT key_id FROM finsec.key WHERE label = 'regress_cmp.k');
SELECT coalesce(bool_and(ok), true) AS keys_ok FROM finsec.key_verify() \gset
SELECT status = CASE WHEN :'keys_ok'::boolean THEN 'pass' ELSE 'fail' END AS judged_by_the_last_run,
       evidence #> '{detail,failed_labels}' ? 'regress_cmp.k' AS names_it
  FROM pg_temp.chk('keys_verified');

-- the real verifications record themselves: the auditor runs them and the
-- checks judge those rows (their verdict depends on what the other
-- regression files did to keys and chains, so only who and what is shown)
SET ROLE regress_cmp_aud1;
SELECT count(*) > 0 AS verified FROM finsec.key_verify();
SELECT evidence ->> 'by' AS by, evidence #> '{detail,keys}' IS NOT NULL AS has_keys FROM pg_temp.chk('keys_verified');
SELECT count(*) >= 0 AS verified FROM finsec.audit_verify();
SELECT evidence ->> 'by' AS by, evidence ? 'success' AS judged FROM pg_temp.chk('ledger_verified');
-- one table's verification does not replace the whole one
SELECT count(*) >= 0 AS verified FROM finsec.audit_verify('finsec.audit');
SELECT evidence #>> '{detail,relation}' AS relation FROM pg_temp.chk('ledger_verified');
RESET ROLE;

-- ---- 9. Who may run the checks: the auditor sees, the administrator
-- cannot read the ledger, a role without a duty cannot run them at all
SET ROLE regress_cmp_aud1;
SELECT status FROM pg_temp.chk('keys_verified');
SELECT status FROM pg_temp.chk('password_verifiers');
SELECT status FROM pg_temp.chk('hba_no_trust');
SELECT status, evidence -> 'weak_classes_allowed' AS weak FROM pg_temp.chk('ssl_ciphers');
RESET ROLE;
SET ROLE regress_cmp_adm1;
SELECT * FROM pg_temp.chk('keys_verified');
SELECT * FROM pg_temp.chk('ledger_verified');
RESET ROLE;
-- an auditor whose fact function was revoked: cannot_verify, never pass
REVOKE EXECUTE ON FUNCTION finsec.compliance_hba_rules() FROM finsec_auditor;
REVOKE EXECUTE ON FUNCTION finsec.compliance_role_verifiers() FROM finsec_auditor;
REVOKE EXECUTE ON FUNCTION finsec.compliance_settings() FROM finsec_auditor;
REVOKE EXECUTE ON FUNCTION finsec.role_inventory() FROM finsec_auditor;
REVOKE EXECUTE ON FUNCTION finsec.status_keyring() FROM finsec_auditor;
SET log_statement = 'none';
SET ROLE regress_cmp_aud1;
SELECT c.name, r.status, r.evidence ->> 'needs' AS needs
  FROM unnest(ARRAY['hba_no_trust', 'hba_superuser_wide', 'admin_strong_auth', 'password_verifiers', 'ssl_protocol',
					'ssl_ciphers', 'login_valid_until', 'default_accounts', 'password_max_age', 'finsec_components']) c(name),
	   pg_temp.chk(c.name) r ORDER BY 1;
SELECT status FROM pg_temp.chk('log_ddl');       -- pgaudit needs shared_preload_libraries
RESET ROLE;
RESET log_statement;
GRANT EXECUTE ON FUNCTION finsec.compliance_hba_rules() TO finsec_auditor;
GRANT EXECUTE ON FUNCTION finsec.compliance_role_verifiers() TO finsec_auditor;
GRANT EXECUTE ON FUNCTION finsec.compliance_settings() TO finsec_auditor;
GRANT EXECUTE ON FUNCTION finsec.role_inventory() TO finsec_auditor;
GRANT EXECUTE ON FUNCTION finsec.status_keyring() TO finsec_auditor;
-- no duty: EXECUTE refused, on the checks and on the fact functions
SET ROLE regress_cmp_nobody;
SELECT pg_temp.try($$SELECT * FROM finsec._check_superusers('{}')$$);
SELECT pg_temp.try($$SELECT * FROM finsec._check_hba_no_trust('{}')$$);
SELECT pg_temp.try($$SELECT * FROM finsec.compliance_hba_rules()$$);
SELECT pg_temp.try($$SELECT * FROM finsec.compliance_role_verifiers()$$);
SELECT pg_temp.try($$SELECT * FROM finsec.compliance_settings()$$);
RESET ROLE;
-- the operator has no check either
SET ROLE regress_cmp_op1;
SELECT pg_temp.try($$SELECT * FROM finsec._check_master_key('{}')$$);
RESET ROLE;

-- ---- 10. NULL args: every check answers, with its defaults
SELECT d.check_name, r.status IS NOT NULL AS answered, jsonb_typeof(r.evidence) AS evidence
  FROM finsec.compliance_check_def d
 CROSS JOIN LATERAL pg_temp.chk(d.check_name, NULL) r
 WHERE d.check_name IN (
		'finsec_preloaded', 'finsec_components', 'master_key', 'keys_verified', 'key_rotation',
		'password_min_length', 'password_classes', 'password_max_age', 'password_encryption',
		'password_verifiers', 'login_valid_until', 'superusers', 'duty_conflicts', 'duty_two_people',
		'default_accounts', 'inactive_roles', 'privileged_attributes', 'public_privileges',
		'ssl_enabled', 'ssl_protocol', 'ssl_ciphers', 'hba_no_trust', 'hba_password_over_ssl',
		'hba_superuser_wide', 'hba_batch_clientcert', 'admin_strong_auth', 'idle_session_timeout',
		'idle_in_transaction_timeout', 'connection_limits', 'resource_limits', 'log_connections',
		'log_disconnections', 'log_ddl', 'ledger_verified', 'ledger_retention', 'ledger_capacity')
 ORDER BY 1;

-- ---- 11. The clauses each check answers, with the clause's numbers
SELECT check_name, string_agg(clause_id || CASE WHEN args = '{}' THEN '' ELSE ' ' || args::text END, ', ' ORDER BY clause_id) AS clauses
  FROM finsec.clause_check
 WHERE builtin AND check_name IN ('finsec_preloaded', 'finsec_components', 'master_key', 'keys_verified', 'key_rotation',
						'password_min_length', 'password_classes', 'password_max_age', 'password_encryption',
						'password_verifiers', 'login_valid_until', 'superusers', 'duty_conflicts', 'duty_two_people',
						'default_accounts', 'inactive_roles', 'privileged_attributes', 'public_privileges',
						'ssl_enabled', 'ssl_protocol', 'ssl_ciphers', 'hba_no_trust', 'hba_password_over_ssl',
						'hba_superuser_wide', 'hba_batch_clientcert', 'admin_strong_auth', 'idle_session_timeout',
						'idle_in_transaction_timeout', 'connection_limits', 'resource_limits', 'log_connections',
						'log_disconnections', 'log_ddl', 'ledger_verified', 'ledger_retention', 'ledger_capacity')
 GROUP BY 1 ORDER BY 1;
-- through finsec.compliance_check(): the administrator cannot read the
-- ledger (cannot_verify), the auditor can; both see the password rules
SET ROLE regress_cmp_adm1;
SELECT clause_id, check_name, status FROM finsec.compliance_check('JR/T 0117-2014', 'en')
 WHERE check_name IN ('keys_verified', 'ledger_verified', 'password_min_length', 'ledger_retention') ORDER BY 1, 2;
RESET ROLE;
SET ROLE regress_cmp_aud1;
SELECT clause_id, check_name, status FROM finsec.compliance_check('JR/T 0117-2014', 'en')
 WHERE check_name IN ('keys_verified', 'ledger_verified') ORDER BY 1, 2;
RESET ROLE;

-- ---- cleanup
DROP SCHEMA regress_cmp_s CASCADE;
ALTER ROLE regress_cmp_app RESET ALL;
ALTER ROLE regress_cmp_app IN DATABASE contrib_regression RESET ALL;
DROP ROLE regress_cmp_adm1, regress_cmp_adm2, regress_cmp_aud1, regress_cmp_aud2, regress_cmp_op1,
		  regress_cmp_op2, regress_cmp_app, regress_cmp_nobody, regress_cmp_scram, regress_cmp_forever;
