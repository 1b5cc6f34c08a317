--
-- 093_limits_renames: the owner of a limited table cannot take its
-- payments out of the limits by renaming, dropping or retyping a
-- registered column, renaming or moving the table or its schema, or
-- deleting posted payments by a cascaded DROP or TRUNCATE; and
-- rebuild_limit_usage() counts only reversals the trigger would accept.
-- Every attack below worked on finsec 0.8 before this fix.
--
\set VERBOSITY default
SELECT current_database() AS regress_db \gset
CREATE DATABASE regress_ren_limits;
\c regress_ren_limits
CREATE EXTENSION finsec;
SET client_min_messages = warning;
CREATE ROLE regress_ren_adm1 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ren_adm2 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ren_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_ren_owner LOGIN;
RESET client_min_messages;
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'request \d+', 'request N');
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;

CREATE SCHEMA app AUTHORIZATION regress_ren_owner;
CREATE SCHEMA other AUTHORIZATION regress_ren_owner;
SET SESSION AUTHORIZATION regress_ren_owner;
CREATE DOMAIN app.amt AS numeric;
CREATE TABLE app.customers (id text PRIMARY KEY);
CREATE TABLE app.payments (
	id bigserial PRIMARY KEY,
	account text NOT NULL REFERENCES app.customers,
	amount app.amt NOT NULL,
	kind text NOT NULL DEFAULT 'payment',
	orig bigint,
	note text,
	posted_at timestamptz
);
GRANT USAGE ON SCHEMA app TO PUBLIC;
GRANT SELECT, INSERT ON app.payments, app.customers TO regress_ren_app;
GRANT USAGE ON SEQUENCE app.payments_id_seq TO regress_ren_app;
GRANT TRIGGER ON app.payments TO finsec_admin;
RESET SESSION AUTHORIZATION;
SELECT finsec.enable_limits('app.payments', customer => 'account', amount => 'amount', kind => 'kind',
	posted_at => 'posted_at', payment_id => 'id', reversal_of => 'orig') IS NULL AS no_request;
SET SESSION AUTHORIZATION regress_ren_adm1;
SELECT finsec.request_limit_policy('ren day', 'day', 1000) AS req \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ren_adm2;
SELECT finsec.approve(:req) ->> 'action' AS action;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ren_app;
INSERT INTO app.customers VALUES ('c1'), ('c2');
INSERT INTO app.payments (account, amount) VALUES ('c1', 900);
SELECT pg_temp.try($$INSERT INTO app.payments (account, amount) VALUES ('c1', 200)$$);
RESET SESSION AUTHORIZATION;

-- ---- a registered column renamed, and a new one under its name ------------
SET SESSION AUTHORIZATION regress_ren_owner;
SELECT pg_temp.try($$ALTER TABLE app.payments RENAME COLUMN account TO account_real$$);
SELECT pg_temp.try($$ALTER TABLE app.payments RENAME amount TO amount_real$$);
SELECT pg_temp.try($$ALTER TABLE app.payments RENAME COLUMN orig TO orig_real$$);
SELECT pg_temp.try($$ALTER TABLE app.payments DROP COLUMN kind$$);
SELECT pg_temp.try($$ALTER TABLE app.payments ALTER COLUMN amount TYPE numeric$$);
SELECT pg_temp.try($$ALTER TABLE app.payments ALTER COLUMN posted_at TYPE timestamp$$);
-- columns finsec does not read stay the owner's
SELECT pg_temp.try($$ALTER TABLE app.payments RENAME COLUMN note TO remark$$);
SELECT pg_temp.try($$ALTER TABLE app.payments ALTER COLUMN remark TYPE varchar(200)$$);
-- ---- the table renamed or moved, and a new table under its name ----------
SELECT pg_temp.try($$ALTER TABLE app.payments RENAME TO payments_old$$);
SELECT pg_temp.try($$ALTER TABLE app.payments SET SCHEMA other$$);
SELECT pg_temp.try($$ALTER SCHEMA app RENAME TO app_old$$);
SELECT pg_temp.try($$ALTER TABLE app.customers RENAME TO clients$$);
SELECT pg_temp.try($$ALTER TABLE app.clients RENAME TO customers$$);
-- ---- posted payments deleted by a cascade ---------------------------------
SELECT pg_temp.try($$DROP SCHEMA app CASCADE$$);
SELECT pg_temp.try($$DROP OWNED BY regress_ren_owner$$);
SELECT pg_temp.try($$DROP DOMAIN app.amt CASCADE$$);
SELECT pg_temp.try($$TRUNCATE app.customers CASCADE$$);
SELECT pg_temp.try($$TRUNCATE app.customers$$);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ren_app;
SELECT pg_temp.try($$INSERT INTO app.payments (account, amount) VALUES ('c1', 200)$$);
RESET SESSION AUTHORIZATION;
SELECT count(*) AS payments, (SELECT count(*) FROM app.customers) AS customers FROM app.payments;
SELECT attname FROM pg_attribute WHERE attrelid = 'app.payments'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SELECT ok FROM finsec.status_limits();

