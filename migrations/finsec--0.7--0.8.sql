/* finsec 0.7 -> 0.8 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '0.8'" to load this file. \quit

-- =====================================================================
-- Security hardening (issue 14, docs/security-model.md#threat-model).
--
-- Each section below is one class of defect found by a penetration test
-- of 0.7, fixed as a class.
-- =====================================================================

-- ---------------------------------------------------------------------
-- 1. No user-defined code runs with raised privileges (guards, limits,
--    risk: registered columns restricted to trusted types).
-- ---------------------------------------------------------------------

-- What finsec runs on application tables (src/common/trusted.c).  A value
-- of a trusted type as text by its type's output function, for finsec's
-- own SQL in place of ::text, whose cast the type's owner can define.
CREATE FUNCTION finsec._trusted_text(value anyelement)
RETURNS text
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_trusted_text';
COMMENT ON FUNCTION finsec._trusted_text(anyelement) IS
	'internal: a value of a trusted type as text, by its output function (no cast)';
REVOKE ALL ON FUNCTION finsec._trusted_text(anyelement) FROM PUBLIC;

-- A read-only query of finsec's own SQL over a user table, run as the
-- table's owner in a security-restricted operation; for finsec's own
-- SECURITY DEFINER functions only.
CREATE FUNCTION finsec._select_as_table_owner(relid regclass, query text,
	params text[] DEFAULT NULL, param_types regtype[] DEFAULT NULL)
RETURNS SETOF record
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_select_as_table_owner';
COMMENT ON FUNCTION finsec._select_as_table_owner(regclass, text, text[], regtype[]) IS
	'internal: a query over a user table run as its owner in a security-restricted operation';
REVOKE ALL ON FUNCTION finsec._select_as_table_owner(regclass, text, text[], regtype[]) FROM PUBLIC;

/*
 * Recompute usage from the payments table (as in 0.6), now without running
 * the table's code as finsec's owner: the payments are read as the table's
 * owner in a security-restricted operation (finsec._select_as_table_owner:
 * the configured columns only, of trusted types), and turned into text by
 * their types' output functions (finsec._trusted_text), never by a cast.
 */
CREATE OR REPLACE FUNCTION finsec.rebuild_limit_usage(payments regclass)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t finsec.limit_table;
	subj text;
	rows_sql text;
	defs text;
	amt text;
	rev text;
	exempt text;
	n bigint;
	tz text := current_setting('finsec.limit_timezone');
	today date := (statement_timestamp() AT TIME ZONE current_setting('finsec.limit_timezone'))::date;
