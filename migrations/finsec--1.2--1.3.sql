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

/*
 * Which columns the data checks look at (docs/compliance-data.md):
 * columns of user tables, i.e. not of pg_catalog, information_schema,
 * the toast and temporary schemas, nor finsec's own (finsec,
 * finsec_archive).  Read from the catalogs only: every role may read
 * pg_class, pg_attribute and pg_type, so the name-based checks need no
 * privilege.  kind: 'plain' (the base type, through one domain, is
 * text, varchar, bpchar, int8 or numeric: a card number can sit in it),
 * 'finsec' (a finsec type holding personal or card data: protected_*,
 * bank_card, bank_account, cn_resident_id, uscc, cn_mobile, directly,
 * through a domain or as an array), or 'other'.
 */
CREATE FUNCTION finsec._compliance_user_columns(
	OUT relid oid, OUT relkind "char", OUT relispartition boolean, OUT nspname name, OUT relname name,
	OUT attnum smallint, OUT column_name name, OUT atttypid oid, OUT atttypmod integer, OUT kind text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
	-- The types of each kind first (a few hundred rows of pg_type), then
	-- one pass over pg_attribute comparing OIDs.
	WITH plain AS MATERIALIZED (
		SELECT array_agg(t.oid) AS oids FROM pg_type t
		 WHERE t.oid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'int8'::regtype, 'numeric'::regtype)
			OR (t.typtype = 'd' AND t.typbasetype IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype,
													   'int8'::regtype, 'numeric'::regtype))),
	fin AS MATERIALIZED (
		SELECT array_agg(t.oid) AS oids FROM pg_type t
		 WHERE t.typnamespace = 'finsec'::regnamespace AND t.typname IN
			   ('bank_card', 'bank_account', 'protected_text', 'protected_resident_id', 'protected_uscc',
				'protected_mobile', 'cn_resident_id', 'uscc', 'cn_mobile')),
	fin_arr AS MATERIALIZED (
		SELECT array_agg(t.oid) AS oids FROM pg_type t, fin
		 WHERE t.oid = ANY (fin.oids)
			OR (t.typelem = ANY (fin.oids) AND t.typsubscript = 'array_subscript_handler'::regproc)),
	fin_all AS MATERIALIZED (
		SELECT array_agg(t.oid) AS oids FROM pg_type t, fin_arr
		 WHERE t.oid = ANY (fin_arr.oids) OR (t.typtype = 'd' AND t.typbasetype = ANY (fin_arr.oids)))
	SELECT c.oid, c.relkind, c.relispartition, n.nspname, c.relname, a.attnum, a.attname, a.atttypid, a.atttypmod,
		   CASE WHEN a.atttypid = ANY (plain.oids) THEN 'plain'
				WHEN a.atttypid = ANY (fin_all.oids) THEN 'finsec'
				ELSE 'other' END
	  FROM pg_class c
	  JOIN pg_namespace n ON n.oid = c.relnamespace
	  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped,
		   plain, fin_all
	 WHERE c.relkind IN ('r', 'p', 'm', 'f')
	   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'finsec', 'finsec_archive')
	   AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
$$;
COMMENT ON FUNCTION finsec._compliance_user_columns() IS
	'internal: the columns of user tables the data checks judge, with their kind (plain, finsec, other); catalogs only';
REVOKE ALL ON FUNCTION finsec._compliance_user_columns() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_user_columns() TO finsec_admin, finsec_auditor;

/*
 * Whether a value looks like a card number: 13-19 digits once white space
 * and dashes are removed, a plausible issuer prefix (iin, a regular
 * expression on the digits), not one digit repeated, and the Luhn check
 * (finsec.is_valid_bank_card, C).  Built-in operators only, qualified.
 */
