--
-- 130_credit_register: finsec.register_credit_table (docs/credit.md):
-- a registration and what it sets up (protection, period keys, labels,
-- archive table, catalog rows, the backend cache, the ledger event);
-- every bad input refused with its SQLSTATE and hint, nothing
-- half-registered.
--
SET client_min_messages = warning;
CREATE DATABASE regress_creg;
\c regress_creg
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_cr_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_cr_b LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_cr_owner LOGIN IN ROLE finsec_app;
CREATE ROLE regress_cr_admin_owner LOGIN IN ROLE finsec_admin, regress_cr_owner;
CREATE ROLE regress_cr_app LOGIN IN ROLE finsec_app;
GRANT CREATE ON SCHEMA public TO regress_cr_owner;

SET SESSION AUTHORIZATION regress_cr_a;
SELECT finsec.key_generate('credit.enc', 'encryption', 'aes-256-gcm') AS k1 \gset
SELECT finsec.key_generate('credit.fp', 'fingerprint', 'hmac-sm3') AS k2 \gset
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') AS k3 \gset
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sm3') AS k4 \gset
SELECT finsec.key_generate('g.enc', 'encryption', 'aes-256-gcm') AS k5 \gset
SELECT finsec.key_generate('g.fp', 'fingerprint', 'hmac-sm3') AS k6 \gset
SELECT finsec.key_generate('y.enc', 'encryption', 'aes-256-gcm') AS k7 \gset
SELECT finsec.key_generate('y.fp', 'fingerprint', 'hmac-sm3') AS k8 \gset
SET SESSION AUTHORIZATION regress_cr_b;
SELECT finsec.approve(:k1) ->> 'state', finsec.approve(:k2) ->> 'state',
	   finsec.approve(:k3) ->> 'state', finsec.approve(:k4) ->> 'state',
	   finsec.approve(:k5) ->> 'state', finsec.approve(:k6) ->> 'state',
	   finsec.approve(:k7) ->> 'state', finsec.approve(:k8) ->> 'state';
SET SESSION AUTHORIZATION regress_cr_a;
SELECT finsec.protect_policy_create('credit_p', enc_key => 'credit.enc', fp_key => 'credit.fp',
									mask => 'name', period_unit => 'month', fp_scope => 'period') > 0 AS created;
SELECT finsec.protect_policy_create('credit_y', enc_key => 'y.enc', fp_key => 'y.fp',
									mask => 'name', period_unit => 'year', fp_scope => 'period') > 0 AS created;
SELECT finsec.protect_policy_create('credit_q', enc_key => 'g.enc', fp_key => 'g.fp',
									mask => 'name', period_unit => 'month', fp_scope => 'period') > 0 AS created;
SELECT finsec.protect_policy_create('plain_p', enc_key => 'protect.enc', fp_key => 'protect.fp', mask => 'name') > 0 AS created;
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION regress_cr_owner;
CREATE TABLE loan (
	id			bigint PRIMARY KEY,
	name		finsec.protected_text(credit_p) NOT NULL,
	id_no		finsec.protected_resident_id(credit_p) NOT NULL,
	birth_date	finsec.protected_text(credit_p),
	region		finsec.protected_text(credit_p),
	overdue		finsec.protected_text(credit_p),
	amount		numeric,
	closed_on	date NOT NULL,
	inst		text);
RESET SESSION AUTHORIZATION;

\set VERBOSITY default
-- the caller: finsec_admin and able to act as the owner
SET SESSION AUTHORIZATION regress_cr_a;
SELECT finsec.register_credit_table('loan', key => 'id', subject => 'name', behaviour_end => 'closed_on',
	policy => 'credit_p', identifiers => '{id_no}',
	quasi_identifiers => '{"birth_date": ["month", "year", "decade"], "region": ["prefix:4", "prefix:2"]}',
	sensitive => '{overdue}');
SET SESSION AUTHORIZATION regress_cr_owner;
SELECT finsec.register_credit_table('loan', key => 'id', subject => 'name', behaviour_end => 'closed_on',
	policy => 'credit_p');
SET SESSION AUTHORIZATION regress_cr_admin_owner;
-- not even the internal step, called directly
SELECT finsec._credit_register_record('loan', 'id', 'name', 'closed_on', 'credit_p', '{}', '{}', '{}', NULL, NULL,
	'5 years', 'deidentify', 5, 2, 0.05);

