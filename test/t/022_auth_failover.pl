# Password history is ordinary replicated data: a standby has it, and after
# a failover the promoted standby still refuses a recently used password.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $primary = finsec_node('auth_primary', init => { allows_streaming => 1 });
$primary->safe_psql('postgres', 'CREATE EXTENSION finsec');
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('auth_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

$primary->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE ROLE teller LOGIN PASSWORD 'Gx7#mQ2v!Lp9';
	ALTER ROLE teller PASSWORD 'Hy8$nR3w!Mq0';
});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', "SELECT count(*) FROM finsec.password_history WHERE rolname = 'teller'"),
	'2', 'the standby holds the password history');

$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'not promoted';
my ($ret, $out, $err) = $standby->psql('postgres', q{ALTER ROLE teller PASSWORD 'Gx7#mQ2v!Lp9'});
like($err, qr/password rejected by finsec policy: used recently/,
	'after failover, a recently used password is still refused');
($ret, $out, $err) = $standby->psql('postgres', q{SET client_min_messages = warning; ALTER ROLE teller PASSWORD 'Kt5%vB8n@Wx2'});
is($ret, 0, 'and a new one is accepted');
is($standby->safe_psql('postgres', "SELECT count(*) FROM finsec.password_history WHERE rolname = 'teller'"),
	'3', 'and recorded on the new primary');

$standby->stop;
$primary->stop;
done_testing();
