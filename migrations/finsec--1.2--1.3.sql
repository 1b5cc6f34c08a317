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

/*
 * Reports (docs/compliance-reports.md): SQL functions over a half-open
 * period [from, to), one row per figure, CSV-friendly, labels in zh_CN or
 * en.  All SECURITY INVOKER: a report sees what its caller sees, and a
 * source the caller cannot read is a row with value NULL and unit
 * 'cannot_read' (dimension naming the source), never a zero.
 *
 * Figure reports return (figure, label, day, dimension, value, unit):
 * day NULL for the period total, set for a daily series (calendar days in
 * finsec's business time zone, finsec._report_tz()); dimension NULL or
 * the breakdown key.
 */

/* The one label table of every report (figure -> zh_CN, en). */
CREATE FUNCTION finsec.report_label(figure text, lang text DEFAULT NULL)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(
		(SELECT CASE WHEN finsec._report_lang($2) = 'en' THEN l.en ELSE l.zh END
		   FROM (VALUES
			-- business
			('accounts_registered', '新增账户（首笔交易在本期）', 'Accounts registered (first transaction in the period)'),
			('accounts_active', '活跃账户', 'Active accounts'),
			('payments', '支付笔数', 'Payments'),
			('settlements', '结算笔数', 'Settlements'),
			('transfers', '转账笔数', 'Transfers'),
			('withdrawals', '提现笔数', 'Withdrawals'),
			('refunds', '退款及冲正笔数', 'Refunds and reversals'),
			('payments_amount', '支付金额', 'Payment amount'),
			('settlements_amount', '结算金额', 'Settlement amount'),
			('transfers_amount', '转账金额', 'Transfer amount'),
			('withdrawals_amount', '提现金额', 'Withdrawal amount'),
			('refunds_amount', '退款及冲正金额', 'Refund and reversal amount'),
			('unreadable_table', '无法读取的数据表', 'Table that could not be read'),
			-- risk
			('decisions', '风险决策（非直接放行）', 'Risk decisions (other than a plain allow)'),
			('blocks', '拦截', 'Blocked payments'),
			('decisions_degraded', '降级决策', 'Degraded decisions'),
			('risk_cases_opened', '新开风险案件', 'Risk cases opened'),
			('risk_cases_closed', '已结风险案件', 'Risk cases closed'),
			('risk_cases_open', '期末未结风险案件', 'Risk cases open at the end of the period'),
			('list_entries_added', '新增名单条目', 'List entries added'),
			('list_entries_removed', '移除名单条目', 'List entries removed'),
			-- limits
			('refusals', '限额拒绝', 'Limit refusals'),
			('refusals_by_policy', '按限额策略的拒绝', 'Limit refusals by policy'),
			('refusals_by_table', '按数据表的拒绝', 'Limit refusals by table'),
			-- monitor
			('alerts', '监测预警', 'Monitoring alerts'),
			('alerts_by_state', '预警（按当前状态）', 'Alerts by current state'),
			('alerts_by_severity', '预警（按严重程度）', 'Alerts by severity'),
			('alerts_closed', '已关闭预警', 'Alerts closed'),
			('alert_cases', '预警关联案件', 'Cases of alerts'),
			('role_suspensions', '角色暂停', 'Role suspensions'),
			('large_value_reports', '大额交易报告', 'Large-value reports'),
			-- audit
			('events', '审计事件', 'Audit events'),
			('events_by_user', '审计事件（按用户）', 'Audit events by user'),
			('events_succeeded', '成功事件', 'Successful events'),
			('events_failed', '失败事件', 'Failed events'),
			('login_failures', '登录失败', 'Login failures'),
			('refused_actions', '被拒绝的操作', 'Refused actions'),
			('off_hours_events', '非工作时间事件', 'Off-hours events'),
			('privilege_changes', '权限变更', 'Privilege changes'),
			-- keys
			('key_uses', '密钥使用次数', 'Key uses'),
			('key_creations', '密钥生成、导入与轮换', 'Keys generated, imported and rotated'),
			('key_rewraps', '主密钥重新包装', 'Master key rewraps'),
			('key_verifications', '密钥校验', 'Key verifications'),
			('key_change_requests', '密钥变更申请', 'Key change requests'),
			('key_approvals', '密钥变更审批', 'Key change approvals'),
			-- credit
			('credit_queries', '征信查询', 'Credit queries'),
			('credit_queries_by_reason', '征信查询（按查询原因）', 'Credit queries by reason'),
			('credit_queries_by_user', '征信查询（按用户）', 'Credit queries by user'),
			('credit_queries_suspended', '被暂停用户的查询', 'Credit queries of suspended users'),
			('credit_queries_refused', '被拒绝的征信查询', 'Credit queries refused'),
			('credit_user_suspensions', '征信用户暂停', 'Credit user suspensions'),
			('disputes_opened', '新受理异议', 'Disputes opened'),
			('disputes_closed', '已办结异议', 'Disputes closed'),
			('disputes_overdue', '逾期异议', 'Disputes overdue'),
			('deid_batches', '去标识化批次', 'De-identification batches'),
			('deid_records', '去标识化记录', 'De-identified records')
		   ) l(figure, zh, en)
		  WHERE l.figure = $1),
		$1)
$$;
COMMENT ON FUNCTION finsec.report_label(text, text) IS
	'the label of a report figure in zh_CN or en (lang NULL: finsec.report_language); the figure name itself when it has none';