CREATE FUNCTION finsec._compliance_card_like(v text, iin text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
			 WHEN v IS NULL OR octet_length(v) > 64 THEN false
			 ELSE (SELECT d OPERATOR(pg_catalog.~) '^[0-9]{13,19}$'
						  AND d OPERATOR(pg_catalog.~) coalesce(iin, '^(2[2-7]|3[0-9]|4|5[1-5]|6)')
						  AND d OPERATOR(pg_catalog.!~) '^(.)\1*$'
						  AND coalesce(finsec.is_valid_bank_card(d), false)
					 FROM (SELECT pg_catalog.regexp_replace(v, '[\s-]', '', 'g') AS d) x)
		   END
$$;
COMMENT ON FUNCTION finsec._compliance_card_like(text, text) IS
	'internal: whether a value looks like a card number (13-19 digits without spaces and dashes, issuer prefix iin, Luhn); never raises';
REVOKE ALL ON FUNCTION finsec._compliance_card_like(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_card_like(text, text) TO finsec_admin, finsec_auditor;

/*
 * Sampling of user tables for the card checks, AS THE CALLER (SECURITY
 * INVOKER): at most sample_tables tables, the largest first (relpages
 * descending, then schema and table name: deterministic for a given
 * catalog state), up to sample_rows rows of each (the first rows of a
 * plain SELECT ... LIMIT, read with ONLY), of every column of kind
 * 'plain'.  Only ordinary tables and partitions (relkind 'r'): never a
 * view, materialised view, foreign table or partitioned parent, whose
 * reading would run code their owner defined; only built-in types, so
 * no owner's output function or operator runs; row_security off, so a
 * table whose policies would apply raises (caught: not verifiable)
 * instead of running the policy's expressions; lock_timeout 100ms, so a
 * locked table is not verifiable rather than a hung check.  Each table
 * in its own subtransaction.  Returns counts only, never a value:
 *   {"columns": [[table, column, non_null, card_hits, track2_hits,
 *                 short_digit_hits], ...]  (columns with any hit)
 *    "tables_sampled", "tables_unreadable", "unreadable": [first 50],
 *    "tables_not_sampled", "candidate_tables"}
 * Each count only when asked: card_hits with iin (the issuer prefixes;
 * NULL: not counted), track2_hits with track, short_digit_hits (values of
 * 3 or 4 digits) for columns whose name matches short_name_pattern
 * (CVV-like names; NULL: none).  Cheap tests (length, characters, '=')
 * come before the regular expressions and the Luhn check.
 */
CREATE FUNCTION finsec._compliance_data_sample(sample_rows integer, sample_tables integer,
											   iin text, short_name_pattern text, track boolean)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET row_security = off
SET lock_timeout = '100ms'
SET jit = off
AS $$
DECLARE
	r record;
	q text;
	res jsonb;
	cols jsonb := '[]';
	sampled integer := 0;
	unreadable integer := 0;
	unreadable_names jsonb := '[]';
	not_sampled integer := 0;
	candidates integer := 0;
	i integer;
	exprs text[];
BEGIN
	sample_rows := greatest(coalesce(sample_rows, 0), 0);
	sample_tables := greatest(coalesce(sample_tables, 0), 0);
	short_name_pattern := coalesce(short_name_pattern, '(?!)');
	track := coalesce(track, false);
	FOR r IN
		SELECT u.relid, format('%I.%I', u.nspname, u.relname) AS table_name, c.relnamespace AS nsp,
			   array_agg(u.column_name ORDER BY u.attnum) AS cols,
			   array_agg(u.column_name OPERATOR(pg_catalog.~*) short_name_pattern ORDER BY u.attnum) AS shorts,
			   bool_and(has_column_privilege(u.relid, u.attnum, 'SELECT')) AS readable
		  FROM finsec._compliance_user_columns() u
		  JOIN pg_class c ON c.oid = u.relid
		 WHERE u.relkind = 'r' AND u.kind = 'plain'
		 GROUP BY u.relid, u.nspname, u.relname, c.relnamespace, c.relpages
		 ORDER BY c.relpages DESC, u.nspname, u.relname
	LOOP
		candidates := candidates + 1;
		IF sampled + unreadable >= sample_tables OR sample_rows = 0 THEN
			not_sampled := not_sampled + 1;
			CONTINUE;
		END IF;
		IF NOT has_schema_privilege(r.nsp, 'USAGE') OR NOT r.readable THEN
			unreadable := unreadable + 1;
			IF jsonb_array_length(unreadable_names) < 50 THEN
				unreadable_names := unreadable_names || jsonb_build_object('table', r.table_name, 'reason', 'no SELECT privilege');
			END IF;
			CONTINUE;
		END IF;
		exprs := '{}';
		FOR i IN 1 .. array_length(r.cols, 1) LOOP
			-- cheap tests first (length, characters, '='), the regular
			-- expressions and the Luhn check only on what passes them
			exprs := exprs || format('count(x.%1$I), %3$s, %4$s, %2$s',
									 r.cols[i],
									 CASE WHEN r.shorts[i]
										  THEN format('count(*) FILTER (WHERE octet_length(btrim(x.%1$I)) IN (3, 4) '
													  'AND ltrim(btrim(x.%1$I), ''0123456789'') = '''')', r.cols[i])
										  ELSE '0' END,
									 CASE WHEN iin IS NOT NULL
										  THEN format('count(*) FILTER (WHERE CASE WHEN octet_length(x.%1$I) BETWEEN 13 AND 64 '
													  'AND ltrim(x.%1$I, '' 0123456789-'') = '''' '
													  'THEN finsec._compliance_card_like(x.%1$I, $2) ELSE false END)', r.cols[i])
										  ELSE '0' END,
									 CASE WHEN track
										  THEN format('count(*) FILTER (WHERE CASE WHEN strpos(left(x.%1$I, 4096), ''='') > 0 '
													  'THEN left(x.%1$I, 4096) ~ ''(^|[^0-9])[0-9]{13,19}=[0-9]{4}'' ELSE false END)', r.cols[i])
										  ELSE '0' END);
		END LOOP;
		q := format('SELECT pg_catalog.jsonb_build_array(%s) FROM (SELECT %s FROM ONLY %s LIMIT $1) x',
					array_to_string(exprs, ', '),
					(SELECT string_agg(format('%1$I::text AS %1$I', c), ', ') FROM unnest(r.cols) c),
					r.table_name);
		BEGIN
			EXECUTE q INTO res USING sample_rows, iin;
			sampled := sampled + 1;
			FOR i IN 1 .. array_length(r.cols, 1) LOOP
				IF (res ->> (4 * (i - 1) + 1))::bigint > 0 OR (res ->> (4 * (i - 1) + 2))::bigint > 0
				   OR (res ->> (4 * (i - 1) + 3))::bigint > 0 THEN
					cols := cols || jsonb_build_array(jsonb_build_array(
								r.table_name, quote_ident(r.cols[i]), res -> (4 * (i - 1)), res -> (4 * (i - 1) + 1),
								res -> (4 * (i - 1) + 2), res -> (4 * (i - 1) + 3)));
				END IF;
			END LOOP;
		EXCEPTION WHEN OTHERS THEN
			unreadable := unreadable + 1;
			IF jsonb_array_length(unreadable_names) < 50 THEN
				unreadable_names := unreadable_names || jsonb_build_object('table', r.table_name, 'reason',
					CASE SQLSTATE WHEN '42501' THEN 'insufficient privilege or row-level security'
								  WHEN '55P03' THEN 'locked'
								  ELSE 'error ' || SQLSTATE END);
			END IF;
		END;
	END LOOP;
	RETURN jsonb_build_object('columns', cols, 'tables_sampled', sampled, 'tables_unreadable', unreadable,
							  'unreadable', unreadable_names, 'tables_not_sampled', not_sampled,
							  'candidate_tables', candidates);
END
$$;
COMMENT ON FUNCTION finsec._compliance_data_sample(integer, integer, text, text, boolean) IS
	'internal: sample user tables as the caller (relkind r, ONLY, built-in types, row_security off, lock_timeout 100ms) for card numbers, track-2 data and short digit codes; counts only';
REVOKE ALL ON FUNCTION finsec._compliance_data_sample(integer, integer, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_data_sample(integer, integer, text, text, boolean) TO finsec_admin, finsec_auditor;

-- The bounds of sampling: the settings (SIGHUP: a caller cannot lower
-- them for its own session), their defaults without the library.
CREATE FUNCTION finsec._compliance_sample_bounds(OUT sample_rows integer, OUT sample_tables integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(nullif(current_setting('finsec.compliance_sample_rows', true), '')::integer, 200),
		   coalesce(nullif(current_setting('finsec.compliance_sample_tables', true), '')::integer, 2000)
$$;
REVOKE ALL ON FUNCTION finsec._compliance_sample_bounds() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_sample_bounds() TO finsec_admin, finsec_auditor;

/*
 * A jsonb array of regular expressions (args.<key>) as one alternation,
 * or the default; NULL when an element is not a string or not a valid
 * regular expression (the caller says cannot_verify).
 */
CREATE FUNCTION finsec._compliance_pattern_arg(args jsonb, key text, dflt text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v jsonb := args -> key;
	p text;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN dflt;
	END IF;
	IF jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) = 0 OR jsonb_array_length(v) > 200
	   OR EXISTS (SELECT 1 FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'string' OR e #>> '{}' = '') THEN
		RETURN NULL;
	END IF;
	SELECT string_agg('(' || (e #>> '{}') || ')', '|') INTO p FROM jsonb_array_elements(v) e;
	IF octet_length(p) > 10000 THEN
		RETURN NULL;
	END IF;
	PERFORM '' ~* p;
	RETURN p;
EXCEPTION WHEN invalid_regular_expression OR program_limit_exceeded THEN
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_pattern_arg(jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_pattern_arg(jsonb, text, text) TO finsec_admin, finsec_auditor;

-- A positive number argument, or the default; NULL if not one.
CREATE FUNCTION finsec._compliance_number_arg(args jsonb, key text, dflt numeric, lo numeric, hi numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
			 WHEN args -> key IS NULL OR jsonb_typeof(args -> key) = 'null' THEN dflt
			 WHEN jsonb_typeof(args -> key) <> 'number' THEN NULL
			 WHEN (args ->> key)::numeric BETWEEN lo AND hi THEN (args ->> key)::numeric
		   END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_number_arg(jsonb, text, numeric, numeric, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_number_arg(jsonb, text, numeric, numeric, numeric) TO finsec_admin, finsec_auditor;

/*
 * card_numbers_plain (D1, D2, D3; 002 3.2.7): card or account numbers in
 * plain columns.  By name: a column of a user table (ordinary,
 * partitioned, materialised or foreign; a partition is reported through
 * its parent) of a plain type (text, varchar, bpchar, int8, numeric)
 * whose name matches args.name_patterns.  By value: the sample
 * (_compliance_data_sample): a column where at least args.min_hits
 * (default 3) and at least args.min_ratio (default 0.5) of the non-NULL
 * sampled values look like card numbers (13-19 digits, issuer prefix
 * args.iin_pattern, Luhn).  fail on either; otherwise cannot_verify when
 * a table could not be read, warn when the bound left tables unsampled,
 * pass.  Evidence: table.column, counts, thresholds; never a value.
 */
CREATE FUNCTION finsec._check_card_numbers_plain(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a jsonb := CASE WHEN jsonb_typeof(args) = 'object' THEN args ELSE '{}' END;
	names_re text;
	iin text;
	min_hits numeric;
	min_ratio numeric;
	b record;
	s jsonb;
	by_name jsonb;
	n_by_name integer;
	by_value jsonb;
	n_by_value integer;
BEGIN
	IF NOT has_function_privilege('finsec._compliance_pattern_arg(jsonb, text, text)', 'EXECUTE')
	   OR NOT has_function_privilege('finsec._compliance_user_columns()', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not execute finsec''s compliance helpers (finsec._compliance_*)',
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;
	names_re := finsec._compliance_pattern_arg(a, 'name_patterns',
		'(^|_)(pan|card_?no|card_?num|card_?number|cardnumber|card_?nbr|acct_?no|acct_?num|account_?no|account_?num|account_?number|'
		'bank_?card|bank_?card_?no|bank_?acct|bank_?account|bank_?account_?no|primary_?account_?number)($|_)|卡号|账号|帐号|银行卡');
	iin := finsec._compliance_pattern_arg(a, 'iin_pattern', '^(2[2-7]|3[0-9]|4|5[1-5]|6)');
	min_hits := finsec._compliance_number_arg(a, 'min_hits', 3, 1, 1000000);
	min_ratio := finsec._compliance_number_arg(a, 'min_ratio', 0.5, 0, 1);
	IF names_re IS NULL OR iin IS NULL OR min_hits IS NULL OR min_ratio IS NULL THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the clause''s arguments are not valid',
									   'needs', 'name_patterns and iin_pattern arrays of regular expressions, min_hits a number >= 1, min_ratio a number in [0, 1]');
		RETURN;
	END IF;
	IF NOT has_function_privilege('finsec.is_valid_bank_card(text)', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not execute finsec.is_valid_bank_card(text), the Luhn check of sampled values',
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;
	b := finsec._compliance_sample_bounds();

	SELECT count(*), coalesce(jsonb_agg(x.j ORDER BY x.t, x.c) FILTER (WHERE x.rn <= 100), '[]')
	  INTO n_by_name, by_name
	  FROM (SELECT format('%I.%I', u.nspname, u.relname) AS t, u.column_name AS c,
				   jsonb_build_object('column', format('%I.%I.%I', u.nspname, u.relname, u.column_name),
									  'type', format_type(u.atttypid, u.atttypmod)) AS j,
				   row_number() OVER (ORDER BY format('%I.%I', u.nspname, u.relname), u.column_name) AS rn
			  FROM finsec._compliance_user_columns() u
			 WHERE u.kind = 'plain' AND NOT u.relispartition
			   AND u.column_name OPERATOR(pg_catalog.~*) names_re) x;

	s := finsec._compliance_data_sample(b.sample_rows, b.sample_tables, iin, NULL, false);
	SELECT count(*), coalesce(jsonb_agg(x.j ORDER BY x.t, x.c) FILTER (WHERE x.rn <= 100), '[]')
	  INTO n_by_value, by_value
	  FROM (SELECT e ->> 0 AS t, e ->> 1 AS c,
				   jsonb_build_object('column', (e ->> 0) || '.' || (e ->> 1), 'card_numbers', (e ->> 3)::bigint,
									  'sampled', (e ->> 2)::bigint) AS j,
				   row_number() OVER (ORDER BY e ->> 0, e ->> 1) AS rn
			  FROM jsonb_array_elements(s -> 'columns') e
			 WHERE (e ->> 3)::bigint >= min_hits
			   AND (e ->> 3)::numeric >= min_ratio * (e ->> 2)::numeric) x;

	status := CASE WHEN n_by_name > 0 OR n_by_value > 0 THEN 'fail'
				   WHEN (s ->> 'tables_unreadable')::integer > 0 THEN 'cannot_verify'
				   WHEN (s ->> 'tables_not_sampled')::integer > 0 THEN 'warn'
				   ELSE 'pass' END;
	evidence := jsonb_build_object(
		'columns_by_name', n_by_name, 'named_columns', by_name,
		'columns_by_value', n_by_value, 'sampled_columns', by_value,
		'tables_sampled', s -> 'tables_sampled', 'tables_unreadable', s -> 'tables_unreadable',
		'unreadable', s -> 'unreadable', 'tables_not_sampled', s -> 'tables_not_sampled',
		'sample_rows', b.sample_rows, 'sample_tables', b.sample_tables,
		'min_hits', min_hits, 'min_ratio', min_ratio);
	IF status = 'cannot_verify' THEN
		evidence := evidence || jsonb_build_object(
			'reason', format('%s table(s) could not be sampled', s ->> 'tables_unreadable'),
			'needs', 'SELECT on every user table (and USAGE on its schema) for the caller, no row-level security applying to it');
	END IF;
END
$$;
COMMENT ON FUNCTION finsec._check_card_numbers_plain(jsonb) IS
	'compliance check card_numbers_plain: columns of plain types named or sampled like card numbers (Luhn); counts, never values';
REVOKE ALL ON FUNCTION finsec._check_card_numbers_plain(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._check_card_numbers_plain(jsonb) TO finsec_admin, finsec_auditor;

/*
 * card_sensitive_data (D1; 002 3.2.7): sensitive authentication data is
 * never stored, plain or enciphered.  By name: a column of a user table,
 * of any type, named like CVV/CVN2/CVC, track data, PIN or PIN block,
 * expiry (args.name_patterns).  By value: sampled text with track-2 data
 * (a 13-19 digit number, '=', 4 digits) in at least args.min_track_hits
 * values (default 1); a column named loosely like a security code
 * (args.short_name_patterns: sec_code, verification ...) whose sampled
 * values are 3 or 4 digits (min_hits, min_ratio as card_numbers_plain).
 */
CREATE FUNCTION finsec._check_card_sensitive_data(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a jsonb := CASE WHEN jsonb_typeof(args) = 'object' THEN args ELSE '{}' END;
	names_re text;
	short_re text;
	min_hits numeric;
	min_ratio numeric;
	min_track numeric;
	b record;
	s jsonb;
	by_name jsonb;
	n_by_name integer;
	by_value jsonb;
	n_by_value integer;
BEGIN
	IF NOT has_function_privilege('finsec._compliance_pattern_arg(jsonb, text, text)', 'EXECUTE')
	   OR NOT has_function_privilege('finsec._compliance_user_columns()', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not execute finsec''s compliance helpers (finsec._compliance_*)',
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;
	names_re := finsec._compliance_pattern_arg(a, 'name_patterns',
		'(^|_)(cvv|cvv2|cvn|cvn2|cvc|cvc2|cav2|csc|pin|pins|pin_?code|pin_?block|pinblock|epin|'
		'track_?[123]|track_?data|trackdata|magstripe|mag_?stripe|'
		'expiry_?date|exp_?date|expdate|exp_?month|exp_?year|card_?exp|card_?expiry|valid_?thru|valid_?until|validthru)($|_)|'
		'磁道|有效期|安全码|卡密码|交易密码|支付密码|PIN码');
	short_re := finsec._compliance_pattern_arg(a, 'short_name_patterns',
		'cvv|cvn|cvc|csc|sec_?code|security_?code|verif|check_?code|card_?code|验证码|校验码');
	min_hits := finsec._compliance_number_arg(a, 'min_hits', 3, 1, 1000000);
	min_ratio := finsec._compliance_number_arg(a, 'min_ratio', 0.5, 0, 1);
	min_track := finsec._compliance_number_arg(a, 'min_track_hits', 1, 1, 1000000);
	IF names_re IS NULL OR short_re IS NULL OR min_hits IS NULL OR min_ratio IS NULL OR min_track IS NULL THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the clause''s arguments are not valid',
									   'needs', 'name_patterns and short_name_patterns arrays of regular expressions, min_hits and min_track_hits numbers >= 1, min_ratio a number in [0, 1]');
		RETURN;
	END IF;
	IF NOT has_function_privilege('finsec.is_valid_bank_card(text)', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not execute finsec.is_valid_bank_card(text), used in sampling',
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;
	b := finsec._compliance_sample_bounds();

	SELECT count(*), coalesce(jsonb_agg(x.j ORDER BY x.t, x.c) FILTER (WHERE x.rn <= 100), '[]')
	  INTO n_by_name, by_name
	  FROM (SELECT format('%I.%I', u.nspname, u.relname) AS t, u.column_name AS c,
				   jsonb_build_object('column', format('%I.%I.%I', u.nspname, u.relname, u.column_name),
									  'type', format_type(u.atttypid, u.atttypmod)) AS j,
				   row_number() OVER (ORDER BY format('%I.%I', u.nspname, u.relname), u.column_name) AS rn
			  FROM finsec._compliance_user_columns() u
			 WHERE NOT u.relispartition
			   AND u.column_name OPERATOR(pg_catalog.~*) names_re) x;

	s := finsec._compliance_data_sample(b.sample_rows, b.sample_tables, NULL, short_re, true);
	SELECT count(*), coalesce(jsonb_agg(x.j ORDER BY x.t, x.c) FILTER (WHERE x.rn <= 100), '[]')
	  INTO n_by_value, by_value
	  FROM (SELECT e ->> 0 AS t, e ->> 1 AS c,
				   jsonb_build_object('column', (e ->> 0) || '.' || (e ->> 1), 'track2_values', (e ->> 4)::bigint,
									  'short_digit_values', (e ->> 5)::bigint, 'sampled', (e ->> 2)::bigint) AS j,
				   row_number() OVER (ORDER BY e ->> 0, e ->> 1) AS rn
			  FROM jsonb_array_elements(s -> 'columns') e
			 WHERE (e ->> 4)::bigint >= min_track
				OR ((e ->> 5)::bigint >= min_hits AND (e ->> 5)::numeric >= min_ratio * (e ->> 2)::numeric)) x;

	status := CASE WHEN n_by_name > 0 OR n_by_value > 0 THEN 'fail'
				   WHEN (s ->> 'tables_unreadable')::integer > 0 THEN 'cannot_verify'
				   WHEN (s ->> 'tables_not_sampled')::integer > 0 THEN 'warn'
				   ELSE 'pass' END;
	evidence := jsonb_build_object(
		'columns_by_name', n_by_name, 'named_columns', by_name,
		'columns_by_value', n_by_value, 'sampled_columns', by_value,
		'tables_sampled', s -> 'tables_sampled', 'tables_unreadable', s -> 'tables_unreadable',
		'unreadable', s -> 'unreadable', 'tables_not_sampled', s -> 'tables_not_sampled',
		'sample_rows', b.sample_rows, 'sample_tables', b.sample_tables,
		'min_hits', min_hits, 'min_ratio', min_ratio, 'min_track_hits', min_track);
	IF status = 'cannot_verify' THEN
		evidence := evidence || jsonb_build_object(
			'reason', format('%s table(s) could not be sampled', s ->> 'tables_unreadable'),
			'needs', 'SELECT on every user table (and USAGE on its schema) for the caller, no row-level security applying to it');
	END IF;
END
$$;
COMMENT ON FUNCTION finsec._check_card_sensitive_data(jsonb) IS
	'compliance check card_sensitive_data: columns named like CVV, track data, PIN, expiry (any type), sampled track-2 data and CVV-like codes';
REVOKE ALL ON FUNCTION finsec._check_card_sensitive_data(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._check_card_sensitive_data(jsonb) TO finsec_admin, finsec_auditor;

/*
 * posted_tables_protected (L4, C6, D6): every table registered with
 * finsec limits, risk, monitor or credit holds posted transactions or
 * credit records and must be protect_table()'d (append-only,
 * hash-chained).  Protected: the table carries finsec's immutability
 * trigger (finsec_ledger_immutable executing finsec.ledger_immutable(),
 * not disabled) — pg_trigger, readable by everyone — and has a chain in
 * finsec.ledger_chain when the caller may read it.  The registries
 * need SELECT (finsec_admin, finsec_auditor, finsec_operator); without
 * it cannot_verify.  No registered table: out_of_scope.
 */
CREATE FUNCTION finsec._check_posted_tables_protected(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	reg record;
	missing text[] := '{}';
	rels oid[] := '{}';
	regs text[] := '{}';
	unprotected jsonb;
	n_unprotected integer;
	n_tables integer;
	chain_readable boolean := has_table_privilege('finsec.ledger_chain', 'SELECT');
	immutable_fn regprocedure := to_regprocedure('finsec.ledger_immutable()');
BEGIN
	FOR reg IN
		SELECT * FROM (VALUES ('limits', 'finsec.limit_table'), ('risk', 'finsec.risk_table'),
							  ('monitor', 'finsec.monitor_table'), ('credit', 'finsec.credit_table')) v(cap, tbl)
	LOOP
		IF to_regclass(reg.tbl) IS NULL THEN
			CONTINUE;
		END IF;
		IF NOT has_table_privilege(reg.tbl, 'SELECT') THEN
			missing := missing || reg.tbl;
			CONTINUE;
		END IF;
		EXECUTE format('SELECT array_agg(relid::oid) FROM %s', reg.tbl) INTO rels;
		IF rels IS NOT NULL THEN
			regs := regs || ARRAY(SELECT r::text || ':' || reg.cap FROM unnest(rels) r);
		END IF;
	END LOOP;
	IF cardinality(missing) > 0 THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not read the registries of posted tables: ' || array_to_string(missing, ', '),
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;

	WITH r AS (
		SELECT split_part(x, ':', 1)::oid AS relid, array_agg(DISTINCT split_part(x, ':', 2) ORDER BY split_part(x, ':', 2)) AS caps
		  FROM unnest(regs) x GROUP BY 1),
	j AS (
		SELECT r.relid, r.caps,
			   EXISTS (SELECT 1 FROM pg_trigger t
						WHERE t.tgrelid = r.relid AND t.tgname = 'finsec_ledger_immutable'
						  AND t.tgfoid = immutable_fn AND t.tgenabled <> 'D') AS has_trigger,
			   CASE WHEN chain_readable
					THEN EXISTS (SELECT 1 FROM finsec.ledger_chain c WHERE c.relid = r.relid) END AS has_chain
		  FROM r JOIN pg_class c ON c.oid = r.relid)
	SELECT count(*),
		   count(*) FILTER (WHERE NOT has_trigger OR has_chain IS FALSE),
		   coalesce(jsonb_agg(jsonb_build_object('table', relid::regclass::text, 'registered_with', to_jsonb(caps),
												 'immutability_trigger', has_trigger, 'chain', has_chain)
							  ORDER BY relid::regclass::text)
					FILTER (WHERE NOT has_trigger OR has_chain IS FALSE), '[]')
	  INTO n_tables, n_unprotected, unprotected
	  FROM j;

	IF n_tables = 0 THEN
		status := 'out_of_scope';
		evidence := jsonb_build_object('reason', 'no table is registered with finsec limits, risk, monitor or credit',
									   'registered_tables', 0);
		RETURN;
	END IF;
	status := CASE WHEN n_unprotected > 0 THEN 'fail' ELSE 'pass' END;
	evidence := jsonb_build_object('registered_tables', n_tables, 'unprotected_tables', n_unprotected,
								   'unprotected', unprotected, 'ledger_chain_read', chain_readable);
END
$$;
COMMENT ON FUNCTION finsec._check_posted_tables_protected(jsonb) IS
	'compliance check posted_tables_protected: tables registered with limits, risk, monitor or credit that are not protect_table()''d';
REVOKE ALL ON FUNCTION finsec._check_posted_tables_protected(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._check_posted_tables_protected(jsonb) TO finsec_admin, finsec_auditor;

/*
 * sensitive_columns_labelled (D4; 004 8.3.4 b enhanced): columns holding
 * personal or card data carry a finsec sensitivity label (their own, or
 * effectively through their table or the inheritance tree:
 * finsec._label_effective).  fail: a column of a finsec type for such
 * data (protected_*, bank_card, bank_account, cn_resident_id, uscc,
 * cn_mobile, directly, through a domain or as an array) without label.
 * warn: a column of a plain string type whose name looks personal
 * (args.name_patterns; the patterns of finsec.label_suggestions()) without
 * label.  Labelling a column 'public' dismisses it.  Ordinary,
 * partitioned, materialised and foreign tables (views carry no data); a
 * partition through its parent (labels count both ways).
 */
CREATE FUNCTION finsec._check_sensitive_columns_labelled(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a jsonb := CASE WHEN jsonb_typeof(args) = 'object' THEN args ELSE '{}' END;
	names_re text;
	n_typed integer;
	n_named integer;
	typed jsonb;
	named jsonb;
BEGIN
	IF NOT has_function_privilege('finsec._compliance_pattern_arg(jsonb, text, text)', 'EXECUTE')
	   OR NOT has_function_privilege('finsec._compliance_user_columns()', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not execute finsec''s compliance helpers (finsec._compliance_*)',
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;
	names_re := finsec._compliance_pattern_arg(a, 'name_patterns',
		'(^|_)(id_?no|id_?card|id_?number|resident_?id|cert_?no)($|_)|身份证|证件号|'
		'(^|_)(phone|mobile|tel|telephone|cellphone)($|_)|手机|电话|(^|_)e_?mail($|_)|邮箱|'
		'(^|_)(address|addr)($|_)|地址|住址|(^|_)name$|姓名');
	IF names_re IS NULL THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the clause''s arguments are not valid',
									   'needs', 'name_patterns an array of regular expressions');
		RETURN;
	END IF;
	IF to_regprocedure('finsec._label_effective(regclass, smallint)') IS NULL
	   OR NOT has_function_privilege('finsec._label_effective(regclass, smallint)', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not execute finsec._label_effective(regclass, smallint), which reads the effective labels',
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;

	WITH cand AS (
		SELECT u.relid, format('%I.%I', u.nspname, u.relname) AS table_name, u.column_name, u.attnum,
			   format_type(u.atttypid, u.atttypmod) AS type_name,
			   CASE WHEN u.kind = 'finsec' THEN 'type' ELSE 'name' END AS why
		  FROM finsec._compliance_user_columns() u
		  JOIN pg_type t ON t.oid = u.atttypid
		  JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
		 WHERE NOT u.relispartition
		   AND (u.kind = 'finsec'
				OR (bt.typcategory = 'S' AND u.column_name OPERATOR(pg_catalog.~*) names_re))),
	unl AS (
		SELECT c.*, row_number() OVER (PARTITION BY c.why ORDER BY c.table_name, c.column_name) AS rn
		  FROM cand c
		 WHERE finsec._label_effective(c.relid::regclass, c.attnum) IS NULL)
	SELECT count(*) FILTER (WHERE why = 'type'), count(*) FILTER (WHERE why = 'name'),
		   coalesce(jsonb_agg(jsonb_build_object('column', table_name || '.' || quote_ident(column_name), 'type', type_name)
							  ORDER BY table_name, column_name) FILTER (WHERE why = 'type' AND rn <= 100), '[]'),
		   coalesce(jsonb_agg(jsonb_build_object('column', table_name || '.' || quote_ident(column_name), 'type', type_name)
							  ORDER BY table_name, column_name) FILTER (WHERE why = 'name' AND rn <= 100), '[]')
	  INTO n_typed, n_named, typed, named
	  FROM unl;

	status := CASE WHEN n_typed > 0 THEN 'fail' WHEN n_named > 0 THEN 'warn' ELSE 'pass' END;
	evidence := jsonb_build_object('unlabelled_typed_columns', n_typed, 'typed_columns', typed,
								   'unlabelled_named_columns', n_named, 'named_columns', named);
END
$$;
COMMENT ON FUNCTION finsec._check_sensitive_columns_labelled(jsonb) IS
	'compliance check sensitive_columns_labelled: columns of finsec''s personal-data types (fail) or named like personal data (warn) without a finsec label';
REVOKE ALL ON FUNCTION finsec._check_sensitive_columns_labelled(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._check_sensitive_columns_labelled(jsonb) TO finsec_admin, finsec_auditor;

/*
 * outbound_links (C7: 004 9.9; W8: 003 6.4.1.4.1, 004 7.5.6 f, 8.3.2 d):
 * every outbound link finsec can see (finsec.outbound_links(), which
 * also writes its ledger row with the counts) judged against
 * finsec.outbound_allow: a link not_allowed → fail; links finsec cannot
 * judge (unknown: program foreign tables, shell commands, publications,
 * capabilities of named roles) → warn; else pass.  The superuser's own
 * capabilities, unknown on every server, are counted (superuser_only)
 * but not judged.  args.scope 'credit' (C7): out_of_scope when
 * no credit table is registered.  Evidence: the links as
 * outbound_links() returns them (no password, no whole connection
 * string), at most 100 of each verdict.
 */
CREATE FUNCTION finsec._check_outbound_links(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a jsonb := CASE WHEN jsonb_typeof(args) = 'object' THEN args ELSE '{}' END;
	links jsonb;
	n_bad integer;
	n_unknown integer;
	n_su integer;
	n_all integer;
	n_credit bigint;
BEGIN
	IF a ->> 'scope' IS NOT NULL AND a ->> 'scope' <> 'credit' THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the clause''s arguments are not valid', 'needs', 'scope absent or ''credit''');
		RETURN;
	END IF;
	IF a ->> 'scope' = 'credit' THEN
		IF to_regclass('finsec.credit_table') IS NULL OR NOT has_table_privilege('finsec.credit_table', 'SELECT') THEN
			status := 'cannot_verify';
			evidence := jsonb_build_object('reason', 'the caller may not read finsec.credit_table (whether the credit capability is in use)',
										   'needs', 'membership of finsec_auditor or finsec_admin');
			RETURN;
		END IF;
		SELECT count(*) INTO n_credit FROM finsec.credit_table;
		IF n_credit = 0 THEN
			status := 'out_of_scope';
			evidence := jsonb_build_object('reason', 'no credit table is registered (finsec.register_credit_table)', 'credit_tables', 0);
			RETURN;
		END IF;
	END IF;
	IF to_regprocedure('finsec.outbound_links()') IS NULL
	   OR NOT has_function_privilege('finsec.outbound_links()', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not execute finsec.outbound_links()',
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;
	-- A superuser's own capabilities (COPY ... PROGRAM, dblink or foreign
	-- data wrappers usable by superusers only, untrusted languages) are
	-- listed as unknown by outbound_links() on every server: counted as
	-- superuser_only, not a warning.
	WITH l AS (
		SELECT l.*,
			   (l.verdict = 'unknown'
				AND ((l.kind = 'copy_program' AND l.detail LIKE 'superuser%')
					 OR (l.kind IN ('dblink', 'foreign_data_wrapper') AND l.detail LIKE '%: superusers only')
					 OR l.kind = 'language')) AS su
		  FROM finsec.outbound_links() l),
	o AS (
		SELECT l.*, row_number() OVER (PARTITION BY l.verdict, l.su ORDER BY l.kind, l.object) AS rn FROM l)
	SELECT count(*), count(*) FILTER (WHERE verdict = 'not_allowed'),
		   count(*) FILTER (WHERE verdict = 'unknown' AND NOT su), count(*) FILTER (WHERE su),
		   coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object('kind', kind, 'object', object, 'host', host, 'port', port,
																   'region', region, 'verdict', verdict, 'detail', detail))
							  ORDER BY verdict DESC, kind, object) FILTER (WHERE verdict <> 'allowed' AND NOT su AND rn <= 100), '[]')
	  INTO n_all, n_bad, n_unknown, n_su, links
	  FROM o;
	status := CASE WHEN n_bad > 0 THEN 'fail' WHEN n_unknown > 0 THEN 'warn' ELSE 'pass' END;
	evidence := jsonb_build_object('links', n_all, 'not_allowed', n_bad, 'unknown', n_unknown, 'superuser_only', n_su,
								   'allowed', n_all - n_bad - n_unknown - n_su, 'judged', links);
	IF a ->> 'scope' = 'credit' THEN
		evidence := evidence || jsonb_build_object('credit_tables', n_credit);
	END IF;
END
$$;
COMMENT ON FUNCTION finsec._check_outbound_links(jsonb) IS
	'compliance check outbound_links: outbound links not on finsec.outbound_allow (fail) or not judged (warn); scope credit: only with a credit table';
REVOKE ALL ON FUNCTION finsec._check_outbound_links(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._check_outbound_links(jsonb) TO finsec_admin, finsec_auditor;

INSERT INTO finsec.compliance_check_def (check_name, function, title_zh, title_en, builtin) VALUES
	('card_numbers_plain', 'finsec._check_card_numbers_plain(jsonb)', '卡号明文存储', 'Card numbers stored in plain columns', true),
	('card_sensitive_data', 'finsec._check_card_sensitive_data(jsonb)', '敏感鉴别数据（CVN2、磁道、PIN、有效期）存储', 'Sensitive authentication data (CVN2, track, PIN, expiry) stored', true),
	('posted_tables_protected', 'finsec._check_posted_tables_protected(jsonb)', '交易表防篡改保护', 'Posted transaction tables protected (append-only, hash-chained)', true),
	('sensitive_columns_labelled', 'finsec._check_sensitive_columns_labelled(jsonb)', '敏感字段安全标记', 'Sensitive columns labelled', true),
	('outbound_links', 'finsec._check_outbound_links(jsonb)', '对外连接白名单', 'Outbound links on the allow-list', true);

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
