#!/usr/bin/env bash
# Benchmark of real-time risk scoring (issue 8), as root:
#   bash test/bench/risk.sh [seconds-per-pgbench-run] [customers] [list-entries]
#
# One run, one data set: a payments table with history for 100k customers
# (about 20 payments each over 30 days, with busy shared devices and NAT
# IPs), 1M list entries, and a ruleset of 50 rules of every kind.  The same
# 50 rules are also written as the PL/pgSQL function a DBA would write
# (Marble style: one query per list check and per aggregate), and both are
# first checked to decide the same 1000 random payments identically.
#   in-backend latency: 20k calls in one backend, each timed with
#     clock_timestamp(): p50 / p99 (target: finsec p99 < 1 ms)
#   pgbench at 1 and 8 clients, prepared: calls/s and p50 / p99 from the
#     per-transaction log (target: finsec >= 20x the PL/pgSQL throughput)
. "$(dirname "$0")/../../scripts/lib.sh"

secs=${1:-15}
customers=${2:-100000}
entries=${3:-1000000}

ensure_deps
build_install
make_workdir
trap 'stop_cluster bench; rm -rf "$WORKDIR"' EXIT
start_cluster bench 54347
as_pg createdb bench
psql_b() { as_pg psql -X -q -At -v ON_ERROR_STOP=1 -d bench "$@"; }
# The worker flushes the decision buffer into finsec.risk_decision_log.
psql_b -c "ALTER SYSTEM SET finsec.risk_rate_limit = 0" -c "ALTER SYSTEM SET shared_buffers = '2GB'" \
	-c "ALTER SYSTEM SET finsec.audit_seal_databases = 'bench'" \
	-c "ALTER SYSTEM SET finsec.risk_log_when_full = 'refuse'" -c "ALTER SYSTEM SET finsec.risk_log_wait_ms = '1s'" >/dev/null
as_pg pg_ctl -D "$WORKDIR/bench" -l "$WORKDIR/bench.log" -w restart >/dev/null

say "loading: $customers customers with history, $entries list entries"
t0=$(date +%s)
psql_b -v customers="$customers" -v entries="$entries" <<'SQL'
CREATE EXTENSION finsec;
SELECT setseed(0.42);
CREATE TABLE bench_pay (
	id bigserial PRIMARY KEY,
	customer_id text NOT NULL, amount numeric NOT NULL, posted_at timestamptz NOT NULL,
	counterparty text, currency text, channel text, mcc text, device text, ip inet, phone text,
	geo point, region text, merchant text);
-- About 20 payments per customer over 30 days; 2% through 100 busy shared
-- devices, 5% through 50 NAT addresses.
INSERT INTO bench_pay (customer_id, amount, posted_at, counterparty, currency, channel, mcc, device, ip, phone, geo, region, merchant)
SELECT 'c' || c, round((10 + random() * random() * 20000)::numeric, 2),
	   now() - random() * interval '30 days',
	   'p' || (c * 7 + (random() * 6)::int) % (:customers * 2),
	   CASE WHEN random() < 0.98 THEN 'CNY' ELSE 'USD' END,
	   (ARRAY['app', 'web', 'pos', 'atm'])[1 + (random() * 3)::int],
	   (ARRAY['5411', '5812', '4829', '7995', '5999', '6051'])[1 + (random() * 5)::int],
	   CASE WHEN random() < 0.02 THEN 'shared-' || (random() * 99)::int ELSE 'd' || (c * 2 + (random() < 0.1)::int) END,
	   CASE WHEN random() < 0.05 THEN ('100.64.0.' || (random() * 49)::int)::inet
			ELSE ('10.' || (c / 65536) || '.' || (c / 256) % 256 || '.' || c % 256)::inet END,
	   '13' || lpad((c * 37 % 1000000000)::text, 9, '0'),
	   point(116 + (c % 10) + random() * 0.01, 30 + (c % 9) + random() * 0.01),
	   (ARRAY['110000', '310000', '440100', '440300', '330100'])[1 + (c % 5)],
	   'm' || (c % 5000)
  FROM generate_series(1, :customers * 20) i, LATERAL (SELECT 1 + (random() * (:customers - 1))::int AS c) r;
