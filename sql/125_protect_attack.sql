--
-- 125_protect_attack: attacks on protected data (issue 17, helper attack17).
--
-- Lines marked "VULN Vn" are attacks that SUCCEED today: the expected
-- output records the secure outcome (no leak, refused), so this file fails
-- until they are fixed; the report lists each with its severity.  V1, V2,
-- V3, V7 and V9 are fixed (helper fixcore): their lines assert the
-- refusal (S9P03, S9P09, S9P07/S9P05, S9P10, 22P02).  Every
-- other assertion is an attempt that is properly refused today, pinned by
-- its SQLSTATE so it stays refused.  Values carry random nonces: only
-- booleans, SQLSTATEs and masks are printed.
--
\set VERBOSITY sqlstate
SET client_min_messages = warning;
CREATE DATABASE regress_attack17;
\c regress_attack17
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_a17_adm1 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_a17_adm2 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_a17_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_a17_unmask LOGIN IN ROLE finsec_app, finsec_unmask;
CREATE ROLE regress_a17_owner LOGIN;
CREATE ROLE regress_a17_aud LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress_a17_clerk LOGIN;
GRANT CREATE ON SCHEMA public TO regress_a17_owner, regress_a17_app, regress_a17_unmask;
SET client_min_messages = notice;
CREATE SCHEMA a17;
GRANT USAGE ON SCHEMA a17 TO PUBLIC;

-- the SQLSTATE of a statement, or ok
CREATE FUNCTION a17.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;
-- whether needle appears in any row of query q (or, query false, in
-- nothing a statement q prints), or in its error's message, detail or
-- context
CREATE FUNCTION a17.leaks(q text, needle text, query boolean DEFAULT true) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	r text;
	m text;
	d text;
	c text;
BEGIN
	IF NOT query THEN
		EXECUTE q;
		RETURN false;
	END IF;
	FOR r IN EXECUTE 'SELECT t::text FROM (' || q || ') t' LOOP
		IF strpos(r, needle) > 0 THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, c = PG_EXCEPTION_CONTEXT;
	RETURN strpos(coalesce(m, '') || coalesce(d, '') || coalesce(c, ''), needle) > 0;
END
$$;
-- the payload of a sealed text form, and a sealed text form of a payload
CREATE FUNCTION a17.pl(v text) RETURNS bytea LANGUAGE sql AS $$
	SELECT decode(rpad(translate(split_part(v, '~fp1.', 2), '-_', '+/'),
					   ((length(split_part(v, '~fp1.', 2)) + 3) / 4) * 4, '='), 'base64')
$$;
CREATE FUNCTION a17.tok(b bytea) RETURNS text LANGUAGE sql AS $$
	SELECT 'x~fp1.' || rtrim(translate(replace(encode(b, 'base64'), E'\n', ''), '+/', '-_'), '=')
