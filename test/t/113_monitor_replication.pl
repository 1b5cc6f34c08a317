# Replication rules of the monitor (section 5, docs/monitor.md):
# a primary with a streaming standby on a physical slot.  Replay paused on
# the standby while the primary writes raises the lag alert (replay lag
# above the rule's RPO); a stopped standby raises the no-standby alert and
# its slot, inactive and retaining WAL, the slot alert; alerts are
# deduplicated across rounds driven by finsec.monitor_now().  What a rule
# would raise is also read straight from its evaluator, to poll on.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $primary = finsec_node('svc_primary', init => { allows_streaming => 1 });
$primary->safe_psql('postgres', q{
	CREATE EXTENSION finsec;
	SELECT pg_create_physical_replication_slot('svc_slot', true);
	CREATE TABLE filler (i int, pad text);
	-- The shipped rules, tightened for the test (written directly here; in
	-- operation a rule changes by two-person approval).
	UPDATE finsec.monitor_rule
	   SET params = params || '{"min_standbys": 1, "rpo": "2 seconds"}'
	 WHERE rule_name = 'service.replication' AND state = 'active';
	UPDATE finsec.monitor_rule
	   SET params = params || '{"max_retained_bytes": 20000000, "inactive": true}'
	 WHERE rule_name = 'service.replication_slot' AND state = 'active';
	-- What a rule raises this round, measured by its evaluator.
	CREATE FUNCTION hits(rule text) RETURNS text LANGUAGE sql AS $$
		SELECT coalesce(string_agg(h.entity || ':' || (h.detail->>'check'), ',' ORDER BY h.entity), '')
		  FROM finsec.monitor_rule r, finsec._monitor_eval_service(r, NULL, NULL) h
		 WHERE r.rule_name = rule AND r.state = 'active' $$;
	-- Write some WAL (the standby answers every receipt) and measure.
	CREATE FUNCTION write_and_hits(rule text) RETURNS text LANGUAGE sql AS $$
		INSERT INTO filler SELECT g, repeat('x', 100) FROM generate_series(1, 200) g;
		SELECT hits(rule) $$;
});
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('svc_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf', "primary_slot_name = 'svc_slot'\nwal_receiver_status_interval = '1s'");
$standby->start;
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

sub round_ { $primary->safe_psql('postgres', 'SELECT count(*) FROM finsec.monitor_now()'); }
sub alerts
{
	my ($rule) = @_;
	return $primary->safe_psql('postgres', qq{
		SELECT coalesce(string_agg(entity || '/' || hits, ',' ORDER BY entity), '')
		  FROM (SELECT entity, sum(hits) AS hits, count(*) AS n FROM finsec.alert
				 WHERE rule_name = '$rule' AND state <> 'closed' GROUP BY entity) a});
}

# A healthy standby: nothing raised.
is($primary->safe_psql('postgres', "SELECT hits('service.replication') || '|' || hits('service.replication_slot')"),
	'|', 'a streaming standby that keeps up raises nothing');
is($primary->safe_psql('postgres', q{
	SELECT entity || ' ' || breached FROM finsec.monitor_service_status()
	 WHERE rule_name = 'service.replication' ORDER BY entity}),
	"* false\nsvc_standby false", 'status shows the standby count and the standby, not breached');

# Replay paused on the standby while the primary writes: the replay lag
# grows past the 2-second RPO.
$standby->safe_psql('postgres', 'SELECT pg_wal_replay_pause()');
$standby->poll_query_until('postgres', "SELECT pg_get_wal_replay_pause_state() = 'paused'")
  or die 'replay not paused';
ok($primary->poll_query_until('postgres', "SELECT write_and_hits('service.replication')", 'svc_standby:lag'),
	'replay paused: the replay lag above the RPO is a hit on the standby');
my $detail = $primary->safe_psql('postgres', q{
	SELECT (h.detail->>'replay_lag_s')::numeric > 2, (h.detail->>'rpo_s')::numeric::int, h.detail->>'state',
		   (h.detail->>'replay_behind_bytes')::numeric > 0, h.period = finsec._monitor_day(now())::text
	  FROM finsec.monitor_rule r, finsec._monitor_eval_service(r, NULL, NULL) h
	 WHERE r.rule_name = 'service.replication' AND r.state = 'active'});
