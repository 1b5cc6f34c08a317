--
-- 123_protect_labels: the finsec sensitivity-label provider (issue 17, D4:
-- 004 8.3.4 b enhanced, 002 3.2.7; docs/protected-data.md#labels).
--
-- A column whose effective label is quasi_identifier, identifier or
-- sensitive is read only by a cleared role (audited unless its clearance
-- says not), refused otherwise with a durable label.read_refused row; a
-- column of a protected type is readable as a mask (audited).  Lowering a
-- restricted label and granting a clearance take two administrators.
-- Dump, restore and a second session: test/t/124_protect_labels.pl.
--
\set VERBOSITY default
SET client_min_messages = warning;
CREATE DATABASE regress_labels;
\c regress_labels
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_lb_adm1 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_lb_adm2 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_lb_owner LOGIN;
CREATE ROLE regress_lb_clerk LOGIN;
CREATE ROLE regress_lb_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_lb_boss NOLOGIN;
CREATE ROLE regress_lb_deputy LOGIN IN ROLE regress_lb_boss;
CREATE ROLE regress_lb_stand_in LOGIN NOINHERIT IN ROLE regress_lb_boss;
CREATE ROLE regress_lb_aud LOGIN IN ROLE finsec_auditor;
SET client_min_messages = notice;
GRANT CREATE ON SCHEMA public TO regress_lb_owner;

-- the error's code and message, without numbers
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '\d+', 'N', 'g');
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;
-- label rows of the ledger after seq: event, object, role, columns with access
CREATE FUNCTION pg_temp.reads(since bigint)
RETURNS TABLE (event_type text, object text, success boolean, db_user name, sess name, cols text)
LANGUAGE sql SECURITY DEFINER AS $$
	SELECT finsec.flush_audit_events();
	SELECT event_type, object, success, db_user, (detail->>'session_user')::name,
		   (SELECT string_agg((c->>'column') || ':' || (c->>'label') || ':' || (c->>'access'), ' ' ORDER BY c->>'column')
			  FROM jsonb_array_elements(detail->'columns') c)
	  FROM finsec.audit
	 WHERE finsec_seq > since AND event_type LIKE 'label.read%'
	 ORDER BY finsec_seq
$$;
GRANT EXECUTE ON FUNCTION pg_temp.reads(bigint) TO PUBLIC;
-- (rows of rolled-back transactions reach the ledger at a flush)
CREATE FUNCTION pg_temp.seq() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS $$
	SELECT finsec.flush_audit_events();
	SELECT coalesce(max(finsec_seq), 0) FROM finsec.audit
$$;
GRANT EXECUTE ON FUNCTION pg_temp.seq() TO PUBLIC;
CREATE FUNCTION pg_temp.req(k text) RETURNS bigint LANGUAGE sql SECURITY DEFINER AS $$
	SELECT max(request_id) FROM finsec.change_request WHERE kind = k
$$;
GRANT EXECUTE ON FUNCTION pg_temp.req(text) TO PUBLIC;

-- card keys for a protected (masked) column
SET SESSION AUTHORIZATION regress_lb_adm1;
SELECT finsec.key_generate('card.enc', 'encryption', 'aes-256-gcm') AS r1 \gset
SELECT finsec.key_generate('card.fp', 'fingerprint', 'hmac-sm3') AS r2 \gset
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') AS r3 \gset
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sha256') AS r4 \gset
SET SESSION AUTHORIZATION regress_lb_adm2;
SELECT finsec.approve(:r1) ->> 'state' AS enc, finsec.approve(:r2) ->> 'state' AS fp,
	   finsec.approve(:r3) ->> 'state' AS penc, finsec.approve(:r4) ->> 'state' AS pfp;
RESET SESSION AUTHORIZATION;

CREATE TABLE lb_cust (id int PRIMARY KEY, name text, phone text, card finsec.bank_card, note text);
INSERT INTO lb_cust VALUES (1, '张三', '13800138000', '6216261000000000018', 'a'),
	(2, '李四', '13900139000', NULL, 'b'), (3, '王五', NULL, NULL, 'c');
ALTER TABLE lb_cust OWNER TO regress_lb_owner;
SET SESSION AUTHORIZATION regress_lb_owner;
SECURITY LABEL FOR finsec ON COLUMN lb_cust.name IS 'sensitive';
SECURITY LABEL FOR finsec ON COLUMN lb_cust.phone IS 'identifier';
SECURITY LABEL FOR finsec ON COLUMN lb_cust.card IS 'sensitive';
SECURITY LABEL FOR finsec ON COLUMN lb_cust.id IS 'public';
GRANT SELECT, UPDATE (note) ON lb_cust TO regress_lb_clerk, regress_lb_app, regress_lb_boss, regress_lb_deputy, regress_lb_stand_in;
RESET SESSION AUTHORIZATION;
SELECT objsubid, label FROM pg_seclabel WHERE objoid = 'lb_cust'::regclass AND provider = 'finsec' ORDER BY 1;