-- ---- rebuild_limit_usage(): fake refunds restore nothing -------------------
-- limits off (two-person, usage kept), refunds that the trigger would have
-- refused written meanwhile, limits on again, usage rebuilt
SET SESSION AUTHORIZATION regress_ren_app;
INSERT INTO app.payments (account, amount) VALUES ('c2', 300);
RESET SESSION AUTHORIZATION;
SELECT id AS p1 FROM app.payments WHERE account = 'c1' AND kind = 'payment' \gset
SELECT id AS p2 FROM app.payments WHERE account = 'c2' AND kind = 'payment' \gset
SET SESSION AUTHORIZATION regress_ren_adm1;
SELECT finsec.disable_limits('app.payments', 'maintenance') AS req \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ren_adm2;
SELECT finsec.approve(:req) ->> 'action' AS action;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ren_app;
-- a payment while limits are off
INSERT INTO app.payments (account, amount, posted_at) VALUES ('c1', 600, now());
-- refunds naming nothing, no payment, another payer's payment, or more than the payment
INSERT INTO app.payments (account, amount, kind, posted_at) VALUES ('c1', 500, 'refund', now());
INSERT INTO app.payments (account, amount, kind, orig, posted_at) VALUES ('c1', 500, 'refund', 999999, now());
INSERT INTO app.payments (account, amount, kind, orig, posted_at) VALUES ('c1', 300, 'refund', :p2, now());
INSERT INTO app.payments (account, amount, kind, orig, posted_at) VALUES ('c1', 901, 'refund', :p1, now());
-- a genuine partial refund, and a second one past the payment's amount
INSERT INTO app.payments (account, amount, kind, orig, posted_at) VALUES ('c1', 100, 'refund', :p1, now());
INSERT INTO app.payments (account, amount, kind, orig, posted_at) VALUES ('c1', 850, 'refund', :p1, now());
RESET SESSION AUTHORIZATION;
SELECT finsec.enable_limits('app.payments', customer => 'account', amount => 'amount', kind => 'kind',
	posted_at => 'posted_at', payment_id => 'id', reversal_of => 'orig') IS NULL AS no_request;
SELECT finsec.rebuild_limit_usage('app.payments') AS usage_rows;
-- c1: 900 + 600 paid; refunds of the 900 restore at most 900 (100 + 800 of the 850): 600 left
SELECT subject, bucket, day_amount, day_count FROM finsec.limit_usage
 WHERE relid = 'app.payments'::regclass ORDER BY subject, bucket;
SELECT payment = :'p1' AS names_p1, subject, amount, reversed FROM finsec.limit_reversal
 WHERE relid = 'app.payments'::regclass;
-- the ledger and usage agree with the trigger: nothing left to reverse
SET SESSION AUTHORIZATION regress_ren_app;
SELECT pg_temp.try(format($$INSERT INTO app.payments (account, amount, kind, orig) VALUES ('c1', 1, 'refund', %s)$$, :p1));
RESET SESSION AUTHORIZATION;

-- the owner of a table without payment_id: no reversal counts in a rebuild
SET SESSION AUTHORIZATION regress_ren_owner;
CREATE TABLE app.plain (account text, amount numeric, kind text DEFAULT 'payment', posted_at timestamptz);
GRANT INSERT ON app.plain TO regress_ren_app;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ren_app;
INSERT INTO app.plain VALUES ('c1', 700, 'payment', now()), ('c1', 500, 'refund', now());
RESET SESSION AUTHORIZATION;
SELECT finsec.enable_limits('app.plain', customer => 'account', kind => 'kind', posted_at => 'posted_at') IS NULL AS no_request;
SELECT finsec.rebuild_limit_usage('app.plain') AS usage_rows;
SELECT subject, day_amount, day_count FROM finsec.limit_usage WHERE relid = 'app.plain'::regclass AND bucket = '';

