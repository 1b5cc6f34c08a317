--
-- 150_compliance_catalog: the clause catalog (migration 1.3 section 1b).
-- Completeness against the requirements digest (every source clause it
-- cites is a row, listing the digest ids that cite it), ids well formed,
-- standards and levels consistent with the ids, texts bilingual and
-- non-empty, every automated clause either verified by a check or listed
-- here as not yet mapped, manual clauses not mapped, privileges.
--
SET client_min_messages = warning;
\set VERBOSITY sqlstate

-- The digest's (id, source clause) pairs, from the source column of
-- ../shared/spec/requirements.md (ids per the common convention:
-- '<seed>:<clause><item>', enhanced requirements '-enh'; "6.2.2.7-6.2.2.9"
-- and "7.4b-c" expanded).
CREATE TEMP TABLE digest (digest_id text, clause_id text);
INSERT INTO digest VALUES
	('A1', '004:7.5.9a'), ('A10', '002:3.2.7'), ('A11', '002:3.2.5'), ('A11', '003:6.4.1.7.3'), ('A11', '003:6.4.2.1.1'),
	('A11', '003:6.4.2.8.1'), ('A11', '004:8.3.3a-enh'), ('A11', '004:8.3.3e'), ('A12', '002:4.4.2'), ('A12', '004:8.2.1'),
	('A12', '004:8.2.2c-enh'), ('A13', '003:6.4.2.8.2'), ('A13', '004:8.3.3e'), ('A13', '004:8.3.4i-enh'), ('A14', '004:7.2.2a-enh'),
	('A15', '004:7.3.4a'), ('A15', '004:7.3.4a-enh'), ('A16', '002:3.2.6'), ('A16', '004:7.5.10a'), ('A17', '001:11.3.2d'),
	('A17', '003:6.4.3.3.1'), ('A17', '004:8.3.4b'), ('A18', '003:6.4.3.3.6'), ('A1b', '001:5.1b'), ('A1c', '002:3.2.6'),
	('A2', '002:3.2.6'), ('A2', '004:7.5.9a'), ('A2', '004:8.3.2f'), ('A2', '004:8.3.3a'), ('A2', '004:8.3.4a'),
	('A3', '001:11.3.2d'), ('A3', '003:6.4.1.7.5'), ('A3', '003:6.4.2.1.3'), ('A3', '003:6.4.3.1.4'), ('A3', '004:8.3.3a'),
	('A3', '004:8.3.4a'), ('A3b', '001:11.2.2i'), ('A4', '003:6.4.2.1.1'), ('A4', '003:6.4.2.2.3'), ('A4', '004:8.3.3a'),
	('A4', '004:8.3.3b'), ('A5', '003:6.4.1.2.6'), ('A5', '004:8.3.4g'), ('A6', '002:3.2.6'), ('A6', '003:6.4.2.2.1'),
	('A6', '004:7.2.2b'), ('A6', '004:7.2.2c'), ('A6', '004:7.3.5b'), ('A6', '004:8.3.3b'), ('A7', '002:3.2.6'),
	('A7', '004:7.1.1e'), ('A7', '004:7.5.9-enh'), ('A8', '001:5.1b'), ('A9', '002:3.2.5'), ('A9', '002:3.2.6'),
	('B1', '001:7.2g'), ('B1', '001:appendix'), ('B2', '002:3.2.9'), ('B2', '004:8.3.5c'), ('B3', '001:7.3d'),
	('B3', '002:3.2.9'), ('B4', '001:7.4b'), ('B4', '001:7.4c'), ('B4', '004:7.5.11a-enh'), ('B4', '004:7.5.11b-enh'),
	('B5', '001:7.5b'), ('B6', '004:8.3.5b-enh'), ('C1', '004:9.7a'), ('C1', '004:9.7b'), ('C10', '004:9.4.2c'),
	('C11', '004:9.6a'), ('C12', '004:8.3.2b-enh'), ('C13', '004:9.8b'), ('C13', '004:9.8c'), ('C14', '004:9.3a'),
	('C14', '004:9.3d'), ('C2', '004:9.7c'), ('C3', '004:9.6b'), ('C3', '004:9.6c'), ('C4', '004:9.10'),
	('C5', '004:9.8'), ('C6', '004:9.5'), ('C7', '004:9.9'), ('C8', '002:3.1'), ('C8', '004:9.1'),
	('C8', '004:9.2'), ('C9', '004:9.4.1b'), ('C9', '004:9.4.1c'), ('C9', '004:9.4.1d'), ('D1', '002:3.2.7'),
	('D10', '003:6.4.2.5.1'), ('D10', '004:8.3.4d-enh'), ('D11', '002:4.4.3'), ('D12', '004:7.4.4b'), ('D13', '003:6.4.3.3.5'),
	('D13', '004:8.3.4h-enh'), ('D14', '004:8.3.4f'), ('D14', '004:9.4.2c'), ('D14', '004:9.7a'), ('D2', '002:3.2.7'),
	('D3', '002:4.4.3'), ('D3', '004:8.3.5b'), ('D4', '004:8.3.4b-enh'), ('D5', '003:6.4.2.5.1'), ('D5', '004:8.3.4d-enh'),
	('D6', '004:8.3.4d'), ('D6', '004:8.3.4e'), ('D6', '004:8.3.5a'), ('D7', '002:3.2.7'), ('D7', '004:7.5.9-enh'),
	('D8', '003:6.1.4'), ('D8', '003:6.1.5'), ('D8', '003:6.1.6'), ('D9', '003:6.2.1.1'), ('D9', '004:3'),
	('D9', '004:9'), ('L1', '001:5.1b'), ('L1', '003:6.2.2.7'), ('L1', '003:6.2.2.8'), ('L1', '003:6.2.2.9'),
	('L10', '001:12.2c'), ('L10', '003:6.1.3.11'), ('L11', '003:6.1.8.2'), ('L11', '003:6.1.8.4'), ('L2', '001:5.3.3c'),
	('L2', '002:3.2.2'), ('L2', '003:6.1.2.1'), ('L3', '001:5.3.3d'), ('L4', '001:5.2b'), ('L5', '002:3.2.2'),
	('L6', '001:5.3.3c'), ('L7', '003:6.1.2.4'), ('L8', '003:6.1.6.1'), ('L9', '003:6.1.6.2'), ('M1', '002:4.4.3'),
	('M2', '001:11.3.2d'), ('M2', '002:4.4.4'), ('M3', '002:4.4.4'), ('M3', '003:6.1.3.4'), ('M3', '003:6.1.6.2'),
	('M4', '002:4.4.4'), ('M4', '004:8.3.4g-enh'), ('M5', '002:4.2'), ('M6', '002:4.4.2'), ('M7', '001:11.3.2d'),
	('M7', '001:5.1b'), ('P1', '003:6.1.5'), ('P1', '003:6.1.7'), ('P1', '003:6.2.4.5'), ('Q1', '001:10.1'),
	('R1', '001:5.3.1'), ('R1', '003:6.2.2.5'), ('R10', '003:6.2.3.1'), ('R2', '001:5.3.2'), ('R3', '001:5.3.3a'),
	('R4', '001:11.3.3b'), ('R4', '001:5.3.3b'), ('R5', '001:11.3.3c'), ('R6', '003:6.2.4.2'), ('R7', '003:6.2.3'),
	('R8', '001:8.1'), ('R8', '001:8.2'), ('R8', '001:8.3'), ('R8', '001:8.4'), ('R9', '001:5.3.2b'),
	('R9', '003:6.2.5'), ('U1', '003:6.4.1.3.1'), ('U1', '003:6.4.2.3.1'), ('U1', '003:6.4.3.4.1'), ('U1', '004:7.1.2e'),
	('U1', '004:8.3.4c'), ('U10', '004:7.1.2d'), ('U11', '004:7.5.5b'), ('U11', '004:7.5.7f'), ('U12', '003:6.4.1.3.5-enh'),
	('U13', '003:6.4.2.6.1'), ('U13', '004:8.3.3c-enh'), ('U2', '003:6.4.2.3.2'), ('U2', '004:8.3.4c'), ('U3', '002:3.2.6'),
	('U3', '004:7.1.2e'), ('U4', '003:6.4.1.3.3'), ('U4', '004:8.3.4c-enh'), ('U5', '003:6.4.3.3.3'), ('U5', '003:6.4.3.3.4'),
	('U6', '002:3.2.5'), ('U6', '003:6.4.2.3.1'), ('U6', '004:7.1.2c'), ('U6', '004:8.3.3c'), ('U7', '003:6.4.2.9.4'),
	('U7', '004:7.5.7e'), ('U8', '003:6.1.8.1'), ('U9', '002:3.2.7'), ('W1', '003:6.2.2.4'), ('W1', '003:6.2.2.5'),
	('W1', '003:6.2.2.6'), ('W2', '001:6d'), ('W2', '003:6.4.2.8.2'), ('W2', '004:8.3.3d'), ('W3', '003:6.4.1.3.5-enh'),
	('W4', '004:9.3c'), ('W4', '004:9.7c'), ('W5', '001:7.4h'), ('W5', '001:7.4i'), ('W6', '003:6.3.1'),
	('W7', '002:3.2.5'), ('W7', '003:6.4.2.4.3'), ('W8', '003:6.4.1.4.1'), ('W8', '004:7.5.6f'), ('W8', '004:8.3.2d');
