--
-- 134_credit_anon: the anonymity engine (src/credit/anon.c) through
-- finsec.deid_evaluate, checked against hand-computed small examples and
-- against a brute-force enumeration of the lattice; research aggregates
-- (finsec.deid_aggregate) with small cells suppressed.
--
-- Loss of a generalisation = sum over quasi-identifiers of
-- level / (levels - 1); a ladder of s steps has s + 2 levels (the value,
-- each step, "*").  Allowed suppression = floor(max_suppression * n).
--
SET client_min_messages = warning;
CREATE ROLE regress_anon_admin;
GRANT finsec_admin TO regress_anon_admin;
CREATE ROLE regress_anon_app;
GRANT finsec_app TO regress_anon_app;
SET ROLE regress_anon_admin;

-- The figures a test looks at, without the constant parts.
CREATE FUNCTION pg_temp.ev(records jsonb, qi jsonb, sensitive text[], k int, l int, ms numeric)
RETURNS jsonb LANGUAGE sql AS $$
	SELECT finsec.deid_evaluate(records, qi, sensitive, k, l, ms)
		- '{engine, k, l, max_suppression, lattice_nodes_evaluated}'::text[]
$$;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text; msg text; hint text;
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
	RETURN st || ': ' || msg || CASE WHEN hint <> '' THEN ' (hint: ' || hint || ')' ELSE '' END;
END
$$;
CREATE FUNCTION pg_temp.lv(j jsonb) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(key || '=' || (value ->> 'step'), ', ' ORDER BY key) FROM jsonb_each(j -> 'levels')
$$;

-- 1. A class exactly at k is published, one at k - 1 is suppressed.
-- region: 110101 x3, 110102 x2, 120101 x3 (n = 8), ladder [prefix:2]:
-- 3 levels.  k = 3, max_suppression 0.4: allowed floor(3.2) = 3.
-- Level 0: classes 3, 2, 3: the class of 2 (= k - 1) is suppressed
-- (2 <= 3): feasible at loss 0.  Published 6 in 2 classes of 3:
-- max risk 1/3, average 2/6 = 1/3, expected re-identifications 2.
SELECT jsonb_pretty(pg_temp.ev(
	'[{"region": "110101"}, {"region": "110101"}, {"region": "110101"},
	  {"region": "110102"}, {"region": "110102"},
	  {"region": "120101"}, {"region": "120101"}, {"region": "120101"}]',
	'{"region": ["prefix:2"]}', '{}', 3, 1, 0.4));
-- The same with max_suppression 0.2: allowed floor(1.6) = 1 < 2, so
-- level 0 fails; prefix:2 gives "11" x5 and "12" x3: nothing suppressed,
-- loss 1/2; max risk 1/3, average 2/8 = 0.25, expected 2.
SELECT jsonb_pretty(pg_temp.ev(
	'[{"region": "110101"}, {"region": "110101"}, {"region": "110101"},
	  {"region": "110102"}, {"region": "110102"},
	  {"region": "120101"}, {"region": "120101"}, {"region": "120101"}]',
	'{"region": ["prefix:2"]}', '{}', 3, 1, 0.2));
-- max_suppression 0: the same (nothing may be withheld).
SELECT pg_temp.lv(j), j -> 'suppressed' AS suppressed FROM pg_temp.ev(
	'[{"region": "110101"}, {"region": "110101"}, {"region": "110101"},
	  {"region": "110102"}, {"region": "110102"},
	  {"region": "120101"}, {"region": "120101"}, {"region": "120101"}]',
	'{"region": ["prefix:2"]}', '{}', 3, 1, 0) j;

