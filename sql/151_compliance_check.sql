--
-- 151_compliance_check: finsec.compliance_check(), the dispatcher
-- (migration 1.3 section 2), with customer clauses and checks made here:
-- pass, fail, an error and a status outside the set -> cannot_verify; a
-- check function owned by a non-superuser, SECURITY DEFINER, or a
-- "builtin" one outside the extension -> cannot_verify WITHOUT being
-- called (each call writes a row of regress_cc.calls); manual clauses;
-- exclusions by two people with a justification, expiry and unexclude;
-- both languages; the standard filter; privileges; NULLs; the ledger.
--
SET client_min_messages = warning;
CREATE ROLE regress_cc_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_cc_b LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_cc_aud LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress_cc_nobody LOGIN;
CREATE ROLE regress_cc_owner LOGIN;
\set VERBOSITY sqlstate

-- ---- customer checks (as a superuser) ------------------------------------
CREATE SCHEMA regress_cc;
GRANT USAGE ON SCHEMA regress_cc TO PUBLIC;
CREATE TABLE regress_cc.calls (fn text, args jsonb);
GRANT INSERT, SELECT ON regress_cc.calls TO PUBLIC;
-- args.want: the status to return; 'error' raises; 'nullev' has no evidence
CREATE FUNCTION regress_cc.chk_flag(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO regress_cc.calls VALUES ('chk_flag', args);
	IF args ->> 'want' = 'error' THEN
		RAISE EXCEPTION 'the vendor register is unreachable' USING ERRCODE = '58030';
	END IF;
	status := CASE WHEN args ->> 'want' = 'nullev' THEN 'pass' ELSE args ->> 'want' END;
	evidence := CASE WHEN args ->> 'want' = 'nullev' THEN NULL
					 ELSE jsonb_build_object('want', args -> 'want', 'user', current_user) END;
END
$$;
CREATE FUNCTION regress_cc.chk_untrusted(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO regress_cc.calls VALUES ('chk_untrusted', args);
	status := 'pass';
	evidence := '{}';
END
$$;
CREATE FUNCTION regress_cc.chk_definer(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
	INSERT INTO regress_cc.calls VALUES ('chk_definer', args);
	status := 'pass';
	evidence := '{}';
END
$$;
-- a check that leaves the session's search_path pointing at a schema with
-- a left(text, integer) of its own: the dispatcher must not call it
CREATE FUNCTION regress_cc.chk_path(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO regress_cc.calls VALUES ('chk_path', args);
	PERFORM set_config('search_path', 'regress_cc, pg_catalog', false);
	status := 'bogus';
	evidence := '{}';
END
$$;
CREATE FUNCTION regress_cc.left(text, integer) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO regress_cc.calls VALUES ('regress_cc.left', to_jsonb($1));
	RETURN 'planted';
END
$$;
CREATE FUNCTION regress_cc.chk_shape(args jsonb) RETURNS text
LANGUAGE sql AS $$ SELECT 'pass' $$;
CREATE FUNCTION regress_cc.chk_fake_builtin(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO regress_cc.calls VALUES ('chk_fake_builtin', args);
	status := 'pass';
	evidence := '{}';
END
$$;

-- ---- customer controls: only finsec_admin, validated, audited -----------
SET SESSION AUTHORIZATION regress_cc_aud;
SELECT finsec.clause_add('acme:IC-1', 'ACME-IC', 'IC-1', 't', 't', 'r', 'r', 'automated', 'c', 'r', 'r');
INSERT INTO finsec.clause (clause_id, standard, clause, title_zh, title_en, requirement_zh, requirement_en,
						   kind, control, remediation_zh, remediation_en)
VALUES ('acme:x', 'ACME-IC', 'x', 't', 't', 'r', 'r', 'manual', 'c', 'r', 'r');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cc_a;
INSERT INTO finsec.clause (clause_id, standard, clause, title_zh, title_en, requirement_zh, requirement_en,
						   kind, control, remediation_zh, remediation_en)
VALUES ('acme:x', 'ACME-IC', 'x', 't', 't', 'r', 'r', 'manual', 'c', 'r', 'r');
-- refused: finsec's prefix, a malformed id, a quote, an unknown kind, empty
-- and NULL texts, an overlong text
SELECT finsec.clause_add('004:99.1', 'ACME-IC', '99.1', 't', 't', 'r', 'r', 'manual', 'c', 'r', 'r');
SELECT finsec.clause_add('-acme', 'ACME-IC', '1', 't', 't', 'r', 'r', 'manual', 'c', 'r', 'r');
SELECT finsec.clause_add('acme:''x', 'ACME-IC', '1', 't', 't', 'r', 'r', 'manual', 'c', 'r', 'r');
SELECT finsec.clause_add('acme:y', 'ACME-IC', '1', 't', 't', 'r', 'r', 'sometimes', 'c', 'r', 'r');
SELECT finsec.clause_add('acme:y', 'ACME-IC', '1', '  ', 't', 'r', 'r', 'manual', 'c', 'r', 'r');
SELECT finsec.clause_add('acme:y', NULL, '1', 't', 't', 'r', 'r', 'manual', 'c', 'r', 'r');
SELECT finsec.clause_add(NULL, 'ACME-IC', '1', 't', 't', 'r', 'r', 'manual', 'c', 'r', 'r');
SELECT finsec.clause_add('acme:y', 'ACME-IC', '1', 't', 't', repeat('r', 4001), 'r', 'manual', 'c', 'r', 'r');
-- the customer's own clauses (a title with markup is data; escaping is
-- the report's job)
SELECT finsec.clause_add('acme:IC-' || n, 'ACME-IC', 'IC-' || n, '内控' || n, 'Internal control ' || n,
						 '要求' || n, 'Requirement ' || n, CASE WHEN n = 6 THEN 'manual' ELSE 'automated' END,
						 'acme: control ' || n, '整改' || n, 'Remediation ' || n)
  FROM generate_series(1, 10) n;
SELECT finsec.clause_add('acme:IC-1', 'ACME-IC', '1', 't', 't', 'r', 'r', 'manual', 'c', 'r', 'r');
SELECT finsec.clause_add('acme:IC-11', 'ACME-IC', 'IC-11', '"><img src=x onerror=alert(1)>',
						 '<script>alert(1)</script>', '要求', 'Requirement', 'manual', 'c''s', '整改', 'Fix it.');
-- checks: refused unless a superuser's SECURITY INVOKER function of the
-- calling convention
SELECT finsec.compliance_check_add('acme.definer', 'regress_cc.chk_definer(jsonb)', '定义者', 'Definer');
SELECT finsec.compliance_check_add('acme.shape', 'regress_cc.chk_shape(jsonb)', '形状', 'Shape');
SELECT finsec.compliance_check_add('Acme.Flag', 'regress_cc.chk_flag(jsonb)', '标志', 'Flag');
SELECT finsec.compliance_check_add('acme.flag', NULL, '标志', 'Flag');
SELECT finsec.compliance_check_add('acme.flag', 'regress_cc.chk_flag(jsonb)', '标志', 'Flag');
SELECT finsec.compliance_check_add('acme.flag', 'regress_cc.chk_flag(jsonb)', '标志', 'Flag');
SELECT finsec.compliance_check_add('acme.untrusted', 'regress_cc.chk_untrusted(jsonb)', '不可信', 'Untrusted');
SELECT finsec.compliance_check_add('acme.path', 'regress_cc.chk_path(jsonb)', '路径', 'Path');
-- mappings, with each clause's own args
SELECT finsec.clause_check_add('acme:IC-1', 'acme.flag', '{"want": "pass"}');
SELECT finsec.clause_check_add('acme:IC-2', 'acme.flag', '{"want": "fail"}');
SELECT finsec.clause_check_add('acme:IC-3', 'acme.flag', '{"want": "bogus"}');
SELECT finsec.clause_check_add('acme:IC-4', 'acme.flag', '{"want": "error"}');
SELECT finsec.clause_check_add('acme:IC-5', 'acme.untrusted', '{}');
SELECT finsec.clause_check_add('acme:IC-9', 'acme.flag', '{"want": "nullev"}');
SELECT finsec.clause_check_add('acme:IC-10', 'acme.flag', '{"want": "warn"}');
SELECT finsec.clause_check_add('acme:IC-10', 'acme.untrusted', '{}');
SELECT finsec.clause_check_add('acme:IC-3', 'acme.path', '{}');
SELECT finsec.clause_check_add('acme:IC-1', 'acme.flag', '{}');
SELECT finsec.clause_check_add('acme:IC-1', 'acme.nosuch', '{}');
SELECT finsec.clause_check_add('acme:nosuch', 'acme.flag', '{}');
SELECT finsec.clause_check_add('acme:IC-1', 'acme.untrusted', '[1]');
SELECT finsec.clause_check_add('acme:IC-1', 'acme.untrusted', NULL);
SELECT finsec.clause_check_add('acme:IC-1', 'acme.untrusted', jsonb_build_object('x', repeat('x', 9000)));
RESET SESSION AUTHORIZATION;
-- after registration the untrusted check's function passes to a
-- non-superuser, who could now redefine it
ALTER FUNCTION regress_cc.chk_untrusted(jsonb) OWNER TO regress_cc_owner;
-- a "builtin" check that is not a member of the extension (only possible
-- with the guard disabled by a superuser)
ALTER TABLE finsec.compliance_check_def DISABLE TRIGGER compliance_check_def_guard;
INSERT INTO finsec.compliance_check_def (check_name, function, title_zh, title_en, builtin)
VALUES ('fake_builtin', 'regress_cc.chk_fake_builtin(jsonb)', '假', 'Fake', true);
ALTER TABLE finsec.compliance_check_def ENABLE ALWAYS TRIGGER compliance_check_def_guard;
SET SESSION AUTHORIZATION regress_cc_a;
SELECT finsec.clause_check_add('acme:IC-8', 'fake_builtin', '{}');
RESET SESSION AUTHORIZATION;

-- ---- the dispatcher, as the auditor ----------------------------------------
SET SESSION AUTHORIZATION regress_cc_aud;
SELECT clause_id, standard, clause, check_name, requirement, status, evidence, remediation
  FROM finsec.compliance_check('ACME-IC', 'en');
-- the check ran as the caller; the untrusted and the fake builtin ones
-- never ran (no row of theirs)
SELECT fn, args, count(*) FROM regress_cc.calls GROUP BY fn, args ORDER BY fn, args::text;
-- Chinese (zh_CN or zh), and finsec.report_language when lang is NULL
SELECT clause_id, check_name, requirement, status, remediation
  FROM finsec.compliance_check('acme-ic', 'zh') WHERE clause_id IN ('acme:IC-1', 'acme:IC-6');
SET finsec.report_language = 'en';
SELECT clause_id, requirement, remediation FROM finsec.compliance_check('ACME-IC') WHERE clause_id = 'acme:IC-1';
SET finsec.report_language = 'zh_CN';
SELECT clause_id, requirement, remediation FROM finsec.compliance_check('ACME-IC') WHERE clause_id = 'acme:IC-1';
RESET finsec.report_language;
-- bad language, unknown standard, NULLs
SELECT count(*) FROM finsec.compliance_check('ACME-IC', 'fr');
SELECT count(*) FROM finsec.compliance_check('ACME-IC', '');
SELECT count(*) FROM finsec.compliance_check('no such standard');
SELECT count(*) FROM finsec.compliance_check('');
SELECT count(*) FROM finsec.compliance_check(repeat('x', 100000));
-- the standard filter: a code in any case or a seed number, NULL for all
SELECT standard, count(DISTINCT clause_id) = (SELECT count(*) FROM finsec.clause WHERE standard = 'PAY-FAC-V3.0') AS every_clause
  FROM finsec.compliance_check('003') GROUP BY standard;
SELECT standard, count(DISTINCT clause_id) = (SELECT count(*) FROM finsec.clause WHERE standard = 'JR/T 0117-2014') AS every_clause
  FROM finsec.compliance_check('jr/t 0117-2014') GROUP BY standard;
SELECT (SELECT count(*) FROM finsec.compliance_check(NULL, NULL))
	 = (SELECT count(*) FROM finsec.clause c
		 WHERE NOT EXISTS (SELECT 1 FROM finsec.clause_check cc WHERE cc.clause_id = c.clause_id))
	 + (SELECT count(*) FROM finsec.clause_check) AS one_row_per_clause_and_check;
-- ordered by standard, clause (natural order), check
SELECT array_agg(clause_id) = array_agg(clause_id ORDER BY standard COLLATE "C",
									   finsec._clause_sort_key(clause_id) COLLATE "C", check_name COLLATE "C") AS ordered
  FROM finsec.compliance_check();
SELECT clause_id FROM (SELECT DISTINCT clause_id FROM finsec.compliance_check('004')) c
 WHERE clause_id ~ '^004:9\.' ORDER BY finsec._clause_sort_key(clause_id) COLLATE "C" LIMIT 3;
-- an auditor cannot forge a run in the ledger
SELECT finsec._compliance_record('ACME-IC', 'en', '{"pass": 999}', 999, now());
SELECT finsec.audit_event('compliance.check', 'compliance_check', 'check', true, NULL, '{}');
-- nor change the catalog or exclusions
SELECT finsec.compliance_exclude('acme:IC-2', 'The auditor tries to switch it off.', 'acme.flag');
SELECT finsec.compliance_unexclude('acme:IC-2', 'acme.flag');
SELECT finsec.clause_remove('acme:IC-1');
RESET SESSION AUTHORIZATION;
-- an administrator has audit_event, but compliance.* is finsec's
SET SESSION AUTHORIZATION regress_cc_a;
SELECT finsec.audit_event('compliance.check', 'compliance_check', 'check', true, NULL, '{}');
RESET SESSION AUTHORIZATION;
-- a role with no finsec duty may not run the self-check at all
SET SESSION AUTHORIZATION regress_cc_nobody;
SELECT count(*) FROM finsec.compliance_check();
SELECT count(*) FROM finsec.clause;
RESET SESSION AUTHORIZATION;

-- ---- exclusions: two people, justified, bounded ---------------------------
SET SESSION AUTHORIZATION regress_cc_a;
SELECT finsec.compliance_exclude('acme:IC-2', 'too short', 'acme.flag');
SELECT finsec.compliance_exclude('acme:IC-2', '                              ', 'acme.flag');
SELECT finsec.compliance_exclude('acme:IC-2', NULL, 'acme.flag');
SELECT finsec.compliance_exclude('acme:IC-2', repeat('x', 2001), 'acme.flag');
SELECT finsec.compliance_exclude(NULL, 'Vendor access is reviewed by the group audit office.', 'acme.flag');
SELECT finsec.compliance_exclude('acme:nosuch', 'Vendor access is reviewed by the group audit office.');
SELECT finsec.compliance_exclude('acme:IC-2', 'Vendor access is reviewed by the group audit office.', 'acme.untrusted');
SELECT finsec.compliance_exclude('acme:IC-2', 'Vendor access is reviewed by the group audit office.', 'acme.flag',
								 now() - interval '1 minute');
SELECT finsec.compliance_exclude('acme:IC-2', 'Vendor access is reviewed by the group audit office.', 'acme.flag',
								 now() + interval '13 months');
SELECT finsec.compliance_exclude('acme:IC-2', 'Vendor access is reviewed by the group audit office.', 'acme.flag',
								 now() + interval '30 days') AS req_check \gset
-- the requester cannot approve it
SELECT finsec.approve(:req_check);
RESET SESSION AUTHORIZATION;
SELECT kind, target, state, requested_by, payload - 'valid_until' AS payload
  FROM finsec.change_request WHERE request_id = :req_check;
-- not excluded until approved
SET SESSION AUTHORIZATION regress_cc_aud;
SELECT clause_id, check_name, status FROM finsec.compliance_check('ACME-IC') WHERE clause_id = 'acme:IC-2';
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cc_b;
SELECT finsec.approve(:req_check) - 'valid_until' - 'exclusion_id' AS applied;
-- a whole manual clause, requested by the other administrator, default
-- validity (one year)
SELECT finsec.compliance_exclude('acme:IC-6', '本制度由集团内审部门每年检查，不在本系统范围内。') AS req_clause \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cc_a;
SELECT finsec.approve(:req_clause) ->> 'clause_id' AS applied;
RESET SESSION AUTHORIZATION;
SELECT clause_id, check_name, requested_by, approved_by, ended_at IS NULL AS open,
	   valid_until BETWEEN now() + interval '29 days' AND now() + interval '31 days' AS thirty_days,
	   valid_until BETWEEN now() + interval '1 year' - interval '1 hour' AND now() + interval '1 year' AS one_year
  FROM finsec.compliance_exclusion ORDER BY exclusion_id;
-- the excluded check still runs: its actual result is beside the exclusion
SET SESSION AUTHORIZATION regress_cc_aud;
SELECT clause_id, check_name, status, evidence - 'valid_until' - 'request_id' - 'exclusion_id' AS evidence
  FROM finsec.compliance_check('ACME-IC', 'en') WHERE clause_id IN ('acme:IC-2', 'acme:IC-6');
SELECT (evidence ->> 'request_id')::bigint = :req_check AS request_id_shown,
	   (evidence ->> 'valid_until')::timestamptz > now() AS valid_until_shown
  FROM finsec.compliance_check('ACME-IC') WHERE clause_id = 'acme:IC-2';
RESET SESSION AUTHORIZATION;
-- an expired exclusion no longer applies (the clock moved on: here the
-- row is aged by a superuser, as the table's CHECK allows)
UPDATE finsec.compliance_exclusion SET valid_from = now() - interval '40 days', valid_until = now() - interval '1 second'
 WHERE clause_id = 'acme:IC-2';
SET SESSION AUTHORIZATION regress_cc_aud;
SELECT clause_id, check_name, status FROM finsec.compliance_check('ACME-IC') WHERE clause_id = 'acme:IC-2';
RESET SESSION AUTHORIZATION;
-- unexclude: one administrator, at once; a second time there is none
SET SESSION AUTHORIZATION regress_cc_a;
SELECT finsec.compliance_unexclude('acme:IC-6') IS NOT NULL AS ended;
SELECT finsec.compliance_unexclude('acme:IC-6');
SELECT finsec.compliance_unexclude('acme:IC-2', 'acme.flag');
SELECT finsec.compliance_unexclude(NULL);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cc_aud;
SELECT clause_id, check_name, status FROM finsec.compliance_check('ACME-IC') WHERE clause_id = 'acme:IC-6';
RESET SESSION AUTHORIZATION;
SELECT clause_id, ended_by, end_reason FROM finsec.compliance_exclusion ORDER BY exclusion_id;
-- a new exclusion after the expired one (the expired row is closed)
SET SESSION AUTHORIZATION regress_cc_b;
SELECT finsec.compliance_exclude('acme:IC-2', 'Vendor access moved to the group platform in 2026.', 'acme.flag',
								 now() + interval '7 days') AS req_again \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cc_a;
SELECT finsec.approve(:req_again) ->> 'check_name' AS applied;
RESET SESSION AUTHORIZATION;
SELECT clause_id, ended_at IS NULL AS open, end_reason FROM finsec.compliance_exclusion ORDER BY exclusion_id;
-- the exclusion table is read-only to administrators
SET SESSION AUTHORIZATION regress_cc_a;
UPDATE finsec.compliance_exclusion SET valid_until = now() + interval '5 years';
DELETE FROM finsec.compliance_exclusion;
RESET SESSION AUTHORIZATION;

-- ---- the ledger -------------------------------------------------------------
SELECT event_type, session_user_name, object, action, success
  FROM finsec.audit
 WHERE session_user_name LIKE 'regress\_cc\_%'
   AND (event_type LIKE 'compliance.%' AND event_type <> 'compliance.check'
		OR event_type LIKE 'change.%' AND object LIKE 'compliance.exclude:%')
 ORDER BY finsec_seq;
-- one compliance.check row per run, with the counts by status
SELECT session_user_name, detail -> 'standard' AS standard, detail -> 'lang' AS lang, detail -> 'rows' AS rows,
	   detail -> 'counts' AS counts
  FROM finsec.audit WHERE event_type = 'compliance.check' AND detail ->> 'standard' = 'ACME-IC'
 ORDER BY finsec_seq DESC LIMIT 1;

-- ---- builtin rows are finsec's -----------------------------------------------
UPDATE finsec.clause SET title_en = 'changed' WHERE clause_id = '004:7.5.9a';
DELETE FROM finsec.clause WHERE clause_id = '004:7.5.9a';
INSERT INTO finsec.clause (clause_id, standard, clause, title_zh, title_en, requirement_zh, requirement_en,
						   kind, control, remediation_zh, remediation_en, builtin)
VALUES ('004:99.9', 'JR/T 0117-2014', '99.9', 't', 't', 'r', 'r', 'manual', 'c', 'r', 'r', true);
UPDATE finsec.clause SET builtin = true WHERE clause_id = 'acme:IC-1';
SET SESSION AUTHORIZATION regress_cc_a;
SELECT finsec.clause_remove('004:7.5.9a');
SELECT finsec.compliance_check_remove('fake_builtin');
RESET SESSION AUTHORIZATION;
SELECT clause_id, title_en, builtin FROM finsec.clause WHERE clause_id IN ('004:7.5.9a', 'acme:IC-1') ORDER BY 1;
-- customer rows are dumped by pg_dump, builtin rows are not
SELECT c.relname, x.cond
  FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(cfg, cond)
  JOIN pg_class c ON c.oid = x.cfg
 WHERE e.extname = 'finsec' AND c.relname IN ('clause', 'compliance_check_def', 'clause_check', 'compliance_exclusion')
 ORDER BY 1;

-- ---- a check that changes the role it runs as --------------------------------
-- It must not leak the role to the later checks, the dispatcher's own reads
-- or the caller's session: the role is restored and the check is
-- cannot_verify.  acme.a_role runs before acme.flag (checks in name order).
CREATE FUNCTION regress_cc.chk_role(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('role', 'regress_cc_nobody', false);
	status := 'pass';
	evidence := '{}';
END
$$;
SET SESSION AUTHORIZATION regress_cc_a;
SELECT finsec.clause_add('acme:IC-12', 'ACME-IC', 'IC-12', '角色', 'Role', '要求', 'Requirement', 'automated',
						 'c', '整改', 'Fix');
SELECT finsec.compliance_check_add('acme.a_role', 'regress_cc.chk_role(jsonb)', '角色', 'Role');
SELECT finsec.clause_check_add('acme:IC-12', 'acme.a_role', '{}');
SELECT finsec.clause_check_add('acme:IC-12', 'acme.flag', '{"want": "pass"}');
RESET SESSION AUTHORIZATION;
-- a superuser runs the self-check: the next check still runs as the
-- superuser, and the session is the superuser's afterwards
SELECT clause_id, check_name, status, evidence FROM finsec.compliance_check('ACME-IC', 'en') WHERE clause_id = 'acme:IC-12';
SELECT current_user, session_user;
-- the auditor cannot become regress_cc_nobody: the check fails, cannot_verify
SET SESSION AUTHORIZATION regress_cc_aud;
SELECT clause_id, check_name, status, evidence FROM finsec.compliance_check('ACME-IC', 'en') WHERE clause_id = 'acme:IC-12';
SELECT current_user, session_user;
RESET SESSION AUTHORIZATION;

-- ---- an exclusion ends with its mapping ---------------------------------------
-- (else one administrator could remove the excluded mapping and map a check
-- of the same name again, with other args, under the old exclusion)
SET SESSION AUTHORIZATION regress_cc_a;
SELECT finsec.compliance_exclude('acme:IC-12', 'The flag register is kept by the group office.', 'acme.flag') AS req_map \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cc_b;
SELECT finsec.approve(:req_map) ->> 'check_name' AS applied;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cc_aud;
SELECT clause_id, check_name, status FROM finsec.compliance_check('ACME-IC') WHERE clause_id = 'acme:IC-12';
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cc_a;
SELECT finsec.clause_check_remove('acme:IC-12', 'acme.flag');
SELECT finsec.clause_check_add('acme:IC-12', 'acme.flag', '{"want": "fail"}');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cc_aud;
SELECT clause_id, check_name, status FROM finsec.compliance_check('ACME-IC') WHERE clause_id = 'acme:IC-12';
RESET SESSION AUTHORIZATION;
SELECT clause_id, check_name, ended_by, end_reason FROM finsec.compliance_exclusion WHERE clause_id = 'acme:IC-12';
-- the same through compliance_check_remove
SET SESSION AUTHORIZATION regress_cc_b;
SELECT finsec.compliance_exclude('acme:IC-12', 'Role switching is reviewed by the group office.', 'acme.a_role') AS req_chk \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cc_a;
SELECT finsec.approve(:req_chk) ->> 'check_name' AS applied;
SELECT finsec.compliance_check_remove('acme.a_role');
RESET SESSION AUTHORIZATION;
SELECT clause_id, check_name, ended_by, end_reason FROM finsec.compliance_exclusion
 WHERE clause_id = 'acme:IC-12' ORDER BY exclusion_id;

-- ---- removing the customer's own controls -------------------------------------
SET SESSION AUTHORIZATION regress_cc_a;
SELECT finsec.clause_check_remove('acme:IC-10', 'acme.untrusted');
SELECT finsec.clause_check_remove('acme:IC-10', 'acme.untrusted');
SELECT finsec.compliance_check_remove('acme.untrusted');
SELECT finsec.clause_remove('acme:IC-2');
SELECT finsec.clause_remove('acme:IC-2');
SELECT count(*) AS exclusions_of_removed FROM finsec.compliance_exclusion WHERE clause_id = 'acme:IC-2';
RESET SESSION AUTHORIZATION;
SELECT event_type, object FROM finsec.audit
 WHERE event_type IN ('compliance.clause_remove', 'compliance.check_remove', 'compliance.map_remove')
   AND session_user_name LIKE 'regress\_cc\_%'
 ORDER BY finsec_seq;

-- ---- the catalog part's own checks: login_lockout, password_weak_rejected --
SET SESSION AUTHORIZATION regress_cc_aud;
SELECT clause_id, check_name, status, evidence - 'auth_failure_window_seconds' AS evidence
  FROM finsec.compliance_check('004', 'en') WHERE check_name IN ('login_lockout', 'password_weak_rejected');
RESET SESSION AUTHORIZATION;
-- broken: no lockout, short lockout, weak passwords accepted -> fail; an
-- exempt role -> warn
ALTER SYSTEM SET finsec.max_auth_failures = 0;
ALTER SYSTEM SET finsec.lockout_duration = '5min';
ALTER SYSTEM SET finsec.password_reject_common = off;
SELECT pg_reload_conf();
DO $$ BEGIN
	FOR i IN 1..100 LOOP
		EXIT WHEN current_setting('finsec.password_reject_common') = 'off'
			  AND current_setting('finsec.max_auth_failures') = '0';
		PERFORM pg_sleep(0.05);
	END LOOP;
END $$;
SET SESSION AUTHORIZATION regress_cc_aud;
SELECT clause_id, check_name, status, evidence -> 'problems' AS problems
  FROM finsec.compliance_check('001', 'en') WHERE check_name IN ('login_lockout', 'password_weak_rejected');
RESET SESSION AUTHORIZATION;
ALTER SYSTEM RESET finsec.max_auth_failures;
ALTER SYSTEM RESET finsec.lockout_duration;
ALTER SYSTEM RESET finsec.password_reject_common;
ALTER SYSTEM SET finsec.lockout_exempt_roles = 'regress_cc_breakglass';
SELECT pg_reload_conf();
DO $$ BEGIN
	FOR i IN 1..100 LOOP
		EXIT WHEN current_setting('finsec.lockout_exempt_roles') <> ''
			  AND current_setting('finsec.max_auth_failures') = '5';
		PERFORM pg_sleep(0.05);
	END LOOP;
END $$;
SET SESSION AUTHORIZATION regress_cc_aud;
SELECT clause_id, check_name, status, evidence -> 'lockout_exempt_roles' AS exempt
  FROM finsec.compliance_check('003', 'en') WHERE check_name = 'login_lockout' AND clause_id = '003:6.4.2.1.3';
RESET SESSION AUTHORIZATION;
ALTER SYSTEM RESET finsec.lockout_exempt_roles;
SELECT pg_reload_conf();
DO $$ BEGIN
	FOR i IN 1..100 LOOP
		EXIT WHEN current_setting('finsec.lockout_exempt_roles') = '';
		PERFORM pg_sleep(0.05);
	END LOOP;
END $$;
-- an auditor who cannot call finsec.preloaded() gets cannot_verify
REVOKE EXECUTE ON FUNCTION finsec.preloaded() FROM finsec_auditor;
SET SESSION AUTHORIZATION regress_cc_aud;
SELECT clause_id, check_name, status, evidence
  FROM finsec.compliance_check('004', 'en') WHERE check_name = 'login_lockout' AND clause_id = '004:8.3.3a';
RESET SESSION AUTHORIZATION;
GRANT EXECUTE ON FUNCTION finsec.preloaded() TO finsec_auditor;
-- the check functions themselves are not PUBLIC
SET SESSION AUTHORIZATION regress_cc_nobody;
SELECT * FROM finsec._check_login_lockout('{}');
SELECT * FROM finsec._check_password_weak_rejected('{}');
RESET SESSION AUTHORIZATION;
-- NULL and odd args: defaults, or an error the dispatcher turns into cannot_verify
SELECT status FROM finsec._check_login_lockout(NULL);
SELECT status FROM finsec._check_login_lockout('{"max_failures": "many"}');

-- ---- one call per distinct (check, args) in a run --------------------------
-- IC-7 gets the same check with the same args as IC-1: one call serves
-- both rows (same status and evidence); other args are another call.
SET SESSION AUTHORIZATION regress_cc_a;
SELECT finsec.clause_check_add('acme:IC-7', 'acme.flag', '{"want": "pass"}');
RESET SESSION AUTHORIZATION;
TRUNCATE regress_cc.calls;
SET SESSION AUTHORIZATION regress_cc_aud;
SELECT clause_id, check_name, status, evidence
  FROM finsec.compliance_check('ACME-IC', 'en')
 WHERE check_name = 'acme.flag' AND clause_id IN ('acme:IC-1', 'acme:IC-7', 'acme:IC-10') ORDER BY 1;
RESET SESSION AUTHORIZATION;
SELECT fn, args, count(*) FROM regress_cc.calls GROUP BY fn, args ORDER BY fn, args::text;
-- a second run calls it again (nothing is kept between runs)
TRUNCATE regress_cc.calls;
SELECT count(*) FROM finsec.compliance_check('ACME-IC') WHERE clause_id IN ('acme:IC-1', 'acme:IC-7');
SELECT fn, args, count(*) FROM regress_cc.calls WHERE args = '{"want": "pass"}' GROUP BY fn, args;

-- ---- clean up ---------------------------------------------------------------
ALTER TABLE finsec.compliance_check_def DISABLE TRIGGER compliance_check_def_guard;
ALTER TABLE finsec.clause_check DISABLE TRIGGER clause_check_guard;
DELETE FROM finsec.clause_check WHERE check_name = 'fake_builtin';
DELETE FROM finsec.compliance_check_def WHERE check_name = 'fake_builtin';
ALTER TABLE finsec.clause_check ENABLE ALWAYS TRIGGER clause_check_guard;
ALTER TABLE finsec.compliance_check_def ENABLE ALWAYS TRIGGER compliance_check_def_guard;
SET SESSION AUTHORIZATION regress_cc_a;
SELECT finsec.clause_remove(clause_id) FROM finsec.clause WHERE NOT builtin ORDER BY 1;
SELECT finsec.compliance_check_remove(check_name) FROM finsec.compliance_check_def WHERE NOT builtin ORDER BY 1;
RESET SESSION AUTHORIZATION;
DROP SCHEMA regress_cc CASCADE;
DROP ROLE regress_cc_a, regress_cc_b, regress_cc_aud, regress_cc_nobody, regress_cc_owner;
