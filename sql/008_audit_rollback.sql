--
-- 008_audit_rollback: the record of an action whose effect escapes the
-- transaction survives the caller's ROLLBACK and ROLLBACK TO SAVEPOINT
-- (docs/audit.md#rollback; issue 14 class 3).  Reveals, one-time code
-- attempts (their count too), MAC computations and verifications: each
-- action has exactly one ledger row after finsec.flush_audit_events(),
-- whether its transaction committed or rolled back.
--
-- Runs in a database of its own, so that its keys (card.enc, otp, ...)
-- do not meet those of the later files.
--
SET client_min_messages = warning;
CREATE DATABASE regress_trail;
\c regress_trail
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_trail_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_trail_b LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_trail_unmask LOGIN IN ROLE finsec_app, finsec_unmask;
CREATE ROLE regress_trail_app LOGIN IN ROLE finsec_app;

SET SESSION AUTHORIZATION regress_trail_a;
SELECT finsec.key_generate('card.enc', 'encryption', 'aes-256-gcm') AS r1 \gset
SELECT finsec.key_generate('card.fp', 'fingerprint', 'hmac-sm3') AS r2 \gset
SELECT finsec.key_generate('otp', 'fingerprint', 'hmac-sha256') AS r3 \gset
SELECT finsec.key_generate('trail.mac', 'mac', 'hmac-sha256') AS r4 \gset
SET SESSION AUTHORIZATION regress_trail_b;
SELECT finsec.approve(:r1) ->> 'state', finsec.approve(:r2) ->> 'state',
	   finsec.approve(:r3) ->> 'state', finsec.approve(:r4) ->> 'state';
RESET SESSION AUTHORIZATION;

-- In this session, which created the extension and the keys, a card's
-- input loses its cached encryption key to an invalidation while it looks
-- up the fingerprint key; 0.7 freed the key there and the server crashed.
CREATE TABLE trail_cards (id int, c finsec.bank_card);
INSERT INTO trail_cards VALUES (1, '6216261000000000018');
GRANT SELECT ON trail_cards TO regress_trail_unmask;
SELECT finsec.flush_audit_events() >= 0 AS flushed_setup;

-- Reveals: committed, rolled back, rolled back to a savepoint, released
-- into a transaction that rolls back, failed later in the same statement,
-- and caught by an exception block.
SET SESSION AUTHORIZATION regress_trail_unmask;
BEGIN;
SELECT length(finsec.reveal(c, 'case', 'committed')) FROM trail_cards;
COMMIT;
BEGIN;
SELECT length(finsec.reveal(c, 'case', 'rollback')) FROM trail_cards;
ROLLBACK;
BEGIN;
SAVEPOINT s1;
SELECT length(finsec.reveal(c, 'case', 'savepoint')) FROM trail_cards;
ROLLBACK TO SAVEPOINT s1;
COMMIT;
BEGIN;
SAVEPOINT s1;
SELECT length(finsec.reveal(c, 'case', 'released')) FROM trail_cards;
RELEASE SAVEPOINT s1;
ROLLBACK;
SELECT length(finsec.reveal(c, 'case', 'error')), 1 / 0 FROM trail_cards;
DO $$
BEGIN
	PERFORM finsec.reveal(c, 'case', 'exception') FROM trail_cards;
	RAISE EXCEPTION 'undo';
EXCEPTION WHEN raise_exception THEN
	NULL;
END $$;
RESET SESSION AUTHORIZATION;

-- Before the flush only the committed reveal has its row (the buffer also
-- holds one record summing the committed transactions' key uses)...
SELECT object, count(*) FROM finsec.audit WHERE event_type = 'card.reveal' GROUP BY 1 ORDER BY 1;
SELECT waiting_here FROM finsec.audit_event_buffer();
-- ... after it, every reveal has exactly one, marked when rolled back,
-- with the revealing role and session.
SELECT finsec.flush_audit_events() AS flushed;
SELECT finsec.flush_audit_events() AS flushed_again;
SELECT object, count(*), bool_and(coalesce((detail ->> 'rolled_back')::boolean, false)) AS rolled_back,
	   min(db_user) AS db_user, min(session_user_name) AS session_user_name,
	   min(description) AS reason, min(detail ->> 'masked') AS masked
  FROM finsec.audit WHERE event_type = 'card.reveal' GROUP BY 1 ORDER BY 1;
-- The rolled-back row's sequence number is named, so the gap is explained.
SELECT count(*) AS rolled_back_with_seq FROM finsec.audit
 WHERE event_type = 'card.reveal' AND (detail ->> 'rolled_back_seq') IS NOT NULL;
SELECT waiting_here FROM finsec.audit_event_buffer();

-- One-time codes: a brute forcer cannot reset the attempt count with
-- ROLLBACK.  Ten wrong guesses, each rolled back; then the right code is
-- refused, as after five committed wrong guesses.
SELECT finsec.otp_issue('cust-9', 'login') AS code \gset
SELECT CASE WHEN :'code' = '000000' THEN '111111' ELSE '000000' END AS wrong \gset
SET SESSION AUTHORIZATION regress_trail_app;
SET trail.wrong = :'wrong';
BEGIN;
SELECT finsec.otp_verify('cust-9', 'login', :'wrong') AS wrong_guess;
ROLLBACK;
BEGIN;
SELECT finsec.otp_verify('cust-9', 'login', :'wrong') AS wrong_guess;
ROLLBACK;
DO $$
BEGIN
	FOR i IN 3 .. 10 LOOP
		BEGIN
			PERFORM finsec.otp_verify('cust-9', 'login', current_setting('trail.wrong'));
			RAISE EXCEPTION 'undo';
		EXCEPTION WHEN raise_exception THEN
			NULL;
		END;
	END LOOP;
END $$ ;
RESET SESSION AUTHORIZATION;
SELECT attempts AS attempts_in_table FROM finsec.otp WHERE subject = 'cust-9';
SELECT finsec.otp_verify('cust-9', 'login', :'code') AS right_code_after_10_rolled_back_guesses;
SELECT finsec.flush_audit_events() AS flushed;
SELECT attempts AS attempts_after_flush FROM finsec.otp WHERE subject = 'cust-9';
SELECT event_type, success, count(*), bool_and((detail ->> 'rolled_back')::boolean) AS rolled_back,
	   min(db_user) AS db_user
  FROM finsec.audit WHERE event_type IN ('otp.attempt', 'otp.exhausted') GROUP BY 1, 2 ORDER BY 1, 2;
-- A committed attempt counts once (in the table), and has no extra row.
SELECT finsec.otp_issue('cust-10', 'login') AS code \gset
BEGIN;
SELECT finsec.otp_verify('cust-10', 'login', :'code') AS committed_right_code;
COMMIT;
SELECT finsec.flush_audit_events() AS flushed;
SELECT attempts, used_at IS NOT NULL AS used FROM finsec.otp WHERE subject = 'cust-10';
SELECT count(*) AS attempt_rows FROM finsec.audit WHERE event_type = 'otp.attempt';
-- A right code in a rolled-back transaction: the attempt counts, and the
-- code (not marked used) still works once.
SELECT finsec.otp_issue('cust-11', 'login') AS code \gset
BEGIN;
SELECT finsec.otp_verify('cust-11', 'login', :'code') AS right_code;
ROLLBACK;
SELECT finsec.flush_audit_events() AS flushed;
SELECT attempts, used_at IS NULL AS unused FROM finsec.otp WHERE subject = 'cust-11';
SELECT finsec.otp_verify('cust-11', 'login', :'code') AS right_code_again;

-- Key use (MAC and MAC verification): a rolled-back transaction's uses
-- reach the ledger too, marked; committed ones once, summed per key
-- version, operation and role by the flush (count and transactions).
SET SESSION AUTHORIZATION regress_trail_app;
BEGIN;
SELECT length(finsec.mac('trail.mac', 'hmac-sha256', '\x01')) AS mac_len;
SELECT finsec.mac_verify('trail.mac', 'hmac-sha256', '\x01', '\x00000000000000000000000000000000') AS verified;
ROLLBACK;
BEGIN;
SELECT length(finsec.mac('trail.mac', 'hmac-sha256', '\x02')) AS mac_len;
COMMIT;
-- A read-only transaction's uses wait in the buffer like every committed
-- one's (0.8.0 wrote them only to the server log): the flush adds them to
-- the committed transaction's mac count.
BEGIN READ ONLY;
SELECT length(finsec.mac('trail.mac', 'hmac-sha256', '\x03')) AS mac_len;
SELECT finsec.mac_verify('trail.mac', 'hmac-sha256', '\x03', '\x00000000000000000000000000000000') AS verified;
COMMIT;
RESET SESSION AUTHORIZATION;
SELECT finsec.flush_audit_events() AS flushed;
SELECT action, (detail ->> 'count')::int AS uses, coalesce((detail ->> 'rolled_back')::boolean, false) AS rolled_back,
	   (detail ->> 'transactions')::int AS transactions, db_user,
	   (detail ->> 'first_use')::timestamptz <= (detail ->> 'last_use')::timestamptz AS time_range
  FROM finsec.audit WHERE event_type = 'key.use' AND object = 'trail.mac' ORDER BY rolled_back DESC, action;

-- Reserved event types stay finsec's however many subtransactions: 257
-- savepoints, one more, a finsec PL/pgSQL function that fails, ROLLBACK
-- TO that savepoint: 0.8.0 kept subtransaction depths for only 256 and
-- the failed function stayed "running", so the application could write
-- card.reveal for the rest of the session.
SET SESSION AUTHORIZATION regress_trail_app;
BEGIN;
\set ECHO none
\o /dev/null
SELECT 'SAVEPOINT deep' || g FROM generate_series(1, 257) g \gexec
\o
\set ECHO all
SAVEPOINT x;
SELECT finsec.record_sighting('ip', '192.0.2.1', 'device', 'd1', 'infinity');
ROLLBACK TO SAVEPOINT x;
SELECT finsec.audit_event('card.reveal', 'forged', 'reveal', true) > 0 AS forged_in_deep_savepoints;
ROLLBACK;
SELECT finsec.audit_event('card.reveal', 'forged', 'reveal', true) > 0 AS forged_after_rollback;
BEGIN;
SAVEPOINT x;
SELECT finsec.record_sighting('ip', '192.0.2.1', 'device', 'd1', 'infinity');
ROLLBACK TO SAVEPOINT x;
SELECT finsec.audit_event('card.reveal', 'forged', 'reveal', true) > 0 AS forged_after_savepoint;
COMMIT;
SELECT finsec.audit_event('card.reveal', 'forged', 'reveal', true) > 0 AS forged_after_commit;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS forged_rows FROM finsec.audit WHERE event_type = 'card.reveal' AND object = 'forged';

-- Two-person control: a refused approval rolls back with its error, and
-- its record stays (once), naming the administrator who tried.
SET SESSION AUTHORIZATION regress_trail_a;
SELECT finsec.key_generate('trail.mac2', 'mac', 'hmac-sha256') AS r5 \gset
SELECT finsec.approve(:r5);
SET SESSION AUTHORIZATION regress_trail_b;
SELECT finsec.approve(:r5) ->> 'state' AS state;
SELECT finsec.approve(:r5);
RESET SESSION AUTHORIZATION;
SELECT finsec.flush_audit_events() AS flushed;
SELECT event_type, action, success, db_user, subject, description, detail ->> 'sqlstate' AS sqlstate,
	   (detail ->> 'rolled_back')::boolean AS rolled_back
  FROM finsec.audit WHERE event_type IN ('change.refused', 'change.approve') AND detail ->> 'request_id' = :'r5'
 ORDER BY finsec_seq;

-- Refusals of the administrator check and of the apply step keep their
-- record too (0.8.0 left none): an administrator's SECURITY DEFINER
-- wrapper called by a role that is not one, and a second request for a
-- request whose apply step fails.
CREATE FUNCTION trail_approve_wrapper(id bigint) RETURNS jsonb LANGUAGE sql SECURITY DEFINER
	AS $$ SELECT finsec.approve(id) $$;
ALTER FUNCTION trail_approve_wrapper(bigint) OWNER TO regress_trail_a;
GRANT EXECUTE ON FUNCTION trail_approve_wrapper(bigint) TO regress_trail_app;
SET SESSION AUTHORIZATION regress_trail_a;
SELECT finsec.key_generate('trail.dup', 'mac', 'hmac-sha256') AS r6 \gset
SELECT finsec.key_generate('trail.dup2', 'mac', 'hmac-sha256') AS r7 \gset
RESET SESSION AUTHORIZATION;
-- (a payload its apply step refuses: here made so by the superuser)
UPDATE finsec.change_request SET payload = '{}' WHERE request_id = :r7;
SET SESSION AUTHORIZATION regress_trail_app;
SELECT trail_approve_wrapper(:r6);
SET SESSION AUTHORIZATION regress_trail_b;
SELECT finsec.approve(:r6) ->> 'state' AS state;
\set VERBOSITY terse
SELECT finsec.approve(:r7) IS NOT NULL AS approved_second;
\set VERBOSITY default
RESET SESSION AUTHORIZATION;
SELECT finsec.flush_audit_events() AS flushed;
SELECT detail ->> 'request_id' = :'r6' AS first, action, success, db_user, description, detail ->> 'sqlstate' AS sqlstate,
	   (detail ->> 'rolled_back')::boolean AS rolled_back
  FROM finsec.audit WHERE event_type = 'change.refused' AND detail ->> 'request_id' IN (:'r6', :'r7')
 ORDER BY finsec_seq;
DROP FUNCTION trail_approve_wrapper(bigint);

-- Without a free slot the action is refused (TAP 014_audit_rollback.pl
-- fills a small buffer); the buffer and its function are for finsec's roles.
SET SESSION AUTHORIZATION regress_trail_app;
SELECT finsec.flush_audit_events();
SELECT finsec.audit_event_buffer();
RESET SESSION AUTHORIZATION;

-- The chain of every row written here verifies.
SELECT count(*) > 0 AS sealed FROM finsec.audit_seal();
SELECT bool_and(ok) AS verified FROM finsec.audit_verify();

\c contrib_regression
DROP DATABASE regress_trail;
DROP ROLE regress_trail_a, regress_trail_b, regress_trail_unmask, regress_trail_app;
