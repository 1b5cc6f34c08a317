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

/*
 * Section 6 (docs/compliance-html.md): the printable report and the
 * report for tooling.  Everything here is SECURITY INVOKER: the page shows
 * what finsec.compliance_check() and the report functions show to the
 * caller (cannot_verify where the caller cannot see), nothing more.
 * Every value written into the page goes through finsec._html_escape().
 */

/*
 * HTML escaping of text content and attribute values: & < > " ' (NULL:
 * '').  It also writes the ':' of '://', the '(' of 'url(' and the '@' of
 * '@import' as character references (the same text on the page), so that
 * no value, even as harmless text, reads as a URL or a CSS import to a
 * scanner of the page (the tests assert there is none anywhere).
 */
CREATE FUNCTION finsec._html_escape(s text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(regexp_replace(regexp_replace(replace(
			replace(replace(replace(replace(replace(s, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;'),
			'://', '&#58;//'), '(url)\(', '\1&#40;', 'gi'), '@(import)', '&#64;\1', 'gi'), '')
$$;
COMMENT ON FUNCTION finsec._html_escape(text) IS
	'HTML-escapes & < > " and '' (and the : of ://, the ( of url(, the @ of @import); NULL gives the empty string; every value in compliance_report_html goes through it';
REVOKE ALL ON FUNCTION finsec._html_escape(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._html_escape(text) TO finsec_admin, finsec_auditor;

-- The report language: the argument, else finsec.report_language; zh_CN or en.
CREATE FUNCTION finsec._html_lang(lang text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := lower(btrim(coalesce(lang, current_setting('finsec.report_language', true), 'zh_CN')));
BEGIN
	IF l IN ('zh_cn', 'zh', 'zh-cn') THEN
		RETURN 'zh_CN';
	ELSIF l IN ('en', 'en_us', 'en-us', 'en_gb', 'en-gb') THEN
		RETURN 'en';
	END IF;
	RAISE EXCEPTION 'report language "%" is not supported', left(lang, 40)
		USING ERRCODE = 'S9Q50', HINT = 'Use zh_CN or en, or NULL for finsec.report_language.';
END
$$;
REVOKE ALL ON FUNCTION finsec._html_lang(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._html_lang(text) TO finsec_admin, finsec_auditor;

/*
 * A number for the page: digits grouped by three with ',' and '.' before
 * the fraction in both languages (the convention of Chinese financial
 * statements as of English ones).  NULL: '—'.
 */
CREATE FUNCTION finsec._html_num(v numeric, lang text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN v IS NULL THEN '—'
		   WHEN v = 'NaN'::numeric THEN 'NaN'
		   ELSE (CASE WHEN v < 0 THEN '-' ELSE '' END)
				|| regexp_replace(split_part(abs(v)::text, '.', 1), '(\d)(?=(\d{3})+$)', '\1,', 'g')
				|| CASE WHEN position('.' IN abs(v)::text) > 0
						THEN '.' || split_part(abs(v)::text, '.', 2) ELSE '' END
		   END
$$;
REVOKE ALL ON FUNCTION finsec._html_num(numeric, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._html_num(numeric, text) TO finsec_admin, finsec_auditor;

-- A date for the page: 2026年12月02日 (zh_CN) or 2026-12-02 (en).
CREATE FUNCTION finsec._html_date(d date, lang text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN d IS NULL THEN '—'
		   WHEN NOT isfinite(d) THEN d::text
		   WHEN lang = 'zh_CN' THEN to_char(d, 'YYYY"年"MM"月"DD"日"')
		   ELSE to_char(d, 'YYYY-MM-DD') END
$$;
REVOKE ALL ON FUNCTION finsec._html_date(date, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._html_date(date, text) TO finsec_admin, finsec_auditor;

-- The statuses in the order of the page, with their labels and colours
-- (fills of distinct grey levels, so that a grey print still tells them
-- apart; the charts also write each status's letter and count).
CREATE FUNCTION finsec._compliance_statuses(OUT ord int, OUT status text, OUT letter text,
											OUT label_zh text, OUT label_en text, OUT fill text, OUT ink text)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	VALUES (1, 'fail', 'F', '不符合', 'fail', '#8b1a1a', '#ffffff'),
		   (2, 'warn', 'W', '警告', 'warn', '#f7ca45', '#000000'),
		   (3, 'cannot_verify', 'C', '无法验证', 'cannot verify', '#7e57c2', '#ffffff'),
		   (4, 'pass', 'P', '符合', 'pass', '#3f9b5f', '#ffffff'),
		   (5, 'manual', 'M', '人工核查', 'manual', '#79a6dc', '#000000'),
		   (6, 'excluded', 'E', '已豁免', 'excluded', '#ffffff', '#000000'),
		   (7, 'out_of_scope', 'O', '不适用', 'out of scope', '#e0e0e0', '#000000')
$$;
REVOKE ALL ON FUNCTION finsec._compliance_statuses() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_statuses() TO finsec_admin, finsec_auditor;

/*
 * The SHA-256 of a run's check results, as printed in the page's footer
 * and returned by compliance_json: over the JSON array of
 * {clause_id, check_name, status, evidence} of every row, ordered by
 * clause_id and check_name (byte order), as jsonb writes it.  The
 * language of the texts does not enter it, so the Chinese and the English
 * page of the same state carry the same digest.
 */
CREATE FUNCTION finsec._compliance_digest(checks jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT encode(sha256(convert_to(coalesce(
		(SELECT jsonb_agg(jsonb_build_object('clause_id', e -> 'clause_id', 'check_name', e -> 'check_name',
											 'status', e -> 'status', 'evidence', e -> 'evidence')
						  ORDER BY e ->> 'clause_id' COLLATE "C", e ->> 'check_name' COLLATE "C")
		   FROM jsonb_array_elements(CASE WHEN jsonb_typeof(checks) = 'array' THEN checks ELSE '[]' END) e),
		'[]'::jsonb)::text, 'UTF8')), 'hex')
$$;
REVOKE ALL ON FUNCTION finsec._compliance_digest(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_digest(jsonb) TO finsec_admin, finsec_auditor;

/*
 * The catalog's version: finsec's version, the counts of clauses (built-in
 * and the customer's), checks and mappings, and a SHA-256 of the catalog's
 * content (clause ids, kinds, requirement texts, mappings and their
 * arguments), so that two reports say whether they judged by the same
 * catalog.  cannot_verify (with the reason) for a caller who cannot read
 * the catalog tables.
 */
CREATE FUNCTION finsec._compliance_catalog_info()
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r jsonb;
BEGIN
	IF NOT (has_table_privilege('finsec.clause', 'SELECT')
			AND has_table_privilege('finsec.clause_check', 'SELECT')
			AND has_table_privilege('finsec.compliance_check_def', 'SELECT')) THEN
		RETURN jsonb_build_object('status', 'cannot_verify',
								  'reason', 'the caller cannot read the clause catalog',
								  'needs', 'SELECT on finsec.clause, finsec.clause_check, finsec.compliance_check_def (finsec_auditor or finsec_admin)');
	END IF;
	SELECT jsonb_build_object(
			'finsec_version', (SELECT e.extversion FROM pg_extension e WHERE e.extname = 'finsec'),
			'clauses', (SELECT count(*) FROM finsec.clause),
			'clauses_builtin', (SELECT count(*) FROM finsec.clause c WHERE c.builtin),
			'clauses_customer', (SELECT count(*) FROM finsec.clause c WHERE NOT c.builtin),
			'automated', (SELECT count(*) FROM finsec.clause c WHERE c.kind = 'automated'),
			'manual', (SELECT count(*) FROM finsec.clause c WHERE c.kind = 'manual'),
			'checks', (SELECT count(*) FROM finsec.compliance_check_def),
			'mappings', (SELECT count(*) FROM finsec.clause_check),
			'standards', (SELECT coalesce(jsonb_agg(DISTINCT c.standard), '[]') FROM finsec.clause c),
			'sha256', encode(sha256(convert_to(
				coalesce((SELECT string_agg(concat_ws(E'\x1f', c.clause_id, c.standard, c.clause, c.kind,
														c.requirement_zh, c.requirement_en, c.builtin::text),
											 E'\x1e' ORDER BY c.clause_id COLLATE "C")
						   FROM finsec.clause c), '')
				|| E'\x1d' ||
				coalesce((SELECT string_agg(concat_ws(E'\x1f', cc.clause_id, cc.check_name, cc.args::text,
														d.function::text, cc.builtin::text),
											 E'\x1e' ORDER BY cc.clause_id COLLATE "C", cc.check_name COLLATE "C")
						   FROM finsec.clause_check cc JOIN finsec.compliance_check_def d USING (check_name)), ''),
				'UTF8')), 'hex'))
	  INTO r;
	RETURN r;
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_catalog_info() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_catalog_info() TO finsec_admin, finsec_auditor;

/*
 * The checks of a run as a JSON array (one object per row of
 * finsec.compliance_check(standard, lang), ordered by clause_id and
 * check_name), the input of both reports.
 */
CREATE FUNCTION finsec._compliance_rows(standard text, lang text)
RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object(
				'clause_id', r.clause_id, 'standard', r.standard, 'clause', r.clause,
				'check_name', r.check_name, 'requirement', r.requirement, 'status', r.status,
				'evidence', r.evidence, 'remediation', r.remediation)
			ORDER BY r.clause_id COLLATE "C", r.check_name COLLATE "C"), '[]'::jsonb)
	  FROM finsec.compliance_check(_compliance_rows.standard, _compliance_rows.lang) r
$$;
REVOKE ALL ON FUNCTION finsec._compliance_rows(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_rows(text, text) TO finsec_admin, finsec_auditor;

/*
 * Inline SVG: one stacked horizontal bar per standard, a segment per
 * status (colour, and the status's letter and count written in it when
 * it is wide enough), a legend with each status's name, letter and colour.
 * summary: [{"standard": ..., "status": ..., "n": ...}, ...].  At most 30
 * standards are drawn (the table lists them all).
 */
CREATE FUNCTION finsec._html_svg_status_chart(summary jsonb, lang text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	zh boolean := coalesce(lang, 'zh_CN') = 'zh_CN';
	label_w int := 170;
	plot_w int := 480;
	bar_h int := 22;
	gap int := 10;
	top int := 34;
	std record;
	seg record;
	maxn numeric;
	x numeric;
	w numeric;
	y int;
	i int := 0;
	lx int;
	body text := '';
	legend text := '';
	h int;
BEGIN
	IF summary IS NULL OR jsonb_typeof(summary) <> 'array' THEN
		summary := '[]';
	END IF;
	SELECT max(t.n) INTO maxn FROM (
		SELECT sum((e ->> 'n')::numeric) AS n FROM jsonb_array_elements(summary) e GROUP BY e ->> 'standard') t;
	maxn := greatest(coalesce(maxn, 0), 1);
	FOR std IN
		SELECT (e ->> 'standard') COLLATE "C" AS standard, sum((e ->> 'n')::numeric) AS n
		  FROM jsonb_array_elements(summary) e
		 GROUP BY 1 ORDER BY 1 LIMIT 30
	LOOP
		y := top + i * (bar_h + gap);
		body := body || format('<text x="%s" y="%s" class="lbl" text-anchor="end">%s</text>',
							   label_w - 6, y + bar_h / 2 + 4,
							   finsec._html_escape(CASE WHEN length(std.standard) > 24
														THEN left(std.standard, 23) || '…' ELSE std.standard END));
		x := label_w;
		FOR seg IN
			SELECT s.status, s.letter, s.fill, s.ink, s.label_zh, s.label_en, sum((e ->> 'n')::numeric) AS n
			  FROM jsonb_array_elements(summary) e
			  JOIN finsec._compliance_statuses() s ON s.status = e ->> 'status'
			 WHERE e ->> 'standard' IS NOT DISTINCT FROM std.standard
			 GROUP BY s.ord, s.status, s.letter, s.fill, s.ink, s.label_zh, s.label_en
			HAVING sum((e ->> 'n')::numeric) > 0
			 ORDER BY s.ord
		LOOP
			w := round(plot_w * seg.n / maxn, 1);
			body := body || format('<rect x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="#000000" stroke-width="0.6"%s><title>%s: %s %s</title></rect>',
								   x, y, w, bar_h, seg.fill,
								   CASE WHEN seg.status = 'excluded' THEN ' stroke-dasharray="3 2"' ELSE '' END,
								   finsec._html_escape(std.standard),
								   finsec._html_escape(CASE WHEN zh THEN seg.label_zh ELSE seg.label_en END),
								   finsec._html_num(seg.n, lang));
			IF w >= 8 * (length(seg.n::text) + 1) + 4 THEN
				body := body || format('<text x="%s" y="%s" class="seg" text-anchor="middle" fill="%s">%s</text>',
									   x + w / 2, y + bar_h / 2 + 4, seg.ink,
									   finsec._html_escape(seg.letter || seg.n::text));
			END IF;
			x := x + w;
		END LOOP;
		body := body || format('<text x="%s" y="%s" class="lbl">%s</text>', x + 5, y + bar_h / 2 + 4,
							   finsec._html_num(std.n, lang));
		i := i + 1;
	END LOOP;
	IF i = 0 THEN
		body := format('<text x="%s" y="%s" class="lbl">%s</text>', 10, top + 14,
					   CASE WHEN zh THEN '（无检查结果）' ELSE '(no check results)' END);
		i := 1;
	END IF;
	-- Legend, under the bars.
	y := top + i * (bar_h + gap) + 8;
	lx := 10;
	FOR seg IN SELECT * FROM finsec._compliance_statuses() ORDER BY ord
	LOOP
		legend := legend || format('<rect x="%s" y="%s" width="14" height="14" fill="%s" stroke="#000000" stroke-width="0.6"%s/>'
								   '<text x="%s" y="%s" class="leg">%s %s</text>',
								   lx, y, seg.fill,
								   CASE WHEN seg.status = 'excluded' THEN ' stroke-dasharray="3 2"' ELSE '' END,
								   lx + 18, y + 11, finsec._html_escape(seg.letter),
								   finsec._html_escape(CASE WHEN zh THEN seg.label_zh ELSE seg.label_en END));
		lx := lx + CASE WHEN zh THEN 92 ELSE 104 END;
	END LOOP;
	h := y + 26;
	RETURN format('<svg class="chart" role="img" width="%s" height="%s" viewBox="0 0 %s %s" aria-label="%s">'
				  '<text x="10" y="18" class="ttl">%s</text>%s%s</svg>',
				  760, h, 760, h,
				  finsec._html_escape(CASE WHEN zh THEN '各标准检查结果' ELSE 'Check results by standard' END),
				  finsec._html_escape(CASE WHEN zh THEN '各标准检查结果（条数）' ELSE 'Check results by standard (count)' END),
				  body, legend);
END
$$;
REVOKE ALL ON FUNCTION finsec._html_svg_status_chart(jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._html_svg_status_chart(jsonb, text) TO finsec_admin, finsec_auditor;

/*
 * Inline SVG: a bar per day from d_from to d_to (inclusive, at most 400
 * days), series {"YYYY-MM-DD": value, ...} (a missing day is 0), the
 * maximum and half of it on the axis, day labels every few days, each
 * bar's value written above it when the bars are wide enough.
 */
CREATE FUNCTION finsec._html_svg_daily(title text, series jsonb, d_from date, d_to date, lang text, fill text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ml int := 70;
	mt int := 30;
	pw int := 660;
	ph int := 150;
	n int;
	bw numeric;
	maxv numeric;
	step int;
	d date;
	v numeric;
	k int := 0;
	bh numeric;
	body text := '';
	col text := CASE WHEN fill ~ '^#[0-9a-fA-F]{6}$' THEN fill ELSE '#4a6fa5' END;
BEGIN
	IF d_from IS NULL OR d_to IS NULL OR NOT isfinite(d_from) OR NOT isfinite(d_to) OR d_to < d_from THEN
		RETURN '';
	END IF;
	IF series IS NULL OR jsonb_typeof(series) <> 'object' THEN
		series := '{}';
	END IF;
	n := least(d_to - d_from + 1, 400);
	bw := pw::numeric / n;
	SELECT max(CASE WHEN jsonb_typeof(value) = 'number' THEN value::text::numeric END) INTO maxv
	  FROM jsonb_each(series);
	maxv := CASE WHEN coalesce(maxv, 0) <= 0 THEN 1 ELSE maxv END;
	step := greatest(1, ceil(n / 10.0)::int);
	-- axes and the grid lines of 0, max/2 and max
	body := format('<line x1="%s" y1="%s" x2="%s" y2="%s" class="ax"/>', ml, mt + ph, ml + pw, mt + ph)
		 || format('<line x1="%s" y1="%s" x2="%s" y2="%s" class="ax"/>', ml, mt, ml, mt + ph)
		 || format('<line x1="%s" y1="%s" x2="%s" y2="%s" class="grid"/>', ml, mt, ml + pw, mt)
		 || format('<line x1="%s" y1="%s" x2="%s" y2="%s" class="grid"/>', ml, mt + ph / 2, ml + pw, mt + ph / 2)
		 || format('<text x="%s" y="%s" class="lbl" text-anchor="end">%s</text>', ml - 4, mt + 4, finsec._html_num(maxv, lang))
		 || format('<text x="%s" y="%s" class="lbl" text-anchor="end">%s</text>', ml - 4, mt + ph / 2 + 4,
				   finsec._html_num(trim_scale(round(maxv / 2, 2)), lang))
		 || format('<text x="%s" y="%s" class="lbl" text-anchor="end">0</text>', ml - 4, mt + ph + 4);
	d := d_from;
	WHILE k < n LOOP
		v := CASE WHEN jsonb_typeof(series -> d::text) = 'number' THEN (series ->> d::text)::numeric ELSE 0 END;
		bh := round(ph * greatest(v, 0) / maxv, 1);
		body := body || format('<rect x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="#000000" stroke-width="0.4"><title>%s: %s</title></rect>',
							   round(ml + k * bw + bw * 0.1, 1), mt + ph - bh, round(bw * 0.8, 1), bh, col,
							   d::text, finsec._html_num(v, lang));
		IF bw >= 18 AND v <> 0 THEN
			body := body || format('<text x="%s" y="%s" class="val" text-anchor="middle">%s</text>',
								   round(ml + k * bw + bw / 2, 1), mt + ph - bh - 3, finsec._html_num(v, lang));
		END IF;
		IF k % step = 0 THEN
			body := body || format('<text x="%s" y="%s" class="lbl" text-anchor="middle">%s</text>',
								   round(ml + k * bw + bw / 2, 1), mt + ph + 16, to_char(d, 'MM-DD'));
		END IF;
		d := d + 1;
		k := k + 1;
	END LOOP;
	RETURN format('<svg class="chart" role="img" width="760" height="%s" viewBox="0 0 760 %s" aria-label="%s">'
				  '<text x="10" y="18" class="ttl">%s</text>%s</svg>',
				  mt + ph + 30, mt + ph + 30, finsec._html_escape(title), finsec._html_escape(title), body);
END
$$;
REVOKE ALL ON FUNCTION finsec._html_svg_daily(text, jsonb, date, date, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._html_svg_daily(text, jsonb, date, date, text, text) TO finsec_admin, finsec_auditor;

/*
 * The rows of a report function finsec.report_<name>(from, to, lang), as a
 * JSON array, or {"error": SQLSTATE, "message": ...} when it failed (the
 * caller lacks a privilege, ...), or NULL when the function does not exist.
 * Only the names below are called (the reports part's functions).
 */
CREATE FUNCTION finsec._html_report_rows(name text, "from" timestamptz, "to" timestamptz, lang text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r jsonb;
BEGIN
	IF name IS NULL OR name NOT IN ('business', 'limits', 'monitor', 'risk', 'audit', 'keys', 'credit') THEN
		RETURN NULL;
	END IF;
	-- finsec.report_<name>(timestamptz, timestamptz, text[, more with defaults])
	IF NOT EXISTS (SELECT 1 FROM pg_proc p
					WHERE p.pronamespace = 'finsec'::regnamespace AND p.proname = 'report_' || name
					  AND p.pronargs - p.pronargdefaults <= 3 AND p.pronargs >= 3
					  AND p.proargtypes[0] = 'timestamptz'::regtype AND p.proargtypes[1] = 'timestamptz'::regtype
					  AND p.proargtypes[2] = 'text'::regtype) THEN
		RETURN NULL;
	END IF;
	BEGIN
		EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(t)), ''[]'') FROM (SELECT figure, label, day, dimension, value, unit'
					   ' FROM finsec.%I($1::timestamptz, $2::timestamptz, $3::text) LIMIT 50000) t', 'report_' || name)
		   INTO r USING "from", "to", lang;
	EXCEPTION WHEN OTHERS THEN
		r := jsonb_build_object('error', SQLSTATE, 'message', left(SQLERRM, 300));
	END;
	RETURN r;
END
$$;
REVOKE ALL ON FUNCTION finsec._html_report_rows(text, timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._html_report_rows(text, timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor;

-- A daily series of one figure of a report's rows: {"YYYY-MM-DD": value};
-- the rows without dimension when there are such, else the sum over the
-- dimensions.
CREATE FUNCTION finsec._html_report_daily(rows jsonb, figure text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH d AS (
		SELECT e ->> 'day' AS day, e ->> 'dimension' AS dim,
			   CASE WHEN jsonb_typeof(e -> 'value') = 'number' THEN (e ->> 'value')::numeric END AS v
		  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(rows) = 'array' THEN rows ELSE '[]' END) e
		 WHERE e ->> 'figure' = _html_report_daily.figure AND e ->> 'day' IS NOT NULL
	), nodim AS (SELECT EXISTS (SELECT 1 FROM d WHERE dim IS NULL) AS b)
	SELECT coalesce(jsonb_object_agg(day, v), '{}')
	  FROM (SELECT d.day, sum(d.v) AS v FROM d, nodim
			 WHERE (nodim.b AND d.dim IS NULL) OR NOT nodim.b
			 GROUP BY d.day) s
$$;
REVOKE ALL ON FUNCTION finsec._html_report_daily(jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._html_report_daily(jsonb, text) TO finsec_admin, finsec_auditor;

/*
 * finsec.compliance_report_html(from, to, lang): the printable report, a
 * self-contained HTML5 page (docs/compliance-html.md): no external
 * resource, no script, a Content-Security-Policy that forbids loading
 * anything; print CSS for A4 with a page break between sections.
 */
CREATE FUNCTION finsec.compliance_report_html("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text;
	zh boolean;
	max_items constant int := 200;
	max_evidence constant int := 1500;
	max_text constant int := 2000;
	checks jsonb;
	digest text;
	cat jsonb;
	summary jsonb;
	d_from date;
	d_to date;
	ver text;
	t_title text;
	period text;
	html text;
	sec text;
	n_fail int;
	n_shown int;
	rep record;
	rows jsonb;
	rep_rows jsonb := '{}';
	figures text := '';
	charts text := '';
	excl text;
	n_excl int;
	ledger record;
	ledger_note text;
	tz text;
BEGIN
	IF "from" IS NULL THEN
		RAISE EXCEPTION 'argument "from" of finsec.compliance_report_html must not be NULL'
			USING ERRCODE = 'null_value_not_allowed', HINT = 'Give the start of the reported period.';
	END IF;
	IF "to" IS NULL THEN
		RAISE EXCEPTION 'argument "to" of finsec.compliance_report_html must not be NULL'
			USING ERRCODE = 'null_value_not_allowed', HINT = 'Give the end of the reported period.';
	END IF;
	IF NOT isfinite("from") OR NOT isfinite("to") OR "to" - "from" > interval '400 days' THEN
		RAISE EXCEPTION 'the reported period is longer than 400 days'
			USING ERRCODE = 'S9Q52', DETAIL = format('The period runs from %s to %s.', "from", "to"),
				  HINT = 'Report a year or less at a time.';
	END IF;
	IF "to" <= "from" THEN
		RAISE EXCEPTION 'the reported period ends before it starts'
			USING ERRCODE = 'S9Q51', DETAIL = format('The period runs from %s to %s.', "from", "to"),
				  HINT = 'Give "from" before "to".';
	END IF;
	l := finsec._html_lang(lang);
	zh := l = 'zh_CN';
	-- The days of the reports: finsec's business time zone (the reports'
	-- finsec._report_tz()) where it exists, else the session's.
	IF to_regprocedure('finsec._report_tz()') IS NOT NULL THEN
		EXECUTE 'SELECT finsec._report_tz()' INTO tz;
	END IF;
	IF tz IS NOT NULL THEN
		d_from := ("from" AT TIME ZONE tz)::date;
		d_to := (("to" - interval '1 microsecond') AT TIME ZONE tz)::date;
	ELSE
		d_from := "from"::date;
		d_to := ("to" - interval '1 microsecond')::date;
	END IF;
	SELECT e.extversion INTO ver FROM pg_extension e WHERE e.extname = 'finsec';

	checks := finsec._compliance_rows(NULL, l);
	digest := finsec._compliance_digest(checks);
	cat := finsec._compliance_catalog_info();
	-- The ledger row that compliance_check() wrote for this run (in this
	-- transaction), for the caller who can read the ledger.
	IF has_table_privilege('finsec.audit', 'SELECT') THEN
		SELECT a.finsec_seq, a.event_time INTO ledger
		  FROM finsec.audit a
		 WHERE a.event_type = 'compliance.check' AND a.finsec_txid = pg_current_xact_id()
		   AND a.backend_pid = pg_backend_pid()
		 ORDER BY a.finsec_seq DESC LIMIT 1;
		ledger_note := CASE WHEN ledger.finsec_seq IS NULL
							THEN CASE WHEN zh THEN '（本次检查未记入审计日志）' ELSE '(this run is not in the audit ledger)' END
							ELSE format('finsec.audit finsec_seq = %s, event_time = %s', ledger.finsec_seq,
										to_char(ledger.event_time, 'YYYY-MM-DD HH24:MI:SS.US OF')) END;
	ELSE
		ledger_note := CASE WHEN zh THEN '（调用者无权读取审计日志 finsec.audit）' ELSE '(the caller cannot read the audit ledger finsec.audit)' END;
	END IF;
	SELECT coalesce(jsonb_agg(jsonb_build_object('standard', s.standard, 'status', s.status, 'n', s.n)
							  ORDER BY s.standard COLLATE "C", s.status), '[]')
	  INTO summary
	  FROM (SELECT e ->> 'standard' AS standard, e ->> 'status' AS status, count(*) AS n
			  FROM jsonb_array_elements(checks) e GROUP BY 1, 2) s;

	t_title := CASE WHEN zh THEN 'finsec 合规自查报告' ELSE 'finsec compliance self-check report' END;
	period := finsec._html_date(d_from, l) || ' – ' || finsec._html_date(d_to, l);

	html := '<!DOCTYPE html>' || E'\n'
		|| format('<html lang="%s">', CASE WHEN zh THEN 'zh-CN' ELSE 'en' END) || E'\n'
		|| '<head>' || E'\n'
		|| '<meta charset="utf-8">' || E'\n'
		|| '<meta http-equiv="Content-Security-Policy" content="default-src ''none''; style-src ''unsafe-inline''; img-src data:">' || E'\n'
		|| '<meta name="viewport" content="width=device-width, initial-scale=1">' || E'\n'
		|| format('<meta name="generator" content="finsec %s">', finsec._html_escape(ver)) || E'\n'
		|| format('<title>%s — %s — %s</title>', finsec._html_escape(t_title),
				  finsec._html_escape(current_database()), finsec._html_escape(period)) || E'\n'
		|| '<style>
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", sans-serif;
       font-size: 10.5pt; line-height: 1.45; color: #111; background: #fff; margin: 0 auto; max-width: 190mm; padding: 8mm; }
h1 { font-size: 18pt; margin: 0 0 4mm 0; border-bottom: 2px solid #222; padding-bottom: 2mm; }
.subtitle { font-size: 12pt; margin: 0 0 4mm 0; }
h2 { font-size: 14pt; margin: 0 0 3mm 0; border-bottom: 1px solid #888; }
h3 { font-size: 11pt; margin: 3mm 0 1mm 0; }
section { margin-top: 8mm; }
section + section { break-before: page; page-break-before: always; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0 4mm 0; }
th, td { border: 1px solid #999; padding: 1mm 2mm; text-align: left; vertical-align: top; }
th { background: #eee; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; border-top: 2px solid #222; }
table.meta th { width: 30%; }
.item { border: 1px solid #999; border-left: 6px solid #555; padding: 1mm 3mm 2mm 3mm; margin: 0 0 3mm 0; break-inside: avoid; page-break-inside: avoid; }
.item.st-fail { border-left-color: #8b1a1a; }
.item.st-warn { border-left-color: #f7ca45; border-left-style: dashed; }
.item.st-cannot_verify { border-left-color: #7e57c2; border-left-style: dotted; }
.badge { display: inline-block; padding: 0 2mm; border: 1px solid #000; font-size: 9pt; margin-right: 2mm; }
.badge.st-fail { background: #8b1a1a; color: #fff; }
.badge.st-warn { background: #f7ca45; color: #000; }
.badge.st-cannot_verify { background: #7e57c2; color: #fff; }
dl { margin: 0; }
dt { font-weight: bold; margin-top: 1mm; }
dd { margin: 0 0 0 4mm; }
pre { white-space: pre-wrap; word-break: break-all; font-family: "Noto Sans Mono CJK SC", "DejaVu Sans Mono", monospace; font-size: 8.5pt;
      background: #f6f6f6; border: 1px solid #ddd; padding: 1mm 2mm; margin: 0; }
.note { color: #444; font-size: 9pt; }
svg.chart { display: block; margin: 2mm 0 4mm 0; max-width: 100%; height: auto; break-inside: avoid; }
svg .ttl { font-size: 13px; font-weight: bold; }
svg .lbl { font-size: 11px; }
svg .seg { font-size: 11px; font-weight: bold; }
svg .val { font-size: 9px; }
svg .leg { font-size: 11px; }
svg .ax { stroke: #000; stroke-width: 1; }
svg .grid { stroke: #bbb; stroke-width: 0.6; stroke-dasharray: 4 3; }
footer { margin-top: 8mm; border-top: 1px solid #888; padding-top: 2mm; font-size: 9pt; color: #333; word-break: break-all; }
@media print { body { padding: 0; max-width: none; } }
</style>' || E'\n'
		|| '</head>' || E'\n' || '<body>' || E'\n';

	-- Header.
	html := html || '<header>' || format('<h1>%s</h1>', finsec._html_escape(t_title)) || E'\n'
		|| format('<p class="subtitle">%s · %s</p>', finsec._html_escape(current_database()), finsec._html_escape(period)) || E'\n'
		|| '<table class="meta">'
		|| format('<tr><th>%s</th><td>%s</td></tr>', CASE WHEN zh THEN '数据库' ELSE 'Database' END,
				  finsec._html_escape(current_database()))
		|| format('<tr><th>%s</th><td>PostgreSQL %s</td></tr>', CASE WHEN zh THEN '服务器版本' ELSE 'Server version' END,
				  finsec._html_escape(current_setting('server_version')))
		|| format('<tr><th>%s</th><td>%s</td></tr>', CASE WHEN zh THEN 'finsec 版本' ELSE 'finsec version' END,
				  finsec._html_escape(ver))
		|| format('<tr><th>%s</th><td>%s</td></tr>', CASE WHEN zh THEN '生成时间' ELSE 'Generated at' END,
				  finsec._html_escape(to_char(now(), 'YYYY-MM-DD HH24:MI:SS OF')))
		|| format('<tr><th>%s</th><td>%s</td></tr>', CASE WHEN zh THEN '生成者' ELSE 'Generated by' END,
				  finsec._html_escape(CASE WHEN current_user = session_user THEN current_user::text
										   ELSE format('%s (session %s)', current_user, session_user) END))
		|| format('<tr><th>%s</th><td>%s（%s — %s）</td></tr>', CASE WHEN zh THEN '报告期间' ELSE 'Period' END,
				  finsec._html_escape(period),
				  finsec._html_escape(to_char("from", 'YYYY-MM-DD HH24:MI:SS OF')),
				  finsec._html_escape(to_char("to", 'YYYY-MM-DD HH24:MI:SS OF')))
		|| '</table></header>' || E'\n';

	-- 1. Summary by standard and status.
	sec := format('<section id="summary"><h2>%s</h2>', CASE WHEN zh THEN '一、检查结果汇总' ELSE '1. Summary of the checks' END)
		|| '<table class="summary"><thead><tr>'
		|| format('<th>%s</th>', CASE WHEN zh THEN '标准' ELSE 'Standard' END)
		|| (SELECT string_agg(format('<th class="n">%s</th>', finsec._html_escape(CASE WHEN zh THEN s.label_zh ELSE s.label_en END)), '' ORDER BY s.ord)
			  FROM finsec._compliance_statuses() s)
		|| format('<th class="n">%s</th>', CASE WHEN zh THEN '合计' ELSE 'Total' END)
		|| '</tr></thead><tbody>'
		|| coalesce((SELECT string_agg(format('<tr><td>%s</td>%s<td class="n">%s</td></tr>',
											  finsec._html_escape(st.standard),
											  (SELECT string_agg(format('<td class="n">%s</td>',
														finsec._html_num(coalesce((SELECT sum((e ->> 'n')::numeric) FROM jsonb_array_elements(summary) e
																					WHERE e ->> 'standard' IS NOT DISTINCT FROM st.standard
																					  AND e ->> 'status' = s.status), 0), l)), '' ORDER BY s.ord)
												 FROM finsec._compliance_statuses() s),
											  finsec._html_num(st.n, l)), '' ORDER BY st.standard COLLATE "C")
					   FROM (SELECT (e ->> 'standard') COLLATE "C" AS standard, sum((e ->> 'n')::numeric) AS n
							   FROM jsonb_array_elements(summary) e GROUP BY 1 ORDER BY 1 LIMIT 100) st), '')
		|| format('<tr class="total"><td>%s</td>', CASE WHEN zh THEN '合计' ELSE 'Total' END)
		|| (SELECT string_agg(format('<td class="n">%s</td>',
									 finsec._html_num(coalesce((SELECT sum((e ->> 'n')::numeric) FROM jsonb_array_elements(summary) e
																 WHERE e ->> 'status' = s.status), 0), l)), '' ORDER BY s.ord)
			  FROM finsec._compliance_statuses() s)
		|| format('<td class="n">%s</td></tr>', finsec._html_num(jsonb_array_length(checks), l))
		|| '</tbody></table>' || E'\n'
		|| finsec._html_svg_status_chart(summary, l) || E'\n';
	IF (SELECT count(DISTINCT e ->> 'standard') FROM jsonb_array_elements(summary) e) > 100 THEN
		sec := sec || format('<p class="note">%s</p>', CASE WHEN zh THEN '仅列出前 100 个标准。' ELSE 'Only the first 100 standards are listed.' END);
	END IF;
	html := html || sec || '</section>' || E'\n';

	-- 2. The failing items: fail, then warn, then cannot_verify.
	SELECT count(*) INTO n_fail FROM jsonb_array_elements(checks) e WHERE e ->> 'status' IN ('fail', 'warn', 'cannot_verify');
	n_shown := least(n_fail, max_items);
	sec := format('<section id="findings"><h2>%s</h2>', CASE WHEN zh THEN '二、不符合项与待核查项' ELSE '2. Failing items' END)
		|| format('<p class="note">%s</p>',
				  CASE WHEN zh THEN format('共 %s 项（不符合、警告、无法验证）。', finsec._html_num(n_fail, l))
					   ELSE format('%s items (fail, warn, cannot verify).', finsec._html_num(n_fail, l)) END)
		|| coalesce((SELECT string_agg(format('<article class="item st-%s"><h3><span class="badge st-%s">%s</span>%s%s</h3>'
											  '<dl><dt>%s</dt><dd>%s %s</dd><dt>%s</dt><dd>%s</dd><dt>%s</dt><dd><pre>%s</pre></dd><dt>%s</dt><dd>%s</dd></dl></article>',
											  x.status, x.status,
											  finsec._html_escape(CASE WHEN zh THEN s.label_zh ELSE s.label_en END),
											  finsec._html_escape(x.clause_id),
											  CASE WHEN x.check_name IS NULL THEN '' ELSE ' · ' || finsec._html_escape(x.check_name) END,
											  CASE WHEN zh THEN '标准条款' ELSE 'Clause' END,
											  finsec._html_escape(x.standard), finsec._html_escape(x.clause),
											  CASE WHEN zh THEN '要求' ELSE 'Requirement' END,
											  finsec._html_escape(CASE WHEN length(x.requirement) > max_text
																	   THEN left(x.requirement, max_text) || '…' ELSE x.requirement END),
											  CASE WHEN zh THEN '证据' ELSE 'Evidence' END,
											  finsec._html_escape(CASE WHEN length(x.ev) > max_evidence
																	   THEN left(x.ev, max_evidence) || E'\n…' ELSE x.ev END),
											  CASE WHEN zh THEN '整改建议' ELSE 'Remediation' END,
											  finsec._html_escape(CASE WHEN length(x.remediation) > max_text
																	   THEN left(x.remediation, max_text) || '…' ELSE x.remediation END)),
									   E'\n' ORDER BY x.ord)
					   FROM (SELECT e ->> 'status' AS status, e ->> 'clause_id' AS clause_id, e ->> 'check_name' AS check_name,
									e ->> 'standard' AS standard, e ->> 'clause' AS clause, e ->> 'requirement' AS requirement,
									e ->> 'remediation' AS remediation,
									CASE WHEN e -> 'evidence' IS NULL OR jsonb_typeof(e -> 'evidence') = 'null' THEN ''
										 ELSE jsonb_pretty(e -> 'evidence') END AS ev,
									row_number() OVER (ORDER BY st.ord, e ->> 'standard' COLLATE "C", e ->> 'clause_id' COLLATE "C",
															  e ->> 'check_name' COLLATE "C") AS ord
							   FROM jsonb_array_elements(checks) e
							   JOIN finsec._compliance_statuses() st ON st.status = e ->> 'status'
							  WHERE e ->> 'status' IN ('fail', 'warn', 'cannot_verify')) x
					   JOIN finsec._compliance_statuses() s ON s.status = x.status
					  WHERE x.ord <= max_items), '');
	IF n_fail > n_shown THEN
		sec := sec || format('<p class="note">%s</p>',
							 CASE WHEN zh THEN format('另有 %s 项未在此列出，见 finsec.compliance_check()。', finsec._html_num(n_fail - n_shown, l))
								  ELSE format('%s more items are not shown here; see finsec.compliance_check().', finsec._html_num(n_fail - n_shown, l)) END);
	END IF;
	html := html || sec || '</section>' || E'\n';

	-- 3. The period's key figures and daily charts.
	FOR rep IN
		SELECT * FROM (VALUES (1, 'business', '业务统计', 'Business'), (2, 'limits', '限额拒绝', 'Limit refusals'),
							  (3, 'monitor', '交易监控', 'Transaction monitoring'), (4, 'risk', '风险决策', 'Risk decisions'),
							  (5, 'audit', '审计日志', 'Audit ledger'), (6, 'credit', '征信查询', 'Credit queries'),
							  (7, 'keys', '密钥使用', 'Key usage')) v(ord, name, label_zh, label_en)
		 ORDER BY ord
	LOOP
		rows := finsec._html_report_rows(rep.name, "from", "to", l);
		IF rows IS NULL THEN
			CONTINUE;
		END IF;
		rep_rows := rep_rows || jsonb_build_object(rep.name, rows);
		IF jsonb_typeof(rows) = 'object' THEN
			figures := figures || format('<tr><td>%s</td><td colspan="3">%s</td><td></td></tr>',
										 finsec._html_escape(CASE WHEN zh THEN rep.label_zh ELSE rep.label_en END),
										 finsec._html_escape(CASE WHEN zh THEN format('无法取得（%s：%s）', rows ->> 'error', rows ->> 'message')
																  ELSE format('unavailable (%s: %s)', rows ->> 'error', rows ->> 'message') END));
			CONTINUE;
		END IF;
		figures := figures || coalesce((
			SELECT string_agg(format('<tr><td>%s</td><td>%s</td><td>%s</td><td class="n">%s</td><td>%s</td></tr>',
									 finsec._html_escape(CASE WHEN zh THEN rep.label_zh ELSE rep.label_en END),
									 finsec._html_escape(coalesce(f.label, f.figure)), finsec._html_escape(f.dimension),
									 finsec._html_num(f.value, l),
									 finsec._html_escape(CASE f.unit WHEN 'count' THEN CASE WHEN zh THEN '数量' ELSE 'count' END
																	 WHEN 'amount' THEN CASE WHEN zh THEN '金额' ELSE 'amount' END
																	 WHEN 'cannot_read' THEN CASE WHEN zh THEN '无法读取' ELSE 'cannot read' END
																	 ELSE f.unit END)), '' ORDER BY f.n)
			  FROM (SELECT e ->> 'figure' AS figure, e ->> 'label' AS label, e ->> 'dimension' AS dimension,
						   CASE WHEN jsonb_typeof(e -> 'value') = 'number' THEN (e ->> 'value')::numeric END AS value,
						   e ->> 'unit' AS unit, row_number() OVER () AS n
					  FROM jsonb_array_elements(rows) e
					 WHERE e ->> 'day' IS NULL) f
			 WHERE f.n <= 60), '');
	END LOOP;
	sec := format('<section id="figures"><h2>%s</h2>', CASE WHEN zh THEN '三、本期关键数据' ELSE '3. Key figures of the period' END)
		|| format('<p class="note">%s</p>', finsec._html_escape(period))
		|| CASE WHEN figures = '' THEN format('<p class="note">%s</p>', CASE WHEN zh THEN '（无报表函数）' ELSE '(no report functions)' END)
				ELSE format('<table class="figures"><thead><tr><th>%s</th><th>%s</th><th>%s</th><th class="n">%s</th><th>%s</th></tr></thead><tbody>',
							CASE WHEN zh THEN '报表' ELSE 'Report' END, CASE WHEN zh THEN '指标' ELSE 'Figure' END,
							CASE WHEN zh THEN '维度' ELSE 'Dimension' END, CASE WHEN zh THEN '数值' ELSE 'Value' END,
							CASE WHEN zh THEN '单位' ELSE 'Unit' END)
					 || figures || '</tbody></table>' END || E'\n';
	IF jsonb_typeof(rep_rows -> 'business') = 'array' THEN
		charts := charts || finsec._html_svg_daily(CASE WHEN zh THEN '每日支付笔数' ELSE 'Payments per day' END,
												   finsec._html_report_daily(rep_rows -> 'business', 'payments'), d_from, d_to, l, '#4a6fa5') || E'\n';
	END IF;
	IF jsonb_typeof(rep_rows -> 'limits') = 'array' THEN
		charts := charts || finsec._html_svg_daily(CASE WHEN zh THEN '每日限额拒绝笔数' ELSE 'Limit refusals per day' END,
												   finsec._html_report_daily(rep_rows -> 'limits', 'refusals'), d_from, d_to, l, '#c0504d') || E'\n';
	END IF;
	IF jsonb_typeof(rep_rows -> 'monitor') = 'array' THEN
		charts := charts || finsec._html_svg_daily(CASE WHEN zh THEN '每日监控告警数' ELSE 'Monitoring alerts per day' END,
												   finsec._html_report_daily(rep_rows -> 'monitor', 'alerts'), d_from, d_to, l, '#e8a33d') || E'\n';
	END IF;
	html := html || sec || charts || '</section>' || E'\n';

	-- 4. Exclusions: justification, requester and approver, validity and
	--    the check's actual result (compliance_check's evidence of an
	--    excluded row: justification, requested_by, approved_by, request_id,
	--    valid_until, scope, actual {status, evidence}).
	SELECT count(*) INTO n_excl FROM jsonb_array_elements(checks) e WHERE e ->> 'status' = 'excluded';
	excl := coalesce((
		SELECT string_agg(format('<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>',
								 finsec._html_escape(x.clause_id), finsec._html_escape(coalesce(x.check_name, '*')),
								 finsec._html_escape(left(x.ev ->> 'justification', max_text)),
								 finsec._html_escape(concat_ws(' / ', x.ev ->> 'requested_by', x.ev ->> 'approved_by'))
								 || CASE WHEN x.ev ? 'request_id' THEN finsec._html_escape(format(' (#%s)', x.ev ->> 'request_id')) ELSE '' END,
								 finsec._html_escape(CASE WHEN jsonb_typeof(x.ev -> 'valid_until') = 'string'
														  THEN left(x.ev ->> 'valid_until', 19) ELSE '' END),
								 finsec._html_escape(CASE WHEN zh THEN coalesce(s.label_zh, x.ev -> 'actual' ->> 'status')
														  ELSE coalesce(s.label_en, x.ev -> 'actual' ->> 'status') END)),
						  '' ORDER BY x.clause_id COLLATE "C", x.check_name COLLATE "C")
		  FROM (SELECT e ->> 'clause_id' AS clause_id, e ->> 'check_name' AS check_name,
					   CASE WHEN jsonb_typeof(e -> 'evidence') = 'object' THEN e -> 'evidence' ELSE '{}' END AS ev
				  FROM jsonb_array_elements(checks) e WHERE e ->> 'status' = 'excluded'
				 ORDER BY e ->> 'clause_id' COLLATE "C", e ->> 'check_name' COLLATE "C" LIMIT max_items) x
		  LEFT JOIN finsec._compliance_statuses() s ON s.status = x.ev -> 'actual' ->> 'status'), '');
	html := html || format('<section id="exclusions"><h2>%s</h2>', CASE WHEN zh THEN '四、豁免项' ELSE '4. Exclusions' END)
		|| CASE WHEN n_excl = 0 THEN format('<p class="note">%s</p>', CASE WHEN zh THEN '（无豁免项）' ELSE '(no exclusions)' END)
				ELSE format('<table class="exclusions"><thead><tr><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th></tr></thead><tbody>',
							CASE WHEN zh THEN '条款' ELSE 'Clause' END, CASE WHEN zh THEN '检查' ELSE 'Check' END,
							CASE WHEN zh THEN '理由' ELSE 'Justification' END,
							CASE WHEN zh THEN '申请人 / 批准人' ELSE 'Requested by / approved by' END,
							CASE WHEN zh THEN '有效期至' ELSE 'Valid until' END,
							CASE WHEN zh THEN '实际检查结果' ELSE 'Actual result' END)
					 || excl || '</tbody></table>'
					 || CASE WHEN n_excl > max_items
							 THEN format('<p class="note">%s</p>', CASE WHEN zh THEN format('另有 %s 项未列出。', n_excl - max_items)
																		ELSE format('%s more are not shown.', n_excl - max_items) END)
							 ELSE '' END END
		|| '</section>' || E'\n';

	-- Footer: the catalog's version and the digest of the check results.
	html := html || '<footer>'
		|| format('<p>%s: finsec %s, %s %s, %s %s, %s %s</p>',
				  CASE WHEN zh THEN '条款目录版本' ELSE 'Catalog version' END,
				  finsec._html_escape(coalesce(cat ->> 'finsec_version', ver)),
				  finsec._html_num((cat ->> 'clauses')::numeric, l), CASE WHEN zh THEN '条条款' ELSE 'clauses' END,
				  finsec._html_num((cat ->> 'checks')::numeric, l), CASE WHEN zh THEN '项检查' ELSE 'checks' END,
				  CASE WHEN zh THEN '目录 SHA-256' ELSE 'catalog SHA-256' END,
				  finsec._html_escape(coalesce(cat ->> 'sha256', cat ->> 'reason')))
		|| format('<p>%s: <span class="sha256">%s</span></p>',
				  CASE WHEN zh THEN '检查结果 SHA-256' ELSE 'SHA-256 of the check results' END, finsec._html_escape(digest))
		|| format('<p>%s: <span class="ledger">%s</span></p>',
				  CASE WHEN zh THEN '本次检查的审计日志记录' ELSE 'Ledger record of this run' END, finsec._html_escape(ledger_note))
		|| format('<p class="note">%s</p>',
				  CASE WHEN zh THEN '该摘要与 finsec.compliance_json() 的 sha256 相同时，打印件与该次检查结果一致。'
					   ELSE 'A printed copy matches a run when this digest equals the sha256 of finsec.compliance_json() for that run.' END)
		|| '</footer>' || E'\n' || '</body>' || E'\n' || '</html>' || E'\n';
	RETURN html;
END
$$;
COMMENT ON FUNCTION finsec.compliance_report_html(timestamptz, timestamptz, text) IS
	'the printable compliance report: a self-contained HTML page (no external resource, no script) with the check summary, the failing items, the period''s key figures and charts, the exclusions and the digest of the results';
REVOKE ALL ON FUNCTION finsec.compliance_report_html(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.compliance_report_html(timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor;

/*
 * finsec.compliance_json(standard, lang): the same run for tooling
 * (schema in docs/compliance-html.md; jsonb keeps its keys in its own
 * fixed order, so the text form is stable).
 */
CREATE FUNCTION finsec.compliance_json(standard text DEFAULT NULL, lang text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := finsec._html_lang(lang);
	checks jsonb;
	dr jsonb;
BEGIN
	checks := finsec._compliance_rows(standard, l);
	IF to_regprocedure('finsec.dr_level()') IS NOT NULL THEN
		BEGIN
			EXECUTE 'SELECT coalesce(jsonb_agg(to_jsonb(d)), ''[]'') FROM finsec.dr_level() d' INTO dr;
		EXCEPTION WHEN OTHERS THEN
			dr := jsonb_build_object('error', SQLSTATE, 'message', left(SQLERRM, 300));
		END;
	END IF;
	RETURN jsonb_build_object(
		'format', 'finsec.compliance_json/1',
		'generated_at', now(),
		'generated_by', current_user::text,
		'database', current_database()::text,
		'server_version', current_setting('server_version'),
		'finsec_version', (SELECT e.extversion FROM pg_extension e WHERE e.extname = 'finsec'),
		'lang', l,
		'standard', standard,
		'catalog', finsec._compliance_catalog_info(),
		'summary', (SELECT coalesce(jsonb_object_agg(x.standard,
							(SELECT jsonb_object_agg(st.status,
									(SELECT count(*) FROM jsonb_array_elements(checks) e
									  WHERE coalesce(e ->> 'standard', '') = x.standard AND e ->> 'status' = st.status))
							   FROM finsec._compliance_statuses() st)), '{}')
					  FROM (SELECT DISTINCT coalesce(e ->> 'standard', '') AS standard
							  FROM jsonb_array_elements(checks) e) x),
		'totals', (SELECT jsonb_object_agg(st.status,
							(SELECT count(*) FROM jsonb_array_elements(checks) e WHERE e ->> 'status' = st.status))
					 FROM finsec._compliance_statuses() st)
				  || jsonb_build_object('total', jsonb_array_length(checks)),
		'checks', checks,
		'dr_level', dr,
		'sha256', finsec._compliance_digest(checks));
END
$$;
COMMENT ON FUNCTION finsec.compliance_json(text, text) IS
	'the compliance self-check for tooling: catalog counts, summary by standard and status, every check row, the DR level and the SHA-256 of the results';
REVOKE ALL ON FUNCTION finsec.compliance_json(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.compliance_json(text, text) TO finsec_admin, finsec_auditor;

-- (end of section 6)



-- ---------------------------------------------------------------------
-- 7. Last successful login of each role; recorded key and ledger
--    verifications.
-- ---------------------------------------------------------------------

-- (end of section 7)
