# The risk decision log (docs/risk.md, "Decision log").
#
# Decisions other than a plain allow, and allows on which a shadow rule
# fired, are logged in finsec.risk_decision_log even when the scoring
# transaction rolls back: the audit sealer of the database moves them from
# shared memory into the log by itself, into the partition of their day.
# A database without a sealer keeps them waiting; a clean restart keeps
# them, a crash loses them.  Each decision becomes one row: a flush claims
# what it copies for its transaction, and what it claimed waits again if
# that transaction (or subtransaction) rolls back.  A full buffer drops
# decisions, counts them and the next flush reports the count in the
# ledger.  Daily partitions are made ahead and dropped after
# finsec.risk_log_retention days (tested with time itself: the cluster
# first runs 200 days in the past under libfaketime), each drop audited;
# pg_dump and pg_restore carry the daily partitions and their rows.
use strict;
use warnings;

use POSIX ();
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

# The past runs without a sealer: under libfaketime, processes the
# postmaster starts later (background workers) do not keep the fake clock,
# so flushes are called explicitly there.
my $node = finsec_node('risklog', no_start => 1);
$node->append_conf('postgresql.conf', qq{
finsec.risk_decision_buffer = 16
max_prepared_transactions = 2
restart_after_crash = on
});

# Daily partitions of the log, and the name of the one of today + N days
# (days in finsec.risk_timezone, Asia/Shanghai by default).
my $parts_sql = q{
	SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	 WHERE i.inhparent = 'finsec.risk_decision_log'::regclass AND c.relname ~ '^risk_decision_log_p[0-9]{8}$'};
my $day_part = q{'risk_decision_log_p' || to_char((now() AT TIME ZONE 'Asia/Shanghai')::date + %s, 'YYYYMMDD')};

# The ruleset: a payment of 1000 or more scores 40 and is blocked (block_at 30).
my $setup = q{
	CREATE EXTENSION finsec;
	INSERT INTO finsec.risk_ruleset (version, challenge_at, review_at, block_at) VALUES (1, 10, 20, 30);
	INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category)
		VALUES (1, 'big', 'threshold', '{"attribute":"amount","op":">=","value":1000}', 40, 'AMOUNT_HIGH', 'card_not_present');
	UPDATE finsec.risk_ruleset SET state = 'active', deployed_by = current_user, deployed_at = now() WHERE version = 1;
};

sub score
{
	my ($db, $customer, $amount) = @_;
	return $node->safe_psql($db,
		"SELECT decision || ' ' || coalesce(decision_id::text, 'unlogged') FROM finsec.risk_score(customer => '$customer', amount => $amount)");
}

sub waiting
{
	my ($db) = @_;
	return $node->safe_psql($db, 'SELECT waiting_here FROM finsec.risk_decision_buffer()');
}

sub logged
{
	my ($db) = @_;
	return $node->safe_psql($db, 'SELECT count(*) FROM finsec.risk_decision_log');
}

# --- 200 days ago ---------------------------------------------------------
start_faketime($node, '-200d');
my $real_today = POSIX::strftime('%Y-%m-%d', gmtime);
is($node->safe_psql('postgres', "SELECT current_date < '$real_today'::date - 150"), 't',
	'the server believes it is 200 days ago');
$node->safe_psql('postgres', $setup);
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', $setup);

is($node->safe_psql('postgres', 'SELECT finsec.flush_risk_decisions()'), '0', 'a flush with nothing waiting logs nothing');
is($node->safe_psql('postgres', $parts_sql), '5', 'but makes the daily partitions first');
is($node->safe_psql('postgres', "SELECT bool_and(to_regclass('finsec.' || " . sprintf($day_part, 'd')
		  . ") IS NOT NULL) FROM generate_series(-1, 3) d"),
	't', "yesterday's, today's and the next three days' (in finsec.risk_timezone)");

