/* finsec 0.5 -> 0.6 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '0.6'" to load this file. \quit

-- =====================================================================
-- Transaction limits and account control (L1-L4, docs/limits.md).
--
-- finsec.enable_limits() installs finsec.limit_trigger() on the
-- application's own payments table.  Its configuration travels in the
-- trigger's arguments (cloned to partitions, kept by pg_dump) and is
-- recorded in finsec.limit_table for the DBA and for rebuilds.
-- =====================================================================

CREATE TABLE finsec.limit_table (
	relid regclass PRIMARY KEY,
	customer_column text NOT NULL,
	amount_column text NOT NULL,
	account_column text,
	time_column text,
	channel_column text,
	tier_column text,
	kind_column text,
	counterparty_column text,
	class_column text,
	hold_column text,
	reversal_kinds text[] NOT NULL,
	exempt_kinds text[] NOT NULL,
	enabled_by name NOT NULL,
	enabled_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE finsec.limit_table IS
	'payments tables whose rows finsec.limit_trigger() checks against finsec.limit_policy';
REVOKE ALL ON finsec.limit_table FROM PUBLIC;
GRANT SELECT ON finsec.limit_table TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * One row per limit.  NULL in relid, account_class, auth_tier, channel and
 * kind means "any".  period 'single' limits one payment; 'day' and 'year'
 * are calendar periods in finsec.limit_timezone; 'lifetime' is since the
 * account's first payment.  A policy that names a channel counts only that
 * channel's payments.
 */
CREATE TABLE finsec.limit_policy (
	policy_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text NOT NULL UNIQUE CHECK (name <> ''),
	relid regclass,
	account_class text,
	auth_tier integer,
	channel text,
	kind text,
	period text NOT NULL CHECK (period IN ('single', 'day', 'year', 'lifetime')),
	max_amount numeric CHECK (max_amount >= 0),
	max_count bigint CHECK (max_count >= 0),
	enabled boolean NOT NULL DEFAULT true,
	source text,
	note text,
	CHECK (max_amount IS NOT NULL OR max_count IS NOT NULL),
	CHECK (period <> 'single' OR max_count IS NULL)
);
COMMENT ON TABLE finsec.limit_policy IS
	'transaction limits per account class, authentication tier, channel and period (docs/limits.md)';
REVOKE ALL ON finsec.limit_policy FROM PUBLIC;
GRANT SELECT ON finsec.limit_policy TO finsec_admin, finsec_auditor, finsec_operator;
GRANT INSERT, UPDATE, DELETE ON finsec.limit_policy TO finsec_admin;

/*
 * Usage per payments table, subject (the account, or the customer when no
 * account column is named) and bucket ('' for all channels, else a channel
 * that some policy limits on its own).  Written only by the trigger and by
 * finsec.rebuild_limit_usage(); each payment updates its rows under row
 * lock, so concurrent payments queue on them.
 */
CREATE TABLE finsec.limit_usage (
	relid oid NOT NULL,
	subject text COLLATE "C" NOT NULL,
	bucket text COLLATE "C" NOT NULL,
	day date NOT NULL,
	day_amount numeric NOT NULL,
	day_count bigint NOT NULL,
	year integer NOT NULL,
	year_amount numeric NOT NULL,
	year_count bigint NOT NULL,
	life_amount numeric NOT NULL,
	life_count bigint NOT NULL,
	PRIMARY KEY (relid, subject, bucket)
);
COMMENT ON TABLE finsec.limit_usage IS
	'amounts and counts used per subject and period; rebuilt by finsec.rebuild_limit_usage()';
REVOKE ALL ON finsec.limit_usage FROM PUBLIC;
GRANT SELECT ON finsec.limit_usage TO finsec_admin, finsec_auditor;

