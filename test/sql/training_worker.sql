-- Background training: create_solution_version(..., wait => false),
-- wait_for_solution_version and stop_solution_version.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
-- version ids appear in messages: number them from a base of this file's own
SELECT setval(pg_get_serial_sequence('personalize.solution_version', 'id'), 3000) IS NOT NULL AS numbered;
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

CREATE TABLE plays (user_id int, item_id int, ts bigint);
INSERT INTO plays SELECT u, (u * 7 + j * 13) % 500, u * 100 + j FROM generate_series(1, 2000) u, generate_series(1, 20) j;
SELECT personalize.create_dataset_group('radio');
SELECT personalize.create_dataset('radio', 'interactions', 'plays', event_time => 'ts');
SELECT personalize.create_solution('radio-up', 'radio', 'user-personalization', '{"factors": 16, "iterations": 5}');

-- the call returns at once; a worker trains the version
SELECT personalize.create_solution_version('radio-up', wait => false) AS bg_version \gset
SELECT personalize.wait_for_solution_version(:bg_version);
SELECT status, progress, users, items, interactions, metrics IS NOT NULL AS has_metrics
  FROM personalize.solution_versions WHERE id = :bg_version;
SELECT count(*) AS model_rows FROM personalize.model_item WHERE solution_version = :bg_version;
-- the same model as training here
SELECT personalize.create_solution_version('radio-up') AS fg_version \gset
SELECT a.metrics = b.metrics AS same_metrics
  FROM personalize.solution_versions a, personalize.solution_versions b
 WHERE a.id = :bg_version AND b.id = :fg_version;

-- the worker applies the requesting session's settings: a failure is recorded with its reason
SET personalize.min_users = 100000;
SELECT personalize.create_solution_version('radio-up', wait => false) AS failing_version \gset
SELECT personalize.wait_for_solution_version(:failing_version);
SELECT status, failure_reason FROM personalize.solution_versions WHERE id = :failing_version;
RESET personalize.min_users;
SET personalize.min_users = 10;

-- stop: CREATE STOPPED and no model rows
SELECT personalize.create_solution('radio-slow', 'radio', 'user-personalization', '{"factors": 128, "iterations": 200}');
SELECT personalize.create_solution_version('radio-slow', wait => false) AS slow_version \gset
SELECT personalize.stop_solution_version(:slow_version);
SELECT personalize.wait_for_solution_version(:slow_version);
SELECT status, failure_reason FROM personalize.solution_versions WHERE id = :slow_version;
SELECT pg_sleep(0.5);
SELECT count(*) AS model_rows FROM personalize.model_item WHERE solution_version = :slow_version;
SELECT status FROM personalize.solution_versions WHERE id = :slow_version;

-- a request rolled back leaves nothing; the worker finds nothing to do
BEGIN;
SELECT personalize.create_solution_version('radio-up', wait => false) AS rolled_back \gset
ROLLBACK;
SELECT count(*) AS rows_left FROM personalize.solution_version WHERE id = :rolled_back;

-- errors
SELECT personalize.stop_solution_version(:bg_version);
SELECT personalize.stop_solution_version(-1);
SELECT personalize.stop_solution_version(NULL);
SELECT personalize.wait_for_solution_version(-1);
SELECT personalize.wait_for_solution_version(NULL);
SELECT personalize.wait_for_solution_version(:bg_version, NULL);
-- a timeout returns the status at that moment
SELECT personalize.wait_for_solution_version(:bg_version, '0 s');

-- campaigns that follow their solution (sync_with_latest_solution_version),
-- with and without a min_metric guard, and one that does not follow
SELECT personalize.create_campaign('radio', :fg_version, '{"sync_with_latest_solution_version": true}');
SELECT personalize.create_campaign('radio-guarded', :fg_version,
	'{"sync_with_latest_solution_version": true, "min_metric": {"metric": "precision_at_10", "tolerance": 0.1}}');
SELECT personalize.create_campaign('radio-fixed', :fg_version);
-- make the served version look far better than any retrain can be
UPDATE personalize.solution_version SET metrics = jsonb_set(metrics, '{precision_at_10}', '1') WHERE id = :fg_version;
SELECT personalize.create_solution_version('radio-up') AS next_version \gset
SELECT name, solution_version = :next_version AS follows_new, solution_version = :fg_version AS kept_old
  FROM personalize.campaigns WHERE name LIKE 'radio%' ORDER BY name;
-- a background version switches the campaign when it becomes ACTIVE
SELECT personalize.create_solution_version('radio-up', wait => false) AS bg_next \gset
SELECT personalize.wait_for_solution_version(:bg_next);
SELECT solution_version = :bg_next AS follows_background FROM personalize.campaigns WHERE name = 'radio';
-- config errors
SELECT personalize.update_campaign('radio', config => '{"sync_with_latest_solution_version": "yes"}');
SELECT personalize.update_campaign('radio', config => '{"min_metric": {"metric": "accuracy"}}');
SELECT personalize.update_campaign('radio', config => '{"min_metric": {"metric": "precision_at_10", "tolerance": 2}}');
SELECT personalize.update_campaign('radio', config => '{"exploration_weight": 1.5}');
SELECT personalize.update_campaign('radio', config => '{"exploration_item_age_cut_off": 0}');
SELECT personalize.drop_campaign(name) FROM personalize.campaigns WHERE name LIKE 'radio%' ORDER BY name;

SELECT personalize.drop_dataset_group('radio', cascade => true);

