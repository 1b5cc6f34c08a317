# Login lockout with real password authentication over a socket (A3, A3b):
# failures are counted, logged with role and address, delayed; the role is
# locked after finsec.max_auth_failures, also against the right password;
# the lock survives a restart, ends after finsec.lockout_duration or by
# finsec.unlock_role() (audited); exempt roles are never locked; a role
# name that does not exist is locked the same way.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);
use FinsecTest;

my $node = finsec_node('lockout', no_start => 1);
$node->append_conf('postgresql.conf', q{
finsec.max_auth_failures = 3
finsec.auth_failure_delay = '300ms'
finsec.lockout_duration = '4s'
finsec.lockout_exempt_roles = 'breakglass'
finsec.audit_seal_databases = 'postgres'
finsec.audit_seal_interval = '200ms'
});
# Password authentication for the test roles; trust for the rest.
prepend_hba($node, "local all alice,breakglass,ghost,carol,dave scram-sha-256");
$node->start;

my $good = 'Gx7#mQ2v!Lp9';
$node->safe_psql('postgres', qq{
	CREATE EXTENSION finsec;
	CREATE ROLE alice LOGIN PASSWORD '$good';
	CREATE ROLE breakglass LOGIN PASSWORD '$good';
	CREATE ROLE carol LOGIN PASSWORD '$good' VALID UNTIL 'now' ;
	ALTER ROLE carol VALID UNTIL '@{[ scalar(gmtime(time + 2 * 86400)) ]} UTC';
	CREATE ROLE dave LOGIN PASSWORD '$good';
	CREATE ROLE admin LOGIN IN ROLE finsec_admin;
});

sub cs { my ($user, $pw) = @_; return $node->connstr('postgres') . " user=$user password=$pw"; }

$node->connect_ok(cs('alice', $good), 'alice logs in with her password');

my $t0 = time;
for my $n (1 .. 3)
{
	$node->connect_fails(cs('alice', 'wrong'), "failed login $n",
		expected_stderr => qr/password authentication failed for user "alice"/,
		log_like => [ qr/finsec: authentication failed for role "alice" from \[local\] \(failure $n of 3\)/ ]);
}
ok(time - $t0 >= 0.9, 'each failure was delayed (3 x 300 ms)');
ok($node->log_contains(qr/finsec: role "alice" locked until .* after 3 failed logins, last from \[local\]/),
	'the lock is logged with role, count and address');

$node->connect_fails(cs('alice', $good), 'the right password no longer opens a locked role',
	expected_stderr => qr/role "alice" is locked after repeated failed logins/);
is($node->safe_psql('postgres', "SELECT failures, locked_until > now() FROM finsec.auth_state() WHERE role = 'alice'"),
	'3|t', 'finsec.auth_state() shows the lock');
like($node->safe_psql('postgres', "SELECT detail FROM finsec.status() WHERE component = 'login_lockout'"),
	qr/locked now: alice/, 'finsec.status() names the locked role');

# A3b: every failure, the lock and the refused login reach the audit
# ledger (through the sealer worker), with role, address and real time.
ok($node->poll_query_until('postgres', q{
	SELECT count(*) FILTER (WHERE event_type = 'auth.failure') = 3
	   AND count(*) FILTER (WHERE event_type = 'auth.lock') = 1
	   AND count(*) FILTER (WHERE event_type = 'auth.locked_login') = 1
	  FROM finsec.audit WHERE subject = 'alice'}),
	'failures, the lock and the refused login are in the audit ledger');
is($node->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT object || ' ' || action || ' ' || success, ',')
	  FROM finsec.audit WHERE subject = 'alice' AND event_type LIKE 'auth.%'}),
	'[local] login false', 'each names the client address and records failure');
# Each failed attempt was delayed 300 ms before the next began, so the
# attempts' own times are at least that far apart; times of recording (one
# batch in the sealer) would be microseconds apart.
is($node->safe_psql('postgres', q{
	SELECT min(gap) >= interval '250 ms' FROM (
		SELECT event_time - lag(event_time) OVER (ORDER BY event_time) AS gap
		  FROM finsec.audit WHERE subject = 'alice' AND event_type = 'auth.failure') g}),
	't', 'with the time of each attempt, not of the recording');