CREATE INDEX ON bench_pay (customer_id, posted_at);
CREATE INDEX ON bench_pay (device, posted_at);
CREATE INDEX ON bench_pay (ip, posted_at);
CREATE INDEX ON bench_pay (phone, posted_at);
CREATE INDEX ON bench_pay (customer_id, counterparty, posted_at);
CREATE INDEX ON bench_pay (customer_id, device);
CREATE INDEX ON bench_pay (customer_id, region);
SELECT finsec.enable_risk('bench_pay', customer => 'customer_id', counterparty => 'counterparty', currency => 'currency',
	channel => 'channel', mcc => 'mcc', device => 'device', ip => 'ip', phone => 'phone', geo => 'geo',
	region => 'region', merchant => 'merchant');

-- 1M list entries: customers, accounts, devices, phones, merchants, cards,
-- single IPs and /24 ranges; black, grey and white; 10% expired.
INSERT INTO finsec.risk_list_entry (color, entity_type, value, net, side, expires_at)
SELECT (ARRAY['black', 'grey', 'white'])[1 + (i % 3)], t,
	   CASE t WHEN 'ip' THEN NULL
			  WHEN 'card' THEN 'v1:' || md5(i::text) || md5((i + 1)::text)
			  WHEN 'phone' THEN '13' || lpad((i * 37 % 1000000000)::text, 9, '0')
			  WHEN 'account' THEN 'p' || (i * 13 % (:customers * 4))
			  WHEN 'customer' THEN 'c' || (i * 11 % (:customers * 10))
			  WHEN 'device' THEN 'd' || (i * 17 % (:customers * 20))
			  ELSE 'm' || (i % 200000) END,
	   CASE WHEN t = 'ip' AND i % 10 = 0 THEN ('172.' || 16 + i % 16 || '.' || (i / 16) % 256 || '.0/24')::cidr
			WHEN t = 'ip' THEN ('192.' || 168 + i % 2 || '.' || (i / 2) % 256 || '.' || (i / 512) % 256)::cidr END,
	   CASE WHEN t IN ('account', 'merchant') THEN 'payee' ELSE 'any' END,
	   CASE WHEN i % 10 = 0 THEN now() - interval '1 day' END
  FROM generate_series(1, :entries) i,
	   LATERAL (SELECT (ARRAY['customer', 'account', 'device', 'ip', 'phone', 'merchant', 'card'])[1 + (i % 7)] AS t) x
