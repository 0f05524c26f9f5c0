# Scheduled retraining with pg_cron: a cron job calls
# create_solution_version, and a campaign configured with
# sync_with_latest_solution_version switches to the new version.
#
# pg_cron runs its jobs in background workers here (no TCP needed), and
# its smallest schedule is one minute, so this test takes one to two
# minutes.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_cron;
	CREATE EXTENSION personalize;
	CREATE TABLE plays (user_id int, item_id int, ts bigint);
	INSERT INTO plays SELECT u, (u * 7 + j * 13) % 300, u * 100 + j
	  FROM generate_series(1, 500) u, generate_series(1, 10) j;
	SELECT personalize.create_dataset_group('radio');
	SELECT personalize.create_dataset('radio', 'interactions', 'plays', event_time => 'ts');
	SELECT personalize.create_solution('radio-up', 'radio', 'user-personalization', '{"factors": 8, "iterations": 3}');
});
my $first = $node->safe_psql('postgres', q{SET client_min_messages = warning;
	SELECT personalize.create_solution_version('radio-up')});
$node->safe_psql('postgres', qq{
	SELECT personalize.create_campaign('radio', $first, '{"sync_with_latest_solution_version": true}')});

# New interactions arrive; the nightly job is scheduled every minute here.
$node->safe_psql('postgres', q{
	INSERT INTO plays SELECT u, (u * 11 + j) % 300, 100000 + u * 100 + j
	  FROM generate_series(1, 500) u, generate_series(1, 5) j;
	SELECT cron.schedule('retrain-radio', '* * * * *',
		$$SELECT personalize.create_solution_version('radio-up')$$);
});

my $switched = $node->poll_query_until('postgres', qq{
	SELECT solution_version > $first FROM personalize.campaigns WHERE name = 'radio'});
ok($switched, 'a scheduled retrain switched the campaign to a new version');

$node->safe_psql('postgres', q{SELECT cron.unschedule('retrain-radio')});
my ($version, $status, $interactions) = split /\|/, $node->safe_psql('postgres', q{
	SELECT v.id, v.status, v.interactions FROM personalize.campaigns c
	  JOIN personalize.solution_versions v ON v.id = c.solution_version WHERE c.name = 'radio'});
is($status, 'ACTIVE', 'the campaign serves an ACTIVE version');
is($interactions, '7500', 'the new version was trained on the new interactions too');
is($node->safe_psql('postgres', q{SELECT status FROM cron.job_run_details ORDER BY runid LIMIT 1}),
	'succeeded', 'pg_cron recorded the run as succeeded');
is($node->safe_psql('postgres', q{SELECT count(*) FROM personalize.recommend('radio', '7', 10)}),
	'10', 'the switched campaign serves recommendations');

$node->stop;
done_testing();
