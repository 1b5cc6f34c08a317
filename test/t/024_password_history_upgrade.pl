# Password history kept by 0.7 (salted PBKDF2, no key) still refuses reuse
# after ALTER EXTENSION finsec UPDATE TO '0.8', before and after the
# keyring key auth.password exists, and the rows move under the key without
# any password (docs/auth.md "Keyed history").  Without a master key, a
# database whose history is keyed refuses password changes (S9A10) rather
# than accept them unchecked; one whose history was never keyed keeps the
# 0.7 behaviour.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('pwup');
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', q{
	SET client_min_messages = warning;
	CREATE EXTENSION finsec VERSION '0.7';
	CREATE ROLE adm1 LOGIN IN ROLE finsec_admin;
	CREATE ROLE adm2 LOGIN IN ROLE finsec_admin;
	CREATE ROLE teller LOGIN PASSWORD 'Tl#Old1pass';
	ALTER ROLE teller PASSWORD 'Tl#Old2pass';
	SELECT finsec.set_role_profile('teller', birth_date => '1990-05-17');
});

sub change
{
	my ($db, $pw) = @_;
	my ($rc, $out, $err) = $node->psql($db,
		"SET client_min_messages = warning; \\set VERBOSITY sqlstate\nALTER ROLE teller PASSWORD '$pw'");
	return $rc == 0 ? 'ok' : ($err =~ /ERROR:\s+(\S+)/ ? $1 : $err);
}

is($node->safe_psql('app', "SELECT extversion FROM pg_extension WHERE extname = 'finsec'"), '0.7',
	'a database at 0.7');
is($node->safe_psql('app', 'SELECT count(*) FROM finsec.password_history'), '2', 'with two history rows');
is(change('app', 'Tl#Old1pass'), 'S9A01', 'reuse is refused on 0.7 (with the new library)');

$node->safe_psql('app', "ALTER EXTENSION finsec UPDATE TO '0.8'");
is($node->safe_psql('app', 'SELECT count(*), count(key_version) FROM finsec.password_history'), '2|0',
	'after the update the rows are kept as they were, unkeyed');
is(change('app', 'Tl#Old1pass'), 'S9A01', 'and reuse is still refused');
is(change('app', 'Tl#Old2pass'), 'S9A01', 'of either password');

# Two administrators create the key.
my $req = $node->safe_psql('app', q{
	SET SESSION AUTHORIZATION adm1;
	SELECT finsec.key_generate('auth.password', 'fingerprint', 'hmac-sm3', 'password history')});
$node->safe_psql('app', "SET SESSION AUTHORIZATION adm2; SELECT finsec.approve($req)");
my $before = $node->safe_psql('app', "SELECT string_agg(encode(hash, 'hex'), ',' ORDER BY id) FROM finsec.password_history");

is(change('app', 'Tl#Old1pass'), 'S9A01', 'with the key, the 0.7 rows still refuse reuse');
is(change('app', 'Tl#New3pass'), 'ok', 'a new password is accepted');
is($node->safe_psql('app', 'SELECT count(*), count(key_version), min(key_version) FROM finsec.password_history'),
	'3|3|1', 'and every row is now under key version 1, the 0.7 ones moved by the check');
isnt($node->safe_psql('app', "SELECT string_agg(encode(hash, 'hex'), ',' ORDER BY id) FROM finsec.password_history WHERE id <= (SELECT min(id) + 1 FROM finsec.password_history)"),
	$before, 'the moved rows hold new (keyed) values');
is($node->safe_psql('app', 'SELECT count(key_version) FROM finsec.role_profile'), '1', 'so does the profile');
is(change('app', 'Tl#Old1pass'), 'S9A01', 'the moved rows refuse reuse');
is(change('app', 'Tl#Old2pass'), 'S9A01', 'both of them');
is(change('app', 'Tl#New3pass'), 'S9A01', 'as does the new keyed row');
is(change('app', 'Qz#19900517k'), 'S9A01', 'and the moved profile still finds the birth date');

# A database where history was never keyed, for the fallback below.
$node->safe_psql('postgres', 'CREATE DATABASE plain');
$node->safe_psql('plain', 'CREATE EXTENSION finsec');

# Without the master key: keyed history cannot be checked, so password
# changes are refused with S9A10 and a hint; unkeyed history is checked as
# in 0.7.
$node->append_conf('postgresql.conf', "finsec.master_key_file = ''");
$node->restart;
my ($rc, $out, $err) = $node->psql('app', "ALTER ROLE teller PASSWORD 'Tl#New4pass'");
like($err, qr/password history cannot be checked: no master key is loaded.*HINT:.*master_key_file/s,
	'without the master key a keyed database refuses the change, with a hint');
unlike($err, qr/Tl#New4pass/, 'and the message does not carry the password');
is(change('app', 'Tl#New4pass'), 'S9A10', 'SQLSTATE S9A10');
is(change('plain', 'Tl#New4pass'), 'ok', 'a database whose history was never keyed still accepts it');
is(change('plain', 'Tl#New4pass'), 'S9A01', 'and refuses its reuse');

$node->stop;
done_testing();