ON CONFLICT DO NOTHING;
SQL
psql_b <<'SQL'
-- The 50 rules.
INSERT INTO finsec.risk_ruleset (version, challenge_at, review_at, block_at) VALUES (1, 40, 70, 100);
INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category) VALUES
 (1, 'l_black_customer', 'list', '{"color": "black", "entity": "customer", "force": "block"}', 0, 'L_BLACK_CUSTOMER', 'account_takeover'),
 (1, 'l_grey_customer', 'list', '{"color": "grey", "entity": "customer"}', 20, 'L_GREY_CUSTOMER', 'account_takeover'),
 (1, 'l_white_customer', 'list', '{"color": "white", "entity": "customer", "force": "allow"}', -30, 'L_WHITE', 'card_not_present'),
 (1, 'l_black_device', 'list', '{"color": "black", "entity": "device", "force": "block"}', 0, 'L_BLACK_DEVICE', 'account_takeover'),
 (1, 'l_grey_device', 'list', '{"color": "grey", "entity": "device"}', 20, 'L_GREY_DEVICE', 'account_takeover'),
 (1, 'l_black_ip', 'list', '{"color": "black", "entity": "ip", "force": "review"}', 10, 'L_BLACK_IP', 'card_not_present'),
 (1, 'l_grey_ip', 'list', '{"color": "grey", "entity": "ip"}', 10, 'L_GREY_IP', 'card_not_present'),
 (1, 'l_black_phone', 'list', '{"color": "black", "entity": "phone"}', 30, 'L_BLACK_PHONE', 'telecom_fraud'),
 (1, 'l_black_payee', 'list', '{"color": "black", "entity": "account", "side": "payee", "force": "block"}', 0, 'L_BLACK_PAYEE', 'telecom_fraud'),
 (1, 'l_black_merchant', 'list', '{"color": "black", "entity": "merchant", "side": "payee"}', 40, 'L_BLACK_MERCHANT', 'merchant_collusion'),
 (1, 't_amount_5k', 'threshold', '{"attribute": "amount", "op": ">=", "value": 5000}', 5, 'T_AMOUNT_5K', 'card_not_present'),
 (1, 't_amount_20k', 'threshold', '{"attribute": "amount", "op": ">=", "value": 20000}', 15, 'T_AMOUNT_20K', 'money_laundering'),
 (1, 't_amount_web', 'threshold', '{"attribute": "amount", "op": ">=", "value": 10000, "when": {"channel": ["web"]}}', 10, 'T_WEB_AMOUNT', 'card_not_present'),
 (1, 't_mcc', 'threshold', '{"attribute": "mcc", "op": "in", "values": ["7995", "7801", "5933"]}', 15, 'T_MCC', 'illegal_fundraising'),
 (1, 't_atm', 'threshold', '{"attribute": "channel", "op": "=", "value": "atm"}', 5, 'T_ATM', 'card_not_present'),
 (1, 't_foreign', 'threshold', '{"attribute": "currency", "op": "not in", "values": ["CNY"]}', 10, 'T_FOREIGN', 'money_laundering'),
 (1, 't_weak_auth', 'threshold', '{"attribute": "auth_tier", "op": "<", "value": 2, "when": {"min_amount": 1000}}', 10, 'T_WEAK_AUTH', 'account_takeover'),
 (1, 't_region', 'threshold', '{"attribute": "region", "op": "in", "values": ["440300"]}', 3, 'T_REGION', 'telecom_fraud'),
 (1, 't_merchant', 'threshold', '{"attribute": "merchant", "op": "=", "value": "m13"}', 20, 'T_MERCHANT', 'merchant_collusion'),
 (1, 't_crypto', 'threshold', '{"attribute": "mcc", "op": "=", "value": "6051"}', 8, 'T_QUASI_CASH', 'money_laundering'),
 (1, 'v_cust_10m', 'velocity', '{"entity": "customer", "window": "10 minutes", "max": 3}', 15, 'V_CUST_10M', 'account_takeover'),
 (1, 'v_cust_1h', 'velocity', '{"entity": "customer", "window": "1 hour", "max": 5}', 10, 'V_CUST_1H', 'account_takeover'),
 (1, 'v_cust_24h', 'velocity', '{"entity": "customer", "window": "24 hours", "max": 10}', 10, 'V_CUST_24H', 'account_takeover'),
 (1, 'v_cust_sum_1h', 'velocity', '{"entity": "customer", "window": "1 hour", "measure": "sum", "max": 20000}', 15, 'V_SUM_1H', 'money_laundering'),
 (1, 'v_cust_sum_24h', 'velocity', '{"entity": "customer", "window": "24 hours", "measure": "sum", "max": 50000}', 15, 'V_SUM_24H', 'money_laundering'),
 (1, 'v_cust_sum_7d', 'velocity', '{"entity": "customer", "window": "7 days", "measure": "sum", "max": 100000}', 10, 'V_SUM_7D', 'money_laundering'),
 (1, 'v_cust_payees_24h', 'velocity', '{"entity": "customer", "window": "24 hours", "measure": "distinct", "of": "counterparty", "max": 3}', 10, 'V_PAYEES_24H', 'telecom_fraud'),
 (1, 'v_cust_payees_7d', 'velocity', '{"entity": "customer", "window": "7 days", "measure": "distinct", "of": "counterparty", "max": 8}', 10, 'V_PAYEES_7D', 'telecom_fraud'),
 (1, 'v_cust_devices_7d', 'velocity', '{"entity": "customer", "window": "7 days", "measure": "distinct", "of": "device", "max": 3}', 15, 'V_DEVICES_7D', 'account_takeover'),
 (1, 'v_dev_1h', 'velocity', '{"entity": "device", "window": "1 hour", "max": 5}', 15, 'V_DEV_1H', 'account_takeover'),
 (1, 'v_dev_custs_24h', 'velocity', '{"entity": "device", "window": "24 hours", "measure": "distinct", "of": "customer", "max": 3}', 20, 'V_DEV_CUSTOMERS', 'false_application'),
 (1, 'v_ip_10m', 'velocity', '{"entity": "ip", "window": "10 minutes", "max": 5}', 10, 'V_IP_10M', 'card_not_present'),
 (1, 'v_ip_custs_1h', 'velocity', '{"entity": "ip", "window": "1 hour", "measure": "distinct", "of": "customer", "max": 5}', 15, 'V_IP_CUSTOMERS', 'false_application'),
 (1, 'v_phone_24h', 'velocity', '{"entity": "phone", "window": "24 hours", "max": 10}', 10, 'V_PHONE_24H', 'telecom_fraud'),
 (1, 'v_pair_24h', 'velocity', '{"entity": "pair", "window": "24 hours", "max": 3}', 10, 'V_PAIR_24H', 'marketing_fraud'),
 (1, 'f_new_device', 'first_seen', '{"of": "device"}', 15, 'F_NEW_DEVICE', 'account_takeover'),
 (1, 'f_new_payee', 'first_seen', '{"of": "counterparty", "lookback": "90 days"}', 5, 'F_NEW_PAYEE', 'telecom_fraud'),
 (1, 'f_new_region', 'first_seen', '{"of": "region"}', 10, 'F_NEW_REGION', 'account_takeover'),
 (1, 'f_new_ip', 'first_seen', '{"of": "ip", "lookback": "30 days"}', 3, 'F_NEW_IP', 'account_takeover'),
 (1, 'f_new_merchant', 'first_seen', '{"of": "merchant", "lookback": "30 days"}', 2, 'F_NEW_MERCHANT', 'marketing_fraud'),
 (1, 's_cust_50k', 'structuring', '{"window": "24 hours", "threshold": 50000, "below_pct": 10, "min_count": 3}', 30, 'S_50K', 'money_laundering'),
 (1, 's_cust_10k', 'structuring', '{"window": "7 days", "threshold": 10000, "below_pct": 5, "min_count": 4}', 25, 'S_10K', 'money_laundering'),
 (1, 's_dev_50k', 'structuring', '{"entity": "device", "window": "24 hours", "threshold": 50000, "below_pct": 10, "min_count": 3}', 25, 'S_DEV_50K', 'money_laundering'),
 (1, 'd_night', 'time_of_day', '{"from": "00:00", "to": "05:00"}', 5, 'D_NIGHT', 'card_not_present'),
 (1, 'd_night_big', 'time_of_day', '{"from": "01:00", "to": "04:00", "when": {"min_amount": 5000}}', 15, 'D_NIGHT_BIG', 'telecom_fraud'),
 (1, 'g_jump', 'travel', '{"max_kmh": 900, "min_km": 50}', 25, 'G_IMPOSSIBLE', 'account_takeover'),
 (1, 'g_fast', 'travel', '{"max_kmh": 300, "min_km": 100, "within": "6 hours"}', 10, 'G_FAST', 'account_takeover'),
 (1, 'g_pos_moved', 'travel', '{"entity": "device", "max_km": 5, "when": {"channel": ["pos"]}}', 20, 'G_POS_MOVED', 'terminal_relocation'),
 (1, 'm_ato', 'model', '{"intercept": -5, "features": [{"feature": "log_amount", "weight": 0.3}, {"feature": "rule:v_cust_1h", "weight": 0.4}, {"feature": "fired:f_new_device", "weight": 1.5}], "min_probability": 0.5}', 30, 'M_ATO', 'account_takeover'),
 (1, 'm_aml', 'model', '{"intercept": -6, "features": [{"feature": "rule:v_cust_sum_24h", "weight": 0.0001}, {"feature": "rule:v_cust_payees_24h", "weight": 0.5}], "min_probability": 0.6}', 30, 'M_AML', 'money_laundering');
