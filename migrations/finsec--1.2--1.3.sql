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

-- (end of section 7)
