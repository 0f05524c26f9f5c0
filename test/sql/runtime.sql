-- Campaigns, recommend() and personalized_rank(): results, exclusions,
-- cold start, request-time history and argument errors.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
-- version ids appear in messages: number them from a base of this file's own
SELECT setval(pg_get_serial_sequence('personalize.solution_version', 'id'), 500) IS NOT NULL AS numbered;
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

CREATE TABLE clicks (user_id int, item_id text, ts timestamptz);
INSERT INTO clicks
SELECT u, 'c' || (u % 3) || ((u + j) % 10), timestamptz '2026-01-01' + (u * 10 + j + 1) * interval '1 minute'
  FROM generate_series(1, 60) u, generate_series(0, 5) j;
INSERT INTO clicks
SELECT u, 'hit', timestamptz '2026-01-01' + (u * 10) * interval '1 minute' FROM generate_series(1, 60) u;
CREATE INDEX ON clicks (user_id, ts);

SELECT personalize.create_dataset_group('web');
SELECT personalize.create_dataset('web', 'interactions', 'clicks', event_time => 'ts');
SELECT personalize.create_solution('web-pop', 'web', 'popularity-count');
SELECT personalize.create_solution('web-up', 'web', 'user-personalization',
	'{"factors": 8, "iterations": 10, "regularization": 0.1, "seed": 7}');
SELECT personalize.create_solution_version('web-pop') AS pop_version \gset
SELECT personalize.create_solution_version('web-up') AS up_version \gset

-- campaign errors
SELECT personalize.create_campaign('web', NULL);
SELECT personalize.create_campaign('web', -1);
SELECT personalize.create_campaign(NULL, :up_version);
SELECT personalize.create_campaign('web', :up_version, '{"explore": 1}');
SELECT personalize.create_solution('web-empty', 'web', 'popularity-count');
SET personalize.min_users = 1000;
SELECT personalize.create_solution_version('web-empty') AS empty_version \gset
SET personalize.min_users = 10;
SELECT personalize.create_campaign('web', :empty_version);

SELECT personalize.create_campaign('web', :up_version);
SELECT personalize.create_campaign('web-pop', :pop_version);
SELECT personalize.create_campaign('web', :up_version);
SELECT name, solution, recipe, config FROM personalize.campaigns ORDER BY name;

-- user 3 (cluster 0) saw hit and c03..c08: the unseen cluster-0 items come first
SELECT item_id FROM personalize.recommend('web', '3', 4) ORDER BY item_id;
SELECT count(*) AS seen_items_recommended
  FROM personalize.recommend('web', '3', 25) r JOIN clicks c ON c.item_id = r.item_id AND c.user_id = 3;
-- ranked best first, softmax scores over the unseen catalogue sum to 1
SELECT bool_and(score > 0) AS positive, round(sum(score)::numeric, 4) AS total
  FROM personalize.recommend('web', '3', 25);
SELECT count(*) = 1 AS one_best
  FROM (SELECT score, max(score) OVER () AS best FROM personalize.recommend('web', '3', 5)) r WHERE score = best;
SELECT array_agg(item_id ORDER BY ord) = array_agg(item_id ORDER BY score DESC, ord) AS ordered
  FROM personalize.recommend('web', '3', 25) WITH ORDINALITY r(item_id, score, ord);

-- an unknown user gets popular items, 'hit' first
SELECT item_id FROM personalize.recommend('web', 'someone-new', 1);
SELECT item_id FROM personalize.recommend('web', '99999', 1);

-- the popularity campaign: shares of users, seen items excluded
SELECT item_id, round(score::numeric, 4) AS score FROM personalize.recommend('web-pop', 'someone-new', 2);
SELECT count(*) FROM personalize.recommend('web-pop', '3', 25) WHERE item_id = 'hit';

-- an event inserted after training changes the next answer: user 4
-- (cluster 1) starts watching cluster 2
SELECT count(*) FILTER (WHERE item_id LIKE 'c2%') AS cluster2_before FROM personalize.recommend('web', '4', 4);
INSERT INTO clicks SELECT 4, 'c2' || j, timestamptz '2026-02-01' + j * interval '1 minute' FROM generate_series(0, 7) j;
SELECT count(*) FILTER (WHERE item_id LIKE 'c2%') AS cluster2_after FROM personalize.recommend('web', '4', 4);
-- only the latest personalize.max_history events are folded in, but the
-- whole history is excluded
SET personalize.max_history = 2;
SELECT count(*) AS seen_items_recommended
  FROM personalize.recommend('web', '3', 25) r JOIN clicks c ON c.item_id = r.item_id AND c.user_id = 3;
RESET personalize.max_history;
-- and a brand-new user is folded in from their first events
INSERT INTO clicks VALUES (1000, 'c10', now()), (1000, 'c11', now()), (1000, 'c12', now());
SELECT count(*) FILTER (WHERE item_id LIKE 'c1%') AS cluster1 FROM personalize.recommend('web', '1000', 4);

