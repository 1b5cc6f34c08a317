# Durable refusal records (docs/limits.md, "Refusal records").
#
# The audit sealer of a database records the limit refusals waiting in
# shared memory by itself, every round; the records are table rows and
# survive a restart.  Refusals of a database without a sealer wait, and a
# clean restart keeps them waiting.  A recording that fails leaves them
# waiting while sealing goes on; once the cause is gone they are recorded,
# once.  A full buffer drops refusals, counts them, and the next recording
# reports the count in the audit ledger.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('refusals', sealer => 'postgres', no_start => 1);
$node->append_conf('postgresql.conf', 'finsec.limit_refusal_buffer = 16');
$node->start;

my $setup = q{
	CREATE EXTENSION finsec;
	CREATE TABLE pay (payer text NOT NULL, amount numeric NOT NULL);
	SELECT finsec.enable_limits('pay', customer => 'payer', amount => 'amount');
	INSERT INTO finsec.limit_policy (name, relid, period, max_amount) VALUES ('single 100', 'pay', 'single', 100);
};
$node->safe_psql('postgres', $setup);
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', $setup);

sub refuse
{
	my ($db) = @_;
	my ($ret, $out, $err) = $node->psql($db, "INSERT INTO pay VALUES ('c', 150)");
	return $ret != 0 && $err =~ /payment exceeds the single-payment limit "single 100"/;
}

sub recorded
{
	my ($db) = @_;
	return $node->safe_psql($db, 'SELECT count(*) FROM finsec.limit_refusal');
}

sub waiting
{
	my ($db) = @_;
	return $node->safe_psql($db, 'SELECT waiting_here FROM finsec.limit_refusal_buffer()');
}

# --- the sealer records refusals by itself ----------------------------------
ok(refuse('postgres'), 'a payment over the limit is refused');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pay'), '0', 'the refused payment rolled back');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 1 FROM finsec.limit_refusal'),
	'the sealer recorded the refusal, with no one calling finsec.flush_limit_refusals()');
my $me = $node->safe_psql('postgres', 'SELECT current_user');
is($node->safe_psql('postgres',
		"SELECT rule, relid = 'pay'::regclass, relation, policy, db_user, session_user_name FROM finsec.limit_refusal"),
	"single|t|public.pay|single 100|$me|$me",
	'the record names the rule, the table, the policy and the roles');
is(waiting('postgres'), '0', 'nothing of this database waits in the buffer any more');

# A database without a sealer: its refusal waits, while the sealer of the
# other database goes on recording that one's.
ok(refuse('other'), 'a refusal in a database without a sealer');
ok(refuse('postgres'), 'and another one in the sealed database');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 2 FROM finsec.limit_refusal'),
	'the sealer recorded the second refusal of its database');
is(waiting('other'), '1', "the other database's refusal waits in the buffer");
is(recorded('other'), '0', 'and is not recorded anywhere yet');

# --- a restart keeps the records, and what waits ----------------------------
$node->restart;
is(recorded('postgres'), '2', 'the records survive a restart');
is(waiting('other'), '1', 'a refusal waiting at a clean shutdown waits again after it');
ok($node->log_contains('restored 1 limit refusal not yet recorded at shutdown'),
	'the server log says so');
is($node->safe_psql('other', 'SELECT finsec.flush_limit_refusals()'), '1', 'a flush records it there');
is($node->safe_psql('other', 'SELECT rule, relation, policy FROM finsec.limit_refusal'),
	'single|public.pay|single 100', 'as it was refused');
is($node->safe_psql('other', 'SELECT finsec.flush_limit_refusals()'), '0', 'once');

# --- a failed recording: the refusal waits, sealing goes on -----------------
$node->safe_psql('postgres',
	'ALTER TABLE finsec.limit_refusal ADD CONSTRAINT regress_refuse_rows CHECK (false) NOT VALID');
my $log_offset = -s $node->logfile;
ok(refuse('postgres'), 'a refusal while finsec.limit_refusal refuses rows');
ok($node->wait_for_log(qr/limit refusals not recorded in finsec\.limit_refusal: .*regress_refuse_rows/, $log_offset),
	'the sealer warns that it could not record it');
$node->safe_psql('postgres', "SELECT finsec.audit_event('test.marker', description => 'after the failure')");
ok($node->poll_query_until('postgres',
		"SELECT sealed_rows = (SELECT count(*) FROM finsec.audit) FROM finsec.ledger_chain WHERE relid = 'finsec.audit'::regclass"),
	'sealing went on: the ledger is sealed up to an event written after the failure');
is(waiting('postgres'), '1', 'the refusal still waits in the buffer');
is(recorded('postgres'), '2', 'and nothing was recorded');
$node->safe_psql('postgres', 'ALTER TABLE finsec.limit_refusal DROP CONSTRAINT regress_refuse_rows');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 3 FROM finsec.limit_refusal'),
	'once the table takes rows again, the sealer records it');
is(waiting('postgres'), '0', 'and it left the buffer');

# --- a full buffer counts what it drops, and the ledger says so -------------
$node->safe_psql('other', q{
	DO $$
	BEGIN
		FOR i IN 1..20 LOOP
			BEGIN
				INSERT INTO pay VALUES ('c', 150);
			EXCEPTION WHEN sqlstate 'S9L01' THEN NULL;
			END;
		END LOOP;
	END
	$$;
});
is($node->safe_psql('other', 'SELECT waiting_here, dropped, dropped_unreported FROM finsec.limit_refusal_buffer()'),
	'16|4|4', 'sixteen refusals fill the buffer, four are dropped and counted');
is($node->safe_psql('other', "SELECT ok FROM finsec.status() WHERE component = 'limit_refusals'"),
	'f', 'finsec.status() reports the drops');
is($node->safe_psql('other', 'SELECT finsec.flush_limit_refusals()'), '16', 'a flush records the sixteen');
is($node->safe_psql('other', "SELECT success, description FROM finsec.audit WHERE event_type = 'limits.refusals_dropped'"),
	'f|4 limit refusals of this database were not recorded because the refusal buffer was full',
	'and writes the count of the dropped ones to the audit ledger');
is($node->safe_psql('other', 'SELECT waiting_here, dropped, dropped_unreported FROM finsec.limit_refusal_buffer()'),
	'0|4|0', 'the drops are reported once; the total since start stays');
is($node->safe_psql('postgres', 'SELECT count(*) FROM finsec.limit_refusal'), '3',
	"the sealed database's records are its own");

# --- the sealer deletes records older than finsec.limit_refusal_retention ----
$node->safe_psql('postgres', q{
	INSERT INTO finsec.limit_refusal (refused_at, rule, policy) VALUES
		(now() - interval '3 days', 'day', 'retention old'),
		(now() - interval '1 hour', 'day', 'retention recent');
});
is($node->safe_psql('postgres', "SELECT count(*) FROM finsec.limit_refusal WHERE policy LIKE 'retention%'"),
	'2', 'an old and a recent record, kept under the default retention of 180 days');
$node->safe_psql('postgres', "ALTER SYSTEM SET finsec.limit_refusal_retention = '1d'");
$node->reload;
# A new refusal makes the sealer's next round record and purge at once
# (without one it purges at most once a minute).
ok(refuse('postgres'), 'a new refusal');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM finsec.limit_refusal WHERE policy = 'retention old'"),
	'with a retention of one day, the sealer deletes the old record by itself');
is($node->safe_psql('postgres', "SELECT count(*) FROM finsec.limit_refusal WHERE policy = 'retention recent'"),
	'1', 'and keeps the recent one');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET finsec.limit_refusal_retention');
$node->reload;

$node->stop;
done_testing();
