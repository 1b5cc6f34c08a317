# The transaction monitor as a task of the finsec worker (docs/monitor.md):
# the worker of each database of finsec.audit_seal_databases starts with
# the server and runs monitor.round every finsec.monitor_interval; it
# processes a stream of payments (pgbench clients, some transactions of two
# payments, some rolled back) exactly once, also while operators run
# finsec.monitor_now() rounds at the same time and across a SIGTERM of the
# worker in the middle of the stream (it stops between batches and the
# postmaster starts it again); NOTIFY finsec_alert reaches a listening
# session with the alert id; a SIGHUP reload of finsec.monitor_interval
# takes effect in the running worker.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FinsecTest;
use FinsecMonitorTest;

my $node = finsec_node('monworker', sealer => 'postgres', no_start => 1);
monitor_conf($node, interval => '100ms', batch_rows => 200);
$node->start;
monitor_setup($node, 'postgres');

sub sq { return $node->safe_psql('postgres', $_[0]); }

sub q_reload
{
	sq($_[0]);
	$node->reload;
	sleep 1;
	return;
}

sub task
{
	my ($cols) = @_;
	return sq("SELECT $cols FROM finsec.worker_tasks() WHERE database = 'postgres' AND task = 'monitor.round'");
}

# --- the task ------------------------------------------------------------------
is(task('on_standby, interval_ms'), 'f|100',
	'the worker of the database has the task monitor.round, primary only, every finsec.monitor_interval');
is(sq("SELECT count(*) FROM finsec.status_worker_tasks WHERE task = 'monitor.round'"), '1',
	'finsec.status_worker_tasks lists it once');
ok($node->poll_query_until('postgres',
		"SELECT runs >= 3 AND failures = 0 FROM finsec.worker_tasks() WHERE database = 'postgres' AND task = 'monitor.round'"),
	'it runs round after round, without failing');
my $pid = task('worker_pid');
like(sq("SELECT backend_type FROM pg_stat_activity WHERE pid = $pid"), qr/finsec/,
	"the worker ($pid) is the finsec worker in pg_stat_activity");

# --- NOTIFY finsec_alert ----------------------------------------------------------
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN finsec_alert');
sq("INSERT INTO payments (customer, amount) VALUES ('near0', 999.99)");
sq("INSERT INTO payments (customer, amount) VALUES ('big0', 1000)");
ok(monitor_caught_up($node, 'postgres'), 'the worker processes single payments by itself');
my $alert = sq("SELECT string_agg(alert_id::text, ',') FROM finsec.alert WHERE rule_name = 'test_big'");
like($alert, qr/^\d+$/, 'one alert: for the payment at the threshold, none just below it');
is(sq("SELECT entity FROM finsec.alert WHERE alert_id = $alert"), 'big0', 'of the customer who paid 1000');
my $heard = '';
for (1 .. 50)
{
	$heard .= $listener->query('SELECT 1');
	last if $heard =~ /Asynchronous notification/;
	usleep(100_000);
}
like($heard, qr/Asynchronous notification "finsec_alert" with payload "$alert" received/,
	'a LISTENing session is notified on channel finsec_alert with the alert id');
$listener->quit;

# --- a stream, with operators' rounds and a SIGTERM of the worker ------------------
my $offset = -s $node->logfile;
my ($h, $out, $err) = start_stream($node, 'postgres', '-c', 2, '-j', 2, '-R', 250, '-T', 8);
$node->poll_query_until('postgres', 'SELECT count(*) > 400 FROM finsec.monitor_event')
  or die 'the stream is not processed';
my $rounds = 0;
for (1 .. 4)
{
	sq('SELECT count(*) FROM finsec.monitor_now()');
	$rounds++;
	usleep(150_000);
}
sq("SELECT pg_terminate_backend($pid)");
ok($node->wait_for_log(qr/finsec: worker for database "postgres" stopped on request/, $offset),
	'SIGTERM mid-stream: the worker stops cleanly');
ok($node->poll_query_until('postgres',
		"SELECT worker_pid IS NOT NULL AND worker_pid <> $pid FROM finsec.worker_tasks() "
		  . "WHERE database = 'postgres' AND task = 'monitor.round'"),
	'and the postmaster starts it again');
