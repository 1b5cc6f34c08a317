#!/usr/bin/env bash
# Benchmark of protected personal data (docs/protected-data.md), as root:
#   bash test/bench/protected.sh [rows]
#
# Every figure is a ratio of two measurements of the same run, on the same
# cluster, so that a busy machine moves both sides alike.
# 1. COPY FROM a file of N (default 1,000,000) rows (id, a distinct
#    four-character Chinese name, an 11-digit mobile number) into a table
#    whose name is finsec.protected_text(<name policy, fingerprint>) and
#    whose phone is finsec.protected_text(<phone policy>), against the same
#    file into the same table in plain text.  Rows per second of each and
#    their ratio; target: protected / plain >= 0.5.
# 2. Equality lookup of one name per statement (pgbench, prepared, 1
#    client): through the fingerprint unique index of the protected column
#    (the clear name fingerprinted and sealed for each statement) against a
#    unique index on the plain text column.  Latency ratio; target
#    protected / plain <= 1.3.
# 3. Reveal throughput: finsec.reveal() of the name by a member of
#    finsec_unmask, 100 reveals a transaction (under the default share of
#    the audit event buffer a session's open transaction may hold, 128),
#    finsec.reveal_budget = 0 (unlimited) for the run; each reveal writes
#    its durable audit row.  Reveals per second, and the same transactions
#    reading the masks (finsec.mask()) for the ratio.
# Each COPY runs twice and the second (warm) run counts; each pgbench runs
# twice, alternating sides, 10 s each, and the mean counts.
. "$(dirname "$0")/../../scripts/lib.sh"

n=${1:-1000000}
port=${FINSEC_BENCH_PORT:-54352}
secs=${FINSEC_BENCH_SECONDS:-10}

ensure_deps
build_install
make_workdir
trap 'stop_cluster bench; rm -rf "$WORKDIR"' EXIT
start_cluster bench "$port"
as_pg createdb bench

psql_b() { as_pg psql -X -q -At -v ON_ERROR_STOP=1 -d bench "$@"; }
psql_b >/dev/null <<SQL
CREATE EXTENSION finsec;
CREATE ROLE bench_alice LOGIN IN ROLE finsec_admin;
CREATE ROLE bench_bob LOGIN IN ROLE finsec_admin;
CREATE ROLE bench_unmask LOGIN IN ROLE finsec_unmask;
SET SESSION AUTHORIZATION bench_alice;
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') IS NOT NULL;
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sha256') IS NOT NULL;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION bench_bob;
SELECT count(finsec.approve(request_id)) FROM finsec.change_request WHERE state = 'pending';
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION bench_alice;
SELECT finsec.protect_policy_create('bench_name', mask => 'name');
SELECT finsec.protect_policy_create('bench_phone', mask => 'phone');
RESET SESSION AUTHORIZATION;
CREATE TABLE p_plain (id int NOT NULL, name text NOT NULL, phone text);
CREATE TABLE p_prot (id int NOT NULL, name finsec.protected_text(bench_name) NOT NULL,
					 phone finsec.protected_text(bench_phone));
GRANT SELECT ON p_prot TO bench_unmask;
-- unlimited reveals for the run (the setting of the reveal gate)
SELECT 'ALTER SYSTEM SET finsec.reveal_budget = 0' FROM pg_settings WHERE name = 'finsec.reveal_budget' \gexec
SELECT pg_reload_conf();
SQL

say "generating $n rows: id, a distinct four-character name, a mobile number"
rows=$WORKDIR/rows.txt
awk -v n="$n" 'BEGIN {
	srand(20261202);
	ns = split("张 王 李 赵 刘 陈 杨 黄 周 吴 徐 孙 胡 朱 高 林 何 郭 马 罗", S, " ");
	ng = split("伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 兰 霞 平 刚 桂 英 华 玉 萍 红 娥 玲 芬 " \
			   "燕 彬 鹏 辉 斌 宇 浩 凯 健 俊 帆 帅 旭 宁 龙 林 欣 佳 晨 阳 雪 梅 琳 颖 倩 婷 慧 莉 丹 蓉 " \
			   "毅 峰 波 鑫 建 国 文 志 海 春 秋 冬 月 星 云 天 成 松 柏 荣 福 贵 祥 瑞 庆 安 泰 康 乐 德 " \
			   "仁 义 礼 智 信 忠 孝 勤 俭 和", G, " ");
	for (i = 0; i < n; i++) {
		name = S[i % ns + 1] G[int(i / ns) % ng + 1] G[int(i / (ns * ng)) % ng + 1] G[int(i / (ns * ng * ng)) % ng + 1];
		phone = "1" (3 + int(rand() * 7));
		for (d = 0; d < 9; d++)
			phone = phone int(rand() * 10);
		printf "%d\t%s\t%s\n", i + 1, name, phone;
	}
}' >"$rows"
chown postgres "$rows"
[ "$(cut -f2 "$rows" | sort -u | wc -l)" = "$n" ] || die "the names are not distinct"

