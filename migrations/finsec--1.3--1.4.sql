/* finsec 1.3 -> 1.4 (issue 20: performance; each part writes only inside its own section) */
\echo Use "ALTER EXTENSION finsec UPDATE TO '1.4'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Section 1: limits: usage as a rebuildable cache of the payments table
-- ---------------------------------------------------------------------------
/*
 * Limit usage becomes a cache of the payments table (docs/limits.md,
 * "Usage"): on a table with posted_at, a payment no longer writes its
 * payer's usage row.  The table of usage rows becomes the durable roll-up,
 * finsec.limit_usage_flushed: each row is the payer's usage as of its
 * payment stamped flushed_at, written once every finsec.limit_flush_every
 * payments of the payer; flushed_at NULL marks a row written per payment
 * (a table without posted_at, and every row written before 1.4), complete
 * when written.  finsec.limit_usage becomes a view of the current usage.
 */
ALTER TABLE finsec.limit_usage RENAME TO limit_usage_flushed;
ALTER INDEX finsec.limit_usage_pkey RENAME TO limit_usage_flushed_pkey;
ALTER TABLE finsec.limit_usage_flushed ADD COLUMN flushed_at timestamptz;
COMMENT ON TABLE finsec.limit_usage_flushed IS
	'durable roll-up of limit usage: per subject and bucket, the usage as of the payment stamped flushed_at (NULL: written per payment); finsec.limit_usage shows the current usage';
-- Payments stamped before limits were enabled on a table are not counted
-- for a payer without roll-up (as before 1.4: usage started at zero).
ALTER TABLE finsec.limit_table ADD COLUMN usage_since timestamptz NOT NULL DEFAULT now();
COMMENT ON COLUMN finsec.limit_table.usage_since IS
	'when limits were enabled: a payer without usage roll-up counts its payments stamped after this time';
COMMENT ON COLUMN finsec.limit_usage_flushed.flushed_at IS
	'the row includes exactly the payments of the subject stamped (posted_at) at or before this time; NULL: maintained per payment';

CREATE FUNCTION finsec._limit_usage_rows(
	OUT relid oid, OUT subject text, OUT bucket text, OUT day date, OUT day_amount numeric,
	OUT day_count bigint, OUT year integer, OUT year_amount numeric, OUT year_count bigint,
	OUT life_amount numeric, OUT life_count bigint, OUT cached boolean)
RETURNS SETOF record
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_limit_usage_rows';
COMMENT ON FUNCTION finsec._limit_usage_rows() IS
	'internal: the current limit usage of every subject (finsec.limit_usage)';
REVOKE ALL ON FUNCTION finsec._limit_usage_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._limit_usage_rows() TO finsec_admin, finsec_auditor;

CREATE VIEW finsec.limit_usage AS
	SELECT relid, subject COLLATE "C" AS subject, bucket COLLATE "C" AS bucket, day, day_amount, day_count,
		   year, year_amount, year_count, life_amount, life_count
	  FROM finsec._limit_usage_rows();
COMMENT ON VIEW finsec.limit_usage IS
	'current limit usage per subject and bucket: the shared cache, or recomputed from the roll-up (finsec.limit_usage_flushed) and the payments after it';
REVOKE ALL ON finsec.limit_usage FROM PUBLIC;
GRANT SELECT ON finsec.limit_usage TO finsec_admin, finsec_auditor;

/*
 * A superuser may still correct usage by hand (the tests move a day back):
 * the payer's current usage is first written to its roll-up, the change
 * applied there, and the payer's cached usage forgotten.  Runs as the
 * caller, who needs the privilege on finsec.limit_usage_flushed.
 */
CREATE FUNCTION finsec._limit_usage_flush(relid oid, subject text)
RETURNS void
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_limit_usage_flush';
COMMENT ON FUNCTION finsec._limit_usage_flush(oid, text) IS
	'internal: write a subject''s current limit usage to finsec.limit_usage_flushed and forget its cached usage';
REVOKE ALL ON FUNCTION finsec._limit_usage_flush(oid, text) FROM PUBLIC;

CREATE FUNCTION finsec._limit_usage_write()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT has_table_privilege('finsec.limit_usage_flushed', CASE TG_OP WHEN 'DELETE' THEN 'DELETE' ELSE 'UPDATE' END) THEN
		RAISE EXCEPTION 'permission denied for view limit_usage' USING ERRCODE = '42501',
			HINT = 'Usage is computed from the payments table; finsec.rebuild_limit_usage() recomputes it.';
	END IF;
	PERFORM finsec._limit_usage_flush(OLD.relid, OLD.subject);
	IF TG_OP = 'DELETE' THEN
		DELETE FROM finsec.limit_usage_flushed u
		 WHERE u.relid = OLD.relid AND u.subject = OLD.subject AND u.bucket = OLD.bucket;
		RETURN OLD;
	END IF;
	IF (NEW.relid, NEW.subject, NEW.bucket) IS DISTINCT FROM (OLD.relid, OLD.subject, OLD.bucket) THEN
		RAISE EXCEPTION 'the table, subject and bucket of a usage row cannot change' USING ERRCODE = '0A000';
	END IF;
	UPDATE finsec.limit_usage_flushed u
	   SET day = NEW.day, day_amount = NEW.day_amount, day_count = NEW.day_count, year = NEW.year,
		   year_amount = NEW.year_amount, year_count = NEW.year_count, life_amount = NEW.life_amount,
		   life_count = NEW.life_count
	 WHERE u.relid = OLD.relid AND u.subject = OLD.subject AND u.bucket = OLD.bucket;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION finsec._limit_usage_write() IS
	'internal: a superuser''s UPDATE or DELETE of finsec.limit_usage, applied to the payer''s roll-up';
