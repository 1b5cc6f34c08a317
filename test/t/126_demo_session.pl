# The demo's script (docs/demo.sql) in one session, as scripts/demo runs
# it: every capability's caches get filled in the same backend.  finsec
# used to register one relcache callback per cache, nine in all, and such
# a session died with FATAL "out of relcache_callback_list slots"
# (PostgreSQL keeps ten per backend); src/common/relcache.c now takes one.
use strict;
use warnings;

use File::Basename qw(dirname);
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('demo');
$node->safe_psql('postgres', 'CREATE DATABASE demo');
my $script = dirname(__FILE__) . '/../../docs/demo.sql';
ok(-f $script, 'docs/demo.sql is there');

my ($stdout, $stderr);
$node->psql('demo', undef,
	extra_params => [ '-X', '-v', 'ON_ERROR_STOP=0', '-f', $script ],
	stdout => \$stdout, stderr => \$stderr);

unlike($stderr, qr/connection to server was lost|server closed the connection/,
	'the session survives the whole script');
unlike($stderr, qr/FATAL/, 'no FATAL error in the script');
unlike($stderr, qr/relcache_callback_list/, 'no relcache callback overflow');
like($stdout, qr/demo_customer\s*\|\s*name\s*\|\s*identifier/,
	'the last section ran: labelled_columns lists the labelled protected column');
like($stdout, qr/张\*\*/, 'the protected name shows masked');
like($stdout, qr/published\s*\|\s*6\s*\|\s*6\s*\|/,
	'the credit section ran: the batch published the 6 expired records');
like($stdout, qr/1985-1989\s*\|\s*3101/, 'the archive holds generalised quasi-identifiers');
like($stdout, qr/JR\/T 0117-2014\s*\|\s*manual\s*\|\s*\d+/,
	'the compliance section ran: the self-check reported JR/T 0117-2014 clause by clause');
like($stdout, qr/compliance page of \d{5,} characters/, 'the printable page was made');
my $log = slurp_file($node->logfile);
unlike($log, qr/out of relcache_callback_list slots/, 'nothing of it in the server log');

$node->stop;
done_testing();
