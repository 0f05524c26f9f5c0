-- Hostile arguments, systematically: every function of the extension is
-- called with each hostile value of its type in each argument in turn (NULL
-- everywhere; empty, 10,000-character and quoted strings; empty arrays,
-- arrays holding NULL and duplicates; JSON of the wrong shape; 0, -1, 501
-- and 2^31-1 for integers; -1 and 2^63-1 for ids; NaN and -Infinity;
-- negative intervals), the other arguments naming real objects (dataset
-- group, solution, version, campaign and filter "x", user "u1", item "i1").
-- Each call runs in a subtransaction that is rolled back.  The table lists
-- the SQLSTATE each case got ('-' when it returned normally).  No case may
-- crash the server or raise an internal error (XX000): every reachable
-- error carries its own SQLSTATE.  The case count is printed first (518
-- cases over 49 functions when this was written, 547 over 52 with HPO,
-- 566 with batch segment jobs, 641 over 57 with promotions and
-- get_recommendations); keep it growing.
-- The USER_SEGMENTATION functions get a second pass against an
-- item-attribute-affinity campaign "xa", with hostile attribute predicates.
SET client_min_messages = error;
\set SHOW_CONTEXT never
SELECT setval(pg_get_serial_sequence('personalize.solution_version', 'id'), 7000) IS NOT NULL AS numbered;
SET personalize.min_interactions = 20;
SET personalize.min_users = 5;

CREATE TABLE x_events (user_id text, item_id text, ts bigint);
INSERT INTO x_events SELECT 'u' || u, 'i' || ((u + j) % 8), u * 10 + j FROM generate_series(1, 20) u, generate_series(0, 3) j;
CREATE INDEX ON x_events (user_id, ts);
SELECT personalize.create_dataset_group('x');
SELECT personalize.create_dataset('x', 'interactions', 'x_events', event_time => 'ts');
SELECT personalize.create_solution('x', 'x', 'user-personalization', '{"factors": 4, "iterations": 2}');
SELECT personalize.create_campaign('x', personalize.create_solution_version('x'));
SELECT personalize.create_filter('x', 'x', $$EXCLUDE WHERE interactions.item_id = 'i1'$$);
SELECT solution_version AS version FROM personalize.campaigns WHERE name = 'x' \gset
SET personalize_test.version = :version;

CREATE TEMP TABLE hostile_case (fn text, arg int, given text, sqlstate text);

DO $$
DECLARE
	f record;
	i int;
	hostile text;
	args text[];
	state text;
	version text := current_setting('personalize_test.version');
