-- Generator of payments for the monitor's recall benchmark (test/bench/monitor.sh).
--   psql -v seed=0.42 -v customers=100000 -v per_customer=10 -v days=30 -v plants=10 -f monitor_gen.sql
--
-- Makes, in the current database (as a superuser, after CREATE EXTENSION finsec):
--   gen_pay     every payment, background and planted, id in time order
--               (plant = the plant it belongs to, core = the plant's
--               payments an alert must cover; NULL plant: background;
--               pair = the two legs of one internal transfer, the payer's
--               out and the payee's in: either covers the transfer)
--   gen_plant   one row per planted instance: kind, variant, the entities
--               an alert may name (customer ids and accounts) and refs,
--               the ids of its core payments
--   gen_knob    the thresholds the plants were sized from, read from the
--               active rules of finsec.monitor_rule (fallbacks when a kind
--               or a parameter is not there)
--   gen_load(chunk) a procedure inserting gen_pay into table pay in time
--               order, one transaction per chunk
--
-- Background: :customers customers (5 % legal persons), on average
-- :per_customer payments each over :days days from 2026-09-01 (Shanghai
-- time), amounts log-normal (median 300 CNY, sigma 1.5; legal persons x10),
-- 40 % inflows, 8 % cash, 3 % cross-border, 3 % in USD; 70 % of the
-- payments go to one of a customer's 3 usual counterparties, the rest to
-- a pool of 200k external accounts; 15 % of outflows go to another
-- customer's account, booked on both sides (an inflow of the payee);
-- 97 % of payments between 08:00 and 22:00 local time.
-- Plants (fresh customers 'p<plant>_<member>', accounts 'A' || customer):
-- large_value (cash, legal, natural domestic, natural cross-border x single,
-- same-day cumulative x in, out; 3 each), and :plants each of structuring,
-- rapid_in_out, fan_in, fan_out, cycle (depth 3, 4, 5 in turn),
-- scatter_gather, dormant_reactivated, night_burst.
\set ON_ERROR_STOP on
SELECT setseed(:seed);
SET gen.days = :'days';
SET gen.plants = :'plants';
SET TIME ZONE 'Asia/Shanghai';

CREATE TABLE gen_knob (kind text, knob text, value numeric, source text, PRIMARY KEY (kind, knob));

-- The largest numeric value among the params of the active rules of a kind
-- whose name matches a pattern (and not an excluded one).
CREATE FUNCTION gen_param(k text, pat text, excl text) RETURNS numeric LANGUAGE sql STABLE AS $$
	SELECT max(CASE
				WHEN jsonb_typeof(p.value) = 'number' THEN (p.value #>> '{}')::numeric
				WHEN jsonb_typeof(p.value) = 'string' AND (p.value #>> '{}') ~ '^[0-9]+(\.[0-9]+)?$' THEN (p.value #>> '{}')::numeric
				WHEN jsonb_typeof(p.value) = 'string' AND (p.value #>> '{}') ~ '^[0-9 ]+ *(day|days|mon|mons|month|months|year|years|hour|hours|week|weeks)' THEN
					extract(epoch FROM (p.value #>> '{}')::interval) / 86400.0
					* CASE WHEN p.key ~* 'month' THEN 1.0 / 30 WHEN p.key ~* 'week' THEN 1.0 / 7 ELSE 1 END
			   END)
	  FROM finsec.monitor_rule r, jsonb_each(r.params) p
	 WHERE r.kind = k AND r.state = 'active' AND p.key ~* pat AND (excl IS NULL OR p.key !~* excl)
$$;
CREATE FUNCTION gen_window(k text) RETURNS interval LANGUAGE sql STABLE AS $$
	SELECT min(time_window) FROM finsec.monitor_rule WHERE kind = k AND state = 'active'
$$;
CREATE FUNCTION gen_set(k text, n text, v numeric, fallback numeric, src text) RETURNS void LANGUAGE sql AS $$
	INSERT INTO gen_knob VALUES (k, n, coalesce(v, fallback), src)
$$;
CREATE FUNCTION knob(k text, n text) RETURNS numeric LANGUAGE sql STABLE AS $$
	SELECT value FROM gen_knob WHERE kind = k AND knob = n
$$;

-- count: how many payments / counterparties / intermediaries a plant has
-- (twice the largest count threshold + 1); amount: each payment's amount
-- floor (1.5 x the largest amount threshold); span: the plant's
-- payments fall within a third of the rule's window (at most a default).
DO $$
DECLARE
	k text;
	cnt_pat constant text := 'count|counterpart|distinct|number|transactions|payments|intermedi|fan|burst|times|min_n|^n_|peers|senders|receivers|accounts';
	cnt_excl constant text := 'ratio|share|fraction|percent|amount|sum|hour|day|month|week|depth|length';
	amt_pat constant text := 'amount|sum|total|value|volume';
	amt_excl constant text := 'ratio|share|fraction|percent|count|number|threshold_ratio|below|margin|band|tolerance';
	def_count jsonb := '{"structuring": 8, "rapid_in_out": 2, "fan_in": 30, "fan_out": 30, "scatter_gather": 6,
						 "dormant_reactivated": 6, "night_burst": 10, "cycle": 0}';
	def_amount jsonb := '{"rapid_in_out": 300000, "fan_in": 5000, "fan_out": 5000, "scatter_gather": 80000,
						  "dormant_reactivated": 30000, "night_burst": 6000, "cycle": 150000, "structuring": 0}';
	def_span jsonb := '{"structuring": 6, "rapid_in_out": 2, "fan_in": 6, "fan_out": 6, "scatter_gather": 4,
						"dormant_reactivated": 3, "night_burst": 3, "cycle": 4}';
	w interval;
	c numeric;
	a numeric;
BEGIN
	FOR k IN SELECT jsonb_object_keys(def_count) LOOP
		c := gen_param(k, cnt_pat, cnt_excl);
		PERFORM gen_set(k, 'count', greatest((def_count->>k)::numeric, 2 * c + 1), (def_count->>k)::numeric,
						CASE WHEN c IS NULL THEN 'fallback' ELSE 'rule params (2 x ' || c || ' + 1)' END);
		-- an amount threshold is per payment for the hops of in-out and the
		-- graph typologies, a total for the others
		a := gen_param(k, amt_pat, amt_excl);
		PERFORM gen_set(k, 'amount',
						CASE WHEN k = 'structuring' THEN NULL
							 WHEN k IN ('rapid_in_out', 'cycle', 'scatter_gather') THEN greatest((def_amount->>k)::numeric, round(1.5 * a, 2))
							 ELSE greatest((def_amount->>k)::numeric, round(1.5 * a / knob(k, 'count'), 2)) END,
						(def_amount->>k)::numeric,
						CASE WHEN a IS NULL OR k = 'structuring' THEN 'fallback'
							 WHEN k IN ('rapid_in_out', 'cycle', 'scatter_gather') THEN 'rule params (1.5 x ' || a || ' per payment)'
							 ELSE 'rule params (1.5 x ' || a || ' total / count)' END);
		w := gen_window(k);
		PERFORM gen_set(k, 'span_hours', least((def_span->>k)::numeric, round(extract(epoch FROM w) / 3600 / 3, 2)),
						(def_span->>k)::numeric, CASE WHEN w IS NULL THEN 'fallback' ELSE 'rule window ' || w || ' / 3' END);
	END LOOP;
	-- dormancy in days: the silence before the burst is 1.5 x the longest (at least 30 days more)
	c := gen_param('dormant_reactivated', 'dorman|inactiv|idle|silen|quiet|gap|month|days', 'burst|window|count|amount');
	PERFORM gen_set('dormant_reactivated', 'silence_days', ceil(greatest(1.5 * c, c + 30)), 400,
					CASE WHEN c IS NULL THEN 'fallback' ELSE 'rule params (1.5 x ' || c || ' days)' END);
	-- large-value thresholds (PBOC Order 2016 No. 3, CNY): fixed by law
	PERFORM gen_set('large_value', 'cash', NULL, 50000, 'law');
	PERFORM gen_set('large_value', 'legal', NULL, 2000000, 'law');
	PERFORM gen_set('large_value', 'natural', NULL, 500000, 'law');
	PERFORM gen_set('large_value', 'cross_border', NULL, 200000, 'law');
	-- structuring: just below the cash threshold
	c := gen_param('structuring', '^threshold$|below|limit', NULL);
	PERFORM gen_set('structuring', 'below', c, 50000, CASE WHEN c IS NULL THEN 'fallback (cash threshold)' ELSE 'rule params' END);
END $$;

CREATE TABLE gen_pay (
	id bigint, seq bigserial, plant integer, core boolean NOT NULL DEFAULT true, pair bigint,
	customer text NOT NULL, customer_type text NOT NULL, account text NOT NULL, counterparty text,
	direction text NOT NULL, cash boolean NOT NULL, cross_border boolean NOT NULL,
	currency text NOT NULL, amount numeric(18,2) NOT NULL, posted_at timestamptz NOT NULL);
CREATE TABLE gen_plant (plant integer PRIMARY KEY, kind text NOT NULL, variant text NOT NULL,
						entities text[] NOT NULL, refs bigint[]);

CREATE FUNCTION gen_lognormal(mu float8, sigma float8) RETURNS float8 LANGUAGE sql VOLATILE AS $$
	SELECT exp(mu + sigma * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))
$$;
-- a local time on day d (0-based from 2026-09-01) at hour h (may be fractional)
CREATE FUNCTION gen_at(d float8, h float8) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
	SELECT '2026-09-01 00:00'::timestamp AT TIME ZONE 'Asia/Shanghai' + d * interval '1 day' + h * interval '1 hour'
$$;

-- ---- background ------------------------------------------------------
CREATE TEMP TABLE gen_customer AS
SELECT c, 'c' || c AS customer, CASE WHEN random() < 0.05 THEN 'legal' ELSE 'natural' END AS customer_type,
	   ARRAY['X' || (random() * 199999)::int, 'X' || (random() * 199999)::int, 'X' || (random() * 199999)::int] AS usual,
	   1 + (random() * (2 * :per_customer - 2))::int AS n
  FROM generate_series(1, :customers) c;

INSERT INTO gen_pay (customer, customer_type, account, counterparty, direction, cash, cross_border, currency, amount, posted_at)
SELECT g.customer, g.customer_type, 'A' || g.customer,
	   CASE WHEN x.internal THEN 'Ac' || (1 + (random() * (:customers - 1))::int)
			WHEN x.cash THEN NULL
			WHEN random() < 0.7 THEN g.usual[1 + (random() * 2)::int]
			ELSE 'X' || (random() * 199999)::int END,
	   x.direction, x.cash, x.cross_border, x.currency,
	   round((gen_lognormal(ln(300), 1.5) * CASE WHEN g.customer_type = 'legal' THEN 10 ELSE 1 END
			  / CASE x.currency WHEN 'USD' THEN 7.1 ELSE 1 END)::numeric, 2) + 0.01,
	   gen_at(floor(random() * :days),
			  CASE WHEN random() < 0.97 THEN 8 + random() * 14 ELSE random() * 8 END)
  FROM gen_customer g, generate_series(1, g.n) i,
	   LATERAL (SELECT d AS direction, cash, cb AS cross_border,
					   CASE WHEN cb AND random() < 0.5 OR random() < 0.02 THEN 'USD' ELSE 'CNY' END AS currency,
					   (d = 'out' AND NOT cash AND NOT cb AND random() < 0.15) AS internal
				  FROM (SELECT CASE WHEN random() < 0.4 THEN 'in' ELSE 'out' END AS d,
							   random() < 0.08 AS cash, random() < 0.03 AS cb, i AS _dep) r0) x;
-- internal transfers: the payee's leg (pair: the seq of the payer's leg, on both)
UPDATE gen_pay SET pair = seq WHERE counterparty LIKE 'Ac%' AND direction = 'out';
INSERT INTO gen_pay (pair, customer, customer_type, account, counterparty, direction, cash, cross_border, currency, amount, posted_at)
SELECT p.pair, substr(p.counterparty, 2), g.customer_type, p.counterparty, p.account, 'in', false, false, p.currency, p.amount, p.posted_at
  FROM gen_pay p JOIN gen_customer g ON g.customer = substr(p.counterparty, 2)
 WHERE p.pair IS NOT NULL;

-- ---- plants ----------------------------------------------------------
CREATE SEQUENCE gen_plant_seq;
-- helper: one planted payment
CREATE FUNCTION gen_put(pl integer, cust text, ctype text, cpty text, dir text, cash boolean, cb boolean,
						amt float8, at timestamptz, is_core boolean DEFAULT true, pr bigint DEFAULT NULL) RETURNS void LANGUAGE sql AS $$
	INSERT INTO gen_pay (plant, core, pair, customer, customer_type, account, counterparty, direction, cash, cross_border,
						 currency, amount, posted_at)
	VALUES (pl, is_core, pr, cust, ctype, 'A' || cust, cpty, dir, cash, cb, 'CNY', round(amt::numeric, 2), at)
$$;
-- an internal transfer, both legs (one pair): an alert covers it with either leg
CREATE SEQUENCE gen_pair_seq START 1000000000000;
CREATE FUNCTION gen_transfer(pl integer, payer text, payee text, amt float8, at timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE pr bigint := nextval('gen_pair_seq');
BEGIN
	PERFORM gen_put(pl, payer, 'natural', 'A' || payee, 'out', false, false, amt, at, true, pr);
	PERFORM gen_put(pl, payee, 'natural', 'A' || payer, 'in', false, false, amt, at, true, pr);
END $$;

DO $$
DECLARE
	pl integer;
	cust text;
	d numeric;
	h numeric;
	i integer;
	j integer;
	n integer;
	span numeric;
	amt numeric;
	cls text;
	mode text;
	dir text;
	thr numeric;
	ndays constant integer := current_setting('gen.days')::integer;
	nplants constant integer := current_setting('gen.plants')::integer;
	members text[];
	depth integer;
	total numeric;
BEGIN
	-- large-value: 4 classes x single / cumulative x in / out, 3 each
	FOREACH cls IN ARRAY ARRAY['cash', 'legal', 'natural', 'cross_border'] LOOP
		thr := knob('large_value', cls);
		FOREACH mode IN ARRAY ARRAY['single', 'cumulative'] LOOP
			FOREACH dir IN ARRAY ARRAY['in', 'out'] LOOP
				FOR i IN 1..3 LOOP
					pl := nextval('gen_plant_seq');
					cust := 'p' || pl || '_1';
					INSERT INTO gen_plant VALUES (pl, 'large_value', cls || '/' || mode || '/' || dir, ARRAY[cust, 'A' || cust]);
					d := 1 + floor(random() * (ndays - 2));
					FOR j IN 1..CASE mode WHEN 'single' THEN 1 ELSE 3 END LOOP
						amt := thr * CASE mode WHEN 'single' THEN 1.1 + random() * 0.4 ELSE 0.4 + random() * 0.05 END;
						PERFORM gen_put(pl, cust, CASE cls WHEN 'legal' THEN 'legal' ELSE 'natural' END,
										CASE WHEN cls = 'cash' THEN NULL ELSE 'X' || (random() * 199999)::int END,
										dir, cls = 'cash', cls = 'cross_border', amt, gen_at(d, 9 + j * 2 + random()));
					END LOOP;
				END LOOP;
			END LOOP;
		END LOOP;
	END LOOP;

	FOR i IN 1..nplants LOOP
		-- structuring: cash deposits 95-99.5 % of the cash threshold
		pl := nextval('gen_plant_seq'); cust := 'p' || pl || '_1';
		INSERT INTO gen_plant VALUES (pl, 'structuring', 'cash in', ARRAY[cust, 'A' || cust]);
		d := 1 + floor(random() * (ndays - 2)); n := knob('structuring', 'count'); span := knob('structuring', 'span_hours');
		FOR j IN 1..n LOOP
			PERFORM gen_put(pl, cust, 'natural', NULL, 'in', true, false,
							knob('structuring', 'below') * (0.95 + random() * 0.045), gen_at(d, 9 + span * (j - 1) / n));
		END LOOP;

		-- rapid in-and-out: a transfer in, 96 % out again in two payments within the span
		pl := nextval('gen_plant_seq'); cust := 'p' || pl || '_1';
		INSERT INTO gen_plant VALUES (pl, 'rapid_in_out', 'in then out', ARRAY[cust, 'A' || cust]);
		d := 1 + floor(random() * (ndays - 2)); span := knob('rapid_in_out', 'span_hours');
		amt := knob('rapid_in_out', 'amount') * (1 + random() * 0.2);
		PERFORM gen_put(pl, cust, 'natural', 'X' || (random() * 199999)::int, 'in', false, false, amt, gen_at(d, 10));
		PERFORM gen_put(pl, cust, 'natural', 'X' || (random() * 199999)::int, 'out', false, false, amt * 0.5, gen_at(d, 10 + span * 0.4));
		PERFORM gen_put(pl, cust, 'natural', 'X' || (random() * 199999)::int, 'out', false, false, amt * 0.46, gen_at(d, 10 + span * 0.8));

		-- fan-in / fan-out: distinct external counterparties within the span
		FOREACH dir IN ARRAY ARRAY['in', 'out'] LOOP
			pl := nextval('gen_plant_seq'); cust := 'p' || pl || '_1';
			INSERT INTO gen_plant VALUES (pl, 'fan_' || dir, dir, ARRAY[cust, 'A' || cust]);
			d := 1 + floor(random() * (ndays - 2)); n := knob('fan_' || dir, 'count'); span := knob('fan_' || dir, 'span_hours');
			FOR j IN 1..n LOOP
				PERFORM gen_put(pl, cust, 'natural', 'F' || pl || '_' || j, dir, false, false,
								knob('fan_' || dir, 'amount') * (1 + random()), gen_at(d, 9 + span * (j - 1) / n));
			END LOOP;
		END LOOP;

		-- cycle of depth 3, 4, 5 in turn: member m pays member m+1, the last pays the first
		pl := nextval('gen_plant_seq'); depth := 3 + (i - 1) % 3;
		SELECT array_agg('p' || pl || '_' || m ORDER BY m) INTO members FROM generate_series(1, depth) m;
		INSERT INTO gen_plant VALUES (pl, 'cycle', 'depth ' || depth,
			members || (SELECT array_agg('A' || x) FROM unnest(members) x));
		d := 1 + floor(random() * (ndays - 2)); span := knob('cycle', 'span_hours');
		amt := knob('cycle', 'amount') * (1 + random() * 0.2);
		FOR j IN 1..depth LOOP
			PERFORM gen_transfer(pl, members[j], members[j % depth + 1], amt * (1 - 0.01 * j), gen_at(d, 10 + span * (j - 1) / depth));
		END LOOP;

		-- scatter-gather: source -> n intermediaries -> sink
		pl := nextval('gen_plant_seq'); n := knob('scatter_gather', 'count');
		SELECT array_agg('p' || pl || '_' || m ORDER BY m) INTO members FROM generate_series(1, n + 2) m;
		INSERT INTO gen_plant VALUES (pl, 'scatter_gather', n || ' intermediaries',
			members || (SELECT array_agg('A' || x) FROM unnest(members) x));
		d := 1 + floor(random() * (ndays - 2)); span := knob('scatter_gather', 'span_hours');
		amt := knob('scatter_gather', 'amount') * (1 + random() * 0.2);
		FOR j IN 1..n LOOP
			PERFORM gen_transfer(pl, members[1], members[j + 1], amt, gen_at(d, 10 + span * 0.4 * (j - 1) / n));
			PERFORM gen_transfer(pl, members[j + 1], members[n + 2], amt * 0.98, gen_at(d, 10 + span * (0.5 + 0.4 * (j - 1) / n)));
		END LOOP;

		-- dormant reactivated: old activity, a long silence, a burst in the last third
		pl := nextval('gen_plant_seq'); cust := 'p' || pl || '_1';
		INSERT INTO gen_plant VALUES (pl, 'dormant_reactivated', 'silent ' || knob('dormant_reactivated', 'silence_days') || ' days',
									  ARRAY[cust, 'A' || cust]);
		d := ndays * 2 / 3 + floor(random() * (ndays / 3 - 1));
		FOR j IN 1..3 LOOP
			PERFORM gen_put(pl, cust, 'natural', 'X' || (random() * 199999)::int, CASE WHEN j = 2 THEN 'in' ELSE 'out' END, false, false,
							500 + random() * 1000, gen_at(d - knob('dormant_reactivated', 'silence_days') - 30 + j * 7, 11), false);
		END LOOP;
		n := knob('dormant_reactivated', 'count'); span := knob('dormant_reactivated', 'span_hours');
		FOR j IN 1..n LOOP
			PERFORM gen_put(pl, cust, 'natural', 'X' || (random() * 199999)::int, 'out', false, false,
							knob('dormant_reactivated', 'amount') * (1 + random() * 0.2), gen_at(d, 10 + span * (j - 1) / n));
		END LOOP;

		-- night burst: between 01:00 and 04:00 local time
		pl := nextval('gen_plant_seq'); cust := 'p' || pl || '_1';
		INSERT INTO gen_plant VALUES (pl, 'night_burst', 'out at night', ARRAY[cust, 'A' || cust]);
		d := 1 + floor(random() * (ndays - 2)); n := knob('night_burst', 'count'); span := knob('night_burst', 'span_hours');
		FOR j IN 1..n LOOP
			PERFORM gen_put(pl, cust, 'natural', 'X' || (random() * 199999)::int, 'out', false, false,
							knob('night_burst', 'amount') * (1 + random() * 0.5), gen_at(d, 1 + span * (j - 1) / n));
		END LOOP;
	END LOOP;
END $$;

-- ids in time order (ties: generation order)
UPDATE gen_pay p SET id = o.rn FROM (SELECT seq, row_number() OVER (ORDER BY posted_at, seq) rn FROM gen_pay) o WHERE o.seq = p.seq;
ALTER TABLE gen_pay ADD PRIMARY KEY (id);
CREATE INDEX ON gen_pay (plant) WHERE plant IS NOT NULL;
UPDATE gen_plant g SET refs = (SELECT array_agg(id ORDER BY id) FROM gen_pay p WHERE p.plant = g.plant AND p.core);
-- what an alert must cover: one unit per core payment, or per internal transfer (either leg)
CREATE TABLE gen_unit AS SELECT plant, coalesce(pair, -id) AS unit, id FROM gen_pay WHERE plant IS NOT NULL AND core;
CREATE INDEX ON gen_unit (plant);
ANALYZE gen_pay;

CREATE PROCEDURE gen_load(chunk integer) LANGUAGE plpgsql AS $$
DECLARE
	lo bigint := 1;
	hi bigint := (SELECT max(id) FROM gen_pay);
BEGIN
	WHILE lo <= hi LOOP
		INSERT INTO pay (id, customer, customer_type, account, counterparty, direction, cash, cross_border, currency, amount, posted_at)
		SELECT id, customer, customer_type, account, counterparty, direction, cash, cross_border, currency, amount, posted_at
		  FROM gen_pay WHERE id >= lo AND id < lo + chunk ORDER BY id;
		COMMIT;
		lo := lo + chunk;
	END LOOP;
END $$;