is($detail, "t|2|streaming|t|t", 'its detail: lag above 2 s, still streaming, WAL not replayed, period the local day');
is($primary->safe_psql('postgres', "SELECT hits('service.replication_slot')"), '',
	'the slot follows the flushed position: it retains nothing to speak of');

round_();
round_();
round_();
like(alerts('service.replication'), qr{^svc_standby/[3-9]$}, 'three rounds: one lag alert, extended by each round');
is($primary->safe_psql('postgres', q{
	SELECT count(*) || ' ' || min(detail->>'check') || ' ' || min(severity) || ' ' || min(category)
	  FROM finsec.alert WHERE rule_name = 'service.replication' AND entity_type = 'standby'}),
	'1 lag high service_quality', 'deduplicated: one alert row, its detail the lag check');

$standby->safe_psql('postgres', 'SELECT pg_wal_replay_resume()');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
ok($primary->poll_query_until('postgres', "SELECT write_and_hits('service.replication')", ''),
	'replay resumed: the lag hit goes away');

# The standby stops: no standby streams (min_standbys 1) and its slot is inactive.
$standby->stop;
ok($primary->poll_query_until('postgres', "SELECT hits('service.replication')", '*:standbys'),
	'a stopped standby: the no-standby hit');
is($primary->safe_psql('postgres', "SELECT hits('service.replication_slot')"), 'svc_slot:slot',
	'and its slot, inactive, is a hit');
is($primary->safe_psql('postgres', q{
	SELECT h.value < 20000000, h.detail->>'active'
	  FROM finsec.monitor_rule r, finsec._monitor_eval_service(r, NULL, NULL) h
	 WHERE r.rule_name = 'service.replication_slot' AND r.state = 'active'}),
	't|false', 'retaining less than max_retained_bytes so far');
# WAL beyond 20 MB written while the slot holds it.
$primary->safe_psql('postgres', q{
	INSERT INTO filler SELECT g, repeat('y', 200) FROM generate_series(1, 100000) g;
	SELECT pg_switch_wal();
	INSERT INTO filler SELECT g, repeat('z', 200) FROM generate_series(1, 10) g;
	CHECKPOINT;});
is($primary->safe_psql('postgres', q{
	SELECT h.value > 20000000, h.value = (h.detail->>'retained_bytes')::numeric
	  FROM finsec.monitor_rule r, finsec._monitor_eval_service(r, NULL, NULL) h
	 WHERE r.rule_name = 'service.replication_slot' AND r.state = 'active'}),
	't|t', 'the slot now retains more WAL than max_retained_bytes');
$primary->safe_psql('postgres', q{
	UPDATE finsec.monitor_rule SET params = params || '{"inactive": false}'
	 WHERE rule_name = 'service.replication_slot' AND state = 'active'});
is($primary->safe_psql('postgres', "SELECT hits('service.replication_slot')"), 'svc_slot:slot',
	'a hit by the retained WAL alone (inactive alerts off)');
$primary->safe_psql('postgres', q{
	UPDATE finsec.monitor_rule SET params = params || '{"max_retained_bytes": 1e12}'
	 WHERE rule_name = 'service.replication_slot' AND state = 'active'});
is($primary->safe_psql('postgres', "SELECT hits('service.replication_slot')"), '',
	'and none below a larger max_retained_bytes');
$primary->safe_psql('postgres', q{
	UPDATE finsec.monitor_rule SET params = params || '{"max_retained_bytes": 20000000, "inactive": true}'
	 WHERE rule_name = 'service.replication_slot' AND state = 'active'});

round_();
round_();
like(alerts('service.replication'), qr{^\*/[2-9],svc_standby/[3-9]$}, 'rounds: the no-standby alert, extended');
like(alerts('service.replication_slot'), qr{^svc_slot/[2-9]$}, 'and one slot alert, extended');
is($primary->safe_psql('postgres', q{
	SELECT count(*) FROM finsec.alert WHERE rule_name LIKE 'service.replication%' GROUP BY rule_name, entity HAVING count(*) > 1}),
	'', 'no duplicate alert');

# The standby is back: the no-standby and the slot hits go away.
$standby->start;
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
ok($primary->poll_query_until('postgres', "SELECT hits('service.replication') || '|' || hits('service.replication_slot')", '|'),
	'the standby back and caught up: nothing raised');

$standby->stop;
$primary->stop;
done_testing();