SELECT count(*) AS pairs, count(DISTINCT digest_id) AS digest_ids, count(DISTINCT clause_id) AS clauses FROM digest;
-- every cited clause is in the catalog and lists the digest id (no rows)
SELECT d.digest_id, d.clause_id, c.digest_ids
  FROM digest d LEFT JOIN finsec.clause c ON c.clause_id = d.clause_id
 WHERE c.clause_id IS NULL OR NOT d.digest_id = ANY (c.digest_ids)
 ORDER BY 1, 2;
-- and no clause claims a digest id the digest does not give it (no rows)
SELECT c.clause_id, x.digest_id
  FROM finsec.clause c, unnest(c.digest_ids) AS x(digest_id)
 WHERE NOT EXISTS (SELECT 1 FROM digest d WHERE d.clause_id = c.clause_id AND d.digest_id = x.digest_id)
 ORDER BY 1, 2;

-- ids well formed, standard and level agree with the id (no rows)
SELECT clause_id, standard, clause, level FROM finsec.clause
 WHERE builtin AND (
	   clause_id !~ '^00[1-4]:([0-9]+(\.[0-9]+)*[a-z]?(-enh)?|appendix)$'
	OR standard <> CASE left(clause_id, 3) WHEN '001' THEN 'JR/T 0199-2020' WHEN '002' THEN 'JR/T 0096.5-2012'
										 WHEN '003' THEN 'PAY-FAC-V3.0' WHEN '004' THEN 'JR/T 0117-2014' END
	OR (level IS NOT DISTINCT FROM 'enhanced') <> (clause_id LIKE '%-enh')
	OR replace(replace(clause, ' 增强要求', '-enh'), ' ', '') <> split_part(clause_id, ':', 2)
	   AND clause_id <> '001:appendix')
 ORDER BY 1;