-- ---------------------------------------------------------------------
-- 1. An uncleared role: refused on a plain labelled column, allowed (a
--    mask, audited) on a protected one, free on unlabelled ones.
-- ---------------------------------------------------------------------
SELECT pg_temp.seq() AS s0 \gset
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT name FROM lb_cust;
SELECT pg_temp.try('SELECT phone FROM lb_cust');
SELECT id, note FROM lb_cust ORDER BY id;
-- (the sealed form's ciphertext differs per run: the mask part only)
SELECT id, split_part(card::text, '~', 1) AS card FROM lb_cust ORDER BY id;
SELECT count(*) FROM lb_cust;
RESET SESSION AUTHORIZATION;
-- the protected types of src/protect alike, domains over them too
CREATE DOMAIN lb_pmobile AS finsec.protected_mobile("default");
CREATE TABLE lb_prot (id int, pname finsec.protected_text("default"), pmobile lb_pmobile, plain text);
INSERT INTO lb_prot VALUES (1, '张三丰', '13800138000', 'x');
SECURITY LABEL FOR finsec ON TABLE lb_prot IS 'sensitive';
GRANT SELECT ON lb_prot TO regress_lb_clerk;
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT split_part(pname::text, '~', 1) AS pname, split_part(pmobile::text, '~', 1) AS pmobile FROM lb_prot;
SELECT pg_temp.try('SELECT plain FROM lb_prot') AS plain_column_of_the_table;
RESET SESSION AUTHORIZATION;
-- one row per statement and relation (three rows read, one row written)
SELECT * FROM pg_temp.reads(:s0);

-- The refusal row survives ROLLBACK and ROLLBACK TO SAVEPOINT; a refused
-- read inside try() (a subtransaction) leaves exactly one row.
SELECT pg_temp.seq() AS s0 \gset
SET SESSION AUTHORIZATION regress_lb_clerk;
BEGIN;
SELECT pg_temp.try('SELECT name FROM lb_cust');
ROLLBACK;
BEGIN;
SAVEPOINT a;
SELECT name FROM lb_cust;
ROLLBACK TO SAVEPOINT a;
SELECT id FROM lb_cust WHERE id = 1;
ROLLBACK;
RESET SESSION AUTHORIZATION;
SELECT event_type, success, db_user, cols FROM pg_temp.reads(:s0);

-- ---------------------------------------------------------------------
-- 2. Every way of reading a column is a read: WHERE, ORDER BY, whole-row
--    references, RETURNING, COPY, aggregates, views, functions.
-- ---------------------------------------------------------------------
SELECT pg_temp.seq() AS s0 \gset
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.try($$SELECT id FROM lb_cust WHERE name = '张三'$$) AS where_only;
SELECT pg_temp.try($$SELECT id FROM lb_cust ORDER BY phone$$) AS order_by;
SELECT pg_temp.try($$SELECT count(DISTINCT name) FROM lb_cust$$) AS aggregate;
SELECT pg_temp.try($$SELECT * FROM lb_cust$$) AS star;
SELECT pg_temp.try($$SELECT c FROM lb_cust c$$) AS whole_row;
SELECT pg_temp.try($$SELECT row_to_json(c) FROM lb_cust c$$) AS row_to_json;
SELECT pg_temp.try($$SELECT a.id FROM lb_cust a JOIN lb_cust b ON a.name = b.name$$) AS self_join;
SELECT pg_temp.try($$UPDATE lb_cust SET note = 'x' WHERE id = 1 RETURNING name$$) AS returning;
SELECT pg_temp.try($$UPDATE lb_cust SET note = 'x' WHERE phone LIKE '138%'$$) AS update_where;
SELECT pg_temp.try($$UPDATE lb_cust SET note = 'x' WHERE id = 1 RETURNING id, note$$) AS update_ok;
SELECT pg_temp.try($$WITH s AS (SELECT name FROM lb_cust) SELECT count(*) FROM s$$) AS cte;
SELECT pg_temp.try($$SELECT EXISTS (SELECT 1 FROM lb_cust WHERE phone IS NULL)$$) AS exists_probe;
SELECT pg_temp.try($$EXPLAIN SELECT name FROM lb_cust$$) AS explain;
SELECT pg_temp.try($$SELECT id FROM lb_cust FOR UPDATE$$) AS for_update_of_allowed;
SELECT pg_temp.try($$PREPARE p AS SELECT name FROM lb_cust$$) AS prepare_only;
SELECT pg_temp.try($$EXECUTE p$$) AS execute;
DEALLOCATE p;
RESET SESSION AUTHORIZATION;
SELECT event_type, object, cols FROM pg_temp.reads(:s0);

SET SESSION AUTHORIZATION regress_lb_clerk;
COPY lb_cust (name) TO STDOUT;
COPY lb_cust TO STDOUT;
COPY (SELECT phone FROM lb_cust) TO STDOUT;
COPY lb_cust (id, note) TO STDOUT;
COPY (SELECT id, split_part(card::text, '~', 1) FROM lb_cust ORDER BY id) TO STDOUT;
RESET SESSION AUTHORIZATION;

-- Foreign-key checks read the referenced key as its owner, once per row:
-- not checked, no rows (they need REFERENCES, which the owner grants).
SET SESSION AUTHORIZATION regress_lb_owner;
CREATE TABLE lb_acct (acct text PRIMARY KEY);
SECURITY LABEL FOR finsec ON COLUMN lb_acct.acct IS 'identifier';
INSERT INTO lb_acct VALUES ('A1'), ('A2');
CREATE TABLE lb_txn (acct text REFERENCES lb_acct ON DELETE CASCADE, amount int);
GRANT INSERT ON lb_txn TO regress_lb_clerk;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.seq() AS s1 \gset
SET SESSION AUTHORIZATION regress_lb_clerk;
INSERT INTO lb_txn VALUES ('A1', 1), ('A2', 2), ('A1', 3);
SELECT pg_temp.try($$INSERT INTO lb_txn VALUES ('A3', 4)$$) AS fk_violation;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS label_rows_of_fk_checks FROM pg_temp.reads(:s1);

-- A view reads its table: the table's labels apply through it (whoever owns
-- the view); a view column can carry a label of its own.
SET SESSION AUTHORIZATION regress_lb_owner;
CREATE VIEW lb_v AS SELECT id, name, note FROM lb_cust;
CREATE VIEW lb_v_note AS SELECT id, note AS remark FROM lb_cust;
SECURITY LABEL FOR finsec ON COLUMN lb_v_note.remark IS 'quasi_identifier';
GRANT SELECT ON lb_v, lb_v_note TO regress_lb_clerk;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.try('SELECT name FROM lb_v') AS view_labelled_base;
-- PostgreSQL checks the table for every column the view's definition
-- reads, whichever the query uses: a view showing a labelled column is
-- closed to uncleared roles as a whole (give them a view without it).
SELECT pg_temp.try('SELECT id, note FROM lb_v') AS view_other_columns;
SELECT pg_temp.try('SELECT remark FROM lb_v_note') AS view_own_label;
SELECT pg_temp.try('SELECT note FROM lb_cust') AS base_unlabelled;
RESET SESSION AUTHORIZATION;

