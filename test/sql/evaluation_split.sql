-- personalize._evaluation_split: the offline-evaluation split as rows (what
-- make bench hands to its NumPy reference), checked against the protocol
-- of SPEC 2.3 and against the split a solution version is evaluated on.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

-- 80 users with 1 to 40 distinct items; user u saw item i at u * 1000 + i
-- minutes, and items 0 and 1 a second time later on (merged: 2 events)
CREATE TABLE split_events (user_id int, item_id text, ts bigint);
INSERT INTO split_events
SELECT u, 'i' || ((u * 7 + j) % 50), 1700000000 + (u * 1000 + j) * 60
  FROM generate_series(1, 80) u, generate_series(0, (u % 40)) j;
INSERT INTO split_events
SELECT u, 'i' || ((u * 7 + j) % 50), 1700000000 + (u * 1000 + 900 + j) * 60
  FROM generate_series(1, 80) u, generate_series(0, least(1, u % 40)) j;
SELECT personalize.create_dataset_group('split');
SELECT personalize.create_dataset('split', 'interactions', 'split_events', event_time => 'ts');

CREATE TEMP TABLE s42 AS SELECT * FROM personalize._evaluation_split('split');
CREATE TEMP TABLE latest AS
SELECT user_id::text, item_id, count(*)::real AS events, max(ts) AS ts FROM split_events GROUP BY 1, 2;

-- one row per distinct (user, item), with its event count
SELECT count(*) AS rows, (SELECT count(*) FROM latest) AS distinct_pairs,
       sum(events) AS events, (SELECT count(*) FROM split_events) AS all_events
  FROM s42;
SELECT count(*) AS mismatched FROM s42 s LEFT JOIN latest l USING (user_id, item_id) WHERE l.events IS DISTINCT FROM s.events;
SELECT role, count(DISTINCT user_id) AS users, count(*) AS rows FROM s42 GROUP BY role ORDER BY role;
-- a user is either trained on or held out, never both
SELECT count(*) AS both_roles FROM (SELECT user_id FROM s42 GROUP BY user_id HAVING bool_or(role = 'train') AND bool_or(role <> 'train')) x;
-- held-out users: 10% of the users, each with two or more items, the newest
-- 10% (at least one) relevant and all newer than every input item
SELECT count(*) AS held_out, bool_and(n >= 2) AS two_or_more,
       bool_and(relevant = greatest(n / 10, 1)) AS newest_tenth,
       bool_and(newest_input < oldest_relevant) AS relevant_newer
  FROM (SELECT s.user_id, count(*) AS n, count(*) FILTER (WHERE role = 'relevant') AS relevant,
               max(l.ts) FILTER (WHERE role = 'input') AS newest_input,
               min(l.ts) FILTER (WHERE role = 'relevant') AS oldest_relevant
          FROM s42 s JOIN latest l USING (user_id, item_id)
         WHERE role <> 'train' GROUP BY s.user_id) h;
-- newer_events counts the newer input items (what recency weighting uses)
SELECT bool_and(newer_events = expected) AS newer_events_right, bool_and(newer_events IS NULL) FILTER (WHERE role <> 'input') AS null_elsewhere
  FROM (SELECT s.*, (count(*) FILTER (WHERE role = 'input') OVER (PARTITION BY user_id ORDER BY l.ts DESC
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))::int AS expected
          FROM s42 s JOIN latest l USING (user_id, item_id)) x;

-- reproducible for a seed, another seed holds out other users
SELECT count(*) AS differences FROM (
	(SELECT * FROM personalize._evaluation_split('split', 42) EXCEPT SELECT * FROM s42)
	UNION ALL (SELECT * FROM s42 EXCEPT SELECT * FROM personalize._evaluation_split('split', 42))) d;
SELECT count(*) < 8 AS other_users
  FROM (SELECT DISTINCT user_id FROM s42 WHERE role <> 'train'
        INTERSECT SELECT DISTINCT user_id FROM personalize._evaluation_split('split', 7) WHERE role <> 'train') x;

-- the split a solution version with the same seed is evaluated on
SELECT personalize.create_solution('split-pop', 'split', 'popularity-count');
SELECT personalize.create_solution_version('split-pop') AS v \gset
SELECT (metrics->>'evaluated_users')::int AS evaluated_users FROM personalize.solution_versions WHERE id = :v;

-- bad input
SELECT * FROM personalize._evaluation_split('nowhere');
SELECT * FROM personalize._evaluation_split('split', -1);
SELECT count(*) FROM personalize._evaluation_split(NULL);
CREATE ROLE personalize_regress_split;
SET ROLE personalize_regress_split;
SELECT count(*) FROM personalize._evaluation_split('split');
RESET ROLE;
DROP ROLE personalize_regress_split;

SELECT personalize.drop_dataset_group('split', cascade => true);
DROP TABLE split_events;
