--
-- 097_limits_cache: on a table with posted_at, limit usage is a cache of
-- the payments table (finsec 1.4, docs/limits.md "Usage"): committed
-- totals in shared memory, a roll-up written every
-- finsec.limit_flush_every payments of a payer, misses recomputed from the
-- payments stamped after the roll-up.  Every figure below is checked
-- against the payments themselves.
--
SET client_min_messages = warning;
CREATE SCHEMA lc;
CREATE TABLE lc.pay (
	id bigserial PRIMARY KEY,
	payer text NOT NULL,
	amount numeric NOT NULL,
	kind text NOT NULL DEFAULT 'payment',
	channel text NOT NULL DEFAULT 'app',
	posted_at timestamptz,
	orig bigint
);
CREATE INDEX ON lc.pay (payer, posted_at);
SELECT finsec.enable_limits('lc.pay', customer => 'payer', amount => 'amount', kind => 'kind',
	channel => 'channel', posted_at => 'posted_at', payment_id => 'id', reversal_of => 'orig',
	reversal_kinds => '{refund}') IS NULL AS enabled;
INSERT INTO finsec.limit_policy (name, relid, period, max_amount, max_count) VALUES
	('lc day', 'lc.pay', 'day', 1000, 100),
	('lc barcode', 'lc.pay', 'day', 300, NULL);
UPDATE finsec.limit_policy SET channel = 'barcode' WHERE name = 'lc barcode';

-- Usage that differs from the committed payments: no rows expected.
CREATE VIEW lc.mismatch AS
	SELECT coalesce(u.subject, p.payer) AS payer, u.bucket, u.day_amount, u.day_count, p.amount, p.n
	  FROM (SELECT subject, bucket, day_amount, day_count FROM finsec.limit_usage
			 WHERE relid = 'lc.pay'::regclass AND bucket = '') u
	  FULL JOIN (SELECT payer, greatest(sum(CASE WHEN kind = 'refund' THEN -amount ELSE amount END), 0) AS amount,
						count(*) FILTER (WHERE kind <> 'refund') AS n
				   FROM lc.pay GROUP BY payer) p ON p.payer = u.subject
	 WHERE u.day_amount IS DISTINCT FROM p.amount OR u.day_count IS DISTINCT FROM p.n;

-- The cache is there (the preload) and counts.
SELECT capacity > 0 AS cache_in_shared_memory FROM finsec.limit_cache();
SELECT hits AS h0, misses AS m0, flushes AS f0, escalations AS e0 FROM finsec.limit_cache() \gset
INSERT INTO lc.pay (payer, amount) VALUES ('p1', 100);
INSERT INTO lc.pay (payer, amount) VALUES ('p1', 200);
INSERT INTO lc.pay (payer, amount) VALUES ('p1', 300);
-- the first payment of p1 missed (nothing cached), the next two hit
SELECT hits - :h0 AS hits, misses - :m0 AS misses, flushes - :f0 AS flushes FROM finsec.limit_cache();
SELECT * FROM lc.mismatch;
-- no roll-up yet: 3 payments < finsec.limit_flush_every
SELECT count(*) AS rollups FROM finsec.limit_usage_flushed WHERE relid = 'lc.pay'::regclass;
-- the limit holds against the cached totals
INSERT INTO lc.pay (payer, amount) VALUES ('p1', 401);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- The roll-up: written by the payment transaction every N payments of the
-- payer (here 2), stamped with the latest posted_at it includes.
SET finsec.limit_flush_every = 2;
INSERT INTO lc.pay (payer, amount) VALUES ('p2', 10);
SELECT count(*) AS rollups FROM finsec.limit_usage_flushed WHERE relid = 'lc.pay'::regclass AND subject = 'p2';
INSERT INTO lc.pay (payer, amount) VALUES ('p2', 20);
SELECT day_amount, day_count, life_amount,
	   flushed_at = (SELECT max(posted_at) FROM lc.pay WHERE payer = 'p2') AS stamped
  FROM finsec.limit_usage_flushed WHERE relid = 'lc.pay'::regclass AND subject = 'p2' AND bucket = '';
