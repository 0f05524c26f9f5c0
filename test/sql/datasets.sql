-- Dataset groups and dataset registration: discovery of column roles,
-- validation errors, privileges and dropping.
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE events (user_id int, item_id text, "timestamp" timestamptz, event_type text, event_value float8);
CREATE TABLE odd_events (who bigint, what uuid, at bigint);
CREATE TABLE items (item_id text PRIMARY KEY, genre text, price numeric);
CREATE TABLE users (user_id int PRIMARY KEY, age int);

SELECT personalize.create_dataset_group('shop');
SELECT personalize.create_dataset_group('vod', 'VIDEO_ON_DEMAND');
SELECT name, domain FROM personalize.dataset_groups ORDER BY name;

-- errors
SELECT personalize.create_dataset_group('shop');
SELECT personalize.create_dataset_group(NULL);
SELECT personalize.create_dataset_group('x', 'RETAIL');
SELECT personalize.create_dataset_group('');

-- roles found by Personalize names (case-insensitive)
SELECT personalize.create_dataset('shop', 'interactions', 'events');
SELECT dataset_type, relation, user_column, item_column, time_column, time_kind, event_type_column, event_value_column
  FROM personalize.datasets WHERE dataset_group = 'shop';

-- roles given by argument; epoch integer time; any id type
SELECT personalize.create_dataset('vod', 'interactions', 'odd_events', user_id => 'who', item_id => 'what', event_time => 'at');
SELECT user_column, item_column, time_column, time_kind FROM personalize.datasets WHERE dataset_group = 'vod';

SELECT personalize.create_dataset('shop', 'items', 'items', metadata => ARRAY['genre', 'price']);
SELECT personalize.create_dataset('shop', 'users', 'users', metadata => ARRAY['age']);
SELECT dataset_type, metadata_columns FROM personalize.datasets WHERE dataset_group = 'shop' ORDER BY dataset_type;

-- registration errors
CREATE TABLE no_time (user_id int, item_id int);
CREATE TABLE text_time (user_id int, item_id int, ts text);
SELECT personalize.create_dataset('vod', 'items', 'no_time', item_id => 'nope');
SELECT personalize.create_dataset('vod', 'users', 'items');
SELECT personalize.create_dataset('vod', 'interactions', 'no_time');
SELECT personalize.drop_dataset('vod', 'interactions');
SELECT personalize.create_dataset('vod', 'interactions', 'no_time');
SELECT personalize.create_dataset('vod', 'interactions', 'text_time', event_time => 'ts');
SELECT personalize.create_dataset('shop', 'interactions', 'events');
SELECT personalize.create_dataset('shop', 'ratings', 'events');
SELECT personalize.create_dataset('nowhere', 'interactions', 'events');
SELECT personalize.create_dataset('vod', 'items', 'items', metadata => ARRAY['nope']);
SELECT personalize.create_dataset('vod', 'items', 'text_time', item_id => 'item_id', metadata => ARRAY['user_id']);
SELECT personalize.create_dataset('vod', 'users', 'users', event_time => 'age');
SELECT personalize.create_dataset('vod', NULL, 'items');

-- a role that cannot SELECT a relation cannot register it
CREATE ROLE personalize_regress_trainer;
GRANT EXECUTE ON FUNCTION personalize.create_dataset(text, text, regclass, text, text, text, text, text, text[]) TO personalize_regress_trainer;
GRANT SELECT, INSERT ON personalize.dataset_group, personalize.dataset TO personalize_regress_trainer;
SELECT personalize.create_dataset_group('theirs');
UPDATE personalize.dataset_group SET owner = 'personalize_regress_trainer' WHERE name = 'theirs';
SET ROLE personalize_regress_trainer;
SELECT personalize.create_dataset('theirs', 'interactions', 'events');
-- nor touch another role's dataset group
SELECT personalize.create_dataset('shop', 'interactions', 'events');
RESET ROLE;
-- ...nor call administrative functions without a grant
SET ROLE personalize_regress_trainer;
SELECT personalize.create_dataset_group('mine');
RESET ROLE;

-- drop
SELECT personalize.drop_dataset('shop', 'users');
SELECT personalize.drop_dataset('shop', 'users');
SELECT personalize.drop_dataset_group('shop');
SELECT personalize.drop_dataset_group('shop', cascade => true);
SELECT personalize.drop_dataset_group('shop');
SELECT name FROM personalize.dataset_groups ORDER BY name;
-- the registered tables are never dropped
SELECT count(*) FROM events;

SELECT personalize.drop_dataset_group('theirs');
REVOKE ALL ON personalize.dataset_group, personalize.dataset FROM personalize_regress_trainer;
REVOKE ALL ON FUNCTION personalize.create_dataset(text, text, regclass, text, text, text, text, text, text[]) FROM personalize_regress_trainer;
DROP ROLE personalize_regress_trainer;
