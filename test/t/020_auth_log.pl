# Passwords never reach the server log through the statements that carry
# them: not when finsec rejects the password, not when the statement fails
# for another reason, not with log_statement = 'all' or duration logging.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('authlog', no_start => 1);
$node->append_conf('postgresql.conf', q{
log_statement = 'all'
log_min_duration_statement = 0
log_min_error_statement = error
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION finsec');

my %secret = (
	accepted => 'Gx7#mQ2v!Lp9zz',
	rejected => 'Password2024!zz',      # refused by the common-password rule
	other_error => 'Hy8$nR3w!Mq0zz',    # statement fails: role does not exist
	prehashed => 'md5a3556571e93b0d20722ba62be61e8c2d',
	function => 'Kt5%vB8n@Wx2zz',       # inside a function body
);

$node->safe_psql('postgres', "CREATE ROLE alice LOGIN PASSWORD '$secret{accepted}'");
my ($ret, $out, $err) = $node->psql('postgres', "CREATE ROLE bob LOGIN PASSWORD '$secret{rejected}'");
like($err, qr/password rejected by finsec policy: a commonly used password/, 'weak password rejected');
unlike($err, qr/\Q$secret{rejected}\E/, 'the client error does not repeat the password');
($ret, $out, $err) = $node->psql('postgres', "ALTER ROLE nobody PASSWORD '$secret{other_error}'");
like($err, qr/role "nobody" does not exist/, 'a statement failing for another reason');
($ret, $out, $err) = $node->psql('postgres', "CREATE ROLE carol LOGIN PASSWORD '$secret{prehashed}'");
like($err, qr/arrived already hashed/, 'pre-hashed password refused');
$node->safe_psql('postgres', qq{
	CREATE FUNCTION mkrole() RETURNS void LANGUAGE plpgsql AS \$\$
	BEGIN EXECUTE 'CREATE ROLE dave LOGIN PASSWORD ''$secret{function}'''; END \$\$;
	SELECT mkrole();});
$node->safe_psql('postgres', 'SELECT 1');    # flush

my $log = slurp_file($node->logfile);
for my $k (sort keys %secret)
{
	unlike($log, qr/\Q$secret{$k}\E/, "the server log does not contain the $k password");
}
like($log, qr/role statement with a password, hidden by finsec/,
	'log_statement lines of password statements are redacted');
like($log, qr/statement: SELECT 1/, 'other statements are logged as usual');

$node->stop;
done_testing();