-- 2. Risks with unequal classes: sizes 2, 3, 5 (n = 10), k = 2: all
-- published at level 0; max risk 1/2, average 3/10, expected 3.
SELECT j -> 'levels' AS levels, j -> 'histogram' AS histogram, j -> 'min_class' AS min_class,
	   j -> 'max_risk' AS max_risk, j -> 'avg_risk' AS avg_risk,
	   j -> 'expected_reidentifications' AS expected
  FROM pg_temp.ev((SELECT jsonb_agg(jsonb_build_object('g', g)) FROM
					 unnest(ARRAY['a', 'a', 'b', 'b', 'b', 'c', 'c', 'c', 'c', 'c']) g),
				  '{"g": ["prefix:1"]}', '{}', 2, 1, 0) j;

-- 3. l-diversity.  region A = 110101 x3 with overdue {x, x, x}, B =
-- 110202 x3 with {x, y, y}; k = 3, l = 2.
-- max_suppression 0.5 (allowed 3): level 0, A fails l (1 distinct value)
-- and is suppressed (3 <= 3); B published, min_l 2.
SELECT pg_temp.lv(j), j -> 'suppressed' AS suppressed, j -> 'min_l' AS min_l,
	   j -> 'suppressed_records' AS which
  FROM finsec.deid_evaluate(
	'[{"region": "110101", "overdue": "x"}, {"region": "110101", "overdue": "x"}, {"region": "110101", "overdue": "x"},
	  {"region": "110202", "overdue": "x"}, {"region": "110202", "overdue": "y"}, {"region": "110202", "overdue": "y"}]',
	'{"region": ["prefix:2"]}', '{overdue}', 3, 2, 0.5) j;
-- max_suppression 0.4 (allowed 2): level 0 fails (3 > 2); prefix:2 puts
-- all six in "11" with {x, y}: l = 2 holds, nothing suppressed.
SELECT pg_temp.lv(j), j -> 'suppressed' AS suppressed, j -> 'min_l' AS min_l
  FROM finsec.deid_evaluate(
	'[{"region": "110101", "overdue": "x"}, {"region": "110101", "overdue": "x"}, {"region": "110101", "overdue": "x"},
	  {"region": "110202", "overdue": "x"}, {"region": "110202", "overdue": "y"}, {"region": "110202", "overdue": "y"}]',
	'{"region": ["prefix:2"]}', '{overdue}', 3, 2, 0.4) j;
-- l = 3: even with the region withheld the one class has 2 distinct
-- values: refused with the reason, never raised; the figures are those of
-- the top level (everything suppressed).
SELECT j -> 'ok' AS ok, j ->> 'refusal' AS refusal, pg_temp.lv(j), j -> 'published' AS published,
	   j -> 'suppressed' AS suppressed
  FROM finsec.deid_evaluate(
	'[{"region": "110101", "overdue": "x"}, {"region": "110101", "overdue": "x"}, {"region": "110101", "overdue": "x"},
	  {"region": "110202", "overdue": "x"}, {"region": "110202", "overdue": "y"}, {"region": "110202", "overdue": "y"}]',
	'{"region": ["prefix:2"]}', '{overdue}', 3, 3, 0.4) j;
-- Two sensitive attributes: each must be l-diverse.  One class of 4 with
-- s1 {x, y}, s2 {z, z}: fails on s2, l = 2; min_l reported per attribute
-- from the published classes (none here: 0).
SELECT j -> 'ok' AS ok, j -> 'min_l' AS min_l, j -> 'suppressed' AS suppressed
  FROM finsec.deid_evaluate(
	'[{"g": "a", "s1": "x", "s2": "z"}, {"g": "a", "s1": "y", "s2": "z"},
	  {"g": "a", "s1": "x", "s2": "z"}, {"g": "a", "s1": "y", "s2": "z"}]',
	'{"g": ["prefix:1"]}', '{s1, s2}', 2, 2, 0) j;

