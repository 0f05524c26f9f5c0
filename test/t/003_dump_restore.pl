# Datasets, solutions, versions, models and campaigns survive pg_dump and
# pg_restore: the restored database serves the same recommendations, and
# a version trained after the restore gets a new id.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE DATABASE source;
	CREATE DATABASE target;
});
$node->safe_psql('source', q{
	SET client_min_messages = warning;
	CREATE EXTENSION personalize;
	CREATE TABLE plays (user_id int, item_id int, ts bigint);
	INSERT INTO plays SELECT u, (u * 7 + j * 13) % 300, u * 100 + j
	  FROM generate_series(1, 500) u, generate_series(1, 10) j;
	CREATE INDEX ON plays (user_id, ts);
	SELECT personalize.create_dataset_group('radio');
	SELECT personalize.create_dataset('radio', 'interactions', 'plays', event_time => 'ts');
	SELECT personalize.create_solution('radio-up', 'radio', 'user-personalization', '{"factors": 8, "iterations": 3}');
	SELECT personalize.create_solution('radio-sims', 'radio', 'sims');
	SELECT personalize.create_campaign('radio', personalize.create_solution_version('radio-up'));
	SELECT personalize.create_campaign('radio-sims', personalize.create_solution_version('radio-sims'));
});

my $query = q{SELECT string_agg(item_id || ':' || round(score::numeric, 6), ',')
	FROM (SELECT * FROM personalize.recommend('radio', '42', 10)
	      UNION ALL SELECT * FROM personalize.related_items('radio-sims', '7', 10)) r};
my $before = $node->safe_psql('source', $query);

my $dump = PostgreSQL::Test::Utils::tempdir() . '/source.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('source'), '-f', $dump ], 'pg_dump');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('target'), $dump ], 'pg_restore');

for my $table (qw(dataset_group dataset solution solution_version model_item campaign))
{
	is($node->safe_psql('target', "SELECT count(*) FROM personalize.$table"),
		$node->safe_psql('source', "SELECT count(*) FROM personalize.$table"),
		"personalize.$table restored");
}
is($node->safe_psql('target', 'SELECT count(*) FROM personalize.recipe'),
	$node->safe_psql('source', 'SELECT count(*) FROM personalize.recipe'),
	'the recipe catalogue is not duplicated');
is($node->safe_psql('target', $query), $before, 'the restored campaigns give the same answers');

my $new = $node->safe_psql('target', q{SET client_min_messages = warning;
	SELECT personalize.create_solution_version('radio-up')});
cmp_ok($new, '>', 2, 'a version trained after the restore gets a new id');

$node->stop;
done_testing();
