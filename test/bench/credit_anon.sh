#!/usr/bin/env bash
# Benchmark of the anonymity engine (issue 18, docs/credit.md), as root:
#   bash test/bench/credit_anon.sh [records] [runs]      (default 1000000, 2)
#
# Random credit-like records (birth dates over 50 years, 6-digit regions,
# incomes, a 5-valued sensitive attribute) through finsec.deid_evaluate with
# the ladders birth_date [month, year, years:5, decade], region [prefix:4,
# prefix:2], income [round:1000, round:10000], k = 5, l = 2, 5 %
# suppression; then the same with a fourth quasi-identifier (gender).
# Prints, per run, the engine's own timing (the DEBUG1 line "finsec anon:":
# encoding, search, nodes evaluated) and the call's total (which includes
# parsing the jsonb of the records).
. "$(dirname "$0")/../../scripts/lib.sh"

n=${1:-1000000}
runs=${2:-2}

ensure_deps
build_install
make_workdir
trap 'stop_cluster bench; rm -rf "$WORKDIR"' EXIT
start_cluster bench 54346
as_pg createdb bench
psql_b() { as_pg psql -X -q -d bench "$@"; }
psql_b -c "CREATE EXTENSION finsec"
psql_b -v n="$n" <<'SQL'
SELECT setseed(0.5);
CREATE TABLE recs AS
SELECT jsonb_agg(jsonb_build_object(
  'birth_date', (date '1950-01-01' + (random() * 18250)::int)::text,
  'region', (110000 + (random() * 30)::int * 100 + (random() * 99)::int)::text,
  'income', (random() * 200000)::int,
  'gender', (ARRAY['F', 'M'])[1 + (random())::int],
  'status', (ARRAY['a', 'b', 'c', 'd', 'e'])[1 + (random() * 4)::int])) AS r
FROM generate_series(1, :n);
SQL
nq=0
for qi in '{"birth_date": ["month", "year", "years:5", "decade"], "region": ["prefix:4", "prefix:2"], "income": ["round:1000", "round:10000"]}' \
		  '{"birth_date": ["month", "year", "years:5", "decade"], "region": ["prefix:4", "prefix:2"], "income": ["round:1000", "round:10000"], "gender": []}'; do
	nq=$((nq + 1))
	for _ in $(seq "$runs"); do
		psql_b -v qi="$qi" <<'SQL' 2>&1 | grep -E 'finsec anon|Time|levels' | sed 's/^psql:[^ ]* //' | tee "$WORKDIR/anon.out"
SET client_min_messages = debug1;
\timing on
SELECT (j -> 'levels')::text AS levels, j -> 'suppressed' AS suppressed, j -> 'classes' AS classes
  FROM recs, LATERAL finsec.deid_evaluate(r, :'qi', '{status}', 5, 2, 0.05) j;
SQL
	done
	# the figure: the last run's call total
	awk -v n="$n" -v q="$nq" '/^Time:/ { t = $2 } END { if (t != "")
		printf "RESULT|credit_anon|deid_evaluate, %d records, %d quasi-identifiers|%.3g|-|-|s\n", n, q + 2, t / 1000 }' "$WORKDIR/anon.out"
done
