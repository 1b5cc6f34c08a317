/* finsec 1.3 -> 1.4 (issue 20: performance; each part writes only inside its own section) */
\echo Use "ALTER EXTENSION finsec UPDATE TO '1.4'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Section 1: limits — usage as a rebuildable cache of the payments table
-- ---------------------------------------------------------------------------

-- (end of section 1)

-- ---------------------------------------------------------------------------
-- Section 2: risk — decision log back-pressure
-- ---------------------------------------------------------------------------

-- The back-pressure of the decision log (docs/risk-log.md): waits for
-- room in a full buffer, refused scoring calls, drops, and what the flushes
-- inserted, since the server started.
CREATE FUNCTION finsec.risk_decision_log_pressure(
	OUT logging text, OUT when_full text, OUT wait_ms integer,
	OUT waits bigint, OUT waited_ms double precision,
	OUT refused bigint, OUT refused_unreported bigint, OUT dropped bigint,
	OUT flushed bigint, OUT flush_statements bigint)
RETURNS record
LANGUAGE C VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_risk_decision_log_pressure';
COMMENT ON FUNCTION finsec.risk_decision_log_pressure() IS
	'Back-pressure of the risk decision log since the server started: settings, waits for room, refused calls, drops, rows flushed';
REVOKE ALL ON FUNCTION finsec.risk_decision_log_pressure() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_decision_log_pressure() TO finsec_admin, finsec_auditor, finsec_operator;

-- (end of section 2)

-- ---------------------------------------------------------------------------
-- Section 3: audit — protected-table insert path
-- ---------------------------------------------------------------------------

-- (end of section 3)
