#!/usr/bin/env bash
# Benchmark of the compliance self-check (docs/compliance.md,
# "Performance"; the data checks: docs/compliance.md), as root:
#   bash test/bench/compliance.sh [tables] [roles]
#
# A scratch cluster with finsec preloaded and a database of N (default
# 10,000) user tables of 5 columns and 20 rows each (a few with card
# numbers: 5 named card_no, 5 with Luhn-valid numbers in a neutral
# column), and M (default 1,000) login roles.  Every figure is a ratio
# against a baseline measured in the same run, on the same cluster:
#   baseline  a plain join of pg_class, pg_namespace and pg_attribute
#             over every user column (what any catalog-driven check reads)
#   (a) finsec.compliance_check() as a whole (when the dispatcher is
#       built), against the issue's limit of 5 s and the baseline
#   (b) each registered check alone (its function with the args of its
#       first clause), the 5 slowest
#   (c) the card checks with sampling (finsec.compliance_sample_rows 200,
#       _tables 2000) against the same checks by name only (sample_rows 0)
# Each timing is the median of 3 runs (each without the previous run's
# cached sample), as the bootstrap superuser (sees every table: the most
# work).
. "$(dirname "$0")/../../scripts/lib.sh"

ntables=${1:-10000}
nroles=${2:-1000}
port=${FINSEC_BENCH_PORT:-54363}

ensure_deps
build_install
make_workdir
trap 'stop_cluster bench; rm -rf "$WORKDIR"' EXIT
start_cluster bench "$port"
cat >>"$WORKDIR/bench/postgresql.conf" <<CONF
max_wal_size = '4GB'
shared_buffers = '512MB'
max_locks_per_transaction = 256
autovacuum = off
CONF
as_pg pg_ctl -D "$WORKDIR/bench" -l "$WORKDIR/bench.log" -w restart >/dev/null
as_pg createdb bench

psql_b() { as_pg psql -X -q -At -v ON_ERROR_STOP=1 -d bench "$@"; }

say "creating $ntables tables and $nroles roles"
psql_b >/dev/null <<SQL
CREATE EXTENSION finsec;
DO \$\$
DECLARE
	i integer;
BEGIN
	FOR i IN 1 .. $nroles LOOP
		EXECUTE format('CREATE ROLE bench_r%s LOGIN', i);
	END LOOP;
END
\$\$;
-- a card number (UnionPay prefix, Luhn digit) from a seed
CREATE FUNCTION public.bench_card(seed bigint) RETURNS text LANGUAGE sql IMMUTABLE AS \$f\$
	SELECT b || ((10 - sum(CASE WHEN (15 - k) % 2 = 0 THEN (d * 2) / 10 + (d * 2) % 10 ELSE d END) % 10) % 10)::text
	  FROM (SELECT '622202' || lpad((seed * 7919 % 1000000000)::text, 9, '0') AS b) y,
		   LATERAL (SELECT k, substr(y.b, k, 1)::int AS d FROM generate_series(1, 15) k) z
	 GROUP BY b
\$f\$;
SQL
# tables in batches of 500 (one transaction each: bounded lock table)
for ((b = 0; b < ntables; b += 500)); do
	psql_b >/dev/null <<SQL
DO \$\$
DECLARE
	i integer;
