# FinsecMonitorTest: helpers of the transaction monitor's TAP tests
# (test/t/110_monitor_worker.pl, 111_monitor_crash.pl, 112_monitor_failover.pl).
#
#   monitor_conf($node, interval => '100ms', batch_rows => 200)
#                                 monitor settings in postgresql.conf
#   monitor_setup($node, $db)     table payments (id, customer, amount,
#                                 posted_at) registered with
#                                 finsec.enable_monitoring (reference = id),
#                                 two administrators, and the rule test_big
#                                 (kind threshold, customer, 1000 CNY) set
#                                 and approved by two of them
#   monitor_mismatch($node, $db)  '' when every committed payment has exactly
#                                 one monitor event and every event a
#                                 payment; else the first offenders
#   alert_mismatch($node, $db)    '' when the alerts of test_big are exactly
#                                 one per customer and day with a payment of
#                                 1000 or more, each covering exactly those
#                                 payments' events; else the differences
#   monitor_caught_up($node, $db) poll until every payment has an event
#   monitor_pid($node, $db)       the pid of the worker running monitor.round
#   stream_scripts($node)         pgbench scripts: small payments of 200
#                                 customers, large ones (planted) of
#                                 big1..big20, and rolled-back large ones of
#                                 ghost1..ghost20 (never committed)
#   start_stream($node, $db, @pgbench_args)
#                                 pgbench running them in the background
#                                 (application_name monitor_load): returns
#                                 the IPC::Run harness and refs to its output
package FinsecMonitorTest;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Utils;

our @EXPORT = qw(monitor_conf monitor_setup monitor_mismatch alert_mismatch
  monitor_caught_up monitor_pid stream_scripts start_stream);

