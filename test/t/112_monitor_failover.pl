# The monitor on a primary and its streaming standby (docs/monitor.md):
# both run the finsec worker on the database, but the standby's worker does
# not run monitor.round (no batch is written there: its position, events
# and alerts are the primary's, replicated).  Payments processed on the
# primary; then more payments committed that the primary has not processed
# yet (its worker is told to wait an hour), the primary fails, the standby
# is promoted: its worker starts the monitor by itself, takes over from the
# replicated position and processes exactly the remaining payments, once,
# extending the alerts of the day raised on the primary rather than
# repeating them, and raising the new ones.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;
use FinsecMonitorTest;

my $primary = finsec_node('monprimary', sealer => 'postgres', init => { allows_streaming => 1 }, no_start => 1);
monitor_conf($primary, interval => '100ms', batch_rows => 200);
$primary->start;
monitor_setup($primary, 'postgres');
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('monstandby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

sub task
{
	my ($node, $cols) = @_;
	return $node->safe_psql('postgres',
		"SELECT $cols FROM finsec.status_worker_tasks WHERE database = 'postgres' AND task = 'monitor.round'");
}

# --- 1. the primary monitors, the standby does not --------------------------------
my ($h, $out, $err) = start_stream($primary, 'postgres', '-c', 2, '-j', 2, '-t', 400);
$h->finish;
is($h->result(0), 0, 'a stream of payments committed on the primary') or diag $$err;
$primary->safe_psql('postgres', q{INSERT INTO payments (customer, amount) VALUES ('big1', 1500), ('big2', 1000)});
ok(monitor_caught_up($primary, 'postgres'), "the primary's worker processes them");
is(monitor_mismatch($primary, 'postgres'), '', 'exactly once');
is(alert_mismatch($primary, 'postgres'), '', 'alerts for exactly the planted customers');
ok(task($primary, 'runs') > 0, 'monitor.round runs on the primary');

$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
like(task($standby, 'worker_pid'), qr/^\d+$/, 'the standby runs the finsec worker on the database');
my $standby_pid = task($standby, 'worker_pid');
sleep 1;
is(task($standby, 'on_standby, runs, running'), 'f|0|f', 'but not monitor.round: it has not run there');
my ($rc, $o, $e) = $standby->psql('postgres', 'SELECT * FROM finsec.monitor_now()');
like($e, qr/read-only transaction|during recovery/, 'finsec.monitor_now() on the standby is refused: it cannot write a batch');
my $q_state = q{SELECT (SELECT count(*) FROM finsec.monitor_batch) || '/' || (SELECT count(*) FROM finsec.monitor_event)
                    || '/' || (SELECT count(*) FROM finsec.alert) || '/' || (SELECT max(batch_id) FROM finsec.monitor_batch)};
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', $q_state), $primary->safe_psql('postgres', $q_state),
	"the standby's batches, events and alerts are the primary's");

# --- 2. payments the primary does not process --------------------------------------
$primary->safe_psql('postgres', "ALTER SYSTEM SET finsec.monitor_interval = '1h'");
$primary->reload;
ok($primary->poll_query_until('postgres',
		"SELECT interval_ms = 3600000 FROM finsec.status_worker_tasks WHERE database = 'postgres' AND task = 'monitor.round'"),
	"the primary's monitor waits an hour between rounds");
sleep 1;
my $batches = $primary->safe_psql('postgres', 'SELECT count(*) FROM finsec.monitor_batch');
my $last_batch = $primary->safe_psql('postgres', 'SELECT max(batch_id) FROM finsec.monitor_batch');
my ($big1_alert, $big1_hits) = split /\|/, $primary->safe_psql('postgres',
	"SELECT alert_id, hits FROM finsec.alert WHERE rule_name = 'test_big' AND entity = 'big1'");
($h, $out, $err) = start_stream($primary, 'postgres', '-c', 2, '-j', 2, '-t', 300);
$h->finish;
is($h->result(0), 0, 'more payments committed on the primary') or diag $$err;
$primary->safe_psql('postgres', q{INSERT INTO payments (customer, amount) VALUES ('big1', 3000), ('fresh', 1000)});
my $pending = $primary->safe_psql('postgres',
	'SELECT count(*) FROM payments p WHERE NOT EXISTS (SELECT FROM finsec.monitor_event e WHERE e.reference = p.id::text)');
ok($pending > 300, "$pending payments not processed");
is($primary->safe_psql('postgres', 'SELECT count(*) FROM finsec.monitor_batch'), $batches,
	'(the primary wrote no batch since)');
my $alerts_before = $primary->safe_psql('postgres', "SELECT count(*) FROM finsec.alert WHERE rule_name = 'test_big'");

# --- 3. failover --------------------------------------------------------------------
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
$primary->stop('immediate');
$standby->promote;
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 'f', 'the standby is promoted');
ok(monitor_caught_up($standby, 'postgres'), "the promoted server's monitor starts by itself and catches up");
ok(task($standby, 'runs') > 0, 'monitor.round runs there now');
is(task($standby, 'worker_pid'), $standby_pid, 'in the same worker, with no restart');
is(monitor_mismatch($standby, 'postgres'), '',
	'every payment processed exactly once across the failover: the remaining ones, and none again');
is($standby->safe_psql('postgres',
		"SELECT count(*) || ' ' || coalesce(sum(payments), 0) || ' ' || bool_and(by_worker) FROM finsec.monitor_batch WHERE batch_id > $last_batch"),
	$standby->safe_psql('postgres', "SELECT count(*) FROM finsec.monitor_batch WHERE batch_id > $last_batch") . " $pending true",
	"the promoted server's worker processed in new batches exactly the $pending payments the primary left");
is(alert_mismatch($standby, 'postgres'), '',
	'alerts: exactly one per planted customer and day, covering exactly their large payments');
is($standby->safe_psql('postgres',
		"SELECT alert_id || ' ' || (hits > $big1_hits) FROM finsec.alert WHERE rule_name = 'test_big' AND entity = 'big1'"),
	"$big1_alert true", "big1's alert of the day raised on the primary is extended, not repeated");
is($standby->safe_psql('postgres',
		"SELECT count(*) FROM finsec.alert WHERE rule_name = 'test_big' AND entity = 'fresh'"), '1',
	'a customer first over the threshold in the remaining payments gets its alert');
ok($standby->safe_psql('postgres', "SELECT count(*) FROM finsec.alert WHERE rule_name = 'test_big'") >= $alerts_before + 1,
	'no alert of the primary was lost');

# The promoted server monitors new payments.
$standby->safe_psql('postgres', q{INSERT INTO payments (customer, amount) VALUES ('after', 2000)});
ok(monitor_caught_up($standby, 'postgres',
		q{ AND EXISTS (SELECT FROM finsec.alert WHERE rule_name = 'test_big' AND entity = 'after')}),
	'and it monitors new payments, raising their alerts');
is(monitor_mismatch($standby, 'postgres'), '', 'exactly once');
unlike(slurp_file($standby->logfile), qr/worker task "monitor\.round" failed|transaction monitoring round failed|monitoring position .* was reset/,
	'the worker of the standby never failed, and the promoted server continued from the position (no reset)');
$standby->stop;
done_testing();