now() { date +%s.%N; }
copy_in() { # table file -> seconds of the second run (the table truncated before each)
	local t0 t
	for i in 1 2; do
		psql_b -c "TRUNCATE $1" -c CHECKPOINT
		t0=$(now); psql_b -c "COPY $1 FROM '$2'"; t=$(echo "$(now) $t0" | awk '{print $1 - $2}')
	done
	[ "$(psql_b -c "SELECT count(*) FROM $1")" = "$n" ] || die "$1 does not hold $n rows"
	echo "$t"
}

say "1. COPY FROM of $n rows: two protected columns (name with fingerprint, phone) vs plain text"
t_plain=$(copy_in p_plain "$rows")
t_prot=$(copy_in p_prot "$rows")
awk -v n="$n" -v x="$t_plain" -v c="$t_prot" 'BEGIN {
	printf "plain text table:        %9.0f rows/s (%.3f s)\n", n / x, x;
	printf "protected table:         %9.0f rows/s (%.3f s)\n", n / c, c;
	printf "protected/plain rows/s ratio = %.2f (target >= 0.5: %s)\n", x / c, (x / c >= 0.5) ? "met" : "NOT MET";
	printf "RESULT|protected|COPY FROM protected/plain rows/s|%.3g|>=|0.5|ratio\n", x / c }'
# The protected table holds no clear name (the first 1000 checked).
psql_b -c "COPY (SELECT * FROM p_prot ORDER BY id LIMIT 1000) TO '$WORKDIR/prot.out'"
grep -q -F -f <(head -1000 "$rows" | cut -f2) "$WORKDIR/prot.out" && die "a clear name is in the protected table's output"
grep -q -F -f <(head -1000 "$rows" | cut -f3) "$WORKDIR/prot.out" && die "a clear phone number is in the protected table's output"
[ "$(psql_b -c "SELECT count(*) FROM p_prot p JOIN p_plain t USING (id) WHERE p.id <= 1000 AND p.name = t.name::finsec.protected_text(bench_name)")" = 1000 ] \
	|| die "the protected names do not equal the plain ones"

say "2. equality lookup by name, one a statement (pgbench -M prepared, 1 client, ${secs} s, twice each)"
psql_b <<SQL
CREATE UNIQUE INDEX p_plain_name ON p_plain (name);
CREATE UNIQUE INDEX p_prot_name ON p_prot (name);
CREATE UNIQUE INDEX p_prot_id ON p_prot (id);
VACUUM ANALYZE p_plain;
VACUUM ANALYZE p_prot;
CREATE TABLE probe AS SELECT row_number() OVER () AS id, name
  FROM (SELECT name FROM p_plain ORDER BY md5(name) LIMIT 10000) s;
