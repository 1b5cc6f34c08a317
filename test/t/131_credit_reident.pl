# Re-identification after a de-identification batch (docs/credit.md):
# an attacker holding a plausible external table (name, birth date, region
# of every person of the expired month, and of others) joins it with the
# archive on the generalised quasi-identifiers: no archived record matches
# one person only (every match is a crowd of at least k).  Joined with
# what stays in production, the expired records give nothing back: as a
# superuser, no clear personal value of them is readable through reveal(),
# the output functions, protected_info, pg_read_binary_file of the table's
# relation files, the WAL, or a pg_dump; their period's keys have no
# wrapped material left.
use strict;
use warnings;

use File::Find;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;
use FinsecDeidTest;

my $node = finsec_node('reident', no_start => 1);
$node->append_conf('postgresql.conf', "finsec.reveal_budget = 0");
$node->start;
deid_setup($node, 'postgres', months => 3);
sub sq { return $node->safe_psql('postgres', $_[0]); }

# 600 people of the expired month (two months ago), with random markers as
# names so that any copy of one is found; 60 of the current month.
srand(20261202);
sub marker { return 'NM' . join('', map { ('A' .. 'Z')[int(rand(26))] } 1 .. 14); }
my @names = map { marker() } 1 .. 660;
my $d2 = deid_first_day($node, 'postgres', 2);
my $d0 = deid_first_day($node, 'postgres', 0);
my @rows;
for my $i (1 .. 660)
{
	my $y = 1960 + int(rand(30));
	my $birth = sprintf('%d-%02d-%02d', $y, 1 + int(rand(12)), 1 + int(rand(28)));
	my $region = sprintf('%02d%02d%02d', 11 + int(rand(4)), 1 + int(rand(5)), 1 + int(rand(20)));
	my $status = ('overdue', 'default', 'written_off')[ int(rand(3)) ];
	my $date = $i <= 600 ? "'$d2'::date + " . int(rand(27)) : "'$d0'::date";
	push @rows, [ $i, $names[ $i - 1 ], $birth, $region, $status, $date ];
}
# The attacker's table is unlogged and left out of the dump: its own copies
# of the names are not what the byte searches below look for.
sq("CREATE UNLOGGED TABLE ext (name text, birth_date date, region text)");
sq("INSERT INTO ext VALUES " . join(',', map { "('$_->[1]', '$_->[2]', '$_->[3]')" } @rows));
sq("INSERT INTO ext SELECT 'OTHER' || g, '1970-01-01'::date + g * 17, (11 + g % 4) || '0101' FROM generate_series(1, 300) g");
sq("SET SESSION AUTHORIZATION credowner; INSERT INTO rec VALUES "
	  . join(',', map { "($_->[0], 'ID$_->[0]', '$_->[1]', '$_->[2]', '$_->[3]', '$_->[4]', $_->[0], $_->[5])" } @rows));

# Before the batch: the clear values are readable by the superuser.
is(sq("SELECT count(*) FROM (SELECT name FROM rec WHERE id % 60 = 1 OFFSET 0) r WHERE finsec.reveal(r.name) IN (SELECT name FROM ext)"), '11',
	'before the batch the superuser reveals names (the search works)');
is(sq("SELECT count(*) FROM rec WHERE (finsec.protected_info(name)).state = 'ok'"), '660', 'and every value opens');

# The batch of the expired month.
my $ahead = deid_days_ahead($node, 'postgres', 2);
my $batch = sq("SET finsec.deid_test_days_ahead = $ahead; SET SESSION AUTHORIZATION credadm; "
	  . "SELECT string_agg(b::text, ',') FROM finsec.deidentify_now('rec') b");
like($batch, qr/^\d+$/, "one batch ($batch)");
is(sq("SELECT state FROM finsec.deid_batch WHERE id = $batch"), 'published', 'published');
my ($published, $suppressed, $k) = split /\|/,
  sq("SELECT published, suppressed, (proof -> 'parameters' ->> 'k') FROM finsec.deid_batch WHERE id = $batch");
note("published $published, suppressed $suppressed, levels "
	  . sq("SELECT proof -> 'engine' -> 'levels' FROM finsec.deid_batch WHERE id = $batch"));
note('batch timing: '
	  . sq("SELECT records || ' records in ' || round(extract(epoch FROM finished_at - started_at)::numeric, 3) || ' s' FROM finsec.deid_batch WHERE id = $batch"));
is($published + $suppressed, 600, 'every record of the month published or withheld');

# The attack: the external table generalised to the batch's levels, joined
# with the archive on the quasi-identifiers.
my $gen = q{
	WITH lv AS (SELECT (proof -> 'engine' -> 'levels' -> 'birth_date' ->> 'level')::int AS b,
					   (proof -> 'engine' -> 'levels' -> 'region' ->> 'level')::int AS r
				  FROM finsec.deid_batch WHERE id = BATCH),
		 lad AS (SELECT ladder FROM finsec.credit_column WHERE relid = 'rec'::regclass AND column_name = 'birth_date'),
		 lar AS (SELECT ladder FROM finsec.credit_column WHERE relid = 'rec'::regclass AND column_name = 'region'),
		 g AS (SELECT e.name,
					  (SELECT generalised FROM finsec.credit_ladder_levels((SELECT ladder FROM lad), e.birth_date::text) x
						WHERE x.level = (SELECT b FROM lv)) AS birth_date,
					  (SELECT generalised FROM finsec.credit_ladder_levels((SELECT ladder FROM lar), e.region) x
						WHERE x.level = (SELECT r FROM lv)) AS region
				 FROM ext e)
};
$gen =~ s/BATCH/$batch/;
my $matches = sq($gen . q{
	SELECT min(n) || ' ' || count(*) FROM (
		SELECT a.subject, count(g.name) AS n FROM finsec_archive.rec a
		  JOIN g ON g.birth_date IS NOT DISTINCT FROM a.birth_date AND g.region IS NOT DISTINCT FROM a.region
		 GROUP BY a.subject, a.amount) m});