-- bad input: each refused with its SQLSTATE; nothing half-registered
\set VERBOSITY sqlstate
CREATE FUNCTION pg_temp.reg(key text DEFAULT 'id', subject text DEFAULT 'name', behaviour_end text DEFAULT 'closed_on',
	policy text DEFAULT 'credit_p', identifiers text[] DEFAULT '{id_no}',
	qi jsonb DEFAULT '{"birth_date": ["month", "year", "decade"], "region": ["prefix:4", "prefix:2"]}',
	sensitive text[] DEFAULT '{overdue}', public text[] DEFAULT NULL, institution text DEFAULT NULL,
	retention interval DEFAULT '5 years', action text DEFAULT 'deidentify', k int DEFAULT 5, l int DEFAULT 2,
	max_suppression numeric DEFAULT 0.05)
RETURNS text LANGUAGE sql AS $$
	SELECT finsec.register_credit_table('loan', key, subject, behaviour_end, policy, identifiers, qi, sensitive,
		public, institution, retention, action, k, l, max_suppression)
$$;
SELECT pg_temp.reg(key => NULL);
SELECT pg_temp.reg(key => 'nope');                         -- 42703
SELECT pg_temp.reg(key => 'amount');                       -- not unique: S9D03
SELECT pg_temp.reg(key => 'name', subject => 'id_no', identifiers => '{}');  -- protected key: S9D03
SELECT pg_temp.reg(subject => 'amount');                   -- not protected: S9D03
SELECT pg_temp.reg(identifiers => '{id_no, name}');        -- two roles: S9D02
SELECT pg_temp.reg(sensitive => '{overdue, finsec_seq}');  -- 42703 (not yet protected)
SELECT pg_temp.reg(behaviour_end => 'inst', public => '{amount, closed_on}');  -- not a date: S9D03
SELECT pg_temp.reg(policy => 'credit_y');                  -- yearly: S9D04
SELECT pg_temp.reg(policy => 'plain_p');                   -- no period: S9D04
SELECT pg_temp.reg(policy => 'nope');                      -- S9D04
SELECT pg_temp.reg(k => 1);                                -- S9D05
SELECT pg_temp.reg(l => 6);                                -- S9D05
SELECT pg_temp.reg(l => 0);                                -- S9D05
SELECT pg_temp.reg(max_suppression => 0.6);                -- S9D05
SELECT pg_temp.reg(max_suppression => -0.01);              -- S9D05
SELECT pg_temp.reg(action => 'keep');                      -- S9D05
SELECT pg_temp.reg(retention => '3 years');                -- the legal floor: S9D06
SELECT pg_temp.reg(retention => '6 years');                -- art. 16's deletion: S9D06
SELECT pg_temp.reg(retention => '1826 days');              -- 5 years of days is not 5 years: S9D06
SELECT pg_temp.reg(qi => '{"birth_date": ["year", "month"]}');        -- finer after coarser: S9D40
SELECT pg_temp.reg(qi => '{"birth_date": "year"}');                   -- not an array: S9D40
SELECT pg_temp.reg(qi => '{"region": ["map:nowhere"]}', identifiers => '{id_no, birth_date}');  -- S9D41
SELECT pg_temp.reg(qi => '[1]');                           -- S9D05
SELECT pg_temp.reg(public => '{amount}');                  -- inst has no role: S9D02
SELECT pg_temp.reg(institution => 'amount', public => '{inst}');  -- numeric institution: S9D03
SELECT pg_temp.reg(identifiers => '{id_no, NULL}');        -- 22004
SELECT count(*) AS registered FROM finsec.credit_table;
SELECT count(*) AS columns FROM finsec.credit_column;
SELECT count(*) AS period_columns FROM finsec.protect_period_column;
SELECT finsec._credit_cached('loan') AS cached;
\set VERBOSITY default
RESET SESSION AUTHORIZATION;
SELECT count(*) AS chains FROM finsec.ledger_chain WHERE relid = 'loan'::regclass;
SELECT count(*) AS archive_tables FROM pg_tables WHERE schemaname = 'finsec_archive';
SELECT count(*) AS labels FROM pg_seclabel WHERE provider = 'finsec' AND objoid = 'loan'::regclass;
SET SESSION AUTHORIZATION regress_cr_admin_owner;

-- the registration
SELECT finsec.register_credit_table('loan', key => 'id', subject => 'name', behaviour_end => 'closed_on',
	policy => 'credit_p', identifiers => '{id_no}',
	quasi_identifiers => '{"birth_date": ["month", "year", "decade"], "region": ["prefix:4", "prefix:2"]}',
	sensitive => '{overdue}', institution => 'inst') AS archive;
