-- Security: nobody is served from a model of data they cannot read, and a
-- caller's search_path never reaches the queries that run as the extension
-- owner.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT setval(pg_get_serial_sequence('personalize.solution_version', 'id'), 5000) IS NOT NULL AS numbered;
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

-- 60 users in 3 taste clusters of 10 items, one campaign per recipe type
CREATE TABLE secret_events (user_id text, item_id text, ts bigint);
INSERT INTO secret_events SELECT 'u' || u, 'c' || (u % 3) || ((u + j) % 10), u * 100 + j
  FROM generate_series(1, 60) u, generate_series(0, 5) j;
SELECT personalize.create_dataset_group('secret');
SELECT personalize.create_dataset('secret', 'interactions', 'secret_events', event_time => 'ts');
SELECT personalize.create_solution('secret-up', 'secret', 'user-personalization', '{"factors": 4}');
SELECT personalize.create_solution('secret-sims', 'secret', 'sims');
SELECT personalize.create_solution('secret-pop', 'secret', 'popularity-count');
SELECT personalize.create_solution('secret-seg', 'secret', 'item-affinity', '{"factors": 4}');
SELECT personalize.create_solution('secret-rank', 'secret', 'personalized-ranking', '{"factors": 4}');
SELECT personalize.create_campaign('secret-up', personalize.create_solution_version('secret-up'));
SELECT personalize.create_campaign('secret-sims', personalize.create_solution_version('secret-sims'));
SELECT personalize.create_campaign('secret-pop', personalize.create_solution_version('secret-pop'));
SELECT personalize.create_campaign('secret-seg', personalize.create_solution_version('secret-seg'));
SELECT personalize.create_campaign('secret-rank', personalize.create_solution_version('secret-rank'));

-- a role without SELECT on the interactions gets nothing from any runtime
-- function, whatever the recipe: neighbours, popularity and segments are
-- derived from the rows it may not read
CREATE ROLE personalize_regress_stranger;
SET ROLE personalize_regress_stranger;
SELECT * FROM personalize.recommend('secret-up', 'u1', 3);
SELECT * FROM personalize.recommend('secret-pop', 'u1', 3);
SELECT * FROM personalize.recommend('secret-sims', item_id => 'c01', num_results => 3);
SELECT * FROM personalize.related_items('secret-sims', 'c01', 3);
SELECT * FROM personalize.personalized_rank('secret-rank', 'u1', ARRAY['c01', 'c02']);
SELECT * FROM personalize.user_segment('secret-seg', 'c01', 3);
SELECT * FROM personalize._recommend_version(5001, 'u1', NULL, 3);
RESET ROLE;
-- granted SELECT, the same role is served
GRANT SELECT ON secret_events TO personalize_regress_stranger;
SET ROLE personalize_regress_stranger;
SELECT count(*) FROM personalize.related_items('secret-sims', 'c01', 3);
SELECT count(*) FROM personalize.user_segment('secret-seg', 'c01', 3);
RESET ROLE;

-- operator capture: a role that may read the data puts its own schema first
-- in search_path, with "=" operators that would reveal any query running as
-- the extension owner.  Every call still works and none is captured.
CREATE ROLE personalize_regress_trap;
GRANT SELECT ON secret_events TO personalize_regress_trap;
CREATE SCHEMA trap AUTHORIZATION personalize_regress_trap;
SET ROLE personalize_regress_trap;
CREATE FUNCTION trap.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	IF current_user <> 'personalize_regress_trap' THEN
		RAISE EXCEPTION 'operator captured while running as %', current_user;
	END IF;
	RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE FUNCTION trap.int8_eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	IF current_user <> 'personalize_regress_trap' THEN
		RAISE EXCEPTION 'operator captured while running as %', current_user;
	END IF;
	RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR trap.= (LEFTARG = text, RIGHTARG = text, FUNCTION = trap.text_eq);
CREATE OPERATOR trap.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = trap.int8_eq);
SET search_path = trap, pg_catalog;
-- the trap works on the caller's own queries
SELECT 'a' = 'a' AS trap_in_place;
SELECT count(*) FROM personalize.recommend('secret-up', 'u1', 3);
SELECT count(*) FROM personalize.recommend('secret-pop', 'u1', 3);
SELECT count(*) FROM personalize.related_items('secret-sims', 'c01', 3);
SELECT count(*) FROM personalize.personalized_rank('secret-rank', 'u1', ARRAY['c01', 'c02']);
SELECT count(*) FROM personalize.user_segment('secret-seg', 'c01', 3);
SELECT count(*) FROM personalize._recommend_version(5001, 'u1', NULL, 3);
-- training reads the catalog as the owner too: still refused, not captured
RESET ROLE;
GRANT EXECUTE ON FUNCTION personalize.create_solution_version(text, text, boolean) TO personalize_regress_trap;
SET ROLE personalize_regress_trap;
SELECT personalize.create_solution_version('secret-up');
RESET search_path;
RESET ROLE;

DROP SCHEMA trap CASCADE;
SELECT personalize.drop_dataset_group('secret', cascade => true);
DROP TABLE secret_events;
DROP OWNED BY personalize_regress_stranger, personalize_regress_trap;
DROP ROLE personalize_regress_stranger;
DROP ROLE personalize_regress_trap;
