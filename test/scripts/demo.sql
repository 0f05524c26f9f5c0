-- demo.sql: the demo walk-through, run by demo.sh on tables ratings and
-- movies already loaded (generated or MovieLens-100K).
\set ON_ERROR_STOP 1
\pset footer off
SET client_min_messages = warning;

CREATE EXTENSION personalize;
CREATE INDEX ON ratings (user_id, ts);

\echo
\echo '== 1. Register the ratings table as the interactions dataset'
SELECT personalize.create_dataset_group('demo') \g /dev/null
SELECT personalize.create_dataset('demo', 'interactions', 'ratings', event_time => 'ts') \g /dev/null
SELECT dataset_type, relation, user_column, item_column, time_column, time_kind FROM personalize.datasets;

\echo '== 2. Train popularity-count and user-personalization'
SELECT personalize.create_solution('demo-pop', 'demo', 'popularity-count') \g /dev/null
SELECT personalize.create_solution('demo-up', 'demo', 'user-personalization') \g /dev/null
SELECT personalize.create_solution_version('demo-pop') AS pop \gset
SELECT personalize.create_solution_version('demo-up') AS up \gset
SELECT id, solution, recipe, status, users, items, interactions,
       round(training_seconds::numeric, 2) AS seconds
  FROM personalize.solution_versions ORDER BY id;

\echo '== 3. Offline metrics (Personalize protocol; popularity-count on the same split)'
SELECT m.metric, round(m.value::numeric, 4) AS "user-personalization",
       round(b.value::numeric, 4) AS "popularity-count",
       round((m.value / nullif(b.value, 0))::numeric, 2) AS lift
  FROM personalize.solution_metrics(:up) m
  JOIN personalize.solution_metrics(:up) b ON b.metric = 'baseline_' || m.metric
 ORDER BY m.metric;

\echo '== 4. Deploy the user-personalization version as campaign "demo"'
SELECT personalize.create_campaign('demo', :up) \g /dev/null
SELECT name, solution, solution_version, recipe FROM personalize.campaigns;

\echo '== 5. Recommendations next to each user''s recent history'
PREPARE side_by_side(int) AS
SELECT coalesce(h.rank, r.rank) AS rank, h.title AS "recent history", r.title AS "recommended", round(r.score::numeric, 4) AS score
  FROM (SELECT row_number() OVER (ORDER BY x.ts DESC, x.item_id) AS rank, m.title
          FROM (SELECT item_id, ts FROM ratings WHERE user_id = $1 ORDER BY ts DESC, item_id LIMIT 5) x
          JOIN movies m USING (item_id)) h
  FULL JOIN (SELECT rec.rank, m.title, rec.score
               FROM personalize.recommend('demo', $1::text, 5) WITH ORDINALITY AS rec(item_id, score, rank)
               JOIN movies m ON m.item_id::text = rec.item_id) r USING (rank)
 ORDER BY 1;
\echo 'user 1'
EXECUTE side_by_side(1);
\echo 'user 2'
EXECUTE side_by_side(2);
\echo 'user 3'
EXECUTE side_by_side(3);

\echo '== 6. A new user with no history gets popular items'
SELECT m.title, round(r.score::numeric, 4) AS score
  FROM personalize.recommend('demo', 'newcomer', 5) WITH ORDINALITY AS r(item_id, score, rank)
  JOIN movies m ON m.item_id::text = r.item_id
 ORDER BY r.rank;

\echo '== 7. Fresh events count at once: user 3 watches fifteen of user 4''s films'
INSERT INTO ratings
SELECT 3, item_id, 5, 2000000000 + row_number() OVER (ORDER BY item_id)
  FROM (SELECT DISTINCT item_id FROM ratings WHERE user_id = 4 ORDER BY item_id LIMIT 15) x;
EXECUTE side_by_side(3);

\echo '== 8. Rank a given list for user 2'
SELECT m.title, round(r.score::numeric, 4) AS score
  FROM personalize.personalized_rank('demo', '2', ARRAY(SELECT item_id::text FROM movies WHERE item_id % 25 = 1))
       WITH ORDINALITY AS r(item_id, score, rank)
  JOIN movies m ON m.item_id::text = r.item_id
 ORDER BY r.rank;
