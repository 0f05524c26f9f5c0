/*
 * personalize upgrade script, 0.1.0 -> 0.2.0.
 *
 * Adds row-level security on the catalog tables (a role granted them can
 * write only the rows of objects whose owner it is a member of), filters
 * on batch inference jobs, batch jobs of PERSONALIZED_RANKING versions,
 * solution_metrics / describe_recommender callable without catalog grants,
 * ownership checked before row locks, _filter_values in C, filters on
 * user_segment, and put_events writing properties, recommendationId,
 * impression and the session to columns; the similar-items and
 * user-personalization-metadata recipes (item and user metadata), and the
 * creation time of items.
 *
 * Adds perform_hpo and perform_automl (create_solution's hpo_config, the
 * recipe of each version) and the event_weights hyperparameter.
 *
 * Adds promotions (recommend's trailing promotion argument: the function
 * is dropped and created again), get_recommendations, and the model rows
 * of context columns (model_context).
 */

\echo Use "ALTER EXTENSION personalize UPDATE TO '0.2.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Row-level security.  The catalog management functions run with the
-- caller's privileges, so the administrator grants the catalog tables to
-- the roles that manage datasets and training; these policies keep such a
-- role, whatever it was granted, to writing rows of objects owned by a role
-- it is a member of, as the functions' ownership checks do.  Reading stays
-- open, as through the views.  The extension owner (which the C code uses
-- for model rows, status changes and campaign switches) is not subject to
-- them, nor are the foreign keys' cascades.
-- ---------------------------------------------------------------------------

ALTER TABLE @extschema@.dataset_group ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.dataset ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.recipe ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.solution ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.solution_version ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.model_item ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.model_user ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.campaign ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.batch_job ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.filter ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.recommender ENABLE ROW LEVEL SECURITY;

CREATE POLICY readable ON @extschema@.dataset_group FOR SELECT USING (true);
CREATE POLICY readable ON @extschema@.dataset FOR SELECT USING (true);
CREATE POLICY readable ON @extschema@.recipe FOR SELECT USING (true);
CREATE POLICY readable ON @extschema@.solution FOR SELECT USING (true);
CREATE POLICY readable ON @extschema@.solution_version FOR SELECT USING (true);
CREATE POLICY readable ON @extschema@.model_item FOR SELECT USING (true);
CREATE POLICY readable ON @extschema@.model_user FOR SELECT USING (true);
CREATE POLICY readable ON @extschema@.campaign FOR SELECT USING (true);
CREATE POLICY readable ON @extschema@.batch_job FOR SELECT USING (true);
CREATE POLICY readable ON @extschema@.filter FOR SELECT USING (true);
CREATE POLICY readable ON @extschema@.recommender FOR SELECT USING (true);

-- objects with an owner column: written by members of the owner
CREATE POLICY owner_writes ON @extschema@.dataset_group
	USING (pg_catalog.pg_has_role(owner, 'MEMBER')) WITH CHECK (pg_catalog.pg_has_role(owner, 'MEMBER'));
CREATE POLICY owner_writes ON @extschema@.solution
	USING (pg_catalog.pg_has_role(owner, 'MEMBER')) WITH CHECK (pg_catalog.pg_has_role(owner, 'MEMBER'));
CREATE POLICY owner_writes ON @extschema@.campaign
	USING (pg_catalog.pg_has_role(owner, 'MEMBER')) WITH CHECK (pg_catalog.pg_has_role(owner, 'MEMBER'));
CREATE POLICY owner_writes ON @extschema@.batch_job
	USING (pg_catalog.pg_has_role(owner, 'MEMBER')) WITH CHECK (pg_catalog.pg_has_role(owner, 'MEMBER'));
CREATE POLICY owner_writes ON @extschema@.filter
	USING (pg_catalog.pg_has_role(owner, 'MEMBER')) WITH CHECK (pg_catalog.pg_has_role(owner, 'MEMBER'));
CREATE POLICY owner_writes ON @extschema@.recommender
	USING (pg_catalog.pg_has_role(owner, 'MEMBER')) WITH CHECK (pg_catalog.pg_has_role(owner, 'MEMBER'));

-- the rest: written by members of the owner of the dataset group or solution
CREATE POLICY owner_writes ON @extschema@.dataset
	USING (EXISTS (SELECT FROM @extschema@.dataset_group g
	                WHERE g.name OPERATOR(pg_catalog.=) dataset.dataset_group
	                  AND pg_catalog.pg_has_role(g.owner, 'MEMBER')))
	WITH CHECK (EXISTS (SELECT FROM @extschema@.dataset_group g
	                     WHERE g.name OPERATOR(pg_catalog.=) dataset.dataset_group
	                       AND pg_catalog.pg_has_role(g.owner, 'MEMBER')));
CREATE POLICY owner_writes ON @extschema@.solution_version
	USING (EXISTS (SELECT FROM @extschema@.solution s
	                WHERE s.name OPERATOR(pg_catalog.=) solution_version.solution
	                  AND pg_catalog.pg_has_role(s.owner, 'MEMBER')))
	WITH CHECK (EXISTS (SELECT FROM @extschema@.solution s
	                     WHERE s.name OPERATOR(pg_catalog.=) solution_version.solution
	                       AND pg_catalog.pg_has_role(s.owner, 'MEMBER')));
CREATE POLICY owner_writes ON @extschema@.model_item
	USING (EXISTS (SELECT FROM @extschema@.solution_version v JOIN @extschema@.solution s ON s.name OPERATOR(pg_catalog.=) v.solution
	                WHERE v.id OPERATOR(pg_catalog.=) model_item.solution_version
	                  AND pg_catalog.pg_has_role(s.owner, 'MEMBER')))
	WITH CHECK (EXISTS (SELECT FROM @extschema@.solution_version v JOIN @extschema@.solution s ON s.name OPERATOR(pg_catalog.=) v.solution
	                     WHERE v.id OPERATOR(pg_catalog.=) model_item.solution_version
	                       AND pg_catalog.pg_has_role(s.owner, 'MEMBER')));
CREATE POLICY owner_writes ON @extschema@.model_user
	USING (EXISTS (SELECT FROM @extschema@.solution_version v JOIN @extschema@.solution s ON s.name OPERATOR(pg_catalog.=) v.solution
	                WHERE v.id OPERATOR(pg_catalog.=) model_user.solution_version
	                  AND pg_catalog.pg_has_role(s.owner, 'MEMBER')))
	WITH CHECK (EXISTS (SELECT FROM @extschema@.solution_version v JOIN @extschema@.solution s ON s.name OPERATOR(pg_catalog.=) v.solution
	                     WHERE v.id OPERATOR(pg_catalog.=) model_user.solution_version
	                       AND pg_catalog.pg_has_role(s.owner, 'MEMBER')));
-- recipe: no write policy, the catalogue of recipes is the extension's own