-- Partitions and inheritance: labels count in both directions.
SET SESSION AUTHORIZATION regress_lb_owner;
CREATE TABLE lb_part (id int, secret text, day date) PARTITION BY RANGE (day);
CREATE TABLE lb_part_1 PARTITION OF lb_part FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE lb_part_2 PARTITION OF lb_part FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
INSERT INTO lb_part VALUES (1, 's', '2026-05-01'), (2, 't', '2027-05-01');
SECURITY LABEL FOR finsec ON COLUMN lb_part.secret IS 'sensitive';
SECURITY LABEL FOR finsec ON COLUMN lb_part_2.id IS 'identifier';
CREATE TABLE lb_parent (id int, secret text);
CREATE TABLE lb_child (extra text) INHERITS (lb_parent);
INSERT INTO lb_child VALUES (1, 'x', 'y');
SECURITY LABEL FOR finsec ON TABLE lb_parent IS 'quasi_identifier';
GRANT SELECT ON lb_part, lb_part_1, lb_part_2, lb_parent, lb_child TO regress_lb_clerk;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.try('SELECT secret FROM lb_part_1') AS partition_of_labelled;
SELECT pg_temp.try('SELECT day FROM lb_part_1') AS partition_other_column;
SELECT pg_temp.try('SELECT id FROM lb_part') AS parent_of_labelled_partition;
SELECT pg_temp.try('SELECT id FROM lb_part_1') AS sibling_partition;
SELECT pg_temp.try('SELECT secret FROM lb_child') AS child_of_labelled_table;
SELECT pg_temp.try('SELECT extra FROM lb_child') AS child_own_column;
SELECT pg_temp.try('SELECT id FROM ONLY lb_parent') AS parent_itself;
RESET SESSION AUTHORIZATION;
-- a labelled table made a child of a parent already read (and cached)
-- labels the parent at once (descendant direction)
SET SESSION AUTHORIZATION regress_lb_owner;
CREATE TABLE lb_base (id int, v text);
CREATE TABLE lb_base_a () INHERITS (lb_base);
CREATE TABLE lb_late (id int, v text);
SECURITY LABEL FOR finsec ON COLUMN lb_late.v IS 'identifier';
GRANT SELECT ON lb_base TO regress_lb_clerk;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.try('SELECT v FROM lb_base') AS before_inherit;
RESET SESSION AUTHORIZATION;
ALTER TABLE lb_late INHERIT lb_base;
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.try('SELECT v FROM lb_base') AS after_inherit;
RESET SESSION AUTHORIZATION;
ALTER TABLE lb_late NO INHERIT lb_base;
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.try('SELECT v FROM lb_base') AS after_no_inherit;
RESET SESSION AUTHORIZATION;
-- attaching a table to a labelled parent labels it at once
SET SESSION AUTHORIZATION regress_lb_owner;
CREATE TABLE lb_part_3 (id int, secret text, day date);
GRANT SELECT ON lb_part_3 TO regress_lb_clerk;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.try('SELECT secret FROM lb_part_3') AS before_attach;
RESET SESSION AUTHORIZATION;
ALTER TABLE lb_part ATTACH PARTITION lb_part_3 FOR VALUES FROM ('2028-01-01') TO ('2029-01-01');
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.try('SELECT secret FROM lb_part_3') AS after_attach;
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------
-- 3. Clearances: granting takes a second administrator; a clearance
--    covers its label and the lower ones; audited = false leaves no row.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.try($$SELECT finsec.label_grant('sensitive', 'regress_lb_clerk')$$) AS clerk_grants_himself;
SET SESSION AUTHORIZATION regress_lb_adm1;
SELECT finsec.label_grant('identifier', 'regress_lb_clerk', true, 'reads phones') > 0 AS requested;
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', pg_temp.req('protect.clearance_grant'))) AS self_approval;
SELECT pg_temp.try($$SELECT finsec.label_grant('internal', 'regress_lb_clerk')$$) AS unrestricted_label;
SELECT pg_temp.try($$SELECT finsec.label_grant('sensitive', 'regress_lb_nobody')$$) AS unknown_role;
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.try('SELECT phone FROM lb_cust') AS pending;
SET SESSION AUTHORIZATION regress_lb_adm2;
SELECT finsec.approve(pg_temp.req('protect.clearance_grant')) AS approved;
SELECT finsec.label_grant('sensitive', 'regress_lb_app', false, 'the application') AS r \gset
SELECT finsec.label_grant('sensitive', 'regress_lb_boss', true, 'the head of compliance') AS r2 \gset
SET SESSION AUTHORIZATION regress_lb_adm1;
SELECT finsec.approve(:r) ->> 'audited' AS app_audited, finsec.approve(:r2) ->> 'audited' AS boss_audited;
RESET SESSION AUTHORIZATION;
SELECT label, grantee, audited, requested_by, granted_by FROM finsec.label_clearance ORDER BY 1, 2;
SET SESSION AUTHORIZATION regress_lb_adm1;
SELECT pg_temp.try($$INSERT INTO finsec.label_clearance (label, grantee) VALUES ('sensitive', 'regress_lb_clerk')$$) AS admin_direct_insert;
RESET SESSION AUTHORIZATION;

