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

-- The item-attribute-affinity recipe: the users most likely to interact with
-- the items matching an attribute predicate (Personalize's itemAttributes)
SELECT recipe_type, hyperparameters = (SELECT hyperparameters FROM personalize.recipes WHERE name = 'user-personalization') AS same_hyperparameters
  FROM personalize.recipes WHERE name = 'item-attribute-affinity';
SELECT personalize.create_solution('ads-attr', 'ads', 'item-attribute-affinity', '{"factors": 8, "seed": 7}');
SELECT personalize.create_campaign('ads-attr', personalize.create_solution_version('ads-attr'));
-- the group has no items dataset yet
SELECT * FROM personalize.user_segment('ads-attr', 'ITEMS.GENRE = "Drama"');
-- cluster 0 is Comedy, cluster 1 Drama (|Romance on even items), cluster 2
-- Horror; an item's price is 5 times its position in its cluster
CREATE TABLE audience_items (item_id text PRIMARY KEY, genre text, price int);
INSERT INTO audience_items SELECT 'c' || c || g, CASE c WHEN 0 THEN 'Comedy' WHEN 1 THEN 'Drama' || CASE WHEN g % 2 = 0 THEN '|Romance' ELSE '' END ELSE 'Horror' END, 5 * g
  FROM generate_series(0, 2) c, generate_series(0, 9) g;
INSERT INTO audience_items VALUES ('w0', 'Western', 1);	-- no interactions: unknown to the model
SELECT personalize.create_dataset('ads', 'items', 'audience_items', metadata => ARRAY['genre', 'price']);
-- a genre's audience is its cluster, best first; = on a |-separated field
-- matches one of its values, as in Personalize
SELECT count(*) AS users, count(*) FILTER (WHERE user_id::int % 3 = 1) AS cluster1
  FROM personalize.user_segment('ads-attr', 'ITEMS.GENRE = "Drama"', 15);
SELECT count(*) AS users, count(*) FILTER (WHERE user_id::int % 3 = 1) AS cluster1
  FROM personalize.user_segment('ads-attr', 'Items.genre = ''Romance'' AND Items.PRICE < 20', 15);
SELECT array_agg(user_id ORDER BY o) = array_agg(user_id ORDER BY score DESC, o) AS ordered
  FROM personalize.user_segment('ads-attr', 'ITEMS.GENRE = "Drama"', 15) WITH ORDINALITY s(user_id, score, o);
-- IN, OR and parentheses: the two clusters' 40 users before any of the third
SELECT count(*) FILTER (WHERE user_id::int % 3 <> 2) AS comedy_or_drama
  FROM personalize.user_segment('ads-attr', 'Items.GENRE IN ("Comedy", "Drama")', 40);
SELECT count(*) FILTER (WHERE user_id::int % 3 = 2) AS horror_or_cheap
  FROM personalize.user_segment('ads-attr', '(ITEMS.GENRE = "Horror" OR ITEMS.PRICE <= 0) AND ITEMS.GENRE != "Comedy"', 20);
-- the score is the probability that the user's next interaction is with a
-- matching item: the matching items' share of the softmax of the user's
-- predicted preferences (factor dot products) over the catalogue
WITH v AS (SELECT solution_version AS id FROM personalize.campaigns WHERE name = 'ads-attr'),
     dot AS (SELECT u.user_id, i.item_id, (SELECT sum(a * b) FROM unnest(u.factors, i.factors) x(a, b)) AS s
               FROM personalize.model_user u, personalize.model_item i, v
              WHERE u.solution_version = v.id AND i.solution_version = v.id),
     expected AS (SELECT user_id, sum(exp(s)) FILTER (WHERE item_id IN (SELECT item_id FROM audience_items WHERE genre LIKE 'Drama%'))
                                  / sum(exp(s)) AS score
                    FROM dot GROUP BY user_id)
SELECT count(*) AS users, max(abs(s.score - e.score)) < 1e-5 AS scores_match
  FROM personalize.user_segment('ads-attr', 'ITEMS.GENRE = "Drama"', 60) s JOIN expected e USING (user_id);
-- so scores lie in [0, 1]: a predicate matching every item scores 1 for every user
SELECT count(*) AS users, min(round(score::numeric, 5)) AS min, max(round(score::numeric, 5)) AS max
  FROM personalize.user_segment('ads-attr', 'ITEMS.PRICE >= 0', 60);
-- no item matching, or none the model knows: an empty segment
SELECT count(*) FROM personalize.user_segment('ads-attr', 'ITEMS.GENRE = "Musical"');
SELECT count(*) FROM personalize.user_segment('ads-attr', 'ITEMS.GENRE = "Western"');
-- with a user filter, as item-affinity
SELECT count(*) AS users, bool_and(a.age >= 40) AS all_grown_up
  FROM personalize.user_segment('ads-attr', 'ITEMS.GENRE = "Drama"', 10, filter => 'grown-ups', filter_values => '{"MIN": 40}') s
  JOIN audience_users a ON a.user_id = s.user_id::int;
-- errors: the other recipe's argument, syntax, fields, values
SELECT * FROM personalize.user_segment('ads-attr', 'c15');
SELECT * FROM personalize.user_segment('ads', 'ITEMS.GENRE = "Drama"');
SELECT * FROM personalize.user_segment('ads-attr', 'nope');
SELECT * FROM personalize.user_segment('ads-attr', 'ITEMS.COLOR = "red"');
SELECT * FROM personalize.user_segment('ads-attr', 'USERS.AGE > 3');
SELECT * FROM personalize.user_segment('ads-attr', 'ITEMS.GENRE IN ($GENRES)');
SELECT * FROM personalize.user_segment('ads-attr', 'ITEMS.PRICE < 2x');
SELECT * FROM personalize.user_segment('ads-attr', 'ITEMS.GENRE = "Drama" | EXCLUDE ItemID WHERE Items.PRICE > 3');
SELECT * FROM personalize.user_segment('ads-attr', 'ITEMS.GENRE = "Drama"', 100001);
SELECT * FROM personalize.recommend('ads-attr', '3');
-- the items relation is read with the caller's privileges
CREATE ROLE personalize_regress_segments;
GRANT SELECT ON audience TO personalize_regress_segments;
SET ROLE personalize_regress_segments;
SELECT * FROM personalize.user_segment('ads-attr', 'ITEMS.GENRE = "Drama"');
RESET ROLE;
REVOKE SELECT ON audience FROM personalize_regress_segments;
DROP ROLE personalize_regress_segments;

SELECT personalize.drop_campaign(name) FROM personalize.campaigns WHERE name LIKE 'ads%' ORDER BY name;
SELECT personalize.drop_dataset_group('ads', cascade => true);
DROP TABLE audience_users, audience_items;
