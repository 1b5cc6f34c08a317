/* finsec 1.2 -> 1.3 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '1.3'" to load this file. \quit

-- =====================================================================
-- Compliance self-check and reports (issue 19, docs/compliance.md): the
-- clause catalog of the four standards, finsec.compliance_check() that
-- inspects the live system clause by clause (and says cannot_verify,
-- never pass, where the caller cannot see), exclusions by two people,
-- the disaster-recovery level, the backup register, the reports and the
-- printable HTML report.  Requirements P1, U4, Q1, B1, B2, B3-B6 and the
-- check half of A1c, A4, A5, A6, A9-A14, A17, A18, D1, D13, C7, W8.
--
-- Calling convention of a check (section 2): a function
--	  f(args jsonb, OUT status text, OUT evidence jsonb)
-- registered in finsec.compliance_check_def, SECURITY INVOKER (it sees
-- what its caller sees), status one of pass, fail, warn, cannot_verify,
-- out_of_scope; finsec.compliance_check() turns manual clauses into
-- manual and excluded clauses into excluded itself.  A check that cannot
-- see what it must judge returns cannot_verify with evidence saying
-- what it could not read; an error inside a check is cannot_verify too.
-- =====================================================================

-- ---------------------------------------------------------------------
-- 1. Catalog: finsec.clause, the checks, which clause each check answers
--    (with that clause's numbers), exclusions.
-- ---------------------------------------------------------------------

/*
 * The checks finsec knows: one function each (calling convention above).
 * builtin rows are finsec's; a customer may add checks of its own internal
 * controls (builtin false): the function must be owned by a superuser, or
 * compliance_check() reports the check as cannot_verify without calling it
 * (a function a non-superuser can redefine must never run under an
 * auditor's or a superuser's privileges).
 */