BEGIN
	FOR f IN SELECT p.proname, p.proargtypes::regtype[] AS types, p.pronargs, p.proargnames AS names
	           FROM pg_proc p WHERE p.pronamespace = 'personalize'::regnamespace
	          ORDER BY p.oid::regprocedure::text LOOP
		FOR i IN 1 .. f.pronargs LOOP
			FOREACH hostile IN ARRAY CASE f.types[i - 1]::text
				WHEN 'text' THEN ARRAY['NULL::text', $q$''$q$, $q$repeat('x''"', 3334)$q$, $q$' x'$q$]
				WHEN 'text[]' THEN ARRAY['NULL::text[]', $q$'{}'::text[]$q$, 'ARRAY[NULL]::text[]', $q$ARRAY['i1', 'i1']$q$]
				WHEN 'jsonb' THEN ARRAY['NULL::jsonb', $q$'[]'::jsonb$q$, $q$'"x"'::jsonb$q$, $q$'{"": null}'::jsonb$q$]
				WHEN 'integer' THEN ARRAY['NULL::integer', '0', '-1', '501', '2147483647']
				WHEN 'bigint' THEN ARRAY['NULL::bigint', '-1::bigint', '9223372036854775807']
				WHEN 'double precision' THEN ARRAY['NULL::float8', $q$'NaN'::float8$q$, $q$'-Infinity'::float8$q$]
				WHEN 'interval' THEN ARRAY['NULL::interval', $q$'-1 s'::interval$q$]
				ELSE ARRAY[format('NULL::%s', f.types[i - 1])] END
			LOOP
				args := ARRAY[]::text[];
				FOR j IN 1 .. f.pronargs LOOP
					args := args || CASE
						WHEN j = i THEN hostile
						WHEN f.types[j - 1]::text = 'text' THEN CASE
							WHEN f.names[j] LIKE '%user%' THEN $q$'u1'$q$
							WHEN f.names[j] LIKE '%item%' THEN $q$'i1'$q$
							WHEN f.names[j] = 'dataset_type' THEN $q$'interactions'$q$
							WHEN f.names[j] = 'expression' THEN $q$'EXCLUDE WHERE items.item_id = ''i2'''$q$
							ELSE $q$'x'$q$ END
						WHEN f.types[j - 1]::text = 'text[]' THEN $q$ARRAY['i1', 'i2']$q$
						WHEN f.names[j] = 'promotion' THEN $q$'{"filter": "x", "percent": 50}'::jsonb$q$
						WHEN f.types[j - 1]::text = 'jsonb' THEN $q$'{}'::jsonb$q$
						WHEN f.types[j - 1]::text = 'bigint' THEN version
						WHEN f.types[j - 1]::text = 'integer' THEN '3'
						WHEN f.types[j - 1]::text = 'double precision' THEN '1'
						WHEN f.types[j - 1]::text = 'boolean' THEN 'true'
						WHEN f.types[j - 1]::text = 'interval' THEN $q$'1 s'::interval$q$
						WHEN f.types[j - 1]::text = 'regclass' THEN $q$'x_events'::regclass$q$
						WHEN f.types[j - 1]::text = 'regrole' THEN $q$'postgres'::regrole$q$
						ELSE format('NULL::%s', f.types[j - 1]) END;
				END LOOP;
				BEGIN
					EXECUTE format('SELECT * FROM personalize.%I(%s)', f.proname, array_to_string(args, ', '));
					RAISE EXCEPTION USING ERRCODE = 'P0099';	-- roll back what it did
				EXCEPTION WHEN OTHERS THEN
					state := SQLSTATE;
				END;
				INSERT INTO hostile_case VALUES (f.proname, i,
					CASE WHEN length(hostile) > 40 THEN left(hostile, 37) || '...' ELSE hostile END,
					CASE state WHEN 'P0099' THEN '-' ELSE state END);
			END LOOP;
		END LOOP;
	END LOOP;
END $$;

SELECT count(*) AS cases, count(DISTINCT fn) AS functions FROM hostile_case;
-- no internal errors
SELECT * FROM hostile_case WHERE sqlstate LIKE 'XX%';
-- the campaign still serves
SELECT count(*) FROM personalize.recommend('x', 'u1', 3);
-- every case, by function and argument
SELECT fn, arg, given, sqlstate FROM hostile_case ORDER BY fn, arg, given;

-- create_solution's hpo_config and the event_weights hyperparameter only
-- come into play with perform_hpo / perform_automl on a fresh name and a
-- real recipe: their hostile shapes, case by case (a table of their own)
CREATE TEMP TABLE hostile_hpo_case (solution_argument text, perform_hpo_automl text, given text, sqlstate text);
DO $$
DECLARE
	c record;
	state text;