UPDATE finsec.risk_ruleset SET state = 'active' WHERE version = 1;
VACUUM ANALYZE;
SQL
psql_b -f "$(dirname "$0")/risk_plpgsql.sql"
# The application calls as a member of finsec_app (it gets the minimal
# output of JR/T 0199 8.4 f); the baseline runs as the same role.
psql_b <<'SQL'
CREATE ROLE bench_app LOGIN IN ROLE finsec_app;
GRANT SELECT ON bench_pay TO bench_app;
GRANT SELECT ON finsec.risk_list_entry TO bench_app;   -- the baseline reads the lists itself
SQL
echo "loaded in $(( $(date +%s) - t0 )) s: $(psql_b -c 'SELECT count(*) FROM bench_pay') payments, $(psql_b -c 'SELECT count(*) FROM finsec.risk_list_entry') list entries, $(psql_b -c 'SELECT count(*) FROM finsec.risk_rule WHERE ruleset_version = 1') rules"

say "correctness: both implementations on the same 1000 random payments"
psql_b <<'SQL'
CREATE TABLE sample AS
SELECT 'c' || c AS customer_id, round((10 + random() * random() * 60000)::numeric, 2) AS amount,
	   'p' || (c * 7 + (random() * 8)::int) AS counterparty,
	   CASE WHEN random() < 0.95 THEN 'CNY' ELSE 'USD' END AS currency,
	   (ARRAY['app', 'web', 'pos', 'atm'])[1 + (random() * 3)::int] AS channel,
	   (ARRAY['5411', '5812', '4829', '7995', '5999', '6051'])[1 + (random() * 5)::int] AS mcc,
	   CASE WHEN random() < 0.05 THEN 'shared-' || (random() * 99)::int ELSE 'd' || (c * 2 + (random() < 0.2)::int) END AS device,
	   CASE WHEN random() < 0.1 THEN ('100.64.0.' || (random() * 49)::int)::inet
			ELSE ('10.' || (c / 65536) || '.' || (c / 256) % 256 || '.' || c % 256)::inet END AS ip,
	   '13' || lpad((c * 37 % 1000000000)::text, 9, '0') AS phone,
	   point(116 + (c % 10) + random() * (CASE WHEN random() < 0.1 THEN 10 ELSE 0.01 END), 30 + (c % 9)) AS geo,
	   (ARRAY['110000', '310000', '440100', '440300', '330100'])[1 + (c % 5)] AS region,
	   'm' || (c % 5000 + (random() < 0.2)::int) AS merchant,
	   1 + (random() < 0.5)::int AS tier,
	   now() - random() * interval '1 day' AS at
  FROM generate_series(1, 1000), LATERAL (SELECT 1 + (random() * 99999)::int AS c) r;