-- ---------------------------------------------------------------------------
-- Batch inference jobs: filters (the job keeps its filter, the runner passes
-- it and each input row's filter values on) and PERSONALIZED_RANKING
-- versions (each input row ranks its own list through _rank_version).
-- ---------------------------------------------------------------------------

ALTER TABLE @extschema@.batch_job ADD COLUMN filter text;

CREATE OR REPLACE VIEW @extschema@.jobs AS
	SELECT id, name, job_type, solution_version, output_table, num_results, status, rows,
	       failure_reason, owner, created, finished, filter
	FROM @extschema@.batch_job;

DROP FUNCTION @extschema@._recommend_version(bigint, text, text, integer);
CREATE FUNCTION @extschema@._recommend_version(solution_version bigint, user_id text, item_id text, num_results integer,
	filter text DEFAULT NULL, filter_values jsonb DEFAULT NULL)
RETURNS TABLE(item_id text, score float8)
AS 'MODULE_PATHNAME', 'personalize_recommend_version'
LANGUAGE C STABLE PARALLEL SAFE ROWS 25 COST 1000;
COMMENT ON FUNCTION @extschema@._recommend_version(bigint, text, text, integer, text, jsonb) IS
	'internal: recommend() for an ACTIVE solution version instead of a campaign (batch inference jobs)';

CREATE FUNCTION @extschema@._rank_version(solution_version bigint, user_id text, items text[],
	filter text DEFAULT NULL, filter_values jsonb DEFAULT NULL)
RETURNS TABLE(item_id text, score float8)
AS 'MODULE_PATHNAME', 'personalize_rank_version'
LANGUAGE C STABLE PARALLEL SAFE ROWS 25 COST 1000;
COMMENT ON FUNCTION @extschema@._rank_version(bigint, text, text[], text, jsonb) IS
	'internal: personalized_rank() for an ACTIVE solution version instead of a campaign (batch inference jobs)';

CREATE OR REPLACE FUNCTION @extschema@._run_batch_job(job bigint)
RETURNS bigint LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	j @extschema@.batch_job;
	recipe_type text;
	n bigint;
	with_values boolean := false;
BEGIN
	SELECT * INTO j FROM @extschema@.batch_job b WHERE b.id = job;
	IF j.job_type = 'BATCH_SEGMENT' THEN
		RETURN @extschema@._run_batch_segment_job(job);
	END IF;
	-- the input query and the output table name resolve as they did for the requester
	PERFORM set_config('search_path', j.search_path, true);
	SELECT r.recipe_type INTO recipe_type
	  FROM @extschema@.solution_version v JOIN @extschema@.solution s ON s.name = v.solution
	  JOIN @extschema@.recipe r ON r.name = s.recipe WHERE v.id = j.solution_version;
	-- with a filter, the input column after the ids (and item lists), when
	-- there is one, holds each row's filter values
	IF j.filter IS NOT NULL THEN
		BEGIN
			EXECUTE format('SELECT 1 FROM (%s) AS input(%s, filter_values) LIMIT 0', j.input,
			               CASE recipe_type WHEN 'PERSONALIZED_RANKING' THEN 'id, items' ELSE 'id' END);
			with_values := true;
		EXCEPTION WHEN invalid_column_reference THEN
			with_values := false;
		END;
	END IF;
	IF recipe_type = 'PERSONALIZED_RANKING' THEN
		EXECUTE format('CREATE TABLE %s AS SELECT input.id::text AS user_id, r.rank::integer AS rank, r.item_id, r.score '
		               'FROM (%s) AS input(id, items%s) CROSS JOIN LATERAL @extschema@._rank_version(%s, input.id::text, input.items::text[], %L, %s) '
		               'WITH ORDINALITY AS r(item_id, score, rank)',
		               @extschema@._quoted_table_name(j.output_table),
		               j.input,
		               CASE WHEN with_values THEN ', filter_values' ELSE '' END,
		               j.solution_version,	-- bigint: its text form is a literal
		               j.filter,
		               CASE WHEN with_values THEN 'input.filter_values::jsonb' ELSE 'NULL' END);
		GET DIAGNOSTICS n = ROW_COUNT;
		UPDATE @extschema@.batch_job b SET status = 'ACTIVE', rows = n, finished = clock_timestamp() WHERE b.id = job;
		RETURN n;
	END IF;
	EXECUTE format('CREATE TABLE %s AS SELECT input.id::text AS %I, r.rank::integer AS rank, r.item_id, r.score '
	               'FROM (%s) AS input(id%s) CROSS JOIN LATERAL @extschema@._recommend_version(%s, %s, %s, %s, %L, %s) '
	               'WITH ORDINALITY AS r(item_id, score, rank)',
	               @extschema@._quoted_table_name(j.output_table),
	               CASE recipe_type WHEN 'RELATED_ITEMS' THEN 'query_item_id' ELSE 'user_id' END,
	               j.input,
	               CASE WHEN with_values THEN ', filter_values' ELSE '' END,
	               j.solution_version,	-- bigint: its text form is a literal
	               CASE recipe_type WHEN 'RELATED_ITEMS' THEN 'NULL' ELSE 'input.id::text' END,
	               CASE recipe_type WHEN 'RELATED_ITEMS' THEN 'input.id::text' ELSE 'NULL' END,
	               j.num_results,	-- integer
	               j.filter,
	               CASE WHEN with_values THEN 'input.filter_values::jsonb' ELSE 'NULL' END);
	GET DIAGNOSTICS n = ROW_COUNT;
	UPDATE @extschema@.batch_job b SET status = 'ACTIVE', rows = n, finished = clock_timestamp() WHERE b.id = job;
	RETURN n;
END $$;
COMMENT ON FUNCTION @extschema@._run_batch_job(bigint) IS 'internal: run a batch inference job';

CREATE OR REPLACE FUNCTION @extschema@.create_batch_inference_job(name text, solution_version bigint, input text,
	output_table text, num_results integer DEFAULT 25, filter text DEFAULT NULL, wait boolean DEFAULT false)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	v @extschema@.solution_version;
	recipe_type text;
	job bigint;
	-- the setting exists once the library is loaded, which a new session may
	-- not have done yet; 500 is its default
	max_results integer := coalesce(pg_catalog.current_setting('personalize.max_results', true), '500')::integer;
BEGIN
	PERFORM @extschema@._require(name, 'name');
	PERFORM @extschema@._require(solution_version, 'solution_version');
	PERFORM @extschema@._require(input, 'input');
	PERFORM @extschema@._require(output_table, 'output_table');
	PERFORM @extschema@._require(num_results, 'num_results');
	IF EXISTS (SELECT 1 FROM @extschema@.batch_job b WHERE b.name = create_batch_inference_job.name) THEN
		RAISE EXCEPTION 'batch job "%" already exists', name
			USING ERRCODE = 'duplicate_object', HINT = 'Choose another name; see personalize.jobs.';
	END IF;
	SELECT * INTO v FROM @extschema@.solution_version x WHERE x.id = create_batch_inference_job.solution_version;
	IF NOT FOUND OR v.status <> 'ACTIVE' THEN
		RAISE EXCEPTION 'solution version % does not exist or is not active', solution_version
			USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'See personalize.solution_versions.';
	END IF;
	SELECT r.recipe_type INTO recipe_type FROM @extschema@.solution s JOIN @extschema@.recipe r ON r.name = s.recipe
	 WHERE s.name = v.solution;
	IF recipe_type NOT IN ('USER_PERSONALIZATION', 'RELATED_ITEMS', 'POPULAR_ITEMS', 'PERSONALIZED_RANKING') THEN
		RAISE EXCEPTION 'batch inference does not support % solution versions', recipe_type
			USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Call personalize.create_batch_segment_job for it.';
	END IF;
	IF num_results OPERATOR(pg_catalog.<) 1 OR num_results OPERATOR(pg_catalog.>) max_results THEN
		RAISE EXCEPTION 'num_results % is out of range for batch job "%"', num_results, name
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = pg_catalog.format('Valid values are 1 to %s; personalize.max_results raises the limit.', max_results);
	END IF;
	IF filter IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM @extschema@.filter f JOIN @extschema@.solution s ON s.dataset_group = f.dataset_group
		 WHERE f.name = create_batch_inference_job.filter AND s.name = v.solution) THEN
		RAISE EXCEPTION 'filter "%" does not exist in the dataset group of solution version %', filter, solution_version
			USING ERRCODE = 'undefined_object',
			      HINT = 'See personalize.filters; a filter applies to the dataset group it was created in.';
	END IF;
	IF pg_catalog.to_regclass(@extschema@._quoted_table_name(output_table)) IS NOT NULL THEN
		RAISE EXCEPTION 'output table % already exists', output_table
			USING ERRCODE = 'duplicate_table', HINT = 'Drop it or choose another name.';
	END IF;
	-- the input must be a query this role can run; check it now, returning no row
	BEGIN
		EXECUTE pg_catalog.format('SELECT 1 FROM (%s) AS input LIMIT 0', input);
	EXCEPTION WHEN syntax_error OR undefined_table OR undefined_column OR insufficient_privilege OR wrong_object_type THEN
		RAISE EXCEPTION 'input of batch job "%" is not a valid query: %', name, SQLERRM
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Pass a query whose first column holds user ids (item ids for RELATED_ITEMS), e.g. ''SELECT id FROM users''.';
	END;
	-- a ranking job ranks each user's own list: a second column of item ids
	IF recipe_type = 'PERSONALIZED_RANKING' THEN
		BEGIN
			EXECUTE pg_catalog.format('SELECT input.items::text[] FROM (%s) AS input(id, items) LIMIT 0', input);
		EXCEPTION WHEN invalid_column_reference OR cannot_coerce OR datatype_mismatch THEN
			RAISE EXCEPTION 'input of batch job "%" must return user ids and lists of item ids to rank', name
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = 'Pass a query such as ''SELECT user_id, candidate_items FROM shortlist'', its second column a text[].';
		END;
	END IF;
	INSERT INTO @extschema@.batch_job (name, job_type, solution_version, input, search_path, output_table, num_results, status, filter)
	VALUES (name, 'BATCH_INFERENCE', solution_version, input, pg_catalog.current_setting('search_path'), output_table, num_results,
	        CASE WHEN coalesce(wait, false) THEN 'CREATE IN_PROGRESS' ELSE 'CREATE PENDING' END, filter)
	RETURNING id INTO job;
	IF coalesce(wait, false) THEN
		PERFORM @extschema@._run_batch_job(job);
	ELSE
		PERFORM @extschema@._launch_batch_worker(job);
	END IF;
	RETURN job;
END $$;

