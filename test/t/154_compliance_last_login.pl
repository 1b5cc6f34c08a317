# The last successful login of each role (A9: JR/T 0096.5 3.2.5, 3.2.6;
# docs/compliance.md): real scram-sha-256 logins over TCP are
# recorded in shared memory, flushed by the worker task auth.login_flush
# to finsec.role_login with the client address, survive a restart;
# finsec.role_last_login() sees a login not yet flushed, shows a role that
# never logged in as NULL, ignores dropped roles (and a new role of a
# dropped role's name); a failed login is no login; only finsec_admin and
# finsec_auditor may read any of it.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('lastlogin', no_start => 1, sealer => 'postgres');
$node->append_conf('postgresql.conf', q{
listen_addresses = '127.0.0.1'
finsec.auth_failure_delay = 0
});
prepend_hba($node, "host all alice,bob,carol,auditor,app 127.0.0.1/32 scram-sha-256");
$node->start;

my $good = 'Gx7#mQ2v!Lp9';
$node->safe_psql('postgres', qq{
	SET client_min_messages = warning;
	CREATE EXTENSION finsec;
	CREATE ROLE alice LOGIN PASSWORD '$good';
	CREATE ROLE bob LOGIN PASSWORD '$good';
	CREATE ROLE carol LOGIN PASSWORD '$good';
	CREATE ROLE nolog NOLOGIN;
	CREATE ROLE auditor LOGIN PASSWORD '$good' IN ROLE finsec_auditor;
	CREATE ROLE app LOGIN PASSWORD '$good' IN ROLE finsec_app;
});
my $port = $node->port;
my $tcp = sub { "host=127.0.0.1 port=$port dbname=postgres user=$_[0] password=" . ($_[1] // $good) };

my $before = $node->safe_psql('postgres', 'SELECT now()');
$node->connect_ok($tcp->('alice'), 'alice logs in with her password over TCP');
$node->connect_ok($tcp->('bob'), 'bob logs in');
$node->connect_ok($tcp->('bob'), 'bob logs in again');

# --- flushed to the table by the worker, with the address -------------------
ok($node->poll_query_until('postgres', q{
		SELECT count(*) = 2 AND sum(logins) = 3 AND
			   (SELECT bool_and(flushed) FROM finsec._role_login_pending() WHERE role IN ('alice', 'bob'))
		  FROM finsec.role_login WHERE role IN ('alice', 'bob')}),
	'auth.login_flush wrote the three logins of both roles to finsec.role_login');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(format('%s %s %s %s', role, last_address, logins, last_login_at >= '$before'), ',' ORDER BY role)
	  FROM finsec.role_login WHERE role IN ('alice', 'bob')}),
	'alice 127.0.0.1 1 t,bob 127.0.0.1 2 t',
	'each with its client address, its count of logins and a time after the test began');
is($node->safe_psql('postgres',
		"SELECT bool_and(flushed) FROM finsec._role_login_pending() WHERE role IN ('alice', 'bob')"),
	't', 'the shared-memory entries are clean after the commit');
is($node->safe_psql('postgres',
		"SELECT failures FROM finsec.worker_tasks() WHERE task = 'auth.login_flush'"),
	'0', 'the task is registered and has not failed');

# --- a failed login is no login ---------------------------------------------
my $alice_at = $node->safe_psql('postgres', "SELECT last_login_at FROM finsec.role_last_login() WHERE role = 'alice'");
$node->connect_fails($tcp->('alice', 'wrong'), 'a wrong password fails',
	expected_stderr => qr/password authentication failed for user "alice"/);
$node->connect_fails($tcp->('nolog'), 'a NOLOGIN role cannot connect (no hba line either)');
is($node->safe_psql('postgres', "SELECT last_login_at FROM finsec.role_last_login() WHERE role = 'alice'"),
	$alice_at, 'the failed login did not move the last login');

# --- never logged in: NULL; NOLOGIN roles are not listed ---------------------
is($node->safe_psql('postgres', q{
	SELECT format('%s|%s|%s', last_login_at IS NULL, last_address IS NULL, recording_since <= now())
	  FROM finsec.role_last_login() WHERE role = 'carol'}),
	't|t|t', 'carol, who never logged in, has NULL, and recording_since is set');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM finsec.role_last_login() WHERE role IN ('nolog', 'finsec_admin', 'finsec_auditor')}),
	'0', 'roles that cannot log in are not listed');
