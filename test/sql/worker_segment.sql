-- Batch segment jobs: create_batch_segment_job here (wait => true) and in a
-- background worker, for item-affinity (item ids) and
-- item-attribute-affinity (attribute predicates) versions, and errors.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
-- version ids appear in messages: number them from a base of this file's own
SELECT setval(pg_get_serial_sequence('personalize.solution_version', 'id'), 8000) IS NOT NULL AS numbered;
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

-- 60 users in 3 taste clusters of 10 items (user u is in cluster u % 3);
-- cluster 0 is Comedy, 1 Drama, 2 Horror
CREATE TABLE crowd (user_id int, item_id text, ts bigint);
INSERT INTO crowd SELECT u, 'c' || (u % 3) || ((u + j) % 10), u * 100 + j + 1
  FROM generate_series(1, 60) u, generate_series(0, 5) j;
CREATE TABLE crowd_items (item_id text, genre text, price int);
INSERT INTO crowd_items SELECT 'c' || c || g, (ARRAY['Comedy', 'Drama', 'Horror'])[c + 1], 5 * g
  FROM generate_series(0, 2) c, generate_series(0, 9) g;
CREATE TABLE crowd_users (user_id int, age int);
INSERT INTO crowd_users SELECT u, 10 + u FROM generate_series(1, 60) u;
CREATE TABLE promoted (item_id text);
INSERT INTO promoted VALUES ('c05'), ('c15'), ('c25'), ('unknown');
CREATE TABLE audiences (predicate text);
INSERT INTO audiences VALUES ('ITEMS.GENRE = "Comedy"'), ('Items.GENRE IN ("Drama") AND Items.PRICE < 20'), ('ITEMS.GENRE = "Western"');
SELECT personalize.create_dataset_group('crowd');
SELECT personalize.create_dataset('crowd', 'interactions', 'crowd', event_time => 'ts');
SELECT personalize.create_dataset('crowd', 'items', 'crowd_items', metadata => ARRAY['genre', 'price']);
SELECT personalize.create_dataset('crowd', 'users', 'crowd_users', metadata => ARRAY['age']);
SELECT personalize.create_solution('crowd-item', 'crowd', 'item-affinity', '{"factors": 8, "seed": 7}');
SELECT personalize.create_solution_version('crowd-item') AS item_v \gset
SELECT personalize.create_campaign('crowd-item', :item_v);
SELECT personalize.create_solution('crowd-attr', 'crowd', 'item-attribute-affinity', '{"factors": 8, "seed": 7}');
SELECT personalize.create_solution_version('crowd-attr') AS attr_v \gset
SELECT personalize.create_campaign('crowd-attr', :attr_v);

-- item-affinity, here: the output matches user_segment() row for row
SELECT personalize.create_batch_segment_job('promo', :item_v, 'SELECT item_id FROM promoted', 'promo_users', 5, wait => true) AS job \gset
SELECT name, job_type, status, rows, output_table, num_results FROM personalize.jobs WHERE id = :job;
SELECT count(*) AS mismatches FROM (
	(SELECT item_id, rank, user_id, score FROM promo_users
	 EXCEPT
	 SELECT p.item_id, s.rank::integer, s.user_id, s.score
	   FROM promoted p CROSS JOIN LATERAL personalize.user_segment('crowd-item', p.item_id, 5) WITH ORDINALITY s(user_id, score, rank))
	UNION ALL
	(SELECT p.item_id, s.rank::integer, s.user_id, s.score
	   FROM promoted p CROSS JOIN LATERAL personalize.user_segment('crowd-item', p.item_id, 5) WITH ORDINALITY s(user_id, score, rank)
	 EXCEPT
	 SELECT item_id, rank, user_id, score FROM promo_users)) x;
-- each item's users are its cluster's; an unknown item has none
SELECT item_id, count(*) AS users, count(*) FILTER (WHERE user_id::int % 3 = substr(item_id, 2, 1)::int) AS same_cluster
  FROM promo_users GROUP BY 1 ORDER BY 1;

-- item-attribute-affinity: predicates as input, the same answer as user_segment()
SELECT personalize.create_batch_segment_job('genres', :attr_v, 'SELECT predicate FROM audiences', 'genre_users', 10, wait => true) AS attr_job \gset
SELECT job_type, status, rows FROM personalize.jobs WHERE id = :attr_job;
SELECT count(*) AS mismatches FROM (
	(SELECT item_attributes, rank, user_id, score FROM genre_users
	 EXCEPT
	 SELECT a.predicate, s.rank::integer, s.user_id, s.score
	   FROM audiences a CROSS JOIN LATERAL personalize.user_segment('crowd-attr', a.predicate, 10) WITH ORDINALITY s(user_id, score, rank))
	UNION ALL
	(SELECT a.predicate, s.rank::integer, s.user_id, s.score
	   FROM audiences a CROSS JOIN LATERAL personalize.user_segment('crowd-attr', a.predicate, 10) WITH ORDINALITY s(user_id, score, rank)
	 EXCEPT
	 SELECT item_attributes, rank, user_id, score FROM genre_users)) x;
