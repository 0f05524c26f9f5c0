-- perform_hpo, perform_automl and the event_weights hyperparameter: bad
-- input, what a tuned version records, that it serves what was chosen, and
-- how event weights change the training data.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT setval(pg_get_serial_sequence('personalize.solution_version', 'id'), 3000) IS NOT NULL AS numbered;
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

-- 120 users in 3 taste clusters of 10 items (c00..c29); each user clicked
-- 6 items of their cluster and the blockbuster 'hit', and purchased one
-- more item of their cluster (event type spelt 'Purchase').  960 events.
CREATE TABLE shop (user_id int, item_id text, event_type text, ts timestamptz);
INSERT INTO shop
SELECT u, 'c' || (u % 3) || ((u + j) % 10), 'click', timestamptz '2026-01-01' + (u * 10 + j + 1) * interval '1 minute'
  FROM generate_series(1, 120) u, generate_series(0, 5) j;
INSERT INTO shop
SELECT u, 'hit', 'click', timestamptz '2026-01-01' + (u * 10) * interval '1 minute' FROM generate_series(1, 120) u;
INSERT INTO shop
SELECT u, 'c' || (u % 3) || ((u + 7) % 10), 'Purchase', timestamptz '2026-01-01' + (u * 10 + 8) * interval '1 minute'
  FROM generate_series(1, 120) u;
CREATE INDEX ON shop (user_id, ts);
SELECT personalize.create_dataset_group('shop');
SELECT personalize.create_dataset('shop', 'interactions', 'shop', event_time => 'ts', event_type => 'event_type');
-- the same events without an event type column
CREATE VIEW plain AS SELECT user_id, item_id, ts FROM shop;
SELECT personalize.create_dataset_group('plain');
SELECT personalize.create_dataset('plain', 'interactions', 'plain', event_time => 'ts');

-- bad input: each error names the problem and the fix
SELECT personalize.create_solution('bad', 'shop', 'user-personalization', perform_hpo => true, perform_automl => true);
SELECT personalize.create_solution('bad', 'shop', 'user-personalization', perform_hpo => true, hpo_config => '{"max_trials": 0}');
SELECT personalize.create_solution('bad', 'shop', 'user-personalization', perform_hpo => true, hpo_config => '{"max_trials": 51}');
SELECT personalize.create_solution('bad', 'shop', 'user-personalization', perform_hpo => true, hpo_config => '{"max_trials": 2.5}');
SELECT personalize.create_solution('bad', 'shop', 'user-personalization', perform_hpo => true, hpo_config => '{"objective": "accuracy"}');
SELECT personalize.create_solution('bad', 'shop', 'user-personalization', perform_hpo => true, hpo_config => '{"trials": 4}');
SELECT personalize.create_solution('bad', 'shop', 'user-personalization', perform_hpo => true, hpo_config => '[4]');
SELECT personalize.create_solution('bad', 'shop', 'user-personalization', perform_hpo => true,
	hpo_config => '{"ranges": {"factors": {"min": 16, "max": 1024}}}');
SELECT personalize.create_solution('bad', 'shop', 'user-personalization', perform_hpo => true,
	hpo_config => '{"ranges": {"regularization": {"min": 10, "max": 1}}}');
SELECT personalize.create_solution('bad', 'shop', 'user-personalization', perform_hpo => true,
	hpo_config => '{"ranges": {"lambda": {"min": 10, "max": 100}}}');
SELECT personalize.create_solution('bad', 'shop', 'user-personalization', perform_hpo => true,
	hpo_config => '{"ranges": {"event_weights": {"min": 0, "max": 1}}}');
SELECT personalize.create_solution('bad', 'shop', 'user-personalization', perform_hpo => true,
	hpo_config => '{"ranges": {"factors": {"min": 8.5, "max": 16}}}');
SELECT personalize.create_solution('bad', 'shop', 'user-personalization', perform_hpo => true,
	hpo_config => '{"ranges": {"factors": [8, 16]}}');
SELECT personalize.create_solution('bad', 'shop', 'user-personalization', '{"factors": 8}', perform_hpo => true,
	hpo_config => '{"ranges": {"factors": {"min": 8, "max": 16}}}');
