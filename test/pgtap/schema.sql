-- pgTAP: schema objects, function signatures and behaviour classes, and
-- privileges of the personalize extension.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS personalize;
SELECT plan(135);

SELECT has_schema('personalize');
SELECT has_extension('personalize');

-- catalog tables and views
SELECT has_table('personalize', t, 'table ' || t) FROM unnest(ARRAY[
	'dataset_group', 'dataset', 'recipe', 'solution', 'solution_version', 'model_item', 'campaign',
	'batch_job', 'filter', 'recommender', 'model_user', 'model_feature', 'model_context']) t;
SELECT has_view('personalize', v, 'view ' || v) FROM unnest(ARRAY[
	'dataset_groups', 'datasets', 'recipes', 'solutions', 'solution_versions', 'campaigns', 'item_embeddings',
	'related_item_lists', 'jobs', 'filters', 'recommenders']) v;
SELECT columns_are('personalize', 'solution_versions', ARRAY[
	'id', 'solution', 'recipe', 'status', 'progress', 'failure_reason', 'training_mode',
	'hyperparameters', 'metrics', 'users', 'items', 'interactions', 'training_seconds',
	'created', 'finished']);
SELECT columns_are('personalize', 'campaigns', ARRAY[
	'name', 'solution', 'solution_version', 'recipe', 'config', 'created', 'updated']);

-- binding SQL signatures (SPEC section 2)
SELECT has_function('personalize', 'create_dataset_group', ARRAY['text', 'text']);
SELECT has_function('personalize', 'drop_dataset_group', ARRAY['text', 'boolean']);
SELECT has_function('personalize', 'create_dataset', ARRAY['text', 'text', 'regclass', 'text', 'text', 'text', 'text', 'text', 'text[]']);
SELECT has_function('personalize', 'drop_dataset', ARRAY['text', 'text']);
SELECT has_function('personalize', 'put_events', ARRAY['text', 'text', 'text', 'jsonb']);
SELECT has_function('personalize', 'put_items', ARRAY['text', 'jsonb']);
SELECT has_function('personalize', 'put_users', ARRAY['text', 'jsonb']);
-- create_solution: SPEC's arguments in order, then hpo_config (issue 3)
SELECT has_function('personalize', 'create_solution', ARRAY['text', 'text', 'text', 'jsonb', 'text', 'double precision', 'boolean', 'boolean', 'jsonb']);
SELECT has_function('personalize', 'create_solution_version', ARRAY['text', 'text', 'boolean']);
SELECT has_function('personalize', 'solution_metrics', ARRAY['bigint']);
SELECT has_function('personalize', 'wait_for_solution_version', ARRAY['bigint', 'interval']);
SELECT has_function('personalize', 'stop_solution_version', ARRAY['bigint']);
SELECT has_function('personalize', 'create_batch_inference_job', ARRAY['text', 'bigint', 'text', 'text', 'integer', 'text', 'boolean']);
SELECT has_function('personalize', 'create_batch_segment_job', ARRAY['text', 'bigint', 'text', 'text', 'integer', 'text', 'boolean']);
SELECT has_function('personalize', 'create_filter', ARRAY['text', 'text', 'text']);
SELECT has_function('personalize', 'drop_filter', ARRAY['text']);
SELECT has_function('personalize', 'create_recommender', ARRAY['text', 'text', 'text', 'jsonb']);
SELECT has_function('personalize', 'describe_recommender', ARRAY['text']);
SELECT has_function('personalize', 'drop_recommender', ARRAY['text']);
SELECT has_function('personalize', 'create_campaign', ARRAY['text', 'bigint', 'jsonb']);
SELECT has_function('personalize', 'update_campaign', ARRAY['text', 'bigint', 'jsonb']);
SELECT has_function('personalize', 'drop_campaign', ARRAY['text']);
SELECT has_function('personalize', 'recommend', ARRAY['text', 'text', 'integer', 'text', 'text', 'jsonb', 'jsonb', 'jsonb']);
SELECT has_function('personalize', 'personalized_rank', ARRAY['text', 'text', 'text[]', 'text', 'jsonb', 'jsonb']);
SELECT has_function('personalize', 'related_items', ARRAY['text', 'text', 'integer', 'text', 'jsonb']);
SELECT has_function('personalize', 'user_segment', ARRAY['text', 'text', 'integer', 'text', 'jsonb']);
SELECT is(
	(SELECT pg_get_function_arguments('personalize.related_items(text,text,integer,text,jsonb)'::regprocedure)),
	'campaign text, item_id text, num_results integer DEFAULT 25, filter text DEFAULT NULL::text, filter_values jsonb DEFAULT NULL::jsonb',
	'related_items argument names and defaults');
