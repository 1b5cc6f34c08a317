--
-- 080_cards: protected bank card and account numbers (docs/cards.md;
-- D1, D2, D3).  Values carry random nonces, so this file prints masks,
-- fingerprint-based comparisons and booleans, never raw values.
--
SET client_min_messages = warning;
CREATE ROLE regress_teller LOGIN IN ROLE finsec_app;
CREATE ROLE regress_unmasker LOGIN IN ROLE finsec_app, finsec_unmask;

-- Without its keys the type refuses to store anything.
SELECT '6216261000000000018'::finsec.bank_card;
SELECT component, ok FROM finsec.status() WHERE component = 'card_keys';

-- card.enc and card.fp, under two-person control (030 created the admins).
SET SESSION AUTHORIZATION regress_alice;
SELECT finsec.key_generate('card.enc', 'encryption', 'aes-256-gcm') AS r1 \gset
SELECT finsec.key_generate('card.fp', 'fingerprint', 'hmac-sm3') AS r2 \gset
SET SESSION AUTHORIZATION regress_bob;
SELECT finsec.approve(:r1) ->> 'state', finsec.approve(:r2) ->> 'state';
RESET SESSION AUTHORIZATION;
SELECT component, ok FROM finsec.status() WHERE component = 'card_keys';

-- Valid input: the published example card, UnionPay 62 and Visa test
-- numbers, with spaces or hyphens between digits.
SELECT finsec.mask(c) AS masked, (finsec.number_info(c)).*
  FROM (VALUES ('6216261000000000018'::finsec.bank_card), ('6216 2610 0000 0000 018'),
			   (' 6216-2610-0000-0000-018 '), ('4111111111111111'), ('4222222222222'),
			   ('6212345678901265')) v(c);
-- Accounts: 8 to 32 digits, no check digit; at least half always hidden.
SELECT finsec.mask(a) AS masked, (finsec.number_info(a)).kind, (finsec.number_info(a)).bin
  FROM (VALUES ('12345678'::finsec.bank_account), ('1234567890123'), ('6228480402564890018'),
			   ('12345678901234567890123456789012')) v(a);

-- Invalid input: a precise message, never the number.
SELECT ''::finsec.bank_card;
SELECT '   '::finsec.bank_card;
SELECT '6216261000000000017'::finsec.bank_card;           -- Luhn
SELECT '62162610000000000180'::finsec.bank_card;          -- 20 digits
SELECT '621626100000'::finsec.bank_card;                  -- 12 digits
SELECT '6216x261000000000018'::finsec.bank_card;
SELECT '6216--261000000000018'::finsec.bank_card;         -- two separators
SELECT '-6216261000000000018'::finsec.bank_card;
SELECT '6216261000000000018-'::finsec.bank_card;
SELECT '６２１６261000000000018'::finsec.bank_card;        -- fullwidth digits
SELECT repeat('1', 300)::finsec.bank_card;
SELECT '1234567'::finsec.bank_account;
SELECT repeat('1', 33)::finsec.bank_account;
SELECT 'CNY 12.00'::finsec.bank_account;

-- Lenient mode for legacy and test data: UnionPay's own test credit card
-- 6221558812340000 fails Luhn; accepted only when asked, and marked.
SELECT '6221558812340000'::finsec.bank_card;
SET finsec.card_lenient = on;
SELECT finsec.mask(c), (finsec.number_info(c)).luhn_valid FROM (SELECT '6221558812340000'::finsec.bank_card AS c) s;
SELECT '6221x558812340000'::finsec.bank_card;             -- lenient is about Luhn only
RESET finsec.card_lenient;

-- Masking policy: never more than the first 6 and the last four (8 is asked, 6 shown).
SELECT finsec.mask(c, 0, 4) AS last4_only, finsec.mask(c, 8, 4) AS bin8, finsec.mask(c, 6, 4, true) AS grouped,
	   finsec.mask(c, 8, 0) AS bin_only
  FROM (SELECT '6216261000000000018'::finsec.bank_card AS c) s;
SELECT finsec.mask('4222222222222'::finsec.bank_card, 8, 4) AS thirteen_digits_bin6;
SET finsec.card_mask_first = 4;
SET finsec.card_mask_group = on;
SELECT finsec.mask('6216261000000000018'::finsec.bank_card) AS policy_4_4_grouped;
RESET finsec.card_mask_first;
RESET finsec.card_mask_group;
SET finsec.card_mask_first = 9;
SELECT finsec.mask('6216261000000000018'::finsec.bank_card, 9, 4);
SELECT finsec.mask('6216261000000000018'::finsec.bank_card, 6, 5);

