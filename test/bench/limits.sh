#!/usr/bin/env bash
# Benchmark of the limit trigger (issue 6, L1), as root:
#   bash test/bench/limits.sh [seconds-per-pgbench-run] [rows-for-insert-select]
#
# Three identical payments tables in one run: no trigger, finsec's limit
# trigger (finsec.enable_limits, a single and a daily policy), and the
# PL/pgSQL trigger a DBA would write for the same rules (upsert of a
# (customer, day) usage row plus a check).  Limits are high enough that
# nothing is refused.
# Each table has the index a payments table has on its payer,
# (customer_id, posted_at): finsec 1.4 finds a payer's recent payments
# through it when the payer's usage is not cached.
#   pgbench, 8 clients, single-row inserts over 100k customers who have
#     each paid once before,
#     synchronous_commit on and off: TPS ratio to no trigger
#     (targets: finsec >= 0.90 on, >= 0.85 off)
#   INSERT ... SELECT of N (default 1M) rows: rows/s
#     (targets: finsec >= 5x the PL/pgSQL trigger, >= 0.6 of no trigger)
#   the first payment of each of 2000 payers after a restart (cold cache:
#     the payer's usage recomputed from the payments table) against the
#     second (warm): latency p50 / p99 of a committed single payment
. "$(dirname "$0")/../../scripts/lib.sh"

secs=${1:-20}
n=${2:-1000000}

ensure_deps
build_install
make_workdir
trap 'stop_cluster bench; rm -rf "$WORKDIR"' EXIT
start_cluster bench 54346
as_pg createdb bench

psql_b() { as_pg psql -X -q -At -v ON_ERROR_STOP=1 -d bench "$@"; }
# Test clusters run with fsync off; a commit must reach the disk here, or
# synchronous_commit on and off would measure the same thing.
psql_b -c "ALTER SYSTEM SET fsync = on" -c "SELECT pg_reload_conf()" >/dev/null
psql_b <<'SQL'
CREATE EXTENSION finsec;
CREATE TABLE pay_none (id bigserial PRIMARY KEY, customer_id int NOT NULL, amount numeric NOT NULL,
                       posted_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON pay_none (customer_id, posted_at);
CREATE TABLE pay_finsec (LIKE pay_none INCLUDING ALL);
CREATE TABLE pay_plpgsql (LIKE pay_none INCLUDING ALL);

SELECT finsec.enable_limits('pay_finsec', customer => 'customer_id', amount => 'amount', posted_at => 'posted_at');
INSERT INTO finsec.limit_policy (name, relid, period, max_amount) VALUES
	('bench single', 'pay_finsec', 'single', 5000),
	('bench day', 'pay_finsec', 'day', 100000000);

CREATE TABLE dba_usage (customer_id int, day date, amount numeric NOT NULL, n bigint NOT NULL,
                        PRIMARY KEY (customer_id, day));
CREATE FUNCTION dba_limit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	used numeric;
BEGIN
	IF NEW.amount > 5000 THEN
		RAISE EXCEPTION 'single-payment limit exceeded' USING ERRCODE = 'S9L01';
	END IF;
	INSERT INTO dba_usage AS u VALUES (NEW.customer_id, (now() AT TIME ZONE 'Asia/Shanghai')::date, NEW.amount, 1)
	ON CONFLICT (customer_id, day) DO UPDATE SET amount = u.amount + EXCLUDED.amount, n = u.n + 1
	RETURNING u.amount INTO used;
	IF used > 100000000 THEN
		RAISE EXCEPTION 'daily limit exceeded' USING ERRCODE = 'S9L01';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER dba_limit BEFORE INSERT ON pay_plpgsql FOR EACH ROW EXECUTE FUNCTION dba_limit();
SQL

# Every customer has paid before (a system in its steady state): one
# payment each, so the pgbench runs update existing usage rows (finsec keeps
# one row per payer; the PL/pgSQL trigger one per payer and day).
for t in none finsec plpgsql; do
	psql_b -c "INSERT INTO pay_$t (customer_id, amount) SELECT c, 1 FROM generate_series(1, 100000) c"
done
psql_b -c "VACUUM ANALYZE"

for t in none finsec plpgsql; do
	cat >"$WORKDIR/pay_$t.sql" <<EOF
\set c random(1, 100000)
\set a random(1, 1000)
INSERT INTO pay_$t (customer_id, amount) VALUES (:c, :a);
EOF
done
chown -R postgres "$WORKDIR"

tps() { # table sync -> tps
	as_pg env PGOPTIONS="-c synchronous_commit=$2" pgbench -n -c 8 -j 8 -T "$secs" -f "$WORKDIR/pay_$1.sql" bench 2>/dev/null |
		awk '/^tps/ { print $3; exit }'
}

declare -A T
for sync in on off; do
	for t in none finsec plpgsql; do
		T[$t,$sync]=$(tps "$t" "$sync")
		echo "pgbench 8 clients ${secs}s synchronous_commit=$sync $t: ${T[$t,$sync]} tps"
	done
done

now() { date +%s.%N; }
declare -A R
for t in none finsec plpgsql; do
	t0=$(now)
	psql_b -c "INSERT INTO pay_$t (customer_id, amount) SELECT 1 + i % 100000, 1 + i % 1000 FROM generate_series(1, $n) i"
	R[$t]=$(echo "$(now) $t0" | awk -v n="$n" '{ print n / ($1 - $2) }')
	echo "INSERT ... SELECT $n rows $t: ${R[$t]} rows/s"
done

# Cold cache: restart, then the first payment of each of 2000 payers who
# have paid before, each its own transaction, timed in the server; then
# the same payers again (warm).
as_pg pg_ctl -D "$WORKDIR/bench" -l "$WORKDIR/bench.log" -m fast -w restart >/dev/null
psql_b <<'SQL'
CREATE TABLE lat (phase text, ms float8);
CREATE PROCEDURE pay_timed(phase text) LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
BEGIN
	FOR c IN 50001..52000 LOOP
		t0 := clock_timestamp();
		INSERT INTO pay_finsec (customer_id, amount) VALUES (c, 1);
		COMMIT;
		INSERT INTO lat VALUES (phase, extract(epoch FROM clock_timestamp() - t0) * 1000);
		COMMIT;
	END LOOP;
END $$;
CALL pay_timed('cold');
CALL pay_timed('warm');
SQL
read -r cp50 cp99 wp50 wp99 < <(psql_b -F ' ' -c "SELECT
	(SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM lat WHERE phase = 'cold'),
	(SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) FROM lat WHERE phase = 'cold'),
	(SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM lat WHERE phase = 'warm'),
	(SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) FROM lat WHERE phase = 'warm')")