SELECT personalize.create_solution('bad', 'shop', 'user-personalization', perform_hpo => true,
	hpo_config => '{"ranges": {"alpha": {"min": 0, "max": 10, "scale": "log"}}}');
SELECT personalize.create_solution('bad', 'shop', 'popularity-count', perform_hpo => true);
SELECT personalize.create_solution('bad', 'shop', 'trending-now', perform_hpo => true);
SELECT personalize.create_solution('bad', 'shop', 'ease', '{"lambda": 100}', perform_hpo => true);
SELECT personalize.create_solution('bad', 'shop', 'sims', perform_automl => true);
SELECT personalize.create_solution('bad', 'shop', NULL, perform_automl => true, hpo_config => '{"max_trials": 3}');
SELECT personalize.create_solution('bad', 'shop', 'user-personalization', hpo_config => '{"max_trials": 3}');
SELECT personalize.create_solution('bad', 'shop', NULL);
SELECT personalize.create_solution('bad', 'shop', 'ease', '{"event_weights": [3, 1]}');
SELECT personalize.create_solution('bad', 'shop', 'ease', '{"event_weights": {"purchase": -1}}');
SELECT personalize.create_solution('bad', 'shop', 'ease', '{"event_weights": {"purchase": "high"}}');
SELECT personalize.create_solution('bad', 'shop', 'ease', '{"event_weights": {"Purchase": 2, "purchase": 3}}');
SELECT personalize.create_solution('bad', 'shop', 'popularity-count', '{"event_weights": {"purchase": 3}}');
SELECT personalize.create_solution('bad', 'plain', 'ease', '{"event_weights": {"purchase": 3}}');
SELECT count(*) AS solutions_created FROM personalize.solutions WHERE name = 'bad';

-- HPO: four trials over two ranges, the others fixed
SELECT personalize.create_solution('shop-hpo', 'shop', 'user-personalization', '{"iterations": 5, "seed": 3}',
	perform_hpo => true,
	hpo_config => '{"max_trials": 4, "objective": "precision_at_5",
	                "ranges": {"regularization": {"min": 0.1, "max": 10}, "factors": {"min": 4, "max": 16}}}');
SELECT name, recipe, perform_hpo, perform_automl, hpo_config FROM personalize.solutions WHERE name = 'shop-hpo';
SELECT personalize.create_solution_version('shop-hpo') AS hpo_version \gset
SELECT status, recipe FROM personalize.solution_versions WHERE id = :hpo_version;
-- the trials: objective and validation size recorded, trial 1 is the
-- recipe's defaults, every value within its range
SELECT metrics->'hpo'->>'objective' AS objective,
       (metrics->'hpo'->>'validation_users')::int AS validation_users,
       (metrics->>'evaluated_users')::int AS evaluated_users,
       jsonb_array_length(metrics->'hpo'->'trials') AS trials,
       metrics->'hpo'->'trials'->0->'hyperparameters' AS first_trial
  FROM personalize.solution_versions WHERE id = :hpo_version;
SELECT count(*) FILTER (WHERE (t->'hyperparameters'->>'regularization')::float8 BETWEEN 0.1 AND 10
                          AND (t->'hyperparameters'->>'factors')::int BETWEEN 4 AND 16) AS trials_in_range,
       count(DISTINCT t->'hyperparameters') AS distinct_trials
  FROM personalize.solution_versions, jsonb_array_elements(metrics->'hpo'->'trials') t WHERE id = :hpo_version;
-- the best trial is the one with the highest objective, and the version
-- carries its values (the others as given or by default)
SELECT (SELECT max((t->>'objective')::float8) FROM jsonb_array_elements(metrics->'hpo'->'trials') t)
         = (metrics->'hpo'->>'best_objective')::float8 AS best_is_max,
       metrics->'hpo'->'trials'->((metrics->'hpo'->>'best_trial')::int - 1)->'hyperparameters'
         = metrics->'hpo'->'tuned' AS best_is_tuned,
       hyperparameters @> (metrics->'hpo'->'tuned') AS version_has_tuned,
       hyperparameters->>'iterations' AS iterations, hyperparameters->>'seed' AS seed
  FROM personalize.solution_versions WHERE id = :hpo_version;