CREATE TABLE finsec.compliance_check_def (
	check_name	text PRIMARY KEY CHECK (check_name ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$'),
	function	regprocedure NOT NULL,
	title_zh	text NOT NULL,
	title_en	text NOT NULL,
	builtin		boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE finsec.compliance_check_def IS
	'the checks of finsec.compliance_check(): a function (args jsonb, OUT status text, OUT evidence jsonb) each; customer checks have builtin false';
REVOKE ALL ON TABLE finsec.compliance_check_def FROM PUBLIC;
GRANT SELECT ON TABLE finsec.compliance_check_def TO finsec_admin, finsec_auditor;

/*
 * The clause catalog: every clause of the four standards that a database
 * can enforce or check, and the organisational ones as manual.  Data, not
 * code: a customer adds its own internal controls (builtin false).
 */
CREATE TABLE finsec.clause (
	clause_id		text PRIMARY KEY CHECK (clause_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]*$'),
	standard		text NOT NULL,			-- 'JR/T 0199-2020', 'JR/T 0096.5-2012', 'JR/T 0117-2014', 'PAY-FAC-V3.0', or the customer's own
	clause			text NOT NULL,			-- the standard's own clause number, e.g. '7.5.9 a'
	digest_ids		text[] NOT NULL DEFAULT '{}',	-- the requirement digest's ids (A1, D2, ...) that cite it
	title_zh		text NOT NULL,
	title_en		text NOT NULL,
	requirement_zh	text NOT NULL,
	requirement_en	text NOT NULL,
	kind			text NOT NULL CHECK (kind IN ('automated', 'manual')),
	level			text,					-- enhanced ('增强') or basic, where the standard grades it
	control			text NOT NULL,			-- the finsec control that answers it (docs page and object)
	remediation_zh	text NOT NULL,
	remediation_en	text NOT NULL,
	refs			text,					-- further references (other standards' clauses, docs)
	builtin			boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE finsec.clause IS
	'clause catalog of the four standards (and the customer''s own controls, builtin false): requirement and remediation in Chinese and English, automated or manual, the finsec control';
REVOKE ALL ON TABLE finsec.clause FROM PUBLIC;
GRANT SELECT ON TABLE finsec.clause TO finsec_admin, finsec_auditor;

/* Which checks answer a clause, with that clause's own numbers (args). */
CREATE TABLE finsec.clause_check (
	clause_id	text NOT NULL REFERENCES finsec.clause ON UPDATE CASCADE ON DELETE CASCADE,
	check_name	text NOT NULL REFERENCES finsec.compliance_check_def ON UPDATE CASCADE,
	args		jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(args) = 'object'),
	builtin		boolean NOT NULL DEFAULT false,
	PRIMARY KEY (clause_id, check_name)
);
COMMENT ON TABLE finsec.clause_check IS
	'the checks that verify each clause, with the clause''s thresholds as args';
REVOKE ALL ON TABLE finsec.clause_check FROM PUBLIC;
GRANT SELECT ON TABLE finsec.clause_check TO finsec_admin, finsec_auditor;

-- (end of section 1)



-- ---------------------------------------------------------------------
-- 1b. The catalog's rows: the four standards, clause by clause (clause
--     ids '<seed>:<clause>', e.g. '004:7.5.9a', '004:8.3.4b-enh').
--     Sections 3 and 4 map their checks onto these rows.
-- ---------------------------------------------------------------------

-- (end of section 1b)



-- ---------------------------------------------------------------------
-- 2. finsec.compliance_check(standard, lang) and compliance_exclude.
-- ---------------------------------------------------------------------

-- (end of section 2)



-- ---------------------------------------------------------------------
-- 3. Checks of identity, credentials, roles, connections, logging,
--    keys and the ledger.
-- ---------------------------------------------------------------------

-- (end of section 3)



-- ---------------------------------------------------------------------
-- 4. Checks of data: card data in plain columns, sensitive
--    authentication data, unprotected posted tables, unlabelled
--    sensitive columns, outbound links.
-- ---------------------------------------------------------------------

-- (end of section 4)



-- ---------------------------------------------------------------------
-- 4b. Checks of durability and continuity; the backup register;
--     finsec.dr_level().
-- ---------------------------------------------------------------------

-- (end of section 4b)



-- ---------------------------------------------------------------------
-- 5. Reports: finsec.report_*(from, to, lang).
-- ---------------------------------------------------------------------

-- (end of section 5)



-- ---------------------------------------------------------------------
-- 6. The printable report (compliance_report_html) and compliance_json.
-- ---------------------------------------------------------------------

-- (end of section 6)



-- ---------------------------------------------------------------------
-- 7. Last successful login of each role; recorded key and ledger
--    verifications.
-- ---------------------------------------------------------------------


/*
 * The last successful login of each role (docs/compliance-lastlogin.md,
 * src/auth/lastlogin.c): the authentication path records it in shared
 * memory; the worker task auth.login_flush of the auth audit database
 * (finsec.auth_audit_database, else the first of
 * finsec.audit_seal_databases) upserts it here as finsec's owner.  Only
 * finsec writes it; role_oid tells a role from a later one of the same
 * name (and follows a rename).
 */
CREATE TABLE finsec.role_login (
	role			name PRIMARY KEY,
	role_oid		oid,
	last_login_at	timestamptz NOT NULL,
	last_address	text,
	logins			bigint NOT NULL DEFAULT 0 CHECK (logins >= 0)
);
COMMENT ON TABLE finsec.role_login IS
	'last successful login of each role (flushed from shared memory by the worker task auth.login_flush); finsec.role_last_login() is the interface';
REVOKE ALL ON TABLE finsec.role_login FROM PUBLIC;
GRANT SELECT ON TABLE finsec.role_login TO finsec_admin, finsec_auditor;

/* Since when this database records logins: the install or upgrade to 1.3. */
CREATE TABLE finsec.role_login_since (
	one				boolean PRIMARY KEY DEFAULT true CHECK (one),
	recording_since	timestamptz NOT NULL DEFAULT now()
);
INSERT INTO finsec.role_login_since DEFAULT VALUES;
COMMENT ON TABLE finsec.role_login_since IS
	'one row: since when finsec.role_login records logins in this database (installation of or upgrade to finsec 1.3)';
REVOKE ALL ON TABLE finsec.role_login_since FROM PUBLIC;
GRANT SELECT ON TABLE finsec.role_login_since TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._role_login_pending(
	OUT role name,
	OUT role_oid oid,
	OUT last_login_at timestamptz,
	OUT last_address text,
	OUT flushed boolean,
	OUT server_recording_since timestamptz,
	OUT dropped bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'finsec_role_login_pending'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec._role_login_pending() IS
	'the last logins this server holds in shared memory (flushed false: not yet in finsec.role_login); finsec.role_last_login() is the interface';
REVOKE ALL ON FUNCTION finsec._role_login_pending() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._role_login_pending() TO finsec_admin, finsec_auditor;

/*
 * One row per role that can log in: the newest of finsec.role_login and
 * the logins not yet flushed; never logged in since recording began: NULL.
 * SECURITY INVOKER: the caller needs SELECT on finsec.role_login and
 * EXECUTE on finsec._role_login_pending() (finsec_admin, finsec_auditor).
 */
CREATE FUNCTION finsec.role_last_login(
	OUT role name,
	OUT last_login_at timestamptz,
	OUT last_address text,
	OUT recording_since timestamptz)
RETURNS SETOF record
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH p AS MATERIALIZED (
			SELECT q.role_oid, q.last_login_at, q.last_address
			  FROM finsec._role_login_pending() q),
		 s AS (SELECT min(x.recording_since) AS since FROM finsec.role_login_since x)
	SELECT r.rolname, l.at, l.addr, s.since
	  FROM pg_catalog.pg_roles r
	 CROSS JOIN s
	  LEFT JOIN LATERAL (
			SELECT x.at, x.addr
			  FROM (SELECT t.last_login_at AS at, t.last_address AS addr
					  FROM finsec.role_login t
					 WHERE t.role_oid = r.oid
					UNION ALL
					SELECT p.last_login_at, p.last_address
					  FROM p
					 WHERE p.role_oid = r.oid) x
			 ORDER BY x.at DESC
			 LIMIT 1) l ON true
	 WHERE r.rolcanlogin
	 ORDER BY r.rolname
$$;
COMMENT ON FUNCTION finsec.role_last_login() IS
	'last successful login of every role that can log in (NULL: none since recording_since), from finsec.role_login and the logins not yet flushed';
REVOKE ALL ON FUNCTION finsec.role_last_login() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.role_last_login() TO finsec_admin, finsec_auditor;

/*
 * Recorded verifications: finsec.key_verify() writes key.verify and
 * finsec.audit_verify() audit.verify, durable (they survive the caller's
 * rollback), not on a standby.  The verification query of audit_verify
 * keeps its body under the name _audit_verify_rows; audit_verify becomes
 * the C function that runs it and records the result.
 */
ALTER FUNCTION finsec.audit_verify(regclass, jsonb) RENAME TO _audit_verify_rows;
COMMENT ON FUNCTION finsec._audit_verify_rows(regclass, jsonb) IS
	'the verification behind finsec.audit_verify() (which also records it as audit.verify)';

CREATE FUNCTION finsec.audit_verify(
	rel regclass DEFAULT NULL,
	since jsonb DEFAULT NULL,
	OUT relation regclass,
	OUT ok boolean,
	OUT rows_checked bigint,
	OUT blocks_checked bigint,
	OUT rows_pending bigint,
	OUT first_failure text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'finsec_audit_verify_recorded'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION finsec.audit_verify(regclass, jsonb) IS
	'verify protected tables against their hash chains, from the start or from an earlier digest; recorded as audit.verify (durable)';
REVOKE ALL ON FUNCTION finsec.audit_verify(regclass, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.audit_verify(regclass, jsonb) TO finsec_auditor;

COMMENT ON FUNCTION finsec.key_verify() IS
	'unwrap every active and retired key version and check it against its check value (D7 periodic verification); recorded as key.verify (durable)';

-- (end of section 7)