BEGIN
	FOR c IN SELECT * FROM (VALUES
		('hpo_config', 'true, false', 'NULL::jsonb'), ('hpo_config', 'true, false', $q$'[]'::jsonb$q$),
		('hpo_config', 'true, false', $q$'"x"'::jsonb$q$), ('hpo_config', 'true, false', $q$'{"": null}'::jsonb$q$),
		('hpo_config', 'true, false', $q$'{"max_trials": 0}'$q$), ('hpo_config', 'true, false', $q$'{"max_trials": 1e400}'$q$),
		('hpo_config', 'true, false', $q$'{"max_trials": -1}'$q$), ('hpo_config', 'true, false', $q$'{"max_trials": "8"}'$q$),
		('hpo_config', 'true, false', $q$'{"objective": null}'$q$), ('hpo_config', 'true, false', $q$'{"objective": ["ndcg"]}'$q$),
		('hpo_config', 'true, false', $q$'{"ranges": []}'$q$), ('hpo_config', 'true, false', $q$'{"ranges": {}}'$q$),
		('hpo_config', 'true, false', $q$'{"ranges": {"factors": null}}'$q$),
		('hpo_config', 'true, false', $q$'{"ranges": {"factors": {"min": "1", "max": 2}}}'$q$),
		('hpo_config', 'true, false', $q$'{"ranges": {"factors": {"min": 1e308, "max": 1e309}}}'$q$),
		('hpo_config', 'true, false', $q$'{"ranges": {"regularization": {"min": -1e400, "max": 0}}}'$q$),
		('hpo_config', 'true, false', $q$'{"ranges": {"regularization": {"min": 0, "max": 1, "scale": "log"}}}'$q$),
		('hpo_config', 'true, false', $q$'{"ranges": {"": {"min": 0, "max": 1}}}'$q$),
		('hpo_config', 'false, true', $q$'{"max_trials": 3}'$q$), ('hpo_config', 'false, false', $q$'{}'$q$),
		('event_weights', 'false, false', $q$'{"event_weights": null}'$q$),
		('event_weights', 'false, false', $q$'{"event_weights": []}'$q$),
		('event_weights', 'false, false', $q$'{"event_weights": {"a": "1"}}'$q$),
		('event_weights', 'false, false', $q$'{"event_weights": {"a": 1e400}}'$q$),
		('event_weights', 'false, false', $q$'{"event_weights": {"a": -0.001}}'$q$),
		('event_weights', 'false, false', $q$'{"event_weights": {"A": 1, "a": 2}}'$q$),
		('event_weights', 'false, false', $q$'{"event_weights": {"": 1}}'$q$)) AS v(arg, flags, given)
	LOOP
		BEGIN
			EXECUTE format('SELECT personalize.create_solution(%L, %L, %L, %s, NULL, NULL, %s, %s)',
			               'hostile', 'x', 'user-personalization',
			               CASE c.arg WHEN 'event_weights' THEN c.given ELSE $q$'{}'$q$ END, c.flags,
			               CASE c.arg WHEN 'hpo_config' THEN c.given ELSE 'NULL' END);
			RAISE EXCEPTION USING ERRCODE = 'P0099';	-- roll back what it did
		EXCEPTION WHEN OTHERS THEN
			state := SQLSTATE;
		END;
		INSERT INTO hostile_hpo_case VALUES (c.arg, c.flags, c.given, CASE state WHEN 'P0099' THEN '-' ELSE state END);
	END LOOP;
END $$;

SELECT * FROM hostile_hpo_case WHERE sqlstate LIKE 'XX%';
SELECT * FROM hostile_hpo_case ORDER BY 1, 2, 3;
-- The USER_SEGMENTATION functions again, against an item-attribute-affinity
-- campaign and version "xa" whose item argument is an attribute predicate
-- (Items.KIND = "a"), with hostile predicates besides the hostile texts.
CREATE TABLE x_items (item_id text, kind text, price int);
INSERT INTO x_items SELECT 'i' || i, CASE WHEN i < 4 THEN 'a' ELSE 'b' END, i FROM generate_series(0, 7) i;
SELECT personalize.create_dataset('x', 'items', 'x_items');
SELECT personalize.create_solution('xa', 'x', 'item-attribute-affinity', '{"factors": 4, "iterations": 2}');
SELECT personalize.create_campaign('xa', personalize.create_solution_version('xa'));
SELECT solution_version AS xa_version FROM personalize.campaigns WHERE name = 'xa' \gset
SET personalize_test.xa_version = :xa_version;
CREATE TEMP TABLE hostile_segment_case (fn text, arg int, given text, sqlstate text);

DO $$
DECLARE
	f record;
	i int;
	hostile text;
	args text[];
	state text;
	version text := current_setting('personalize_test.xa_version');
	predicate text := $q$'Items.KIND = "a"'$q$;
