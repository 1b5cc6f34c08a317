# Limit usage through a standby's promotion (finsec 1.4, docs/limits.md
# "Usage: a cache of the payments table").
#
# The primary's usage lives in its shared memory and, every
# finsec.limit_flush_every payments of a payer, in the roll-up; neither
# is what a standby reads.  On the standby the view finsec.limit_usage
# recomputes usage from the replicated roll-up and payments (read-only),
# and after the promotion the new primary's first payment of each payer
# recomputes it the same way: to the cent, refusals included, with some
# payers rolled up and some not, a refund, and a payment whose transaction
# was still open when the primary stopped.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $primary = finsec_node('lim_primary', init => { allows_streaming => 1 });
$primary->safe_psql('postgres', q{
	CREATE EXTENSION finsec;
	CREATE TABLE pay (id bigserial PRIMARY KEY, payer text NOT NULL, amount numeric NOT NULL,
					  kind text NOT NULL DEFAULT 'payment', posted_at timestamptz, orig bigint);
	CREATE INDEX ON pay (payer, posted_at);
	SELECT finsec.enable_limits('pay', customer => 'payer', amount => 'amount', kind => 'kind',
		posted_at => 'posted_at', payment_id => 'id', reversal_of => 'orig', reversal_kinds => '{refund}');
	INSERT INTO finsec.limit_policy (name, relid, period, max_amount) VALUES ('day', 'pay', 'day', 1000);
});
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('lim_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# a1: rolled up every 3 payments (7 payments: a roll-up and one after it);
# a2: never rolled up; a3: a refund.
$primary->safe_psql('postgres', q{
	SET finsec.limit_flush_every = 3;
	INSERT INTO pay (payer, amount) VALUES ('a1', 100);
	INSERT INTO pay (payer, amount) VALUES ('a1', 100);
	INSERT INTO pay (payer, amount) VALUES ('a1', 100);
	INSERT INTO pay (payer, amount) VALUES ('a1', 100);
	INSERT INTO pay (payer, amount) VALUES ('a1', 100);
	INSERT INTO pay (payer, amount) VALUES ('a1', 100);
	INSERT INTO pay (payer, amount) VALUES ('a1', 50);
	RESET finsec.limit_flush_every;
	INSERT INTO pay (payer, amount) VALUES ('a2', 900);
	INSERT INTO pay (payer, amount) VALUES ('a3', 1000);
	INSERT INTO pay (payer, amount, kind, orig) VALUES ('a3', 400, 'refund', (SELECT id FROM pay WHERE payer = 'a3'));
});
is($primary->safe_psql('postgres',
		q{SELECT string_agg(subject || ':' || (flushed_at IS NOT NULL), ',' ORDER BY subject) FROM finsec.limit_usage_flushed}),
	'a1:true', 'the primary rolled up a1 only');
# A payment open when the primary stops: never committed, never counted.
my $open = $primary->background_psql('postgres');
$open->query_safe(q{BEGIN; INSERT INTO pay (payer, amount) VALUES ('a2', 100)});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

my $usage = q{SELECT string_agg(subject || ' ' || day_amount || ' ' || day_count, ', ' ORDER BY subject)
				FROM finsec.limit_usage WHERE bucket = ''};
my $expected = 'a1 650 7, a2 900 1, a3 600 1';
is($primary->safe_psql('postgres', $usage), $expected, 'primary: usage from its cache');
is($standby->safe_psql('postgres', $usage), $expected, 'standby: the same usage, recomputed read-only');
is($standby->safe_psql('postgres', 'SELECT entries FROM finsec.limit_cache()'), '0',
	'standby: nothing cached (no payment runs there)');

$primary->stop('immediate');
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()');
is($standby->safe_psql('postgres', $usage), $expected, 'promoted: the usage, without the open payment');

# Each payer's remaining allowance, to the cent, then not one cent more.
for my $p ([ 'a1', 350 ], [ 'a2', 100 ], [ 'a3', 400 ])
{
	my ($payer, $left) = @$p;
	my ($ret, $out, $err) = $standby->psql('postgres', "INSERT INTO pay (payer, amount) VALUES ('$payer', $left + 0.01)");
	like($err, qr/Remaining allowance today: $left(?:\.00)? of 1000/, "promoted: $payer is refused above $left");
	is($standby->safe_psql('postgres', "INSERT INTO pay (payer, amount) VALUES ('$payer', $left) RETURNING amount"),
		$left, "promoted: $payer pays exactly $left");
	($ret, $out, $err) = $standby->psql('postgres', "INSERT INTO pay (payer, amount) VALUES ('$payer', 0.01)");
	like($err, qr/exceeds the daily limit "day"/, "promoted: and $payer then not one cent more");
}
cmp_ok($standby->safe_psql('postgres', 'SELECT misses FROM finsec.limit_cache()'), '>=', 3,
	'promoted: each payer was recomputed once (cache misses)');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM pay p
	 WHERE posted_at <= (SELECT max(posted_at) FROM pay q WHERE q.payer = p.payer AND q.id < p.id)}), '0',
	'stamps stay monotonic per payer across the promotion');

done_testing();