ALTER TABLE probe ADD PRIMARY KEY (id);
ANALYZE probe;
SQL
cat >"$WORKDIR/plain.sql" <<'SQL'
\set id random(1, 10000)
SELECT count(*) FROM p_plain WHERE name = (SELECT name FROM probe WHERE id = :id);
SQL
cat >"$WORKDIR/prot.sql" <<'SQL'
\set id random(1, 10000)
SELECT count(*) FROM p_prot WHERE name = (SELECT name FROM probe WHERE id = :id)::finsec.protected_text(bench_name);
SQL
chown postgres "$WORKDIR"/*.sql
psql_b -c "EXPLAIN (COSTS OFF) SELECT count(*) FROM p_prot WHERE name = (SELECT name FROM probe WHERE id = 1)::finsec.protected_text(bench_name)" \
	| grep -q "Index Only Scan using p_prot_name\|Index Scan using p_prot_name" || die "the protected lookup does not use the unique index"
psql_b -c "EXPLAIN (COSTS OFF) SELECT count(*) FROM p_plain WHERE name = (SELECT name FROM probe WHERE id = 1)" \
	| grep -q "Index Only Scan using p_plain_name\|Index Scan using p_plain_name" || die "the plain lookup does not use the unique index"
[ "$(psql_b -c "SELECT count(*) FROM probe p WHERE EXISTS (SELECT FROM p_prot c WHERE c.name = p.name::finsec.protected_text(bench_name))")" = 10000 ] \
	|| die "a protected lookup missed its row"
bench() { # script -> "tps latency_ms"
	as_pg pgbench -n -c 1 -T "$secs" -M prepared -f "$1" bench 2>/dev/null \
		| awk '/latency average/ { lat = $4 } /^tps/ { tps = $3 } END { print tps, lat }'
}
l_plain=() l_prot=()
for round in 1 2; do
	l_plain+=("$(bench "$WORKDIR/plain.sql")")
	l_prot+=("$(bench "$WORKDIR/prot.sql")")
done
printf '%s\n' "${l_plain[@]}" "--" "${l_prot[@]}" | awk '
	BEGIN { side = 0 }
	$0 == "--" { side = 1; next }
	{ tps[side] += $1 / 2; lat[side] += $2 / 2 }
	END {
		printf "plain text index:        %8.0f lookups/s, %.3f ms average latency\n", tps[0], lat[0];
		printf "fingerprint unique index:%8.0f lookups/s, %.3f ms average latency\n", tps[1], lat[1];
		printf "protected/plain latency ratio = %.2f (target <= 1.3: %s)\n", lat[1] / lat[0], (lat[1] / lat[0] <= 1.3) ? "met" : "NOT MET";
		printf "RESULT|protected|lookup by name protected/plain latency|%.3g|<=|1.3|ratio\n", lat[1] / lat[0] }'

say "3. reveal throughput: 100 reveals a transaction as a finsec_unmask member (pgbench, 1 client, ${secs} s, twice each)"
cat >"$WORKDIR/reveal.sql" <<SQL
\\set s random(1, $((n - 100)))
SELECT count(finsec.reveal(name, 'bench')) FROM p_prot WHERE id >= :s AND id < :s + 100;
SQL
cat >"$WORKDIR/mask.sql" <<SQL
\\set s random(1, $((n - 100)))
SELECT count(finsec.mask(name)) FROM p_prot WHERE id >= :s AND id < :s + 100;
SQL
chown postgres "$WORKDIR"/*.sql
[ "$(as_pg psql -X -At -U bench_unmask -d bench -c "SELECT count(finsec.reveal(name, 'check')) FROM p_prot WHERE id <= 100")" = 100 ] \
	|| die "bench_unmask cannot reveal"
audit0=$(psql_b -c "SELECT count(*) FROM finsec.audit WHERE event_type = 'protect.reveal' AND description = 'bench'")
r_reveal=() r_mask=()
for round in 1 2; do
	r_reveal+=("$(as_pg pgbench -n -c 1 -T "$secs" -M prepared -U bench_unmask -f "$WORKDIR/reveal.sql" bench 2>/dev/null \
		| awk '/^tps/ { print $3 }')")
	r_mask+=("$(as_pg pgbench -n -c 1 -T "$secs" -M prepared -U bench_unmask -f "$WORKDIR/mask.sql" bench 2>/dev/null \
		| awk '/^tps/ { print $3 }')")
done
audit1=$(psql_b -c "SELECT count(*) FROM finsec.audit WHERE event_type = 'protect.reveal' AND description = 'bench'")
awk -v a="${r_reveal[0]}" -v b="${r_reveal[1]}" -v c="${r_mask[0]}" -v d="${r_mask[1]}" -v rows="$((audit1 - audit0))" 'BEGIN {
	r = (a + b) / 2 * 100; m = (c + d) / 2 * 100;
	printf "reveal():                %8.0f reveals/s (%d audit rows written)\n", r, rows;
	printf "mask():                  %8.0f masks/s\n", m;
	printf "reveal/mask throughput ratio = %.2f\n", r / m;
	printf "RESULT|protected|reveal() with its audit row|%.0f|-|-|reveals/s\n", r;
	printf "RESULT|protected|reveal/mask throughput|%.3g|-|-|ratio\n", r / m }'