-- The text form: the masked number, then the sealed value.
SELECT split_part('6216261000000000018'::finsec.bank_card::text, '~', 1) AS shown,
	   position('6216261000000000018' IN '6216261000000000018'::finsec.bank_card::text) AS clear_digits_at,
	   length('6216261000000000018'::finsec.bank_card::text) AS length;
-- It reads back to the same number; an altered sealed form is refused.
SELECT s::finsec.bank_card = '6216261000000000018'::finsec.bank_card AS round_trip
  FROM (SELECT '6216261000000000018'::finsec.bank_card::text AS s) t;
SELECT ('000000*********0000' || substr(s, position('~' IN s)))::finsec.bank_card = '6216261000000000018'::finsec.bank_card
	   AS masked_part_is_informational
  FROM (SELECT '6216261000000000018'::finsec.bank_card::text AS s) t;
CREATE FUNCTION pg_temp.flip(s text, pos int) RETURNS text LANGUAGE sql AS $$
	SELECT overlay(s placing CASE WHEN substr(s, pos, 1) = 'A' THEN 'B' ELSE 'A' END FROM pos FOR 1)
$$;
SELECT pg_temp.flip(s, position('~fs1.' IN s) + 12)::finsec.bank_card  -- a clear field
  FROM (SELECT '6216261000000000018'::finsec.bank_card::text AS s) t;
SELECT pg_temp.flip(s, length(s) - 30)::finsec.bank_card                -- the ciphertext
  FROM (SELECT '6216261000000000018'::finsec.bank_card::text AS s) t;
SELECT substr(s, 1, length(s) - 3)::finsec.bank_card                    -- truncated
  FROM (SELECT '6216261000000000018'::finsec.bank_card::text AS s) t;
SELECT s::finsec.bank_account                                          -- a card is not an account
  FROM (SELECT '6216261000000000018'::finsec.bank_card::text AS s) t;
SELECT 'xx~fs1.!!!!'::finsec.bank_card;

-- Equality, unique indexes, joins and grouping work on the fingerprint.
CREATE TABLE regress_cards (id int PRIMARY KEY, card finsec.bank_card UNIQUE, acct finsec.bank_account);
GRANT SELECT, INSERT ON regress_cards TO regress_teller, regress_unmasker;
SET SESSION AUTHORIZATION regress_teller;
INSERT INTO regress_cards VALUES (1, '6216261000000000018', '6228480402564890018'),
								 (2, '4111111111111111', '12345678'),
								 (3, '4222222222222', NULL);
\set VERBOSITY terse
INSERT INTO regress_cards VALUES (4, '6216 2610 0000 0000 018', NULL);   -- the same card
\set VERBOSITY default
SELECT id, finsec.mask(card), finsec.mask(acct) FROM regress_cards WHERE card = '4111-1111-1111-1111' ORDER BY id;
SELECT count(*) FROM regress_cards a JOIN regress_cards b ON a.card = b.card;
SELECT count(DISTINCT card), count(*) FROM regress_cards;
SELECT finsec.reveal(card) FROM regress_cards WHERE id = 1;   -- no finsec_unmask
RESET SESSION AUTHORIZATION;
SET enable_seqscan = off;
SET plan_cache_mode = force_generic_plan;
PREPARE by_card(finsec.bank_card) AS SELECT id FROM regress_cards WHERE card = $1;
EXPLAIN (COSTS OFF) EXECUTE by_card('4111111111111111');
EXECUTE by_card('4111111111111111');
RESET plan_cache_mode;
SELECT id FROM regress_cards WHERE card = '4111111111111111';
RESET enable_seqscan;
SET enable_hashjoin = on;
SELECT count(*) FROM regress_cards a JOIN regress_cards b USING (card);

-- CREATE TABLE AS and COPY keep the number.
CREATE TABLE regress_cards_copy AS SELECT * FROM regress_cards;
GRANT SELECT ON regress_cards_copy TO regress_unmasker;
CREATE TABLE regress_cards_text (id int, card text);
INSERT INTO regress_cards_text SELECT id, card::text FROM regress_cards;
SELECT count(*) AS clear_in_text FROM regress_cards_text WHERE card LIKE '%6216261000000000018%';
SELECT count(*) AS equal_after_ctas_and_text
  FROM regress_cards a JOIN regress_cards_copy b ON a.card = b.card JOIN regress_cards_text t ON t.card::finsec.bank_card = a.card;

