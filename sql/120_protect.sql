--
-- 120_protect: finsec.protected_text, its policies, sealed text form,
-- masks, fingerprint equality and reveal (docs/protected-data.md; D3,
-- D4).  Values carry random nonces: this file prints masks, comparisons
-- and booleans, never sealed forms.
--
SET client_min_messages = warning;
-- EXPLAIN with the sealed forms of literals (random nonces) shortened.
CREATE FUNCTION pg_temp.plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
	FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		RETURN NEXT regexp_replace(l, '~fp1\.[A-Za-z0-9_-]+', '~fp1...', 'g');
	END LOOP;
END $$;
CREATE ROLE regress_p_alice LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_p_bob LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_p_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_p_unmask LOGIN IN ROLE finsec_app, finsec_unmask;
CREATE ROLE regress_p_nobody LOGIN;

-- Without its keys the type refuses to store anything, naming the key to create.
\set VERBOSITY default
SELECT 'Zhang San'::finsec.protected_text;
\set VERBOSITY terse

-- The default policy's keys, under two-person control.
SET SESSION AUTHORIZATION regress_p_alice;
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') AS r1 \gset
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sha256') AS r2 \gset
SET SESSION AUTHORIZATION regress_p_bob;
SELECT finsec.approve(:r1) ->> 'state', finsec.approve(:r2) ->> 'state';
RESET SESSION AUTHORIZATION;

-- Policies: the built-in one, and new ones by a finsec_admin directly.
SELECT policy_name, policy_id, enc_key, fp_key, fp_scope, mask, period_unit, label FROM finsec.protect_policy;
SET SESSION AUTHORIZATION regress_p_alice;
SELECT finsec.protect_policy_create('customer_name', mask => 'name') = finsec._protect_policy_id('customer_name') AS id_is_name_hash;
SELECT finsec.protect_policy_create('customer_phone', mask => 'phone', label => 'identifier') > 0;
SELECT finsec.protect_policy_create('customer_address', mask => 'address') > 0;
SELECT finsec.protect_policy_create('customer_email', mask => 'email') > 0;
SELECT finsec.protect_policy_create('memo', fp_key => NULL) > 0;
SELECT finsec.protect_policy_create('customer_name');                  -- exists
SELECT finsec.protect_policy_create('Bad-Name');
SELECT finsec.protect_policy_create('default');
SELECT finsec.protect_policy_create('x1', mask => 'full');
SELECT finsec.protect_policy_create('x1', label => 'secret');
SELECT finsec.protect_policy_create('x1', period_unit => 'week');
SELECT finsec.protect_policy_create('x1', fp_scope => 'period');       -- no period unit
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_p_app;
SELECT finsec.protect_policy_create('x2');                              -- not an admin
RESET SESSION AUTHORIZATION;
UPDATE finsec.protect_policy SET mask = 'none' WHERE policy_name = 'customer_name';   -- immutable
SELECT policy_name, mask, label, fp_key IS NULL AS no_fp FROM finsec.protect_policy ORDER BY policy_name;

-- The type modifier is the policy.
CREATE TABLE regress_customer (
	id int PRIMARY KEY,
	name finsec.protected_text(customer_name),
	phone finsec.protected_text(customer_phone),
	address finsec.protected_text(customer_address),
	email finsec.protected_text(customer_email),
	note finsec.protected_text(memo),
	free finsec.protected_text("default")
);
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'regress_customer'::regclass AND attnum > 0 ORDER BY attnum;
CREATE TABLE regress_bad (v finsec.protected_text(no_such_policy));
CREATE TABLE regress_bad (v finsec.protected_text(customer_name, memo));
CREATE TABLE regress_bad (v finsec.protected_text("Bad"));
CREATE TABLE regress_bad (v finsec.protected_text(1));
CREATE TABLE regress_bad (v finsec.protected_text);   -- no policy: refused (S9P08)
CREATE TABLE regress_bad (v finsec.protected_text[]);
CREATE DOMAIN regress_bad_d AS finsec.protected_mobile;
CREATE TYPE regress_bad_t AS (v finsec.protected_text);
CREATE TABLE regress_bad AS SELECT 'x'::finsec.protected_text AS v;
CREATE TABLE regress_ok (v int);
ALTER TABLE regress_ok ADD COLUMN w finsec.protected_text;
ALTER TABLE regress_ok ALTER COLUMN v TYPE finsec.protected_uscc USING NULL;
CREATE DOMAIN regress_ok_d AS finsec.protected_mobile("default");
CREATE TABLE regress_ok2 (v regress_ok_d, w finsec.protected_text(memo)[]);
DROP TABLE regress_ok, regress_ok2;
DROP DOMAIN regress_ok_d;

