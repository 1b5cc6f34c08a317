# The finsec worker on a hot standby (docs/workers.md, "Standby").
#
# The worker of a standby runs only the tasks marked to run on a standby;
# every other task (the sealer, the flushes, a test task) shows no run at
# all.  At promotion the same worker process starts them by itself, with
# no restart: the promoted server seals new events.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $primary = finsec_node('primary', sealer => 'postgres', init => { allows_streaming => 1 }, no_start => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'finsec,finsec_test_tasks'");
$primary->append_conf('postgresql.conf', "finsec_test_tasks.fail = off");
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION finsec');
ok($primary->poll_query_until('postgres',
		"SELECT runs >= 2 FROM finsec.worker_tasks() WHERE task = 'test.count'"),
	'on the primary the primary-only tasks run');
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
ok($standby->poll_query_until('postgres',
		"SELECT runs >= 3 AND failures = 0 FROM finsec.worker_tasks() WHERE task = 'test.standby'"),
	'the worker of the standby runs the task marked for a standby');
my $pid = $standby->safe_psql('postgres', "SELECT worker_pid FROM finsec.worker_tasks() WHERE task = 'test.standby'");
like($pid, qr/^\d+$/, 'the worker runs on the standby');
sleep 1;
is($standby->safe_psql('postgres',
		'SELECT count(*) FROM finsec.worker_tasks() WHERE NOT on_standby AND (runs > 0 OR running)'),
	'0', 'no other task has run on the standby');
is($standby->safe_psql('postgres',
		"SELECT string_agg(task, ',' ORDER BY task) FROM finsec.worker_tasks() WHERE NOT on_standby"),
	'audit.event_flush,audit.seal,auth.event_drain,auth.login_flush,card.probe_flush,credit.deid,limits.refusal_flush,'
	  . 'monitor.round,risk.decision_flush,risk.log_maintain,test.count,test.fail,test.long,test.sleep',
	'(the sealer and every flush among them)');
my $log = slurp_file($standby->logfile);
unlike($log, qr/cannot seal the ledger during recovery|read-only transaction/, 'and nothing tried to write');

$primary->stop;
$standby->promote;
ok($standby->poll_query_until('postgres',
		"SELECT bool_and(runs > 0) FROM finsec.worker_tasks() WHERE task IN ('audit.seal', 'test.count', 'test.fail')"),
	'after promotion the primary-only tasks start');
is($standby->safe_psql('postgres', "SELECT DISTINCT worker_pid FROM finsec.worker_tasks()"), $pid,
	'in the same worker process, with no restart');
my $blocks = $standby->safe_psql('postgres', 'SELECT count(*) FROM finsec.ledger_block');
$standby->safe_psql('postgres', "SELECT finsec.audit_event('test.after_promotion')");
ok($standby->poll_query_until('postgres', "SELECT count(*) > $blocks FROM finsec.ledger_block"),
	'the promoted server seals new events by itself');
is($standby->safe_psql('postgres', 'SELECT sum(failures) FROM finsec.worker_tasks()'), '0',
	'no task failed');
$standby->stop;
done_testing();
