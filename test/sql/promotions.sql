-- get_recommendations (recommend with Personalize's item list: promotion
-- name and reason of each row), popular stand-ins marked "Popular item",
-- and promotions, with their errors.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

-- 60 users in 3 taste clusters of 10 items; items carry a genre (cluster)
CREATE TABLE promo_events (user_id int, item_id text, ts bigint);
INSERT INTO promo_events
SELECT u, 'p' || (u % 3) || ((u + j) % 10), u * 100 + j + 1
  FROM generate_series(1, 60) u, generate_series(0, 5) j;
-- two items only ever seen together, by three users outside the clusters
INSERT INTO promo_events SELECT u, 'lone' || n, n FROM generate_series(100, 102) u, generate_series(1, 2) n;
CREATE INDEX ON promo_events (user_id, ts);
CREATE TABLE promo_items (item_id text PRIMARY KEY, genre text);
INSERT INTO promo_items
SELECT 'p' || c || n, (ARRAY['Action', 'Comedy', 'Drama'])[c + 1]
  FROM generate_series(0, 2) c, generate_series(0, 9) n;
INSERT INTO promo_items VALUES ('lone1', 'Indie'), ('lone2', 'Indie');
CREATE TABLE promo_users (user_id text PRIMARY KEY, age int);
INSERT INTO promo_users SELECT u, 20 + u FROM generate_series(1, 60) u;
SELECT personalize.create_dataset_group('promo');
SELECT personalize.create_dataset('promo', 'interactions', 'promo_events', event_time => 'ts');
SELECT personalize.create_dataset('promo', 'items', 'promo_items', metadata => ARRAY['genre']);
SELECT personalize.create_dataset('promo', 'users', 'promo_users', metadata => ARRAY['age']);
SELECT personalize.create_solution('promo-up', 'promo', 'user-personalization', '{"factors": 8, "seed": 7}');
SELECT personalize.create_campaign('promo', personalize.create_solution_version('promo-up'));
SELECT personalize.create_solution('promo-sims', 'promo', 'sims');
SELECT personalize.create_campaign('promo-sims', personalize.create_solution_version('promo-sims'));
SELECT personalize.create_filter('promo-genre', 'promo', 'INCLUDE ItemID WHERE Items.GENRE IN ($GENRES)');
SELECT personalize.create_filter('promo-comedy', 'promo', 'INCLUDE ItemID WHERE Items.GENRE IN ("Comedy")');
SELECT personalize.create_filter('promo-drama', 'promo', 'INCLUDE ItemID WHERE Items.GENRE = "Drama"');
SELECT personalize.create_filter('promo-p11', 'promo', 'INCLUDE WHERE items.item_id = ''p11''');

-- get_recommendations returns recommend's rows, in the same order
SELECT (SELECT array_agg(item_id || ':' || round(score::numeric, 6)) FROM personalize.recommend('promo', '3', 8))
     = (SELECT array_agg(item_id || ':' || round(score::numeric, 6)) FROM personalize.get_recommendations('promo', '3', 8))
       AS same_rows;
-- the model's own choices have no reason and no promotion
SELECT count(*) AS rows, count(reason) AS with_reason, count(promotion_name) AS promoted
  FROM personalize.get_recommendations('promo', '3', 8);

-- popular stand-ins are marked: a user the model does not know gets
-- popular items; so does an unknown item of a related-items campaign
SELECT count(*) AS rows, bool_and(reason = ARRAY['Popular item']) AS all_popular
  FROM personalize.get_recommendations('promo', 'stranger', 5);
SELECT count(*) AS rows, bool_and(reason = ARRAY['Popular item']) AS all_popular
  FROM personalize.get_recommendations('promo-sims', item_id => 'unknown-item', num_results => 5);
-- lone1 has one related item (lone2); popular items (score 0) fill the rest
SELECT item_id, round(score::numeric, 4) AS score, reason
  FROM personalize.get_recommendations('promo-sims', item_id => 'lone1', num_results => 3);
