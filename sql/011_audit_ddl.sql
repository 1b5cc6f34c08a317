-- Issue 14, classes 1 and 5 for the ledger and protected tables: no user
-- code runs as finsec's owner in protect_table(); protections hold through
-- inheritance, partitions, rules, function replacement and renames; a chain
-- whose table is gone is reported, does not stop the others, and is closed
-- out by the auditor.  Every attack below succeeded on 0.7.
SET client_min_messages = warning;
CREATE ROLE regress_ddl_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_ddl_admin LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ddl_other LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ddl_auditor LOGIN IN ROLE finsec_auditor;
-- the administrator who protects the application's tables acts for their owner
GRANT regress_ddl_app TO regress_ddl_admin;
CREATE SCHEMA ddl_app AUTHORIZATION regress_ddl_app;
GRANT USAGE ON SCHEMA ddl_app TO regress_ddl_admin, regress_ddl_other, regress_ddl_auditor;
CREATE SCHEMA ddl_hidden AUTHORIZATION regress_ddl_app;   -- no USAGE for others
CREATE SCHEMA ddl_other AUTHORIZATION regress_ddl_app;
RESET client_min_messages;

-- 1. protect_table() checks ownership, and runs none of the owner's code.
SET ROLE regress_ddl_app;
CREATE TABLE ddl_app.fired (what text, who name);
GRANT INSERT, SELECT ON ddl_app.fired TO PUBLIC;
CREATE TABLE ddl_app.pay (id int PRIMARY KEY, amount numeric NOT NULL);
INSERT INTO ddl_app.pay VALUES (1, 10), (2, 20);
CREATE FUNCTION ddl_app.evil() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO ddl_app.fired VALUES (TG_LEVEL || ' trigger', current_user);
	BEGIN
		EXECUTE 'ALTER ROLE regress_ddl_app SUPERUSER';
		DELETE FROM finsec.audit WHERE finsec_seq = (SELECT min(finsec_seq) FROM finsec.audit);
	EXCEPTION WHEN OTHERS THEN NULL;
	END;
	RETURN CASE WHEN TG_LEVEL = 'ROW' THEN NEW END;
END $$;
CREATE TRIGGER evil_row BEFORE UPDATE ON ddl_app.pay FOR EACH ROW EXECUTE FUNCTION ddl_app.evil();
CREATE TRIGGER evil_stmt BEFORE UPDATE ON ddl_app.pay FOR EACH STATEMENT EXECUTE FUNCTION ddl_app.evil();
-- index expressions and CHECK constraints say who runs them
CREATE FUNCTION ddl_app.tattle(numeric) RETURNS numeric LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RAISE NOTICE 'tattle(%) runs as %', $1, current_user;
	RETURN $1;
END $$;
CREATE INDEX pay_tattle ON ddl_app.pay (ddl_app.tattle(amount));
ALTER TABLE ddl_app.pay ADD CONSTRAINT pay_check CHECK (ddl_app.tattle(amount) >= 0);
CREATE TABLE ddl_hidden.t (i int);
RESET ROLE;
TRUNCATE ddl_app.fired;
SELECT count(*) AS audit_rows FROM finsec.audit \gset
-- another administrator, not the owner: refused, by name and by OID, and
-- an OID does not skip the schema's USAGE check
SET ROLE regress_ddl_other;
SELECT finsec.protect_table('ddl_app.pay');
RESET ROLE;
SELECT 'ddl_app.pay'::regclass::oid AS pay_oid, 'ddl_hidden.t'::regclass::oid AS hidden_oid \gset
SET ROLE regress_ddl_other;
SELECT finsec.protect_table(:pay_oid);
SELECT finsec.protect_table(:hidden_oid);
SET ROLE regress_ddl_admin;
-- the owner's administrator: protected; no trigger or CHECK ran, and the
-- index expression ran as the table's owner (PostgreSQL's index rebuild)
SELECT finsec.protect_table('ddl_app.pay');
RESET ROLE;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_ddl_app';
SELECT count(*) = :audit_rows + 1 AS only_the_protect_event_added FROM finsec.audit;
SELECT what, who, count(*) FROM ddl_app.fired GROUP BY 1, 2 ORDER BY 1, 2;
SELECT id, finsec_seq, finsec_txid IS NOT NULL AS stamped FROM ddl_app.pay ORDER BY id;
SELECT relation, blocks_sealed, rows_sealed FROM finsec.audit_seal('ddl_app.pay');
SELECT relation, ok, rows_checked, first_failure FROM finsec.audit_verify('ddl_app.pay');