BEGIN
	IF NOT pg_has_role(session_user, 'finsec_admin', 'MEMBER') AND NOT
	   (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
		RAISE EXCEPTION 'permission denied to rebuild limit usage' USING ERRCODE = '42501';
	END IF;
	IF NOT has_schema_privilege(session_user, (SELECT relnamespace FROM pg_class WHERE oid = payments), 'USAGE') THEN
		RAISE EXCEPTION 'permission denied for schema %',
			(SELECT relnamespace::regnamespace FROM pg_class WHERE oid = payments)
			USING ERRCODE = '42501', DETAIL = 'A table given by OID is checked as one given by name.';
	END IF;
	SELECT * INTO t FROM finsec.limit_table WHERE relid = payments;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'table % has no limits enabled', payments
			USING ERRCODE = '55000', HINT = 'Run finsec.enable_limits() first.';
	END IF;
	IF t.time_column IS NULL THEN
		RAISE EXCEPTION 'table % has no posted_at column: usage cannot be rebuilt by period', payments
			USING ERRCODE = '55000',
				  HINT = 'Enable limits with posted_at => a timestamptz column; finsec fills it with server time.';
	END IF;
	EXECUTE format('LOCK TABLE %s IN SHARE MODE', payments);
	subj := coalesce(t.account_column, t.customer_column);
	-- the rows, read as the table's owner: seven columns, no expression
	rows_sql := format('SELECT %I, %s, %I, %I, %s, %s, %s FROM %s', subj,
					   CASE WHEN t.channel_column IS NULL THEN 'NULL::pg_catalog.text' ELSE format('%I', t.channel_column) END,
					   t.amount_column, t.time_column,
					   CASE WHEN t.kind_column IS NULL THEN 'NULL::pg_catalog.text' ELSE format('%I', t.kind_column) END,
					   CASE WHEN t.payment_id_column IS NULL OR t.reversal_column IS NULL THEN 'NULL::pg_catalog.text'
							ELSE format('%I', t.payment_id_column) END,
					   CASE WHEN t.payment_id_column IS NULL OR t.reversal_column IS NULL THEN 'NULL::pg_catalog.text'
							ELSE format('%I', t.reversal_column) END,
					   payments);
	SELECT string_agg(format('%s %s', x.alias, coalesce(format_type(a.atttypid, NULL), 'pg_catalog.text')), ', ' ORDER BY x.o)
	  INTO defs
	  FROM (VALUES (1, 's', subj), (2, 'c', t.channel_column), (3, 'a', t.amount_column),
				   (4, 'ts', t.time_column), (5, 'k', t.kind_column),
				   (6, 'pid', CASE WHEN t.reversal_column IS NOT NULL THEN t.payment_id_column END),
				   (7, 'rv', CASE WHEN t.payment_id_column IS NOT NULL THEN t.reversal_column END)) AS x(o, alias, col)
	  LEFT JOIN pg_attribute a ON a.attrelid = payments AND a.attname = x.col AND NOT a.attisdropped;
	amt := CASE WHEN (SELECT CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.oid END
						FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
					   WHERE a.attrelid = payments AND a.attname = t.amount_column) = 'numeric'::regtype
				THEN 'p.a::pg_catalog.numeric' ELSE 'finsec.amount(p.a)' END;
	rev := CASE WHEN t.kind_column IS NULL THEN 'false'
				ELSE format('coalesce(finsec._trusted_text(p.k) = ANY (%L::text[]), false)', t.reversal_kinds) END;
	exempt := CASE WHEN t.kind_column IS NULL THEN 'true'
				   ELSE format('NOT coalesce(finsec._trusted_text(p.k) = ANY (%L::text[]), false)', t.exempt_kinds) END;
	DELETE FROM finsec.limit_usage WHERE relid = payments;
	DELETE FROM finsec.limit_reversal WHERE relid = payments;
	/*
	 * As the trigger does: a reversal restores allowance only if it names
	 * (reversal_of) exactly one posted payment of the same subject that is
	 * neither a reversal nor exempt, and the reversals of one payment, in
	 * posted order, restore at most its amount.  finsec.limit_reversal is
	 * rebuilt from the same rows.
	 */
	EXECUTE format(
		'WITH p AS MATERIALIZED (SELECT * FROM finsec._select_as_table_owner(%s::pg_catalog.oid::pg_catalog.regclass, %L) AS x(%s)), '
		'b AS MATERIALIZED (SELECT finsec._trusted_text(p.s) AS s, finsec._trusted_text(p.c) AS c, %s AS a, p.ts, '
		'      %s AS r, %s AS counted, finsec._trusted_text(p.pid) AS pid, finsec._trusted_text(p.rv) AS rv FROM p), '
		'o AS (SELECT pid, min(s) AS s, min(a) AS a FROM b WHERE pid IS NOT NULL GROUP BY pid '
		'      HAVING count(*) = 1 AND bool_and(NOT r AND counted) AND min(s) IS NOT NULL AND min(ts) IS NOT NULL '
		'         AND min(a) >= 0 AND min(a) < ''Infinity''::pg_catalog.numeric), '
		'v AS MATERIALIZED (SELECT b.s, b.c, b.a, b.ts, b.rv, o.a AS oa, '
		'      sum(b.a) OVER (PARTITION BY b.rv ORDER BY b.ts ROWS UNBOUNDED PRECEDING) AS run '
		'      FROM b JOIN o ON o.pid = b.rv AND o.s = b.s '
		'     WHERE b.r AND b.counted AND b.ts IS NOT NULL AND b.a > 0 AND b.a <= o.a), '
		'w AS (SELECT s, c, ts, greatest(least(run, oa) - least(run - a, oa), 0) AS credit, rv, oa FROM v), '
		'lr AS (INSERT INTO finsec.limit_reversal (relid, payment, subject, amount, reversed) '
		'       SELECT %s, rv, min(s), min(oa), least(sum(credit), min(oa)) FROM w GROUP BY rv '
		'       HAVING sum(credit) > 0 RETURNING 1), '
		'pr AS (SELECT s, c, a AS sa, ts, false AS r FROM b WHERE NOT r AND counted '
		'       UNION ALL SELECT s, c, -credit, ts, true FROM w WHERE credit > 0) '
		'INSERT INTO finsec.limit_usage (relid, subject, bucket, day, day_amount, day_count, year, '
		'year_amount, year_count, life_amount, life_count) '
		'SELECT %s, s, b, $1, greatest(coalesce(sum(CASE WHEN d = $1 THEN sa END), 0), 0), '
		'coalesce(sum(CASE WHEN d = $1 AND NOT r THEN 1 END), 0), '
		'extract(year FROM $1)::int, greatest(coalesce(sum(CASE WHEN y = extract(year FROM $1) THEN sa END), 0), 0), '
		'coalesce(sum(CASE WHEN y = extract(year FROM $1) AND NOT r THEN 1 END), 0), '
		'greatest(sum(sa), 0), count(*) FILTER (WHERE NOT r) '
		'FROM (SELECT s, b, sa, (ts AT TIME ZONE $2)::date AS d, '
		'      extract(year FROM ts AT TIME ZONE $2) AS y, r '
		'      FROM (SELECT s, ''''::text AS b, sa, ts, r FROM pr '
		'            UNION ALL '
		'            SELECT s, c, sa, ts, r FROM pr '
		'             WHERE c IN (SELECT channel FROM finsec.limit_policy '
		'                   WHERE enabled AND channel IS NOT NULL AND period <> ''single'' '
		'                     AND (relid IS NULL OR relid = %s))) u) q '
		'WHERE s IS NOT NULL AND sa IS NOT NULL AND d IS NOT NULL '
		'  AND sa < ''Infinity''::pg_catalog.numeric AND sa > ''-Infinity''::pg_catalog.numeric GROUP BY s, b',
		payments::oid, rows_sql, defs, amt, rev, exempt, payments::oid, payments::oid, payments::oid)
	USING today, tz;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM finsec.audit_event('limits.rebuild', payments::text, 'rebuild_limit_usage', true,
							   format('limit usage rebuilt: %s rows', n));
	RETURN n;
END
$$;

/*
 * linked_entities() (as in 0.7), now without running the registered tables'
 * code as finsec's owner: each table is read as its owner in a
 * security-restricted operation (finsec._select_as_table_owner), values
 * given as text are read by the column type's input function in C, and
 * values read become text by their type's output function
 * (finsec._trusted_text), never by a cast.
 */
CREATE OR REPLACE FUNCTION finsec.linked_entities(start_type text, start_value text, depth integer DEFAULT 2,
	max_entities integer DEFAULT 1000)
RETURNS TABLE (entity_type text, value text, distance integer, via_type text, via_value text,
			   links bigint, truncated boolean)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ft text[];				-- frontier: types, values, and a card value of a bank_card column when known
	fv text[];
	fc finsec.bank_card[];
	nt text[];
	nv text[];
	nc finsec.bank_card[];
	st text[];				-- neighbours of one node: type, value, links, card value
	sv text[];
	sn bigint[];
	sc finsec.bank_card[];
	rt text[] := '{}'; rv text[] := '{}'; rd integer[] := '{}'; rvt text[] := '{}'; rvv text[] := '{}'; rn bigint[] := '{}';
	rk text[] := '{}';		-- type:value of every result row, to add up links found twice
	seen text[];
	cut boolean := false;
	d integer;
	i integer;
	j integer;
	m record;
	c record;
	x record;
	cust_type text;
	col_type regtype;
	key text;
	q text;
	inner_q text;
BEGIN
	IF depth IS NULL OR depth < 1 OR depth > 6 OR max_entities IS NULL OR max_entities < 1 THEN
		RAISE EXCEPTION 'depth must be 1 to 6 and max_entities positive' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	ft := ARRAY[start_type];
	fv := ARRAY[finsec._risk_entity_value(start_type, start_value)];
	fc := ARRAY[NULL::finsec.bank_card];
	seen := ARRAY[ft[1] || ':' || fv[1]];
	<<walk>>
	FOR d IN 1..depth LOOP
		nt := '{}'; nv := '{}'; nc := '{}';
		FOR i IN 1..coalesce(array_length(ft, 1), 0) LOOP
			-- the neighbours of this node, from sightings in both directions, then payments
			SELECT coalesce(array_agg(u.t), '{}'), coalesce(array_agg(u.v), '{}'), coalesce(array_agg(u.n), '{}'),
				   coalesce(array_agg(NULL::finsec.bank_card), '{}')
			  INTO st, sv, sn, sc
			  FROM (SELECT s.other_type AS t, s.other_value AS v, count(*) AS n FROM finsec.risk_sighting s
					 WHERE s.entity_type = ft[i] AND s.value = fv[i] GROUP BY 1, 2
					UNION ALL
					SELECT s.entity_type, s.value, count(*) FROM finsec.risk_sighting s
					 WHERE s.other_type = ft[i] AND s.other_value = fv[i] GROUP BY 1, 2) u;
			-- payments of every registered table that still exists
			FOR m IN SELECT t.* FROM finsec.risk_table t
					  WHERE EXISTS (SELECT 1 FROM pg_class pc WHERE pc.oid = t.relid) ORDER BY t.relid::oid LOOP
				SELECT a.atttypid::regtype INTO col_type FROM pg_attribute a
				 WHERE a.attrelid = m.relid AND a.attname = m.customer_column AND NOT a.attisdropped;
				cust_type := format_type(col_type, NULL);
				FOR c IN SELECT p.t, p.col, a.atttypid::regtype AS typ
						   FROM (VALUES (1, 'account', m.account_column), (2, 'account', m.counterparty_column),
										(3, 'device', m.device_column), (4, 'ip', m.ip_column), (5, 'phone', m.phone_column),
										(6, 'merchant', m.merchant_column), (7, 'card', m.card_column)) AS p(o, t, col)
						   JOIN pg_attribute a ON a.attrelid = m.relid AND a.attname = p.col AND NOT a.attisdropped
						  ORDER BY p.o LOOP
					IF ft[i] = 'customer' THEN
						-- customer -> the values of column c in the customer's payments: the column
						-- read as the table's owner, converted here without casts
						inner_q := format('SELECT %I FROM %s WHERE %I = $1 AND %I IS NOT NULL',
										  c.col, m.relid, m.customer_column, c.col);
						q := format('SELECT %s AS v, count(*) AS n, %s AS card '
									'FROM finsec._select_as_table_owner(%s::pg_catalog.oid::pg_catalog.regclass, %L, $1, $2) AS p(v %s) GROUP BY 1',
									CASE WHEN c.typ IN ('inet'::regtype, 'cidr'::regtype)
										 THEN 'CASE WHEN pg_catalog.masklen(p.v) = CASE pg_catalog.family(p.v) WHEN 4 THEN 32 ELSE 128 END '
											  'THEN pg_catalog.host(p.v) ELSE pg_catalog.text(p.v) END'
										 WHEN c.t = 'card' AND c.typ = 'finsec.bank_card'::regtype
										 THEN 'finsec.risk_card_key(p.v)'
										 WHEN c.t = 'phone' THEN 'finsec._risk_phone(finsec._trusted_text(p.v))'
										 ELSE 'finsec._trusted_text(p.v)' END,
									CASE WHEN c.typ = 'finsec.bank_card'::regtype
										 THEN '(pg_catalog.array_agg(p.v))[1]' ELSE 'NULL::finsec.bank_card' END,
									m.relid::oid, inner_q, format_type(c.typ, NULL));
						BEGIN
							FOR x IN EXECUTE q USING ARRAY[fv[i]], ARRAY[col_type]::regtype[] LOOP
								st := st || c.t; sv := sv || x.v; sn := sn || x.n; sc := sc || x.card;
							END LOOP;
						EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range
									   OR invalid_datetime_format OR datetime_field_overflow THEN
							NULL;	-- the value cannot be a customer of this table
						END;
					ELSIF ft[i] = c.t THEN
						-- value -> the customers whose payments carry it in column c, read as the
						-- table's owner
						IF c.typ = 'finsec.bank_card'::regtype THEN
							-- a card key: the payments with a card, filtered here by key (a scan;
							-- see docs/risk-admin.md)
							inner_q := format('SELECT %I, %I FROM %s WHERE %I IS NOT NULL',
											  m.customer_column, c.col, m.relid, c.col);
							q := format('SELECT finsec._trusted_text(p.cu) AS v, count(*) AS n '
										'FROM finsec._select_as_table_owner(%s::pg_catalog.oid::pg_catalog.regclass, %L) AS p(cu %s, card finsec.bank_card) '
										'WHERE finsec.risk_card_key(p.card) = $1 GROUP BY 1',
										m.relid::oid, inner_q, cust_type);
						ELSE
							inner_q := format('SELECT %I FROM %s WHERE %I = $1', m.customer_column, m.relid, c.col);
							q := format('SELECT finsec._trusted_text(p.cu) AS v, count(*) AS n '
										'FROM finsec._select_as_table_owner(%s::pg_catalog.oid::pg_catalog.regclass, %L, $2, $3) AS p(cu %s) GROUP BY 1',
										m.relid::oid, inner_q, cust_type);
						END IF;
						BEGIN
							FOR x IN EXECUTE q USING fv[i], ARRAY[fv[i]], ARRAY[c.typ]::regtype[] LOOP
								st := st || 'customer'::text; sv := sv || x.v; sn := sn || x.n; sc := sc || NULL::finsec.bank_card;
							END LOOP;
						EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range
									   OR invalid_datetime_format OR datetime_field_overflow THEN
							NULL;	-- the value cannot be in this column
						END;
					END IF;
				END LOOP;
			END LOOP;
			FOR x IN SELECT s.t, s.v, sum(s.n)::bigint AS n, (array_agg(s.card) FILTER (WHERE s.card IS NOT NULL))[1] AS card
					   FROM unnest(st, sv, sn, sc) AS s(t, v, n, card) GROUP BY 1, 2 ORDER BY 1, 2 LOOP
				key := x.t || ':' || x.v;
				IF key = ANY (seen) THEN
					-- found again from the same node at the same distance: more links
					j := array_position(rk, key);
					IF j IS NOT NULL AND rd[j] = d AND rvt[j] = ft[i] AND rvv[j] = fv[i] THEN
						rn[j] := rn[j] + x.n;
					END IF;
					CONTINUE;
				END IF;
				IF coalesce(array_length(rt, 1), 0) >= max_entities THEN
					cut := true;
					EXIT walk;
				END IF;
				seen := seen || key;
				rk := rk || key;
				rt := rt || x.t; rv := rv || x.v; rd := rd || d; rvt := rvt || ft[i]; rvv := rvv || fv[i]; rn := rn || x.n;
				nt := nt || x.t; nv := nv || x.v; nc := nc || x.card;
			END LOOP;
		END LOOP;
		ft := nt; fv := nv; fc := nc;
		EXIT WHEN coalesce(array_length(ft, 1), 0) = 0;
	END LOOP;
	RETURN QUERY SELECT u.t, u.v, u.d, u.vt, u.vv, u.n, cut
				   FROM unnest(rt, rv, rd, rvt, rvv, rn) AS u(t, v, d, vt, vv, n)
				  ORDER BY u.d, u.t, u.v;
END
$$;


-- (end of section 1)

-- ---------------------------------------------------------------------
-- 2. NULL-safe functions; robustness of arguments.
-- ---------------------------------------------------------------------

-- Every C function is NULL-safe in C (src/card/card.c: mask() and reveal()
-- of a NULL number are NULL); test sql/006_null_arguments.sql calls every
-- function with NULL in each argument position.  An internal helper called
-- directly with a change kind it does not apply is a refusal (22023), not
-- an internal error (XX000).
CREATE OR REPLACE FUNCTION finsec._limit_policy_write(req bigint, change_kind text, policy_name text, change jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	def jsonb := change->'policy';
	was jsonb := nullif(change->'replaces', 'null'::jsonb);
	cur jsonb;
	rel oid := (def->>'relid')::bigint::oid;
	id bigint;
BEGIN
	PERFORM 1 FROM finsec.limit_policy p WHERE p.name = policy_name FOR UPDATE;
	cur := finsec._limit_policy_current(policy_name);
	IF (cur - 'relation') IS DISTINCT FROM (was - 'relation') THEN
		RAISE EXCEPTION 'limit policy "%" changed after request % was filed', policy_name, req
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'The request was checked against the policy as it was then; approving it would overwrite a change the requester did not see.',
				  HINT = 'Reject this request and file a new one.';
	END IF;
	IF change_kind = 'limits.policy_set' THEN
		IF rel IS NOT NULL AND NOT EXISTS (
			SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			 WHERE c.oid = rel AND format('%I.%I', n.nspname, c.relname) = def->>'relation') THEN
			RAISE EXCEPTION 'table % of limit policy "%" no longer exists', def->>'relation', policy_name
				USING ERRCODE = 'undefined_table',
					  HINT = 'Reject this request and file a new one.';
		END IF;
		IF cur IS NULL THEN
			INSERT INTO finsec.limit_policy (name, relid, account_class, auth_tier, channel, kind, period,
											 max_amount, max_count, enabled, source, note, request_id)
			VALUES (policy_name, rel::regclass, def->>'account_class', (def->>'auth_tier')::integer,
					def->>'channel', def->>'kind', def->>'period', (def->>'max_amount')::numeric,
					(def->>'max_count')::bigint, (def->>'enabled')::boolean, def->>'source', def->>'note', req)
			RETURNING policy_id INTO id;
		ELSE
			UPDATE finsec.limit_policy p
			   SET relid = rel::regclass, account_class = def->>'account_class',
				   auth_tier = (def->>'auth_tier')::integer, channel = def->>'channel', kind = def->>'kind',
				   period = def->>'period', max_amount = (def->>'max_amount')::numeric,
				   max_count = (def->>'max_count')::bigint, enabled = (def->>'enabled')::boolean,
				   source = def->>'source', note = def->>'note', request_id = req
			 WHERE p.name = policy_name
			RETURNING p.policy_id INTO id;
		END IF;
		RETURN jsonb_build_object('policy', policy_name, 'policy_id', id,
								  'action', CASE WHEN cur IS NULL THEN 'added' ELSE 'replaced' END);
	ELSIF change_kind = 'limits.policy_drop' THEN
		DELETE FROM finsec.limit_policy p WHERE p.name = policy_name RETURNING p.policy_id INTO id;
		RETURN jsonb_build_object('policy', policy_name, 'policy_id', id, 'action', 'dropped');
	ELSIF change_kind IN ('limits.policy_enable', 'limits.policy_disable') THEN
		UPDATE finsec.limit_policy p
		   SET enabled = (change_kind = 'limits.policy_enable'), request_id = req
		 WHERE p.name = policy_name
		RETURNING p.policy_id INTO id;
		RETURN jsonb_build_object('policy', policy_name, 'policy_id', id,
								  'action', CASE change_kind WHEN 'limits.policy_enable' THEN 'enabled' ELSE 'disabled' END);
	END IF;
	RAISE EXCEPTION 'finsec cannot apply a change of kind %', change_kind
		USING ERRCODE = 'invalid_parameter_value',
			  HINT = 'Changes are applied by finsec.approve() from a change request.';
END
$$;

-- (end of section 2)

-- ---------------------------------------------------------------------
-- 3. Audit records that survive the caller's rollback; secrets and
--    personal data kept out of logs; finsec's event namespaces reserved.
-- ---------------------------------------------------------------------

-- Records of actions whose effect escapes the transaction (reveals, code
-- verifications, key uses) are kept in shared memory while the transaction
-- is open; those of rolled-back transactions are written by the sealer or by
-- this function (src/audit/pending.c, docs/audit.md#rollback).
CREATE FUNCTION finsec.flush_audit_events()
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_flush_audit_events';
COMMENT ON FUNCTION finsec.flush_audit_events() IS
	'write this database''s audit records of rolled-back transactions from the shared-memory buffer to finsec.audit (the sealer does it every round); returns the rows written';
REVOKE ALL ON FUNCTION finsec.flush_audit_events() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.flush_audit_events() TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec.audit_event_buffer(
	OUT capacity integer,
	OUT waiting integer,
	OUT waiting_here integer,
	OUT flushing integer,
	OUT dropped bigint,
	OUT dropped_unreported bigint)
RETURNS record
LANGUAGE C VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_audit_event_buffer';
COMMENT ON FUNCTION finsec.audit_event_buffer() IS
	'the audit event buffer: size, records of rolled-back transactions waiting (all databases, this one), being flushed, dropped because it was full since the server started, dropped here and not yet reported';
REVOKE ALL ON FUNCTION finsec.audit_event_buffer() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.audit_event_buffer() TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec.status_audit_events(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT s.*
	  FROM finsec.audit_event_buffer() b,
		   finsec._status_event_buffer('audit_events', b.capacity, b.waiting, b.waiting_here, b.dropped,
			   'audit record(s) of rolled-back transactions', 'written', 'writes them to finsec.audit',
			   'finsec.audit_event_buffer', 'finsec.flush_audit_events()',
			   'reveals and verifications are not available without finsec in shared_preload_libraries') s
$$;
COMMENT ON FUNCTION finsec.status_audit_events() IS
	'the audit event buffer: records of rolled-back transactions waiting, drops, who flushes';
REVOKE ALL ON FUNCTION finsec.status_audit_events() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_audit_events() TO finsec_admin, finsec_auditor, finsec_operator;

-- A refused approval rolls back with its error: its record survives
-- (finsec._audit_refusal, for finsec's own functions; no grant).
CREATE FUNCTION finsec._audit_refusal(event_type text, object text, action text,
									  description text, detail jsonb)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_audit_refusal_sql';
COMMENT ON FUNCTION finsec._audit_refusal(text, text, text, text, jsonb) IS
	'internal: record a refusal by a finsec function so that the record survives the rollback the refusal causes';
REVOKE ALL ON FUNCTION finsec._audit_refusal(text, text, text, text, jsonb) FROM PUBLIC;

-- approve() and reject() as in 0.4, each refusal recorded first; the
-- record is added on the line of its test, so that the line numbers in
-- error contexts stay those of 0.4.  Refusals of the administrator check and
-- of the apply step also leave their record (blocks on one line each, so
-- that the line numbers in error contexts do not move).
CREATE OR REPLACE FUNCTION finsec.approve(request_id bigint, note text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r finsec.change_request;
	k finsec.change_kind;
	res jsonb; what text; err_state text;
BEGIN
	BEGIN PERFORM finsec._require_admin('approve'); EXCEPTION WHEN insufficient_privilege THEN PERFORM finsec._audit_refusal('change.refused', 'change_request:' || request_id, 'approve', 'approval by a role that is not a finsec administrator refused', jsonb_build_object('request_id', request_id, 'sqlstate', '42501')); RAISE; END;
	PERFORM finsec.expire_requests();
	SELECT * INTO r FROM finsec.change_request cr WHERE cr.request_id = approve.request_id FOR UPDATE; what := coalesce(r.kind || ':' || r.target, 'change_request:' || request_id);
	IF r.request_id IS NULL THEN PERFORM finsec._audit_refusal('change.refused', what, 'approve', 'no such change request', jsonb_build_object('request_id', request_id, 'sqlstate', '42704'));
		RAISE EXCEPTION 'change request % does not exist', request_id
			USING ERRCODE = 'undefined_object';
	END IF;
	IF r.state = 'expired' OR (r.state = 'pending' AND r.expires_at <= now()) THEN PERFORM finsec._audit_refusal('change.refused', what, 'approve', 'the change request has expired', jsonb_build_object('request_id', request_id, 'requested_by', r.requested_by, 'sqlstate', 'S9R02'));
		RAISE EXCEPTION 'change request % has expired', request_id
			USING ERRCODE = 'S9R02',
				  DETAIL = 'It was not approved within finsec.approval_timeout of being requested.',
				  HINT = 'File the request again.';
	END IF;
	IF r.state <> 'pending' THEN PERFORM finsec._audit_refusal('change.refused', what, 'approve', 'the change request is ' || r.state, jsonb_build_object('request_id', request_id, 'requested_by', r.requested_by, 'sqlstate', 'S9R03'));
		RAISE EXCEPTION 'change request % is %, not pending', request_id, r.state
			USING ERRCODE = 'S9R03';
	END IF;
	IF r.requested_by = session_user THEN PERFORM finsec._audit_refusal('change.refused', what, 'approve', 'approval by the requester refused', jsonb_build_object('request_id', request_id, 'requested_by', r.requested_by, 'sqlstate', 'S9R01'));
		RAISE EXCEPTION 'change request % cannot be approved by the role that requested it', request_id
			USING ERRCODE = 'S9R01',
				  HINT = 'Two-person control: another member of finsec_admin must approve.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.requested_by)
	   OR pg_has_role(session_user, r.requested_by, 'MEMBER')
	   OR pg_has_role(r.requested_by, session_user, 'MEMBER') THEN PERFORM finsec._audit_refusal('change.refused', what, 'approve', 'approval by a role that can act as the requester refused', jsonb_build_object('request_id', request_id, 'requested_by', r.requested_by, 'sqlstate', 'S9R01'));
		RAISE EXCEPTION 'change request % cannot be approved by role %', request_id, session_user
			USING ERRCODE = 'S9R01',
				  DETAIL = 'The approver and the requester can act as each other (role membership or superuser), or the requester no longer exists.',
				  HINT = 'Two-person control needs two administrators who are separate, non-superuser login roles.';
	END IF;
	SELECT * INTO k FROM finsec.change_kind ck WHERE ck.kind = r.kind;
	UPDATE finsec.change_request cr
	   SET state = 'applied', decided_by = session_user, decided_at = now(), note = approve.note
	 WHERE cr.request_id = r.request_id;
	BEGIN EXECUTE format('SELECT %s($1, $2, $3, $4)', k.apply::regproc)
		INTO res USING r.request_id, r.kind, r.target, r.payload; EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE; PERFORM finsec._audit_refusal('change.refused', what, 'approve', 'the approved change could not be applied', jsonb_build_object('request_id', request_id, 'requested_by', r.requested_by, 'sqlstate', err_state)); RAISE; END;
	UPDATE finsec.change_request cr SET result = res WHERE cr.request_id = r.request_id;
	PERFORM finsec.audit_event('change.approve', r.kind || ':' || r.target, 'approve', true, note,
							   jsonb_build_object('request_id', r.request_id, 'requested_by', r.requested_by,
												  'result', res),
							   session_user);
	RETURN res;
END
$$;

CREATE OR REPLACE FUNCTION finsec.reject(request_id bigint, note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r finsec.change_request;
	verdict text;
BEGIN
	BEGIN PERFORM finsec._require_admin('reject'); EXCEPTION WHEN insufficient_privilege THEN PERFORM finsec._audit_refusal('change.refused', 'change_request:' || request_id, 'reject', 'rejection by a role that is not a finsec administrator refused', jsonb_build_object('request_id', request_id, 'sqlstate', '42501')); RAISE; END;
	PERFORM finsec.expire_requests();
	SELECT * INTO r FROM finsec.change_request cr WHERE cr.request_id = reject.request_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'change request % does not exist', request_id
			USING ERRCODE = 'undefined_object';
	END IF;
	IF r.state <> 'pending' THEN PERFORM finsec._audit_refusal('change.refused', r.kind || ':' || r.target, 'reject', 'the change request is ' || r.state, jsonb_build_object('request_id', request_id, 'requested_by', r.requested_by, 'sqlstate', 'S9R03'));
		RAISE EXCEPTION 'change request % is %, not pending', request_id, r.state
			USING ERRCODE = 'S9R03';
	END IF;
	-- The requester withdrawing the request is a cancellation.
	verdict := CASE WHEN r.requested_by = session_user THEN 'cancelled' ELSE 'rejected' END;
	UPDATE finsec.change_request cr
	   SET state = verdict, decided_by = session_user, decided_at = now(), note = reject.note
	 WHERE cr.request_id = r.request_id;
	PERFORM finsec._discard_request(r.request_id, r.kind, r.target, r.payload);
	PERFORM finsec.audit_event('change.' || CASE verdict WHEN 'cancelled' THEN 'cancel' ELSE 'reject' END,
							   r.kind || ':' || r.target, verdict, true, note,
							   jsonb_build_object('request_id', r.request_id, 'requested_by', r.requested_by),
							   session_user);
END
$$;

-- (end of section 3)

-- ---------------------------------------------------------------------
-- 4. Card numbers: no equality oracle for roles without finsec_unmask.
-- ---------------------------------------------------------------------

/*
 * A fingerprint is deterministic, so constructing a candidate and comparing
 * it tests a guess of a card's hidden digits (docs/cards.md#guessing).
 * finsec.card_probe_budget (superuser-set) limits, per session user, the
 * distinct numbers of one visible pattern constructed from clear digits a
 * minute; refusals (S9C01) reach the audit ledger through a buffer in
 * shared memory that survives the refusing transaction's rollback.
 * finsec.card_lenient became superuser-only, and masks show at most the
 * first 6 and last 4 (values written before 0.8 keep 8 leading digits in
 * their sealed form until finsec.card_rekey()).
 */
CREATE FUNCTION finsec.flush_card_probes() RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_flush_card_probes';
COMMENT ON FUNCTION finsec.flush_card_probes() IS
	'write this database''s refused and alerted card probes (card.probe_refused, card.probe_alert, account.*) to the audit ledger now; the audit sealer does it every round';
REVOKE ALL ON FUNCTION finsec.flush_card_probes() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.flush_card_probes() TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec.card_probe_stats(
	OUT budget integer,
	OUT refused bigint,
	OUT alerted bigint,
	OUT evicted_busy bigint,
	OUT since timestamptz)
RETURNS record
LANGUAGE C VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_card_probe_stats';
COMMENT ON FUNCTION finsec.card_probe_stats() IS
	'the card probe budget: the setting in this session, constructions refused, let through with an alert, and busy counters pushed out of the table since the server started';
REVOKE ALL ON FUNCTION finsec.card_probe_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.card_probe_stats() TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec.card_probe_buffer(
	OUT capacity integer,
	OUT waiting integer,
	OUT waiting_here integer,
	OUT flushing integer,
	OUT dropped bigint,
	OUT dropped_unreported bigint)
RETURNS record
LANGUAGE C VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_card_probe_buffer';
COMMENT ON FUNCTION finsec.card_probe_buffer() IS
	'the card probe refusal buffer: size, refusals waiting (all databases, this one), being flushed, dropped because it was full, dropped here and not yet reported';
REVOKE ALL ON FUNCTION finsec.card_probe_buffer() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.card_probe_buffer() TO finsec_admin, finsec_auditor, finsec_operator;

COMMENT ON FUNCTION finsec.mask(finsec.bank_card, integer, integer, boolean) IS
	'masked card number (default finsec.card_mask_first/last: 622202******1234); never more than the first 6 and last 4';

-- (end of section 4)

-- ---------------------------------------------------------------------
-- 5. The ledger and protected tables through inheritance, partitions,
--    rules, function replacement and renames.
-- ---------------------------------------------------------------------

-- A chain whose protected table is gone (dropped before 0.8 refused it,
-- or by a superuser beyond SQL) is reported by audit_verify() and skipped
-- by the sealer; the auditor closes it out, itself an audited event.
CREATE FUNCTION finsec.audit_close_chain(chain_id uuid, reason text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'finsec_audit_close_chain'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.audit_close_chain(uuid, text) IS
	'close out the chain of a protected table that no longer exists (recorded as ledger.chain_close); returns the event''s finsec_seq';
REVOKE ALL ON FUNCTION finsec.audit_close_chain(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.audit_close_chain(uuid, text) TO finsec_auditor;

-- A chain the digest names but the ledger no longer has: say whether it
-- was closed out (and by whom, in which ledger event) or simply deleted.
CREATE OR REPLACE FUNCTION finsec.audit_verify(
	rel regclass DEFAULT NULL,
	since jsonb DEFAULT NULL,
	OUT relation regclass,
	OUT ok boolean,
	OUT rows_checked bigint,
	OUT blocks_checked bigint,
	OUT rows_pending bigint,
	OUT first_failure text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT v.*
	  FROM finsec.ledger_chain c
	  LEFT JOIN LATERAL (
			SELECT (e->>'blocks')::bigint AS blocks, decode(e->>'head_hash', 'hex') AS head
			  FROM jsonb_array_elements(since->'chains') e
			 WHERE (e->>'chain_id')::uuid = c.chain_id) d ON true
	 CROSS JOIN LATERAL finsec.ledger_verify(c.relid, d.blocks, d.head) v
	 WHERE rel IS NULL OR c.relid = rel
	UNION ALL
	-- a chain the digest knows but the ledger lost
	SELECT to_regclass(e->>'relation'), false, 0, 0, 0,
		   CASE WHEN a.finsec_seq IS NULL
				THEN format('chain %s of %s named by the digest is missing (deleted)',
							e->>'chain_id', e->>'relation')
				ELSE format('chain %s of %s named by the digest was closed out by %s at %s '
							'(ledger event %s: its table no longer existed; reason: %s); '
							'take a new digest',
							e->>'chain_id', e->>'relation', a.db_user, a.event_time,
							a.finsec_seq, a.detail->>'reason')
		   END
	  FROM jsonb_array_elements(coalesce(since->'chains', '[]')) e
	  LEFT JOIN LATERAL (
			SELECT x.finsec_seq, x.db_user, x.event_time, x.detail
			  FROM finsec.audit x
			 WHERE x.event_type = 'ledger.chain_close'
			   AND x.detail->>'chain_id' = e->>'chain_id'
			 ORDER BY x.finsec_seq LIMIT 1) a ON true
	 WHERE NOT EXISTS (SELECT 1 FROM finsec.ledger_chain c
						WHERE c.chain_id = (e->>'chain_id')::uuid)
	   AND (rel IS NULL OR to_regclass(e->>'relation') = rel)
	ORDER BY 1
$$;

-- (end of section 5)

-- ---------------------------------------------------------------------
-- 6-7. Limits and guards: no single-person switch; application fields
--    that cannot weaken limits; the table owner's statements.
-- ---------------------------------------------------------------------

/*
 * ---- 6. No single-person switch (docs/limits.md "Disabling limits",
 * docs/guards.md, docs/risk.md) -----------------------------------------
 *
 * Switching a control off is as critical as changing a policy.  The
 * public disable functions keep their names; called by a finsec_admin
 * they file a change request (returned) that takes effect when a second,
 * different administrator approves it (finsec.approve).  Called in a
 * superuser's session they act at once, as a superuser's direct writes
 * to finsec.limit_policy do: outside two-person control by definition,
 * and audited.  Disabling limits keeps usage unless the approved request
 * says reset_usage.
 */
DROP FUNCTION finsec.disable_limits(regclass);
CREATE FUNCTION finsec._disable_limits(payments regclass, reset_usage boolean)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_disable_limits';
REVOKE ALL ON FUNCTION finsec._disable_limits(regclass, boolean) FROM PUBLIC;
-- The C function acts only for a superuser or within an approval (finsec.approve runs as finsec's owner).
GRANT EXECUTE ON FUNCTION finsec._disable_limits(regclass, boolean) TO finsec_admin;

DROP FUNCTION finsec.disable_order_guard(regclass);
CREATE FUNCTION finsec._disable_order_guard(orders regclass)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_disable_order_guard';
REVOKE ALL ON FUNCTION finsec._disable_order_guard(regclass) FROM PUBLIC;
-- The C function acts only for a superuser or within an approval (finsec.approve runs as finsec's owner).
GRANT EXECUTE ON FUNCTION finsec._disable_order_guard(regclass) TO finsec_admin;

DROP FUNCTION finsec.disable_refund_guard(regclass);
CREATE FUNCTION finsec._disable_refund_guard(refunds regclass)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_disable_refund_guard';
REVOKE ALL ON FUNCTION finsec._disable_refund_guard(regclass) FROM PUBLIC;
-- The C function acts only for a superuser or within an approval (finsec.approve runs as finsec's owner).
GRANT EXECUTE ON FUNCTION finsec._disable_refund_guard(regclass) TO finsec_admin;

DROP FUNCTION finsec.disable_risk(regclass);
CREATE FUNCTION finsec._disable_risk(payments regclass)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_disable_risk';
REVOKE ALL ON FUNCTION finsec._disable_risk(regclass) FROM PUBLIC;
-- The C function acts only for a superuser or within an approval (finsec.approve runs as finsec's owner).
GRANT EXECUTE ON FUNCTION finsec._disable_risk(regclass) TO finsec_admin;

/* The registration a switch-off request pins: the table's row in its control's table. */
CREATE FUNCTION finsec._switch_registration(kind text, rel oid)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE kind
		WHEN 'limits.disable' THEN (SELECT to_jsonb(t) FROM finsec.limit_table t WHERE t.relid = rel)
		WHEN 'limits.exempt' THEN (SELECT to_jsonb(t) FROM finsec.limit_table t WHERE t.relid = rel)
		WHEN 'guard.order_disable' THEN (SELECT to_jsonb(t) FROM finsec.order_guard t WHERE t.relid = rel)
		WHEN 'guard.refund_disable' THEN (SELECT to_jsonb(t) FROM finsec.refund_guard t WHERE t.relid = rel)
		WHEN 'risk.disable' THEN (SELECT to_jsonb(t) FROM finsec.risk_table t WHERE t.relid = rel)
	END
$$;
REVOKE ALL ON FUNCTION finsec._switch_registration(text, oid) FROM PUBLIC;

/*
 * prepare: the table must be registered now; the request pins its
 * registration, so that approval acts on exactly what was requested.
 */
CREATE FUNCTION finsec._switch_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel oid;
	reg jsonb;
	bad text;
	kinds text[];
	allowed text[] := CASE kind WHEN 'limits.disable' THEN ARRAY['relid', 'reset_usage']
								WHEN 'limits.exempt' THEN ARRAY['relid', 'exempt_kinds']
								ELSE ARRAY['relid'] END;
BEGIN
	IF jsonb_typeof(payload) IS DISTINCT FROM 'object' OR jsonb_typeof(payload->'relid') IS DISTINCT FROM 'number' THEN
		RAISE EXCEPTION 'a % request needs the payload {"relid": <table OID>}', kind
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT string_agg(k, ', ' ORDER BY k) INTO bad FROM jsonb_object_keys(payload) k WHERE k <> ALL (allowed);
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'a % request has unknown field(s): %', kind, bad
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The fields are ' || array_to_string(allowed, ', ') || '.';
	END IF;
	IF (payload->>'relid')::numeric NOT BETWEEN 1 AND 4294967295 THEN
		RAISE EXCEPTION 'relid of a % request is not a table OID', kind USING ERRCODE = 'invalid_parameter_value';
	END IF;
	rel := (payload->>'relid')::numeric::bigint::oid;
	reg := finsec._switch_registration(kind, rel);
	IF reg IS NULL THEN
		RAISE EXCEPTION 'table % has no %', coalesce(to_regclass(rel::text)::text, rel::text),
			CASE kind WHEN 'guard.order_disable' THEN 'order guard' WHEN 'guard.refund_disable' THEN 'refund guard'
					  WHEN 'risk.disable' THEN 'risk registration' ELSE 'limits enabled' END
			USING ERRCODE = 'undefined_object';
	END IF;
	IF kind = 'limits.disable' AND jsonb_typeof(coalesce(payload->'reset_usage', 'false')) <> 'boolean' THEN
		RAISE EXCEPTION 'reset_usage of a limits.disable request must be a JSON boolean'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF kind = 'limits.exempt' THEN
		IF jsonb_typeof(payload->'exempt_kinds') IS DISTINCT FROM 'array'
		   OR EXISTS (SELECT 1 FROM jsonb_array_elements(payload->'exempt_kinds') e
					   WHERE jsonb_typeof(e) <> 'string' OR e #>> '{}' = '') THEN
			RAISE EXCEPTION 'a limits.exempt request needs "exempt_kinds": an array of kind names'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT coalesce(array_agg(DISTINCT e ORDER BY e), '{}') INTO kinds
		  FROM jsonb_array_elements_text(payload->'exempt_kinds') e;
		IF (reg->>'kind_column') IS NULL AND kinds <> '{}' THEN
			RAISE EXCEPTION 'exempt kinds need a kind column' USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF kinds && ARRAY(SELECT jsonb_array_elements_text(reg->'reversal_kinds')) THEN
			RAISE EXCEPTION 'a kind cannot be both a reversal and exempt' USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF kinds = ARRAY(SELECT jsonb_array_elements_text(reg->'exempt_kinds') ORDER BY 1) THEN
			RAISE EXCEPTION 'table % already has these exempt kinds', rel::regclass
				USING ERRCODE = 'object_not_in_prerequisite_state';
		END IF;
		RETURN jsonb_build_object('relid', rel::bigint, 'relation', rel::regclass::text,
								  'exempt_kinds', to_jsonb(kinds), 'replaces', reg->'exempt_kinds',
								  'registration', reg);
	END IF;
	RETURN jsonb_build_object('relid', rel::bigint, 'relation', rel::regclass::text,
							  'reset_usage', CASE WHEN kind = 'limits.disable'
												  THEN coalesce(payload->'reset_usage', 'false') END,
							  'registration', reg);
END
$$;
REVOKE ALL ON FUNCTION finsec._switch_prepare(text, text, jsonb) FROM PUBLIC;

-- apply: on approval, in the approver's transaction; the registration must be as pinned.
CREATE FUNCTION finsec._switch_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel oid := (payload->>'relid')::bigint::oid;
	r regclass;
BEGIN
	IF finsec._switch_registration(kind, rel) IS DISTINCT FROM payload->'registration' THEN
		RAISE EXCEPTION 'the registration of table % changed after request % was filed', target, request_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Reject this request and file a new one.';
	END IF;
	r := rel::regclass;
	CASE kind
		WHEN 'limits.disable' THEN
			PERFORM finsec._disable_limits(r, (payload->>'reset_usage')::boolean);
		WHEN 'limits.exempt' THEN
			UPDATE finsec.limit_table t
			   SET exempt_kinds = ARRAY(SELECT jsonb_array_elements_text(payload->'exempt_kinds'))
			 WHERE t.relid = r;
			PERFORM finsec.audit_event('limits.exempt', r::text, 'exempt', true,
				format('exempt kinds of %s set to %s', r, ARRAY(SELECT jsonb_array_elements_text(payload->'exempt_kinds'))),
				jsonb_build_object('request_id', request_id, 'replaces', payload->'replaces'));
		WHEN 'guard.order_disable' THEN
			PERFORM finsec._disable_order_guard(r);
		WHEN 'guard.refund_disable' THEN
			PERFORM finsec._disable_refund_guard(r);
		WHEN 'risk.disable' THEN
			PERFORM finsec._disable_risk(r);
		ELSE
			RAISE EXCEPTION 'change kind % is not a switch of a registered table', coalesce(kind, 'NULL')
				USING ERRCODE = 'invalid_parameter_value';
	END CASE;
	RETURN jsonb_build_object('relation', r::text, 'action', kind);
END
$$;
REVOKE ALL ON FUNCTION finsec._switch_apply(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('limits.disable', 'finsec._switch_prepare(text, text, jsonb)', 'finsec._switch_apply(bigint, text, text, jsonb)', NULL,
	 'stop enforcing limits on a payments table (target: table; payload: {"relid", "reset_usage"}; usage is kept unless reset_usage)'),
	('limits.exempt', 'finsec._switch_prepare(text, text, jsonb)', 'finsec._switch_apply(bigint, text, text, jsonb)', NULL,
	 'set the payment kinds of a limited table that are neither checked nor counted (target: table; payload: {"relid", "exempt_kinds"})'),
	('guard.order_disable', 'finsec._switch_prepare(text, text, jsonb)', 'finsec._switch_apply(bigint, text, text, jsonb)', NULL,
	 'remove the order guard of a table (target: table; payload: {"relid"})'),
	('guard.refund_disable', 'finsec._switch_prepare(text, text, jsonb)', 'finsec._switch_apply(bigint, text, text, jsonb)', NULL,
	 'remove the refund guard of a table (target: table; payload: {"relid"})'),
	('risk.disable', 'finsec._switch_prepare(text, text, jsonb)', 'finsec._switch_apply(bigint, text, text, jsonb)', NULL,
	 'forget a payments table''s risk registration (target: table; payload: {"relid"})');

CREATE FUNCTION finsec.disable_limits(payments regclass, reason text DEFAULT NULL, reset_usage boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF payments IS NULL OR reset_usage IS NULL THEN
		RAISE EXCEPTION 'payments table and reset_usage must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false) THEN
		PERFORM finsec._disable_limits(payments, reset_usage);
		RETURN NULL;
	END IF;
	RETURN finsec.request_change('limits.disable', payments::text,
		jsonb_build_object('relid', payments::oid::bigint, 'reset_usage', reset_usage), reason);
END
$$;
COMMENT ON FUNCTION finsec.disable_limits(regclass, text, boolean) IS
'request that limits stop on a payments table (returns the request id; a second finsec_admin approves); usage is kept unless reset_usage; a superuser''s session acts at once (audited)';
REVOKE ALL ON FUNCTION finsec.disable_limits(regclass, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.disable_limits(regclass, text, boolean) TO finsec_admin;

CREATE FUNCTION finsec.disable_order_guard(orders regclass, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF orders IS NULL THEN
		RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false) THEN
		PERFORM finsec._disable_order_guard(orders);
		RETURN NULL;
	END IF;
	RETURN finsec.request_change('guard.order_disable', orders::text,
		jsonb_build_object('relid', orders::oid::bigint), reason);
END
$$;
COMMENT ON FUNCTION finsec.disable_order_guard(regclass, text) IS
'request removal of the order guard of a table (returns the request id; a second finsec_admin approves); a superuser''s session acts at once (audited)';
REVOKE ALL ON FUNCTION finsec.disable_order_guard(regclass, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.disable_order_guard(regclass, text) TO finsec_admin;

CREATE FUNCTION finsec.disable_refund_guard(refunds regclass, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF refunds IS NULL THEN
		RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false) THEN
		PERFORM finsec._disable_refund_guard(refunds);
		RETURN NULL;
	END IF;
	RETURN finsec.request_change('guard.refund_disable', refunds::text,
		jsonb_build_object('relid', refunds::oid::bigint), reason);
END
$$;
COMMENT ON FUNCTION finsec.disable_refund_guard(regclass, text) IS
'request removal of the refund guard of a table (returns the request id; a second finsec_admin approves); a superuser''s session acts at once (audited)';
REVOKE ALL ON FUNCTION finsec.disable_refund_guard(regclass, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.disable_refund_guard(regclass, text) TO finsec_admin;

CREATE FUNCTION finsec.disable_risk(payments regclass, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF payments IS NULL THEN
		RAISE EXCEPTION 'payments table must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false) THEN
		PERFORM finsec._disable_risk(payments);
		RETURN NULL;
	END IF;
	RETURN finsec.request_change('risk.disable', payments::text,
		jsonb_build_object('relid', payments::oid::bigint), reason);
END
$$;
COMMENT ON FUNCTION finsec.disable_risk(regclass, text) IS
'request that a payments table''s risk registration be forgotten (returns the request id; a second finsec_admin approves); a superuser''s session acts at once (audited)';
REVOKE ALL ON FUNCTION finsec.disable_risk(regclass, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.disable_risk(regclass, text) TO finsec_admin;

/*
 * ---- 7. Application fields that cannot weaken limits ------------------
 *
 * Reversals name their original payment: enable_limits(payment_id =>
 * the column identifying a payment, reversal_of => the column of a
 * reversal naming it).  finsec.limit_reversal keeps, per original
 * payment, how much has been reversed, updated under row lock by the
 * trigger, so that the reversals of one payment never total more than
 * it, also concurrently.  It names tables by regclass and is kept by
 * pg_dump.  Exempt kinds are a two-person decision (kind limits.exempt);
 * the trigger reads them, and the rest of its configuration, from
 * finsec.limit_table, and refuses to run with arguments that differ
 * from it.  Amounts and limits are finite numbers.
 */
ALTER TABLE finsec.limit_table ADD COLUMN payment_id_column text, ADD COLUMN reversal_column text;
COMMENT ON COLUMN finsec.limit_table.exempt_kinds IS
	'kinds neither checked nor counted: set by a superuser or by an approved limits.exempt request';

CREATE TABLE finsec.limit_reversal (
	relid regclass NOT NULL,
	payment text COLLATE "C" NOT NULL,
	subject text COLLATE "C" NOT NULL,
	amount numeric NOT NULL,
	reversed numeric NOT NULL CHECK (reversed >= 0 AND reversed <= amount),
	PRIMARY KEY (relid, payment)
);
COMMENT ON TABLE finsec.limit_reversal IS
	'per original payment of a limited table: its amount and how much of it reversals have restored so far';
REVOKE ALL ON finsec.limit_reversal FROM PUBLIC;
GRANT SELECT ON finsec.limit_reversal TO finsec_admin, finsec_auditor;
SELECT pg_catalog.pg_extension_config_dump('finsec.limit_reversal', '');

ALTER TABLE finsec.limit_policy ADD CONSTRAINT limit_policy_finite
	CHECK (max_amount < 'Infinity'::numeric);

-- A change of a limited table's registration reaches every backend's trigger cache at commit.
CREATE TRIGGER finsec_limit_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON finsec.limit_table FOR EACH STATEMENT EXECUTE FUNCTION finsec.limit_config_changed();

/*
 * ATTACH PARTITION and CREATE TABLE ... PARTITION OF clone the limit
 * trigger as the table's owner, which needs EXECUTE on its function:
 * finsec.enable_limits() grants it to the table's owner.  A trigger
 * function cannot be called outside a trigger, and the trigger refuses to
 * run unless its table (the root of its partition tree) is registered in
 * finsec.limit_table with the same configuration, so an owner gains
 * nothing by creating one.  Owners of tables limited under 0.7 get it
 * here.
 */
DO $$
DECLARE
	o name;
BEGIN
	FOR o IN SELECT DISTINCT r.rolname FROM finsec.limit_table l JOIN pg_class c ON c.oid = l.relid
			  JOIN pg_roles r ON r.oid = c.relowner WHERE NOT r.rolsuper LOOP
		EXECUTE format('GRANT EXECUTE ON FUNCTION finsec.limit_trigger() TO %I', o);
	END LOOP;
END
$$;

DROP FUNCTION finsec.enable_limits(regclass, text, text, text, text, text, text, text, text, text, text, text[], text[]);
CREATE FUNCTION finsec.enable_limits(
	payments regclass,
	customer text DEFAULT 'customer_id',
	amount text DEFAULT 'amount',
	account text DEFAULT NULL,
	posted_at text DEFAULT NULL,
	channel text DEFAULT NULL,
	auth_tier text DEFAULT NULL,
	kind text DEFAULT NULL,
	counterparty text DEFAULT NULL,
	account_class text DEFAULT NULL,
	settlement_hold text DEFAULT NULL,
	reversal_kinds text[] DEFAULT '{refund,reversal}',
	exempt_kinds text[] DEFAULT '{}',
	payment_id text DEFAULT NULL,
	reversal_of text DEFAULT NULL)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_enable_limits';
COMMENT ON FUNCTION finsec.enable_limits(regclass, text, text, text, text, text, text, text, text, text, text, text[], text[], text, text) IS
'Enforce finsec.limit_policy, account state and channel switches on a payments table (audited); exempt kinds asked by a finsec_admin become a change request, whose id is returned';
REVOKE ALL ON FUNCTION finsec.enable_limits(regclass, text, text, text, text, text, text, text, text, text, text, text[], text[], text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.enable_limits(regclass, text, text, text, text, text, text, text, text, text, text, text[], text[], text, text) TO finsec_admin;

CREATE FUNCTION finsec.request_limit_exemption(payments regclass, exempt_kinds text[], reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT finsec.request_change('limits.exempt', $1::text,
		jsonb_build_object('relid', $1::oid::bigint, 'exempt_kinds', to_jsonb($2)), $3)
$$;
COMMENT ON FUNCTION finsec.request_limit_exemption(regclass, text[], text) IS
	'request the set of payment kinds of a limited table that are neither checked nor counted; another finsec_admin approves';
REVOKE ALL ON FUNCTION finsec.request_limit_exemption(regclass, text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.request_limit_exemption(regclass, text[], text) TO finsec_admin;

/*
 * ---- 5. The table owner's statements (status) -------------------------
 *
 * The ProcessUtility hook refuses TRUNCATE, DETACH PARTITION, disabling,
 * dropping, renaming or replacing finsec_limits, and inheritance children
 * of a limited table for roles other than superusers
 * (src/limits/store.c).  status flags what a superuser (or a server
 * without the preload) can still do: a trigger missing, disabled or not
 * finsec's on the table or any partition, an inheritance child, usage
 * that is not a finite number.
 */
CREATE OR REPLACE FUNCTION finsec.status_limits(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	WITH rels AS (
		-- every limited table and each of its partitions (relid NULL: the table is gone)
		SELECT l.relid::oid AS root, x.relid
		  FROM finsec.limit_table l
		  LEFT JOIN LATERAL (SELECT c.oid AS relid FROM pg_class c WHERE c.oid = l.relid
							 UNION SELECT pt.relid::oid FROM pg_partition_tree(l.relid) pt) x ON true
	), t AS (
		SELECT count(DISTINCT root) AS tables,
			   count(DISTINCT root) FILTER (WHERE NOT EXISTS (
				   SELECT 1 FROM pg_trigger g
					WHERE g.tgrelid = rels.relid AND g.tgname = 'finsec_limits'
					  AND g.tgenabled IN ('O', 'A') AND g.tgfoid = 'finsec.limit_trigger()'::regprocedure)) AS untriggered
		  FROM rels
	), ih AS (
		-- inheritance children (not partitions) of a limited table or partition
		SELECT count(*) AS children FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		 WHERE i.inhparent IN (SELECT relid FROM rels) AND NOT c.relispartition
	), late AS (
		-- BEFORE INSERT/UPDATE row triggers that run after finsec_limits (name order) and could change a checked payment
		SELECT count(*) AS late FROM pg_trigger g
		 WHERE g.tgrelid IN (SELECT relid FROM rels) AND NOT g.tgisinternal
		   AND g.tgtype & 3 = 3 AND g.tgtype & 20 <> 0 AND g.tgname > 'finsec_limits'
	), col AS (
		-- registered columns that no longer exist under their name (renamed or dropped by a superuser)
		SELECT count(*) AS missing FROM finsec.limit_table l
		 CROSS JOIN LATERAL (VALUES (l.customer_column), (l.amount_column), (l.account_column), (l.time_column),
									(l.channel_column), (l.tier_column), (l.kind_column), (l.counterparty_column),
									(l.class_column), (l.hold_column), (l.payment_id_column), (l.reversal_column)) v(name)
		 WHERE v.name IS NOT NULL AND NOT EXISTS (
				SELECT 1 FROM pg_attribute a
				 WHERE a.attrelid = l.relid AND a.attname = v.name AND a.attnum > 0 AND NOT a.attisdropped)
	), u AS (
		SELECT count(*) AS nonfinite FROM finsec.limit_usage
		 WHERE NOT (day_amount < 'Infinity' AND year_amount < 'Infinity' AND life_amount < 'Infinity')
	), p AS (
		SELECT count(*) FILTER (WHERE enabled) AS policies FROM finsec.limit_policy
	), a AS (
		SELECT count(*) FILTER (WHERE state = 'frozen') AS frozen,
			   count(*) FILTER (WHERE state = 'closed') AS closed
		  FROM finsec.limit_account
	), c AS (
		SELECT count(*) FILTER (WHERE NOT enabled) AS off FROM finsec.limit_channel
	)
	SELECT 'limits', t.untriggered = 0 AND ih.children = 0 AND late.late = 0 AND col.missing = 0 AND u.nonfinite = 0,
		   CASE WHEN t.tables = 0
				THEN 'not in use; finsec.enable_limits() enforces finsec.limit_policy on a payments table: see docs/limits.md'
				WHEN t.untriggered > 0
				THEN format('%s of %s limited table(s) lost or disabled trigger finsec_limits (on the table or a partition): run finsec.enable_limits() again',
							t.untriggered, t.tables)
				WHEN ih.children > 0
				THEN format('%s inheritance child table(s) of limited tables take payments without limits: detach them (ALTER TABLE ... NO INHERIT)',
							ih.children)
				WHEN late.late > 0
				THEN format('%s BEFORE row trigger(s) on limited tables run after finsec_limits and could change a checked payment: rename them to sort before it',
							late.late)
				WHEN col.missing > 0
				THEN format('%s registered column(s) of limited tables no longer exist under their name (renamed or dropped): rename them back, or disable and enable limits with the new names',
							col.missing)
				WHEN u.nonfinite > 0
				THEN format('%s usage row(s) are not a finite number (NaN written by finsec 0.7): run finsec.rebuild_limit_usage()',
							u.nonfinite)
				ELSE format('%s table(s), %s enabled policies, %s frozen and %s closed accounts, %s channel(s) off; time zone %s',
							t.tables, p.policies, a.frozen, a.closed, c.off,
							current_setting('finsec.limit_timezone'))
		   END
	  FROM t, ih, late, col, u, p, a, c
$$;

/*
 * ---- 6. Lifting a loss control takes two administrators ---------------
 *
 * Freezing, closing, restricting and switching a channel off stay single-
 * person actions of an administrator or operator on duty (they make
 * payments harder).  Lifting a freeze, switching a channel back on, and
 * loosening an account's controls (a restricted kind removed, a
 * settlement hold lifted, another account class, which may have higher
 * limits) become change requests that a second administrator approves,
 * unless made in a superuser's session.  The functions return the
 * request id, or NULL when the change was made at once.
 */
-- set_account_state() of 0.6, under another name (its body names itself).
CREATE FUNCTION finsec._set_account_state_now(account text, state text, reason text, reference text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	old_state text;
BEGIN
	IF account IS NULL OR account = '' THEN
		RAISE EXCEPTION 'account must not be null or empty' USING ERRCODE = '22004';
	END IF;
	IF state IS NULL OR state NOT IN ('normal', 'frozen', 'closed') THEN
		RAISE EXCEPTION 'account state must be normal, frozen or closed' USING ERRCODE = '22023';
	END IF;
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'a reason is required to change an account''s state' USING ERRCODE = '22004';
	END IF;
	SELECT a.state INTO old_state FROM finsec.limit_account a WHERE a.account = _set_account_state_now.account FOR UPDATE;
	IF old_state = 'closed' THEN
		RAISE EXCEPTION 'a closed account cannot change state' USING ERRCODE = '55000';
	END IF;
	INSERT INTO finsec.limit_account AS a (account, state, reason, reference, changed_by, changed_at)
	VALUES (account, state, reason, reference, session_user, statement_timestamp())
	ON CONFLICT ON CONSTRAINT limit_account_pkey DO UPDATE
	   SET state = EXCLUDED.state, reason = EXCLUDED.reason, reference = EXCLUDED.reference,
		   changed_by = EXCLUDED.changed_by, changed_at = EXCLUDED.changed_at;
	-- The account itself is not written to the ledger in clear: its digest is.
	PERFORM finsec.audit_event('limits.account_state', 'account ' || left(md5(account), 16),
							   state, true,
							   format('account state %s -> %s: %s', coalesce(old_state, 'normal'), state, reason),
							   jsonb_build_object('reference', reference));
END
$$;
REVOKE ALL ON FUNCTION finsec._set_account_state_now(text, text, text, text) FROM PUBLIC;
DROP FUNCTION finsec.set_account_state(text, text, text, text);
ALTER FUNCTION finsec.restrict_account(text, text[], boolean, text, text) RENAME TO _restrict_account_now;
REVOKE ALL ON FUNCTION finsec._restrict_account_now(text, text[], boolean, text, text) FROM finsec_admin, finsec_operator;
ALTER FUNCTION finsec.set_channel(text, boolean, text) RENAME TO _set_channel_now;
REVOKE ALL ON FUNCTION finsec._set_channel_now(text, boolean, text) FROM finsec_admin, finsec_operator;
DROP FUNCTION finsec.freeze_account(text, text, text);
DROP FUNCTION finsec.unfreeze_account(text, text, text);
DROP FUNCTION finsec.close_account(text, text, text);

/* An account's controls as a request pins them (NULL: no row, i.e. normal). */
CREATE FUNCTION finsec._limit_account_current(acct text)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT jsonb_build_object('state', a.state, 'account_class', a.account_class,
							  'restricted_kinds', to_jsonb(a.restricted_kinds), 'hold_settlement', a.hold_settlement)
	  FROM finsec.limit_account a WHERE a.account = acct
$$;
REVOKE ALL ON FUNCTION finsec._limit_account_current(text) FROM PUBLIC;

CREATE FUNCTION finsec._limit_control_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF jsonb_typeof(payload) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'a % request needs a JSON object', kind USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF kind = 'limits.channel_on' THEN
		IF jsonb_typeof(payload->'channel') IS DISTINCT FROM 'string' OR jsonb_typeof(payload->'reason') IS DISTINCT FROM 'string' THEN
			RAISE EXCEPTION 'a limits.channel_on request needs "channel" and "reason"' USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF NOT EXISTS (SELECT 1 FROM finsec.limit_channel c WHERE c.channel = payload->>'channel' AND NOT c.enabled) THEN
			RAISE EXCEPTION 'channel % is not switched off', payload->>'channel'
				USING ERRCODE = 'object_not_in_prerequisite_state';
		END IF;
		RETURN payload || jsonb_build_object('replaces', false);
	END IF;
	IF jsonb_typeof(payload->'account') IS DISTINCT FROM 'string' OR jsonb_typeof(payload->'reason') IS DISTINCT FROM 'string' THEN
		RAISE EXCEPTION 'a % request needs "account" and "reason"', kind USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN payload || jsonb_build_object('replaces', finsec._limit_account_current(payload->>'account'));
END
$$;
REVOKE ALL ON FUNCTION finsec._limit_control_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._limit_control_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF kind = 'limits.channel_on' THEN
		PERFORM 1 FROM finsec.limit_channel c WHERE c.channel = payload->>'channel' AND NOT c.enabled FOR UPDATE;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'channel % changed after request % was filed', payload->>'channel', request_id
				USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Reject this request and file a new one.';
		END IF;
		PERFORM finsec._set_channel_now(payload->>'channel', true, payload->>'reason');
		RETURN jsonb_build_object('channel', payload->>'channel', 'action', 'switched on');
	END IF;
	PERFORM 1 FROM finsec.limit_account a WHERE a.account = payload->>'account' FOR UPDATE;
	IF finsec._limit_account_current(payload->>'account') IS DISTINCT FROM nullif(payload->'replaces', 'null'::jsonb) THEN
		RAISE EXCEPTION 'the account changed after request % was filed', request_id
			USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Reject this request and file a new one.';
	END IF;
	IF kind = 'limits.account_unfreeze' THEN
		PERFORM finsec._set_account_state_now(payload->>'account', 'normal', payload->>'reason', payload->>'reference');
		RETURN jsonb_build_object('action', 'unfrozen');
	END IF;
	PERFORM finsec._restrict_account_now(payload->>'account',
		ARRAY(SELECT jsonb_array_elements_text(payload->'restricted_kinds')),
		(payload->>'hold_settlement')::boolean, payload->>'reason', payload->>'account_class');
	RETURN jsonb_build_object('action', 'controls loosened');
END
$$;
REVOKE ALL ON FUNCTION finsec._limit_control_apply(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('limits.account_unfreeze', 'finsec._limit_control_prepare(text, text, jsonb)',
	 'finsec._limit_control_apply(bigint, text, text, jsonb)', NULL,
	 'lift the freeze of an account (target: account digest; payload: {"account", "reason", "reference"})'),
	('limits.account_controls', 'finsec._limit_control_prepare(text, text, jsonb)',
	 'finsec._limit_control_apply(bigint, text, text, jsonb)', NULL,
	 'loosen an account''s loss controls: remove a restricted kind, lift a settlement hold, change its class (payload: {"account", "restricted_kinds", "hold_settlement", "account_class", "reason"})'),
	('limits.channel_on', 'finsec._limit_control_prepare(text, text, jsonb)',
	 'finsec._limit_control_apply(bigint, text, text, jsonb)', NULL,
	 'switch a payment channel back on (target: channel; payload: {"channel", "reason"})');

CREATE FUNCTION finsec.set_account_state(account text, state text, reason text, reference text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	old_state text;
BEGIN
	SELECT a.state INTO old_state FROM finsec.limit_account a WHERE a.account = set_account_state.account;
	IF old_state = 'frozen' AND state = 'normal'
	   AND NOT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false) THEN
		IF reason IS NULL OR btrim(reason) = '' THEN
			RAISE EXCEPTION 'a reason is required to change an account''s state' USING ERRCODE = '22004';
		END IF;
		RETURN finsec.request_change('limits.account_unfreeze', 'account ' || left(md5(account), 16),
			jsonb_strip_nulls(jsonb_build_object('account', account, 'reason', reason, 'reference', reference)), reason);
	END IF;
	PERFORM finsec._set_account_state_now(account, state, reason, reference);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION finsec.set_account_state(text, text, text, text) IS
	'set an account''s state (audited); lifting a freeze is a change request a second finsec_admin approves (returned), except in a superuser''s session';
REVOKE ALL ON FUNCTION finsec.set_account_state(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.set_account_state(text, text, text, text) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.freeze_account(account text, reason text, reference text DEFAULT NULL)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT finsec._set_account_state_now(account, 'frozen', reason, reference) $$;
COMMENT ON FUNCTION finsec.freeze_account(text, text, text) IS
	'freeze an account: payments from or to it are refused (audited; reference: law-enforcement order)';
REVOKE ALL ON FUNCTION finsec.freeze_account(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.freeze_account(text, text, text) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.unfreeze_account(account text, reason text, reference text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT finsec.set_account_state(account, 'normal', reason, reference) $$;
COMMENT ON FUNCTION finsec.unfreeze_account(text, text, text) IS
	'return a frozen account to normal: a change request a second finsec_admin approves (returned), except in a superuser''s session (audited)';
REVOKE ALL ON FUNCTION finsec.unfreeze_account(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.unfreeze_account(text, text, text) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.close_account(account text, reason text, reference text DEFAULT NULL)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT finsec._set_account_state_now(account, 'closed', reason, reference) $$;
COMMENT ON FUNCTION finsec.close_account(text, text, text) IS 'close an account for good (audited)';
REVOKE ALL ON FUNCTION finsec.close_account(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.close_account(text, text, text) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.restrict_account(account text, restricted_kinds text[], hold_settlement boolean,
										reason text, account_class text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cur finsec.limit_account;
BEGIN
	IF account IS NULL OR account = '' OR restricted_kinds IS NULL OR hold_settlement IS NULL THEN
		RAISE EXCEPTION 'account, restricted_kinds and hold_settlement must not be null' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO cur FROM finsec.limit_account a WHERE a.account = restrict_account.account;
	-- Loosening: a restricted kind removed, a hold lifted, another class.
	IF FOUND AND (NOT restricted_kinds @> cur.restricted_kinds OR (cur.hold_settlement AND NOT hold_settlement)
				  OR (restrict_account.account_class IS NOT NULL AND cur.account_class IS NOT NULL
					  AND restrict_account.account_class <> cur.account_class))
	   AND NOT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false) THEN
		IF reason IS NULL OR btrim(reason) = '' THEN
			RAISE EXCEPTION 'a reason is required to restrict an account' USING ERRCODE = '22004';
		END IF;
		RETURN finsec.request_change('limits.account_controls', 'account ' || left(md5(account), 16),
			jsonb_strip_nulls(jsonb_build_object('account', account, 'restricted_kinds', to_jsonb(restricted_kinds),
							  'hold_settlement', hold_settlement, 'account_class', account_class, 'reason', reason)), reason);
	END IF;
	PERFORM finsec._restrict_account_now(account, restricted_kinds, hold_settlement, reason, account_class);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION finsec.restrict_account(text, text[], boolean, text, text) IS
	'loss controls for an account: refuse payment kinds, hold settlement; optionally set its class (audited); loosening them is a change request a second finsec_admin approves, except in a superuser''s session';
REVOKE ALL ON FUNCTION finsec.restrict_account(text, text[], boolean, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.restrict_account(text, text[], boolean, text, text) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.set_channel(channel text, enabled boolean, reason text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF enabled AND EXISTS (SELECT 1 FROM finsec.limit_channel c WHERE c.channel = set_channel.channel AND NOT c.enabled)
	   AND NOT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false) THEN
		IF reason IS NULL OR btrim(reason) = '' THEN
			RAISE EXCEPTION 'a reason is required to switch a channel' USING ERRCODE = '22004';
		END IF;
		RETURN finsec.request_change('limits.channel_on', channel,
			jsonb_build_object('channel', channel, 'reason', reason), reason);
	END IF;
	PERFORM finsec._set_channel_now(channel, enabled, reason);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION finsec.set_channel(text, boolean, text) IS
	'switch a payment channel off (refused by every limited table) or back on (audited); switching it on is a change request a second finsec_admin approves, except in a superuser''s session';
REVOKE ALL ON FUNCTION finsec.set_channel(text, boolean, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.set_channel(text, boolean, text) TO finsec_admin, finsec_operator;

/*
 * ---- 6. Risk lists: weakening a list takes two people ------------------
 * (docs/risk-admin.md "Two-person list changes")
 *
 * A white-list hit forces allow past every rule; removing a black or grey
 * entry lifts a block.  Both were single-person actions of an operator in
 * 0.7, and so was closing a case as a false positive, which does both.
 * Adding black and grey entries, removing white ones and confirming fraud
 * stay single-person (they make payments harder), as freezing does.
 *
 * Called by an operator or administrator, the weakening calls file a change
 * request (kinds risk.list_white, risk.list_remove, risk.case_restore) that
 * a finsec_admin other than the requester approves with finsec.approve();
 * only then does the list change, in the approver's transaction.  The
 * request pins what it acts on: the entry's whole row (a removal), every
 * matching entry's row and the case (a false positive), the absence of an
 * identical active white entry (a white entry); approval fails with 55000
 * if any of it changed meanwhile.  In a superuser's session the calls act
 * at once, as a superuser's direct writes to finsec.risk_list_entry do.
 * These kinds are filed only through the list functions, never through
 * finsec.request_change(): its ledger record carries the payload, and a
 * list payload can hold a phone number or a card key.
 */
ALTER TABLE finsec.risk_list_entry ADD COLUMN request_id bigint, ADD COLUMN removal_request bigint;
COMMENT ON COLUMN finsec.risk_list_entry.request_id IS
	'the approved change request that added this entry (white entries since 0.8); NULL: added at once';
COMMENT ON COLUMN finsec.risk_list_entry.removal_request IS
	'the approved change request that removed this entry (black and grey entries since 0.8); NULL: removed at once';

/* A list entry as a ledger record may show it: no phone number, no card key. */
CREATE FUNCTION finsec._risk_entry_redacted(e jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN e->>'entity_type' IN ('phone', 'card') THEN e - 'value' ELSE e END
$$;
REVOKE ALL ON FUNCTION finsec._risk_entry_redacted(jsonb) FROM PUBLIC;

-- risk_list_add() of 0.7, for whom and by which request.
CREATE FUNCTION finsec._risk_list_add_now(color text, entity_type text, value text, side text,
	expires_at timestamptz, reason text, case_id bigint, added_by name, request_id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v text := btrim(value);
	n cidr;
	id bigint;
BEGIN
	IF color IS NULL OR entity_type IS NULL OR v IS NULL OR v = '' OR side IS NULL THEN
		RAISE EXCEPTION 'a list entry needs a color, an entity type, a value and a side' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF color NOT IN ('black', 'grey', 'white') THEN
		RAISE EXCEPTION 'list color must be black, grey or white' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF side NOT IN ('payer', 'payee', 'any') THEN
		RAISE EXCEPTION 'list side must be payer, payee or any' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF expires_at IS NOT NULL AND expires_at <= now() THEN
		RAISE EXCEPTION 'a list entry cannot expire in the past' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF case_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM finsec.risk_case k WHERE k.case_id = _risk_list_add_now.case_id) THEN
		RAISE EXCEPTION 'risk case % does not exist', case_id USING ERRCODE = 'undefined_object';
	END IF;
	v := finsec._risk_entity_value(entity_type, v);
	IF entity_type = 'ip' THEN
		n := v::cidr;
		v := NULL;
	END IF;
	-- one adder of the same entry at a time, so that the duplicate check holds
	PERFORM pg_advisory_xact_lock(hashtext('finsec.risk_list_entry'),
								  hashtext(concat_ws(' ', color, entity_type, side, v, n)));
	SELECT e.entry_id INTO id FROM finsec.risk_list_entry e
	 WHERE e.removed_at IS NULL AND e.color = _risk_list_add_now.color AND e.entity_type = _risk_list_add_now.entity_type
	   AND e.side = _risk_list_add_now.side AND e.value IS NOT DISTINCT FROM v AND e.net IS NOT DISTINCT FROM n
	   AND (e.expires_at IS NULL OR e.expires_at > now());
	IF FOUND THEN
		RAISE EXCEPTION 'the same entry is already listed (entry %)', id
			USING ERRCODE = 'unique_violation', HINT = 'Remove it first to change its expiry or reason.';
	END IF;
	INSERT INTO finsec.risk_list_entry (color, entity_type, value, net, side, expires_at, reason, case_id, added_by, request_id)
	VALUES (color, entity_type, v, n, side, expires_at, reason, case_id, added_by, request_id)
	RETURNING entry_id INTO id;
	PERFORM finsec.audit_event('risk.list_add', 'finsec.risk_list_entry', 'insert', true,
		format('%s list entry %s added: %s, side %s', color, id, entity_type, side),
		jsonb_strip_nulls(jsonb_build_object('entry_id', id, 'color', color, 'entity_type', entity_type, 'side', side,
						   'expires_at', expires_at, 'case_id', case_id, 'reason', reason,
						   'request_id', request_id, 'requested_by', CASE WHEN request_id IS NOT NULL THEN added_by END))
		|| jsonb_build_object('value', CASE WHEN entity_type IN ('phone', 'card') THEN NULL ELSE coalesce(v, n::text) END));
	RETURN id;
END
$$;
REVOKE ALL ON FUNCTION finsec._risk_list_add_now(text, text, text, text, timestamptz, text, bigint, name, bigint) FROM PUBLIC;

/*
 * risk_list_remove() of 0.7, for whom and by which request; with a pinned
 * row (a request's), the entry must still be exactly that row.
 */
CREATE FUNCTION finsec._risk_list_remove_now(entry_id bigint, reason text, removed_by name,
	request_id bigint, pinned jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e finsec.risk_list_entry;
BEGIN
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'removing a list entry needs a reason' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO e FROM finsec.risk_list_entry l WHERE l.entry_id = _risk_list_remove_now.entry_id FOR UPDATE;
	IF pinned IS NOT NULL AND (NOT FOUND OR to_jsonb(e) IS DISTINCT FROM pinned) THEN
		RAISE EXCEPTION 'list entry % changed after request % was filed', entry_id, request_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'It was removed, or its row was written, since the request pinned it.',
				  HINT = 'Reject this request and file a new one.';
	END IF;
	IF NOT FOUND OR e.removed_at IS NOT NULL THEN
		RAISE EXCEPTION 'list entry % does not exist or was already removed', entry_id USING ERRCODE = 'undefined_object';
	END IF;
	UPDATE finsec.risk_list_entry l SET removed_by = _risk_list_remove_now.removed_by, removed_at = now(),
		   removal_reason = _risk_list_remove_now.reason, removal_request = _risk_list_remove_now.request_id
	 WHERE l.entry_id = e.entry_id;
	PERFORM finsec.audit_event('risk.list_remove', 'finsec.risk_list_entry', 'update', true,
		format('%s list entry %s removed: %s', e.color, e.entry_id, e.entity_type),
		jsonb_strip_nulls(jsonb_build_object('entry_id', e.entry_id, 'reason', reason, 'request_id', request_id,
											 'requested_by', CASE WHEN request_id IS NOT NULL THEN removed_by END)));
END
$$;
REVOKE ALL ON FUNCTION finsec._risk_list_remove_now(bigint, text, name, bigint, jsonb) FROM PUBLIC;

/*
 * File a list request for an operator or an administrator (request_change()
 * is for administrators, and writes the whole payload to the ledger): the
 * ledger gets the payload as ledger_payload shows it.
 */
CREATE FUNCTION finsec._risk_list_file(kind text, target text, payload jsonb, ledger_payload jsonb, reason text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id bigint;
BEGIN
	IF NOT (pg_has_role(session_user, 'finsec_operator', 'MEMBER') OR pg_has_role(session_user, 'finsec_admin', 'MEMBER')) THEN
		RAISE EXCEPTION 'permission denied to request a list change'
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = format('Role %I is not a member of finsec_operator or finsec_admin.', session_user),
				  HINT = 'Two-person control: requests come from operators or administrators logged in as themselves.';
	END IF;
	PERFORM finsec.expire_requests();
	INSERT INTO finsec.change_request (kind, target, payload, reason, requested_by, expires_at)
	VALUES (kind, target, payload, reason, session_user,
			now() + current_setting('finsec.approval_timeout')::interval)
	RETURNING request_id INTO id;
	PERFORM finsec.audit_event('change.request', kind || ':' || target, 'request', true, reason,
							   jsonb_build_object('request_id', id, 'payload', ledger_payload), session_user);
	RETURN id;
END
$$;
REVOKE ALL ON FUNCTION finsec._risk_list_file(text, text, jsonb, jsonb, text) FROM PUBLIC;

-- The kinds are filed by the list functions only (see above).
CREATE FUNCTION finsec._risk_list_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION 'a % request is filed by the risk list functions, not by finsec.request_change()', kind
		USING ERRCODE = 'invalid_parameter_value',
			  HINT = 'Use finsec.request_risk_list_white() (or risk_list_add(''white'', ...)), finsec.request_risk_list_remove() (or risk_list_remove()), or finsec.risk_case_close(..., ''false_positive'', ...).';
END
$$;
REVOKE ALL ON FUNCTION finsec._risk_list_prepare(text, text, jsonb) FROM PUBLIC;

-- apply: on approval, in the approver's transaction, for the requester.
CREATE FUNCTION finsec._risk_list_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	requester name;
	ent jsonb;
	id bigint;
	removed bigint[] := '{}';
	added bigint[] := '{}';
	kept bigint[] := '{}';
	cid bigint;
	result jsonb;
BEGIN
	SELECT cr.requested_by INTO requester FROM finsec.change_request cr WHERE cr.request_id = _risk_list_apply.request_id;
	IF kind = 'risk.list_white' THEN
		id := finsec._risk_list_add_now('white', payload->>'entity_type', payload->>'value', payload->>'side',
			(payload->>'expires_at')::timestamptz, payload->>'reason', (payload->>'case_id')::bigint, requester, request_id);
		RETURN jsonb_build_object('entry_id', id, 'action', 'white-listed');
	ELSIF kind = 'risk.list_remove' THEN
		PERFORM finsec._risk_list_remove_now((payload->>'entry_id')::bigint, payload->>'reason', requester,
											 request_id, payload->'entry');
		RETURN jsonb_build_object('entry_id', (payload->>'entry_id')::bigint, 'action', 'removed');
	ELSIF kind = 'risk.case_restore' THEN
		cid := (payload->>'case_id')::bigint;
		PERFORM 1 FROM finsec.risk_case k WHERE k.case_id = cid AND k.state = 'closed' AND k.outcome = 'false_positive' FOR UPDATE;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'risk case % changed after request % was filed', cid, request_id
				USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Reject this request and file a new one.';
		END IF;
		FOR ent IN SELECT e FROM jsonb_array_elements(payload->'entries') e ORDER BY (e->>'entry_id')::bigint LOOP
			PERFORM finsec._risk_list_remove_now((ent->>'entry_id')::bigint, format('case %s: false positive', cid),
												 requester, request_id, ent);
			removed := removed || (ent->>'entry_id')::bigint;
		END LOOP;
		IF payload ? 'white_customer' THEN
			SELECT l.entry_id INTO id FROM finsec.risk_list_entry l
			 WHERE l.removed_at IS NULL AND l.color = 'white' AND l.entity_type = 'customer' AND l.side = 'any'
			   AND l.value = payload->>'white_customer' AND (l.expires_at IS NULL OR l.expires_at > now())
			 ORDER BY l.entry_id LIMIT 1;
			IF FOUND THEN
				kept := kept || id;
			ELSE
				added := added || finsec._risk_list_add_now('white', 'customer', payload->>'white_customer', 'any',
					(payload->>'expires_at')::timestamptz, format('case %s: false positive', cid), cid, requester, request_id);
			END IF;
		END IF;
		result := jsonb_build_object('request_id', request_id, 'entries_removed', to_jsonb(removed),
									 'entries_added', to_jsonb(added), 'entries_already_listed', to_jsonb(kept));
		PERFORM finsec._risk_case_step(cid, 'restore', format('false positive restored (request %s)', request_id), result);
		RETURN jsonb_build_object('case_id', cid) || result;
	END IF;
	RAISE EXCEPTION 'change kind % is not a risk list change', coalesce(kind, 'NULL')
		USING ERRCODE = 'invalid_parameter_value';
END
$$;
REVOKE ALL ON FUNCTION finsec._risk_list_apply(bigint, text, text, jsonb) FROM PUBLIC;

-- discard (rejected, cancelled, expired): a case's history says its restore will not happen.
CREATE FUNCTION finsec._risk_list_discard(request_id bigint, kind text, target text, payload jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF kind = 'risk.case_restore' THEN
		PERFORM finsec._risk_case_step((payload->>'case_id')::bigint, 'restore_dropped',
			format('request %s to restore this false positive was not approved', request_id),
			jsonb_build_object('request_id', request_id));
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._risk_list_discard(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('risk.list_white', 'finsec._risk_list_prepare(text, text, jsonb)', 'finsec._risk_list_apply(bigint, text, text, jsonb)',
	 'finsec._risk_list_discard(bigint, text, text, jsonb)',
	 'put an entity on the white list (forces allow); filed by finsec.risk_list_add(''white'', ...) or finsec.request_risk_list_white()'),
	('risk.list_remove', 'finsec._risk_list_prepare(text, text, jsonb)', 'finsec._risk_list_apply(bigint, text, text, jsonb)',
	 'finsec._risk_list_discard(bigint, text, text, jsonb)',
	 'remove a black or grey list entry (the pinned row must be unchanged); filed by finsec.risk_list_remove() or finsec.request_risk_list_remove()'),
	('risk.case_restore', 'finsec._risk_list_prepare(text, text, jsonb)', 'finsec._risk_list_apply(bigint, text, text, jsonb)',
	 'finsec._risk_list_discard(bigint, text, text, jsonb)',
	 'the list changes of a case closed as a false positive: remove the pinned black and grey entries, optionally white-list the customer; filed by finsec.risk_case_close()');

CREATE FUNCTION finsec.request_risk_list_white(entity_type text, value text, side text DEFAULT 'any',
	expires_at timestamptz DEFAULT NULL, reason text DEFAULT NULL, case_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v text := btrim(value);
	n cidr;
	id bigint;
	p jsonb;
BEGIN
	IF entity_type IS NULL OR v IS NULL OR v = '' OR side IS NULL THEN
		RAISE EXCEPTION 'a list entry needs an entity type, a value and a side' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF side NOT IN ('payer', 'payee', 'any') THEN
		RAISE EXCEPTION 'list side must be payer, payee or any' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF expires_at IS NOT NULL AND expires_at <= now() THEN
		RAISE EXCEPTION 'a list entry cannot expire in the past' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF case_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM finsec.risk_case k WHERE k.case_id = request_risk_list_white.case_id) THEN
		RAISE EXCEPTION 'risk case % does not exist', case_id USING ERRCODE = 'undefined_object';
	END IF;
	v := finsec._risk_entity_value(entity_type, v);
	IF entity_type = 'ip' THEN
		n := v::cidr;
	END IF;
	SELECT e.entry_id INTO id FROM finsec.risk_list_entry e
	 WHERE e.removed_at IS NULL AND e.color = 'white' AND e.entity_type = request_risk_list_white.entity_type
	   AND e.side = request_risk_list_white.side
	   AND CASE WHEN n IS NULL THEN e.value = v ELSE e.net = n END
	   AND (e.expires_at IS NULL OR e.expires_at > now());
	IF FOUND THEN
		RAISE EXCEPTION 'the same entry is already listed (entry %)', id
			USING ERRCODE = 'unique_violation', HINT = 'Remove it first to change its expiry or reason.';
	END IF;
	p := jsonb_strip_nulls(jsonb_build_object('color', 'white', 'entity_type', entity_type, 'value', v, 'side', side,
											  'expires_at', expires_at, 'reason', reason, 'case_id', case_id));
	RETURN finsec._risk_list_file('risk.list_white', 'white ' || entity_type, p, finsec._risk_entry_redacted(p), reason);
END
$$;
COMMENT ON FUNCTION finsec.request_risk_list_white(text, text, text, timestamptz, text, bigint) IS
	'request a white-list entry (returns the request id); a finsec_admin other than the requester approves it with finsec.approve()';
REVOKE ALL ON FUNCTION finsec.request_risk_list_white(text, text, text, timestamptz, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.request_risk_list_white(text, text, text, timestamptz, text, bigint) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.request_risk_list_remove(entry_id bigint, reason text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e finsec.risk_list_entry;
	p jsonb;
BEGIN
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'removing a list entry needs a reason' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF entry_id IS NULL THEN
		RAISE EXCEPTION 'list entry id must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO e FROM finsec.risk_list_entry l WHERE l.entry_id = request_risk_list_remove.entry_id;
	IF NOT FOUND OR e.removed_at IS NOT NULL THEN
		RAISE EXCEPTION 'list entry % does not exist or was already removed', entry_id USING ERRCODE = 'undefined_object';
	END IF;
	IF e.color = 'white' THEN
		RAISE EXCEPTION 'list entry % is white: removing it takes effect at once', entry_id
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use finsec.risk_list_remove().';
	END IF;
	p := jsonb_build_object('entry_id', e.entry_id, 'reason', reason, 'entry', to_jsonb(e));
	RETURN finsec._risk_list_file('risk.list_remove', 'entry ' || e.entry_id, p,
		jsonb_build_object('entry_id', e.entry_id, 'reason', reason, 'entry', finsec._risk_entry_redacted(to_jsonb(e))), reason);
END
$$;
COMMENT ON FUNCTION finsec.request_risk_list_remove(bigint, text) IS
	'request the removal of a black or grey list entry (returns the request id); a finsec_admin other than the requester approves it, provided the entry is unchanged';
REVOKE ALL ON FUNCTION finsec.request_risk_list_remove(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.request_risk_list_remove(bigint, text) TO finsec_admin, finsec_operator;

CREATE OR REPLACE FUNCTION finsec.risk_list_add(color text, entity_type text, value text, side text DEFAULT 'any',
	expires_at timestamptz DEFAULT NULL, reason text DEFAULT NULL, case_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	req bigint;
BEGIN
	IF color = 'white' AND NOT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false) THEN
		req := finsec.request_risk_list_white(entity_type, value, side, expires_at, reason, case_id);
		RAISE NOTICE 'white-list entry requested: change request %', req
			USING DETAIL = 'Nothing is listed until a finsec_admin other than you approves it (finsec.approve).';
		RETURN NULL;
	END IF;
	RETURN finsec._risk_list_add_now(color, entity_type, value, side, expires_at, reason, case_id, session_user, NULL);
END
$$;
COMMENT ON FUNCTION finsec.risk_list_add(text, text, text, text, timestamptz, text, bigint) IS
	'put a customer, account, card key, device, IP or CIDR range, phone or merchant on the black or grey list (returns the entry id) or request a white entry (returns NULL, the request id in a NOTICE; a second person approves), audited; a superuser''s session white-lists at once';

CREATE OR REPLACE FUNCTION finsec.risk_list_remove(entry_id bigint, reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	req bigint;
BEGIN
	IF EXISTS (SELECT 1 FROM finsec.risk_list_entry l WHERE l.entry_id = risk_list_remove.entry_id
				AND l.removed_at IS NULL AND l.color IN ('black', 'grey'))
	   AND NOT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false) THEN
		req := finsec.request_risk_list_remove(entry_id, reason);
		RAISE NOTICE 'removal of list entry % requested: change request %', entry_id, req
			USING DETAIL = 'The entry stays in effect until a finsec_admin other than you approves it (finsec.approve).';
		RETURN;
	END IF;
	PERFORM finsec._risk_list_remove_now(entry_id, reason, session_user, NULL, NULL);
END
$$;
COMMENT ON FUNCTION finsec.risk_list_remove(bigint, text) IS
	'remove a white list entry (at once), or request the removal of a black or grey one (the request id in a NOTICE; a second person approves), audited; a superuser''s session removes at once';

/*
 * risk_case_close() of 0.7, except that a false positive closed outside a
 * superuser's session closes the case at once and files its list changes
 * (the matching black and grey entries, pinned, and the customer's white
 * entry) as one risk.case_restore request, named in the result and the
 * case history; the approval adds a "restore" step to the history.
 */
CREATE OR REPLACE FUNCTION finsec.risk_case_close(case_id bigint, outcome text, note text DEFAULT NULL,
	list_color text DEFAULT 'black', list_entities text[] DEFAULT '{device,ip,phone,card}',
	list_days integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k finsec.risk_case;
	e text;
	typ text;
	sd text;
	val text;
	id bigint;
	added bigint[] := '{}';
	removed bigint[] := '{}';
	kept bigint[] := '{}';
	unlisted text[] := '{}';
	ent record;
	expires timestamptz := CASE WHEN list_days IS NOT NULL THEN now() + list_days * interval '1 day' END;
	result jsonb;
	now_ boolean := coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false);
	pinned jsonb := '[]';
	white_customer text;
	req bigint;
	p jsonb;
BEGIN
	k := finsec._risk_case_get(case_id);
	IF outcome IS NULL OR outcome NOT IN ('confirmed_fraud', 'false_positive', 'inconclusive', 'duplicate') THEN
		RAISE EXCEPTION 'case outcome must be confirmed_fraud, false_positive, inconclusive or duplicate'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF list_days IS NOT NULL AND list_days < 1 THEN
		RAISE EXCEPTION 'list_days must be positive' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF outcome = 'confirmed_fraud' THEN
		IF list_color IS NULL OR list_color NOT IN ('black', 'grey') THEN
			RAISE EXCEPTION 'a confirmed fraud lists its entities black or grey' USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOREACH e IN ARRAY coalesce(list_entities, '{}') LOOP
			IF e IS NULL OR e NOT IN ('customer', 'account', 'counterparty', 'device', 'ip', 'phone', 'merchant', 'card') THEN
				RAISE EXCEPTION 'unknown entity kind "%" in list_entities', e USING ERRCODE = 'invalid_parameter_value';
			END IF;
			val := k.entities->>e;
			CONTINUE WHEN val IS NULL;
			IF val ~ '^sha256:[0-9a-f]{56}$' THEN
				unlisted := unlisted || e;
				CONTINUE;
			END IF;
			typ := CASE e WHEN 'counterparty' THEN 'account' ELSE e END;
			sd := CASE WHEN e IN ('counterparty', 'merchant') THEN 'payee' ELSE 'any' END;
			SELECT l.entry_id INTO id FROM finsec.risk_list_entry l
			 WHERE l.removed_at IS NULL AND l.color = list_color AND l.entity_type = typ AND l.side = sd
			   AND CASE WHEN typ = 'ip' THEN l.net = val::cidr ELSE l.value = val END
			   AND (l.expires_at IS NULL OR l.expires_at > now())
			 ORDER BY l.entry_id LIMIT 1;
			IF FOUND THEN
				kept := kept || id;
				CONTINUE;
			END IF;
			added := added || finsec._risk_list_add_now(list_color, typ, val, sd, expires,
				format('case %s: confirmed fraud', k.case_id), k.case_id, session_user, NULL);
		END LOOP;
	ELSIF outcome = 'false_positive' THEN
		IF list_color IS NULL OR list_color NOT IN ('black', 'white') THEN
			RAISE EXCEPTION 'a false positive white-lists the customer (list_color ''white'') or lists nothing (''black'', the default)'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOR ent IN SELECT j.key, j.value FROM jsonb_each_text(k.entities) j ORDER BY j.key LOOP
			FOR id IN SELECT m FROM finsec._risk_matching_entries(ent.key, ent.value) m LOOP
				CONTINUE WHEN id = ANY (removed);
				IF now_ THEN
					PERFORM finsec._risk_list_remove_now(id, format('case %s: false positive', k.case_id), session_user, NULL, NULL);
				ELSE
					pinned := pinned || jsonb_build_array((SELECT to_jsonb(l) FROM finsec.risk_list_entry l WHERE l.entry_id = id));
				END IF;
				removed := removed || id;
			END LOOP;
		END LOOP;
		IF list_color = 'white' AND k.entities ? 'customer' THEN
			IF k.entities->>'customer' ~ '^sha256:[0-9a-f]{56}$' THEN
				unlisted := unlisted || 'customer'::text;
			ELSE
				SELECT l.entry_id INTO id FROM finsec.risk_list_entry l
				 WHERE l.removed_at IS NULL AND l.color = 'white' AND l.entity_type = 'customer' AND l.side = 'any'
				   AND l.value = k.entities->>'customer' AND (l.expires_at IS NULL OR l.expires_at > now())
				 ORDER BY l.entry_id LIMIT 1;
				IF FOUND THEN
					kept := kept || id;
				ELSIF now_ THEN
					added := added || finsec._risk_list_add_now('white', 'customer', k.entities->>'customer', 'any', expires,
						format('case %s: false positive', k.case_id), k.case_id, session_user, NULL);
				ELSE
					white_customer := k.entities->>'customer';
				END IF;
			END IF;
		END IF;
		IF NOT now_ AND (jsonb_array_length(pinned) > 0 OR white_customer IS NOT NULL) THEN
			p := jsonb_strip_nulls(jsonb_build_object('case_id', k.case_id, 'white_customer', white_customer,
													  'expires_at', CASE WHEN white_customer IS NOT NULL THEN expires END))
				 || jsonb_build_object('entries', pinned);
			req := finsec._risk_list_file('risk.case_restore', 'risk_case:' || k.case_id, p,
				p || jsonb_build_object('entries', (SELECT coalesce(jsonb_agg(finsec._risk_entry_redacted(x)), '[]')
													  FROM jsonb_array_elements(pinned) x)),
				format('case %s: false positive', k.case_id));
		END IF;
	END IF;
	UPDATE finsec.risk_case c SET state = 'closed', outcome = risk_case_close.outcome, closed_by = session_user,
		   closed_at = now()
	 WHERE c.case_id = k.case_id;
	IF outcome = 'false_positive' AND NOT now_ THEN
		-- nothing is restored yet: what the request will do, once approved
		result := jsonb_build_object('outcome', outcome, 'opened_by', k.opened_by, 'entries_added', '[]'::jsonb,
									 'entries_removed', '[]'::jsonb, 'entries_already_listed', to_jsonb(kept),
									 'not_listed_hashed', to_jsonb(unlisted), 'request_id', req,
									 'entries_to_remove', to_jsonb(removed), 'customer_to_whitelist', white_customer IS NOT NULL);
	ELSE
		result := jsonb_build_object('outcome', outcome, 'opened_by', k.opened_by, 'entries_added', to_jsonb(added),
									 'entries_removed', to_jsonb(removed), 'entries_already_listed', to_jsonb(kept),
									 'not_listed_hashed', to_jsonb(unlisted));
	END IF;
	PERFORM finsec._risk_case_step(k.case_id, 'close', note, result);
	IF req IS NOT NULL THEN
		RAISE NOTICE 'case % closed; its list changes are change request %', k.case_id, req
			USING DETAIL = 'The matching entries stay in effect until a finsec_admin other than you approves it (finsec.approve).';
	END IF;
	RETURN jsonb_build_object('case_id', k.case_id) || result;
END
$$;
COMMENT ON FUNCTION finsec.risk_case_close(bigint, text, text, text, text[], integer) IS
	'close a case with an outcome (audited): confirmed_fraud lists its entities black or grey at once; false_positive files the removal of the matching black and grey entries (and the customer''s white entry) as a change request a finsec_admin other than the closer approves (request_id in the result), except in a superuser''s session';

-- (end of section 6-7)

-- ---------------------------------------------------------------------
-- Also: passwords (embedded sequences, keyed history), dump and restore
-- of deployed risk rulesets.
-- ---------------------------------------------------------------------

/*
 * Identity sequences of the configuration tables were not kept by pg_dump:
 * after a restore the next rule, list entry, case, sighting or limit
 * policy took identifier 1 again and failed on the primary key.
 */
SELECT pg_catalog.pg_extension_config_dump('finsec.risk_rule_rule_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.risk_list_entry_entry_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.risk_case_case_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.risk_sighting_sighting_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.limit_policy_policy_id_seq', '');

/*
 * Dump and restore of rulesets: pg_restore loads finsec.risk_ruleset and
 * finsec.risk_rule with COPY, so deployed and retired versions arrive as
 * new rows, and their rules as rules of a version that is no longer a
 * draft.  Both are accepted only while restoring: the session's role is a
 * superuser (is_superuser, which a SECURITY DEFINER function does not
 * change) and it set finsec.restore = on, which only a superuser can set.
 * finsec_admin can do neither, so deployment stays two-person.  A restored
 * version must carry a complete deployment record; its content is checked
 * against the recorded hash before it scores (src/risk/rules.c).  In
 * risk_rule_check, a restored rule of a version that left 'draft' passes
 * the state test and leaves the version's row alone (the line numbers of
 * its body are kept, for the messages' CONTEXT).
 */
CREATE OR REPLACE FUNCTION finsec.risk_ruleset_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		IF OLD.state <> 'draft' THEN
			RAISE EXCEPTION 'risk ruleset % cannot be deleted: it was deployed', OLD.version
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = 'Deployed versions are the model registry''s record (JR/T 0199 8.3).';
		END IF;
		PERFORM finsec.audit_event('risk.ruleset_delete', 'risk_ruleset:' || OLD.version, 'delete', true,
			format('draft risk ruleset %s deleted', OLD.version), jsonb_build_object('version', OLD.version));
		RETURN OLD;
	END IF;
	IF TG_OP = 'INSERT' THEN
		IF NEW.state <> 'draft' OR NEW.content_hash IS NOT NULL OR NEW.deployed_by IS NOT NULL THEN
			IF NOT (coalesce(current_setting('finsec.restore', true), 'off') = 'on' AND current_setting('is_superuser') = 'on') THEN
				RAISE EXCEPTION 'a new risk ruleset is a draft' USING ERRCODE = 'object_not_in_prerequisite_state',
					HINT = 'To restore a dump with deployed rulesets, run pg_restore as a superuser with finsec.restore = on (PGOPTIONS=''-c finsec.restore=on''); see docs/install.md.';
			END IF;
			IF NEW.state = 'draft' OR NEW.content_hash IS NULL OR octet_length(NEW.content_hash) <> 32
			   OR NEW.deployed_by IS NULL OR NEW.deployed_at IS NULL
			   OR (NEW.state = 'retired') <> (NEW.retired_at IS NOT NULL) THEN
				RAISE EXCEPTION 'restored risk ruleset % has no complete deployment record', NEW.version
					USING ERRCODE = 'object_not_in_prerequisite_state',
						  DETAIL = 'A deployed or retired version carries its content hash, deployer and deployment time (and retirement time); a draft carries none.';
			END IF;
			-- the server log keeps a trace of every version a restore loaded
			RAISE LOG 'finsec: risk ruleset % restored as %, content hash %, deployed by % at %',
				NEW.version, NEW.state, encode(NEW.content_hash, 'hex'), NEW.deployed_by, NEW.deployed_at;
		END IF;
		RETURN NEW;
	END IF;
	IF OLD.state = 'draft' AND NEW.state = 'draft' THEN
		IF NEW.content_hash IS NOT NULL OR NEW.deployed_by IS NOT NULL THEN
			RAISE EXCEPTION 'a draft has no deployment record' USING ERRCODE = 'object_not_in_prerequisite_state';
		END IF;
		RETURN NEW;
	END IF;
	IF OLD.state = 'draft' AND NEW.state = 'active' THEN
		NEW.content_hash := finsec.risk_ruleset_hash(NEW.version);
		NEW.deployed_by := coalesce(NEW.deployed_by, session_user);
		NEW.deployed_at := coalesce(NEW.deployed_at, now());
		RETURN NEW;
	END IF;
	IF OLD.state = 'active' AND NEW.state = 'retired'
	   AND (to_jsonb(NEW) - 'state' - 'retired_at') = (to_jsonb(OLD) - 'state' - 'retired_at') THEN
		NEW.retired_at := coalesce(NEW.retired_at, now());
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'risk ruleset % cannot change from % to %', OLD.version, OLD.state, NEW.state
		USING ERRCODE = 'object_not_in_prerequisite_state',
			  HINT = 'Deployed versions are immutable: copy one into a new draft with finsec.risk_ruleset_copy().';
END
$$;

CREATE OR REPLACE FUNCTION finsec.risk_rule_check()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v bigint;
	st text;
	mine boolean;
BEGIN
	FOREACH v IN ARRAY CASE TG_OP WHEN 'INSERT' THEN ARRAY[NEW.ruleset_version]
								  WHEN 'DELETE' THEN ARRAY[OLD.ruleset_version]
								  ELSE ARRAY[OLD.ruleset_version, NEW.ruleset_version] END LOOP
		SELECT s.state, s.xmin = pg_current_xact_id()::xid INTO st, mine
		  FROM finsec.risk_ruleset s WHERE s.version = v FOR UPDATE;
		-- not found: a draft being deleted (its rules go with it), or a foreign key error to come
		CONTINUE WHEN NOT FOUND;
		IF st <> 'draft' AND NOT (TG_OP = 'INSERT' AND coalesce(current_setting('finsec.restore', true), 'off') = 'on' AND current_setting('is_superuser') = 'on') THEN
			RAISE EXCEPTION 'rules of risk ruleset % cannot change: it is no longer a draft', v
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = 'Copy it into a new draft with finsec.risk_ruleset_copy(), change that, and deploy it.';
		END IF;
		-- once per transaction is enough (a long list of rules would otherwise lengthen the row's chain)
		CONTINUE WHEN mine OR st <> 'draft';
		UPDATE finsec.risk_ruleset s SET content_hash = NULL WHERE s.version = v;
	END LOOP;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		NEW.params := finsec._risk_check_rule(NEW.kind, NEW.params);
		RETURN NEW;
	END IF;
	RETURN OLD;
END
$$;

/*
 * Password history and personal-data profiles under the keyring: the key
 * version of each row (NULL: kept as in 0.7, salted but not keyed), and
 * finsec.password_rekey() to move 0.7 rows under the fingerprint key
 * "auth.password" once two administrators have created it (a password
 * change or a profile update moves them too).  docs/auth.md "Keyed history".
 */
ALTER TABLE finsec.password_history ADD COLUMN key_version integer CHECK (key_version > 0);
ALTER TABLE finsec.role_profile ADD COLUMN key_version integer CHECK (key_version > 0);
COMMENT ON COLUMN finsec.password_history.key_version IS
	'version of keyring key auth.password the hash is kept under: HMAC(key, FSPH1 || PBKDF2); NULL: PBKDF2 alone (0.7)';
COMMENT ON COLUMN finsec.role_profile.key_version IS
	'version of keyring key auth.password the token hashes are kept under: HMAC(key, FSPP1 || SHA-256); NULL: SHA-256 alone (0.7)';

CREATE FUNCTION finsec.password_rekey()
RETURNS bigint
LANGUAGE C
AS 'MODULE_PATHNAME', 'finsec_password_rekey';
COMMENT ON FUNCTION finsec.password_rekey() IS
	'move password history and profile rows kept unkeyed (0.7) under keyring key auth.password; returns the rows moved (0 while the key does not exist)';
REVOKE ALL ON FUNCTION finsec.password_rekey() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.password_rekey() TO finsec_admin;

-- (end of section "also")
