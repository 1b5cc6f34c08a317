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
-- No one but finsec's owner writes it: finsec_admin changes policies through two-person approval (below).

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
 * payment institutions' online payment business).  Files one change
 * request (kind limits.preset) holding the six documented policies; they
 * are written when a second finsec_admin approves it (finsec.approve), and
 * nothing is enforced until a table has limits enabled.  Tiers: tier_weak
 * = fewer than two verification factors, tier_strong = two or more factors
 * without a digital certificate; payments at a higher tier (certificate or
 * electronic signature) have only the limits agreed with the customer,
 * added by the institution.  Returns the request id.
 */
CREATE FUNCTION finsec.limit_preset_pboc_2015_43(
	payments regclass DEFAULT NULL,
	tier_weak integer DEFAULT 1,
	tier_strong integer DEFAULT 2,
	static_code_channel text DEFAULT 'barcode_static',
	reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	policies jsonb;
BEGIN
	IF tier_weak IS NULL OR tier_strong IS NULL OR tier_weak >= tier_strong THEN
		RAISE EXCEPTION 'the preset needs two authentication tiers, tier_weak below tier_strong'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('tier_weak is %s, tier_strong %s.', coalesce(tier_weak::text, 'null'),
								  coalesce(tier_strong::text, 'null'));
	END IF;
	IF static_code_channel IS NULL OR static_code_channel = '' THEN
		RAISE EXCEPTION 'the preset needs the channel of static barcode payments'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
			   'name', s.name, 'relid', payments::oid::bigint, 'account_class', s.account_class,
			   'auth_tier', s.auth_tier, 'channel', s.channel, 'period', s.period,
			   'max_amount', s.max_amount, 'source', 'PBOC announcement [2015] No. 43', 'note', s.note))
			   ORDER BY s.ord)
	  INTO policies
	  FROM (VALUES
		(1, 'pboc43 class I lifetime', 'I', NULL::integer, NULL::text, 'lifetime', 1000::numeric,
		 'Class I payment account: at most 1,000 CNY of balance payments since opening'),
		(2, 'pboc43 class II year', 'II', NULL, NULL, 'year', 100000,
		 'Class II payment account: at most 100,000 CNY of balance payments per year'),
		(3, 'pboc43 class III year', 'III', NULL, NULL, 'year', 200000,
		 'Class III payment account: at most 200,000 CNY of balance payments per year'),
		(4, 'pboc43 day fewer than 2 factors', NULL, tier_weak, NULL, 'day', 1000,
		 'fewer than two verification factors: at most 1,000 CNY per day'),
		(5, 'pboc43 day 2 factors', NULL, tier_strong, NULL, 'day', 5000,
		 'two or more factors without digital certificate: at most 5,000 CNY per day'),
		(6, 'pboc43 static barcode day', NULL, NULL, static_code_channel, 'day', 500,
		 'barcode payments, level D (static code): at most 500 CNY per day'))
		AS s(ord, name, account_class, auth_tier, channel, period, max_amount, note);
	RETURN finsec.request_change('limits.preset', 'pboc_2015_43', jsonb_build_object('policies', policies),
								 coalesce(reason, 'PBOC announcement [2015] No. 43 limits (optional preset)'));
END
$$;
COMMENT ON FUNCTION finsec.limit_preset_pboc_2015_43(regclass, integer, integer, text, text) IS
	'request the PBOC [2015] No. 43 limits as policies; a second finsec_admin approves (optional preset, docs/limits.md)';