REVOKE ALL ON FUNCTION finsec._limit_usage_write() FROM PUBLIC;
CREATE TRIGGER limit_usage_write INSTEAD OF UPDATE OR DELETE ON finsec.limit_usage
	FOR EACH ROW EXECUTE FUNCTION finsec._limit_usage_write();

CREATE FUNCTION finsec._limit_cache_forget(payments regclass)
RETURNS void
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_limit_cache_forget_fn';
COMMENT ON FUNCTION finsec._limit_cache_forget(regclass) IS
	'internal: forget the cached usage of a limited table''s payers (after its roll-up changed)';
REVOKE ALL ON FUNCTION finsec._limit_cache_forget(regclass) FROM PUBLIC;

CREATE FUNCTION finsec.limit_cache(
	OUT capacity bigint, OUT entries bigint, OUT hits bigint, OUT misses bigint, OUT miss_rows bigint,
	OUT flushes bigint, OUT evictions bigint, OUT forgotten bigint, OUT escalations bigint)
RETURNS record
LANGUAGE C VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_limit_cache_stats';
COMMENT ON FUNCTION finsec.limit_cache() IS
	'the shared cache of limit usage: capacity (finsec.limit_cache_size, 0 without the preload), entries, and counters since the server started';
REVOKE ALL ON FUNCTION finsec.limit_cache() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.limit_cache() TO finsec_admin, finsec_auditor, finsec_operator;

/* status_limits() of 1.3, reading the roll-up (the view would scan every limited table). */
CREATE OR REPLACE FUNCTION finsec.status_limits(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
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
		SELECT count(*) AS nonfinite FROM finsec.limit_usage_flushed
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
 * rebuild_limit_usage() (as in 0.8) writes the roll-up, finsec.limit_usage_flushed,
 * each row stamped with the latest posted_at it includes (or now), and
 * forgets the table's cached usage.
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
	DELETE FROM finsec.limit_usage_flushed WHERE relid = payments;
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
		'INSERT INTO finsec.limit_usage_flushed (relid, subject, bucket, day, day_amount, day_count, year, '
		'year_amount, year_count, life_amount, life_count, flushed_at) '
		'SELECT %s, s, b, $1, greatest(coalesce(sum(CASE WHEN d = $1 THEN sa END), 0), 0), '
		'coalesce(sum(CASE WHEN d = $1 AND NOT r THEN 1 END), 0), '
		'extract(year FROM $1)::int, greatest(coalesce(sum(CASE WHEN y = extract(year FROM $1) THEN sa END), 0), 0), '
		'coalesce(sum(CASE WHEN y = extract(year FROM $1) AND NOT r THEN 1 END), 0), '
		'greatest(sum(sa), 0), count(*) FILTER (WHERE NOT r), greatest($3, max(ts)) '
		'FROM (SELECT s, b, sa, ts, (ts AT TIME ZONE $2)::date AS d, '
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
	USING today, tz, clock_timestamp();
	GET DIAGNOSTICS n = ROW_COUNT;
	-- every payer's usage is its new roll-up from now on
	PERFORM finsec._limit_cache_forget(payments);
	PERFORM finsec.audit_event('limits.rebuild', payments::text, 'rebuild_limit_usage', true,
							   format('limit usage rebuilt: %s rows', n));
	RETURN n;
END
$$;

-- (end of section 1)

-- ---------------------------------------------------------------------------
-- Section 2: risk: decision log back-pressure
-- ---------------------------------------------------------------------------

-- The back-pressure of the decision log (docs/risk-log.md): waits for
-- room in a full buffer, refused scoring calls, drops, and what the flushes
-- inserted, since the server started.
CREATE FUNCTION finsec.risk_decision_log_pressure(
	OUT logging text, OUT when_full text, OUT wait_ms integer,
	OUT waits bigint, OUT waited_ms double precision,
	OUT refused bigint, OUT refused_unreported bigint, OUT dropped bigint,
	OUT flushed bigint, OUT flush_statements bigint)
RETURNS record
LANGUAGE C VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_risk_decision_log_pressure';
COMMENT ON FUNCTION finsec.risk_decision_log_pressure() IS
	'Back-pressure of the risk decision log since the server started: settings, waits for room, refused calls, drops, rows flushed';
REVOKE ALL ON FUNCTION finsec.risk_decision_log_pressure() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_decision_log_pressure() TO finsec_admin, finsec_auditor, finsec_operator;

-- (end of section 2)

-- ---------------------------------------------------------------------------
-- Section 3: audit: protected-table insert path
-- ---------------------------------------------------------------------------

-- (end of section 3)
