-- recommend() reads a user's history straight from a btree index of the
-- interactions when that gives what its query would (history_scan.c), and
-- through SQL otherwise.  Every answer must be the same both ways, to the
-- bit: same events, same order (the fold-in weighs them by recency).
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

-- 60 users over 30 items, no two events of a user at the same time; some
-- events without an item (skipped) or without a time (newest, as ORDER BY
-- time DESC puts NULLs first)
CREATE TABLE hist_events (user_id int, item_id int, ts bigint);
INSERT INTO hist_events
SELECT u, (u % 3) * 10 + (u * 7 + j * j) % 10, 1700000000 + u * 100 + j
  FROM generate_series(1, 60) u, generate_series(1, 14) j;
INSERT INTO hist_events SELECT u, NULL, 1700000000 + u * 100 + 50 FROM generate_series(1, 60, 4) u;
INSERT INTO hist_events SELECT u, 29 - u % 30, NULL FROM generate_series(2, 60, 5) u;
SELECT personalize.create_dataset_group('hist');
SELECT personalize.create_dataset('hist', 'interactions', 'hist_events', event_time => 'ts');
SELECT personalize.create_solution('hist', 'hist', 'user-personalization', '{"factors": 8, "iterations": 4}');
SELECT personalize.create_solution_version('hist') > 0 AS trained;
SELECT personalize.create_campaign('hist', (SELECT max(id) FROM personalize.solution_versions WHERE solution = 'hist'));
-- personalized_rank reads only the newest personalize.max_history events
SELECT personalize.create_solution('hist-rank', 'hist', 'personalized-ranking', '{"factors": 8, "iterations": 4}');
SELECT personalize.create_solution_version('hist-rank') > 0 AS trained;
SELECT personalize.create_campaign('hist-rank', (SELECT max(id) FROM personalize.solution_versions WHERE solution = 'hist-rank'));
SET personalize.max_history = 5;

-- every user's answers (and one unknown user's), read one way and the other
CREATE FUNCTION pg_temp.answers(direct boolean) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('personalize.direct_history', direct::text, true);
	RETURN (SELECT string_agg(format('%s:%s:%s', u, r.item_id, r.score), ' ' ORDER BY u, r.ordinality)
			  FROM generate_series(1, 61) u,
				   LATERAL personalize.recommend('hist', u::text, 8) WITH ORDINALITY r) ||
		   (SELECT string_agg(format('%s:%s:%s', u, r.item_id, r.score), ' ' ORDER BY u, r.ordinality)
			  FROM generate_series(1, 61) u,
				   LATERAL personalize.personalized_rank('hist-rank', u::text,
						ARRAY(SELECT g::text FROM generate_series(0, 29) g)) WITH ORDINALITY r);
END $$;
CREATE FUNCTION pg_temp.same() RETURNS boolean LANGUAGE sql AS
  $$ SELECT pg_temp.answers(true) = pg_temp.answers(false) $$;
