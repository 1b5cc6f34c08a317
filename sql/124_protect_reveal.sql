--
-- 124_protect_reveal: the reveal gate every finsec.reveal() goes through
-- (docs/protected-data.md#reveal; D3, 002 3.2.7): finsec_unmask only,
-- NULL reveals nothing but is still refused to others, a budget per
-- SESSION user (SET ROLE shares it, superusers are counted) whose refusal
-- (S9P20) leaves one durable reveal.refused row per session user and
-- minute, kept through the caller's ROLLBACK; card and account reveals
-- keep their card.reveal / account.reveal rows.
--
-- Runs in a database of its own, so that its keys do not meet those of
-- the other files.
--
SET client_min_messages = warning;
CREATE DATABASE regress_reveal;
\c regress_reveal
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_rv_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_rv_b LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_rv_unmask LOGIN IN ROLE finsec_app, finsec_unmask;
CREATE ROLE regress_rv_other LOGIN IN ROLE finsec_app, finsec_unmask;
CREATE ROLE regress_rv_plain LOGIN IN ROLE finsec_app;
-- A role regress_rv_unmask can SET ROLE to, able to reveal on its own.
CREATE ROLE regress_rv_alias IN ROLE finsec_unmask;
GRANT regress_rv_alias TO regress_rv_unmask;
CREATE ROLE regress_rv_super SUPERUSER;

SET SESSION AUTHORIZATION regress_rv_a;
SELECT finsec.key_generate('card.enc', 'encryption', 'aes-256-gcm') AS r1 \gset
SELECT finsec.key_generate('card.fp', 'fingerprint', 'hmac-sm3') AS r2 \gset
SET SESSION AUTHORIZATION regress_rv_b;
SELECT finsec.approve(:r1) ->> 'state', finsec.approve(:r2) ->> 'state';
RESET SESSION AUTHORIZATION;

CREATE TABLE rv_cards (id int PRIMARY KEY, card finsec.bank_card, acct finsec.bank_account);
INSERT INTO rv_cards VALUES (1, '6216261000000000018', '6228480402564890018'),
							(2, '4111111111111111', NULL),
							(3, '4222222222222', NULL);
GRANT SELECT ON rv_cards TO regress_rv_unmask, regress_rv_other, regress_rv_plain, regress_rv_alias;
SELECT finsec.flush_audit_events() >= 0 AS flushed_setup;

-- The settings: a superuser's, not the revealer's to change.
SHOW finsec.reveal_budget;
SHOW finsec.protect_shredded_read;
SET SESSION AUTHORIZATION regress_rv_unmask;
SET finsec.reveal_budget = 0;
RESET SESSION AUTHORIZATION;

-- Without finsec_unmask: refused, a NULL too (the refusal does not depend
-- on the data), and nothing counted or written.
SET SESSION AUTHORIZATION regress_rv_plain;
SELECT finsec.reveal(card) FROM rv_cards WHERE id = 1;
SELECT finsec.reveal(NULL::finsec.bank_card);
SELECT finsec.reveal(acct) FROM rv_cards WHERE id = 2;
RESET SESSION AUTHORIZATION;

-- A budget of 3 a minute for this session (set by the superuser before
-- becoming the revealer; it drains one reveal every 20 seconds).
SET finsec.reveal_budget = 3;
SET SESSION AUTHORIZATION regress_rv_unmask;
SELECT budget, level FROM finsec.reveal_stats();
SELECT id, length(finsec.reveal(card, 'case 1', 'rv_cards id=' || id)) FROM rv_cards ORDER BY id;
SELECT budget, level >= 2.9 AND level <= 3 AS full FROM finsec.reveal_stats();
-- A NULL reveals nothing, is not counted, and so is not refused.
SELECT finsec.reveal(acct) IS NULL AS null_revealed FROM rv_cards WHERE id = 2;
SELECT finsec.reveal(NULL::finsec.bank_account, 'nothing') IS NULL AS null_revealed;
-- The fourth value is refused, inside a transaction that then rolls back.
BEGIN;
SELECT finsec.reveal(card, 'case 1', 'refused in a rollback') FROM rv_cards WHERE id = 1;
ROLLBACK;
\set VERBOSITY sqlstate
SELECT finsec.reveal(card, 'case 1', 'its SQLSTATE') FROM rv_cards WHERE id = 1;
\set VERBOSITY default
-- SET ROLE to a role that may reveal on its own: the session user's budget.
SET ROLE regress_rv_alias;
SELECT finsec.reveal(card, 'case 1', 'as alias') FROM rv_cards WHERE id = 2;
RESET ROLE;
-- A savepoint and an exception block do not reset it either.
BEGIN;
SAVEPOINT s1;
SELECT finsec.reveal(acct, 'case 1', 'in a savepoint') FROM rv_cards WHERE id = 1;
ROLLBACK TO SAVEPOINT s1;
COMMIT;
DO $$
BEGIN
	PERFORM finsec.reveal(card, 'case 1', 'in an exception block') FROM rv_cards WHERE id = 1;
EXCEPTION WHEN SQLSTATE 'S9P20' THEN
	RAISE WARNING 'refused: %', SQLSTATE;
END $$;
RESET SESSION AUTHORIZATION;

-- Another session user has a budget of its own.
SET SESSION AUTHORIZATION regress_rv_other;
SELECT length(finsec.reveal(card, 'case 2')) FROM rv_cards WHERE id = 1;
RESET SESSION AUTHORIZATION;

-- Superusers are counted too: audited, not exempt.
SET SESSION AUTHORIZATION regress_rv_super;
SET finsec.reveal_budget = 1;
SELECT length(finsec.reveal(card, 'super')) FROM rv_cards WHERE id = 1;
SELECT length(finsec.reveal(card, 'super again')) FROM rv_cards WHERE id = 1;
RESET finsec.reveal_budget;
RESET SESSION AUTHORIZATION;

-- Protected values go through the same gate and share the same budget:
-- a session user's card and name reveals count together.
SET SESSION AUTHORIZATION regress_rv_a;
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') AS r3 \gset
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sha256') AS r4 \gset
SELECT finsec.protect_policy_create('rv_name', mask => 'name') > 0 AS created;
SET SESSION AUTHORIZATION regress_rv_b;
SELECT finsec.approve(:r3) ->> 'state', finsec.approve(:r4) ->> 'state';
RESET SESSION AUTHORIZATION;
CREATE TABLE rv_people (id int PRIMARY KEY, name finsec.protected_text(rv_name));
INSERT INTO rv_people VALUES (1, '欧阳娜娜'), (2, 'Zhang Wei'), (3, NULL);
GRANT SELECT ON rv_people TO regress_rv_other, regress_rv_plain;
SET finsec.reveal_budget = 3;
SET SESSION AUTHORIZATION regress_rv_other;
-- regress_rv_other revealed one card above: two names left, then refused.
SELECT id, finsec.reveal(name, 'kyc', 'rv_people id=' || id) FROM rv_people WHERE id <= 2 ORDER BY id;
SELECT finsec.reveal(name) IS NULL AS null_name FROM rv_people WHERE id = 3;
\set VERBOSITY sqlstate
SELECT finsec.reveal(name, 'kyc') FROM rv_people WHERE id = 1;
SELECT finsec.reveal(card, 'after names') FROM rv_cards WHERE id = 1;
\set VERBOSITY default
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rv_plain;
SELECT finsec.reveal(name) FROM rv_people WHERE id = 1;
SELECT finsec.reveal(NULL::finsec.protected_text);
RESET SESSION AUTHORIZATION;
RESET finsec.reveal_budget;

-- 0 is no limit (a superuser's setting).
SET finsec.reveal_budget = 0;
SET SESSION AUTHORIZATION regress_rv_unmask;
SELECT count(finsec.reveal(card, 'unlimited')) FROM rv_cards;
RESET SESSION AUTHORIZATION;
RESET finsec.reveal_budget;

-- The ledger, after the flush: one reveal.refused row per session user in
-- this minute (the refused transaction rolled back: its row is kept and
-- marked), each shown card with its card.reveal row, no digits anywhere.
SELECT finsec.flush_audit_events() >= 1 AS flushed;
SELECT session_user_name, db_user, object, action, success, description,
	   detail ->> 'event' AS event, detail ->> 'budget' AS budget,
	   coalesce((detail ->> 'rolled_back')::boolean, false) AS rolled_back
  FROM finsec.audit WHERE event_type = 'reveal.refused' ORDER BY finsec_seq;
SELECT event_type, session_user_name, db_user, object, description,
	   coalesce((detail ->> 'rolled_back')::boolean, false) AS rolled_back
  FROM finsec.audit WHERE event_type IN ('card.reveal', 'account.reveal', 'protect.reveal') ORDER BY finsec_seq;
SELECT detail ->> 'kind' AS kind, detail ->> 'policy' AS policy, detail ->> 'masked' AS masked,
	   length(detail ->> 'fingerprint') AS fp_hex, detail ->> 'context' AS context
  FROM finsec.audit WHERE event_type = 'protect.reveal' ORDER BY finsec_seq;
SELECT count(*) AS names_in_ledger FROM finsec.audit WHERE detail::text ~ '欧阳娜娜|Zhang Wei' OR description ~ '欧阳娜娜|Zhang Wei';
SELECT count(*) AS digits_in_ledger FROM finsec.audit
 WHERE detail::text ~ '6216261000000000018|4111111111111111|6228480402564890018'
	OR description ~ '6216261000000000018|4111111111111111|6228480402564890018';
SELECT revealed >= 8 AS revealed, refused >= 5 AS refused FROM finsec.reveal_stats();

-- The stats are not for everyone.
SET SESSION AUTHORIZATION regress_rv_plain;
SELECT * FROM finsec.reveal_stats();
RESET SESSION AUTHORIZATION;

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_reveal;
DROP ROLE regress_rv_a, regress_rv_b, regress_rv_unmask, regress_rv_other, regress_rv_plain,
	regress_rv_alias, regress_rv_super;