CREATE TABLE compared AS
SELECT s.*, f.decision AS f_decision, f.score AS f_score, p.decision AS p_decision, p.score AS p_score
  FROM sample s,
	   LATERAL finsec.risk_score(customer => s.customer_id, amount => s.amount, counterparty => s.counterparty,
			currency => s.currency, channel => s.channel, mcc => s.mcc, device => s.device, ip => s.ip,
			phone => s.phone, geo => s.geo, region => s.region, merchant => s.merchant, auth_tier => s.tier,
			at => s.at) f,
	   LATERAL dba_risk_score(s.customer_id, s.amount, s.counterparty, s.currency, s.channel, s.mcc, s.device,
			s.ip, s.phone, s.geo, s.region, s.merchant, s.tier, s.at) p;
GRANT SELECT ON sample TO bench_app;
SQL
echo "decisions: $(psql_b -c "SELECT string_agg(f_decision || ' ' || n, ', ' ORDER BY f_decision) FROM (SELECT f_decision, count(*) n FROM compared GROUP BY 1) x")"
mismatches=$(psql_b -c "SELECT count(*) FROM compared WHERE f_decision <> p_decision OR abs(f_score - p_score) > 0.001")
echo "mismatches between finsec and PL/pgSQL: $mismatches of 1000"
if [ "$mismatches" != 0 ]; then
	psql_b -c "SELECT customer_id, amount, f_decision, f_score, p_decision, p_score FROM compared
	            WHERE f_decision <> p_decision OR abs(f_score - p_score) > 0.001 LIMIT 10"
	echo "FAILED: the two implementations disagree" >&2
	exit 1
