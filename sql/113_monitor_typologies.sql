--
-- 113_monitor_typologies: the behavioural typologies of section 3
-- (docs/monitor.md): structuring, rapid in-and-out, fan-in, fan-out,
-- dormant account reactivated, night-time bursts.  Each fires at its
-- boundary and stays quiet just below, per direction, in CNY converted
-- from other currencies.  Part 1 calls the evaluators directly over
-- hand-made event batches.
--
SET timezone = 'Asia/Shanghai';
SET client_min_messages = warning;

-- The kinds and their default rules.
SELECT kind, scope, entities, evaluator, (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(parameters) k) AS parameters
  FROM finsec.monitor_rule_kind
 WHERE kind IN ('structuring', 'rapid_in_out', 'fan_in', 'fan_out', 'dormant_reactivated', 'night_burst')
 ORDER BY kind;
SELECT rule_name, version, kind, entity, time_window, params, category, severity, state, shadow, action
  FROM finsec.monitor_rule WHERE rule_name LIKE 'typ.%' ORDER BY rule_name;
-- Every default rule writes out every parameter of its kind.
SELECT r.rule_name FROM finsec.monitor_rule r JOIN finsec.monitor_rule_kind k USING (kind)
 WHERE r.rule_name LIKE 'typ.%'
   AND (SELECT array_agg(x ORDER BY x) FROM jsonb_object_keys(r.params) x)
	   IS DISTINCT FROM (SELECT array_agg(x ORDER BY x) FROM jsonb_object_keys(k.parameters) x);
-- The categories exist (JR/T 0199 5.3.2).
SELECT DISTINCT r.category, c.family, c.clause FROM finsec.monitor_rule r JOIN finsec.risk_category c USING (category)
 WHERE r.rule_name LIKE 'typ.%' ORDER BY 1;

-- A registered table the events come from (the core's enable_monitoring
-- does this; here by hand) and a dollar rate.
CREATE TABLE typ_pay (id bigserial PRIMARY KEY, c text, a numeric, t timestamptz);
INSERT INTO finsec.monitor_table (relid, customer_column, amount_column, posted_at_column, position, enabled_by)
VALUES ('typ_pay', 'c', 'a', 't', pg_current_snapshot(), current_user);
INSERT INTO finsec.currency_rate (currency, valid_from, cny_per_unit) VALUES ('USD', '2025-01-01', 7.1);