-- Large l (counted exactly, not while classing): 17 records of one
-- class, s distinct in each, and a second class of 17 with 16 distinct
-- values (s = 0 twice); k = 2, allowed floor(0.5 * 34) = 17.  l = 17:
-- the second class is suppressed (17 <= 17), min_l 17; l = 18: refused.
SELECT l, j -> 'ok' AS ok, j -> 'suppressed' AS suppressed, j -> 'min_l' AS min_l
  FROM generate_series(17, 18) l,
	   LATERAL finsec.deid_evaluate(
		(SELECT jsonb_agg(jsonb_build_object('g', 'a', 's', i::text)) FROM generate_series(1, 17) i) ||
		(SELECT jsonb_agg(jsonb_build_object('g', 'b', 's', greatest(i, 1)::text)) FROM generate_series(0, 16) i),
		'{"g": ["prefix:1"]}', '{s}', 2, l, 0.5) j;

-- 4. Suppression limit: k far beyond the records (huge k): refused.
SELECT j -> 'ok' AS ok, j ->> 'refusal' AS refusal
  FROM finsec.deid_evaluate((SELECT jsonb_agg(jsonb_build_object('g', i % 3)) FROM generate_series(1, 10) i),
							'{"g": ["round:10"]}', '{}', 2147483647, 1, 0.05) j;

-- 5. Ties.  a in {a1, a2}, b in {b1, b2}, ladders [prefix:1] (3 levels);
-- the four combinations once each, k = 2, nothing may be withheld.
-- (0,0): four classes of 1, fails.  (a=prefix:1, b=value): classes (a,
-- b1), (a, b2) of 2; (a=value, b=prefix:1): (a1, b), (a2, b) of 2: both
-- loss 1/2, none suppressed: the smaller levels in column order win: a
-- kept, b generalised.
SELECT pg_temp.lv(j), j -> 'loss' AS loss, j -> 'suppressed' AS suppressed
  FROM finsec.deid_evaluate(
	'[{"a": "a1", "b": "b1"}, {"a": "a2", "b": "b1"}, {"a": "a1", "b": "b2"}, {"a": "a2", "b": "b2"}]',
	'{"a": ["prefix:1"], "b": ["prefix:1"]}', '{}', 2, 1, 0) j;
-- With a fifth record (a3, b1) and max_suppression 0.2 (allowed 1):
-- (a=prefix:1): (a, b1) 3, (a, b2) 2, none suppressed; (b=prefix:1):
-- (a1, b) 2, (a2, b) 2, (a3, b) 1 suppressed: same loss, fewer
-- suppressed wins: a generalised.
SELECT pg_temp.lv(j), j -> 'loss' AS loss, j -> 'suppressed' AS suppressed
  FROM finsec.deid_evaluate(
	'[{"a": "a1", "b": "b1"}, {"a": "a2", "b": "b1"}, {"a": "a1", "b": "b2"}, {"a": "a2", "b": "b2"},
	  {"a": "a3", "b": "b1"}]',
	'{"a": ["prefix:1"], "b": ["prefix:1"]}', '{}', 2, 1, 0.2) j;
-- Loss is normalised per ladder: birth [year, decade] (4 levels, a step
-- costs 1/3) against region [prefix:2] (3 levels, a step costs 1/2).
-- Births 1980-01-05, 1980-02-07; regions 110101, 110102 (both "11").
-- Records (b1, r1), (b2, r2), (b1, r2), (b2, r1), k = 2: year merges
-- them by region: classes (1980, r1), (1980, r2) of 2 at loss 1/3;
-- prefix:2 would merge them by birth at loss 1/2.
SELECT pg_temp.lv(j), j -> 'loss' AS loss
  FROM finsec.deid_evaluate(
	'[{"birth": "1980-01-05", "region": "110101"}, {"birth": "1980-02-07", "region": "110102"},
	  {"birth": "1980-01-05", "region": "110102"}, {"birth": "1980-02-07", "region": "110101"}]',
	'{"birth": ["year", "decade"], "region": ["prefix:2"]}', '{}', 2, 1, 0) j;