SELECT item_attributes, count(*) AS users, array_agg(DISTINCT user_id::int % 3) AS clusters FROM genre_users GROUP BY 1 ORDER BY 1;

-- with a user filter, its values from the input's second column
SELECT personalize.create_filter('older', 'crowd', 'INCLUDE UserID WHERE Users.AGE >= $MIN');
SELECT personalize.create_batch_segment_job('older-genres', :attr_v,
	$$SELECT predicate, jsonb_build_object('MIN', 50) FROM audiences$$, 'older_users', 5, filter => 'older', wait => true) IS NOT NULL AS ran;
SELECT count(*) AS mismatches FROM (
	SELECT item_attributes, rank, user_id, score FROM older_users
	EXCEPT
	SELECT a.predicate, s.rank::integer, s.user_id, s.score
	  FROM audiences a CROSS JOIN LATERAL personalize.user_segment('crowd-attr', a.predicate, 5, filter => 'older', filter_values => '{"MIN": 50}')
	       WITH ORDINALITY s(user_id, score, rank)) x;
SELECT count(*) AS rows, bool_and(c.age >= 50) AS all_older FROM older_users o JOIN crowd_users c ON c.user_id = o.user_id::int;

-- in a background worker
SELECT personalize.create_batch_segment_job('bg', :attr_v, 'SELECT predicate FROM audiences', 'public.bg_users', 3) AS bg_job \gset
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN (SELECT status FROM personalize.jobs WHERE name = 'bg') NOT IN ('CREATE PENDING', 'CREATE IN_PROGRESS');
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT status, rows FROM personalize.jobs WHERE id = :bg_job;
SELECT count(*) AS mismatches FROM (
	SELECT item_attributes, rank, user_id, score FROM bg_users
	EXCEPT
	SELECT item_attributes, rank, user_id, score FROM genre_users WHERE rank <= 3) x;
-- a predicate that fails in the worker fails the job, which leaves no table
SELECT personalize.create_batch_segment_job('bg-broken', :attr_v, $$SELECT 'ITEMS.COLOR = "red"'$$, 'bg_broken') AS broken \gset
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN (SELECT status FROM personalize.jobs WHERE name = 'bg-broken') NOT IN ('CREATE PENDING', 'CREATE IN_PROGRESS');
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT status, failure_reason FROM personalize.jobs WHERE id = :broken;
SELECT to_regclass('bg_broken') IS NULL AS no_table;

-- errors: the other recipe's input, the other kind of job, arguments
SELECT personalize.create_batch_segment_job('bad', :attr_v, 'SELECT item_id FROM promoted', 'bad_out', wait => true);
SELECT personalize.create_batch_segment_job('bad', :item_v, 'SELECT predicate FROM audiences', 'bad_out', wait => true);
SELECT personalize.create_batch_inference_job('bad', :item_v, 'SELECT user_id FROM crowd_users', 'bad_out');
SELECT personalize.create_solution('crowd-up', 'crowd', 'user-personalization', '{"factors": 8}');
SELECT personalize.create_solution_version('crowd-up') AS up_v \gset
SELECT personalize.create_batch_segment_job('bad', :up_v, 'SELECT item_id FROM promoted', 'bad_out');
SELECT personalize.create_batch_segment_job('promo', :item_v, 'SELECT item_id FROM promoted', 'bad_out');
SELECT personalize.create_batch_segment_job('bad', :item_v, 'SELECT item_id FROM promoted', 'promo_users');
SELECT personalize.create_batch_segment_job('bad', :item_v, 'SELEC item_id FROM promoted', 'bad_out');
SELECT personalize.create_batch_segment_job('bad', :attr_v, 'SELECT predicate FROM nowhere', 'bad_out');
SELECT personalize.create_batch_segment_job('bad', :item_v, 'SELECT item_id FROM promoted', 'a.b.c');
SELECT personalize.create_batch_segment_job('bad', -1, 'SELECT item_id FROM promoted', 'bad_out');
SELECT personalize.create_batch_segment_job('bad', :item_v, 'SELECT item_id FROM promoted', 'bad_out', 0);
SELECT personalize.create_batch_segment_job('bad', :item_v, 'SELECT item_id FROM promoted', 'bad_out', 100001);
SELECT personalize.create_batch_segment_job('bad', :item_v, 'SELECT item_id FROM promoted', 'bad_out', filter => 'nope');
SELECT personalize.create_batch_segment_job('bad', :item_v, NULL, 'bad_out');
SELECT to_regclass('bad_out') IS NULL AS no_table;

SELECT personalize.drop_campaign(name) FROM personalize.campaigns WHERE name LIKE 'crowd%' ORDER BY name;
SELECT personalize.drop_dataset_group('crowd', cascade => true);
SELECT count(*) AS jobs_left FROM personalize.jobs;
DROP TABLE crowd, crowd_items, crowd_users, promoted, audiences, promo_users, genre_users, older_users, bg_users;