-- with a filter the fill passes it too: only Comedy stand-ins
SELECT count(*) AS rows, bool_and(reason = ARRAY['Popular item']) AS all_popular,
       bool_and(i.genre = 'Comedy') AS all_comedy
  FROM personalize.get_recommendations('promo-sims', item_id => 'lone1', num_results => 4, filter => 'promo-comedy') r
  JOIN promo_items i USING (item_id);
-- popularity-count ranks by popularity itself: its rows are the model's own
SELECT personalize.create_solution('promo-pop', 'promo', 'popularity-count');
SELECT personalize.create_campaign('promo-pop', personalize.create_solution_version('promo-pop'));
SELECT count(*) AS rows, count(reason) AS with_reason FROM personalize.get_recommendations('promo-pop', 'stranger', 5);

-- promotions: user 3 (cluster 0, Action) with 40% of 5 slots for Comedy
SELECT count(*) AS rows, count(DISTINCT item_id) AS distinct_items,
       count(*) FILTER (WHERE promotion_name = 'comedy-push') AS promoted,
       bool_and(reason = ARRAY['Promoted item']) FILTER (WHERE promotion_name IS NOT NULL) AS marked,
       bool_and(i.genre = 'Comedy') FILTER (WHERE promotion_name IS NOT NULL) AS promoted_comedy
  FROM personalize.get_recommendations('promo', '3', 5,
	promotion => '{"name": "comedy-push", "filter": "promo-genre", "filter_values": {"GENRES": ["Comedy"]}, "percent": 40}') r
  JOIN promo_items i USING (item_id);
-- the promoted items are the model's best Comedy items, in their order;
-- the others are the best 3 of the unpromoted list, in their order
SELECT (SELECT array_agg(item_id ORDER BY o) FROM personalize.get_recommendations('promo', '3', 5,
	promotion => '{"name": "comedy-push", "filter": "promo-comedy", "percent": 40}') WITH ORDINALITY r(item_id, score, promotion_name, reason, o)
	WHERE promotion_name IS NOT NULL)
     = (SELECT array_agg(item_id) FROM personalize.recommend('promo', '3', 2, filter => 'promo-comedy')) AS best_comedies,
       (SELECT array_agg(item_id ORDER BY o) FROM personalize.get_recommendations('promo', '3', 5,
	promotion => '{"name": "comedy-push", "filter": "promo-comedy", "percent": 40}') WITH ORDINALITY r(item_id, score, promotion_name, reason, o)
	WHERE promotion_name IS NULL)
     = (SELECT array_agg(item_id) FROM personalize.recommend('promo', '3', 3)) AS best_others;
-- one request always gets the same placement; recommend returns the same rows
SELECT (SELECT array_agg(item_id) FROM personalize.get_recommendations('promo', '3', 10,
	promotion => '{"filter": "promo-comedy", "percent": 30}'))
     = (SELECT array_agg(item_id) FROM personalize.recommend('promo', '3', 10,
	promotion => '{"filter": "promo-comedy", "percent": 30}')) AS recommend_same,
       (SELECT array_agg(item_id) FROM personalize.recommend('promo', '3', 10,
	promotion => '{"filter": "promo-comedy", "percent": 30}'))
     = (SELECT array_agg(item_id) FROM personalize.recommend('promo', '3', 10,
	promotion => '{"filter": "promo-comedy", "percent": 30}')) AS stable;
-- promoted items are placed among the others, not always first: over 20
-- users, some promoted item is not at the top of its list
SELECT count(DISTINCT o) > 1 AS positions_vary
  FROM generate_series(1, 20) u,
       personalize.get_recommendations('promo', u::text, 10, promotion => '{"filter": "promo-comedy", "percent": 10}')
       WITH ORDINALITY r(item_id, score, promotion_name, reason, o)
 WHERE promotion_name IS NOT NULL;
-- Personalize's spelling; the name defaults to the filter's; the percent
-- is rounded up (10% of 5 is one slot)
SELECT count(*) FILTER (WHERE promotion_name = 'promo-comedy') AS promoted
  FROM personalize.get_recommendations('promo', '3', 5, promotion => '{"filter": "promo-comedy", "percentPromotedItems": 10}');