-- training_mode UPDATE refreshes the latest ACTIVE version: warm start,
-- a third of the sweeps, no new evaluation (the metrics are carried)
CREATE TABLE plays2 (user_id int, item_id int, ts bigint);
INSERT INTO plays2 SELECT u, (u * 7 + j * 13) % 500, u * 100 + j FROM generate_series(1, 2000) u, generate_series(1, 20) j;
SELECT personalize.create_dataset_group('radio2');
SELECT personalize.create_dataset('radio2', 'interactions', 'plays2', event_time => 'ts');
SELECT personalize.create_solution('radio2-up', 'radio2', 'user-personalization', '{"factors": 16, "iterations": 6}');
SELECT personalize.create_solution_version('radio2-up', 'UPDATE') AS no_base \gset
SELECT status, failure_reason FROM personalize.solution_versions WHERE id = :no_base;
SELECT personalize.create_solution_version('radio2-up') AS base \gset
INSERT INTO plays2 SELECT u, 900 + u % 10, 300000 + u FROM generate_series(1, 300) u;
SELECT personalize.create_solution_version('radio2-up', 'update') AS updated \gset
SELECT training_mode, status, items, interactions, (metrics->>'metrics_from_version')::bigint = :base AS metrics_carried
  FROM personalize.solution_versions WHERE id = :updated;
SELECT count(*) AS new_items_in_model FROM personalize.item_embeddings WHERE solution_version = :updated AND item_id::int >= 900;
SELECT personalize.create_campaign('radio2', :updated);
SELECT count(*) FROM personalize.recommend('radio2', '7', 10);
SELECT personalize.create_solution('radio2-pop', 'radio2', 'popularity-count');
SELECT personalize.create_solution_version('radio2-pop', 'UPDATE');
SELECT personalize.drop_campaign('radio2');
SELECT personalize.drop_dataset_group('radio2', cascade => true);

-- a NOLOGIN group role (SET ROLE) trains in a worker: the worker connects
-- as the login role and runs the job as the group role, whose privileges
-- decide what it may read
CREATE TABLE group_plays (user_id int, item_id int, ts bigint);
INSERT INTO group_plays SELECT u, (u + j) % 30, u * 10 + j FROM generate_series(1, 60) u, generate_series(0, 4) j;
SELECT personalize.create_dataset_group('grp');
SELECT personalize.create_dataset('grp', 'interactions', 'group_plays', event_time => 'ts');
SELECT personalize.create_solution('grp-pop', 'grp', 'popularity-count');
CREATE ROLE personalize_regress_group NOLOGIN;
GRANT SELECT ON group_plays TO personalize_regress_group;
GRANT EXECUTE ON FUNCTION personalize.create_solution_version(text, text, boolean),
	personalize.wait_for_solution_version(bigint, interval) TO personalize_regress_group;
GRANT ALL ON ALL TABLES IN SCHEMA personalize TO personalize_regress_group;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA personalize TO personalize_regress_group;
UPDATE personalize.solution SET owner = 'personalize_regress_group' WHERE name = 'grp-pop';
SET ROLE personalize_regress_group;
SELECT personalize.create_solution_version('grp-pop', wait => false) AS grp_v \gset
SELECT personalize.wait_for_solution_version(:grp_v, '60 s');
RESET ROLE;
REVOKE SELECT ON group_plays FROM personalize_regress_group;
SET ROLE personalize_regress_group;
SELECT personalize.create_solution_version('grp-pop', wait => false) AS grp_v \gset
SELECT personalize.wait_for_solution_version(:grp_v, '60 s');
SELECT failure_reason FROM personalize.solution_versions WHERE id = :grp_v;
RESET ROLE;
SELECT personalize.drop_dataset_group('grp', cascade => true);
REVOKE ALL ON ALL TABLES IN SCHEMA personalize FROM personalize_regress_group;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA personalize FROM personalize_regress_group;
REVOKE ALL ON FUNCTION personalize.create_solution_version(text, text, boolean),
	personalize.wait_for_solution_version(bigint, interval) FROM personalize_regress_group;
DROP ROLE personalize_regress_group;
DROP TABLE group_plays;

-- dropping and creating the extension again restarts version ids: a model
-- cached by this session under the same id is not served for the new one
CREATE TABLE first_shop (user_id int, item_id text, ts bigint);
INSERT INTO first_shop SELECT u, 'old' || ((u + j) % 4), u * 10 + j FROM generate_series(1, 50) u, generate_series(1, 3) j;
CREATE TABLE second_shop (user_id int, item_id text, ts bigint);
INSERT INTO second_shop SELECT u, 'new' || ((u + j) % 4), u * 10 + j FROM generate_series(1, 50) u, generate_series(1, 3) j;
DROP EXTENSION personalize CASCADE;
CREATE EXTENSION personalize;
SELECT personalize.create_dataset_group('g');
SELECT personalize.create_dataset('g', 'interactions', 'first_shop', event_time => 'ts');
SELECT personalize.create_solution('g-pop', 'g', 'popularity-count');
SELECT personalize.create_campaign('g', personalize.create_solution_version('g-pop'));
SELECT solution_version, (SELECT item_id FROM personalize.recommend('g', 'x', 1)) AS top FROM personalize.campaigns;
DROP EXTENSION personalize CASCADE;
CREATE EXTENSION personalize;
SELECT personalize.create_dataset_group('g');
SELECT personalize.create_dataset('g', 'interactions', 'second_shop', event_time => 'ts');
SELECT personalize.create_solution('g-pop', 'g', 'popularity-count');
SELECT personalize.create_campaign('g', personalize.create_solution_version('g-pop'));
SELECT solution_version, (SELECT item_id FROM personalize.recommend('g', 'x', 1)) AS top FROM personalize.campaigns;