fi

say "in-backend latency: 20000 calls each, timed one by one"
psql_b -c "CREATE TABLE lat (impl text, us float8)" -c "GRANT INSERT, SELECT ON lat TO bench_app"
as_pg psql -X -q -At -v ON_ERROR_STOP=1 -U bench_app -d bench <<'SQL' >"$WORKDIR/inbackend.txt"
DO $$
DECLARE
	s record;
	t0 timestamptz;
	d finsec.risk_decision;
	p record;
	i int := 0;
BEGIN
	-- warm both (rule compilation, caches), then time
	FOR s IN SELECT * FROM sample LIMIT 200 LOOP
		d := finsec.risk_score(customer => s.customer_id, amount => s.amount, device => s.device, ip => s.ip);
		SELECT * INTO p FROM dba_risk_score(s.customer_id, s.amount, s.counterparty, s.currency, s.channel, s.mcc,
			s.device, s.ip, s.phone, s.geo, s.region, s.merchant, s.tier, s.at);
	END LOOP;
	FOR i IN 1..20 LOOP
		FOR s IN SELECT * FROM sample LOOP
			t0 := clock_timestamp();
			d := finsec.risk_score(customer => s.customer_id, amount => s.amount, counterparty => s.counterparty,
				currency => s.currency, channel => s.channel, mcc => s.mcc, device => s.device, ip => s.ip,
				phone => s.phone, geo => s.geo, region => s.region, merchant => s.merchant, auth_tier => s.tier,
				at => s.at);
			INSERT INTO lat VALUES ('finsec', extract(epoch FROM clock_timestamp() - t0) * 1e6);
		END LOOP;
	END LOOP;
	FOR i IN 1..2 LOOP
		FOR s IN SELECT * FROM sample LOOP
			t0 := clock_timestamp();
			SELECT * INTO p FROM dba_risk_score(s.customer_id, s.amount, s.counterparty, s.currency, s.channel, s.mcc,
				s.device, s.ip, s.phone, s.geo, s.region, s.merchant, s.tier, s.at);
			INSERT INTO lat VALUES ('plpgsql', extract(epoch FROM clock_timestamp() - t0) * 1e6);
		END LOOP;
	END LOOP;
END $$;
SELECT impl, count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us)::numeric, 1),
	   round(percentile_cont(0.99) WITHIN GROUP (ORDER BY us)::numeric, 1)
  FROM lat GROUP BY impl ORDER BY impl;
SQL
cat "$WORKDIR/inbackend.txt"

# pgbench: random customers of the data, their devices, IPs and phones.
for impl in finsec plpgsql; do
	if [ $impl = finsec ]; then
		call="SELECT decision FROM finsec.risk_score(customer => 'c' || :c, amount => :a / 100.0, counterparty => 'p' || :p, currency => 'CNY', channel => 'app', mcc => '5411', device => 'd' || (:c * 2), ip => ('10.' || (:c / 65536) || '.' || (:c / 256) % 256 || '.' || :c % 256)::inet, phone => '13' || lpad((:c * 37 % 1000000000)::text, 9, '0'), geo => point(116 + :c % 10, 30 + :c % 9), region => '110000', merchant => 'm' || (:c % 5000), auth_tier => 2)"
	else
		call="SELECT decision FROM dba_risk_score('c' || :c, :a / 100.0, 'p' || :p, 'CNY', 'app', '5411', 'd' || (:c * 2), ('10.' || (:c / 65536) || '.' || (:c / 256) % 256 || '.' || :c % 256)::inet, '13' || lpad((:c * 37 % 1000000000)::text, 9, '0'), point(116 + :c % 10, 30 + :c % 9), '110000', 'm' || (:c % 5000), 2, now())"
	fi
	cat >"$WORKDIR/$impl.sql" <<EOF
