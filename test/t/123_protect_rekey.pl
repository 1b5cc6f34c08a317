# Online re-encryption of a protected column (docs/protected-data.md#rotation;
# issue 17 item 5): after key_rotate of the column's encryption key,
# CALL finsec.protected_rekey_column() re-encrypts the values still under
# the old version in batches of one transaction each (FOR UPDATE SKIP
# LOCKED), as the calling administrator, while pgbench clients update and
# insert rows of the same table.  No writer waits longer than a batch takes
# (each transaction's latency, from pgbench's log), every value ends under
# the new version, and no value is lost: each row's fingerprint still
# equals that of its original clear text, and a sample reveals it.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FinsecTest;

my $node = finsec_node('rekey', no_start => 1);
$node->append_conf('postgresql.conf', "finsec.reveal_budget = 0\nmax_connections = 40");
$node->start;
my @approved = protect_test_setup($node, 'postgres', ['protect.enc', 'encryption', 'aes-256-gcm'],
	['protect.fp', 'fingerprint', 'hmac-sha256'], ['crm.enc', 'encryption', 'aes-256-gcm'],
	['crm.fp', 'fingerprint', 'hmac-sha256']);
is(scalar(grep { /"state": "active"/ } @approved), 4, 'the four keys approved (two people)');
sub two_person { my ($sql) = @_; return protect_two_person($node, 'postgres', $sql); }
$node->safe_psql('postgres', q{
	SET SESSION AUTHORIZATION adm1;
	SELECT finsec.protect_policy_create('crm_name', enc_key => 'crm.enc', fp_key => 'crm.fp', mask => 'name');
});

my $nrows = 40000;
$node->safe_psql('postgres', qq{
	CREATE TABLE cust (id int PRIMARY KEY, name finsec.protected_text(crm_name) NOT NULL, n int NOT NULL DEFAULT 0);
	CREATE UNIQUE INDEX cust_name ON cust (name);
	INSERT INTO cust (id, name) SELECT i, ('name-' || i)::finsec.protected_text FROM generate_series(1, $nrows) i;
	CREATE SEQUENCE cust_new START 1000001;
	GRANT SELECT, UPDATE ON cust TO adm1;
	GRANT SELECT ON cust TO unmasker;
});
is($node->safe_psql('postgres', q{SELECT v || ':' || count(*) FROM (SELECT (finsec.protected_info(name)).enc_version AS v FROM cust) x GROUP BY v ORDER BY v}),
	"1:$nrows", "$nrows values under version 1");

like(two_person(q{finsec.key_rotate('crm.enc', 'yearly rotation')}), qr/"state": "active"/,
	'crm.enc rotated: version 2 active');

# Writers: update a random row (the row lock a batch may hold) and insert a
# new one (sealed under version 2), for as long as the re-keying runs.
my $script = $node->basedir . '/writers.sql';
append_to_file($script, "\\set id random(1, $nrows)\n"
	  . "UPDATE cust SET n = n + 1 WHERE id = :id;\n"
	  . "INSERT INTO cust (id, name) VALUES (nextval('cust_new'), ('new-' || currval('cust_new'))::finsec.protected_text);\n");
my $logprefix = $node->basedir . '/pgb';
my ($out, $err) = ('', '');
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', 4, '-j', 2, '-T', 12, '-l', "--log-prefix=$logprefix", '-f', $script,
		'-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$out, '2>', \$err);
# Let the writers get going.
$node->poll_query_until('postgres', "SELECT count(*) > 0 FROM cust WHERE id > 1000000")
  or die 'pgbench did not start';

my $t0 = time;
my ($rc, $rout, $rerr) = $node->psql('postgres',
	'SET SESSION AUTHORIZATION adm1; CALL finsec.protected_rekey_column(\'cust\', \'name\', 500)',
	timeout => 600, extra_params => ['-v', 'ON_ERROR_STOP=1']);
my $rekey_s = time - $t0;
is($rc, 0, 'protected_rekey_column ran to the end') or diag($rerr);
like($rerr, qr/re-keyed \d+ values of cust\.name/, 'and said how many values it re-keyed');
note sprintf('re-keying %d values in batches of 500 took %.2f s', $nrows, $rekey_s);
my $stop_writers = time;

$pgbench->finish;
my ($processed) = $out =~ /number of transactions actually processed: (\d+)/;
ok(defined $processed && $processed > 0, "pgbench wrote concurrently ($processed transactions)") or diag("$out\n$err");
unlike($err, qr/ERROR/, 'no writer failed');

# Each transaction's latency (third field, microseconds) while the re-keying ran.
my @lat;
for my $f (glob("$logprefix.*"))
{
	for my $line (split /\n/, slurp_file($f))
	{
		my @c = split / /, $line;
		push @lat, $c[2] if @c >= 6 && $c[4] + $c[5] / 1e6 >= $t0 && $c[4] + $c[5] / 1e6 <= $stop_writers;
	}
}
my $max_ms = @lat ? (sort { $b <=> $a } @lat)[0] / 1000 : 0;
note sprintf('%d writer transactions during the re-keying, slowest %.1f ms', scalar(@lat), $max_ms);
ok(@lat > 10, 'writers ran during the re-keying (' . scalar(@lat) . ' transactions)');
ok($max_ms < 2000 && $max_ms < 1000 * $rekey_s,
	sprintf('no writer waited beyond a batch (slowest %.1f ms of %.2f s of re-keying)', $max_ms, $rekey_s));

# Every value under version 2; no value lost or changed.
my $total = $node->safe_psql('postgres', 'SELECT count(*) FROM cust');
is($node->safe_psql('postgres', q{SELECT v || ':' || count(*) FROM (SELECT (finsec.protected_info(name)).enc_version AS v FROM cust) x GROUP BY v ORDER BY v}),
	"2:$total", "every value ($total) ends under version 2");
is($node->safe_psql('postgres', q{SELECT count(*) FROM cust WHERE NOT finsec._protected_is_current(name)}),
	'0', 'none is left under a retired version');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM cust
	 WHERE name = (CASE WHEN id > 1000000 THEN 'new-' ELSE 'name-' END || id)::finsec.protected_text(crm_name)}),
	$total, 'each row still holds its own value (fingerprint of the original clear text)');
is($node->safe_psql('postgres', q{
	SET ROLE unmasker;
	SELECT count(*) FROM (SELECT id, name FROM cust WHERE id <= 40000 AND id % 400 = 7) s
	 WHERE finsec.reveal(name, 'rekey check') = 'name-' || id}),
	'100', 'a sample of 100 values reveals the original text');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'}), '0',
	'nothing waits on a lock afterwards');

$node->stop;
done_testing();
