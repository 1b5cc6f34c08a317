--
-- 091_limits_batch: a statement inserting many payments keeps each payer's
-- usage in memory between the payer's first payment and the statement's
-- end (finsec.limit_batch_size).  Usage, refusals and their messages must
-- be exactly those of writing the usage row per payment, whatever happens
-- in between: refusals, nested statements paying the same payer,
-- subtransactions that commit or roll back, savepoints, COPY.
--
SET client_min_messages = notice;
CREATE TABLE lb_pay (
	id bigserial PRIMARY KEY,
	payer text NOT NULL,
	amount numeric NOT NULL,
	kind text NOT NULL DEFAULT 'payment',
	posted_at timestamptz,
	orig bigint
);
SELECT finsec.enable_limits('lb_pay', customer => 'payer', amount => 'amount', kind => 'kind',
	posted_at => 'posted_at', payment_id => 'id', reversal_of => 'orig');
INSERT INTO finsec.limit_policy (name, relid, period, max_amount, max_count) VALUES
	('lb day', 'lb_pay', 'day', 10000, 1000);

-- Usage that differs from the committed payments (refunds subtract, never
-- below zero per payer here since refunds follow payments): no rows expected.
CREATE VIEW lb_mismatch AS
	SELECT coalesce(u.subject, p.payer) AS payer, u.day_amount, u.day_count, u.life_amount, u.life_count,
		   p.amount, p.n
	  FROM (SELECT subject, day_amount, day_count, life_amount, life_count FROM finsec.limit_usage
			 WHERE relid = 'lb_pay'::regclass AND bucket = '') u
	  FULL JOIN (SELECT payer, sum(CASE WHEN kind = 'refund' THEN -amount ELSE amount END) AS amount,
						count(*) FILTER (WHERE kind <> 'refund') AS n
				   FROM lb_pay GROUP BY payer) p ON p.payer = u.subject
	 WHERE u.day_amount IS DISTINCT FROM p.amount OR u.day_count IS DISTINCT FROM p.n
		OR u.life_amount IS DISTINCT FROM p.amount OR u.life_count IS DISTINCT FROM p.n;

SHOW finsec.limit_batch_size;

-- Many payments per payer in one statement.
INSERT INTO lb_pay (payer, amount) SELECT 'p' || (i % 3), i FROM generate_series(1, 60) i;
SELECT * FROM lb_mismatch;
SELECT subject, day_amount, day_count FROM finsec.limit_usage WHERE relid = 'lb_pay'::regclass ORDER BY 1;

-- A statement crossing the limit midway fails as a whole; the refusal
-- reports the allowance left before the refused payment, as row by row.
INSERT INTO lb_pay (payer, amount) SELECT 'q1', 1000 FROM generate_series(1, 11);
INSERT INTO lb_pay (payer, amount) SELECT 'q1', 1000 FROM generate_series(1, 10);
INSERT INTO lb_pay (payer, amount) SELECT 'q2', 999 FROM generate_series(1, 10);
INSERT INTO lb_pay (payer, amount) SELECT 'q2', x FROM unnest('{5,6,7,8}'::numeric[]) x;
SET finsec.limit_batch_size = 0;
INSERT INTO lb_pay (payer, amount) SELECT 'q3', 999 FROM generate_series(1, 10);
INSERT INTO lb_pay (payer, amount) SELECT 'q3', x FROM unnest('{5,6,7,8}'::numeric[]) x;
RESET finsec.limit_batch_size;
SELECT * FROM lb_mismatch;

-- Refunds in the same statement restore allowance, as row by row; each
-- names its payment, earlier in the statement.
INSERT INTO lb_pay (id, payer, amount, kind, orig) VALUES
	(900001, 'r1', 6000, 'payment', NULL), (900002, 'r1', 5000, 'refund', 900001),
	(900003, 'r1', 8000, 'payment', NULL), (900004, 'r1', 1000, 'refund', 900003);
SELECT * FROM lb_mismatch;

-- A function that pays the same payer from a nested statement, inside a
-- subtransaction that commits (odd i) or rolls back (even i), called for
-- every third row of a statement that pays that payer itself: the
-- statement's pending usage is written inside the subtransaction, and
-- must come back when that rolls back.
CREATE FUNCTION lb_nested(p text, a numeric, undo boolean) RETURNS numeric
LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		INSERT INTO lb_pay (payer, amount) VALUES (p, a * 10);
		IF undo THEN
			RAISE EXCEPTION 'undo';
		END IF;
	EXCEPTION WHEN raise_exception THEN
		NULL;
	END;
	RETURN a;
END
$$;
INSERT INTO lb_pay (payer, amount)
	SELECT 'n1', CASE WHEN i % 3 = 0 THEN lb_nested('n1', i, i % 2 = 0) ELSE i END FROM generate_series(1, 24) i;
SELECT * FROM lb_mismatch;
SELECT count(*), sum(amount) FROM lb_pay WHERE payer = 'n1';