BEGIN
	FOR f IN SELECT p.proname, p.proargtypes::regtype[] AS types, p.pronargs, p.proargnames AS names
	           FROM pg_proc p WHERE p.pronamespace = 'personalize'::regnamespace
	            AND p.proname IN ('user_segment', '_segment_version', 'create_batch_segment_job')
	          ORDER BY p.oid::regprocedure::text LOOP
		FOR i IN 1 .. f.pronargs LOOP
			FOREACH hostile IN ARRAY CASE
				WHEN f.names[i] IN ('item_id', 'item') THEN ARRAY['NULL::text', $q$''$q$, $q$repeat('x''"', 3334)$q$, $q$'i1'$q$,
					$q$'Items.NOPE = 1'$q$, $q$'Items.KIND = $X'$q$, $q$'Users.AGE > 3'$q$, $q$'Items.KIND IN ('$q$,
					$q$'Items.PRICE < 1e999999'$q$, $q$'Items.PRICE < ''x'''$q$, $q$'Items.KIND = "a" | INCLUDE WHERE true'$q$,
					$q$repeat('(', 2000) || 'Items.KIND = "a"' || repeat(')', 2000)$q$]
				WHEN f.names[i] = 'input' THEN ARRAY['NULL::text', $q$''$q$, $q$'SELECT NULL::text'$q$,
					$q$'SELECT ''Items.NOPE = 1'''$q$, $q$'SELECT ''i1'''$q$]
				WHEN f.types[i - 1]::text = 'text' THEN ARRAY['NULL::text', $q$''$q$, $q$repeat('x''"', 3334)$q$, $q$' x'$q$]
				WHEN f.types[i - 1]::text = 'jsonb' THEN ARRAY['NULL::jsonb', $q$'[]'::jsonb$q$, $q$'"x"'::jsonb$q$, $q$'{"": null}'::jsonb$q$]
				WHEN f.types[i - 1]::text = 'integer' THEN ARRAY['NULL::integer', '0', '-1', '501', '100001', '2147483647']
				WHEN f.types[i - 1]::text = 'bigint' THEN ARRAY['NULL::bigint', '-1::bigint', '9223372036854775807']
				ELSE ARRAY[format('NULL::%s', f.types[i - 1])] END
			LOOP
				args := ARRAY[]::text[];
				FOR j IN 1 .. f.pronargs LOOP
					args := args || CASE
						WHEN j = i THEN hostile
						WHEN f.names[j] IN ('item_id', 'item') THEN predicate
						WHEN f.names[j] = 'input' THEN $q$'SELECT ''Items.KIND = "a"'''$q$
						WHEN f.names[j] IN ('filter', 'filter_values') THEN format('NULL::%s', f.types[j - 1])
						WHEN f.types[j - 1]::text = 'text' THEN $q$'xa'$q$
						WHEN f.types[j - 1]::text = 'bigint' THEN version
						WHEN f.types[j - 1]::text = 'integer' THEN '3'
						WHEN f.types[j - 1]::text = 'boolean' THEN 'true'
						ELSE format('NULL::%s', f.types[j - 1]) END;
				END LOOP;
				BEGIN
					EXECUTE format('SELECT * FROM personalize.%I(%s)', f.proname, array_to_string(args, ', '));
					RAISE EXCEPTION USING ERRCODE = 'P0099';	-- roll back what it did
				EXCEPTION WHEN OTHERS THEN
					state := SQLSTATE;
				END;
				INSERT INTO hostile_segment_case VALUES (f.proname, i,
					CASE WHEN length(hostile) > 40 THEN left(hostile, 37) || '...' ELSE hostile END,
					CASE state WHEN 'P0099' THEN '-' ELSE state END);
			END LOOP;
		END LOOP;
	END LOOP;
END $$;

SELECT count(*) AS cases, count(DISTINCT fn) AS functions FROM hostile_segment_case;
SELECT * FROM hostile_segment_case WHERE sqlstate LIKE 'XX%';
-- the campaign still serves
SELECT count(*) FROM personalize.user_segment('xa', 'Items.KIND = "a"', 3);
SELECT fn, arg, given, sqlstate FROM hostile_segment_case ORDER BY fn, arg, given;

SELECT personalize.drop_campaign('x');
SELECT personalize.drop_campaign('xa');
SELECT personalize.drop_dataset_group('x', cascade => true);
DROP TABLE x_events, x_items;
