# Background training under faults: no free worker slot is a clear error,
# and a training worker that is terminated leaves its version CREATE
# FAILED with a reason and no model rows.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('faults');
$node->init;
# one slot goes to the logical replication launcher, one is left for training
$node->append_conf('postgresql.conf', "max_worker_processes = 2\n");
$node->start;
$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION personalize;
	CREATE TABLE plays (user_id int, item_id int, ts bigint);
	INSERT INTO plays SELECT u, (u * 7 + j * 13) % 1000, u * 100 + j
	  FROM generate_series(1, 5000) u, generate_series(1, 20) j;
	SELECT personalize.create_dataset_group('radio');
	SELECT personalize.create_dataset('radio', 'interactions', 'plays', event_time => 'ts');
	SELECT personalize.create_solution('radio-slow', 'radio', 'user-personalization', '{"factors": 128, "iterations": 200}');
});

my $slow = $node->safe_psql('postgres', q{SELECT personalize.create_solution_version('radio-slow', wait => false)});
$node->poll_query_until('postgres', qq{
	SELECT status = 'CREATE IN_PROGRESS' FROM personalize.solution_version WHERE id = $slow})
  or die 'training did not start';

my ($ret, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT personalize.create_solution_version('radio-slow', wait => false)});
isnt($ret, 0, 'a second background training finds no free worker slot');
like($stderr, qr/could not start a background worker/, 'the error says so');
like($stderr, qr/max_worker_processes/, 'and its hint names max_worker_processes');
is($node->safe_psql('postgres', q{SELECT count(*) FROM personalize.solution_version}), '1',
	'the refused request left no version row');

# terminate the worker mid-training
is($node->safe_psql('postgres', qq{
	SELECT pg_terminate_backend(worker_pid) FROM personalize.solution_version WHERE id = $slow}),
	't', 'the training worker was terminated');
is($node->safe_psql('postgres', qq{SELECT personalize.wait_for_solution_version($slow, '30 s')}),
	'CREATE FAILED', 'wait_for_solution_version reports the version failed');
like($node->safe_psql('postgres', qq{SELECT failure_reason FROM personalize.solution_version WHERE id = $slow}),
	qr/exited before finishing/, 'with the reason');
is($node->safe_psql('postgres', qq{SELECT count(*) FROM personalize.model_item WHERE solution_version = $slow}),
	'0', 'and no model rows');

$node->stop;
done_testing();
