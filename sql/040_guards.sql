--
-- 040_guards: replay guard (M2) and duplicate-payment, cancellation and
-- refund guards (M3) (docs/guards.md).  Each refusal carries its own
-- SQLSTATE of class S9G, shown with \set VERBOSITY sqlstate where the code
-- is the point.
--
CREATE ROLE regress_guard_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_admin LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_outsider LOGIN;

-- ---- M2: replay guard ---------------------------------------------------

-- A nonce is accepted once per scope; the replay is refused with S9G01.
SET ROLE regress_guard_app;
SELECT finsec.consume_nonce('merchant-1', 'n-0001', now());
SELECT finsec.consume_nonce('merchant-1', 'n-0001', now());
-- The same nonce in another scope is a different message.
SELECT finsec.consume_nonce('merchant-2', 'n-0001', now());
-- The refusal aborts the transaction: the payment it protects never happens.
BEGIN;
SELECT finsec.consume_nonce('merchant-1', 'n-0002', now());
SELECT finsec.consume_nonce('merchant-1', 'n-0002', now());
SELECT 'payment written';
ROLLBACK;
-- A rolled-back consumption leaves the nonce unused.
SELECT finsec.consume_nonce('merchant-1', 'n-0002', now());
-- try_consume_nonce() answers false instead.
SELECT finsec.try_consume_nonce('merchant-1', 'n-0003', now()) AS first,
       finsec.try_consume_nonce('merchant-1', 'n-0003', now()) AS replay;
-- Binary nonces; text and bytea with the same bytes are the same nonce.
SELECT finsec.consume_nonce('merchant-1', '\x00ff10'::bytea, now());
SELECT finsec.try_consume_nonce('merchant-1', '\x00ff10'::bytea, now());
SELECT finsec.try_consume_nonce('merchant-1', 'n-0001'::text::bytea, now());

-- Stale (older than finsec.nonce_window, 5 min) and future (beyond
-- finsec.nonce_max_skew, 30 s) timestamps are refused, and not remembered.
SELECT finsec.consume_nonce('merchant-1', 'n-0004', now() - interval '6 min');
SELECT finsec.consume_nonce('merchant-1', 'n-0004', clock_timestamp() + interval '2 min');
SELECT finsec.try_consume_nonce('merchant-1', 'n-0004', now() - interval '6 min') AS stale,
       finsec.try_consume_nonce('merchant-1', 'n-0004', clock_timestamp() + interval '2 min') AS future;
-- Within the allowances both ends are accepted.
SELECT finsec.consume_nonce('merchant-1', 'n-0005', now() - interval '4 min'),
       finsec.consume_nonce('merchant-1', 'n-0006', clock_timestamp() + interval '20 s');
-- A caller may narrow the window, not widen it.
SELECT finsec.consume_nonce('merchant-1', 'n-0007', now() - interval '2 min', "window" => '1 min');
SELECT finsec.consume_nonce('merchant-1', 'n-0007', now(), "window" => '1 hour');
SELECT finsec.consume_nonce('merchant-1', 'n-0007', now(), "window" => '-1 min');

\set VERBOSITY sqlstate
SELECT finsec.consume_nonce('merchant-1', 'n-0001', now());
SELECT finsec.consume_nonce('merchant-1', 'n-0008', now() - interval '1 hour');
SELECT finsec.consume_nonce('merchant-1', 'n-0008', now() + interval '1 hour');
\set VERBOSITY default

-- Bad input: NULLs, empty or over-long nonce or scope, infinite time.
SELECT finsec.consume_nonce(NULL, 'n', now());
SELECT finsec.consume_nonce('s', NULL::text, now());
SELECT finsec.consume_nonce('s', 'n', NULL);
SELECT finsec.consume_nonce('s', '', now());
SELECT finsec.consume_nonce('', 'n', now());
SELECT finsec.consume_nonce('s', repeat('x', 257), now());
SELECT finsec.consume_nonce(repeat('s', 129), 'n', now());
SELECT finsec.consume_nonce('s', repeat('x', 256), now());
SELECT finsec.consume_nonce('s', 'n', 'infinity');
-- The application cannot read or forge the nonce table, nor purge it.
SELECT count(*) FROM finsec.nonce;
DELETE FROM finsec.nonce;
SELECT finsec.nonce_purge();
RESET ROLE;

-- Without finsec_app, no consumption.
SET ROLE regress_outsider;
SELECT finsec.consume_nonce('merchant-1', 'n-0100', now());
RESET ROLE;

