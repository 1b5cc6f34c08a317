# Transaction limits survive crashes: pgbench clients pay concurrently for
# a few dozen customers (some payments refused by the single-payment limit)
# while other sessions hold uncommitted and prepared payments; the server is
# then crashed, once by an immediate shutdown and once by kill -9 of a
# backend (the postmaster's crash restart).  After recovery finsec.limit_usage
# equals, for every customer, the sums and counts of the committed payments
# (nothing uncommitted, everything committed), finsec.rebuild_limit_usage()
# recomputes exactly the same rows, and the recovered usage is what the
# trigger enforces.  (A run across midnight in finsec.limit_timezone could
# meet the day-boundary corner docs/limits.md documents for rebuilds; the
# test takes a few seconds.)
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('limcrash', no_start => 1);
# The test framework turns crash restarts off; the kill -9 round needs them.
$node->append_conf('postgresql.conf', "restart_after_crash = on\nmax_prepared_transactions = 5");
$node->start;

my $day_limit = 1000000;
my $single_limit = 4000;
my $customers = 24;

$node->safe_psql('postgres', qq{
	CREATE EXTENSION finsec;
	CREATE TABLE payments (id bigserial PRIMARY KEY, customer_id int NOT NULL,
	                       amount numeric NOT NULL, posted_at timestamptz);
	SELECT finsec.enable_limits('payments', customer => 'customer_id', amount => 'amount',
	                            posted_at => 'posted_at');
	INSERT INTO finsec.limit_policy (name, relid, period, max_amount, max_count) VALUES
		('crash single', 'payments', 'single', $single_limit, NULL),
		('crash day', 'payments', 'day', $day_limit, 100000),
		('crash lifetime', 'payments', 'lifetime', 50000000, 1000000);
	-- Refused payments, recorded by the client (a refusal rolls back only
	-- the payment), so that pgbench clients carry on after one.
	CREATE TABLE refused (customer_id int, amount numeric, sqlstate text);
	CREATE FUNCTION pay(c int, a numeric) RETURNS boolean LANGUAGE plpgsql AS \$\$
	BEGIN
		INSERT INTO payments (customer_id, amount) VALUES (c, a);
		RETURN true;
	EXCEPTION WHEN SQLSTATE 'S9L01' OR SQLSTATE 'S9L02' THEN
		INSERT INTO refused VALUES (c, a, SQLSTATE);
		RETURN false;
	END
	\$\$;
});

# Most transactions pay once; some pay for two customers (in customer
# order, as docs/limits.md asks of multi-payer batches); some pay and roll
# back.
my $script = $node->basedir . '/pay.sql';
append_to_file($script, qq{
\\set c random(1, $customers)
\\set a random(1, 5000)
SELECT pay(:c, :a);
});
my $script2 = $node->basedir . '/pay2.sql';
append_to_file($script2, qq{
\\set c random(1, $customers)
\\set d random(1, $customers)
\\set a random(1, 5000)
\\set b random(1, 5000)
\\set lo least(:c, :d)
\\set hi greatest(:c, :d)
BEGIN;
SELECT pay(:lo, :a);
SELECT pay(:hi, :b);
END;
});
my $script3 = $node->basedir . '/pay_rollback.sql';
append_to_file($script3, qq{
\\set c random(1, $customers)
\\set a random(1, 5000)
BEGIN;
SELECT pay(:c, :a);
ROLLBACK;
});

my $clients = 4;
my $per_client = 1000000;    # far more than can run before the crash

