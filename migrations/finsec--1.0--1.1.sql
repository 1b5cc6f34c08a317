/* finsec 1.0 -> 1.1 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '1.1'" to load this file. \quit

-- =====================================================================
-- Protected personal data (issue 17, docs/protected-data.md):
-- finsec.protected_text and the protected identifier types, encrypted
-- under a policy's keyring key, fingerprinted for equality, masked on
-- output; reveal through one audited, rate-limited gate; period keys and
-- crypto-shredding; the finsec sensitivity-label provider.
-- Clauses D3, D4 (002 4.4.3, 004 8.3.5 b, 004 8.3.4 b/d enhanced,
-- 003 6.4.2.5.1, 002 3.2.7).
-- =====================================================================

-- ---------------------------------------------------------------------
-- 1. Core: policies, the protected types, their operators and casts,
--    mask(), protected_info(), protected_rekey().
-- ---------------------------------------------------------------------

-- (end of section 1)

-- ---------------------------------------------------------------------
-- 2. Reveal gate, period keys, crypto-shredding, batch re-keying.
-- ---------------------------------------------------------------------

CREATE FUNCTION finsec.reveal_stats(
	OUT budget integer,
	OUT revealed bigint,
	OUT refused bigint,
	OUT evicted_busy bigint,
	OUT level double precision,
	OUT since timestamptz)
RETURNS record
LANGUAGE C VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_reveal_stats';
COMMENT ON FUNCTION finsec.reveal_stats() IS
	'the reveal budget: the setting in this session, reveals counted and refused and busy buckets pushed out since the server started, and the session user''s bucket level now';
REVOKE ALL ON FUNCTION finsec.reveal_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.reveal_stats() TO finsec_admin, finsec_auditor, finsec_operator, finsec_unmask;

-- (end of section 2)

-- ---------------------------------------------------------------------
-- 3. Sensitivity labels: the finsec label provider's clearances,
--    labelled_columns(), label_suggestions().
-- ---------------------------------------------------------------------

-- (end of section 3)
