# ALTER EXTENSION personalize UPDATE from the first release: objects created
# under 0.1.0 keep serving the same recommendations, training goes on, and
# the upgraded schema is the one a fresh install of the current version
# creates (functions, tables, columns, views, policies, comments, grants,
# dump configuration).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE DATABASE upgraded;
	CREATE DATABASE fresh;
});
my $current = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'personalize'});

$node->safe_psql('upgraded', q{
	SET client_min_messages = warning;
	CREATE EXTENSION personalize VERSION '0.1.0';
	CREATE TABLE plays (user_id int, item_id int, ts bigint);
	INSERT INTO plays SELECT u, (u * 7 + j * 13) % 300, u * 100 + j
	  FROM generate_series(1, 500) u, generate_series(1, 10) j;
	CREATE TABLE tracks (item_id int PRIMARY KEY, genre text);
	INSERT INTO tracks SELECT i, CASE WHEN i % 3 = 0 THEN 'Jazz' ELSE 'Rock' END FROM generate_series(0, 299) i;
	SELECT personalize.create_dataset_group('radio');
	SELECT personalize.create_dataset('radio', 'interactions', 'plays', event_time => 'ts');
	SELECT personalize.create_dataset('radio', 'items', 'tracks');
	SELECT personalize.create_solution('radio-up', 'radio', 'user-personalization', '{"factors": 8, "iterations": 3}');
	SELECT personalize.create_solution('radio-sims', 'radio', 'sims');
	SELECT personalize.create_campaign('radio', personalize.create_solution_version('radio-up'));
	SELECT personalize.create_campaign('radio-sims', personalize.create_solution_version('radio-sims'));
	SELECT personalize.create_filter('jazz', 'radio', 'INCLUDE ItemID WHERE Items.GENRE IN ("Jazz")');
});
is($node->safe_psql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'personalize'}),
	'0.1.0', 'the first release installs');

my $answers = q{SELECT string_agg(item_id || ':' || round(score::numeric, 6), ',')
	FROM (SELECT * FROM personalize.recommend('radio', '42', 10)
	      UNION ALL SELECT * FROM personalize.recommend('radio', '42', 10, filter => 'jazz')
	      UNION ALL SELECT * FROM personalize.related_items('radio-sims', '7', 10)) r};
my $before = $node->safe_psql('upgraded', $answers);
isnt($before, '', 'the 0.1.0 campaigns serve');

$node->safe_psql('upgraded', 'ALTER EXTENSION personalize UPDATE');
is($node->safe_psql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'personalize'}),
	$current, "ALTER EXTENSION personalize UPDATE reaches $current");
is($node->safe_psql('upgraded', $answers), $before, 'the same recommendations after the update');

my $new = $node->safe_psql('upgraded', q{SET client_min_messages = warning;
	SELECT personalize.create_solution_version('radio-up')});
is($node->safe_psql('upgraded', "SELECT status FROM personalize.solution_versions WHERE id = $new"),
	'ACTIVE', 'a version trains after the update');

# what 0.2.0 added works on the upgraded installation: a filtered batch job
$node->safe_psql('upgraded', q{
	CREATE TABLE listeners AS SELECT 42 AS id;
	SELECT personalize.create_batch_inference_job('nightly', 1, 'SELECT id FROM listeners', 'jazz_recs', 10,
		filter => 'jazz', wait => true)});
is($node->safe_psql('upgraded', q{SELECT string_agg(item_id, ',' ORDER BY rank) FROM jazz_recs}),
	$node->safe_psql('upgraded', q{SELECT string_agg(item_id, ',') FROM personalize.recommend('radio', '42', 10, filter => 'jazz')}),
	'a filtered batch job gives what recommend gives');

# AutoML on the upgraded installation: versions from 0.1.0 have no recipe
# of their own (the view shows the solution's), the new one records its choice
$node->safe_psql('upgraded', q{SET client_min_messages = warning;
	SELECT personalize.create_solution('radio-auto', 'radio', NULL, perform_automl => true);
	SELECT personalize.create_solution_version('radio-auto')});
is($node->safe_psql('upgraded', q{
	SELECT string_agg(v.solution || ':' || v.status || ':' || (v.recipe = coalesce(v.metrics->'automl'->>'chosen', s.recipe)), ',' ORDER BY v.id)
	  FROM personalize.solution_versions v JOIN personalize.solutions s ON s.name = v.solution}),
	'radio-up:ACTIVE:true,radio-sims:ACTIVE:true,radio-up:ACTIVE:true,radio-auto:ACTIVE:true',
	'AutoML trains after the update; every version shows the recipe it serves');

# The upgraded schema, described object by object, equals a fresh install.
$node->safe_psql('fresh', 'CREATE EXTENSION personalize');
my %describe = (
	'member objects' => q{
		SELECT pg_describe_object(d.classid, d.objid, d.objsubid)
		  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
		 WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'personalize' AND d.deptype = 'e'
		 ORDER BY 1},
	'function definitions and privileges' => q{
		SELECT p.oid::regprocedure::text, md5(pg_get_functiondef(p.oid)), p.proacl::text,
		       obj_description(p.oid, 'pg_proc')
		  FROM pg_proc p WHERE p.pronamespace = 'personalize'::regnamespace ORDER BY 1},
	'columns' => q{
		SELECT table_name, column_name, data_type, is_nullable, column_default
		  FROM information_schema.columns WHERE table_schema = 'personalize' ORDER BY 1, 2},
	'relations' => q{
		SELECT c.relname, c.relkind, c.relrowsecurity, c.relacl::text, obj_description(c.oid, 'pg_class'),
		       CASE c.relkind WHEN 'v' THEN md5(pg_get_viewdef(c.oid)) END
		  FROM pg_class c WHERE c.relnamespace = 'personalize'::regnamespace ORDER BY 1},
	'constraints and indexes' => q{
		SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
		  FROM pg_constraint WHERE connamespace = 'personalize'::regnamespace
		UNION ALL
		SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'personalize'
		ORDER BY 1, 2},
	'policies' => q{
		SELECT tablename, policyname, cmd, roles::text, qual, with_check
		  FROM pg_policies WHERE schemaname = 'personalize' ORDER BY 1, 2},
	'dump configuration' => q{
		SELECT string_agg(c::regclass::text, ',' ORDER BY c::regclass::text)
		  FROM pg_extension e, unnest(e.extconfig) c WHERE e.extname = 'personalize'},
);
for my $what (sort keys %describe)
{
	my $fresh = $node->safe_psql('fresh', $describe{$what});
	isnt($fresh, '', "fresh install has $what");
	is($node->safe_psql('upgraded', $describe{$what}), $fresh, "upgraded $what equal a fresh install's");
}

$node->stop;
done_testing();