\\set c random(1, $customers)
\\set a random(1000, 2000000)
\\set p random(1, $((customers * 2)))
$call;
EOF
done
chown -R postgres "$WORKDIR"

declare -A TPS P50 P99
for clients in 1 8; do
	for impl in finsec plpgsql; do
		d="$WORKDIR/log_${impl}_$clients"
		mkdir -p "$d"; chown postgres "$d"
		out=$(cd "$d" && as_pg pgbench -U bench_app -n -M prepared -c $clients -j $clients -T "$secs" -l -f "$WORKDIR/$impl.sql" bench 2>&1)
		TPS[$impl,$clients]=$(echo "$out" | awk '/^tps/ { print $3; exit }')
		read -r P50[$impl,$clients] P99[$impl,$clients] < <(cat "$d"/pgbench_log.* | awk '{ print $3 }' | sort -n |
			awk '{ v[NR] = $1 } END { printf "%.0f %.0f\n", v[int(NR * 0.5)], v[int(NR * 0.99)] }')
		echo "pgbench $clients client(s) ${secs}s $impl: ${TPS[$impl,$clients]} calls/s, p50 ${P50[$impl,$clients]} us, p99 ${P99[$impl,$clients]} us"
	done
done

# The decision log at full rate (issue 20): 8 clients, logging off
# (finsec.risk_log_decisions = none), then default logging (flagged: all
# but plain allows), then every decision logged; back-pressure on (wait up
# to 1 s for room, then refuse the call).  With full logging every decision
# made must be a row of finsec.risk_decision_log, none dropped.
say "decision log: 8 clients, logging off, flagged, full"
made() { psql_b -c "SELECT sum(decisions) FROM finsec.risk_stats() WHERE decision IN ('allow', 'challenge', 'review', 'block')"; }
logged() { psql_b -c "SELECT count(*) FROM finsec.risk_decision_log"; }
drain() {
	local i
	for i in $(seq 1 600); do
		[ "$(psql_b -c 'SELECT waiting + flushing FROM finsec.risk_decision_buffer()')" = 0 ] && return 0
		psql_b -c "SELECT finsec.flush_risk_decisions()" >/dev/null
	done
	echo "the decision buffer did not drain" >&2
}
declare -A LTPS LMADE LLOGGED LWAITS
for mode in none flagged all; do
	psql_b -c "ALTER SYSTEM SET finsec.risk_log_decisions = '$mode'" -c "SELECT pg_reload_conf()" >/dev/null
	sleep 1
	drain
	m0=$(made); l0=$(logged); w0=$(psql_b -c "SELECT waits FROM finsec.risk_decision_log_pressure()")
	out=$(as_pg pgbench -U bench_app -n -M prepared -c 8 -j 8 -T "$secs" -f "$WORKDIR/finsec.sql" bench 2>&1)
	LTPS[$mode]=$(echo "$out" | awk '/^tps/ { print $3; exit }')
	drain
	LMADE[$mode]=$(( $(made) - m0 )); LLOGGED[$mode]=$(( $(logged) - l0 ))
	LWAITS[$mode]=$(( $(psql_b -c "SELECT waits FROM finsec.risk_decision_log_pressure()") - w0 ))
	echo "8 clients ${secs}s, logging $mode: ${LTPS[$mode]} calls/s; decisions made ${LMADE[$mode]}, logged ${LLOGGED[$mode]}, waits for room ${LWAITS[$mode]}"
	echo "$out" | grep -i "error\|abort" | head -3 || true
done
IFS='|' read -r p_waits p_waited p_refused p_dropped p_flushed p_stmts < <(psql_b -c \
	"SELECT waits, round(waited_ms::numeric, 1), refused, dropped, flushed, flush_statements FROM finsec.risk_decision_log_pressure()")
