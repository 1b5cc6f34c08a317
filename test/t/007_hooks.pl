# The hook registry (src/common/hooks.c, finsec_hooks.h): each PostgreSQL
# hook is installed once, chains to the library preloaded before finsec,
# and runs the capabilities' callbacks in the documented order.  Where two
# capabilities refuse the same statement, the error shows which ran first.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

# pg_stat_statements (ProcessUtility, Executor*, post_parse_analyze, shmem)
# and passwordcheck (check_password) install their hooks before finsec's.
my $node = finsec_node('hooks', no_start => 1);
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_stat_statements, passwordcheck, finsec'\n"
	  . "pg_stat_statements.track_utility = on\n"
	  # so that a password naming its role passes finsec and reaches passwordcheck
	  . "finsec.password_check_username = off\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION finsec; CREATE EXTENSION pg_stat_statements;');

# Outcome of a statement run as a role: ok, or SQLSTATE and message.
$node->safe_psql('postgres', q{
CREATE FUNCTION public.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SET client_min_messages = warning;
CREATE ROLE regress_hooks_owner LOGIN IN ROLE finsec_admin;
CREATE SCHEMA hk AUTHORIZATION regress_hooks_owner;
SET SESSION AUTHORIZATION regress_hooks_owner;
CREATE DOMAIN hk.payer_t AS text;
CREATE TABLE hk.pay (id bigserial PRIMARY KEY, payer hk.payer_t NOT NULL,
	amount numeric NOT NULL);
GRANT TRIGGER, SELECT ON hk.pay TO finsec_admin;
RESET SESSION AUTHORIZATION;
SELECT finsec.enable_limits('hk.pay', customer => 'payer', amount => 'amount');
SET SESSION AUTHORIZATION regress_hooks_owner;
SELECT finsec.protect_table('hk.pay');
INSERT INTO hk.pay (payer, amount) VALUES ('c1', 10);
});

sub try_as
{
	my ($role, $stmt) = @_;
	my $set = $role ? "SET SESSION AUTHORIZATION $role;" : '';
	return $node->safe_psql('postgres',
		"SET client_min_messages = warning; $set SELECT public.try(\$q\$$stmt\$q\$)");
}

# ProcessUtility: limits' check (FINSEC_UTILITY_LIMITS, outermost) sees the
# statement before audit's.
for my $stmt ('DROP TABLE hk.pay', 'TRUNCATE hk.pay')
{
	like(try_as('regress_hooks_owner', $stmt),
		qr/^S9\w+: cannot \w+ "pay": its payments are limited$/,
		"'$stmt' by the owner fails with limits' error: limits runs first");
}
# A superuser passes limits' DROP TABLE check, and audit's still runs after it.
like(try_as('', 'DROP TABLE hk.pay'), qr/^S9\w+: cannot drop protected table "pay"$/,
	'DROP TABLE by a superuser fails with audit\'s error: audit runs after limits');

# object_access: audit's callback (FINSEC_OBJECT_ACCESS_AUDIT) before
# limits'.  DROP DOMAIN ... CASCADE drops the registered column payer, which
# both refuse.
like(try_as('regress_hooks_owner', 'ALTER TABLE hk.pay DROP COLUMN amount'),
	qr/^S9\w+: cannot drop column "amount" of "pay": its payments are limited$/,
	'dropping the registered column by name: limits refuses first');
my $cascade = try_as('regress_hooks_owner', 'DROP DOMAIN hk.payer_t CASCADE');
like($cascade, qr/^S9\w+: cannot drop a column of protected table "pay"$/,
	'a column dropped through CASCADE: audit\'s object-access callback runs first');
is($node->safe_psql('postgres', 'SELECT count(*) FROM hk.pay'), '1',
	'the table and its row are still there');

# Auth innermost (FINSEC_UTILITY_AUTH): VALID UNTIL is set after the role
# statement ran; DROP ROLE passes through audit and limits to auth.
$node->safe_psql('postgres',
	"SET client_min_messages = warning; CREATE ROLE regress_hooks_user LOGIN PASSWORD 'Hooks-Order-2026!'");
is($node->safe_psql('postgres',
		"SELECT rolvaliduntil IS NOT NULL FROM pg_roles WHERE rolname = 'regress_hooks_user'"),
	't', 'a new password without VALID UNTIL gets one after the statement (auth wrapper)');

# check_password: finsec's callback first, then the previous hook
# (passwordcheck).  A password finsec refuses fails with finsec's message;
# one finsec accepts still goes through passwordcheck.
like(try_as('', q{CREATE ROLE regress_hooks_weak PASSWORD 'x'}),
	qr/^S9\w+: password rejected by finsec policy/,
	'a weak password is refused by finsec before passwordcheck sees it');
like(try_as('', q{CREATE ROLE regress_hooks_named PASSWORD 'X1-regress_hooks_named'}),
	qr/^22023: password must not contain user name$/,
	'a password finsec accepts is then checked by passwordcheck (the previous hook)');

# The previous hooks keep working: pg_stat_statements saw the utility
# statements and the executor ran through it.
ok($node->safe_psql('postgres',
		"SELECT count(*) > 0 FROM pg_stat_statements WHERE query LIKE 'CREATE ROLE regress_hooks_user%'") eq 't',
	'pg_stat_statements (ProcessUtility before finsec) records a utility statement');
ok($node->safe_psql('postgres',
		"SELECT count(*) > 0 FROM pg_stat_statements WHERE query LIKE 'INSERT INTO hk.pay%' AND rows = 1") eq 't',
	'pg_stat_statements (ExecutorRun/Finish before finsec) records an INSERT into the limited table');
is($node->safe_psql('postgres',
		"SELECT ok FROM finsec.status() WHERE component = 'shared_preload_libraries'"),
	't', 'finsec.status() finds finsec preloaded after the other libraries');

$node->stop;
done_testing();
