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

-- (end of section 6-7)

-- ---------------------------------------------------------------------
-- Also: passwords (embedded sequences, keyed history), dump and restore
-- of deployed risk rulesets.
-- ---------------------------------------------------------------------

-- (end of section "also")