INSERT INTO regress_customer VALUES
	(1, '张三', '13812345678', '北京市朝阳区建国路88号', 'zhangsan@example.com', '转账备注：房租', 'anything'),
	(2, '欧阳娜娜', '+86 138-1234-5679', '上海市浦东新区世纪大道100号', 'nana@example.cn', '', NULL),
	(3, 'Li Si', '010-6552 1234', '广西壮族自治区南宁市青秀区民族大道1号', 'no-at-sign', NULL, ''),
	(4, 'A', '12345', '江苏省苏州市昆山市前进路1号', '@example.org', 'x', 'y'),
	(5, NULL, NULL, 'somewhere without units', NULL, NULL, NULL);

-- Masks per policy; the output shows the mask then the sealed form.
SELECT id, finsec.mask(name) AS name, finsec.mask(phone) AS phone, finsec.mask(address) AS address,
	   finsec.mask(email) AS email, finsec.mask(note) AS note, finsec.mask(free) AS free
  FROM regress_customer ORDER BY id;
SELECT id, split_part(name::text, '~', 1) AS shown, position('张三' IN name::text) AS clear_at,
	   name::text LIKE '%~fp1.%' AS sealed
  FROM regress_customer WHERE id = 1;

-- Round trip of the sealed form: the same value, under the same policy.
CREATE TEMP TABLE sealed AS SELECT id, name::text AS n, phone::text AS p, note::text AS m FROM regress_customer;
SELECT s.id, s.n::finsec.protected_text(customer_name) = c.name AS name_equal,
	   finsec.mask(s.m::finsec.protected_text(memo)) AS note_mask
  FROM sealed s JOIN regress_customer c USING (id) WHERE s.id < 5 ORDER BY s.id;
-- The text before the mark must be the value's mask: another one in front
-- is no sealed value (22P02), so clear text cannot carry another row's value.
SELECT finsec.mask(('王五' || substr(n, position('~' IN n)))::finsec.protected_text(customer_name)) AS still_zhang
  FROM sealed WHERE id = 1;
-- Tampered: one character of the payload changed -> refused, value not quoted.
SELECT (left(n, length(n) - 3) || CASE substr(n, length(n) - 2, 1) WHEN 'A' THEN 'B' ELSE 'A' END || right(n, 2))::finsec.protected_text(customer_name)
  FROM sealed WHERE id = 1;
-- Truncated.
SELECT left(n, length(n) - 4)::finsec.protected_text(customer_name) FROM sealed WHERE id = 1;
SELECT 'x~fp1.'::finsec.protected_text;
SELECT 'x~fp1.!!!!'::finsec.protected_text;
SELECT 'x~fp1.AAAA'::finsec.protected_text;
-- Moved to another policy: refused by the column's policy, and an
-- altered policy id in the payload fails authentication.
SELECT n::finsec.protected_text(customer_phone) FROM sealed WHERE id = 1;
INSERT INTO regress_customer (id, phone) SELECT 9, n::finsec.protected_text(customer_name) FROM sealed WHERE id = 1;
SELECT finsec.protected_info(p::finsec.protected_text(customer_phone)) FROM sealed WHERE id = 1;
-- A sealed form of another kind.
SELECT n::finsec.protected_mobile FROM sealed WHERE id = 1;

-- Length coercion: a literal (default policy) is re-sealed under the
-- column's; a value of another policy is refused.
SELECT (finsec.protected_info('李四'::finsec.protected_text)).policy AS literal_policy,
	   (finsec.protected_info('李四'::finsec.protected_text(customer_name))).policy AS cast_policy;
UPDATE regress_customer SET phone = name WHERE id = 1;
UPDATE regress_customer c SET name = o.name FROM regress_customer o WHERE c.id = 2 AND o.id = 1;   -- same policy: fine
SELECT finsec.mask(name) FROM regress_customer WHERE id = 2;
UPDATE regress_customer c SET name = '欧阳娜娜' WHERE id = 2;