BEGIN
	FOR i IN $((b + 1)) .. least($((b + 500)), $ntables) LOOP
		EXECUTE format('CREATE SCHEMA IF NOT EXISTS s%s', i % 20);
		EXECUTE format('CREATE TABLE s%s.t%s (id bigint, memo text, amount numeric, ref varchar(32), %s text)',
					   i % 20, i, CASE WHEN i % 2000 = 7 THEN 'card_no' ELSE 'note' END);
		EXECUTE format('INSERT INTO s%s.t%s SELECT g, %L || g, g * 100, %s, NULL FROM generate_series(1, 20) g',
					   i % 20, i, 'memo ',
					   CASE WHEN i % 2000 = 11 THEN 'public.bench_card(g)' ELSE '''R-'' || g' END);
	END LOOP;
END
\$\$;
SQL
done
psql_b -c "VACUUM ANALYZE" >/dev/null

psql_b >/dev/null <<'SQL'
CREATE FUNCTION public.bench_ms(q text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	ms numeric[] := '{}';
	n bigint;
	i integer;
BEGIN
	FOR i IN 1 .. 3 LOOP
		-- the three runs are one statement: forget the per-statement
		-- sample of the card checks (finsec._compliance_data_sample_once)
		PERFORM set_config('finsec_compliance.sample', '', true);
		t0 := clock_timestamp();
		EXECUTE 'SELECT count(*) FROM (' || q || ') x' INTO n;
		ms := ms || round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1);
	END LOOP;
	RETURN (SELECT m FROM unnest(ms) m ORDER BY m OFFSET 1 LIMIT 1);
END
$$;
CREATE FUNCTION public.bench_status(fn regproc, args jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	s text;
BEGIN
	EXECUTE format('SELECT status FROM %s($1)', fn) INTO s USING args;
	RETURN s;
EXCEPTION WHEN OTHERS THEN
	RETURN 'error ' || SQLSTATE;
END
$$;
SQL

baseline=$(psql_b -c "SELECT bench_ms(\$q\$SELECT c.oid, a.attname, a.atttypid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped WHERE c.relkind IN ('r', 'p', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'finsec', 'pg_toast')\$q\$)")
echo "baseline (catalog join of every user column): ${baseline} ms"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }

if [ "$(psql_b -c "SELECT count(*) FROM pg_proc WHERE proname = 'compliance_check' AND pronamespace = 'finsec'::regnamespace")" != 0 ]; then
	t=$(psql_b -c "SELECT bench_ms('SELECT * FROM finsec.compliance_check()')")
	echo "(a) compliance_check(), ${ntables} tables, ${nroles} roles: ${t} ms (limit 5000 ms: $(ratio "$t" 5000) of it; $(ratio "$t" "$baseline") x baseline)"
	echo "RESULT|compliance|compliance_check(), ${ntables} tables, ${nroles} roles|$t|<=|5000|ms"
	echo "RESULT|compliance|compliance_check()/catalog join baseline|$(ratio "$t" "$baseline")|-|-|ratio"
else
	echo "(a) compliance_check() is not built in this tree: skipped"
fi

echo "(b) each check alone, the 5 slowest:"
psql_b <<'SQL' | head -5 | while IFS='|' read -r name ms status; do echo "    $name: $ms ms ($status; $(ratio "$ms" "$baseline") x baseline)"; done
WITH d AS (
	SELECT d.check_name, d.function::oid::regproc AS fn,
		   coalesce((SELECT cc.args FROM finsec.clause_check cc WHERE cc.check_name = d.check_name
					  ORDER BY cc.clause_id LIMIT 1), '{}') AS args
	  FROM finsec.compliance_check_def d)
SELECT d.check_name, public.bench_ms(format('SELECT * FROM %s(%L::jsonb)', d.fn, d.args)) AS ms,
	   public.bench_status(d.fn, d.args)
  FROM d
 ORDER BY 2 DESC;
SQL

# (c) sampling on and off
for c in card_numbers_plain card_sensitive_data; do
	on=$(psql_b -c "SELECT bench_ms('SELECT * FROM finsec._check_${c}(''{}'')')")
	st=$(psql_b -c "SELECT status || ' ' || (evidence ->> 'tables_sampled') || ' sampled, ' || (evidence ->> 'tables_not_sampled') || ' not, ' || (evidence ->> 'columns_by_name') || ' by name, ' || (evidence ->> 'columns_by_value') || ' by value' FROM finsec._check_${c}('{}')")
	psql_b -c "ALTER SYSTEM SET finsec.compliance_sample_rows = 0" -c "SELECT pg_reload_conf()" >/dev/null
	sleep 1
	off=$(psql_b -c "SELECT bench_ms('SELECT * FROM finsec._check_${c}(''{}'')')")
	psql_b -c "ALTER SYSTEM RESET finsec.compliance_sample_rows" -c "SELECT pg_reload_conf()" >/dev/null
	sleep 1
	echo "RESULT|compliance|${c} sampling/by name only|$(ratio "$on" "$off")|-|-|ratio"
	echo "(c) ${c}: sampling ${on} ms, by name only ${off} ms (sampling/names $(ratio "$on" "$off"); $(ratio "$on" "$baseline") x baseline) [${st}]"
done
