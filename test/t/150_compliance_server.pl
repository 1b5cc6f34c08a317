# The compliance checks that need a server configuration
# (docs/compliance.md): ssl on a real cluster with a self-signed
# certificate made by the openssl CLI, its minimum protocol and ciphers;
# pg_hba.conf with trust, md5 over plain TCP, superusers reachable from
# 0.0.0.0/0 (also through a group), a batch client without a client
# certificate and a line in error, then fixed.  pg_hba_file_rules is
# superuser-only in PostgreSQL 15: the auditor reads it through
# finsec.compliance_hba_rules(), which redacts secret options.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('srv');
my $dir = $node->data_dir;
$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION finsec;
	CREATE ROLE aud LOGIN IN ROLE finsec_auditor;
	CREATE ROLE batch LOGIN;
	CREATE ROLE app LOGIN;
	CREATE ROLE grp;
	CREATE ROLE sux SUPERUSER NOLOGIN IN ROLE grp;
	CREATE ROLE ldapuser LOGIN;
});

# status and a piece of the evidence of a check, as the auditor
sub check
{
	my ($name, $path, $args) = @_;
	$args //= '{}';
	my $ev = defined $path ? qq{ || ' ' || coalesce((evidence #> '$path')::text, '')} : '';
	return $node->safe_psql('postgres', qq{
		SET ROLE aud;
		SELECT status$ev FROM finsec._check_$name('$args')});
}

my $hba = "$dir/pg_hba.conf";
my $orig_hba = slurp_file($hba);
sub write_hba
{
	my @lines = @_;
	open my $fh, '>', $hba or die "could not write $hba: $!";
	print $fh map({ "$_\n" } @lines);
	close $fh;
	return;
}
# reload with the framework's pg_hba.conf (the test's own is judged on disk, never loaded)
sub reload
{
	my $cur = slurp_file($hba);
	my $t = $node->safe_psql('postgres', 'SELECT pg_conf_load_time()');
	write_hba(split /\n/, $orig_hba);
	$node->reload;
	# new sessions inherit the postmaster's load time: wait until it reloaded
	$node->poll_query_until('postgres', "SELECT pg_conf_load_time() > '$t'") or die 'no reload';
	write_hba(split /\n/, $cur);
	return;
}

# ---- ssl: a self-signed certificate from the openssl CLI
system_or_bail('openssl', 'req', '-new', '-x509', '-days', '2', '-nodes', '-subj', '/CN=localhost',
	'-newkey', 'rsa:2048', '-keyout', "$dir/server.key", '-out', "$dir/server.crt");
chmod 0600, "$dir/server.key";
like(check('ssl_enabled'), qr/^fail/, 'ssl off: ssl_enabled fails');
$node->append_conf('postgresql.conf', qq{
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_min_protocol_version = 'TLSv1.2'
ssl_ciphers = 'HIGH:!aNULL:!MD5:!MEDIUM:!3DES:!RC4:!DES:!LOW:!EXPORT:!NULL'
});
$node->restart;
is($node->safe_psql('postgres', 'SHOW ssl'), 'on', 'the server runs with ssl');
is(check('ssl_enabled'), 'pass', 'ssl on: ssl_enabled passes');
is(check('ssl_protocol', '{value}', '{"min": "TLSv1.2"}'), 'pass "TLSv1.2"', 'TLSv1.2 minimum: ssl_protocol passes');
is(check('ssl_protocol', '{value}', '{"min": "TLSv1.3"}'), 'fail "TLSv1.2"', '... and fails against a TLSv1.3 clause');
is(check('ssl_ciphers', '{weak_classes_allowed}'), 'pass []', 'strong ciphers: ssl_ciphers passes');

$node->append_conf('postgresql.conf', "ssl_min_protocol_version = 'TLSv1'\nssl_ciphers = 'HIGH:MEDIUM:+3DES:!aNULL'");
reload();
is(check('ssl_protocol', '{value}'), 'fail "TLSv1"', 'ssl_min_protocol_version TLSv1: ssl_protocol fails');
is(check('ssl_ciphers', '{weak_classes_allowed}'), 'fail ["3DES", "MEDIUM"]', 'the default ciphers: 3DES and MEDIUM allowed');
$node->append_conf('postgresql.conf', "ssl_min_protocol_version = 'TLSv1.3'");
reload();
is(check('ssl_ciphers', '{note}'), 'pass "only TLS 1.3 is accepted, whose cipher suites are all of 128 bits or more"', 'TLS 1.3 only: ssl_ciphers does not apply');
$node->append_conf('postgresql.conf', "ssl_min_protocol_version = 'TLSv1.2'\nssl_ciphers = 'HIGH:!aNULL:!MD5:!MEDIUM:!3DES:!RC4:!DES:!LOW:!EXPORT:!NULL'");
reload();

# ---- pg_hba.conf, misconfigured.  pg_hba_file_rules reads the file on
# disk, so the checks judge it before any reload (the test keeps its own
# trust line to connect).
write_hba(
	'local all all trust',                                           # 1: trust
	'host all app 127.0.0.1/32 md5',                                 # 2: md5 over plain TCP
	'host all postgres 0.0.0.0/0 scram-sha-256',                     # 3: the superuser from anywhere
	'hostssl all +grp ::/0 scram-sha-256',                           # 4: a superuser through a group, IPv6 anywhere
	'hostssl all batch 10.0.0.0/8 scram-sha-256',                    # 5: batch client without a certificate
	'host all all 0.0.0.0/0 reject',                                 # 6: reject is fine
	'host all ldapuser 10.1.0.0/16 ldap ldapserver=ldap.example ldapbasedn="dc=example" ldapbinddn="cn=finsec" ldapbindpasswd=S3cr3tPw ldapsearchattribute=uid',    # 7
	'hostnogssenc all app 10.2.0.0/16 password');                    # 8: plain password without encryption
like(check('hba_no_trust', '{offending_lines}'), qr/^fail \[\{"line": 1, "type": "local".*"method": "trust"/, 'trust: line 1 named');
is($node->safe_psql('postgres', q{SET ROLE aud; SELECT jsonb_array_length(evidence -> 'offending_lines') FROM finsec._check_hba_no_trust('{}')}),
	'1', '... and only it');
like(check('hba_password_over_ssl', '{offending_lines}'), qr/^fail \[\{"line": 2, .*"method": "md5"/, 'md5 over host: line 2 named');
like(check('hba_password_over_ssl', '{offending_lines}'), qr/"line": 8, "type": "hostnogssenc".*"method": "password"/, 'password over hostnogssenc: line 8 named');
my $wide = check('hba_superuser_wide', '{offending_lines}');
like($wide, qr/^fail .*"line": 3,.*"line": 4,/, 'the superuser from 0.0.0.0/0 and a group with a superuser from ::/0: lines 3 and 4');
unlike($wide, qr/"line": 6/, '... not the reject line');
is(check('hba_batch_clientcert'), 'out_of_scope', 'no batch role declared: out of scope');
$node->append_conf('postgresql.conf', "finsec.compliance_batch_roles = 'batch, nosuchrole'");
reload();
like(check('hba_batch_clientcert', '{offending_lines}'), qr/^fail \[.*"line": 1,.*"line": 5, "type": "hostssl", "user": \["batch"\]/, 'batch role on scram without a certificate (and local trust): lines 1 and 5');
is(check('hba_batch_clientcert', '{undefined_roles}'), 'fail ["nosuchrole"]', '... and a declared role that does not exist is named');
like(check('admin_strong_auth', '{offending_lines}'), qr/^fail .*"line": 1,.*"line": 3,/, 'admin_strong_auth: trust and plain host lines reach the superuser');
my $all = $node->safe_psql('postgres', q{SET ROLE aud; SELECT evidence::text FROM finsec._check_hba_superuser_wide('{}')});
my $rules = $node->safe_psql('postgres', q{SET ROLE aud; SELECT options::text FROM finsec.compliance_hba_rules() WHERE line_number = 7});
unlike($rules, qr/S3cr3tPw/, 'the LDAP bind password is not shown to the auditor');
like($rules, qr/ldapbindpasswd=<redacted>/, '... it is redacted');
unlike($all, qr/S3cr3tPw/, '... nor in any evidence');
# the superuser sees the same verdict directly
is($node->safe_psql('postgres', q{SELECT status FROM finsec._check_hba_no_trust('{}')}), 'fail', 'the superuser gets the same result');

# a line in error fails every hba check
write_hba('local all all peer', 'host all all 10.0.0.0/8 bogus');
like(check('hba_no_trust', '{errors}'), qr/^fail \[\{"line": 2, "error": ".*bogus/, 'a line in error: named with its error');
like(check('hba_superuser_wide'), qr/^fail/, '... and fails the other hba checks');

# ---- pg_hba.conf, fixed
write_hba(
	'local all postgres peer',
	'hostssl all postgres 192.168.1.10/32 cert',
	'hostssl all batch 10.0.0.0/8 scram-sha-256 clientcert=verify-full',
	'hostssl all +finsec_admin 192.168.1.0/24 scram-sha-256 clientcert=verify-full',
	'hostssl all app 10.0.0.0/8 scram-sha-256',
	'host all all 0.0.0.0/0 reject',
	'host all all ::/0 reject');
is(check('hba_no_trust'), 'pass', 'fixed: hba_no_trust passes');
is(check('hba_password_over_ssl'), 'pass', 'fixed: hba_password_over_ssl passes');
is(check('hba_superuser_wide'), 'pass', 'fixed: hba_superuser_wide passes');
is(check('hba_batch_clientcert', '{undefined_roles}'), 'warn ["nosuchrole"]', 'fixed, but a declared batch role does not exist: warn');
$node->append_conf('postgresql.conf', "finsec.compliance_batch_roles = 'batch'");
reload();
is(check('hba_batch_clientcert', '{offending_lines}'), 'pass []', 'batch role with clientcert=verify-full: pass');
is(check('admin_strong_auth', '{offending_lines}'), 'pass []', 'administrators: cert or scram with a client certificate, restricted addresses');
# a batch line that is scram only: fail again; cert: pass
write_hba('local all postgres peer', 'hostssl all batch 10.0.0.0/8 scram-sha-256');
like(check('hba_batch_clientcert', '{offending_lines}'), qr/^fail \[\{"line": 2,/, 'batch role without clientcert: fail');
write_hba('local all postgres peer', 'hostssl all batch 10.0.0.0/8 cert');
is(check('hba_batch_clientcert', '{offending_lines}'), 'pass []', 'batch role with cert: pass');
# a single-factor administrator line warns
write_hba('local all postgres peer', 'hostssl all +finsec_admin 192.168.1.0/24 scram-sha-256');
like(check('admin_strong_auth', '{single_factor_lines}'), qr/^warn \[\{"line": 2,/, 'administrators with scram alone: warn');

# ---- ssl off: ssl_enabled fails, ssl_protocol too, hostssl lines are in error
write_hba(split /\n/, $orig_hba);
$node->append_conf('postgresql.conf', 'ssl = off');
reload();
like(check('ssl_enabled'), qr/^fail/, 'ssl off: ssl_enabled fails');
like(check('ssl_protocol'), qr/^fail/, 'ssl off: ssl_protocol fails');
write_hba('local all all trust', 'hostssl all batch 10.0.0.0/8 cert');
like(check('hba_batch_clientcert', '{errors}'), qr/^fail \[\{"line": 2, "error": "hostssl record cannot match because SSL is disabled/,
	'ssl off: a hostssl line is in error');
write_hba(split /\n/, $orig_hba);

# ---- an auditor without the fact function: cannot_verify
$node->safe_psql('postgres', 'REVOKE EXECUTE ON FUNCTION finsec.compliance_hba_rules() FROM finsec_auditor');
like(check('hba_no_trust', '{needs}'), qr/^cannot_verify "EXECUTE on finsec.compliance_hba_rules\(\)/, 'auditor without the fact function: cannot_verify');

# ---- the age of the last recorded key verification: one written 40 days
# ago (the server under libfaketime) is older than
# finsec.compliance_verify_interval (31 days)
$node->stop;
start_faketime($node, '-40d');
$node->safe_psql('postgres', q{SELECT count(*) FROM finsec.key_verify()});
$node->stop;
$node->start;
like($node->safe_psql('postgres', q{SELECT status || ' ' || (evidence ->> 'problem') FROM finsec._check_keys_verified('{}')}),
	qr/^fail no key\.verify recorded within the last 2678400 seconds/, 'a key verification 40 days old: keys_verified fails');
is($node->safe_psql('postgres', q{SELECT count(*) FROM finsec.audit WHERE event_type = 'key.verify' AND event_time < now() - interval '39 days'}),
	'1', '... the old verification is in the ledger');
$node->safe_psql('postgres', q{SELECT count(*) FROM finsec.key_verify()});
is($node->safe_psql('postgres', q{SELECT status FROM finsec._check_keys_verified('{}')}), 'pass', 'a fresh one: pass');

$node->stop;
done_testing();