$$;
CREATE FUNCTION a17.flip(b bytea, off int) RETURNS bytea LANGUAGE sql AS $$
	SELECT set_byte(b, off, get_byte(b, off) # 1)
$$;

-- Keys and policies (two administrators for the keys).
SET SESSION AUTHORIZATION regress_a17_adm1;
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') AS r1 \gset
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sha256') AS r2 \gset
SELECT finsec.protect_policy_create('a_name', mask => 'name') > 0 AS a_name;
SELECT finsec.protect_policy_create('a_phone', mask => 'phone', label => 'identifier') > 0 AS a_phone;
SELECT finsec.protect_policy_create('a_addr', mask => 'address') > 0 AS a_addr;
SELECT finsec.protect_policy_create('a_email', mask => 'email') > 0 AS a_email;
SET SESSION AUTHORIZATION regress_a17_adm2;
SELECT finsec.approve(:r1) ->> 'state', finsec.approve(:r2) ->> 'state';
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION regress_a17_app;
CREATE TABLE cust (id int PRIMARY KEY, secret finsec.protected_text("default"),
				   phone finsec.protected_text(a_phone), mob finsec.protected_mobile(a_phone),
				   name finsec.protected_text(a_name), plain text);
GRANT SELECT, INSERT, UPDATE ON cust TO regress_a17_clerk, regress_a17_unmask, finsec_admin, finsec_auditor;
INSERT INTO cust VALUES (1, 'x@bank-secret.example 北京市海淀区 pw=hunter2', '13812345678', '13912345678',
						 '张三丰', 'p');
RESET SESSION AUTHORIZATION;

-- ==== 1. Clear value or more than the mask without reveal ====

-- Every way of printing a value shows only its mask and sealed form.
SET SESSION AUTHORIZATION regress_a17_clerk;
SELECT a17.leaks($$SELECT secret, phone, mob, name FROM cust$$, 'hunter2') AS output_leaks,
	   a17.leaks($$SELECT to_jsonb(c) FROM cust c$$, '张三丰') AS jsonb_leaks,
	   a17.leaks($$SELECT row(c.*)::text FROM cust c$$, '5678') AS record_shows_phone_mask,
	   a17.leaks($$SELECT array_agg(name)::text || string_agg(name::text, ',') || format('%s', name) FROM cust GROUP BY name$$, '三丰') AS agg_leaks,
	   a17.leaks($$SELECT secret::text::bytea FROM cust$$, 'hunter2') AS cast_leaks;
SELECT split_part(name::text, '~', 1) AS name_mask, split_part(mob::text, '~', 1) AS mob_mask FROM cust;
-- No cast back to clear types.
SELECT a17.try($$SELECT mob::finsec.cn_mobile FROM cust$$) AS to_cn_mobile,
	   a17.try($$SELECT name::varchar FROM cust$$) AS to_varchar_is_io;
-- (A role outside the finsec roles cannot even compare: 42501.)
SELECT a17.try($$SELECT count(*) FROM cust a JOIN cust b ON a.name = b.name$$) AS clerk_compares;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_a17_app;
-- Errors show masks at most: a unique violation, a check constraint, a
-- division by zero with the value in CONTEXT, RAISE of the value.
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_a17_app;
CREATE UNIQUE INDEX cust_name_u ON cust (name);
ALTER TABLE cust ADD CONSTRAINT cust_plain_ck CHECK (plain <> 'bad');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_a17_app;
SELECT a17.leaks($$INSERT INTO cust (id, name) SELECT 2, name FROM cust$$, '三丰', false) AS unique_detail_leaks,
	   a17.leaks($$INSERT INTO cust (id, name) SELECT 2, name FROM cust$$, '~fp1.', false) AS unique_detail_has_sealed_form,
	   a17.leaks($$UPDATE cust SET plain = 'bad'$$, 'hunter2', false) AS check_detail_leaks,
	   a17.leaks($q$DO $d$ DECLARE r record; BEGIN FOR r IN SELECT * FROM cust LOOP RAISE EXCEPTION '%', r; END LOOP; END $d$$q$, 'hunter2', false) AS raise_leaks,
	   a17.leaks($$SELECT 1 / (length(secret::text) - length(secret::text)) FROM cust$$, 'hunter2') AS division_leaks;
-- EXPLAIN ANALYZE VERBOSE prints no clear value.
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_a17_app;
CREATE FUNCTION pg_temp.explain_leaks() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
	FOR l IN EXECUTE 'EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF) SELECT * FROM cust WHERE name = ''张三丰''::finsec.protected_text(a_name)' LOOP
		IF strpos(l, '三丰') > 0 OR strpos(l, 'hunter2') > 0 THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END $$;
SELECT pg_temp.explain_leaks() AS explain_leaks;
RESET SESSION AUTHORIZATION;

-- VULN V1 (high): the length coercion re-seals a value under the default
-- policy (any column declared without a policy) under whatever policy the
-- reader names, so finsec.mask() then shows the target policy's mask of
-- it: 'email' prints everything after the '@', 'phone' keeps every
-- non-digit character, 'address' everything up to a 区/县/市.  Any role
-- that can SELECT the column, no finsec_unmask, no audit row.
-- value.c: finsec_protected_coerce.  Expected: refused (S9P03) or '****'.
SET SESSION AUTHORIZATION regress_a17_app;
SELECT a17.leaks($$SELECT finsec.mask(secret::finsec.protected_text(a_email)) FROM cust$$, 'hunter2') AS v1_email_mask_leaks,
	   a17.leaks($$SELECT finsec.mask(secret::finsec.protected_text(a_phone)) FROM cust$$, 'bank-secret') AS v1_phone_mask_leaks,
	   a17.leaks($$SELECT secret::finsec.protected_text(a_addr)::text FROM cust$$, '海淀区') AS v1_addr_mask_leaks;
RESET SESSION AUTHORIZATION;

-- VULN V2 (medium): finsec_admin alone (no second administrator, no
-- finsec_unmask, no reveal row) reads any value in clear through
-- protected_rekey() to a policy whose mask keeps it: the 'phone' mask keeps
-- every non-digit character, so a name under 'phone' is printed in full.
-- finsec_protected_rekey / the phone mask.  Expected: no clear name.
SET SESSION AUTHORIZATION regress_a17_adm1;
SELECT a17.leaks($$SELECT finsec.mask(finsec.protected_rekey(name, 'a_phone')) FROM cust$$, '张三丰') AS v2_admin_rekey_leaks;
RESET SESSION AUTHORIZATION;
-- The same value re-keyed under its own policy keeps its mask.
SET SESSION AUTHORIZATION regress_a17_adm1;
SELECT finsec.mask(finsec.protected_rekey(name)) AS own_policy_mask FROM cust;
RESET SESSION AUTHORIZATION;
-- protected_rekey is finsec_admin's only.
SET SESSION AUTHORIZATION regress_a17_clerk;
SELECT a17.try($$SELECT finsec.protected_rekey(name, 'a_phone') FROM cust$$) AS clerk_rekey;
RESET SESSION AUTHORIZATION;

-- ==== 2. Equality oracle past the probe budget ====

-- A protected_mobile is counted whatever the policy: 10,000 guesses of
-- the hidden digits are refused (S9P05).
SET SESSION AUTHORIZATION regress_a17_app;
SELECT a17.try($$SELECT count(*) FROM cust c JOIN (SELECT ('139' || lpad(g::text, 4, '0') || '5678')::finsec.protected_mobile v
				   FROM generate_series(0, 9999) g) s ON c.mob = s.v$$) AS mobile_guesses;
RESET SESSION AUTHORIZATION;
-- VULN V3 (high): a column of mask 'phone' is compared with literals of
-- the default policy (mask 'none': never counted) fingerprinted under the
-- same key protect.fp, so the hidden four digits of 138****5678 are found
-- in one query of 10,000 literals, no budget, no audit row.
-- probe_count() in value.c skips FP_KIND_TEXT unless the value's own
-- mask is phone; comparisons do not look at policies.  Expected: S9P05.
SET SESSION AUTHORIZATION regress_a17_app;
SELECT a17.try($$SELECT count(*) FROM cust c JOIN (SELECT ('138' || lpad(g::text, 4, '0') || '5678')::finsec.protected_text v
				   FROM generate_series(0, 9999) g) s ON c.phone = s.v$$) AS v3_phone_text_guesses;
-- Fixed: fingerprints are bound to their policy, so the hash join above
-- finds nothing (count 0, 'ok'), a merge join is refused (S9P07); the
-- same guesses sealed under the column's policy are counted (S9P05).
SELECT (SELECT count(*) FROM cust c JOIN (SELECT ('138' || lpad(g::text, 4, '0') || '5678')::finsec.protected_text v
				   FROM generate_series(0, 9999) g) s ON c.phone = s.v) AS v3_hash_join_matches;
SET enable_hashjoin = off;
SELECT a17.try($$SELECT count(*) FROM cust c JOIN (SELECT ('138' || lpad(g::text, 4, '0') || '5678')::finsec.protected_text v
				   FROM generate_series(0, 9999) g) s ON c.phone = s.v$$) AS v3_merge_join;
RESET enable_hashjoin;
SELECT a17.try($$SELECT count(*) FROM cust c JOIN (SELECT ('138' || lpad(g::text, 4, '0') || '5678')::finsec.protected_text(a_phone) v
				   FROM generate_series(0, 9999) g) s ON c.phone = s.v$$) AS v3_phone_policy_guesses;
RESET SESSION AUTHORIZATION;

-- ==== 3. Moving and forging sealed values ====

-- Every byte of the authenticated part flipped: refused (structure,
-- policy, key version or integrity), never accepted.
SELECT count(*) FILTER (WHERE st = 'ok') AS flips_accepted,
	   string_agg(DISTINCT st, ' ' ORDER BY st) AS flip_states
  FROM (SELECT a17.try(format('SELECT %L::finsec.protected_text(a_name)',
								  a17.tok(a17.flip(a17.pl(name::text), off)))) AS st
		  FROM cust, generate_series(0, length(a17.pl(name::text)) - 1) off) s;
-- Truncated anywhere: 22P02.
SELECT string_agg(DISTINCT a17.try(format('SELECT %L::finsec.protected_text',
											  a17.tok(substr(a17.pl(name::text), 1, n)))), ' ') AS truncated
  FROM cust, generate_series(0, length(a17.pl(name::text)) - 1) n;
-- To another policy (S9P03), another kind (22P02), another type by cast.
SELECT a17.try(format('SELECT %L::finsec.protected_text(a_phone)', name::text)) AS other_policy,
	   a17.try(format('SELECT %L::finsec.protected_mobile', name::text)) AS other_kind,
	   a17.try(format('SELECT %L::finsec.protected_text', name::text)) AS no_typmod_keeps_it
  FROM cust;
SELECT a17.try($$UPDATE cust SET phone = name$$) AS column_to_column,
	   a17.try($$UPDATE cust SET phone = name::finsec.protected_text$$) AS column_through_untyped,
	   a17.try($$ALTER TABLE cust ALTER COLUMN phone TYPE finsec.protected_text(a_name)$$) AS alter_type,
	   a17.try($$ALTER TABLE cust ALTER COLUMN name TYPE finsec.protected_text(a_email) USING name::finsec.protected_text$$) AS alter_type_using;
-- A domain, an array and a composite keep the element's check.
CREATE DOMAIN a17.dn AS finsec.protected_text(a_phone);
CREATE TYPE a17.cmp AS (v finsec.protected_text(a_phone));
SELECT a17.try(format('SELECT %L::a17.dn', name::text)) AS domain_,
	   a17.try(format('SELECT ARRAY[%L]::finsec.protected_text(a_phone)[]', name::text)) AS array_,
	   a17.try(format('SELECT ROW(%L)::a17.cmp', name::text)) AS composite_
  FROM cust;
-- A payload claiming a policy this database does not have is accepted
-- unauthenticated (a restore before the policy rows, by design), prints
-- [protected], never reveals; comparing it with the value whose
-- fingerprint fields it copied is refused: another policy (S9P07).
SELECT split_part(f::text, '~', 1) AS forged_prints, (finsec.protected_info(f)).state,
	   a17.try(format('SELECT %L::finsec.protected_text = name FROM cust', f::text)) AS forged_compare
  FROM (SELECT a17.tok(overlay(a17.pl(name::text) PLACING '\x01020304'::bytea FROM 5 FOR 4))::finsec.protected_text AS f, name
		  FROM cust) s;
SET SESSION AUTHORIZATION regress_a17_unmask;
SELECT a17.try($$SELECT finsec.reveal(a17.tok(overlay(a17.pl(name::text) PLACING '\x01020304'::bytea FROM 5 FOR 4))::finsec.protected_text) FROM cust$$) AS reveal_forged;
RESET SESSION AUTHORIZATION;

-- Binary COPY: a sealed value moves by COPY BINARY only to its own policy;
-- random bytes through the receive function are refused, never a crash.
CREATE FUNCTION a17.copy_to(q text, f text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('COPY (%s) TO %L WITH (FORMAT binary)', q, current_setting('data_directory') || '/' || f);
END $$;
CREATE FUNCTION a17.copy_from(tbl text, f text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	RETURN a17.try(format('COPY %s FROM %L WITH (FORMAT binary)', tbl, current_setting('data_directory') || '/' || f));
END $$;
SELECT a17.copy_to('SELECT name FROM cust', 'regress_a17_name.bin');
CREATE TABLE bin_ok (v finsec.protected_text(a_name));
CREATE TABLE bin_other (v finsec.protected_text(a_phone));
SELECT a17.copy_from('bin_ok', 'regress_a17_name.bin') AS bin_same_policy,
	   a17.copy_from('bin_other', 'regress_a17_name.bin') AS bin_other_policy;
SELECT (SELECT v FROM bin_ok) = (SELECT name FROM cust) AS bin_same;
CREATE TABLE rnd (b bytea);
INSERT INTO rnd SELECT '\x'::bytea;
INSERT INTO rnd SELECT decode(string_agg(lpad(to_hex((g * 7919 + k * 104729) % 256), 2, '0'), ''), 'hex')
  FROM generate_series(1, 200) k, generate_series(1, k) g GROUP BY k;
INSERT INTO rnd SELECT overlay(a17.pl(name::text) PLACING '\xff'::bytea FROM 2 FOR 1) FROM cust;
INSERT INTO rnd SELECT substr(a17.pl(name::text), 1, 92) FROM cust;
CREATE TABLE rnd_in (v finsec.protected_text("default"));
CREATE FUNCTION a17.recv_each() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	b bytea;
	out text := '';
	st text;
BEGIN
	FOR b IN SELECT rnd.b FROM rnd LOOP
		PERFORM a17.copy_to(format('SELECT %L::bytea', b), 'regress_a17_one.bin');
		st := a17.copy_from('rnd_in', 'regress_a17_one.bin');
		IF strpos(out, st) = 0 THEN
			out := out || st || ' ';
		END IF;
	END LOOP;
	RETURN out;
END $$;
SELECT a17.recv_each() AS recv_random;

-- ==== 4. Bad and huge input ====
SELECT length(repeat('a', 1048576)::finsec.protected_text::text) > 0 AS one_mb,
	   a17.try($$SELECT repeat('a', 1048577)::finsec.protected_text$$) AS one_mb_plus_one,
	   a17.try($$SELECT repeat('a', 104857600)::finsec.protected_text$$) AS hundred_mb,
	   a17.leaks($$SELECT repeat('Q', 1048577)::finsec.protected_text$$, 'QQQQ') AS huge_error_quotes_value;
SELECT a17.try($$SELECT E'\xc3'::finsec.protected_text$$) AS bad_utf8,
	   a17.try($$SELECT convert_from('\x6100'::bytea, 'UTF8')::finsec.protected_text$$) AS nul_byte,
	   a17.try($$SELECT encode('\x00'::bytea, 'escape')::finsec.protected_text$$) AS escaped_nul_ok;
SELECT a17.try($$SELECT 'NaN'::finsec.protected_mobile$$) AS nan_mobile,
	   a17.try($$SELECT '１３８１２３４５６７８'::finsec.protected_mobile$$) AS fullwidth,
	   a17.try($$SELECT 'Infinity'::finsec.protected_resident_id$$) AS inf_id,
	   a17.try($$SELECT '-1'::finsec.protected_uscc$$) AS neg_uscc,
	   a17.try($$SELECT ''::finsec.protected_mobile$$) AS empty_mobile,
	   a17.leaks($$SELECT '13812345671234'::finsec.protected_mobile$$, '1381234') AS mobile_error_quotes_value,
	   a17.leaks($$SELECT '11010519491231002Y'::finsec.protected_resident_id$$, '110105194912') AS id_error_quotes_value;
SELECT ''::finsec.protected_text IS NOT NULL AS empty_is_value,
	   finsec.mask(NULL::finsec.protected_text) IS NULL AS mask_null,
	   finsec.protected_info(NULL::finsec.protected_text) IS NULL AS info_null,
	   finsec.protected_rekey(NULL::finsec.protected_text) IS NULL AS rekey_null;
SELECT a17.try($$SELECT 'x~fp1.'::finsec.protected_text$$) AS empty_payload,
	   a17.try($$SELECT '~fp1.!!!!'::finsec.protected_text$$) AS not_b64,
	   a17.try($$SELECT 'a~fp1.AAAA~fp1.AAAA'::finsec.protected_text$$) AS two_marks;
-- Clear text containing "~fp1." is taken as a sealed form and refused
-- (documented in docs/protected-data.md).
SELECT a17.try($$SELECT 'see ticket ~fp1.abc'::finsec.protected_text$$) AS text_with_mark;
-- VULN V9 (medium): so an end user who submits "<anything>~fp1.<another
-- row's payload>" through the application's clear-text parameter gets
-- that row's value stored as his own (same policy: authenticated,
-- accepted), to be shown or revealed to him later; sealed forms are in
-- every dump, COPY file and query result.  value_in() in value.c.
-- Expected: a clear-text parameter cannot carry a sealed value (e.g.
-- sealed input only in COPY / restore, or a distinct marker the client
-- cannot send), i.e. false here.
-- Fixed: the text before the mark must be the value's own mask (22P02).
SELECT a17.try(format('SELECT %L::finsec.protected_text(a_name)', 'my name is ' || name::text)) AS v9_parameter_copies_other_row,
	   a17.try(format('SELECT %L::finsec.protected_text(a_name)', name::text)) AS own_sealed_form,
	   a17.try(format('SELECT %L::finsec.protected_text(a_name)', '[protected]' || substr(name::text, position('~' IN name::text)))) AS protected_prefix
  FROM cust;
-- Type modifiers: one policy name, nothing else.
SELECT a17.try($$SELECT finsec.protected_typmod_in('{}'::cstring[])$$) AS tm_empty,
	   a17.try($$SELECT finsec.protected_typmod_in('{a_name,a_name}'::cstring[])$$) AS tm_two,
	   a17.try($$SELECT finsec.protected_typmod_in(ARRAY[NULL]::cstring[])$$) AS tm_null_elem,
	   a17.try($$SELECT finsec.protected_typmod_in(ARRAY[repeat('a', 100000)]::cstring[])$$) AS tm_long,
	   a17.try($$SELECT 'a'::finsec.protected_text("A")$$) AS tm_upper,
	   a17.try($$SELECT 'a'::finsec.protected_text(1)$$) AS tm_int,
	   a17.try($$SELECT 'a'::finsec.protected_text(no_such_policy)$$) AS tm_unknown;
SELECT finsec.protected_typmod_out(-5) AS tm_out_neg, finsec.protected_typmod_out(12345) AS tm_out_unknown;

-- NULL in every argument of the new functions: NULL or a clean error.
SET SESSION AUTHORIZATION regress_a17_adm1;
SELECT a17.try($$SELECT finsec.protect_policy_create(NULL)$$) AS policy_null,
	   a17.try($$SELECT finsec.protect_policy_create('a_nul', enc_key => NULL)$$) AS policy_enc_null,
	   a17.try($$SELECT finsec.protect_period_keys(NULL, NULL, NULL)$$) AS period_keys_null,
	   a17.try($$SELECT finsec.protect_shred(NULL, NULL)$$) AS shred_null,
	   a17.try($$SELECT finsec.label_grant(NULL, NULL)$$) AS grant_null,
	   a17.try($$SELECT finsec.label_revoke(NULL, NULL)$$) AS revoke_null,
	   a17.try($$SELECT finsec.label_change(NULL, NULL, NULL)$$) AS change_null,
	   a17.try($$SELECT finsec.protect_period_drop(NULL, NULL)$$) AS period_drop_null;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_a17_app;
SELECT a17.try($$SELECT finsec.protect_period(NULL, NULL, NULL)$$) AS period_null,
	   a17.try($$SELECT finsec.protect_period('cust', 'name', NULL)$$) AS period_date_null;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_a17_unmask;
SELECT finsec.reveal(NULL::finsec.protected_text, NULL, NULL) IS NULL AS reveal_null,
	   finsec.reveal(NULL::finsec.protected_mobile) IS NULL AS reveal_null_mobile,
	   a17.try($$SELECT finsec.reveal(name, NULL, NULL) FROM cust$$) AS reveal_null_reason;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_a17_adm1;
SELECT finsec.protected_rekey(name, NULL) = name AS rekey_null_policy,
	   a17.try($$SELECT finsec.protected_rekey(name, 'no_such_policy') FROM cust$$) AS rekey_unknown
  FROM cust;
RESET SESSION AUTHORIZATION;
-- The superuser too: V2's rekey gives the clear name with no reveal row
-- (superusers are audited on reveal, not here).
SELECT a17.leaks($$SELECT finsec.mask(finsec.protected_rekey(name, 'a_phone')) FROM cust$$, '张三丰') AS v2_superuser_rekey_leaks;

-- ==== 5. Reveal: role, audit, budget ====

-- Only finsec_unmask, whatever the value: the app, an auditor, an
-- administrator and a plain role are refused (42501), a NULL too.
SET SESSION AUTHORIZATION regress_a17_app;
SELECT a17.try($$SELECT finsec.reveal(name) FROM cust$$) AS app,
	   a17.try($$SELECT finsec.reveal(NULL::finsec.protected_text)$$) AS app_null,
	   a17.try($$SET ROLE finsec_unmask$$) AS set_role;
SET SESSION AUTHORIZATION regress_a17_aud;
SELECT a17.try($$SELECT finsec.reveal(name) FROM cust$$) AS auditor;
SET SESSION AUTHORIZATION regress_a17_adm1;
SELECT a17.try($$SELECT finsec.reveal(name) FROM cust$$) AS admin;
SET SESSION AUTHORIZATION regress_a17_clerk;
SELECT a17.try($$SELECT finsec.reveal(name) FROM cust$$) AS clerk;
RESET SESSION AUTHORIZATION;
-- A SECURITY DEFINER wrapper owned by an unmask role: still counted
-- against (and audited as) the session user.
SET SESSION AUTHORIZATION regress_a17_unmask;
CREATE FUNCTION public.wrap_reveal(v finsec.protected_text) RETURNS text LANGUAGE sql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp AS $$ SELECT finsec.reveal(v, 'wrapper') $$;
GRANT EXECUTE ON FUNCTION public.wrap_reveal(finsec.protected_text) TO regress_a17_clerk;
RESET SESSION AUTHORIZATION;
-- The audit row survives a rollback, a savepoint rollback and an
-- exception block.
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT coalesce(max(finsec_seq), 0) AS seq0 FROM finsec.audit \gset
SET SESSION AUTHORIZATION regress_a17_unmask;
BEGIN;
SELECT finsec.reveal(name, 'then rollback') AS revealed FROM cust;
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT finsec.reveal(name, 'savepoint') AS revealed FROM cust;
ROLLBACK TO SAVEPOINT s;
COMMIT;
DO $$ BEGIN PERFORM finsec.reveal(name, 'exception block') FROM cust; RAISE EXCEPTION 'undo'; EXCEPTION WHEN OTHERS THEN NULL; END $$;
BEGIN;
DECLARE cur CURSOR FOR SELECT finsec.reveal(name, 'cursor') FROM cust;
FETCH cur;
ROLLBACK;
SET SESSION AUTHORIZATION regress_a17_clerk;
SELECT public.wrap_reveal(name) AS wrapped FROM cust;
RESET SESSION AUTHORIZATION;
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT coalesce(detail->>'reason', description) AS reason, db_user, session_user_name
  FROM finsec.audit
 WHERE finsec_seq > :seq0 AND event_type = 'protect.reveal' ORDER BY finsec_seq;
-- PREPARE TRANSACTION of a transaction that revealed: the row is already
-- durable (max_prepared_transactions is 0 here: refused, row kept).
SET SESSION AUTHORIZATION regress_a17_unmask;
BEGIN;
SELECT finsec.reveal(name, 'prepared') AS revealed FROM cust;
PREPARE TRANSACTION 'a17';
RESET SESSION AUTHORIZATION;
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT count(*) AS prepared_rows FROM finsec.audit WHERE finsec_seq > :seq0 AND event_type = 'protect.reveal'
   AND coalesce(detail->>'reason', description) ~ 'prepared';
-- Past the budget: S9P20, for one login in every session and role.
SET finsec.reveal_budget = 3;
ALTER ROLE regress_a17_unmask SET finsec.reveal_budget = 3;
\c - regress_a17_unmask
SET client_min_messages = warning;
SELECT a17.try($$SELECT finsec.reveal(name) FROM cust, generate_series(1, 10)$$) AS past_budget;
\c - regress_a17_unmask
SELECT a17.try($$SELECT finsec.reveal(name) FROM cust$$) AS new_session_same_login;
SELECT a17.try($$SET finsec.reveal_budget = 0$$) AS raise_own_budget;
\c - postgres
ALTER ROLE regress_a17_unmask RESET finsec.reveal_budget;

-- ==== 6. Labels ====
SET SESSION AUTHORIZATION regress_a17_owner;
CREATE TABLE lt (id int PRIMARY KEY, ssn text, note text NOT NULL DEFAULT 'n', x int CHECK (x > 0));
INSERT INTO lt VALUES (1, 'SECRET-1', 'a', 1), (2, 'SECRET-1', 'b', 1), (3, 'SECRET-2', 'c', 1);
SECURITY LABEL FOR finsec ON COLUMN lt.ssn IS 'sensitive';
GRANT SELECT, UPDATE, INSERT ON lt TO regress_a17_clerk;
ANALYZE lt;
RESET SESSION AUTHORIZATION;
-- Refused (42501): direct, whole row, WHERE, view, CTE, COPY, COPY query,
-- a child table made after the label, RETURNING.
SET SESSION AUTHORIZATION regress_a17_clerk;
SELECT a17.try($$SELECT ssn FROM lt$$) AS direct,
	   a17.try($$SELECT lt FROM lt$$) AS whole_row,
	   a17.try($$SELECT id FROM lt WHERE ssn = 'SECRET-2'$$) AS in_where,
	   a17.try($$WITH c AS (SELECT * FROM lt) SELECT count(*) FROM c$$) AS cte,
	   a17.try($$UPDATE lt SET x = 1 RETURNING ssn$$) AS returning_,
	   a17.try($$SELECT id FROM lt ORDER BY ssn$$) AS order_by,
	   a17.try($$SELECT count(*) FROM lt GROUP BY ssn$$) AS group_by;
COPY lt TO STDOUT;
COPY (SELECT ssn FROM lt) TO STDOUT;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_a17_owner;
CREATE TABLE lt_child () INHERITS (lt);
CREATE VIEW lv AS SELECT ssn FROM lt;
GRANT SELECT ON lt_child, lv TO regress_a17_clerk;
CREATE TABLE lt_sep (id int NOT NULL, ssn text);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_a17_clerk;
SELECT a17.try($$SELECT ssn FROM lt_child$$) AS child,
	   a17.try($$SELECT ssn FROM lv$$) AS view_;
RESET SESSION AUTHORIZATION;
-- ALTER TABLE ... INHERIT after labelling: the new child's column is covered.
SET SESSION AUTHORIZATION regress_a17_owner;
ALTER TABLE lt_sep ADD COLUMN note text NOT NULL DEFAULT 'n', ADD COLUMN x int CONSTRAINT lt_x_check CHECK (x > 0);
SELECT a17.try($$ALTER TABLE lt_sep INHERIT lt$$) AS uncleared_owner_inherit;   -- S9P44
RESET SESSION AUTHORIZATION;
ALTER TABLE lt_sep INHERIT lt;   -- a superuser may; the child is covered
SET SESSION AUTHORIZATION regress_a17_owner;
GRANT SELECT ON lt_sep TO regress_a17_clerk;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_a17_clerk;
SELECT a17.try($$SELECT ssn FROM lt_sep$$) AS inherit_after;
RESET SESSION AUTHORIZATION;
-- A table-level label on a partitioned table covers a partition made
-- after it, read directly; MERGE's join reads the column; a temp table
-- copy is a read.
SET SESSION AUTHORIZATION regress_a17_owner;
CREATE TABLE pt (id int, ssn text) PARTITION BY RANGE (id);
SECURITY LABEL FOR finsec ON TABLE pt IS 'identifier';
CREATE TABLE pt_1 PARTITION OF pt FOR VALUES FROM (0) TO (100);
INSERT INTO pt VALUES (1, 'PART-SECRET');
CREATE TABLE pt_2 (id int, ssn text);
INSERT INTO pt_2 VALUES (150, 'PART-SECRET-2');
SELECT a17.try($$ALTER TABLE pt ATTACH PARTITION pt_2 FOR VALUES FROM (100) TO (200)$$) AS uncleared_owner_attach;   -- S9P44
RESET SESSION AUTHORIZATION;
ALTER TABLE pt ATTACH PARTITION pt_2 FOR VALUES FROM (100) TO (200);   -- a superuser may; the partition is covered
SET SESSION AUTHORIZATION regress_a17_owner;
GRANT SELECT, UPDATE ON pt, pt_1, pt_2 TO regress_a17_clerk;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_a17_clerk;
SELECT a17.try($$SELECT ssn FROM pt_1$$) AS new_partition,
	   a17.try($$SELECT ssn FROM pt_2$$) AS attached_partition,
	   a17.try($$SELECT id FROM pt$$) AS table_label_any_column,
	   a17.try($$MERGE INTO lt USING (VALUES ('SECRET-2')) v(s) ON lt.ssn = v.s WHEN MATCHED THEN UPDATE SET x = 1$$) AS merge_on,
	   a17.try($$CREATE TEMP TABLE cp AS SELECT * FROM lt$$) AS temp_copy;
RESET SESSION AUTHORIZATION;
-- VULN V10 (high): the owner lowers the effective label of a partition
-- (or an inheritance child) in one statement, without the two-person
-- label_change, by detaching it (NO INHERIT alike): its rows keep no label
-- of their own, label.c derives them from the ancestors at read time.
-- Expected: detaching refused, or the labels copied onto the partition.
SET SESSION AUTHORIZATION regress_a17_owner;
INSERT INTO lt_child VALUES (11, 'SECRET-4', 'z', 1);
ALTER TABLE pt DETACH PARTITION pt_1;
ALTER TABLE lt_child NO INHERIT lt;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_a17_clerk;
SELECT a17.leaks($$SELECT ssn FROM pt_1$$, 'PART-SECRET') AS v10_detached_partition_leaks;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_a17_owner;
SELECT a17.leaks($$SELECT ssn FROM lt_child$$, 'SECRET-4') AS v10_no_inherit_leaks;
ALTER TABLE lt_child INHERIT lt;
RESET SESSION AUTHORIZATION;
-- Lowering or removing the label: two-person only, also through a
-- restore-like session (check_function_bodies off), by the owner and by a
-- lone administrator.
SET SESSION AUTHORIZATION regress_a17_owner;
SELECT a17.try($$SECURITY LABEL FOR finsec ON COLUMN lt.ssn IS 'public'$$) AS owner_lowers,
	   a17.try($$SECURITY LABEL FOR finsec ON COLUMN lt.ssn IS NULL$$) AS owner_removes;
SET check_function_bodies = off;
SELECT a17.try($$SECURITY LABEL FOR finsec ON COLUMN lt.ssn IS 'public'$$) AS restore_like_lowers;
RESET check_function_bodies;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_a17_adm1;
SELECT a17.try($$SECURITY LABEL FOR finsec ON COLUMN lt.ssn IS 'public'$$) AS admin_lowers;
SELECT finsec.label_grant('sensitive', 'regress_a17_clerk', false, 'self-approval attempt') AS lg \gset
SELECT a17.try(format('SELECT finsec.approve(%s)', :lg)) AS approve_own_grant;
RESET SESSION AUTHORIZATION;

-- VULN V4 (medium; listed as a residual risk in
-- docs/protected-data.md, whose remedy is to revoke SELECT, i.e.
-- the label adds nothing for plain columns): pg_stats shows the most common values of a labelled
-- column to any role with SELECT on the table: PostgreSQL's own check
-- (pg_stats: has_column_privilege) knows nothing of labels, and the label
-- check (label.c, ExecutorCheckPerms) sees only pg_statistic, which is
-- not the labelled table.  Expected: no clear value.
SET SESSION AUTHORIZATION regress_a17_clerk;
SELECT a17.leaks($$SELECT most_common_vals FROM pg_stats WHERE tablename = 'lt' AND attname = 'ssn'$$, 'SECRET-1')
	AS v4_pg_stats_leaks;
-- VULN V5 (high): a constraint violation's "Failing row contains (...)"
-- detail prints every column the role has SELECT privilege on, the
-- labelled one too, though the statement reads no labelled column (the
-- UPDATE's selectedCols are id and x only).  Expected: no clear value.
SELECT a17.leaks($$UPDATE lt SET x = 0 WHERE id = 3$$, 'SECRET-2', false) AS v5_check_detail_leaks,
	   a17.leaks($$UPDATE lt SET note = NULL WHERE id = 3$$, 'SECRET-2', false) AS v5_not_null_detail_leaks;
RESET SESSION AUTHORIZATION;

-- VULN V6 (high): the table owner, not cleared, copies the labelled column
-- into an unlabelled one with a stored generated column (the rewrite
-- evaluates it without ExecutorCheckPerms), or into pg_stats through an
-- expression index, or through a trigger that copies NEW.ssn on any
-- UPDATE that reads no labelled column.  Expected: none readable.
SET SESSION AUTHORIZATION regress_a17_owner;
SELECT a17.try($$SELECT ssn FROM lt$$) AS owner_direct;
SELECT a17.try($$ALTER TABLE lt ADD COLUMN copy text GENERATED ALWAYS AS (ssn || '') STORED$$) AS add_generated;
SELECT a17.leaks($$SELECT copy FROM lt$$, 'SECRET') AS v6_generated_column_leaks;
SELECT a17.try($$ALTER TABLE lt DROP COLUMN copy$$) AS dropped;
CREATE INDEX lt_ssn_expr ON lt ((ssn || '#'));
ANALYZE lt;
SELECT a17.leaks($$SELECT most_common_vals FROM pg_stats WHERE tablename = 'lt_ssn_expr'$$, 'SECRET')
	AS v6_expression_index_stats_leaks;
-- ... or through ALTER COLUMN TYPE ... USING, a CHECK constraint being
-- validated, an index expression: each evaluates the owner's function on
-- every row without the label check (the NOTICE carries the value).
CREATE TABLE lt2 (ssn text);
INSERT INTO lt2 VALUES ('SECRET-5');
SECURITY LABEL FOR finsec ON COLUMN lt2.ssn IS 'sensitive';
CREATE FUNCTION peek(v text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RAISE EXCEPTION 'peek %', v; END $$;
SELECT a17.leaks($$ALTER TABLE lt ADD CONSTRAINT lt_peek CHECK (peek(ssn))$$, 'SECRET', false) AS v6_check_validation_leaks,
	   a17.leaks($$ALTER TABLE lt2 ALTER COLUMN ssn TYPE text USING (CASE WHEN peek(ssn) THEN ssn END)$$, 'SECRET', false) AS v6_alter_using_leaks,
	   a17.leaks($$CREATE INDEX ON lt (peek(ssn))$$, 'SECRET', false) AS v6_index_expression_leaks;
CREATE TABLE sink (v text);
CREATE FUNCTION steal() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO sink VALUES (NEW.ssn); RETURN NEW; END $$;
CREATE TRIGGER steal BEFORE UPDATE ON lt_child FOR EACH ROW EXECUTE FUNCTION steal();
INSERT INTO lt_child VALUES (10, 'SECRET-3', 'z', 1);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_a17_owner;
UPDATE lt_child SET x = 2 WHERE id = 10;
SELECT a17.leaks($$SELECT v FROM sink$$, 'SECRET-3') AS v6_trigger_copy_leaks;
RESET SESSION AUTHORIZATION;

-- ==== 7. Two-person controls ====
-- A policy in use cannot be dropped; a lone administrator cannot approve
-- his own request.
SET SESSION AUTHORIZATION regress_a17_adm1;
SELECT a17.try($$SELECT finsec.request_change('protect.policy_drop', 'a_name', '{}')$$) AS drop_in_use;
SELECT finsec.request_change('protect.policy_drop', 'a_email', '{}') AS pd \gset
SELECT a17.try(format('SELECT finsec.approve(%s)', :pd)) AS approve_own_drop;
-- A column takes the policy before the second administrator approves.
SET SESSION AUTHORIZATION regress_a17_app;
CREATE TABLE late (v finsec.protected_text(a_email));
INSERT INTO late VALUES ('a@b.example');
SET SESSION AUTHORIZATION regress_a17_adm2;
SELECT a17.try(format('SELECT finsec.approve(%s)', :pd)) AS approve_drop_now_in_use;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS policies_kept FROM finsec.protect_policy WHERE policy_name IN ('a_name', 'a_email');

-- ==== 8. Crypto-shredding ====
SET SESSION AUTHORIZATION regress_a17_adm1;
SELECT finsec.key_generate('sh.enc', 'encryption', 'aes-256-gcm') AS k1 \gset
SELECT finsec.key_generate('sh.fp', 'fingerprint', 'hmac-sha256') AS k2 \gset
SELECT finsec.protect_policy_create('sh_phone', enc_key => 'sh.enc', fp_key => 'sh.fp', mask => 'phone',
									period_unit => 'month') > 0 AS sh_phone;
-- V7 (fixed): a period policy fingerprinting under a global key, or
-- sharing another period policy's keys, cannot be created (S9P10).
SELECT a17.try($$SELECT finsec.protect_policy_create('sh_global', enc_key => 'sh2.enc', fp_key => 'sh2.fp', mask => 'phone',
									period_unit => 'month', fp_scope => 'global')$$) AS v7_global_fp,
	   a17.try($$SELECT finsec.protect_policy_create('sh_shared', enc_key => 'sh.enc', fp_key => 'sh2.fp', mask => 'phone',
									period_unit => 'year')$$) AS shared_enc_key,
	   a17.try($$SELECT finsec.protect_policy_create('sh_inside', enc_key => 'sh.enc.202501', mask => 'phone')$$) AS key_inside_family;
SET SESSION AUTHORIZATION regress_a17_adm2;
SELECT finsec.approve(:k1) ->> 'state', finsec.approve(:k2) ->> 'state';
SELECT finsec.protect_period_keys('sh_phone', '2025-01-01', '2025-02-28', 'two months') AS pk \gset
SET SESSION AUTHORIZATION regress_a17_adm1;
SELECT finsec.approve(:pk) ->> 'policy' AS period_keys;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_a17_app;
CREATE TABLE txn (id int PRIMARY KEY, booked date, ph finsec.protected_text(sh_phone));
SELECT finsec.protect_period('txn', 'ph', 'booked') IS NOT NULL AS period_ph;
INSERT INTO txn VALUES (1, '2025-01-15', '13812345678'), (2, '2025-02-15', '13812345678');
GRANT SELECT ON txn TO regress_a17_unmask, regress_a17_clerk;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_a17_adm1;
SELECT finsec.protect_shred('sh_phone', '2025-01-31', 'retention ended') AS sh \gset
SELECT a17.try(format('SELECT finsec.approve(%s)', :sh)) AS approve_own_shred;
SET SESSION AUTHORIZATION regress_a17_adm2;
SELECT finsec.approve(:sh) ->> 'destroyed' IS NOT NULL AS shredded;
RESET SESSION AUTHORIZATION;
-- January: no clear value, no mask, no reveal; February still reveals.
SET SESSION AUTHORIZATION regress_a17_unmask;
SELECT id, finsec.reveal(ph, 'after shred') AS revealed, finsec.mask(ph) AS masked,
	   split_part(ph::text, '~', 1) AS printed, (finsec.protected_info(ph)).state
  FROM txn ORDER BY id;
SET finsec.protect_shredded_read = 'error';
SELECT a17.try($$SELECT finsec.reveal(ph) FROM txn WHERE id = 1$$) AS reveal_error,
	   a17.try($$SELECT finsec.mask(ph) FROM txn WHERE id = 1$$) AS mask_error,
	   a17.try($$SELECT finsec.protected_rekey(ph) FROM txn WHERE id = 1$$) AS rekey_error;
RESET finsec.protect_shredded_read;
RESET SESSION AUTHORIZATION;
-- No fingerprint equality of a January value with a fresh guess (its
-- period's fingerprint key is gone); the same guess still finds February.
SET SESSION AUTHORIZATION regress_a17_app;
SELECT id, ph = '13812345678'::finsec.protected_text(sh_phone) AS equal_to_guess FROM txn ORDER BY id;
RESET SESSION AUTHORIZATION;
-- A new row in the shredded period: refused, its keys are gone for good.
SET SESSION AUTHORIZATION regress_a17_app;
SELECT a17.try($$INSERT INTO txn (id, booked, ph) VALUES (3, '2025-01-20', '13900000000')$$) AS insert_shredded_period,
	   a17.try($$UPDATE txn SET booked = '2025-01-02' WHERE id = 2$$) AS move_into_shredded_period;
RESET SESSION AUTHORIZATION;
-- V7 (medium; fixed): fp_scope 'global' on a period policy kept the
-- fingerprint of a shredded value under a key that is never destroyed, so
-- after protect_shred the value still compared equal to a fresh guess.
-- Such a policy, and one sharing another period policy's keys, are now
-- refused at creation (above): none of them exists.
SELECT count(*) AS v7_policies_created FROM finsec.protect_policy
 WHERE policy_name IN ('sh_global', 'sh_shared', 'sh_inside');

\c postgres
SET client_min_messages = warning;
DROP DATABASE regress_attack17;
DROP ROLE regress_a17_adm1, regress_a17_adm2, regress_a17_app, regress_a17_unmask, regress_a17_owner,
	regress_a17_aud, regress_a17_clerk;