my ($min, $joined) = split / /, $matches;
is($joined, $published, 'every archived record joins the external table on its generalised QIs');
cmp_ok($min, '>=', $k, "but each matches at least k = $k people (smallest crowd: $min): none uniquely");
is(sq($gen . q{
	SELECT count(*) FROM finsec_archive.rec a WHERE (SELECT count(*) FROM g
		WHERE g.birth_date IS NOT DISTINCT FROM a.birth_date AND g.region IS NOT DISTINCT FROM a.region) = 1}),
	'0', 'no archived record matches exactly one external person');
is(sq("SELECT count(*) FROM finsec_archive.rec a JOIN ext e ON a.subject = e.name OR a.name = e.name"),
	'0', 'no name or subject in the archive (pseudonyms only)');

# Production: the rows stay, and the superuser reads nothing personal of them.
is(sq("SELECT count(*) FROM rec WHERE id <= 600"), '600', 'the expired rows stay in production');
is(sq("SELECT count(*) FROM (SELECT * FROM rec WHERE id <= 600 AND id % 30 = 0 OFFSET 0) r WHERE (finsec.reveal(name) IS NOT NULL OR finsec.reveal(subject) IS NOT NULL"
		  . " OR finsec.reveal(birth_date) IS NOT NULL OR finsec.reveal(region) IS NOT NULL OR finsec.reveal(status) IS NOT NULL)"),
	'0', 'reveal() of the personal columns of expired rows gives NULL (every 30th row: the reveal audit budget)');
is(sq("SELECT count(*) FROM rec WHERE id <= 600 AND 'shredded' <> ALL (ARRAY[(finsec.protected_info(name)).state,"
		  . " (finsec.protected_info(subject)).state, (finsec.protected_info(birth_date)).state,"
		  . " (finsec.protected_info(region)).state, (finsec.protected_info(status)).state])"),
	'0', 'every personal value of every expired row is shredded');
is(sq("SELECT count(*) FROM rec WHERE id <= 600 AND (name::text NOT LIKE '[shredded]%' OR birth_date::text NOT LIKE '[shredded]%')"),
	'0', 'their output is [shredded]');
is(sq("SELECT count(*) FROM rec WHERE (finsec.protected_info(name)).state = 'ok'"), '60',
	'only the current month\'s values still open');
is(sq("SELECT count(*) || ' ' || count(*) FILTER (WHERE (finsec.protected_info(r.name)).state <> 'shredded'"
		  . " OR (finsec.protected_info(r.birth_date)).state <> 'shredded' OR (finsec.protected_info(r.region)).state <> 'shredded')"
		  . " FROM rec r JOIN finsec_archive.rec a ON a.amount = r.amount"),
	"$published 0", 'joining the archive with production (on the public amount) links rows but reaches no readable personal value');
my $p2 = sq("SELECT to_char(date_trunc('month', current_date) - interval '2 months', 'YYYYMM')");
is(sq("SELECT count(*) FROM finsec.key_version kv JOIN finsec.key k USING (key_id)"
		  . " WHERE k.label LIKE 'credit.%.$p2' AND (kv.wrapped IS NOT NULL OR kv.state <> 'destroyed')"),
	'0', 'the period\'s keys: every version destroyed, no wrapped material left');

# The bytes: relation files (table, TOAST, indexes), WAL, a dump.
my @expired = map { $_->[1] } grep { $_->[0] <= 600 } @rows;
my @current = map { $_->[1] } grep { $_->[0] > 600 } @rows;
sub leaks { my ($content) = @_; return scalar grep { index($content, $_) >= 0 } @expired; }
sq('CHECKPOINT');
my $files = sq(q{
	SELECT string_agg(pg_relation_filepath(c.oid), ' ')
	  FROM pg_class c WHERE c.oid = 'rec'::regclass OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'rec'::regclass)
		 OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'rec'::regclass)
		 OR c.oid = 'finsec_archive.rec'::regclass});
my $bytes = '';
for my $f (split / /, $files)
{
	$bytes .= sq("SELECT encode(pg_read_binary_file('$f'), 'escape')");
}
ok(length($bytes) > 8192, 'the superuser reads the relation files (' . length($bytes) . ' bytes)');
is(leaks($bytes), 0, 'no name of an expired record in the table, TOAST, index or archive files');
my $wal = '';
find(sub { $wal .= slurp_file($File::Find::name) if -f $_ }, $node->data_dir . '/pg_wal');
is(leaks($wal), 0, 'none in the WAL (values were only ever written sealed)');
my $dumpfile = $node->basedir . '/reident.sql';
$node->command_ok([ 'pg_dump', '-T', 'public.ext', '-d', $node->connstr('postgres'), '-f', $dumpfile ], 'a pg_dump of the database');
my $dump = slurp_file($dumpfile);
is(leaks($dump), 0, 'has no name of an expired record');
is(sq("SELECT bool_and(ok) FROM finsec.audit_verify()"), 't', 'the ledger and the protected table verify');

$node->stop;
done_testing();
