# The de-identification worker (docs/credit.md): the task credit.deid
# of the finsec worker processes the due periods of a registered credit
# table by itself while the application keeps inserting records of the
# current month; a kill -9 of the worker in the middle of a batch
# (finsec.deid_batch_delay_ms holds it between the archive insert and the
# key destruction) leaves no archive row, no destroyed key and no batch
# row after crash recovery; the batch then completes once; a restart
# processes nothing again.  No record is left behind (archive rows +
# suppressed = the period's production rows) and none is archived twice.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FinsecTest;
use FinsecDeidTest;

my $node = finsec_node('deidworker', sealer => 'postgres', no_start => 1);
$node->append_conf('postgresql.conf',
	"finsec.deid_interval = '300ms'\nfinsec.reveal_budget = 0\nrestart_after_crash = on");
$node->start;
deid_setup($node, 'postgres', months => 4);

sub sq { return $node->safe_psql('postgres', $_[0]); }

# Months 3 and 2 ago (due once "today" moves), last month and this month.
my %n = (3 => 1500, 2 => 1200, 1 => 400, 0 => 300);
my $id = 1;
for my $ago (3, 2, 1, 0)
{
	my $d = deid_first_day($node, 'postgres', $ago);
	sq("SET SESSION AUTHORIZATION credowner; " . deid_rows_sql($id, $n{$ago}, "'$d'::date + (g % 25)"));
	$id += $n{$ago};
}
is(sq('SELECT count(*) FROM finsec.deid_due'), '0', 'nothing is due at first');
ok($node->poll_query_until('postgres',
		"SELECT runs >= 2 AND failures = 0 FROM finsec.worker_tasks() WHERE database = 'postgres' AND task = 'credit.deid'"),
	'the task credit.deid runs, without failing');
is(sq('SELECT count(*) FROM finsec.deid_batch'), '0', 'and does nothing while nothing is due');

# Hold each batch 4 s between its archive insert and its key destruction,
# then make months 3 and 2 due.
my $ahead = deid_days_ahead($node, 'postgres', 2);
$node->append_conf('postgresql.conf', "finsec.deid_batch_delay_ms = 4000\nfinsec.deid_test_days_ahead = $ahead");
$node->reload;
is(sq('SELECT count(*) FROM finsec.deid_due'), '2', 'two periods are due');

# The application keeps inserting records of this month meanwhile.
my $d0 = deid_first_day($node, 'postgres', 0);
my $app = $node->background_psql('postgres');
$app->query_safe('SET SESSION AUTHORIZATION credowner');

my $pid = '';
ok($node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE query = 'finsec: de-identification batch' AND state = 'active'"),
	'the worker starts a batch');
$pid = sq("SELECT pid FROM pg_stat_activity WHERE query = 'finsec: de-identification batch' AND state = 'active'");
for my $i (1 .. 5)
{
	$app->query_safe(deid_rows_sql($id, 20, "'$d0'::date"));
	$id += 20;
}
$app->quit;
sleep 1;    # inside the 4 s between archive insert and key destruction
ok(sq("SELECT count(*) FROM pg_stat_activity WHERE pid = $pid AND state = 'active'") eq '1',
	'the batch is still running');
kill 'KILL', $pid;
ok($node->poll_query_until('postgres', 'SELECT true'), 'the server recovers from the worker\'s kill -9');
my $logs = slurp_file($node->logfile);
like($logs, qr/terminated by signal 9/, 'the worker was killed by signal 9 mid-batch (crash recovery)');
is(sq('SELECT count(*) FROM finsec_archive.rec'), '0', 'after recovery: no archive row');
is(sq("SELECT count(*) FROM finsec.key_inventory WHERE state = 'destroyed'"), '0', 'no destroyed key');
is(sq('SELECT count(*) FROM finsec.deid_batch'), '0', 'no batch row');
is(sq('SELECT count(*) FROM finsec.protect_shredded'), '0', 'no shredded period');
is(sq("SELECT count(*) FROM rec WHERE (finsec.protected_info(subject)).state = 'ok'"),
	$id - 1, 'every record still opens');

# Without the delay, the worker completes both batches, once each.
$node->append_conf('postgresql.conf', 'finsec.deid_batch_delay_ms = 0');
$node->reload;
ok($node->poll_query_until('postgres', "SELECT count(*) = 2 FROM finsec.deid_batch WHERE state = 'published'"),
	'the worker publishes the two due periods');
my $d3 = deid_first_day($node, 'postgres', 3);
my $d2 = deid_first_day($node, 'postgres', 2);
for my $ago (3, 2)
{
	my $p = sq("SELECT to_char(date_trunc('month', current_date) - interval '$ago months', 'YYYYMM')");
	is( sq( "SELECT records || ' ' || (published + suppressed) || ' ' || (SELECT count(*) FROM finsec_archive.rec a WHERE a.period = $p)"
			  . " FROM finsec.deid_batch WHERE period = $p AND state = 'published'"),
		"$n{$ago} $n{$ago} " . sq("SELECT published FROM finsec.deid_batch WHERE period = $p AND state = 'published'"),
		"month -$ago: records = published + suppressed = the period's production rows; the archive holds the published ones");
	is(sq("SELECT count(*) FROM rec WHERE to_char(closed_on, 'YYYYMM') = '$p' AND (finsec.protected_info(subject)).state = 'shredded'"),
		$n{$ago}, "month -$ago: every production record is shredded");
}
is(sq('SELECT count(*) FROM finsec.deid_batch'), '2', 'no other batch (none refused, none twice)');
is(sq("SELECT count(*) FROM finsec.key_inventory WHERE state = 'destroyed'"), '4',
	'the four keys of the two months destroyed (encryption and fingerprint)');
is(sq("SELECT count(*) FROM rec WHERE (finsec.protected_info(subject)).state = 'ok'"),
	$n{1} + $n{0} + 100, 'the records of last month and this month, the application\'s included, still open');
is(sq("SELECT bool_and(finsec.deid_verify(id)) FROM finsec.deid_batch"), 't', 'both batches verify against their rows hash');
is(sq("SELECT count(*) FROM (SELECT subject FROM finsec_archive.rec GROUP BY batch_id, subject, birth_date, region, status, amount HAVING count(*) > 1) d"),
	'0', 'no archived record twice');
note('batch timings: '
	  . sq("SELECT string_agg(records || ' records in ' || round(extract(epoch FROM finished_at - started_at)::numeric, 3) || ' s', '; ' ORDER BY id) FROM finsec.deid_batch"));
my $task = sq("SELECT failures FROM finsec.worker_tasks() WHERE database = 'postgres' AND task = 'credit.deid'");
note("credit.deid failures recorded: $task");

# A restart processes nothing again.
$node->restart;
ok($node->poll_query_until('postgres',
		"SELECT runs >= 3 FROM finsec.worker_tasks() WHERE database = 'postgres' AND task = 'credit.deid'"),
	'after a restart the task runs again');
is(sq('SELECT count(*) FROM finsec.deid_batch'), '2', 'and adds no batch');
is(sq('SELECT count(*) FROM finsec.deid_due'), '0', 'nothing is due');
is(sq('SELECT bool_and(ok) FROM finsec.audit_verify()'), 't', 'the ledger verifies');

$node->stop;
done_testing();
