# A model trained on the primary serves identical recommendations on a
# streaming hot standby, and a campaign switch on the primary reaches the
# standby: the runtime functions only read.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION personalize;
	CREATE TABLE plays (user_id int, item_id int, ts bigint);
	INSERT INTO plays SELECT u, (u * 7 + j * 13) % 300, u * 100 + j
	  FROM generate_series(1, 500) u, generate_series(1, 10) j;
	CREATE INDEX ON plays (user_id, ts);
	SELECT personalize.create_dataset_group('radio');
	SELECT personalize.create_dataset('radio', 'interactions', 'plays', event_time => 'ts');
	SELECT personalize.create_solution('radio-up', 'radio', 'user-personalization', '{"factors": 8, "iterations": 3}');
	SELECT personalize.create_solution('radio-pop', 'radio', 'popularity-count');
	SELECT personalize.create_campaign('radio', personalize.create_solution_version('radio-up'));
});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

my $query = q{SELECT string_agg(item_id || ':' || round(score::numeric, 6), ',')
	FROM personalize.recommend('radio', '42', 10)};
my $on_primary = $primary->safe_psql('postgres', $query);
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
is($standby->safe_psql('postgres', $query), $on_primary, 'the standby serves the same recommendations');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM personalize.personalized_rank('radio', '42', ARRAY['1', '2', '3'])}),
	'3', 'personalized_rank runs on the standby');

# switch the campaign on the primary; the standby follows
my $pop = $primary->safe_psql('postgres', q{SET client_min_messages = warning;
	SELECT personalize.create_solution_version('radio-pop')});
$primary->safe_psql('postgres', "SELECT personalize.update_campaign('radio', $pop)");
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', q{SELECT solution_version FROM personalize.campaigns WHERE name = 'radio'}),
	$pop, 'the campaign switch reached the standby');
is($standby->safe_psql('postgres', $query), $primary->safe_psql('postgres', $query),
	'and the standby serves the new version like the primary');

$standby->stop;
$primary->stop;
done_testing();
