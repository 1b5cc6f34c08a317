--
-- 043_guards_money: the order guard and the refund guard on tables whose
-- amounts are finsec.money (docs/guards.md, "Amounts"): common's amount
-- abstraction reads them in major units, as limits does.  Before 0.9 the
-- guards accepted numeric only and refused these tables.
--
CREATE TABLE money_orders (
	id			bigint PRIMARY KEY,
	status		text NOT NULL DEFAULT 'unpaid',
	paid_amount	finsec.money,
	refunded	finsec.money,
	payment_id	text
);
SELECT finsec.enable_order_guard('money_orders', refunded_amount => 'refunded',
								 payment_ref => 'payment_id');
SELECT paid_amount_column, refunded_amount_column FROM finsec.order_guard
 WHERE relid = 'money_orders'::regclass;

INSERT INTO money_orders (id) VALUES (1), (2), (3);
UPDATE money_orders SET status = 'paid', paid_amount = 'CNY 100.00', payment_id = 'pay-1' WHERE id = 1;
-- An identical repeat changes nothing; the same amount written another way is the same amount.
UPDATE money_orders SET status = 'paid', paid_amount = 'CNY 100', payment_id = 'pay-1' WHERE id = 1;
\set VERBOSITY sqlstate
-- A duplicate payment (second payment reference) is refused: S9G11.
UPDATE money_orders SET status = 'paid', paid_amount = 'CNY 100.00', payment_id = 'pay-2' WHERE id = 1;
-- The paid amount is immutable, by the minor unit: S9G11.
UPDATE money_orders SET paid_amount = 'CNY 99.99' WHERE id = 1;
UPDATE money_orders SET paid_amount = NULL WHERE id = 1;
-- Over-refund by one fen: S9G13.
UPDATE money_orders SET refunded = 'CNY 100.01' WHERE id = 1;
-- Negative amounts; a paid state without its amount (NULL): S9G14.
UPDATE money_orders SET status = 'paid', paid_amount = 'CNY -0.01' WHERE id = 2;
UPDATE money_orders SET status = 'paid' WHERE id = 2;
UPDATE money_orders SET refunded = 'CNY 0.01' WHERE id = 3;
\set VERBOSITY default
-- The message of a refusal, with the amounts only in the server log.
UPDATE money_orders SET refunded = 'CNY 100.01' WHERE id = 1;
-- Partial and full refunds up to the fen.
UPDATE money_orders SET refunded = 'CNY 33.33', status = 'partially_refunded' WHERE id = 1;
UPDATE money_orders SET refunded = 'CNY 100.00', status = 'refunded' WHERE id = 1;
SELECT id, status, paid_amount, refunded FROM money_orders ORDER BY id;

-- ---- refund table with finsec.money amounts --------------------------------

CREATE TABLE money_refunds (
	refund_id	serial PRIMARY KEY,
	order_id	bigint NOT NULL,
	amount		finsec.money
);
SELECT finsec.enable_refund_guard('money_refunds', 'money_orders');
UPDATE money_orders SET status = 'paid', paid_amount = 'CNY 0.30', payment_id = 'pay-2' WHERE id = 2;
-- 0.10 + 0.20 is exactly 0.30 (no binary floating point): accepted.
INSERT INTO money_refunds (order_id, amount) VALUES (2, 'CNY 0.10'), (2, 'CNY 0.20');
\set VERBOSITY sqlstate
-- One more fen exceeds the paid amount: S9G13; so does changing a refund.
INSERT INTO money_refunds (order_id, amount) VALUES (2, 'CNY 0.01');
UPDATE money_refunds SET amount = 'CNY 0.11' WHERE order_id = 2 AND amount = 'CNY 0.10';
-- A refund must have a positive amount: NULL, zero and negative are refused (S9G14).
INSERT INTO money_refunds (order_id, amount) VALUES (2, NULL);
INSERT INTO money_refunds (order_id, amount) VALUES (2, 'CNY 0.00');
INSERT INTO money_refunds (order_id, amount) VALUES (2, 'CNY -0.01');
-- An unpaid order has nothing to refund: S9G13.
INSERT INTO money_refunds (order_id, amount) VALUES (3, 'CNY 0.01');
\set VERBOSITY default
UPDATE money_refunds SET amount = 'CNY 0.09' WHERE order_id = 2 AND amount = 'CNY 0.10';
INSERT INTO money_refunds (order_id, amount) VALUES (2, 'CNY 0.01');
SELECT order_id, sum(amount) FROM money_refunds GROUP BY order_id;

-- Currency: amounts count in major units of their own currency; an
-- order's amounts and its refunds must all be in one currency (S9G15):
-- finsec does not convert currencies, so it refuses to mix them.
\set VERBOSITY sqlstate
-- A refund in another currency than the order was paid in, refused for
-- its currency whatever its size (0.9.0 counted JPY 30 as 30) ...
INSERT INTO money_refunds (order_id, amount) VALUES (2, 'JPY 30');
UPDATE money_refunds SET amount = 'USD 0.09' WHERE order_id = 2 AND amount = 'CNY 0.09';
-- ... a refunded amount in another currency than the paid amount ...
UPDATE money_orders SET status = 'paid', paid_amount = 'CNY 50.00', payment_id = 'pay-3' WHERE id = 3;
UPDATE money_orders SET refunded = 'USD 1.00' WHERE id = 3;
-- ... and a paid order whose amount keeps its number but changes currency (S9G11).
UPDATE money_orders SET paid_amount = 'USD 50.00' WHERE id = 3;
\set VERBOSITY default
INSERT INTO money_refunds (order_id, amount) VALUES (3, 'USD 1.00');
INSERT INTO money_refunds (order_id, amount) VALUES (3, 'CNY 50.00');
SELECT order_id, sum(amount) FROM money_refunds GROUP BY order_id ORDER BY 1;

-- Integer amounts (minor units, e.g. fen as bigint) are amounts too.
CREATE TABLE int_orders (id int PRIMARY KEY, status text, paid_amount bigint);
SELECT finsec.enable_order_guard('int_orders');
INSERT INTO int_orders VALUES (1, 'paid', 1000);
\set VERBOSITY sqlstate
UPDATE int_orders SET paid_amount = 999 WHERE id = 1;
\set VERBOSITY default
-- A column altered to a type that is no amount is refused at use (42804),
-- and at enable time.
ALTER TABLE int_orders ALTER paid_amount TYPE text;
UPDATE int_orders SET status = 'paid' WHERE id = 1;
SELECT finsec.disable_order_guard('int_orders');
SELECT finsec.enable_order_guard('int_orders');

SELECT finsec.disable_refund_guard('money_refunds');
SELECT finsec.disable_order_guard('money_orders');
DROP TABLE money_orders, money_refunds, int_orders;