-- texts: Chinese where Chinese, English where English, none empty (no rows)
SELECT clause_id FROM finsec.clause
 WHERE builtin AND (
	   title_zh !~ '[一-龥]' OR requirement_zh !~ '[一-龥]' OR remediation_zh !~ '[一-龥]'
	OR title_en ~ '[一-龥]' OR requirement_en ~ '[一-龥]' OR remediation_en ~ '[一-龥]' OR control ~ '[一-龥]'
	OR length(btrim(title_en)) < 3 OR length(btrim(requirement_en)) < 10 OR length(btrim(remediation_en)) < 10
	OR length(btrim(requirement_zh)) < 5 OR length(btrim(control)) < 5
	OR requirement_zh ~ '(ITEM-NOT-FOUND|本文来源|iiKaca)')
 ORDER BY 1;

-- the catalog by standard and kind
SELECT standard, count(*) AS clauses, count(*) FILTER (WHERE kind = 'automated') AS automated,
	   count(*) FILTER (WHERE kind = 'manual') AS manual, count(*) FILTER (WHERE level = 'enhanced') AS enhanced,
	   count(*) FILTER (WHERE cardinality(digest_ids) > 0) AS cited_by_digest
  FROM finsec.clause WHERE builtin GROUP BY ROLLUP (standard) ORDER BY standard;

