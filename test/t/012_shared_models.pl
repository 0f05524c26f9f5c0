# Item factors shared by all backends (src/model_shared.c): with personalize
# in shared_preload_libraries, the first backend to serve a version puts
# its factors in a shared segment and the next ones attach it; answers are
# the same as with a private copy per backend (personalize.shared_models =
# 0); a campaign moved to another version, or a version id reused after
# the extension is created anew, never gets the old factors; and a full
# directory drops its oldest segment while a backend still uses it.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('shared');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'personalize'
personalize.shared_models = 2
log_min_messages = debug1
});
$node->start;

is($node->safe_psql('postgres', 'SHOW personalize.shared_models'), '2', 'the setting is defined when preloaded');

my $setup = q{
	SET client_min_messages = warning;
	CREATE EXTENSION personalize;
	CREATE TABLE plays (user_id int, item_id int, ts bigint);
	INSERT INTO plays SELECT u, (u * 7 + j * j) % 400, u * 100 + j
	  FROM generate_series(1, 300) u, generate_series(1, 12) j;
	CREATE INDEX ON plays (user_id, ts);
	SELECT personalize.create_dataset_group('radio');
	SELECT personalize.create_dataset('radio', 'interactions', 'plays', event_time => 'ts');
	SELECT personalize.create_solution('radio-a', 'radio', 'user-personalization', '{"factors": 16, "iterations": 5, "seed": 1}');
	SELECT personalize.create_solution('radio-b', 'radio', 'user-personalization', '{"factors": 16, "iterations": 5, "seed": 2}');
	SELECT personalize.create_solution('radio-c', 'radio', 'user-personalization', '{"factors": 8, "iterations": 5, "seed": 3}');
	SELECT personalize.create_solution_version('radio-a') \g /dev/null
	SELECT personalize.create_solution_version('radio-b') \g /dev/null
	SELECT personalize.create_solution_version('radio-c') \g /dev/null
	-- no exploration: answers are compared with _recommend_version's
	SELECT personalize.create_campaign('radio', (SELECT min(id) FROM personalize.solution_versions), '{"exploration_weight": 0}');
};
$node->safe_psql('postgres', $setup);

my $answer = q{SELECT string_agg(item_id || ':' || round(score::numeric, 10), ',' ORDER BY ord)
	FROM personalize.recommend('radio', '7', 10) WITH ORDINALITY r(item_id, score, ord)};
my $by_version = q{SELECT string_agg(item_id || ':' || round(score::numeric, 10), ',' ORDER BY ord)
	FROM personalize._recommend_version(%d, '7', NULL, 10) WITH ORDINALITY r(item_id, score, ord)};
my ($va, $vb, $vc) = split /\n/, $node->safe_psql('postgres',
	'SELECT id FROM personalize.solution_versions ORDER BY id');

my $offset = -s $node->logfile;
my $first = $node->safe_psql('postgres', $answer);
ok($node->wait_for_log(qr/item factors of solution version $va put in shared memory/, $offset),
	'the first backend shares the factors');
$offset = -s $node->logfile;
my $second = $node->safe_psql('postgres', $answer);
ok($node->wait_for_log(qr/item factors of solution version $va attached from shared memory, not read/, $offset),
	'the next backend attaches them, without reading them from the model table');
is($second, $first, 'same answer from the shared copy');

# A session that keeps the segment attached while the directory drops it.
my $holder = $node->background_psql('postgres');
is($holder->query_safe($answer), $first, 'a long session serves version a');

# The campaign moves: another version, another segment, another answer.
$node->safe_psql('postgres', "SELECT personalize.update_campaign('radio', $vb)");
my $moved = $node->safe_psql('postgres', $answer);
is($moved, $node->safe_psql('postgres', sprintf($by_version, $vb)), 'moved campaign serves version b');
isnt($moved, $first, 'and not the factors of version a');

# A third version fills the two-slot directory: a's segment is dropped,
# the session holding it keeps serving, a new session loads a afresh.
$node->safe_psql('postgres', "SELECT personalize.update_campaign('radio', $vc)");
$node->safe_psql('postgres', $answer);
is($holder->query_safe(sprintf($by_version, $va)), $first, 'a dropped segment still serves the session attached to it');
$holder->quit;
is($node->safe_psql('postgres', sprintf($by_version, $va)), $first, 'a new session reloads version a');

# Created anew, the extension numbers versions from 1 again: a reused id
# with another creation time must not find the old segment.
$node->safe_psql('postgres', q{DROP EXTENSION personalize CASCADE; DROP TABLE plays;});
$setup =~ s/"seed": 1/"seed": 99/;
$node->safe_psql('postgres', $setup);
my ($va2) = split /\n/, $node->safe_psql('postgres', 'SELECT id FROM personalize.solution_versions ORDER BY id');
is($va2, $va, 'the version id is reused');
my $fresh = $node->safe_psql('postgres', $answer);
isnt($fresh, $first, 'the recreated version is not served from the old segment');

# A parallel worker serving a version no backend has shared yet keeps its
# own copy: it may not start the subtransaction that creating a segment
# takes ("cannot start subtransactions during a parallel operation").
my (undef, $vb2) = split /\n/, $node->safe_psql('postgres', 'SELECT id FROM personalize.solution_versions ORDER BY id');
my $in_worker = q{SET force_parallel_mode = on; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; };
like($node->safe_psql('postgres', $in_worker . 'EXPLAIN (COSTS OFF) ' . sprintf($by_version, $vb2)),
	qr/Gather/, 'the query runs in a parallel worker');
my $from_worker = $node->safe_psql('postgres', $in_worker . sprintf($by_version, $vb2));
is($from_worker, $node->safe_psql('postgres', sprintf($by_version, $vb2)),
	'a parallel worker serves a version not shared yet, as a backend does');

# Without sharing, the same answers.
$node->append_conf('postgresql.conf', 'personalize.shared_models = 0');
$node->restart;
is($node->safe_psql('postgres', $answer), $fresh, 'same answer with a private copy per backend');
is($node->safe_psql('postgres', sprintf($by_version, $vb)), $moved, 'and for version b');

$node->stop;
done_testing();