echo "back-pressure since start: $p_waits waits ($p_waited ms in all), $p_refused refused calls, $p_dropped dropped, $p_flushed rows flushed in $p_stmts INSERTs"
log_rate=$(echo "${LLOGGED[all]} $secs" | awk '{ printf "%.0f", $1 / $2 }')
log_ratio=$(echo "${LTPS[all]} ${LTPS[none]}" | awk '{ printf "%.3g", $1 / $2 }')
flag_ratio=$(echo "${LTPS[flagged]} ${LTPS[none]}" | awk '{ printf "%.3g", $1 / $2 }')
log_missing=$(( LMADE[all] - LLOGGED[all] ))

say "results"
read -r _ fn f50 f99 < <(grep '^finsec|' "$WORKDIR/inbackend.txt" | tr '|' ' ')
read -r _ pn p50 p99 < <(grep '^plpgsql|' "$WORKDIR/inbackend.txt" | tr '|' ' ')
printf '%-32s %14s %14s %8s\n' "" "finsec" "PL/pgSQL" "ratio"
printf '%-32s %14s %14s %8.1f\n' "in-backend p50 (us)" "$f50" "$p50" "$(echo "$p50 $f50" | awk '{ print $1 / $2 }')"
printf '%-32s %14s %14s %8.1f\n' "in-backend p99 (us)" "$f99" "$p99" "$(echo "$p99 $f99" | awk '{ print $1 / $2 }')"
for clients in 1 8; do
	printf '%-32s %14.0f %14.0f %8.1f\n' "pgbench $clients client(s) calls/s" "${TPS[finsec,$clients]}" "${TPS[plpgsql,$clients]}" \
		"$(echo "${TPS[finsec,$clients]} ${TPS[plpgsql,$clients]}" | awk '{ print $1 / $2 }')"
	printf '%-32s %14s %14s %8.1f\n' "pgbench $clients client(s) p50 (us)" "${P50[finsec,$clients]}" "${P50[plpgsql,$clients]}" \
		"$(echo "${P50[plpgsql,$clients]} ${P50[finsec,$clients]}" | awk '{ print $1 / $2 }')"
	printf '%-32s %14s %14s %8.1f\n' "pgbench $clients client(s) p99 (us)" "${P99[finsec,$clients]}" "${P99[plpgsql,$clients]}" \
		"$(echo "${P99[plpgsql,$clients]} ${P99[finsec,$clients]}" | awk '{ print $1 / $2 }')"
done
echo "targets: in-backend p99 < 1000 us: $(awk -v v="$f99" 'BEGIN { print (v < 1000) ? "met" : "NOT met" }');" \
	"throughput >= 20x PL/pgSQL at 8 clients: $(echo "${TPS[finsec,8]} ${TPS[plpgsql,8]}" | awk '{ print ($1 / $2 >= 20) ? "met" : "NOT met" }')"
echo "decision log, 8 clients: $log_rate decisions/s logged (full logging), throughput full / off $log_ratio, flagged / off $flag_ratio;" \
	"made - logged: $log_missing; since start: dropped $p_dropped, refused $p_refused, waits $p_waits"

ratio8=$(echo "${TPS[finsec,8]} ${TPS[plpgsql,8]}" | awk '{ printf "%.3g", $1 / $2 }')
echo "RESULT|risk|in-backend p99 latency|$f99|<|1000|us"
echo "RESULT|risk|pgbench 8 clients: finsec / PL/pgSQL|$ratio8|>=|20|ratio"
echo "RESULT|risk|decisions logged/s, 8 clients, full logging|$log_rate|-|-|decisions/s"
echo "RESULT|risk|scoring: full logging / logging off, 8 clients|$log_ratio|>=|0.80|ratio"
echo "RESULT|risk|scoring: flagged logging / logging off, 8 clients|$flag_ratio|-|-|ratio"
echo "RESULT|risk|decisions made but not logged, full logging|$log_missing|<=|0|decisions"
echo "RESULT|risk|decisions dropped (buffer full)|$p_dropped|<=|0|decisions"
echo "RESULT|risk|scoring calls refused (buffer full)|$p_refused|-|-|calls"
echo "RESULT|risk|scoring calls that waited for room, full logging|${LWAITS[all]}|-|-|calls"
exit 0
