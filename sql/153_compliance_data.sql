--
-- 153_compliance_data: the compliance checks of data (issue 19,
-- docs/compliance.md): card numbers in plain columns, by name and by
-- sampling values with Luhn (card_numbers_plain); CVV/track/PIN/expiry
-- columns and sampled track-2 data (card_sensitive_data); registered
-- posted tables not protect_table()'d (posted_tables_protected); personal
-- columns without a finsec label (sensitive_columns_labelled); outbound
-- links outside the allow-list (outbound_links).  Every pass is paired
-- with the probe that makes the same check fail; sampling is attacked
-- (RLS policies, views, user-defined types, unreadable tables) and never
-- runs a table owner's code, nor shows a value.
--
-- Runs in a database of its own (its tables stay there).
--
SET client_min_messages = warning;
CREATE DATABASE regress_cdata;
\c regress_cdata
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_cd_audit LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress_cd_admin LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_cd_admin2 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_cd_owner LOGIN;
CREATE ROLE regress_cd_user LOGIN;
GRANT CREATE ON SCHEMA public TO regress_cd_owner;
-- regress_cd_user may be granted a check below (USAGE is not EXECUTE).
GRANT USAGE ON SCHEMA finsec TO regress_cd_user;

-- The check as status and the evidence's given keys (stable output).
CREATE FUNCTION pg_temp.chk(name text, args jsonb DEFAULT '{}', keys text[] DEFAULT NULL)
RETURNS TABLE (status text, evidence jsonb) LANGUAGE plpgsql AS $$
DECLARE
	s text;
	e jsonb;
BEGIN
	EXECUTE format('SELECT status, evidence FROM finsec._check_%s($1)', name) INTO s, e USING args;
	status := s;
	evidence := CASE WHEN keys IS NULL THEN e
					 ELSE (SELECT coalesce(jsonb_object_agg(k, e -> k), '{}') FROM unnest(keys) k WHERE e ? k) END;
	RETURN NEXT;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.chk(text, jsonb, text[]) TO PUBLIC;
-- A statement's outcome: ok, or its SQLSTATE and message.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;
-- The auditor reads the superuser's test tables (the unreadable ones
-- below are another owner's).
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO finsec_auditor;
-- A card number of n digits from a prefix and a seed, with its Luhn digit.
CREATE FUNCTION pg_temp.card(prefix text, seed integer, n integer DEFAULT 16) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	body text := left(prefix || lpad((seed * 7919 + 13)::text, n, '0'), n - 1);
	s integer := 0;
	d integer;
	i integer;
BEGIN
	FOR i IN 1 .. length(body) LOOP
		d := substr(body, length(body) - i + 1, 1)::integer;
		IF i % 2 = 1 THEN d := d * 2; IF d > 9 THEN d := d - 9; END IF; END IF;
		s := s + d;
	END LOOP;
	RETURN body || ((10 - s % 10) % 10)::text;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.card(text, integer, integer) TO PUBLIC;
SELECT finsec.is_valid_bank_card(pg_temp.card('622202', 1)) AS generator_luhn,
	   finsec.is_valid_bank_card(pg_temp.card('4', 5, 13)) AS generator_13;
-- Traces of code that must never run while a check samples.
CREATE TABLE public.trace (what text);
GRANT INSERT ON public.trace TO PUBLIC;

-- ---------------------------------------------------------------------
-- A clean database: card data checks pass, nothing registered, no
-- personal column, no outbound link but the superuser's own.
-- ---------------------------------------------------------------------
CREATE TABLE public.orders (id bigint, memo text, amount numeric, ref varchar(40));
INSERT INTO public.orders SELECT g, 'order ' || g, g * 10, 'R-' || g FROM generate_series(1, 50) g;
SELECT * FROM pg_temp.chk('card_numbers_plain', '{}',
	ARRAY['columns_by_name', 'columns_by_value', 'tables_sampled', 'tables_unreadable', 'tables_not_sampled', 'min_hits', 'min_ratio']);
