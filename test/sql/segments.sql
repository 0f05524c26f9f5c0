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

-- filters on users: INCLUDE|EXCLUDE UserID WHERE Users.FIELD ... (user u is
-- 10 + u years old); the answer is the unfiltered segment restricted to the
-- users that pass
CREATE TABLE audience_users (user_id int PRIMARY KEY, age int);
INSERT INTO audience_users SELECT u, 10 + u FROM generate_series(1, 60) u;
SELECT personalize.create_dataset('ads', 'users', 'audience_users', metadata => ARRAY['age']);
SELECT personalize.create_filter('grown-ups', 'ads', 'INCLUDE UserID WHERE Users.AGE >= $MIN');
SELECT count(*) AS users, bool_and(a.age >= 40) AS all_grown_up
  FROM personalize.user_segment('ads', 'c15', 15, filter => 'grown-ups', filter_values => '{"MIN": 40}') s
  JOIN audience_users a ON a.user_id = s.user_id::int;
SELECT (SELECT array_agg(user_id) FROM personalize.user_segment('ads', 'c15', 15, filter => 'grown-ups', filter_values => '{"MIN": 40}'))
     = (SELECT array_agg(user_id) FROM (SELECT s.user_id FROM personalize.user_segment('ads', 'c15', 60) WITH ORDINALITY s(user_id, score, o)
                                          JOIN audience_users a ON a.user_id = s.user_id::int WHERE a.age >= 40 ORDER BY o LIMIT 15) x)
       AS restricted_ranking;
SELECT personalize.create_filter('not-teens', 'ads', 'EXCLUDE UserID WHERE Users.AGE < 20');
SELECT count(*) FILTER (WHERE user_id::int < 10) AS teens FROM personalize.user_segment('ads', 'c15', 50, filter => 'not-teens');
-- errors: an item filter on user_segment, a user filter elsewhere, mixing, fields
SELECT personalize.create_filter('cluster-items', 'ads', $$EXCLUDE ItemID WHERE Interactions.TS < 0$$);
SELECT * FROM personalize.user_segment('ads', 'c15', 5, filter => 'cluster-items');
SELECT * FROM personalize.recommend('ads-up', '3', 5, filter => 'grown-ups', filter_values => '{"MIN": 40}');
SELECT personalize.create_filter('bad', 'ads', 'INCLUDE UserID WHERE Users.AGE > 3 | EXCLUDE ItemID WHERE Interactions.TS < 0');
SELECT personalize.create_filter('bad', 'ads', 'INCLUDE UserID WHERE Interactions.TS > 3');
SELECT personalize.create_filter('bad', 'ads', 'INCLUDE ItemID WHERE Users.AGE > 3');

SELECT personalize.drop_campaign(name) FROM personalize.campaigns WHERE name LIKE 'ads%' ORDER BY name;
SELECT personalize.drop_dataset_group('ads', cascade => true);
DROP TABLE audience_users;