SELECT function_returns('personalize', 'create_solution_version', ARRAY['text', 'text', 'boolean'], 'bigint');
SELECT function_returns('personalize', 'recommend', ARRAY['text', 'text', 'integer', 'text', 'text', 'jsonb', 'jsonb', 'jsonb'], 'setof record');
SELECT is(
	(SELECT pg_get_function_result('personalize.recommend(text,text,integer,text,text,jsonb,jsonb,jsonb)'::regprocedure)),
	'TABLE(item_id text, score double precision)', 'recommend returns (item_id, score)');
SELECT is(
	(SELECT pg_get_function_arguments('personalize.recommend(text,text,integer,text,text,jsonb,jsonb,jsonb)'::regprocedure)),
	'campaign text, user_id text DEFAULT NULL::text, num_results integer DEFAULT 25, item_id text DEFAULT NULL::text, filter text DEFAULT NULL::text, filter_values jsonb DEFAULT NULL::jsonb, context jsonb DEFAULT NULL::jsonb, promotion jsonb DEFAULT NULL::jsonb',
	'recommend argument names and defaults');
SELECT is(
	(SELECT pg_get_function_result('personalize.get_recommendations(text,text,integer,text,text,jsonb,jsonb,jsonb)'::regprocedure)),
	'TABLE(item_id text, score double precision, promotion_name text, reason text[])',
	'get_recommendations returns Personalize''s item list (item_id, score, promotion_name, reason)');
SELECT is(
	(SELECT pg_get_function_arguments('personalize.get_recommendations(text,text,integer,text,text,jsonb,jsonb,jsonb)'::regprocedure)),
	(SELECT pg_get_function_arguments('personalize.recommend(text,text,integer,text,text,jsonb,jsonb,jsonb)'::regprocedure)),
	'get_recommendations takes recommend''s arguments');
SELECT is((SELECT provolatile::text || proparallel::text FROM pg_proc
	WHERE oid = 'personalize.get_recommendations(text,text,integer,text,text,jsonb,jsonb,jsonb)'::regprocedure),
	'ss', 'get_recommendations is stable and parallel safe');
SELECT function_privs_are('personalize', 'get_recommendations', ARRAY['text', 'text', 'integer', 'text', 'text', 'jsonb', 'jsonb', 'jsonb'],
	'public', ARRAY['EXECUTE']);
SELECT is(
	(SELECT pg_get_function_arguments('personalize.personalized_rank(text,text,text[],text,jsonb,jsonb)'::regprocedure)),
	'campaign text, user_id text, items text[], filter text DEFAULT NULL::text, filter_values jsonb DEFAULT NULL::jsonb, context jsonb DEFAULT NULL::jsonb',
	'personalized_rank argument names and defaults');

-- runtime functions are read-only and parallel safe; training is volatile
SELECT volatility_is('personalize', 'recommend', ARRAY['text', 'text', 'integer', 'text', 'text', 'jsonb', 'jsonb', 'jsonb'], 'stable');
SELECT volatility_is('personalize', 'personalized_rank', ARRAY['text', 'text', 'text[]', 'text', 'jsonb', 'jsonb'], 'stable');
SELECT volatility_is('personalize', 'solution_metrics', ARRAY['bigint'], 'stable');
SELECT volatility_is('personalize', 'related_items', ARRAY['text', 'text', 'integer', 'text', 'jsonb'], 'stable');
SELECT volatility_is('personalize', 'create_solution_version', ARRAY['text', 'text', 'boolean'], 'volatile');
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'personalize.recommend(text,text,integer,text,text,jsonb,jsonb,jsonb)'::regprocedure),
	's'::"char", 'recommend is parallel safe');
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'personalize.personalized_rank(text,text,text[],text,jsonb,jsonb)'::regprocedure),
	's'::"char", 'personalized_rank is parallel safe');

-- no function runs as its owner behind the caller's back, and every
-- SQL-language function pins its search_path
SELECT is(count(*), 0::bigint, 'no SECURITY DEFINER functions')
  FROM pg_proc WHERE pronamespace = 'personalize'::regnamespace AND prosecdef;