SELECT * FROM pg_temp.chk('card_sensitive_data', '{}', ARRAY['columns_by_name', 'columns_by_value', 'tables_sampled']);
SELECT * FROM pg_temp.chk('posted_tables_protected');
SELECT * FROM pg_temp.chk('sensitive_columns_labelled');
SELECT status, evidence - 'superuser_only' AS evidence FROM pg_temp.chk('outbound_links');

-- ---------------------------------------------------------------------
-- card_numbers_plain by name: a plain column named like a card number
-- (any case, Chinese names too); protected types are fine.
-- ---------------------------------------------------------------------
CREATE TABLE public.customer (id bigint, "Card_No" text, 卡号 varchar(19), acct_number numeric,
							  card finsec.bank_card, holder text);
SELECT * FROM pg_temp.chk('card_numbers_plain', '{}', ARRAY['columns_by_name', 'named_columns']);
-- the clause's own patterns replace the defaults
SELECT * FROM pg_temp.chk('card_numbers_plain', '{"name_patterns": ["^holder$"]}', ARRAY['columns_by_name', 'named_columns']);
DROP TABLE public.customer;
CREATE TABLE public.customer (id bigint, card finsec.bank_card, holder_ref text, amount_fen bigint);
SELECT * FROM pg_temp.chk('card_numbers_plain', '{}', ARRAY['columns_by_name', 'columns_by_value']);

-- ---------------------------------------------------------------------
-- card_numbers_plain by value: Luhn-valid numbers with an issuer prefix
-- in a column of a neutral name, with spaces or dashes, in text and in
-- bigint/numeric; the evidence counts, never a value.
-- ---------------------------------------------------------------------
INSERT INTO public.customer (id, holder_ref, amount_fen)
	SELECT g, CASE g % 3 WHEN 0 THEN pg_temp.card('622202', g)
						 WHEN 1 THEN regexp_replace(pg_temp.card('622848', g), '(....)', '\1 ', 'g')
						 ELSE regexp_replace(pg_temp.card('4', g, 16), '(....)(?!$)', '\1-', 'g') END,
		   pg_temp.card('621700', g, 19)::numeric::bigint
	  FROM generate_series(1, 10) g;
SELECT * FROM pg_temp.chk('card_numbers_plain', '{}', ARRAY['columns_by_value', 'sampled_columns']);
SELECT e::text ~ '[0-9]{6}' AS evidence_has_digits, e::text ~ '6222|6228|6217' AS evidence_has_prefix
  FROM finsec._check_card_numbers_plain('{}') c(s, e);
-- Probe: the same column with numbers failing Luhn, one digit repeated,
-- or without an issuer prefix is no card column.
UPDATE public.customer SET holder_ref = CASE WHEN id % 3 = 0 THEN overlay(holder_ref PLACING
										   ((substr(regexp_replace(holder_ref, '[^0-9]', '', 'g'), 1, 1)::int + 1) % 10)::text FROM 1 FOR 1)
										   WHEN id % 3 = 1 THEN '4444444444444444'
										   ELSE pg_temp.card('1234', id::int) END,
						   amount_fen = id * 100;
SELECT count(*) FILTER (WHERE finsec.is_valid_bank_card(regexp_replace(holder_ref, '[^0-9]', '', 'g'))) AS luhn_valid_left,
	   count(*) AS values
  FROM public.customer;
