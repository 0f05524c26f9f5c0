-- The ease recipe: closed-form training, metrics, serving, and the
-- catalogue cap.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
-- version ids appear in messages: number them from a base of this file's own
SELECT setval(pg_get_serial_sequence('personalize.solution_version', 'id'), 2000) IS NOT NULL AS numbered;
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

CREATE TABLE views (user_id int, item_id text, ts timestamptz);
INSERT INTO views
SELECT u, 'c' || (u % 3) || ((u + j) % 10), timestamptz '2026-01-01' + (u * 10 + j + 1) * interval '1 minute'
  FROM generate_series(1, 60) u, generate_series(0, 5) j;
INSERT INTO views
SELECT u, 'hit', timestamptz '2026-01-01' + (u * 10) * interval '1 minute' FROM generate_series(1, 60) u;
CREATE INDEX ON views (user_id, ts);
SELECT personalize.create_dataset_group('stream');
SELECT personalize.create_dataset('stream', 'interactions', 'views', event_time => 'ts');

SELECT recipe_type, hyperparameters->'lambda'->>'default' AS lambda FROM personalize.recipes WHERE name = 'ease';
SELECT personalize.create_solution('bad', 'stream', 'ease', '{"lambda": 0}');
SELECT personalize.create_solution('bad', 'stream', 'ease', '{"factors": 8}');

SELECT personalize.create_solution('stream-ease', 'stream', 'ease', '{"lambda": 10}');
SELECT personalize.create_solution_version('stream-ease') AS ease_version \gset
SELECT status, users, items, interactions FROM personalize.solution_versions WHERE id = :ease_version;
SELECT (SELECT value FROM personalize.solution_metrics(:ease_version) WHERE metric = 'normalized_discounted_cumulative_gain_at_10')
     > (SELECT value FROM personalize.solution_metrics(:ease_version) WHERE metric = 'baseline_normalized_discounted_cumulative_gain_at_10') AS beats_popularity;
-- the model is the items x items weight matrix, zero on the diagonal
SELECT count(*) AS items, min(array_length(factors, 1)) AS row_length FROM personalize.item_embeddings WHERE solution_version = :ease_version;
SELECT bool_and(e.factors[x.item_index + 1] = 0) AS zero_diagonal
  FROM personalize.item_embeddings e JOIN personalize.model_item x USING (solution_version, item_id)
 WHERE e.solution_version = :ease_version;

SELECT personalize.create_campaign('stream', :ease_version);
-- user 3 (cluster 0) saw hit and c03..c08: the unseen cluster-0 items come first
SELECT item_id FROM personalize.recommend('stream', '3', 4) ORDER BY item_id;
SELECT round(sum(score)::numeric, 4) AS total FROM personalize.recommend('stream', '3', 25);
SELECT item_id FROM personalize.recommend('stream', 'nobody', 1);
SELECT item_id FROM personalize.personalized_rank('stream', '3', ARRAY['c15', 'c01', 'c25']) LIMIT 1;

-- the catalogue cap fails the version with a reason and a hint
SET personalize.ease_max_items = 10;
SELECT personalize.create_solution_version('stream-ease') AS capped_version \gset
SELECT status, failure_reason FROM personalize.solution_versions WHERE id = :capped_version;
RESET personalize.ease_max_items;

SELECT personalize.drop_campaign('stream');
SELECT personalize.drop_dataset_group('stream', cascade => true);
