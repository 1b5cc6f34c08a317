# The finsec worker framework (docs/workers.md): one worker per database
# runs the registered tasks, each in its own transaction.
#
# With the test-only tasks of test/modules/finsec_test_tasks: a task that
# fails does not stop the others (nor the sealer); its status row shows
# its error and SQLSTATE, the log names it (once a minute, not every
# round), finsec.status() reports it; it recovers when the cause goes.  A
# SIGTERM while a stoppable task runs lets it finish its batch: the worker
# exits cleanly and the postmaster starts it again.  A SIGTERM inside a
# task that does not check ends the worker at once, the status says so,
# and nothing crashes.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('tasks', sealer => 'postgres,second', no_start => 1);
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'finsec,finsec_test_tasks'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION finsec');
$node->safe_psql('postgres', 'CREATE DATABASE second');

sub task
{
	my ($db, $task, $cols) = @_;
	return $node->safe_psql('postgres',
		"SELECT $cols FROM finsec.worker_tasks() WHERE database = '$db' AND task = '$task'");
}

sub reload_with
{
	my ($setting) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET $setting");
	$node->reload;
}

# --- every database and task has a row --------------------------------------
is($node->safe_psql('postgres',
		"SELECT string_agg(task, ',' ORDER BY task) FROM finsec.worker_tasks() WHERE database = 'postgres'"),
	'audit.event_flush,audit.seal,auth.event_drain,auth.login_flush,card.probe_flush,credit.deid,limits.refusal_flush,'
	  . 'monitor.round,risk.decision_flush,risk.log_maintain,test.count,test.fail,test.long,test.sleep,test.standby',
	'each capability registered its tasks, and the test module its own');
is($node->safe_psql('postgres', 'SELECT count(DISTINCT database) FROM finsec.worker_tasks()'),
	'2', 'one worker per database of finsec.audit_seal_databases');

# --- a failing task does not stop the others ----------------------------------
ok($node->poll_query_until('postgres',
		"SELECT failures >= 3 FROM finsec.worker_tasks() WHERE database = 'postgres' AND task = 'test.fail'"),
	'test.fail fails every round');
is(task('postgres', 'test.fail', "runs = failures, last_success IS NULL, last_sqlstate, last_error, running"),
	't|t|P0001|finsec_test_tasks: test.fail fails on purpose|f',
	'its status row shows its error and SQLSTATE, and no success');
ok($node->poll_query_until('postgres',
		"SELECT runs >= 3 AND failures = 0 AND rows_total = runs AND last_success IS NOT NULL "
		  . "FROM finsec.worker_tasks() WHERE database = 'postgres' AND task = 'test.count'"),
	'test.count, run after it in the same round, succeeds every round');
$node->safe_psql('postgres', "SELECT finsec.audit_event('test.event')");
ok($node->poll_query_until('postgres', 'SELECT count(*) >= 1 FROM finsec.ledger_block'),
	'the sealer still seals');
is(task('postgres', 'audit.seal', 'failures = 0 AND rows_total >= 1'), 't',
	'audit.seal succeeded and counts the rows it sealed');
is(task('second', 'test.fail', 'runs'), '0',
	'a task needing the extension does not run in a database without it');
ok($node->poll_query_until('postgres',
		"SELECT runs >= 2 FROM finsec.worker_tasks() WHERE database = 'second' AND task = 'test.standby'"),
	'a task that does not need it runs there');

my $log = slurp_file($node->logfile);
my @warned = $log =~ /WARNING:  finsec: worker task "test.fail" failed: finsec_test_tasks: test.fail fails on purpose/g;
is(scalar @warned, 1, 'the log names the failing task, once a minute rather than every round');
like($log, qr/CONTEXT:  finsec worker task "test.fail" in database "postgres"/, 'with its database');

is($node->safe_psql('postgres', "SELECT ok FROM finsec.status() WHERE component = 'worker:postgres'"),
	'f', 'finsec.status() reports the worker of the database not ok');
like($node->safe_psql('postgres', "SELECT detail FROM finsec.status() WHERE component = 'worker:postgres'"),
	qr/failing: test\.fail \(P0001: finsec_test_tasks: test\.fail fails on purpose\)/, 'naming the failing task');
is($node->safe_psql('postgres', "SELECT ok FROM finsec.status() WHERE component = 'worker:second'"),
	't', 'the worker of the other database is ok');

reload_with('finsec_test_tasks.fail = off');
ok($node->poll_query_until('postgres',
		"SELECT last_success > last_failure FROM finsec.worker_tasks() WHERE database = 'postgres' AND task = 'test.fail'"),
	'once the cause is gone the task succeeds again');
is(task('postgres', 'test.fail', 'last_error IS NOT NULL'), 't', 'its last error stays on record');
is($node->safe_psql('postgres', "SELECT ok FROM finsec.status() WHERE component = 'worker:postgres'"),
	't', 'and finsec.status() is ok again');

