-- Context: the interactions dataset's metadata columns are context columns;
-- training learns each item's lift per value, and the context argument of
-- recommend, get_recommendations and personalized_rank re-weights items by
-- it.  Planted data: "m" items are used on mobile, "d" items on desktop,
-- and every user likes both kinds alike.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

CREATE TABLE ctx_events (user_id int, item_id text, ts bigint, device text, hour int);
INSERT INTO ctx_events
SELECT u, k || ((u * 3 + j) % 10), u * 100 + j * 2 + (k = 'd')::int,
       CASE WHEN (u + j) % 7 = 0 THEN (CASE k WHEN 'm' THEN 'desktop' ELSE 'mobile' END)
            WHEN k = 'm' THEN 'mobile' ELSE 'desktop' END,
       j
  FROM generate_series(1, 60) u, generate_series(0, 2) j, unnest(ARRAY['m', 'd']) k;
CREATE INDEX ON ctx_events (user_id, ts);
SELECT personalize.create_dataset_group('ctx');
SELECT personalize.create_dataset('ctx', 'interactions', 'ctx_events', event_time => 'ts',
	metadata => ARRAY['device', 'hour']);
SELECT personalize.create_solution('ctx-up', 'ctx', 'user-personalization', '{"factors": 4, "seed": 3}');
SELECT personalize.create_campaign('ctx', personalize.create_solution_version('ctx-up'));

-- the model rows: one per column and value; mobile lifts m items, not d items
SELECT context_column, context_value, cardinality(item_ids) AS items,
       round(unseen_log_lift::numeric, 3) AS unseen
  FROM personalize.model_context c JOIN personalize.campaigns p ON p.solution_version = c.solution_version
 WHERE p.name = 'ctx' ORDER BY 1, 2;
SELECT bool_and(l > 0) FILTER (WHERE i LIKE 'm%') AS m_lifted, bool_and(l < 0) FILTER (WHERE i LIKE 'd%') AS d_lowered
  FROM personalize.model_context c JOIN personalize.campaigns p ON p.solution_version = c.solution_version,
       unnest(c.item_ids, c.log_lifts) AS x(i, l)
 WHERE p.name = 'ctx' AND context_column = 'device' AND context_value = 'mobile';

-- user 5's list in each context: mobile brings m items up, desktop d items
SELECT ctx, count(*) FILTER (WHERE item_id LIKE 'm%') AS m_items, count(*) FILTER (WHERE item_id LIKE 'd%') AS d_items
  FROM unnest(ARRAY['mobile', 'desktop']) ctx,
       personalize.recommend('ctx', '5', 6, context => jsonb_build_object('device', ctx))
 GROUP BY ctx ORDER BY ctx;
-- without context the list is mixed
SELECT count(*) FILTER (WHERE item_id LIKE 'm%') BETWEEN 1 AND 5 AS mixed
  FROM personalize.recommend('ctx', '5', 6);
-- the same through get_recommendations; keys match case-insensitively
SELECT (SELECT array_agg(item_id) FROM personalize.recommend('ctx', '5', 6, context => '{"device": "mobile"}'))
     = (SELECT array_agg(item_id) FROM personalize.get_recommendations('ctx', '5', 6, context => '{"DEVICE": "mobile"}'))
       AS same;
-- scores stay a softmax over the catalogue: they sum to at most 1
SELECT round(sum(score)::numeric, 6) <= 1 AS at_most_one
  FROM personalize.recommend('ctx', '5', 500, context => '{"device": "mobile"}');
-- a user the model does not know: popular items of the context
SELECT bool_and(item_id LIKE 'm%') AS mobile_popular
  FROM personalize.recommend('ctx', 'newcomer', 5, context => '{"device": "mobile"}');
-- personalized_rank ranks with the context too
SELECT (SELECT array_agg(item_id) FROM personalize.personalized_rank('ctx', '5', ARRAY['m1', 'd1'], context => '{"device": "mobile"}'))
       AS mobile,
       (SELECT array_agg(item_id) FROM personalize.personalized_rank('ctx', '5', ARRAY['m1', 'd1'], context => '{"device": "desktop"}'))
       AS desktop;
