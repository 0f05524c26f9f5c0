-- The metadata recipes: similar-items (RELATED_ITEMS, co-occurrence blended
-- with item metadata) and user-personalization-metadata (items without
-- interactions get factors from their metadata; users without history are
-- served from theirs), metadata of every kind (|-separated text, text[],
-- boolean, numbers), the creation time of items, and the errors.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

-- 3 taste clusters of 10 items; users 1-60 in cluster u % 3.  Cluster c is
-- the genre 'g<c>'; the items 'n<c>' (one per cluster) are new: metadata,
-- no interactions.
CREATE TABLE meta_views (user_id int, item_id text, ts bigint);
INSERT INTO meta_views
SELECT u, 'c' || (u % 3) || ((u + j) % 10), u * 100 + j + 1
  FROM generate_series(1, 60) u, generate_series(0, 5) j;
CREATE INDEX ON meta_views (user_id, ts);
CREATE TABLE meta_titles (item_id text, genre text, tags text[], family boolean, price numeric, creation_timestamp bigint);
INSERT INTO meta_titles
SELECT 'c' || c || i, 'g' || c || CASE WHEN i = 0 THEN '|classic' ELSE '' END, ARRAY['t' || c], c = 0, 10 * c + i, 1000 + i
  FROM generate_series(0, 2) c, generate_series(0, 9) i;
INSERT INTO meta_titles SELECT 'n' || c, 'g' || c, ARRAY['t' || c], c = 0, 10 * c + 5, 9000 FROM generate_series(0, 2) c;
-- users: the cluster shows in the occupation; 61-63 are new (no history)
CREATE TABLE meta_members (user_id int, occupation text, age int);
INSERT INTO meta_members SELECT u, 'job' || (u % 3), 20 + u % 40 FROM generate_series(1, 63) u;

SELECT personalize.create_dataset_group('meta');
SELECT personalize.create_dataset('meta', 'interactions', 'meta_views', event_time => 'ts');

-- both recipes need metadata: a clear failure without it
SELECT personalize.create_solution('meta-similar', 'meta', 'similar-items');
SELECT personalize.create_solution('meta-upm', 'meta', 'user-personalization-metadata');
-- (each a WARNING naming the version, whose id depends on the tests before)
SET client_min_messages = error;
SELECT personalize.create_solution_version('meta-similar') IS NOT NULL AS returned;
SELECT personalize.create_solution_version('meta-upm') IS NOT NULL AS returned;
SET client_min_messages = warning;
SELECT solution, status, failure_reason FROM personalize.solution_versions WHERE solution LIKE 'meta-%' ORDER BY id;

-- items: |-separated text, text[], boolean and numeric metadata; the
-- creation time column is found by its Personalize name
SELECT personalize.create_dataset('meta', 'items', 'meta_titles', metadata => ARRAY['genre', 'tags', 'family', 'price']);
SELECT dataset_type, time_column, metadata_columns FROM personalize.datasets WHERE dataset_group = 'meta' ORDER BY 1;
SELECT personalize.create_dataset('meta', 'users', 'meta_members', metadata => ARRAY['occupation', 'age']);
-- a creation time of the wrong type, event_time on a users dataset
CREATE TABLE meta_bad_titles (item_id text, creation_timestamp text);
SELECT personalize.create_dataset_group('meta-bad');
SELECT personalize.create_dataset('meta-bad', 'items', 'meta_bad_titles');
SELECT personalize.create_dataset('meta-bad', 'users', 'meta_members', event_time => 'age');

SELECT name, jsonb_object_keys(hyperparameters) AS hyperparameter FROM personalize.recipes
 WHERE name IN ('similar-items', 'user-personalization-metadata') ORDER BY 1, 2;
SELECT personalize.create_solution('bad', 'meta', 'similar-items', '{"metadata_weight": 1.5}');
SELECT personalize.create_solution('bad', 'meta', 'user-personalization-metadata', '{"item_metadata_weight": -1}');

-- similar-items: the new items are in the catalogue, have related items of
-- their genre, and appear among their genre's related items
SELECT personalize.create_solution_version('meta-similar') AS similar_version \gset
SELECT status, items FROM personalize.solution_versions WHERE id = :similar_version;
SELECT personalize.create_campaign('meta-similar', :similar_version);
SELECT count(*) FILTER (WHERE item_id LIKE 'c1%') AS same_genre, count(*) AS total
  FROM personalize.related_items('meta-similar', 'n1', 5);
SELECT bool_or(item_id = 'n2') AS new_item_listed FROM personalize.related_items('meta-similar', 'c23', 10);
SELECT count(*) FILTER (WHERE item_id LIKE 'c0%' OR item_id = 'n0') AS same_cluster, count(*) AS total
  FROM personalize.related_items('meta-similar', 'c00', 9);
-- metadata_weight 0 is sims: the new item has no related items but popular ones
SELECT personalize.create_solution('meta-similar0', 'meta', 'similar-items', '{"metadata_weight": 0}');
SELECT personalize.create_campaign('meta-similar0', personalize.create_solution_version('meta-similar0'));
SELECT bool_and(score = 0) AS only_popular_fill FROM personalize.related_items('meta-similar0', 'n1', 5);