# --- SIGTERM while a stoppable task runs --------------------------------------
my $pid = task('postgres', 'test.long', 'worker_pid');
like($pid, qr/^\d+$/, 'the status shows the worker pid');
my $offset = -s $node->logfile;
reload_with('finsec_test_tasks.long_batches = 200');
ok($node->poll_query_until('postgres',
		"SELECT running FROM finsec.worker_tasks() WHERE database = 'postgres' AND task = 'test.long'"),
	'test.long runs');
ok($node->wait_for_log(qr/test\.long starts 200 batches/, $offset), 'and has started its batches');
sleep 1;
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->wait_for_log(qr/finsec: worker for database "postgres" stopped on request/, $offset),
	'SIGTERM: the worker stops cleanly');
$log = substr(slurp_file($node->logfile), $offset);
my ($batches) = $log =~ /test\.long returns after (\d+) batches/;
ok(defined $batches && $batches > 0 && $batches < 200, 'the task ended between batches (' . ($batches // 'none') . ' of 200)');
unlike($log, qr/terminating background worker "finsec worker"/, 'not by a FATAL interrupt');
is(task('postgres', 'test.long', "running, runs, failures, rows_last = $batches"), 'f|1|0|t',
	'the status records one run, ended, with the batches done as rows');
reload_with('finsec_test_tasks.long_batches = 0');
ok($node->poll_query_until('postgres',
		"SELECT worker_pid IS NOT NULL AND worker_pid <> $pid FROM finsec.worker_tasks() WHERE database = 'postgres' AND task = 'test.count'"),
	'the postmaster starts the worker again');
my $runs = task('postgres', 'test.count', 'runs');
ok($node->poll_query_until('postgres',
		"SELECT runs > $runs FROM finsec.worker_tasks() WHERE database = 'postgres' AND task = 'test.count'"),
	'and its tasks run again, their counters kept');
is(task('postgres', 'test.long', 'runs'), '1', 'test.long does not run any more');

# --- SIGTERM inside a task that does not check --------------------------------
$pid = task('postgres', 'test.sleep', 'worker_pid');
$offset = -s $node->logfile;
reload_with("finsec_test_tasks.sleep_ms = '60s'");
ok($node->poll_query_until('postgres',
		"SELECT running FROM finsec.worker_tasks() WHERE database = 'postgres' AND task = 'test.sleep'"),
	'test.sleep runs');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->wait_for_log(qr/terminating background worker "finsec worker" due to administrator command/, $offset),
	'SIGTERM inside a task that does not check ends the worker at once');
is(task('postgres', 'test.sleep', 'running, runs, failures, last_sqlstate, last_error'),
	'f|1|1|57P01|the worker exited while the task ran', 'the status records the interrupted run');
reload_with('finsec_test_tasks.sleep_ms = 0');
ok($node->poll_query_until('postgres',
		"SELECT worker_pid IS NOT NULL AND worker_pid <> $pid FROM finsec.worker_tasks() WHERE database = 'postgres' AND task = 'test.count'"),
	'the worker is started again');
$log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|terminating any other active server processes/, 'nothing crashed');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server kept running throughout');

# --- other databases' error texts only for pg_read_all_stats -----------------
$node->safe_psql('second', 'CREATE EXTENSION finsec');
reload_with('finsec_test_tasks.fail = on');
ok($node->poll_query_until('postgres',
		"SELECT failures >= 1 FROM finsec.worker_tasks() WHERE database = 'second' AND task = 'test.fail'"),
	'once finsec is installed there, test.fail fails in the second database too');
$node->safe_psql('postgres',
	'CREATE ROLE watcher IN ROLE finsec_operator; CREATE ROLE watcher_stats IN ROLE finsec_operator, pg_read_all_stats');
is($node->safe_psql('postgres',
		"SET ROLE watcher; SELECT string_agg(database || ':' || (last_error IS NOT NULL) || ':' || last_sqlstate, ',' ORDER BY database) "
		  . "FROM finsec.worker_tasks() WHERE task = 'test.fail'"),
	'postgres:true:P0001,second:false:P0001',
	"an operator sees this database's error text, only the SQLSTATE of another's");
is($node->safe_psql('postgres',
		"SET ROLE watcher_stats; SELECT string_agg(database || ':' || (last_error IS NOT NULL), ',' ORDER BY database) "
		  . "FROM finsec.worker_tasks() WHERE task = 'test.fail'"),
	'postgres:true,second:true',
	'a member of pg_read_all_stats sees every database\'s error texts');

$node->stop;
like(slurp_file($node->logfile), qr/finsec: worker for database "second" stopped on request/,
	'at shutdown the workers stop on request too');
done_testing();