-- ---------------------------------------------------------------------------
-- solution_metrics and describe_recommender read the public views, so a
-- role without grants on the catalog tables (an analyst, an application)
-- can call them.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION @extschema@.solution_metrics(solution_version bigint)
RETURNS TABLE(metric text, value float8) LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v @extschema@.solution_versions;	-- the view: readable by everyone, unlike the table
BEGIN
	PERFORM @extschema@._require(solution_version, 'solution_version');
	SELECT * INTO v FROM @extschema@.solution_versions x WHERE x.id = solution_metrics.solution_version;
	IF NOT FOUND THEN
		PERFORM @extschema@._not_found('solution version', solution_version::text, 'See personalize.solution_versions for the existing ones.');
	END IF;
	IF v.status <> 'ACTIVE' THEN
		RAISE EXCEPTION 'solution version % is not active', solution_version
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      DETAIL = format('Its status is %s%s.', v.status, coalesce(': ' || v.failure_reason, '')),
			      HINT = 'Metrics exist for ACTIVE versions only.';
	END IF;
	RETURN QUERY SELECT m.key, (m.value #>> '{}')::float8 FROM jsonb_each(v.metrics) m
	              WHERE jsonb_typeof(m.value) = 'number' ORDER BY m.key;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.describe_recommender(name text)
RETURNS jsonb LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	result jsonb;
BEGIN
	PERFORM @extschema@._require(name, 'name');
	SELECT to_jsonb(r) || jsonb_build_object('status', v.status, 'metrics', v.metrics) INTO result
	  FROM @extschema@.recommenders r LEFT JOIN @extschema@.solution_versions v ON v.id = r.solution_version
	 WHERE r.name = describe_recommender.name;
	IF result IS NULL THEN
		PERFORM @extschema@._not_found('recommender', name, 'See personalize.recommenders for the existing ones.');
	END IF;
	RETURN result;
END $$;

-- ---------------------------------------------------------------------------
-- Functions that lock a row before changing it check ownership first: under
-- row-level security a locking read sees only rows the caller may write, so
-- another role's object looked missing instead of not theirs.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION @extschema@.drop_dataset_group(name text, "cascade" boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	grp @extschema@.dataset_group;
	dependents text;
BEGIN
	PERFORM @extschema@._require(name, 'name');
	SELECT * INTO grp FROM @extschema@.dataset_group g WHERE g.name = drop_dataset_group.name;
	IF NOT FOUND THEN
		PERFORM @extschema@._not_found('dataset group', name, 'See personalize.dataset_groups for the existing ones.');
	END IF;
	PERFORM @extschema@._check_owner('dataset group', name, grp.owner);
	-- lock it only now: under row-level security a locking read sees only rows
	-- the caller may write, and a stranger should hear "must be owner"
	SELECT * INTO grp FROM @extschema@.dataset_group g WHERE g.name = drop_dataset_group.name FOR UPDATE;
	SELECT string_agg(d, ', ') INTO dependents FROM (
		SELECT 'dataset ' || x.dataset_type AS d FROM @extschema@.dataset x WHERE x.dataset_group = drop_dataset_group.name
		UNION ALL
		SELECT 'solution ' || quote_literal(s.name) FROM @extschema@.solution s WHERE s.dataset_group = drop_dataset_group.name) x;
	IF dependents IS NOT NULL AND NOT coalesce("cascade", false) THEN
		RAISE EXCEPTION 'cannot drop dataset group "%" because other objects depend on it', name
			USING ERRCODE = 'dependent_objects_still_exist',
			      DETAIL = 'It has ' || dependents || '.',
			      HINT = 'Pass cascade => true to drop them too.';
	END IF;
	DELETE FROM @extschema@.campaign c USING @extschema@.solution_version v, @extschema@.solution s
	 WHERE c.solution_version = v.id AND v.solution = s.name AND s.dataset_group = drop_dataset_group.name;
	DELETE FROM @extschema@.dataset_group g WHERE g.name = drop_dataset_group.name;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.drop_solution(name text)
RETURNS void LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	sol @extschema@.solution;
	camp text;
BEGIN
	PERFORM @extschema@._require(name, 'name');
	SELECT * INTO sol FROM @extschema@.solution s WHERE s.name = drop_solution.name;
	IF NOT FOUND THEN
		PERFORM @extschema@._not_found('solution', name, 'See personalize.solutions for the existing ones.');
	END IF;
	PERFORM @extschema@._check_owner('solution', name, sol.owner);
	-- lock it only now: under row-level security a locking read sees only rows
	-- the caller may write, and a stranger should hear "must be owner"
	SELECT * INTO sol FROM @extschema@.solution s WHERE s.name = drop_solution.name FOR UPDATE;
	SELECT c.name INTO camp FROM @extschema@.campaign c JOIN @extschema@.solution_version v ON v.id = c.solution_version
	 WHERE v.solution = drop_solution.name LIMIT 1;
	IF camp IS NOT NULL THEN
		RAISE EXCEPTION 'cannot drop solution "%" because campaign "%" serves one of its versions', name, camp
			USING ERRCODE = 'dependent_objects_still_exist', HINT = 'Drop the campaign first with personalize.drop_campaign.';
	END IF;
	DELETE FROM @extschema@.solution s WHERE s.name = drop_solution.name;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.stop_solution_version(solution_version bigint)
RETURNS void LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v @extschema@.solution_version;
	owner regrole;
BEGIN
	PERFORM @extschema@._require(solution_version, 'solution_version');
	SELECT * INTO v FROM @extschema@.solution_version x WHERE x.id = stop_solution_version.solution_version;
	IF NOT FOUND THEN
		PERFORM @extschema@._not_found('solution version', solution_version::text, 'See personalize.solution_versions for the existing ones.');
	END IF;
	SELECT s.owner INTO owner FROM @extschema@.solution s WHERE s.name = v.solution;
	PERFORM @extschema@._check_owner('solution', v.solution, owner);
	-- lock it only now: under row-level security a locking read sees only rows
	-- the caller may write, and a stranger should hear "must be owner"
	SELECT * INTO v FROM @extschema@.solution_version x WHERE x.id = stop_solution_version.solution_version FOR UPDATE;
	IF v.status NOT IN ('CREATE PENDING', 'CREATE IN_PROGRESS') THEN
		RAISE EXCEPTION 'solution version % is not being trained', solution_version
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      DETAIL = format('Its status is %s.', v.status),
			      HINT = 'Only versions created with wait => false and still CREATE PENDING or CREATE IN_PROGRESS can be stopped.';
	END IF;
	UPDATE @extschema@.solution_version x
	   SET status = 'CREATE STOPPED', failure_reason = 'stopped by personalize.stop_solution_version',
	       finished = clock_timestamp()
	 WHERE x.id = stop_solution_version.solution_version;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.update_campaign(name text, solution_version bigint DEFAULT NULL, config jsonb DEFAULT NULL)
RETURNS void LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c @extschema@.campaign;
BEGIN
	PERFORM @extschema@._require(name, 'name');
	SELECT * INTO c FROM @extschema@.campaign x WHERE x.name = update_campaign.name;
	IF NOT FOUND THEN
		PERFORM @extschema@._not_found('campaign', name, 'See personalize.campaigns for the existing ones.');
	END IF;
	PERFORM @extschema@._check_owner('campaign', name, c.owner);
	-- lock it only now: under row-level security a locking read sees only rows
	-- the caller may write, and a stranger should hear "must be owner"
	SELECT * INTO c FROM @extschema@.campaign x WHERE x.name = update_campaign.name FOR UPDATE;
	PERFORM @extschema@._check_campaign(name, coalesce(solution_version, c.solution_version), coalesce(config, c.config));
	UPDATE @extschema@.campaign x
	   SET solution_version = coalesce(update_campaign.solution_version, x.solution_version),
	       config = coalesce(update_campaign.config, x.config),
	       updated = now()
	 WHERE x.name = update_campaign.name;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.drop_campaign(name text)
RETURNS void LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c @extschema@.campaign;
BEGIN
	PERFORM @extschema@._require(name, 'name');
	SELECT * INTO c FROM @extschema@.campaign x WHERE x.name = drop_campaign.name;
	IF NOT FOUND THEN
		PERFORM @extschema@._not_found('campaign', name, 'See personalize.campaigns for the existing ones.');
	END IF;
	PERFORM @extschema@._check_owner('campaign', name, c.owner);
	-- lock it only now: under row-level security a locking read sees only rows
	-- the caller may write, and a stranger should hear "must be owner"
	SELECT * INTO c FROM @extschema@.campaign x WHERE x.name = drop_campaign.name FOR UPDATE;
	DELETE FROM @extschema@.campaign x WHERE x.name = drop_campaign.name;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.drop_filter(name text)
RETURNS void LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	f @extschema@.filter;
BEGIN
	PERFORM @extschema@._require(name, 'name');
	SELECT * INTO f FROM @extschema@.filter x WHERE x.name = drop_filter.name;
	IF NOT FOUND THEN
		PERFORM @extschema@._not_found('filter', name, 'See personalize.filters for the existing ones.');
	END IF;
	PERFORM @extschema@._check_owner('filter', name, f.owner);
	-- lock it only now: under row-level security a locking read sees only rows
	-- the caller may write, and a stranger should hear "must be owner"
	SELECT * INTO f FROM @extschema@.filter x WHERE x.name = drop_filter.name FOR UPDATE;
	DELETE FROM @extschema@.filter x WHERE x.name = drop_filter.name;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.drop_recommender(name text)
RETURNS void LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r @extschema@.recommender;
BEGIN
	PERFORM @extschema@._require(name, 'name');
	SELECT * INTO r FROM @extschema@.recommender x WHERE x.name = drop_recommender.name;
	IF NOT FOUND THEN
		PERFORM @extschema@._not_found('recommender', name, 'See personalize.recommenders for the existing ones.');
	END IF;
	PERFORM @extschema@._check_owner('recommender', name, r.owner);
	-- lock it only now: under row-level security a locking read sees only rows
	-- the caller may write, and a stranger should hear "must be owner"
	SELECT * INTO r FROM @extschema@.recommender x WHERE x.name = drop_recommender.name FOR UPDATE;
	DELETE FROM @extschema@.campaign c WHERE c.name = drop_recommender.name;
	DELETE FROM @extschema@.solution s WHERE s.name = drop_recommender.name;
	DELETE FROM @extschema@.recommender x WHERE x.name = drop_recommender.name;
END $$;

-- ---------------------------------------------------------------------------
-- _filter_values in C: compiled filters call it once per batch, and the SQL
-- function (with its pinned search_path) cost more than the rest of a batch.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION @extschema@._filter_values(filter_values jsonb, name text)
RETURNS text[]
AS 'MODULE_PATHNAME', 'personalize_filter_values'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- ---------------------------------------------------------------------------
-- user_segment takes filters of INCLUDE|EXCLUDE UserID expressions.
-- ---------------------------------------------------------------------------

DROP FUNCTION @extschema@.user_segment(text, text, integer);
CREATE FUNCTION @extschema@.user_segment(campaign text, item_id text, num_users integer DEFAULT 25,
	filter text DEFAULT NULL, filter_values jsonb DEFAULT NULL)
RETURNS TABLE(user_id text, score float8)
AS 'MODULE_PATHNAME', 'personalize_user_segment'
LANGUAGE C STABLE PARALLEL SAFE ROWS 25 COST 1000;
COMMENT ON FUNCTION @extschema@.user_segment(text, text, integer, text, jsonb) IS
	'the users of a USER_SEGMENTATION campaign most likely to interact with an item (item-attribute-affinity: with the items matching an attribute predicate passed as item_id), best first, scored; filter: INCLUDE|EXCLUDE UserID expressions';

-- ---------------------------------------------------------------------------
-- put_events writes Personalize's other event fields (properties,
-- recommendationId, impression, the session) to columns bearing their names.
-- ---------------------------------------------------------------------------

/* A name in snake_case: recommendationId -> recommendation_id. */
CREATE FUNCTION @extschema@._snake_case(name text)
RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT lower(regexp_replace(name, '([a-z0-9])([A-Z])', '\1_\2', 'g'))
$$;
COMMENT ON FUNCTION @extschema@._snake_case(text) IS 'internal: a camelCase name in snake_case';

/*
 * The column of a registered interactions relation that holds an event
 * field: one named like it, ignoring case, or its snake_case form; never
 * one of the columns put_events fills from its own fields.  NULL if none.
 */
CREATE FUNCTION @extschema@._event_column(d @extschema@.dataset, field text)
RETURNS text LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT a.attname::text FROM pg_attribute a
	 WHERE a.attrelid = d.relation AND a.attnum > 0 AND NOT a.attisdropped
	   AND (lower(a.attname) = lower(field) OR a.attname = @extschema@._snake_case(field))
	   AND a.attname NOT IN (d.user_column, d.item_column, d.time_column,
	                         coalesce(d.event_type_column, ''), coalesce(d.event_value_column, ''))
	 ORDER BY a.attname = field DESC, a.attnum LIMIT 1
$$;
COMMENT ON FUNCTION @extschema@._event_column(@extschema@.dataset, text) IS 'internal: the column of an interactions relation holding an event field';

CREATE OR REPLACE FUNCTION @extschema@.put_events(dataset_group text, user_id text, session_id text, events jsonb)
RETURNS integer LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	d @extschema@.dataset;
	ev jsonb;
	n integer := 0;
	ts timestamptz;
	base_columns text;
	base_values text;
	extras jsonb;
	extra_columns text[];
	props jsonb;
	key text;
	col text;
