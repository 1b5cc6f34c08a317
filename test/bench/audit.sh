#!/usr/bin/env bash
# Benchmark of the audit ledger (issue: immutable audit), as root:
#   bash test/bench/audit.sh [seconds-per-run] [verify-rows]
#
# 1. Insert throughput: pgbench, 8 clients, single-row INSERTs into a
#    protected table versus the same table unprotected, alternating runs in
#    one cluster, with the sealer worker running as in production.
#    Prints protected/unprotected (target >= 0.8).
# 2. Verification speed on N rows (default 1,000,000): rows per second of
#    finsec.audit_verify(), against the baseline a DBA would otherwise
#    write (hash every row's text form with sha256() in SQL).
#    Target >= 300k rows/s on one core.
# The cluster runs with fsync off so that the figures measure CPU cost, the
# worst case for the ratio; with real disks commit latency dominates both.
. "$(dirname "$0")/../../scripts/lib.sh"

secs=${1:-15}
nrows=${2:-1000000}

ensure_deps
build_install
make_workdir
trap 'stop_cluster bench; rm -rf "$WORKDIR"' EXIT
start_cluster bench 54340
echo "finsec.audit_seal_databases = 'bench'" >>"$WORKDIR/bench/postgresql.conf"
as_pg createdb bench
stop_cluster bench
as_pg pg_ctl -D "$WORKDIR/bench" -l "$WORKDIR/bench.log" -w start >/dev/null

psql_b() { as_pg psql -X -q -At -d bench "$@"; }
psql_b <<'SQL'
CREATE EXTENSION finsec;
CREATE TABLE plain_pay (id bigserial PRIMARY KEY, account text NOT NULL, amount numeric(18,2) NOT NULL,
                        created timestamptz NOT NULL DEFAULT now());
CREATE TABLE prot_pay (LIKE plain_pay INCLUDING ALL);
ALTER TABLE prot_pay ALTER id SET DEFAULT nextval(pg_get_serial_sequence('plain_pay', 'id'));
SELECT finsec.protect_table('prot_pay');
SQL
for t in plain_pay prot_pay; do
	echo "INSERT INTO $t (account, amount) VALUES ('6222' || (random() * 1e8)::int, (random() * 1e4)::numeric(18,2));" \
		>"$WORKDIR/ins_$t.sql"
	chown postgres "$WORKDIR/ins_$t.sql"
done

tps() { # table
	as_pg pgbench -n -c 8 -j 2 -T "$secs" -f "$WORKDIR/ins_$1.sql" bench 2>/dev/null |
		awk '/^tps/ { print $3; exit }'
}

say "insert throughput, 8 clients, ${secs}s per run, alternating"
declare -a plain prot
for round in 1 2; do
	plain+=("$(tps plain_pay)"); prot+=("$(tps prot_pay)")
	echo "round $round: unprotected ${plain[-1]} tps, protected ${prot[-1]} tps"
done
psql_b -c "SELECT finsec.audit_seal()" >/dev/null
verify_after=$(psql_b -c "SELECT ok || ' rows=' || rows_checked FROM finsec.audit_verify('prot_pay')")
ratio=$(echo "${plain[*]} ${prot[*]}" | awk '{ print ($3 + $4) / ($1 + $2) }')
printf 'insert: protected/unprotected = %.3f (unprotected %.0f tps, protected %.0f tps); chain after the run: %s\n' \
	"$ratio" "$(echo "${plain[*]}" | awk '{print ($1+$2)/2}')" "$(echo "${prot[*]}" | awk '{print ($1+$2)/2}')" "$verify_after"
awk -v r="$ratio" 'BEGIN { printf "RESULT|audit|protected/unprotected inserts, 8 clients|%.3g|>=|0.80|ratio\n", r }'

say "verification speed on $nrows rows"
psql_b <<SQL
CREATE TABLE big (id bigint PRIMARY KEY, account text NOT NULL, amount numeric(18,2) NOT NULL,
                  created timestamptz NOT NULL, memo text);
SELECT finsec.protect_table('big');
INSERT INTO big SELECT g, '6222' || lpad(g::text, 12, '0'), (g % 100000) / 100.0,
       '2026-01-01'::timestamptz + g * interval '1 second', 'transfer ' || g
  FROM generate_series(1, $nrows) g;
SQL
now() { date +%s.%N; }
t0=$(now); sealed=$(psql_b -c "SELECT rows_sealed FROM finsec.audit_seal('big')"); t_seal=$(echo "$(now) $t0" | awk '{print $1 - $2}')
# Each measurement runs twice; the second (warm cache) counts.
measure() { # sql
	local t0 t
	for i in 1 2; do
		t0=$(now); psql_b -c "$1" >/dev/null; t=$(echo "$(now) $t0" | awk '{print $1 - $2}')
	done
	echo "$t"
}
verify_out=$(psql_b -c "SELECT ok || ' rows=' || rows_checked FROM finsec.audit_verify('big')")
t_verify=$(measure "SELECT ok, rows_checked FROM finsec.audit_verify('big')")
t_base=$(measure "SELECT count(*) FROM big t WHERE sha256(convert_to(t::text, 'UTF8')) IS NOT NULL")
echo "verify result: $verify_out"
awk -v n="$nrows" -v tv="$t_verify" -v tb="$t_base" -v sealed="$sealed" -v ts="$t_seal" 'BEGIN {
	printf "seal: %s rows in %.3f s = %.0f rows/s\n", sealed, ts, sealed / ts;
	printf "verify: %.0f rows/s (%.3f s); baseline sha256(row::text) scan: %.0f rows/s (%.3f s); verify/baseline = %.3f\n",
		n / tv, tv, n / tb, tb, (n / tv) / (n / tb) }'
awk -v n="$nrows" -v tv="$t_verify" 'BEGIN {
	printf "RESULT|audit|audit_verify rows per second|%.3g|>=|300000|rows/s\n", n / tv }'