-- Equality without decrypting: a unique index, lookups by literal, joins, GROUP BY.
CREATE UNIQUE INDEX regress_customer_name ON regress_customer (name);
INSERT INTO regress_customer (id, name) VALUES (10, '张三');
SET enable_seqscan = off;
SELECT pg_temp.plan($$SELECT id FROM regress_customer WHERE name = '张三'::finsec.protected_text(customer_name)$$);
-- A literal without a policy is unbound: compared with a column, S9P07 and a hint.
SELECT id FROM regress_customer WHERE name = '张三';
SELECT id FROM regress_customer WHERE name = '张三'::finsec.protected_text(customer_name);
RESET enable_seqscan;
SELECT id FROM regress_customer WHERE name = '张四'::finsec.protected_text(customer_name);
CREATE TABLE regress_order (id int, customer finsec.protected_text(customer_name), amount numeric);
INSERT INTO regress_order VALUES (1, '张三', 10), (2, '张三', 20), (3, 'Li Si', 5), (4, '王五', 1), (5, NULL, 2);
SELECT c.id, sum(o.amount) FROM regress_customer c JOIN regress_order o ON o.customer = c.name GROUP BY c.id ORDER BY c.id;
SET enable_hashjoin = off; SET enable_mergejoin = on; SET enable_nestloop = off;
SELECT c.id, count(*) FROM regress_customer c JOIN regress_order o ON o.customer = c.name GROUP BY c.id ORDER BY c.id;
RESET enable_hashjoin; RESET enable_mergejoin; RESET enable_nestloop;
SELECT finsec.mask(customer) AS customer, count(*) FROM regress_order GROUP BY customer ORDER BY 2 DESC, 1;
SELECT count(DISTINCT customer) FROM regress_order;
-- None of that decrypted anything (the keyring counts every use of a key);
-- reading masks does.  Committed uses reach the ledger at the flush.
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT coalesce(sum((detail->>'count')::int), 0) AS d0 FROM finsec.audit WHERE event_type = 'key.use' AND action = 'protect-decrypt' \gset
SELECT count(*) FROM regress_customer c JOIN regress_order o ON o.customer = c.name WHERE c.name = '张三'::finsec.protected_text(customer_name);
SELECT count(DISTINCT customer) FROM regress_order;
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT coalesce(sum((detail->>'count')::int), 0) - :d0 AS decryptions FROM finsec.audit WHERE event_type = 'key.use' AND action = 'protect-decrypt';
SELECT count(finsec.mask(customer)) FROM regress_order;
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT coalesce(sum((detail->>'count')::int), 0) - :d0 AS decryptions FROM finsec.audit WHERE event_type = 'key.use' AND action = 'protect-decrypt';
-- A policy without fingerprint cannot be compared.
SELECT count(*) FROM regress_customer WHERE note = 'x'::finsec.protected_text(memo);
CREATE INDEX ON regress_customer (note);

-- NULLs.
SELECT NULL::finsec.protected_text IS NULL, finsec.mask(NULL::finsec.protected_text) IS NULL;
SELECT finsec.protected_info(NULL::finsec.protected_text) IS NULL;

-- Sizes: 1 MB is a value, over it is refused without the value.
SELECT length(finsec.mask(repeat('字', 349525)::finsec.protected_text(customer_name))) AS name_mask_chars;
SELECT octet_length(repeat('a', 1048576)::finsec.protected_text::text) > 1048576 AS one_mb;
SELECT repeat('a', 1048577)::finsec.protected_text;
SELECT ''::finsec.protected_text IS NOT NULL AS empty_is_a_value, finsec.mask(''::finsec.protected_text(customer_name)) = '' AS empty_mask;