-- which way one request reads (DEBUG1 names the index when it is direct)
CREATE FUNCTION pg_temp.reads(u text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	SET LOCAL client_min_messages = debug1;
	PERFORM personalize.recommend('hist', u, 3);
END $$;

-- no index: through SQL
SELECT pg_temp.same() AS same_without_index;
SELECT pg_temp.reads('7');
-- (user, time): from the heap, through the index
CREATE INDEX hist_user_time ON hist_events (user_id, ts);
SELECT pg_temp.same() AS same_through_heap;
SELECT pg_temp.reads('7');
-- (user, time) INCLUDE (item), all-visible: from the index alone, the
-- covering index preferred
CREATE INDEX hist_cover ON hist_events (user_id, ts) INCLUDE (item_id);
VACUUM ANALYZE hist_events;
SELECT pg_temp.same() AS same_index_only;
SELECT pg_temp.reads('7');
-- rows not yet all-visible, deleted and updated rows, and this
-- transaction's own rows: the snapshot decides, as for the query
DELETE FROM hist_events WHERE user_id = 3 AND ts % 3 = 0;
UPDATE hist_events SET item_id = 28 WHERE user_id = 5 AND ts % 4 = 0;
INSERT INTO hist_events SELECT u, 27, 1800000000 FROM generate_series(1, 60, 2) u;
SELECT pg_temp.same() AS same_after_changes;
BEGIN;
INSERT INTO hist_events SELECT u, 26, 1900000000 FROM generate_series(1, 60, 3) u;
SELECT pg_temp.same() AS same_inside_transaction;
SELECT count(*) AS excluded_new_item FROM generate_series(1, 60, 3) u,
	   LATERAL personalize.recommend('hist', u::text, 30) r WHERE r.item_id = '26';
ROLLBACK;
-- a descending time column is walked forward
DROP INDEX hist_cover, hist_user_time;
CREATE INDEX hist_user_time_desc ON hist_events (user_id, ts DESC) INCLUDE (item_id);
SELECT pg_temp.same() AS same_descending;
SELECT pg_temp.reads('7');
-- DESC NULLS LAST is not ORDER BY time DESC's order either way: through SQL
DROP INDEX hist_user_time_desc;
CREATE INDEX hist_user_time_nulls_last ON hist_events (user_id, ts DESC NULLS LAST);
SELECT pg_temp.same() AS same_nulls_last;
SELECT pg_temp.reads('7');
-- nor a partial index
DROP INDEX hist_user_time_nulls_last;
CREATE INDEX hist_partial ON hist_events (user_id, ts) WHERE item_id < 20;
SELECT pg_temp.same() AS same_partial;
SELECT pg_temp.reads('7');
DROP INDEX hist_partial;
CREATE INDEX hist_cover ON hist_events (user_id, ts) INCLUDE (item_id);

-- row level security: through SQL, which applies the policies (a reader
-- who sees only the even items' events gets the odd ones of a user's
-- history recommended back; the owner never does)
CREATE TABLE hist_all AS SELECT * FROM hist_events;
CREATE FUNCTION pg_temp.history_recommended() RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM generate_series(1, 60) u, LATERAL personalize.recommend('hist', u::text, 30) r
	 WHERE EXISTS (SELECT FROM hist_all h WHERE h.user_id = u AND h.item_id::text = r.item_id) $$;
SELECT pg_temp.history_recommended() AS owner_history_recommended;
CREATE ROLE hist_reader;
GRANT USAGE ON SCHEMA personalize TO hist_reader;
GRANT SELECT ON hist_events, hist_all TO hist_reader;
ALTER TABLE hist_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY hist_half ON hist_events FOR SELECT TO hist_reader USING (item_id % 2 = 0);
SET ROLE hist_reader;
SELECT pg_temp.same() AS same_under_policy;
SELECT pg_temp.reads('7');
SELECT pg_temp.history_recommended() > 0 AS reader_history_recommended;
RESET ROLE;
ALTER TABLE hist_events DISABLE ROW LEVEL SECURITY;

-- text user and item ids (a collatable key)
CREATE TABLE hist_events_text AS SELECT 'user-' || user_id AS user_id, 'item-' || item_id AS item_id, ts FROM hist_events;
CREATE INDEX ON hist_events_text (user_id, ts) INCLUDE (item_id);
VACUUM ANALYZE hist_events_text;
SELECT personalize.drop_campaign('hist');
SELECT personalize.drop_campaign('hist-rank');
SELECT personalize.drop_dataset_group('hist', cascade => true);
SELECT personalize.create_dataset_group('hist');
SELECT personalize.create_dataset('hist', 'interactions', 'hist_events_text', event_time => 'ts');
SELECT personalize.create_solution('hist', 'hist', 'user-personalization', '{"factors": 8, "iterations": 4}');
SELECT personalize.create_solution_version('hist') > 0 AS trained;
SELECT personalize.create_campaign('hist', (SELECT max(id) FROM personalize.solution_versions WHERE solution = 'hist'));
CREATE OR REPLACE FUNCTION pg_temp.answers(direct boolean) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('personalize.direct_history', direct::text, true);
	RETURN (SELECT string_agg(format('%s:%s:%s', u, r.item_id, r.score), ' ' ORDER BY u, r.ordinality)
			  FROM generate_series(1, 61) u,
				   LATERAL personalize.recommend('hist', 'user-' || u, 8) WITH ORDINALITY r);
END $$;
SELECT pg_temp.same() AS same_text_ids;
SELECT pg_temp.reads('user-7');
-- an index of another collation than the column's: through SQL
DROP INDEX hist_events_text_user_id_ts_item_id_idx;
CREATE INDEX hist_text_c ON hist_events_text (user_id COLLATE "C", ts) INCLUDE (item_id);
SELECT pg_temp.same() AS same_other_collation;
SELECT pg_temp.reads('user-7');
-- the answers are not all alike (the comparison can fail)
SELECT count(DISTINCT (SELECT string_agg(item_id, ',') FROM personalize.recommend('hist', 'user-' || u, 3))) > 5 AS varied
  FROM generate_series(1, 60) u;

SELECT personalize.drop_campaign('hist');
SELECT personalize.drop_dataset_group('hist', cascade => true);
DROP TABLE hist_events, hist_events_text, hist_all;
REVOKE USAGE ON SCHEMA personalize FROM hist_reader;
DROP ROLE hist_reader;