SELECT pg_temp.seq() AS s0 \gset
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT phone FROM lb_cust ORDER BY id;
SELECT pg_temp.try('SELECT name FROM lb_cust') AS identifier_does_not_cover_sensitive;
SELECT pg_temp.try('SELECT id FROM lb_part_2') AS identifier_partition;
SELECT pg_temp.try('SELECT secret FROM lb_child') AS quasi_identifier_table;
SET SESSION AUTHORIZATION regress_lb_app;
SELECT name, phone FROM lb_cust ORDER BY id;
SET SESSION AUTHORIZATION regress_lb_deputy;
SELECT name FROM lb_cust WHERE id = 1;
SET ROLE regress_lb_boss;
SELECT name FROM lb_cust WHERE id = 2;
RESET ROLE;
-- a NOINHERIT member has the clearance only after SET ROLE, as privileges
SET SESSION AUTHORIZATION regress_lb_stand_in;
SELECT pg_temp.try('SELECT count(name) FROM lb_cust') AS noinherit_member;
SET ROLE regress_lb_boss;
SELECT count(name) AS after_set_role FROM lb_cust;
RESET ROLE;
SET SESSION AUTHORIZATION regress_lb_deputy;
-- a read-only transaction writes no row itself: the row waits for the flush
BEGIN READ ONLY;
SELECT name FROM lb_cust WHERE id = 3;
COMMIT;
RESET SESSION AUTHORIZATION;
-- the application's reads leave no row; the deputy's (a member of the boss)
-- and the boss's do, naming the login role; the refusal comes last (its
-- subtransaction rolled back: written by the flush)
SELECT event_type, object, db_user, sess, cols FROM pg_temp.reads(:s0);

-- ---------------------------------------------------------------------
-- 4. Whose clearance: the current role.  SET ROLE, SECURITY DEFINER
--    functions, the table owner and superusers.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_lb_owner;
SELECT pg_temp.try('SELECT name FROM lb_cust') AS owner_not_exempt;
CREATE FUNCTION lb_owner_peek() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER AS
	$$ SELECT name FROM lb_cust $$;
GRANT EXECUTE ON FUNCTION lb_owner_peek() TO regress_lb_app;
RESET SESSION AUTHORIZATION;
CREATE FUNCTION lb_boss_peek() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER SET search_path = public AS
	$$ SELECT name FROM lb_cust ORDER BY id $$;
ALTER FUNCTION lb_boss_peek() OWNER TO regress_lb_boss;
GRANT EXECUTE ON FUNCTION lb_boss_peek() TO regress_lb_clerk;
SELECT pg_temp.seq() AS s0 \gset
SET SESSION AUTHORIZATION regress_lb_app;
-- a cleared caller gains nothing through an uncleared definer
SELECT pg_temp.try('SELECT lb_owner_peek()') AS uncleared_definer;
SET SESSION AUTHORIZATION regress_lb_clerk;
-- the definer's clearance applies, and the row names the caller's login
SELECT lb_boss_peek();
SELECT pg_temp.try('SET ROLE regress_lb_boss') AS clerk_cannot_set_role;
RESET SESSION AUTHORIZATION;
-- a superuser acting as an uncleared role is that role
SET ROLE regress_lb_clerk;
SELECT pg_temp.try('SELECT name FROM lb_cust') AS superuser_set_role;
RESET ROLE;
-- a superuser is allowed and always audited
SELECT count(name) FROM lb_cust;
SELECT event_type, db_user, sess, cols FROM pg_temp.reads(:s0);

