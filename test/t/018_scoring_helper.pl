# The scoring helper (src/scoring_helper.c): with personalize preloaded, a
# background worker scores part of a catalogue of at least
# personalize.scoring_helper_min_items items while the backend scores the
# rest (two chunks under 8192 items, else chunks of 4096 items, the
# backend's from the front, the helper's from the back), and adds
# exploration's bonus to its part when every item is young.  Its answers
# must be the same, to the last digit, as the backend's alone; a helper
# that is terminated leaves requests served by the backend alone (same
# answers), and the postmaster starts it again.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('helper');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'personalize'
log_min_messages = debug1
});
$node->start;

# A backend asks the helper only when a CPU is free for it besides its
# own: the CPUs the helper counted (its affinity mask, capped by a cgroup
# CPU quota), as it logs them when it starts.
$node->wait_for_log(qr/scoring helper started: CPU budget \d+/)
  or die 'the scoring helper did not start';
my ($cpus) = slurp_file($node->logfile) =~ /scoring helper started: CPU budget (\d+)/;
plan skip_all => "the helper needs a CPU budget of two CPUs, not $cpus" unless $cpus >= 2;

is($node->safe_psql('postgres', 'SHOW personalize.scoring_helper'), 'on',
	'the setting is defined when preloaded, on by default');

# 600 users over 5000 items; items below 2500 are old, the rest young.
$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION personalize;
	CREATE FUNCTION pg_temp.draw(a int, b int) RETURNS float8 LANGUAGE sql IMMUTABLE
		RETURN (hashint8(a::int8 * 100003 + b)::int8 + 2147483648) / 4294967296.0;
	CREATE TABLE events (user_id int, item_id int, ts bigint);
	INSERT INTO events
	SELECT u, item, 1600000000 + u * 60 + j - CASE WHEN item < 2500 THEN 200 * 86400 ELSE 0 END
	  FROM generate_series(1, 600) u, generate_series(1, 40) j,
	       LATERAL (SELECT floor(5000 * pg_temp.draw(u, j) ^ 2)::int AS item) i;
	INSERT INTO events SELECT 0, i, 1500000000 FROM generate_series(0, 4999) i;
	CREATE INDEX ON events (user_id, ts);
	SELECT personalize.create_dataset_group('shop');
	SELECT personalize.create_dataset('shop', 'interactions', 'events', event_time => 'ts');
	SELECT personalize.create_solution('shop', 'shop', 'user-personalization', '{"factors": 24, "iterations": 4, "seed": 5}');
	SELECT personalize.create_campaign('plain', personalize.create_solution_version('shop'), '{"exploration_weight": 0}');
	SELECT personalize.create_campaign('young', (SELECT max(id) FROM personalize.solution_versions), '{"exploration_weight": 0.5, "exploration_item_age_cut_off": 30}');
	SELECT personalize.create_campaign('all-young', (SELECT max(id) FROM personalize.solution_versions), '{"exploration_weight": 0.5, "exploration_item_age_cut_off": 100000}');
});

# Every request's rows (30 per user of users, for each of campaigns),
# rank order, with full-precision scores; and what the backend said about
# the helper (DEBUG2).
sub requests
{
	my ($min_items, $campaigns, $users, $kernel) = @_;
	my ($out, $err) = ('', '');
	$kernel //= 'auto';
	$node->psql('postgres', qq{
		SET personalize.scoring_helper_min_items = $min_items;
		SET personalize.compact_kernel = $kernel;
		SET extra_float_digits = 3;
		SET client_min_messages = debug2;
		SELECT string_agg(concat_ws(' ', c, u, ord, item_id, score), E'\n' ORDER BY c, u, ord)
		  FROM unnest(ARRAY[$campaigns]) c, $users u,
		       LATERAL (SELECT r.*, row_number() OVER () AS ord
		                  FROM personalize.recommend(c, u::text, 30) r) r},
		stdout => \$out, stderr => \$err, on_error_die => 1);
	return ($out, $err);
}

sub answers
{
	my ($min_items) = @_;
	my ($out, $err) = requests($min_items, q{'plain', 'young', 'all-young'}, 'generate_series(1, 600, 37)');
	# two chunks: the last (from 2496, or 2048 for the bonus) is the
	# helper's, the first goes to whichever comes for it first
	my $helped = grep { $_ == 0 || $_ == 2496 } $err =~ /scoring helper scored items (\d+) to 4999/g;
	my $failed = () = $err =~ /scoring helper failed/g;
	my $bonus = grep { $_ == 0 || $_ == 2048 } $err =~ /scoring helper added the bonus of items (\d+) to 4999/g;
	return ($out, $helped, $failed, $bonus);
}

