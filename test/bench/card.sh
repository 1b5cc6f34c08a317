#!/usr/bin/env bash
# Benchmark of the protected card type (docs/cards.md), as root:
#   bash test/bench/card.sh [rows]
#
# 1. COPY FROM a file of N (default 1,000,000) distinct, valid (Luhn) card
#    numbers of 16 and 19 digits into a table with a finsec.bank_card column
#    (fingerprint + AES-256-GCM per row), against the same file into a text
#    column.  Prints rows per second of each and their ratio; target: at
#    least 150,000 rows/s for the protected column.
# 2. COPY TO of the protected table (the sealed text form), and COPY FROM
#    that sealed file again (what pg_restore does: decrypt to verify).
# 3. Equality lookups through a unique index on the protected column:
#    10,000 clear numbers looked up in one query (nested loop, index probe
#    per number), and one lookup per statement with pgbench (1 client).
# Each COPY runs twice and the second (warm) run counts.
. "$(dirname "$0")/../../scripts/lib.sh"

n=${1:-1000000}

ensure_deps
build_install
make_workdir
trap 'stop_cluster bench; rm -rf "$WORKDIR"' EXIT
start_cluster bench 54351
as_pg createdb bench

psql_b() { as_pg psql -X -q -At -v ON_ERROR_STOP=1 -d bench "$@"; }
psql_b >/dev/null <<SQL
CREATE EXTENSION finsec;
CREATE ROLE bench_alice LOGIN IN ROLE finsec_admin;
CREATE ROLE bench_bob LOGIN IN ROLE finsec_admin;
SET SESSION AUTHORIZATION bench_alice;
SELECT finsec.key_generate('card.enc', 'encryption', 'aes-256-gcm') IS NOT NULL;
SELECT finsec.key_generate('card.fp', 'fingerprint', 'hmac-sha256') IS NOT NULL;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION bench_bob;
SELECT count(finsec.approve(request_id)) FROM finsec.change_request WHERE state = 'pending';
RESET SESSION AUTHORIZATION;
CREATE TABLE c_text (n text);
CREATE TABLE c_card (n finsec.bank_card);
CREATE TABLE c_sealed (n finsec.bank_card);
SQL

say "generating $n distinct card numbers (16 and 19 digits, eight BINs, Luhn check digit)"
cards=$WORKDIR/cards.txt
awk -v n="$n" 'BEGIN {
	srand(20260514);
	split("622202 621700 436742 524047 621626 625807 622848 621483", bins, " ");
	while (count < n) {
		s = bins[int(rand() * 8) + 1];
		len = rand() < 0.75 ? 16 : 19;
		while (length(s) < len - 1)
			s = s int(rand() * 10);
		sum = 0;
		for (i = length(s); i >= 1; i--) {
			d = substr(s, i, 1) + 0;
			if ((length(s) - i) % 2 == 0) { d *= 2; if (d > 9) d -= 9 }
			sum += d;
		}
		s = s ((10 - sum % 10) % 10);
		if (!(s in seen)) { seen[s] = 1; print s; count++ }
	}
}' >"$cards"
chown postgres "$cards"

now() { date +%s.%N; }
measure() { # sql... -> seconds of the second run
	local t0 t
	for i in 1 2; do
		t0=$(now); psql_b "$@" >/dev/null; t=$(echo "$(now) $t0" | awk '{print $1 - $2}')
	done
	echo "$t"
}
copy_in() { # table file -> seconds of the second run (the table truncated before each)
	local t0 t
	for i in 1 2; do
		psql_b -c "TRUNCATE $1" -c CHECKPOINT
		t0=$(now); psql_b -c "COPY $1 FROM '$2'"; t=$(echo "$(now) $t0" | awk '{print $1 - $2}')
	done
	[ "$(psql_b -c "SELECT count(*) FROM $1")" = "$n" ] || die "$1 does not hold $n rows"
	echo "$t"
}
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }
secs() { awk -v t="$1" 'BEGIN { printf "%.3f", t }'; }

