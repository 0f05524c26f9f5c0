/*
 * personalize upgrade script, 0.1.0 -> 0.2.0.
 *
 * Adds row-level security on the catalog tables: a role granted them can
 * write only the rows of objects whose owner it is a member of.
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
