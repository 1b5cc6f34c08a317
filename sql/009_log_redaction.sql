--
-- 009_log_redaction: finsec's event namespaces reserved, the calling role
-- recorded through finsec's SECURITY DEFINER functions, key imports that
-- the server may have logged refused, and the risk rate limit counted per
-- session user (issue 14 class 8; docs/audit.md, keyring.md, risk.md).
-- What reaches the server log is checked by TAP 009_log_redaction.pl.
-- Runs in a database of its own (its keys and ledger rows stay there).
--
SET client_min_messages = warning;
CREATE DATABASE regress_log;
\c regress_log
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_log_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_log_app2 IN ROLE finsec_app;
GRANT regress_log_app2 TO regress_log_app;
CREATE ROLE regress_log_adm1 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_log_adm2 LOGIN IN ROLE finsec_admin;
\set VERBOSITY default

-- The application cannot write finsec's own event types, whatever the
-- subject: no forged card.reveal or audit.purge.
SET SESSION AUTHORIZATION regress_log_app;
SELECT finsec.audit_event('card.reveal', subject => 'victim', object => 'ctx', action => 'reveal');
\echo :LAST_ERROR_SQLSTATE
SELECT finsec.audit_event('audit.purge', success => true);
SELECT finsec.audit_event('key.use');
SELECT finsec.audit_event('otp');
SELECT finsec.audit_event('change.approve');
-- ... its own namespaces are free, also when they begin with the same letters.
SELECT finsec.audit_event('cards.imported') > 0 AS written, finsec.audit_event('app.card.reveal') > 0 AS written;
RESET SESSION AUTHORIZATION;
-- Nor through a SECURITY DEFINER wrapper of its own.
CREATE FUNCTION regress_log_forge(t text) RETURNS bigint
	LANGUAGE sql SECURITY DEFINER AS $$ SELECT finsec.audit_event(t) $$;
ALTER FUNCTION regress_log_forge(text) OWNER TO regress_log_app;
SET SESSION AUTHORIZATION regress_log_app;
SELECT regress_log_forge('audit.purge');
SELECT regress_log_forge('app.forge') > 0 AS written;
RESET SESSION AUTHORIZATION;
DROP FUNCTION regress_log_forge(text);
-- Nor from a PL/pgSQL block of its own.
SET SESSION AUTHORIZATION regress_log_app;
DO $$ BEGIN PERFORM finsec.audit_event('card.reveal', subject => 'victim'); END $$;
RESET SESSION AUTHORIZATION;
-- finsec's own PL/pgSQL functions may, also when they run as their caller
-- (the risk ruleset guard below writes risk.* as the administrator); a
-- finsec function that failed inside the caller's exception block leaves
-- no such right behind.
SET SESSION AUTHORIZATION regress_log_adm1;
DO $$
BEGIN
	BEGIN
		PERFORM finsec.approve(999999);
	EXCEPTION WHEN undefined_object THEN
		NULL;
	END;
	PERFORM finsec.audit_event('card.reveal', subject => 'victim');
END $$;
RESET SESSION AUTHORIZATION;
-- A superuser may.
SELECT finsec.audit_event('audit.note', description => 'by a superuser') > 0 AS written;
SELECT event_type, db_user FROM finsec.audit
 WHERE event_type IN ('card.reveal', 'audit.purge', 'key.use', 'otp', 'change.approve', 'cards.imported',
					  'app.card.reveal', 'app.forge', 'audit.note')
   AND finsec_seq > (SELECT coalesce(max(finsec_seq), 0) - 20 FROM finsec.audit)
 ORDER BY finsec_seq;

-- Through finsec's SECURITY DEFINER functions (approve, reject) the
-- ledger names the administrator who called, not the extension's owner.
SET SESSION AUTHORIZATION regress_log_adm1;
SELECT finsec.key_generate('regress.log.mac', 'mac', 'hmac-sha256') AS r \gset
SELECT finsec.key_generate('regress.log.mac2', 'mac', 'hmac-sha256') AS r2 \gset
SET SESSION AUTHORIZATION regress_log_adm2;
SELECT finsec.approve(:r) ->> 'state' AS state;
SELECT finsec.reject(:r2, 'not needed');
RESET SESSION AUTHORIZATION;
SELECT event_type, db_user, session_user_name, subject FROM finsec.audit
 WHERE event_type IN ('change.approve', 'change.reject') AND detail ->> 'request_id' IN (:'r', :'r2')
 ORDER BY finsec_seq;

-- Key import: while log_statement is on, a statement whose text does not
-- name key_import (a prepared statement, a wrapper) may have been logged
-- with the key before key_import ran: refused, nothing imported.
SET log_statement = 'all';
SET SESSION AUTHORIZATION regress_log_adm1;
PREPARE regress_imp(bytea) AS SELECT finsec.key_import('regress.log.imp', 'mac', 'hmac-sha256', $1) > 0;
EXECUTE regress_imp('\x0f0e0d0c0b0a09080706050403020100');
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION pg_temp.wrap(k bytea) RETURNS bigint LANGUAGE sql
	AS $$ SELECT finsec.key_import('regress.log.imp', 'mac', 'hmac-sha256', k) $$;
SELECT pg_temp.wrap('\x0f0e0d0c0b0a09080706050403020100');
SELECT count(*) AS imported FROM finsec.key_inventory WHERE label = 'regress.log.imp';
-- A statement naming key_import is hidden from every log line: allowed.
SELECT finsec.key_import('regress.log.imp', 'mac', 'hmac-sha256', '\x0f0e0d0c0b0a09080706050403020100') > 0 AS requested;
RESET SESSION AUTHORIZATION;
RESET log_statement;
SET SESSION AUTHORIZATION regress_log_adm1;
-- With log_statement off, any way works.
EXECUTE regress_imp('\x1f0e0d0c0b0a09080706050403020100');
DEALLOCATE regress_imp;
RESET SESSION AUTHORIZATION;

-- The risk rate limit counts per session user: SET ROLE to another role
-- does not give a session a second bucket.
SET finsec.risk_rate_limit = 3;
SET SESSION AUTHORIZATION regress_log_app;
CREATE FUNCTION pg_temp.score() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM finsec.risk_score(customer => 'rate', amount => 1);
	RETURN 'scored';
EXCEPTION WHEN OTHERS THEN
	RETURN CASE WHEN SQLSTATE = 'S9X01' THEN 'rate limited' ELSE 'not rate limited' END;
END $$;
SELECT pg_temp.score() AS first, pg_temp.score() AS second;
SET ROLE regress_log_app2;
SELECT pg_temp.score() AS third, pg_temp.score() AS fourth_as_other_role;
RESET ROLE;
RESET SESSION AUTHORIZATION;
RESET finsec.risk_rate_limit;

\c contrib_regression
DROP DATABASE regress_log;
DROP ROLE regress_log_app2, regress_log_app, regress_log_adm1, regress_log_adm2;