SELECT * FROM pg_temp.chk('card_numbers_plain', '{}', ARRAY['columns_by_value', 'sampled_columns']);
-- ... but with the issuer prefix of the clause, '^1' is one again.
SELECT * FROM pg_temp.chk('card_numbers_plain', '{"iin_pattern": ["^1"], "min_ratio": 0.3}', ARRAY['columns_by_value', 'sampled_columns']);
-- Thresholds: 2 card numbers among 10 values is under min_hits 3 and
-- under min_ratio 0.5; the clause's own numbers make it a failure.
UPDATE public.customer SET holder_ref = CASE WHEN id <= 2 THEN pg_temp.card('622202', id::int) ELSE 'ref ' || id END;
SELECT * FROM pg_temp.chk('card_numbers_plain', '{}', ARRAY['columns_by_value', 'sampled_columns']);
SELECT * FROM pg_temp.chk('card_numbers_plain', '{"min_hits": 2, "min_ratio": 0.2}', ARRAY['columns_by_value', 'sampled_columns', 'min_hits', 'min_ratio']);
SELECT * FROM pg_temp.chk('card_numbers_plain', '{"min_hits": 2, "min_ratio": 0.25}', ARRAY['columns_by_value']);
-- NULL, non-object and bad arguments: never a pass by accident.
SELECT * FROM pg_temp.chk('card_numbers_plain', NULL, ARRAY['columns_by_value', 'min_hits']);
SELECT * FROM pg_temp.chk('card_numbers_plain', '[1, 2]', ARRAY['columns_by_value', 'min_hits']);
SELECT * FROM pg_temp.chk('card_numbers_plain', '{"min_hits": "three"}');
SELECT * FROM pg_temp.chk('card_numbers_plain', '{"min_ratio": 2}');
SELECT * FROM pg_temp.chk('card_numbers_plain', '{"name_patterns": ["(unclosed"]}');
SELECT * FROM pg_temp.chk('card_numbers_plain', '{"name_patterns": "pan"}');
SELECT * FROM pg_temp.chk('card_numbers_plain', '{"name_patterns": []}');
SELECT status FROM pg_temp.chk('card_numbers_plain', jsonb_build_object('name_patterns', to_jsonb(array_fill('x'::text, ARRAY[5000]))));
UPDATE public.customer SET holder_ref = 'ref ' || id;

