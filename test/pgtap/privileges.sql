-- pgTAP: the privilege matrix.  Four roles, as an administrator would set
-- them up:
--   owner     granted the administrative functions and the catalog tables;
--             owns the dataset group, solution and campaign below
--   analyst   granted SELECT on item_embeddings and related_item_lists
--   app       granted SELECT on the interactions table (calls recommend)
--   stranger  granted nothing
-- For every function and view: who may call or read it; then what each role
-- actually reaches: nobody reads rows of a relation it cannot SELECT through
-- training, filters, metrics or recommendations, and nobody writes another
-- role's objects.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS personalize;
SELECT plan(45);
SET LOCAL client_min_messages = warning;
SET LOCAL personalize.min_interactions = 50;
SET LOCAL personalize.min_users = 5;

CREATE FUNCTION pg_temp.rows_changed(statement text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	EXECUTE statement;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;

CREATE ROLE pgtap_owner;
CREATE ROLE pgtap_analyst;
CREATE ROLE pgtap_app;
CREATE ROLE pgtap_stranger;

-- the administrator's grants, as README's Privileges section describes them
CREATE TEMP TABLE admin_functions AS
SELECT p.oid::regprocedure AS f FROM pg_proc p
 WHERE p.pronamespace = 'personalize'::regnamespace
   AND NOT has_function_privilege('public', p.oid, 'EXECUTE');
DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT a.f FROM admin_functions a LOOP
		EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO pgtap_owner', f);
	END LOOP;
END $$;
GRANT ALL ON ALL TABLES IN SCHEMA personalize TO pgtap_owner;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA personalize TO pgtap_owner;
GRANT SELECT ON personalize.item_embeddings, personalize.related_item_lists TO pgtap_analyst;

CREATE TABLE pgtap_events (user_id int, item_id text, ts bigint);
INSERT INTO pgtap_events SELECT u, 'i' || ((u + j) % 12), u * 100 + j FROM generate_series(1, 20) u, generate_series(0, 4) j;
CREATE TABLE pgtap_items (item_id text, price int);
INSERT INTO pgtap_items SELECT 'i' || i, i FROM generate_series(0, 11) i;
CREATE INDEX ON pgtap_events (user_id, ts);
GRANT SELECT ON pgtap_events, pgtap_items TO pgtap_owner;
GRANT SELECT ON pgtap_events TO pgtap_app;

-- the runtime functions; every other function is administrative or an
-- internal helper that runs with its caller's privileges
CREATE TEMP TABLE runtime_functions (name text);
INSERT INTO runtime_functions VALUES ('recommend'), ('get_recommendations'), ('related_items'), ('personalized_rank'), ('user_segment'),
	('solution_metrics'), ('describe_recommender');

-- 1. functions: who may execute what
SELECT is((SELECT count(*) FROM admin_functions), 25::bigint, 'the administrative functions are the 25 revoked from PUBLIC');
SELECT is((SELECT array_agg(f::text ORDER BY f::text) FROM admin_functions WHERE NOT has_function_privilege('pgtap_owner', f, 'EXECUTE')),
	NULL, 'owner may execute every administrative function');
SELECT is((SELECT array_agg(f::text ORDER BY f::text) FROM admin_functions, unnest(ARRAY['pgtap_analyst', 'pgtap_app', 'pgtap_stranger']) r
            WHERE has_function_privilege(r, f, 'EXECUTE')),
	NULL, 'analyst, app and stranger may execute no administrative function');
SELECT is((SELECT array_agg(r.name || ' for ' || role ORDER BY 1) FROM runtime_functions r
             JOIN pg_proc p ON p.proname = r.name AND p.pronamespace = 'personalize'::regnamespace,
             unnest(ARRAY['pgtap_owner', 'pgtap_analyst', 'pgtap_app', 'pgtap_stranger']) role
            WHERE NOT has_function_privilege(role, p.oid, 'EXECUTE')),
	NULL, 'every role may execute the runtime functions');
SELECT is((SELECT array_agg(p.proname ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace = 'personalize'::regnamespace AND p.prosecdef),
	NULL, 'no function is SECURITY DEFINER: nothing runs as the owner on the caller''s behalf');

-- 2. relations: who may read what
SELECT is((SELECT array_agg(c.relname || ' for ' || role ORDER BY 1) FROM pg_class c,
             unnest(ARRAY['pgtap_owner', 'pgtap_analyst', 'pgtap_app', 'pgtap_stranger']) role
            WHERE c.relnamespace = 'personalize'::regnamespace AND c.relkind = 'v'
              AND c.relname NOT IN ('item_embeddings', 'related_item_lists')
              AND NOT has_table_privilege(role, c.oid, 'SELECT')),
	NULL, 'every role may read the catalog views');
SELECT is((SELECT array_agg(role ORDER BY 1) FROM unnest(ARRAY['pgtap_analyst', 'pgtap_app', 'pgtap_stranger']) role
            WHERE has_table_privilege(role, 'personalize.item_embeddings', 'SELECT')),
	ARRAY['pgtap_analyst'::text], 'of analyst, app and stranger only the analyst may read item_embeddings');
SELECT is((SELECT array_agg(role ORDER BY 1) FROM unnest(ARRAY['pgtap_analyst', 'pgtap_app', 'pgtap_stranger']) role
            WHERE has_table_privilege(role, 'personalize.related_item_lists', 'SELECT')),
	ARRAY['pgtap_analyst'::text], 'of analyst, app and stranger only the analyst may read related_item_lists');
SELECT is((SELECT array_agg(c.relname || ' for ' || role ORDER BY 1) FROM pg_class c,
             unnest(ARRAY['pgtap_analyst', 'pgtap_app', 'pgtap_stranger']) role
            WHERE c.relnamespace = 'personalize'::regnamespace AND c.relkind = 'r'
              AND has_table_privilege(role, c.oid, 'SELECT,INSERT,UPDATE,DELETE')),
	NULL, 'analyst, app and stranger have no privilege on the catalog tables');

-- 3. the owner manages its own objects
SET LOCAL ROLE pgtap_owner;
SELECT lives_ok($$SELECT personalize.create_dataset_group('pg')$$, 'owner creates a dataset group');
SELECT lives_ok($$SELECT personalize.create_dataset('pg', 'interactions', 'pgtap_events', event_time => 'ts')$$, 'owner registers its interactions');
SELECT lives_ok($$SELECT personalize.create_dataset('pg', 'items', 'pgtap_items')$$, 'owner registers its items');
SELECT lives_ok($$SELECT personalize.create_solution('pg-up', 'pg', 'user-personalization', '{"factors": 4, "iterations": 3}')$$,
	'owner creates a solution');
SELECT lives_ok($$SELECT personalize.create_campaign('pg', personalize.create_solution_version('pg-up'))$$,
	'owner trains and deploys it');
SELECT lives_ok($$SELECT personalize.create_solution('pg-sims', 'pg', 'sims')$$, 'owner creates a sims solution');
SELECT lives_ok($$SELECT personalize.create_campaign('pg-sims', personalize.create_solution_version('pg-sims'))$$,
	'owner trains and deploys it');
SELECT lives_ok($$SELECT personalize.create_filter('pg-cheap', 'pg', 'INCLUDE WHERE items.price < 6')$$, 'owner creates a filter');
SELECT is((SELECT count(*) FROM personalize.recommend('pg', '3', 5)), 5::bigint, 'owner is served');
RESET ROLE;

-- 4. the app is served, and only that
SET LOCAL ROLE pgtap_app;
SELECT is((SELECT count(*) FROM personalize.recommend('pg', '3', 5)), 5::bigint, 'app is served by recommend');
SELECT is((SELECT count(*) FROM personalize.related_items('pg-sims', 'i1', 3)), 3::bigint, 'app is served by related_items');
SELECT is((SELECT count(*) FROM personalize.personalized_rank('pg', '3', ARRAY['i1', 'i2'])), 2::bigint, 'app is served by personalized_rank');
SELECT throws_ok($$SELECT * FROM personalize.recommend('pg', '3', 5, filter => 'pg-cheap')$$, '42501', NULL,
	'app cannot learn the items table through a filter over it');
SELECT throws_ok($$SELECT personalize.create_solution_version('pg-up')$$, '42501', NULL, 'app cannot train');
SELECT throws_ok($$SELECT * FROM personalize.item_embeddings$$, '42501', NULL, 'app cannot read embeddings');
SELECT throws_ok($$SELECT * FROM personalize.model_item$$, '42501', NULL, 'app cannot read model rows');
SELECT throws_ok($$SELECT * FROM personalize._sync_campaigns(1)$$, '42501', NULL, 'app cannot switch campaigns through an internal helper');
SELECT ok((SELECT count(*) FROM personalize.solution_metrics((SELECT solution_version FROM personalize.campaigns WHERE name = 'pg'))) > 0,
	'app reads metrics');
RESET ROLE;

-- 5. the analyst reads metrics and embeddings, not the interactions
SET LOCAL ROLE pgtap_analyst;
SELECT ok((SELECT count(*) FROM personalize.item_embeddings) > 0, 'analyst reads item embeddings');
SELECT ok((SELECT count(*) FROM personalize.related_item_lists) > 0, 'analyst reads related item lists');
SELECT ok((SELECT count(*) FROM personalize.solution_metrics((SELECT solution_version FROM personalize.campaigns WHERE name = 'pg'))) > 0,
	'analyst reads metrics');
SELECT throws_ok($$SELECT * FROM personalize.recommend('pg', '3', 5)$$, '42501', NULL,
	'analyst cannot learn the interactions through recommend');
SELECT throws_ok($$SELECT * FROM pgtap_events$$, '42501', NULL, 'analyst cannot read the interactions');
RESET ROLE;

-- 6. the stranger reaches nothing
SET LOCAL ROLE pgtap_stranger;
SELECT throws_ok($$SELECT * FROM personalize.recommend('pg', '3', 5)$$, '42501', NULL, 'stranger: recommend');
SELECT throws_ok($$SELECT * FROM personalize.related_items('pg-sims', 'i1', 3)$$, '42501', NULL, 'stranger: related_items');
SELECT throws_ok($$SELECT * FROM personalize.personalized_rank('pg', '3', ARRAY['i1'])$$, '42501', NULL, 'stranger: personalized_rank');
SELECT throws_ok($$SELECT personalize.create_dataset_group('mine')$$, '42501', NULL, 'stranger: create_dataset_group');
SELECT throws_ok($$SELECT personalize.drop_campaign('pg')$$, '42501', NULL, 'stranger: drop_campaign');
SELECT throws_ok($$SELECT * FROM personalize.campaign$$, '42501', NULL, 'stranger: catalog tables');
SELECT throws_ok($$SELECT * FROM personalize.item_embeddings$$, '42501', NULL, 'stranger: embeddings');
RESET ROLE;

-- 7. a second manager, granted the same, cannot touch the owner's objects
CREATE ROLE pgtap_rival;
DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT a.f FROM admin_functions a LOOP
		EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO pgtap_rival', f);
	END LOOP;
END $$;
GRANT ALL ON ALL TABLES IN SCHEMA personalize TO pgtap_rival;
GRANT SELECT ON pgtap_events TO pgtap_rival;
SET LOCAL ROLE pgtap_rival;
SELECT throws_ok($$SELECT personalize.drop_campaign('pg')$$, '42501', NULL, 'rival cannot drop the owner''s campaign');
SELECT throws_ok($$SELECT personalize.create_solution_version('pg-up')$$, '42501', NULL, 'rival cannot train the owner''s solution');
SELECT throws_ok($$SELECT personalize.drop_filter('pg-cheap')$$, '42501', NULL, 'rival cannot drop the owner''s filter');
SELECT is(pg_temp.rows_changed('UPDATE personalize.campaign SET solution_version = solution_version'), 0::bigint,
	'rival''s direct UPDATE of the campaign table changes no row');
SELECT is(pg_temp.rows_changed('DELETE FROM personalize.solution'), 0::bigint,
	'rival''s direct DELETE of the solution table removes no row');
RESET ROLE;
SELECT is((SELECT count(*) FROM personalize.recommend('pg', '3', 5)), 5::bigint, 'the owner''s campaign still serves');

SELECT * FROM finish();
ROLLBACK;