BEGIN
	PERFORM @extschema@._require(user_id, 'user_id');
	PERFORM @extschema@._require(events, 'events');
	d := @extschema@._dataset(dataset_group, 'interactions');
	IF jsonb_typeof(events) = 'object' THEN
		events := jsonb_build_array(events);
	END IF;
	IF jsonb_typeof(events) <> 'array' THEN
		RAISE EXCEPTION 'events must be a JSON array of events'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Pass for example ''[{"itemId": "42", "eventType": "watch", "sentAt": 1700000000}]''.';
	END IF;
	base_columns := format('%I, %I, %I%s%s', d.user_column, d.item_column, d.time_column,
		CASE WHEN d.event_type_column IS NOT NULL THEN format(', %I', d.event_type_column) ELSE '' END,
		CASE WHEN d.event_value_column IS NOT NULL THEN format(', %I', d.event_value_column) ELSE '' END);
	base_values := format('$1::%s, $2::%s, %s%s%s',
		@extschema@._column_type(d.relation, d.user_column),
		@extschema@._column_type(d.relation, d.item_column),
		CASE d.time_kind WHEN 'epoch' THEN format('extract(epoch FROM $3)::%s', @extschema@._column_type(d.relation, d.time_column))
		                 ELSE format('$3::%s', @extschema@._column_type(d.relation, d.time_column)) END,
		CASE WHEN d.event_type_column IS NOT NULL THEN format(', $4::%s', @extschema@._column_type(d.relation, d.event_type_column)) ELSE '' END,
		CASE WHEN d.event_value_column IS NOT NULL THEN format(', $5::%s', @extschema@._column_type(d.relation, d.event_value_column)) ELSE '' END);
	FOR ev IN SELECT * FROM jsonb_array_elements(events) LOOP
		IF ev ->> 'itemId' IS NULL THEN
			RAISE EXCEPTION 'event % has no itemId', n + 1
				USING ERRCODE = 'invalid_parameter_value', HINT = 'Each event needs "itemId".';
		END IF;
		ts := @extschema@._event_time(ev -> 'sentAt');
		IF ev ? 'eventValue' AND jsonb_typeof(ev -> 'eventValue') <> 'number' THEN
			RAISE EXCEPTION 'eventValue of event % must be a finite number', n + 1
				USING ERRCODE = 'invalid_parameter_value';
		END IF;

		/*
		 * Personalize's other fields go to columns of the relation that bear
		 * their names: properties (an object, or a string holding one, as
		 * Personalize sends it) key by key, recommendationId, impression (an
		 * array of item ids; joined with | for a text column) and the
		 * session.  A field without a column is an error, not dropped.
		 */
		extras := '{}';
		props := ev -> 'properties';
		IF jsonb_typeof(props) = 'string' THEN
			BEGIN
				props := (props #>> '{}')::jsonb;
			EXCEPTION WHEN invalid_text_representation THEN
				props := NULL;
			END;
		END IF;
		IF props IS NOT NULL AND jsonb_typeof(props) <> 'object' THEN
			RAISE EXCEPTION 'properties of event % must be a JSON object', n + 1
				USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass for example "properties": {"device": "phone"}.';
		END IF;
		FOR key IN SELECT k FROM jsonb_object_keys(coalesce(props, '{}')) k LOOP
			extras := extras || jsonb_build_object(key, props -> key);
		END LOOP;
		IF ev ? 'recommendationId' THEN
			extras := extras || jsonb_build_object('recommendationId', ev -> 'recommendationId');
		END IF;
		IF ev ? 'impression' THEN
			extras := extras || jsonb_build_object('impression', ev -> 'impression');
		END IF;
		extra_columns := '{}';
		FOR key IN SELECT k FROM jsonb_object_keys(extras) k ORDER BY k LOOP
			col := @extschema@._event_column(d, key);
			IF col IS NULL AND (lower(key) IN (d.user_column, d.item_column, d.time_column, d.event_type_column, d.event_value_column)
			                    OR @extschema@._snake_case(key) IN (d.user_column, d.item_column, d.time_column, d.event_type_column, d.event_value_column)) THEN
				RAISE EXCEPTION 'field "%" of event % names a column that put_events fills itself', key, n + 1
					USING ERRCODE = 'invalid_parameter_value',
					      HINT = 'The user, item, time, event type and value come from userId, itemId, sentAt, eventType and eventValue.';
			ELSIF col IS NULL THEN
				RAISE EXCEPTION 'field "%" of event % has no column in %', key, n + 1, d.relation
					USING ERRCODE = 'undefined_column',
					      HINT = format('Add a column named %s to %s, or leave the field out.',
					                    @extschema@._snake_case(key), d.relation);
			END IF;
			IF key = 'impression' AND jsonb_typeof(extras -> key) = 'array'
			   AND NOT @extschema@._column_type(d.relation, col)::text LIKE '%[]' THEN
				extras := jsonb_set(extras, ARRAY[key], to_jsonb(
					(SELECT string_agg(v, '|') FROM jsonb_array_elements_text(extras -> key) v)));
			END IF;
			extras := (extras - key) || jsonb_build_object(col, extras -> key);
			extra_columns := extra_columns || col;
		END LOOP;
		col := @extschema@._event_column(d, 'sessionId');
		IF session_id IS NOT NULL AND col IS NOT NULL AND NOT col = ANY (extra_columns) THEN
			extras := extras || jsonb_build_object(col, session_id);
			extra_columns := extra_columns || col;
		END IF;

		EXECUTE format('INSERT INTO %s (%s%s) SELECT %s%s FROM jsonb_populate_record(NULL::%s, $6) AS r',
		               d.relation, base_columns,
		               (SELECT string_agg(format(', %I', c), '') FROM unnest(extra_columns) c),
		               base_values,
		               (SELECT string_agg(format(', r.%I', c), '') FROM unnest(extra_columns) c),
		               d.relation)
			USING user_id, ev ->> 'itemId', ts, ev ->> 'eventType', (ev ->> 'eventValue')::float8, extras;
		n := n + 1;
	END LOOP;
	RETURN n;
END $$;


-- ---------------------------------------------------------------------------
-- Metadata recipes: similar-items and user-personalization-metadata, the
-- user-feature map of the latter, and the creation time of items.
-- ---------------------------------------------------------------------------

/*
 * user-personalization-metadata: the map from a user's metadata features to
 * a user factor, one row per feature (a categorical value, or a numeric
 * bucket [low, high)), the last (no column) the bias.
 */
CREATE TABLE @extschema@.model_feature (
	solution_version bigint NOT NULL REFERENCES @extschema@.solution_version (id) ON DELETE CASCADE,
	feature_index	integer NOT NULL,
	feature_column	text,
	feature_value	text,
	low		float8,
	high		float8,
	weights		real[] NOT NULL,
	PRIMARY KEY (solution_version, feature_index)
);
COMMENT ON TABLE @extschema@.model_feature IS 'model rows: user metadata features and their factor weights, for users without history (internal)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.model_feature', '');
ALTER TABLE @extschema@.model_feature ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON @extschema@.model_feature FOR SELECT USING (true);
CREATE POLICY owner_writes ON @extschema@.model_feature
	USING (EXISTS (SELECT FROM @extschema@.solution_version v JOIN @extschema@.solution s ON s.name OPERATOR(pg_catalog.=) v.solution
	                WHERE v.id OPERATOR(pg_catalog.=) model_feature.solution_version
	                  AND pg_catalog.pg_has_role(s.owner, 'MEMBER')))
	WITH CHECK (EXISTS (SELECT FROM @extschema@.solution_version v JOIN @extschema@.solution s ON s.name OPERATOR(pg_catalog.=) v.solution
	                     WHERE v.id OPERATOR(pg_catalog.=) model_feature.solution_version
	                       AND pg_catalog.pg_has_role(s.owner, 'MEMBER')));

-- similar-items: the sims hyperparameters and the blend with metadata
INSERT INTO @extschema@.recipe (name, recipe_type, hyperparameters, description)
SELECT 'similar-items', 'RELATED_ITEMS',
       r.hyperparameters || '{"metadata_weight": {"type": "number", "default": 0.3, "min": 0, "max": 1, "description": "share of item metadata similarity in the blend with co-occurrence: 0 is sims, 1 metadata only"}}',
       'related items from co-occurrence blended with item metadata similarity (cosine of the items'' features, each weighted by its rarity), so items with few or no interactions have related items and appear in them; needs an items dataset with metadata'
  FROM @extschema@.recipe r WHERE r.name = 'sims';

-- user-personalization-metadata: the user-personalization hyperparameters and the weight of item metadata
INSERT INTO @extschema@.recipe (name, recipe_type, hyperparameters, description)
SELECT 'user-personalization-metadata', 'USER_PERSONALIZATION',
       r.hyperparameters || '{"item_metadata_weight": {"type": "number", "default": 1, "min": 0, "max": 1000, "description": "weight of an item''s tie to each of its metadata values, counted like interactions: items without interactions get factors from their metadata"}}',
       'user-personalization that learns from item and user metadata: items with metadata but no interactions can be recommended, and users with metadata but no history are served from it; needs an items or users dataset with metadata'
  FROM @extschema@.recipe r WHERE r.name = 'user-personalization';

-- items datasets may register a creation time
CREATE OR REPLACE FUNCTION @extschema@.create_dataset(dataset_group text, dataset_type text, relation regclass,
	user_id text DEFAULT NULL, item_id text DEFAULT NULL, event_time text DEFAULT NULL,
	event_type text DEFAULT NULL, event_value text DEFAULT NULL, metadata text[] DEFAULT NULL)
RETURNS void LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	grp @extschema@.dataset_group;
	ucol name; icol name; tcol name; etcol name; evcol name;
	tkind text;
	typ regtype;
	meta name[] := '{}';
	m text;
	mcol name;
