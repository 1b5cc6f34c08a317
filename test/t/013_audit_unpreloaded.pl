# Protection that does not depend on the preload.  A server restarted
# without finsec in shared_preload_libraries has no utility hook; the row
# triggers and the event triggers still refuse a table owner (not a
# superuser) who tries to change, disable, rename or drop the protection.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

# No master key: its setting would be reported when the library loads
# without the preload, and this test wants clean output.
my $node = finsec_node('unpreloaded', master_key => undef);
$node->safe_psql('postgres', q{
	CREATE EXTENSION finsec;
	CREATE ROLE owner LOGIN;
	GRANT CREATE ON SCHEMA public TO owner;
});
$node->safe_psql('postgres', 'CREATE TABLE pay (id int PRIMARY KEY, amount numeric); CREATE TABLE scratch (i int)',
	extra_params => [ '-U', 'owner' ]);
$node->safe_psql('postgres', q{
	INSERT INTO pay VALUES (1, 10), (2, 20);
	SELECT finsec.protect_table('pay');
	SELECT finsec.audit_seal();
});

# Restart without the preload.
$node->adjust_conf('postgresql.conf', 'shared_preload_libraries', "''");
$node->restart;
is($node->safe_psql('postgres', 'SELECT finsec.preloaded()'), 'f', 'finsec is no longer preloaded');

sub as_owner
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql, extra_params => [ '-U', 'owner' ]);
	return $err;
}

like(as_owner('UPDATE pay SET amount = 0'), qr/rows of protected table "pay" cannot be updated/,
	'row triggers still refuse updates');
like(as_owner('ALTER TABLE pay DISABLE TRIGGER finsec_ledger_immutable'),
	qr/cannot ALTER TABLE on protected table while finsec is not preloaded/,
	'the owner cannot disable finsec\'s trigger');
like(as_owner('ALTER TABLE pay DISABLE TRIGGER ALL'),
	qr/cannot ALTER TABLE on protected table while finsec is not preloaded/,
	'nor all triggers');
like(as_owner('ALTER TRIGGER finsec_ledger_stamp ON pay RENAME TO x'),
	qr/cannot ALTER TRIGGER on protected table while finsec is not preloaded/,
	'nor rename one');
like(as_owner('DROP TRIGGER finsec_ledger_immutable ON pay'),
	qr/cannot drop the protection of public.pay/, 'nor drop one');
like(as_owner('DROP TABLE pay'), qr/cannot drop the protection of public.pay/,
	'nor drop the table');
like(as_owner('ALTER TABLE pay ADD COLUMN memo text'),
	qr/cannot ALTER TABLE on protected table while finsec is not preloaded/,
	'without the hook to tell safe changes apart, every ALTER TABLE is refused');
is(as_owner('ALTER TABLE scratch ADD COLUMN j int; DROP TABLE scratch'), '',
	'other tables are unaffected');

# Back with the preload, everything is intact and verifies.
$node->adjust_conf('postgresql.conf', 'shared_preload_libraries', "'finsec'");
$node->restart;
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_trigger WHERE tgrelid = 'pay'::regclass AND tgenabled = 'A'"),
	'3', 'finsec\'s three triggers are still there, enabled ALWAYS');
is($node->safe_psql('postgres', "SELECT ok || ' ' || rows_checked FROM finsec.audit_verify('pay')"),
	'true 2', 'and the chain verifies');

$node->stop;
done_testing();