-- ---------------------------------------------------------------------
-- Sampling never runs an owner's code: a view named like a card table
-- (its query calls a function that writes), a table with a row-level
-- security policy whose expression writes and raises, columns of
-- user-defined types (enum, composite, domain over a domain) with
-- card-like values; only ordinary tables and domains over built-in
-- types are read.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_cd_owner;
CREATE FUNCTION public.spy(t text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	INSERT INTO public.trace VALUES (t || ' ran as ' || current_user);
	RAISE EXCEPTION 'spy ran';
END
$$;
CREATE VIEW public.card_numbers AS
	SELECT v AS pan FROM (SELECT '6222020000000000'::text AS v WHERE public.spy('view')) x;
GRANT SELECT ON public.card_numbers TO finsec_auditor;
CREATE TABLE public.rls_cards (id int, v text);
INSERT INTO public.rls_cards SELECT g, '6212340000000000' FROM generate_series(1, 5) g;
ALTER TABLE public.rls_cards ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.rls_cards FORCE ROW LEVEL SECURITY;
CREATE POLICY p ON public.rls_cards USING (public.spy('policy'));
GRANT SELECT ON public.rls_cards TO finsec_auditor;
CREATE TYPE public.card_enum AS ENUM ('4111111111111111', '5500000000000004');
CREATE TYPE public.card_pair AS (a text, b text);
CREATE DOMAIN public.card_text AS text;
CREATE DOMAIN public.card_text2 AS public.card_text;
-- a nondeterministic collation would make substring tests raise: the
-- sampler reads in collation "C"
CREATE COLLATION public.nd (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE public.typed (e public.card_enum, p public.card_pair, d public.card_text, d2 public.card_text2,
						   nd text COLLATE public.nd);
INSERT INTO public.typed SELECT '4111111111111111', ROW('4111111111111111'::text, '4111111111111111'::text)::public.card_pair,
								pg_temp.card('622202', g), pg_temp.card('622202', g), pg_temp.card('622202', g)
  FROM generate_series(1, 5) g;
GRANT SELECT ON public.typed TO finsec_auditor;
RESET SESSION AUTHORIZATION;
-- as the auditor: the RLS table is not verifiable (PostgreSQL refuses
-- rather than running the policy), the view is not read, the typed
-- table's domain column is read, the others are not.
SET SESSION AUTHORIZATION regress_cd_audit;
SELECT * FROM pg_temp.chk('card_numbers_plain', '{}',
	ARRAY['columns_by_name', 'sampled_columns', 'tables_unreadable', 'unreadable']);
RESET SESSION AUTHORIZATION;
SELECT count(*) AS traces FROM public.trace;
-- as a superuser (row security does not apply to it): the RLS table is
-- read without its policy; still no trace.
SELECT * FROM pg_temp.chk('card_numbers_plain', '{}', ARRAY['sampled_columns', 'tables_unreadable']);
SELECT count(*) AS traces FROM public.trace;
-- Probe: the policy and the view do run when read normally.
SET SESSION AUTHORIZATION regress_cd_audit;
SELECT pg_temp.try('SELECT count(*) FROM public.rls_cards') AS rls_read,
	   pg_temp.try('SELECT count(*) FROM public.card_numbers') AS view_read;
RESET SESSION AUTHORIZATION;
DROP VIEW public.card_numbers;
DROP TABLE public.rls_cards;

-- ---------------------------------------------------------------------
-- Unreadable tables: cannot_verify (not pass), with counts and names;
-- a column privilege short of the whole table is unreadable too; a
-- failure found elsewhere wins over cannot_verify.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_cd_owner;
CREATE TABLE public."secret <script>x'" (id int, v text);
INSERT INTO public."secret <script>x'" VALUES (1, 'x');
CREATE TABLE public.partly (id int, v text);
GRANT SELECT (id) ON public.partly TO finsec_auditor;
RESET SESSION AUTHORIZATION;
DELETE FROM public.typed;
SET SESSION AUTHORIZATION regress_cd_audit;
SELECT * FROM pg_temp.chk('card_numbers_plain', '{}', ARRAY['columns_by_value', 'tables_unreadable', 'unreadable', 'reason', 'needs']);
SELECT * FROM pg_temp.chk('card_sensitive_data', '{}', ARRAY['tables_unreadable']);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cd_owner;
CREATE TABLE public.leak (pan text);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cd_audit;
SELECT * FROM pg_temp.chk('card_numbers_plain', '{}', ARRAY['columns_by_name', 'named_columns', 'tables_unreadable']);
RESET SESSION AUTHORIZATION;
DROP TABLE public.leak, public."secret <script>x'", public.partly;
SET SESSION AUTHORIZATION regress_cd_audit;
SELECT * FROM pg_temp.chk('card_numbers_plain', '{}', ARRAY['columns_by_name', 'tables_unreadable']);
RESET SESSION AUTHORIZATION;
-- A role that may call the check but not the Luhn helper: cannot_verify.
GRANT EXECUTE ON FUNCTION finsec._check_card_numbers_plain(jsonb) TO regress_cd_user;
SET SESSION AUTHORIZATION regress_cd_user;
SELECT * FROM finsec._check_card_numbers_plain('{}');
RESET SESSION AUTHORIZATION;
REVOKE EXECUTE ON FUNCTION finsec._check_card_numbers_plain(jsonb) FROM regress_cd_user;
-- nor may anyone else call the checks or the sampler
SET SESSION AUTHORIZATION regress_cd_user;
SELECT has_function_privilege('finsec._check_card_numbers_plain(jsonb)', 'EXECUTE') AS user_may_check,
	   has_function_privilege('finsec._compliance_data_sample(integer, integer, text, text, boolean)', 'EXECUTE') AS user_may_sample;
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------
-- The bound: tables beyond finsec.compliance_sample_tables are not
-- sampled, and the check says warn with the counts (the largest tables
-- first); finsec.compliance_sample_rows 0 samples nothing.
-- ---------------------------------------------------------------------
-- (a backend rereads the configuration between statements: a pause
-- of its own after pg_reload_conf())
ALTER SYSTEM SET finsec.compliance_sample_tables = 1;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SELECT * FROM pg_temp.chk('card_numbers_plain', '{}', ARRAY['tables_sampled', 'tables_not_sampled', 'sample_tables']);
SELECT (finsec._compliance_data_sample(200, 1, '^6', NULL, true)) - 'columns' - 'unreadable' AS sample_counts;
ALTER SYSTEM RESET finsec.compliance_sample_tables;
ALTER SYSTEM SET finsec.compliance_sample_rows = 0;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SELECT * FROM pg_temp.chk('card_numbers_plain', '{}', ARRAY['tables_sampled', 'tables_not_sampled', 'sample_rows', 'sample_tables']);
ALTER SYSTEM RESET finsec.compliance_sample_rows;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SELECT current_setting('finsec.compliance_sample_rows') AS sample_rows, current_setting('finsec.compliance_sample_tables') AS sample_tables;
SELECT * FROM pg_temp.chk('card_numbers_plain', '{}', ARRAY['tables_sampled', 'tables_not_sampled']);

-- ---------------------------------------------------------------------
-- card_sensitive_data: CVV/CVN2, track, PIN block, expiry columns of any
-- type fail by name; track-2 data in a memo and 3-digit codes in a
-- column named like a security code fail by sampling.
-- ---------------------------------------------------------------------
CREATE TABLE public.auth_data (id int, cvv2 smallint, "CVN2" text, pin_block bytea, track_2 text, exp_date date,
							   有效期 text, card_expiry text, shipping text, pinyin text);
SELECT * FROM pg_temp.chk('card_sensitive_data', '{}', ARRAY['columns_by_name', 'named_columns']);
DROP TABLE public.auth_data;
SELECT * FROM pg_temp.chk('card_sensitive_data', '{}', ARRAY['columns_by_name', 'columns_by_value']);
CREATE TABLE public.notes (id int, body text, sec_code text, zip text);
INSERT INTO public.notes SELECT g, CASE WHEN g = 3 THEN 'swiped ;' || pg_temp.card('622202', g) || '=2512101000?' ELSE 'note ' || g END,
							   lpad((g * 37 % 1000)::text, 3, '0'), lpad((g * 37 % 1000)::text, 3, '0')
  FROM generate_series(1, 10) g;
SELECT * FROM pg_temp.chk('card_sensitive_data', '{}', ARRAY['columns_by_value', 'sampled_columns']);
SELECT e::text ~ '=2512' AS evidence_has_track FROM finsec._check_card_sensitive_data('{}') c(s, e);
-- Probe: without the track and with words in sec_code, it passes.
UPDATE public.notes SET body = 'note ' || id, sec_code = 'n/a';
SELECT * FROM pg_temp.chk('card_sensitive_data', '{}', ARRAY['columns_by_name', 'columns_by_value']);
SELECT * FROM pg_temp.chk('card_sensitive_data', '{"short_name_patterns": ["^zip$"]}', ARRAY['columns_by_value', 'sampled_columns']);
SELECT * FROM pg_temp.chk('card_sensitive_data', '{"min_track_hits": 0}');
DROP TABLE public.notes;

-- ---------------------------------------------------------------------
-- posted_tables_protected: a table registered with risk (or limits,
-- monitor, credit) fails until protect_table(); a disabled immutability
-- trigger or one of the same name running another function is not
-- protection.  A role that cannot read the registries: cannot_verify.
-- ---------------------------------------------------------------------
CREATE TABLE public.payments (id bigint, customer_id text, amount numeric, posted_at timestamptz);
SELECT finsec.enable_risk('public.payments');
SELECT * FROM pg_temp.chk('posted_tables_protected');
SET SESSION AUTHORIZATION regress_cd_admin;
SELECT * FROM pg_temp.chk('posted_tables_protected');
RESET SESSION AUTHORIZATION;
SELECT finsec.protect_table('public.payments');
SELECT * FROM pg_temp.chk('posted_tables_protected');
SET SESSION AUTHORIZATION regress_cd_audit;
SELECT * FROM pg_temp.chk('posted_tables_protected');
RESET SESSION AUTHORIZATION;
-- a second registered table, unprotected; an impostor trigger of the
-- immutability trigger's name is refused by finsec, and the protected
-- table's trigger cannot be disabled (the check also requires it
-- enabled and running finsec.ledger_immutable()).
CREATE TABLE public.payments2 (id bigint, customer_id text, amount numeric, posted_at timestamptz);
CREATE FUNCTION public.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
SELECT pg_temp.try('CREATE TRIGGER finsec_ledger_immutable BEFORE UPDATE ON public.payments2 FOR EACH ROW EXECUTE FUNCTION public.noop()') AS impostor;
SELECT pg_temp.try('ALTER TABLE public.payments DISABLE TRIGGER finsec_ledger_immutable') AS disable;
SELECT finsec.enable_risk('public.payments2');
SELECT * FROM pg_temp.chk('posted_tables_protected');
GRANT EXECUTE ON FUNCTION finsec._check_posted_tables_protected(jsonb) TO regress_cd_user;
SET SESSION AUTHORIZATION regress_cd_user;
SELECT * FROM finsec._check_posted_tables_protected('{}');
RESET SESSION AUTHORIZATION;
REVOKE EXECUTE ON FUNCTION finsec._check_posted_tables_protected(jsonb) FROM regress_cd_user;
SELECT * FROM pg_temp.chk('posted_tables_protected', NULL, ARRAY['registered_tables']);

-- ---------------------------------------------------------------------
-- sensitive_columns_labelled: a protected or identifier type without a
-- label fails; a personal name without a label warns; a label (of the
-- column, of its table, of a partition's parent) passes; 'public'
-- dismisses.  A partition is judged through its parent (labels flow
-- both ways through the inheritance tree).
-- ---------------------------------------------------------------------
DROP TABLE public.customer;
CREATE TABLE public.person (id int, mobile finsec.protected_mobile("default"), card finsec.bank_card,
							ids finsec.cn_resident_id[], phone text, "E_Mail" varchar(80), nickname text);
SELECT * FROM pg_temp.chk('sensitive_columns_labelled');
SECURITY LABEL FOR finsec ON COLUMN public.person.mobile IS 'identifier';
SECURITY LABEL FOR finsec ON COLUMN public.person.card IS 'sensitive';
SECURITY LABEL FOR finsec ON COLUMN public.person.ids IS 'sensitive';
SELECT * FROM pg_temp.chk('sensitive_columns_labelled');
SECURITY LABEL FOR finsec ON COLUMN public.person.phone IS 'public';
SECURITY LABEL FOR finsec ON COLUMN public.person."E_Mail" IS 'identifier';
SELECT * FROM pg_temp.chk('sensitive_columns_labelled');
CREATE TABLE public.addr (id int, address text) PARTITION BY RANGE (id);
CREATE TABLE public.addr_1 PARTITION OF public.addr FOR VALUES FROM (0) TO (100);
SELECT * FROM pg_temp.chk('sensitive_columns_labelled', '{}', ARRAY['unlabelled_named_columns', 'named_columns']);
SECURITY LABEL FOR finsec ON TABLE public.addr IS 'quasi_identifier';
SELECT * FROM pg_temp.chk('sensitive_columns_labelled');
SET SESSION AUTHORIZATION regress_cd_audit;
SELECT * FROM pg_temp.chk('sensitive_columns_labelled', '{"name_patterns": ["^nickname$"]}');
RESET SESSION AUTHORIZATION;
GRANT EXECUTE ON FUNCTION finsec._check_sensitive_columns_labelled(jsonb) TO regress_cd_user;
SET SESSION AUTHORIZATION regress_cd_user;
SELECT * FROM finsec._check_sensitive_columns_labelled('{}');
RESET SESSION AUTHORIZATION;
REVOKE EXECUTE ON FUNCTION finsec._check_sensitive_columns_labelled(jsonb) FROM regress_cd_user;

-- ---------------------------------------------------------------------
-- outbound_links: a foreign server abroad fails (the link as
-- outbound_links() shows it: host, no password); allowed once the
-- allow-list covers it (two administrators).  scope 'credit' (C7):
-- out_of_scope without a credit table.
-- ---------------------------------------------------------------------
CREATE EXTENSION postgres_fdw;
CREATE SERVER cd_abroad FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db.example.com', port '5432');
CREATE USER MAPPING FOR regress_cd_owner SERVER cd_abroad OPTIONS (user 'u', password 'hunter2secret');
SET SESSION AUTHORIZATION regress_cd_audit;
SELECT status, evidence -> 'not_allowed' AS not_allowed,
	   (SELECT jsonb_agg(j ORDER BY j ->> 'kind', j ->> 'object') FROM jsonb_array_elements(evidence -> 'judged') j
		 WHERE j ->> 'object' LIKE '%cd_abroad%') AS judged,
	   evidence::text LIKE '%hunter2%' AS shows_password
  FROM pg_temp.chk('outbound_links');
SELECT * FROM pg_temp.chk('outbound_links', '{"scope": "credit"}');
SELECT * FROM pg_temp.chk('outbound_links', '{"scope": "everything"}');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cd_admin;
SELECT finsec.outbound_allow_add('db.example.com', 'CN', 'reporting database') AS r1 \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cd_admin2;
SELECT finsec.approve(:r1) ->> 'pattern' AS allowed;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cd_audit;
SELECT status, evidence -> 'not_allowed' AS not_allowed,
	   (SELECT count(*) FROM jsonb_array_elements(evidence -> 'judged') j WHERE j ->> 'object' LIKE '%cd_abroad%') AS judged_abroad
  FROM pg_temp.chk('outbound_links');
RESET SESSION AUTHORIZATION;
-- each run of the check is a ledger row of outbound_links()
SELECT count(*) > 0 AS ledger_rows FROM finsec.audit WHERE event_type = 'credit.outbound_links';
GRANT EXECUTE ON FUNCTION finsec._check_outbound_links(jsonb) TO regress_cd_user;
SET SESSION AUTHORIZATION regress_cd_user;
SELECT * FROM finsec._check_outbound_links('{}');
SELECT * FROM finsec._check_outbound_links('{"scope": "credit"}');
RESET SESSION AUTHORIZATION;
REVOKE EXECUTE ON FUNCTION finsec._check_outbound_links(jsonb) FROM regress_cd_user;

-- ---------------------------------------------------------------------
-- Through finsec.compliance_check(): each data check on its clauses
-- (outbound_links aside: its links are the cluster's, not this
-- database's), as the auditor.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_cd_audit;
SELECT clause_id, check_name, status,
	   coalesce(evidence ->> 'columns_by_name', evidence ->> 'unprotected_tables', evidence ->> 'unlabelled_typed_columns') AS count,
	   evidence -> 'unreadable' AS unreadable
  FROM finsec.compliance_check()
 WHERE check_name IN ('card_numbers_plain', 'card_sensitive_data', 'posted_tables_protected', 'sensitive_columns_labelled')
 ORDER BY clause_id, check_name;
-- the uncleared auditor's sampling tried no read of the labelled tables
SELECT count(*) AS refused_reads FROM finsec.audit WHERE event_type = 'label.read_refused';
RESET SESSION AUTHORIZATION;
-- cleared (two administrators), it reads them, audited like any read
SET SESSION AUTHORIZATION regress_cd_admin;
SELECT finsec.label_grant('sensitive', 'regress_cd_audit', true, 'compliance sampling') AS c1 \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cd_admin2;
SELECT finsec.approve(:c1) IS NOT NULL AS cleared;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS label_reads_before FROM finsec.audit WHERE event_type = 'label.read' \gset
SET SESSION AUTHORIZATION regress_cd_audit;
SELECT * FROM pg_temp.chk('card_numbers_plain', '{}', ARRAY['tables_unreadable', 'unreadable', 'tables_sampled']);
RESET SESSION AUTHORIZATION;
SELECT count(*) - :label_reads_before AS label_reads FROM finsec.audit WHERE event_type = 'label.read';
-- Both card checks, twice, in one statement: one sample (its reads of the
-- two labelled tables are two label.read rows, not eight); the sample is
-- kept in a setting, so a read-only transaction works too.  A value
-- preset for the session is not taken (its key is no statement's).
ALTER ROLE regress_cd_audit SET finsec_compliance.sample = '00000000000000000000000000000000:{"columns": [], "candidate_tables": 0, "tables_sampled": 0, "tables_unreadable": 0, "tables_not_sampled": 0}';
SELECT count(*) AS label_reads_before FROM finsec.audit WHERE event_type = 'label.read' \gset
SET SESSION AUTHORIZATION regress_cd_audit;
SELECT (SELECT status FROM finsec._check_card_numbers_plain('{}')) AS numbers,
	   (SELECT status FROM finsec._check_card_sensitive_data('{}')) AS sensitive,
	   (SELECT status FROM finsec._check_card_numbers_plain('{"min_hits": 4}')) AS numbers_again,
	   (SELECT status FROM finsec._check_card_sensitive_data('{"min_track_hits": 2}')) AS sensitive_again;
RESET SESSION AUTHORIZATION;
SELECT count(*) - :label_reads_before AS label_reads FROM finsec.audit WHERE event_type = 'label.read';
SET SESSION AUTHORIZATION regress_cd_audit;
BEGIN READ ONLY;
SELECT (SELECT status FROM finsec._check_card_numbers_plain('{}')) AS numbers,
	   (SELECT status FROM finsec._check_card_sensitive_data('{}')) AS sensitive;
COMMIT;
RESET SESSION AUTHORIZATION;
-- a forged sample in the session: not this statement's key, not used
\c regress_cdata regress_cd_audit
SET client_min_messages = warning;
SELECT left(current_setting('finsec_compliance.sample'), 8) AS preset,
	   (SELECT evidence ->> 'tables_sampled' FROM finsec._check_card_numbers_plain('{}')) AS tables_sampled;
\c regress_cdata postgres
SET client_min_messages = warning;
ALTER ROLE regress_cd_audit RESET finsec_compliance.sample;
SET SESSION AUTHORIZATION regress_cd_audit;
SELECT clause_id, status IN ('pass', 'warn', 'fail', 'out_of_scope') AS judged,
	   evidence ? 'links' OR evidence ? 'credit_tables' AS evidence_of_the_check
  FROM finsec.compliance_check()
 WHERE check_name = 'outbound_links' ORDER BY clause_id;
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------
-- The checks are registered (compliance_check_def) with their function,
-- SECURITY INVOKER, search_path pinned, granted to admin and auditor.
-- ---------------------------------------------------------------------
SELECT d.check_name, d.function, p.prosecdef AS definer, p.proconfig, p.provolatile,
	   has_function_privilege('finsec_auditor', d.function, 'EXECUTE') AS auditor,
	   has_function_privilege('finsec_admin', d.function, 'EXECUTE') AS admin,
	   has_function_privilege('public', d.function, 'EXECUTE') AS public
  FROM finsec.compliance_check_def d JOIN pg_proc p ON p.oid = d.function
 WHERE d.check_name IN ('card_numbers_plain', 'card_sensitive_data', 'posted_tables_protected',
						'sensitive_columns_labelled', 'outbound_links')
 ORDER BY 1;

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_cdata;
DROP ROLE regress_cd_audit, regress_cd_admin, regress_cd_admin2, regress_cd_owner, regress_cd_user;