BEGIN
	PERFORM @extschema@._require(dataset_group, 'dataset_group');
	PERFORM @extschema@._require(dataset_type, 'dataset_type');
	PERFORM @extschema@._require(relation, 'relation');
	SELECT * INTO grp FROM @extschema@.dataset_group g WHERE g.name = create_dataset.dataset_group;
	IF NOT FOUND THEN
		PERFORM @extschema@._not_found('dataset group', dataset_group, 'Create it first with personalize.create_dataset_group.');
	END IF;
	PERFORM @extschema@._check_owner('dataset group', dataset_group, grp.owner);
	dataset_type := lower(dataset_type);
	IF dataset_type NOT IN ('interactions', 'items', 'users') THEN
		RAISE EXCEPTION 'unknown dataset type "%"', dataset_type
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Valid dataset types are interactions, items and users.';
	END IF;
	IF (SELECT c.relkind FROM pg_class c WHERE c.oid = relation) NOT IN ('r', 'p', 'v', 'm', 'f') THEN
		RAISE EXCEPTION 'relation % is not a table, view or materialized view', relation
			USING ERRCODE = 'wrong_object_type';
	END IF;
	IF NOT has_table_privilege(relation, 'SELECT') THEN
		RAISE EXCEPTION 'permission denied for relation %', relation
			USING ERRCODE = 'insufficient_privilege',
			      HINT = format('Role %s needs SELECT on %s to register it.', current_user, relation);
	END IF;
	IF EXISTS (SELECT 1 FROM @extschema@.dataset d WHERE d.dataset_group = create_dataset.dataset_group
	           AND d.dataset_type = create_dataset.dataset_type) THEN
		RAISE EXCEPTION '% dataset of dataset group "%" already exists', dataset_type, dataset_group
			USING ERRCODE = 'duplicate_object', HINT = 'Drop it first with personalize.drop_dataset.';
	END IF;

	IF dataset_type IN ('interactions', 'users') THEN
		ucol := @extschema@._role_column(relation, 'user id', user_id, '{user_id,userid}', 'user_id');
		IF ucol IS NULL THEN
			RAISE EXCEPTION 'relation % has no user id column', relation
				USING ERRCODE = 'undefined_column',
				      HINT = 'Name it USER_ID, or pass user_id => ''column''.';
		END IF;
	END IF;
	IF dataset_type IN ('interactions', 'items') THEN
		icol := @extschema@._role_column(relation, 'item id', item_id, '{item_id,itemid}', 'item_id');
		IF icol IS NULL THEN
			RAISE EXCEPTION 'relation % has no item id column', relation
				USING ERRCODE = 'undefined_column',
				      HINT = 'Name it ITEM_ID, or pass item_id => ''column''.';
		END IF;
	END IF;
	IF dataset_type = 'interactions' THEN
		tcol := @extschema@._role_column(relation, 'event time', event_time, '{timestamp,event_time,time}', 'event_time');
		IF tcol IS NULL THEN
			RAISE EXCEPTION 'relation % has no event time column', relation
				USING ERRCODE = 'undefined_column',
				      HINT = 'Name it TIMESTAMP or EVENT_TIME, or pass event_time => ''column''.';
		END IF;
		typ := @extschema@._column_type(relation, tcol);
		tkind := CASE WHEN typ = 'timestamptz'::regtype THEN 'timestamptz'
		              WHEN typ = 'timestamp'::regtype THEN 'timestamp'
		              WHEN typ IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype,
		                           'float4'::regtype, 'float8'::regtype) THEN 'epoch' END;
		IF tkind IS NULL THEN
			RAISE EXCEPTION 'event time column "%" of relation % has type %', tcol, relation, typ
				USING ERRCODE = 'datatype_mismatch',
				      HINT = 'Use timestamptz, timestamp, or epoch seconds in an integer or numeric column.';
		END IF;
		etcol := @extschema@._role_column(relation, 'event type', event_type, '{event_type,eventtype}', 'event_type');
		evcol := @extschema@._role_column(relation, 'event value', event_value, '{event_value,eventvalue}', 'event_value');
		IF evcol IS NOT NULL AND @extschema@._column_type(relation, evcol) NOT IN
		   ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype, 'float4'::regtype, 'float8'::regtype) THEN
			RAISE EXCEPTION 'event value column "%" of relation % has type %', evcol, relation,
				@extschema@._column_type(relation, evcol)
				USING ERRCODE = 'datatype_mismatch', HINT = 'Use a numeric column, or omit event_value.';
		END IF;
	ELSIF dataset_type = 'items' AND event_type IS NULL AND event_value IS NULL THEN
		-- items: the creation time (Personalize's CREATION_TIMESTAMP), optional;
		-- exploration and the item age cut-off use it
		tcol := @extschema@._role_column(relation, 'creation time', event_time, '{creation_timestamp}', 'event_time');
		IF tcol IS NOT NULL THEN
			typ := @extschema@._column_type(relation, tcol);
			tkind := CASE WHEN typ = 'timestamptz'::regtype THEN 'timestamptz'
			              WHEN typ = 'timestamp'::regtype THEN 'timestamp'
			              WHEN typ IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype,
			                           'float4'::regtype, 'float8'::regtype) THEN 'epoch' END;
			IF tkind IS NULL THEN
				RAISE EXCEPTION 'creation time column "%" of relation % has type %', tcol, relation, typ
					USING ERRCODE = 'datatype_mismatch',
					      HINT = 'Use timestamptz, timestamp, or epoch seconds in an integer or numeric column.';
			END IF;
		END IF;
	ELSIF event_time IS NOT NULL OR event_type IS NOT NULL OR event_value IS NOT NULL THEN
		RAISE EXCEPTION 'event_time, event_type and event_value apply to interactions datasets only'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'For an items dataset, event_time names the creation time column.';
	END IF;

	FOREACH m IN ARRAY coalesce(metadata, '{}') LOOP
		mcol := @extschema@._role_column(relation, 'metadata', m, NULL, 'metadata');
		typ := @extschema@._column_type(relation, mcol);
		IF typ NOT IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'bool'::regtype, 'text[]'::regtype,
		               'int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype, 'float4'::regtype,
		               'float8'::regtype, 'timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)
		   AND (SELECT t.typtype FROM pg_type t WHERE t.oid = typ) <> 'e' THEN
			RAISE EXCEPTION 'metadata column "%" of relation % has type %', mcol, relation, typ
				USING ERRCODE = 'datatype_mismatch',
				      HINT = 'Metadata columns must be text, enum, boolean, text[] (categorical) or numeric.';
		END IF;
		meta := meta || mcol;
	END LOOP;

	INSERT INTO @extschema@.dataset (dataset_group, dataset_type, relation, user_column, item_column,
		time_column, time_kind, event_type_column, event_value_column, metadata_columns)
	VALUES (dataset_group, dataset_type, relation, ucol, icol, tcol, tkind, etcol, evcol, meta);

	IF dataset_type = 'interactions' AND NOT EXISTS (
		SELECT 1 FROM pg_index i
		 WHERE i.indrelid = relation
		   AND i.indkey[0] = (SELECT attnum FROM pg_attribute WHERE attrelid = relation AND attname = ucol)) THEN
		RAISE NOTICE 'relation % has no index on its user column "%"', relation, ucol
			USING HINT = format('recommend() reads each user''s recent history; CREATE INDEX ON %s (%I, %I) makes that fast.',
			                    relation, ucol, tcol);
	END IF;
END $$;

