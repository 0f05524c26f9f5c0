-- Batch inference jobs: create_batch_inference_job here (wait => true) and
-- in a background worker, the jobs view, and errors.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
-- version ids appear in messages: number them from a base of this file's own
SELECT setval(pg_get_serial_sequence('personalize.solution_version', 'id'), 6000) IS NOT NULL AS numbered;
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

CREATE TABLE tracks (user_id int, item_id text, ts bigint);
INSERT INTO tracks SELECT u, 'c' || (u % 3) || ((u + j) % 10), u * 100 + j + 1
  FROM generate_series(1, 60) u, generate_series(0, 5) j;
CREATE TABLE listeners (id int);
INSERT INTO listeners VALUES (3), (4), (5), (999);
SELECT personalize.create_dataset_group('music');
SELECT personalize.create_dataset('music', 'interactions', 'tracks', event_time => 'ts');
SELECT personalize.create_solution('music-up', 'music', 'user-personalization', '{"factors": 8, "seed": 7}');
SELECT personalize.create_solution_version('music-up') AS up \gset
SELECT personalize.create_solution('music-sims', 'music', 'sims');
SELECT personalize.create_solution_version('music-sims') AS sims \gset
-- batch jobs rank by relevance: equal to a campaign that does not explore
SELECT personalize.create_campaign('music', :up, '{"exploration_weight": 0}');

-- here: the output matches recommend() row for row
SELECT personalize.create_batch_inference_job('nightly', :up, 'SELECT id FROM listeners', 'recs', 5, wait => true) AS job \gset
SELECT name, job_type, status, rows, output_table FROM personalize.jobs WHERE id = :job;
SELECT count(*) AS mismatches FROM (
	SELECT user_id, rank, item_id, score FROM recs
	EXCEPT
	SELECT l.id::text, r.rank::integer, r.item_id, r.score
	  FROM listeners l CROSS JOIN LATERAL personalize.recommend('music', l.id::text, 5) WITH ORDINALITY r(item_id, score, rank)) x;
SELECT user_id, count(*) FROM recs GROUP BY 1 ORDER BY 1;

-- with a filter: each row's answer is recommend()'s with that filter, the
-- filter values taken from the input's second column when it has one
CREATE TABLE clusters AS SELECT 'c' || c || g AS item_id, c::text AS cluster FROM generate_series(0, 2) c, generate_series(0, 9) g;
SELECT personalize.create_dataset('music', 'items', 'clusters');
SELECT personalize.create_filter('not-c0', 'music', $$EXCLUDE WHERE items.cluster = '0'$$);
SELECT personalize.create_filter('in-clusters', 'music', 'INCLUDE ItemID WHERE Items.CLUSTER IN ($CLUSTERS)');
SELECT personalize.create_batch_inference_job('filtered', :up, 'SELECT id FROM listeners', 'recs_filtered', 5,
	filter => 'not-c0', wait => true) AS fjob \gset
SELECT filter, status, rows FROM personalize.jobs WHERE id = :fjob;
SELECT count(*) AS mismatches FROM (
	(SELECT user_id, rank, item_id, score FROM recs_filtered
	 EXCEPT
	 SELECT l.id::text, r.rank::integer, r.item_id, r.score
	   FROM listeners l CROSS JOIN LATERAL personalize.recommend('music', l.id::text, 5, filter => 'not-c0')
	        WITH ORDINALITY r(item_id, score, rank))
	UNION ALL
	SELECT user_id, rank, item_id, score FROM recs_filtered WHERE item_id LIKE 'c0%') x;
SELECT personalize.create_batch_inference_job('per-row', :up,
	$$SELECT id, jsonb_build_object('CLUSTERS', CASE WHEN id = 3 THEN '"1"' ELSE '"1", "2"' END) FROM listeners$$,
	'recs_per_row', 5, filter => 'in-clusters', wait => true) IS NOT NULL AS ran;
SELECT user_id, array_agg(DISTINCT left(item_id, 2)) AS clusters FROM recs_per_row GROUP BY 1 ORDER BY 1;