RESET finsec.limit_flush_every;

-- Stamps are monotonic per payer and after the roll-up: a payment's
-- posted_at is its statement's start, raised if need be.
BEGIN;
INSERT INTO lc.pay (payer, amount) VALUES ('p2', 1);
INSERT INTO lc.pay (payer, amount) VALUES ('p2', 1), ('p2', 1);
COMMIT;
SELECT bool_and(posted_at > (SELECT flushed_at FROM finsec.limit_usage_flushed WHERE relid = 'lc.pay'::regclass AND subject = 'p2' AND bucket = ''))
	   AS after_rollup,
	   count(DISTINCT posted_at) <= 2 AS statement_times
  FROM lc.pay WHERE payer = 'p2' AND amount = 1;

-- A miss recomputes: forget the table's cached usage (a rebuild does it);
-- the roll-up plus the payments after it give the same totals.
SELECT finsec._limit_cache_forget('lc.pay');
SELECT * FROM lc.mismatch;
SELECT misses AS m1 FROM finsec.limit_cache() \gset
INSERT INTO lc.pay (payer, amount) VALUES ('p2', 5), ('p1', 300);
SELECT misses - :m1 AS misses FROM finsec.limit_cache();
SELECT * FROM lc.mismatch;
INSERT INTO lc.pay (payer, amount) VALUES ('p1', 101);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Channel buckets: barcode payments at most 300 a day.
INSERT INTO lc.pay (payer, amount, channel) VALUES ('p3', 200, 'barcode');
INSERT INTO lc.pay (payer, amount, channel) VALUES ('p3', 101, 'barcode');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT finsec._limit_cache_forget('lc.pay');
INSERT INTO lc.pay (payer, amount, channel) VALUES ('p3', 101, 'barcode');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO lc.pay (payer, amount, channel) VALUES ('p3', 100, 'barcode');
SELECT bucket, day_amount, day_count FROM finsec.limit_usage WHERE relid = 'lc.pay'::regclass AND subject = 'p3' ORDER BY bucket;