-- Revoking is immediate and takes one administrator.
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.try($$SELECT finsec.label_revoke('identifier', 'regress_lb_clerk')$$) AS clerk_revokes;
SELECT count(phone) FROM lb_cust;
SET SESSION AUTHORIZATION regress_lb_adm1;
SELECT finsec.label_revoke('identifier', 'regress_lb_clerk', 'moved') AS revoked,
	   finsec.label_revoke('identifier', 'regress_lb_clerk') AS again;
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.try('SELECT count(phone) FROM lb_cust') AS after_revoke;
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------
-- 5. Labels: the owner sets and raises them; lowering or removing a
--    restricted one takes two administrators.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON COLUMN lb_cust.note IS 'sensitive'$$) AS not_owner;
SET SESSION AUTHORIZATION regress_lb_owner;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON COLUMN lb_cust.phone IS 'internal'$$) AS lower;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON COLUMN lb_cust.phone IS 'public'$$) AS lower_more;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON COLUMN lb_cust.phone IS NULL$$) AS remove;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON TABLE lb_parent IS NULL$$) AS remove_table_label;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON COLUMN lb_cust.note IS 'internal'$$) AS set_internal;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON COLUMN lb_cust.note IS 'public'$$) AS lower_unrestricted;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON COLUMN lb_cust.note IS NULL$$) AS remove_unrestricted;
CREATE TABLE lb_tmp (x text);
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON COLUMN lb_tmp.x IS 'quasi_identifier'$$) AS set_restricted;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON COLUMN lb_tmp.x IS 'sensitive'$$) AS raise;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON COLUMN lb_tmp.x IS 'identifier'$$) AS lower_after_raise;
-- dropping the column or table takes its labels along (the owner's right)
ALTER TABLE lb_tmp DROP COLUMN x;
DROP TABLE lb_tmp;
RESET SESSION AUTHORIZATION;
-- a superuser is refused too (it could edit pg_seclabel: outside the model)
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON COLUMN lb_cust.phone IS 'internal'$$) AS superuser_lowers;
SET SESSION AUTHORIZATION regress_lb_adm1;
SELECT pg_temp.try($$SELECT finsec._label_apply('lb_cust', 'phone', 'internal', 'identifier')$$) AS admin_apply_direct;
-- the request
SELECT pg_temp.try($$SELECT finsec.label_change('lb_cust', 'phone', 'identifier')$$) AS same_label;
SELECT pg_temp.try($$SELECT finsec.label_change('lb_cust', 'phone', 'secret')$$) AS unknown_label;
SELECT pg_temp.try($$SELECT finsec.label_change('lb_cust', 'nosuch', 'public')$$) AS unknown_column;
SELECT finsec.label_change('lb_cust', 'phone', 'internal', 'phones are not personal here') AS r \gset
SELECT payload - 'relid' AS payload FROM finsec.change_request WHERE request_id = :r;
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.try('SELECT count(phone) FROM lb_cust') AS before_approval;
SET SESSION AUTHORIZATION regress_lb_adm1;
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :r)) AS self_approval;
SET SESSION AUTHORIZATION regress_lb_adm2;
SELECT finsec.approve(:r) AS applied;
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT count(phone) AS after_approval FROM lb_cust;
RESET SESSION AUTHORIZATION;
SELECT label FROM pg_seclabel WHERE objoid = 'lb_cust'::regclass AND objsubid = 3 AND provider = 'finsec';
-- removal of a table label, and a request whose label moved meanwhile
SET SESSION AUTHORIZATION regress_lb_adm1;
SELECT finsec.label_change('lb_parent', NULL, NULL, 'not personal') AS r \gset
SELECT finsec.label_change('lb_cust', 'card', 'identifier') AS r3 \gset
SET SESSION AUTHORIZATION regress_lb_adm2;
SELECT finsec.approve(:r) ->> 'replaced' AS removed;
RESET SESSION AUTHORIZATION;
-- The request pinned card's label (sensitive); a superuser (outside the
-- model: it can apply directly) moves it first: approval is refused.
BEGIN;
SELECT finsec._label_apply('lb_cust', 'card', 'quasi_identifier', 'sensitive') AS superuser_applies;
SET SESSION AUTHORIZATION regress_lb_adm2;
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :r3)) AS moved_meanwhile;
RESET SESSION AUTHORIZATION;
ROLLBACK;
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.try('SELECT secret FROM lb_child') AS parent_label_removed;
RESET SESSION AUTHORIZATION;
SELECT event_type, object, action, detail - 'request_id' AS detail FROM finsec.audit
 WHERE event_type IN ('label.change', 'label.clearance_grant', 'label.clearance_revoke') ORDER BY finsec_seq;

-- ---------------------------------------------------------------------
-- 6. What carries a label: tables (of every kind) and their columns.
-- ---------------------------------------------------------------------
CREATE SEQUENCE lb_seq;
CREATE TYPE lb_comp AS (a int);
CREATE INDEX lb_cust_note ON lb_cust (note);
CREATE MATERIALIZED VIEW lb_mv AS SELECT id FROM lb_cust;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON SCHEMA public IS 'sensitive'$$) AS schema;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON FUNCTION lb_boss_peek() IS 'sensitive'$$) AS function;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON ROLE regress_lb_clerk IS 'sensitive'$$) AS role;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON SEQUENCE lb_seq IS 'sensitive'$$) AS sequence;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON TYPE lb_comp IS 'sensitive'$$) AS type;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON COLUMN lb_comp.a IS 'sensitive'$$) AS type_column;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON TABLE finsec.audit IS 'sensitive'$$) AS finsec_table;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON COLUMN lb_cust.note IS 'secret'$$) AS unknown_label;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON COLUMN lb_cust.note IS 'SENSITIVE'$$) AS case_matters;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON COLUMN lb_cust.note IS ''$$) AS empty_label;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON MATERIALIZED VIEW lb_mv IS 'internal'$$) AS matview;
SELECT pg_temp.try($$SECURITY LABEL FOR finsec ON VIEW lb_v IS 'internal'$$) AS view;
SELECT pg_temp.try($$SECURITY LABEL FOR nosuch ON TABLE lb_cust IS 'x'$$) AS other_provider;

-- ---------------------------------------------------------------------
-- 7. labelled_columns() and label_suggestions().
-- ---------------------------------------------------------------------
CREATE TABLE lb_leads (lead_id int, customer_name text, mobile varchar(11), id_no text,
	"地址" text, email text, "姓名" text, amount numeric, card finsec.bank_card,
	resident finsec.cn_resident_id, file_name int, remark text);
