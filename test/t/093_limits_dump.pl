# pg_dump / pg_restore of a database using transaction limits keeps their
# configuration and account states (registered with
# pg_extension_config_dump); usage, which names tables by OID, is
# recomputed from the payments table after the restore (or rebuilt), and
# limits hold from there.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('limdump');
$node->safe_psql('postgres', 'CREATE DATABASE source');
$node->safe_psql('source', q{
	CREATE EXTENSION finsec;
	CREATE TABLE pay (id bigserial PRIMARY KEY, payer text NOT NULL, amount numeric NOT NULL,
					  channel text NOT NULL DEFAULT 'app', posted_at timestamptz);
	SELECT finsec.enable_limits('pay', customer => 'payer', amount => 'amount', channel => 'channel',
								posted_at => 'posted_at');
	-- a superuser writes policies directly (administrators go through approval)
	INSERT INTO finsec.limit_policy (name, relid, period, max_amount, note) VALUES
		('dump day', 'pay', 'day', 1000, 'per payer per day'),
		('dump single', NULL, 'single', 500, NULL);
	INSERT INTO pay (payer, amount) VALUES ('a', 400), ('a', 400), ('b', 10);
	SELECT finsec.freeze_account('b', 'court order', 'ref-7');
	SELECT finsec.set_channel('atm', false, 'maintenance');
	SELECT finsec.audit_seal();
});

my %q = (
	'limited tables' => 'SELECT relid::text, customer_column, amount_column, channel_column, time_column FROM finsec.limit_table',
	'policies' => 'SELECT name, relid::text, period, max_amount, note, enabled FROM finsec.limit_policy ORDER BY name',
	'account states' => 'SELECT account, state, reason, reference, changed_by FROM finsec.limit_account ORDER BY account',
	'channel switches' => 'SELECT channel, enabled, reason FROM finsec.limit_channel ORDER BY channel',
	'the trigger' => q{SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'pay'::regclass AND NOT tgisinternal});

my $dump = $node->basedir . '/limits.dump';
command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('source') ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE target');
command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('target'), $dump ],
	'pg_restore without any error');

for my $what (sort keys %q)
{
	my $src = $node->safe_psql('source', $q{$what});
	isnt($src, '', "source has $what");
	is($node->safe_psql('target', $q{$what}), $src, "$what restored");
}

# Usage is not in the dump (finsec.limit_usage_flushed names tables by
# OID): on a table with posted_at it is recomputed from the restored
# payments (finsec 1.4), before any rebuild; a rebuild writes the same.
is($node->safe_psql('target', 'SELECT count(*) FROM finsec.limit_usage_flushed'), '0',
	'the usage roll-up is not in the dump');
is($node->safe_psql('target',
		q{SELECT subject || ' ' || day_amount || ' ' || day_count FROM finsec.limit_usage ORDER BY 1}),
	"a 800 2\nb 10 1", 'usage is recomputed from the restored payments');
is($node->safe_psql('target', q{SELECT finsec.rebuild_limit_usage('pay')}), '2', 'usage rebuilt');
is($node->safe_psql('target',
		q{SELECT subject || ' ' || day_amount || ' ' || day_count FROM finsec.limit_usage ORDER BY 1}),
	"a 800 2\nb 10 1", 'rebuilt usage equals the payments');
my ($ret, $out, $err) = $node->psql('target', q{INSERT INTO pay (payer, amount) VALUES ('a', 201)});
like($err, qr/exceeds the daily limit "dump day".*\n.*Remaining allowance today: 200 of 1000/,
	'the restored daily limit holds against the rebuilt usage');
($ret, $out, $err) = $node->psql('target', q{INSERT INTO pay (payer, amount) VALUES ('c', 501)});
like($err, qr/single-payment limit "dump single"/, 'the restored global policy holds');
($ret, $out, $err) = $node->psql('target', q{INSERT INTO pay (payer, amount) VALUES ('b', 1)});
like($err, qr/paying account is frozen/, 'the restored freeze holds');
($ret, $out, $err) = $node->psql('target', q{INSERT INTO pay (payer, amount, channel) VALUES ('c', 1, 'atm')});
like($err, qr/channel "atm" is switched off/, 'the restored channel switch holds');
is($node->safe_psql('target', q{INSERT INTO pay (payer, amount) VALUES ('a', 200) RETURNING amount}),
	'200', 'and what is allowed passes');
# Restoring the policies records them in the ledger as inserted, which is
# what happened in this database; the chain still verifies.
$node->safe_psql('target', 'SELECT finsec.audit_seal()');
is($node->safe_psql('target', 'SELECT count(*) > 0 AND bool_and(ok) AND sum(rows_pending) = 0 FROM finsec.audit_verify()'),
	't', 'the ledger verifies after the restore');

$node->stop;
done_testing();