-- Reveal: finsec_unmask only; the audit row survives rollback.
GRANT SELECT ON regress_customer TO regress_p_app, regress_p_unmask;
GRANT SELECT, UPDATE ON regress_customer TO regress_p_alice;
SET SESSION AUTHORIZATION regress_p_app;
SELECT finsec.reveal(name) FROM regress_customer WHERE id = 1;
SELECT finsec.reveal(NULL::finsec.protected_text);
RESET SESSION AUTHORIZATION;
-- EXECUTE granted by mistake: the gate still refuses a non-member of finsec_unmask.
GRANT EXECUTE ON FUNCTION finsec.reveal(finsec.protected_text, text, text) TO regress_p_app;
SET SESSION AUTHORIZATION regress_p_app;
SELECT finsec.reveal(name) FROM regress_customer WHERE id = 1;
SELECT finsec.reveal(NULL::finsec.protected_text);
RESET SESSION AUTHORIZATION;
REVOKE EXECUTE ON FUNCTION finsec.reveal(finsec.protected_text, text, text) FROM regress_p_app;
SET SESSION AUTHORIZATION regress_p_nobody;
SELECT finsec.mask(NULL::finsec.protected_text);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_p_unmask;
SELECT id, finsec.reveal(name, 'kyc review', 'regress_customer id=' || id) FROM regress_customer WHERE id IN (1, 2) ORDER BY id;
BEGIN;
SELECT finsec.reveal(phone, 'rolled back', 'regress_customer id=3') FROM regress_customer WHERE id = 3;
ROLLBACK;
SELECT finsec.reveal(NULL::finsec.protected_text) IS NULL AS null_reveals_null;
RESET SESSION AUTHORIZATION;
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT event_type, description, detail->>'kind' AS kind, detail->>'policy' AS policy, detail->>'masked' AS masked,
	   length(detail->>'fingerprint') AS fp_hex, detail->>'context' AS context
  FROM finsec.audit WHERE event_type = 'protect.reveal' ORDER BY finsec_seq;
SELECT count(*) AS clear_values_in_ledger FROM finsec.audit WHERE detail::text LIKE '%张三%' OR detail::text LIKE '%13812345678%';

-- protected_info, and rekey after the keys rotate.
SELECT (finsec.protected_info(name)).* FROM regress_customer WHERE id = 1;
SET SESSION AUTHORIZATION regress_p_alice;
SELECT finsec.key_rotate('protect.enc') AS r3 \gset
SET SESSION AUTHORIZATION regress_p_bob;
SELECT finsec.approve(:r3) ->> 'state';
RESET SESSION AUTHORIZATION;
SELECT id, finsec.mask(name), (finsec.protected_info(name)).enc_version FROM regress_customer WHERE id IN (1, 2) ORDER BY id;
SET SESSION AUTHORIZATION regress_p_app;
SELECT finsec.protected_rekey(name) FROM regress_customer WHERE id = 1;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_p_alice;
UPDATE regress_customer SET name = finsec.protected_rekey(name) WHERE id = 1;
RESET SESSION AUTHORIZATION;
SELECT id, finsec.mask(name), (finsec.protected_info(name)).enc_version,
	   name = '张三'::finsec.protected_text(customer_name) AS still_equal FROM regress_customer WHERE id = 1;
-- Moving to another policy is rekey's job.
SELECT (finsec.protected_info(finsec.protected_rekey(name, 'customer_phone'))).policy FROM regress_customer WHERE id = 1;
SELECT finsec.protected_rekey(name, 'no_such') FROM regress_customer WHERE id = 1;
-- ... and only to a policy of the same mask and a label no lower (S9P09).
SELECT finsec.protect_policy_create('customer_name2', mask => 'name') > 0 AS same_mask,
	   finsec.protect_policy_create('customer_name_low', mask => 'name', label => 'internal') > 0 AS lower_label;
SELECT (finsec.protected_info(finsec.protected_rekey(name, 'customer_name2'))).policy,
	   finsec.mask(finsec.protected_rekey(name, 'customer_name2')) FROM regress_customer WHERE id = 1;
SELECT finsec.protected_rekey(name, 'customer_name_low') FROM regress_customer WHERE id = 1;
SELECT finsec.protected_rekey(name, 'customer_email') FROM regress_customer WHERE id = 1;
-- An unbound value moves anywhere (as the length cast).
SELECT finsec.mask(finsec.protected_rekey('李四'::finsec.protected_text, 'customer_name2')) AS unbound_rekeyed;
-- The phone mask shows only digits and " -+().": other characters are '*'.
SELECT finsec.mask('张三 (Ext.) +86 138-1234-5678'::finsec.protected_text(customer_phone)) AS phone_mask;
-- An unbound value's sealed form is never read back (22P02), nor a text
-- with two marks; type modifier arrays are one-dimensional from 1 (2202E).
SELECT ('李四'::finsec.protected_text)::text::finsec.protected_text;
SELECT ('李四'::finsec.protected_text)::text::finsec.protected_text(customer_name);
SELECT (n || '~fp1.' || substr(n, position('~' IN n) + 5))::finsec.protected_text(customer_name) FROM sealed WHERE id = 1;
SELECT finsec.protected_typmod_in('{{customer_name}}'::cstring[]);
SELECT finsec.protected_typmod_in('[0:0]={customer_name}'::cstring[]);
-- Unbound values compare among themselves; "default" values with "default".
SELECT '王五'::finsec.protected_text = '王五'::finsec.protected_text AS unbound_equal,
	   '王五'::finsec.protected_text("default") = '王五'::finsec.protected_text("default") AS default_equal;