my ($alone, $alone_helped, undef, $alone_bonus) = answers(0);
ok(length($alone) > 1000, 'requests answered');
is($alone_helped + $alone_bonus, 0, 'with scoring_helper_min_items = 0 the backend scores alone');

my ($helped_answer, $helped, $failed, $bonus) = answers(2048);
is($helped, 51, 'every request of a 5000-item catalogue got the helper');
is($failed, 0, 'and none failed');
is($bonus, 17, 'the helper added the bonus of every all-young request');
is($helped_answer, $alone, 'the same answers, to the last digit, with the helper');

# After a request the helper polls for the next (scoring_helper_linger_us)
# rather than sleep at once: the requests of one statement, back to back,
# find it polling (DEBUG2 in the server log).  A reload reaches it; at 0 it
# sleeps at once, and nothing else changes.
is($node->safe_psql('postgres', 'SHOW personalize.scoring_helper_linger_us'), '500',
	'the helper lingers 500 us by default');

# Reload with linger_us = $us and DEBUG2 in the server log; then the
# requests of answers(2048) and how many the helper took while polling.
sub lingering
{
	my ($us) = @_;
	my $offset = -s $node->logfile;
	$node->safe_psql('postgres', "ALTER SYSTEM SET personalize.scoring_helper_linger_us = $us");
	$node->safe_psql('postgres', 'ALTER SYSTEM SET log_min_messages = debug2');
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	$node->wait_for_log(qr/scoring helper reloaded its configuration \(linger $us us\)/, $offset)
	  or return;
	$offset = -s $node->logfile;
	my ($answer, $helped) = answers(2048);
	my $caught = () = slurp_file($node->logfile, $offset) =~ /scoring helper took a request while polling/g;
	return ($answer, $helped, $caught);
}

my ($polled_answer, $polled_helped, $polled) = lingering(500);
ok(defined $polled, 'the helper reloads its configuration');
is($polled_helped, 51, 'a polling helper helps every request');
cmp_ok($polled, '>', 0, 'and takes some of the back-to-back requests while polling');
note("$polled of 68 hand-offs (51 scans, 17 bonus passes) found the helper polling");
is($polled_answer, $alone, 'with the same answers');
my ($sleeping_answer, $sleeping_helped, $sleeping_polled) = lingering(0);
ok(defined $sleeping_polled, 'a reload turns the polling off');
is($sleeping_helped, 51, 'a helper that sleeps at once still helps every request');
is($sleeping_polled, 0, 'and never takes one while polling');
is($sleeping_answer, $alone, 'with the same answers');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET personalize.scoring_helper_linger_us');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET log_min_messages');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');

my (undef, $too_small) = answers(5001);
is($too_small, 0, 'a catalogue under scoring_helper_min_items is scored alone');

# 20,000 items, all young: four chunks (the last one 7712 items), the
# last always the helper's, the others to whichever comes for them first
# (the backend from the front, the helper from the back).
# A catalogue of $items items, every one young, named $name: $users users
# of $events events each, and user 0 with every item (so that the model
# has them all); its campaign explores with weight 0.5.
sub all_young_catalogue
{
	my ($name, $items, $users, $events, $hyperparameters) = @_;
	$node->safe_psql('postgres', qq{
		SET client_min_messages = warning;
		CREATE TABLE ${name}_events AS
		SELECT u AS user_id, (hashint4(u * 1000 + j)::int8 + 2147483648) % $items AS item_id, 1600000000 + j AS ts
		  FROM generate_series(1, $users) u, generate_series(1, $events) j;
		INSERT INTO ${name}_events SELECT 0, i, 1600000000 FROM generate_series(0, $items - 1) i;
		CREATE INDEX ON ${name}_events (user_id, ts);
		SELECT personalize.create_dataset_group('$name');
		SELECT personalize.create_dataset('$name', 'interactions', '${name}_events', event_time => 'ts');
		SELECT personalize.create_solution('$name', '$name', 'user-personalization', '$hyperparameters');
		SELECT personalize.create_campaign('$name', personalize.create_solution_version('$name'),
			'{"exploration_weight": 0.5, "exploration_item_age_cut_off": 100000}');
	});
}