-- ---- order and refund guards and risk scoring: columns and tables by name --
SET SESSION AUTHORIZATION regress_ren_owner;
CREATE TABLE app.orders (id int PRIMARY KEY, status text NOT NULL, paid_amount numeric, note text);
CREATE TABLE app.refunds (id serial PRIMARY KEY, order_id int NOT NULL, amount numeric NOT NULL);
CREATE TABLE app.scored (id bigserial, cust text NOT NULL, amount numeric NOT NULL, posted_at timestamptz);
GRANT TRIGGER ON app.orders, app.refunds TO finsec_admin;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS enabled FROM (SELECT finsec.enable_order_guard('app.orders')) e;
SELECT count(*) AS enabled FROM (SELECT finsec.enable_refund_guard('app.refunds', 'app.orders')) e;
SELECT count(*) AS enabled FROM (SELECT finsec.enable_risk('app.scored', customer => 'cust', posted_at => 'posted_at')) e;
SET SESSION AUTHORIZATION regress_ren_owner;
SELECT pg_temp.try($$ALTER TABLE app.orders RENAME COLUMN status TO status_real$$);
SELECT pg_temp.try($$ALTER TABLE app.orders DROP COLUMN paid_amount$$);
SELECT pg_temp.try($$ALTER TABLE app.orders ALTER COLUMN id TYPE bigint$$);
SELECT pg_temp.try($$ALTER TABLE app.refunds RENAME COLUMN order_id TO order_ref$$);
SELECT pg_temp.try($$ALTER TABLE app.refunds ALTER COLUMN amount TYPE numeric(12,2)$$);
SELECT pg_temp.try($$ALTER TABLE app.refunds RENAME TO refunds_old$$);
SELECT pg_temp.try($$ALTER TABLE app.orders SET SCHEMA other$$);
SELECT pg_temp.try($$ALTER TABLE app.scored RENAME COLUMN cust TO cust_real$$);
SELECT pg_temp.try($$ALTER TABLE app.scored DROP COLUMN posted_at$$);
SELECT pg_temp.try($$ALTER TABLE app.scored RENAME TO scored_old$$);
-- columns finsec does not read stay the owner's
SELECT pg_temp.try($$ALTER TABLE app.orders RENAME COLUMN note TO remark$$);
SELECT pg_temp.try($$ALTER TABLE app.scored DROP COLUMN id$$);
RESET SESSION AUTHORIZATION;
-- ---- an enum value of a registered column renamed -------------------------
SET SESSION AUTHORIZATION regress_ren_owner;
CREATE TYPE app.pkind AS ENUM ('payment', 'refund', 'fee');
CREATE TYPE app.ostate AS ENUM ('new', 'paid');
CREATE TABLE app.epay (id bigserial PRIMARY KEY, account text NOT NULL, amount numeric NOT NULL,
	kind app.pkind NOT NULL DEFAULT 'payment');
CREATE TABLE app.eorders (id int PRIMARY KEY, status app.ostate NOT NULL, paid_amount numeric);
GRANT TRIGGER ON app.epay, app.eorders TO finsec_admin;
RESET SESSION AUTHORIZATION;
SELECT finsec.enable_limits('app.epay', customer => 'account', kind => 'kind') IS NULL AS no_request;
SELECT count(*) AS enabled FROM (SELECT finsec.enable_order_guard('app.eorders')) e;
SET SESSION AUTHORIZATION regress_ren_owner;
SELECT pg_temp.try($$ALTER TYPE app.pkind RENAME VALUE 'payment' TO 'fee2'$$);
SELECT pg_temp.try($$ALTER TYPE app.ostate RENAME VALUE 'paid' TO 'settled'$$);
SELECT pg_temp.try($$ALTER TYPE app.pkind ADD VALUE 'chargeback'$$);
RESET SESSION AUTHORIZATION;
SELECT finsec.disable_limits('app.epay', reset_usage => true) IS NULL AS done;

-- a superuser may rename a registered column; finsec.status_limits() flags it
ALTER TABLE app.payments RENAME COLUMN amount TO amount_real;
SELECT ok, detail FROM finsec.status_limits();
ALTER TABLE app.payments RENAME COLUMN amount_real TO amount;
SELECT ok FROM finsec.status_limits();

-- limits off again (superuser: no request)
SELECT finsec.disable_limits('app.payments', reset_usage => true) IS NULL AS done,
	   finsec.disable_limits('app.plain', reset_usage => true) IS NULL AS done;
SET SESSION AUTHORIZATION regress_ren_owner;
-- after disable_limits the table is the owner's again
SELECT pg_temp.try($$ALTER TABLE app.payments RENAME COLUMN remark TO note2$$);
SELECT pg_temp.try($$ALTER TABLE app.payments RENAME COLUMN account TO account_real$$);
RESET SESSION AUTHORIZATION;
DELETE FROM finsec.limit_policy WHERE name = 'ren day';
SET client_min_messages = warning;
DROP SCHEMA app, other CASCADE;
RESET client_min_messages;
\c :regress_db
DROP DATABASE regress_ren_limits WITH (FORCE);
DROP ROLE regress_ren_adm1, regress_ren_adm2, regress_ren_app, regress_ren_owner;