-- Expiry: a nonce whose timestamp leaves the window is forgotten, because
-- replaying it is refused as stale anyway.  Ten nonces 1 s from expiry...
SET ROLE regress_guard_app;
SELECT count(*) FILTER (WHERE finsec.try_consume_nonce('expiry', 'e-' || i,
	   clock_timestamp() - interval '299 s')) AS accepted
  FROM generate_series(1, 10) i;
RESET ROLE;
SELECT pg_sleep(1.5);
-- ...are still refused as stale (not as replays), and are purged: three
-- ordinary calls delete up to 4 expired rows each, so the table cannot grow
-- beyond about one window of traffic without a scheduled job.
SELECT count(*) AS kept_before FROM finsec.nonce WHERE scope = 'expiry';
SET ROLE regress_guard_app;
\set VERBOSITY sqlstate
SELECT finsec.consume_nonce('expiry', 'e-1', clock_timestamp() - interval '300 s');
\set VERBOSITY default
SELECT finsec.consume_nonce('expiry', 'fresh-' || i, now()) FROM generate_series(1, 3) i;
RESET ROLE;
SELECT count(*) AS expired_left FROM finsec.nonce WHERE scope = 'expiry' AND convert_from(nonce, 'UTF8') LIKE 'e-%';
-- The forgotten nonce is a new message again if it comes with a fresh time.
SET ROLE regress_guard_app;
SELECT finsec.try_consume_nonce('expiry', 'e-1', now()) AS accepted_again;
RESET ROLE;
-- finsec.nonce_purge() does the same in bulk; nothing is left to expire.
SELECT finsec.nonce_purge();
SELECT ok, detail ~ '0 expired awaiting purge' AS nothing_expired
  FROM finsec.status() WHERE component = 'nonce_replay';
SELECT finsec.nonce_purge(0);

-- ---- M3: order guard ----------------------------------------------------

CREATE TABLE shop_orders (
	id			bigint PRIMARY KEY,
	status		text NOT NULL DEFAULT 'unpaid',
	paid_amount	numeric(12,2),
	refunded	numeric(12,2) NOT NULL DEFAULT 0,
	payment_id	text,
	note		text
);
GRANT SELECT, INSERT, UPDATE ON shop_orders TO regress_guard_app;

-- Only finsec_admin enables guards, and only with TRIGGER on the table.
SET ROLE regress_guard_app;
SELECT finsec.enable_order_guard('shop_orders');
RESET ROLE;
SET ROLE regress_admin;
SELECT finsec.enable_order_guard('shop_orders');
RESET ROLE;
GRANT TRIGGER ON shop_orders TO regress_admin;

-- Bad configurations are refused at enable time.
SET ROLE regress_admin;
SELECT finsec.enable_order_guard(NULL);
SELECT finsec.enable_order_guard('shop_orders', status => 'state');
SELECT finsec.enable_order_guard('shop_orders', status => 'paid_amount');
SELECT finsec.enable_order_guard('shop_orders', paid_amount => 'note');
SELECT finsec.enable_order_guard('shop_orders', paid_amount => 'nope');
SELECT finsec.enable_order_guard('shop_orders', refunded_amount => 'payment_id');
SELECT finsec.enable_order_guard('shop_orders', paid_amount => NULL, refunded_amount => 'refunded');
SELECT finsec.enable_order_guard('shop_orders', paid_states => '{}');
SELECT finsec.enable_order_guard('shop_orders', paid_states => '{paid,NULL}');
SELECT finsec.enable_order_guard('shop_orders', cancelled_states => '{paid}');
SELECT finsec.enable_order_guard('shop_orders', status => '');
SELECT finsec.enable_order_guard('finsec.nonce');
SELECT finsec.enable_order_guard('pg_class');

SELECT finsec.enable_order_guard('shop_orders', refunded_amount => 'refunded',
									payment_ref => 'payment_id');
SELECT finsec.enable_order_guard('shop_orders');
-- The DBA sees what is guarded.
SELECT relid, status_column, paid_amount_column, refunded_amount_column, payment_ref_column,
       paid_states, cancelled_states, enabled_by
  FROM finsec.order_guard;
RESET ROLE;
-- Enabling was audited.
SELECT db_user, event_type, object, action, success, description
  FROM finsec.audit WHERE event_type LIKE 'guard.%' ORDER BY finsec_seq;