-- ev(batch, customer, local time, direction, amount[, currency, counterparty, account, succeeded,
-- customer type]): customers and accounts get the prefix "typ:" (other
-- tests' histories hold other names), which hits() takes off again.
CREATE FUNCTION pg_temp.ev(b bigint, cust text, at timestamptz, dir text, amt numeric,
						   cur text DEFAULT 'CNY', cp text DEFAULT NULL, acct text DEFAULT NULL,
						   ok boolean DEFAULT true, ctype text DEFAULT 'natural')
RETURNS bigint LANGUAGE sql AS $$
	INSERT INTO finsec.monitor_event (event_id, table_id, batch_id, stamp, at, customer, customer_type,
									  account, counterparty, direction, succeeded, currency, amount, amount_cny)
	SELECT nextval('finsec.monitor_event_id_seq'), t.table_id, b, pg_current_xact_id(), at, 'typ:' || cust, ctype,
		   'typ:' || acct, cp, dir, ok, cur, amt, finsec.monitor_convert(amt, cur, finsec._monitor_day(at))
	  FROM finsec.monitor_table t WHERE t.relid = 'typ_pay'::regclass
	RETURNING event_id
$$;
-- A rule: the active version of a name, or a variant with other params/window/entity.
CREATE FUNCTION pg_temp.rule(name text, p_params jsonb DEFAULT '{}', win interval DEFAULT NULL, ent text DEFAULT NULL)
RETURNS finsec.monitor_rule LANGUAGE sql AS $$
	SELECT (r.rule_name, r.version, r.kind, coalesce(ent, r.entity), coalesce(win, r.time_window),
			r.params || p_params, r.category, r.severity, r.shadow, r.action, r.state, r.description,
			r.created_by, r.created_at, r.request_id, r.approved_by, r.activated_at, r.retired_at)::finsec.monitor_rule
	  FROM finsec.monitor_rule r WHERE r.rule_name = name AND r.state = 'active'
$$;
-- Hits of a rule over batch b: entity, period, hit_at, number of events,
-- amount, value and the detail without the timestamps.
CREATE FUNCTION pg_temp.hits(r finsec.monitor_rule, b bigint)
RETURNS TABLE (entity text, period text, hit_at timestamptz, n integer, amount numeric, value numeric, detail jsonb)
LANGUAGE plpgsql AS $$
DECLARE
	lo bigint; hi bigint; ev regprocedure;
BEGIN
	SELECT min(e.event_id), max(e.event_id) INTO lo, hi FROM finsec.monitor_event e JOIN finsec.monitor_table t USING (table_id)
	 WHERE e.batch_id = b AND t.relid = 'typ_pay'::regclass;
	SELECT evaluator INTO ev FROM finsec.monitor_rule_kind k WHERE k.kind = r.kind;
	RETURN QUERY EXECUTE format('SELECT substr(h.entity, 5), h.period, h.hit_at, cardinality(h.events), h.amount, h.value,
		h.detail - ''first_at'' - ''last_at'' - ''reactivated_at'' - ''idle_since'' FROM %s($1, $2, $3) h
		ORDER BY h.entity, h.period, h.hit_at', ev::regproc) USING r, lo, hi;
END
$$;

-- ---------------------------------------------------------------------
-- structuring: 3 payments in [45,000, 50,000) CNY within 24 hours, per
-- direction.
-- ---------------------------------------------------------------------
SELECT count(pg_temp.ev(1, c, at, dir, amt, cur)) FROM (VALUES
	-- s1: three outgoing in the band: fires (45,000 and 49,999.99 are in it).
	('s1', timestamptz '2026-03-02 09:00', 'out', 45000.00, 'CNY'),
	('s1', '2026-03-02 12:00', 'out', 49999.99, 'CNY'),
	('s1', '2026-03-02 18:00', 'out', 46000, 'CNY'),
	-- s2: two in the band, one at the threshold, one just below the band: quiet.
	('s2', '2026-03-02 09:00', 'out', 45000, 'CNY'),
	('s2', '2026-03-02 10:00', 'out', 49000, 'CNY'),
	('s2', '2026-03-02 11:00', 'out', 50000, 'CNY'),
	('s2', '2026-03-02 12:00', 'out', 44999.99, 'CNY'),
	-- s3: two out and one in: quiet (per direction); s4: three in: fires.
	('s3', '2026-03-02 09:00', 'out', 47000, 'CNY'),
	('s3', '2026-03-02 10:00', 'out', 47000, 'CNY'),
	('s3', '2026-03-02 11:00', 'in', 47000, 'CNY'),
	('s4', '2026-03-02 09:00', 'in', 47000, 'CNY'),
	('s4', '2026-03-02 10:00', 'in', 47000, 'CNY'),
	('s4', '2026-03-02 11:00', 'in', 47000, 'CNY'),
	-- s5: the third 24 hours after the first: quiet; s6: a second less: fires,
	-- and across midnight its period is the day of the first payment.
	('s5', '2026-03-02 20:00', 'out', 48000, 'CNY'),
	('s5', '2026-03-03 01:00', 'out', 48000, 'CNY'),
	('s5', '2026-03-03 20:00', 'out', 48000, 'CNY'),
	('s6', '2026-03-02 20:00', 'out', 48000, 'CNY'),
	('s6', '2026-03-03 01:00', 'out', 48000, 'CNY'),
	('s6', '2026-03-03 19:59:59', 'out', 48000, 'CNY'),
	-- s7: dollars at 7.1: 6,338.02 USD = 44,999.94 CNY is below the band,
	-- 6,338.03 USD = 45,000.01 CNY in it, 7,042.25 USD = 49,999.98 CNY in it;
	-- s8: 7,042.26 USD = 50,000.05 CNY is at the threshold: quiet.
	('s7', '2026-03-02 09:00', 'out', 6338.02, 'USD'),
	('s7', '2026-03-02 10:00', 'out', 6338.03, 'USD'),
	('s7', '2026-03-02 11:00', 'out', 7042.25, 'USD'),
	('s7', '2026-03-02 12:00', 'out', 45000, 'CNY'),
	('s8', '2026-03-02 10:00', 'out', 6338.03, 'USD'),
	('s8', '2026-03-02 11:00', 'out', 7042.26, 'USD'),
	('s8', '2026-03-02 12:00', 'out', 45000, 'CNY')
) v(c, at, dir, amt, cur);
-- A failed payment does not count: s9 has two and a failed third.
SELECT pg_temp.ev(1, 's9', '2026-03-02 09:00', 'out', 47000) IS NOT NULL,
	   pg_temp.ev(1, 's9', '2026-03-02 10:00', 'out', 47000) IS NOT NULL,
	   pg_temp.ev(1, 's9', '2026-03-02 11:00', 'out', 47000, ok => false) IS NOT NULL;
-- sl: a legal person (non-natural person) structuring.
SELECT count(pg_temp.ev(1, 'sl', '2026-03-02 09:00'::timestamptz + i * interval '1 hour', 'out', 47000, ctype => 'legal'))
  FROM generate_series(1, 3) i;
SELECT * FROM pg_temp.hits(pg_temp.rule('typ.structuring'), 1);
CREATE TEMP TABLE typ_batch1 AS SELECT * FROM pg_temp.hits(pg_temp.rule('typ.structuring'), 1);
-- Direction 'in' counts s4 only; min_count 4 counts nobody; the band
-- widened to 20 % ([40,000, 50,000)) takes in s2's 44,999.99 and s7's
-- 44,999.94 (s7 then has 4).
SELECT entity FROM pg_temp.hits(pg_temp.rule('typ.structuring', '{"direction": "in"}'), 1);
SELECT entity FROM pg_temp.hits(pg_temp.rule('typ.structuring', '{"min_count": 4}'), 1);
SELECT entity FROM pg_temp.hits(pg_temp.rule('typ.structuring', '{"margin": 0.2}'), 1);
-- Per customer type: natural persons only, legal persons only.
SELECT entity FROM pg_temp.hits(pg_temp.rule('typ.structuring', '{"customer_type": "natural"}'), 1);
SELECT entity FROM pg_temp.hits(pg_temp.rule('typ.structuring', '{"customer_type": "legal"}'), 1);
-- Per account: the same payments keyed by account (NULL accounts are nobody's).
SELECT count(pg_temp.ev(2, 'x' || i, '2026-03-04 09:00'::timestamptz + i * interval '1 hour', 'out', 47000, acct => 'acc-s'))
  FROM generate_series(1, 3) i;
SELECT entity, n FROM pg_temp.hits(pg_temp.rule('typ.structuring', ent => 'account'), 2);
SELECT entity, n FROM pg_temp.hits(pg_temp.rule('typ.structuring'), 2);

-- ---------------------------------------------------------------------
-- rapid_in_out: at an outgoing payment, inflow >= 100,000 CNY in the last
-- 24 hours and outflow >= 80 % of it.
-- ---------------------------------------------------------------------
SELECT count(pg_temp.ev(3, c, at, dir, amt, cur)) FROM (VALUES
	-- r1: 100,000 in, 80,000 out in two payments: fires at the second.
	('r1', timestamptz '2026-03-05 09:00', 'in', 100000, 'CNY'),
	('r1', '2026-03-05 11:00', 'out', 50000, 'CNY'),
	('r1', '2026-03-05 15:00', 'out', 30000, 'CNY'),
	-- r2: 79,999.99 out: quiet.
	('r2', '2026-03-05 09:00', 'in', 100000, 'CNY'),
	('r2', '2026-03-05 11:00', 'out', 79999.99, 'CNY'),
	-- r3: 99,999.99 in, all of it out: quiet (inflow below 100,000).
	('r3', '2026-03-05 09:00', 'in', 99999.99, 'CNY'),
	('r3', '2026-03-05 11:00', 'out', 99999.99, 'CNY'),
	-- r4: the outflow 24 hours after the inflow: quiet; r5: a second less: fires.
	('r4', '2026-03-05 09:00', 'in', 100000, 'CNY'),
	('r4', '2026-03-06 09:00', 'out', 100000, 'CNY'),
	('r5', '2026-03-05 09:00', 'in', 100000, 'CNY'),
	('r5', '2026-03-06 08:59:59', 'out', 100000, 'CNY'),
	-- r6: out first, then in: the last payment is an inflow: quiet.
	('r6', '2026-03-05 09:00', 'out', 100000, 'CNY'),
	('r6', '2026-03-05 10:00', 'in', 100000, 'CNY'),
	-- r7: 14,084.51 USD in = 100,000.02 CNY, 80,000.02 CNY out: fires;
	-- r8: 14,084.50 USD = 99,999.95 CNY: quiet.
	('r7', '2026-03-05 09:00', 'in', 14084.51, 'USD'),
	('r7', '2026-03-05 10:00', 'out', 80000.02, 'CNY'),
	('r8', '2026-03-05 09:00', 'in', 14084.50, 'USD'),
	('r8', '2026-03-05 10:00', 'out', 99999.95, 'CNY')
) v(c, at, dir, amt, cur);
SELECT * FROM pg_temp.hits(pg_temp.rule('typ.rapid_in_out'), 3);
-- ratio 0.9 leaves r1 (0.8) out; a 12-hour window leaves r5 out.
SELECT entity, value FROM pg_temp.hits(pg_temp.rule('typ.rapid_in_out', '{"ratio": 0.9}'), 3);
SELECT entity, value FROM pg_temp.hits(pg_temp.rule('typ.rapid_in_out', win => '12 hours'), 3);

-- ---------------------------------------------------------------------
-- fan_in / fan_out: 10 distinct counterparties into / out of one account
-- in 24 hours.
-- ---------------------------------------------------------------------
-- f1: 10 payers: fires; f2: 9 payers, one of them twice: quiet;
-- f3: 10 payers, the 10th exactly 24 hours after the first: quiet;
-- f4: payer p0 at 00:00 and again at 23:00, 9 others after midnight (p0's
-- second payment keeps it in the window of the last): fires, period the
-- day of the window's first payment; f5: as f4 without p0's second
-- payment: quiet (p0 left the window).
SELECT count(*) FROM (
	SELECT pg_temp.ev(4, 'cf1', '2026-03-06 10:00'::timestamptz + i * interval '1 minute', 'in', 100, cp => 'p' || i, acct => 'f1')
	  FROM generate_series(0, 9) i
	UNION ALL
	SELECT pg_temp.ev(4, 'cf2', '2026-03-06 10:00'::timestamptz + i * interval '1 minute', 'in', 100, cp => 'p' || least(i, 8), acct => 'f2')
	  FROM generate_series(0, 9) i
	UNION ALL
	SELECT pg_temp.ev(4, 'cf3', '2026-03-06 10:00'::timestamptz + CASE WHEN i = 9 THEN interval '24 hours' ELSE i * interval '1 minute' END,
					  'in', 100, cp => 'p' || i, acct => 'f3')
	  FROM generate_series(0, 9) i
	UNION ALL
	SELECT pg_temp.ev(4, 'cf4', t, 'in', 100, cp => p, acct => 'f4')
	  FROM (VALUES (timestamptz '2026-03-06 00:00', 'p0'), ('2026-03-06 23:00', 'p0')) v(t, p)
	UNION ALL
	SELECT pg_temp.ev(4, 'cf4', '2026-03-07 00:30'::timestamptz + i * interval '1 minute', 'in', 100, cp => 'p' || i, acct => 'f4')
	  FROM generate_series(1, 9) i
	UNION ALL
	SELECT pg_temp.ev(4, 'cf5', '2026-03-06 00:00', 'in', 100, cp => 'p0', acct => 'f5')
	UNION ALL
	SELECT pg_temp.ev(4, 'cf5', '2026-03-07 00:30'::timestamptz + i * interval '1 minute', 'in', 100, cp => 'p' || i, acct => 'f5')
	  FROM generate_series(1, 9) i
	UNION ALL
	-- o1: pays 10 payees: fan_out fires, fan_in does not; o2: 9 payees: quiet.
	SELECT pg_temp.ev(4, 'co1', '2026-03-06 10:00'::timestamptz + i * interval '1 minute', 'out', 6000, cp => 'q' || i, acct => 'o1')
	  FROM generate_series(0, 9) i
	UNION ALL
	SELECT pg_temp.ev(4, 'co2', '2026-03-06 10:00'::timestamptz + i * interval '1 minute', 'out', 6000, cp => 'q' || i, acct => 'o2')
	  FROM generate_series(0, 8) i
) x;
SELECT * FROM pg_temp.hits(pg_temp.rule('typ.fan_in'), 4);
SELECT * FROM pg_temp.hits(pg_temp.rule('typ.fan_out'), 4);
-- min_amount: o1 paid 60,000 CNY: 60,000 fires, 60,000.01 does not; per customer.
SELECT entity FROM pg_temp.hits(pg_temp.rule('typ.fan_out', '{"min_amount": 60000}'), 4);
SELECT entity FROM pg_temp.hits(pg_temp.rule('typ.fan_out', '{"min_amount": 60000.01}'), 4);
SELECT entity FROM pg_temp.hits(pg_temp.rule('typ.fan_in', ent => 'customer'), 4);

-- ---------------------------------------------------------------------
-- dormant_reactivated: no event for 6 months, then 3 payments or
-- 50,000 CNY within 7 days.  History (batch 10), then new events (11).
-- ---------------------------------------------------------------------
SELECT count(pg_temp.ev(10, c, at, 'out', 100)) FROM (VALUES
	('d1', timestamptz '2025-09-01 10:00'), ('d2', '2025-09-02 10:00'), ('d3', '2025-09-01 10:00'),
	('d4', '2025-09-01 10:00'), ('d5', '2025-09-01 10:00'), ('d6', '2025-09-01 10:00'),
	('d7', '2025-09-01 10:00')) v(c, at);
-- d7 had a failed attempt in between: activity all the same.
SELECT pg_temp.ev(10, 'd7', '2025-12-01 10:00', 'out', 100, ok => false) IS NOT NULL;
SELECT count(pg_temp.ev(11, c, at, dir, amt, cur)) FROM (VALUES
	-- d1: idle exactly 6 months, then 3 payments: fires;
	-- d2: idle 6 months less a day: quiet.
	('d1', timestamptz '2026-03-01 10:00', 'in', 100, 'CNY'),
	('d1', '2026-03-02 10:00', 'out', 100, 'CNY'),
	('d1', '2026-03-03 10:00', 'out', 100, 'CNY'),
	('d2', '2026-03-01 10:00', 'in', 100, 'CNY'),
	('d2', '2026-03-02 10:00', 'out', 100, 'CNY'),
	('d2', '2026-03-03 10:00', 'out', 100, 'CNY'),
	-- d3: 2 payments: quiet; d4: the third 7 days after the first: quiet.
	('d3', '2026-03-01 10:00', 'out', 100, 'CNY'),
	('d3', '2026-03-02 10:00', 'out', 100, 'CNY'),
	('d4', '2026-03-01 10:00', 'out', 100, 'CNY'),
	('d4', '2026-03-02 10:00', 'out', 100, 'CNY'),
	('d4', '2026-03-08 10:00', 'out', 100, 'CNY'),
	-- d5: one payment of 7,042.26 USD = 50,000.05 CNY: fires;
	-- d6: 7,042.25 USD = 49,999.98 CNY: quiet.
	('d5', '2026-03-01 10:00', 'out', 7042.26, 'USD'),
	('d6', '2026-03-01 10:00', 'out', 7042.25, 'USD'),
	-- d7: last active 2025-12-01: quiet.
	('d7', '2026-03-01 10:00', 'out', 100, 'CNY'),
	('d7', '2026-03-02 10:00', 'out', 100, 'CNY'),
	('d7', '2026-03-03 10:00', 'out', 100, 'CNY'),
	-- d8: no history at all is new, not dormant: quiet.
	('d8', '2026-03-01 10:00', 'out', 100000, 'CNY'),
	('d8', '2026-03-02 10:00', 'out', 100, 'CNY'),
	('d8', '2026-03-03 10:00', 'out', 100, 'CNY')
) v(c, at, dir, amt, cur);
SELECT * FROM pg_temp.hits(pg_temp.rule('typ.dormant_reactivated'), 11);
-- dormancy 3 months takes in d7 (idle 3 months since its failed attempt)
-- and d2; min_count 4 leaves only d5 (by amount).
SELECT entity FROM pg_temp.hits(pg_temp.rule('typ.dormant_reactivated', '{"dormancy": "3 months"}'), 11);
SELECT entity FROM pg_temp.hits(pg_temp.rule('typ.dormant_reactivated', '{"min_count": 4}'), 11);

-- ---------------------------------------------------------------------
-- night_burst: 5 payments of one direction, or 200,000 CNY, between
-- 00:00 and 06:00 local time (Asia/Shanghai).
-- ---------------------------------------------------------------------
SELECT count(pg_temp.ev(12, c, at, dir, amt, cur)) FROM (VALUES
	-- n1: 00:00, 01:00, 02:00, 03:00, 05:59:59: fires.
	('n1', timestamptz '2026-03-10 00:00', 'out', 100, 'CNY'),
	('n1', '2026-03-10 01:00', 'out', 100, 'CNY'),
	('n1', '2026-03-10 02:00', 'out', 100, 'CNY'),
	('n1', '2026-03-10 03:00', 'out', 100, 'CNY'),
	('n1', '2026-03-10 05:59:59', 'out', 100, 'CNY'),
	-- n2: the fifth at 06:00: quiet; n3: the first at 23:59:59 the evening before: quiet.
	('n2', '2026-03-10 00:00', 'out', 100, 'CNY'),
	('n2', '2026-03-10 01:00', 'out', 100, 'CNY'),
	('n2', '2026-03-10 02:00', 'out', 100, 'CNY'),
	('n2', '2026-03-10 03:00', 'out', 100, 'CNY'),
	('n2', '2026-03-10 06:00', 'out', 100, 'CNY'),
	('n3', '2026-03-09 23:59:59', 'out', 100, 'CNY'),
	('n3', '2026-03-10 01:00', 'out', 100, 'CNY'),
	('n3', '2026-03-10 02:00', 'out', 100, 'CNY'),
	('n3', '2026-03-10 03:00', 'out', 100, 'CNY'),
	('n3', '2026-03-10 04:00', 'out', 100, 'CNY'),
	-- n4: 3 out and 2 in: quiet (per direction); n5: 5 in: fires.
	('n4', '2026-03-10 01:00', 'out', 100, 'CNY'),
	('n4', '2026-03-10 01:10', 'out', 100, 'CNY'),
	('n4', '2026-03-10 01:20', 'out', 100, 'CNY'),
	('n4', '2026-03-10 01:30', 'in', 100, 'CNY'),
	('n4', '2026-03-10 01:40', 'in', 100, 'CNY'),
	('n5', '2026-03-10 01:00', 'in', 100, 'CNY'),
	('n5', '2026-03-10 01:10', 'in', 100, 'CNY'),
	('n5', '2026-03-10 01:20', 'in', 100, 'CNY'),
	('n5', '2026-03-10 01:30', 'in', 100, 'CNY'),
	('n5', '2026-03-10 01:40', 'in', 100, 'CNY'),
	-- n6: 28,169.02 USD = 200,000.04 CNY at 02:00: fires by amount;
	-- n7: 28,169.01 USD = 199,999.97 CNY: quiet.
	('n6', '2026-03-10 02:00', 'out', 28169.02, 'USD'),
	('n7', '2026-03-10 02:00', 'out', 28169.01, 'USD')
) v(c, at, dir, amt, cur);
SELECT * FROM pg_temp.hits(pg_temp.rule('typ.night_burst'), 12);
-- The night is the local one (finsec.monitor_timezone, Asia/Shanghai):
-- n1's payments are at 16:00-21:59:59 UTC, and a night of 16:00-22:00
-- sees none of them; nor does the session's time zone matter.
SELECT entity FROM pg_temp.hits(pg_temp.rule('typ.night_burst', '{"night_start": "16:00", "night_end": "22:00"}'), 12);
SET timezone = 'UTC';
SELECT entity, period FROM pg_temp.hits(pg_temp.rule('typ.night_burst'), 12);
SET timezone = 'Asia/Shanghai';
-- A night across midnight, 22:00-06:00: n3's 23:59:59 counts, period the
-- evening's day.
SELECT entity, period, n FROM pg_temp.hits(pg_temp.rule('typ.night_burst', '{"night_start": "22:00"}'), 12);
-- Night hours that are no times, or equal, a direction or entity the
-- kinds do not know: the evaluation fails with its SQLSTATE (the core
-- records the failure and goes on with the other rules).
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;
-- The core's check refuses a customer type or direction outside the
-- kind's values when a rule is stored, and fills in the defaults.
SELECT pg_temp.try($$SELECT finsec.monitor_rule_draft('x.typ_draft', '{"kind": "structuring", "entity": "customer", "params": {"customer_type": "robot"}}')$$);
SELECT pg_temp.try($$SELECT finsec.monitor_rule_draft('x.typ_draft', '{"kind": "night_burst", "entity": "account", "params": {"direction": "both"}}')$$);
SELECT pg_temp.try($$SELECT finsec.monitor_rule_draft('x.typ_draft', '{"kind": "fan_in", "entity": "device"}')$$);
SELECT finsec.monitor_rule_draft('x.typ_draft', '{"kind": "rapid_in_out", "entity": "account", "params": {"ratio": 0.9}}');
SELECT kind, entity, params, state FROM finsec.monitor_rule WHERE rule_name = 'x.typ_draft';
SELECT pg_temp.try(q) FROM (VALUES
	($$SELECT * FROM pg_temp.hits(pg_temp.rule('typ.night_burst', '{"night_start": "25:00"}'), 12)$$),
	($$SELECT * FROM pg_temp.hits(pg_temp.rule('typ.night_burst', '{"night_start": "late"}'), 12)$$),
	($$SELECT * FROM pg_temp.hits(pg_temp.rule('typ.night_burst', '{"night_end": "00:00"}'), 12)$$),
	($$SELECT * FROM pg_temp.hits(pg_temp.rule('typ.night_burst', '{"night_end": "01:00"}'), 12)$$),
	($$SELECT * FROM pg_temp.hits(pg_temp.rule('typ.structuring', '{"direction": "sideways"}'), 1)$$),
	($$SELECT * FROM pg_temp.hits(pg_temp.rule('typ.night_burst', '{"direction": "both"}'), 12)$$),
	($$SELECT * FROM pg_temp.hits(pg_temp.rule('typ.structuring', ent => 'device'), 1)$$),
	($$SELECT * FROM pg_temp.hits(pg_temp.rule('typ.fan_in', ent => 'counterparty'), 4)$$)) v(q);

-- ---------------------------------------------------------------------
-- Later batches: stable hits, history bounded by last_event.
-- ---------------------------------------------------------------------
-- s1 completed its pattern in batch 1.  A payment outside the band in a
-- later batch raises nothing; another in the band the next morning is the
-- same pattern: the same period (the day of the window's first payment),
-- so the core extends the alert of batch 1 instead of raising a second.
SELECT pg_temp.ev(20, 's1', '2026-03-02 20:00', 'out', 100) IS NOT NULL;
SELECT * FROM pg_temp.hits(pg_temp.rule('typ.structuring'), 20);
SELECT pg_temp.ev(21, 's1', '2026-03-03 08:00', 'out', 47000) IS NOT NULL;
SELECT entity, period, hit_at, n FROM pg_temp.hits(pg_temp.rule('typ.structuring'), 21);
-- A payment posted earlier than the ones already processed (a late
-- committer): s2's 08:00 completes a window ending at its old 10:00 payment.
SELECT pg_temp.ev(22, 's2', '2026-03-02 08:00', 'out', 47000) IS NOT NULL;
SELECT entity, period, hit_at, n FROM pg_temp.hits(pg_temp.rule('typ.structuring'), 22);
-- Replaying batch 1 now gives what it gave then: later events are not read.
SELECT count(*) AS differences FROM (
	(SELECT * FROM pg_temp.hits(pg_temp.rule('typ.structuring'), 1) EXCEPT SELECT * FROM typ_batch1)
	UNION ALL
	(SELECT * FROM typ_batch1 EXCEPT SELECT * FROM pg_temp.hits(pg_temp.rule('typ.structuring'), 1))) d;
-- Each hit is the same whatever the other entities of the batch: batch 1
-- evaluated on s1's events alone gives s1's hit.
SELECT h.entity, h.period, cardinality(h.events) FROM finsec._monitor_eval_structuring(pg_temp.rule('typ.structuring'),
	(SELECT min(event_id) FROM finsec.monitor_event WHERE batch_id = 1 AND customer = 'typ:s1'),
	(SELECT max(event_id) FROM finsec.monitor_event WHERE batch_id = 1 AND customer = 'typ:s1')) h;

-- ---------------------------------------------------------------------
-- Through the indexes: 200,000 background events of 20,000 customers; a
-- batch of 100 new events; every evaluator reads monitor_event through
-- its indexes, never by a sequential scan.
-- ---------------------------------------------------------------------
INSERT INTO finsec.monitor_event (event_id, table_id, batch_id, stamp, at, customer, customer_type,
								  account, counterparty, direction, currency, amount, amount_cny)
SELECT nextval('finsec.monitor_event_id_seq'), (SELECT table_id FROM finsec.monitor_table WHERE relid = 'typ_pay'::regclass),
	   30, pg_current_xact_id(), timestamptz '2026-01-01' + i * interval '37 seconds', 'typ:bg' || (i % 20000), 'natural',
	   'typ:bga' || (i % 20000), 'bgc' || (i % 997), CASE WHEN i % 3 = 0 THEN 'in' ELSE 'out' END, 'CNY',
	   (i % 90000) + 1, (i % 90000) + 1
  FROM generate_series(1, 200000) i;
INSERT INTO finsec.monitor_event (event_id, table_id, batch_id, stamp, at, customer, customer_type,
								  account, counterparty, direction, currency, amount, amount_cny)
SELECT nextval('finsec.monitor_event_id_seq'), (SELECT table_id FROM finsec.monitor_table WHERE relid = 'typ_pay'::regclass),
	   31, pg_current_xact_id(), timestamptz '2026-03-20' + i * interval '1 minute', 'typ:bg' || (i * 7), 'natural',
	   'typ:bga' || (i * 7), 'bgc' || i, CASE WHEN i % 2 = 0 THEN 'in' ELSE 'out' END, 'CNY', 47000, 47000
  FROM generate_series(1, 100) i;
-- In the same batch, planted: bg7 structures, bg14 bursts at night,
-- bg21 fans out.
SELECT count(*) FROM (
	SELECT pg_temp.ev(31, 'bg7', '2026-03-21 10:00'::timestamptz + i * interval '1 minute', 'out', 48000, acct => 'bga7')
	  FROM generate_series(1, 3) i
	UNION ALL
	SELECT pg_temp.ev(31, 'bg14', '2026-03-21 01:00'::timestamptz + i * interval '1 minute', 'in', 10, acct => 'bga14')
	  FROM generate_series(1, 5) i
	UNION ALL
	SELECT pg_temp.ev(31, 'bg21', '2026-03-21 12:00'::timestamptz + i * interval '1 minute', 'out', 10, cp => 'bgp' || i, acct => 'bga21')
	  FROM generate_series(1, 10) i) x;
ANALYZE finsec.monitor_event;
BEGIN;
SELECT r.rule_name, (SELECT count(*) FROM pg_temp.hits(pg_temp.rule(r.rule_name), 31)) AS per_customer,
	   (SELECT count(*) FROM pg_temp.hits(pg_temp.rule(r.rule_name, ent => 'account'), 31)) AS per_account
  FROM finsec.monitor_rule r WHERE r.rule_name LIKE 'typ.%' ORDER BY 1;
SELECT seq_scan, idx_scan > 0 AS by_index FROM pg_stat_xact_user_tables WHERE relid = 'finsec.monitor_event'::regclass;
COMMIT;

-- =====================================================================
-- Part 2, end to end: a payments table, enable_monitoring, INSERT,
-- monitor_now(), finsec.alert.  The hand-made history above goes first.
-- Days are relative to "day 0", local midnight 40 days ago, so that the
-- monitor's pruning (finsec.monitor_event_retention, 400 days) never
-- reaches the history.
-- =====================================================================
CREATE FUNCTION pg_temp.t(d integer, hm text) RETURNS timestamptz LANGUAGE sql STABLE AS $$
	SELECT (date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai') - interval '40 days' + d * interval '1 day'
			+ hm::interval) AT TIME ZONE 'Asia/Shanghai'
$$;
DELETE FROM finsec.monitor_event WHERE table_id = (SELECT table_id FROM finsec.monitor_table WHERE relid = 'typ_pay'::regclass);
DELETE FROM finsec.monitor_table WHERE relid = 'typ_pay'::regclass;
CREATE TABLE typ_e2e (
	id bigserial PRIMARY KEY,
	cust text NOT NULL,
	acct text,
	cp text,
	amount numeric NOT NULL,
	cur text NOT NULL DEFAULT 'CNY',
	dir text NOT NULL DEFAULT 'out',
	at timestamptz NOT NULL,
	ok boolean NOT NULL DEFAULT true,
	ctype text NOT NULL DEFAULT 'natural'
);
SELECT finsec.enable_monitoring('typ_e2e', customer => 'cust', amount => 'amount', posted_at => 'at',
								account => 'acct', counterparty => 'cp', currency => 'cur',
								direction => 'dir', status => 'ok', customer_type => 'ctype');
CREATE FUNCTION pg_temp.round() RETURNS integer LANGUAGE sql AS $$
	SELECT sum(payments)::integer FROM finsec.monitor_now() WHERE relid = 'typ_e2e'::regclass
$$;
-- Periods are shown as days after day 0.
CREATE VIEW pg_temp.typ_alerts AS
	SELECT rule_name, entity_type, entity, period::date - pg_temp.t(0, '00:00')::date AS day, hits,
		   cardinality(events) AS events, value, state, case_id IS NOT NULL AS in_case
	  FROM finsec.alert WHERE rule_name LIKE 'typ.%'
	   AND table_id = (SELECT table_id FROM finsec.monitor_table WHERE relid = 'typ_e2e'::regclass);

-- The history of the dormant customers, 6 months before day 0 and 6
-- months less a day.
INSERT INTO typ_e2e (cust, amount, at) VALUES
	('te8', 100, pg_temp.t(0, '10:00') - interval '6 months'),
	('te9', 100, pg_temp.t(0, '10:00') - interval '6 months' + interval '1 day');
SELECT pg_temp.round() AS payments;

-- Every kind at its boundary (fires) and just below (quiet).
INSERT INTO typ_e2e (cust, acct, cp, amount, cur, dir, at) VALUES
	-- structuring: te1 three payments in the band, te2 two; te12 with 6,338.03 USD
	-- (45,000.01 CNY) fires, te13 with 6,338.02 USD (44,999.94 CNY) does not.
	('te1', NULL, NULL, 47000, 'CNY', 'out', pg_temp.t(1, '09:00')),
	('te1', NULL, NULL, 48000, 'CNY', 'out', pg_temp.t(1, '10:00')),
	('te1', NULL, NULL, 49999.99, 'CNY', 'out', pg_temp.t(1, '11:00')),
	('te2', NULL, NULL, 47000, 'CNY', 'out', pg_temp.t(1, '09:00')),
	('te2', NULL, NULL, 48000, 'CNY', 'out', pg_temp.t(1, '10:00')),
	('te2', NULL, NULL, 50000, 'CNY', 'out', pg_temp.t(1, '11:00')),
	('te12', NULL, NULL, 47000, 'CNY', 'in', pg_temp.t(1, '09:00')),
	('te12', NULL, NULL, 47000, 'CNY', 'in', pg_temp.t(1, '10:00')),
	('te12', NULL, NULL, 6338.03, 'USD', 'in', pg_temp.t(1, '11:00')),
	('te13', NULL, NULL, 47000, 'CNY', 'in', pg_temp.t(1, '09:00')),
	('te13', NULL, NULL, 47000, 'CNY', 'in', pg_temp.t(1, '10:00')),
	('te13', NULL, NULL, 6338.02, 'USD', 'in', pg_temp.t(1, '11:00')),
	-- rapid_in_out: te3 80 % out again, te4 a fen less.
	('te3', NULL, NULL, 100000, 'CNY', 'in', pg_temp.t(2, '09:00')),
	('te3', NULL, NULL, 80000, 'CNY', 'out', pg_temp.t(2, '15:00')),
	('te4', NULL, NULL, 100000, 'CNY', 'in', pg_temp.t(2, '09:00')),
	('te4', NULL, NULL, 79999.99, 'CNY', 'out', pg_temp.t(2, '15:00')),
	-- dormant: te8 idle exactly 6 months, te9 a day less; three payments each.
	('te8', NULL, NULL, 100, 'CNY', 'out', pg_temp.t(0, '10:00')),
	('te8', NULL, NULL, 100, 'CNY', 'out', pg_temp.t(1, '10:00')),
	('te8', NULL, NULL, 100, 'CNY', 'out', pg_temp.t(2, '10:00')),
	('te9', NULL, NULL, 100, 'CNY', 'out', pg_temp.t(0, '10:00')),
	('te9', NULL, NULL, 100, 'CNY', 'out', pg_temp.t(1, '10:00')),
	('te9', NULL, NULL, 100, 'CNY', 'out', pg_temp.t(2, '10:00')),
	-- night_burst: te10 five payments 00:00-05:59:59, te11 the fifth at 06:00.
	('te10', NULL, NULL, 100, 'CNY', 'out', pg_temp.t(3, '00:00')),
	('te10', NULL, NULL, 100, 'CNY', 'out', pg_temp.t(3, '01:00')),
	('te10', NULL, NULL, 100, 'CNY', 'out', pg_temp.t(3, '02:00')),
	('te10', NULL, NULL, 100, 'CNY', 'out', pg_temp.t(3, '03:00')),
	('te10', NULL, NULL, 100, 'CNY', 'out', pg_temp.t(3, '05:59:59')),
	('te11', NULL, NULL, 100, 'CNY', 'out', pg_temp.t(3, '00:00')),
	('te11', NULL, NULL, 100, 'CNY', 'out', pg_temp.t(3, '01:00')),
	('te11', NULL, NULL, 100, 'CNY', 'out', pg_temp.t(3, '02:00')),
	('te11', NULL, NULL, 100, 'CNY', 'out', pg_temp.t(3, '03:00')),
	('te11', NULL, NULL, 100, 'CNY', 'out', pg_temp.t(3, '06:00'));
-- Unvalued amounts (NaN, Infinity: the core records no CNY amount) count
-- in no sum: te16 receives 100,000 and Infinity, pays out NaN: quiet.
INSERT INTO typ_e2e (cust, amount, dir, at) VALUES
	('te16', 100000, 'in', pg_temp.t(2, '09:00')), ('te16', 'Infinity', 'in', pg_temp.t(2, '10:00')),
	('te16', 'NaN', 'out', pg_temp.t(2, '11:00')), ('te16', 1000, 'out', pg_temp.t(2, '12:00'));
-- A legal person structuring: te15 fires like a natural one.
INSERT INTO typ_e2e (cust, amount, at, ctype)
SELECT 'te15', 47000, pg_temp.t(1, '09:00') + i * interval '1 hour', 'legal' FROM generate_series(1, 3) i;
-- fan_in: account tea5 paid by 10 payers, tea6 by 9; fan_out: tea7 pays 10, tea8 9.
INSERT INTO typ_e2e (cust, acct, cp, amount, dir, at)
SELECT 'te5', 'tea5', 'p' || i, 100, 'in', pg_temp.t(4, '10:00') + i * interval '1 minute' FROM generate_series(1, 10) i
UNION ALL
SELECT 'te6', 'tea6', 'p' || i, 100, 'in', pg_temp.t(4, '10:00') + i * interval '1 minute' FROM generate_series(1, 9) i
UNION ALL
SELECT 'te7', 'tea7', 'q' || i, 100, 'out', pg_temp.t(4, '10:00') + i * interval '1 minute' FROM generate_series(1, 10) i
UNION ALL
SELECT 'te14', 'tea8', 'q' || i, 100, 'out', pg_temp.t(4, '10:00') + i * interval '1 minute' FROM generate_series(1, 9) i;
SELECT pg_temp.round() AS payments;
SELECT * FROM pg_temp.typ_alerts ORDER BY rule_name, entity;

-- Dedup across batches: te1's pattern is extended by one more payment in
-- the band the next morning (same period: one alert, hits 2); a payment
-- outside the band changes nothing.
INSERT INTO typ_e2e (cust, amount, at) VALUES ('te1', 100, pg_temp.t(1, '12:00'));
SELECT pg_temp.round() AS payments;
INSERT INTO typ_e2e (cust, amount, at) VALUES ('te1', 46000, pg_temp.t(2, '08:00'));
SELECT pg_temp.round() AS payments;
SELECT * FROM pg_temp.typ_alerts WHERE rule_name = 'typ.structuring' ORDER BY entity;
-- Completing te2 later (a late payment at 08:00, before the others) raises its alert.
INSERT INTO typ_e2e (cust, amount, at) VALUES ('te2', 45000, pg_temp.t(1, '08:00'));
SELECT pg_temp.round() AS payments;
SELECT * FROM pg_temp.typ_alerts WHERE rule_name = 'typ.structuring' ORDER BY entity;
-- No typology rule failed.
SELECT rule_name, failures, last_sqlstate FROM finsec.monitor_rule_status WHERE rule_name LIKE 'typ.%' AND failures > 0;
-- A backtest of each rule over the batches raises what the monitor raised.
SELECT r.rule_name,
	   (SELECT array_agg(b.entity || ' ' || b.period || ' ' || b.hits ORDER BY b.entity, b.period)
		  FROM finsec.monitor_backtest(r.rule_name, NULL, pg_temp.t(-1, '00:00'), pg_temp.t(10, '00:00')) b
		 WHERE b.entity LIKE 'te%')
	   IS NOT DISTINCT FROM
	   (SELECT array_agg(a.entity || ' ' || a.period || ' ' || a.hits ORDER BY a.entity, a.period)
		  FROM finsec.alert a WHERE a.rule_name = r.rule_name
		   AND a.table_id = (SELECT table_id FROM finsec.monitor_table WHERE relid = 'typ_e2e'::regclass)) AS backtest_equal
  FROM finsec.monitor_rule r WHERE r.rule_name LIKE 'typ.%' ORDER BY 1;

