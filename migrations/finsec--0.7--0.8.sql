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

-- (end of section 1)

-- ---------------------------------------------------------------------
-- 2. NULL-safe functions; robustness of arguments.
-- ---------------------------------------------------------------------

-- (end of section 2)

-- ---------------------------------------------------------------------
-- 3. Audit records that survive the caller's rollback; secrets and
--    personal data kept out of logs; finsec's event namespaces reserved.
-- ---------------------------------------------------------------------

-- (end of section 3)

-- ---------------------------------------------------------------------
-- 4. Card numbers: no equality oracle for roles without finsec_unmask.
-- ---------------------------------------------------------------------

-- (end of section 4)

-- ---------------------------------------------------------------------
-- 5. The ledger and protected tables through inheritance, partitions,
--    rules, function replacement and renames.
-- ---------------------------------------------------------------------

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
	SELECT 'limits', t.untriggered = 0 AND ih.children = 0 AND late.late = 0 AND u.nonfinite = 0,
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
				WHEN u.nonfinite > 0
				THEN format('%s usage row(s) are not a finite number (NaN written by finsec 0.7): run finsec.rebuild_limit_usage()',
							u.nonfinite)
				ELSE format('%s table(s), %s enabled policies, %s frozen and %s closed accounts, %s channel(s) off; time zone %s',
							t.tables, p.policies, a.frozen, a.closed, c.off,
							current_setting('finsec.limit_timezone'))
		   END
	  FROM t, ih, late, u, p, a, c
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

-- (end of section 6-7)

-- ---------------------------------------------------------------------
-- Also: passwords (embedded sequences, keyed history), dump and restore
-- of deployed risk rulesets.
-- ---------------------------------------------------------------------

-- (end of section "also")