REVOKE ALL ON FUNCTION finsec.report_label(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_label(text, text) TO finsec_admin, finsec_auditor, finsec_operator;

/* lang NULL -> finsec.report_language; anything but zh_CN and en is S9Q43. */
CREATE FUNCTION finsec._report_lang(lang text)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := coalesce(lang, nullif(current_setting('finsec.report_language', true), ''), 'zh_CN');
BEGIN
	IF l NOT IN ('zh_CN', 'en') THEN
		RAISE EXCEPTION 'report language "%" is not supported', l
			USING ERRCODE = 'S9Q43',
				  DETAIL = 'Reports are labelled in Chinese (zh_CN) or English (en).',
				  HINT = 'Pass lang => ''zh_CN'' or ''en'', or set finsec.report_language.';
	END IF;
	RETURN l;
END
$$;
REVOKE ALL ON FUNCTION finsec._report_lang(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_lang(text) TO finsec_admin, finsec_auditor, finsec_operator;

/* finsec's business time zone: the monitor's (its working-day calendar), else the limits'. */
CREATE FUNCTION finsec._report_tz()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(nullif(current_setting('finsec.monitor_timezone', true), ''),
					nullif(current_setting('finsec.limit_timezone', true), ''),
					'Asia/Shanghai')
$$;
REVOKE ALL ON FUNCTION finsec._report_tz() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_tz() TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * The period's checks (S9Q40 a NULL bound, S9Q41 from after to, S9Q42 a
 * span over five years) and the language; returns the language.
 */
CREATE FUNCTION finsec._report_period("from" timestamptz, "to" timestamptz, lang text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF "from" IS NULL OR "to" IS NULL THEN
		RAISE EXCEPTION 'the period of a report must have both bounds'
			USING ERRCODE = 'S9Q40',
				  DETAIL = format('from is %s, to is %s.', coalesce("from"::text, 'NULL'), coalesce("to"::text, 'NULL')),
				  HINT = 'Pass the first instant of the period and the first instant after it, e.g. ''2026-11-01'' and ''2026-12-01''.';
	END IF;
	IF "from" > "to" THEN
		RAISE EXCEPTION 'the period of a report starts after it ends'
			USING ERRCODE = 'S9Q41',
				  DETAIL = format('from is %s, to is %s.', "from", "to"),
				  HINT = 'The period is [from, to): swap the bounds.';
	END IF;
	IF "to" > "from" + interval '5 years' THEN
		RAISE EXCEPTION 'the period of a report is longer than five years'
			USING ERRCODE = 'S9Q42',
				  DETAIL = format('from is %s, to is %s.', "from", "to"),
				  HINT = 'Report on five years or less at a time and add the periods up.';
	END IF;
	RETURN finsec._report_lang(lang);
END
$$;
REVOKE ALL ON FUNCTION finsec._report_period(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_period(timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor, finsec_operator;

/* The calendar days (business time zone) that [from, to) touches. */
CREATE FUNCTION finsec._report_days("from" timestamptz, "to" timestamptz)
RETURNS SETOF date
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT d::date
	  FROM generate_series(($1 AT TIME ZONE finsec._report_tz())::date,
						   (($2 - interval '1 microsecond') AT TIME ZONE finsec._report_tz())::date,
						   interval '1 day') d
	 WHERE $1 < $2
$$;
REVOKE ALL ON FUNCTION finsec._report_days(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_days(timestamptz, timestamptz) TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * One figure from a query of finsec's own report functions (never a
 * caller's text: it is a fixed string of this script, and it runs as the
 * caller, SECURITY INVOKER, so it grants nothing).  q returns (at
 * timestamptz, dim text, v numeric) for the period [$1, $2); the figure
 * is the period total (sum of v, 0 when no rows), with daily rows for
 * every day of the period when daily, and one total per dimension when
 * by_dim.  Each of the tables in needs is tested for SELECT first: one the
 * caller cannot read makes the figure a single cannot_read row naming it;
 * an insufficient_privilege error while reading (row-level security) too.
 */
CREATE FUNCTION finsec._report_figure(fig text, fig_unit text, lang text,
	"from" timestamptz, "to" timestamptz, needs regclass[], q text,
	daily boolean DEFAULT true, by_dim boolean DEFAULT false)
RETURNS TABLE (figure text, label text, day date, dimension text, value numeric, unit text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET row_security = off
AS $$
DECLARE
	t regclass;
	lab text := finsec.report_label($1, $3);
BEGIN
	IF fig IS NULL OR q IS NULL OR needs IS NULL OR daily IS NULL OR by_dim IS NULL THEN
		RAISE EXCEPTION 'a report figure needs its name, sources, query and series flags'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'finsec._report_figure is called by the report functions; call those instead.';
	END IF;
	PERFORM finsec._report_period("from", "to", lang);
	FOREACH t IN ARRAY needs LOOP
		IF NOT has_table_privilege(t, 'SELECT') THEN
			RETURN QUERY SELECT $1, lab, NULL::date, t::text, NULL::numeric, 'cannot_read'::text;
			RETURN;
		END IF;
	END LOOP;
	BEGIN
		RETURN QUERY EXECUTE format($f$
			WITH ev AS MATERIALIZED (
				SELECT (e.at AT TIME ZONE finsec._report_tz())::date AS day, e.dim, e.v
				  FROM (%s) e(at, dim, v))
			SELECT $3, $4, NULL::date, NULL::text, coalesce((SELECT sum(v) FROM ev), 0)::numeric, $5
			UNION ALL
			(SELECT $3, $4, d.day, NULL::text, coalesce(x.s, 0)::numeric, $5
			   FROM finsec._report_days($1, $2) d(day)
			   LEFT JOIN (SELECT ev.day, sum(ev.v) AS s FROM ev GROUP BY ev.day) x ON x.day = d.day
			  WHERE $6
			  ORDER BY d.day)
			UNION ALL
			(SELECT $3, $4, NULL::date, coalesce(ev.dim, 'unknown'), sum(ev.v)::numeric, $5
			   FROM ev WHERE $7 GROUP BY coalesce(ev.dim, 'unknown') ORDER BY 4)
		$f$, q) USING $4, $5, $1, lab, $2, daily, by_dim;
	EXCEPTION WHEN insufficient_privilege THEN
		RETURN QUERY SELECT $1, lab, NULL::date, array_to_string(needs, ','), NULL::numeric, 'cannot_read'::text;
	END;
END
$$;
REVOKE ALL ON FUNCTION finsec._report_figure(text, text, text, timestamptz, timestamptz, regclass[], text, boolean, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_figure(text, text, text, timestamptz, timestamptz, regclass[], text, boolean, boolean)
	TO finsec_admin, finsec_auditor, finsec_operator;

/* ---- report_limits: limit refusals (finsec.limit_refusal) ---- */
CREATE FUNCTION finsec.report_limits("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL)
RETURNS TABLE (figure text, label text, day date, dimension text, value numeric, unit text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	src regclass[] := ARRAY['finsec.limit_refusal'::regclass];
BEGIN
	RETURN QUERY SELECT * FROM finsec._report_figure('refusals', 'count', l, "from", "to", src,
		'SELECT refused_at, rule, 1 FROM finsec.limit_refusal WHERE refused_at >= $1 AND refused_at < $2', true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('refusals_by_policy', 'count', l, "from", "to", src,
		'SELECT refused_at, coalesce(policy, rule), 1 FROM finsec.limit_refusal WHERE refused_at >= $1 AND refused_at < $2', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('refusals_by_table', 'count', l, "from", "to", src,
		'SELECT refused_at, relation, 1 FROM finsec.limit_refusal WHERE refused_at >= $1 AND refused_at < $2', false, true);
END
$$;
COMMENT ON FUNCTION finsec.report_limits(timestamptz, timestamptz, text) IS
	'limit refusals of [from, to): daily and by reason (rule), by policy, by table';
REVOKE ALL ON FUNCTION finsec.report_limits(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_limits(timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor, finsec_operator;

/* ---- report_risk: decisions, cases, lists ---- */
CREATE FUNCTION finsec.report_risk("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL)
RETURNS TABLE (figure text, label text, day date, dimension text, value numeric, unit text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	dl regclass[] := ARRAY['finsec.risk_decision_log'::regclass];
	rc regclass[] := ARRAY['finsec.risk_case'::regclass];
	le regclass[] := ARRAY['finsec.risk_list_entry'::regclass];
BEGIN
	RETURN QUERY SELECT * FROM finsec._report_figure('decisions', 'count', l, "from", "to", dl,
		'SELECT decided_at, decision, 1 FROM finsec.risk_decision_log WHERE decided_at >= $1 AND decided_at < $2', true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('blocks', 'count', l, "from", "to", dl,
		'SELECT decided_at, NULL::text, 1 FROM finsec.risk_decision_log WHERE decided_at >= $1 AND decided_at < $2 AND decision = ''block''', true, false);
	RETURN QUERY SELECT * FROM finsec._report_figure('decisions_degraded', 'count', l, "from", "to", dl,
		'SELECT decided_at, decision, 1 FROM finsec.risk_decision_log WHERE decided_at >= $1 AND decided_at < $2 AND degraded', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('risk_cases_opened', 'count', l, "from", "to", rc,
		'SELECT opened_at, decision, 1 FROM finsec.risk_case WHERE opened_at >= $1 AND opened_at < $2', true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('risk_cases_closed', 'count', l, "from", "to", rc,
		'SELECT closed_at, outcome, 1 FROM finsec.risk_case WHERE closed_at >= $1 AND closed_at < $2', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('risk_cases_open', 'count', l, "from", "to", rc,
		'SELECT $2 - interval ''1 microsecond'', state, 1 FROM finsec.risk_case WHERE opened_at < $2 AND (closed_at IS NULL OR closed_at >= $2)', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('list_entries_added', 'count', l, "from", "to", le,
		'SELECT added_at, color || '':'' || entity_type, 1 FROM finsec.risk_list_entry WHERE added_at >= $1 AND added_at < $2', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('list_entries_removed', 'count', l, "from", "to", le,
		'SELECT removed_at, color || '':'' || entity_type, 1 FROM finsec.risk_list_entry WHERE removed_at >= $1 AND removed_at < $2', false, true);
END
$$;
COMMENT ON FUNCTION finsec.report_risk(timestamptz, timestamptz, text) IS
	'risk decisions of [from, to) by outcome (the log holds every decision but plain allows), blocks daily, degraded decisions, cases opened, closed and open at the end, list entries added and removed';
REVOKE ALL ON FUNCTION finsec.report_risk(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_risk(timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor, finsec_operator;

/* ---- report_monitor: alerts, cases, suspensions, large-value reports ---- */
CREATE FUNCTION finsec.report_monitor("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL)
RETURNS TABLE (figure text, label text, day date, dimension text, value numeric, unit text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	al regclass[] := ARRAY['finsec.alert'::regclass];
BEGIN
	RETURN QUERY SELECT * FROM finsec._report_figure('alerts', 'count', l, "from", "to", al,
		'SELECT raised_at, rule_name, 1 FROM finsec.alert WHERE raised_at >= $1 AND raised_at < $2 AND NOT shadow', true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('alerts_by_state', 'count', l, "from", "to", al,
		'SELECT raised_at, state, 1 FROM finsec.alert WHERE raised_at >= $1 AND raised_at < $2 AND NOT shadow', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('alerts_by_severity', 'count', l, "from", "to", al,
		'SELECT raised_at, severity, 1 FROM finsec.alert WHERE raised_at >= $1 AND raised_at < $2 AND NOT shadow', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('alerts_closed', 'count', l, "from", "to", al,
		'SELECT closed_at, outcome, 1 FROM finsec.alert WHERE closed_at >= $1 AND closed_at < $2 AND NOT shadow', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('alert_cases', 'count', l, "from", "to", al,
		'SELECT min(raised_at), NULL::text, 1 FROM finsec.alert WHERE raised_at >= $1 AND raised_at < $2 AND case_id IS NOT NULL GROUP BY case_id', false, false);
	RETURN QUERY SELECT * FROM finsec._report_figure('role_suspensions', 'count', l, "from", "to",
		ARRAY['finsec.role_suspension'::regclass],
		'SELECT suspended_at, rule_name, 1 FROM finsec.role_suspension WHERE suspended_at >= $1 AND suspended_at < $2', false, true);
END
$$;
COMMENT ON FUNCTION finsec.report_monitor(timestamptz, timestamptz, text) IS
	'monitoring alerts of [from, to) (shadow rules left out): daily and by rule, by current state and severity, closed by outcome, their cases, role suspensions';
REVOKE ALL ON FUNCTION finsec.report_monitor(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_monitor(timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * ---- report_audit: the monthly analysis of the ledger (004 7.5.7 f) ----
 * Off-hours: the event's local time (finsec._report_tz()) on a day that is
 * not a working day (finsec.is_working_day: the calendar, else Monday to
 * Friday) or outside [work_start, work_end).  Privilege changes: the event
 * types finsec writes when a role, a lock, a password, a clearance, a key
 * or a two-person request changes (finsec._report_privilege_event).
 */
CREATE FUNCTION finsec._report_privilege_event(event_type text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT $1 ~ '^(change|role|label)\.'
		OR $1 IN ('auth.lock', 'auth.unlock', 'auth.password', 'auth.exempt_login',
				  'key.generate', 'key.import', 'key.rotate', 'key.rewrap',
				  'credit.user_set', 'credit.user_remove', 'credit.user_suspended', 'credit.user_restore',
				  'limits.exempt', 'protect.policy_create', 'protect.policy_drop')
$$;
REVOKE ALL ON FUNCTION finsec._report_privilege_event(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_privilege_event(text) TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec._report_off_hours(at timestamptz, work_start time, work_end time)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT NOT finsec.is_working_day((at AT TIME ZONE finsec._report_tz())::date)
		OR (at AT TIME ZONE finsec._report_tz())::time < work_start
		OR (at AT TIME ZONE finsec._report_tz())::time >= work_end
$$;
REVOKE ALL ON FUNCTION finsec._report_off_hours(timestamptz, time, time) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_off_hours(timestamptz, time, time) TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * The ledger records each analysis of itself: report_audit, run by a
 * caller who can read the ledger, writes an audit.analysis event (the
 * period analysed, the events in it) so that the self-check can verify
 * that the ledger is analysed at least monthly (004 7.5.7 f, U11; check
 * audit_analysis).  SECURITY DEFINER only to write a finsec event type
 * (audit.*, reserved to finsec's own functions) for finsec_auditor, who
 * may not call finsec.audit_event(); it reads no user object, counts the
 * ledger's rows of the period and records who ran it (the ledger's
 * db_user is the caller before the definer switch).  Granted to
 * finsec_auditor only, the one role that reads the ledger (EXECUTE is
 * checked against the calling role, also after SET ROLE).
 */
CREATE FUNCTION finsec._report_record_analysis("from" timestamptz, "to" timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	IF "from" IS NULL OR "to" IS NULL OR "from" > "to" THEN
		RAISE EXCEPTION 'an analysis of the ledger needs a period'
			USING ERRCODE = 'S9Q46',
				  DETAIL = format('from is %s, to is %s.', coalesce("from"::text, 'NULL'), coalesce("to"::text, 'NULL')),
				  HINT = 'Run finsec.report_audit(from, to), which records its analysis itself.';
	END IF;
	SELECT count(*) INTO n FROM finsec.audit a WHERE a.event_time >= "from" AND a.event_time < "to";
	RETURN finsec.audit_event('audit.analysis', 'finsec.audit', 'report_audit', true,
		format('the audit ledger was analysed for [%s, %s): %s event(s)', "from", "to", n),
		jsonb_build_object('from', "from", 'to', "to", 'events', n));
END
$$;
COMMENT ON FUNCTION finsec._report_record_analysis(timestamptz, timestamptz) IS
	'record in the ledger that it was analysed for a period (audit.analysis); called by finsec.report_audit';
REVOKE ALL ON FUNCTION finsec._report_record_analysis(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_record_analysis(timestamptz, timestamptz) TO finsec_auditor;

CREATE FUNCTION finsec.report_audit("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL,
	work_start time DEFAULT '09:00', work_end time DEFAULT '18:00')
RETURNS TABLE (figure text, label text, day date, dimension text, value numeric, unit text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	a regclass[] := ARRAY['finsec.audit'::regclass];
	w text;
BEGIN
	IF work_start IS NULL OR work_end IS NULL OR work_start >= work_end THEN
		RAISE EXCEPTION 'the working hours of report_audit are not a range'
			USING ERRCODE = 'S9Q44',
				  DETAIL = format('work_start is %s, work_end is %s.', coalesce(work_start::text, 'NULL'), coalesce(work_end::text, 'NULL')),
				  HINT = 'Pass work_start before work_end, e.g. ''09:00'' and ''18:00''.';
	END IF;
	w := ' FROM finsec.audit WHERE event_time >= $1 AND event_time < $2';
	RETURN QUERY SELECT * FROM finsec._report_figure('events', 'count', l, "from", "to", a,
		'SELECT event_time, event_type, 1' || w, true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('events_by_user', 'count', l, "from", "to", a,
		'SELECT event_time, quote_ident(db_user), 1' || w, false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('events_succeeded', 'count', l, "from", "to", a,
		'SELECT event_time, event_type, 1' || w || ' AND success', false, false);
	RETURN QUERY SELECT * FROM finsec._report_figure('events_failed', 'count', l, "from", "to", a,
		'SELECT event_time, event_type, 1' || w || ' AND NOT success', true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('login_failures', 'count', l, "from", "to", a,
		'SELECT event_time, quote_ident(db_user), 1' || w || ' AND event_type = ''auth.failure''', true, false);
	RETURN QUERY SELECT * FROM finsec._report_figure('refused_actions', 'count', l, "from", "to", a,
		'SELECT event_time, event_type, 1' || w || ' AND NOT success AND event_type NOT LIKE ''auth.%''', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('off_hours_events', 'count', l, "from", "to", a,
		format('SELECT event_time, event_type, 1%s AND finsec._report_off_hours(event_time, %L, %L)', w, work_start, work_end),
		true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('privilege_changes', 'count', l, "from", "to", a,
		'SELECT event_time, event_type, 1' || w || ' AND finsec._report_privilege_event(event_type)', false, true);
	-- the analysis is recorded in the ledger (audit.analysis) when the ledger could be read
	IF has_table_privilege('finsec.audit', 'SELECT') THEN
		PERFORM finsec._report_record_analysis("from", "to");
	END IF;
END
$$;
COMMENT ON FUNCTION finsec.report_audit(timestamptz, timestamptz, text, time, time) IS
	'analysis of the audit ledger over [from, to) (004 7.5.7 f): events daily and by type, by user, succeeded, failed, login failures, refused actions, off-hours events, privilege changes';
REVOKE ALL ON FUNCTION finsec.report_audit(timestamptz, timestamptz, text, time, time) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_audit(timestamptz, timestamptz, text, time, time) TO finsec_admin, finsec_auditor;

/* ---- report_keys: key usage, creations, rewraps, verifications, approvals (ledger) ---- */
CREATE FUNCTION finsec.report_keys("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL)
RETURNS TABLE (figure text, label text, day date, dimension text, value numeric, unit text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	a regclass[] := ARRAY['finsec.audit'::regclass];
	w text := ' FROM finsec.audit WHERE event_time >= $1 AND event_time < $2';
BEGIN
	-- a key.use row counts the uses of one key version in one transaction (detail.count)
	RETURN QUERY SELECT * FROM finsec._report_figure('key_uses', 'count', l, "from", "to", a,
		'SELECT event_time, coalesce(object, ''?'') || ''/'' || coalesce(action, ''?''),'
		|| ' CASE WHEN jsonb_typeof(detail -> ''count'') = ''number'' THEN (detail ->> ''count'')::numeric ELSE 1 END'
		|| w || ' AND event_type = ''key.use''', true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('key_creations', 'count', l, "from", "to", a,
		'SELECT event_time, event_type || '':'' || coalesce(object, ''?''), 1' || w
		|| ' AND event_type IN (''key.generate'', ''key.import'', ''key.rotate'')', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('key_rewraps', 'count', l, "from", "to", a,
		'SELECT event_time, NULL::text, 1' || w || ' AND event_type = ''key.rewrap''', false, false);
	RETURN QUERY SELECT * FROM finsec._report_figure('key_verifications', 'count', l, "from", "to", a,
		'SELECT event_time, CASE WHEN success THEN ''ok'' ELSE ''failed'' END, 1' || w
		|| ' AND event_type ~ ''^key\.verif''', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('key_change_requests', 'count', l, "from", "to", a,
		'SELECT event_time, split_part(object, '':'', 1), 1' || w
		|| ' AND event_type = ''change.request'' AND object LIKE ''key.%''', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('key_approvals', 'count', l, "from", "to", a,
		'SELECT event_time, split_part(object, '':'', 1), 1' || w
		|| ' AND event_type = ''change.approve'' AND object LIKE ''key.%''', false, true);
END
$$;
COMMENT ON FUNCTION finsec.report_keys(timestamptz, timestamptz, text) IS
	'key usage of [from, to) from the ledger: uses by label and operation, creations and rotations, rewraps, verifications, key change requests and approvals';
REVOKE ALL ON FUNCTION finsec.report_keys(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_keys(timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor;

/* ---- report_credit: queries, refusals, suspensions, disputes, de-identification ---- */
CREATE FUNCTION finsec.report_credit("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL)
RETURNS TABLE (figure text, label text, day date, dimension text, value numeric, unit text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	q regclass[] := ARRAY['finsec.credit_query_log'::regclass];
	d regclass[] := ARRAY['finsec.credit_dispute'::regclass];
	a regclass[] := ARRAY['finsec.audit'::regclass];
	w text := ' FROM finsec.credit_query_log WHERE at >= $1 AND at < $2';
BEGIN
	RETURN QUERY SELECT * FROM finsec._report_figure('credit_queries', 'count', l, "from", "to", q,
		'SELECT at, institution, 1' || w, true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('credit_queries_by_reason', 'count', l, "from", "to", q,
		'SELECT at, reason, 1' || w, false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('credit_queries_by_user', 'count', l, "from", "to", q,
		'SELECT at, quote_ident(user_name), 1' || w, false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('credit_queries_suspended', 'count', l, "from", "to", q,
		'SELECT at, institution, 1' || w || ' AND outcome = ''suspended''', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('credit_queries_refused', 'count', l, "from", "to", a,
		'SELECT event_time, quote_ident(db_user), 1 FROM finsec.audit WHERE event_time >= $1 AND event_time < $2'
		|| ' AND event_type = ''credit.query_refused''', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('credit_user_suspensions', 'count', l, "from", "to", a,
		'SELECT event_time, object, 1 FROM finsec.audit WHERE event_time >= $1 AND event_time < $2'
		|| ' AND event_type = ''credit.user_suspended''', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('disputes_opened', 'count', l, "from", "to", d,
		'SELECT received_at, institution, 1 FROM finsec.credit_dispute WHERE received_at >= $1 AND received_at < $2', true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('disputes_closed', 'count', l, "from", "to", d,
		'SELECT closed_at, status, 1 FROM finsec.credit_dispute WHERE closed_at >= $1 AND closed_at < $2', false, true);
	-- overdue: still open at the end of the period past its due time, or closed in the period after it
	RETURN QUERY SELECT * FROM finsec._report_figure('disputes_overdue', 'count', l, "from", "to", d,
		'SELECT least(due_at, $2 - interval ''1 microsecond''), CASE WHEN closed_at IS NULL OR closed_at >= $2 THEN ''open'' ELSE ''closed_late'' END, 1'
		|| ' FROM finsec.credit_dispute WHERE received_at < $2 AND due_at < $2'
		|| ' AND (closed_at IS NULL OR closed_at >= $2 OR (closed_at >= $1 AND closed_at > due_at))', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('deid_batches', 'count', l, "from", "to",
		ARRAY['finsec.deid_batch'::regclass],
		'SELECT finished_at, state, 1 FROM finsec.deid_batch WHERE finished_at >= $1 AND finished_at < $2', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('deid_records', 'count', l, "from", "to",
		ARRAY['finsec.deid_batch'::regclass],
		'SELECT finished_at, action, records FROM finsec.deid_batch WHERE finished_at >= $1 AND finished_at < $2 AND state = ''published''', false, true);
END
$$;
COMMENT ON FUNCTION finsec.report_credit(timestamptz, timestamptz, text) IS
	'credit data of [from, to): queries daily and by institution, by reason, by user, of suspended users, refused; user suspensions; disputes opened, closed, overdue; de-identification batches and records';
REVOKE ALL ON FUNCTION finsec.report_credit(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_credit(timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor;

/*
 * The built-in or finsec type behind a column of an application table
 * (domains followed to their base), as a class: time, number, money,
 * text, boolean, finsec (another finsec type: an identifier, valid by
 * construction), or NULL for a missing or dropped column or any other type
 * (a user-defined type, whose functions a report never runs).
 */
CREATE FUNCTION finsec._report_column_class(rel regclass, col text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH RECURSIVE a AS (
		SELECT t.oid, t.typtype, t.typbasetype, t.typnamespace, 0 AS depth
		  FROM pg_attribute at JOIN pg_type t ON t.oid = at.atttypid
		 WHERE at.attrelid = $1 AND at.attname = $2 AND at.attnum > 0 AND NOT at.attisdropped
		UNION ALL
		SELECT t.oid, t.typtype, t.typbasetype, t.typnamespace, a.depth + 1
		  FROM a JOIN pg_type t ON t.oid = a.typbasetype
		 WHERE a.typtype = 'd' AND a.depth < 16
	)
	SELECT CASE
			 WHEN b.typtype <> 'b' THEN NULL
			 WHEN b.oid IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN 'time'
			 WHEN b.oid IN ('numeric'::regtype, 'int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN 'number'
			 WHEN b.oid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'name'::regtype) THEN 'text'
			 WHEN b.oid = 'bool'::regtype THEN 'boolean'
			 WHEN b.typnamespace = 'finsec'::regnamespace AND b.oid = 'finsec.money'::regtype THEN 'money'
			 WHEN b.typnamespace = 'finsec'::regnamespace THEN 'finsec'
		   END
	  FROM (SELECT * FROM a ORDER BY depth DESC LIMIT 1) b
$$;
REVOKE ALL ON FUNCTION finsec._report_column_class(regclass, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_column_class(regclass, text) TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * The registered payments tables (finsec.limit_table, risk_table,
 * monitor_table, by relid) and the columns their mappings name: the time
 * (limits' posted_at, else risk's or the monitor's), the amount, the kind
 * and reversal kinds (limits), the currency (risk, monitor), the account
 * (else the customer), the status (monitor), the payment id and the
 * reversal reference (limits).  Needs SELECT on the three registries
 * (finsec_admin, finsec_auditor, finsec_operator).
 */
CREATE FUNCTION finsec._report_payment_tables(
	OUT relid regclass, OUT time_col text, OUT amount_col text, OUT kind_col text,
	OUT reversal_kinds text[], OUT exempt_kinds text[], OUT currency_col text,
	OUT account_col text, OUT customer_col text, OUT status_col text,
	OUT payment_id_col text, OUT reversal_col text, OUT card_col text, OUT counterparty_col text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT r.relid,
		   coalesce(l.time_column, k.posted_at_column, m.posted_at_column),
		   coalesce(l.amount_column, k.amount_column, m.amount_column),
		   l.kind_column,
		   coalesce(l.reversal_kinds, '{}'), coalesce(l.exempt_kinds, '{}'),
		   coalesce(k.currency_column, m.currency_column),
		   coalesce(l.account_column, k.account_column, m.account_column),
		   coalesce(l.customer_column, k.customer_column, m.customer_column),
		   m.status_column,
		   l.payment_id_column, l.reversal_column,
		   k.card_column,
		   coalesce(l.counterparty_column, k.counterparty_column, m.counterparty_column)
	  FROM (SELECT t.relid FROM finsec.limit_table t
			UNION SELECT t.relid FROM finsec.risk_table t
			UNION SELECT t.relid FROM finsec.monitor_table t) r
	  LEFT JOIN finsec.limit_table l ON l.relid = r.relid
	  LEFT JOIN finsec.risk_table k ON k.relid = r.relid
	  LEFT JOIN finsec.monitor_table m ON m.relid = r.relid
	 ORDER BY r.relid::text
$$;
REVOKE ALL ON FUNCTION finsec._report_payment_tables() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_payment_tables() TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * Why the caller cannot read a registered table for a report (NULL: it
 * can): not an ordinary or partitioned table, a mapped column missing or
 * of another type than the report reads, or no SELECT on a column it
 * needs.  cols: column names, classes: the class each must have (NULL
 * entries skipped).
 */
CREATE FUNCTION finsec._report_unreadable(rel regclass, cols text[], classes text[])
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	i integer;
	c text;
BEGIN
	IF rel IS NULL OR (SELECT relkind FROM pg_class WHERE oid = rel) IS DISTINCT FROM 'r'
	   AND (SELECT relkind FROM pg_class WHERE oid = rel) IS DISTINCT FROM 'p' THEN
		RETURN 'not_a_table';
	END IF;
	FOR i IN 1 .. coalesce(array_length(cols, 1), 0) LOOP
		CONTINUE WHEN cols[i] IS NULL;
		c := finsec._report_column_class(rel, cols[i]);
		IF c IS NULL OR (classes[i] IS NOT NULL AND NOT c = ANY (string_to_array(classes[i], '|'))) THEN
			RETURN format('column %s is missing or of a type the report does not read', quote_ident(cols[i]));
		END IF;
		IF NOT has_column_privilege(rel, cols[i], 'SELECT') THEN
			RETURN format('no SELECT privilege on column %s', quote_ident(cols[i]));
		END IF;
	END LOOP;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION finsec._report_unreadable(regclass, text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_unreadable(regclass, text[], text[]) TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * ---- report_business: from the registered payments tables ----
 * Each payment is classed by its kind (limits' kind column): a reversal
 * kind of the table, or a kind containing refund/reversal/chargeback, is a
 * refund; one containing settle a settlement, withdraw a withdrawal,
 * transfer a transfer; every other kind, and every payment of a table
 * without a kind column, a payment.  Amounts are summed per currency: a
 * finsec.money column with finsec's exact sum, a numeric or integer one
 * exactly as numeric in the mapped currency column's currency, or CNY when
 * the table maps none (as the monitor does).  accounts_registered counts
 * the accounts (else customers) whose first payment in the table falls in
 * the period; accounts_active those with a payment in it.  A table the
 * caller cannot read (or a column of another type) makes every figure's
 * total NULL with unit cannot_read, with one unreadable_table row naming
 * the table and the reason in its label; no daily rows are given then.
 */
CREATE FUNCTION finsec.report_business("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL,
	tables regclass[] DEFAULT NULL)
RETURNS TABLE (figure text, label text, day date, dimension text, value numeric, unit text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET row_security = off
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	tz text := finsec._report_tz();
	t record;
	why text;
	src text;
	tcol text;
	kexpr text;
	cexpr text;
	aexpr text;
	acct text;
	acc jsonb := '[]';
	part jsonb;
	bad jsonb := '[]';
	counts text[] := ARRAY['accounts_registered', 'payments', 'settlements', 'transfers', 'withdrawals', 'refunds'];
	f text;
BEGIN
	IF NOT (has_table_privilege('finsec.limit_table', 'SELECT') AND has_table_privilege('finsec.risk_table', 'SELECT')
			AND has_table_privilege('finsec.monitor_table', 'SELECT')) THEN
		bad := jsonb_build_array(jsonb_build_object('table', 'finsec.limit_table', 'reason', 'no SELECT privilege on the registries of payments tables'));
	ELSE
		bad := bad || coalesce((SELECT jsonb_agg(jsonb_build_object('table', x::text, 'reason', 'not a registered payments table'))
								  FROM unnest(tables) x
								 WHERE x IS NULL OR x NOT IN (SELECT r.relid FROM finsec._report_payment_tables() r)), '[]');
		FOR t IN SELECT * FROM finsec._report_payment_tables() r WHERE tables IS NULL OR r.relid = ANY (tables) LOOP
			why := finsec._report_unreadable(t.relid,
				ARRAY[t.time_col, t.amount_col, t.kind_col, t.currency_col, coalesce(t.account_col, t.customer_col)],
				ARRAY['time', 'number|money', 'text', 'text', 'text|number|finsec']);
			IF why IS NULL AND t.time_col IS NULL THEN
				why := 'no time column is mapped';
			END IF;
			IF why IS NOT NULL THEN
				bad := bad || jsonb_build_object('table', t.relid::text, 'reason', why);
				CONTINUE;
			END IF;
			src := format('%s %s t', CASE WHEN (SELECT relkind FROM pg_class WHERE oid = t.relid) = 'r' THEN 'ONLY' ELSE '' END,
						  t.relid::text);
			tcol := format('t.%I::timestamptz', t.time_col);
			kexpr := CASE WHEN t.kind_col IS NULL THEN '''payments'''
						  ELSE format($k$CASE WHEN t.%1$I IS NULL THEN 'payments'
							   WHEN t.%1$I::text = ANY ($3) OR lower(t.%1$I::text) ~ '(refund|reversal|chargeback)' THEN 'refunds'
							   WHEN lower(t.%1$I::text) ~ 'settle' THEN 'settlements'
							   WHEN lower(t.%1$I::text) ~ 'withdraw' THEN 'withdrawals'
							   WHEN lower(t.%1$I::text) ~ 'transfer' THEN 'transfers'
							   ELSE 'payments' END$k$, t.kind_col) END;
			IF finsec._report_column_class(t.relid, t.amount_col) = 'money' THEN
				cexpr := format('finsec.currency(t.%I)', t.amount_col);
				aexpr := format('finsec.amount(sum(t.%I))', t.amount_col);
			ELSE
				cexpr := CASE WHEN t.currency_col IS NULL THEN '''CNY'''
							  ELSE format('coalesce(t.%I::text, ''CNY'')', t.currency_col) END;
				aexpr := format('sum(t.%I::numeric)', t.amount_col);
			END IF;
			acct := coalesce(t.account_col, t.customer_col);
			BEGIN
				EXECUTE format($q$
					SELECT coalesce(jsonb_agg(jsonb_build_object('day', g.day, 'figure', g.fig, 'cur', g.cur, 'n', g.n, 'amount', g.amount)), '[]')
					  FROM (SELECT (%1$s AT TIME ZONE $4)::date AS day, %2$s AS fig, %3$s AS cur, count(*) AS n, %4$s AS amount
							  FROM %5$s
							 WHERE %1$s >= $1 AND %1$s < $2
							 GROUP BY 1, 2, 3) g$q$,
					tcol, kexpr, cexpr, aexpr, src)
					INTO part USING "from", "to", t.reversal_kinds, tz;
				acc := acc || part;
				-- first payment of each account in this table, and accounts active in the period
				EXECUTE format($q$
					SELECT coalesce(jsonb_agg(jsonb_build_object('day', g.day, 'figure', 'accounts_registered', 'n', g.n)), '[]')
					  FROM (SELECT (f AT TIME ZONE $3)::date AS day, count(*) AS n
							  FROM (SELECT min(%1$s) AS f FROM %2$s WHERE %1$s < $2 AND t.%3$I IS NOT NULL GROUP BY t.%3$I) s
							 WHERE f >= $1 GROUP BY 1) g$q$, tcol, src, acct)
					INTO part USING "from", "to", tz;
				acc := acc || part;
				EXECUTE format($q$
					SELECT jsonb_build_array(jsonb_build_object('figure', 'accounts_active', 'n', count(DISTINCT t.%3$I)))
					  FROM %2$s WHERE %1$s >= $1 AND %1$s < $2$q$, tcol, src, acct)
					INTO part USING "from", "to";
				acc := acc || part;
			EXCEPTION WHEN insufficient_privilege THEN
				bad := bad || jsonb_build_object('table', t.relid::text, 'reason', 'row-level security or a privilege refused the read');
			END;
		END LOOP;
	END IF;

	IF jsonb_array_length(bad) > 0 THEN
		FOREACH f IN ARRAY counts || ARRAY['accounts_active', 'payments_amount', 'settlements_amount', 'transfers_amount',
										   'withdrawals_amount', 'refunds_amount'] LOOP
			RETURN QUERY SELECT f, finsec.report_label(f, l), NULL::date, NULL::text, NULL::numeric, 'cannot_read'::text;
		END LOOP;
		RETURN QUERY SELECT 'unreadable_table'::text, finsec.report_label('unreadable_table', l) || ': ' || (b ->> 'reason'),
							NULL::date, b ->> 'table', NULL::numeric, 'cannot_read'::text
					   FROM jsonb_array_elements(bad) b;
		RETURN;
	END IF;

	-- one pass over the accumulated cells: totals, every day of every count figure, amounts per currency
	RETURN QUERY
		WITH c AS MATERIALIZED (
			SELECT x.day, x.figure, x.cur, x.n, x.amount
			  FROM jsonb_to_recordset(acc) AS x(day date, figure text, cur text, n numeric, amount numeric)),
		 fig AS (SELECT f.name, f.ord FROM unnest(counts) WITH ORDINALITY AS f(name, ord)),
		 days AS (SELECT d.d FROM finsec._report_days("from", "to") d(d)),
		 daily AS (SELECT c.figure, c.day, sum(c.n) AS n FROM c WHERE c.day IS NOT NULL GROUP BY 1, 2),
		 amounts AS (SELECT c.figure, c.cur, sum(c.amount) AS amount FROM c
					  WHERE c.figure <> ALL (ARRAY['accounts_registered', 'accounts_active']) GROUP BY 1, 2)
		SELECT r.figure, finsec.report_label(r.figure, l), r.day, r.dimension, r.value, r.unit
		  FROM (SELECT fig.name AS figure, NULL::date AS day, NULL::text AS dimension,
					   coalesce((SELECT sum(c.n) FROM c WHERE c.figure = fig.name), 0) AS value,
					   'count'::text AS unit, fig.ord AS o1, 0 AS o2, NULL::date AS o3, NULL::text AS o4
				  FROM fig
				UNION ALL
				SELECT fig.name, days.d, NULL, coalesce(daily.n, 0), 'count', fig.ord, 1, days.d, NULL
				  FROM fig CROSS JOIN days
				  LEFT JOIN daily ON daily.figure = fig.name AND daily.day = days.d
				UNION ALL
				SELECT 'accounts_active', NULL, NULL,
					   coalesce((SELECT sum(c.n) FROM c WHERE c.figure = 'accounts_active'), 0), 'count', 7, 0, NULL, NULL
				UNION ALL
				SELECT fig.name || '_amount', NULL, a.cur, coalesce(a.amount, 0), 'amount', 7 + fig.ord, 0, NULL, a.cur
				  FROM fig LEFT JOIN amounts a ON a.figure = fig.name
				 WHERE fig.name <> 'accounts_registered') r
		 ORDER BY r.o1, r.o2, r.o3, r.o4;
END
$$;
COMMENT ON FUNCTION finsec.report_business(timestamptz, timestamptz, text, regclass[]) IS
	'business figures of [from, to) from the registered payments tables (or those of tables), read as the caller: accounts registered and active, payments, settlements, transfers, withdrawals, refunds (daily), their amounts per currency; cannot_read where the caller cannot read a table';
REVOKE ALL ON FUNCTION finsec.report_business(timestamptz, timestamptz, text, regclass[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_business(timestamptz, timestamptz, text, regclass[]) TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * ---- report_access_review (004 9.3 d): one row per login role ----
 * From finsec.role_inventory() (SECURITY DEFINER, reads pg_authid, never a
 * password or hash; finsec_admin, finsec_auditor), finsec.role_last_login()
 * where it exists, finsec.role_suspension and the ledger's privilege
 * changes of the period that name the role (object, or the target of a
 * change request, or detail.role).  A source the caller cannot read leaves
 * its columns NULL and says so in findings (cannot_read_...); without
 * role_inventory the report is one row, role NULL, findings
 * {cannot_read_role_inventory}.
 */
CREATE FUNCTION finsec.report_access_review("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL)
RETURNS TABLE (role name, duties name[], superuser boolean, createrole boolean, bypassrls boolean,
			   replication boolean, valid_until timestamptz, password_changed_at timestamptz,
			   password_age_days integer, last_login_at timestamptz, locked boolean, suspended boolean,
			   privilege_changes bigint, findings text[])
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	inactive interval := coalesce(nullif(current_setting('finsec.compliance_inactive_after', true), '')::interval,
								  interval '90 days');
	can_login boolean := to_regprocedure('finsec.role_last_login()') IS NOT NULL
						 AND has_function_privilege('finsec.role_last_login()', 'EXECUTE');
	can_audit boolean := has_table_privilege('finsec.audit', 'SELECT');
	can_susp boolean := has_table_privilege('finsec.role_suspension', 'SELECT');
	logins jsonb := '{}';
	since timestamptz;
	r record;
	f text[];
	ll timestamptz;
	n bigint;
	s boolean;
BEGIN
	IF NOT has_function_privilege('finsec.role_inventory()', 'EXECUTE') THEN
		RETURN QUERY SELECT NULL::name, NULL::name[], NULL::boolean, NULL::boolean, NULL::boolean, NULL::boolean,
							NULL::timestamptz, NULL::timestamptz, NULL::integer, NULL::timestamptz, NULL::boolean,
							NULL::boolean, NULL::bigint, ARRAY['cannot_read_role_inventory'];
		RETURN;
	END IF;
	IF can_login THEN
		EXECUTE 'SELECT coalesce(jsonb_object_agg(x.role, x.last_login_at), ''{}''), min(x.recording_since)'
				' FROM finsec.role_last_login() x'
			INTO logins, since;
	END IF;
	FOR r IN SELECT i.*,
					ARRAY(SELECT g.rolname FROM pg_roles g
						   WHERE g.rolname IN ('finsec_admin', 'finsec_auditor', 'finsec_operator', 'finsec_app',
											   'finsec_unmask', 'finsec_research')
							 AND pg_has_role(i.role, g.oid, 'MEMBER')
						   ORDER BY g.rolname)::name[] AS d
			   FROM finsec.role_inventory() i ORDER BY i.role LOOP
		f := '{}';
		ll := NULL;
		IF can_login THEN
			ll := (logins ->> r.role::text)::timestamptz;
			IF (ll IS NOT NULL AND ll < now() - inactive) OR (ll IS NULL AND since IS NOT NULL AND since < now() - inactive) THEN
				f := f || 'inactive'::text;
			ELSIF ll IS NULL THEN
				f := f || 'no_login_recorded'::text;
			END IF;
		ELSE
			f := f || 'cannot_read_last_login'::text;
		END IF;
		IF r.d @> '{finsec_admin,finsec_auditor}' OR r.d @> '{finsec_admin,finsec_unmask}'
		   OR r.d @> '{finsec_auditor,finsec_operator}' OR r.d @> '{finsec_admin,finsec_app}' THEN
			f := f || 'conflicting_duties'::text;
		END IF;
		IF r.superuser THEN f := f || 'superuser'::text; END IF;
		IF r.createrole THEN f := f || 'createrole'::text; END IF;
		IF r.bypassrls THEN f := f || 'bypassrls'::text; END IF;
		IF r.has_password AND r.valid_until IS NULL THEN f := f || 'no_expiry'::text; END IF;
		IF r.password_expired THEN f := f || 'password_expired'::text; END IF;
		IF r.locked_until IS NOT NULL AND r.locked_until > now() THEN f := f || 'locked'::text; END IF;
		s := NULL;
		IF can_susp THEN
			s := EXISTS (SELECT 1 FROM finsec.role_suspension x WHERE x.roleid = (SELECT oid FROM pg_roles WHERE rolname = r.role)
							AND x.lifted_at IS NULL);
			IF s THEN f := f || 'suspended'::text; END IF;
		ELSE
			f := f || 'cannot_read_role_suspension'::text;
		END IF;
		n := NULL;
		IF can_audit THEN
			SELECT count(*) INTO n FROM finsec.audit a
			 WHERE a.event_time >= "from" AND a.event_time < "to"
			   AND finsec._report_privilege_event(a.event_type)
			   AND (a.object = r.role::text OR split_part(a.object, ':', 2) = r.role::text
					OR a.detail ->> 'role' = r.role::text);
			IF n > 0 THEN f := f || 'privilege_changed'::text; END IF;
		ELSE
			f := f || 'cannot_read_audit'::text;
		END IF;
		RETURN QUERY SELECT r.role, r.d, r.superuser, r.createrole, r.bypassrls, r.replication, r.valid_until,
							r.password_changed_at,
							CASE WHEN r.password_changed_at IS NULL THEN NULL
								 ELSE extract(day FROM now() - r.password_changed_at)::integer END,
							ll, r.locked_until IS NOT NULL AND r.locked_until > now(), s, n, f;
	END LOOP;
END
$$;
COMMENT ON FUNCTION finsec.report_access_review(timestamptz, timestamptz, text) IS
	'access review (004 9.3 d): every login role with its finsec duties, attributes, expiry, password age, last login, lock, suspension, privilege changes of [from, to) and findings';
REVOKE ALL ON FUNCTION finsec.report_access_review(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_access_review(timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor;

/*
 * ---- report_data_quality (Q1, 001 10.1): per registered payments table ----
 * Reads at most max_rows rows of the period per table and measure (the
 * first the scan returns, not a random sample; detail.bounded says when
 * the limit was reached), as the caller.
 *   completeness: NULLs in each mapped column (time, amount, customer,
 *     account, currency, kind);
 *   accuracy: text columns holding identifiers failing their check digits:
 *     the risk mapping's card column (Luhn, finsec.is_valid_bank_card), and
 *     mapped customer, account and counterparty columns whose name says
 *     what they hold (resident id: finsec.is_valid_cn_resident_id; uscc:
 *     finsec.is_valid_uscc; card: finsec.is_valid_bank_card); columns of
 *     finsec's identifier types are valid by construction (failing 0);
 *   consistency: reversals (limits' reversal column) whose original
 *     payment (payment id column) is not in the table;
 *   timeliness: delay from the event time (risk or monitor posted_at) to
 *     the time finsec posted it (limits' posted_at) when both are mapped
 *     and differ, and from the payment to the monitor's batch that read
 *     it; p50, p95, max in seconds.
 */
CREATE FUNCTION finsec._report_id_kind(col text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN lower($1) ~ '(resident|id_?no|id_?number|idcard|id_card|sfz|shenfen)' THEN 'cn_resident_id'
				WHEN lower($1) ~ '(uscc|credit_?code)' THEN 'uscc'
				WHEN lower($1) ~ '(card|pan)' THEN 'bank_card'
		   END
$$;
REVOKE ALL ON FUNCTION finsec._report_id_kind(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_id_kind(text) TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec.report_data_quality("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL,
	max_rows integer DEFAULT 100000, tables regclass[] DEFAULT NULL)
RETURNS TABLE (table_name text, dimension text, measure text, checked bigint, failing bigint, ratio numeric, detail jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET row_security = off
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	t record;
	src text;
	per text;
	why text;
	c text;
	k text;
	cls text;
	n bigint;
	bad bigint;
	j jsonb;
	cols text[];
	names text[] := ARRAY['time', 'amount', 'customer', 'account', 'currency', 'kind'];
	i integer;
BEGIN
	IF max_rows IS NULL OR max_rows < 1 OR max_rows > 100000000 THEN
		RAISE EXCEPTION 'max_rows of report_data_quality must be between 1 and 100000000'
			USING ERRCODE = 'S9Q45',
				  DETAIL = format('max_rows is %s.', coalesce(max_rows::text, 'NULL')),
				  HINT = 'Pass a bound on the rows read per table and measure, e.g. 100000.';
	END IF;
	IF NOT (has_table_privilege('finsec.limit_table', 'SELECT') AND has_table_privilege('finsec.risk_table', 'SELECT')
			AND has_table_privilege('finsec.monitor_table', 'SELECT')) THEN
		RETURN QUERY SELECT NULL::text, 'all'::text, 'cannot_read'::text, NULL::bigint, NULL::bigint, NULL::numeric,
							jsonb_build_object('reason', 'no SELECT privilege on the registries of payments tables',
											   'needs', 'finsec_admin, finsec_auditor or finsec_operator');
		RETURN;
	END IF;
	RETURN QUERY SELECT x::text, 'all'::text, 'cannot_read'::text, NULL::bigint, NULL::bigint, NULL::numeric,
						jsonb_build_object('reason', 'not a registered payments table',
										   'needs', 'finsec.enable_limits, enable_risk or enable_monitoring')
				   FROM unnest(tables) x
				  WHERE x IS NULL OR x NOT IN (SELECT r.relid FROM finsec._report_payment_tables() r);
	FOR t IN SELECT * FROM finsec._report_payment_tables() r WHERE tables IS NULL OR r.relid = ANY (tables) LOOP
		cols := ARRAY[t.time_col, t.amount_col, t.customer_col, t.account_col, t.currency_col, t.kind_col];
		why := finsec._report_unreadable(t.relid, cols || ARRAY[t.card_col, t.counterparty_col, t.payment_id_col, t.reversal_col],
										 NULL);
		IF why IS NULL AND t.time_col IS NULL THEN
			why := 'no time column is mapped';
		END IF;
		IF why IS NULL AND finsec._report_column_class(t.relid, t.time_col) <> 'time' THEN
			why := format('column %s is not a time', quote_ident(t.time_col));
		END IF;
		IF why IS NOT NULL THEN
			RETURN QUERY SELECT t.relid::text, 'all'::text, 'cannot_read'::text, NULL::bigint, NULL::bigint, NULL::numeric,
								jsonb_build_object('reason', why, 'needs', 'SELECT on the mapped columns');
			CONTINUE;
		END IF;
		src := format('%s %s t', CASE WHEN (SELECT relkind FROM pg_class WHERE oid = t.relid) = 'r' THEN 'ONLY' ELSE '' END,
					  t.relid::text);
		per := format('(SELECT * FROM %s WHERE t.%I::timestamptz >= $1 AND t.%I::timestamptz < $2 LIMIT $3) t',
					  src, t.time_col, t.time_col);
		BEGIN
			-- completeness
			FOR i IN 1 .. 6 LOOP
				CONTINUE WHEN cols[i] IS NULL;
				EXECUTE format('SELECT count(*), count(*) FILTER (WHERE t.%I IS NULL) FROM %s', cols[i], per)
					INTO n, bad USING "from", "to", max_rows;
				RETURN QUERY SELECT t.relid::text, 'completeness'::text, quote_ident(cols[i]), n, bad,
									CASE WHEN n > 0 THEN round(bad::numeric / n, 6) END,
									jsonb_build_object('mapped_as', names[i], 'bounded', n >= max_rows, 'max_rows', max_rows);
			END LOOP;
			-- accuracy
			FOREACH c IN ARRAY ARRAY[t.card_col, t.customer_col, t.account_col, t.counterparty_col] LOOP
				CONTINUE WHEN c IS NULL;
				cls := finsec._report_column_class(t.relid, c);
				k := CASE WHEN c = t.card_col THEN 'bank_card' ELSE finsec._report_id_kind(c) END;
				IF cls = 'finsec' THEN
					RETURN QUERY SELECT t.relid::text, 'accuracy'::text, quote_ident(c), NULL::bigint, 0::bigint, 0::numeric,
										jsonb_build_object('type', format_type((SELECT atttypid FROM pg_attribute
																				WHERE attrelid = t.relid AND attname = c), NULL),
														   'valid_by_construction', true);
					CONTINUE;
				END IF;
				CONTINUE WHEN k IS NULL OR cls IS DISTINCT FROM 'text';
				EXECUTE format('SELECT count(t.%1$I), count(*) FILTER (WHERE t.%1$I IS NOT NULL AND NOT finsec.%2$s(t.%1$I::text)) FROM %3$s',
							   c, CASE k WHEN 'bank_card' THEN 'is_valid_bank_card'
										 WHEN 'uscc' THEN 'is_valid_uscc' ELSE 'is_valid_cn_resident_id' END, per)
					INTO n, bad USING "from", "to", max_rows;
				RETURN QUERY SELECT t.relid::text, 'accuracy'::text, quote_ident(c), n, bad,
									CASE WHEN n > 0 THEN round(bad::numeric / n, 6) END,
									jsonb_build_object('identifier', k, 'bounded', n >= max_rows, 'max_rows', max_rows);
			END LOOP;
			-- consistency: reversals without their original
			IF t.payment_id_col IS NOT NULL AND t.reversal_col IS NOT NULL THEN
				IF finsec._report_column_class(t.relid, t.payment_id_col) IS DISTINCT FROM finsec._report_column_class(t.relid, t.reversal_col) THEN
					RETURN QUERY SELECT t.relid::text, 'consistency'::text, quote_ident(t.reversal_col), NULL::bigint, NULL::bigint,
										NULL::numeric, jsonb_build_object('reason', 'the payment id and reversal columns are of different types');
				ELSE
					EXECUTE format('SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM %5$s %1$s o WHERE o.%2$I = t.%3$I))'
								   ' FROM %4$s WHERE t.%3$I IS NOT NULL',
								   t.relid::text, t.payment_id_col, t.reversal_col, per,
								   CASE WHEN (SELECT relkind FROM pg_class WHERE oid = t.relid) = 'r' THEN 'ONLY' ELSE '' END)
						INTO n, bad USING "from", "to", max_rows;
					RETURN QUERY SELECT t.relid::text, 'consistency'::text, quote_ident(t.reversal_col), n, bad,
										CASE WHEN n > 0 THEN round(bad::numeric / n, 6) END,
										jsonb_build_object('references', quote_ident(t.payment_id_col), 'orphans', 'reversals whose original payment is not in the table',
														   'bounded', n >= max_rows, 'max_rows', max_rows);
				END IF;
			ELSE
				RETURN QUERY SELECT t.relid::text, 'consistency'::text, 'reversal_of'::text, 0::bigint, 0::bigint, NULL::numeric,
									jsonb_build_object('reason', 'the mapping names no payment id and reversal columns: nothing to check');
			END IF;
			-- timeliness: posting delay between two mapped times
			c := (SELECT coalesce(k2.posted_at_column, m2.posted_at_column)
					FROM (SELECT 1) x LEFT JOIN finsec.risk_table k2 ON k2.relid = t.relid
					LEFT JOIN finsec.monitor_table m2 ON m2.relid = t.relid);
			IF c IS NOT NULL AND c <> t.time_col AND finsec._report_column_class(t.relid, c) = 'time' THEN
				EXECUTE format('SELECT jsonb_build_object(''p50_s'', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 3),'
							   ' ''p95_s'', round(percentile_cont(0.95) WITHIN GROUP (ORDER BY d)::numeric, 3), ''max_s'', round(max(d)::numeric, 3),'
							   ' ''rows'', count(*)) FROM (SELECT extract(epoch FROM t.%1$I::timestamptz - t.%2$I::timestamptz) AS d FROM %3$s'
							   ' WHERE t.%2$I IS NOT NULL) s', t.time_col, c, per)
					INTO j USING "from", "to", max_rows;
				RETURN QUERY SELECT t.relid::text, 'timeliness'::text, 'posting_delay'::text, (j ->> 'rows')::bigint,
									NULL::bigint, NULL::numeric, j || jsonb_build_object('event_time', quote_ident(c), 'posted_time', quote_ident(t.time_col));
			ELSE
				RETURN QUERY SELECT t.relid::text, 'timeliness'::text, 'posting_delay'::text, 0::bigint, NULL::bigint, NULL::numeric,
									jsonb_build_object('reason', 'the mappings name one time column: no second time to compare');
			END IF;
		EXCEPTION WHEN insufficient_privilege THEN
			RETURN QUERY SELECT t.relid::text, 'all'::text, 'cannot_read'::text, NULL::bigint, NULL::bigint, NULL::numeric,
								jsonb_build_object('reason', 'row-level security or a privilege refused the read',
												   'needs', 'SELECT on the table without row-level security');
		END;
		-- timeliness: payment to the monitor's batch that read it
		IF has_table_privilege('finsec.monitor_event', 'SELECT') AND has_table_privilege('finsec.monitor_batch', 'SELECT') THEN
			SELECT jsonb_build_object('p50_s', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 3),
									  'p95_s', round(percentile_cont(0.95) WITHIN GROUP (ORDER BY d)::numeric, 3),
									  'max_s', round(max(d)::numeric, 3), 'rows', count(*))
			  INTO j
			  FROM (SELECT extract(epoch FROM b.finished_at - e.at) AS d
					  FROM finsec.monitor_table mt
					  JOIN finsec.monitor_event e ON e.table_id = mt.table_id
					  JOIN finsec.monitor_batch b ON b.batch_id = e.batch_id
					 WHERE mt.relid = t.relid AND e.at >= "from" AND e.at < "to" AND e.stamp IS NOT NULL
					 LIMIT max_rows) s;
			IF (j ->> 'rows')::bigint > 0 THEN
				RETURN QUERY SELECT t.relid::text, 'timeliness'::text, 'monitoring_delay'::text, (j ->> 'rows')::bigint,
									NULL::bigint, NULL::numeric, j;
			END IF;
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION finsec.report_data_quality(timestamptz, timestamptz, text, integer, regclass[]) IS
	'data quality of the registered payments tables over [from, to) (Q1, 001 10.1): completeness, accuracy, consistency, timeliness; at most max_rows rows per table and measure, read as the caller';
REVOKE ALL ON FUNCTION finsec.report_data_quality(timestamptz, timestamptz, text, integer, regclass[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_data_quality(timestamptz, timestamptz, text, integer, regclass[]) TO finsec_admin, finsec_auditor;


/*
 * Check audit_analysis (004 7.5.7 f, U11): the ledger was analysed with
 * finsec.report_audit over a period of at least min_period_days (default
 * 28: a month) within the last max_age_days (default 31): an
 * audit.analysis event, which only finsec's own functions can write.
 * cannot_verify when the caller cannot read the ledger.
 */
CREATE FUNCTION finsec._check_audit_analysis(args jsonb, OUT status text, OUT evidence jsonb)
RETURNS record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	max_age integer;
	min_period integer;
	r record;
BEGIN
	BEGIN
		max_age := coalesce((args ->> 'max_age_days')::integer, 31);
		min_period := coalesce((args ->> 'min_period_days')::integer, 28);
	EXCEPTION WHEN OTHERS THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the check''s arguments are not whole numbers of days',
									   'needs', 'args {"max_age_days": 31, "min_period_days": 28}', 'args', args);
		RETURN;
	END;
	IF NOT has_table_privilege('finsec.audit', 'SELECT') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller cannot read the audit ledger finsec.audit',
									   'needs', 'membership in finsec_auditor');
		RETURN;
	END IF;
	SELECT a.event_time, a.db_user, a.detail INTO r
	  FROM finsec.audit a
	 WHERE a.event_type = 'audit.analysis' AND a.success
	   AND (a.detail ->> 'to')::timestamptz - (a.detail ->> 'from')::timestamptz >= make_interval(days => min_period)
	 ORDER BY a.event_time DESC LIMIT 1;
	evidence := jsonb_build_object('max_age_days', max_age, 'min_period_days', min_period,
								   'last_analysis_at', r.event_time, 'analysed_by', quote_ident(r.db_user),
								   'period_from', r.detail -> 'from', 'period_to', r.detail -> 'to');
	status := CASE WHEN r.event_time IS NOT NULL AND r.event_time >= now() - make_interval(days => max_age)
				   THEN 'pass' ELSE 'fail' END;
END
$$;
COMMENT ON FUNCTION finsec._check_audit_analysis(jsonb) IS
	'compliance check: the audit ledger analysed (finsec.report_audit over a month) within the last month';
REVOKE ALL ON FUNCTION finsec._check_audit_analysis(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._check_audit_analysis(jsonb) TO finsec_admin, finsec_auditor;

INSERT INTO finsec.compliance_check_def (check_name, function, title_zh, title_en, builtin)
VALUES ('audit_analysis', 'finsec._check_audit_analysis(jsonb)', '审计数据每月分析', 'Audit data analysed monthly', true);
-- mapped onto the clauses of the catalog (section 1b) where they are there
INSERT INTO finsec.clause_check (clause_id, check_name, args, builtin)
SELECT c.clause_id, 'audit_analysis', c.args::jsonb, true
  FROM (VALUES ('004:7.5.7f', '{"max_age_days": 31, "min_period_days": 28}'),
			   ('004:7.5.5b', '{"max_age_days": 31, "min_period_days": 28}')) c(clause_id, args)
 WHERE EXISTS (SELECT 1 FROM finsec.clause k WHERE k.clause_id = c.clause_id);

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