SELECT is(count(*), 0::bigint, 'every SQL and PL/pgSQL function sets search_path')
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE pronamespace = 'personalize'::regnamespace AND l.lanname IN ('sql', 'plpgsql')
   AND NOT coalesce(array_to_string(proconfig, ',') LIKE '%search_path=pg_catalog, pg_temp%', false)
   -- runs the caller's input query in the caller's search_path, every object qualified
   AND p.proname NOT IN ('create_batch_inference_job', 'create_batch_segment_job');
SELECT is(count(*), 0::bigint, 'every function has a comment')
  FROM pg_proc p WHERE pronamespace = 'personalize'::regnamespace
   AND obj_description(p.oid, 'pg_proc') IS NULL;

-- privileges: administration is not granted to PUBLIC; runtime is
SELECT function_privs_are('personalize', f, a, 'public', ARRAY[]::text[], f || ' is not executable by PUBLIC')
  FROM (VALUES
	('create_dataset_group', ARRAY['text', 'text']),
	('drop_dataset_group', ARRAY['text', 'boolean']),
	('create_dataset', ARRAY['text', 'text', 'regclass', 'text', 'text', 'text', 'text', 'text', 'text[]']),
	('drop_dataset', ARRAY['text', 'text']),
	('put_events', ARRAY['text', 'text', 'text', 'jsonb']),
	('put_items', ARRAY['text', 'jsonb']),
	('put_users', ARRAY['text', 'jsonb']),
	('create_solution', ARRAY['text', 'text', 'text', 'jsonb', 'text', 'double precision', 'boolean', 'boolean', 'jsonb']),
	('drop_solution', ARRAY['text']),
	('create_solution_version', ARRAY['text', 'text', 'boolean']),
	('wait_for_solution_version', ARRAY['bigint', 'interval']),
	('stop_solution_version', ARRAY['bigint']),
	('create_batch_inference_job', ARRAY['text', 'bigint', 'text', 'text', 'integer', 'text', 'boolean']),
	('create_batch_segment_job', ARRAY['text', 'bigint', 'text', 'text', 'integer', 'text', 'boolean']),
	('create_filter', ARRAY['text', 'text', 'text']),
	('drop_filter', ARRAY['text']),
	('create_recommender', ARRAY['text', 'text', 'text', 'jsonb']),
	('drop_recommender', ARRAY['text']),
	('create_campaign', ARRAY['text', 'bigint', 'jsonb']),
	('update_campaign', ARRAY['text', 'bigint', 'jsonb']),
	('drop_campaign', ARRAY['text'])) AS x(f, a);
SELECT function_privs_are('personalize', 'recommend', ARRAY['text', 'text', 'integer', 'text', 'text', 'jsonb', 'jsonb', 'jsonb'],
	'public', ARRAY['EXECUTE']);
SELECT function_privs_are('personalize', 'personalized_rank', ARRAY['text', 'text', 'text[]', 'text', 'jsonb', 'jsonb'],
	'public', ARRAY['EXECUTE']);
SELECT function_privs_are('personalize', 'related_items', ARRAY['text', 'text', 'integer', 'text', 'jsonb'],
	'public', ARRAY['EXECUTE']);
SELECT function_privs_are('personalize', 'user_segment', ARRAY['text', 'text', 'integer', 'text', 'jsonb'],
	'public', ARRAY['EXECUTE']);
SELECT table_privs_are('personalize', t, 'public', ARRAY[]::text[], 'catalog table ' || t || ' is private')
  FROM unnest(ARRAY['dataset_group', 'dataset', 'recipe', 'solution', 'solution_version', 'model_item', 'campaign',
	'batch_job', 'filter', 'recommender', 'model_user', 'model_feature', 'model_context']) t;
SELECT table_privs_are('personalize', v, 'public', ARRAY['SELECT'], 'view ' || v || ' is readable')
  FROM unnest(ARRAY['dataset_groups', 'datasets', 'recipes', 'solutions', 'solution_versions', 'campaigns', 'jobs',
	'filters', 'recommenders']) v;
SELECT table_privs_are('personalize', 'item_embeddings', 'public', ARRAY[]::text[], 'embeddings are granted by the administrator');
SELECT table_privs_are('personalize', 'related_item_lists', 'public', ARRAY[]::text[], 'related lists are granted by the administrator');

