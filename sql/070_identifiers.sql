--
-- 070_identifiers: validated Chinese identifier types (D9; docs/identifiers.md):
-- finsec.cn_resident_id (GB 11643), finsec.uscc (GB 32100), finsec.cn_mobile.
--
-- Published examples: resident ID numbers 11010519491231002X (GB 11643-1999)
-- and 440524188001010014, credit code 91350100M000100Y43.  Other valid values
-- below are synthetic, built with the check algorithms.
--
SET search_path = public, finsec;

-- try(type, value): the cast's result, or its SQLSTATE, message and hint.
CREATE FUNCTION pg_temp.try(typ text, v text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r text;
	st text;
	msg text;
	hnt text;
BEGIN
	EXECUTE format('SELECT %L::%s::text', v, typ) INTO r;
	RETURN r;
EXCEPTION WHEN others THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hnt = PG_EXCEPTION_HINT;
	RETURN st || ' ' || msg || CASE WHEN hnt <> '' THEN ' / HINT: ' || hnt ELSE '' END;
END
$$;

-- ===================================================================
-- Resident ID numbers
-- ===================================================================

-- Valid: the published examples, normalization of x and surrounding blanks,
-- leap days, the ends of the accepted birth-year range, Hong Kong, Macao
-- and Taiwan residence permits (81, 82, 83).
SELECT v AS input, pg_temp.try('finsec.cn_resident_id', v) AS result
  FROM (VALUES ('11010519491231002X'), ('11010519491231002x'), ('440524188001010014'),
               ('  360426199101010071'), (E'11010519491231002X\n\t'),
               ('110105200002290013'), ('110105180001010010'), ('110105209912310010'),
               ('810000198001010022'), ('830000198001010018')) t(v);

-- Every refusal, each with its rule; none quotes the value.
SELECT v AS input, pg_temp.try('finsec.cn_resident_id', v) AS result
  FROM (VALUES (''), ('   '),
               ('1101051949123100X2'),          -- X not last
               ('11010519491231002Y'),          -- letter
               ('１１０１０５１９４９１２３１００２Ｘ'),  -- full-width digits
               ('110105 19491231 002X'),        -- inner blanks
               ('1101051949123102X'),           -- 17 characters
               ('110105194912310023X'),         -- 19 characters
               ('110105491231002'),             -- 15 digits: first generation
               ('000000194912310023'),          -- region 00
               ('991050194912310020'),          -- region 99 (e.g. foreigners' permanent residence, 9...)
               ('110105194902300020'),          -- 30 February
               ('110105190002290011'),          -- 1900 is not a leap year
               ('110105194913310023'),          -- month 13
               ('110105179912310016'),          -- 1799
               ('110105210001010011'),          -- 2100
               ('110105194912310021')) t(v);    -- check character
SELECT count(*) AS messages_quoting_input
  FROM (VALUES ('110105194912310021'), ('110105491231002'), ('110105194902300020')) t(v)
 WHERE strpos(pg_temp.try('finsec.cn_resident_id', v), v) > 0
    OR strpos(pg_temp.try('finsec.cn_resident_id', v), left(v, 6)) > 0;

-- The message as a client sees it (and the server logs it).
SELECT '110105194912310021'::finsec.cn_resident_id;
SELECT v::finsec.cn_resident_id FROM (VALUES ('110105491231002')) t(v);

-- First-generation numbers convert: century 19, check character computed.
-- The GB 11643 example's 15-digit ancestor gives the example itself.
SELECT v AS input, coalesce(finsec.cn_resident_id_from_15(v)::text, 'null') AS converted
  FROM (VALUES ('110105491231002'), (' 440524800101001 ')) t(v);
SELECT finsec.cn_resident_id_from_15(NULL) IS NULL AS null_in_null_out;
CREATE FUNCTION pg_temp.try15(v text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	msg text;
	hnt text;
BEGIN
	RETURN finsec.cn_resident_id_from_15(v)::text;
EXCEPTION WHEN others THEN
	GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hnt = PG_EXCEPTION_HINT;
	RETURN SQLSTATE || ' ' || msg || CASE WHEN hnt <> '' THEN ' / HINT: ' || hnt ELSE '' END;
END
$$;
SELECT v AS input, pg_temp.try15(v) AS result
  FROM (VALUES (''), ('11010549123100X'), ('11010549123100'), ('11010519491231002X'),
               ('000000491231002'), ('110105490230002')) t(v);

-- Parts of the number (personal data: see docs/identifiers.md).
SELECT id, finsec.cn_resident_id_birth_date(id) AS birth_date,
       finsec.cn_resident_id_sex(id) AS sex, finsec.cn_resident_id_region(id) AS region
  FROM (VALUES ('11010519491231002X'::finsec.cn_resident_id),
               ('440524188001010014'), ('110105200002290013')) t(id);

-- ===================================================================
-- Unified social credit codes
-- ===================================================================

-- Valid: the published example, lower case and blanks normalized, and
-- codes of other registration departments and categories (synthetic:
-- 5 civil affairs, A military, N agriculture, Y other, 92 individual
-- business, 12 public institution).
SELECT v AS input, pg_temp.try('finsec.uscc', v) AS result
  FROM (VALUES ('91350100M000100Y43'), (' 91350100m000100y43 '), ('91110000600037341L'),
               ('9144030071526726XG'), ('53110000500000015M'), ('A1110000MB0000019F'),
               ('N2330100MC00000202'), ('Y1110000MA0000007H'), ('92440300MA5F0000XX'),
               ('1210000040000000XN')) t(v);

-- Every refusal.
SELECT v AS input, pg_temp.try('finsec.uscc', v) AS result
  FROM (VALUES (''),
               ('91350100M000100I43'),          -- I is not in the alphabet
               ('91350100M000100O43'), ('91350100M000100S43'),
               ('91350100M000100V43'), ('91350100M000100Z43'),
               ('91350100-M000100Y43'),         -- separator
               ('91350100M000100Y4'),           -- 17 characters
               ('M000100Y4'),                   -- organization code alone
               ('350100000123456'),             -- old registration number
               ('91A50100M000100Y42'),          -- division code with a letter
               ('91350100M000100Y44'),          -- check character
               ('91350100M000100Y56')) t(v);    -- organization code check (GB 11714)
SELECT count(*) AS messages_quoting_input
  FROM (VALUES ('91350100M000100Y44'), ('91350100M000100Y56'), ('91A50100M000100Y42')) t(v)
 WHERE strpos(pg_temp.try('finsec.uscc', v), v) > 0;

-- ===================================================================
-- Mobile numbers
-- ===================================================================

-- Valid: with and without +86, 0086 and 86; spaces and hyphens dropped;
-- every network prefix 13-19.
SELECT v AS input, pg_temp.try('finsec.cn_mobile', v) AS result
  FROM (VALUES ('13812345678'), ('+8613812345678'), ('+86 138 1234 5678'),
               ('+86-138-1234-5678'), ('008613812345678'), ('8613812345678'),
               (' 138-1234-5678 '), ('14512345678'), ('16612345678'), ('17012345678'),
               ('19912345678')) t(v);

-- Every refusal.
SELECT v AS input, pg_temp.try('finsec.cn_mobile', v) AS result
  FROM (VALUES (''), ('+'),
               ('138.1234.5678'),               -- dot
               ('138 1234 567８'),              -- full-width digit
               ('13812345678+'),                -- + not first
               ('-13812345678'),                -- separator first
               ('+85291234567'),                -- Hong Kong
               ('0085291234567'),
               ('1381234567'),                  -- 10 digits
               ('138123456789'),                -- 12 digits
               ('+86 1381234567'),
               ('01012345678'),                 -- landline
               ('12812345678'),                 -- prefix 12
               ('8612812345678')) t(v);
SELECT count(*) AS messages_quoting_input
  FROM (VALUES ('1381234567'), ('12812345678'), ('+85291234567')) t(v)
 WHERE strpos(pg_temp.try('finsec.cn_mobile', v), v) > 0;

SELECT m, finsec.mask(m), finsec.cn_mobile_e164(m)
  FROM (VALUES ('+86 138 1234 5678'::finsec.cn_mobile), ('19912345678')) t(m);

-- ===================================================================
-- Masks: same length, the kept parts in place
-- ===================================================================
SELECT finsec.mask('11010519491231002X'::finsec.cn_resident_id) AS resident_id,
       finsec.mask('91350100M000100Y43'::finsec.uscc) AS uscc,
       finsec.mask('13812345678'::finsec.cn_mobile) AS mobile;

-- ===================================================================
-- Validity tests for cleaning data: never raise, NULL for NULL
-- ===================================================================
CREATE TEMP TABLE legacy (k serial, id text, code text, phone text);
INSERT INTO legacy (id, code, phone) VALUES
	('11010519491231002x', '91350100m000100y43', '+86 138 1234 5678'),
	('110105194912310021', '91350100M000100Y44', '12812345678'),
	('110105491231002', 'M000100Y4', '1381234567'),
	('１１０１０５', '９１', '１３８'),
	(NULL, NULL, NULL),
	('', '', ''),
	('110105209912310010', '91350100M000100Y56', '+85291234567');
SELECT k, finsec.is_valid_cn_resident_id(id) AS id_ok, finsec.cn_resident_id_problem(id) AS id_problem,
       finsec.is_valid_uscc(code) AS code_ok, finsec.uscc_problem(code) AS code_problem,
       finsec.is_valid_cn_mobile(phone) AS phone_ok, finsec.cn_mobile_problem(phone) AS phone_problem
  FROM legacy ORDER BY k;

-- is_valid_*() is true exactly when the cast succeeds.
SELECT count(*) FILTER (WHERE finsec.is_valid_cn_resident_id(id) <> (pg_temp.try('finsec.cn_resident_id', id) !~ '^22P02')) AS id_mismatch,
       count(*) FILTER (WHERE finsec.is_valid_uscc(code) <> (pg_temp.try('finsec.uscc', code) !~ '^22P02')) AS code_mismatch,
       count(*) FILTER (WHERE finsec.is_valid_cn_mobile(phone) <> (pg_temp.try('finsec.cn_mobile', phone) !~ '^22P02')) AS phone_mismatch
  FROM legacy;

-- A birth date after a reference date is a problem only when asked: the
-- type cannot depend on the clock (a value accepted today must restore
-- tomorrow); data cleaning passes current_date.
SELECT finsec.is_valid_cn_resident_id('110105209912310010') AS type_rules,
       finsec.is_valid_cn_resident_id('110105209912310010', DATE '2024-06-30') AS as_of_2024,
       finsec.cn_resident_id_problem('110105209912310010', DATE '2024-06-30') AS problem,
       finsec.is_valid_cn_resident_id('11010519491231002X', DATE '1949-12-31') AS born_that_day,
       finsec.is_valid_cn_resident_id('11010519491231002X', NULL) AS null_as_of,
       finsec.is_valid_cn_resident_id(NULL, current_date) IS NULL AS null_value;

-- ===================================================================
-- Keys, joins, order
-- ===================================================================
CREATE TEMP TABLE customer (id finsec.cn_resident_id PRIMARY KEY, phone finsec.cn_mobile UNIQUE,
                            employer finsec.uscc);
INSERT INTO customer VALUES ('11010519491231002X', '13812345678', '91350100M000100Y43'),
                            ('440524188001010014', '+86 199 1234 5678', '91110000600037341L'),
                            ('830000198001010018', '16612345678', '91350100M000100Y43');
-- The same person written another way is the same key.
INSERT INTO customer VALUES ('11010519491231002x', '13900000000', NULL);
INSERT INTO customer VALUES ('360426199101010071', '008613812345678', NULL);
CREATE UNIQUE INDEX ON customer USING btree (employer, id);
CREATE INDEX ON customer USING hash (employer);
CREATE INDEX ON customer USING hash (id);
CREATE INDEX ON customer USING hash (phone);
-- Order is the order of the normalized text.
SELECT id, phone, employer FROM customer ORDER BY id;
SELECT id FROM customer ORDER BY id DESC;
SELECT employer, count(*) FROM customer GROUP BY employer ORDER BY employer;
SELECT bool_and((a.id < b.id) = (a.id::text < b.id::text)) AS id_order,
       bool_and((a.phone < b.phone) = (a.phone::text < b.phone::text)) AS phone_order,
       bool_and((a.employer < b.employer) = (a.employer::text COLLATE "C" < b.employer::text COLLATE "C")) AS code_order
  FROM customer a, customer b;
-- Comparison operators, and the planner's use of the operator classes.
SELECT count(*) FILTER (WHERE id = '11010519491231002x') AS eq,
       count(*) FILTER (WHERE id <> '11010519491231002X') AS ne,
       count(*) FILTER (WHERE phone <= '16612345678') AS le,
       count(*) FILTER (WHERE phone >= '16612345678') AS ge,
       count(*) FILTER (WHERE employer > '91110000600037341L') AS gt
  FROM customer;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM customer WHERE id = '11010519491231002X';
SELECT mask(id) FROM customer WHERE id = '11010519491231002X';
EXPLAIN (COSTS OFF) SELECT * FROM customer WHERE phone = '+8613812345678';
SELECT mask(phone) FROM customer WHERE phone = '+8613812345678';
SET enable_indexscan = off;
SET enable_bitmapscan = on;
EXPLAIN (COSTS OFF) SELECT * FROM customer WHERE employer = '91350100M000100Y43';
RESET enable_seqscan;
RESET enable_indexscan;
RESET enable_bitmapscan;
-- Hash and merge joins.
CREATE TEMP TABLE loan (borrower finsec.cn_resident_id, lender finsec.uscc, amount int);
INSERT INTO loan VALUES ('11010519491231002X', '91110000600037341L', 100),
                        ('440524188001010014', '91110000600037341L', 200);
ANALYZE customer, loan;
SET enable_nestloop = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF) SELECT * FROM loan JOIN customer ON borrower = id;
SELECT mask(id), amount FROM loan JOIN customer ON borrower = id ORDER BY amount;
SET enable_hashjoin = off;
SET enable_mergejoin = on;
EXPLAIN (COSTS OFF) SELECT * FROM loan l JOIN customer c ON l.lender = c.employer;
SELECT mask(lender), count(*) FROM loan l JOIN customer c ON l.lender = c.employer GROUP BY 1;
RESET enable_nestloop;
RESET enable_mergejoin;
RESET enable_hashjoin;

-- ===================================================================
-- Binary format: COPY BINARY out and in again (pg_dump -Fc uses text COPY;
-- drivers in binary mode use send/recv)
-- ===================================================================
\getenv abs_builddir PG_ABS_BUILDDIR
\set copy_file :abs_builddir '/results/070_identifiers.bin'
COPY customer TO :'copy_file' (FORMAT binary);
CREATE TEMP TABLE customer_copy (LIKE customer);
COPY customer_copy FROM :'copy_file' (FORMAT binary);
SELECT count(*) AS rows, count(*) FILTER (WHERE c.id IS NULL) AS lost
  FROM customer_copy cc LEFT JOIN customer c
    ON c.id = cc.id AND c.phone = cc.phone AND c.employer IS NOT DISTINCT FROM cc.employer;
SELECT finsec.cn_resident_id_send(id) AS id_wire, finsec.cn_mobile_send(phone) AS phone_wire,
       finsec.uscc_send(employer) AS code_wire
  FROM customer WHERE id = '11010519491231002X';

-- ===================================================================
-- Privileges: the finsec roles use the types; nothing for PUBLIC
-- ===================================================================
SELECT t.oid::regtype AS type, r.rolname, has_type_privilege(r.oid, t.oid, 'USAGE') AS usage
  FROM pg_type t, pg_roles r
 WHERE t.oid IN ('finsec.cn_resident_id'::regtype, 'finsec.uscc'::regtype, 'finsec.cn_mobile'::regtype)
   AND (r.rolname LIKE 'finsec\_%' OR r.rolname = 'pg_monitor')
 ORDER BY t.oid::regtype::text, r.rolname;
CREATE ROLE regress_cnid_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_cnid_outsider LOGIN;
CREATE SCHEMA regress_cnid AUTHORIZATION regress_cnid_app;
SET ROLE regress_cnid_app;
CREATE TABLE regress_cnid.kyc (id finsec.cn_resident_id PRIMARY KEY, phone finsec.cn_mobile,
                               org finsec.uscc);
INSERT INTO regress_cnid.kyc VALUES ('11010519491231002x', '+86 13812345678', '91350100m000100y43');
SELECT finsec.mask(id), finsec.mask(phone), finsec.mask(org) FROM regress_cnid.kyc
 WHERE id = '11010519491231002X' AND finsec.is_valid_uscc('91350100M000100Y43');
RESET ROLE;
SET ROLE regress_cnid_outsider;
SELECT '11010519491231002X'::finsec.cn_resident_id;
SELECT finsec.is_valid_cn_mobile('13812345678');
RESET ROLE;
DROP SCHEMA regress_cnid CASCADE;
DROP ROLE regress_cnid_app, regress_cnid_outsider;