-- With birth [month, year, decade] (5 levels) year costs 2/4 = 1/2, as
-- much as prefix:2: a tie, none suppressed either way: the smaller levels
-- in column order win, birth kept, region generalised.
SELECT pg_temp.lv(j), j -> 'loss' AS loss
  FROM finsec.deid_evaluate(
	'[{"birth": "1980-01-05", "region": "110101"}, {"birth": "1980-02-07", "region": "110102"},
	  {"birth": "1980-01-05", "region": "110102"}, {"birth": "1980-02-07", "region": "110101"}]',
	'{"birth": ["month", "year", "decade"], "region": ["prefix:2"]}', '{}', 2, 1, 0) j;

-- 6. NULLs: a NULL (or missing) quasi-identifier is a value of its own
-- below the top; a NULL sensitive value counts as one distinct value.
-- g: NULL x2 (one JSON null, one missing), "x" x2; s: {NULL, "p"} in
-- the NULL class, {"p", "q"} in the other: k = 2, l = 2 at level 0.
SELECT pg_temp.lv(j), j -> 'classes' AS classes, j -> 'suppressed' AS suppressed, j -> 'min_l' AS min_l
  FROM finsec.deid_evaluate(
	'[{"g": null, "s": null}, {"s": "p"}, {"g": "x", "s": "p"}, {"g": "x", "s": "q"}]',
	'{"g": ["prefix:1"]}', '{s}', 2, 2, 0) j;
-- A value a date step cannot read is "*" from that step on: "unknown"
-- joins nothing at level 0 and is "*" at year; 3 births of 1980 + it,
-- k = 2, allowed 1: level 0 (each alone) fails; year: 1980 x3 and "*" x1
-- suppressed (1 <= 1).
SELECT pg_temp.lv(j), j -> 'suppressed' AS suppressed, j -> 'suppressed_records' AS which
  FROM finsec.deid_evaluate(
	'[{"b": "1980-01-01"}, {"b": "unknown"}, {"b": "1980-05-01"}, {"b": "1980-09-09"}]',
	'{"b": ["year", "decade"]}', '{}', 2, 1, 0.25) j;

-- 7. No quasi-identifier: one class of all records.  No record: nothing
-- published, nothing at risk.
SELECT j -> 'ok' AS ok, j -> 'classes' AS classes, j -> 'min_class' AS min_class, j -> 'lattice_size' AS lattice
  FROM finsec.deid_evaluate('[{"s": "a"}, {"s": "b"}, {"s": "a"}]', '{}', '{s}', 3, 2, 0) j;
SELECT j -> 'ok' AS ok, j ->> 'refusal' AS refusal
  FROM finsec.deid_evaluate('[{"s": "a"}, {"s": "b"}, {"s": "a"}]', '{}', '{s}', 4, 2, 0) j;
SELECT jsonb_pretty(finsec.deid_evaluate('[]', '{"g": ["prefix:1"]}', '{}', 5, 2, 0.05));

-- 8. Bad input: refused with S9D42 (S9D40 for a bad ladder) and a hint.
SELECT pg_temp.try($q$SELECT finsec.deid_evaluate('[]', '{}', '{}', 0, 1, 0)$q$);
SELECT pg_temp.try($q$SELECT finsec.deid_evaluate('[]', '{}', '{}', 2, 0, 0)$q$);
SELECT pg_temp.try($q$SELECT finsec.deid_evaluate('[]', '{}', '{}', 2, 1, 1.5)$q$);
SELECT pg_temp.try($q$SELECT finsec.deid_evaluate('[]', '{}', '{}', 2, 1, 'NaN')$q$);
SELECT pg_temp.try($q$SELECT finsec.deid_evaluate('{}', '{}', '{}', 2, 1, 0)$q$);
SELECT pg_temp.try($q$SELECT finsec.deid_evaluate('[1]', '{}', '{}', 2, 1, 0)$q$);
SELECT pg_temp.try($q$SELECT finsec.deid_evaluate('[]', '[]', '{}', 2, 1, 0)$q$);
SELECT pg_temp.try($q$SELECT finsec.deid_evaluate('[]', '{"g": "year"}', '{}', 2, 1, 0)$q$);
SELECT pg_temp.try($q$SELECT finsec.deid_evaluate('[]', '{"g": ["decade", "year"]}', '{}', 2, 1, 0)$q$);
SELECT pg_temp.try($q$SELECT finsec.deid_evaluate('[]', '{"g": ["year"]}', '{g}', 2, 1, 0)$q$);
SELECT pg_temp.try($q$SELECT finsec.deid_evaluate('[]', '{}', '{s, s}', 2, 1, 0)$q$);
SELECT pg_temp.try($q$SELECT finsec.deid_evaluate('[]', '{}', ARRAY[NULL]::text[], 2, 1, 0)$q$);
SELECT pg_temp.try($q$SELECT finsec.deid_evaluate(NULL, '{}', '{}', 2, 1, 0)$q$);

