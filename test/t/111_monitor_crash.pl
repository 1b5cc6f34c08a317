# The monitor loses nothing and duplicates nothing across crashes
# (docs/monitor.md): a batch's position, events and alerts commit
# together, so a crash either keeps a whole batch or redoes it from the old
# position.  A backlog of payments (pgbench: small payments, planted large
# ones of customers big1..big20 that the threshold rule test_big alerts on,
# two-payment transactions, rolled-back large payments of ghost1..ghost20)
# is being worked through in batches of 100 while a stream goes on, when
#   1. the worker is killed with SIGKILL in the middle of a batch (the
#      postmaster's crash restart), and
#   2. the server is stopped in immediate mode and started again.
# Afterwards the monitor events are exactly the committed payments (one
# each) and the alerts exactly the planted customers' days, each covering
# exactly their large payments.  Payments of prepared transactions that
# outlive the crash count once committed, never when rolled back.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FinsecTest;
use FinsecMonitorTest;

my $node = finsec_node('moncrash', sealer => 'postgres', no_start => 1);
monitor_conf($node, interval => '100ms', batch_rows => 100);
$node->append_conf('postgresql.conf', 'max_prepared_transactions = 5');
$node->start;
monitor_setup($node, 'postgres');

sub sq { return $node->safe_psql('postgres', $_[0]); }

sub set_interval
{
	my ($value, $ms) = @_;
	sq("ALTER SYSTEM SET finsec.monitor_interval = '$value'");
	$node->reload;
	$node->poll_query_until('postgres',
		"SELECT interval_ms = $ms FROM finsec.worker_tasks() WHERE database = 'postgres' AND task = 'monitor.round'")
	  or die "the worker did not take finsec.monitor_interval = $value";
	return;
}

# A backlog the worker does not touch yet, then the worker let loose on it
# while a stream goes on.  Returns the stream's harness once the worker is
# in the middle of the backlog.
sub backlog_then_stream
{
	my ($what) = @_;
	set_interval('1h', 3600000);
	sleep 1;
	my ($h, $out, $err) = start_stream($node, 'postgres', '-c', 2, '-j', 2, '-t', 1500);
	$h->finish;
	is($h->result(0), 0, "$what: the backlog was committed") or diag $$err;
	my $batches = sq('SELECT count(*) FROM finsec.monitor_batch');
	my $pending = sq('SELECT count(*) FROM payments p WHERE NOT EXISTS '
		  . '(SELECT FROM finsec.monitor_event e WHERE e.reference = p.id::text)');
	ok($pending > 2000, "$what: $pending payments wait for the monitor");
	($h, $out, $err) = start_stream($node, 'postgres', '-c', 2, '-j', 2, '-R', 200, '-T', 60);
	set_interval('100ms', 100);
	$node->poll_query_until('postgres', 'SELECT count(*) >= ' . ($batches + 3) . ' FROM finsec.monitor_batch')
	  or die 'the worker does not work through the backlog';
	return ($h, $out, $err);
}

sub stream_cut_off
{
	my ($what, $h, $err) = @_;
	eval { $h->finish; };
	ok($h->result(0) != 0, "$what: the stream was cut off");
	return;
}

sub check_exact
{
	my ($what) = @_;
	ok(monitor_caught_up($node, 'postgres'), "$what: the monitor catches up");
	my $paid = sq('SELECT count(*) FROM payments');
	is(monitor_mismatch($node, 'postgres'), '',
		"$what: every committed payment has exactly one event, every event a payment");
	is(sq('SELECT count(*) FROM finsec.monitor_event'), $paid, "$what: events == committed payments ($paid)");
	is(sq("SELECT payments FROM finsec.monitor_table WHERE relid = 'payments'::regclass"), $paid,
		"$what: the table's payments counter agrees");
	is(sq("SELECT count(*) FROM finsec.monitor_event WHERE customer LIKE 'ghost%'"), '0',
		"$what: no rolled-back payment was processed");
	is(alert_mismatch($node, 'postgres'), '',
		"$what: alerts == planted customers' days exactly, each with exactly their large payments");
	my ($alerts, $planted) = split /\|/, sq(q{
		SELECT (SELECT count(*) FROM finsec.alert WHERE rule_name = 'test_big'),
		       (SELECT count(DISTINCT (customer, finsec._monitor_day(posted_at))) FROM payments WHERE amount >= 1000)});
	ok($planted >= 15 && $alerts == $planted, "$what: $alerts alerts for $planted planted customer days");
	return;
}

