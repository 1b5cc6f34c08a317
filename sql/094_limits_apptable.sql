--
-- 094_limits_apptable: the checks every capability makes on the
-- application table it registers are one function in common
-- (src/common/apptable.c): enable_limits, enable_order_guard,
-- enable_refund_guard, enable_risk and protect_table refuse the same
-- tables with the same SQLSTATE and one set of messages.
--
SET client_min_messages = warning;
CREATE ROLE regress_at_admin LOGIN IN ROLE finsec_admin;
RESET client_min_messages;

CREATE TABLE at_orders (id bigint PRIMARY KEY, status text, paid_amount numeric);
SELECT finsec.enable_order_guard('at_orders');

-- One payments table drives all five.
CREATE TABLE at_pay (id bigint PRIMARY KEY, cust text, order_id bigint, amount numeric,
					 status text, at timestamptz);
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
CREATE FUNCTION pg_temp.all5(t text) RETURNS TABLE (fn text, result text) LANGUAGE sql AS $$
	SELECT 'enable_limits', pg_temp.try(format(
		$q$SELECT finsec.enable_limits(%L, customer => 'cust', amount => 'amount')$q$, t))
	UNION ALL SELECT 'enable_order_guard', pg_temp.try(format(
		$q$SELECT finsec.enable_order_guard(%L, paid_amount => 'amount')$q$, t))
	UNION ALL SELECT 'enable_refund_guard', pg_temp.try(format(
		$q$SELECT finsec.enable_refund_guard(%L, 'at_orders', order_ref => 'order_id')$q$, t))
	UNION ALL SELECT 'enable_risk', pg_temp.try(format(
		$q$SELECT finsec.enable_risk(%L, customer => 'cust', amount => 'amount', posted_at => 'at')$q$, t))
	UNION ALL SELECT 'protect_table', pg_temp.try(format(
		$q$SELECT finsec.protect_table(%L)$q$, t))
$$;

-- Not a table (42809).
CREATE VIEW at_view AS SELECT * FROM at_pay;
SELECT * FROM pg_temp.all5('at_view');
CREATE SEQUENCE at_seq;
SELECT fn, left(result, 5) AS sqlstate FROM pg_temp.all5('at_seq');
-- A system table, one of finsec's, one in information_schema (42809).
SELECT * FROM pg_temp.all5('pg_catalog.pg_class');
SELECT * FROM pg_temp.all5('finsec.limit_policy');
SELECT fn, left(result, 5) AS sqlstate FROM pg_temp.all5('information_schema.sql_features');
-- A partition (42809): the first four take its partitioned table; protect_table
-- takes neither.
CREATE TABLE at_parted (id bigint, cust text, order_id bigint, amount numeric, status text,
						at timestamptz) PARTITION BY RANGE (id);
CREATE TABLE at_parted_1 PARTITION OF at_parted FOR VALUES FROM (0) TO (100);
SELECT * FROM pg_temp.all5('at_parted_1');
SELECT pg_temp.try($$SELECT finsec.protect_table('at_parted')$$);
-- A relation that does not exist, by OID (42P01).
SELECT fn, result FROM pg_temp.all5('999999');

-- Privileges (42501): a finsec_admin without TRIGGER (limits, guards),
-- SELECT (risk) or ownership (protect_table) of the table.
SET ROLE regress_at_admin;
SELECT * FROM pg_temp.all5('at_pay');
RESET ROLE;
-- ... nor USAGE on the table's schema (42501 for all five).
CREATE SCHEMA at_private;
CREATE TABLE at_private.pay (LIKE at_pay);
GRANT ALL ON at_private.pay TO regress_at_admin;
SELECT 'at_private.pay'::regclass::oid AS private_oid \gset
SET ROLE regress_at_admin;
SELECT * FROM pg_temp.all5(:'private_oid');
RESET ROLE;
-- With the privilege it needs, the check passes (rolled back: nothing is enabled).
GRANT TRIGGER, SELECT ON at_pay TO regress_at_admin;
SET ROLE regress_at_admin;
BEGIN;
SELECT pg_temp.try($$SELECT finsec.enable_order_guard('at_pay', paid_amount => 'amount')$$);
ROLLBACK;
RESET ROLE;
SELECT count(*) AS guards FROM finsec.order_guard WHERE relid = 'at_pay'::regclass;

SELECT finsec.disable_order_guard('at_orders');
DROP VIEW at_view;
DROP TABLE at_pay, at_orders, at_parted, at_private.pay;
DROP SEQUENCE at_seq;
DROP SCHEMA at_private;
DROP ROLE regress_at_admin;
