-- The trending-now recipe (POPULAR_ITEMS): live trends from the
-- interactions relative to now, the training snapshot, and fallbacks.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

-- An hour-long window: 'rising' triples in the last hour, 'steady' holds,
-- 'falling' halves, 'classic' was popular long ago.
CREATE TABLE news (user_id int, item_id text, at timestamptz);
INSERT INTO news SELECT u, 'classic', now() - interval '30 days' - u * interval '1 minute' FROM generate_series(1, 100) u;
INSERT INTO news SELECT u, 'classic2', now() - interval '30 days' - u * interval '1 minute' FROM generate_series(1, 100) u;
INSERT INTO news SELECT u, 'rising', now() - interval '90 minutes' + u * interval '10 s' FROM generate_series(1, 10) u;
INSERT INTO news SELECT u, 'rising', now() - interval '30 minutes' + u * interval '10 s' FROM generate_series(11, 40) u;
INSERT INTO news SELECT u, 'steady', now() - interval '90 minutes' + u * interval '10 s' FROM generate_series(1, 20) u;
INSERT INTO news SELECT u, 'steady', now() - interval '30 minutes' + u * interval '10 s' FROM generate_series(21, 40) u;
INSERT INTO news SELECT u, 'falling', now() - interval '90 minutes' + u * interval '10 s' FROM generate_series(1, 20) u;
INSERT INTO news SELECT u, 'falling', now() - interval '30 minutes' + u * interval '10 s' FROM generate_series(21, 30) u;
SELECT personalize.create_dataset_group('paper');
SELECT personalize.create_dataset('paper', 'interactions', 'news', event_time => 'at');

SELECT recipe_type, hyperparameters->'trend_discovery_frequency'->'values' AS frequencies FROM personalize.recipes WHERE name = 'trending-now';
SELECT personalize.create_solution('bad', 'paper', 'trending-now', '{"trend_discovery_frequency": 2}');
SELECT personalize.create_solution('paper-trends', 'paper', 'trending-now', '{"trend_discovery_frequency": 1}');
SELECT personalize.create_campaign('paper', personalize.create_solution_version('paper-trends'));

-- the fastest growing item first; falling and merely popular items do not trend
SELECT item_id, round(score::numeric, 3) AS score FROM personalize.recommend('paper', num_results => 2);
-- a new item that takes off is trending at once, without retraining
INSERT INTO news SELECT u, 'breaking', now() - u * interval '10 s' FROM generate_series(1, 60) u;
SELECT item_id FROM personalize.recommend('paper', num_results => 1);
-- with a user, what the user has seen is left out (user 45 saw breaking)
SELECT item_id FROM personalize.recommend('paper', '45', 1);
-- wrong arguments and functions
SELECT * FROM personalize.recommend('paper', item_id => 'rising');
SELECT * FROM personalize.related_items('paper', 'rising');
SELECT * FROM personalize.personalized_rank('paper', '5', ARRAY['rising']);

-- historical data: the live windows are empty, so the snapshot of the
-- training data's own latest windows answers, then popularity
UPDATE news SET at = at - interval '400 days';
SELECT item_id, score > 0 AS trending FROM personalize.recommend('paper', num_results => 4);
SELECT personalize.drop_campaign('paper');
SELECT personalize.drop_dataset_group('paper', cascade => true);
