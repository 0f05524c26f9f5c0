/*
 * personalize upgrade script, 0.1.0 -> 0.2.0.
 *
 * Adds row-level security on the catalog tables (a role granted them can
 * write only the rows of objects whose owner it is a member of), filters
 * on batch inference jobs, batch jobs of PERSONALIZED_RANKING versions,
 * solution_metrics / describe_recommender callable without catalog grants,
 * ownership checked before row locks, _filter_values in C, filters on
 * user_segment, and put_events writing properties, recommendationId,
 * impression and the session to columns.
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
			USING ERRCODE = 'feature_not_supported', HINT = 'Call personalize.user_segment in a query.';
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
	'the users of a USER_SEGMENTATION campaign most likely to interact with an item, best first, scored by affinity; filter: INCLUDE|EXCLUDE UserID expressions';

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