-- the model has the tuned number of factors
SELECT min(array_length(factors, 1)) = (v.hyperparameters->>'factors')::int AS tuned_factors
  FROM personalize.item_embeddings e JOIN personalize.solution_versions v ON v.id = e.solution_version
 WHERE v.id = :hpo_version GROUP BY v.hyperparameters;
-- only numbers reach solution_metrics: the record stays in the metrics jsonb
SELECT count(*) AS metric_rows FROM personalize.solution_metrics(:hpo_version) WHERE metric LIKE 'hpo%';
-- deterministic for a seed
SELECT personalize.create_solution_version('shop-hpo') AS hpo_version2 \gset
SELECT a.metrics->'hpo'->'tuned' = b.metrics->'hpo'->'tuned' AS same_tuned,
       a.hyperparameters = b.hyperparameters AS same_hyperparameters
  FROM personalize.solution_versions a, personalize.solution_versions b
 WHERE a.id = :hpo_version AND b.id = :hpo_version2;
-- an update does not search again: it keeps the tuned values
SELECT personalize.create_solution_version('shop-hpo', 'UPDATE') AS hpo_update \gset
SELECT a.hyperparameters = b.hyperparameters AS update_keeps_tuned, b.status, b.metrics ? 'hpo' AS update_has_record
  FROM personalize.solution_versions a, personalize.solution_versions b
 WHERE a.id = :hpo_version2 AND b.id = :hpo_update;

-- HPO with the default plan (10 trials over regularization, alpha and
-- factors, NDCG@10); ease tunes lambda
SELECT personalize.create_solution('shop-hpo-default', 'shop', 'user-personalization', '{"iterations": 3}', perform_hpo => true);
SELECT personalize.create_solution_version('shop-hpo-default') AS hpo_default \gset
SELECT metrics->'hpo'->>'objective' AS objective, jsonb_array_length(metrics->'hpo'->'trials') AS trials,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(metrics->'hpo'->'tuned') k) AS tuned
  FROM personalize.solution_versions WHERE id = :hpo_default;
SELECT personalize.create_solution('shop-ease-hpo', 'shop', 'ease', perform_hpo => true, hpo_config => '{"max_trials": 3}');
SELECT personalize.create_solution_version('shop-ease-hpo') AS ease_hpo \gset
SELECT status, (SELECT array_agg(k) FROM jsonb_object_keys(metrics->'hpo'->'tuned') k) AS tuned,
       (hyperparameters->>'lambda')::float8 BETWEEN 10 AND 10000 AS lambda_in_range
  FROM personalize.solution_versions WHERE id = :ease_hpo;

-- AutoML: recipe may be NULL; the three candidates are trained on the
-- validation split, the best serves
SELECT personalize.create_solution('shop-auto', 'shop', NULL, '{"seed": 5}', perform_automl => true);
SELECT name, recipe, perform_automl FROM personalize.solutions WHERE name = 'shop-auto';
SELECT personalize.create_solution_version('shop-auto') AS auto_version \gset
SELECT status, recipe = metrics->'automl'->>'chosen' AS serves_chosen,
       metrics->'automl'->>'objective' AS objective
  FROM personalize.solution_versions WHERE id = :auto_version;
SELECT c->>'recipe' AS candidate, c ? 'metrics' AS has_metrics, c->'metrics' ? 'precision_at_10' AS has_precision,
       (c->>'objective')::float8 = (v.metrics->'automl'->>'best_objective')::float8 AS is_best
  FROM personalize.solution_versions v, jsonb_array_elements(v.metrics->'automl'->'candidates') WITH ORDINALITY AS x(c, n)
 WHERE v.id = :auto_version ORDER BY n;
-- the shared seed reached every candidate that has one; the chosen
-- recipe's resolved hyperparameters are the version's
SELECT v.hyperparameters = personalize._resolve_hyperparameters(v.recipe,
           CASE WHEN v.hyperparameters ? 'seed' THEN '{"seed": 5}'::jsonb ELSE '{}' END) AS chosen_hyperparameters
  FROM personalize.solution_versions v WHERE v.id = :auto_version;