sub monitor_conf
{
	my ($node, %o) = @_;
	$node->append_conf('postgresql.conf',
		  "finsec.monitor_interval = '" . ($o{interval} // '100ms') . "'\n"
		. 'finsec.monitor_batch_rows = ' . ($o{batch_rows} // 200) . "\n"
		. "restart_after_crash = on\n");
	return;
}

sub monitor_setup
{
	my ($node, $db) = @_;
	$node->safe_psql($db, q{
		CREATE EXTENSION IF NOT EXISTS finsec;
		CREATE TABLE payments (id bigserial PRIMARY KEY, customer text NOT NULL,
		                       amount numeric NOT NULL, posted_at timestamptz NOT NULL DEFAULT now());
		SELECT finsec.enable_monitoring('payments', customer => 'customer', amount => 'amount',
		                                posted_at => 'posted_at', reference => 'id');
		SET client_min_messages = warning;
		CREATE ROLE mon_alice LOGIN IN ROLE finsec_admin;
		CREATE ROLE mon_bob LOGIN IN ROLE finsec_admin;
	});
	my $req = $node->safe_psql($db, q{
		SET SESSION AUTHORIZATION mon_alice;
		SELECT finsec.request_change('monitor.rule_set', 'test_big',
			'{"kind": "threshold", "entity": "customer", "params": {"min_amount_cny": 1000}}');
	});
	$node->safe_psql($db, "SET SESSION AUTHORIZATION mon_bob; SELECT finsec.approve($req)");
	return;
}

sub monitor_mismatch
{
	my ($node, $db) = @_;
	return $node->safe_psql($db, q{
		WITH e AS (
			SELECT reference, count(*) AS n FROM finsec.monitor_event
			 WHERE table_id = (SELECT table_id FROM finsec.monitor_table WHERE relid = 'payments'::regclass)
			 GROUP BY reference
		), bad AS (
			SELECT coalesce(p.id::text, 'no payment ' || e.reference) AS what, coalesce(e.n, 0) AS n
			  FROM payments p FULL JOIN e ON e.reference = p.id::text
			 WHERE e.n IS DISTINCT FROM 1
		)
		SELECT (SELECT count(*) FROM bad) || ' payments without exactly one event: '
		       || string_agg(what || ' has ' || n, ', ')
		  FROM (SELECT * FROM bad ORDER BY what LIMIT 10) b
	});
}

sub alert_mismatch
{
	my ($node, $db) = @_;
	return $node->safe_psql($db, q{
		WITH planted AS (
			SELECT p.customer AS entity, finsec._monitor_day(p.posted_at)::text AS period,
			       array_agg(e.event_id ORDER BY e.event_id) AS events
			  FROM payments p
			  LEFT JOIN finsec.monitor_event e
			    ON e.reference = p.id::text
			   AND e.table_id = (SELECT table_id FROM finsec.monitor_table WHERE relid = 'payments'::regclass)
			 WHERE p.amount >= 1000
			 GROUP BY 1, 2
		), raised AS (
			SELECT entity, period, array(SELECT DISTINCT u FROM unnest(events) u ORDER BY u) AS events,
			       cardinality(events) AS n
			  FROM finsec.alert WHERE rule_name = 'test_big'
		), diff AS (
			SELECT coalesce(p.entity, r.entity) AS entity, coalesce(p.period, r.period) AS period,
			       p.events IS NOT NULL AS planted, r.events IS NOT NULL AS raised,
			       array(SELECT unnest(p.events) EXCEPT SELECT unnest(r.events)) AS missing,
			       array(SELECT unnest(r.events) EXCEPT SELECT unnest(p.events)) AS extra,
			       r.n - cardinality(r.events) AS repeated,
			       (SELECT count(*) FROM raised r2 WHERE r2.entity = r.entity AND r2.period = r.period) AS alerts
			  FROM planted p FULL JOIN raised r USING (entity, period)
		)
		SELECT string_agg(format('%s %s: planted %s, %s alerts, events missing %s, extra %s, repeated %s',
		                         entity, period, planted, alerts, missing, extra, repeated), E'\n' ORDER BY entity, period)
		  FROM diff
		 WHERE NOT planted OR NOT raised OR missing <> '{}' OR extra <> '{}' OR repeated <> 0 OR alerts <> 1
	});
}

sub monitor_caught_up
{
	my ($node, $db, $extra) = @_;
	return $node->poll_query_until($db, q{
		SELECT NOT EXISTS (
			SELECT FROM payments p
			 WHERE NOT EXISTS (SELECT FROM finsec.monitor_event e WHERE e.reference = p.id::text))
	} . ($extra // ''));
}

sub monitor_pid
{
	my ($node, $db) = @_;
	return $node->safe_psql($db,
		"SELECT worker_pid FROM finsec.worker_tasks() WHERE database = '$db' AND task = 'monitor.round'");
}

sub stream_scripts
{
	my ($node) = @_;
	my $dir = $node->basedir;
	my %f = (
		pay => q{
\set c random(1, 200)
\set b random(1, 20)
\set a random(1, 999)
\set big 1000 + random(0, 4000)
\if random(1, 11) = 1
INSERT INTO payments (customer, amount) VALUES ('big' || :b, :big);
\else
INSERT INTO payments (customer, amount) VALUES ('c' || :c, :a);
\endif
},
		two => q{
\set c random(1, 200)
\set d random(1, 200)
\set a random(1, 999)
BEGIN;
INSERT INTO payments (customer, amount) VALUES ('c' || :c, :a);
INSERT INTO payments (customer, amount) VALUES ('c' || :d, 999.99);
END;
},
		ghost => q{
\set b random(1, 20)
BEGIN;
INSERT INTO payments (customer, amount) VALUES ('ghost' || :b, 50000);
ROLLBACK;
});
	my @args;
	my %w = (pay => 11, two => 3, ghost => 1);
	for my $k (sort keys %f)
	{
		my $file = "$dir/stream_$k.sql";
		unlink $file;
		append_to_file($file, $f{$k});
		push @args, '-f', "$file\@$w{$k}";
	}
	return @args;
}

sub start_stream
{
	my ($node, $db, @args) = @_;
	my ($o, $e) = ('', '');
	my ($out, $err) = (\$o, \$e);
	local $ENV{PGAPPNAME} = 'monitor_load';
	my $h = IPC::Run::start(
		[ 'pgbench', '-n', @args, stream_scripts($node),
		  '-h', $node->host, '-p', $node->port, $db ],
		'>', $out, '2>', $err);
	return ($h, $out, $err);
}

1;