-- personalized_rank: softmax over the list, unknown items last with NULL, duplicates once
SELECT item_id, score IS NULL AS unknown
  FROM personalize.personalized_rank('web', '3', ARRAY['c15', 'c00', 'nope', 'c00', 'c25', 'nope']);
SELECT round(sum(score)::numeric, 4) AS total FROM personalize.personalized_rank('web', '3', ARRAY['c15', 'c00', 'c25']);
SELECT item_id, round(score::numeric, 4) FROM personalize.personalized_rank('web-pop', 'x', ARRAY['c00', 'hit']);

-- argument errors
SELECT * FROM personalize.recommend(NULL, '3');
SELECT * FROM personalize.recommend('nope', '3');
SELECT * FROM personalize.recommend('web', NULL);
SELECT * FROM personalize.recommend('web');
SELECT * FROM personalize.recommend('web', '3', 0);
SELECT * FROM personalize.recommend('web', '3', -1);
SELECT * FROM personalize.recommend('web', '3', 501);
SELECT * FROM personalize.recommend('web', '3', 2147483647);
SELECT * FROM personalize.recommend('web', '3', NULL);
SELECT * FROM personalize.recommend('web', '3', item_id => 'c00');
SELECT * FROM personalize.recommend('web', '3', filter => 'f');
SELECT count(*) FROM personalize.recommend('web', repeat('x''"', 3400), 3);
SET personalize.max_results = 1000;
SELECT count(*) FROM personalize.recommend('web', '3', 501);
RESET personalize.max_results;
SELECT * FROM personalize.personalized_rank(NULL, '3', ARRAY['c00']);
SELECT * FROM personalize.personalized_rank('web', NULL, ARRAY['c00']);
SELECT * FROM personalize.personalized_rank('web', '3', NULL);
SELECT * FROM personalize.personalized_rank('web', '3', ARRAY[]::text[]);
SELECT * FROM personalize.personalized_rank('web', '3', ARRAY['c00', NULL]);
SELECT * FROM personalize.personalized_rank('web', '3', array_fill('c00'::text, ARRAY[501]));
SELECT * FROM personalize.personalized_rank('nope', '3', ARRAY['c00']);

-- batch use in plain SQL
SELECT u, count(*) FROM generate_series(1, 3) u CROSS JOIN LATERAL personalize.recommend('web', u::text, 5) GROUP BY u ORDER BY u;

-- a model whose rows were changed after training (rows deleted, factors cut
-- short) fails to load with data_corrupted and a hint to retrain: a new
-- version, loaded by no backend yet
SELECT personalize.create_solution_version('web-up') AS damaged_version \gset
SELECT personalize.create_campaign('web-damaged', :damaged_version);
CREATE FUNCTION damaged_state(user_id text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM * FROM personalize.recommend('web-damaged', user_id);
	RETURN 'loaded';
EXCEPTION WHEN data_corrupted THEN
	RETURN 'data_corrupted: ' || SQLERRM;
END $$;
BEGIN;
DELETE FROM personalize.model_item WHERE solution_version = :damaged_version AND item_index = 3;
SELECT damaged_state('3');
SELECT * FROM personalize.recommend('web-damaged', '3');
ROLLBACK;
BEGIN;
UPDATE personalize.model_item SET factors = factors[1:3]
 WHERE solution_version = :damaged_version AND item_index = 3;
SELECT damaged_state('3');
ROLLBACK;
BEGIN;
UPDATE personalize.model_item SET factors = NULL
 WHERE solution_version = :damaged_version AND item_index = 3;
SELECT damaged_state('3');
ROLLBACK;
BEGIN;
UPDATE personalize.model_item SET item_id = (SELECT item_id FROM personalize.model_item
   WHERE solution_version = :damaged_version AND item_index = 2)
 WHERE solution_version = :damaged_version AND item_index = 3;
SELECT damaged_state('3');
ROLLBACK;
-- restored, it loads
SELECT damaged_state('3');
SELECT personalize.drop_campaign('web-damaged');
DROP FUNCTION damaged_state(text);

-- update_campaign switches atomically; drop_campaign
SELECT personalize.update_campaign('web', :pop_version);
SELECT solution_version = :pop_version AS switched FROM personalize.campaigns WHERE name = 'web';
SELECT item_id FROM personalize.recommend('web', 'someone-new', 1);
SELECT personalize.update_campaign('web', config => '{"exploration_weight": 0.1}');
SELECT config FROM personalize.campaigns WHERE name = 'web';
SELECT personalize.update_campaign('nope', :pop_version);
SELECT personalize.update_campaign('web', :empty_version);
SELECT personalize.drop_solution('web-pop');
SELECT personalize.drop_campaign('web');
SELECT personalize.drop_campaign('web');
SELECT * FROM personalize.recommend('web', '3');
SELECT personalize.drop_campaign('web-pop');
SELECT personalize.drop_dataset_group('web', cascade => true);