REVOKE ALL ON FUNCTION finsec.limit_preset_pboc_2015_43(regclass, integer, integer, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.limit_preset_pboc_2015_43(regclass, integer, integer, text, text) TO finsec_admin;

-- =====================================================================
-- Policy changes through two-person approval (docs/limits.md, "Changing
-- policies").  finsec_admin cannot write finsec.limit_policy; it requests
-- a change (finsec.request_limit_policy() and friends, or
-- finsec.request_change() with one of the kinds below), which is checked
-- completely at request time and written when a different finsec_admin
-- approves it, in the approver's transaction.  A superuser can still
-- write the table directly; such rows have no request_id.
-- =====================================================================

ALTER TABLE finsec.limit_policy ADD COLUMN request_id bigint;
COMMENT ON COLUMN finsec.limit_policy.request_id IS
	'the approved change request (finsec.change_request) that last wrote this policy; NULL: written directly by a superuser';

/* A policy as the change requests pin it (NULL when there is none). */
CREATE FUNCTION finsec._limit_policy_current(policy_name text)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT jsonb_build_object(
			   'policy_id', p.policy_id, 'name', p.name, 'relid', p.relid::oid::bigint,
			   'relation', (SELECT format('%I.%I', n.nspname, c.relname)
							  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
							 WHERE c.oid = p.relid),
			   'account_class', p.account_class, 'auth_tier', p.auth_tier, 'channel', p.channel,
			   'kind', p.kind, 'period', p.period, 'max_amount', p.max_amount, 'max_count', p.max_count,
			   'enabled', p.enabled, 'source', p.source, 'note', p.note)
	  FROM finsec.limit_policy p
	 WHERE p.name = policy_name
$$;
REVOKE ALL ON FUNCTION finsec._limit_policy_current(text) FROM PUBLIC;

/*
 * Check a policy definition completely (fields, JSON types, values, the
 * table) and return it normalized, every field present.  "current" is the
 * policy it replaces, if any: a definition without "enabled" keeps its
 * state (a new policy is enabled).
 */
CREATE FUNCTION finsec._limit_policy_check(policy_name text, def jsonb, current jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	fields CONSTANT text[] := ARRAY['relid', 'account_class', 'auth_tier', 'channel', 'kind', 'period',
									 'max_amount', 'max_count', 'enabled', 'source', 'note'];
	f text;
	want text;
	got text;
	bad text;
	per text;
	amount numeric;
	cnt numeric;
	tier numeric;
	rel oid;
	relation text;
	c record;
BEGIN
	IF policy_name IS NULL OR btrim(policy_name) = '' THEN
		RAISE EXCEPTION 'a limit policy needs a name' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF octet_length(policy_name) > 63 THEN
		RAISE EXCEPTION 'limit policy name "%" is too long', policy_name
			USING ERRCODE = 'name_too_long',
				  DETAIL = format('It has %s bytes; the most is 63, so that refusals and refusal records carry it whole.',
								  octet_length(policy_name));
	END IF;
	IF def IS NULL OR jsonb_typeof(def) <> 'object' THEN
		RAISE EXCEPTION 'the definition of limit policy "%" must be a JSON object', policy_name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT string_agg(k, ', ' ORDER BY k) INTO bad FROM jsonb_object_keys(def) k WHERE k <> ALL (fields);
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'limit policy "%" has unknown field(s): %', policy_name, bad
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The fields are ' || array_to_string(fields, ', ') || '.';
	END IF;
	-- JSON types; null (or leaving a field out) means "not set".
	FOREACH f IN ARRAY fields LOOP
		got := jsonb_typeof(def->f);
		want := CASE WHEN f IN ('auth_tier', 'max_amount', 'max_count') THEN 'number'
					 WHEN f = 'enabled' THEN 'boolean'
					 WHEN f = 'relid' AND got = 'number' THEN 'number'
					 ELSE 'string' END;
		IF got IS NOT NULL AND got <> 'null' AND got <> want THEN
			RAISE EXCEPTION 'field "%" of limit policy "%" must be a JSON %, not %', f, policy_name, want, got
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END LOOP;
	FOREACH f IN ARRAY ARRAY['account_class', 'channel', 'kind'] LOOP
		IF def->>f = '' THEN
			RAISE EXCEPTION 'field "%" of limit policy "%" is empty', f, policy_name
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Leave the field out (or null) for a policy that applies to any.';
		END IF;
	END LOOP;

	per := def->>'period';
	IF per IS NULL OR per NOT IN ('single', 'day', 'year', 'lifetime') THEN
		RAISE EXCEPTION 'limit policy "%" needs a period: single, day, year or lifetime', policy_name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = CASE WHEN per IS NOT NULL THEN format('The period given is "%s".', per) END;
	END IF;
	amount := (def->>'max_amount')::numeric;
	cnt := (def->>'max_count')::numeric;
	tier := (def->>'auth_tier')::numeric;
	IF amount IS NULL AND cnt IS NULL THEN
		RAISE EXCEPTION 'limit policy "%" needs max_amount, max_count or both', policy_name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF amount < 0 OR cnt < 0 THEN
		RAISE EXCEPTION 'the limits of policy "%" cannot be negative', policy_name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF cnt <> trunc(cnt) OR cnt > 9223372036854775807 THEN
		RAISE EXCEPTION 'max_count of limit policy "%" must be a whole number of payments', policy_name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF per = 'single' AND cnt IS NOT NULL THEN
		RAISE EXCEPTION 'the single-payment limit "%" takes an amount only', policy_name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Count limits need a period of day, year or lifetime.';
	END IF;
	IF tier <> trunc(tier) OR tier NOT BETWEEN -2147483648 AND 2147483647 THEN
		RAISE EXCEPTION 'auth_tier of limit policy "%" must be an integer', policy_name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- The table: an existing table or partitioned table, not a partition
	-- (the trigger matches policies against the root of a partition tree).
	IF jsonb_typeof(def->'relid') = 'number' THEN
		IF (def->>'relid')::numeric NOT BETWEEN 1 AND 4294967295
		   OR (def->>'relid')::numeric <> trunc((def->>'relid')::numeric) THEN
			RAISE EXCEPTION 'relid of limit policy "%" is not a table OID', policy_name
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		rel := (def->>'relid')::numeric::bigint::oid;
	ELSIF jsonb_typeof(def->'relid') = 'string' THEN
		rel := to_regclass(def->>'relid');
		IF rel IS NULL THEN
			RAISE EXCEPTION 'table "%" of limit policy "%" does not exist', def->>'relid', policy_name
				USING ERRCODE = 'undefined_table',
					  HINT = 'Name it with its schema (the name is resolved with search_path = pg_catalog), or pass its OID.';
		END IF;
	END IF;
	IF rel IS NOT NULL THEN
		SELECT cl.relkind, cl.relispartition, format('%I.%I', n.nspname, cl.relname) AS qname INTO c
		  FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE cl.oid = rel;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'table with OID % of limit policy "%" does not exist', rel, policy_name
				USING ERRCODE = 'undefined_table';
		END IF;
		IF c.relkind NOT IN ('r', 'p') THEN
			RAISE EXCEPTION '% is not a table', c.qname USING ERRCODE = 'wrong_object_type';
		END IF;
		IF c.relispartition THEN
			RAISE EXCEPTION '% is a partition', c.qname
				USING ERRCODE = 'wrong_object_type',
					  DETAIL = 'Limits count payments across the partitions of a table, so a policy names the partitioned table.',
					  HINT = format('Name %s instead.', pg_partition_root(rel)::regclass);
		END IF;
		relation := c.qname;
	END IF;

	RETURN jsonb_build_object(
		'name', policy_name, 'relid', rel::bigint, 'relation', relation,
		'account_class', def->>'account_class', 'auth_tier', tier::integer, 'channel', def->>'channel',
		'kind', def->>'kind', 'period', per, 'max_amount', amount, 'max_count', cnt::bigint,
		'enabled', coalesce((def->>'enabled')::boolean, (current->>'enabled')::boolean, true),
		'source', def->>'source', 'note', def->>'note');
END
$$;
REVOKE ALL ON FUNCTION finsec._limit_policy_check(text, jsonb, jsonb) FROM PUBLIC;

/*
 * prepare: at request time, check the whole change against the policies as
 * they are, and pin each policy it replaces ("replaces"), so that approval
 * applies exactly what was requested and seen.
 */
CREATE FUNCTION finsec._limit_policy_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cur jsonb;
	item jsonb;
	items jsonb := '[]';
	names text[] := '{}';
BEGIN
	IF kind = 'limits.preset' THEN
		IF (CASE WHEN jsonb_typeof(payload) <> 'object' OR jsonb_typeof(payload->'policies') IS DISTINCT FROM 'array'
				 THEN true
				 ELSE jsonb_array_length(payload->'policies') = 0
					  OR EXISTS (SELECT 1 FROM jsonb_object_keys(payload) k WHERE k <> 'policies') END) THEN
			RAISE EXCEPTION 'a limits.preset request needs the payload {"policies": [...]}, one object per policy'
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Each object is a policy definition with its "name", as for limits.policy_set.';
		END IF;
		FOR item IN SELECT e.value FROM jsonb_array_elements(payload->'policies') e LOOP
			IF jsonb_typeof(item) <> 'object' OR jsonb_typeof(item->'name') IS DISTINCT FROM 'string' THEN
				RAISE EXCEPTION 'every policy of a limits.preset request is an object with a "name"'
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			IF item->>'name' = ANY (names) THEN
				RAISE EXCEPTION 'limit policy "%" appears twice in preset "%"', item->>'name', target
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			names := names || (item->>'name');
			cur := finsec._limit_policy_current(item->>'name');
			items := items || jsonb_build_array(jsonb_build_object(
				'policy', finsec._limit_policy_check(item->>'name', item - 'name', cur),
				'replaces', cur));
		END LOOP;
		RETURN jsonb_build_object('policies', items);
	END IF;

	cur := finsec._limit_policy_current(target);
	IF kind = 'limits.policy_set' THEN
		RETURN jsonb_build_object('policy', finsec._limit_policy_check(target, payload, cur), 'replaces', cur);
	END IF;

	-- limits.policy_drop, limits.policy_enable, limits.policy_disable
	IF payload IS DISTINCT FROM '{}'::jsonb THEN
		RAISE EXCEPTION 'a % request takes no payload', kind USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF cur IS NULL THEN
		RAISE EXCEPTION 'limit policy "%" does not exist', target USING ERRCODE = 'undefined_object';
	END IF;
	IF (kind = 'limits.policy_enable' AND (cur->>'enabled')::boolean)
	   OR (kind = 'limits.policy_disable' AND NOT (cur->>'enabled')::boolean) THEN
		RAISE EXCEPTION 'limit policy "%" is already %', target,
			CASE WHEN (cur->>'enabled')::boolean THEN 'enabled' ELSE 'disabled' END
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	RETURN jsonb_build_object('replaces', cur);
END
$$;
REVOKE ALL ON FUNCTION finsec._limit_policy_prepare(text, text, jsonb) FROM PUBLIC;

/*
 * Write one prepared change, in the approver's transaction.  The policy
 * must still be what the request pinned: a change approved in between
 * (another request, or a superuser's write) makes this approval fail, and
 * the request stays pending for the admins to reject.
 */
CREATE FUNCTION finsec._limit_policy_write(req bigint, change_kind text, policy_name text, change jsonb)
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
	RAISE EXCEPTION 'finsec cannot apply a change of kind %', change_kind USING ERRCODE = 'internal_error';
END
$$;
REVOKE ALL ON FUNCTION finsec._limit_policy_write(bigint, text, text, jsonb) FROM PUBLIC;

-- apply: on approval (finsec.approve), in the approver's transaction.
CREATE FUNCTION finsec._limit_policy_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	item jsonb;
	results jsonb := '[]';
BEGIN
	IF kind = 'limits.preset' THEN
		FOR item IN SELECT e.value FROM jsonb_array_elements(payload->'policies') e LOOP
			results := results || jsonb_build_array(finsec._limit_policy_write(
				request_id, 'limits.policy_set', item->'policy'->>'name', item));
		END LOOP;
		RETURN jsonb_build_object('preset', target, 'policies', results);
	END IF;
	RETURN finsec._limit_policy_write(request_id, kind, target, payload);
END
$$;
REVOKE ALL ON FUNCTION finsec._limit_policy_apply(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('limits.policy_set', 'finsec._limit_policy_prepare(text, text, jsonb)',
	 'finsec._limit_policy_apply(bigint, text, text, jsonb)', NULL,
	 'add a transaction limit policy, or replace the one of that name (target: policy name; payload: its definition)'),
	('limits.policy_drop', 'finsec._limit_policy_prepare(text, text, jsonb)',
	 'finsec._limit_policy_apply(bigint, text, text, jsonb)', NULL,
	 'drop a transaction limit policy (target: policy name)'),
	('limits.policy_enable', 'finsec._limit_policy_prepare(text, text, jsonb)',
	 'finsec._limit_policy_apply(bigint, text, text, jsonb)', NULL,
	 'enforce a disabled transaction limit policy again (target: policy name)'),
	('limits.policy_disable', 'finsec._limit_policy_prepare(text, text, jsonb)',
	 'finsec._limit_policy_apply(bigint, text, text, jsonb)', NULL,
	 'stop enforcing a transaction limit policy, keeping its definition (target: policy name)'),
	('limits.preset', 'finsec._limit_policy_prepare(text, text, jsonb)',
	 'finsec._limit_policy_apply(bigint, text, text, jsonb)', NULL,
	 'add or replace a set of transaction limit policies at once (target: preset name; payload: {"policies": [...]})');

CREATE FUNCTION finsec.request_limit_policy(
	name text,
	period text,
	max_amount numeric DEFAULT NULL,
	max_count bigint DEFAULT NULL,
	relid regclass DEFAULT NULL,
	account_class text DEFAULT NULL,
	auth_tier integer DEFAULT NULL,
	channel text DEFAULT NULL,
	kind text DEFAULT NULL,
	source text DEFAULT NULL,
	note text DEFAULT NULL,
	reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT finsec.request_change('limits.policy_set', $1, jsonb_strip_nulls(jsonb_build_object(
			   'period', $2, 'max_amount', $3, 'max_count', $4, 'relid', $5::oid::bigint, 'account_class', $6,
			   'auth_tier', $7, 'channel', $8, 'kind', $9, 'source', $10, 'note', $11)), $12)
$$;
COMMENT ON FUNCTION finsec.request_limit_policy(text, text, numeric, bigint, regclass, text, integer, text, text, text, text, text) IS
	'request a new transaction limit policy, or the replacement of the one of that name; another finsec_admin approves (finsec.approve)';
REVOKE ALL ON FUNCTION finsec.request_limit_policy(text, text, numeric, bigint, regclass, text, integer, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.request_limit_policy(text, text, numeric, bigint, regclass, text, integer, text, text, text, text, text) TO finsec_admin;

CREATE FUNCTION finsec.request_limit_policy_drop(name text, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT finsec.request_change('limits.policy_drop', $1, '{}', $2) $$;
COMMENT ON FUNCTION finsec.request_limit_policy_drop(text, text) IS
	'request that a transaction limit policy be dropped; another finsec_admin approves (finsec.approve)';
REVOKE ALL ON FUNCTION finsec.request_limit_policy_drop(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.request_limit_policy_drop(text, text) TO finsec_admin;

CREATE FUNCTION finsec.request_limit_policy_enabled(name text, enabled boolean, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT finsec.request_change(CASE WHEN $2 THEN 'limits.policy_enable'
									  WHEN NOT $2 THEN 'limits.policy_disable' END, $1, '{}', $3)
$$;
COMMENT ON FUNCTION finsec.request_limit_policy_enabled(text, boolean, text) IS
	'request that a transaction limit policy be enforced again (true) or no longer (false); another finsec_admin approves';
REVOKE ALL ON FUNCTION finsec.request_limit_policy_enabled(text, boolean, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.request_limit_policy_enabled(text, boolean, text) TO finsec_admin;

-- =====================================================================
-- Durable refusal records (docs/limits.md, "Refusal records").
--
-- The trigger puts every refusal into a fixed-size buffer in shared
-- memory (src/limits/refusals.c) just before it raises the refusal, so the
-- payment's rollback does not take the record with it.
-- finsec.flush_limit_refusals() moves this database's refusals from the
-- buffer into finsec.limit_refusal; the audit sealer of the database calls
-- it every round.  A refusal leaves the buffer only when the transaction
-- that inserted its row commits (exactly once while the server runs).
-- =====================================================================

CREATE SEQUENCE finsec.limit_refusal_id_seq AS bigint;
CREATE TABLE finsec.limit_refusal (
	refusal_id bigint NOT NULL DEFAULT nextval('finsec.limit_refusal_id_seq') PRIMARY KEY,
	refused_at timestamptz NOT NULL,
	rule text NOT NULL,
	relid oid,
	relation text,
	policy text,
	db_user name,
	session_user_name name,
	recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
ALTER SEQUENCE finsec.limit_refusal_id_seq OWNED BY finsec.limit_refusal.refusal_id;
CREATE INDEX limit_refusal_refused_at_idx ON finsec.limit_refusal (refused_at);
COMMENT ON TABLE finsec.limit_refusal IS
	'payments refused by the limit trigger, one row each: when, rule, table, policy, role; never the payment''s data';
COMMENT ON COLUMN finsec.limit_refusal.relid IS 'the limited table (root of a partition tree); relation is its name when recorded';
COMMENT ON COLUMN finsec.limit_refusal.db_user IS 'the role that ran the refused statement (as set by SET ROLE; NULL if dropped since)';
REVOKE ALL ON TABLE finsec.limit_refusal FROM PUBLIC;
REVOKE ALL ON SEQUENCE finsec.limit_refusal_id_seq FROM PUBLIC;
GRANT SELECT ON TABLE finsec.limit_refusal TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.limit_refusal', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.limit_refusal_id_seq', '');

CREATE FUNCTION finsec.flush_limit_refusals()
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_flush_limit_refusals';
COMMENT ON FUNCTION finsec.flush_limit_refusals() IS
	'move this database''s limit refusals from the shared-memory buffer into finsec.limit_refusal (the sealer does it every round); returns the rows written';
REVOKE ALL ON FUNCTION finsec.flush_limit_refusals() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.flush_limit_refusals() TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.limit_refusal_buffer(
	OUT capacity integer,
	OUT waiting integer,
	OUT waiting_here integer,
	OUT flushing integer,
	OUT dropped bigint,
	OUT dropped_unreported bigint)
RETURNS record
LANGUAGE C VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_limit_refusal_buffer';
COMMENT ON FUNCTION finsec.limit_refusal_buffer() IS
	'the refusal buffer: size, refusals waiting (all databases, this one), being flushed, dropped because it was full since the server started, dropped here and not yet reported';
REVOKE ALL ON FUNCTION finsec.limit_refusal_buffer() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.limit_refusal_buffer() TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec.status_limit_refusals(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT 'limit_refusals',
		   b.capacity IS NOT NULL AND b.dropped = 0 AND (s.listed OR b.waiting_here = 0),
		   CASE WHEN b.capacity IS NULL
				THEN 'refusals are neither counted nor recorded without finsec in shared_preload_libraries'
				ELSE format('%s refusal(s) of this database waiting to be recorded, %s of all databases in a buffer of %s',
							b.waiting_here, b.waiting, b.capacity)
					 || CASE WHEN b.dropped > 0
							 THEN format('; %s dropped since the server started because the buffer was full: raise finsec.limit_refusal_buffer',
										 b.dropped)
							 ELSE '' END
					 || CASE WHEN s.listed THEN '; the sealer records them in finsec.limit_refusal'
							 ELSE '; no sealer for this database: run finsec.flush_limit_refusals() on a schedule' END
		   END
	  FROM finsec.limit_refusal_buffer() b,
		   (SELECT current_database() = ANY (string_to_array(
					   replace(coalesce(current_setting('finsec.audit_seal_databases', true), ''), ' ', ''), ',')) AS listed) s
$$;
REVOKE ALL ON FUNCTION finsec.status_limit_refusals() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_limit_refusals() TO finsec_admin, finsec_auditor, finsec_operator;

-- ---------------------------------------------------------------------
-- pg_dump keeps limits' configuration and state: limited tables,
-- policies, account states and channel switches.  Usage is rebuilt after
-- a restore (finsec.rebuild_limit_usage), since it names tables by OID.
-- ---------------------------------------------------------------------
SELECT pg_catalog.pg_extension_config_dump('finsec.limit_table', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.limit_policy', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.limit_account', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.limit_channel', '');
