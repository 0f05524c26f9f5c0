-- Background training: create_solution_version(..., wait => false),
-- wait_for_solution_version and stop_solution_version.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
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

SELECT personalize.drop_dataset_group('radio', cascade => true);
