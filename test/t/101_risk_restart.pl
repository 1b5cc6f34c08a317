# Risk scoring across restarts and crashes.  Velocity, first-seen and
# travel read the payments table itself, so there is no counter state to
# lose or rebuild: right after an immediate shutdown, and after a backend
# is killed (crash restart), the very first decision counts exactly the
# committed payments, excludes the transaction that was in flight and the
# prepared one until it commits, and is not degraded.  What does degrade
# a decision is missing state: an index a history rule needs being
# absent or not yet valid; the decision says so (degraded, "unavailable")
# until the index is back, and is exact again at once.  Compiled rules
# are per backend: a ruleset deployed in one session is used by the next
# call of every other session.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('riskrestart', no_start => 1);
$node->append_conf('postgresql.conf', "restart_after_crash = on\nmax_prepared_transactions = 5");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION finsec;
	CREATE TABLE payments (id bigserial PRIMARY KEY, customer_id text NOT NULL, amount numeric NOT NULL,
	                       device text, posted_at timestamptz NOT NULL DEFAULT now());
	CREATE INDEX payments_cust_at ON payments (customer_id, posted_at);
	CREATE INDEX payments_cust_dev ON payments (customer_id, device);
	SELECT finsec.enable_risk('payments', device => 'device');
	INSERT INTO finsec.risk_ruleset (version, challenge_at, review_at, block_at) VALUES (1, 10, 20, 30);
	INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category) VALUES
		(1, 'per_hour', 'velocity', '{"entity": "customer", "window": "1 hour", "max": 0}', 1, 'VELOCITY', 'account_takeover'),
		(1, 'sum_hour', 'velocity', '{"entity": "customer", "window": "1 hour", "measure": "sum", "max": 0}', 1, 'SUM', 'money_laundering'),
		(1, 'new_device', 'first_seen', '{"of": "device"}', 1, 'NEW_DEVICE', 'account_takeover');
	UPDATE finsec.risk_ruleset SET state = 'active', deployed_by = current_user, deployed_at = now() WHERE version = 1;
	INSERT INTO payments (customer_id, amount, device) VALUES ('c1', 100, 'd1'), ('c1', 200, 'd1');
});

# count, sum (both including the payment scored: 1 of 5), first-seen, degraded
my $score = q{
	SELECT string_agg(r->>'rule' || '=' || coalesce(r->>'observed', r->>'unavailable'), ' ' ORDER BY r->>'rule')
	       || ' degraded=' || d.degraded
	  FROM finsec.risk_score(customer => 'c1', amount => 5, device => 'd2') d,
	       jsonb_array_elements(d.reasons) r
	 GROUP BY d.degraded};

is($node->safe_psql('postgres', $score), 'new_device=first seen per_hour=3 sum_hour=305 degraded=false',
	'before the crash: two committed payments');

# A payment in flight and a prepared one, then an immediate shutdown.
my $inflight = $node->background_psql('postgres');
$inflight->query_safe(q{BEGIN; INSERT INTO payments (customer_id, amount, device) VALUES ('c1', 1000, 'd2')});
$node->safe_psql('postgres', q{
	BEGIN; INSERT INTO payments (customer_id, amount, device) VALUES ('c1', 40, 'd2'); PREPARE TRANSACTION 'p1';
});
is($node->safe_psql('postgres', $score), 'new_device=first seen per_hour=3 sum_hour=305 degraded=false',
	'uncommitted and prepared payments are not counted');
$node->stop('immediate');
eval { $inflight->quit; };
$node->start;

is($node->safe_psql('postgres', $score), 'new_device=first seen per_hour=3 sum_hour=305 degraded=false',
	'first decision after the immediate shutdown: exact and not degraded, no warm-up');
is($node->safe_psql('postgres', q{SELECT sum(decisions) FROM finsec.risk_stats() WHERE decision IN ('allow', 'challenge', 'review', 'block')}),
	'1', 'decision counters restart with the server');
$node->safe_psql('postgres', q{COMMIT PREPARED 'p1'});
is($node->safe_psql('postgres', $score), 'per_hour=4 sum_hour=345 degraded=false',
	'the prepared payment counts once committed, and its device is no longer new');

# Crash restart: a backend killed with SIGKILL while a payment is in flight.
my $victim = $node->background_psql('postgres');
$victim->query_safe(q{BEGIN; INSERT INTO payments (customer_id, amount, device) VALUES ('c1', 7000, 'd3')});
my $pid = $victim->query_safe('SELECT pg_backend_pid()');
$pid =~ s/\s+//g;
kill 'KILL', $pid;
eval { $victim->quit; };
$node->poll_query_until('postgres', 'SELECT true') or die 'no crash restart';
ok($node->log_contains('terminating any other active server processes'), 'the server went through a crash restart');
is($node->safe_psql('postgres', $score), 'per_hour=4 sum_hour=345 degraded=false',
	'first decision after the crash restart: exact, the killed transaction not counted');

# Missing state degrades the decision until it is back.
$node->safe_psql('postgres', 'DROP INDEX payments_cust_at');
is($node->safe_psql('postgres', $score),
	'per_hour=no index on the entity and time columns sum_hour=no index on the entity and time columns degraded=true',
	'without the (customer, time) index velocity is unavailable and the decision degraded');
$node->safe_psql('postgres', 'CREATE INDEX CONCURRENTLY payments_cust_at ON payments (customer_id, posted_at)');
is($node->safe_psql('postgres', $score), 'per_hour=4 sum_hour=345 degraded=false',
	'once the index is built, decisions are exact and not degraded again');

# Compiled rules follow a deployment made in another session.
my $other = $node->background_psql('postgres');
like($other->query_safe(q{SELECT ruleset_version FROM finsec.risk_score(customer => 'c9', amount => 1)}),
	qr/^\s*1\s*$/, 'another session scores with version 1');
$node->safe_psql('postgres', q{
	INSERT INTO finsec.risk_ruleset (version) VALUES (2);
	INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category) VALUES
		(2, 'any', 'threshold', '{"attribute": "amount", "op": ">", "value": 0}', 1, 'ANY', 'card_not_present');
	UPDATE finsec.risk_ruleset SET state = 'retired', retired_at = now() WHERE version = 1;
	UPDATE finsec.risk_ruleset SET state = 'active', deployed_by = current_user, deployed_at = now() WHERE version = 2;
});
like($other->query_safe(q{SELECT ruleset_version || ' ' || (reasons->0->>'rule') FROM finsec.risk_score(customer => 'c9', amount => 1)}),
	qr/^\s*2 any\s*$/, 'its next call uses version 2');
$other->quit;

$node->stop;
done_testing();
