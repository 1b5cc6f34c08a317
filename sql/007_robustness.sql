--
-- 007_robustness: the attacks of issue 14 classes 2 and 9 that 0.7 failed,
-- run as written, each refused with a precise SQLSTATE (docs/errors.md).
--
-- Runs in databases of its own (card keys must not exist yet in the
-- regression database: 080_cards starts without them), dropped at the end.
--
SET client_min_messages = warning;
SELECT current_database() AS regress_db \gset
DROP DATABASE IF EXISTS regress_finsec_robust;
CREATE DATABASE regress_finsec_robust TEMPLATE template0;
\c regress_finsec_robust
SET client_min_messages = warning;
SET lc_messages = 'C';
CREATE EXTENSION finsec;
CREATE ROLE regress_robust_a IN ROLE finsec_admin;
CREATE ROLE regress_robust_b IN ROLE finsec_admin;
CREATE ROLE regress_robust_app IN ROLE finsec_app;
CREATE ROLE regress_robust_unmask IN ROLE finsec_app, finsec_unmask;

-- try(sql): the SQLSTATE and message of a statement, or "ok".
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN st || ': ' || msg;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;

-- Card keys, approved by a second administrator.
SET SESSION AUTHORIZATION regress_robust_a;
SELECT finsec.key_generate('card.enc', 'encryption', 'aes-256-gcm') AS r1 \gset
SELECT finsec.key_generate('card.fp', 'fingerprint', 'hmac-sm3') AS r2 \gset
SET SESSION AUTHORIZATION regress_robust_b;
SELECT finsec.approve(:r1) ->> 'state' AS enc, finsec.approve(:r2) ->> 'state' AS fp;
RESET SESSION AUTHORIZATION;
-- The protected types' default keys (docs/protected-data.md).
SET SESSION AUTHORIZATION regress_robust_a;
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') AS r3 \gset
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sha256') AS r4 \gset
SET SESSION AUTHORIZATION regress_robust_b;
SELECT finsec.approve(:r3) ->> 'state' AS protect_enc, finsec.approve(:r4) ->> 'state' AS protect_fp;
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------
-- Class 2: NULL cards.  On 0.7 each of these three statements was a
-- segmentation fault that restarted every backend.
-- ---------------------------------------------------------------------
CREATE TABLE cards (id int, card finsec.bank_card, acct finsec.bank_account);
GRANT SELECT ON cards TO regress_robust_app, regress_robust_unmask;
-- The first cards stored by the session that approved the keys: on 0.7 the
-- fingerprint key's lookup freed the stale key cache under the encryption
-- key just taken from it, and the server crashed (use after free).
INSERT INTO cards VALUES (1, '6216261000000000018', '6228480402564890018'), (2, NULL, NULL);
SELECT finsec.mask(NULL::finsec.bank_card) AS mask_null;
SELECT id, finsec.mask(card) AS card, finsec.mask(acct, 0, 4) AS acct FROM cards ORDER BY id;
-- A NULL reveals nothing and writes no audit row.
SELECT count(*) AS reveals_before FROM finsec.audit WHERE event_type LIKE '%.reveal' \gset
SET SESSION AUTHORIZATION regress_robust_unmask;
SELECT finsec.reveal(NULL::finsec.bank_card) AS reveal_null, finsec.reveal(NULL::finsec.bank_account, 'r', 'c') AS reveal_null_account;
SELECT id, finsec.reveal(card, 'robustness') IS NULL AS revealed_null FROM cards WHERE card IS NULL;
RESET SESSION AUTHORIZATION;
SELECT count(*) = :reveals_before AS no_reveal_rows FROM finsec.audit WHERE event_type LIKE '%.reveal';
-- Without finsec_unmask, NULL is refused like any number: the refusal does
-- not depend on the data.
SET SESSION AUTHORIZATION regress_robust_app;
SELECT pg_temp.try($$SELECT finsec.reveal(NULL::finsec.bank_card)$$) AS reveal_null_app,
	   pg_temp.try($$SELECT finsec.reveal(NULL::finsec.bank_account)$$) AS reveal_null_account_app;
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------
-- Class 9: OIDs that name no relation.  A regclass given as a number is
-- not checked by its input function; 0.7 answered XX000 "could not open
-- relation with OID ...", "cache lookup failed for relation 0" or a
-- message naming "(null)".  Now 42P01 for every function that takes one.
-- ---------------------------------------------------------------------
CREATE TABLE pay (customer text, amount numeric, at timestamptz, device text);
SELECT finsec.enable_risk('pay', customer => 'customer', amount => 'amount', posted_at => 'at', device => 'device');
INSERT INTO finsec.risk_ruleset (version, challenge_at, review_at, block_at) VALUES (1, 10, 20, 30);
INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category, mode) VALUES
 (1, 'cust_1h', 'velocity', '{"entity": "customer", "window": "1 hour", "max": 2}', 12, 'VEL', 'account_takeover', 'enforce');
