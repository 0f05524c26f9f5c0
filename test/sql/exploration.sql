-- Exploration of young items by user-personalization campaigns (config
-- exploration_weight, default 0.3, and exploration_item_age_cut_off, days,
-- default 30): item ages recorded at training, the bonus young candidates
-- get (scores still a softmax, the other items in their order), what the
-- cut-off selects, and what exploration leaves alone (personalized_rank,
-- batch scoring).
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

-- 40 users over 100 days (timestamps in seconds).  20 established items
-- o00..o19 created on day 0, rated by everyone over the first 90 days; 5
-- young items y0..y4 created on day 95, each rated by 2 users on days 96 to
-- 100; item r0 has no creation time and is first rated on day 80.
CREATE TABLE explore_views (user_id int, item_id text, ts bigint);
INSERT INTO explore_views
SELECT u, 'o' || lpad(((u + j) % 20)::text, 2, '0'), (u + j * 7) * 86400 / 5
  FROM generate_series(1, 40) u, generate_series(0, 7) j;
INSERT INTO explore_views
SELECT u, 'y' || (u % 5), (96 + u % 5) * 86400
  FROM generate_series(1, 10) u;
INSERT INTO explore_views
SELECT u, 'r0', (80 + u) * 86400 FROM generate_series(1, 3) u;
INSERT INTO explore_views VALUES (40, 'o00', 100 * 86400);
CREATE INDEX ON explore_views (user_id, ts);
CREATE TABLE explore_items (item_id text, creation_timestamp bigint);
INSERT INTO explore_items SELECT 'o' || lpad(i::text, 2, '0'), 0 FROM generate_series(0, 19) i;
INSERT INTO explore_items SELECT 'y' || i, 95 * 86400 FROM generate_series(0, 4) i;
INSERT INTO explore_items VALUES ('r0', NULL);

SELECT personalize.create_dataset_group('explore');
SELECT personalize.create_dataset('explore', 'interactions', 'explore_views', event_time => 'ts');
SELECT personalize.create_dataset('explore', 'items', 'explore_items');
SELECT personalize.create_solution('explore-up', 'explore', 'user-personalization');
SELECT personalize.create_solution_version('explore-up') AS version \gset
SELECT status FROM personalize.solution_versions WHERE id = :version;

-- ages in days up to the newest interaction (day 100): the creation time,
-- else the first interaction (r0, day 81)
SELECT left(item_id, 1) AS kind, min(age_days) AS youngest, max(age_days) AS oldest, count(*) AS items
  FROM personalize.model_item WHERE solution_version = :version
 GROUP BY 1 ORDER BY 1;

-- the default config explores (0.3, 30 days); a campaign with weight 0 does not
SELECT personalize.create_campaign('explore', :version);
SELECT personalize.create_campaign('relevance', :version, '{"exploration_weight": 0}');
CREATE TEMP TABLE served AS
SELECT u::text AS user_id, c AS campaign, r.item_id, r.score, r.ord
  FROM generate_series(11, 40) u,
       unnest(ARRAY['explore', 'relevance']) c,
       LATERAL personalize.recommend(c, u::text, 500) WITH ORDINALITY r(item_id, score, ord);

-- young items (y*, r0) among each user's top 5, with and without
SELECT campaign, count(*) FILTER (WHERE item_id ~ '^(y|r)' AND ord <= 5) AS young_in_top_5
  FROM served GROUP BY campaign ORDER BY campaign;

-- both are distributions over the candidates
SELECT campaign, min(total) AS min_total, max(total) AS max_total
  FROM (SELECT campaign, user_id, round(sum(score)::numeric, 6) AS total
          FROM served GROUP BY 1, 2) t
 GROUP BY campaign ORDER BY campaign;

-- young items gain; the established items keep their order, each user's
-- scaled by one common factor (the softmax denominator grew)
CREATE TEMP TABLE compared AS
SELECT user_id, item_id, e.score / r.score AS ratio, e.ord AS explore_ord, r.ord AS relevance_ord
  FROM served e JOIN served r USING (user_id, item_id)
 WHERE e.campaign = 'explore' AND r.campaign = 'relevance';
SELECT bool_and(ratio > 1) AS young_items_gain FROM compared WHERE item_id !~ '^o';
SELECT count(*) AS users_with_unequal_factors
  FROM (SELECT user_id FROM compared WHERE item_id LIKE 'o%'
         GROUP BY user_id HAVING max(ratio) - min(ratio) > 1e-6 * max(ratio)) t;