# A blocked payment rolls back; its decision is logged all the same.
my $blocked = $node->safe_psql('postgres', q{
	BEGIN;
	SELECT decision || ' ' || coalesce(decision_id::text, 'unlogged') FROM finsec.risk_score(customer => 'c1', amount => 5000);
	ROLLBACK;
});
like($blocked, qr/^block \d+$/, 'a payment of 5000 is blocked, with a decision id');
my ($block_id) = $blocked =~ /(\d+)$/;
is(score('postgres', 'c1', 5), 'allow unlogged', 'a payment of 5 is allowed, and not logged');
is(waiting('postgres'), '1', 'the blocked decision waits in the buffer, though its transaction rolled back');
is($node->safe_psql('postgres', 'SELECT finsec.flush_risk_decisions()'), '1', 'a flush logs it');
my $me = $node->safe_psql('postgres', 'SELECT current_user');
is($node->safe_psql('postgres', qq{
	SELECT decision, score, rules = ARRAY[(SELECT rule_id FROM finsec.risk_rule WHERE name = 'big')],
		   shadow_rules, rules_truncated, degraded, ruleset_version, customer, account IS NULL AND card_key IS NULL,
		   db_user, session_user_name, tableoid::regclass::text = 'finsec.' || } . sprintf($day_part, 0) . qq{
	  FROM finsec.risk_decision_log WHERE decision_id = $block_id}),
	"block|40|t|{}|f|f|1|c1|t|$me|$me|t",
	"the row: decision, score, the rule that fired, entities (empty ones NULL), roles, in today's partition");
is(logged('postgres'), '1', 'the allow was not logged');

# An allow on which a shadow rule fired is logged too.
$node->safe_psql('postgres', q{
	INSERT INTO finsec.risk_ruleset (version, challenge_at, review_at, block_at) VALUES (2, 10, 20, 30);
	INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category, mode) VALUES
		(2, 'big', 'threshold', '{"attribute":"amount","op":">=","value":1000}', 40, 'AMOUNT_HIGH', 'card_not_present', 'enforce'),
		(2, 'watch', 'threshold', '{"attribute":"amount","op":">=","value":100}', 15, 'AMOUNT_WATCH', 'card_not_present', 'shadow');
	UPDATE finsec.risk_ruleset SET state = 'retired', retired_at = now() WHERE version = 1;
	UPDATE finsec.risk_ruleset SET state = 'active', deployed_by = current_user, deployed_at = now() WHERE version = 2;
});
like(score('postgres', 'c2', 500), qr/^allow \d+$/, 'a payment of 500 is allowed, but a shadow rule fired: logged');
like(score('postgres', 'c3', 5000), qr/^block \d+$/, 'a payment of 5000 is blocked, with the shadow rule firing too');
is(score('postgres', 'c4', 5), 'allow unlogged', 'a payment of 5: nothing fired, nothing logged');
is($node->safe_psql('postgres', 'SELECT finsec.flush_risk_decisions()'), '2', 'a flush logs the two');
is($node->safe_psql('postgres', q{
	SELECT string_agg(l.customer || ' ' || l.decision || ' ' || (SELECT coalesce(string_agg(name, ','), '-') FROM finsec.risk_rule WHERE rule_id = ANY (l.rules))
					  || ' ' || (SELECT coalesce(string_agg(name, ','), '-') FROM finsec.risk_rule WHERE rule_id = ANY (l.shadow_rules)), '; ' ORDER BY decision_id)
	  FROM finsec.risk_decision_log l WHERE ruleset_version = 2}),
	'c2 allow - watch; c3 block big watch',
	'each logged once, enforced and shadow rules apart');
my $past_rows = logged('postgres');

# --- the present ----------------------------------------------------------
# With the sealer, and a retention of 0 first: its first round makes the
# present's partitions and keeps the old ones.
$node->stop;
$node->append_conf('postgresql.conf', qq{
finsec.audit_seal_databases = 'postgres'
finsec.audit_seal_interval = '200ms'
finsec.risk_log_retention = 0
});
$node->start;
ok($node->poll_query_until('postgres', "SELECT to_regclass('finsec.' || " . sprintf($day_part, 3) . ') IS NOT NULL'),
	'back in the present, the sealer makes the partitions of the coming days by itself');
is($node->safe_psql('postgres', "SELECT bool_and(to_regclass('finsec.' || " . sprintf($day_part, 'd')
		  . ") IS NOT NULL) FROM generate_series(-1, 3) d"),
	't', "yesterday's, today's and the next three days'");
is($node->safe_psql('postgres', $parts_sql), '10', 'with finsec.risk_log_retention = 0, the old ones stay');
is(logged('postgres'), $past_rows, 'and so do their decisions');