-- Automated clauses that no check verifies yet: compliance_check() says
-- cannot_verify ('no check maps this clause') for each.  The list shrinks
-- as checks are mapped; a clause missing from it and unmapped is an error.
CREATE TEMP TABLE not_yet_mapped (clause_id text);
INSERT INTO not_yet_mapped VALUES
	('003:6.4.2.6.1'), ('004:7.3.4a'), ('004:7.3.4a-enh'), ('004:8.3.3c-enh');
-- unmapped automated clauses not in the list (no rows)
SELECT c.clause_id FROM finsec.clause c
 WHERE c.builtin AND c.kind = 'automated'
   AND NOT EXISTS (SELECT 1 FROM finsec.clause_check cc WHERE cc.clause_id = c.clause_id)
   AND NOT EXISTS (SELECT 1 FROM not_yet_mapped n WHERE n.clause_id = c.clause_id)
 ORDER BY 1;
-- listed but not an automated clause (no rows).  (A listed clause that a
-- check part maps meanwhile is harmless: prune it when convenient -
-- SELECT clause_id FROM not_yet_mapped n WHERE EXISTS (SELECT 1 FROM
-- finsec.clause_check cc WHERE cc.clause_id = n.clause_id).)
SELECT n.clause_id FROM not_yet_mapped n
 WHERE NOT EXISTS (SELECT 1 FROM finsec.clause c WHERE c.clause_id = n.clause_id AND c.kind = 'automated')
 ORDER BY 1;
-- builtin mappings only on automated builtin clauses, of builtin checks
-- that are members of the extension (no rows)
SELECT cc.clause_id, cc.check_name
  FROM finsec.clause_check cc
  JOIN finsec.clause c ON c.clause_id = cc.clause_id
  LEFT JOIN finsec.compliance_check_def d ON d.check_name = cc.check_name
 WHERE cc.builtin AND (c.kind <> 'automated' OR NOT c.builtin OR d.check_name IS NULL OR NOT d.builtin
	   OR NOT EXISTS (SELECT 1 FROM pg_depend dep JOIN pg_extension e ON e.oid = dep.refobjid
					   WHERE dep.classid = 'pg_proc'::regclass AND dep.objid = d.function
						 AND e.extname = 'finsec' AND dep.deptype = 'e'))
 ORDER BY 1, 2;

-- the digest rows that the issue names explicitly are automated
SELECT clause_id, kind FROM finsec.clause
 WHERE clause_id IN ('004:7.5.9a', '002:3.2.6', '002:3.2.7', '004:7.2.2a-enh', '001:7.2g', '001:appendix',
					 '004:8.3.5c', '001:7.3d', '001:7.5b', '004:9.9', '003:6.4.1.4.1')
 ORDER BY 1;

-- privileges: the tables are read by finsec_admin and finsec_auditor only
SELECT c.relname,
	   has_table_privilege('finsec_auditor', c.oid, 'SELECT') AS auditor_select,
	   has_table_privilege('finsec_admin', c.oid, 'INSERT') AS admin_insert,
	   has_table_privilege('finsec_app', c.oid, 'SELECT') AS app_select,
	   has_table_privilege('finsec_operator', c.oid, 'SELECT') AS operator_select
  FROM pg_class c
 WHERE c.relnamespace = 'finsec'::regnamespace
   AND c.relname IN ('clause', 'compliance_check_def', 'clause_check', 'compliance_exclusion')
 ORDER BY 1;
CREATE ROLE regress_cat_nobody LOGIN;
SET SESSION AUTHORIZATION regress_cat_nobody;
SELECT count(*) FROM finsec.clause;
RESET SESSION AUTHORIZATION;
DROP ROLE regress_cat_nobody;