echo "first payment after a restart (cold cache), 2000 payers: p50 $cp50 ms, p99 $cp99 ms; warm: p50 $wp50 ms, p99 $wp99 ms"
psql_b -c "SELECT * FROM finsec.limit_cache()"

awk -v a="${T[finsec,on]}" -v b="${T[none,on]}" -v c="${T[plpgsql,on]}" \
    -v d="${T[finsec,off]}" -v e="${T[none,off]}" -v f="${T[plpgsql,off]}" \
    -v rf="${R[finsec]}" -v rn="${R[none]}" -v rp="${R[plpgsql]}" \
    -v cp50="$cp50" -v cp99="$cp99" -v wp50="$wp50" -v wp99="$wp99" 'BEGIN {
	printf "synchronous_commit on:  finsec/none %.2f (target >= 0.90), plpgsql/none %.2f\n", a / b, c / b;
	printf "synchronous_commit off: finsec/none %.2f (target >= 0.85), plpgsql/none %.2f\n", d / e, f / e;
	printf "INSERT ... SELECT: finsec/plpgsql %.2f (target >= 5), finsec/none %.2f (target >= 0.6)\n", rf / rp, rf / rn;
	printf "cold/warm first payment latency: p50 %.2f, p99 %.2f\n", cp50 / wp50, cp99 / wp99;
	printf "RESULT|limits|single payments, 8 clients, sync commit on: finsec/no trigger|%.3f|>=|0.90|ratio\n", a / b;
	printf "RESULT|limits|single payments, sync commit on: PL/pgSQL/no trigger|%.3f|-|-|ratio\n", c / b;
	printf "RESULT|limits|single payments, 8 clients, sync commit off: finsec/no trigger|%.3f|>=|0.85|ratio\n", d / e;
	printf "RESULT|limits|single payments, sync commit off: PL/pgSQL/no trigger|%.3f|-|-|ratio\n", f / e;
	printf "RESULT|limits|INSERT ... SELECT: finsec/PL/pgSQL trigger|%.2f|>=|5|ratio\n", rf / rp;
	printf "RESULT|limits|INSERT ... SELECT: finsec/no trigger|%.3f|>=|0.6|ratio\n", rf / rn;
	printf "RESULT|limits|first payment after restart (cold cache) p50|%.3f|-|-|ms\n", cp50;
	printf "RESULT|limits|first payment after restart (cold cache) p99|%.3f|-|-|ms\n", cp99;
	printf "RESULT|limits|cold/warm payment latency p50|%.2f|-|-|ratio\n", cp50 / wp50;
	printf "RESULT|limits|cold/warm payment latency p99|%.2f|-|-|ratio\n", cp99 / wp99 }'
