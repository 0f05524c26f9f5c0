-- The item-affinity recipe (USER_SEGMENTATION) and user_segment(): the
-- users most likely to interact with an item.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

-- 60 users in 3 taste clusters of 10 items (user u is in cluster u % 3)
CREATE TABLE audience (user_id int, item_id text, ts bigint);
INSERT INTO audience SELECT u, 'c' || (u % 3) || ((u + j) % 10), u * 100 + j
  FROM generate_series(1, 60) u, generate_series(0, 5) j;
SELECT personalize.create_dataset_group('ads');
SELECT personalize.create_dataset('ads', 'interactions', 'audience', event_time => 'ts');
SELECT recipe_type FROM personalize.recipes WHERE name = 'item-affinity';
SELECT personalize.create_solution('ads-affinity', 'ads', 'item-affinity', '{"factors": 8, "seed": 7}');
SELECT personalize.create_campaign('ads', personalize.create_solution_version('ads-affinity'));
-- the model keeps one factor row per user
SELECT count(*) AS user_rows FROM personalize.model_user m JOIN personalize.campaigns c ON c.solution_version = m.solution_version WHERE c.name = 'ads';

-- the likely audience of a cluster-1 item is cluster-1 users, best first
SELECT count(*) AS users, count(*) FILTER (WHERE user_id::int % 3 = 1) AS cluster1
  FROM personalize.user_segment('ads', 'c15', 15);
SELECT array_agg(user_id ORDER BY o) = array_agg(user_id ORDER BY score DESC, o) AS ordered
  FROM personalize.user_segment('ads', 'c15', 15) WITH ORDINALITY s(user_id, score, o);
-- an unknown item has no segment
SELECT count(*) FROM personalize.user_segment('ads', 'nope', 5);

-- errors
SELECT * FROM personalize.user_segment('ads', NULL);
SELECT * FROM personalize.user_segment('ads', 'c15', 0);
SELECT * FROM personalize.user_segment(NULL, 'c15');
SELECT * FROM personalize.recommend('ads', '3');
SELECT personalize.create_solution('ads-up', 'ads', 'user-personalization', '{"factors": 8}');
SELECT personalize.create_campaign('ads-up', personalize.create_solution_version('ads-up'));
SELECT * FROM personalize.user_segment('ads-up', 'c15');

SELECT personalize.drop_campaign(name) FROM personalize.campaigns WHERE name LIKE 'ads%' ORDER BY name;
SELECT personalize.drop_dataset_group('ads', cascade => true);
