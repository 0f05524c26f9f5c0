-- Filters: Personalize filter syntax and SQL predicates, their errors, and
-- filtered recommend, related_items and personalized_rank.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET personalize.min_interactions = 100;
SET personalize.min_users = 10;

-- 60 users in 3 taste clusters of 10 items; items carry a genre (cluster),
-- a price and a stock flag (a boolean, and as text the way Personalize
-- asks, since filters cannot compare booleans); some users bought some items.
CREATE TABLE shop_events (user_id int, item_id text, ts bigint, event_type text);
INSERT INTO shop_events
SELECT u, 'c' || (u % 3) || ((u + j) % 10), u * 100 + j + 1, CASE WHEN j = 5 THEN 'Purchase' ELSE 'click' END
  FROM generate_series(1, 60) u, generate_series(0, 5) j;
CREATE TABLE shop_items (item_id text PRIMARY KEY, genre text, price numeric, in_stock bool, tags text[],
                         stock text, details jsonb);
INSERT INTO shop_items
SELECT 'c' || c || n, (ARRAY['Action|Drama', 'Comedy', 'Drama'])[c + 1], 5 + n * 2, n % 4 <> 0,
       ARRAY['t' || (n % 2)], CASE WHEN n % 4 <> 0 THEN 'True' ELSE 'False' END, '{"size": "M"}'
  FROM generate_series(0, 2) c, generate_series(0, 9) n;
SELECT personalize.create_dataset_group('shop3');
SELECT personalize.create_dataset('shop3', 'interactions', 'shop_events', event_time => 'ts');
SELECT personalize.create_dataset('shop3', 'items', 'shop_items', metadata => ARRAY['genre', 'price', 'in_stock', 'tags']);
SELECT personalize.create_solution('shop3-up', 'shop3', 'user-personalization', '{"factors": 8, "seed": 7}');
SELECT personalize.create_campaign('shop3', personalize.create_solution_version('shop3-up'));
SELECT personalize.create_solution('shop3-sims', 'shop3', 'sims');
SELECT personalize.create_campaign('shop3-sims', personalize.create_solution_version('shop3-sims'));