-- personalized-ranking versions rank each input row's own list of items
SELECT personalize.create_solution('music-rank', 'music', 'personalized-ranking', '{"factors": 8, "seed": 7}');
SELECT personalize.create_solution_version('music-rank') AS rank_v \gset
SELECT personalize.create_campaign('music-rank', :rank_v);
SELECT personalize.create_batch_inference_job('ranked', :rank_v,
	$$SELECT id, ARRAY['c00', 'c10', 'c20', 'c11', 'c00', 'unknown'] FROM listeners$$, 'recs_ranked', wait => true) IS NOT NULL AS ran;
SELECT count(*) AS rows, count(*) FILTER (WHERE score IS NULL) AS unknown FROM recs_ranked;
SELECT count(*) AS mismatches FROM (
	SELECT user_id, rank, item_id, score FROM recs_ranked
	EXCEPT
	SELECT l.id::text, r.rank::integer, r.item_id, r.score
	  FROM listeners l CROSS JOIN LATERAL personalize.personalized_rank('music-rank', l.id::text,
	       ARRAY['c00', 'c10', 'c20', 'c11', 'c00', 'unknown']) WITH ORDINALITY r(item_id, score, rank)) x;
-- with a filter and per-row values after the lists
SELECT personalize.create_batch_inference_job('ranked-filtered', :rank_v,
	$$SELECT id, ARRAY['c00', 'c10', 'c20', 'c11'], '{"CLUSTERS": "\"1\""}'::jsonb FROM listeners$$, 'recs_ranked_f',
	filter => 'in-clusters', wait => true) IS NOT NULL AS ran;
SELECT user_id, array_agg(item_id ORDER BY item_id) FROM recs_ranked_f GROUP BY 1 ORDER BY 1;
SELECT personalize.create_batch_inference_job('bad', :rank_v, 'SELECT id FROM listeners', 'recs3');
SELECT personalize.drop_campaign('music-rank');

-- in a background worker; related items take item ids as input
SELECT personalize.create_batch_inference_job('related', :sims, $$SELECT 'c0' || g FROM generate_series(0, 2) g$$,
	'public.related', 3) AS bg_job \gset
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN (SELECT status FROM personalize.jobs WHERE name = 'related') NOT IN ('CREATE PENDING', 'CREATE IN_PROGRESS');
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT status, rows FROM personalize.jobs WHERE id = :bg_job;
SELECT query_item_id, count(*) FILTER (WHERE item_id LIKE 'c0%') AS same_cluster FROM related GROUP BY 1 ORDER BY 1;

-- a failing job in the worker is recorded and leaves no table
SELECT personalize.create_batch_inference_job('broken', :up, 'SELECT 1 / (id - id) FROM listeners', 'broken_out') AS broken \gset
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN (SELECT status FROM personalize.jobs WHERE name = 'broken') NOT IN ('CREATE PENDING', 'CREATE IN_PROGRESS');
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT status, failure_reason FROM personalize.jobs WHERE id = :broken;
SELECT to_regclass('broken_out') IS NULL AS no_table;

-- errors
SELECT personalize.create_batch_inference_job('nightly', :up, 'SELECT id FROM listeners', 'recs2');
SELECT personalize.create_batch_inference_job('again', :up, 'SELECT id FROM listeners', 'recs');
SELECT personalize.create_batch_inference_job('bad', :up, 'SELEC id FROM listeners', 'recs3');
SELECT personalize.create_batch_inference_job('bad', :up, 'SELECT id FROM nowhere', 'recs3');
SELECT personalize.create_batch_inference_job('bad', :up, 'SELECT id FROM listeners', 'a.b.c');
SELECT personalize.create_batch_inference_job('bad', -1, 'SELECT id FROM listeners', 'recs3');
SELECT personalize.create_batch_inference_job('bad', :up, 'SELECT id FROM listeners', 'recs3', 0);
SELECT personalize.create_batch_inference_job('bad', :up, 'SELECT id FROM listeners', 'recs3', filter => 'nope');
SELECT personalize.create_batch_inference_job('bad', :up, NULL, 'recs3');

SELECT personalize.drop_campaign('music');
SELECT personalize.drop_dataset_group('music', cascade => true);
SELECT count(*) AS jobs_left FROM personalize.jobs;