all_young_catalogue('wide', 20000, 300, 80, '{"factors": 16, "iterations": 2, "seed": 3}');

sub wide_answers
{
	my ($min_items) = @_;
	my ($out, $err) = requests($min_items, q{'wide'}, 'generate_series(1, 300, 13)');
	my @scored = $err =~ /scoring helper scored items (\d+) to 19999/g;
	my @bonus = $err =~ /scoring helper added the bonus of items (\d+) to 19999/g;
	return ($out, \@scored, \@bonus);
}

my ($wide_alone, $wide_alone_scored) = wide_answers(0);
ok(length($wide_alone) > 1000 && @$wide_alone_scored == 0, 'a 20,000-item catalogue scored alone');
my ($wide_helped, $wide_scored, $wide_bonus) = wide_answers(2048);
is(scalar(@$wide_scored), 24, 'every request over 20,000 items got the helper');
is(scalar(grep { $_ % 4096 == 0 && $_ <= 12288 } @$wide_scored), 24,
	'which scored whole chunks from the back, the last at least');
is(scalar(grep { $_ % 4096 == 0 && $_ <= 12288 } @$wide_bonus), 24,
	'and added the bonus to whole chunks from the back');
is($wide_helped, $wide_alone, 'the same answers, to the last digit, in chunks');

# Terminate the helper: the backend serves alone meanwhile, and the
# postmaster starts the helper again (bgw_restart_time 10 s).
my $postmaster = (split /\n/, slurp_file($node->data_dir . '/postmaster.pid'))[0];
my ($helper_pid) = grep { /\S/ } map {
	my ($pid, $cmd) = /^\s*(\d+)\s+(.*)$/;
	defined $cmd && $cmd =~ /personalize scoring helper/ ? $pid : ()
} split /\n/, `ps -o pid=,args= --ppid $postmaster`;
ok(defined $helper_pid, 'the helper runs as a child of the postmaster');
kill 'TERM', $helper_pid;
my $gone = 0;
for (1 .. 100)
{
	if (!kill(0, $helper_pid)) { $gone = 1; last; }
	usleep(100_000);
}
ok($gone, 'the helper exits on SIGTERM');

my ($without, $without_helped) = answers(2048);
is($without, $alone, 'while the helper is down, the same answers');
is($without_helped, 0, 'from the backend alone');

my $back = 0;
for (1 .. 60)
{
	my (undef, $n) = answers(2048);
	if ($n > 0) { $back = 1; last; }
	sleep 1;
}
ok($back, 'the postmaster starts the helper again');
my ($again) = answers(2048);
is($again, $alone, 'and its answers are the same');

# Over 2^19 items or more the scan writes the logits with streaming
# stores (compact.c), the backend and the helper alike; the portable loop
# does not, and must give the same answers to the last digit.  The
# segments in the main shared memory, as the README advises at this size.
$node->append_conf('postgresql.conf', "min_dynamic_shared_memory = 128MB\n");
$node->restart;
all_young_catalogue('huge', 530000, 100, 60, '{"factors": 8, "iterations": 1, "seed": 3}');

sub huge_answers
{
	my ($min_items, $kernel) = @_;
	my ($out, $err) = requests($min_items, q{'huge'}, 'generate_series(1, 100, 9)', $kernel);
	my @scored = $err =~ /scoring helper scored items (\d+) to 529999/g;
	return ($out, scalar(@scored));
}

my ($huge_helped, $huge_scored) = huge_answers(2048, 'auto');
is($huge_scored, 12, 'every request over 530,000 items got the helper');
my ($huge_alone, $huge_alone_scored) = huge_answers(0, 'auto');
ok(length($huge_alone) > 1000 && $huge_alone_scored == 0, 'a 530,000-item catalogue scored alone');
is($huge_helped, $huge_alone, 'the same answers, to the last digit, with the helper');
my ($huge_portable) = huge_answers(0, 'portable');
is($huge_portable, $huge_alone, 'and with the portable loop, which does not stream');

# Without shared models the helper has nothing to read: not started.
$node->append_conf('postgresql.conf', "personalize.shared_models = 0\n");
$node->restart;
my (undef, $unshared) = answers(2048);
is($unshared, 0, 'with personalize.shared_models = 0 there is no helper');

$node->stop;
done_testing();