SELECT finsec._credit_cached('loan') AS cached;
RESET SESSION AUTHORIZATION;
SELECT relid, key_column, subject_column, behaviour_end_column, institution_column, policy_name, period_unit,
	   retention, action, k, l, max_suppression, archive_table, retention_request, registered_by
  FROM finsec.credit_table;
SELECT column_name, column_role, ladder FROM finsec.credit_column ORDER BY column_name;
SELECT column_name, date_column, policy_name FROM finsec.protect_period_column ORDER BY column_name;
SELECT count(*) AS chains FROM finsec.ledger_chain WHERE relid = 'loan'::regclass;
SELECT a.attname, s.label FROM pg_seclabel s JOIN pg_attribute a ON a.attrelid = s.objoid AND a.attnum = s.objsubid
 WHERE s.objoid = 'loan'::regclass AND s.provider = 'finsec' ORDER BY a.attnum;
-- the archive: batch_id, period, then the registered columns but key and behaviour_end
SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
  FROM pg_attribute a WHERE a.attrelid = 'finsec_archive.loan'::regclass AND a.attnum > 0 ORDER BY a.attnum;
SELECT c.relowner::regrole = (SELECT e.extowner::regrole FROM pg_extension e WHERE e.extname = 'finsec') AS owned_by_finsec,
	   c.relacl FROM pg_class c WHERE c.oid = 'finsec_archive.loan'::regclass;
SELECT event_type, object, action, success, detail FROM finsec.audit WHERE event_type = 'credit.register';
-- the cache of this backend
SELECT finsec._credit_cached('loan') AS cached;
SELECT finsec._credit_cached('finsec.audit') AS not_registered;
SET SESSION AUTHORIZATION regress_cr_admin_owner;
\set VERBOSITY sqlstate
-- twice: S9D01
SELECT pg_temp.reg(institution => 'inst');
\set VERBOSITY default
RESET SESSION AUTHORIZATION;

-- the insert guard: records expired on arrival, institutions not active providers
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'loan'::regclass ORDER BY tgname;
INSERT INTO finsec.credit_institution (code, name, kind, status) VALUES
	('PROV0001', 'provider', 'provider', 'active'), ('BOTH0001', 'both', 'provider_user', 'active'),
	('USER0001', 'user only', 'user', 'active'), ('PROV0002', 'suspended', 'provider', 'suspended');
SET SESSION AUTHORIZATION regress_cr_a;
SELECT finsec.protect_period_keys('credit_p', '2025-06-01', '2025-06-30', 'June 2025') AS pk \gset
SET SESSION AUTHORIZATION regress_cr_b;
SELECT finsec.approve(:pk) IS NOT NULL AS period_keys;
SET SESSION AUTHORIZATION regress_cr_owner;
INSERT INTO loan (id, name, id_no, birth_date, region, overdue, amount, closed_on, inst)
VALUES (1, '张三', '11010519491231002X', '1949-12-31', '110105', '90 days', 1000, '2025-06-30', 'PROV0001'),
	   (2, '李四', '110105194912010019', '1949-12-01', '110106', NULL, 2000, '2025-06-15', 'BOTH0001');
\set VERBOSITY sqlstate
-- ended 5 years after 2015-06-30, long before today
INSERT INTO loan (id, name, id_no, closed_on, inst) VALUES (3, '王五', '11010519491231002X', '2015-06-30', 'PROV0001');
-- a user-only, a suspended, an unknown institution, none
INSERT INTO loan (id, name, id_no, closed_on, inst) VALUES (4, '王五', '11010519491231002X', '2025-06-30', 'USER0001');
INSERT INTO loan (id, name, id_no, closed_on, inst) VALUES (5, '王五', '11010519491231002X', '2025-06-30', 'PROV0002');
INSERT INTO loan (id, name, id_no, closed_on, inst) VALUES (6, '王五', '11010519491231002X', '2025-06-30', 'NOPE0001');
INSERT INTO loan (id, name, id_no, closed_on, inst) VALUES (7, '王五', '11010519491231002X', '2025-06-30', NULL);
-- a user trigger cannot move behaviour_end after the guard: it fires before it (name order)
CREATE FUNCTION backdate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.closed_on := '2015-06-30'; RETURN NEW; END $$;
CREATE TRIGGER zz_backdate BEFORE INSERT ON loan FOR EACH ROW EXECUTE FUNCTION backdate();
-- (the owner holds no clearance for the labelled columns: S9P44; a superuser then)
CREATE TRIGGER a_backdate BEFORE INSERT ON loan FOR EACH ROW EXECUTE FUNCTION backdate();
RESET SESSION AUTHORIZATION;
CREATE TRIGGER a_backdate BEFORE INSERT ON loan FOR EACH ROW EXECUTE FUNCTION backdate();
INSERT INTO loan (id, name, id_no, closed_on, inst) VALUES (8, '王五', '11010519491231002X', '2025-06-30', 'PROV0001');
DROP TRIGGER a_backdate ON loan;
\set VERBOSITY default
SELECT id, closed_on, inst, split_part(name::text, '~', 1) AS name FROM loan ORDER BY id;