# The sealer logs a rolled-back decision by itself.
$blocked = $node->safe_psql('postgres', q{
	BEGIN;
	SELECT decision || ' ' || coalesce(decision_id::text, 'unlogged') FROM finsec.risk_score(customer => 'c1', amount => 5000);
	ROLLBACK;
});
like($blocked, qr/^block \d+$/, 'a blocked payment, rolled back');
($block_id) = $blocked =~ /(\d+)$/;
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM finsec.risk_decision_log WHERE decision_id = $block_id"),
	'the sealer logged its decision, with no one calling finsec.flush_risk_decisions()');
is($node->safe_psql('postgres', "SELECT tableoid::regclass::text = 'finsec.' || " . sprintf($day_part, 0)
		  . " FROM finsec.risk_decision_log WHERE decision_id = $block_id"),
	't', "in today's partition");
is(waiting('postgres'), '0', 'nothing of this database waits any more');

# Retention of 180 days: the old partitions go, each drop audited.
$node->safe_psql('postgres', "ALTER SYSTEM SET finsec.risk_log_retention = '180d'");
$node->reload;
$node->poll_query_until('postgres', "SELECT current_setting('finsec.risk_log_retention') = '180d'");
# A row of a day without a partition lands in the default partition.
$node->safe_psql('postgres', q{
	INSERT INTO finsec.risk_decision_log (decision_id, decided_at, decision, score, degraded, rules, shadow_rules, rules_truncated, customer)
	VALUES (-1, now() - interval '250 days', 'review', 20, false, '{}', '{}', false, 'old')});
is($node->safe_psql('postgres', q{SELECT tableoid::regclass FROM finsec.risk_decision_log WHERE customer = 'old'}),
	'finsec.risk_decision_log_default', 'a row of a day without a partition is kept in the default partition');
is($node->safe_psql('postgres', 'SELECT finsec.risk_log_maintain()'), '5',
	'finsec.risk_log_maintain() drops the five partitions older than 180 days');
is($node->safe_psql('postgres', $parts_sql), '5', 'the five partitions of the present stay');
is(logged('postgres'), '1', 'the old decisions are gone, the old row of the default partition too');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE action = 'drop' AND object LIKE 'finsec.risk_decision_log_p%'),
		   count(*) FILTER (WHERE action = 'delete' AND description LIKE '1 risk decision(s) before % deleted%')
	  FROM finsec.audit WHERE event_type = 'risk.log_retention'}),
	'5|1', 'each drop, and the deletion from the default partition, is an audit event');
is($node->safe_psql('postgres', 'SELECT finsec.risk_log_maintain()'), '0', 'maintenance is idempotent');

# finsec.risk_log_retention counted days before 0.9 and takes units since: an
# old unitless value in postgresql.conf is refused at reload, loudly, and
# the retention stays what it was (not 30 minutes).
$node->safe_psql('postgres', 'ALTER SYSTEM RESET finsec.risk_log_retention');
my $conf_offset = -s $node->logfile;
$node->append_conf('postgresql.conf', "finsec.risk_log_retention = 30\n");
$node->reload;
ok($node->wait_for_log(qr/invalid value for parameter "finsec\.risk_log_retention": 30/, $conf_offset),
	'an old-style finsec.risk_log_retention = 30 (days) is refused at reload');
is($node->safe_psql('postgres', "SELECT current_setting('finsec.risk_log_retention')"), '180d',
	'and the retention stays 180 days');
$node->append_conf('postgresql.conf', "finsec.risk_log_retention = '180d'\n");
$node->reload;

# Two maintainers at once: the second does nothing and does not wait.
my $ahead = sprintf($day_part, 3);
$node->safe_psql('postgres', "SELECT format('DROP TABLE finsec.%I', $ahead) \\gexec");
my $maint = $node->background_psql('postgres');
like($maint->query_safe('BEGIN; SELECT finsec.risk_log_maintain();'), qr/^\s*1\s*$/,
	'a maintainer makes a missing partition');
is($node->safe_psql('postgres', 'SELECT finsec.risk_log_maintain()'), '0',
	'a second maintainer returns at once, doing nothing, while the first is in its transaction');
$maint->query_safe('COMMIT;');
$maint->quit;
is($node->safe_psql('postgres', "SELECT to_regclass('finsec.' || $ahead) IS NOT NULL"), 't',
	'the partition is there once the first commits');

