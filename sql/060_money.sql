--
-- 060_money: finsec.money, exact amounts in minor units with an ISO 4217
-- currency (D8; docs/money.md).
--
-- Operators and aggregates live in schema finsec; the type is always
-- written finsec.money (an unqualified "money" is PostgreSQL's own type).
SET search_path = public, finsec;

-- Text forms accepted, and the one canonical output: code, space, amount
-- with exactly the currency's decimal places; no locale, no grouping.
SELECT s, s::finsec.money AS value
  FROM (VALUES ('CNY 12.34'), ('12.34 CNY'), ('CNY12.34'), ('12.34CNY'), ('  CNY 12.34  '),
               (E'\tCNY\t-12.34\n'), ('CNY +12.34'), ('CNY 12.3'), ('CNY 12'), ('CNY 0'),
               ('CNY -0.00'), ('CNY 007.50'), ('-12.34 CNY'),
               ('¥12.34'), ('¥ 12.34'), ('¥-12.34'), ('-¥12.34'), ('+¥1'), ('￥12.34'), ('-￥0.01'),
               ('JPY 1234'), ('KRW -5'), ('KWD 1.234'), ('BHD 0.001'), ('CLF 1.0001'),
               ('USD 92233720368547758.07'), ('USD -92233720368547758.07'),
               ('JPY 9223372036854775807')) AS t(s);

-- Input is total: every malformed string is a clean error with SQLSTATE
-- 22P02 (or 22003 when only the range is wrong), and never rounds.
\set VERBOSITY default
SELECT ''::finsec.money;
SELECT '   '::finsec.money;
SELECT '12.34'::finsec.money;
SELECT 'CNY'::finsec.money;
SELECT 'CNY 12.345'::finsec.money;
SELECT 'JPY 1.0'::finsec.money;
SELECT 'KWD 1.2345'::finsec.money;
SELECT 'XYZ 1.00'::finsec.money;
SELECT 'cny 1.00'::finsec.money;
SELECT 'XAU 1'::finsec.money;
SELECT 'CNY 12.34 USD'::finsec.money;
SELECT '¥12.34 CNY'::finsec.money;
SELECT '12.34 ¥'::finsec.money;
SELECT 'CNY 1,234.56'::finsec.money;
SELECT 'CNY 1 234'::finsec.money;
SELECT 'CNY .5'::finsec.money;
SELECT 'CNY 5.'::finsec.money;
SELECT 'CNY 1e3'::finsec.money;
SELECT 'CNY --1'::finsec.money;
SELECT '-CNY 1'::finsec.money;
SELECT '-¥-1'::finsec.money;
SELECT 'CNY - 1'::finsec.money;
SELECT 'CNYY 1'::finsec.money;
SELECT 'USD 92233720368547758.08'::finsec.money;
SELECT 'USD -92233720368547758.08'::finsec.money;
SELECT 'JPY 99999999999999999999999999'::finsec.money;
-- The SQLSTATEs, for applications that branch on them.
DO $$
DECLARE s text;
BEGIN
	FOREACH s IN ARRAY ARRAY['CNY x', 'XYZ 1', 'CNY 0.001', 'JPY 9223372036854775808', '1'] LOOP
		BEGIN
			PERFORM s::finsec.money;
		EXCEPTION WHEN OTHERS THEN
			RAISE NOTICE '% -> %', s, SQLSTATE;
		END;
	END LOOP;
END $$;

-- Accessors and constructors; the cast to numeric keeps the currency's
-- decimal places and is explicit only.
SELECT currency(m), minor_units(m), amount(m), m::numeric
  FROM (VALUES ('CNY 12.30'::finsec.money), ('JPY -7'), ('KWD 0.005'), ('CLF 2')) AS t(m);
SELECT money(12.34, 'CNY'), money(12.340000, 'CNY'), money(-7, 'JPY'), money(1.5, 'KWD'),
       money_from_minor(1234, 'CNY'), money_from_minor(-1, 'KWD');
SELECT money(12.345, 'CNY');
SELECT money(12.345, 'CNY', 'half-even'), money(12.355, 'CNY', 'half-even'),
       money(12.345, 'CNY', 'half-up'), money(-12.345, 'CNY', 'down');
SELECT money(1, 'XYZ');
SELECT money(1, 'cny');
SELECT money('NaN', 'CNY');
SELECT money('Infinity', 'CNY');
SELECT money(92233720368547758.08, 'USD');
SELECT money_from_minor(-9223372036854775808, 'CNY');
SELECT money(1, 'CNY', 'bankers');
CREATE TABLE money_n (n numeric);
INSERT INTO money_n SELECT amount('CNY 1.00'::finsec.money);
INSERT INTO money_n SELECT 'CNY 1.00'::finsec.money;
DROP TABLE money_n;

-- The currency table: ISO 4217 codes with their minor units.
SELECT count(*) >= 160 AS enough, count(DISTINCT numeric_code) = count(*) AS unique_numeric
  FROM finsec.currency;
SELECT * FROM finsec.currency
 WHERE code IN ('CNY', 'HKD', 'USD', 'EUR', 'JPY', 'KRW', 'KWD', 'BHD', 'JOD', 'OMR', 'TND', 'CLF', 'UYW')
 ORDER BY code;
-- Every code in the table round-trips through the text form.
SELECT count(*) AS round_trips FROM finsec.currency c
 WHERE (c.code || ' 1')::finsec.money = money_from_minor((10 ^ c.minor_units)::bigint, c.code)
   AND ((c.code || ' 1')::finsec.money)::text =
       c.code || ' 1' || CASE WHEN c.minor_units > 0 THEN '.' || repeat('0', c.minor_units) ELSE '' END;

-- Addition and subtraction within one currency; unary minus; abs.
SELECT 'CNY 12.34'::finsec.money + 'CNY 0.66', 'CNY 1.00'::finsec.money - 'CNY 2.50',
       -'CNY 12.34'::finsec.money, -'CNY -1'::finsec.money, abs('KWD -1.005'::finsec.money);
-- Mixing currencies is an error naming both.
SELECT 'CNY 1'::finsec.money + 'USD 1';
SELECT 'CNY 1'::finsec.money - '¥1' AS same_currency_via_symbol;
SELECT 'JPY 1'::finsec.money - 'CNY 1';
-- Overflow is an error, never a wrap; the extreme values negate cleanly.
SELECT 'USD 92233720368547758.07'::finsec.money + 'USD 0.01';
SELECT 'USD -92233720368547758.07'::finsec.money - 'USD 0.01';
SELECT 'USD 92233720368547758.07'::finsec.money - 'USD -0.01';
SELECT -'USD -92233720368547758.07'::finsec.money, abs('USD -92233720368547758.07'::finsec.money);

-- Multiplication and division by numeric round half-even (banker's) by
-- default: ties go to the even minor unit.  Exact results are not rounded.
SELECT m, f, m * f AS product, f * m AS commuted
  FROM (VALUES ('CNY 0.05'::finsec.money, 0.5), ('CNY 0.15', 0.5), ('CNY -0.05', 0.5), ('CNY -0.15', 0.5),
               ('CNY 10.00', 1.005), ('CNY 10.00', 3), ('JPY 5', 0.1), ('CNY 1.00', 0),
               ('CNY 1.00', -0.333)) AS t(m, f);
SELECT 'CNY 100.00'::finsec.money / 3 AS third, 'CNY 0.05'::finsec.money / 2 AS tie_even,
       'CNY 0.15'::finsec.money / 2 AS tie_even2, 'CNY 1.00'::finsec.money / -8 AS neg_tie,
       'CNY 1.00'::finsec.money / 0.3 AS by_fraction;
-- A quotient just below a tie is not taken for one (exact remainder).
SELECT 'CNY 0.01'::finsec.money / 2.0000000000000000000000000001 AS below_tie;
-- Every rounding mode, on a positive and a negative tie and a non-tie.
SELECT r, money_mul('CNY 0.25', 0.1, r) AS "0.025", money_mul('CNY -0.25', 0.1, r) AS "-0.025",
       money_mul('CNY 0.35', 0.1, r) AS "0.035", money_div('CNY 0.01', 3, r) AS "0.00333",
       money_div('CNY -0.02', 3, r) AS "-0.00667"
  FROM unnest(ARRAY['half-even', 'half-up', 'half-down', 'up', 'down', 'ceiling', 'floor']) AS r;
SELECT money_mul('CNY 1.00', 2, 'unnecessary'), money_div('CNY 1.00', 4, 'unnecessary');
SELECT money_mul('CNY 0.25', 0.1, 'unnecessary');
SELECT money_div('CNY 0.01', 3, 'unnecessary');
SELECT money_mul('CNY 1', 2, 'round');
SELECT 'CNY 1'::finsec.money / 0;
SELECT money_div('CNY 1', 0.000, 'down');
SELECT 'CNY 1'::finsec.money * 'NaN'::numeric;
SELECT 'CNY 1'::finsec.money / 'Infinity'::numeric;
SELECT 'USD 92233720368547758.07'::finsec.money * 2;
SELECT 'USD 92233720368547758.07'::finsec.money * 1.0000001;
SELECT 'USD 1'::finsec.money / 0.0000000000000000001;
SELECT 'USD 92233720368547758.07'::finsec.money * 1 AS identity,
       'USD 92233720368547758.07'::finsec.money * -1 AS negated;

-- Allocation never loses or invents a minor unit.  By n parts: differing
-- by at most one unit, the first parts take the extra units; negative
-- amounts mirror positive ones.
SELECT allocate('CNY 100.00', 3), allocate('CNY -100.00', 3), allocate('CNY 0.02', 3),
       allocate('JPY 10', 4), allocate('KWD 1.000', 1);
SELECT allocate('CNY 1', 0);
SELECT allocate('CNY 1', -2);
SELECT allocate('CNY 1', 1000001);
-- By ratios: largest remainder method; ties go to the earlier part;
-- a zero ratio gets nothing.
SELECT allocate('CNY 100.00', ARRAY[1, 1, 1]), allocate('CNY 0.05', ARRAY[3, 7]),
       allocate('CNY 0.05', ARRAY[7, 3]), allocate('CNY 10.00', ARRAY[0.5, 0.25, 0.25]),
       allocate('CNY 0.03', ARRAY[1, 0, 1, 1, 1]), allocate('CNY -0.05', ARRAY[1, 1]);
SELECT allocate('CNY 1', ARRAY[]::numeric[]);
SELECT allocate('CNY 1', ARRAY[0, 0]);
SELECT allocate('CNY 1', ARRAY[1, -1]);
SELECT allocate('CNY 1', ARRAY[1, NULL]);
SELECT allocate('CNY 1', ARRAY['NaN'::numeric]);
SELECT allocate('CNY 1', ARRAY[[1, 2], [3, 4]]);
-- The sum of the parts is the amount, for many amounts and shapes.
SELECT count(*) AS checked,
       count(*) FILTER (WHERE (SELECT sum(p) FROM unnest(allocate(m, n)) p) = m) AS n_exact,
       count(*) FILTER (WHERE (SELECT sum(p) FROM unnest(allocate(m, ARRAY[1, n, n * n, 0.5])) p) = m) AS ratio_exact,
       count(*) FILTER (WHERE (SELECT max(p) - min(p) FROM unnest(allocate(m, n)) p) <= 'CNY 0.01') AS n_even
  FROM generate_series(-500, 500, 7) i, generate_series(1, 9) n,
       LATERAL (SELECT money_from_minor(i * 37, 'CNY') AS m) x;
SELECT (SELECT sum(p) FROM unnest(allocate('USD 92233720368547758.07', ARRAY[1, 2, 3])) p) AS largest_split;

-- Comparison: equality across currencies is simply false; ordering
-- comparisons of amounts need one currency.
SELECT 'CNY 1'::finsec.money = '¥1.00' AS eq, 'CNY 1'::finsec.money = 'USD 1' AS eq_other,
       'CNY 1'::finsec.money <> 'USD 1' AS ne_other,
       'CNY 1'::finsec.money < 'CNY 1.01' AS lt, 'CNY 1'::finsec.money <= 'CNY 1' AS le,
       'CNY -1'::finsec.money > 'CNY -2' AS gt, 'CNY 1'::finsec.money >= 'CNY 2' AS ge;
SELECT 'CNY 1'::finsec.money < 'USD 1';
SELECT 'CNY 1'::finsec.money >= 'JPY 1';

-- Ordering, indexes, DISTINCT, GROUP BY, joins: the total order is the
-- currency code, then the amount (operators ~<~ ~<=~ ~>=~ ~>~).
CREATE TABLE pay (id int PRIMARY KEY, amt finsec.money NOT NULL);
INSERT INTO pay VALUES (1, 'USD 5'), (2, 'CNY 12.34'), (3, 'CNY -1'), (4, 'JPY 100'),
	(5, 'EUR 0.01'), (6, 'CNY 12.34'), (7, 'KWD 1.5'), (8, '¥100');
SELECT id, amt FROM pay ORDER BY amt, id;
SELECT amt FROM pay ORDER BY amt DESC LIMIT 3;
SELECT 'CNY 1'::finsec.money ~<~ 'USD 0' AS cny_before_usd, 'CNY 2'::finsec.money ~>~ 'CNY 1' AS gt,
       'JPY 1'::finsec.money ~<=~ 'JPY 1' AS le, 'EUR 1'::finsec.money ~>=~ 'CNY 9' AS ge;
SELECT DISTINCT amt FROM pay ORDER BY amt;
SELECT currency(amt), sum(amt), count(*) FROM pay GROUP BY currency(amt) ORDER BY 1;
SELECT amt, count(*) FROM pay GROUP BY amt HAVING count(*) > 1;
CREATE INDEX pay_amt_btree ON pay (amt);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM pay WHERE amt = 'CNY 12.34';
SELECT id FROM pay WHERE amt = 'CNY 12.34' ORDER BY id;
DROP INDEX pay_amt_btree;
CREATE INDEX pay_amt_hash ON pay USING hash (amt);
EXPLAIN (COSTS OFF) SELECT id FROM pay WHERE amt = 'CNY 12.34';
SELECT id FROM pay WHERE amt = 'CNY 12.34' ORDER BY id;
DROP INDEX pay_amt_hash;
CREATE INDEX pay_amt_btree ON pay (amt);
EXPLAIN (COSTS OFF) SELECT id FROM pay WHERE amt ~>=~ 'CNY 0' AND amt ~<~ 'CNY 50';
SELECT id FROM pay WHERE amt ~>=~ 'CNY 0' AND amt ~<~ 'CNY 50' ORDER BY id;
RESET enable_seqscan;
RESET enable_bitmapscan;
-- An inequality on a mixed column is refused on the first foreign row
-- (also at plan time it is never evaluated against statistics).
ANALYZE pay;
SELECT id FROM pay WHERE amt > 'CNY 10';
SELECT id FROM pay WHERE currency(amt) = 'CNY' AND minor_units(amt) > 1000 ORDER BY id;
CREATE UNIQUE INDEX pay_unique ON pay (amt);
-- Hash and merge joins agree with equality.
SET enable_nestloop = off;
SET enable_mergejoin = off;
SELECT a.id, b.id FROM pay a JOIN pay b ON a.amt = b.amt WHERE a.id < b.id;
SET enable_hashjoin = off;
SET enable_mergejoin = on;
SELECT a.id, b.id FROM pay a JOIN pay b ON a.amt = b.amt WHERE a.id < b.id;
RESET enable_nestloop;
RESET enable_mergejoin;
RESET enable_hashjoin;
-- Hashes: equal values hash equally; the extended hash with seed 0 agrees.
SELECT money_hash('CNY 1') = money_hash('¥1.00') AS same,
       money_hash('CNY 1') <> money_hash('USD 1') AS differs_by_currency,
       (money_hash_extended('CNY 1', 0) & x'ffffffff'::bigint)::bit(32) = money_hash('CNY 1')::bit(32) AS extended_agrees;

-- Aggregates: exact, one currency per group, NULLs ignored; avg rounds
-- half-even to the minor unit.
SELECT sum(amt), avg(amt), min(amt), max(amt), count(amt)
  FROM (VALUES ('CNY 1.00'::finsec.money), ('CNY 2.01'), (NULL), ('CNY -0.50')) AS t(amt);
SELECT avg(amt) FROM (VALUES ('CNY 0.01'::finsec.money), ('CNY 0.02')) AS t(amt);
SELECT avg(amt) FROM (VALUES ('CNY 0.01'::finsec.money), ('CNY 0.04')) AS t(amt);
SELECT avg(amt) FROM (VALUES ('CNY -0.01'::finsec.money), ('CNY -0.02')) AS t(amt);
SELECT sum(amt), avg(amt), min(amt), max(amt) FROM pay WHERE false;
SELECT sum(amt) FROM pay;
SELECT avg(amt) FROM pay;
SELECT min(amt) FROM pay;
SELECT max(amt) FROM pay;
-- The sum may pass the range on the way and come back; only the result
-- must fit.
SELECT sum(amt) FROM (VALUES ('USD 92233720368547758.07'::finsec.money), ('USD 92233720368547758.07'),
                             ('USD -92233720368547758.07')) AS t(amt);
SELECT sum(amt) FROM (VALUES ('USD 92233720368547758.07'::finsec.money), ('USD 0.01')) AS t(amt);
SELECT avg(amt) FROM (VALUES ('USD 92233720368547758.07'::finsec.money), ('USD 92233720368547758.07')) AS t(amt);
-- Window frames use the same aggregates.
SELECT id, amt, sum(amt) OVER (ORDER BY id) FROM pay WHERE currency(amt) = 'CNY' ORDER BY id;

-- Parallel aggregation combines partial states (serialised between
-- processes) to the same exact result; a mixed table still errors.
CREATE TABLE big (amt finsec.money);
INSERT INTO big SELECT money_from_minor(i * 7919 % 100003 - 50000, 'CNY') FROM generate_series(1, 100000) i;
ANALYZE big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT sum(amt), avg(amt), min(amt), max(amt) FROM big;
SELECT sum(amt), avg(amt), min(amt), max(amt) FROM big;
RESET max_parallel_workers_per_gather;
SET max_parallel_workers_per_gather = 0;
SELECT sum(amt), avg(amt), min(amt), max(amt),
       sum(minor_units(amt)) AS sum_minor_units FROM big;
SET max_parallel_workers_per_gather = 2;
INSERT INTO big VALUES ('USD 1');
SELECT sum(amt) FROM big;
SELECT max(amt) FROM big;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;
DROP TABLE big;

-- Binary send and receive: 8-byte big-endian minor units, the code, the
-- exponent.  COPY BINARY round-trips; receive validates what it is sent.
SELECT money_send('CNY 12.34'), money_send('JPY -1'), money_send('CLF 0.0001');
CREATE TABLE pay2 (LIKE pay);
DO $$
DECLARE f text := '/tmp/finsec_060_money_' || pg_backend_pid() || '.bin';
BEGIN
	EXECUTE format('COPY pay TO PROGRAM %L (FORMAT binary)', 'cat > ' || f);
	EXECUTE format('COPY pay2 FROM PROGRAM %L (FORMAT binary)', 'cat ' || f || '; rm -f ' || f);
END $$;
SELECT count(*) AS copied, count(*) FILTER (WHERE p.amt = q.amt) AS equal
  FROM pay p JOIN pay2 q USING (id);
CREATE TABLE r (m finsec.money);
-- A COPY BINARY file holding one field of the given bytes (octal escapes);
-- reports the error, if any, with its SQLSTATE and detail.
CREATE FUNCTION money_recv_test(bytes text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text;
BEGIN
	EXECUTE format('COPY r FROM PROGRAM %L (FORMAT binary)',
		'printf ''PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1' || bytes || '\377\377''');
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
	RETURN st || ': ' || msg || coalesce(nullif(' (' || det || ')', ' ()'), '');
END $$;
SELECT money_recv_test('\0\0\0\14\0\0\0\0\0\0\4\322CNY\2') AS "CNY 12.34",
       money_recv_test('\0\0\0\14\377\377\377\377\377\377\377\377JPY\0') AS "JPY -1";
SELECT * FROM r;
SELECT b, money_recv_test(b) AS result
  FROM (VALUES ('\0\0\0\13\0\0\0\0\0\0\4\322CNY'), ('\0\0\0\15\0\0\0\0\0\0\4\322CNY\2\0'),
               ('\0\0\0\14\0\0\0\0\0\0\4\322XYZ\2'), ('\0\0\0\14\0\0\0\0\0\0\4\322cny\2'),
               ('\0\0\0\14\0\0\0\0\0\0\4\322CNY\3'), ('\0\0\0\14\200\0\0\0\0\0\0\0CNY\2')) AS t(b);
DROP FUNCTION money_recv_test(text);
DROP TABLE r, pay2;

-- Privileges: the finsec roles use the type; a role outside them cannot
-- call its functions or operators.
CREATE ROLE regress_money_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_money_outsider LOGIN;
GRANT USAGE ON SCHEMA finsec TO regress_money_outsider;
GRANT SELECT ON pay TO regress_money_app, regress_money_outsider;
SET ROLE regress_money_app;
SELECT sum(amt), allocate('CNY 1', 3) FROM pay WHERE currency(amt) = 'CNY';
SELECT count(*) FROM finsec.currency;
RESET ROLE;
SET ROLE regress_money_outsider;
SELECT 'CNY 1'::finsec.money + 'CNY 1';
SELECT sum(amt) FROM pay;
SELECT currency(amt) FROM pay;
RESET ROLE;
REVOKE USAGE ON SCHEMA finsec FROM regress_money_outsider;
DROP TABLE pay;
DROP ROLE regress_money_app, regress_money_outsider;
RESET search_path;