SELECT count(*) AS established_order_changes
  FROM (SELECT user_id, item_id, rank() OVER (PARTITION BY user_id ORDER BY explore_ord) AS e,
               rank() OVER (PARTITION BY user_id ORDER BY relevance_ord) AS r
          FROM compared WHERE item_id LIKE 'o%') t
 WHERE e <> r;

-- the cut-off selects the young: 10 days leaves r0 (19 days) out, which
-- then scales like the established items; 1 day leaves nothing to explore
-- (the relevance ranking); changes apply at once
SELECT personalize.update_campaign('explore', config => '{"exploration_weight": 0.3, "exploration_item_age_cut_off": 10}');
CREATE TEMP TABLE cut_10 AS
SELECT r.user_id, r.item_id, e.score / r.score AS ratio
  FROM served r JOIN LATERAL personalize.recommend('explore', r.user_id, 500) e USING (item_id)
 WHERE r.campaign = 'relevance';
SELECT bool_and(ratio > 1) FILTER (WHERE item_id LIKE 'y%') AS y_gain,
       count(*) FILTER (WHERE item_id = 'r0') AS r0_rows,
       count(*) FILTER (WHERE item_id = 'r0' AND abs(ratio - o_ratio) <= 1e-6 * o_ratio) AS r0_scaled_like_established
  FROM cut_10 c
  JOIN (SELECT user_id, avg(ratio) AS o_ratio FROM cut_10 WHERE item_id LIKE 'o%' GROUP BY 1) o USING (user_id);
SELECT personalize.update_campaign('explore', config => '{"exploration_item_age_cut_off": 1}');
SELECT count(*) AS differences
  FROM served r
  LEFT JOIN LATERAL personalize.recommend('explore', r.user_id, 500) WITH ORDINALITY e(item_id, score, ord)
    ON e.ord = r.ord
 WHERE r.campaign = 'relevance'
   AND (e.item_id IS DISTINCT FROM r.item_id OR abs(e.score - r.score) > 1e-9);

-- more weight, more young items near the top
CREATE TEMP TABLE by_weight (w numeric, young_in_top_5 bigint);
SELECT personalize.update_campaign('explore', config => '{"exploration_weight": 0}');
INSERT INTO by_weight SELECT 0, count(*) FILTER (WHERE e.item_id ~ '^(y|r)')
  FROM generate_series(11, 40) u, LATERAL personalize.recommend('explore', u::text, 5) e;
SELECT personalize.update_campaign('explore', config => '{"exploration_weight": 0.3}');
INSERT INTO by_weight SELECT 0.3, count(*) FILTER (WHERE e.item_id ~ '^(y|r)')
  FROM generate_series(11, 40) u, LATERAL personalize.recommend('explore', u::text, 5) e;
SELECT personalize.update_campaign('explore', config => '{"exploration_weight": 0.6}');
INSERT INTO by_weight SELECT 0.6, count(*) FILTER (WHERE e.item_id ~ '^(y|r)')
  FROM generate_series(11, 40) u, LATERAL personalize.recommend('explore', u::text, 5) e;
SELECT personalize.update_campaign('explore', config => '{"exploration_weight": 1}');
INSERT INTO by_weight SELECT 1, count(*) FILTER (WHERE e.item_id ~ '^(y|r)')
  FROM generate_series(11, 40) u, LATERAL personalize.recommend('explore', u::text, 5) e;
SELECT * FROM by_weight ORDER BY w;

-- exploration is for recommend only: personalized_rank and the batch
-- path (_recommend_version) rank by relevance
SELECT count(*) AS rank_differences
  FROM generate_series(11, 40) u,
       LATERAL (SELECT array_agg(item_id ORDER BY item_id) AS items FROM explore_items) i,
       LATERAL (SELECT array_agg(item_id) AS a FROM personalize.personalized_rank('explore', u::text, i.items)) e,
       LATERAL (SELECT array_agg(item_id) AS a FROM personalize.personalized_rank('relevance', u::text, i.items)) r
 WHERE e.a IS DISTINCT FROM r.a;
SELECT count(*) AS batch_differences
  FROM generate_series(11, 40) u,
       LATERAL (SELECT array_agg(item_id) AS a FROM personalize._recommend_version(:version, u::text, NULL, 10)) b,
       LATERAL (SELECT array_agg(item_id) AS a FROM personalize.recommend('relevance', u::text, 10)) r
 WHERE b.a IS DISTINCT FROM r.a;

SELECT personalize.drop_campaign(c) FROM unnest(ARRAY['explore', 'relevance']) c;
SELECT personalize.drop_solution('explore-up');
SELECT personalize.drop_dataset_group('explore', cascade => true);
DROP TABLE explore_views, explore_items;
