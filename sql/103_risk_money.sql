--
-- 103_risk_money: risk scoring on a payments table whose amount column is
-- finsec.money (docs/risk.md, "Amounts"): registration, amount rules,
-- velocity sums over the history and the explainable reasons.  Before 0.9
-- enable_risk accepted numeric and integer amounts only.
--
SET timezone = 'Asia/Shanghai';
CREATE TABLE risk_money_pay (
	id bigserial PRIMARY KEY,
	cust text NOT NULL,
	amount finsec.money NOT NULL,
	at timestamptz NOT NULL,
	channel text
);
CREATE INDEX risk_money_pay_cust_at ON risk_money_pay (cust, at);
SELECT finsec.enable_risk('risk_money_pay', customer => 'cust', amount => 'amount',
						  posted_at => 'at', channel => 'channel');
SELECT relid, customer_column, amount_column FROM finsec.risk_table
 WHERE relid = 'risk_money_pay'::regclass;

-- A ruleset with an amount rule and a velocity sum.
UPDATE finsec.risk_ruleset SET state = 'retired', retired_at = now() WHERE state = 'active';
INSERT INTO finsec.risk_ruleset (version, challenge_at, review_at, block_at) VALUES (1030, 10, 20, 30);
INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category) VALUES
 (1030, 'big', 'threshold', '{"attribute": "amount", "op": ">=", "value": 1000}', 10, 'AMOUNT_HIGH', 'card_not_present'),
 (1030, 'sum_1d', 'velocity', '{"entity": "customer", "window": "1 day", "measure": "sum", "max": 500}', 11, 'SUM_CUSTOMER', 'money_laundering');
UPDATE finsec.risk_ruleset SET state = 'active', deployed_by = current_user, deployed_at = now() WHERE version = 1030;

CREATE FUNCTION pg_temp.show(d finsec.risk_decision) RETURNS text LANGUAGE sql AS $$
	SELECT d.decision || ' ' || coalesce(d.score::text, '-') || coalesce(' ' || (
		SELECT string_agg((r->>'rule') || '=' || coalesce(r->>'observed', ''), ' ' ORDER BY r->>'rule')
		  FROM jsonb_array_elements(d.reasons) r), '')
$$;

-- History in finsec.money: 300.00 + 200.00 on the day before the payment.
INSERT INTO risk_money_pay (cust, amount, at) VALUES
	('m1', 'CNY 300.00', '2026-03-10 09:00:00'),
	('m1', 'CNY 200.00', '2026-03-10 10:00:00'),
	('m2', 'CNY 0.01', '2026-03-10 10:00:00');

-- The row variant reads the money amount: 999.99 is under ">= 1000", 1000.00
-- is not; the reasons show the amount in major units.
SELECT pg_temp.show(finsec.risk_score(jsonb_populate_record(NULL::risk_money_pay,
	'{"id": 0, "cust": "m3", "amount": "CNY 999.99", "at": "2026-03-10 12:00:00+08"}')));
SELECT pg_temp.show(finsec.risk_score(jsonb_populate_record(NULL::risk_money_pay,
	'{"id": 0, "cust": "m3", "amount": "CNY 1000.00", "at": "2026-03-10 12:00:00+08"}')));
-- The velocity sum adds the money history exactly: 300.00 + 200.00 + 0.00
-- is not over 500, one more fen is.
SELECT pg_temp.show(finsec.risk_score(jsonb_populate_record(NULL::risk_money_pay,
	'{"id": 0, "cust": "m1", "amount": "CNY 0.00", "at": "2026-03-10 12:00:00+08"}')));
SELECT pg_temp.show(finsec.risk_score(jsonb_populate_record(NULL::risk_money_pay,
	'{"id": 0, "cust": "m1", "amount": "CNY 0.01", "at": "2026-03-10 12:00:00+08"}')));
-- The named-attribute variant reads the same history.
SELECT pg_temp.show(finsec.risk_score(customer => 'm1', amount => 0.01, at => '2026-03-10 12:00:00'));
-- A payment of another currency counts in its own major units (docs/risk.md).
SELECT pg_temp.show(finsec.risk_score(jsonb_populate_record(NULL::risk_money_pay,
	'{"id": 0, "cust": "m2", "amount": "JPY 1000", "at": "2026-03-10 12:00:00+08"}')));

-- A column altered to a type that is no amount is refused at use.
ALTER TABLE risk_money_pay ALTER amount TYPE text;
\set VERBOSITY sqlstate
SELECT pg_temp.show(finsec.risk_score(customer => 'm1', amount => 1, at => '2026-03-10 12:00:00'));
\set VERBOSITY default

UPDATE finsec.risk_ruleset SET state = 'retired', retired_at = now() WHERE version = 1030;
SELECT finsec.disable_risk('risk_money_pay');
DROP TABLE risk_money_pay;