sub start_load
{
	my ($o, $e) = ('', '');
	my ($out, $err) = (\$o, \$e);
	# The test framework sets PGAPPNAME; name the load's sessions.
	local $ENV{PGAPPNAME} = 'limits_load';
	my $h = IPC::Run::start(
		[ 'pgbench', '-n', '-c', $clients, '-j', 2, '-t', $per_client,
		  '-f', "$script\@6", '-f', "$script2\@3", '-f', "$script3\@2",
		  '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', $out, '2>', $err);
	return ($h, $out, $err);
}

# Usage rows (all-channel bucket) that differ from the committed payments:
# the day's sums over payments posted on the usage row's day (in
# finsec.limit_timezone), the year's over its year, lifetime over all.
my $mismatch_sql = q{
WITH u AS (
	SELECT subject, day, day_amount, day_count, year, year_amount, year_count, life_amount, life_count
	  FROM finsec.limit_usage WHERE relid = 'payments'::regclass AND bucket = ''
), p AS (
	SELECT customer_id::text AS subject, amount,
	       (posted_at AT TIME ZONE current_setting('finsec.limit_timezone'))::date AS d
	  FROM payments
), e AS (
	SELECT p.subject, max(p.d) AS day,
	       coalesce(sum(p.amount) FILTER (WHERE p.d = u.day), 0) AS day_amount,
	       count(*) FILTER (WHERE p.d = u.day) AS day_count,
	       coalesce(sum(p.amount) FILTER (WHERE extract(year FROM p.d) = u.year), 0) AS year_amount,
	       count(*) FILTER (WHERE extract(year FROM p.d) = u.year) AS year_count,
	       sum(p.amount) AS life_amount, count(*) AS life_count
	  FROM p LEFT JOIN u USING (subject) GROUP BY p.subject
)
SELECT coalesce(u.subject, e.subject) || ': usage ' || coalesce(u::text, 'none')
       || ' payments ' || coalesce(e::text, 'none')
  FROM u FULL JOIN e USING (subject)
 WHERE (u.day, u.day_amount, u.day_count, u.year_amount, u.year_count, u.life_amount, u.life_count)
       IS DISTINCT FROM
       (e.day, coalesce(e.day_amount, 0), coalesce(e.day_count, 0), coalesce(e.year_amount, 0),
        coalesce(e.year_count, 0), coalesce(e.life_amount, 0), coalesce(e.life_count, 0))
 ORDER BY 1
};

sub check_usage
{
	my ($what) = @_;
	is($node->safe_psql('postgres', $mismatch_sql), '',
		"$what: every customer's usage equals the sums and counts of its committed payments");
}

# rebuild_limit_usage() recomputes exactly the rows the trigger kept.
sub check_rebuild
{
	my ($what) = @_;
	my $q = q{SELECT string_agg(format('%s %s %s %s %s %s %s %s %s', subject, bucket, day, day_amount,
	             day_count, year, year_amount, year_count, life_amount || ' ' || life_count), E'\n'
	             ORDER BY subject, bucket)
	            FROM finsec.limit_usage WHERE relid = 'payments'::regclass};
	my $before = $node->safe_psql('postgres', $q);
	my $rows = $node->safe_psql('postgres', q{SELECT finsec.rebuild_limit_usage('payments')});
	my $after = $node->safe_psql('postgres', $q);
	my $n = () = $before =~ /\n/g;
	ok($rows > 0 && $rows == $n + 1, "$what: rebuild wrote one row per subject ($rows)");
	is($after, $before, "$what: rebuild_limit_usage() yields identical usage");
}

# The recovered usage is what the trigger enforces: pay the busiest
# customer still under its daily limit exactly up to the daily limit (accepted), then one cent more
# (refused with S9L01).
sub check_enforced
{
	my ($what) = @_;
	my ($cust, $left) = split /\|/, $node->safe_psql('postgres', qq{
		SELECT subject, $day_limit - day_amount FROM finsec.limit_usage
		 WHERE relid = 'payments'::regclass AND bucket = '' AND day_amount < $day_limit
		 ORDER BY day_amount DESC, subject LIMIT 1});
	$node->safe_psql('postgres', qq{
		INSERT INTO payments (customer_id, amount)
		SELECT $cust, $single_limit FROM generate_series(1, floor($left / $single_limit)::int);
		INSERT INTO payments (customer_id, amount)
		SELECT $cust, $left - $single_limit * floor($left / $single_limit)
		 WHERE $left - $single_limit * floor($left / $single_limit) > 0;
	});
	is($node->safe_psql('postgres', qq{
		SELECT day_amount FROM finsec.limit_usage WHERE relid = 'payments'::regclass
		   AND bucket = '' AND subject = '$cust'}), $day_limit,
		"$what: customer $cust could pay exactly its remaining allowance $left");
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nINSERT INTO payments (customer_id, amount) VALUES ($cust, 0.01)");
	like($err, qr/ERROR:  S9L01: .*daily limit "crash day"/,
		"$what: and then not one cent more: the recovered usage is enforced");
}

sub load_stopped
{
	my ($what, $h, $out, $err) = @_;
	my $finished = eval { $h->finish; 1 };
	my $rc = $h->result(0);
	my ($processed) = $$out =~ /number of transactions actually processed: (\d+)/;
	note "pgbench exit $rc; stdout:\n$$out\nstderr (first lines):\n"
	  . join("\n", (split /\n/, $$err)[0 .. 5]);
	ok($rc != 0, "$what: pgbench failed (exit $rc): the load was cut off");
	like($$err, qr/(server closed the connection|terminat|connection to server .* failed|aborted)/i,
		"$what: pgbench clients lost their connections");
	ok(!defined $processed || $processed < $clients * $per_client,
		"$what: pgbench did not finish its transactions (" . ($processed // 'none') . ' processed)');
}

# ---------------------------------------------------------------------
# Round 1: immediate shutdown in the middle of the load.
# ---------------------------------------------------------------------

# Customer 900 has a committed payment; a session then pays more for 900
# and for 901 and never commits; two more payments (for 902 and 903) sit
# in prepared transactions, one to be committed, one rolled back after
# recovery.  Each session keeps its own customers, so the load does not
# queue behind their row locks.
$node->safe_psql('postgres', 'SELECT pay(900, 100)');
my $uncommitted = $node->background_psql('postgres');
$uncommitted->query_safe(q{BEGIN; SELECT pay(900, 700); SELECT pay(901, 900); SELECT pay(901, 50)});
$node->safe_psql('postgres', q{
	BEGIN; SELECT pay(902, 300); SELECT pay(902, 20); PREPARE TRANSACTION 'pay_902';
	BEGIN; SELECT pay(903, 400); PREPARE TRANSACTION 'pay_903';
});

my ($h, $out, $err) = start_load();
$node->poll_query_until('postgres', 'SELECT count(*) >= 1500 AND (SELECT count(*) > 0 FROM refused) FROM payments')
  or die 'the load did not start';
my $before_crash = $node->safe_psql('postgres', 'SELECT count(*) FROM payments');
$node->stop('immediate');
load_stopped('immediate shutdown', $h, $out, $err);
eval { $uncommitted->quit; };
$node->start;

my ($paid, $refused, $max) = split /\|/, $node->safe_psql('postgres',
	'SELECT (SELECT count(*) FROM payments), (SELECT count(*) FROM refused), (SELECT max(amount) FROM payments)');
ok($paid >= $before_crash, "payments committed before the crash survived ($paid committed, $before_crash seen before the crash)");
ok($refused > 0, "some payments were refused ($refused)");
ok($max <= $single_limit, "no committed payment exceeds the single-payment limit (max $max)");
is($node->safe_psql('postgres', 'SELECT count(*) FROM refused WHERE amount <= ' . $single_limit), '0',
	'every refusal was of a payment above the single-payment limit');
is($node->safe_psql('postgres',
		q{SELECT string_agg(subject || '=' || life_amount || '/' || life_count, ',' ORDER BY subject)
		    FROM finsec.limit_usage WHERE subject IN ('900', '901', '902', '903')}),
	'900=100/1', 'the uncommitted payments (900, 901) and the prepared ones (902, 903) are not in usage');
check_usage('after an immediate shutdown');

# The prepared transactions survived the crash, holding their payments.
is($node->safe_psql('postgres', 'SELECT string_agg(gid, \',\' ORDER BY gid) FROM pg_prepared_xacts'),
	'pay_902,pay_903', 'the prepared payments survived the crash');
$node->safe_psql('postgres', q{COMMIT PREPARED 'pay_902'; ROLLBACK PREPARED 'pay_903'});
is($node->safe_psql('postgres',
		q{SELECT string_agg(subject || '=' || life_amount || '/' || life_count, ',' ORDER BY subject)
		    FROM finsec.limit_usage WHERE subject IN ('900', '901', '902', '903')}),
	'900=100/1,902=320/2', 'a committed prepared payment counts once, a rolled back one not at all');
check_usage('after COMMIT PREPARED and ROLLBACK PREPARED');
check_rebuild('after an immediate shutdown');
check_enforced('after an immediate shutdown');

# ---------------------------------------------------------------------
# Round 2: kill -9 of a paying backend; the postmaster kills every session
# and recovers.  The load now adds to usage recovered from the WAL.
# ---------------------------------------------------------------------
$uncommitted = $node->background_psql('postgres');
$uncommitted->query_safe(q{BEGIN; SELECT pay(910, 1000); SELECT pay(900, 3000)});
($h, $out, $err) = start_load();
$node->poll_query_until('postgres', "SELECT count(*) >= $paid + 1500 FROM payments")
  or die 'the second load did not start';
my $victim = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE application_name = 'limits_load' AND state <> 'idle' ORDER BY pid LIMIT 1});
$victim ||= $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE application_name = 'limits_load' ORDER BY pid LIMIT 1});
ok($victim, "a pgbench backend to kill ($victim)");
$before_crash = $node->safe_psql('postgres', 'SELECT count(*) FROM payments');
kill 'KILL', $victim;
load_stopped('kill -9 of a backend', $h, $out, $err);
eval { $uncommitted->quit; };
$node->poll_query_until('postgres', 'SELECT true') or die 'the server did not recover';
ok($node->log_contains(qr/server process \(PID $victim\) was terminated by signal 9/),
	'the backend was killed with signal 9 and the server restarted');
my $paid2 = $node->safe_psql('postgres', 'SELECT count(*) FROM payments');
ok($paid2 >= $before_crash && $paid2 > $paid,
	"the second load committed payments ($paid2 in all) and they survived");
is($node->safe_psql('postgres',
		q{SELECT string_agg(subject || '=' || life_amount || '/' || life_count, ',' ORDER BY subject)
		    FROM finsec.limit_usage WHERE subject IN ('900', '902', '910')}),
	'900=100/1,902=320/2', 'the payments uncommitted at the kill (900, 910) are not in usage');
check_usage('after kill -9 of a backend');
check_rebuild('after kill -9 of a backend');
check_enforced('after kill -9 of a backend');

$node->stop;
done_testing();