-- an application role with EXECUTE only can call recommend() on a campaign,
-- reading its history with its own privileges
SET LOCAL personalize.min_interactions = 50;
SET LOCAL personalize.min_users = 5;
SET LOCAL client_min_messages = warning;
CREATE TABLE pgtap_clicks (user_id int, item_id text, ts bigint);
INSERT INTO pgtap_clicks SELECT u, 'i' || ((u + j) % 12), u * 100 + j FROM generate_series(1, 20) u, generate_series(0, 4) j;
CREATE INDEX ON pgtap_clicks (user_id, ts);
SELECT personalize.create_dataset_group('pgtap');
SELECT personalize.create_dataset('pgtap', 'interactions', 'pgtap_clicks', event_time => 'ts');
SELECT personalize.create_solution('pgtap-up', 'pgtap', 'user-personalization', '{"factors": 4, "iterations": 3}');
SELECT personalize.create_campaign('pgtap', personalize.create_solution_version('pgtap-up'));
CREATE ROLE pgtap_app;
CREATE ROLE pgtap_stranger;
GRANT SELECT ON pgtap_clicks TO pgtap_app;
SET LOCAL ROLE pgtap_app;
SELECT is((SELECT count(*) FROM personalize.recommend('pgtap', '3', 5)), 5::bigint, 'app role gets recommendations');
SELECT throws_ok($$SELECT personalize.create_solution_version('pgtap-up')$$, '42501', NULL, 'app role cannot train');
SELECT throws_ok($$SELECT * FROM personalize.item_embeddings$$, '42501', NULL, 'app role cannot read embeddings');
RESET ROLE;
SET LOCAL ROLE pgtap_stranger;
SELECT throws_ok($$SELECT * FROM personalize.recommend('pgtap', '3', 5)$$, '42501', NULL,
	'a role that cannot SELECT the interactions cannot learn from them through recommend');
RESET ROLE;
-- a trainer granted the functions and catalog tables but not the relation cannot train on it
CREATE FUNCTION pg_temp.rows_changed(statement text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	EXECUTE statement;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;
CREATE ROLE pgtap_trainer;
GRANT EXECUTE ON FUNCTION personalize.create_solution_version(text, text, boolean) TO pgtap_trainer;
GRANT ALL ON ALL TABLES IN SCHEMA personalize TO pgtap_trainer;
UPDATE personalize.solution SET owner = 'pgtap_trainer' WHERE name = 'pgtap-up';
SELECT personalize.create_solution('pgtap-pop', 'pgtap', 'popularity-count');
SELECT personalize.create_solution_version('pgtap-pop');
SET LOCAL ROLE pgtap_trainer;
SELECT throws_ok($$SELECT personalize.create_solution_version('pgtap-up')$$, '42501',
	'permission denied for relation public.pgtap_clicks', 'trainer without SELECT cannot train');
-- row-level security: granted every catalog table, the trainer still writes
-- only rows of what its own role owns (the campaign and group are postgres's)
SELECT is(pg_temp.rows_changed('UPDATE personalize.campaign SET solution_version = solution_version'), 0::bigint,
	'trainer cannot update another role''s campaign');
SELECT is(pg_temp.rows_changed('DELETE FROM personalize.dataset'), 0::bigint,
	'trainer cannot delete another role''s datasets');
SELECT throws_ok($$INSERT INTO personalize.campaign (name, solution_version, owner)
                   SELECT 'stolen', id, 'postgres' FROM personalize.solution_version LIMIT 1$$, '42501', NULL,
	'trainer cannot create rows owned by another role');
SELECT throws_ok($$INSERT INTO personalize.model_item (solution_version, item_index, item_id, popularity)
                   SELECT id, 999, 'planted', 1 FROM personalize.solution_version v
                    WHERE v.solution = 'pgtap-pop'$$, '42501', NULL,
	'trainer cannot plant model rows in another role''s version');
SELECT is(pg_temp.rows_changed('UPDATE personalize.solution SET hyperparameters = hyperparameters'), 1::bigint,
	'trainer updates its own solution only');
SELECT is((SELECT count(*) FROM personalize.campaign WHERE name = 'pgtap'), 1::bigint, 'trainer still reads every row');
RESET ROLE;
SELECT is((SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'personalize' AND c.relkind = 'r' AND NOT c.relrowsecurity), 0::bigint,
	'every catalog table has row-level security');

SELECT * FROM finish();
ROLLBACK;
