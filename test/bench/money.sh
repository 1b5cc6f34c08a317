#!/usr/bin/env bash
# Benchmark of finsec.money aggregation (issue 5, D8), as root:
#   bash test/bench/money.sh [rows]
#
# sum() over N (default 10,000,000) amounts, three ways over the same rows
# of one table, so that the scan costs the same: sum(finsec.money),
# sum(bigint) of the same minor units, and sum(numeric) of the same amounts
# in major units.  One backend, no parallel workers; each query runs three
# times and the best counts.  Prints seconds and the ratios
#   money/bigint   (target <= 1.5)
#   money/numeric  (target <  1.0)
# and checks that the three sums agree.
. "$(dirname "$0")/../../scripts/lib.sh"

n=${1:-10000000}

ensure_deps
build_install
make_workdir
trap 'stop_cluster bench; rm -rf "$WORKDIR"' EXIT
start_cluster bench 54342
as_pg createdb bench

psql_b() { as_pg psql -X -q -At -v ON_ERROR_STOP=1 -d bench "$@"; }
psql_b <<SQL
CREATE EXTENSION finsec;
CREATE TABLE amounts AS
	SELECT finsec.money_from_minor(v, 'CNY') AS m, v AS b, v / 100.0 AS n
	  FROM (SELECT (i::bigint * 7919 % 2000003 - 1000000) AS v
	          FROM generate_series(1, $n) i) s;
VACUUM ANALYZE amounts;
SQL

now() { date +%s.%N; }
measure() { # sql -> best seconds of three runs; prints the result to stderr
	local best="" t0 t out
	for i in 1 2 3; do
		t0=$(now)
		out=$(psql_b -c "SET max_parallel_workers_per_gather = 0" -c "$1")
		t=$(echo "$(now) $t0" | awk '{print $1 - $2}')
		best=$(awk -v a="$best" -v b="$t" 'BEGIN { print (a == "" || b < a) ? b : a }')
	done
	echo "$out" >&2
	echo "$best"
}

say "sum() over $n rows: finsec.money vs bigint vs numeric (one backend, best of 3)"
t_money=$(measure "SELECT finsec.minor_units(sum(m)) FROM amounts" 2>"$WORKDIR/r_money")
t_bigint=$(measure "SELECT sum(b) FROM amounts" 2>"$WORKDIR/r_bigint")
t_numeric=$(measure "SELECT sum(n) * 100 FROM amounts" 2>"$WORKDIR/r_numeric")
t_scan=$(measure "SELECT count(*) FROM amounts" 2>/dev/null)
r_money=$(cat "$WORKDIR/r_money"); r_bigint=$(cat "$WORKDIR/r_bigint")
r_numeric=$(sed 's/\.0*$//' "$WORKDIR/r_numeric")
[ "$r_money" = "$r_bigint" ] && [ "$r_money" = "$r_numeric" ] ||
	die "sums disagree: money $r_money, bigint $r_bigint, numeric $r_numeric"
awk -v m="$t_money" -v b="$t_bigint" -v nu="$t_numeric" -v s="$t_scan" -v n="$n" 'BEGIN {
	printf "sum(finsec.money) %.3f s   sum(bigint) %.3f s   sum(numeric) %.3f s   count(*) %.3f s\n", m, b, nu, s;
	printf "money/bigint  = %.2f (target <= 1.5)\n", m / b;
	printf "money/numeric = %.2f (target < 1.0)\n", m / nu;
	printf "rows/s: money %.1f M, bigint %.1f M, numeric %.1f M\n", n / m / 1e6, n / b / 1e6, n / nu / 1e6;
	printf "RESULT|money|sum() money/bigint time|%.3g|<=|1.5|ratio\n", m / b;
	printf "RESULT|money|sum() money/numeric time|%.3g|<|1.0|ratio\n", m / nu }'
echo "all three sums: $r_money minor units"
