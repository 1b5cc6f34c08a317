# The risk decision log under back-pressure (issue 20; docs/risk-log.md,
# "Back-pressure").
#
# With finsec.risk_log_decisions = all every decision is logged, plain
# allows included.  A tiny buffer (16 slots) fills at once: a scoring call
# that finds it full waits (finsec.risk_log_wait_ms) for the worker to make
# room, so that no decision is lost: decisions logged = decisions made,
# drops 0, waits > 0, in a committed and in a rolled-back transaction, with
# concurrent sessions.  When no room comes in time (the log refuses rows,
# so nothing is flushed) and finsec.risk_log_when_full = refuse, the
# scoring call fails instead of making a decision without a record; the
# refusals are counted and reported to the ledger by the next flush.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('risklog_bp', sealer => 'postgres', no_start => 1);
$node->append_conf('postgresql.conf', q{
finsec.risk_decision_buffer = 16
finsec.risk_log_decisions = all
finsec.risk_log_when_full = refuse
finsec.risk_log_wait_ms = '10s'
finsec.risk_log_flush_interval = '20ms'
});
$node->start;

# A payment of 1000 or more is blocked, anything less allowed (plain allow).
$node->safe_psql('postgres', q{
	CREATE EXTENSION finsec;
	INSERT INTO finsec.risk_ruleset (version, challenge_at, review_at, block_at) VALUES (1, 10, 20, 30);
	INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category)
		VALUES (1, 'big', 'threshold', '{"attribute":"amount","op":">=","value":1000}', 40, 'AMOUNT_HIGH', 'card_not_present');
	UPDATE finsec.risk_ruleset SET state = 'active', deployed_by = current_user, deployed_at = now() WHERE version = 1;
});

sub drained
{
	return $node->poll_query_until('postgres',
		'SELECT waiting + flushing = 0 FROM finsec.risk_decision_buffer()');
}

sub made
{
	return $node->safe_psql('postgres',
		"SELECT sum(decisions) FROM finsec.risk_stats() WHERE decision IN ('allow', 'challenge', 'review', 'block')");
}

sub logged
{
	return $node->safe_psql('postgres', 'SELECT count(DISTINCT decision_id) FROM finsec.risk_decision_log');
}

is($node->safe_psql('postgres', 'SELECT decision, decision_id IS NOT NULL FROM finsec.risk_score(customer => $$a1$$, amount => 5)'),
	'allow|t', 'with finsec.risk_log_decisions = all a plain allow has a decision id');
ok(drained(), 'and goes to the log');
is($node->safe_psql('postgres', q{SELECT decision FROM finsec.risk_decision_log WHERE customer = 'a1'}), 'allow',
	'as an allow');

# 400 decisions in one statement: 16 slots fill at once, the call waits.
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM generate_series(1, 400) g,
		   finsec.risk_score(customer => 'b' || g, amount => CASE WHEN g % 2 = 0 THEN 5000 ELSE 5 END) d
	 WHERE d.decision_id IS NOT NULL}), '400', '400 decisions, each with a decision id, through a buffer of 16');
ok(drained(), 'the buffer drains');
is(logged(), made(), 'decisions logged = decisions made');
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE decision = 'allow') || ' ' || count(*) FILTER (WHERE decision = 'block')
	  FROM finsec.risk_decision_log WHERE customer LIKE 'b%'}), '200 200', 'allows and blocks alike');
is($node->safe_psql('postgres', 'SELECT waits > 0, waited_ms > 0, refused, dropped FROM finsec.risk_decision_log_pressure()'),
	't|t|0|0', 'the calls waited for room; nothing refused, nothing dropped');
is($node->safe_psql('postgres', 'SELECT dropped FROM finsec.risk_decision_buffer()'), '0',
	'finsec.risk_decision_buffer() counts no drop either');

# A rolled-back transaction: its 200 decisions are logged all the same.
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT count(*) FROM generate_series(1, 200) g, finsec.risk_score(customer => 'r' || g, amount => 5000) d;
	ROLLBACK;});
ok(drained(), 'the buffer drains after the rollback');
is($node->safe_psql('postgres', q{SELECT count(*) FROM finsec.risk_decision_log WHERE customer LIKE 'r%'}), '200',
	'the 200 decisions of the rolled-back transaction are logged');

# Four sessions at once.
my @s = map { $node->background_psql('postgres') } 1 .. 4;
for my $i (0 .. 3)
{
	$s[$i]->query_until(qr/started/, qq{
		\\echo started
		SELECT count(*) FROM generate_series(1, 250) g, finsec.risk_score(customer => 'p$i-' || g, amount => 10 * g) d;
	});
}
$_->quit for @s;
ok(drained(), 'the buffer drains after four concurrent sessions');
is($node->safe_psql('postgres', q{SELECT count(*) FROM finsec.risk_decision_log WHERE customer LIKE 'p%'}), '1000',
	'their 1000 decisions are logged');
is(logged(), made(), 'decisions logged = decisions made, all together');
is($node->safe_psql('postgres', 'SELECT refused, dropped FROM finsec.risk_decision_log_pressure()'),
	'0|0', 'still nothing refused, nothing dropped');

# No room in time: the log refuses rows, so nothing is flushed.
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET finsec.risk_log_wait_ms = '200ms';
	SELECT pg_reload_conf();});
$node->safe_psql('postgres',
	'ALTER TABLE finsec.risk_decision_log ADD CONSTRAINT regress_refuse_rows CHECK (false) NOT VALID');
my $made_before = made();
my ($ret, $out, $err) = $node->psql('postgres', q{
	SELECT count(*) FROM generate_series(1, 20) g, finsec.risk_score(customer => 'f' || g, amount => 5000) d});
isnt($ret, 0, 'with the buffer full and no flush, the scoring statement fails');
like($err, qr/ERROR:  risk decision not made: the decision buffer is full/, 'refused, not dropped');
is(made() - $made_before, 16, 'sixteen decisions were made, into the sixteen slots');
is($node->safe_psql('postgres', 'SELECT refused, refused_unreported, dropped FROM finsec.risk_decision_log_pressure()'),
	'1|1|0', 'one call refused, counted; nothing dropped');
$node->safe_psql('postgres', 'ALTER TABLE finsec.risk_decision_log DROP CONSTRAINT regress_refuse_rows');
ok(drained(), 'once the log takes rows again, the buffer drains');
is(logged(), made(), 'every decision made is logged');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM finsec.audit WHERE event_type = 'risk.decisions_refused' AND NOT success"),
	'the refusal is reported to the ledger');
is($node->safe_psql('postgres', "SELECT description FROM finsec.audit WHERE event_type = 'risk.decisions_refused'"),
	'1 risk scoring call was refused because the decision buffer stayed full', 'in words');
is($node->safe_psql('postgres', 'SELECT refused_unreported FROM finsec.risk_decision_log_pressure()'), '0',
	'and once only');

$node->stop;
done_testing();
