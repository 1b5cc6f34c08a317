/* finsec--0.3--0.4.sql -- keyring with two-person control, and message
 * security: MACs, signatures, replay and duplicate-payment guards, one-time
 * codes.
 *
 * Requirements D5, D7, A7, M1-M4, M6, M7 (docs/keyring.md, docs/mac.md,
 * docs/signatures.md, docs/guards.md).
 */

\echo Use "ALTER EXTENSION finsec UPDATE TO '0.4'" to load this file. \quit

-- =====================================================================
-- Keyring and two-person approvals (src/keyring)
-- =====================================================================

-- (keyring section)

-- =====================================================================
-- Message authentication codes and one-time codes (src/mac)
-- =====================================================================

-- (mac section)

-- =====================================================================
-- Replay and duplicate-payment guards (src/guard)
-- =====================================================================

-- (guard section)

-- =====================================================================
-- Signatures: registered signers, proof of origin and receipt (src/signature)
-- =====================================================================

-- (signature section)

-- =====================================================================
-- end of finsec--0.3--0.4.sql
-- =====================================================================