SET SESSION AUTHORIZATION regress_lb_aud;
SELECT * FROM finsec.labelled_columns();
SELECT * FROM finsec.label_suggestions();
RESET SESSION AUTHORIZATION;
SECURITY LABEL FOR finsec ON COLUMN lb_leads.email IS 'public';
SELECT column_name FROM finsec.label_suggestions() WHERE table_name = 'lb_leads'::regclass AND column_name = 'email';
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.try('SELECT * FROM finsec.labelled_columns()') AS clerk_lists;
RESET SESSION AUTHORIZATION;
-- finsec's own tables are never checked
SET SESSION AUTHORIZATION regress_lb_aud;
SELECT count(*) > 0 AS ledger_readable FROM finsec.audit;
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------
-- 8. Bypasses closed (issue 17 attack, V10, V6, V4, V5).  regress_lb_owner
--    owns the tables and holds no clearance; regress_lb_deputy, cleared
--    for sensitive through regress_lb_boss, is made a member of it (a
--    cleared migration role).
-- ---------------------------------------------------------------------
GRANT regress_lb_owner TO regress_lb_deputy;
SET SESSION AUTHORIZATION regress_lb_owner;
CREATE TABLE lb_v10 (id int, ssn text, day int) PARTITION BY RANGE (day);
SECURITY LABEL FOR finsec ON TABLE lb_v10 IS 'quasi_identifier';
SECURITY LABEL FOR finsec ON COLUMN lb_v10.ssn IS 'sensitive';
CREATE TABLE lb_v10_1 PARTITION OF lb_v10 FOR VALUES FROM (0) TO (100);
CREATE TABLE lb_v10_2 PARTITION OF lb_v10 FOR VALUES FROM (100) TO (200);
INSERT INTO lb_v10 VALUES (1, 'SECRET-10', 1), (101, 'SECRET-11', 101);
CREATE TABLE lb_v10_p (id int, ssn text);
CREATE TABLE lb_v10_c (extra text) INHERITS (lb_v10_p);
CREATE TABLE lb_v10_s (id int, ssn text);
ALTER TABLE lb_v10_s INHERIT lb_v10_p;
SECURITY LABEL FOR finsec ON COLUMN lb_v10_p.ssn IS 'identifier';
INSERT INTO lb_v10_c VALUES (1, 'SECRET-12', 'x');
GRANT SELECT ON lb_v10, lb_v10_1, lb_v10_2, lb_v10_p, lb_v10_c, lb_v10_s TO regress_lb_clerk;
-- V10: the owner cannot drop the labels of a partition or child in one
-- statement (S9P43); the hint labels it first (raising is the owner's).
ALTER TABLE lb_v10 DETACH PARTITION lb_v10_1;
SELECT pg_temp.try('ALTER TABLE lb_v10_c NO INHERIT lb_v10_p') AS no_inherit;
SELECT pg_temp.try('ALTER TABLE lb_v10_p DROP COLUMN ssn') AS drop_parent_column_child_keeps;
SELECT pg_temp.try('ALTER TABLE ONLY lb_v10_p DROP COLUMN ssn') AS drop_only_parent_column;
BEGIN;
SELECT pg_temp.try('ALTER TABLE lb_v10 DETACH PARTITION lb_v10_2') AS detach_in_transaction;
ROLLBACK;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.try('ALTER TABLE lb_v10 DETACH PARTITION lb_v10_1') AS superuser_detach;
SET SESSION AUTHORIZATION regress_lb_owner;
SECURITY LABEL FOR finsec ON TABLE lb_v10_1 IS 'quasi_identifier';
SELECT pg_temp.try('ALTER TABLE lb_v10 DETACH PARTITION lb_v10_1') AS table_label_only;
SECURITY LABEL FOR finsec ON COLUMN lb_v10_1.ssn IS 'sensitive';
SELECT pg_temp.try('ALTER TABLE lb_v10 DETACH PARTITION lb_v10_1') AS detach_labelled;
SECURITY LABEL FOR finsec ON COLUMN lb_v10_c.ssn IS 'sensitive';
SELECT pg_temp.try('ALTER TABLE lb_v10_c NO INHERIT lb_v10_p') AS no_inherit_labelled;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.try('SELECT ssn FROM lb_v10_1') AS detached_ssn,
	   pg_temp.try('SELECT id FROM lb_v10_1') AS detached_id,
	   pg_temp.try('SELECT ssn FROM lb_v10_c') AS no_longer_child;
RESET SESSION AUTHORIZATION;

-- V6: the uncleared owner evaluates nothing of his own on a labelled table
-- (S9P44); an unlabelled table is his; the cleared member may; superusers
-- are not refused.
SET SESSION AUTHORIZATION regress_lb_owner;
CREATE TABLE lb_v6 (id int PRIMARY KEY, ssn text, x int CHECK (x > 0));
INSERT INTO lb_v6 VALUES (1, 'SECRET-61', 1), (2, 'SECRET-62', 1);
CREATE TABLE lb_v6_free (id int, v text);
CREATE FUNCTION lb_peek(v text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RAISE EXCEPTION 'peek %', v; END $$;
CREATE FUNCTION lb_steal() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'stolen %', NEW.ssn; RETURN NEW; END $$;
CREATE TABLE lb_v6_sink (v text);
RESET SESSION AUTHORIZATION;
CREATE POLICY lb_v6_pol ON lb_v6 USING (true);
SET SESSION AUTHORIZATION regress_lb_owner;
SECURITY LABEL FOR finsec ON COLUMN lb_v6.ssn IS 'sensitive';
GRANT SELECT, INSERT, UPDATE ON lb_v6 TO regress_lb_clerk;
SELECT t.what, pg_temp.try(t.stmt) FROM (VALUES
	('generated_column', $$ALTER TABLE lb_v6 ADD COLUMN copy text GENERATED ALWAYS AS (ssn || '') STORED$$),
	('add_column', $$ALTER TABLE lb_v6 ADD COLUMN plain text$$),
	('expression_index', $$CREATE INDEX ON lb_v6 ((ssn || '#'))$$),
	('function_index', $$CREATE INDEX ON lb_v6 (lb_peek(ssn))$$),
	('trigger_', $$CREATE TRIGGER lb_steal BEFORE UPDATE ON lb_v6 FOR EACH ROW EXECUTE FUNCTION lb_steal()$$),
	('check_constraint', $$ALTER TABLE lb_v6 ADD CONSTRAINT lb_peek CHECK (lb_peek(ssn))$$),
	('alter_using', $$ALTER TABLE lb_v6 ALTER COLUMN ssn TYPE text USING (CASE WHEN lb_peek(ssn) THEN ssn END)$$)) t(what, stmt);
SELECT t.what, pg_temp.try(t.stmt) FROM (VALUES
	('rule_', $$CREATE RULE lb_r AS ON UPDATE TO lb_v6 DO ALSO INSERT INTO lb_v6_sink VALUES (NEW.ssn)$$),
	('policy', $$CREATE POLICY lb_p ON lb_v6 USING (lb_peek(ssn))$$),
	('alter_policy', $$ALTER POLICY lb_v6_pol ON lb_v6 USING (lb_peek(ssn))$$),
	('statistics', $$CREATE STATISTICS lb_st ON id, ssn FROM lb_v6$$),
	('set_statistics', $$ALTER TABLE lb_v6 ALTER COLUMN id SET STATISTICS 10$$),
	('enable_rls', $$ALTER TABLE lb_v6 ENABLE ROW LEVEL SECURITY$$)) t(what, stmt);
SELECT t.what, pg_temp.try(t.stmt) FROM (VALUES
	('attach', $$ALTER TABLE lb_v10 ATTACH PARTITION lb_v10_1 FOR VALUES FROM (0) TO (100)$$),
	('inherit', $$ALTER TABLE lb_v6_free INHERIT lb_v10_p$$),
	('unlabelled_table', $$CREATE TRIGGER lb_free BEFORE UPDATE ON lb_v6_free FOR EACH ROW EXECUTE FUNCTION lb_steal()$$)) t(what, stmt);
-- the attack's own statement, with its hint
ALTER TABLE lb_v6 ADD COLUMN copy text GENERATED ALWAYS AS (ssn || '') STORED;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lb_deputy;
SELECT t.what, pg_temp.try(t.stmt) FROM (VALUES
	('cleared_add_column', $$ALTER TABLE lb_v6 ADD COLUMN plain text$$),
	('cleared_index', $$CREATE INDEX lb_v6_ssn ON lb_v6 (ssn)$$),
	('set_role_to_owner', $$SET ROLE regress_lb_owner; CREATE INDEX lb_v6_x ON lb_v6 (x)$$)) t(what, stmt);
RESET ROLE;
RESET SESSION AUTHORIZATION;

-- Code that existed before the label: replacing the body of a function a
-- trigger or a constraint of the labelled table uses is refused too.
SET SESSION AUTHORIZATION regress_lb_owner;
CREATE FUNCTION lb_pre_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION lb_ok(v text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT true $$;
CREATE FUNCTION lb_unused() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
CREATE TABLE lb_v6_pre (id int, ssn text CHECK (lb_ok(ssn)));
CREATE TRIGGER lb_pre BEFORE UPDATE ON lb_v6_pre FOR EACH ROW EXECUTE FUNCTION lb_pre_fn();
SECURITY LABEL FOR finsec ON COLUMN lb_v6_pre.ssn IS 'sensitive';
SELECT t.what, pg_temp.try(t.stmt) FROM (VALUES
	('replace_trigger_function', $q$CREATE OR REPLACE FUNCTION lb_pre_fn() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RAISE NOTICE '%', NEW.ssn; RETURN NEW; END $f$ $q$),
	('replace_check_function', $q$CREATE OR REPLACE FUNCTION lb_ok(v text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $f$ BEGIN RAISE EXCEPTION '%', v; END $f$ $q$),
	('replace_unused_function', $q$CREATE OR REPLACE FUNCTION lb_unused() RETURNS int LANGUAGE sql AS $f$ SELECT 2 $f$ $q$)) t(what, stmt);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_lb_deputy;
SELECT pg_temp.try($q$CREATE OR REPLACE FUNCTION lb_pre_fn() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NEW; END $f$ $q$) AS cleared_replaces;
RESET SESSION AUTHORIZATION;

-- V4: no statistics of a restricted plain column: labelling turns them off
-- and removes them, ANALYZE keeps them off, the target cannot be raised
-- (S9P45, for everyone); extended statistics are refused; a protected
-- column keeps its (sealed) statistics.
CREATE TABLE lb_v4 (id int, ssn text, note text, card finsec.bank_card);
INSERT INTO lb_v4 SELECT g, 'SECRET-4' || (g % 3), 'n' || (g % 2), NULL FROM generate_series(1, 60) g;
GRANT SELECT ON lb_v4 TO regress_lb_clerk;
ALTER TABLE lb_v4 OWNER TO regress_lb_owner;
SET SESSION AUTHORIZATION regress_lb_owner;
CREATE TABLE lb_v4t (id int, v text);
INSERT INTO lb_v4t SELECT g, 'T' || (g % 2) FROM generate_series(1, 20) g;
GRANT SELECT ON lb_v4t TO regress_lb_clerk;
RESET SESSION AUTHORIZATION;
ANALYZE lb_v4, lb_v4t;
SELECT attname, most_common_vals IS NOT NULL AS has_mcv FROM pg_stats WHERE tablename = 'lb_v4' ORDER BY 1;
SET SESSION AUTHORIZATION regress_lb_owner;
SECURITY LABEL FOR finsec ON COLUMN lb_v4.ssn IS 'identifier';
SECURITY LABEL FOR finsec ON COLUMN lb_v4.card IS 'sensitive';
SECURITY LABEL FOR finsec ON TABLE lb_v4t IS 'quasi_identifier';
RESET SESSION AUTHORIZATION;
ANALYZE lb_v4, lb_v4t;
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT tablename, attname FROM pg_stats WHERE tablename IN ('lb_v4', 'lb_v4t') ORDER BY 1, 2;
SELECT count(*) AS clerk_sees_ssn_stats FROM pg_stats WHERE tablename = 'lb_v4' AND attname = 'ssn';
RESET SESSION AUTHORIZATION;
SELECT count(*) AS ssn_statistic_rows FROM pg_statistic WHERE starelid = 'lb_v4'::regclass AND staattnum = 2;
SELECT attrelid::regclass, attname, attstattarget FROM pg_attribute
 WHERE attrelid IN ('lb_v4'::regclass, 'lb_v4t'::regclass) AND attnum > 0 ORDER BY 1, 2;
SET SESSION AUTHORIZATION regress_lb_deputy;
SELECT t.what, pg_temp.try(t.stmt) FROM (VALUES
	('raise_target', $$ALTER TABLE lb_v4 ALTER COLUMN ssn SET STATISTICS 100$$),
	('default_target', $$ALTER TABLE lb_v4 ALTER COLUMN ssn SET STATISTICS -1$$),
	('zero_target', $$ALTER TABLE lb_v4 ALTER COLUMN ssn SET STATISTICS 0$$),
	('other_column', $$ALTER TABLE lb_v4 ALTER COLUMN note SET STATISTICS 50$$),
	('extended', $$CREATE STATISTICS lb_v4_st ON id, note FROM lb_v4$$),
	('extended_unlabelled', $$CREATE STATISTICS lb_v6_free_st ON id, v FROM lb_v6_free$$)) t(what, stmt);
RESET SESSION AUTHORIZATION;
-- columns restricted later: a partition made after the label, a child
-- attached, a column added by a cleared role to a labelled table
CREATE TABLE lb_v10_3 PARTITION OF lb_v10 FOR VALUES FROM (200) TO (300);
CREATE TABLE lb_v4_late (id int, ssn text, other text);
ALTER TABLE lb_v4_late ALTER COLUMN other SET STATISTICS 100;
ALTER TABLE lb_v4_late INHERIT lb_v10_p;
ALTER TABLE lb_v4t ADD COLUMN w text;
SELECT attrelid::regclass, attname, attstattarget FROM pg_attribute
 WHERE attrelid IN ('lb_v10_3'::regclass, 'lb_v4_late'::regclass, 'lb_v4t'::regclass) AND attnum > 0
 ORDER BY 1, 2;

-- V5: a constraint violation's DETAIL names no value of a table with
-- restricted plain columns, to the client (caught in PL/pgSQL too) and to
-- the server log (test/t/124_protect_labels.pl).
CREATE FUNCTION pg_temp.detail(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	d text;
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ': ' || d;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.detail(text) TO PUBLIC;
GRANT INSERT ON lb_v10, lb_v10_2 TO regress_lb_clerk;
SET SESSION AUTHORIZATION regress_lb_clerk;
SELECT pg_temp.detail($$UPDATE lb_v6 SET x = 0 WHERE id = 1$$) AS check_violation;
SELECT pg_temp.detail($$INSERT INTO lb_v6 (id, ssn, x) VALUES (1, 'GUESS', 1)$$) AS unique_violation;
SELECT pg_temp.detail($$INSERT INTO lb_v6 (id, ssn, x) VALUES (NULL, 'GUESS', 1)$$) AS not_null;
SELECT pg_temp.detail($$INSERT INTO lb_v10 VALUES (1, 'GUESS', 900)$$) AS no_partition;
SELECT pg_temp.detail($$INSERT INTO lb_v10_2 VALUES (1, 'GUESS', 1)$$) AS partition_constraint;
UPDATE lb_v6 SET x = 0 WHERE id = 1;
COPY lb_v6 (id, ssn, x) FROM STDIN;
2	GUESS	1
\.
-- an unlabelled table keeps PostgreSQL's detail
RESET SESSION AUTHORIZATION;
ALTER TABLE lb_v6_free ADD CHECK (id > 5);
SELECT pg_temp.detail($$INSERT INTO lb_v6_free VALUES (1, 'a')$$) AS unlabelled;

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_labels;
DROP ROLE regress_lb_adm1, regress_lb_adm2, regress_lb_owner, regress_lb_clerk, regress_lb_app,
	regress_lb_deputy, regress_lb_stand_in, regress_lb_boss, regress_lb_aud;
