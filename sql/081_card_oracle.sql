--
-- 081_card_oracle: recovering a card number without finsec_unmask
-- (issue 14, class 4; docs/cards.md#guessing).
--
-- On 0.7 an application role recovered a 16-digit card in 23 ms: SET
-- finsec.card_lenient = on, read mask(card, 8, 4) (8 leading, 4 trailing
-- digits), construct every candidate for the hidden digits and compare it
-- with the stored value.  Each defence is shown on its own, then the
-- attack as a whole.
--
SET client_min_messages = warning;

-- card.enc and card.fp (080 made them; made here when run alone).
SELECT count(*) = 2 AS have_card_keys FROM finsec.key WHERE label IN ('card.enc', 'card.fp') \gset
\if :have_card_keys
\else
CREATE ROLE regress_o_adm1 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_o_adm2 LOGIN IN ROLE finsec_admin;
SET SESSION AUTHORIZATION regress_o_adm1;
SELECT finsec.key_generate('card.enc', 'encryption', 'aes-256-gcm') AS k1 \gset
SELECT finsec.key_generate('card.fp', 'fingerprint', 'hmac-sha256') AS k2 \gset
SET SESSION AUTHORIZATION regress_o_adm2;
SELECT finsec.approve(:k1) IS NOT NULL AND finsec.approve(:k2) IS NOT NULL AS keys_approved \gset
RESET SESSION AUTHORIZATION;
DROP ROLE regress_o_adm1, regress_o_adm2;
\endif

CREATE ROLE regress_o_app1 LOGIN IN ROLE finsec_app;
CREATE ROLE regress_o_app2 LOGIN IN ROLE finsec_app;
CREATE ROLE regress_o_loader LOGIN IN ROLE finsec_app;
GRANT regress_o_app2 TO regress_o_app1;      -- so that app1 can SET ROLE app2

-- A valid card number from its first 15 digits (the Luhn check digit added).
CREATE FUNCTION public.regress_o_luhn(body text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT body || ((10 - sum(CASE WHEN i % 2 = 0 THEN (CASE WHEN d * 2 > 9 THEN d * 2 - 9 ELSE d * 2 END)
								   ELSE d END) % 10) % 10)::text
	  FROM (SELECT i, substr(reverse(body), i + 1, 1)::int AS d FROM generate_series(0, length(body) - 1) i) s
$$;

-- The application owns its business tables, as is usual.
CREATE SCHEMA regress_o_shop AUTHORIZATION regress_o_app1;
GRANT USAGE ON SCHEMA regress_o_shop TO regress_o_app2, regress_o_loader;
SET SESSION AUTHORIZATION regress_o_app1;
CREATE TABLE regress_o_shop.payments (id int PRIMARY KEY, card finsec.bank_card NOT NULL);
GRANT SELECT, INSERT ON regress_o_shop.payments TO regress_o_app2, regress_o_loader;
-- Legitimate work, within the budget (3. below): new cards of many patterns,
-- the same card looked up again and again, sealed forms read back.
INSERT INTO regress_o_shop.payments
	SELECT 100 + i, regress_o_luhn('622202' || lpad((i * 7919 % 1000000000)::text, 9, '0'))::finsec.bank_card
	  FROM generate_series(1, 2000) i;
SELECT count(*) AS looked_up_50_times
  FROM generate_series(1, 50) g
 WHERE EXISTS (SELECT FROM regress_o_shop.payments
				WHERE card = (regress_o_luhn('622202' || lpad((5 * 7919)::text, 9, '0')) || repeat(' ', g % 2))::finsec.bank_card);
SELECT count(*) AS sealed_forms_read_back
  FROM generate_series(1, 3) g, regress_o_shop.payments p WHERE p.card::text::finsec.bank_card = p.card;

-- Two customers' cards: 16 and 19 digits, hidden digits late in any enumeration.
INSERT INTO regress_o_shop.payments
	VALUES (1, regress_o_luhn('621700987654123')::finsec.bank_card),
		   (2, regress_o_luhn('621700987654321012')::finsec.bank_card);

-- The attacker's loop of the issue: read the mask, build every candidate
-- for the hidden digits, compare.  Returns how it ended, never the digits.
CREATE FUNCTION regress_o_shop.recover(target int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	m text;
	lead text;
	trail text;
	hidden int;
	cand text;
	n int := 0;
BEGIN
	SELECT finsec.mask(card, 8, 4) INTO m FROM regress_o_shop.payments WHERE id = target;
	lead := substring(m FROM '^[0-9]*');
	trail := substring(m FROM '[0-9]*$');
	hidden := length(m) - length(lead) - length(trail);
	FOR i IN 0 .. (10 ^ hidden)::bigint - 1 LOOP
		cand := lead || lpad(i::text, hidden, '0') || trail;
		CONTINUE WHEN NOT finsec.is_valid_bank_card(cand);
		n := n + 1;
		IF EXISTS (SELECT FROM regress_o_shop.payments WHERE id = target AND card = cand::finsec.bank_card) THEN
			RETURN format('recovered after %s candidates', n);
		END IF;
	END LOOP;
	RETURN 'not found';
EXCEPTION WHEN SQLSTATE 'S9C01' THEN
	RETURN format('refused after %s candidates (%s hidden digits): %s',
				  CASE WHEN n BETWEEN 20 AND 22 THEN 'about 20' ELSE n::text END, hidden, SQLERRM);
END
$$;

-- 1. finsec.card_lenient is for superusers: not by SET, set_config(), the
--    role's or database's settings, or a function's SET clause.
SET finsec.card_lenient = on;
SELECT set_config('finsec.card_lenient', 'on', true);
ALTER ROLE regress_o_app1 SET finsec.card_lenient = on;
CREATE FUNCTION regress_o_shop.lenient() RETURNS finsec.bank_card LANGUAGE sql
	SECURITY DEFINER SET finsec.card_lenient = on AS $$ SELECT '6221558812340000'::finsec.bank_card $$;
SELECT '6221558812340000'::finsec.bank_card;    -- UnionPay's test card fails Luhn: refused
-- ... nor is the budget the application's to change.
SET finsec.card_probe_budget = 0;
RESET finsec.card_probe_budget;
RESET SESSION AUTHORIZATION;
-- A superuser may delegate lenient input to a loader of legacy data.
GRANT SET ON PARAMETER finsec.card_lenient TO regress_o_loader;
SET SESSION AUTHORIZATION regress_o_loader;
SET finsec.card_lenient = on;
SELECT (finsec.number_info('6221558812340000'::finsec.bank_card)).luhn_valid AS loader_lenient_value_luhn_valid;
RESET finsec.card_lenient;
RESET SESSION AUTHORIZATION;
REVOKE SET ON PARAMETER finsec.card_lenient FROM regress_o_loader;

-- 2. Masks: at most the first 6 and the last 4, whatever is asked or set;
--    new values keep no more than that in clear in their sealed form.
SET SESSION AUTHORIZATION regress_o_app1;
SET finsec.card_mask_first = 8;
SELECT id, finsec.mask(card, 8, 4) AS asked_8_4, finsec.mask(card) AS setting_8, (finsec.number_info(card)).bin
  FROM regress_o_shop.payments WHERE id < 100 ORDER BY id;
RESET finsec.card_mask_first;
SELECT id, get_byte(p, 3) AS clear_leading_digits, convert_from(substring(p FROM 5 FOR 8), 'SQL_ASCII') AS clear_field
  FROM (SELECT id, decode(rpad(t, (length(t) + 3) / 4 * 4, '='), 'base64') AS p
		  FROM (SELECT id, translate(split_part(card::text, '~fs1.', 2), '-_', '+/') AS t
				  FROM regress_o_shop.payments WHERE id < 100) s) s2
 ORDER BY id;
SELECT finsec.mask('4222222222222'::finsec.bank_card, 8, 4) AS thirteen_digits;

-- 3. The budget: the attack is refused at the 20th number of one visible
--    pattern (the target itself, inserted above, was the first); on 0.7
--    the same loop printed "recovered after ... candidates".
SELECT regress_o_shop.recover(1) AS sixteen_digits;
-- The 19-digit card, in a transaction that rolls back.
BEGIN;
SELECT regress_o_shop.recover(2) AS nineteen_digits;
ROLLBACK;

-- The budget belongs to the session user: SET ROLE does not reset it ...
\set VERBOSITY terse
SET ROLE regress_o_app2;
SELECT '6217005000021233'::finsec.bank_card IS NOT NULL;
RESET ROLE;
-- ... nor does a new session ...
\c - regress_o_app1
SET client_min_messages = warning;
SELECT '6217005000101233'::finsec.bank_card IS NOT NULL;
-- ... nor a COPY ...
COPY regress_o_shop.payments FROM stdin;
9001	6217005000281233
\.
-- Account numbers are counted the same way: 8 digits show only the last 4.
SELECT count(*) FROM generate_series(1, 25) i WHERE (lpad(i::text, 4, '0') || '5678')::finsec.bank_account IS NOT NULL;
\set VERBOSITY default
-- ... while another pattern, or another session user, has its own budget.
SELECT '6217005000001235'::finsec.bank_card IS NOT NULL AS other_last4;
\c - regress_o_app2
SET client_min_messages = warning;
SELECT '6217005000361233'::finsec.bank_card IS NOT NULL AS other_session_user;
\c - postgres
SET client_min_messages = warning;

-- A superuser gives a bulk loader of clear numbers its own budget.
ALTER ROLE regress_o_loader SET finsec.card_probe_budget = 0;
\c - regress_o_loader
SET client_min_messages = warning;
SHOW finsec.card_probe_budget;
SELECT count(*) AS loader_constructed
  FROM generate_series(1, 100) i WHERE regress_o_luhn('621700' || lpad(i::text, 6, '0') || '123')::finsec.bank_card IS NOT NULL;
\c - postgres
SET client_min_messages = warning;

-- 4. Every refusal is audited, even when its transaction rolled back: one
--    ledger row per pattern and minute, written by the audit sealer or by
--    finsec.flush_card_probes(); never the number.
SELECT finsec.flush_card_probes() >= 0 AS flushed;
SELECT event_type, object, action, success, db_user, detail ->> 'visible' AS visible, detail ->> 'digits' AS digits,
	   detail ->> 'session_user' AS session_user_name, detail ->> 'current_user' AS current_user_name,
	   (detail ->> 'refused')::int >= 1 AS refused, detail ->> 'budget' AS budget
  FROM finsec.audit WHERE event_type LIKE '%.probe_refused' ORDER BY finsec_seq;
SELECT count(*) AS clear_numbers_in_ledger FROM finsec.audit
 WHERE detail::text ~ '62170098765|9876543' OR description ~ '62170098765|9876543';
SELECT budget, refused >= 4 AS refused, since IS NOT NULL AS since FROM finsec.card_probe_stats();
SELECT capacity, waiting_here FROM finsec.card_probe_buffer();
SET SESSION AUTHORIZATION regress_o_app1;
SELECT finsec.card_probe_stats();               -- not for the application
RESET SESSION AUTHORIZATION;

DROP SCHEMA regress_o_shop CASCADE;
DROP FUNCTION public.regress_o_luhn(text);
ALTER ROLE regress_o_loader RESET ALL;
DROP ROLE regress_o_app1, regress_o_app2, regress_o_loader;