-- Personalize syntax
SELECT personalize.create_filter('genre', 'shop3', 'INCLUDE ItemID WHERE Items.GENRE IN ($GENRES)');
SELECT personalize.create_filter('cheap', 'shop3', 'INCLUDE ItemID WHERE Items.PRICE < $MAX AND Items.STOCK = "True"');
SELECT personalize.create_filter('not-bought', 'shop3', 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")');
SELECT personalize.create_filter('drama-not-cheap', 'shop3',
	'INCLUDE ItemID WHERE Items.GENRE IN ("Drama") | EXCLUDE ItemID WHERE Items.PRICE <= 10');
SELECT personalize.create_filter('tagged', 'shop3', 'INCLUDE ItemID WHERE Items.TAGS IN ("t1") OR Items.GENRE NOT IN ("Comedy", "Drama")');
SELECT name, dataset_group FROM personalize.filters ORDER BY name;

-- an unfiltered and a filtered list for user 3 (cluster 0, Action|Drama)
SELECT item_id FROM personalize.recommend('shop3', '3', 5) ORDER BY item_id;
-- multi-valued text matches any value; the ranked list is walked until enough pass
SELECT count(*) AS total, count(*) FILTER (WHERE i.genre = 'Drama') AS drama_only
  FROM personalize.recommend('shop3', '3', 12, filter => 'genre', filter_values => '{"GENRES": "\"Drama\""}') r
  JOIN shop_items i USING (item_id);
SELECT bool_and(i.genre LIKE '%Comedy%') AS all_comedy
  FROM personalize.recommend('shop3', '3', 5, filter => 'genre', filter_values => '{"GENRES": ["Comedy"]}') r
  JOIN shop_items i USING (item_id);
-- filtering never reorders: it is the unfiltered ranking restricted to passing items
SELECT (SELECT array_agg(item_id) FROM personalize.recommend('shop3', '3', 4, filter => 'cheap', filter_values => '{"MAX": 12}'))
     = (SELECT array_agg(r.item_id) FROM (SELECT r.item_id FROM personalize.recommend('shop3', '3', 500) WITH ORDINALITY r(item_id, score, o)
          JOIN shop_items i USING (item_id) WHERE i.price < 12 AND i.in_stock ORDER BY o LIMIT 4) r) AS same_order;
-- an item a user bought (case-insensitive event type) is excluded, a clicked one is not
INSERT INTO shop_events VALUES (3, 'c19', 9999, 'PURCHASE');
SELECT count(*) AS bought_recommended FROM personalize.recommend('shop3', '3', 30, filter => 'not-bought') WHERE item_id = 'c19';
-- chained: Drama items except the cheap ones
SELECT bool_and('Drama' = ANY (string_to_array(i.genre, '|')) AND i.price > 10) AS chained
  FROM personalize.recommend('shop3', 'newcomer', 10, filter => 'drama-not-cheap') r JOIN shop_items i USING (item_id);
SELECT bool_and('t1' = ANY (i.tags) OR i.genre NOT IN ('Comedy', 'Drama')) AS array_or
  FROM personalize.recommend('shop3', '3', 10, filter => 'tagged') r JOIN shop_items i USING (item_id);
-- related items and personalized ranking take filters too
SELECT bool_and(i.price < 12) AS related_filtered
  FROM personalize.related_items('shop3-sims', 'c00', 5, filter => 'cheap', filter_values => '{"MAX": 12}') r JOIN shop_items i USING (item_id);
-- CurrentItem fields compare with the item whose related items are asked
-- for: cheaper than c15 (price 15), of c10's genre (Comedy)
SELECT personalize.create_filter('cheaper', 'shop3', 'INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE');
SELECT personalize.create_filter('same-genre', 'shop3', 'INCLUDE ItemID WHERE Items.GENRE IN (CurrentItem.GENRE)');
SELECT count(*) AS results, bool_and(i.price < 15) AS all_cheaper
  FROM personalize.related_items('shop3-sims', 'c15', 5, filter => 'cheaper') r JOIN shop_items i USING (item_id);
SELECT count(*) AS results, bool_and(i.genre = 'Comedy') AS all_comedies
  FROM personalize.related_items('shop3-sims', 'c10', 5, filter => 'same-genre') r JOIN shop_items i USING (item_id);
-- the same through recommend on the RELATED_ITEMS campaign
SELECT count(*) AS results, bool_and(i.genre = 'Comedy') AS all_comedies
  FROM personalize.recommend('shop3-sims', item_id => 'c10', num_results => 5, filter => 'same-genre') r JOIN shop_items i USING (item_id);
-- a request without a current item cannot use them
SELECT * FROM personalize.recommend('shop3', '3', 5, filter => 'cheaper');
SELECT item_id FROM personalize.personalized_rank('shop3', '3', ARRAY['c01', 'c11', 'c21', 'nope'],
	filter => 'genre', filter_values => '{"GENRES": ["Comedy"]}');

-- placeholders: missing in an INCLUDE is an error, missing in an EXCLUDE disables it
SELECT * FROM personalize.recommend('shop3', '3', 5, filter => 'genre');
SELECT personalize.create_filter('exclude-genre', 'shop3', 'EXCLUDE ItemID WHERE Items.GENRE IN ($G)');
SELECT count(*) FROM personalize.recommend('shop3', '3', 5, filter => 'exclude-genre');

-- SQL predicates, with typed placeholders bound as parameters
SELECT personalize.create_filter('sql-cheap', 'shop3', 'INCLUDE WHERE items.price < $MAX::numeric AND items.in_stock');
SELECT bool_and(i.price < 9 AND i.in_stock) AS sql_filtered
  FROM personalize.recommend('shop3', '3', 5, filter => 'sql-cheap', filter_values => '{"MAX": 9}') r JOIN shop_items i USING (item_id);
SELECT count(*) AS injection_rows FROM personalize.recommend('shop3', '3', 5, filter => 'sql-cheap',
	filter_values => '{"MAX": "1; DROP TABLE shop_items"}');
SELECT count(*) AS items_still_there FROM shop_items;
-- hostile values of an item-attribute (masked) filter: a 10,000-character value matches
-- nothing; SQL in a value is only data (the quoted-list form reads its quoted run,
-- "Comedy", and nothing runs); a word where the filter compares numbers is an error
SELECT count(*) AS long_value_rows FROM personalize.recommend('shop3', '3', 5, filter => 'genre',
	filter_values => jsonb_build_object('GENRES', repeat('x', 10000)));
SELECT count(*) AS injection_rows FROM personalize.recommend('shop3', '3', 5, filter => 'genre',
	filter_values => $${"GENRES": "\"Comedy\"); DROP TABLE shop_items; --"}$$);
SELECT count(*) AS items_still_there FROM shop_items;
SELECT count(*) FROM personalize.recommend('shop3', '3', 5, filter => 'cheap', filter_values => '{"MAX": "cheap"}');
-- a filter of another dataset group
SELECT personalize.create_dataset_group('shop-other');
SELECT personalize.create_dataset('shop-other', 'items', 'shop_items');
SELECT personalize.create_filter('other-drama', 'shop-other', 'INCLUDE ItemID WHERE Items.GENRE IN ("Drama")');
SELECT count(*) FROM personalize.recommend('shop3', '3', 5, filter => 'other-drama');
SELECT personalize.drop_dataset_group('shop-other', cascade => true);
SELECT personalize.create_filter('sql-not-bought', 'shop3', $$EXCLUDE WHERE interactions.event_type = 'Purchase'$$);
SELECT count(*) FROM personalize.recommend('shop3', '3', 30, filter => 'sql-not-bought') WHERE item_id = 'c08';

-- creation errors point at the problem
SELECT personalize.create_filter('bad', 'shop3', 'INCLUDE ItemID WHER Items.GENRE IN ("x")');
SELECT personalize.create_filter('bad', 'shop3', 'INCLUDE ItemID WHERE Items.GENRE IN ("x"');
SELECT personalize.create_filter('bad', 'shop3', 'INCLUDE ItemID WHERE Items.COLOUR IN ("red")');
SELECT personalize.create_filter('bad', 'shop3', 'INCLUDE ItemID WHERE Items.PRICE ~ 3');
SELECT personalize.create_filter('bad', 'shop3', 'KEEP ItemID WHERE Items.PRICE < 3');
SELECT personalize.create_filter('bad', 'shop3', 'INCLUDE ItemID WHERE Items.PRICE < CurrentItem.SHOE_SIZE');
SELECT personalize.create_filter('bad', 'shop3', 'INCLUDE ItemID WHERE Items.PRICE < Users.AGE');
-- boolean and textual fields are not filterable, as in Personalize (an SQL predicate can test them)
SELECT personalize.create_filter('bad', 'shop3', 'INCLUDE ItemID WHERE Items.in_stock = "true"');
SELECT personalize.create_filter('bad', 'shop3', 'EXCLUDE ItemID WHERE Items.DETAILS IN ("{}")');
SELECT personalize.create_filter('bad', 'shop3', 'INCLUDE ItemID WHERE Items.PRICE < 3 IF CurrentUser.AGE > 3');
-- errors found by planning the compiled query (its text is internal: show SQLSTATE and message)
DO $$ BEGIN
	PERFORM personalize.create_filter('bad', 'shop3', 'INCLUDE ItemID WHERE Items.PRICE < "abc"');
EXCEPTION WHEN OTHERS THEN RAISE WARNING '% %', SQLSTATE, SQLERRM; END $$;
DO $$ BEGIN
	PERFORM personalize.create_filter('bad', 'shop3', 'INCLUDE WHERE items.nope');
EXCEPTION WHEN OTHERS THEN RAISE WARNING '% %', SQLSTATE, SQLERRM; END $$;
SELECT personalize.create_filter('bad', 'shop3', 'INCLUDE WHERE items.price < 3; DROP TABLE shop_items');
SELECT personalize.create_filter('bad', 'shop3', 'INCLUDE WHERE items.price < $1');
SELECT personalize.create_filter('bad', 'nowhere', 'INCLUDE ItemID WHERE Items.PRICE < 3');
SELECT personalize.create_filter('genre', 'shop3', 'INCLUDE ItemID WHERE Items.PRICE < 3');
SELECT personalize.create_filter(NULL, 'shop3', 'INCLUDE ItemID WHERE Items.PRICE < 3');
-- request errors
SELECT * FROM personalize.recommend('shop3', '3', 5, filter => 'nope');
SELECT * FROM personalize.recommend('shop3', '3', 5, filter_values => '{"a": 1}');
SELECT * FROM personalize.recommend('shop3', '3', 5, filter => 'genre', filter_values => '[1]');

-- IF CurrentUser...: an expression applies only to users whose row meets
-- the condition (user u is 10 + u years old)
CREATE TABLE shop_users (user_id int PRIMARY KEY, age int);
INSERT INTO shop_users SELECT u, 10 + u FROM generate_series(1, 60) u;
SELECT personalize.create_dataset('shop3', 'users', 'shop_users', metadata => ARRAY['age']);
SELECT personalize.create_filter('cheap-for-adults', 'shop3', 'INCLUDE ItemID WHERE Items.PRICE < 10 IF CurrentUser.AGE >= 40');
SELECT personalize.create_filter('no-comedy-for-minors', 'shop3',
	'EXCLUDE ItemID WHERE Items.GENRE IN ("Comedy") IF CurrentUser.AGE < $ADULT');
-- user 45 (55 years) gets only cheap items; user 4 (14 years) is unrestricted
SELECT count(*) AS results, bool_and(i.price < 10) AS all_cheap
  FROM personalize.recommend('shop3', '45', 5, filter => 'cheap-for-adults') r JOIN shop_items i USING (item_id);
SELECT (SELECT array_agg(item_id) FROM personalize.recommend('shop3', '4', 5, filter => 'cheap-for-adults'))
     = (SELECT array_agg(item_id) FROM personalize.recommend('shop3', '4', 5)) AS unrestricted;
-- user 4 (14) sees no comedy when adults are 18+; user 45 (55) is unaffected
SELECT count(*) FILTER (WHERE i.genre = 'Comedy') AS comedies
  FROM personalize.recommend('shop3', '4', 20, filter => 'no-comedy-for-minors', filter_values => '{"ADULT": 18}') r
  JOIN shop_items i USING (item_id);
SELECT (SELECT array_agg(item_id) FROM personalize.recommend('shop3', '45', 20, filter => 'no-comedy-for-minors', filter_values => '{"ADULT": 18}'))
     = (SELECT array_agg(item_id) FROM personalize.recommend('shop3', '45', 20)) AS unaffected;
-- an unknown user's row meets no IF: unrestricted, no comedy filter
SELECT count(*) FROM personalize.recommend('shop3', 'nobody', 5, filter => 'cheap-for-adults');
SELECT personalize.create_filter('bad', 'shop3', 'INCLUDE ItemID WHERE Items.PRICE < 3 IF Items.PRICE > 3');
SELECT personalize.create_filter('bad', 'shop3', 'INCLUDE ItemID WHERE CurrentUser.AGE > 3');
SELECT personalize.create_filter('bad', 'shop3', 'INCLUDE ItemID WHERE Items.PRICE < 3 IF CurrentUser.SHOE_SIZE > 3');
SELECT personalize.create_filter('bad', 'shop3', 'INCLUDE ItemID WHERE Items.PRICE < 3 IF');

-- Interactions conditions look at each user's latest events of each type,
-- personalize.filter_interactions of them (100, as in Personalize): user 3
-- bought c19 (latest, above), c08 and, long before, c21; with 1, only c19
-- counts, so c08 and c21 pass
INSERT INTO shop_events VALUES (3, 'c21', 1, 'Purchase');
SELECT array_agg(item_id ORDER BY item_id) FROM personalize.personalized_rank('shop3', '3', ARRAY['c21', 'c08', 'c11'], filter => 'not-bought');
SET personalize.filter_interactions = 1;
SELECT array_agg(item_id ORDER BY item_id) FROM personalize.personalized_rank('shop3', '3', ARRAY['c21', 'c08', 'c11'], filter => 'not-bought');
RESET personalize.filter_interactions;

-- integer item ids: an Interactions filter matches the candidates as
-- integers, as the items join does; user 7 had items 7..11 at times
-- 700..704, so 10 and 11 are recent, and so is '010' (an id the model
-- does not know, but the integer column reads as 10); 'nope' passes
CREATE TABLE num_events (user_id int, item_id int, ts bigint);
INSERT INTO num_events SELECT u, (u + j) % 20, u * 100 + j FROM generate_series(1, 40) u, generate_series(0, 4) j;
CREATE INDEX ON num_events (user_id, ts) INCLUDE (item_id);
SELECT personalize.create_dataset_group('num');
SELECT personalize.create_dataset('num', 'interactions', 'num_events', event_time => 'ts');
SELECT personalize.create_solution('num-up', 'num', 'user-personalization', '{"factors": 4, "seed": 7}');
SELECT personalize.create_campaign('num', personalize.create_solution_version('num-up'));
SELECT personalize.create_filter('num-recent', 'num', 'EXCLUDE ItemID WHERE Interactions.TS > 702');
SELECT array_agg(item_id ORDER BY item_id) FROM personalize.personalized_rank('num', '7', ARRAY['7', '8', '9', '10', '11', '12', '010', 'nope'], filter => 'num-recent');
-- a CurrentItem field reads the items row of any id an integer column can
-- hold, written as the model reads ids: '+7' is item 7 (price 7), and the
-- largest int8 an item without events (price 5; served popular items)
CREATE TABLE num_items (item_id int8 PRIMARY KEY, price int);
INSERT INTO num_items SELECT i, i FROM generate_series(0, 19) i;
INSERT INTO num_items VALUES (9223372036854775807, 5);
SELECT personalize.create_dataset('num', 'items', 'num_items', metadata => ARRAY['price']);
SELECT personalize.create_solution('num-sims', 'num', 'sims');
SELECT personalize.create_campaign('num-sims', personalize.create_solution_version('num-sims'));
SELECT personalize.create_filter('num-cheaper', 'num', 'INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE');
SELECT array_agg(item_id::int ORDER BY item_id::int) FROM personalize.related_items('num-sims', '+7', 20, filter => 'num-cheaper');
SELECT array_agg(item_id::int ORDER BY item_id::int) FROM personalize.related_items('num-sims', '9223372036854775807', 20, filter => 'num-cheaper');
-- an id out of int8's range, or of 200,000 digits, reads no row, without an
-- error: nothing is cheaper than an unknown price
SELECT count(*) FROM personalize.related_items('num-sims', '9223372036854775808', 20, filter => 'num-cheaper');
SELECT count(*) FROM personalize.related_items('num-sims', repeat('9', 200000), 20, filter => 'num-cheaper');
SELECT personalize.drop_campaign('num-sims');
SELECT personalize.drop_campaign('num');
SELECT personalize.drop_dataset_group('num', cascade => true);
DROP TABLE num_events, num_items;

SELECT personalize.drop_filter('tagged');
SELECT personalize.drop_filter('tagged');
SELECT personalize.drop_campaign(name) FROM personalize.campaigns WHERE name LIKE 'shop3%' ORDER BY name;
SELECT personalize.drop_dataset_group('shop3', cascade => true);
SELECT count(*) AS filters_left FROM personalize.filters;
DROP TABLE shop_users;