/* Account state and loss controls (L2, L3).  No row: normal. */
CREATE TABLE finsec.limit_account (
	account text COLLATE "C" PRIMARY KEY,
	state text NOT NULL DEFAULT 'normal' CHECK (state IN ('normal', 'frozen', 'closed')),
	account_class text,
	restricted_kinds text[] NOT NULL DEFAULT '{}',
	hold_settlement boolean NOT NULL DEFAULT false,
	reason text,
	reference text,
	changed_by name NOT NULL,
	changed_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE finsec.limit_account IS
	'account state (normal, frozen, closed) and loss controls; changed by finsec.freeze_account() and friends';
REVOKE ALL ON finsec.limit_account FROM PUBLIC;
GRANT SELECT ON finsec.limit_account TO finsec_admin, finsec_auditor, finsec_operator;

CREATE TABLE finsec.limit_channel (
	channel text PRIMARY KEY,
	enabled boolean NOT NULL,
	reason text,
	changed_by name NOT NULL,
	changed_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE finsec.limit_channel IS 'channels switched off (or back on) by finsec.set_channel()';
REVOKE ALL ON finsec.limit_channel FROM PUBLIC;
GRANT SELECT ON finsec.limit_channel TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * Backends cache policies and channels and know whether any account has a
 * state; a change invalidates the caches at commit, and waits for payments
 * in flight on limited tables while holding new ones off until it commits,
 * so that no payment checked without it commits after it.
 */
CREATE FUNCTION finsec.limit_config_changed()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'finsec_limit_config_changed';
REVOKE ALL ON FUNCTION finsec.limit_config_changed() FROM PUBLIC;
CREATE TRIGGER finsec_limit_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON finsec.limit_policy FOR EACH STATEMENT EXECUTE FUNCTION finsec.limit_config_changed();
CREATE TRIGGER finsec_limit_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON finsec.limit_channel FOR EACH STATEMENT EXECUTE FUNCTION finsec.limit_config_changed();
CREATE TRIGGER finsec_limit_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON finsec.limit_account FOR EACH STATEMENT EXECUTE FUNCTION finsec.limit_config_changed();

/* Policy changes are audited. */
CREATE FUNCTION finsec.limit_policy_audit()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM finsec.audit_event('limits.policy', 'finsec.limit_policy', lower(TG_OP), true,
		format('limit policy %s %s', CASE WHEN TG_OP = 'DELETE' THEN OLD.name ELSE NEW.name END,
			   lower(TG_OP) || CASE TG_OP WHEN 'INSERT' THEN 'ed' WHEN 'UPDATE' THEN 'd' ELSE 'd' END),
		jsonb_build_object('old', CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
						   'new', CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END));
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION finsec.limit_policy_audit() FROM PUBLIC;
CREATE TRIGGER finsec_limit_policy_audit AFTER INSERT OR UPDATE OR DELETE
	ON finsec.limit_policy FOR EACH ROW EXECUTE FUNCTION finsec.limit_policy_audit();

CREATE FUNCTION finsec.limit_trigger()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'finsec_limit_trigger';
REVOKE ALL ON FUNCTION finsec.limit_trigger() FROM PUBLIC;

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
	exempt_kinds text[] DEFAULT '{}')
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_enable_limits';
COMMENT ON FUNCTION finsec.enable_limits(regclass, text, text, text, text, text, text, text, text, text, text, text[], text[]) IS
'Enforce finsec.limit_policy, account state and channel switches on a payments table (audited).';
REVOKE ALL ON FUNCTION finsec.enable_limits(regclass, text, text, text, text, text, text, text, text, text, text, text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.enable_limits(regclass, text, text, text, text, text, text, text, text, text, text, text[], text[]) TO finsec_admin;

CREATE FUNCTION finsec.disable_limits(payments regclass)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_disable_limits';
COMMENT ON FUNCTION finsec.disable_limits(regclass) IS
'Stop enforcing limits on a payments table and forget its usage (audited).';
REVOKE ALL ON FUNCTION finsec.disable_limits(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.disable_limits(regclass) TO finsec_admin;

/*
 * Recompute usage from the payments table: today's and this year's sums in
 * finsec.limit_timezone, and lifetime sums, net of reversals (never below
 * zero), per subject and limited channel.  Blocks writers of the table
 * while it runs.
 */
CREATE FUNCTION finsec.rebuild_limit_usage(payments regclass)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t finsec.limit_table;
	subj text;
	amt text;
	tcol text;
	rev text;
	chan_sql text := '';
	n bigint;
	tz text := current_setting('finsec.limit_timezone');
	today date := (statement_timestamp() AT TIME ZONE current_setting('finsec.limit_timezone'))::date;
BEGIN
	IF NOT pg_has_role(session_user, 'finsec_admin', 'MEMBER') AND NOT
	   (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
		RAISE EXCEPTION 'permission denied to rebuild limit usage' USING ERRCODE = '42501';
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
	subj := format('%I::text', coalesce(t.account_column, t.customer_column));
	amt := CASE WHEN format_type(a.atttypid, NULL) = 'numeric' THEN format('%I', t.amount_column)
				ELSE format('finsec.amount(%I)', t.amount_column) END
		   FROM pg_attribute a WHERE a.attrelid = payments AND a.attname = t.amount_column;
	tcol := format('%I', t.time_column);
	rev := CASE WHEN t.kind_column IS NULL THEN 'false'
				ELSE format('coalesce(%I::text = ANY (%L::text[]), false)', t.kind_column, t.reversal_kinds) END;
	DELETE FROM finsec.limit_usage WHERE relid = payments;
	IF t.channel_column IS NOT NULL THEN
		chan_sql := format(' UNION ALL SELECT %s, %I::text, %s, %s, %s FROM %s WHERE %I::text IN '
						   '(SELECT channel FROM finsec.limit_policy WHERE enabled AND channel IS NOT NULL '
						   'AND period <> ''single'' AND (relid IS NULL OR relid = %s)) %s',
						   subj, t.channel_column, amt, tcol, rev, payments, t.channel_column,
						   payments::oid,
						   CASE WHEN t.kind_column IS NULL THEN ''
								ELSE format('AND NOT coalesce(%I::text = ANY (%L::text[]), false)',
											t.kind_column, t.exempt_kinds) END);
	END IF;
	EXECUTE format(
		'INSERT INTO finsec.limit_usage (relid, subject, bucket, day, day_amount, day_count, year, '
		'year_amount, year_count, life_amount, life_count) '
		'SELECT %s, s, b, $1, greatest(coalesce(sum(CASE WHEN d = $1 THEN sa END), 0), 0), '
		'coalesce(sum(CASE WHEN d = $1 AND NOT r THEN 1 END), 0), '
		'extract(year FROM $1)::int, greatest(coalesce(sum(CASE WHEN y = extract(year FROM $1) THEN sa END), 0), 0), '
		'coalesce(sum(CASE WHEN y = extract(year FROM $1) AND NOT r THEN 1 END), 0), '
		'greatest(sum(sa), 0), count(*) FILTER (WHERE NOT r) '
		'FROM (SELECT s, b, CASE WHEN r THEN -a ELSE a END AS sa, (ts AT TIME ZONE $2)::date AS d, '
		'      extract(year FROM ts AT TIME ZONE $2) AS y, r '
		'      FROM (SELECT %s AS s, ''''::text AS b, %s AS a, %s AS ts, %s AS r FROM %s %s %s) p) q '
		'WHERE s IS NOT NULL AND sa IS NOT NULL AND d IS NOT NULL GROUP BY s, b',
		payments::oid, subj, amt, tcol, rev, payments,
		CASE WHEN t.kind_column IS NULL THEN ''
			 ELSE format('WHERE NOT coalesce(%I::text = ANY (%L::text[]), false)', t.kind_column, t.exempt_kinds) END,
		chan_sql)
	USING today, tz;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM finsec.audit_event('limits.rebuild', payments::text, 'rebuild_limit_usage', true,
							   format('limit usage rebuilt: %s rows', n));
	RETURN n;
END
$$;
REVOKE ALL ON FUNCTION finsec.rebuild_limit_usage(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.rebuild_limit_usage(regclass) TO finsec_admin;

-- ---------------------------------------------------------------------
-- Account state (L2) and loss controls (L3), each change audited.
-- ---------------------------------------------------------------------

CREATE FUNCTION finsec.set_account_state(account text, state text, reason text, reference text DEFAULT NULL)
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
	SELECT a.state INTO old_state FROM finsec.limit_account a WHERE a.account = set_account_state.account FOR UPDATE;
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
REVOKE ALL ON FUNCTION finsec.set_account_state(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.set_account_state(text, text, text, text) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.freeze_account(account text, reason text, reference text DEFAULT NULL)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT finsec.set_account_state(account, 'frozen', reason, reference) $$;
COMMENT ON FUNCTION finsec.freeze_account(text, text, text) IS
	'freeze an account: payments from or to it are refused (audited; reference: law-enforcement order)';
REVOKE ALL ON FUNCTION finsec.freeze_account(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.freeze_account(text, text, text) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.unfreeze_account(account text, reason text, reference text DEFAULT NULL)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT finsec.set_account_state(account, 'normal', reason, reference) $$;
COMMENT ON FUNCTION finsec.unfreeze_account(text, text, text) IS 'return a frozen account to normal (audited)';
REVOKE ALL ON FUNCTION finsec.unfreeze_account(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.unfreeze_account(text, text, text) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.close_account(account text, reason text, reference text DEFAULT NULL)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT finsec.set_account_state(account, 'closed', reason, reference) $$;
COMMENT ON FUNCTION finsec.close_account(text, text, text) IS 'close an account for good (audited)';
REVOKE ALL ON FUNCTION finsec.close_account(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.close_account(text, text, text) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.restrict_account(account text, restricted_kinds text[], hold_settlement boolean,
										reason text, account_class text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF account IS NULL OR account = '' OR restricted_kinds IS NULL OR hold_settlement IS NULL THEN
		RAISE EXCEPTION 'account, restricted_kinds and hold_settlement must not be null' USING ERRCODE = '22004';
	END IF;
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'a reason is required to restrict an account' USING ERRCODE = '22004';
	END IF;
	INSERT INTO finsec.limit_account AS a (account, restricted_kinds, hold_settlement, account_class,
										   reason, changed_by, changed_at)
	VALUES (account, restricted_kinds, hold_settlement, account_class, reason, session_user, statement_timestamp())
	ON CONFLICT ON CONSTRAINT limit_account_pkey DO UPDATE
	   SET restricted_kinds = EXCLUDED.restricted_kinds, hold_settlement = EXCLUDED.hold_settlement,
		   account_class = coalesce(EXCLUDED.account_class, a.account_class),
		   reason = EXCLUDED.reason, changed_by = EXCLUDED.changed_by, changed_at = EXCLUDED.changed_at;
	PERFORM finsec.audit_event('limits.account_controls', 'account ' || left(md5(account), 16),
							   'restrict', true,
							   format('account controls: restricted %s, settlement %s: %s', restricted_kinds,
									  CASE WHEN hold_settlement THEN 'held' ELSE 'not held' END, reason),
							   jsonb_build_object('account_class', account_class));
END
$$;
COMMENT ON FUNCTION finsec.restrict_account(text, text[], boolean, text, text) IS
	'loss controls for an account: refuse payment kinds, hold settlement; optionally set its class (audited)';
REVOKE ALL ON FUNCTION finsec.restrict_account(text, text[], boolean, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.restrict_account(text, text[], boolean, text, text) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.set_channel(channel text, enabled boolean, reason text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF channel IS NULL OR channel = '' OR enabled IS NULL THEN
		RAISE EXCEPTION 'channel and enabled must not be null' USING ERRCODE = '22004';
	END IF;
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'a reason is required to switch a channel' USING ERRCODE = '22004';
	END IF;
	INSERT INTO finsec.limit_channel AS c (channel, enabled, reason, changed_by, changed_at)
	VALUES (channel, enabled, reason, session_user, statement_timestamp())
	ON CONFLICT ON CONSTRAINT limit_channel_pkey DO UPDATE
	   SET enabled = EXCLUDED.enabled, reason = EXCLUDED.reason,
		   changed_by = EXCLUDED.changed_by, changed_at = EXCLUDED.changed_at;
	PERFORM finsec.audit_event('limits.channel', 'channel ' || channel,
							   CASE WHEN enabled THEN 'on' ELSE 'off' END, true,
							   format('channel %s switched %s: %s', channel,
									  CASE WHEN enabled THEN 'on' ELSE 'off' END, reason));
END
$$;
COMMENT ON FUNCTION finsec.set_channel(text, boolean, text) IS
	'switch a payment channel off (refused by every limited table) or back on (audited)';
REVOKE ALL ON FUNCTION finsec.set_channel(text, boolean, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.set_channel(text, boolean, text) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.status_limits(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	WITH t AS (
		SELECT count(*) AS tables,
			   count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM pg_trigger g
												   WHERE g.tgrelid = l.relid AND g.tgname = 'finsec_limits'
													 AND g.tgenabled <> 'D')) AS untriggered
		  FROM finsec.limit_table l
	), p AS (
		SELECT count(*) FILTER (WHERE enabled) AS policies FROM finsec.limit_policy
	), a AS (
		SELECT count(*) FILTER (WHERE state = 'frozen') AS frozen,
			   count(*) FILTER (WHERE state = 'closed') AS closed
		  FROM finsec.limit_account
	), c AS (
		SELECT count(*) FILTER (WHERE NOT enabled) AS off FROM finsec.limit_channel
	)
	SELECT 'limits', t.untriggered = 0,
		   CASE WHEN t.tables = 0
				THEN 'not in use; finsec.enable_limits() enforces finsec.limit_policy on a payments table: see docs/limits.md'
				WHEN t.untriggered > 0
				THEN format('%s of %s limited table(s) lost or disabled trigger finsec_limits: run finsec.enable_limits() again',
							t.untriggered, t.tables)
				ELSE format('%s table(s), %s enabled policies, %s frozen and %s closed accounts, %s channel(s) off; time zone %s',
							t.tables, p.policies, a.frozen, a.closed, c.off,
							current_setting('finsec.limit_timezone'))
		   END
	  FROM t, p, a, c
$$;
REVOKE ALL ON FUNCTION finsec.status_limits() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_limits() TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * Refusals per rule since the server started, counted in shared memory so
 * that a refused payment's rollback does not take its count with it.
 */
CREATE FUNCTION finsec.limit_refusals(OUT rule text, OUT refusals bigint, OUT since timestamptz)
RETURNS SETOF record
LANGUAGE C VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_limit_refusals';
COMMENT ON FUNCTION finsec.limit_refusals() IS
	'payments refused by the limit trigger, per rule, since the server started (not transactional)';
REVOKE ALL ON FUNCTION finsec.limit_refusals() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.limit_refusals() TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * Optional regulatory preset: PBOC announcement [2015] No. 43 (non-bank
 * payment institutions' online payment business).  Inserts documented
 * policies; nothing is enforced until a table has limits enabled.  Tiers:
 * tier_weak = fewer than two verification factors, tier_strong = two or
 * more factors without a digital certificate; payments at a higher tier
 * (certificate or electronic signature) have only the limits agreed with
 * the customer, added by the institution.
 */
CREATE FUNCTION finsec.limit_preset_pboc_2015_43(
	payments regclass DEFAULT NULL,
	tier_weak integer DEFAULT 1,
	tier_strong integer DEFAULT 2,
	static_code_channel text DEFAULT 'barcode_static')
RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	WITH src(name, account_class, auth_tier, channel, period, max_amount, note) AS (VALUES
		('pboc43 class I lifetime', 'I', NULL::integer, NULL::text, 'lifetime', 1000::numeric,
		 'Class I payment account: at most 1,000 CNY of balance payments since opening'),
		('pboc43 class II year', 'II', NULL, NULL, 'year', 100000,
		 'Class II payment account: at most 100,000 CNY of balance payments per year'),
		('pboc43 class III year', 'III', NULL, NULL, 'year', 200000,
		 'Class III payment account: at most 200,000 CNY of balance payments per year'),
		('pboc43 day fewer than 2 factors', NULL, tier_weak, NULL, 'day', 1000,
		 'fewer than two verification factors: at most 1,000 CNY per day'),
		('pboc43 day 2 factors', NULL, tier_strong, NULL, 'day', 5000,
		 'two or more factors without digital certificate: at most 5,000 CNY per day'),
		('pboc43 static barcode day', NULL, NULL, static_code_channel, 'day', 500,
		 'barcode payments, level D (static code): at most 500 CNY per day'))
	, ins AS (
		INSERT INTO finsec.limit_policy (name, relid, account_class, auth_tier, channel, period,
										 max_amount, source, note)
		SELECT name, payments, account_class, auth_tier, channel, period, max_amount,
			   'PBOC announcement [2015] No. 43', note
		  FROM src
		RETURNING 1)
	SELECT count(*)::integer FROM ins
$$;
COMMENT ON FUNCTION finsec.limit_preset_pboc_2015_43(regclass, integer, integer, text) IS
	'insert the PBOC [2015] No. 43 limits as policies (optional preset, docs/limits.md)';
REVOKE ALL ON FUNCTION finsec.limit_preset_pboc_2015_43(regclass, integer, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.limit_preset_pboc_2015_43(regclass, integer, integer, text) TO finsec_admin;