-- ---------------------------------------------------------------------------
-- HPO, AutoML and event weights: create_solution gains hpo_config (kept on
-- the solution); a version records the recipe it was trained with (AutoML's
-- choice; NULL on versions from 0.1.0, which used the solution's); the
-- event_weights hyperparameter is an object, checked by its own helper.
-- ---------------------------------------------------------------------------

ALTER TABLE @extschema@.solution ADD COLUMN hpo_config jsonb;
ALTER TABLE @extschema@.solution_version ADD COLUMN recipe text REFERENCES @extschema@.recipe (name);

-- event_weights (an object, checked by _check_event_weights) on the recipes
-- that learn from how strongly users interact
UPDATE @extschema@.recipe SET hyperparameters = hyperparameters || jsonb_build_object('event_weights',
	jsonb_build_object('type', 'object', 'default', '{}'::jsonb, 'description',
		'weight of each event type, e.g. {"purchase": 3, "click": 1}: event types match case-insensitively, those not listed weigh 1, 0 leaves a type out'))
 WHERE name IN ('user-personalization', 'personalized-ranking', 'item-affinity', 'ease', 'sims', 'similar-items', 'user-personalization-metadata');

CREATE OR REPLACE VIEW @extschema@.solutions AS
	SELECT name, dataset_group, recipe, hyperparameters, event_type,
	       event_value_threshold, perform_hpo, perform_automl, owner, created, hpo_config
	FROM @extschema@.solution;

CREATE OR REPLACE VIEW @extschema@.solution_versions AS
	SELECT v.id, v.solution, coalesce(v.recipe, s.recipe) AS recipe, v.status, v.progress, v.failure_reason,
	       v.training_mode, v.hyperparameters, v.metrics, v.users, v.items,
	       v.interactions, v.training_seconds, v.created, v.finished
	FROM @extschema@.solution_version v
	JOIN @extschema@.solution s ON s.name = v.solution;

CREATE OR REPLACE VIEW @extschema@.campaigns AS
	SELECT c.name, v.solution, c.solution_version, coalesce(v.recipe, s.recipe) AS recipe, c.config, c.created, c.updated
	FROM @extschema@.campaign c
	JOIN @extschema@.solution_version v ON v.id = c.solution_version
	JOIN @extschema@.solution s ON s.name = v.solution;

CREATE OR REPLACE FUNCTION @extschema@._resolve_hyperparameters(recipe_name text, given jsonb)
RETURNS jsonb LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	declared jsonb;
	resolved jsonb := '{}';
	key text;
	spec jsonb;
	value jsonb;
	num numeric;
	valid text;
BEGIN
	SELECT r.hyperparameters INTO declared FROM @extschema@.recipe r WHERE r.name = recipe_name;
	IF declared IS NULL THEN
		PERFORM @extschema@._not_found('recipe', recipe_name,
			'Valid recipes are: ' || (SELECT string_agg(name, ', ' ORDER BY name) FROM @extschema@.recipe) || '.');
	END IF;
	given := coalesce(given, '{}');
	IF jsonb_typeof(given) <> 'object' THEN
		RAISE EXCEPTION 'hyperparameters must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Pass for example ''{"factors": 32}''.';
	END IF;
	SELECT coalesce(string_agg(k, ', ' ORDER BY k), '(none)') INTO valid FROM jsonb_object_keys(declared) k;
	FOR key, value IN SELECT * FROM jsonb_each(given) LOOP
		spec := declared -> key;
		IF spec IS NULL THEN
			RAISE EXCEPTION 'unknown hyperparameter "%" for recipe "%"', key, recipe_name
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = format('Valid hyperparameters of recipe "%s" are: %s.', recipe_name, valid);
		END IF;
		IF spec->>'type' = 'object' THEN
			given := jsonb_set(given, ARRAY[key], @extschema@._check_event_weights(key, value));
			CONTINUE;
		END IF;
		IF jsonb_typeof(value) <> 'number' THEN
			RAISE EXCEPTION 'hyperparameter "%" must be a number, not %', key, value
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = format('Valid values are %s to %s.', spec->>'min', spec->>'max');
		END IF;
		num := value::text::numeric;
		IF num < (spec->>'min')::numeric OR num > (spec->>'max')::numeric
		   OR (spec->>'type' = 'integer' AND num <> trunc(num)) THEN
			RAISE EXCEPTION 'hyperparameter "%" value % is out of range', key, value
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = format('Valid values of "%s" are %s %s to %s.', key,
				                    CASE WHEN spec->>'type' = 'integer' THEN 'integers' ELSE 'numbers' END,
				                    spec->>'min', spec->>'max');
		END IF;
		IF spec ? 'values' AND NOT (spec->'values') @> jsonb_build_array(value) THEN
			RAISE EXCEPTION 'hyperparameter "%" value % is not allowed', key, value
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = format('Valid values of "%s" are %s.', key, spec->'values');
		END IF;
	END LOOP;
	SELECT coalesce(jsonb_object_agg(k, coalesce(given -> k, declared -> k -> 'default')), '{}')
	  INTO resolved FROM jsonb_object_keys(declared) k;
	RETURN resolved;
END $$;
COMMENT ON FUNCTION @extschema@._resolve_hyperparameters(text, jsonb) IS 'internal: validate hyperparameters against a recipe and merge them over its defaults';

/*
 * Check the event_weights hyperparameter (the only object-valued one): an
 * object of event type -> weight from 0 to 1000000.  Returns it with the
 * event types lower-cased, since they match case-insensitively.
 */
CREATE FUNCTION @extschema@._check_event_weights(name text, value jsonb)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	event text;
	weight jsonb;
	result jsonb := '{}';
BEGIN
	IF jsonb_typeof(value) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'hyperparameter "%" must be a JSON object mapping event types to weights, not %', name, value
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = format('Pass for example ''{"%s": {"purchase": 3, "click": 1}}''.', name);
	END IF;
	FOR event, weight IN SELECT * FROM jsonb_each(value) LOOP
		IF jsonb_typeof(weight) <> 'number' OR weight::text::numeric < 0 OR weight::text::numeric > 1000000 THEN
			RAISE EXCEPTION 'weight % of event type "%" in hyperparameter "%" is not valid', weight, event, name
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = 'Weights are numbers from 0 to 1000000: 0 leaves the event type out, event types not listed weigh 1.';
		END IF;
		IF result ? lower(event) THEN
			RAISE EXCEPTION 'event type "%" appears twice in hyperparameter "%"', lower(event), name
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = 'Event types match case-insensitively: list each once.';
		END IF;
		result := result || jsonb_build_object(lower(event), weight);
	END LOOP;
	RETURN result;
END $$;
COMMENT ON FUNCTION @extschema@._check_event_weights(text, jsonb) IS 'internal: validate the event_weights hyperparameter and lower-case its event types';

/*
 * Validate a solution's hpo_config and resolve it: for HPO
 * {"max_trials": n, "objective": metric, "ranges": {name: {"type", "min",
 * "max", "scale"}}}, for AutoML {"objective": metric}.  given is the
 * solution's own hyperparameters: those it sets are fixed, not searched.
 * Default ranges (when hpo_config has none) are the hyperparameters worth
 * tuning, narrowed from the recipe's ranges to sensible search ranges,
 * log-scale for penalties and sizes.
 */
CREATE FUNCTION @extschema@._resolve_hpo_config(recipe_name text, given jsonb, hpo_config jsonb, automl boolean)
RETURNS jsonb LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	objectives text[] := ARRAY['coverage', 'mean_reciprocal_rank_at_25',
		'normalized_discounted_cumulative_gain_at_5', 'normalized_discounted_cumulative_gain_at_10',
		'normalized_discounted_cumulative_gain_at_25', 'precision_at_5', 'precision_at_10',
		'precision_at_25', 'recall_at_10', 'recall_at_25'];
	cfg jsonb := coalesce(hpo_config, '{}');
	declared jsonb;
	rtype text;
	objective text;
	trials numeric;
	ranges jsonb := '{}';
	key text;
	spec jsonb;
	r jsonb;
	lo numeric;
	hi numeric;
	scale text;
	tunable text;
BEGIN
	given := coalesce(given, '{}');
	SELECT x.hyperparameters, x.recipe_type INTO declared, rtype FROM @extschema@.recipe x WHERE x.name = recipe_name;
	IF jsonb_typeof(cfg) <> 'object' THEN
		RAISE EXCEPTION 'hpo_config must be a JSON object, not %', cfg
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Pass for example ''{"max_trials": 8, "objective": "normalized_discounted_cumulative_gain_at_10"}''.';
	END IF;
	FOR key IN SELECT jsonb_object_keys(cfg) LOOP
		IF automl AND key IN ('max_trials', 'ranges') THEN
			RAISE EXCEPTION 'hpo_config key "%" does not apply to perform_automl', key
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = 'AutoML trains each candidate recipe once; its hpo_config takes only "objective".';
		ELSIF key NOT IN ('max_trials', 'objective', 'ranges') THEN
			RAISE EXCEPTION 'unknown hpo_config key "%"', key
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = 'Valid keys are max_trials, objective and ranges.';
		END IF;
	END LOOP;
	IF cfg ? 'objective' AND (jsonb_typeof(cfg -> 'objective') <> 'string' OR NOT (cfg ->> 'objective') = ANY (objectives)) THEN
		RAISE EXCEPTION 'unknown hpo_config objective %', cfg -> 'objective'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Valid objectives are the metric names: ' || array_to_string(objectives, ', ') || '.';
	END IF;
	objective := coalesce(cfg ->> 'objective', 'normalized_discounted_cumulative_gain_at_10');
	IF automl THEN
		RETURN jsonb_build_object('objective', objective);
	END IF;

	IF rtype = 'POPULAR_ITEMS' THEN
		RAISE EXCEPTION 'perform_hpo does not apply to recipe "%"', recipe_name
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Its answers come from the live interactions at request time and have no offline objective; create the solution without perform_hpo.';
	END IF;
	IF cfg ? 'max_trials' AND (jsonb_typeof(cfg -> 'max_trials') <> 'number'
	   OR (cfg ->> 'max_trials')::numeric NOT BETWEEN 1 AND 50
	   OR (cfg ->> 'max_trials')::numeric <> trunc((cfg ->> 'max_trials')::numeric)) THEN
		RAISE EXCEPTION 'hpo_config max_trials % is out of range', cfg -> 'max_trials'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Valid values are integers 1 to 50; each trial trains the recipe once.';
	END IF;
	trials := coalesce((cfg ->> 'max_trials')::numeric, 10);

	SELECT coalesce(string_agg(k, ', ' ORDER BY k), '(none)') INTO tunable
	  FROM jsonb_each(declared) AS d(k, v) WHERE v ->> 'type' IN ('number', 'integer') AND NOT v ? 'values';
	IF cfg ? 'ranges' THEN
		IF jsonb_typeof(cfg -> 'ranges') <> 'object' OR cfg -> 'ranges' = '{}' THEN
			RAISE EXCEPTION 'hpo_config ranges must be a non-empty JSON object, not %', cfg -> 'ranges'
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = 'Pass for example ''{"ranges": {"regularization": {"min": 0.1, "max": 10}}}''.';
		END IF;
		FOR key, r IN SELECT * FROM jsonb_each(cfg -> 'ranges') LOOP
			spec := declared -> key;
			IF spec IS NULL OR spec ->> 'type' NOT IN ('number', 'integer') OR spec ? 'values' THEN
				RAISE EXCEPTION 'hyperparameter "%" of recipe "%" cannot be tuned', key, recipe_name
					USING ERRCODE = 'invalid_parameter_value',
					      HINT = format('Hyperparameters of recipe "%s" that can be tuned are: %s.', recipe_name, tunable);
			END IF;
			IF given ? key THEN
				RAISE EXCEPTION 'hyperparameter "%" is both set and given an hpo_config range', key
					USING ERRCODE = 'invalid_parameter_value',
					      HINT = 'Remove it from hyperparameters to tune it, or from the ranges to fix it.';
			END IF;
			IF jsonb_typeof(r) <> 'object' OR jsonb_typeof(r -> 'min') IS DISTINCT FROM 'number'
			   OR jsonb_typeof(r -> 'max') IS DISTINCT FROM 'number'
			   OR EXISTS (SELECT 1 FROM jsonb_object_keys(r) k WHERE k NOT IN ('min', 'max', 'scale'))
			   OR (r ? 'scale' AND (r ->> 'scale') IS DISTINCT FROM 'linear' AND (r ->> 'scale') IS DISTINCT FROM 'log') THEN
				RAISE EXCEPTION 'hpo_config range of "%" is not valid: %', key, r
					USING ERRCODE = 'invalid_parameter_value',
					      HINT = 'A range is {"min": number, "max": number} with an optional "scale": "linear" or "log".';
			END IF;
			lo := (r ->> 'min')::numeric;
			hi := (r ->> 'max')::numeric;
			IF lo > hi THEN
				RAISE EXCEPTION 'hpo_config range of "%" has min % greater than max %', key, lo, hi
					USING ERRCODE = 'invalid_parameter_value', HINT = 'Swap min and max.';
			END IF;
			IF lo < (spec ->> 'min')::numeric OR hi > (spec ->> 'max')::numeric THEN
				RAISE EXCEPTION 'hpo_config range of "%" (% to %) is outside the range of recipe "%"', key, lo, hi, recipe_name
					USING ERRCODE = 'invalid_parameter_value',
					      HINT = format('Valid values of "%s" are %s to %s.', key, spec ->> 'min', spec ->> 'max');
			END IF;
			IF spec ->> 'type' = 'integer' AND (lo <> trunc(lo) OR hi <> trunc(hi)) THEN
				RAISE EXCEPTION 'hpo_config range of "%" must have integer bounds', key
					USING ERRCODE = 'invalid_parameter_value', HINT = format('"%s" is an integer hyperparameter.', key);
			END IF;
			scale := coalesce(r ->> 'scale', CASE WHEN lo > 0 AND hi >= 10 * lo THEN 'log' ELSE 'linear' END);
			IF scale = 'log' AND lo <= 0 THEN
				RAISE EXCEPTION 'hpo_config range of "%" is log-scale but its min is %', key, lo
					USING ERRCODE = 'invalid_parameter_value', HINT = 'A log-scale range needs min > 0; use "scale": "linear".';
			END IF;
			ranges := ranges || jsonb_build_object(key, jsonb_build_object('type', spec ->> 'type', 'min', lo, 'max', hi, 'scale', scale));
		END LOOP;
	ELSE
		SELECT coalesce(jsonb_object_agg(d.name, jsonb_build_object('type', declared -> d.name ->> 'type',
		                                 'min', d.lo, 'max', d.hi, 'scale', d.scale)), '{}')
		  INTO ranges
		  FROM (VALUES ('user-personalization', 'regularization', 0.1, 100, 'log'),
		               ('user-personalization', 'alpha', 0.1, 40, 'log'),
		               ('user-personalization', 'factors', 16, 128, 'log'),
		               ('ease', 'lambda', 10, 10000, 'log'),
		               ('sims', 'popularity_discount_factor', 0, 1, 'linear'),
		               ('sims', 'min_cointeraction_count', 0, 10, 'linear')) AS d(recipe, name, lo, hi, scale)
		 WHERE d.recipe = CASE WHEN recipe_name IN ('personalized-ranking', 'item-affinity') THEN 'user-personalization' ELSE recipe_name END
		   AND declared ? d.name AND NOT given ? d.name;
		IF ranges = '{}' THEN
			RAISE EXCEPTION 'recipe "%" has no hyperparameters left to tune', recipe_name
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = format('Give hpo_config ranges (tunable: %s), or create the solution without perform_hpo.', tunable);
		END IF;
	END IF;
	RETURN jsonb_build_object('max_trials', trials, 'objective', objective, 'ranges', ranges);
END $$;
COMMENT ON FUNCTION @extschema@._resolve_hpo_config(text, jsonb, jsonb, boolean) IS 'internal: validate a solution''s hpo_config and resolve its trials, objective and search ranges';

/*
 * The recipes AutoML tries, in order, each with its resolved
 * hyperparameters: those of given that the recipe declares (seed,
 * event_weights, ...), its defaults otherwise.
 */
CREATE FUNCTION @extschema@._automl_candidates(given jsonb)
RETURNS TABLE(recipe text, hyperparameters jsonb) LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT c.name,
	       @extschema@._resolve_hyperparameters(c.name,
	           (SELECT coalesce(jsonb_object_agg(g.key, g.value), '{}')
	              FROM jsonb_each(coalesce(_automl_candidates.given, '{}')) g
	             WHERE r.hyperparameters ? g.key))
	  FROM unnest(ARRAY['user-personalization', 'ease', 'popularity-count']) WITH ORDINALITY AS c(name, position)
	  JOIN @extschema@.recipe r ON r.name = c.name
	 ORDER BY c.position
$$;
COMMENT ON FUNCTION @extschema@._automl_candidates(jsonb) IS 'internal: the recipes perform_automl tries, in order, with their resolved hyperparameters';

DROP FUNCTION @extschema@.create_solution(text, text, text, jsonb, text, float8, boolean, boolean);
CREATE FUNCTION @extschema@.create_solution(name text, dataset_group text, recipe text,
	hyperparameters jsonb DEFAULT '{}', event_type text DEFAULT NULL,
	event_value_threshold float8 DEFAULT NULL, perform_hpo boolean DEFAULT false,
	perform_automl boolean DEFAULT false, hpo_config jsonb DEFAULT NULL)
RETURNS void LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	grp @extschema@.dataset_group;
	resolved jsonb;
	recipe_type text;
BEGIN
	PERFORM @extschema@._require(name, 'name');
	perform_hpo := coalesce(perform_hpo, false);
	perform_automl := coalesce(perform_automl, false);
	-- AutoML chooses the recipe: recipe only says whose hyperparameters are given
	IF perform_automl THEN
		recipe := coalesce(recipe, 'user-personalization');
	END IF;
	PERFORM @extschema@._require(recipe, 'recipe');
	PERFORM @extschema@._check_name('solution', name);
	grp := @extschema@._owned_group(dataset_group);
	IF EXISTS (SELECT 1 FROM @extschema@.solution s WHERE s.name = create_solution.name) THEN
		RAISE EXCEPTION 'solution "%" already exists', name
			USING ERRCODE = 'duplicate_object', HINT = 'Choose another name, or drop it with personalize.drop_solution.';
	END IF;
	IF perform_hpo AND perform_automl THEN
		RAISE EXCEPTION 'perform_hpo and perform_automl cannot be combined'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Choose a recipe with perform_automl, then tune it in a solution of that recipe with perform_hpo.';
	END IF;
	resolved := @extschema@._resolve_hyperparameters(recipe, hyperparameters);
	IF event_value_threshold = 'NaN'::float8 OR event_value_threshold IN ('Infinity'::float8, '-Infinity'::float8) THEN
		RAISE EXCEPTION 'event_value_threshold must be a finite number'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF coalesce(resolved -> 'event_weights', '{}') <> '{}' AND EXISTS (
		SELECT 1 FROM @extschema@.dataset d WHERE d.dataset_group = create_solution.dataset_group
		   AND d.dataset_type = 'interactions' AND d.event_type_column IS NULL) THEN
		RAISE EXCEPTION 'event_weights need an event type column, and the interactions dataset of dataset group "%" has none', dataset_group
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      HINT = 'Register the interactions with event_type => ''column'', or remove event_weights.';
	END IF;
	IF perform_automl THEN
		SELECT r.recipe_type INTO recipe_type FROM @extschema@.recipe r WHERE r.name = create_solution.recipe;
		IF recipe_type <> 'USER_PERSONALIZATION' THEN
			RAISE EXCEPTION 'perform_automl chooses among USER_PERSONALIZATION recipes, and recipe "%" is %', recipe, recipe_type
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = 'Pass recipe => NULL (or the USER_PERSONALIZATION recipe whose hyperparameters you set), or perform_automl => false.';
		END IF;
	END IF;
	IF hpo_config IS NOT NULL AND NOT (perform_hpo OR perform_automl) THEN
		RAISE EXCEPTION 'hpo_config applies only with perform_hpo or perform_automl'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Set perform_hpo => true, or leave hpo_config out.';
	END IF;
	IF perform_hpo OR perform_automl THEN
		PERFORM @extschema@._resolve_hpo_config(recipe, hyperparameters, hpo_config, perform_automl);
	END IF;
	INSERT INTO @extschema@.solution (name, dataset_group, recipe, hyperparameters, event_type,
		event_value_threshold, perform_hpo, perform_automl, hpo_config)
	VALUES (name, dataset_group, recipe, coalesce(hyperparameters, '{}'), event_type,
		event_value_threshold, perform_hpo, perform_automl, hpo_config);
END $$;
COMMENT ON FUNCTION @extschema@.create_solution(text, text, text, jsonb, text, float8, boolean, boolean, jsonb) IS
	'create a solution: a recipe with hyperparameters (checked against the recipe''s ranges) on a dataset group; perform_hpo tunes them, perform_automl chooses the recipe (hpo_config: trials, objective, ranges)';
-- administration, as the other training functions
REVOKE ALL ON FUNCTION @extschema@.create_solution(text, text, text, jsonb, text, float8, boolean, boolean, jsonb) FROM PUBLIC;
-- ---------------------------------------------------------------------------
-- The item-attribute-affinity recipe (USER_SEGMENTATION), and batch
-- segment jobs in the batch_job table.
-- ---------------------------------------------------------------------------

INSERT INTO @extschema@.recipe (name, recipe_type, hyperparameters, description)
SELECT 'item-attribute-affinity', 'USER_SEGMENTATION', r.hyperparameters,
       'the user-personalization model with its user factors: user_segment finds the users most likely to interact with items matching an attribute predicate (ITEMS.GENRE = "Comedy"), scored by their popularity-weighted mean predicted preference for those items'
  FROM @extschema@.recipe r
 WHERE r.name = 'user-personalization';

ALTER TABLE @extschema@.batch_job DROP CONSTRAINT batch_job_job_type_check,
	ADD CONSTRAINT batch_job_job_type_check CHECK (job_type IN ('BATCH_INFERENCE', 'BATCH_SEGMENT'));

-- ---------------------------------------------------------------------------
-- Batch segment jobs: for each item id (item-affinity) or item attribute
-- predicate (item-attribute-affinity) of an input query, the users most
-- likely to interact, through _segment_version; the job machinery (table
-- batch_job, personalize.jobs, the background worker) is the batch
-- inference jobs'.
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@._segment_version(solution_version bigint, item text, num_users integer,
	filter text DEFAULT NULL, filter_values jsonb DEFAULT NULL)
RETURNS TABLE(user_id text, score float8)
AS 'MODULE_PATHNAME', 'personalize_segment_version'
LANGUAGE C STABLE PARALLEL SAFE ROWS 25 COST 1000;
COMMENT ON FUNCTION @extschema@._segment_version(bigint, text, integer, text, jsonb) IS
	'internal: user_segment() for an ACTIVE solution version instead of a campaign (batch segment jobs)';

/*
 * Run a batch segment job (called by _run_batch_job for BATCH_SEGMENT
 * jobs): create its output table from its input query with the caller's
 * privileges, then mark it ACTIVE.
 */
CREATE FUNCTION @extschema@._run_batch_segment_job(job bigint)
RETURNS bigint LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	j @extschema@.batch_job;
	recipe text;
	n bigint;
	with_values boolean := false;
BEGIN
	SELECT * INTO j FROM @extschema@.batch_job b WHERE b.id = job AND b.job_type = 'BATCH_SEGMENT';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'batch segment job % does not exist', job
			USING ERRCODE = 'undefined_object', HINT = 'See personalize.jobs.';
	END IF;
	-- the input query and the output table name resolve as they did for the requester
	PERFORM set_config('search_path', j.search_path, true);
	SELECT s.recipe INTO recipe
	  FROM @extschema@.solution_version v JOIN @extschema@.solution s ON s.name = v.solution
	 WHERE v.id = j.solution_version;
	-- with a filter, the input's second column, when there is one, holds each row's filter values
	IF j.filter IS NOT NULL THEN
		BEGIN
			EXECUTE format('SELECT 1 FROM (%s) AS input(id, filter_values) LIMIT 0', j.input);
			with_values := true;
		EXCEPTION WHEN invalid_column_reference THEN
			with_values := false;
		END;
	END IF;
	EXECUTE format('CREATE TABLE %s AS SELECT input.id::text AS %I, r.rank::integer AS rank, r.user_id, r.score '
	               'FROM (%s) AS input(id%s) CROSS JOIN LATERAL @extschema@._segment_version(%s, input.id::text, %s, %L, %s) '
	               'WITH ORDINALITY AS r(user_id, score, rank)',
	               @extschema@._quoted_table_name(j.output_table),
	               CASE recipe WHEN 'item-attribute-affinity' THEN 'item_attributes' ELSE 'item_id' END,
	               j.input,
	               CASE WHEN with_values THEN ', filter_values' ELSE '' END,
	               j.solution_version,	-- bigint: its text form is a literal
	               j.num_results,		-- integer: the number of users
	               j.filter,
	               CASE WHEN with_values THEN 'input.filter_values::jsonb' ELSE 'NULL' END);
	GET DIAGNOSTICS n = ROW_COUNT;
	UPDATE @extschema@.batch_job b SET status = 'ACTIVE', rows = n, finished = clock_timestamp() WHERE b.id = job;
	RETURN n;
END $$;
COMMENT ON FUNCTION @extschema@._run_batch_segment_job(bigint) IS 'internal: run a batch segment job';

/*
 * Deliberately without SET search_path, as create_batch_inference_job: the
 * input query and the output table name are the caller's SQL and resolve
 * in the caller's search_path, which is recorded for the job.  Every
 * object of this body is qualified.
 */
CREATE FUNCTION @extschema@.create_batch_segment_job(name text, solution_version bigint, input text,
	output_table text, num_users integer DEFAULT 25, filter text DEFAULT NULL, wait boolean DEFAULT false)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	v @extschema@.solution_version;
	recipe text;
	recipe_type text;
	job bigint;
BEGIN
	PERFORM @extschema@._require(name, 'name');
	PERFORM @extschema@._require(solution_version, 'solution_version');
	PERFORM @extschema@._require(input, 'input');
	PERFORM @extschema@._require(output_table, 'output_table');
	PERFORM @extschema@._require(num_users, 'num_users');
	IF EXISTS (SELECT 1 FROM @extschema@.batch_job b WHERE b.name = create_batch_segment_job.name) THEN
		RAISE EXCEPTION 'batch job "%" already exists', name
			USING ERRCODE = 'duplicate_object', HINT = 'Choose another name; see personalize.jobs.';
	END IF;
	SELECT * INTO v FROM @extschema@.solution_version x WHERE x.id = create_batch_segment_job.solution_version;
	IF NOT FOUND OR v.status <> 'ACTIVE' THEN
		RAISE EXCEPTION 'solution version % does not exist or is not active', solution_version
			USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'See personalize.solution_versions.';
	END IF;
	SELECT s.recipe, r.recipe_type INTO recipe, recipe_type
	  FROM @extschema@.solution s JOIN @extschema@.recipe r ON r.name = s.recipe
	 WHERE s.name = v.solution;
	IF recipe_type <> 'USER_SEGMENTATION' THEN
		RAISE EXCEPTION 'solution version % serves a % recipe, which batch segment jobs do not accept', solution_version, recipe_type
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      HINT = 'Call personalize.create_batch_inference_job for it; segment jobs take item-affinity and item-attribute-affinity versions.';
	END IF;
	-- as user_segment's limit (recommend.c, MAX_SEGMENT_USERS)
	IF num_users OPERATOR(pg_catalog.<) 1 OR num_users OPERATOR(pg_catalog.>) 100000 THEN
		RAISE EXCEPTION 'num_users % is out of range for batch job "%"', num_users, name
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Valid values are 1 to 100000.';
	END IF;
	IF filter IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM @extschema@.filter f JOIN @extschema@.solution s ON s.dataset_group = f.dataset_group
		 WHERE f.name = create_batch_segment_job.filter AND s.name = v.solution) THEN
		RAISE EXCEPTION 'filter "%" does not exist in the dataset group of solution version %', filter, solution_version
			USING ERRCODE = 'undefined_object',
			      HINT = 'See personalize.filters; a filter applies to the dataset group it was created in.';
	END IF;
	IF pg_catalog.to_regclass(@extschema@._quoted_table_name(output_table)) IS NOT NULL THEN
		RAISE EXCEPTION 'output table % already exists', output_table
			USING ERRCODE = 'duplicate_table', HINT = 'Drop it or choose another name.';
	END IF;
	-- the input must be a query this role can run; check it now, returning no row
	BEGIN
		EXECUTE pg_catalog.format('SELECT 1 FROM (%s) AS input LIMIT 0', input);
	EXCEPTION WHEN syntax_error OR undefined_table OR undefined_column OR insufficient_privilege OR wrong_object_type THEN
		RAISE EXCEPTION 'input of batch job "%" is not a valid query: %', name, SQLERRM
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = CASE recipe WHEN 'item-attribute-affinity'
			             THEN 'Pass a query whose first column holds item attribute predicates, e.g. ''SELECT predicate FROM audiences''.'
			             ELSE 'Pass a query whose first column holds item ids, e.g. ''SELECT id FROM promoted_items''.' END;
	END;
	INSERT INTO @extschema@.batch_job (name, job_type, solution_version, input, search_path, output_table, num_results, status, filter)
	VALUES (name, 'BATCH_SEGMENT', solution_version, input, pg_catalog.current_setting('search_path'), output_table, num_users,
	        CASE WHEN coalesce(wait, false) THEN 'CREATE IN_PROGRESS' ELSE 'CREATE PENDING' END, filter)
	RETURNING id INTO job;
	IF coalesce(wait, false) THEN
		PERFORM @extschema@._run_batch_job(job);
	ELSE
		PERFORM @extschema@._launch_batch_worker(job);
	END IF;
	RETURN job;