# --- a database without a sealer; claims ------------------------------------
like(score('other', 'c1', 5000), qr/^block \d+$/, 'a blocked payment in a database without a sealer');
like(score('other', 'c2', 5000), qr/^block \d+$/, 'and another');
is(waiting('other'), '2', 'their decisions wait in the buffer');
like($node->safe_psql('other', "SELECT detail FROM finsec.status() WHERE component = 'risk_decisions'"),
	qr/^2 risk decision\(s\) of this database waiting to be logged.*no sealer for this database/,
	'finsec.status() says they wait for a flush');

my $f1 = $node->background_psql('other');
like($f1->query_safe('BEGIN; SELECT finsec.flush_risk_decisions();'), qr/^\s*2\s*$/,
	'a flush in an open transaction copies both');
is($node->safe_psql('other', 'SELECT finsec.flush_risk_decisions()'), '0', 'a concurrent flush finds nothing to copy');
is($node->safe_psql('other', 'SELECT waiting_here, flushing FROM finsec.risk_decision_buffer()'), '0|2',
	'the two are being flushed');
$f1->query_safe('ROLLBACK;');
is(waiting('other'), '2', 'the first flush rolled back: both wait again');
is($node->safe_psql('other', q{
	BEGIN;
	SAVEPOINT s;
	SELECT finsec.flush_risk_decisions();
	ROLLBACK TO s;
	SELECT finsec.flush_risk_decisions();
	COMMIT;}), "2\n2", 'a flush in a rolled-back savepoint gives them back to the next one');
is(logged('other'), '2', 'each decision logged once');
is($node->safe_psql('other', 'SELECT finsec.flush_risk_decisions()'), '0', 'and nothing is left');

like(score('other', 'c3', 5000), qr/^block \d+$/, 'one more decision');
my ($ret, $out, $err) = $node->psql('other', q{
	BEGIN;
	SELECT finsec.flush_risk_decisions();
	PREPARE TRANSACTION 'flush';});
like($err, qr/cannot prepare a transaction that has flushed risk decisions/,
	'a flushing transaction cannot be prepared');
is(waiting('other'), '1', 'and its decision waits again');
is($node->safe_psql('other', 'SELECT finsec.flush_risk_decisions()'), '1', 'for a flush of its own');

# --- restarts -----------------------------------------------------------------
like(score('other', 'c5', 5000), qr/^block \d+$/, 'a decision waits at a clean shutdown');
$node->restart;
is(waiting('other'), '1', 'it waits again after the restart');
ok($node->log_contains('restored 1 risk decision not yet logged at shutdown'), 'the server log says so');
is($node->safe_psql('other', 'SELECT finsec.flush_risk_decisions()'), '1', 'a flush logs it');
is($node->safe_psql('other', q{SELECT customer || ' ' || decision FROM finsec.risk_decision_log WHERE customer = 'c5'}),
	'c5 block', 'as it was decided');

like(score('other', 'c6', 5000), qr/^block \d+$/, 'a decision waits at an immediate shutdown');
$node->stop('immediate');
$node->start;
is(waiting('other'), '1', 'the postmaster saved it, as at a clean shutdown');
is($node->safe_psql('other', 'SELECT finsec.flush_risk_decisions()'), '1', 'and a flush logs it');

like(score('other', 'c7', 5000), qr/^block \d+$/, 'a decision waits at a crash');
my $victim = $node->background_psql('other');
my $pid = $victim->query_safe('SELECT pg_backend_pid()');
$pid =~ s/\s+//g;
kill 'KILL', $pid;
eval { $victim->quit; };
$node->poll_query_until('other', 'SELECT true') or die 'no crash restart';
ok($node->log_contains('terminating any other active server processes'), 'the server went through a crash restart');
is(waiting('other'), '0', 'a crash loses the decisions not yet logged');

# --- a failed flush of the sealer: the decision waits, sealing goes on ------
$node->safe_psql('postgres',
	'ALTER TABLE finsec.risk_decision_log ADD CONSTRAINT regress_refuse_rows CHECK (false) NOT VALID');
my $log_offset = -s $node->logfile;
like(score('postgres', 'c8', 5000), qr/^block \d+$/, 'a decision while the log refuses rows');
ok($node->wait_for_log(qr/risk decisions not logged in finsec\.risk_decision_log: .*regress_refuse_rows/, $log_offset),
	'the sealer warns that it could not log it');
$node->safe_psql('postgres', "SELECT finsec.audit_event('test.marker', description => 'after the failure')");
ok($node->poll_query_until('postgres',
		"SELECT sealed_rows = (SELECT count(*) FROM finsec.audit) FROM finsec.ledger_chain WHERE relid = 'finsec.audit'::regclass"),
	'sealing went on');