ok($node->poll_query_until('postgres',
		"SELECT rows_pending = 0 AND ok FROM finsec.audit_verify('finsec.audit')"),
	'and they are sealed into the chain');

# The lock survives a restart.
$node->restart;
ok($node->log_contains(qr/finsec: restored 1 login lock/), 'the lock was restored at startup');
$node->connect_fails(cs('alice', $good), 'still locked after a restart',
	expected_stderr => qr/role "alice" is locked/);

# An administrator lifts it, and that is audited.
is($node->safe_psql('postgres', "SELECT finsec.unlock_role('alice')", extra_params => [ '-U', 'admin' ]),
	't', 'finsec.unlock_role() lifts the lock');
$node->connect_ok(cs('alice', $good), 'alice logs in again');
is($node->safe_psql('postgres',
		"SELECT db_user || ' ' || subject || ' ' || action FROM finsec.audit WHERE event_type = 'auth.unlock'"),
	'admin alice unlock', 'the unlock is an audit event naming the administrator');

# A lock also ends by itself after finsec.lockout_duration.
$node->connect_fails(cs('alice', 'wrong'), "failure $_") for 1 .. 3;
$node->connect_fails(cs('alice', $good), 'locked again', expected_stderr => qr/is locked/);
sleep 5;
$node->connect_ok(cs('alice', $good), 'the lock expired after finsec.lockout_duration');

# A success resets the count.
$node->connect_fails(cs('alice', 'wrong'), 'one failure');
$node->connect_fails(cs('alice', 'wrong'), 'two failures');
$node->connect_ok(cs('alice', $good), 'a success');
$node->connect_fails(cs('alice', 'wrong'), 'one failure again',
	log_like => [ qr/\(failure 1 of 3\)/ ]);

# Exempt roles are logged but never locked.
$node->connect_fails(cs('breakglass', 'wrong'), "break-glass failure $_",
	log_like => [ qr/authentication failed for role "breakglass" from \[local\] \(exempt from lockout\)/ ])
  for 1 .. 4;
$node->connect_ok(cs('breakglass', $good), 'the exempt role is not locked');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) FILTER (WHERE event_type = 'auth.exempt_login' AND success) = 1
	   AND count(*) FILTER (WHERE event_type = 'auth.failure' AND NOT success) = 4
	  FROM finsec.audit WHERE subject = 'breakglass'}),
	'its failures and its successful login are in the audit ledger');

# A role that does not exist is locked like any other: no way to tell.
$node->connect_fails(cs('ghost', 'x'), "ghost failure $_") for 1 .. 3;
$node->connect_fails(cs('ghost', 'x'), 'a non-existent role reads as locked too',
	expected_stderr => qr/role "ghost" is locked after repeated failed logins/);

# A password about to expire is announced at the first statement, once.
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT 1; SELECT 2', connstr => cs('carol', $good));
is($out, "1\n2", 'carol logs in and works');
my @warnings = $err =~ /WARNING:  your password expires at/g;
is(scalar(@warnings), 1, 'and is told once that her password expires soon');
unlike(join('', $node->psql('postgres', 'SELECT 1', connstr => cs('alice', $good))),
	qr/expires at/, 'a password far from expiry gets no warning');

# Exact under concurrency: 8 simultaneous failed logins against a limit of
# 3 count exactly 3 failures and 1 lock; the other 5 are refused as locked.
my @h;
for (1 .. 8)
{
	my ($o, $e) = ('', '');
	push @h, IPC::Run::start([ 'psql', '-X', '-w', '-d', cs('dave', 'wrong'), '-c', 'SELECT 1' ],
		'>', \$o, '2>', \$e);
}
$_->finish for @h;
ok($node->poll_query_until('postgres', q{
	SELECT count(*) FILTER (WHERE event_type = 'auth.failure') = 3
	   AND count(*) FILTER (WHERE event_type = 'auth.lock') = 1
	   AND count(*) FILTER (WHERE event_type = 'auth.locked_login') = 5
	  FROM finsec.audit WHERE subject = 'dave'}),
	'8 concurrent failures: exactly 3 counted, 1 lock, 5 refused as locked');

$node->stop;
done_testing();
