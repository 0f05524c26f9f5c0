# Faults in parallel ALS training (src/als_parallel.c), each followed by a
# check that no helper process is left behind and that the next training
# works:
#  1. A helper terminated (SIGTERM, as an administrator's kill would) in the
#     middle of a background training: the version ends CREATE FAILED with
#     "an ALS helper process exited before finishing its rows", and the
#     other helper exits; whether or not the helper held rows when killed
#     (the leader checks its helpers after every half sweep); then five
#     more, killed 0 to 300 ms after they appear.
#  2. The training process cancelled (pg_cancel_backend) while its helpers
#     work: the version ends CREATE FAILED with the cancel, and the helpers
#     exit.
#  3. max_worker_processes leaves no slot for helpers: training runs in
#     the training process alone and gives the same model and metrics
#     (held-out users scored by helpers too, src/evaluate_parallel.c).
# Helpers are found by their process title, which names the training
# process ("personalize ALS helper for PID n"), so other clusters on the
# machine are never touched.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('parallel_faults');
$node->init;
$node->append_conf('postgresql.conf', 'max_worker_processes = 8');
$node->start;

# 300,000 interactions: 6,000 users x 50 events over 1,070 items, in 20
# taste clusters.  A training of 200 iterations takes seconds, long enough
# to find its helpers.
$node->safe_psql('postgres', q{
	CREATE EXTENSION personalize;
	CREATE TABLE events (user_id int, item_id int, ts bigint);
	INSERT INTO events
	SELECT u, ((u % 20) * 100 + (u * 7 + j * j) % 100 + CASE WHEN j % 5 = 0 THEN 13 * j ELSE 0 END) % 2000,
	       1700000000 + u * 100 + j
	  FROM generate_series(1, 6000) u, generate_series(1, 50) j;
	SELECT personalize.create_dataset_group('g');
	SELECT personalize.create_dataset('g', 'interactions', 'events', event_time => 'ts');
	SELECT personalize.create_solution('long', 'g', 'user-personalization', '{"iterations": 200}');
	SELECT personalize.create_solution('short', 'g', 'user-personalization', '{"iterations": 3}');
});

# Helpers of the training process pid (their process titles name it).
sub helpers
{
	my ($pid) = @_;
	my @pids = grep { /^\d+$/ } split /\s+/, `pgrep -f 'personalize ALS helper for PID $pid( |\$)'`;
	return @pids;
}

# Wait (up to 60 s) until the training process pid has its two helpers; returns them.
sub wait_for_helpers
{
	my ($pid) = @_;
	for (my $i = 0; $i < 1200; $i++)
	{
		my @h = helpers($pid);
		return @h if @h >= 2;	# both helpers (they start a few ms apart)
		usleep(50_000);
	}
	return helpers($pid);
}

# Wait (up to 30 s) until the training process pid has no helpers left.
sub no_helpers_left
{
	my ($pid) = @_;
	for (my $i = 0; $i < 600; $i++)
	{
		return 1 if !helpers($pid);
		usleep(50_000);
	}
	return 0;
}

# Start a background training of solution; returns (version, worker pid).
sub start_training
{
	my ($solution) = @_;
	my $version = $node->safe_psql('postgres',
		"SELECT personalize.create_solution_version('$solution', wait => false)");
	my $pid;
	for (my $i = 0; $i < 600 && !$pid; $i++)
	{
		$pid = $node->safe_psql('postgres',
			"SELECT worker_pid FROM personalize.solution_version WHERE id = $version");
		usleep(50_000) if !$pid;
	}
	return ($version, $pid);
}

# 1. a helper terminated mid-training
my ($v1, $pid1) = start_training('long');
my @h1 = wait_for_helpers($pid1);
is(scalar(@h1), 2, 'the training started two helpers');
kill 'TERM', $h1[0];
is($node->safe_psql('postgres', "SELECT personalize.wait_for_solution_version($v1, '120 s')"),
	'CREATE FAILED', 'terminating a helper fails the version');
like($node->safe_psql('postgres', "SELECT failure_reason FROM personalize.solution_version WHERE id = $v1"),
	qr/an ALS helper process exited before finishing its rows/, 'with a reason naming the helper');
ok(no_helpers_left($pid1), 'and the other helper exits');

# 1b. more kills, at other moments: as the helper starts (its SIGTERM used to
# land in the middle of its set-up, where exiting from the signal handler
# could wait forever on a lock the interrupted code held: 2 trainings in 40
# hung so) and while it solves rows
for my $delay_ms (0, 0, 20, 100, 300)
{
	my ($v, $pid) = start_training('long');
	my @h = wait_for_helpers($pid);
	is(scalar(@h), 2, "training $v started two helpers") or next;
	usleep($delay_ms * 1000);
	kill 'TERM', $h[-1];
	is($node->safe_psql('postgres', "SELECT personalize.wait_for_solution_version($v, '60 s')"),
		'CREATE FAILED', "a helper terminated ${delay_ms} ms after it appeared fails the version");
	ok(no_helpers_left($pid), '  and no helper is left');
}

# 2. the training process cancelled while its helpers work
my ($v2, $pid2) = start_training('long');
my @h2 = wait_for_helpers($pid2);
is(scalar(@h2), 2, 'the second training started two helpers');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid2)");
is($node->safe_psql('postgres', "SELECT personalize.wait_for_solution_version($v2, '120 s')"),
	'CREATE FAILED', 'cancelling the training process fails the version');
like($node->safe_psql('postgres', "SELECT failure_reason FROM personalize.solution_version WHERE id = $v2"),
	qr/canceling statement due to user request/, 'with the cancel as the reason');
ok(no_helpers_left($pid2), 'and its helpers exit');

# 3. no worker slot for helpers: the same model, trained alone
my $with = $node->safe_psql('postgres', q{SET client_min_messages = warning;
	SELECT personalize.create_solution_version('short')});
$node->append_conf('postgresql.conf', 'max_worker_processes = 1');
$node->restart;
my $without = $node->safe_psql('postgres', q{SET client_min_messages = warning;
	SELECT personalize.create_solution_version('short')});
is($node->safe_psql('postgres', qq{
	SELECT count(*) FILTER (WHERE a.factors IS DISTINCT FROM b.factors) || ' of ' || count(*)
	  FROM personalize.model_item a JOIN personalize.model_item b USING (item_id)
	 WHERE a.solution_version = $with AND b.solution_version = $without}),
	'0 of 1070', 'without worker slots the training process trains alone, to the same factors');
like(slurp_file($node->logfile), qr/ALS training used 0 helper processes/,
	'and the log says it had no helpers');
is($node->safe_psql('postgres', qq{
	SELECT a.metrics = b.metrics FROM personalize.solution_version a, personalize.solution_version b
	 WHERE a.id = $with AND b.id = $without}),
	't', 'the same metrics, the held-out users scored with helpers and alone');
# (how many batches each process takes depends on the scheduler: at 20M
# interactions the helpers took 145-154 of 217)
like(slurp_file($node->logfile),
	qr/evaluation of 600 held-out users used 2 helper processes, which scored \d+ of 10 batches/,
	'with helpers started for the held-out users');

$node->stop;
done_testing();
