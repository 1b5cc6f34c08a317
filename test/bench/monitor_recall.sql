-- Recall report of the monitor benchmark (test/bench/monitor.sh), after
-- monitor_gen.sql and the monitor have run: psql -v tid=<table_id of pay>.
-- Per typology (and per large-value class/mode/direction, per cycle
-- depth): a plant is found when the alerts of its kind on its entities
-- (customers or accounts), taken together, cover every one of its units
-- (gen_unit: a core payment, or an internal transfer by either leg);
-- partial: some covered; entity only: flagged, none of its payments
-- covered.  Then alerts on background entities per 10,000 background
-- payments, per kind, and the alerts on plants of other typologies.
\set ON_ERROR_STOP on
\pset footer off
\echo ==== recall per typology
CREATE TEMP TABLE ev AS SELECT reference::bigint AS id, event_id FROM finsec.monitor_event WHERE table_id = :tid;
CREATE INDEX ON ev (id);
ANALYZE ev;
-- the events of every alert of a plant's kind on one of its entities
CREATE TEMP TABLE pa AS
SELECT p.plant, x AS event_id
  FROM gen_plant p JOIN finsec.alert a ON a.kind = p.kind AND a.entity = ANY (p.entities), unnest(a.events) x;
CREATE INDEX ON pa (plant, event_id);
ANALYZE pa;
CREATE TEMP TABLE pl AS
SELECT p.*, u.units, u.covered, EXISTS (SELECT FROM finsec.alert a WHERE a.kind = p.kind AND a.entity = ANY (p.entities)) AS flagged
  FROM gen_plant p,
	   LATERAL (SELECT count(DISTINCT g.unit) AS units,
					   count(DISTINCT g.unit) FILTER (WHERE EXISTS (SELECT FROM pa WHERE pa.plant = p.plant AND pa.event_id = e.event_id)) AS covered
				  FROM gen_unit g JOIN ev e ON e.id = g.id WHERE g.plant = p.plant) u;
CREATE TEMP TABLE res AS
SELECT kind, variant,
	   count(*) AS planted,
	   count(*) FILTER (WHERE covered = units AND units > 0) AS found,
	   count(*) FILTER (WHERE covered > 0 AND covered < units) AS partial,
	   count(*) FILTER (WHERE flagged AND covered = 0) AS entity_only
  FROM pl GROUP BY GROUPING SETS ((kind), (kind, variant))
 HAVING kind IN ('large_value', 'cycle') OR variant IS NULL;
SELECT format('%-20s %-26s %4s / %-4s %6s %%   partial %s, entity only %s', kind, coalesce(variant, 'all'), found, planted,
			  round(100.0 * found / planted, 1), partial, entity_only)
  FROM res ORDER BY kind, variant NULLS FIRST;
\echo ==== alerts on background traffic
CREATE TEMP TABLE plant_entity AS SELECT DISTINCT unnest(entities) AS entity FROM gen_plant;
CREATE TEMP TABLE bg AS SELECT count(*) AS n FROM gen_pay WHERE plant IS NULL;
SELECT format('%-20s %6s alerts on background entities = %8s per 10,000 background payments; %s more on plants of other typologies',
			  k.kind, count(a.alert_id) FILTER (WHERE pe.entity IS NULL),
			  round(10000.0 * count(a.alert_id) FILTER (WHERE pe.entity IS NULL) / (SELECT n FROM bg), 3),
			  count(a.alert_id) FILTER (WHERE pe.entity IS NOT NULL AND NOT EXISTS (
					SELECT FROM gen_plant g WHERE g.kind = a.kind AND a.entity = ANY (g.entities))))
  FROM finsec.monitor_rule_kind k LEFT JOIN finsec.alert a ON a.kind = k.kind
	   LEFT JOIN plant_entity pe ON pe.entity = a.entity
 WHERE k.scope = 'payment'
 GROUP BY k.kind ORDER BY k.kind;
SELECT format('(system and other alerts: %s)', coalesce(string_agg(kind || ' ' || n, ', '), 'none'))
  FROM (SELECT a.kind, count(*) n FROM finsec.alert a LEFT JOIN finsec.monitor_rule_kind k USING (kind)
		 WHERE k.scope IS DISTINCT FROM 'payment' GROUP BY a.kind) s;
