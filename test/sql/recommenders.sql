-- Recommenders of domain dataset groups: each use case wires a recipe and
-- an event type, trains and deploys under one name usable as a campaign.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

-- a shop where users view items of their cluster and buy two of them
CREATE TABLE store_events (user_id int, item_id text, ts bigint, event_type text);
INSERT INTO store_events
SELECT u, 'c' || (u % 3) || ((u + j) % 10), u * 100 + j + 1, CASE WHEN j >= 4 THEN 'Purchase' ELSE 'View' END
  FROM generate_series(1, 90) u, generate_series(0, 5) j;
INSERT INTO store_events SELECT u, 'hit', u * 100, 'View' FROM generate_series(1, 90) u;
SELECT personalize.create_dataset_group('store', 'ECOMMERCE');
SELECT personalize.create_dataset('store', 'interactions', 'store_events', event_time => 'ts');

SELECT personalize.create_recommender('store-best', 'store', 'best-sellers') > 0 AS trained;
SELECT personalize.create_recommender('store-viewed', 'store', 'most-viewed') > 0 AS trained;
SELECT personalize.create_recommender('store-together', 'store', 'frequently-bought-together') > 0 AS trained;
SELECT personalize.create_recommender('store-for-you', 'store', 'recommended-for-you',
	'{"hyperparameters": {"factors": 8, "seed": 7}}') > 0 AS trained;
SELECT name, use_case, recipe, event_type FROM personalize.recommenders ORDER BY name;

-- a recommender name works wherever a campaign name does
SELECT item_id FROM personalize.recommend('store-viewed', 'newcomer', 1);           -- views: the blockbuster
SELECT item_id <> 'hit' AS not_the_viewed_hit FROM personalize.recommend('store-best', 'newcomer', 1);  -- purchases only
SELECT count(*) FILTER (WHERE item_id LIKE 'c0%') AS same_cluster FROM personalize.related_items('store-together', 'c04', 3);
SELECT count(*) FROM personalize.recommend('store-for-you', '3', 5);
SELECT describe_recommender->>'status' AS status, describe_recommender->>'use_case' AS use_case
  FROM personalize.describe_recommender('store-for-you');

-- errors
SELECT personalize.create_recommender('x', 'store', 'top-picks');
SELECT personalize.create_recommender('x', 'store', 'best-sellers', '{"schedule": "daily"}');
SELECT personalize.create_recommender('store-best', 'store', 'best-sellers');
SELECT personalize.create_dataset_group('custom');
SELECT personalize.create_recommender('x', 'custom', 'best-sellers');
SELECT personalize.create_recommender('x', 'nowhere', 'best-sellers');
SELECT personalize.describe_recommender('nope');
SELECT personalize.drop_recommender('store-viewed');
SELECT personalize.drop_recommender('store-viewed');
SELECT * FROM personalize.recommend('store-viewed', 'newcomer', 1);

SELECT personalize.drop_dataset_group('store', cascade => true);
SELECT personalize.drop_dataset_group('custom');
SELECT count(*) AS recommenders_left FROM personalize.recommenders;
