-- Solutions and solution versions: recipe and hyperparameter validation,
-- minimum data, CREATE FAILED rows, metrics and model rows.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
-- version ids appear in messages: number them from a base of this file's own
SELECT setval(pg_get_serial_sequence('personalize.solution_version', 'id'), 1000) IS NOT NULL AS numbered;

-- Planted structure: 60 users in 3 taste clusters of 10 items each (items
-- c00..c09, c10..c19, c20..c29); each user saw 6 items of their cluster and
-- the blockbuster 'hit' (first).  Deterministic, 420 interactions.
CREATE TABLE interactions (user_id int, item_id text, ts timestamptz);
INSERT INTO interactions
SELECT u, 'c' || (u % 3) || ((u + j) % 10), timestamptz '2026-01-01' + (u * 10 + j + 1) * interval '1 minute'
  FROM generate_series(1, 60) u, generate_series(0, 5) j;
INSERT INTO interactions
SELECT u, 'hit', timestamptz '2026-01-01' + (u * 10) * interval '1 minute' FROM generate_series(1, 60) u;
CREATE INDEX ON interactions (user_id, ts);

SELECT personalize.create_dataset_group('toy');
SELECT personalize.create_dataset('toy', 'interactions', 'interactions');
SELECT personalize.create_dataset('toy', 'interactions', 'interactions', event_time => 'ts');

SELECT name, recipe_type FROM personalize.recipes ORDER BY name;
SELECT key, value->>'default' AS default, value->>'min' AS min, value->>'max' AS max
  FROM personalize.recipes, jsonb_each(hyperparameters) WHERE name = 'user-personalization' ORDER BY key;

-- solution errors
SELECT personalize.create_solution('bad', 'toy', 'deep-learning');
SELECT personalize.create_solution('bad', 'toy', 'user-personalization', '{"factor": 8}');
SELECT personalize.create_solution('bad', 'toy', 'user-personalization', '{"factors": 0}');
SELECT personalize.create_solution('bad', 'toy', 'user-personalization', '{"factors": 8.5}');
SELECT personalize.create_solution('bad', 'toy', 'user-personalization', '{"alpha": "high"}');
SELECT personalize.create_solution('bad', 'toy', 'user-personalization', '[1]');
SELECT personalize.create_solution('bad', 'nowhere', 'user-personalization');
SELECT personalize.create_solution('bad', 'toy', NULL);
SELECT personalize.create_solution('bad', 'toy', 'popularity-count', '{"factors": 8}');
SELECT personalize.create_solution('bad', 'toy', 'user-personalization', event_value_threshold => 'NaN');

SELECT personalize.create_solution('toy-pop', 'toy', 'popularity-count');
SELECT personalize.create_solution('toy-up', 'toy', 'user-personalization',
	'{"factors": 8, "iterations": 10, "regularization": 0.1, "seed": 7}');
SELECT personalize.create_solution('toy-up', 'toy', 'user-personalization');
SELECT name, recipe, hyperparameters FROM personalize.solutions ORDER BY name;

-- version errors
SELECT personalize.create_solution_version('nope');
SELECT personalize.create_solution_version(NULL);
SELECT personalize.create_solution_version('toy-up', 'PARTIAL');

-- too little data with the default minimums: a CREATE FAILED row remains,
-- the caller gets a WARNING with the reason, and there are no model rows
SELECT personalize.create_solution_version('toy-up') AS failed_version \gset
SELECT status, failure_reason, progress < 1 AS unfinished
  FROM personalize.solution_versions WHERE id = :failed_version;
SELECT count(*) AS model_rows FROM personalize.model_item WHERE solution_version = :failed_version;
SELECT personalize.solution_metrics(:failed_version);
SET personalize.min_interactions = 100;
SET personalize.min_users = 100;
SELECT personalize.create_solution_version('toy-up') AS failed_version2 \gset
SELECT status, failure_reason FROM personalize.solution_versions WHERE id = :failed_version2;

