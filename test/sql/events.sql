-- put_events, put_items and put_users write through to the registered relations.
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE ev (user_id int, item_id text, event_time bigint, event_type text, event_value real);
CREATE TABLE catalog_items (item_id text PRIMARY KEY, genre text, price numeric);
CREATE TABLE people (user_id int PRIMARY KEY, age int, tier text);
SELECT personalize.create_dataset_group('live');
SELECT personalize.create_dataset('live', 'interactions', 'ev');
SELECT personalize.create_dataset('live', 'items', 'catalog_items', metadata => ARRAY['genre', 'price']);
SELECT personalize.create_dataset('live', 'users', 'people', metadata => ARRAY['age', 'tier']);

SELECT personalize.put_events('live', '7', 'session-1',
	'[{"itemId": "a", "eventType": "click", "sentAt": 1767225600},
	  {"itemId": "b", "eventType": "purchase", "eventValue": 9.5, "sentAt": "2026-01-01T00:01:00Z"},
	  {"itemId": "c", "sentAt": "1767225720"}]');
SELECT * FROM ev ORDER BY event_time;
-- a single object is one event
SELECT personalize.put_events('live', '8', 's', '{"itemId": "a", "sentAt": 1767225600}');
SELECT count(*) FROM ev WHERE user_id = 8;

-- errors
SELECT personalize.put_events('live', NULL, 's', '[{"itemId": "a"}]');
SELECT personalize.put_events('live', '7', 's', '[{"eventType": "click"}]');
SELECT personalize.put_events('live', '7', 's', '"nope"');
SELECT personalize.put_events('live', '7', 's', '[{"itemId": "a", "eventValue": "NaN"}]');
SELECT personalize.put_events('live', 'not-a-number', 's', '[{"itemId": "a"}]');
SELECT personalize.put_events('nowhere', '7', 's', '[{"itemId": "a"}]');
SELECT personalize.create_dataset_group('empty');
SELECT personalize.put_events('empty', '7', 's', '[{"itemId": "a"}]');

-- put_items inserts new items and updates existing ones
SELECT personalize.put_items('live', '[{"itemId": "a", "properties": {"genre": "Comedy", "price": 5}},
                                       {"itemId": "b", "properties": "{\"GENRE\": \"Drama|Crime\"}"}]');
SELECT personalize.put_items('live', '[{"itemId": "a", "properties": {"price": 7.5}}, {"itemId": "z"}]');
SELECT * FROM catalog_items ORDER BY item_id;
SELECT personalize.put_items('live', '[{"itemId": "a", "properties": {"colour": "red"}}]');
SELECT personalize.put_items('live', '[{"properties": {}}]');

SELECT personalize.put_users('live', '[{"userId": "7", "properties": {"age": 31, "tier": "gold"}}]');
SELECT personalize.put_users('live', '[{"userId": "7", "properties": {"tier": "silver"}}]');
SELECT * FROM people;
SELECT personalize.put_users('empty', '[{"userId": "7"}]');
SELECT personalize.drop_dataset_group('live', cascade => true);
SELECT personalize.drop_dataset_group('empty');

-- Personalize's other event fields go to columns bearing their names:
-- properties key by key (camelCase matches snake_case), recommendationId,
-- impression (joined with | for a text column, kept for an array one) and
-- the session; a field without a column is an error, never dropped
CREATE TABLE ev2 (user_id int, item_id text, event_time bigint, event_type text,
	device text, num_ratings int, recommendation_id text, impression text, session_id text);
CREATE TABLE ev3 (user_id int, item_id text, event_time bigint, impression text[]);
SELECT personalize.create_dataset_group('live2');
SELECT personalize.create_dataset('live2', 'interactions', 'ev2');
SELECT personalize.create_dataset_group('live3');
SELECT personalize.create_dataset('live3', 'interactions', 'ev3');
SELECT personalize.put_events('live2', '7', 'sess-9',
	'[{"itemId": "a", "eventType": "click", "sentAt": 1767225600, "recommendationId": "rec-1",
	   "properties": {"device": "phone", "numRatings": 5}, "impression": ["a", "b", "c"]},
	  {"itemId": "b", "sentAt": 1767225601, "properties": "{\"device\": \"tv\"}"}]');
SELECT * FROM ev2 ORDER BY event_time;
SELECT personalize.put_events('live3', '7', NULL, '[{"itemId": "a", "sentAt": 1767225600, "impression": ["a", "b"]}]');
SELECT * FROM ev3;
SELECT personalize.put_events('live2', '7', NULL, '[{"itemId": "c", "properties": {"color": "red"}}]');
SELECT personalize.put_events('live2', '7', NULL, '[{"itemId": "c", "properties": {"numRatings": "many"}}]');
SELECT personalize.put_events('live2', '7', NULL, '[{"itemId": "c", "properties": [1]}]');
SELECT personalize.put_events('live2', '7', NULL, '[{"itemId": "c", "properties": {"userId": 9}}]');
SELECT personalize.put_events('live3', '7', 'sess', '[{"itemId": "c", "recommendationId": "r"}]');
SELECT count(*) AS nothing_written FROM ev2 WHERE item_id = 'c';
SELECT personalize.drop_dataset_group('live2', cascade => true);
SELECT personalize.drop_dataset_group('live3', cascade => true);
DROP TABLE ev2, ev3;