-- 2. Rules: none on finsec.audit, none on a protected table, and a table
--    with rules cannot be protected.
CREATE RULE divert AS ON INSERT TO finsec.audit DO INSTEAD NOTHING;
SET ROLE regress_ddl_app;
CREATE RULE divert AS ON INSERT TO ddl_app.pay DO INSTEAD NOTHING;
CREATE TABLE ddl_app.ruled (i int);
CREATE RULE r AS ON INSERT TO ddl_app.ruled DO ALSO NOTHING;
SET ROLE regress_ddl_admin;
SELECT finsec.protect_table('ddl_app.ruled');
RESET ROLE;

-- 3. finsec's own objects are not replaced or altered outside its scripts.
CREATE OR REPLACE FUNCTION finsec.ledger_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
ALTER FUNCTION finsec.ledger_immutable() RENAME TO ledger_immutable_old;
ALTER FUNCTION finsec.ledger_immutable() OWNER TO regress_ddl_app;
ALTER FUNCTION finsec.ledger_immutable() SET SCHEMA public;
ALTER FUNCTION finsec.audit_event(text, text, text, boolean, text, jsonb, text) SECURITY DEFINER;
ALTER EXTENSION finsec DROP FUNCTION finsec.ledger_immutable();
ALTER TABLE finsec.audit OWNER TO regress_ddl_app;
ALTER TABLE finsec.audit RENAME TO audit_old;
ALTER TABLE finsec.audit SET SCHEMA public;
ALTER TABLE finsec.ledger_chain RENAME COLUMN head_hash TO h;
CREATE TRIGGER sneak BEFORE INSERT ON finsec.audit FOR EACH ROW EXECUTE FUNCTION finsec.ledger_stamp();
-- finsec writes its tables as its owner: no user code on its writes
CREATE FUNCTION public.ddl_probe(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT $1 $$;
CREATE INDEX audit_probe ON finsec.audit (public.ddl_probe(event_type));
CREATE INDEX audit_probe ON finsec.audit (event_type) WHERE public.ddl_probe(event_type) IS NOT NULL;
CREATE INDEX audit_by_type ON finsec.audit (event_type);   -- a plain index is fine
DROP INDEX finsec.audit_by_type;
DROP FUNCTION public.ddl_probe(text);
ALTER SCHEMA finsec RENAME TO finsec_old;
ALTER SCHEMA finsec OWNER TO regress_ddl_app;
ALTER EVENT TRIGGER finsec_ledger_ddl_guard DISABLE;
ALTER EVENT TRIGGER finsec_ledger_drop_guard RENAME TO gone;
-- the ledger still refuses changes, and still records
UPDATE finsec.audit SET success = false;
SELECT finsec.audit_event('regress.ddl', object => 'after the attempts') IS NOT NULL AS recorded;

-- 4. A protected table keeps its name and schema (a new table under the
--    old name would take the writes), and so does its schema.
SET ROLE regress_ddl_app;
ALTER TABLE ddl_app.pay RENAME TO pay_old;
ALTER TABLE ddl_app.pay SET SCHEMA ddl_other;
ALTER SCHEMA ddl_app RENAME TO ddl_app_old;
-- its ordinary columns can still be renamed
ALTER TABLE ddl_app.pay RENAME COLUMN amount TO value;
ALTER TABLE ddl_app.pay RENAME COLUMN value TO amount;
RESET ROLE;

-- 5. Inheritance and partitions.
SET ROLE regress_ddl_app;
CREATE TABLE ddl_app.forged () INHERITS (ddl_app.pay);
CREATE TABLE ddl_app.loose (id int, amount numeric, finsec_txid xid8, finsec_seq bigint);
ALTER TABLE ddl_app.loose INHERIT ddl_app.pay;
CREATE TABLE ddl_app.byrange (id int, amount numeric, finsec_txid xid8, finsec_seq bigint)
	PARTITION BY RANGE (id);
ALTER TABLE ddl_app.byrange ATTACH PARTITION ddl_app.pay FOR VALUES FROM (0) TO (1000);
-- what cannot be protected: a partition, a partitioned table, a table in a tree
CREATE TABLE ddl_app.byrange_1 PARTITION OF ddl_app.byrange FOR VALUES FROM (0) TO (10);
CREATE TABLE ddl_app.parent (id int);
CREATE TABLE ddl_app.child () INHERITS (ddl_app.parent);
SET ROLE regress_ddl_admin;
SELECT finsec.protect_table('ddl_app.byrange_1');
SELECT finsec.protect_table('ddl_app.byrange');
SELECT finsec.protect_table('ddl_app.parent');
SELECT finsec.protect_table('ddl_app.child');
RESET ROLE;

-- A tree left by 0.7 (made here by switching the protection off in the
-- catalog, as only a superuser can): a protected child under an ordinary
-- parent, and an ordinary child under a protected parent.
SET ROLE regress_ddl_app;
CREATE TABLE ddl_app.old_parent (id int, amount numeric);
CREATE TABLE ddl_app.old_child (id int, amount numeric);
INSERT INTO ddl_app.old_child VALUES (1, 5);
SET ROLE regress_ddl_admin;
SELECT finsec.protect_table('ddl_app.old_child');
RESET ROLE;
UPDATE pg_trigger SET tgname = 'finsec_ledger_immutable_off'
 WHERE tgrelid IN ('ddl_app.old_child'::regclass, 'ddl_app.pay'::regclass)
   AND tgname = 'finsec_ledger_immutable';
ALTER TABLE ddl_app.old_child INHERIT ddl_app.old_parent;
CREATE TABLE ddl_app.pay_child () INHERITS (ddl_app.pay);
ALTER TABLE ddl_app.pay_child OWNER TO regress_ddl_app;
UPDATE pg_trigger SET tgname = 'finsec_ledger_immutable'
 WHERE tgrelid IN ('ddl_app.old_child'::regclass, 'ddl_app.pay'::regclass)
   AND tgname = 'finsec_ledger_immutable_off';
SET ROLE regress_ddl_app;
-- a parent's recursive statements do not reach the protected child
ALTER TABLE ddl_app.old_parent ALTER COLUMN amount TYPE numeric(10,2) USING amount * 100;
TRUNCATE ddl_app.old_parent;
DROP TABLE ddl_app.old_parent CASCADE;
ALTER TABLE ONLY ddl_app.old_parent ALTER COLUMN amount SET DEFAULT 0;   -- ONLY does not reach it
SELECT id, amount FROM ddl_app.old_child;
-- rows forged in an ordinary child are not the protected table's: sealing
-- and verifying read ONLY the protected table
INSERT INTO ddl_app.pay_child VALUES (99, 1000000, '1', 1);
RESET ROLE;
SELECT relation, blocks_sealed, rows_sealed FROM finsec.audit_seal('ddl_app.pay');
SET ROLE regress_ddl_app;
DELETE FROM ddl_app.pay_child;
RESET ROLE;
SELECT relation, ok, rows_checked, first_failure FROM finsec.audit_verify('ddl_app.pay');
DROP TABLE ddl_app.pay_child;

-- 6. A drop that reaches protected evidence through a dependency is refused.
SET ROLE regress_ddl_app;
CREATE TYPE ddl_app.mood AS ENUM ('calm', 'tense');
CREATE TABLE ddl_app.moods (id int, m ddl_app.mood);
INSERT INTO ddl_app.moods VALUES (1, 'calm');
SET ROLE regress_ddl_admin;
SELECT finsec.protect_table('ddl_app.moods');
SET ROLE regress_ddl_app;
DROP TYPE ddl_app.mood CASCADE;        -- would drop the column m
DROP SCHEMA ddl_app CASCADE;
RESET ROLE;
SELECT m FROM ddl_app.moods;

-- 6b. An owner's BEFORE INSERT row trigger fires in name order; one named
--     after finsec_ledger_stamp could rewrite the stamps.
SET ROLE regress_ddl_app;
CREATE TRIGGER zz_restamp BEFORE INSERT ON ddl_app.pay FOR EACH ROW EXECUTE FUNCTION ddl_app.evil();
CREATE TRIGGER a_check BEFORE INSERT ON ddl_app.pay FOR EACH ROW EXECUTE FUNCTION ddl_app.evil();
ALTER TRIGGER a_check ON ddl_app.pay RENAME TO zz_restamp;
ALTER TRIGGER a_check ON ddl_app.pay RENAME TO b_check;
DROP TRIGGER b_check ON ddl_app.pay;
CREATE TABLE ddl_app.late (id int);
CREATE TRIGGER zz_restamp BEFORE INSERT ON ddl_app.late FOR EACH ROW EXECUTE FUNCTION ddl_app.evil();
SET ROLE regress_ddl_admin;
SELECT finsec.protect_table('ddl_app.late');
RESET ROLE;

-- 7. A chain whose table is gone (dropped on 0.7, or beyond SQL: made here
--    by switching the protection off in the catalog) is reported, never
--    stops the other chains, and is closed out by the auditor.
SET ROLE regress_ddl_app;
CREATE TABLE ddl_app.doomed (id int);
INSERT INTO ddl_app.doomed VALUES (1), (2);
SET ROLE regress_ddl_admin;
SELECT finsec.protect_table('ddl_app.doomed');
RESET ROLE;
SELECT relation, blocks_sealed, rows_sealed FROM finsec.audit_seal('ddl_app.doomed');
CREATE TEMP TABLE ddl_digest AS SELECT finsec.audit_digest() AS digest;
GRANT SELECT ON ddl_digest TO regress_ddl_auditor;
SELECT chain_id AS doomed_chain FROM finsec.ledger_chain
 WHERE relid = 'ddl_app.doomed'::regclass \gset
UPDATE pg_trigger SET tgname = 'off_' || tgname
 WHERE tgrelid = 'ddl_app.doomed'::regclass AND tgname LIKE 'finsec_ledger_%';
DROP TABLE ddl_app.doomed;
-- the sealer goes on with every other chain
INSERT INTO ddl_app.pay VALUES (3, 30);
SELECT relation, blocks_sealed, rows_sealed FROM finsec.audit_seal() WHERE relation = 'ddl_app.pay'::regclass;
SET ROLE regress_ddl_auditor;
SELECT ok, first_failure ~ '^the protected table of chain \S+ \(relation \d+\) no longer exists' AS reported
  FROM finsec.audit_verify() WHERE NOT ok;
SELECT relation, ok FROM finsec.audit_verify('ddl_app.pay');
-- closing it needs a reason, and is refused for a chain whose table exists
SELECT finsec.audit_close_chain(:'doomed_chain', ' ');
SELECT finsec.audit_close_chain(chain_id, 'no reason') FROM finsec.ledger_chain
 WHERE relid = 'ddl_app.pay'::regclass;
SET ROLE regress_ddl_admin;
SELECT finsec.audit_close_chain(:'doomed_chain', 'ticket 14');
SET ROLE regress_ddl_auditor;
SELECT finsec.audit_close_chain(:'doomed_chain', 'ticket 14: table dropped under 0.7') IS NOT NULL AS closed;
SELECT event_type, db_user, action, detail->>'reason' AS reason,
       detail->>'chain_id' = :'doomed_chain' AS same_chain, detail ? 'head_hash' AS has_head
  FROM finsec.audit WHERE event_type = 'ledger.chain_close';
SELECT count(*) AS failing FROM finsec.audit_verify() WHERE NOT ok;
-- an earlier digest names the closed chain, and says how it ended
SELECT ok, first_failure ~ 'was closed out by regress_ddl_auditor .* reason: ticket 14' AS explained
  FROM finsec.audit_verify(since => (SELECT digest FROM ddl_digest))
 WHERE first_failure LIKE 'chain ' || :'doomed_chain' || '%';
RESET ROLE;

-- 12. (review of 0.8) Nothing new in schema finsec outside its scripts: a
-- superuser's overload finsec.audit_event(..., name) matched approve()'s
-- session_user argument exactly and swallowed its records; operators,
-- casts, types and tables there could capture finsec's calls likewise.
SET client_min_messages = warning;
CREATE TABLE ddl_app.casted (a int);
RESET client_min_messages;
CREATE FUNCTION finsec.audit_event(event_type text, object text, action text, success boolean,
	description text, detail jsonb, subject name) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint';
CREATE PROCEDURE finsec.sneak() LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION ddl_app.m_eq(finsec.money, finsec.money) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR finsec.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq);
CREATE TYPE finsec.sneak_t AS (a int);
CREATE TYPE finsec.sneak_e AS ENUM ('a');
CREATE DOMAIN finsec.sneak_d AS int;
CREATE TABLE finsec.sneak_tab (a int);
CREATE VIEW finsec.sneak_view AS SELECT 1 AS a;
CREATE SEQUENCE finsec.sneak_seq;
CREATE AGGREGATE finsec.sneak_agg(int) (SFUNC = int4pl, STYPE = int);
CREATE OPERATOR FAMILY finsec.sneak_fam USING btree;
CREATE OPERATOR CLASS finsec.sneak_ops FOR TYPE int USING btree AS OPERATOR 1 <;
-- casts of finsec's types, or with finsec's functions, from any schema
CREATE CAST (finsec.money AS ddl_app.casted) WITH INOUT;
CREATE CAST (ddl_app.casted AS finsec.bank_card) WITH INOUT;
CREATE CAST (text AS boolean) WITH FUNCTION finsec.is_valid_bank_card(text);
-- nor an operator class or family member for finsec's types, from any schema
-- (a default one is found without search_path)
CREATE OPERATOR FAMILY ddl_app.card_fam USING hash;
CREATE FUNCTION ddl_app.card_hash(finsec.bank_card) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 0';
ALTER OPERATOR FAMILY ddl_app.card_fam USING hash ADD FUNCTION 1 ddl_app.card_hash(finsec.bank_card);
CREATE OPERATOR CLASS ddl_app.card_ops FOR TYPE finsec.bank_card USING brin AS STORAGE finsec.bank_card;
DROP FUNCTION ddl_app.card_hash(finsec.bank_card);
DROP OPERATOR FAMILY ddl_app.card_fam USING hash;
-- a partition of finsec's decision log, as risk_log_maintain() names it and
-- pg_dump writes it (CREATE TABLE, then ATTACH PARTITION), is allowed
CREATE TABLE finsec.risk_decision_log_p19990101 (a int);
DROP TABLE finsec.risk_decision_log_p19990101;
CREATE TABLE finsec.risk_decision_log_pevil (a int);
-- nor moved in, nor made there by another extension
CREATE FUNCTION ddl_app.movable() RETURNS int LANGUAGE sql AS 'SELECT 1';
ALTER FUNCTION ddl_app.movable() SET SCHEMA finsec;
ALTER TABLE ddl_app.casted SET SCHEMA finsec;
CREATE EXTENSION pg_prewarm SCHEMA finsec;
SELECT count(*) AS strangers_in_finsec FROM pg_proc p
  WHERE pronamespace = 'finsec'::regnamespace
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                    AND d.objid = p.oid AND d.deptype = 'e');
SELECT count(*) AS strangers_in_finsec FROM pg_class c
  WHERE relnamespace = 'finsec'::regnamespace AND relname LIKE 'sneak%';
