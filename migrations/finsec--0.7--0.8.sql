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