SELECT '王五'::finsec.protected_text("default") = '王五'::finsec.protected_text AS default_vs_unbound;

-- Dropping a policy: two-person, refused while a column uses it.
SET SESSION AUTHORIZATION regress_p_alice;
SELECT finsec.request_change('protect.policy_drop', 'customer_email', '{}', 'cleanup');
SELECT finsec.request_change('protect.policy_drop', 'default', '{}', 'cleanup');
SELECT finsec.protect_policy_create('scratch') > 0;
SELECT finsec.request_change('protect.policy_drop', 'scratch', '{}', 'cleanup') AS r4 \gset
SET SESSION AUTHORIZATION regress_p_bob;
SELECT finsec.approve(:r4) ->> 'dropped';
RESET SESSION AUTHORIZATION;
SELECT count(*) FROM finsec.protect_policy WHERE policy_name = 'scratch';

-- COPY: text and binary forms carry the sealed value; COPY FROM seals
-- clear text directly under the column's policy.
\getenv abs_builddir PG_ABS_BUILDDIR
\set copyfile :abs_builddir '/results/120_protect.copy'
CREATE TABLE regress_copy (id int, name finsec.protected_text(customer_name), note finsec.protected_text(memo));
COPY regress_copy FROM STDIN;
1	王五	备注
2	\N	\N
\.
SELECT id, finsec.mask(name), (finsec.protected_info(name)).policy, finsec.mask(note) FROM regress_copy ORDER BY id;
COPY regress_copy TO :'copyfile' (FORMAT binary);
CREATE TABLE regress_copy2 (LIKE regress_copy);
COPY regress_copy2 FROM :'copyfile' (FORMAT binary);
SELECT a.id, a.name = b.name AS same_name, finsec.mask(b.note) FROM regress_copy a JOIN regress_copy2 b USING (id) ORDER BY a.id;
-- Binary input is checked like text input: into a column of another policy, refused.
CREATE TABLE regress_copy3 (id int, name finsec.protected_text(customer_phone), note finsec.protected_text(memo));
COPY regress_copy3 FROM :'copyfile' (FORMAT binary);
COPY regress_copy TO :'copyfile';
COPY regress_copy3 FROM :'copyfile';
DROP TABLE regress_copy, regress_copy2, regress_copy3;