-- 9. Brute force: every node of the lattice by SQL (GROUP BY over the
-- ladders' levels from finsec.credit_ladder_levels), the least loss, then
-- fewest suppressed, then smallest levels in column order; compared with
-- the engine on random small problems.
CREATE FUNCTION pg_temp.gen(ladder jsonb, lvl int, v text) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT generalised FROM finsec.credit_ladder_levels(ladder, v) WHERE level = lvl
$$;
CREATE FUNCTION pg_temp.brute(records jsonb, qi jsonb, sens text, k int, l int, ms numeric)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	names text[] := ARRAY(SELECT jsonb_object_keys(qi));	-- jsonb key order, as the engine
	nl int[];
	n int := jsonb_array_length(records);
	allowed int := floor(ms * n + 1e-9);
	node int[];
	total bigint;
	best jsonb;
	supp bigint;
	cls bigint;
	loss numeric;
	q int;
	sql text;
BEGIN
	nl := ARRAY(SELECT (SELECT count(*)::int FROM finsec.credit_ladder_levels(qi -> nm, 'x')) FROM unnest(names) nm);
	total := 1;
	FOR q IN 1 .. coalesce(array_length(names, 1), 0) LOOP
		total := total * nl[q];
	END LOOP;
	FOR idx IN 0 .. total - 1 LOOP
		node := '{}';
		DECLARE
			rest bigint := idx;
		BEGIN
			FOR q IN REVERSE coalesce(array_length(names, 1), 0) .. 1 LOOP
				node := (rest % nl[q])::int || node;
				rest := rest / nl[q];
			END LOOP;
		END;
		sql := 'SELECT coalesce(sum(c) FILTER (WHERE c < $1 OR d < $2), 0), count(*) FILTER (WHERE c >= $1 AND d >= $2) FROM (SELECT count(*) c, ';
		IF sens IS NULL THEN
			sql := sql || '1000000 d';
		ELSE
			sql := sql || format('count(DISTINCT r ->> %L) + (bool_or(r ->> %L IS NULL))::int d', sens, sens);
		END IF;
		sql := sql || ' FROM jsonb_array_elements($3) r GROUP BY ';
		IF coalesce(array_length(names, 1), 0) = 0 THEN
			sql := sql || '()';
		ELSE
			sql := sql || (SELECT string_agg(format('pg_temp.gen(%L, %s, r ->> %L)', qi -> names[i], node[i], names[i]), ', ')
							 FROM generate_series(1, array_length(names, 1)) i);
		END IF;
		sql := sql || ') x';
		EXECUTE sql INTO supp, cls USING k, l, records;
		IF supp <= allowed THEN
			loss := 0;
			FOR q IN 1 .. coalesce(array_length(names, 1), 0) LOOP
				loss := loss + node[q]::numeric / (nl[q] - 1);
			END LOOP;
			loss := round(loss, 9);
			IF best IS NULL OR loss < (best ->> 'loss')::numeric
			   OR (loss = (best ->> 'loss')::numeric AND supp < (best ->> 'suppressed')::bigint) THEN
				-- nodes come in lexicographic order: the first of a tie is the smallest
				best := jsonb_build_object('loss', loss, 'suppressed', supp, 'classes', cls, 'levels', to_jsonb(node));
			END IF;
		END IF;
	END LOOP;
	RETURN coalesce(best, '{"ok": false}');
END
$$;
SELECT setseed(0.134);
CREATE TEMP TABLE problems AS
SELECT i,
	   (SELECT jsonb_agg(jsonb_build_object(
			'birth', (date '1970-01-01' + (random() * 7300)::int)::text,
			'region', (ARRAY['110101', '110102', '110201', '120101', '120102', '310101'])[1 + floor(random() * 6)::int],
			'income', (random() * 30000)::int::text,
			's', (ARRAY['a', 'b', 'c'])[1 + floor(random() * 3)::int]))
		  FROM generate_series(1, 5 + (i * 7) % 28) r WHERE i > 0) AS records,
	   (ARRAY['{"birth": ["year", "years:5", "decade"], "region": ["prefix:4", "prefix:2"]}',
			  '{"region": ["prefix:4", "prefix:2"], "income": ["round:1000", "round:10000"]}',
			  '{"birth": ["month", "year", "decade"], "region": ["prefix:2"], "income": ["round:5000", "round:10000"]}',
			  '{"income": ["round:1000", "round:5000", "round:10000"]}'])[1 + i % 4]::jsonb AS qi,
	   CASE WHEN i % 3 = 0 THEN NULL ELSE 's' END AS sens,
	   2 + i % 5 AS k,
	   CASE WHEN i % 3 = 0 THEN 1 ELSE 1 + i % 3 END AS l,
	   (ARRAY[0, 0.1, 0.2, 0.3])[1 + i % 4]::numeric AS ms
  FROM generate_series(1, 60) i;
CREATE TEMP TABLE compared AS
SELECT i, b, e
  FROM problems,
	   LATERAL pg_temp.brute(records, qi, sens, k, l, ms) b,
	   LATERAL finsec.deid_evaluate(records, qi, CASE WHEN sens IS NULL THEN '{}' ELSE ARRAY[sens] END, k, l, ms) e;
-- every problem agrees: ok, levels, suppressed, classes
SELECT count(*) AS problems,
	   count(*) FILTER (WHERE (e -> 'ok')::boolean) AS solvable,
	   count(*) FILTER (WHERE (e -> 'ok')::boolean AND (e -> 'loss')::numeric > 0) AS generalised,
	   count(*) FILTER (WHERE (e -> 'suppressed')::int > 0 AND (e -> 'ok')::boolean) AS with_suppression,
	   count(*) FILTER (WHERE
			CASE WHEN b ? 'ok' THEN NOT (e -> 'ok')::boolean
			ELSE (e -> 'ok')::boolean
				 AND round((e -> 'loss')::numeric, 9) = (b -> 'loss')::numeric
				 AND (e -> 'suppressed') = (b -> 'suppressed')
				 AND (e -> 'classes') = (b -> 'classes')
				 AND (SELECT jsonb_agg((e -> 'levels' -> key -> 'level') ORDER BY ord)
						FROM jsonb_object_keys(qi) WITH ORDINALITY AS t(key, ord)) = (b -> 'levels')
			END) AS agree
  FROM compared JOIN problems USING (i);
SELECT i, b, e - 'suppressed_records' AS e FROM compared JOIN problems USING (i)
 WHERE NOT CASE WHEN b ? 'ok' THEN NOT (e -> 'ok')::boolean
			ELSE (e -> 'ok')::boolean
				 AND round((e -> 'loss')::numeric, 9) = (b -> 'loss')::numeric
				 AND (e -> 'suppressed') = (b -> 'suppressed')
				 AND (e -> 'classes') = (b -> 'classes')
				 AND (SELECT jsonb_agg((e -> 'levels' -> key -> 'level') ORDER BY ord)
						FROM jsonb_object_keys(qi) WITH ORDINALITY AS t(key, ord)) = (b -> 'levels')
			END;

-- 10. Not for the application.
RESET ROLE;
SET ROLE regress_anon_app;
SELECT finsec.deid_evaluate('[]', '{}', '{}', 2, 1, 0);
SELECT * FROM finsec.deid_aggregate('finsec.credit_table', '{}');
RESET ROLE;
DROP OWNED BY regress_anon_admin;
DROP ROLE regress_anon_app;
DROP ROLE regress_anon_admin;

-- 11. Research aggregates over the archive of a registered table (its own
-- database: keys, policy, registration).
CREATE DATABASE regress_canon;
\c regress_canon
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_ca_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ca_b LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ca_owner LOGIN IN ROLE finsec_app, regress_ca_a;
CREATE ROLE regress_ca_research LOGIN IN ROLE finsec_research;
CREATE ROLE regress_ca_app LOGIN IN ROLE finsec_app;
GRANT CREATE ON SCHEMA public TO regress_ca_owner;
SET SESSION AUTHORIZATION regress_ca_a;
SELECT finsec.key_generate('anon.enc', 'encryption', 'aes-256-gcm') AS k1 \gset
SELECT finsec.key_generate('anon.fp', 'fingerprint', 'hmac-sm3') AS k2 \gset
SET SESSION AUTHORIZATION regress_ca_b;
SELECT finsec.approve(:k1) ->> 'state', finsec.approve(:k2) ->> 'state';
SET SESSION AUTHORIZATION regress_ca_a;
SELECT finsec.protect_policy_create('anon_p', enc_key => 'anon.enc', fp_key => 'anon.fp',
									mask => 'name', period_unit => 'month', fp_scope => 'period') > 0 AS created;
SET SESSION AUTHORIZATION regress_ca_owner;
CREATE TABLE loan (
	id			bigint PRIMARY KEY,
	name		finsec.protected_text(anon_p) NOT NULL,
	birth_date	finsec.protected_text(anon_p),
	region		finsec.protected_text(anon_p),
	overdue		finsec.protected_text(anon_p),
	amount		numeric,
	closed_on	date NOT NULL);
SELECT finsec.register_credit_table('loan', key => 'id', subject => 'name', behaviour_end => 'closed_on',
	policy => 'anon_p', quasi_identifiers => '{"birth_date": ["year", "decade"], "region": ["prefix:2"]}',
	sensitive => '{overdue}', k => 3) AS archive;
RESET SESSION AUTHORIZATION;
-- archive rows as the de-identification batch would write them (here by
-- the superuser): region "11" x4 (overdue M1 x2, M2 x2), "12" x3, "31" x2
INSERT INTO finsec_archive.loan (batch_id, period, name, birth_date, region, overdue, amount)
SELECT 1, 202001, md5(i::text), '1980-1989', r, o, 1000
  FROM (VALUES (1, '11', 'M1'), (2, '11', 'M1'), (3, '11', 'M2'), (4, '11', 'M2'),
			   (5, '12', 'M1'), (6, '12', 'M1'), (7, '12', 'M2'), (8, '31', 'M3'), (9, '31', 'M3')) v(i, r, o);

CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text; msg text; hint text;
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
	RETURN st || ': ' || msg || CASE WHEN hint <> '' THEN ' (hint: ' || hint || ')' ELSE '' END;
END
$$;
SET SESSION AUTHORIZATION regress_ca_research;
-- The research role reads no archive directly.
SELECT count(*) FROM finsec_archive.loan;
-- Cells of fewer than k = 3 records are suppressed and counted: by region
-- 11 (4) and 12 (3) published, 31 (2) suppressed.
SELECT * FROM finsec.deid_aggregate('finsec_archive.loan', '{region}');
-- by region and overdue: (11, M1) 2, (11, M2) 2, (12, M1) 2, (12, M2) 1,
-- (31, M3) 2: every cell below 3, all suppressed.
SELECT * FROM finsec.deid_aggregate('finsec_archive.loan', '{region, overdue}');
-- No grouping: the total.  A larger k (5): every region cell (4, 3, 2)
-- is below it.  Period and birth band: one cell of 9.
SELECT * FROM finsec.deid_aggregate('finsec_archive.loan', '{}');
SELECT * FROM finsec.deid_aggregate('finsec_archive.loan', '{region}', 5);
SELECT * FROM finsec.deid_aggregate('finsec_archive.loan', '{period, birth_date}');
-- Refused (S9D43): a pseudonym column, the key, an unknown column, a
-- smaller k than the table's, a table that is not an archive, NULLs,
-- a column twice, a quoted name trying SQL.
SELECT pg_temp.try($q$SELECT * FROM finsec.deid_aggregate('finsec_archive.loan', '{name}')$q$);
SELECT pg_temp.try($q$SELECT * FROM finsec.deid_aggregate('finsec_archive.loan', '{batch_id}')$q$);
SELECT pg_temp.try($q$SELECT * FROM finsec.deid_aggregate('finsec_archive.loan', '{nosuch}')$q$);
SELECT pg_temp.try($q$SELECT * FROM finsec.deid_aggregate('finsec_archive.loan', '{region}', 2)$q$);
SELECT pg_temp.try($q$SELECT * FROM finsec.deid_aggregate('finsec.credit_table', '{relid}')$q$);
SELECT pg_temp.try($q$SELECT * FROM finsec.deid_aggregate('public.loan', '{region}')$q$);
SELECT pg_temp.try($q$SELECT * FROM finsec.deid_aggregate(NULL, '{region}')$q$);
SELECT pg_temp.try($q$SELECT * FROM finsec.deid_aggregate('finsec_archive.loan', NULL)$q$);
SELECT pg_temp.try($q$SELECT * FROM finsec.deid_aggregate('finsec_archive.loan', '{region, region}')$q$);
SELECT pg_temp.try($q$SELECT * FROM finsec.deid_aggregate('finsec_archive.loan', ARRAY['region) FROM pg_authid --'])$q$);
-- A research role's own objects change nothing in the definer's query:
-- a temporary function shadowing quote_ident and a search_path of its own.
CREATE FUNCTION pg_temp.quote_ident(text) RETURNS text LANGUAGE sql AS $$ SELECT 'name' $$;
SET search_path = pg_temp, public;
SELECT * FROM finsec.deid_aggregate('finsec_archive.loan', '{region}');
RESET search_path;
-- The application cannot call it.
SET SESSION AUTHORIZATION regress_ca_app;
SELECT * FROM finsec.deid_aggregate('finsec_archive.loan', '{region}');
RESET SESSION AUTHORIZATION;
-- Each read is a ledger row (durable), naming the grouping, never a value.
SELECT event_type, object, action, detail FROM finsec.audit
 WHERE event_type = 'credit.research_read' ORDER BY finsec_seq;
-- ... and it survives the caller's rollback.
BEGIN;
SET LOCAL SESSION AUTHORIZATION regress_ca_research;
SELECT * FROM finsec.deid_aggregate('finsec_archive.loan', '{overdue}');
ROLLBACK;
SELECT finsec.flush_audit_events() >= 1 AS flushed;
SELECT action, detail - '{rolled_back_seq, rolled_back_xid}'::text[] AS detail FROM finsec.audit
 WHERE event_type = 'credit.research_read' AND (detail ->> 'rolled_back')::boolean;

\c contrib_regression
DROP DATABASE regress_canon;
DROP ROLE regress_ca_a, regress_ca_b, regress_ca_owner, regress_ca_research, regress_ca_app;
