-- The serving path's fast kernels and its model cache: top-K and the
-- vectorised softmax agree with a full ranking, personalized_rank's
-- listed-items scoring agrees with the catalogue's, and a campaign moved
-- to another version never serves the cached model of the old one.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

CREATE TABLE serve_clicks (user_id int, item_id text, ts timestamptz);
INSERT INTO serve_clicks
SELECT u, 'i' || ((u * 7 + j * j) % 300), timestamptz '2026-01-01' + (u * 50 + j) * interval '1 minute'
  FROM generate_series(1, 200) u, generate_series(0, 11) j;
CREATE INDEX ON serve_clicks (user_id, ts);
SELECT personalize.create_dataset_group('serve');
SELECT personalize.create_dataset('serve', 'interactions', 'serve_clicks', event_time => 'ts');
SELECT personalize.create_solution('serve-a', 'serve', 'user-personalization',
	'{"factors": 16, "iterations": 8, "seed": 3}');
SELECT personalize.create_solution('serve-b', 'serve', 'user-personalization',
	'{"factors": 12, "iterations": 8, "seed": 11}');
SELECT personalize.create_solution_version('serve-a') AS version_a \gset
SELECT personalize.create_solution_version('serve-b') AS version_b \gset
-- relevance only (no exploration): answers compared with personalized_rank and _recommend_version
SELECT personalize.create_campaign('serve', :version_a, '{"exploration_weight": 0}');
SELECT count(DISTINCT item_id) AS catalogue FROM serve_clicks;

-- every unseen item once, best first: the softmax over the catalogue sums
-- to 1 (vectorised exp), top-k is a prefix of the full ranking for every k
CREATE TEMP TABLE full_ranking AS
SELECT u, r.item_id, r.score, r.ord
  FROM generate_series(1, 20) u,
       LATERAL personalize.recommend('serve', u::text, 500) WITH ORDINALITY r(item_id, score, ord);
SELECT count(*) FILTER (WHERE abs(total - 1) > 1e-6) AS users_not_summing_to_1,
       count(*) FILTER (WHERE n <> 300 - seen) AS users_missing_items
  FROM (SELECT f.u, sum(f.score) AS total, count(*) AS n,
               (SELECT count(DISTINCT item_id) FROM serve_clicks c WHERE c.user_id = f.u) AS seen
          FROM full_ranking f GROUP BY f.u) t;
SELECT count(*) AS out_of_order
  FROM full_ranking a JOIN full_ranking b ON a.u = b.u AND b.ord = a.ord + 1
 WHERE b.score > a.score;
SELECT r.k, count(*) AS rows, count(f.item_id) AS matching
  FROM (SELECT uid, k, t.*
          FROM generate_series(1, 20) g(uid), unnest(ARRAY[1, 2, 7, 25, 100]) k,
               LATERAL personalize.recommend('serve', uid::text, k) WITH ORDINALITY t(item_id, score, ord)) r
  LEFT JOIN full_ranking f ON f.u = r.uid AND f.ord = r.ord AND f.item_id = r.item_id
                          AND abs(f.score - r.score) < 1e-12
 GROUP BY r.k ORDER BY r.k;

-- personalized_rank scores only the listed items: its softmax over a list
-- equals recommend's catalogue scores renormalised over that list
SELECT count(*) AS ranked,
       count(*) FILTER (WHERE abs(p.score - f.score / l.total) <= 1e-6 * p.score
                          AND p.ord = (f.ord - 1) / 37 + 1) AS matching
  FROM generate_series(1, 20) g(uid),
       LATERAL (SELECT array_agg(item_id ORDER BY ord DESC) AS items, sum(score) AS total
                  FROM full_ranking f WHERE f.u = uid AND f.ord % 37 = 1) l,
       LATERAL personalize.personalized_rank('serve', uid::text, l.items) WITH ORDINALITY p(item_id, score, ord),
       full_ranking f
 WHERE f.u = uid AND f.item_id = p.item_id;

-- a cached model is never served once its campaign moves: same backend,
-- the model of version a is cached, the campaign moves to b, and the
-- answer is b's (as its batch form gives it), not a's
SELECT array_agg(item_id ORDER BY ord) AS from_a
  FROM personalize.recommend('serve', '5', 5) WITH ORDINALITY r(item_id, score, ord) \gset
SELECT personalize.update_campaign('serve', :version_b);
SELECT array_agg(item_id ORDER BY ord) = (SELECT array_agg(item_id ORDER BY ord)
         FROM personalize._recommend_version(:version_b, '5', NULL, 5) WITH ORDINALITY v(item_id, score, ord)) AS serves_b,
       array_agg(item_id ORDER BY ord) <> :'from_a' AS not_a
  FROM personalize.recommend('serve', '5', 5) WITH ORDINALITY r(item_id, score, ord);
-- and back, within one transaction too
BEGIN;
SELECT personalize.update_campaign('serve', :version_a);
SELECT array_agg(item_id ORDER BY ord) = :'from_a' AS serves_a_again
  FROM personalize.recommend('serve', '5', 5) WITH ORDINALITY r(item_id, score, ord);
ROLLBACK;
SELECT array_agg(item_id ORDER BY ord) <> :'from_a' AS rolled_back_to_b
  FROM personalize.recommend('serve', '5', 5) WITH ORDINALITY r(item_id, score, ord);

-- a runtime call nested in another (an items view calling recommend(),
-- read by a filter) gets its own score buffer: the outer answer is intact
CREATE TABLE serve_item_rows AS SELECT DISTINCT item_id FROM serve_clicks;
CREATE VIEW serve_items AS
SELECT item_id, (SELECT count(*) FROM personalize.recommend('serve', '9', 3))::text AS nested
  FROM serve_item_rows;
SELECT personalize.create_dataset('serve', 'items', 'serve_items', metadata => ARRAY['nested']);
SELECT personalize.create_filter('serve-nested', 'serve', 'INCLUDE ItemID WHERE Items.NESTED IN ("3")');
SELECT array_agg(item_id ORDER BY ord) = (SELECT array_agg(item_id ORDER BY ord)
         FROM personalize.recommend('serve', '5', 10) WITH ORDINALITY v(item_id, score, ord)) AS filtered_equals_unfiltered
  FROM personalize.recommend('serve', '5', 10, filter => 'serve-nested') WITH ORDINALITY r(item_id, score, ord);

SELECT personalize.drop_campaign('serve');
SELECT personalize.drop_dataset_group('serve', cascade => true);
DROP VIEW serve_items;
DROP TABLE serve_clicks, serve_item_rows;