END $$;
COMMENT ON FUNCTION @extschema@.create_batch_segment_job(text, bigint, text, text, integer, text, boolean) IS
	'write the users most likely to interact with each item id (item-affinity) or item attribute predicate (item-attribute-affinity) returned by a query into a new table, here (wait => true) or in a background worker';

REVOKE ALL ON FUNCTION
	@extschema@.create_batch_segment_job(text, bigint, text, text, integer, text, boolean),
	@extschema@._run_batch_segment_job(bigint)
FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- The evaluation split as rows (make bench compares ease with NumPy on it).
-- ---------------------------------------------------------------------------

/*
 * The evaluation split of a dataset group (internal, for make bench's
 * reference implementations): which users a solution version with this
 * seed trains on, and each held-out user's input and relevant items.
 */
CREATE FUNCTION @extschema@._evaluation_split(dataset_group text, seed integer DEFAULT 42)
RETURNS TABLE (user_id text, item_id text, role text, events real, newer_events integer)
AS 'MODULE_PATHNAME', 'personalize_evaluation_split'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@._evaluation_split(text, integer) IS
	'internal: the offline-evaluation split of a dataset group for a seed (role train, input or relevant), read with the caller''s privileges';

-- ---------------------------------------------------------------------------
-- Exploration (campaign config exploration_weight and
-- exploration_item_age_cut_off): each model row records its item's age.
-- ---------------------------------------------------------------------------
ALTER TABLE @extschema@.model_item ADD COLUMN age_days real;
COMMENT ON COLUMN @extschema@.model_item.age_days IS
	'days from the item''s creation time (else its first interaction) to the newest interaction of the training data; NULL when unknown';