DROP FUNCTION ddl_app.m_eq(finsec.money, finsec.money), ddl_app.movable();

-- 13. (review of 0.8) A trigger named after finsec's made a table count as
-- protected, which then blocked DROP EXTENSION, DROP SCHEMA and DROP OWNED
-- for it; finsec's trigger functions are finsec's to attach.
SET ROLE regress_ddl_app;
CREATE TABLE ddl_app.fake (a int);
CREATE FUNCTION ddl_app.noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER finsec_ledger_immutable BEFORE UPDATE ON ddl_app.fake
	FOR EACH ROW EXECUTE FUNCTION ddl_app.noop();
CREATE TRIGGER finsec_limits BEFORE INSERT ON ddl_app.fake
	FOR EACH ROW EXECUTE FUNCTION ddl_app.noop();
CREATE TRIGGER harmless BEFORE UPDATE ON ddl_app.fake
	FOR EACH ROW EXECUTE FUNCTION ddl_app.noop();
ALTER TRIGGER harmless ON ddl_app.fake RENAME TO finsec_ledger_immutable;
CREATE TRIGGER a_stamp BEFORE INSERT ON ddl_app.fake
	FOR EACH ROW EXECUTE FUNCTION finsec.ledger_stamp();
RESET ROLE;
CREATE TRIGGER b_immutable BEFORE UPDATE ON ddl_app.fake
	FOR EACH ROW EXECUTE FUNCTION finsec.ledger_immutable();
