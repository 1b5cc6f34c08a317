--
-- 006_null_arguments: every function of the extension, called with NULL in
-- each argument position and with every argument NULL, does not crash the
-- server (issue 14, class 2; docs/development.md "NULL arguments").
--
-- The calls are generated from the catalog: every pg_proc row that
-- depends on extension finsec (pg_depend deptype 'e'), so a function added
-- later is called too.  Each call runs in its own subtransaction, which is
-- then rolled back (the call's effects never accumulate); its outcome is
-- "returned" or the SQLSTATE it raised.  Refusals (22004 "must not be
-- null", 22023, 42xxx, 55000, finsec's S9xxx, ...) are the expected
-- outcomes; an internal error (XX000), a system error (58xxx), a resource
-- error (53xxx) or any other class not listed below is reported.  A crash
-- ends this session, and the last statement (SELECT 1) then fails.
--
-- Calling every function as superuser has effects (approvals, keys, audit
-- rows, shared-memory counters), so this runs in a database of its own,
-- dropped at the end; roles it creates are dropped too.
--
-- On 0.7, finsec.mask(NULL::finsec.bank_card) and finsec.reveal(NULL)
-- dereferenced the NULL datum and took the server down (every backend
-- restarted): this file never reached its last line.
--
SET client_min_messages = warning;
SELECT current_database() AS regress_db \gset
DROP DATABASE IF EXISTS regress_finsec_nulls;
CREATE DATABASE regress_finsec_nulls TEMPLATE template0;
\c regress_finsec_nulls
SET client_min_messages = warning;
SET lc_messages = 'C';
CREATE EXTENSION finsec;

-- ---------------------------------------------------------------------
-- Fixture: objects the non-NULL arguments name, so that a call gets past
-- "no such key" to the code that reads the NULL argument.
-- ---------------------------------------------------------------------
CREATE ROLE regress_nulls_a IN ROLE finsec_admin;
CREATE ROLE regress_nulls_b IN ROLE finsec_admin;
CREATE FUNCTION pg_temp.approved(r bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE 'SET SESSION AUTHORIZATION regress_nulls_b';
	PERFORM finsec.approve(r);
	EXECUTE 'RESET SESSION AUTHORIZATION';
END $$;
SET SESSION AUTHORIZATION regress_nulls_a;
SELECT finsec.key_generate('card.enc', 'encryption', 'aes-256-gcm') AS r1 \gset
SELECT finsec.key_generate('card.fp', 'fingerprint', 'hmac-sm3') AS r2 \gset
SELECT finsec.key_generate('nulls.mac', 'mac', 'iso9797-alg3') AS r3 \gset
SELECT finsec.key_generate('nulls.sign', 'signing', 'ec-p256') AS r4 \gset
SELECT finsec.key_generate('otp', 'fingerprint', 'hmac-sha256') AS r5 \gset
RESET SESSION AUTHORIZATION;
SELECT pg_temp.approved(:r1), pg_temp.approved(:r2), pg_temp.approved(:r3),
	   pg_temp.approved(:r4), pg_temp.approved(:r5);
SELECT count(*) AS active_keys FROM finsec.key_inventory WHERE state = 'active';
-- A pending request (request_id arguments) and a registered signer.
SET SESSION AUTHORIZATION regress_nulls_a;
SELECT finsec.key_generate('nulls.pending', 'mac', 'hmac-sha256') AS pending \gset
SELECT finsec.register_signer('nulls.signer', finsec.public_key('nulls.sign')) IS NOT NULL AS signer;
RESET SESSION AUTHORIZATION;

-- Tables whose columns are named like the arguments that name columns.
CREATE SCHEMA regress_nulls;
CREATE TABLE regress_nulls.pay (
	id bigint GENERATED ALWAYS AS IDENTITY, customer text, amount numeric, account text,
	posted_at timestamptz, channel text, auth_tier integer, kind text, counterparty text,
	account_class text, settlement_hold boolean, currency text, mcc text, device text,
	ip inet, phone text, geo point, region text, merchant text, card finsec.bank_card,
	reference text);
INSERT INTO regress_nulls.pay (customer, amount, posted_at) VALUES ('c1', 10, now()), (NULL, NULL, NULL);
CREATE TABLE regress_nulls.orders (id bigint PRIMARY KEY, status text, paid_amount numeric,
	refunded_amount numeric, payment_ref text, order_key bigint);
CREATE TABLE regress_nulls.refunds (id bigint, order_ref bigint, amount numeric);
CREATE TABLE regress_nulls.scored (customer text, amount numeric, at timestamptz, device text);
SELECT finsec.enable_risk('regress_nulls.scored', customer => 'customer', amount => 'amount',
						  posted_at => 'at', device => 'device');
INSERT INTO finsec.risk_ruleset (version, challenge_at, review_at, block_at) VALUES (1, 10, 20, 30);
INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category, mode) VALUES
 (1, 'cust_1h', 'velocity', '{"entity": "customer", "window": "1 hour", "max": 2}', 12, 'VEL', 'account_takeover', 'enforce'),
 (1, 'new_device', 'first_seen', '{"of": "device"}', 10, 'NEW_DEVICE', 'account_takeover', 'enforce'),
 (1, 'amount_high', 'threshold', '{"attribute": "amount", "op": ">=", "value": 1000}', 10, 'AMOUNT', 'card_not_present', 'enforce');
UPDATE finsec.risk_ruleset SET state = 'active', deployed_by = current_user, deployed_at = now() WHERE version = 1;
CREATE TABLE regress_nulls.ledger (id bigint, note text);
SELECT finsec.protect_table('regress_nulls.ledger');
INSERT INTO regress_nulls.ledger VALUES (1, 'x');
INSERT INTO regress_nulls.scored VALUES ('c1', 10, now(), 'd1'), (NULL, NULL, NULL, NULL);
-- Trigger functions run on this table (one trigger at a time).
CREATE TABLE regress_nulls.trig (id bigint, customer text, amount numeric, note text);

-- A sample non-NULL value of an argument, as an SQL expression: by
-- function and argument name first, then by argument name, then by type.
CREATE TABLE pg_temp.sample (proname text, argname text, argtype regtype, expr text);
INSERT INTO pg_temp.sample VALUES
	-- by type
	(NULL, NULL, 'text', $$'x'$$),
	(NULL, NULL, 'name', $$'regress_nulls_a'::name$$),
	(NULL, NULL, 'integer', '1'),
	(NULL, NULL, 'bigint', '1::bigint'),
	(NULL, NULL, 'numeric', '1.5'),
	(NULL, NULL, 'boolean', 'true'),
	(NULL, NULL, 'bytea', $$'\x00010203'::bytea$$),
	(NULL, NULL, 'jsonb', $$'{"a": 1}'::jsonb$$),
	(NULL, NULL, 'date', 'current_date'),
	(NULL, NULL, 'timestamptz', 'now()'),
	(NULL, NULL, 'interval', $$'5 minutes'::interval$$),
	(NULL, NULL, 'text[]', $$'{x}'::text[]$$),
	(NULL, NULL, 'numeric[]', $$'{1,2}'::numeric[]$$),
	(NULL, NULL, 'regclass', $$'regress_nulls.pay'::regclass$$),
	(NULL, NULL, 'oid', '1::oid'),
	(NULL, NULL, 'inet', $$'192.0.2.1'::inet$$),
	(NULL, NULL, 'point', $$'(116.4,39.9)'::point$$),
	(NULL, NULL, 'cstring', $$'1'::cstring$$),
	(NULL, NULL, 'anyelement', $$(SELECT p FROM regress_nulls.pay p LIMIT 1)$$),
	(NULL, NULL, 'record', $$(SELECT p FROM regress_nulls.pay p LIMIT 1)$$),
	(NULL, NULL, 'finsec.money', $$'12.34 CNY'::finsec.money$$),
	(NULL, NULL, 'finsec.bank_card', $$'6216261000000000018'::finsec.bank_card$$),
	(NULL, NULL, 'finsec.bank_account', $$'6228480402564890018'::finsec.bank_account$$),
	(NULL, NULL, 'finsec.cn_mobile', $$'13800138000'::finsec.cn_mobile$$),
	(NULL, NULL, 'finsec.cn_resident_id', $$'11010519491231002X'::finsec.cn_resident_id$$),
	(NULL, NULL, 'finsec.uscc', $$'91350100M000100Y43'::finsec.uscc$$),
	-- by argument name
	(NULL, 'label', 'text', $$'nulls.mac'$$),
	(NULL, 'algorithm', 'text', $$'iso9797-alg3'$$),
	(NULL, 'padding', 'integer', '1'),
	(NULL, 'length', 'integer', '8'),
	(NULL, 'mac', 'bytea', $$'\x0001020304050607'::bytea$$),
	(NULL, 'currency', 'text', $$'CNY'$$),
	(NULL, 'signer', 'text', $$'nulls.signer'$$),
	(NULL, 'request_id', 'bigint', :'pending'),
	(NULL, 'version', 'integer', '1'),
	(NULL, 'purpose', 'text', $$'mac'$$),
	(NULL, 'id_number', 'text', $$'11010519491231002X'$$),
	(NULL, 'phone', 'text', $$'13800138000'$$),
	(NULL, 'digits', 'integer', '6'),
	(NULL, 'orders', 'regclass', $$'regress_nulls.orders'::regclass$$),
	(NULL, 'refunds', 'regclass', $$'regress_nulls.refunds'::regclass$$),
	(NULL, 'rel', 'regclass', $$'regress_nulls.ledger'::regclass$$),
	(NULL, 'relation', 'regclass', $$'regress_nulls.ledger'::regclass$$),
	(NULL, 'period', 'text', $$'day'$$),
	(NULL, 'color', 'text', $$'black'$$),
	(NULL, 'entity_type', 'text', $$'customer'$$),
	(NULL, 'start_type', 'text', $$'customer'$$),
	(NULL, 'other_type', 'text', $$'device'$$),
	(NULL, 'paid_states', 'text[]', $$'{paid}'::text[]$$),
	(NULL, 'cancelled_states', 'text[]', $$'{cancelled}'::text[]$$),
	(NULL, 'reversal_kinds', 'text[]', $$'{refund}'::text[]$$),
	(NULL, 'exempt_kinds', 'text[]', $$'{fee}'::text[]$$),
	-- by function and argument name
	('key_generate', 'label', 'text', $$'nulls.new'$$),
	('key_generate', 'algorithm', 'text', $$'hmac-sha256'$$),
	('key_import', 'label', 'text', $$'nulls.new'$$),
	('key_import', 'algorithm', 'text', $$'hmac-sha256'$$),
	('key_import', 'key', 'bytea', $$decode(repeat('ab', 32), 'hex')$$),
	('sign', 'label', 'text', $$'nulls.sign'$$),
	('sign', 'algorithm', 'text', $$'ecdsa-sha256'$$),
	('sign_receipt', 'label', 'text', $$'nulls.sign'$$),
	('public_key', 'label', 'text', $$'nulls.sign'$$),
	('verify_signature', 'algorithm', 'text', $$'ecdsa-sha256'$$),
	('require_signature', 'algorithm', 'text', $$'ecdsa-sha256'$$),
	('register_signer', 'name', 'text', $$'nulls.signer2'$$),
	('register_signer', 'pem', 'text', $$finsec.public_key('nulls.sign')$$),
	('revoke_signer', 'name', 'text', $$'nulls.signer'$$),
	('protect_table', 'relation', 'regclass', $$'regress_nulls.pay'::regclass$$),
	('protect_table', 'algorithm', 'text', $$'sha256'$$),
	('audit_purge', 'before', 'date', $$'2000-01-01'::date$$),
	('request_limit_policy', 'relid', 'regclass', $$'regress_nulls.pay'::regclass$$),
	('risk_score', 'payments', 'regclass', $$'regress_nulls.scored'::regclass$$),
	('risk_score', 'payment', 'record', $$(SELECT s FROM regress_nulls.scored s LIMIT 1)$$),
	('limit_preset_pboc_2015_43', 'tier_strong', 'integer', '2');
-- Arguments that name a column of the table: the argument's own name.
INSERT INTO pg_temp.sample
SELECT DISTINCT p.proname, a.name, 'text'::regtype, quote_literal(a.name)
  FROM pg_proc p, unnest(p.proargnames) a(name)
 WHERE p.pronamespace = 'finsec'::regnamespace
   AND p.proname IN ('enable_limits', 'enable_risk', 'enable_order_guard', 'enable_refund_guard')
   AND a.name NOT IN ('payments', 'orders', 'refunds', 'paid_states', 'cancelled_states',
					  'reversal_kinds', 'exempt_kinds');

CREATE FUNCTION pg_temp.sample_for(fn oid, pos integer) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT coalesce(
		(SELECT s.expr FROM pg_temp.sample s WHERE s.proname = p.proname AND s.argname = p.proargnames[pos]
			AND s.argtype = p.proargtypes[pos - 1]),
		(SELECT s.expr FROM pg_temp.sample s WHERE s.proname IS NULL AND s.argname = p.proargnames[pos]
			AND s.argtype = p.proargtypes[pos - 1]),
		(SELECT s.expr FROM pg_temp.sample s WHERE s.proname IS NULL AND s.argname IS NULL
			AND s.argtype = p.proargtypes[pos - 1]),
		format('NULL::%s', format_type(p.proargtypes[pos - 1], NULL)))
	  FROM pg_proc p WHERE p.oid = fn
$$;

-- ---------------------------------------------------------------------
-- The functions, and what each one is called with.
-- ---------------------------------------------------------------------
CREATE TEMP VIEW finsec_function AS
SELECT p.oid, p.oid::regprocedure AS fn, p.prokind, p.pronargs, p.prorettype,
	   p.proargtypes::oid[] AS argtypes,
	   format('%I.%I', p.pronamespace::regnamespace, p.proname) AS qname
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'finsec');

-- Functions not called by a SELECT, each with its reason.  Trigger
-- functions are fired on a table instead (trigger_calls below); everything
-- else is called.
CREATE TEMP VIEW not_called AS
SELECT fn, CASE
		WHEN 'internal'::regtype = ANY (argtypes) AND (fn::text LIKE '%\_recv(internal)' OR fn::text LIKE '%\_recv(internal,oid,integer)') THEN
			'takes internal: binary input, reached through the wire protocol only (its parser is fuzzed, test/fuzz)'
		WHEN 'internal'::regtype = ANY (argtypes) AND fn::text LIKE 'finsec.money\_agg\_%' THEN
			'takes internal: aggregate support, run by sum() and avg() below (NULL states included)'
		WHEN 'internal'::regtype = ANY (argtypes) AND fn::text LIKE 'finsec.money\_%final(internal)' THEN
			'takes internal: aggregate support, run by sum() and avg() below (NULL states included)'
		WHEN 'internal'::regtype = ANY (argtypes) THEN
			'takes internal: planner support (sort, selectivity), SQL cannot pass it a value'
		WHEN prorettype = 'event_trigger'::regtype THEN
			'event trigger: installed by the extension, it runs on every DDL statement of this file'
		WHEN prorettype = 'trigger'::regtype THEN
			'trigger function'
		WHEN prokind NOT IN ('f', 'a', 'p') THEN
			'window function: no window functions are expected'
	   END AS reason
  FROM finsec_function
 WHERE 'internal'::regtype = ANY (argtypes)
	OR prorettype IN ('trigger'::regtype, 'event_trigger'::regtype)
	OR prokind NOT IN ('f', 'a', 'p');

-- One call per argument position with NULL there (the others given a
-- sample), one with every argument NULL (when there are two or more), and
-- a plain call of a function without arguments.  Polymorphic arguments get
-- a row; NULL of anyelement is a NULL of integer.
CREATE TEMP VIEW null_calls AS
SELECT f.fn, g.pos,
	   CASE WHEN f.pronargs = 0 THEN 'no arguments' WHEN g.pos = 0 THEN 'all null'
			ELSE format('null at %s', g.pos) END AS label,
	   format(CASE f.prokind WHEN 'p' THEN 'CALL %s(%s)' ELSE 'SELECT %s(%s)' END, f.qname,
			  (SELECT string_agg(CASE WHEN g.pos = 0 OR a.i = g.pos
									  THEN format('NULL::%s', CASE WHEN a.t = 'anyelement'::regtype
																   THEN 'integer' ELSE format_type(a.t, NULL) END)
									  ELSE pg_temp.sample_for(f.oid, a.i::integer) END,
								 ', ' ORDER BY a.i)
				 FROM unnest(f.argtypes) WITH ORDINALITY a(t, i))) AS sql
  FROM finsec_function f
  CROSS JOIN LATERAL generate_series(CASE WHEN f.pronargs = 1 THEN 1 ELSE 0 END, f.pronargs) g(pos)
 WHERE f.fn NOT IN (SELECT fn FROM not_called);

-- Aggregates also over sets: empty, all NULL, NULL mixed with values, and
-- in parallel (NULL partial states through the combine function).
CREATE TEMP TABLE agg_input AS
SELECT CASE WHEN i % 3 = 0 THEN NULL ELSE '1.00 CNY'::finsec.money END AS m FROM generate_series(1, 3000) i;
CREATE TEMP VIEW agg_calls AS
SELECT f.fn, v.label, format(v.tmpl, f.qname) AS sql
  FROM finsec_function f,
	   (VALUES ('empty set', 'SELECT %s(m) FROM agg_input WHERE false'),
			   ('all null rows', 'SELECT %s(m) FROM agg_input WHERE m IS NULL'),
			   ('null and non-null rows', 'SELECT %s(m) FROM agg_input'),
			   ('grouped', 'SELECT %s(m) FROM agg_input GROUP BY m IS NULL')) v(label, tmpl)
 WHERE f.prokind = 'a' AND f.pronargs = 1 AND f.argtypes[0] = 'finsec.money'::regtype;

-- Trigger functions fired on regress_nulls.trig, one at a time, BEFORE and
-- AFTER, for each row and for each statement.
CREATE TEMP VIEW trigger_calls AS
SELECT f.fn, format('%s %s', w.timing, w.level) AS label,
	   format('CREATE TRIGGER regress_nulls_t %s INSERT OR UPDATE OR DELETE ON regress_nulls.trig '
			  'FOR EACH %s EXECUTE FUNCTION %s(); '
			  'INSERT INTO regress_nulls.trig VALUES (NULL, NULL, NULL, NULL); '
			  'UPDATE regress_nulls.trig SET note = NULL; DELETE FROM regress_nulls.trig',
			  w.timing, w.level, f.qname) AS sql
  FROM finsec_function f,
	   (VALUES ('BEFORE', 'ROW'), ('AFTER', 'ROW'), ('BEFORE', 'STATEMENT'), ('AFTER', 'STATEMENT')) w(timing, level)
 WHERE f.prorettype = 'trigger'::regtype;

-- ---------------------------------------------------------------------
-- Run them, each in a subtransaction rolled back after it.
-- ---------------------------------------------------------------------
CREATE TEMP TABLE null_call (kind text, fn regprocedure, label text, sql text, sqlstate text, message text);
DO $$
DECLARE
	c record;
	st text;
	msg text;
BEGIN
	FOR c IN SELECT * FROM (SELECT 'call' AS kind, fn, label, sql FROM null_calls
							UNION ALL SELECT 'aggregate', fn, label, sql FROM agg_calls
							UNION ALL SELECT 'trigger', fn, label, sql FROM trigger_calls) s
			  ORDER BY kind, fn::text, label
	LOOP
		BEGIN
			IF c.kind = 'aggregate' AND c.label = 'null and non-null rows' THEN
				-- parallel workers, each with its own (possibly NULL) state
				SET LOCAL parallel_setup_cost = 0;
				SET LOCAL parallel_tuple_cost = 0;
				SET LOCAL min_parallel_table_scan_size = 0;
				SET LOCAL max_parallel_workers_per_gather = 2;
			END IF;
			EXECUTE c.sql;
			-- undo whatever the call did
			RAISE EXCEPTION USING ERRCODE = 'ZZ000', MESSAGE = 'returned';
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
			INSERT INTO null_call VALUES (c.kind, c.fn, c.label, c.sql, st, msg);
		END;
	END LOOP;
END
$$;

-- Expected outcomes: returned, or a refusal of these classes (39P01: a
-- trigger function fired the wrong way).  Anything else (XX internal
-- error, 58 system error, 53 resources, 2F/38/39 routine errors, 21
-- cardinality, P0002-P0004 PL/pgSQL slips, ...) is listed.
CREATE TEMP VIEW unexpected AS
SELECT kind, fn, label, sqlstate, message, sql FROM null_call
 WHERE sqlstate <> 'ZZ000'
   AND left(sqlstate, 2) NOT IN ('22', '23', '42', '0A', '55', '28', '3F', '25', '44', 'S9')
   AND sqlstate NOT IN ('P0001', '39P01');

-- How much was called: floors, so that functions added later keep this
-- output (the exact counts are in the table null_call).
SELECT (SELECT count(*) FROM finsec_function) >= 275 AS at_least_275_functions,
	   count(DISTINCT fn) FILTER (WHERE kind = 'call') >= 245 AS at_least_245_called,
	   count(*) FILTER (WHERE kind = 'call') >= 740 AS at_least_740_calls,
	   count(*) FILTER (WHERE kind = 'call' AND label = 'all null') >= 150 AS at_least_150_all_null_calls,
	   count(*) FILTER (WHERE kind = 'call' AND sqlstate = 'ZZ000') >= 300 AS at_least_300_returned,
	   count(DISTINCT fn) FILTER (WHERE kind = 'aggregate') >= 4 AS at_least_4_aggregates,
	   count(DISTINCT fn) FILTER (WHERE kind = 'trigger') >= 10 AS at_least_10_trigger_functions
  FROM null_call;
-- Every function of the extension is called or listed with its reason.
SELECT f.fn AS neither_called_nor_listed FROM finsec_function f
 WHERE f.fn NOT IN (SELECT fn FROM null_call) AND f.fn NOT IN (SELECT fn FROM not_called);
SELECT fn, reason FROM not_called WHERE reason <> 'trigger function' ORDER BY fn::text;

-- The calls that crashed 0.7 now return NULL.
SELECT kind, fn, label, sqlstate FROM null_call
 WHERE fn::text ~ '^finsec\.(mask|reveal)\(finsec\.bank_(card|account)' AND label IN ('all null', 'null at 1')
 ORDER BY fn::text, label;

-- Unexpected outcomes: none.
SELECT kind, fn, label, sqlstate, message FROM unexpected ORDER BY kind, fn::text, label;

-- Leave no shared-memory events of this database behind (buffers are
-- per database; the flush functions write them to this database's tables).
SELECT count(*) >= 2 AS flush_functions FROM (
	SELECT p.oid::regprocedure FROM pg_proc p
	 WHERE p.pronamespace = 'finsec'::regnamespace AND p.proname LIKE 'flush\_%' AND p.pronargs = 0) s;
DO $$
DECLARE f record;
BEGIN
	FOR f IN SELECT p.oid::regprocedure AS fn FROM pg_proc p
			  WHERE p.pronamespace = 'finsec'::regnamespace AND p.proname LIKE 'flush\_%' AND p.pronargs = 0
	LOOP
		EXECUTE format('SELECT %s', f.fn);
	END LOOP;
END $$;

-- The server stayed up: this session still runs.
SELECT 1 AS server_up;

\c :regress_db
SET client_min_messages = warning;
DROP DATABASE regress_finsec_nulls WITH (FORCE);
DROP ROLE regress_nulls_a;
DROP ROLE regress_nulls_b;
SELECT 1 AS server_up;