-- user-personalization-metadata
SELECT personalize.create_solution_version('meta-upm') AS upm_version \gset
SELECT status, items, metrics ? 'normalized_discounted_cumulative_gain_at_10' AS has_metrics
  FROM personalize.solution_versions WHERE id = :upm_version;
-- relevance only here (every item of this set is young): exploration.sql tests exploration
SELECT personalize.create_campaign('meta-upm', :upm_version, '{"exploration_weight": 0}');
-- the map from user features to a factor: one row per occupation value and
-- age bucket, and the bias
SELECT count(*) FILTER (WHERE feature_column = 'occupation') AS occupations,
       count(*) FILTER (WHERE feature_column = 'age' AND feature_value IS NULL AND low < high) AS age_buckets,
       count(*) FILTER (WHERE feature_column IS NULL) AS bias
  FROM personalize.model_feature WHERE solution_version = :upm_version;
-- a new item is ranked for a user of its genre above the new items of the others
SELECT item_id FROM personalize.personalized_rank('meta-upm', '4', ARRAY['n0', 'n1', 'n2']) LIMIT 1;
SELECT item_id FROM personalize.personalized_rank('meta-upm', '5', ARRAY['n0', 'n1', 'n2']) LIMIT 1;
-- a new user with metadata: the items of the cluster their occupation shares
SELECT count(*) FILTER (WHERE item_id LIKE 'c1%' OR item_id = 'n1') AS cluster_1, count(*) AS total
  FROM personalize.recommend('meta-upm', '61', 10);
SELECT count(*) FILTER (WHERE item_id LIKE 'c2%' OR item_id = 'n2') AS cluster_2, count(*) AS total
  FROM personalize.recommend('meta-upm', '62', 10);
-- scores still sum to 1 over the catalogue
SELECT round(sum(score)::numeric, 4) AS total FROM personalize.recommend('meta-upm', '62', 500);
-- a user unknown to both datasets gets popular items, as with user-personalization
SELECT personalize.create_solution('meta-popular', 'meta', 'popularity-count');
SELECT personalize.create_campaign('meta-popular', personalize.create_solution_version('meta-popular'));
SELECT (SELECT array_agg(item_id) FROM personalize.recommend('meta-upm', 'nobody', 5))
     = (SELECT array_agg(item_id) FROM personalize.recommend('meta-popular', 'nobody', 5)) AS popular;
-- a role that cannot read the users dataset cannot be served a cold user from it
CREATE ROLE personalize_regress_meta_app;
GRANT SELECT ON meta_views TO personalize_regress_meta_app;
SET ROLE personalize_regress_meta_app;
SELECT count(*) FROM personalize.recommend('meta-upm', '4', 3);
SELECT count(*) FROM personalize.recommend('meta-upm', '61', 3);
RESET ROLE;
-- a users metadata column renamed after training
ALTER TABLE meta_members RENAME COLUMN occupation TO job;
SELECT count(*) FROM personalize.recommend('meta-upm', '61', 3);
ALTER TABLE meta_members RENAME COLUMN job TO occupation;

-- a feature row changed after training (its weights cut short) fails to
-- load with data_corrupted and the hint to retrain: a new version, loaded by
-- no backend yet (the version number masked: it depends on the schedule)
SELECT personalize.create_solution_version('meta-upm') AS upm_damaged \gset
SELECT personalize.create_campaign('meta-upm-damaged', :upm_damaged, '{"exploration_weight": 0}');
CREATE FUNCTION damaged_features() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM * FROM personalize.recommend('meta-upm-damaged', '61', 3);
	RETURN 'loaded';
EXCEPTION WHEN data_corrupted THEN
	RETURN 'data_corrupted: ' || regexp_replace(SQLERRM, 'version \d+', 'version N');
END $$;
BEGIN;
UPDATE personalize.model_feature SET weights = weights[1:2]
 WHERE solution_version = :upm_damaged AND feature_index = 0;
SELECT damaged_features();
ROLLBACK;
-- restored, it loads
SELECT damaged_features();
SELECT personalize.drop_campaign('meta-upm-damaged');
DROP FUNCTION damaged_features();

-- a metadata column that was renamed after registration fails training clearly
ALTER TABLE meta_titles RENAME COLUMN genre TO kind;
SET client_min_messages = error;
SELECT personalize.create_solution_version('meta-similar') IS NOT NULL AS returned;
SET client_min_messages = warning;
SELECT status, failure_reason FROM personalize.solution_versions WHERE solution = 'meta-similar' ORDER BY id DESC LIMIT 1;
ALTER TABLE meta_titles RENAME COLUMN kind TO genre;

SELECT personalize.drop_dataset_group('meta', true);
SELECT personalize.drop_dataset_group('meta-bad', true);
DROP TABLE meta_views, meta_titles, meta_members, meta_bad_titles;
DROP OWNED BY personalize_regress_meta_app;
DROP ROLE personalize_regress_meta_app;
