# The scoring helper under a container's CPU limit (src/cpu_budget.c): a
# cgroup CPU quota of one CPU on a machine of two or more.  The helper
# counts the quota's CPU, not the host's, so that a backend never asks it
# for help (that would take the CPU from the backend) and scores alone.
# check.sh (as root) runs this file inside such a cgroup and sets
# PERSONALIZE_CPU_QUOTA=1; elsewhere it skips.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

plan skip_all => 'not inside a cgroup of one CPU (check.sh sets one up when run as root)'
  unless $ENV{PERSONALIZE_CPU_QUOTA};
# the CPUs of the affinity mask, from the kernel's own list ("0-1,4"): nproc
# may apply the quota itself
my $affinity = 0;
open(my $status, '<', '/proc/self/status') or die "cannot read /proc/self/status: $!";
while (<$status>)
{
	next unless /^Cpus_allowed_list:\s*(\S+)/;
	for my $range (split /,/, $1)
	{
		my ($first, $last) = split /-/, $range;
		$affinity += (defined $last ? $last : $first) - $first + 1;
	}
}
close $status;
plan skip_all => 'a quota of one CPU changes nothing on one CPU' unless $affinity >= 2;

my $node = PostgreSQL::Test::Cluster->new('quota');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'personalize'
log_min_messages = debug1
});
$node->start;

ok( $node->wait_for_log(
		qr/scoring helper started: CPU budget 1 \(affinity mask $affinity, cgroup CPU quota 1\)/),
	"the helper counts the quota's one CPU, not the $affinity of its affinity mask");

# 200 users over 3000 items, all of them old: the helper would score chunks
# of any request over scoring_helper_min_items (set to 2048 below).
$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION personalize;
	CREATE TABLE events (user_id int, item_id int, ts bigint);
	INSERT INTO events
	SELECT u, (hashint8(u::int8 * 100003 + j)::int8 + 2147483648) % 3000, 1600000000 + u * 60 + j
	  FROM generate_series(1, 200) u, generate_series(1, 30) j;
	INSERT INTO events SELECT 0, i, 1500000000 FROM generate_series(0, 2999) i;
	CREATE INDEX ON events (user_id, ts);
	SELECT personalize.create_dataset_group('shop');
	SELECT personalize.create_dataset('shop', 'interactions', 'events', event_time => 'ts');
	SELECT personalize.create_solution('shop', 'shop', 'user-personalization', '{"factors": 16, "iterations": 3, "seed": 5}');
	SELECT personalize.create_campaign('plain', personalize.create_solution_version('shop'), '{"exploration_weight": 0}');
});

# Requests whose catalogue is over the helper's threshold: what the
# backends said about the helper (DEBUG2), and the answers.
my ($out, $err) = ('', '');
$node->psql('postgres', q{
	SET personalize.scoring_helper_min_items = 2048;
	SET client_min_messages = debug2;
	SELECT count(*), count(DISTINCT u) FROM generate_series(1, 200, 7) u,
	       LATERAL personalize.recommend('plain', u::text, 10) r},
	stdout => \$out, stderr => \$err, on_error_die => 1);
is($out, '290|29', 'requests answered');
my $asked = () = $err =~ /scoring helper (scored items|failed)/g;
my $no_cpu = () = $err =~ /no CPU free for the scoring helper \(CPU budget 1\)/g;
is($asked, 0, 'no request asked the helper');
is($no_cpu, 29, 'each found no CPU free for it under the quota');

done_testing();
