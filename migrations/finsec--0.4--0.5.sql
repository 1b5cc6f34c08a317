/* finsec--0.4--0.5.sql -- types: protected bank card and account numbers,
 * exact money with currency, validated Chinese identifiers.
 *
 * Requirements D1, D2, D3, D8, D9 (docs/cards.md, docs/money.md,
 * docs/identifiers.md).
 */

\echo Use "ALTER EXTENSION finsec UPDATE TO '0.5'" to load this file. \quit

-- =====================================================================
-- Money: exact amounts in minor units with an ISO 4217 currency (src/money)
-- =====================================================================

-- (money section)

-- =====================================================================
-- Chinese identifiers: resident ID, unified social credit code, mobile (src/cnid)
-- =====================================================================

-- (identifier section)

-- =====================================================================
-- Protected bank card and account numbers (src/card)
-- =====================================================================

-- (card section)

-- =====================================================================
-- end of finsec--0.4--0.5.sql
-- =====================================================================
