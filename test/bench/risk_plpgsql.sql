-- The baseline of test/bench/risk.sh: the same 50 rules as the PL/pgSQL a
-- DBA would write without finsec's engine (Marble style): one query per
-- list check, per velocity, first-seen, structuring and travel rule,
-- weights summed in PL/pgSQL.  It reads the same tables and indexes, and
-- must decide every payment exactly as finsec does (the bench checks).

CREATE FUNCTION dba_listed(c text, t text, v text, payee boolean, at timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT v IS NOT NULL AND EXISTS (
		SELECT 1 FROM finsec.risk_list_entry e
		 WHERE e.entity_type = t AND e.value = v AND e.color = c AND e.removed_at IS NULL
		   AND (e.expires_at IS NULL OR e.expires_at > at)
		   AND e.side IN (CASE WHEN payee THEN 'payee' ELSE 'payer' END, 'any'))
$$;

CREATE FUNCTION dba_ip_listed(c text, ip inet, at timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT ip IS NOT NULL AND EXISTS (
		SELECT 1 FROM finsec.risk_list_entry e
		 WHERE e.net >>= ip AND e.color = c AND e.removed_at IS NULL
		   AND (e.expires_at IS NULL OR e.expires_at > at) AND e.side IN ('payer', 'any'))
$$;

CREATE FUNCTION dba_km(a point, b point) RETURNS float8 LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	p1 float8 := a[1] * pi() / 180;
	p2 float8 := b[1] * pi() / 180;
	dp float8 := (b[1] - a[1]) * pi() / 180;
	dl float8 := (b[0] - a[0]) * pi() / 180;
	h float8 := sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
BEGIN
	RETURN 6371.0088 * 2 * atan2(sqrt(h), sqrt(1 - h));
END $$;

CREATE FUNCTION dba_risk_score(p_customer text, p_amount numeric, p_counterparty text, p_currency text,
	p_channel text, p_mcc text, p_device text, p_ip inet, p_phone text, p_geo point, p_region text,
	p_merchant text, p_tier int, p_at timestamptz, OUT decision text, OUT score numeric)
LANGUAGE plpgsql STABLE
-- Generic plans of the first-seen checks scan the whole table (the planner
-- cannot see how selective the customer is); a DBA who profiled this
-- function would plan each statement for its values:
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
	sc numeric := 0;
	fb boolean := false;
	fa boolean := false;
	ff int := 0;
	n bigint;
	s numeric;
	cust_1h bigint;
	sum_24h numeric;
	payees_24h bigint;
	new_device boolean := false;
	prev_at timestamptz;
	prev_geo point;
	km float8;
	h float8;
	kmh float8;
	m int;
	z float8;
	p float8;
BEGIN
	-- lists
	IF dba_listed('black', 'customer', p_customer, false, p_at) THEN fb := true; END IF;
	IF dba_listed('grey', 'customer', p_customer, false, p_at) THEN sc := sc + 20; END IF;
	IF dba_listed('white', 'customer', p_customer, false, p_at) THEN sc := sc - 30; fa := true; END IF;
	IF dba_listed('black', 'device', p_device, false, p_at) THEN fb := true; END IF;
	IF dba_listed('grey', 'device', p_device, false, p_at) THEN sc := sc + 20; END IF;
	IF dba_ip_listed('black', p_ip, p_at) THEN sc := sc + 10; ff := greatest(ff, 2); END IF;
	IF dba_ip_listed('grey', p_ip, p_at) THEN sc := sc + 10; END IF;
	IF dba_listed('black', 'phone', p_phone, false, p_at) THEN sc := sc + 30; END IF;
	IF dba_listed('black', 'account', p_counterparty, true, p_at) THEN fb := true; END IF;
	IF dba_listed('black', 'merchant', p_merchant, true, p_at) THEN sc := sc + 40; END IF;
	-- thresholds
	IF p_amount >= 5000 THEN sc := sc + 5; END IF;
	IF p_amount >= 20000 THEN sc := sc + 15; END IF;
	IF p_channel = 'web' AND p_amount >= 10000 THEN sc := sc + 10; END IF;
	IF p_mcc IN ('7995', '7801', '5933') THEN sc := sc + 15; END IF;
	IF p_channel = 'atm' THEN sc := sc + 5; END IF;
	IF p_currency NOT IN ('CNY') THEN sc := sc + 10; END IF;
	IF p_amount >= 1000 AND p_tier < 2 THEN sc := sc + 10; END IF;
	IF p_region IN ('440300') THEN sc := sc + 3; END IF;
	IF p_merchant = 'm13' THEN sc := sc + 20; END IF;
	IF p_mcc = '6051' THEN sc := sc + 8; END IF;
	-- velocity: the payment scored counts too
	SELECT count(*) + 1 INTO n FROM bench_pay WHERE customer_id = p_customer AND posted_at > p_at - interval '10 minutes' AND posted_at <= p_at;
	IF n > 3 THEN sc := sc + 15; END IF;
	SELECT count(*) + 1 INTO cust_1h FROM bench_pay WHERE customer_id = p_customer AND posted_at > p_at - interval '1 hour' AND posted_at <= p_at;
	IF cust_1h > 5 THEN sc := sc + 10; END IF;
	SELECT count(*) + 1 INTO n FROM bench_pay WHERE customer_id = p_customer AND posted_at > p_at - interval '24 hours' AND posted_at <= p_at;
	IF n > 10 THEN sc := sc + 10; END IF;
	SELECT coalesce(sum(amount), 0) + p_amount INTO s FROM bench_pay WHERE customer_id = p_customer AND posted_at > p_at - interval '1 hour' AND posted_at <= p_at;
	IF s > 20000 THEN sc := sc + 15; END IF;
	SELECT coalesce(sum(amount), 0) + p_amount INTO sum_24h FROM bench_pay WHERE customer_id = p_customer AND posted_at > p_at - interval '24 hours' AND posted_at <= p_at;
	IF sum_24h > 50000 THEN sc := sc + 15; END IF;
	SELECT coalesce(sum(amount), 0) + p_amount INTO s FROM bench_pay WHERE customer_id = p_customer AND posted_at > p_at - interval '7 days' AND posted_at <= p_at;
	IF s > 100000 THEN sc := sc + 10; END IF;
	SELECT count(DISTINCT x) INTO payees_24h FROM (SELECT counterparty FROM bench_pay WHERE customer_id = p_customer AND posted_at > p_at - interval '24 hours' AND posted_at <= p_at UNION ALL SELECT p_counterparty) d(x);
	IF payees_24h > 3 THEN sc := sc + 10; END IF;
	SELECT count(DISTINCT x) INTO n FROM (SELECT counterparty FROM bench_pay WHERE customer_id = p_customer AND posted_at > p_at - interval '7 days' AND posted_at <= p_at UNION ALL SELECT p_counterparty) d(x);
	IF n > 8 THEN sc := sc + 10; END IF;
	SELECT count(DISTINCT x) INTO n FROM (SELECT device FROM bench_pay WHERE customer_id = p_customer AND posted_at > p_at - interval '7 days' AND posted_at <= p_at UNION ALL SELECT p_device) d(x);
	IF n > 3 THEN sc := sc + 15; END IF;
	IF p_device IS NOT NULL THEN
		SELECT count(*) + 1 INTO n FROM bench_pay WHERE device = p_device AND posted_at > p_at - interval '1 hour' AND posted_at <= p_at;
		IF n > 5 THEN sc := sc + 15; END IF;
		SELECT count(DISTINCT x) INTO n FROM (SELECT customer_id FROM bench_pay WHERE device = p_device AND posted_at > p_at - interval '24 hours' AND posted_at <= p_at UNION ALL SELECT p_customer) d(x);
		IF n > 3 THEN sc := sc + 20; END IF;
	END IF;
	IF p_ip IS NOT NULL THEN
		SELECT count(*) + 1 INTO n FROM bench_pay WHERE ip = p_ip AND posted_at > p_at - interval '10 minutes' AND posted_at <= p_at;
		IF n > 5 THEN sc := sc + 10; END IF;
		SELECT count(DISTINCT x) INTO n FROM (SELECT customer_id FROM bench_pay WHERE ip = p_ip AND posted_at > p_at - interval '1 hour' AND posted_at <= p_at UNION ALL SELECT p_customer) d(x);
		IF n > 5 THEN sc := sc + 15; END IF;
	END IF;
	IF p_phone IS NOT NULL THEN
		SELECT count(*) + 1 INTO n FROM bench_pay WHERE phone = p_phone AND posted_at > p_at - interval '24 hours' AND posted_at <= p_at;
		IF n > 10 THEN sc := sc + 10; END IF;
	END IF;
	IF p_counterparty IS NOT NULL THEN
		SELECT count(*) + 1 INTO n FROM bench_pay WHERE customer_id = p_customer AND counterparty = p_counterparty AND posted_at > p_at - interval '24 hours' AND posted_at <= p_at;
		IF n > 3 THEN sc := sc + 10; END IF;
	END IF;
	-- first seen
	IF p_device IS NOT NULL AND NOT EXISTS (SELECT 1 FROM bench_pay WHERE customer_id = p_customer AND device = p_device AND posted_at < p_at) THEN
		sc := sc + 15; new_device := true;
	END IF;
	IF p_counterparty IS NOT NULL AND NOT EXISTS (SELECT 1 FROM bench_pay WHERE customer_id = p_customer AND counterparty = p_counterparty AND posted_at < p_at AND posted_at > p_at - interval '90 days') THEN
		sc := sc + 5;
	END IF;
	IF p_region IS NOT NULL AND NOT EXISTS (SELECT 1 FROM bench_pay WHERE customer_id = p_customer AND region = p_region AND posted_at < p_at) THEN
		sc := sc + 10;
	END IF;
	IF p_ip IS NOT NULL AND NOT EXISTS (SELECT 1 FROM bench_pay WHERE customer_id = p_customer AND ip = p_ip AND posted_at < p_at AND posted_at > p_at - interval '30 days') THEN
		sc := sc + 3;
	END IF;
	IF p_merchant IS NOT NULL AND NOT EXISTS (SELECT 1 FROM bench_pay WHERE customer_id = p_customer AND merchant = p_merchant AND posted_at < p_at AND posted_at > p_at - interval '30 days') THEN
		sc := sc + 2;
	END IF;
	-- structuring
	SELECT count(*) + (p_amount >= 45000 AND p_amount < 50000)::int INTO n FROM bench_pay WHERE customer_id = p_customer AND posted_at > p_at - interval '24 hours' AND posted_at <= p_at AND amount >= 45000 AND amount < 50000;
	IF n >= 3 THEN sc := sc + 30; END IF;
	SELECT count(*) + (p_amount >= 9500 AND p_amount < 10000)::int INTO n FROM bench_pay WHERE customer_id = p_customer AND posted_at > p_at - interval '7 days' AND posted_at <= p_at AND amount >= 9500 AND amount < 10000;
	IF n >= 4 THEN sc := sc + 25; END IF;
	IF p_device IS NOT NULL THEN
		SELECT count(*) + (p_amount >= 45000 AND p_amount < 50000)::int INTO n FROM bench_pay WHERE device = p_device AND posted_at > p_at - interval '24 hours' AND posted_at <= p_at AND amount >= 45000 AND amount < 50000;
		IF n >= 3 THEN sc := sc + 25; END IF;
	END IF;
	-- time of day (Asia/Shanghai)
	m := extract(hour FROM p_at AT TIME ZONE 'Asia/Shanghai') * 60 + extract(minute FROM p_at AT TIME ZONE 'Asia/Shanghai');
	IF m < 300 THEN sc := sc + 5; END IF;
	IF p_amount >= 5000 AND m >= 60 AND m < 240 THEN sc := sc + 15; END IF;
	-- travel
	IF p_geo IS NOT NULL THEN
		SELECT posted_at, geo INTO prev_at, prev_geo FROM bench_pay
		 WHERE customer_id = p_customer AND posted_at < p_at AND posted_at > p_at - interval '30 days' AND geo IS NOT NULL
		 ORDER BY posted_at DESC LIMIT 1;
		IF FOUND THEN
			km := dba_km(prev_geo, p_geo);
			h := extract(epoch FROM p_at - prev_at) / 3600;
			kmh := CASE WHEN h > 0 THEN km / h WHEN km > 0 THEN 'infinity' ELSE 0 END;
			IF km > 50 AND kmh > 900 THEN sc := sc + 25; END IF;
		END IF;
		SELECT posted_at, geo INTO prev_at, prev_geo FROM bench_pay
		 WHERE customer_id = p_customer AND posted_at < p_at AND posted_at > p_at - interval '6 hours' AND geo IS NOT NULL
		 ORDER BY posted_at DESC LIMIT 1;
		IF FOUND THEN
			km := dba_km(prev_geo, p_geo);
			h := extract(epoch FROM p_at - prev_at) / 3600;
			kmh := CASE WHEN h > 0 THEN km / h WHEN km > 0 THEN 'infinity' ELSE 0 END;
			IF km > 100 AND kmh > 300 THEN sc := sc + 10; END IF;
		END IF;
		IF p_channel = 'pos' AND p_device IS NOT NULL THEN
			SELECT posted_at, geo INTO prev_at, prev_geo FROM bench_pay
			 WHERE device = p_device AND posted_at < p_at AND posted_at > p_at - interval '30 days' AND geo IS NOT NULL
			 ORDER BY posted_at DESC LIMIT 1;
			IF FOUND AND dba_km(prev_geo, p_geo) > 5 THEN sc := sc + 20; END IF;
		END IF;
	END IF;
	-- models
	z := -5 + 0.3 * ln(1 + p_amount::float8) + 0.4 * cust_1h + 1.5 * new_device::int;
	p := 1 / (1 + exp(-z));
	IF p >= 0.5 THEN sc := sc + round((300000 * p)::numeric) / 10000; END IF;
	z := -6 + 0.0001 * sum_24h::float8 + 0.5 * payees_24h;
	p := 1 / (1 + exp(-z));
	IF p >= 0.6 THEN sc := sc + round((300000 * p)::numeric) / 10000; END IF;
	-- decision
	decision := CASE WHEN sc >= 100 THEN 'block' WHEN sc >= 70 THEN 'review' WHEN sc >= 40 THEN 'challenge' ELSE 'allow' END;
	IF ff = 2 AND decision IN ('allow', 'challenge') THEN decision := 'review'; END IF;
	IF fa THEN decision := 'allow'; END IF;
	IF fb THEN decision := 'block'; END IF;
	score := sc;
END $$;