for (1 .. 6)
{
	sq('SELECT count(*) FROM finsec.monitor_now()');
	$rounds++;
	usleep(200_000);
}
$h->finish;
is($h->result(0), 0, 'the stream ran to its end') or diag $$err;
my ($done) = $$out =~ /number of transactions actually processed: (\d+)/;
note "pgbench: $done transactions; $rounds monitor_now() rounds alongside the worker";

ok(monitor_caught_up($node, 'postgres'), 'the worker catches up with the stream');
my $paid = sq('SELECT count(*) FROM payments');
ok($paid > 1000, "the stream committed $paid payments");
is(monitor_mismatch($node, 'postgres'), '',
	'every committed payment has exactly one monitor event, and every event a payment');
is(sq('SELECT count(*) FROM finsec.monitor_event'), $paid, 'events == committed payments');
is(sq("SELECT payments, (SELECT sum(payments) FROM finsec.monitor_batch) FROM finsec.monitor_table WHERE relid = 'payments'::regclass"),
	"$paid|$paid", 'the counters of the table and of its batches say the same');
is(sq("SELECT count(*) FROM finsec.monitor_event WHERE customer LIKE 'ghost%'"), '0',
	'no rolled-back payment was processed');
is(alert_mismatch($node, 'postgres'), '',
	'one alert per customer and day with a large payment, covering exactly those payments, none else');
ok(sq("SELECT count(*) FROM finsec.alert WHERE rule_name = 'test_big'") >= 10, 'planted customers raised their alerts');
my $log = substr(slurp_file($node->logfile), $offset);
unlike($log, qr/terminated by signal|worker task "monitor\.round" failed|transaction monitoring round failed/, 'nothing crashed or failed');

# --- SIGHUP: finsec.monitor_interval ---------------------------------------------
sq("ALTER SYSTEM SET finsec.monitor_interval = '1h'");
$node->reload;
ok($node->poll_query_until('postgres',
		"SELECT interval_ms = 3600000 FROM finsec.worker_tasks() WHERE database = 'postgres' AND task = 'monitor.round'"),
	'after a reload the worker runs the monitor every hour');
sleep 1;
my $runs = task('runs');
sq("INSERT INTO payments (customer, amount) VALUES ('late', 1)");
sleep 3;
is(sq("SELECT count(*) FROM finsec.monitor_event WHERE customer = 'late'") . '|' . task('runs'), "0|$runs",
	'so a new payment waits: no round in 3 s');
sq("ALTER SYSTEM SET finsec.monitor_interval = '50ms'");
my $t0 = time;
$node->reload;
ok(monitor_caught_up($node, 'postgres'), 'after another reload (50 ms) it is processed');
my $took = time - $t0;
ok($took < 5, sprintf('within %.1f s of the reload', $took));
is(task('interval_ms'), '50', 'and the status shows the new interval');
is(monitor_mismatch($node, 'postgres'), '', 'still exactly once');

# --- one round catches up ------------------------------------------------------
# A round goes on batch after batch until it has caught up (or had
# finsec.monitor_max_batches); a batch ends at a transaction boundary, so
# with transactions of three payments and batches of 10 rows each batch
# has 9: the round must not stop after the first short batch.
q_reload("ALTER SYSTEM SET finsec.monitor_interval = '1h'; ALTER SYSTEM SET finsec.monitor_batch_rows = 10");
$node->poll_query_until('postgres',
	"SELECT interval_ms = 3600000 FROM finsec.worker_tasks() WHERE database = 'postgres' AND task = 'monitor.round'")
  or die 'the worker did not take the new interval';
sq(q{SELECT count(*) FROM finsec.monitor_now()});
for (1 .. 6)
{
	sq(q{INSERT INTO payments (customer, amount) SELECT 'triple', 1 FROM generate_series(1, 3)});
}
is(sq(q{SELECT batches || ' ' || payments FROM finsec.monitor_now() WHERE relid = 'payments'::regclass}), '2 18',
	'one finsec.monitor_now() processes everything committed before it, in batches of whole transactions');
is(monitor_mismatch($node, 'postgres'), '', 'exactly once');

$node->stop;
done_testing();