UPDATE finsec.risk_ruleset SET state = 'active', deployed_by = current_user, deployed_at = now() WHERE version = 1;
CREATE TABLE gone (id int);
SELECT 'gone'::regclass::oid AS gone \gset
DROP TABLE gone;
SELECT pg_temp.try($$SELECT finsec.risk_score('c1', 1, payments => $$ || :gone || ')')
	   LIKE '42P01: relation with OID % does not exist' AS dropped_table_42p01;
SELECT call, pg_temp.try('SELECT ' || call) AS outcome
  FROM (VALUES
	($$finsec.risk_score('c1', 1, payments => 0)$$),
	($$finsec.risk_score('c1', 1, payments => 4294967295)$$),
	($$finsec.risk_index_advice(0)$$),
	($$finsec.protect_table(0)$$),
	($$finsec.protect_table(4294967295)$$),
	($$finsec.audit_seal(4294967295)$$),
	($$finsec.audit_purge(4294967295, '2000-01-01')$$),
	($$finsec.enable_order_guard(4294967295, 'status')$$),
	($$finsec.disable_order_guard(0)$$),
	($$finsec.enable_refund_guard(4294967295, 'pay', 'r', 'a')$$),
	($$finsec.enable_refund_guard('pay', 4294967295, 'r', 'a')$$),
	($$finsec.disable_refund_guard(4294967295)$$),
	($$finsec.enable_limits(4294967295, 'customer', 'amount')$$),
	($$finsec.disable_limits(0)$$),
	($$finsec.enable_risk(4294967295, 'customer', 'amount', 'at')$$),
	($$finsec.disable_risk(0)$$)) v(call);
-- A registered table that was dropped: scoring without naming it degrades
-- (the history rule cannot be evaluated) rather than failing.
SELECT decision, degraded FROM finsec.risk_score('c1', 1);
-- (review of 0.8) A lookup of a registered table that fails its type
-- checks (the owner altered a column's type) left a table entry in
-- CacheMemoryContext each time: the cache's memory grew with every call.
ALTER TABLE pay ALTER amount TYPE text;
SELECT pg_temp.try($$SELECT finsec.risk_score('c1', 1, payments => 'pay')$$) AS altered_type;
SELECT coalesce(sum(total_bytes), 0) AS hist_before FROM pg_backend_memory_contexts
 WHERE name = 'finsec risk history' \gset
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		PERFORM pg_temp.try($q$SELECT finsec.risk_score('c1', 1, payments => 'pay')$q$);
	END LOOP;
END $$;
SELECT coalesce(sum(total_bytes), 0) - :hist_before < 8192 AS hist_cache_no_growth
  FROM pg_backend_memory_contexts WHERE name = 'finsec risk history';
ALTER TABLE pay ALTER amount TYPE numeric USING amount::numeric;
SELECT decision FROM finsec.risk_score('c1', 1, payments => 'pay');

-- ---------------------------------------------------------------------
-- Class 9: finsec's trigger functions attached by hand, the wrong way.
-- 0.8 answered with a trigger protocol error (39P01) at the first INSERT;
-- since its review finsec attaches its trigger functions itself, and
-- CREATE TRIGGER with one of them is refused (S9U07), superuser included.
-- ---------------------------------------------------------------------
CREATE TABLE t (id int);
SELECT call, pg_temp.try('CREATE TRIGGER wrong ' || call || ' ON t ' || rest) AS outcome
  FROM (VALUES
	('AFTER INSERT', 'FOR EACH ROW EXECUTE FUNCTION finsec.limit_trigger()'),
	('BEFORE INSERT', 'FOR EACH ROW EXECUTE FUNCTION finsec.limit_trigger()'),
	('BEFORE INSERT', 'FOR EACH STATEMENT EXECUTE FUNCTION finsec.order_guard_trigger()'),
	('BEFORE INSERT', 'FOR EACH ROW EXECUTE FUNCTION finsec.order_guard_trigger()'),
	('AFTER INSERT', 'FOR EACH ROW EXECUTE FUNCTION finsec.refund_guard_trigger()')) v(call, rest);
SELECT pg_temp.try('INSERT INTO t VALUES (1)') AS insert_without_them;
-- An internal helper called directly with a change kind it does not apply.
SELECT pg_temp.try($$SELECT finsec._limit_policy_write(1, 'limits.bogus', 'p', '{}')$$) AS unknown_kind;

-- ---------------------------------------------------------------------
-- Type input functions are total: odd, empty, huge and non-ASCII text is
-- refused with a data exception (22xxx), never an internal error or a
-- crash.  Every input function of the extension's types, from the catalog.
-- ---------------------------------------------------------------------
CREATE TEMP TABLE odd_input (s text);
INSERT INTO odd_input VALUES (''), (' '), ('-'), ('.'), ('~'), ('~fs1.'), ('x~fs1.AAAA'),
	('6216261000000000018~fs1.' || repeat('A', 200)), ('0'), ('00000000000000000000'),
	(repeat('9', 100000)), (repeat('1', 1000000)), ('１２３'), (E'12\t34'), ('NaN'), ('Infinity CNY'),
	('-0.00 CNY'), ('1e400 CNY'), ('99999999999999999999.99 CNY'), ('1.005 JPY'), ('CNY'), ('1 XXX'),
	('91350100M000100Y4'), ('91350100M000100Y43 '), ('11010519491231002X'), ('110105194912310021'),
	('+86 138 0013 8000'), ('+8613800138000'), ('8613800138000'), (chr(1)), (repeat('中', 50));
SELECT count(DISTINCT t.oid) >= 6 AS at_least_6_types, count(*) >= 150 AS at_least_150_inputs,
	   count(*) FILTER (WHERE pg_temp.try(format('SELECT %L::%s', i.s, t.oid::regtype)) = 'ok') > 0 AS some_accepted
  FROM pg_type t JOIN pg_proc p ON p.oid = t.typinput, odd_input i
 WHERE t.typnamespace = 'finsec'::regnamespace AND p.pronamespace = 'finsec'::regnamespace;
SELECT t.oid::regtype AS type, left(i.s, 30) AS input, r.outcome
  FROM pg_type t JOIN pg_proc p ON p.oid = t.typinput, odd_input i,
	   LATERAL (SELECT pg_temp.try(format('SELECT %L::%s', i.s, t.oid::regtype)) AS outcome) r
 WHERE t.typnamespace = 'finsec'::regnamespace AND p.pronamespace = 'finsec'::regnamespace
   AND r.outcome <> 'ok' AND left(r.outcome, 2) <> '22'
 ORDER BY 1::text, 2;

\c :regress_db
SET client_min_messages = warning;
DROP DATABASE regress_finsec_robust WITH (FORCE);

-- ---------------------------------------------------------------------
-- An EUC_CN database (the Chinese server encoding; GBK and GB18030 are
-- client-only).  0.7's install scripts, UTF-8 with Chinese risk category
-- names, failed there ("invalid byte sequence for encoding EUC_CN"): the
-- control file now declares encoding = UTF8.  In it, a payment MAC field
-- within 64 KB in EUC_CN but longer in UTF-8 (the bytes the MAC covers) is
-- refused, as a longer field always was.
-- ---------------------------------------------------------------------
DROP DATABASE IF EXISTS regress_finsec_euc;
CREATE DATABASE regress_finsec_euc TEMPLATE template0 ENCODING 'EUC_CN' LC_COLLATE 'C' LC_CTYPE 'C';
\c regress_finsec_euc
SET client_min_messages = warning;
SET lc_messages = 'C';
SET client_encoding = 'UTF8';
CREATE EXTENSION finsec;
SELECT count(*) AS categories, min(description) LIKE '%: %' AS readable FROM finsec.risk_category;
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN st || ': ' || msg;
END $$;
-- 21845 characters: 43690 bytes here, 65535 in UTF-8 (accepted, length
-- prefix and bytes in UTF-8); 32768: 65536 here, 98304 in UTF-8 (refused).
SELECT length(finsec.payment_mac_input('M1', repeat('中', 21845), '2026-11-22 10:30:00+08', 1)) AS utf8_len,
	   substr(finsec.payment_mac_input('M1', '中', '2026-11-22 10:30:00+08', 1), 12, 7) AS order_field;
SELECT pg_temp.try($$SELECT finsec.payment_mac_input('M1', repeat('中', 32768), now(), 1)$$) AS over_64kb_in_utf8;
\c :regress_db
SET client_min_messages = warning;
DROP DATABASE regress_finsec_euc WITH (FORCE);
DROP ROLE regress_robust_a, regress_robust_b, regress_robust_app, regress_robust_unmask;
SELECT 1 AS server_up;