say "COPY FROM of $n card numbers: text column vs finsec.bank_card column"
t_text=$(copy_in c_text "$cards")
t_card=$(copy_in c_card "$cards")
[ "$(psql_b -c "SELECT count(*) FROM c_text WHERE NOT finsec.is_valid_bank_card(n)")" = 0 ] || die "invalid numbers generated"
awk -v n="$n" -v x="$t_text" -v c="$t_card" 'BEGIN {
	printf "text column:             %9.0f rows/s (%.3f s)\n", n / x, x;
	printf "finsec.bank_card column: %9.0f rows/s (%.3f s)\n", n / c, c;
	printf "bank_card/text time ratio = %.2f; bank_card rows/s %s the 150000 target\n", c / x, (n / c >= 150000) ? "meets" : "MISSES";
	printf "RESULT|card|COPY FROM into bank_card|%.0f|>=|150000|rows/s\n", n / c;
	printf "RESULT|card|COPY FROM bank_card/text time|%.3g|-|-|ratio\n", c / x }'

say "COPY TO of the protected table, and back in from its sealed form (the pg_restore path)"
sealed=$WORKDIR/cards.sealed
t_out=$(measure -c "COPY c_card TO '$sealed'")
t_out_text=$(measure -c "COPY c_text TO '$WORKDIR/cards.out'")
grep -c -F -f <(head -1000 "$cards") "$sealed" >/dev/null && die "a clear number is in the COPY TO file"
t_sealed=$(copy_in c_sealed "$sealed")
echo "COPY TO, bank_card:      $(rate "$n" "$t_out") rows/s ($(secs "$t_out") s; text column: $(rate "$n" "$t_out_text") rows/s)"
echo "COPY FROM sealed form:   $(rate "$n" "$t_sealed") rows/s ($(secs "$t_sealed") s; decrypts each value to verify it)"
echo "no clear number in the COPY TO file (first 1000 numbers checked), $(du -h "$sealed" | cut -f1) for $n rows"

say "equality lookups through a unique index on the bank_card column"
probes=10000
t_idx=$(measure -c "CREATE UNIQUE INDEX c_card_n ON c_card (n)" -c "DROP INDEX c_card_n")
psql_b <<SQL
CREATE UNIQUE INDEX c_card_n ON c_card (n);
VACUUM ANALYZE c_card;
CREATE TABLE probe AS SELECT row_number() OVER () AS id, n AS num
  FROM (SELECT n FROM c_text ORDER BY md5(n) LIMIT $probes) s;
ALTER TABLE probe ADD PRIMARY KEY (id);
ANALYZE probe;
SQL
lookup="SET enable_hashjoin = off; SET enable_mergejoin = off; SET max_parallel_workers_per_gather = 0;
	SELECT count(*) FROM probe p WHERE EXISTS (SELECT FROM c_card c WHERE c.n = p.num::finsec.bank_card)"
psql_b -c "$lookup" | grep -qx "$probes" || die "lookups did not find every probe"
psql_b -c "SET enable_hashjoin = off; SET enable_mergejoin = off; SET max_parallel_workers_per_gather = 0;
	EXPLAIN (COSTS OFF) SELECT count(*) FROM probe p WHERE EXISTS (SELECT FROM c_card c WHERE c.n = p.num::finsec.bank_card)" \
	| grep -q "Index Only Scan using c_card_n\|Index Scan using c_card_n" || die "the lookup does not use the unique index"
t_lookup=$(measure -c "$lookup")
echo "unique index build:      $(secs "$t_idx") s for $n rows"
echo "in-query lookups:        $(rate "$probes" "$t_lookup") lookups/s ($probes clear numbers, each fingerprinted and probed; $(secs "$t_lookup") s)"
echo "RESULT|card|in-query index lookups|$(rate "$probes" "$t_lookup")|-|-|lookups/s"
cat >"$WORKDIR/lookup.sql" <<'SQL'
\set id random(1, 10000)
SELECT count(*) FROM c_card WHERE n = (SELECT num FROM probe WHERE id = :id)::finsec.bank_card;
SQL
chown postgres "$WORKDIR/lookup.sql"
as_pg pgbench -n -c 1 -T 10 -M prepared -f "$WORKDIR/lookup.sql" bench 2>/dev/null \
	| awk '/latency average/ { lat = $4 } /^tps/ { tps = $3 } END { printf "per-statement lookups:   %.0f statements/s, %.3f ms average latency (pgbench, 1 client, 10 s)\n", tps, lat }'