-- enough data once the minimums are lowered
SET personalize.min_users = 10;
SELECT personalize.create_solution_version('toy-pop') AS pop_version \gset
SELECT personalize.create_solution_version('toy-up') AS up_version \gset
SELECT solution, recipe, status, progress, failure_reason, training_mode, users, items, interactions,
       training_seconds > 0 AS timed, finished >= created AS finished
  FROM personalize.solution_versions WHERE id IN (:pop_version, :up_version) ORDER BY id;
SELECT hyperparameters FROM personalize.solution_versions WHERE id = :up_version;

-- metrics use Personalize's names; 6 users are held out (10%)
SELECT metric FROM personalize.solution_metrics(:up_version) ORDER BY metric;
SELECT value FROM personalize.solution_metrics(:up_version) WHERE metric = 'evaluated_users';
-- every metric is a proportion
SELECT count(*) AS out_of_range FROM personalize.solution_metrics(:up_version) WHERE value < 0 OR value > 1 AND metric <> 'evaluated_users';
-- the planted clusters are learnt: better than popularity on NDCG@10
SELECT (SELECT value FROM personalize.solution_metrics(:up_version) WHERE metric = 'normalized_discounted_cumulative_gain_at_10')
     > (SELECT value FROM personalize.solution_metrics(:up_version) WHERE metric = 'baseline_normalized_discounted_cumulative_gain_at_10') AS beats_popularity;
-- deterministic for a seed
SELECT personalize.create_solution_version('toy-up') AS up_version2 \gset
SELECT a.metrics = b.metrics AS same_metrics
  FROM personalize.solution_versions a, personalize.solution_versions b
 WHERE a.id = :up_version AND b.id = :up_version2;

-- model rows: one per item, factors of the chosen size; popularity model has none
SELECT count(*) AS items, min(array_length(factors, 1)) AS k, max(popularity) AS top_popularity
  FROM personalize.item_embeddings WHERE solution_version = :up_version;
SELECT count(*) AS items, count(factors) AS with_factors
  FROM personalize.item_embeddings WHERE solution_version = :pop_version;

-- a dropped interactions relation fails the version with a reason
CREATE TABLE gone (user_id int, item_id int, ts bigint);
SELECT personalize.create_dataset_group('ghost');
SELECT personalize.create_dataset('ghost', 'interactions', 'gone', event_time => 'ts');
SELECT personalize.create_solution('ghost-pop', 'ghost', 'popularity-count');
DROP TABLE gone;
SELECT personalize.create_solution_version('ghost-pop') AS ghost_version \gset
SELECT status, failure_reason FROM personalize.solution_versions WHERE id = :ghost_version;

-- a solution with an event type needs an event type column
SELECT personalize.create_solution('toy-views', 'toy', 'popularity-count', event_type => 'view');
SELECT personalize.create_solution_version('toy-views') AS views_version \gset
SELECT status, failure_reason FROM personalize.solution_versions WHERE id = :views_version;

-- drop_solution
SELECT personalize.drop_solution('toy-views');
SELECT personalize.drop_solution('toy-views');
SELECT count(*) FROM personalize.solution_versions WHERE solution = 'toy-views';

-- a cancelled training (statement_timeout takes the same path as
-- pg_cancel_backend) leaves neither a version row nor model rows
CREATE TABLE many (user_id int, item_id int, ts bigint);
INSERT INTO many SELECT u, (u * 7 + j * 13) % 2000, u * 100 + j FROM generate_series(1, 5000) u, generate_series(1, 20) j;
SELECT personalize.create_dataset_group('big');
SELECT personalize.create_dataset('big', 'interactions', 'many', event_time => 'ts');
SELECT personalize.create_solution('big-up', 'big', 'user-personalization', '{"iterations": 200, "factors": 128}');
SELECT count(*) AS versions_before FROM personalize.solution_version;
SET statement_timeout = '300ms';
SELECT personalize.create_solution_version('big-up');
RESET statement_timeout;
SELECT count(*) AS versions_after FROM personalize.solution_version;
SELECT count(*) AS big_versions FROM personalize.solution_versions WHERE solution = 'big-up';
SELECT personalize.drop_dataset_group('big', cascade => true);