-- The nested payment refused (the second and third): caught inside the
-- function, the outer statement goes on and its own payments count.
INSERT INTO lb_pay (payer, amount) SELECT 'n2', 1000 FROM generate_series(1, 9);
CREATE FUNCTION lb_try(p text, a numeric) RETURNS numeric
LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		INSERT INTO lb_pay (payer, amount) VALUES (p, a);
	EXCEPTION WHEN SQLSTATE 'S9L01' THEN
		RETURN 0;
	END;
	RETURN a;
END
$$;
INSERT INTO lb_pay (payer, amount) SELECT 'n2', lb_try('n2', 600) * 0 + 100 FROM generate_series(1, 3);
SELECT * FROM lb_mismatch;
SELECT day_amount, day_count FROM finsec.limit_usage WHERE relid = 'lb_pay'::regclass AND subject = 'n2';

-- Savepoints around statements.
BEGIN;
INSERT INTO lb_pay (payer, amount) SELECT 's1', 100 FROM generate_series(1, 5);
SAVEPOINT a;
INSERT INTO lb_pay (payer, amount) SELECT 's1', 100 FROM generate_series(1, 5);
ROLLBACK TO SAVEPOINT a;
INSERT INTO lb_pay (payer, amount) SELECT 's1', 10 FROM generate_series(1, 5);
SAVEPOINT b;
INSERT INTO lb_pay (payer, amount) SELECT 's1', 1 FROM generate_series(1, 5);
RELEASE SAVEPOINT b;
-- The transaction sees its own usage after each statement.
SELECT day_amount, day_count FROM finsec.limit_usage WHERE relid = 'lb_pay'::regclass AND subject = 's1';
COMMIT;
SELECT * FROM lb_mismatch;

-- A failed statement inside a transaction leaves the earlier ones' usage.
BEGIN;
INSERT INTO lb_pay (payer, amount) SELECT 's2', 4000 FROM generate_series(1, 2);
SAVEPOINT c;
INSERT INTO lb_pay (payer, amount) SELECT 's2', 1000 FROM generate_series(1, 3);
ROLLBACK TO SAVEPOINT c;
INSERT INTO lb_pay (payer, amount) SELECT 's2', 1000 FROM generate_series(1, 2);
COMMIT;
SELECT * FROM lb_mismatch;

-- Two inserts in one statement (a data-modifying CTE), and COPY.
WITH a AS (INSERT INTO lb_pay (payer, amount) SELECT 'w1', 7 FROM generate_series(1, 4) RETURNING amount)
INSERT INTO lb_pay (payer, amount) SELECT 'w1', amount * 2 FROM a;
COPY lb_pay (payer, amount) FROM stdin;
c1	10
c2	20
c1	30
c1	40
c2	50
\.
SELECT * FROM lb_mismatch;
SELECT subject, day_amount, day_count FROM finsec.limit_usage
 WHERE relid = 'lb_pay'::regclass AND subject IN ('w1', 'c1', 'c2') ORDER BY 1;

-- A payment refused within COPY: nothing of the COPY counts.
COPY lb_pay (payer, amount) FROM stdin;
c1	100
c1	9900
\.
SELECT * FROM lb_mismatch;

-- INSERT ... ON CONFLICT would fire the trigger for rows that are then not
-- inserted: refused on a limited table, directly or in a CTE, before any
-- row is processed.  A plain INSERT hitting a unique key rolls back its usage.
CREATE UNIQUE INDEX lb_pay_ref ON lb_pay (payer, amount) WHERE kind = 'ref';
INSERT INTO lb_pay (payer, amount, kind) VALUES ('u1', 5, 'ref');
INSERT INTO lb_pay (payer, amount, kind) VALUES ('u1', 5, 'ref') ON CONFLICT DO NOTHING;
WITH x AS (INSERT INTO lb_pay (payer, amount, kind) VALUES ('u1', 5, 'ref') ON CONFLICT DO NOTHING RETURNING 1)
SELECT count(*) FROM x;
INSERT INTO lb_pay (payer, amount, kind) VALUES ('u1', 5, 'ref');
SELECT * FROM lb_mismatch;
SELECT day_amount, day_count FROM finsec.limit_usage WHERE relid = 'lb_pay'::regclass AND subject = 'u1';

-- The usage rebuilt from the table is the same.
CREATE TEMP TABLE lb_before AS
	SELECT subject, day_amount, day_count, life_amount, life_count FROM finsec.limit_usage
	 WHERE relid = 'lb_pay'::regclass;
SELECT finsec.rebuild_limit_usage('lb_pay') > 0 AS rebuilt;
(SELECT subject, day_amount, day_count, life_amount, life_count FROM finsec.limit_usage
  WHERE relid = 'lb_pay'::regclass EXCEPT SELECT * FROM lb_before)
UNION ALL
(SELECT * FROM lb_before EXCEPT SELECT subject, day_amount, day_count, life_amount, life_count
   FROM finsec.limit_usage WHERE relid = 'lb_pay'::regclass);

SELECT finsec.disable_limits('lb_pay');
DELETE FROM finsec.limit_policy WHERE relid = 'lb_pay'::regclass;
DROP VIEW lb_mismatch;
DROP TABLE lb_pay;
DROP FUNCTION lb_nested(text, numeric, boolean);
DROP FUNCTION lb_try(text, numeric);
