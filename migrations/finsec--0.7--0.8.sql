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

-- (end of section 6-7)

-- ---------------------------------------------------------------------
-- Also: passwords (embedded sequences, keyed history), dump and restore
-- of deployed risk rulesets.
-- ---------------------------------------------------------------------

-- (end of section "also")
