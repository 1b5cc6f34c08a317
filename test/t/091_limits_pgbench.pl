# Adversarial pgbench against one customer's daily limit: 16 clients pay
# random amounts for the same customer, together many times the limit,
# under READ COMMITTED, REPEATABLE READ and SERIALIZABLE (the last two with
# pgbench retrying serialization failures and deadlocks).  At every level
# the committed total stays within the limit yet reaches it (what remains
# is less than the largest payment), finsec.limit_usage equals the
# committed sum and count exactly, payments were refused, every pgbench
# transaction is accounted for as a payment or a refusal, and no deadlock
# occurred.  (Run across midnight in finsec.limit_timezone, the day's
# payments would legitimately split over two usage days and fail the
# checks; the test takes a few seconds.)
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('limbench');
$node->safe_psql('postgres', q{
	CREATE EXTENSION finsec;
	CREATE TABLE refused (level text, amount numeric, sqlstate text, isolation text);
});

my $limit = 200000;
my $max_amount = 5000;
my ($clients, $threads, $per_client) = (16, 4, 100);
my $total = $clients * $per_client;

for my $level ('read committed', 'repeatable read', 'serializable')
{
	(my $t = "pay_$level") =~ s/ /_/g;
	$node->safe_psql('postgres', qq{
		CREATE TABLE $t (id bigserial PRIMARY KEY, customer_id int NOT NULL,
		                 amount numeric NOT NULL, posted_at timestamptz);
		SELECT finsec.enable_limits('$t', customer => 'customer_id', amount => 'amount',
		                            posted_at => 'posted_at');
		INSERT INTO finsec.limit_policy (name, relid, period, max_amount)
		VALUES ('$t day', '$t', 'day', $limit);
		-- A refusal rolls back the payment only and is recorded, so that
		-- the pgbench client carries on.
		CREATE FUNCTION try_$t(a numeric) RETURNS boolean LANGUAGE plpgsql AS \$\$
		BEGIN
			INSERT INTO $t (customer_id, amount) VALUES (1, a);
			RETURN true;
		EXCEPTION WHEN SQLSTATE 'S9L01' OR SQLSTATE 'S9L02' THEN
			INSERT INTO refused VALUES ('$level', a, SQLSTATE, current_setting('transaction_isolation'));
			RETURN false;
		END
		\$\$;
	});
	my $script = $node->basedir . "/$t.sql";
	append_to_file($script, "\\set a random(1, $max_amount)\nSELECT try_$t(:a);\n");

	my $is_rc = $level eq 'read committed';
	my @cmd = ('pgbench', '-n', '-c', $clients, '-j', $threads, '-t', $per_client,
		($is_rc ? () : ('--max-tries=100000')), '-f', $script,
		'-h', $node->host, '-p', $node->port, 'postgres');
	my ($out, $err) = ('', '');
	my $start = time;
	my $ok = do {
		(my $opt = $level) =~ s/ /\\ /g;
		local $ENV{PGOPTIONS} = "-c default_transaction_isolation=$opt";
		IPC::Run::run(\@cmd, '>', \$out, '2>', \$err);
	};
	note "$level: pgbench ran " . (time - $start) . " s\n$out\n$err";
	ok($ok, "$level: pgbench ran to the end") or diag($err);
	my ($processed) = $out =~ /number of transactions actually processed: (\d+)\/\d+/;
	my ($failed) = $out =~ /number of failed transactions: (\d+)/;
	my ($retried) = $out =~ /number of transactions retried: (\d+)/;
	$failed //= 0;
	$retried //= 0;
	is($processed, $total, "$level: all $total pgbench transactions completed");
	is($failed, 0, "$level: no transaction failed for good");

	my ($paid, $count, $refusals, $other, $usage, $ucount, $seen_level) = split /\|/,
	  $node->safe_psql('postgres', qq{
		SELECT (SELECT coalesce(sum(amount), 0) FROM $t), (SELECT count(*) FROM $t),
		       (SELECT count(*) FROM refused WHERE level = '$level' AND sqlstate = 'S9L01'),
		       (SELECT count(*) FROM refused WHERE level = '$level' AND sqlstate <> 'S9L01'),
		       (SELECT day_amount FROM finsec.limit_usage WHERE relid = '$t'::regclass AND subject = '1' AND bucket = ''),
		       (SELECT day_count FROM finsec.limit_usage WHERE relid = '$t'::regclass AND subject = '1' AND bucket = ''),
		       (SELECT count(*) FROM finsec.limit_usage WHERE relid = '$t'::regclass)});
	note "$level: $count payments, $paid paid, $refusals refused, $retried retried";
	ok($paid <= $limit, "$level: the committed total $paid is within the daily limit $limit");
	ok($limit - $paid < $max_amount,
		"$level: the limit was reached: what remains (" . ($limit - $paid) . ") is less than the largest payment");
	is("$usage $ucount", "$paid $count", "$level: usage equals the committed sum and count");
	is($seen_level, 1, "$level: one usage row for the one customer");
	ok($refusals > 0, "$level: payments over the limit were refused with S9L01 ($refusals)");
	is($other, 0, "$level: no other refusal (S9L02)");
	is($node->safe_psql('postgres', "SELECT string_agg(DISTINCT isolation, ',') FROM refused WHERE level = '$level'"),
		$level, "$level: the clients ran at that isolation level");
	is($count + $refusals, $total, "$level: every pgbench transaction is a committed payment or a refusal");
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM $t WHERE (posted_at AT TIME ZONE current_setting('finsec.limit_timezone'))::date
			    <> (SELECT day FROM finsec.limit_usage WHERE relid = '$t'::regclass)"), '0',
		"$level: every payment is posted on the usage row's day");
	ok($retried > 0, "$level: pgbench retried serialization failures ($retried)") unless $is_rc;
	is($retried, 0, "$level: nothing needed a retry") if $is_rc;

	# rebuild_limit_usage() agrees with the trigger's totals.
	my $q = "SELECT day_amount || ' ' || day_count || ' ' || life_amount || ' ' || life_count
	           FROM finsec.limit_usage WHERE relid = '$t'::regclass";
	my $before = $node->safe_psql('postgres', $q);
	$node->safe_psql('postgres', "SELECT finsec.rebuild_limit_usage('$t')");
	is($node->safe_psql('postgres', $q), $before, "$level: rebuild_limit_usage() yields the same usage");
}

ok(!$node->log_contains(qr/deadlock detected/), 'no deadlock at any level');
unlike(slurp_file($node->logfile), qr/(PANIC|TRAP:|server process .* was terminated|ERROR:  (?!payment exceeds the daily limit|could not serialize access))/,
	'the server logged no error other than refusals and serialization failures');

$node->stop;
done_testing();