-- A key that is missing: the keyring's SQLSTATE and a hint naming the key.
SET SESSION AUTHORIZATION regress_p_alice;
SELECT finsec.protect_policy_create('later', enc_key => 'later.enc', fp_key => NULL, mask => 'name') > 0;
RESET SESSION AUTHORIZATION;
CREATE FUNCTION pg_temp.try(q text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE h text;
BEGIN
	EXECUTE q;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
	RAISE WARNING '% %: %', SQLSTATE, SQLERRM, h;
END $$;
SELECT pg_temp.try($$SELECT 'x'::finsec.protected_text(later)$$);
-- A key of the wrong purpose.
SET SESSION AUTHORIZATION regress_p_alice;
SELECT finsec.protect_policy_create('wrong_purpose', enc_key => 'protect.fp') > 0;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.try($$SELECT 'x'::finsec.protected_text(wrong_purpose)$$);
-- A sealed value of a policy whose key has no version yet (a restore
-- before the keyring) is accepted unchecked and shows "[protected]"; once
-- a different key exists under that label, it shows "[invalid]".
CREATE FUNCTION pg_temp.b64url_to_bytea(s text) RETURNS bytea LANGUAGE sql AS $$
	SELECT decode(rpad(translate(s, '-_', '+/'), (length(s) + 3) / 4 * 4, '='), 'base64') $$;
CREATE FUNCTION pg_temp.bytea_to_b64url(b bytea) RETURNS text LANGUAGE sql AS $$
	SELECT rtrim(translate(replace(encode(b, 'base64'), E'\n', ''), '+/', '-_'), '=') $$;
CREATE FUNCTION pg_temp.with_policy(sealed text, policy text) RETURNS text LANGUAGE sql AS $$
	SELECT 'x~fp1.' || pg_temp.bytea_to_b64url(overlay(pg_temp.b64url_to_bytea(split_part(sealed, '~fp1.', 2))
		PLACING int4send(finsec._protect_policy_id(policy)) FROM 5 FOR 4)) $$;
CREATE TABLE regress_later (v finsec.protected_text(later));
INSERT INTO regress_later SELECT pg_temp.with_policy(m, 'later')::finsec.protected_text(later) FROM sealed WHERE id = 1;
SELECT split_part(v::text, '~', 1) AS shown, (finsec.protected_info(v)).state FROM regress_later;
SELECT finsec.mask(v) FROM regress_later;
SET SESSION AUTHORIZATION regress_p_alice;
SELECT finsec.key_generate('later.enc', 'encryption', 'aes-256-gcm') AS r5 \gset
SET SESSION AUTHORIZATION regress_p_bob;
SELECT finsec.approve(:r5) ->> 'state';
RESET SESSION AUTHORIZATION;
SELECT split_part(v::text, '~', 1) AS shown, (finsec.protected_info(v)).state FROM regress_later;
SELECT finsec.mask(v) FROM regress_later;
-- Now that the key exists the same sealed form is refused at input.
SELECT pg_temp.with_policy(m, 'later')::finsec.protected_text(later) FROM sealed WHERE id = 1;
-- A payload whose policy id was altered to another policy with the same key fails authentication.
SELECT pg_temp.with_policy(n, 'customer_address')::finsec.protected_text FROM sealed WHERE id = 1;

-- Shredding: a destroyed key version leaves "[shredded]", NULL masks and reveals.
SET SESSION AUTHORIZATION regress_p_alice;
SELECT finsec.protect_policy_create('shred_me', enc_key => 'shred.enc', mask => 'name') > 0;
SELECT finsec.key_generate('shred.enc', 'encryption', 'aes-256-gcm') AS r6 \gset
SET SESSION AUTHORIZATION regress_p_bob;
SELECT finsec.approve(:r6) ->> 'state';
RESET SESSION AUTHORIZATION;
CREATE TABLE regress_shred (id int, v finsec.protected_text(shred_me));
INSERT INTO regress_shred VALUES (1, '赵六');
CREATE TEMP TABLE shred_sealed AS SELECT v::text AS s FROM regress_shred;
SET SESSION AUTHORIZATION regress_p_alice;
SELECT finsec.key_rotate('shred.enc') AS r7 \gset
SET SESSION AUTHORIZATION regress_p_bob;
SELECT finsec.approve(:r7) ->> 'state';
SELECT finsec.request_change('key.destroy', 'shred.enc', '{"version": 1}', 'shred') AS r8 \gset
SET SESSION AUTHORIZATION regress_p_alice;
SELECT finsec.approve(:r8) IS NOT NULL AS destroyed;
RESET SESSION AUTHORIZATION;
INSERT INTO regress_shred VALUES (2, '钱七');
SELECT id, split_part(v::text, '~', 1) AS shown, finsec.mask(v), (finsec.protected_info(v)).state,
	   (finsec.protected_info(v)).enc_version FROM regress_shred ORDER BY id;
SELECT count(*) FILTER (WHERE v = '赵六'::finsec.protected_text(shred_me)) AS fingerprint_still_matches FROM regress_shred;
-- A shredded row restored from its sealed form is accepted, and stays shredded.
SELECT (finsec.protected_info(s::finsec.protected_text(shred_me))).state FROM shred_sealed;
GRANT SELECT ON regress_shred TO regress_p_unmask, regress_p_alice;
SET SESSION AUTHORIZATION regress_p_unmask;
SELECT id, finsec.reveal(v, 'shred check') FROM regress_shred ORDER BY id;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_p_alice;
SELECT finsec.protected_rekey(v) FROM regress_shred WHERE id = 1;
RESET SESSION AUTHORIZATION;
DROP TABLE regress_later, regress_shred;

DROP TABLE regress_customer, regress_order;
