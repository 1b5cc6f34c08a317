# With finsec.lockout_by_address, failed logins lock a role only from the
# address they came from: the legitimate user elsewhere is not locked out.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('lockaddr', no_start => 1);
$node->append_conf('postgresql.conf', q{
listen_addresses = '127.0.0.1'
finsec.max_auth_failures = 2
finsec.auth_failure_delay = 0
finsec.lockout_by_address = on
});
prepend_hba($node, "local all alice scram-sha-256", "host all alice 127.0.0.1/32 scram-sha-256");
$node->start;

my $good = 'Gx7#mQ2v!Lp9';
$node->safe_psql('postgres', qq{
	SET client_min_messages = warning;
	CREATE EXTENSION finsec;
	CREATE ROLE alice LOGIN PASSWORD '$good';
});
my $port = $node->port;
my $tcp = sub { "host=127.0.0.1 port=$port dbname=postgres user=alice password=$_[0]" };
my $sock = sub { $node->connstr('postgres') . " user=alice password=$_[0]" };

$node->connect_fails($tcp->('wrong'), "TCP failure $_",
	log_like => [ qr/authentication failed for role "alice" from 127\.0\.0\.1/ ]) for 1 .. 2;
$node->connect_fails($tcp->($good), 'alice is locked from 127.0.0.1',
	expected_stderr => qr/role "alice" is locked/);
$node->connect_ok($sock->($good), 'but not from the local socket');
is($node->safe_psql('postgres',
		"SELECT last_address, locked_until IS NOT NULL FROM finsec.auth_state() WHERE role = 'alice' ORDER BY 1"),
	'127.0.0.1|t', 'finsec.auth_state() shows the lock for that address only');

# unlock_role() lifts every address's lock of the role.
is($node->safe_psql('postgres', "SELECT finsec.unlock_role('alice')"), 't', 'unlocked');
$node->connect_ok($tcp->($good), 'alice logs in over TCP again');

$node->stop;
done_testing();
