# Without shared_preload_libraries, finsec installs with a warning and says
# so in finsec.status(); with it, no warning.  Bad finsec.* settings in the
# configuration file are reported and do not take effect.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('nopreload', preload => 0);

my ($ret, $stdout, $stderr) = $node->psql('postgres', 'CREATE EXTENSION finsec;');
is($ret, 0, 'CREATE EXTENSION succeeds without the preload');
like($stderr, qr/WARNING:  finsec is not loaded through shared_preload_libraries/,
	'CREATE EXTENSION warns when finsec is not preloaded');
like($stderr, qr/HINT:  Add finsec to shared_preload_libraries in postgresql.conf and restart the server\./,
	'the warning carries the hint that fixes it');

is($node->safe_psql('postgres', 'SELECT finsec.preloaded()'), 'f',
	'finsec.preloaded() is false');
like($node->safe_psql('postgres',
		"SELECT format('%s %s', ok, detail) FROM finsec.status() WHERE component = 'shared_preload_libraries'"),
	qr/^f not preloaded: add finsec to shared_preload_libraries/,
	'finsec.status() reports the missing preload with the fix');

# What needs the preload refuses, with the fix in the hint, rather than
# working without its protection.
for my $call ("SELECT finsec.audit_event('test.event')",
	"SELECT finsec.audit_seal()",
	"CREATE TABLE t (i int); SELECT finsec.protect_table('t')")
{
	($ret, $stdout, $stderr) = $node->psql('postgres', $call);
	like($stderr,
		qr/ERROR:  .* requires finsec to be loaded through shared_preload_libraries.*HINT:  Add finsec to shared_preload_libraries/s,
		"without the preload, '$call' refuses with the hint");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM finsec.audit'), '0',
	'and nothing was written');

# Now preload it, with a sealer in both databases.
$node->safe_psql('postgres', 'CREATE DATABASE second');
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'finsec'");
add_master_key($node);
$node->append_conf('postgresql.conf', "finsec.audit_seal_databases = 'postgres, second'");
$node->restart;
is($node->safe_psql('postgres', 'SELECT finsec.preloaded()'), 't',
	'finsec.preloaded() is true after adding the preload');
is($node->safe_psql('postgres', 'SELECT bool_and(ok) FROM finsec.status()'), 't',
	'every component is ok once preloaded');
($ret, $stdout, $stderr) = $node->psql('second', 'CREATE EXTENSION finsec;');
is($ret, 0, 'CREATE EXTENSION in a second database succeeds');
unlike($stderr, qr/WARNING/, 'and warns of nothing when preloaded');
is($node->safe_psql('second', 'SELECT bool_and(ok) FROM finsec.status()'), 't',
	'every component is ok in the second database too');

# The sealer of each listed database runs and seals.
$node->safe_psql('second', "SELECT finsec.audit_event('test.event')");
ok($node->poll_query_until('second', 'SELECT count(*) = 1 FROM finsec.ledger_block'),
	'the background sealer seals a new event');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'finsec worker'"),
	'2', 'one finsec worker runs per listed database');

# finsec.audit_seal_databases is checked before it can take effect.
($ret, $stdout, $stderr) = $node->psql('postgres', "ALTER SYSTEM SET finsec.audit_seal_databases = 'a,a'");
like($stderr, qr/Database "a" is listed twice/, 'a database listed twice is refused');
is($node->safe_psql('second',
		"SELECT count(*) FROM pg_roles WHERE rolname LIKE 'finsec\\_%'"),
	'6', 'the second database reuses the six cluster-wide roles');

# A misspelt finsec.* setting in the configuration file is reported and
# discarded (the prefix is reserved), not kept as a silent placeholder.
my $log_offset = -s $node->logfile;
$node->append_conf('postgresql.conf', "finsec.hash_algoritm = 'sm3'");
$node->restart;
ok($node->log_contains(qr/invalid configuration parameter name "finsec\.hash_algoritm", removing it/, $log_offset),
	'a misspelt finsec setting is reported in the server log');
($ret, $stdout, $stderr) = $node->psql('postgres', 'SHOW finsec.hash_algoritm');
like($stderr, qr/unrecognized configuration parameter/, 'and does not exist');

# A bad value on reload is rejected with the reason; the old value stays.
$log_offset = -s $node->logfile;
$node->append_conf('postgresql.conf', "finsec.hash_algorithm = 'md5'");
$node->reload;
ok($node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_file_settings WHERE name = 'finsec.hash_algorithm' AND error IS NOT NULL"),
	'the bad value is flagged in pg_file_settings');
is($node->safe_psql('postgres', 'SHOW finsec.hash_algorithm'), 'sha256',
	'the running value is unchanged');
ok($node->wait_for_log(qr/invalid value for parameter "finsec\.hash_algorithm": "md5"/, $log_offset),
	'the server log names the rejected value');

# A good one takes effect on reload (sighup context).
$node->append_conf('postgresql.conf', "finsec.hash_algorithm = 'sm3'");
$node->reload;
ok($node->poll_query_until('postgres', "SELECT current_setting('finsec.hash_algorithm') = 'sm3'"),
	'finsec.hash_algorithm = sm3 takes effect on reload');

$node->stop;
done_testing();