-- numbers name values too (hour 0, as its text); two keys add their terms
SELECT count(*) AS rows FROM personalize.recommend('ctx', '5', 6, context => '{"device": "mobile", "hour": 0}');
-- no effect: a value never seen in training, a null value, an empty
-- object, and personalize.context_weight = 0
SELECT c, (SELECT array_agg(item_id) FROM personalize.recommend('ctx', '5', 6))
     = (SELECT array_agg(item_id) FROM personalize.recommend('ctx', '5', 6, context => c)) AS unchanged
  FROM unnest(ARRAY['{"device": "tablet"}', '{"device": null}', '{}']::jsonb[]) c;
SET personalize.context_weight = 0;
SELECT (SELECT array_agg(item_id) FROM personalize.recommend('ctx', '5', 6))
     = (SELECT array_agg(item_id) FROM personalize.recommend('ctx', '5', 6, context => '{"device": "mobile"}')) AS weight_zero;
RESET personalize.context_weight;
-- a recipe that does not use context: the context is checked, and changes nothing
SELECT personalize.create_solution('ctx-pop', 'ctx', 'popularity-count');
SELECT personalize.create_campaign('ctx-pop', personalize.create_solution_version('ctx-pop'));
SELECT (SELECT array_agg(item_id) FROM personalize.recommend('ctx-pop', '5', 6))
     = (SELECT array_agg(item_id) FROM personalize.recommend('ctx-pop', '5', 6, context => '{"device": "mobile"}')) AS popularity_unchanged;
-- related items ignore context, but check it
SELECT personalize.create_solution('ctx-sims', 'ctx', 'sims', '{"min_cointeraction_count": 1}');
SELECT personalize.create_campaign('ctx-sims', personalize.create_solution_version('ctx-sims'));
SELECT (SELECT array_agg(item_id) FROM personalize.recommend('ctx-sims', item_id => 'm1', num_results => 4))
     = (SELECT array_agg(item_id) FROM personalize.recommend('ctx-sims', item_id => 'm1', num_results => 4,
                                                              context => '{"device": "desktop"}')) AS related_unchanged;
SELECT * FROM personalize.recommend('ctx-sims', item_id => 'm1', num_results => 4, context => '{"browser": "firefox"}');

-- errors: a key that is not a context column (named, with the columns in
-- the hint), context that is not an object, a value that is not a scalar
SELECT * FROM personalize.recommend('ctx', '5', 6, context => '{"browser": "firefox"}');
SELECT * FROM personalize.recommend('ctx-pop', '5', 6, context => '{"browser": "firefox"}');
SELECT * FROM personalize.recommend('ctx', '5', 6, context => '["mobile"]');
SELECT * FROM personalize.recommend('ctx', '5', 6, context => '{"device": ["mobile"]}');
SELECT * FROM personalize.personalized_rank('ctx', '5', ARRAY['m1'], context => '{"browser": "firefox"}');
-- a dataset group without context columns
CREATE TABLE ctx_plain (user_id int, item_id text, ts bigint);
INSERT INTO ctx_plain SELECT user_id, item_id, ts FROM ctx_events;
CREATE INDEX ON ctx_plain (user_id, ts);
SELECT personalize.create_dataset_group('ctx-plain');
SELECT personalize.create_dataset('ctx-plain', 'interactions', 'ctx_plain', event_time => 'ts');
SELECT personalize.create_solution('ctx-plain', 'ctx-plain', 'user-personalization', '{"factors": 4, "seed": 3}');
SELECT personalize.create_campaign('ctx-plain', personalize.create_solution_version('ctx-plain'));
SELECT * FROM personalize.recommend('ctx-plain', '5', 6, context => '{"device": "mobile"}');
SELECT count(*) AS no_context_rows FROM personalize.model_context c JOIN personalize.campaigns p ON p.solution_version = c.solution_version
 WHERE p.name = 'ctx-plain';

-- clean up (the regression database is shared by every test)
SELECT personalize.drop_dataset_group(g, cascade => true) FROM unnest(ARRAY['ctx', 'ctx-plain']) g;
DROP TABLE ctx_events, ctx_plain;
