# The keyring's master key at server start: the server starts without it
# and only key functions fail, with the reason; a bad source (permissions,
# content, a failing command, both sources set) is reported the same way;
# keys survive a restart; a wrong master key is a clear error, never a
# crash or a wrong MAC; a master key change re-wraps keys under the new one.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('keyring', master_key => undef);

sub psql_err
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql);
	return $err;
}

sub master
{
	return $node->safe_psql('postgres', 'SELECT loaded, coalesce(problem, \'\') FROM finsec.keyring_master()');
}

# ---- no master key -------------------------------------------------------
$node->safe_psql('postgres', q{
	CREATE EXTENSION finsec;
	CREATE ROLE alice LOGIN IN ROLE finsec_admin;
	CREATE ROLE bob LOGIN IN ROLE finsec_admin;
});
like(master(), qr/^f\|neither finsec.master_key_file nor finsec.master_key_command is set/,
	'without a master key the server starts and says why there is no key');
ok($node->log_contains('keyring master key not loaded'), 'and the server log says so');
like(psql_err(q{SET SESSION AUTHORIZATION alice; SELECT finsec.key_generate('k', 'mac', 'hmac-sha256')}),
	qr/ERROR:  the finsec keyring master key is not loaded.*DETAIL:  neither.*HINT:  Set finsec.master_key_file/s,
	'key functions fail with the reason and a hint');
like(psql_err(q{SELECT finsec.mac('k', 'hmac-sha256', 'x')}), qr/master key is not loaded/,
	'so do MAC functions');
is($node->safe_psql('postgres', q{SELECT finsec.audit_event('test.event') > 0}), 't',
	'everything else still works');
is($node->safe_psql('postgres', q{SELECT ok FROM finsec.status() WHERE component = 'keyring_master_key'}), 'f',
	'status reports the missing master key');

# ---- bad sources ------------------------------------------------------------
my $good = add_master_key($node);    # the fixed test key
chmod 0640, $good;
$node->restart;
like(master(), qr/^f\|master key file ".*" has group or world access/, 'a group-readable key file is refused');
chmod 0600, $good;

my $bad = add_master_key($node, 'not-a-key', 'bad.key');
$node->restart;
like(master(), qr/^f\|the master key must be 64 hexadecimal digits/, 'a key file with the wrong content is refused');
add_master_key($node, 'zz' x 32, 'bad.key');
$node->restart;
like(master(), qr/^f\|.*not a hexadecimal digit/, 'so is one with a non-hexadecimal character');
ok(!$node->log_contains('zzzzzzzz'), 'the content never reaches the log');

$node->append_conf('postgresql.conf', "finsec.master_key_file = ''\nfinsec.master_key_command = 'exit 3'");
$node->restart;
like(master(), qr/^f\|master key command failed \(non-zero exit status\)/, 'a failing key command is reported');
$node->append_conf('postgresql.conf', "finsec.master_key_file = '$good'");
$node->restart;
like(master(), qr/^f\|both the master_key file and the master_key command are set/, 'setting both sources is refused');

# ---- a good key, from a command ------------------------------------------
$node->append_conf('postgresql.conf', "finsec.master_key_file = ''\nfinsec.master_key_command = 'cat $good'");
$node->restart;
like(master(), qr/^t\|$/, 'a key command that prints the key loads it');
my $kcv1 = $node->safe_psql('postgres', 'SELECT check_value FROM finsec.keyring_master()');
ok($node->log_contains("master key loaded \\(check value $kcv1\\)"), 'the log shows the check value only');

$node->safe_psql('postgres', q{
	SET SESSION AUTHORIZATION alice;
	SELECT finsec.key_generate('pay.mac', 'mac', 'hmac-sm3') AS r \gset
	SET SESSION AUTHORIZATION bob;
	SELECT finsec.approve(:r);
});
my $mac = $node->safe_psql('postgres', q{SELECT finsec.mac('pay.mac', 'hmac-sm3', 'payment 1')});
like($mac, qr/^\\x[0-9a-f]{64}$/, 'a generated key computes MACs');

# ---- restart: the key survives ---------------------------------------------
$node->restart;
is($node->safe_psql('postgres', q{SELECT finsec.mac('pay.mac', 'hmac-sm3', 'payment 1')}), $mac,
	'after a restart the same key computes the same MAC');
is($node->safe_psql('postgres', q{SELECT bool_and(ok) FROM finsec.key_verify()}), 't', 'and verifies');

# ---- the wrong master key ---------------------------------------------------
my $other = add_master_key($node, 'ff' x 32, 'other.key');
$node->append_conf('postgresql.conf', "finsec.master_key_command = ''");
$node->restart;
my $kcv2 = $node->safe_psql('postgres', 'SELECT check_value FROM finsec.keyring_master()');
isnt($kcv2, $kcv1, 'another master key has another check value');
like(psql_err(q{SELECT finsec.mac('pay.mac', 'hmac-sm3', 'payment 1')}),
	qr/ERROR:  a key of the finsec keyring is wrapped under a master key this server does not have\nDETAIL:  The key was wrapped under the master key with check value $kcv1; this server's master key has check value $kcv2/,
	'with the wrong master key a key use fails clearly, naming both check values');
is($node->safe_psql('postgres', q{SELECT ok, detail FROM finsec.key_verify()}),
	'f|a key of the finsec keyring is wrapped under a master key this server does not have',
	'key_verify reports it');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is up');

# ---- a master key change ------------------------------------------------------
$node->append_conf('postgresql.conf', "finsec.master_key_previous_file = '$good'");
$node->restart;
is($node->safe_psql('postgres', q{SELECT finsec.mac('pay.mac', 'hmac-sm3', 'payment 1')}), $mac,
	'with the old key loaded as previous, keys still work');
like(psql_err(q{CREATE ROLE nobody LOGIN; SET SESSION AUTHORIZATION nobody; SELECT finsec.rewrap_keys()}),
	qr/permission denied/, 'only finsec_admin may re-wrap');
is($node->safe_psql('postgres', q{SET SESSION AUTHORIZATION alice; SELECT finsec.rewrap_keys()}), '1',
	're-wrapping moves the key under the new master key');
$node->append_conf('postgresql.conf', "finsec.master_key_previous_file = ''");
$node->restart;
is($node->safe_psql('postgres', q{SELECT finsec.mac('pay.mac', 'hmac-sm3', 'payment 1')}), $mac,
	'after re-wrapping, the new master key alone suffices');
is($node->safe_psql('postgres', q{SELECT master_kcv FROM finsec.key_version}), $kcv2,
	'the key records the new master key');
is($node->safe_psql('postgres', q{SELECT detail->>'rewrapped' FROM finsec.audit WHERE event_type = 'key.rewrap'}), '1',
	're-wrapping is audited');

# ---- key material never in the log -------------------------------------------
$node->append_conf('postgresql.conf', "log_statement = 'all'");
$node->reload;
$node->psql('postgres', q{SET SESSION AUTHORIZATION alice; SELECT finsec.key_import('imp', 'mac', 'cmac-aes', '\x000102030405060708090a0b0c0d0eaa', kcv => 'FFFFFF')});
$node->psql('postgres', q{SET SESSION AUTHORIZATION alice; SELECT finsec.key_import('imp', 'mac', 'cmac-aes', '\x000102030405060708090a0b0c0d0eaa')});
ok(!$node->log_contains('0a0b0c0d0eaa'), 'imported key material reaches neither statement nor error log lines');
ok($node->log_contains('finsec.key_import statement with key material, hidden by finsec'),
	'the statement is logged as hidden');

done_testing();