-- the campaign serves the chosen recipe (the view and the answers say so)
SELECT personalize.create_campaign('shop-auto', :auto_version);
SELECT c.recipe = v.recipe AS campaign_recipe FROM personalize.campaigns c
  JOIN personalize.solution_versions v ON v.id = c.solution_version WHERE c.name = 'shop-auto';
SELECT count(*) AS recommended, bool_and(item_id LIKE 'c1%') AS from_own_cluster
  FROM personalize.recommend('shop-auto', '4', 3);
-- over personalize.ease_max_items, ease is skipped (with a NOTICE among
-- the progress NOTICEs, not shown here) and the record says why
SET personalize.ease_max_items = 20;
SELECT personalize.create_solution_version('shop-auto') AS auto_small \gset
RESET personalize.ease_max_items;
SELECT c->>'recipe' AS candidate, c->>'skipped' AS skipped
  FROM personalize.solution_versions v, jsonb_array_elements(v.metrics->'automl'->'candidates') WITH ORDINALITY AS x(c, n)
 WHERE v.id = :auto_small ORDER BY n;

-- event_weights: event types match case-insensitively; weight 0 leaves a
-- type out of the training data, other weights scale the events
SELECT personalize.create_solution('shop-clicks', 'shop', 'user-personalization',
	'{"iterations": 3, "factors": 4, "event_weights": {"PURCHASE": 0}}');
SELECT personalize.create_solution_version('shop-clicks') AS clicks \gset
SELECT hyperparameters->'event_weights' AS resolved FROM personalize.solution_versions WHERE id = :clicks;
SELECT personalize.create_solution('shop-weighted', 'shop', 'user-personalization',
	'{"iterations": 3, "factors": 4, "event_weights": {"purchase": 5}}');
SELECT personalize.create_solution('shop-unweighted', 'shop', 'user-personalization', '{"iterations": 3, "factors": 4}');
SELECT personalize.create_solution_version('shop-weighted') AS weighted \gset
SELECT personalize.create_solution_version('shop-unweighted') AS unweighted \gset
SELECT solution, interactions FROM personalize.solution_versions
 WHERE solution IN ('shop-clicks', 'shop-weighted', 'shop-unweighted') ORDER BY solution;
-- same events, different confidences: different factors
SELECT count(*) FILTER (WHERE w.factors <> u.factors) > 0 AS weights_change_the_model
  FROM personalize.item_embeddings w JOIN personalize.item_embeddings u USING (item_id)
 WHERE w.solution_version = :weighted AND u.solution_version = :unweighted;
-- the interactions are registered again without their event type column
-- after the solution was created: the version fails with the reason
SELECT personalize.create_solution('shop-ease-weighted', 'shop', 'ease', '{"event_weights": {"purchase": 3}}');
SELECT personalize.drop_dataset('shop', 'interactions');
SELECT personalize.create_dataset('shop', 'interactions', 'plain', event_time => 'ts');
SELECT personalize.create_solution_version('shop-ease-weighted') AS plain_weighted \gset
SELECT personalize.drop_dataset('shop', 'interactions');
SELECT personalize.create_dataset('shop', 'interactions', 'shop', event_time => 'ts', event_type => 'event_type');
SELECT status, failure_reason FROM personalize.solution_versions WHERE id = :plain_weighted;

-- background training reads the plan too
SELECT personalize.create_solution_version('shop-hpo', wait => false) AS bg_version \gset
SELECT personalize.wait_for_solution_version(:bg_version);
SELECT a.hyperparameters = b.hyperparameters AS worker_same_tuned
  FROM personalize.solution_versions a, personalize.solution_versions b
 WHERE a.id = :hpo_version AND b.id = :bg_version;

SELECT personalize.drop_campaign('shop-auto');
SELECT personalize.drop_dataset_group('shop', cascade => true);
SELECT personalize.drop_dataset_group('plain', cascade => true);
DROP VIEW plain;
DROP TABLE shop;