-- the request filter applies to the other items only, as in Personalize
SELECT count(*) AS rows,
       bool_and(i.genre = 'Comedy') FILTER (WHERE promotion_name IS NOT NULL) AS promoted_comedy,
       bool_and(i.genre = 'Drama') FILTER (WHERE promotion_name IS NULL) AS others_drama
  FROM personalize.get_recommendations('promo', '3', 6, filter => 'promo-drama',
	promotion => '{"filter": "promo-comedy", "percent": 50}') r JOIN promo_items i USING (item_id);
-- too few items pass the promotion filter: as many as there are, the
-- others fill the list
SELECT count(*) AS rows, count(promotion_name) AS promoted
  FROM personalize.get_recommendations('promo', '3', 5, promotion => '{"filter": "promo-p11", "percent": 60}');
-- 100% promoted: every row passes the promotion filter
SELECT count(*) AS rows, count(promotion_name) AS promoted
  FROM personalize.get_recommendations('promo', '3', 4, promotion => '{"filter": "promo-comedy", "percent": 100}');
-- related items take promotions too
SELECT count(*) AS rows, count(promotion_name) AS promoted
  FROM personalize.get_recommendations('promo-sims', item_id => 'p00', num_results => 4,
	promotion => '{"filter": "promo-drama", "percent": 50}');

-- bad promotions: each an error that says what to pass
SELECT * FROM personalize.recommend('promo', '3', 5, promotion => '[1]');
SELECT * FROM personalize.recommend('promo', '3', 5, promotion => '{"filter": "promo-comedy", "percent": 20, "limit": 3}');
SELECT * FROM personalize.recommend('promo', '3', 5, promotion => '{"percent": 20}');
SELECT * FROM personalize.recommend('promo', '3', 5, promotion => '{"filter": "promo-comedy"}');
SELECT * FROM personalize.recommend('promo', '3', 5, promotion => '{"filter": "promo-comedy", "percent": 0}');
SELECT * FROM personalize.recommend('promo', '3', 5, promotion => '{"filter": "promo-comedy", "percent": 101}');
SELECT * FROM personalize.recommend('promo', '3', 5, promotion => '{"filter": "promo-comedy", "percent": 2.5}');
SELECT * FROM personalize.recommend('promo', '3', 5, promotion => '{"filter": "promo-comedy", "percent": "20"}');
SELECT * FROM personalize.recommend('promo', '3', 5, promotion => '{"filter": 7, "percent": 20}');
SELECT * FROM personalize.recommend('promo', '3', 5, promotion => '{"filter": "promo-comedy", "filter_values": [1], "percent": 20}');
SELECT * FROM personalize.recommend('promo', '3', 5, promotion => '{"filter": "nope", "percent": 20}');
-- a placeholder the promotion's INCLUDE needs, missing
SELECT * FROM personalize.recommend('promo', '3', 5, promotion => '{"filter": "promo-genre", "percent": 20}');
-- a filter of another dataset group, and a filter of users
SELECT personalize.create_dataset_group('promo-other');
SELECT personalize.create_dataset('promo-other', 'items', 'promo_items');
SELECT personalize.create_filter('promo-other-comedy', 'promo-other', 'INCLUDE ItemID WHERE Items.GENRE IN ("Comedy")');
SELECT * FROM personalize.recommend('promo', '3', 5, promotion => '{"filter": "promo-other-comedy", "percent": 20}');
SELECT personalize.create_filter('promo-users', 'promo', 'INCLUDE UserID WHERE Users.AGE > 30');
SELECT * FROM personalize.recommend('promo', '3', 5, promotion => '{"filter": "promo-users", "percent": 20}');
-- SQL in a promotion's values is a value, never SQL
SELECT count(*) AS rows, count(promotion_name) AS promoted
  FROM personalize.get_recommendations('promo', '3', 5,
	promotion => '{"filter": "promo-genre", "filter_values": {"GENRES": "''); DROP TABLE promo_items; --"}, "percent": 40}');
SELECT count(*) AS items_still_there FROM promo_items;

-- clean up (the regression database is shared by every test)
SELECT personalize.drop_dataset_group(g, cascade => true) FROM unnest(ARRAY['promo', 'promo-other']) g;
DROP TABLE promo_events, promo_items, promo_users;