-- Reveal: finsec_unmask only, every call in the ledger with reason and context.
SET SESSION AUTHORIZATION regress_unmasker;
SELECT id, finsec.reveal(card, 'chargeback 2026-118', 'regress_cards id=' || id) FROM regress_cards ORDER BY id;
SELECT finsec.reveal(acct, 'payout check') FROM regress_cards WHERE id = 1;
RESET SESSION AUTHORIZATION;
SELECT event_type, object, action, description, session_user_name, detail - 'fingerprint' AS detail
  FROM finsec.audit WHERE event_type LIKE '%.reveal' ORDER BY finsec_seq;
SELECT count(*) AS clear_numbers_in_ledger FROM finsec.audit WHERE detail::text LIKE '%6216261000000000018%'
	OR description LIKE '%6216261000000000018%';

-- D1: the types hold a number and nothing else: no CVV, track data, PIN or expiry.
SELECT attname FROM pg_attribute WHERE attrelid = 'regress_cards'::regclass AND attnum > 0 ORDER BY attnum;

-- Key rotation: old values stay readable; card_rekey moves them; a value
-- whose key version was destroyed fails clearly.
SET SESSION AUTHORIZATION regress_alice;
SELECT finsec.key_rotate('card.enc') AS r3 \gset
SET SESSION AUTHORIZATION regress_carol;
SELECT finsec.approve(:r3) ->> 'state';
RESET SESSION AUTHORIZATION;
SELECT (finsec.number_info(card)).enc_key_version, count(*) FROM regress_cards GROUP BY 1;
SELECT (finsec.number_info('6216261000000000018'::finsec.bank_card)).enc_key_version AS new_values_use;
SET SESSION AUTHORIZATION regress_unmasker;
SELECT finsec.reveal(card, 'after rotation') FROM regress_cards WHERE id = 2;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_teller;
SELECT finsec.card_rekey(card) FROM regress_cards;             -- admins only
RESET SESSION AUTHORIZATION;
UPDATE regress_cards SET card = finsec.card_rekey(card), acct = finsec.card_rekey(acct);
SELECT (finsec.number_info(card)).enc_key_version, count(*) FROM regress_cards GROUP BY 1;
SELECT count(*) AS still_equal FROM regress_cards a JOIN regress_cards_copy b ON a.card = b.card;
SET SESSION AUTHORIZATION regress_alice;
SELECT finsec.key_destroy('card.enc', 1) AS r4 \gset
SET SESSION AUTHORIZATION regress_bob;
SELECT finsec.approve(:r4) ->> 'state';
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_unmasker;
SELECT finsec.reveal(card) FROM regress_cards_copy WHERE id = 2;   -- still under destroyed version 1
SELECT finsec.reveal(card) IS NOT NULL FROM regress_cards WHERE id = 2;
RESET SESSION AUTHORIZATION;

-- Fingerprint rotation is maintenance: values of two fingerprint versions
-- cannot be compared (an error, never a wrong answer), so the approver
-- re-fingerprints the columns in the approving transaction.
SET SESSION AUTHORIZATION regress_alice;
SELECT finsec.key_rotate('card.fp') AS r5 \gset
RESET SESSION AUTHORIZATION;
SELECT '4111111111111111'::finsec.bank_card = '4111111111111111'::finsec.bank_card AS same_version;
BEGIN;
SET SESSION AUTHORIZATION regress_bob;
SELECT finsec.approve(:r5) ->> 'state';
RESET SESSION AUTHORIZATION;
SELECT count(*) FROM regress_cards WHERE card = '4111111111111111';
ROLLBACK;
BEGIN;
SET SESSION AUTHORIZATION regress_bob;
SELECT finsec.approve(:r5) ->> 'state';
RESET SESSION AUTHORIZATION;
ALTER TABLE regress_cards DROP CONSTRAINT regress_cards_card_key;
UPDATE regress_cards SET card = finsec.card_rekey(card), acct = finsec.card_rekey(acct);
ALTER TABLE regress_cards ADD CONSTRAINT regress_cards_card_key UNIQUE (card);
COMMIT;
SELECT id, (finsec.number_info(card)).fp_key_version FROM regress_cards WHERE card = '4111111111111111';

-- Validity checks that never raise, for cleaning legacy data.
SELECT v, finsec.is_valid_bank_card(v0) AS card, finsec.is_valid_bank_account(v0) AS account
  FROM (VALUES ('6216261000000000018'), ('6216261000000000017'), ('6221558812340000'), ('12345678'),
			   ('abc'), (''), (NULL), (repeat('9', 1000))) t(v0), LATERAL (SELECT left(v0, 24) AS v) l;

DROP TABLE regress_cards, regress_cards_copy, regress_cards_text;
DROP ROLE regress_teller, regress_unmasker;
