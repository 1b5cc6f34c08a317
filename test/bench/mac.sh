#!/usr/bin/env bash
# Benchmark of the MAC functions (issue: keyring and message security), as root:
#   bash test/bench/mac.sh [messages]
#
# 1. finsec.mac_verify with hmac-sha256 over N (default 1,000,000) 100-byte
#    messages, against what a DBA would otherwise write: pgcrypto's hmac()
#    with the key given inline, compared with "=".  Same table, same run,
#    one backend each.  Prints finsec/pgcrypto in calls per second
#    (target >= 1.0: the key lookup must cost nothing measurable).
# 2. finsec.mac calls per second for every algorithm over the same messages.
# Each query runs twice and the second (warm) run counts.
. "$(dirname "$0")/../../scripts/lib.sh"

n=${1:-1000000}

ensure_deps
build_install
make_workdir
trap 'stop_cluster bench; rm -rf "$WORKDIR"' EXIT
start_cluster bench 54341
as_pg createdb bench

psql_b() { as_pg psql -X -q -At -v ON_ERROR_STOP=1 -d bench "$@"; }
psql_b <<SQL
CREATE EXTENSION finsec;
CREATE EXTENSION pgcrypto;
CREATE ROLE bench_alice LOGIN IN ROLE finsec_admin;
CREATE ROLE bench_bob LOGIN IN ROLE finsec_admin;
CREATE TABLE keys (label text, alg text, key bytea);
GRANT SELECT ON keys TO bench_alice;
INSERT INTO keys VALUES
	('b.hmac-sha256', 'hmac-sha256', decode(repeat('0b', 32), 'hex')),
	('b.hmac-sm3', 'hmac-sm3', decode(repeat('1c', 32), 'hex')),
	('b.cmac-aes', 'cmac-aes', decode(repeat('2d', 32), 'hex')),
	('b.cmac-sm4', 'cmac-sm4', decode(repeat('3e', 16), 'hex')),
	('b.iso9797-alg3', 'iso9797-alg3', '\x0123456789abcdeffedcba9876543210'),
	('b.iso9797-alg1-sm4', 'iso9797-alg1-sm4', decode(repeat('4f', 16), 'hex'));
SET SESSION AUTHORIZATION bench_alice;
SELECT count(finsec.key_import(label, 'mac', alg, key)) FROM keys;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION bench_bob;
SELECT count(finsec.approve(request_id)) FROM finsec.change_request WHERE state = 'pending';
RESET SESSION AUTHORIZATION;
DROP TABLE keys;
CREATE TABLE msgs AS
	SELECT gen_random_bytes(100) AS m FROM generate_series(1, $n);
ALTER TABLE msgs ADD COLUMN mac bytea;
UPDATE msgs SET mac = hmac(m, decode(repeat('0b', 32), 'hex'), 'sha256');
VACUUM ANALYZE msgs;
SQL

now() { date +%s.%N; }
measure() { # sql -> seconds of the second run; checks the count
	local t0 t out
	for i in 1 2; do
		t0=$(now); out=$(psql_b -c "SET max_parallel_workers_per_gather = 0" -c "$1"); t=$(echo "$(now) $t0" | awk '{print $1 - $2}')
	done
	[ "$out" = "$n" ] || die "expected $n, got $out for: $1"
	echo "$t"
}

say "mac_verify hmac-sha256 vs pgcrypto hmac() with an inline key, $n messages of 100 bytes"
t_fin=$(measure "SELECT count(*) FROM msgs WHERE finsec.mac_verify('b.hmac-sha256', 'hmac-sha256', m, mac)")
t_pgc=$(measure "SELECT count(*) FROM msgs WHERE hmac(m, '\\x$(printf '0b%.0s' $(seq 32))'::bytea, 'sha256') = mac")
t_scan=$(measure "SELECT count(*) FROM msgs WHERE mac IS NOT NULL AND m IS NOT NULL")
awk -v n="$n" -v f="$t_fin" -v p="$t_pgc" -v s="$t_scan" 'BEGIN {
	printf "finsec.mac_verify: %.0f calls/s (%.3f s); pgcrypto hmac() =: %.0f calls/s (%.3f s); scan alone %.3f s\n", n / f, f, n / p, p, s;
	printf "mac_verify/pgcrypto = %.3f (target >= 1.0)\n", p / f;
	printf "RESULT|mac|mac_verify/pgcrypto hmac(), calls/s|%.3g|>=|1.0|ratio\n", p / f }'

say "finsec.mac calls per second by algorithm, $n messages of 100 bytes"
for alg in hmac-sha256 hmac-sm3 cmac-aes cmac-sm4 iso9797-alg3 iso9797-alg1-sm4; do
	t=$(measure "SELECT count(finsec.mac('b.$alg', '$alg', m)) FROM msgs")
	awk -v n="$n" -v t="$t" -v a="$alg" 'BEGIN { printf "%-18s %9.0f calls/s (%.3f s)\n", a, n / t, t;
		printf "RESULT|mac|mac() %s|%.0f|-|-|calls/s\n", a, n / t }'
done
echo "ledger rows of key use: $(psql_b -c "SELECT count(*) || ' rows counting ' || sum((detail->>'count')::bigint) || ' uses' FROM finsec.audit WHERE event_type = 'key.use'")"