SET ROLE regress_guard_app;
INSERT INTO shop_orders (id) VALUES (1), (2), (3), (4);
-- Unpaid orders can be changed and cancelled.
UPDATE shop_orders SET note = 'gift wrap' WHERE id = 1;
UPDATE shop_orders SET status = 'cancelled' WHERE id = 4;
-- Payment, once.
UPDATE shop_orders SET status = 'paid', paid_amount = 100, payment_id = 'pay-1' WHERE id = 1;
-- Other columns of a paid order may change; an identical repeat changes nothing.
UPDATE shop_orders SET note = 'leave at door' WHERE id = 1;
UPDATE shop_orders SET status = 'paid', paid_amount = 100, payment_id = 'pay-1' WHERE id = 1;
\set VERBOSITY sqlstate
-- A second payment (new payment reference) is refused: S9G11.
UPDATE shop_orders SET status = 'paid', paid_amount = 100, payment_id = 'pay-2' WHERE id = 1;
-- The paid amount is immutable: S9G11.
UPDATE shop_orders SET paid_amount = 90 WHERE id = 1;
UPDATE shop_orders SET paid_amount = NULL WHERE id = 1;
-- Back to unpaid (to be paid again) is refused: S9G11.
UPDATE shop_orders SET status = 'unpaid' WHERE id = 1;
-- A paid order cannot be cancelled: S9G12.
UPDATE shop_orders SET status = 'cancelled' WHERE id = 1;
UPDATE shop_orders SET status = 'canceled' WHERE id = 1;
-- Refunds never exceed the paid amount: S9G13.
UPDATE shop_orders SET refunded = 100.01 WHERE id = 1;
UPDATE shop_orders SET refunded = 5 WHERE id = 2;
-- Refunds are not taken back, and amounts are not negative: S9G14.
UPDATE shop_orders SET refunded = 60, status = 'partially_refunded' WHERE id = 1;
UPDATE shop_orders SET refunded = 50 WHERE id = 1;
UPDATE shop_orders SET status = 'paid', paid_amount = -1 WHERE id = 2;
-- A paid state needs its amount; a cancelled order cannot be paid: S9G14.
UPDATE shop_orders SET status = 'paid' WHERE id = 2;
UPDATE shop_orders SET status = 'paid', paid_amount = 10 WHERE id = 4;
-- Inserted rows are held to the same rules.
INSERT INTO shop_orders (id, status, paid_amount, refunded) VALUES (5, 'paid', 10, 11);
INSERT INTO shop_orders (id, status) VALUES (5, 'paid');
\set VERBOSITY default
-- The messages name the table and the rule, not the order or its amounts.
UPDATE shop_orders SET status = 'cancelled' WHERE id = 1;
UPDATE shop_orders SET refunded = 100.01 WHERE id = 1;
UPDATE shop_orders SET status = 'paid', paid_amount = 100, payment_id = 'pay-2' WHERE id = 1;
-- The full refund is fine, and the order stays paid for good.
UPDATE shop_orders SET refunded = 100, status = 'refunded' WHERE id = 1;
UPDATE shop_orders SET status = 'paid', payment_id = 'pay-3' WHERE id = 1;
SELECT id, status, paid_amount, refunded, payment_id FROM shop_orders ORDER BY id;
RESET ROLE;

-- ---- M3: refund table guard ---------------------------------------------

CREATE TABLE shop_refunds (
	refund_id	serial PRIMARY KEY,
	order_id	bigint NOT NULL,
	amount		numeric(12,2) NOT NULL,
	reason		text
);
GRANT SELECT, INSERT, UPDATE ON shop_refunds TO regress_guard_app;
GRANT USAGE ON SEQUENCE shop_refunds_refund_id_seq TO regress_guard_app;
GRANT TRIGGER ON shop_refunds TO regress_admin;
SET ROLE regress_admin;
-- Bad configurations: wrong columns and types, an unguarded orders table.
SELECT finsec.enable_refund_guard('shop_refunds', 'shop_orders', order_ref => 'refund_id');
SELECT finsec.enable_refund_guard('shop_refunds', 'shop_orders', amount => 'reason');
SELECT finsec.enable_refund_guard('shop_refunds', 'shop_orders', order_ref => 'nope');
SELECT finsec.enable_refund_guard('shop_refunds', 'shop_orders', order_key => 'status');
SELECT finsec.enable_refund_guard('shop_refunds', 'shop_refunds');
SELECT finsec.enable_refund_guard('shop_refunds', 'shop_orders');
SELECT finsec.disable_order_guard('shop_orders');
RESET ROLE;