# --- 1. kill -9 of the worker in the middle of a batch --------------------------
# Two prepared transactions hold large payments across the crash: one is
# committed afterwards (processed once, alerted), one rolled back (never).
sq(q{BEGIN; INSERT INTO payments (customer, amount) VALUES ('prep1', 2000); PREPARE TRANSACTION 'prep1';
      BEGIN; INSERT INTO payments (customer, amount) VALUES ('prep2', 2000); PREPARE TRANSACTION 'prep2';});
my ($h, $out, $err) = backlog_then_stream('kill -9');
my $pid = monitor_pid($node, 'postgres');
like($pid, qr/^\d+$/, "the worker's pid ($pid)");
like(sq("SELECT backend_type FROM pg_stat_activity WHERE pid = $pid"), qr/finsec/, 'the finsec worker of pg_stat_activity');
# Catch it inside a batch's transaction.
my $inside = 0;
for (1 .. 200)
{
	$inside = sq("SELECT xact_start IS NOT NULL FROM pg_stat_activity WHERE pid = $pid") eq 't';
	last if $inside;
	usleep(5_000);
}
my $before = sq('SELECT count(*) FROM finsec.monitor_event') . ' of ' . sq('SELECT count(*) FROM payments');
kill 'KILL', $pid;
note "killed the worker " . ($inside ? 'inside' : 'maybe outside') . " a transaction with $before processed";
stream_cut_off('kill -9', $h, $err);
$node->poll_query_until('postgres', 'SELECT true') or die 'the server did not recover';
ok($node->log_contains(qr/\(PID $pid\) was terminated by signal 9/), 'the worker was killed by signal 9, the server restarted');
my ($done, $total) = $before =~ /(\d+) of (\d+)/;
ok($done < $total, "it was killed in the middle of the backlog ($before)");
ok($node->poll_query_until('postgres',
		"SELECT worker_pid IS NOT NULL AND worker_pid <> $pid FROM finsec.worker_tasks() "
		  . "WHERE database = 'postgres' AND task = 'monitor.round'"),
	'a new worker runs the monitor');
is(sq('SELECT string_agg(gid, \',\' ORDER BY gid) FROM pg_prepared_xacts'), 'prep1,prep2',
	'the prepared payments survived the crash');
sq(q{COMMIT PREPARED 'prep1'; ROLLBACK PREPARED 'prep2'});
check_exact('after kill -9 of the worker');
is(sq(q{SELECT string_agg(customer, ',') FROM finsec.monitor_event WHERE customer LIKE 'prep%'}), 'prep1',
	'the committed prepared payment was processed, the rolled-back one not');

# --- 2. immediate shutdown in the middle of the backlog -------------------------
($h, $out, $err) = backlog_then_stream('immediate shutdown');
$before = sq('SELECT count(*) FROM finsec.monitor_event') . ' of ' . sq('SELECT count(*) FROM payments');
$node->stop('immediate');
stream_cut_off('immediate shutdown', $h, $err);
($done, $total) = $before =~ /(\d+) of (\d+)/;
ok($done < $total, "the server was stopped in the middle of the backlog ($before)");
$node->start;
check_exact('after an immediate shutdown');

# The rounds after recovery kept the alerts of before: none was raised twice.
is(sq(q{SELECT count(*) FROM (SELECT entity, period FROM finsec.alert WHERE rule_name = 'test_big'
                               GROUP BY 1, 2 HAVING count(*) > 1) d}), '0', 'no alert twice for a customer and day');
unlike(slurp_file($node->logfile), qr/worker task "monitor\.round" failed|transaction monitoring round failed|monitoring position .* was reset/,
	'the monitor never failed, and recovery never reset its position');
$node->stop;
done_testing();