is(waiting('postgres'), '1', 'the decision still waits');
$node->safe_psql('postgres', 'ALTER TABLE finsec.risk_decision_log DROP CONSTRAINT regress_refuse_rows');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM finsec.risk_decision_log WHERE customer = 'c8'}),
	'once the log takes rows again, the sealer logs it, once');

# --- a full buffer ----------------------------------------------------------
($ret, $out, $err) = $node->psql('other', q{
	SELECT count(*) FROM generate_series(1, 20) g, finsec.risk_score(customer => 'f' || g, amount => 5000) d
	 WHERE d.decision = 'block'});
is($out, '20', 'twenty payments blocked');
like($err, qr/WARNING:  finsec: risk decision \d+ not logged: the decision buffer is full/, 'the session is warned');
is(scalar(() = $err =~ /WARNING/g), 1, 'once, not at every dropped decision');
is($node->safe_psql('other', 'SELECT waiting_here, dropped, dropped_unreported FROM finsec.risk_decision_buffer()'),
	'16|4|4', 'sixteen decisions fill the buffer, four are dropped and counted');
is($node->safe_psql('other', "SELECT ok FROM finsec.status() WHERE component = 'risk_decisions'"),
	'f', 'finsec.status() reports the drops');
is($node->safe_psql('other', 'SELECT finsec.flush_risk_decisions()'), '16', 'a flush logs the sixteen');
is($node->safe_psql('other', "SELECT success, description FROM finsec.audit WHERE event_type = 'risk.decisions_dropped'"),
	'f|4 risk decisions of this database were not logged because the decision buffer was full',
	'and writes the count of the dropped ones to the audit ledger');
is($node->safe_psql('other', 'SELECT waiting_here, dropped, dropped_unreported FROM finsec.risk_decision_buffer()'),
	'0|4|0', 'the drops are reported once; the total since start stays');

# --- limit refusals still work beside the decision log ----------------------
$node->safe_psql('postgres', q{
	CREATE TABLE pay (payer text NOT NULL, amount numeric NOT NULL);
	SELECT finsec.enable_limits('pay', customer => 'payer', amount => 'amount');
	INSERT INTO finsec.limit_policy (name, relid, period, max_amount) VALUES ('single 100', 'pay', 'single', 100);
});
($ret, $out, $err) = $node->psql('postgres', "INSERT INTO pay VALUES ('c', 150)");
like($err, qr/single-payment limit/, 'a payment over a limit is refused');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM finsec.limit_refusal WHERE policy = 'single 100'}),
	'and the sealer records the refusal, in its own buffer');

# --- pg_dump and pg_restore carry the daily partitions ----------------------
$node->safe_psql('postgres', 'CREATE DATABASE plain');
$node->safe_psql('plain', q{
	CREATE EXTENSION finsec;
	SELECT finsec.risk_log_maintain();
	SELECT setval('finsec.risk_decision_id_seq', 10);
	INSERT INTO finsec.risk_decision_log (decision_id, decided_at, decision, score, degraded, rules, shadow_rules, rules_truncated, customer)
	VALUES (1, now(), 'block', 40, false, '{7}', '{}', false, 'c1'),
		   (2, now() - interval '20 days', 'review', 20, false, '{}', '{8}', false, 'c2');
});
my $dump = $node->basedir . '/plain.dump';
command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('plain') ], 'pg_dump of a database with daily partitions');
$node->safe_psql('postgres', 'CREATE DATABASE copy');
command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('copy'), $dump ],
	'pg_restore into a new database, without any error');
my $rows = q{SELECT string_agg(decision_id || ' ' || customer || ' ' || tableoid::regclass::text, '; ' ORDER BY decision_id)
			   FROM finsec.risk_decision_log};
is($node->safe_psql('copy', $rows), $node->safe_psql('plain', $rows), 'the decisions are restored, each in its partition');
is($node->safe_psql('copy', q{
	SELECT count(*) FROM pg_index x JOIN pg_inherits i ON i.inhrelid = x.indrelid
	 WHERE i.inhparent = 'finsec.risk_decision_log'::regclass AND x.indisprimary}),
	'6', 'every partition has its key again');
is($node->safe_psql('copy', "SELECT last_value FROM finsec.risk_decision_id_seq"), '10',
	'decision ids go on where they were');

$node->stop;
done_testing();