-- Savepoints: what a rolled back subtransaction paid is not counted, in
-- memory or in shared memory after commit.
BEGIN;
INSERT INTO lc.pay (payer, amount) VALUES ('p4', 400);
SAVEPOINT a;
INSERT INTO lc.pay (payer, amount) VALUES ('p4', 500);
SAVEPOINT b;
INSERT INTO lc.pay (payer, amount) VALUES ('p4', 100);
ROLLBACK TO SAVEPOINT a;
INSERT INTO lc.pay (payer, amount) VALUES ('p4', 600);
COMMIT;
SELECT * FROM lc.mismatch;
INSERT INTO lc.pay (payer, amount) VALUES ('p4', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- A rolled back transaction leaves nothing.
BEGIN;
INSERT INTO lc.pay (payer, amount) VALUES ('p5', 900);
ROLLBACK;
INSERT INTO lc.pay (payer, amount) VALUES ('p5', 1000);
SELECT * FROM lc.mismatch;

-- Refunds restore allowance, in the cache and when recomputed.
INSERT INTO lc.pay (payer, amount, kind, orig)
	VALUES ('p5', 300, 'refund', (SELECT min(id) FROM lc.pay WHERE payer = 'p5'));
SELECT * FROM lc.mismatch;
SELECT finsec._limit_cache_forget('lc.pay');
SELECT * FROM lc.mismatch;
INSERT INTO lc.pay (payer, amount) VALUES ('p5', 300);
INSERT INTO lc.pay (payer, amount) VALUES ('p5', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- A transaction paying many payers locks the payments table instead of
-- each payer beyond finsec.limit_lock_threshold.
SET finsec.limit_lock_threshold = 3;
BEGIN;
INSERT INTO lc.pay (payer, amount) SELECT 'b' || i, 10 FROM generate_series(1, 10) i;
SELECT mode FROM pg_locks WHERE relation = 'lc.pay'::regclass AND pid = pg_backend_pid() AND mode = 'ShareRowExclusiveLock';
SELECT count(*) AS payer_locks FROM pg_locks
 WHERE locktype = 'object' AND classid = 'finsec.limit_usage_flushed'::regclass AND objsubid = 1 AND pid = pg_backend_pid();
COMMIT;
RESET finsec.limit_lock_threshold;
SELECT escalations - :e0 AS escalations FROM finsec.limit_cache();
SELECT * FROM lc.mismatch;

-- Past finsec.limit_batch_size payers in one transaction, a payer's usage
-- is recomputed at each payment (this transaction's rows included).
SET finsec.limit_batch_size = 2;
BEGIN;
INSERT INTO lc.pay (payer, amount) SELECT 'm' || (i % 4), 100 FROM generate_series(1, 20) i;
INSERT INTO lc.pay (payer, amount) VALUES ('m1', 500);
INSERT INTO lc.pay (payer, amount) VALUES ('m2', 500);
COMMIT;
-- m1 and m2 are at their limit: the statement is refused as a whole
INSERT INTO lc.pay (payer, amount) SELECT 'm' || (i % 4), 100 FROM generate_series(1, 12) i;
RESET finsec.limit_batch_size;
SELECT * FROM lc.mismatch;
SELECT subject, day_amount FROM finsec.limit_usage WHERE relid = 'lc.pay'::regclass AND subject LIKE 'm_' AND bucket = '' ORDER BY 1;

-- The view is not writable but by a superuser (who corrects a payer's
-- usage in its roll-up; tests/090 moves a day back).
CREATE ROLE regress_lc_adm LOGIN IN ROLE finsec_admin;
SELECT 'lc.pay'::regclass::oid AS lc_pay \gset
SET ROLE regress_lc_adm;
SELECT count(*) > 0 AS admin_reads_usage FROM finsec.limit_usage;
DELETE FROM finsec.limit_usage WHERE subject = 'p1';
UPDATE finsec.limit_usage SET day_amount = 0 WHERE subject = 'p1';
SELECT finsec._limit_usage_flush(:lc_pay, 'p1');
SELECT finsec._limit_cache_forget(:lc_pay);
SELECT subject FROM finsec.limit_usage_flushed WHERE relid = :lc_pay;
RESET ROLE;
SELECT * FROM lc.mismatch;

-- Disabled with usage kept, the current usage stays in the roll-up and
-- counts again when limits come back.
SELECT finsec._disable_limits('lc.pay', false);
SELECT subject, day_amount FROM finsec.limit_usage WHERE relid = 'lc.pay'::regclass AND bucket = '' ORDER BY subject LIMIT 3;
SELECT finsec.enable_limits('lc.pay', customer => 'payer', amount => 'amount', kind => 'kind',
	channel => 'channel', posted_at => 'posted_at', payment_id => 'id', reversal_of => 'orig',
	reversal_kinds => '{refund}') IS NULL AS enabled;
INSERT INTO lc.pay (payer, amount) VALUES ('p1', 101);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM lc.mismatch;

-- Usage of a payer without roll-up starts at the enabling: payments
-- stamped before limits were enabled do not count (as before 1.4).
SELECT finsec._disable_limits('lc.pay', true);
SELECT count(*) AS kept FROM finsec.limit_usage_flushed WHERE relid = 'lc.pay'::regclass;
SELECT finsec.enable_limits('lc.pay', customer => 'payer', amount => 'amount', kind => 'kind',
	channel => 'channel', posted_at => 'posted_at', payment_id => 'id', reversal_of => 'orig',
	reversal_kinds => '{refund}') IS NULL AS enabled;
INSERT INTO lc.pay (payer, amount) VALUES ('p1', 1000);
SELECT day_amount, day_count FROM finsec.limit_usage WHERE relid = 'lc.pay'::regclass AND subject = 'p1' AND bucket = '';

SELECT finsec._disable_limits('lc.pay', true);
SET client_min_messages = warning;
DROP SCHEMA lc CASCADE;
DROP ROLE regress_lc_adm;
