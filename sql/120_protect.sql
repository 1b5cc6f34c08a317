--
-- 120_protect: finsec.protected_text, its policies, sealed text form,
-- masks, fingerprint equality and reveal (docs/protected-data.md; D3,
-- D4).  Values carry random nonces: this file prints masks, comparisons
-- and booleans, never sealed forms.
--
SET client_min_messages = warning;
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
	free finsec.protected_text
);
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'regress_customer'::regclass AND attnum > 0 ORDER BY attnum;
CREATE TABLE regress_bad (v finsec.protected_text(no_such_policy));
CREATE TABLE regress_bad (v finsec.protected_text(customer_name, memo));
CREATE TABLE regress_bad (v finsec.protected_text("Bad"));
CREATE TABLE regress_bad (v finsec.protected_text(1));

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
-- The masked part is informational: another mask in front changes nothing.
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
EXPLAIN (COSTS OFF) SELECT id FROM regress_customer WHERE name = '张三';
SELECT id FROM regress_customer WHERE name = '张三';
SELECT id FROM regress_customer WHERE name = '张三'::finsec.protected_text(customer_name);
RESET enable_seqscan;
SELECT id FROM regress_customer WHERE name = '张四';
CREATE TABLE regress_order (id int, customer finsec.protected_text(customer_name), amount numeric);
INSERT INTO regress_order VALUES (1, '张三', 10), (2, '张三', 20), (3, 'Li Si', 5), (4, '王五', 1), (5, NULL, 2);
SELECT c.id, sum(o.amount) FROM regress_customer c JOIN regress_order o ON o.customer = c.name GROUP BY c.id ORDER BY c.id;
SET enable_hashjoin = off; SET enable_mergejoin = on; SET enable_nestloop = off;
SELECT c.id, count(*) FROM regress_customer c JOIN regress_order o ON o.customer = c.name GROUP BY c.id ORDER BY c.id;
RESET enable_hashjoin; RESET enable_mergejoin; RESET enable_nestloop;
SELECT finsec.mask(customer) AS customer, count(*) FROM regress_order GROUP BY customer ORDER BY 2 DESC, 1;
SELECT count(DISTINCT customer) FROM regress_order;
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
	   name = '张三' AS still_equal FROM regress_customer WHERE id = 1;
-- Moving to another policy is rekey's job.
SELECT (finsec.protected_info(finsec.protected_rekey(name, 'customer_phone'))).policy FROM regress_customer WHERE id = 1;
SELECT finsec.protected_rekey(name, 'no_such') FROM regress_customer WHERE id = 1;

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

DROP TABLE regress_customer, regress_order;