-- a labelled column takes its label's role; a QI label needs a ladder.
-- (Creating the period trigger on a table with restricted labels takes a
-- clearance: protect/label.c's DDL guard.)
SET SESSION AUTHORIZATION regress_cr_a;
SELECT finsec.label_grant('sensitive', 'regress_cr_admin_owner', reason => 'registers labelled credit tables') AS g \gset
SET SESSION AUTHORIZATION regress_cr_b;
SELECT finsec.approve(:g) IS NOT NULL AS clearance;
SET SESSION AUTHORIZATION regress_cr_owner;
CREATE TABLE loan2 (
	id			text PRIMARY KEY,
	name		finsec.protected_text(credit_q) NOT NULL,
	phone		finsec.protected_mobile(credit_q),
	region		finsec.protected_text(credit_q),
	note		text,
	closed_on	date NOT NULL);
SECURITY LABEL FOR finsec ON COLUMN loan2.phone IS 'identifier';
SECURITY LABEL FOR finsec ON COLUMN loan2.note IS 'public';
SECURITY LABEL FOR finsec ON COLUMN loan2.region IS 'quasi_identifier';
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cr_admin_owner;
\set VERBOSITY sqlstate
SELECT finsec.register_credit_table('loan2', key => 'id', subject => 'name', behaviour_end => 'closed_on',
	policy => 'credit_q', public => '{}');   -- region: S9D02 (no ladder)
\set VERBOSITY default
SELECT finsec.register_credit_table('loan2', key => 'id', subject => 'name', behaviour_end => 'closed_on',
	policy => 'credit_q', quasi_identifiers => '{"region": ["prefix:2"]}', public => '{}',
	action => 'delete', k => 2, l => 1, max_suppression => 0) AS archive;
SELECT column_name, column_role FROM finsec.credit_column WHERE relid = 'loan2'::regclass ORDER BY column_name;
SELECT finsec._credit_cached('loan2') AS cached;
RESET SESSION AUTHORIZATION;

-- tables that cannot be registered: S9D01
SET SESSION AUTHORIZATION regress_cr_owner;
CREATE TABLE lp (id bigint, name finsec.protected_text(credit_p) NOT NULL, closed_on date NOT NULL,
	PRIMARY KEY (id, closed_on)) PARTITION BY RANGE (closed_on);
CREATE TABLE lp1 PARTITION OF lp FOR VALUES FROM ('2020-01-01') TO ('2030-01-01');
CREATE TABLE lparent (id bigint PRIMARY KEY, name finsec.protected_text(credit_p) NOT NULL, closed_on date NOT NULL);
CREATE TABLE lchild () INHERITS (lparent);
ALTER TABLE lchild ADD PRIMARY KEY (id);
CREATE TABLE lrule (id bigint PRIMARY KEY, name finsec.protected_text(credit_p) NOT NULL, closed_on date NOT NULL);
CREATE RULE r AS ON INSERT TO lrule DO ALSO NOTHING;
CREATE TABLE lrls (id bigint PRIMARY KEY, name finsec.protected_text(credit_p) NOT NULL, closed_on date NOT NULL);
ALTER TABLE lrls ENABLE ROW LEVEL SECURITY;
CREATE UNLOGGED TABLE lunl (id bigint PRIMARY KEY, name finsec.protected_text(credit_p) NOT NULL, closed_on date NOT NULL);
CREATE VIEW lview AS SELECT * FROM lrule;
CREATE TABLE ldefer (id bigint NOT NULL, name finsec.protected_text(credit_p) NOT NULL, closed_on date NOT NULL,
	UNIQUE (id) DEFERRABLE);
CREATE TABLE lpartial (id bigint NOT NULL, name finsec.protected_text(credit_p) NOT NULL, closed_on date NOT NULL);
CREATE UNIQUE INDEX ON lpartial (id) WHERE id > 0;
CREATE TABLE lnull (id bigint UNIQUE, name finsec.protected_text(credit_p) NOT NULL, closed_on date NOT NULL);
CREATE TABLE lnulldate (id bigint PRIMARY KEY, name finsec.protected_text(credit_p) NOT NULL, closed_on date);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cr_admin_owner;
CREATE FUNCTION pg_temp.try(t regclass) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM finsec.register_credit_table(t, key => 'id', subject => 'name', behaviour_end => 'closed_on',
										 policy => 'credit_p');
	RETURN 'registered';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
SELECT t, pg_temp.try(t) FROM unnest('{lp, lp1, lparent, lchild, lrule, lrls, lunl, lview, ldefer, lpartial, lnull, lnulldate, finsec.credit_table}'::regclass[]) t;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS registered FROM finsec.credit_table;

-- rows before registration: refused
SET SESSION AUTHORIZATION regress_cr_owner;
CREATE TABLE loan3 (id bigint PRIMARY KEY, name finsec.protected_text(credit_p) NOT NULL, closed_on date NOT NULL);
INSERT INTO loan3 VALUES (1, '张三', '2020-01-31');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cr_admin_owner;
\set VERBOSITY sqlstate
SELECT finsec.register_credit_table('loan3', key => 'id', subject => 'name', behaviour_end => 'closed_on',
	policy => 'credit_p');
\set VERBOSITY default
SELECT count(*) AS period_columns FROM finsec.protect_period_column WHERE relid = 'loan3'::regclass;
RESET SESSION AUTHORIZATION;

-- retention override (credit.retention, two-person)
SET SESSION AUTHORIZATION regress_cr_a;
\set VERBOSITY sqlstate
SELECT finsec.credit_retention_override('loan', '6 years', NULL);
SELECT finsec.credit_retention_override('loan', '6 years', 'short');
SELECT finsec.credit_retention_override('loan', '5 years', 'the legal period again, no change');
SELECT finsec.credit_retention_override('loan3', '6 years', 'loan3 is not registered at all');
SELECT finsec.credit_retention_override('loan', '-1 years', 'a negative retention is no retention');
\set VERBOSITY default
SELECT finsec.credit_retention_override('loan', '6 years', 'court order 2026-17 keeps these records a year longer') AS rr \gset
-- the requester cannot approve it
\set VERBOSITY sqlstate
SELECT finsec.approve(:rr);
\set VERBOSITY default
SELECT retention, retention_request FROM finsec.credit_table WHERE relid = 'loan'::regclass;
SET SESSION AUTHORIZATION regress_cr_b;
SELECT finsec.approve(:rr) IS NOT NULL AS approved;
SELECT retention, retention_request = :rr AS recorded FROM finsec.credit_table WHERE relid = 'loan'::regclass;
RESET SESSION AUTHORIZATION;
SELECT event_type, object, action, detail ->> 'retention' AS retention, detail ->> 'previous' AS previous
  FROM finsec.audit WHERE event_type = 'credit.retention';

-- unregistration (credit.unregister, two-person): refused while disputes exist
INSERT INTO finsec.credit_dispute (relid, record_key, subject_pseudonym, handler, due_at)
VALUES ('loan', '1', 'p', 'regress_cr_a', now() + interval '20 days');
SET SESSION AUTHORIZATION regress_cr_a;
\set VERBOSITY sqlstate
SELECT finsec.unregister_credit_table('loan', 'no longer needed');
SELECT finsec.unregister_credit_table('loan3', 'not registered');
\set VERBOSITY default
SELECT finsec.unregister_credit_table('loan2', 'the delete-only table goes') AS ur \gset
SET SESSION AUTHORIZATION regress_cr_b;
SELECT finsec._credit_cached('loan2') IS NOT NULL AS cached_before;
SELECT finsec.approve(:ur) IS NOT NULL AS approved;
SELECT finsec._credit_cached('loan2') IS NULL AS cache_forgot;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS registrations, count(*) FILTER (WHERE relid = 'loan2'::regclass) AS loan2
  FROM finsec.credit_table;
SELECT count(*) AS loan2_columns FROM finsec.credit_column WHERE relid = 'loan2'::regclass;
-- protection and period keys stay; the table is readable again as any table
SELECT finsec._credit_protected('loan2') AS still_protected,
	   (SELECT count(*) FROM finsec.protect_period_column WHERE relid = 'loan2'::regclass) AS period_columns;
SET SESSION AUTHORIZATION regress_cr_owner;
SELECT count(*) FROM loan2;
SELECT count(*) FROM loan;
RESET SESSION AUTHORIZATION;
SELECT event_type, object, action FROM finsec.audit WHERE event_type = 'credit.unregister';

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_creg;
DROP ROLE regress_cr_a, regress_cr_b, regress_cr_admin_owner, regress_cr_owner, regress_cr_app;