is($node->safe_psql('postgres', q{
	SELECT count(*) = (SELECT count(*) FROM pg_roles WHERE rolcanlogin)
	   AND count(DISTINCT role) = count(*)
	  FROM finsec.role_last_login()}),
	't', 'one row per login role');

# --- an unflushed login is seen at once --------------------------------------
# Point the auth audit database elsewhere: no worker flushes any more.
$node->safe_psql('postgres', "ALTER SYSTEM SET finsec.auth_audit_database = 'nowhere'");
$node->reload;
sleep 1;
my $carol_before = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
$node->connect_ok($tcp->('carol'), 'carol logs in');
is($node->safe_psql('postgres', qq{
	SELECT format('%s|%s', last_login_at >= '$carol_before', last_address)
	  FROM finsec.role_last_login() WHERE role = 'carol'}),
	't|127.0.0.1', 'role_last_login() shows carol\'s login at once');
sleep 1;
is($node->safe_psql('postgres', "SELECT count(*) FROM finsec.role_login WHERE role = 'carol'"),
	'0', 'while finsec.role_login does not have it yet');
is($node->safe_psql('postgres', "SELECT flushed FROM finsec._role_login_pending() WHERE role = 'carol'"),
	'f', 'and its shared-memory entry is dirty');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET finsec.auth_audit_database');
$node->reload;
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM finsec.role_login WHERE role = 'carol'"),
	'back in the auth audit database, the flush writes it');

# --- privileges ----------------------------------------------------------------
$node->connect_ok($tcp->('auditor'), 'the auditor logs in');
my ($rc, $out, $err) = $node->psql('postgres',
	'SELECT count(*) > 0 FROM finsec.role_last_login() WHERE last_login_at IS NOT NULL',
	connstr => $tcp->('auditor'));
is($out, 't', 'an auditor reads role_last_login()');
for my $sql ('SELECT * FROM finsec.role_last_login()', 'SELECT * FROM finsec._role_login_pending()',
	'SELECT * FROM finsec.role_login', 'SELECT * FROM finsec.role_login_since')
{
	($rc, $out, $err) = $node->psql('postgres', $sql, connstr => $tcp->('app'));
	like($err, qr/permission denied for (function|table)/, "an application role is refused: $sql");
}
($rc, $out, $err) = $node->psql('postgres', "INSERT INTO finsec.role_login VALUES ('alice', 1, now(), 'x', 1)",
	connstr => $tcp->('auditor'));
like($err, qr/permission denied for table role_login/, 'an auditor cannot write finsec.role_login');

# --- a restart keeps what was flushed ------------------------------------------
my $flushed = $node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s %s', role, last_login_at, last_address), ',' ORDER BY role)
	  FROM finsec.role_login WHERE role IN ('alice', 'bob', 'carol')});
$node->restart;
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s %s', role, last_login_at, last_address), ',' ORDER BY role)
	  FROM finsec.role_last_login() WHERE role IN ('alice', 'bob', 'carol')}),
	$flushed, 'after a restart role_last_login() still has every flushed login');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM finsec._role_login_pending() WHERE role IN ('alice', 'bob', 'carol')"),
	'0', '(from the table: shared memory starts empty)');

# --- dropped roles are ignored; a new role of the same name starts afresh ------
$node->safe_psql('postgres', 'DROP ROLE bob');
is($node->safe_psql('postgres', "SELECT count(*) FROM finsec.role_last_login() WHERE role = 'bob'"),
	'0', 'a dropped role is not listed');
$node->safe_psql('postgres', "CREATE ROLE bob LOGIN PASSWORD '$good'");
is($node->safe_psql('postgres', "SELECT last_login_at IS NULL FROM finsec.role_last_login() WHERE role = 'bob'"),
	't', 'a new role named like the dropped one has not logged in');
$node->connect_ok($tcp->('bob'), 'the new bob logs in');
ok($node->poll_query_until('postgres', q{
	SELECT logins = 1 AND role_oid = 'bob'::regrole FROM finsec.role_login WHERE role = 'bob'}),
	'its row restarts at one login, under its own OID');

# --- hostile role names are data -----------------------------------------------
$node->safe_psql('postgres', q{CREATE ROLE "<script>x'y" LOGIN});
$node->connect_ok($node->connstr('postgres') . q{ user=<script>x'y}, 'a role with a hostile name logs in (trust)');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM finsec.role_login WHERE role = '<script>x''y'}),
	'and is recorded under its exact name');

unlike(slurp_file($node->logfile), qr/last logins not written/, 'no flush failed');
$node->stop;
done_testing();
