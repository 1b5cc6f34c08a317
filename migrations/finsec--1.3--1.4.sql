/* finsec 1.3 -> 1.4 (issue 20: performance; each part writes only inside its own section) */
\echo Use "ALTER EXTENSION finsec UPDATE TO '1.4'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Section 1: limits — usage as a rebuildable cache of the payments table
-- ---------------------------------------------------------------------------

-- (end of section 1)

-- ---------------------------------------------------------------------------
-- Section 2: risk — decision log back-pressure
-- ---------------------------------------------------------------------------

-- (end of section 2)

-- ---------------------------------------------------------------------------
-- Section 3: audit — protected-table insert path
-- ---------------------------------------------------------------------------

-- (end of section 3)
