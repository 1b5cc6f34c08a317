--
-- 139_credit_ladder: generalisation ladders of quasi-identifiers
-- (src/credit/ladder.c, ladder_parse.c; docs/credit.md "Ladders").
-- Every level of a value, every bad ladder refused with S9D40/S9D41.
--
SET client_min_messages = warning;
CREATE ROLE regress_ladder_admin;
GRANT finsec_admin TO regress_ladder_admin;
SET ROLE regress_ladder_admin;

-- Dates: month, year, 5-year band (starting at a multiple of 5), decade.
SELECT * FROM finsec.credit_ladder_levels('["month", "year", "years:5", "decade"]', '1987-03-12');
-- yyyymmdd and yyyy-mm are dates too; a year band at the edge of its band.
SELECT generalised FROM finsec.credit_ladder_levels('["year", "years:5"]', '19850101') WHERE level > 0;
SELECT generalised FROM finsec.credit_ladder_levels('["years:5"]', '1989-12') WHERE level = 1;
-- Not a date (bad day, bad month, words): withheld from the first date step on.
SELECT generalised FROM finsec.credit_ladder_levels('["year"]', '1987-02-29') WHERE level = 1;
SELECT generalised FROM finsec.credit_ladder_levels('["year"]', '1988-02-29') WHERE level = 1;
SELECT generalised FROM finsec.credit_ladder_levels('["year"]', '1987-13-01') WHERE level = 1;
SELECT generalised FROM finsec.credit_ladder_levels('["year"]', 'unknown') WHERE level = 1;

-- Region codes: city, province (prefixes, in characters).
SELECT * FROM finsec.credit_ladder_levels('["prefix:4", "prefix:2"]', '110105');
SELECT generalised FROM finsec.credit_ladder_levels('["prefix:2"]', '北京市海淀区') WHERE level = 1;

-- Numbers: bands [a, a+n), floor for negatives and fractions.
SELECT * FROM finsec.credit_ladder_levels('["round:1000", "round:10000"]', '12345.67');
SELECT generalised FROM finsec.credit_ladder_levels('["round:1000"]', '-0.5') WHERE level = 1;
SELECT generalised FROM finsec.credit_ladder_levels('["round:1000"]', '-1000') WHERE level = 1;
SELECT generalised FROM finsec.credit_ladder_levels('["round:1000"]', '-1001') WHERE level = 1;
SELECT generalised FROM finsec.credit_ladder_levels('["round:1000"]', '000999') WHERE level = 1;
SELECT generalised FROM finsec.credit_ladder_levels('["round:1000"]', '12e3') WHERE level = 1;
SELECT generalised FROM finsec.credit_ladder_levels('["round:1000"]', '99999999999999999') WHERE level = 1;

-- NULL: NULL below the top, "*" at the top; an explicit "*" last is the top.
SELECT * FROM finsec.credit_ladder_levels('["year", "*"]', NULL);

-- Maps: an employer to its industry, then the industry's section letter.
SELECT finsec.credit_ladder_map_set('industry', '中国银行', 'J6621');
SELECT finsec.credit_ladder_map_set('industry', '国家电网', 'D4419');
SELECT finsec.credit_ladder_map_set('industry', '国家电网', 'D4410');  -- replaces
SELECT map_name, value, generalised FROM finsec.credit_ladder_map ORDER BY value COLLATE "C";
RESET ROLE;
SELECT event_type, object, detail FROM finsec.audit WHERE event_type LIKE 'credit.ladder_map%' ORDER BY finsec_seq;
SET ROLE regress_ladder_admin;
SELECT * FROM finsec.credit_ladder_levels('["map:industry", "prefix:1"]', '中国银行');
SELECT generalised FROM finsec.credit_ladder_levels('["map:industry", "prefix:1"]', '无名公司') WHERE level = 1;

-- Bad ladders: each refused, step number named, never its text.
\set VERBOSITY default
SELECT * FROM finsec.credit_ladder_levels('["decade", "year"]', 'x');
SELECT * FROM finsec.credit_ladder_levels('["year", "year"]', 'x');
SELECT * FROM finsec.credit_ladder_levels('["years:3", "decade"]', 'x');
SELECT * FROM finsec.credit_ladder_levels('["prefix:2", "prefix:4"]', 'x');
SELECT * FROM finsec.credit_ladder_levels('["round:1000", "round:1500"]', 'x');
SELECT * FROM finsec.credit_ladder_levels('["year", "prefix:2"]', 'x');
SELECT * FROM finsec.credit_ladder_levels('["map:industry", "year"]', 'x');
SELECT * FROM finsec.credit_ladder_levels('["*", "year"]', 'x');
SELECT * FROM finsec.credit_ladder_levels('["years:0"]', 'x');
SELECT * FROM finsec.credit_ladder_levels('["years:05"]', 'x');
SELECT * FROM finsec.credit_ladder_levels('["prefix:999"]', 'x');
SELECT * FROM finsec.credit_ladder_levels('["weekday"]', 'x');
SELECT * FROM finsec.credit_ladder_levels('["map:Industry"]', 'x');
SELECT * FROM finsec.credit_ladder_levels('["map:nosuchmap"]', 'x');
SELECT * FROM finsec.credit_ladder_levels('[1]', 'x');
SELECT * FROM finsec.credit_ladder_levels('{"year": 1}', 'x');
SELECT * FROM finsec.credit_ladder_levels('"year"', 'x');
SELECT * FROM finsec.credit_ladder_levels(
	(SELECT jsonb_agg('prefix:' || n) FROM generate_series(17, 1, -1) n), 'x');
-- 16 steps are allowed.
SELECT count(*) FROM finsec.credit_ladder_levels(
	(SELECT jsonb_agg('prefix:' || n) FROM generate_series(16, 1, -1) n), 'abcdefghijklmnopq');

-- Not for everyone.
RESET ROLE;
CREATE ROLE regress_ladder_app;
GRANT finsec_app TO regress_ladder_app;
SET ROLE regress_ladder_app;
SELECT * FROM finsec.credit_ladder_levels('["year"]', '1987-03-12');
SELECT finsec.credit_ladder_map_set('industry', 'x', 'y');
RESET ROLE;
SET ROLE regress_ladder_admin;
SELECT finsec.credit_ladder_map_delete('industry', '国家电网');
SELECT finsec.credit_ladder_map_delete('industry');
SELECT count(*) FROM finsec.credit_ladder_map;
-- The admin cannot write the map table directly, nor forge its events.
INSERT INTO finsec.credit_ladder_map VALUES ('industry', 'a', 'b');
SELECT finsec.audit_event('credit.ladder_map_set', 'forged', 'set', true);
-- Every namespace finsec writes is reserved (protect.reveal, label.read, ...
-- were forgeable before 1.2); an application's own namespace is not.
CREATE FUNCTION pg_temp.try_event(t text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM finsec.audit_event(t, 'forged', 'x', true);
	RETURN 'written';
EXCEPTION WHEN OTHERS THEN
	RETURN 'refused ' || SQLSTATE;
END
$$;
SELECT t AS event_type, pg_temp.try_event(t) AS outcome
  FROM unnest(ARRAY['credit.query', 'deid.batch', 'label.read', 'monitor.round', 'operator.reveal_rate',
                    'protect.reveal', 'reveal.refused', 'credit', 'protectx.reveal', 'app.credit.query']) t;
RESET ROLE;
DROP FUNCTION pg_temp.try_event(text);
DROP ROLE regress_ladder_app;
DROP ROLE regress_ladder_admin;