-- ---------------------------------------------------------------------------
-- Promotions (recommend's trailing promotion argument) and
-- get_recommendations, recommend with Personalize's item list (promotion
-- name and reason of each row).
-- ---------------------------------------------------------------------------

DROP FUNCTION @extschema@.recommend(text, text, integer, text, text, jsonb, jsonb);
CREATE FUNCTION @extschema@.recommend(campaign text, user_id text DEFAULT NULL, num_results integer DEFAULT 25,
	item_id text DEFAULT NULL, filter text DEFAULT NULL, filter_values jsonb DEFAULT NULL,
	context jsonb DEFAULT NULL, promotion jsonb DEFAULT NULL)
RETURNS TABLE(item_id text, score float8)
AS 'MODULE_PATHNAME', 'personalize_recommend'
LANGUAGE C STABLE PARALLEL SAFE ROWS 25 COST 1000;
COMMENT ON FUNCTION @extschema@.recommend(text, text, integer, text, text, jsonb, jsonb, jsonb) IS
	'recommend items for a user from a campaign, best first, excluding items in the user''s current history';

CREATE FUNCTION @extschema@.get_recommendations(campaign text, user_id text DEFAULT NULL,
	num_results integer DEFAULT 25, item_id text DEFAULT NULL, filter text DEFAULT NULL,
	filter_values jsonb DEFAULT NULL, context jsonb DEFAULT NULL, promotion jsonb DEFAULT NULL)
RETURNS TABLE(item_id text, score float8, promotion_name text, reason text[])
AS 'MODULE_PATHNAME', 'personalize_get_recommendations'
LANGUAGE C STABLE PARALLEL SAFE ROWS 25 COST 1000;
COMMENT ON FUNCTION @extschema@.get_recommendations(text, text, integer, text, text, jsonb, jsonb, jsonb) IS
	'recommend() with Personalize''s GetRecommendations item list: each row''s promotion and reason (Promoted item, Popular item)';

-- ---------------------------------------------------------------------------
-- Context: the model rows of context columns (context.c).
-- ---------------------------------------------------------------------------

/*
 * Context (context.c): for each context column (a metadata column of the
 * interactions dataset) and value, the log-lift log(P(item | value) /
 * P(item)) of the items seen in that context, and of every other item.
 * Written for the versions of recipes that use context.
 */
CREATE TABLE @extschema@.model_context (
	solution_version bigint NOT NULL REFERENCES @extschema@.solution_version (id) ON DELETE CASCADE,
	context_column	text NOT NULL,
	context_value	text NOT NULL,
	item_ids	text[] NOT NULL,
	log_lifts	real[] NOT NULL,
	unseen_log_lift	real NOT NULL,
	PRIMARY KEY (solution_version, context_column, context_value)
);
COMMENT ON TABLE @extschema@.model_context IS 'model rows: each item''s log-lift in each value of each context column, for requests with context (internal)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.model_context', '');
ALTER TABLE @extschema@.model_context ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON @extschema@.model_context FOR SELECT USING (true);
CREATE POLICY owner_writes ON @extschema@.model_context
	USING (EXISTS (SELECT FROM @extschema@.solution_version v JOIN @extschema@.solution s ON s.name OPERATOR(pg_catalog.=) v.solution
	                WHERE v.id OPERATOR(pg_catalog.=) model_context.solution_version
	                  AND pg_catalog.pg_has_role(s.owner, 'MEMBER')))
	WITH CHECK (EXISTS (SELECT FROM @extschema@.solution_version v JOIN @extschema@.solution s ON s.name OPERATOR(pg_catalog.=) v.solution
	                     WHERE v.id OPERATOR(pg_catalog.=) model_context.solution_version
	                       AND pg_catalog.pg_has_role(s.owner, 'MEMBER')));