SET ROLE regress_guard_app;
INSERT INTO shop_orders (id, status, paid_amount, payment_id) VALUES (10, 'paid', 50, 'pay-10');
INSERT INTO shop_refunds (order_id, amount) VALUES (10, 20), (10, 30);
\set VERBOSITY sqlstate
-- The third refund would exceed 50: S9G13; unpaid order: S9G13.
INSERT INTO shop_refunds (order_id, amount) VALUES (10, 0.01);
INSERT INTO shop_refunds (order_id, amount) VALUES (2, 1);
-- Changing a refund is checked too.
UPDATE shop_refunds SET amount = 31 WHERE order_id = 10 AND amount = 30;
-- Zero or negative refunds, unknown orders.
INSERT INTO shop_refunds (order_id, amount) VALUES (10, 0);
INSERT INTO shop_refunds (order_id, amount) VALUES (999, 1);
\set VERBOSITY default
INSERT INTO shop_refunds (order_id, amount) VALUES (10, 0.01);
UPDATE shop_refunds SET amount = 29 WHERE order_id = 10 AND amount = 30;
INSERT INTO shop_refunds (order_id, amount) VALUES (10, 1);
SELECT order_id, sum(amount) FROM shop_refunds GROUP BY order_id;
RESET ROLE;

-- ---- partitioned tables ---------------------------------------------------

CREATE TABLE part_orders (
	id			int,
	region		text,
	status		text NOT NULL DEFAULT 'unpaid',
	paid_amount	numeric,
	PRIMARY KEY (id, region)
) PARTITION BY LIST (region);
CREATE TABLE part_orders_n PARTITION OF part_orders FOR VALUES IN ('north');
CREATE TABLE part_refunds (order_id int, amount numeric) PARTITION BY RANGE (amount);
CREATE TABLE part_refunds_small PARTITION OF part_refunds FOR VALUES FROM (0) TO (10);
CREATE TABLE part_refunds_big PARTITION OF part_refunds FOR VALUES FROM (10) TO (MAXVALUE);
-- A partition alone is refused; the partitioned table covers every
-- partition, including those attached later.
SELECT finsec.enable_order_guard('part_orders_n');
SELECT finsec.enable_order_guard('part_orders');
CREATE TABLE part_orders_s (LIKE part_orders);
ALTER TABLE part_orders ATTACH PARTITION part_orders_s FOR VALUES IN ('south');
INSERT INTO part_orders VALUES (1, 'north'), (2, 'south');
UPDATE part_orders SET status = 'paid', paid_amount = 30;
UPDATE part_orders SET status = 'cancelled' WHERE id = 1;
UPDATE part_orders SET status = 'cancelled' WHERE id = 2;
-- The refund sum spans partitions.  The orders key has two columns, so the
-- key column is named; id is unique here.
CREATE UNIQUE INDEX ON part_orders_n (id);
SELECT finsec.enable_refund_guard('part_refunds', 'part_orders');
SELECT finsec.enable_refund_guard('part_refunds', 'part_orders', order_key => 'id');
INSERT INTO part_refunds VALUES (2, 5), (2, 20);
INSERT INTO part_refunds VALUES (2, 5.01);
INSERT INTO part_refunds VALUES (2, 5);
SELECT tableoid::regclass, * FROM part_refunds ORDER BY amount;

-- ---- status, disabling, audit ----------------------------------------------

-- A trigger dropped behind finsec's back shows in finsec.status().
SELECT component, ok, detail FROM finsec.status() WHERE component LIKE '%guards' ORDER BY 1;
ALTER TABLE part_orders DISABLE TRIGGER finsec_order_guard;
SELECT component, ok, detail FROM finsec.status() WHERE component = 'order_guards';
ALTER TABLE part_orders ENABLE TRIGGER finsec_order_guard;

-- An order guard with a refund guard on it stays until the refund guard goes.
SET ROLE regress_admin;
SELECT finsec.disable_order_guard('shop_orders');
SELECT finsec.disable_refund_guard('shop_refunds');
SELECT finsec.disable_order_guard('shop_orders');
SELECT finsec.disable_order_guard('shop_orders');
RESET ROLE;
SET ROLE regress_guard_app;
SELECT finsec.disable_order_guard('part_orders');
RESET ROLE;
-- Unguarded, the table accepts anything again.
UPDATE shop_orders SET status = 'cancelled' WHERE id = 1;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'shop_orders'::regclass;
SELECT db_user, event_type, object, action FROM finsec.audit
 WHERE event_type LIKE 'guard.%' ORDER BY finsec_seq;

DROP TABLE shop_orders, shop_refunds;
SELECT finsec.disable_refund_guard('part_refunds');
SELECT finsec.disable_order_guard('part_orders');
DROP TABLE part_orders, part_refunds;
DROP ROLE regress_guard_app, regress_admin, regress_outsider;