-- a trigger that carries the name but not finsec's function (as a 0.7
-- database may hold; made here by editing the catalog) protects nothing:
-- the table, its schema and its owner's objects can be dropped
UPDATE pg_trigger SET tgname = 'finsec_ledger_immutable'
 WHERE tgrelid = 'ddl_app.fake'::regclass AND tgname = 'harmless';
SELECT tgname FROM pg_trigger WHERE tgrelid = 'ddl_app.fake'::regclass;
DROP TABLE ddl_app.fake;
DROP FUNCTION ddl_app.noop();

-- 14. (review of 0.8) ADD COLUMN of a type with a default of its own (a
-- domain's DEFAULT) filled the new column of sealed rows: their hashes
-- (which cover every non-NULL column) no longer verified.
SET client_min_messages = warning;
CREATE DOMAIN ddl_app.flag AS text DEFAULT 'x';
CREATE DOMAIN ddl_app.flag2 AS ddl_app.flag;
CREATE DOMAIN ddl_app.plain AS text;
RESET client_min_messages;
SET ROLE regress_ddl_app;
SELECT count(*) > 0 AS sealed_rows FROM ddl_app.pay;
ALTER TABLE ddl_app.pay ADD COLUMN flag ddl_app.flag;
ALTER TABLE ddl_app.pay ADD COLUMN flag2 ddl_app.flag2;
ALTER TABLE ddl_app.pay ADD COLUMN n serial;
ALTER TABLE ddl_app.pay ADD COLUMN flags ddl_app.flag[];   -- an array has no default: allowed
ALTER TABLE ddl_app.pay ADD COLUMN note ddl_app.plain;     -- nor has this domain
RESET ROLE;
SELECT count(*) AS failing FROM finsec.audit_verify() WHERE NOT ok;

-- Clean up (protected tables stay, with a new owner: they cannot be dropped).
SET client_min_messages = warning;
DROP TABLE ddl_digest;
ALTER TABLE ddl_app.old_child NO INHERIT ddl_app.old_parent;
DROP TABLE ddl_app.fired, ddl_app.late, ddl_app.ruled, ddl_app.loose, ddl_app.byrange,
	ddl_app.parent, ddl_app.child, ddl_app.old_parent;
DROP TABLE ddl_app.casted;
DROP SCHEMA ddl_hidden, ddl_other CASCADE;
REASSIGN OWNED BY regress_ddl_app, regress_ddl_admin, regress_ddl_other, regress_ddl_auditor
	TO CURRENT_USER;
DROP OWNED BY regress_ddl_app, regress_ddl_admin, regress_ddl_other, regress_ddl_auditor;
DROP ROLE regress_ddl_app, regress_ddl_admin, regress_ddl_other, regress_ddl_auditor;
RESET client_min_messages;
