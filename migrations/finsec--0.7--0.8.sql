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
