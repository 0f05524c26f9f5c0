-- Training reads a plain table straight from its heap (dataset_scan.c) and
-- anything else through SQL.  Both must read the same rows in the same
-- order: a table and a view over it give the same model, to the bit;
-- inheritance children and row level security are honoured.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

-- 200 users in 4 clusters over 40 items, with rows the query skips (NULL
-- user, item or time), ids past the direct lookup table (1,048,576) and
-- negative ones, and repeated events
CREATE TABLE scan_events (user_id int, item_id bigint, ts bigint);
INSERT INTO scan_events
SELECT CASE WHEN u % 50 = 0 THEN -u WHEN u % 30 = 0 THEN 2000000000 + u ELSE u END,
	   CASE WHEN (u + j) % 13 = 0 THEN 5000000000 + (u % 4) ELSE (u % 4) * 10 + (u * 3 + j * j) % 10 END,
	   1700000000 + u * 100 + j
  FROM generate_series(1, 200) u, generate_series(1, 12) j;
INSERT INTO scan_events VALUES (NULL, 1, 1700000000), (1, NULL, 1700000000), (1, 1, NULL);
INSERT INTO scan_events SELECT user_id, item_id, ts + 1 FROM scan_events WHERE user_id % 7 = 0;
CREATE VIEW scan_events_view AS SELECT * FROM scan_events;
-- the same with a timestamptz time and smallint items
CREATE TABLE scan_events_tz (user_id bigint, item_id smallint, ts timestamptz);
INSERT INTO scan_events_tz
SELECT user_id, (item_id % 1000)::smallint, to_timestamp(ts + 0.25) FROM scan_events;
INSERT INTO scan_events_tz VALUES (3, 1, 'infinity'), (4, 2, '-infinity');
CREATE VIEW scan_events_tz_view AS SELECT * FROM scan_events_tz;

SELECT personalize.create_dataset_group(g) FROM unnest(ARRAY['scan-table', 'scan-view', 'scan-tz', 'scan-tz-view']) g;
SELECT personalize.create_dataset('scan-table', 'interactions', 'scan_events', event_time => 'ts');
SELECT personalize.create_dataset('scan-view', 'interactions', 'scan_events_view', event_time => 'ts');
SELECT personalize.create_dataset('scan-tz', 'interactions', 'scan_events_tz', event_time => 'ts');
SELECT personalize.create_dataset('scan-tz-view', 'interactions', 'scan_events_tz_view', event_time => 'ts');
SELECT personalize.create_solution(g, g, 'user-personalization', '{"factors": 8, "iterations": 4}')
  FROM unnest(ARRAY['scan-table', 'scan-view', 'scan-tz', 'scan-tz-view']) g;
CREATE TEMP TABLE scan_runs AS
SELECT g AS solution, personalize.create_solution_version(g) AS version
  FROM unnest(ARRAY['scan-table', 'scan-view', 'scan-tz', 'scan-tz-view']) g;

-- each table and its view: the same interactions, metrics and factors
SELECT t.solution, v.interactions, t.interactions = v.interactions AS same_interactions,
	   t.users = v.users AND t.items = v.items AS same_ids, t.metrics = v.metrics AS same_metrics,
	   (t.metrics->>'evaluated_users')::int > 0 AS evaluated
  FROM scan_runs rt JOIN personalize.solution_versions t ON t.id = rt.version
  JOIN scan_runs rv ON rv.solution = CASE rt.solution WHEN 'scan-table' THEN 'scan-view' ELSE 'scan-tz-view' END
  JOIN personalize.solution_versions v ON v.id = rv.version
 WHERE rt.solution IN ('scan-table', 'scan-tz') ORDER BY 1;
SELECT rt.solution, count(*) AS items, count(*) FILTER (WHERE a.factors IS DISTINCT FROM b.factors) AS differing
  FROM scan_runs rt JOIN personalize.model_item a ON a.solution_version = rt.version
  JOIN scan_runs rv ON rv.solution = CASE rt.solution WHEN 'scan-table' THEN 'scan-view' ELSE 'scan-tz-view' END
  JOIN personalize.model_item b ON b.solution_version = rv.version AND b.item_id = a.item_id
 WHERE rt.solution IN ('scan-table', 'scan-tz') GROUP BY 1 ORDER BY 1;
-- the ids are the type's text, as through SQL
SELECT count(*) FILTER (WHERE item_id LIKE '5000000000%') AS large, count(*) AS items
  FROM personalize.model_item WHERE solution_version = (SELECT version FROM scan_runs WHERE solution = 'scan-table');

-- an inheritance child's rows are the parent's too
CREATE TABLE scan_events_more () INHERITS (scan_events);
INSERT INTO scan_events_more SELECT u, 99, 1800000000 + u FROM generate_series(1, 30) u;
SELECT personalize.create_solution('scan-pop', 'scan-table', 'popularity-count');
SELECT personalize.create_solution_version('scan-pop') AS scan_v \gset
SELECT interactions, interactions = (SELECT count(*) FROM scan_events WHERE user_id IS NOT NULL AND item_id IS NOT NULL AND ts IS NOT NULL) AS all_rows,
	   (SELECT count(*) FROM personalize.model_item WHERE solution_version = :scan_v AND item_id = '99') AS child_item
  FROM personalize.solution_versions WHERE id = :scan_v;
DROP TABLE scan_events_more;

-- row level security: a role reads only the rows its policy shows it
CREATE ROLE personalize_regress_scan NOLOGIN;
GRANT SELECT ON scan_events TO personalize_regress_scan;
GRANT EXECUTE ON FUNCTION personalize.create_solution_version(text, text, boolean) TO personalize_regress_scan;
GRANT ALL ON ALL TABLES IN SCHEMA personalize TO personalize_regress_scan;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA personalize TO personalize_regress_scan;
UPDATE personalize.solution SET owner = 'personalize_regress_scan' WHERE name = 'scan-pop';
ALTER TABLE scan_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY scan_low_items ON scan_events FOR SELECT TO personalize_regress_scan USING (item_id < 20);
SET ROLE personalize_regress_scan;
SELECT personalize.create_solution_version('scan-pop') AS scan_v \gset
RESET ROLE;
SELECT interactions, interactions = (SELECT count(*) FROM scan_events WHERE item_id < 20 AND user_id IS NOT NULL AND ts IS NOT NULL) AS visible_rows,
	   (SELECT max(item_id::bigint) FROM personalize.model_item WHERE solution_version = :scan_v) AS max_item
  FROM personalize.solution_versions WHERE id = :scan_v;
-- without SELECT on the table, no training
REVOKE SELECT ON scan_events FROM personalize_regress_scan;
SET ROLE personalize_regress_scan;
SELECT personalize.create_solution_version('scan-pop');
RESET ROLE;

SELECT personalize.drop_dataset_group(g, cascade => true) FROM unnest(ARRAY['scan-table', 'scan-view', 'scan-tz', 'scan-tz-view']) g;
REVOKE ALL ON ALL TABLES IN SCHEMA personalize FROM personalize_regress_scan;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA personalize FROM personalize_regress_scan;
REVOKE ALL ON FUNCTION personalize.create_solution_version(text, text, boolean) FROM personalize_regress_scan;
DROP VIEW scan_events_view, scan_events_tz_view;
DROP TABLE scan_events, scan_events_tz;
DROP ROLE personalize_regress_scan;
