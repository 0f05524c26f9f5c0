# Load: 8 clients call recommend and personalized_rank (pgbench) while the
# solution is retrained twice and the campaign, following it
# (sync_with_latest_solution_version), switches versions twice.  A ninth
# client records the answer for one user on every call.  Asserts: no client
# error, both switches happened during the load, and every recorded answer
# is exactly the answer of one complete version (never a mix of two).
# Reports throughput and the median and p99 latency.
#
# PERSONALIZE_LOAD_SECONDS sets the duration (default 20; "several minutes"
# is PERSONALIZE_LOAD_SECONDS=300, which `make loadcheck` runs).
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $seconds = $ENV{PERSONALIZE_LOAD_SECONDS} || 20;
my $node = PostgreSQL::Test::Cluster->new('load');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 40\n");
$node->start;

$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION personalize;
	CREATE TABLE plays (user_id int, item_id int, ts bigint);
	INSERT INTO plays SELECT u, (u * 7 + j * 13 + (u % 5) * j) % 800, u * 100 + j
	  FROM generate_series(1, 3000) u, generate_series(1, 25) j;
	CREATE INDEX ON plays (user_id, ts);
	ANALYZE plays;
	SELECT personalize.create_dataset_group('radio');
	SELECT personalize.create_dataset('radio', 'interactions', 'plays', event_time => 'ts');
	SELECT personalize.create_solution('radio-up', 'radio', 'user-personalization', '{"factors": 16, "iterations": 4}');
	SELECT personalize.create_campaign('radio', personalize.create_solution_version('radio-up'),
		'{"sync_with_latest_solution_version": true, "exploration_weight": 0}');
	CREATE TABLE answers (at timestamptz DEFAULT clock_timestamp(), version bigint, items text);
});
my $first = $node->safe_psql('postgres', q{SELECT solution_version FROM personalize.campaigns WHERE name = 'radio'});

my $dir = PostgreSQL::Test::Utils::tempdir();
open(my $fh, '>', "$dir/load.sql") or die;
print $fh q{\set u random(1, 3000)
SELECT count(*) FROM personalize.recommend('radio', :u::text, 10);
SELECT count(*) FROM personalize.personalized_rank('radio', :u::text, ARRAY['1', '2', '3', '50', '400', '799']);
};
close $fh;
open($fh, '>', "$dir/watch.sql") or die;
print $fh q{INSERT INTO answers (items) SELECT string_agg(item_id || ':' || round(score::numeric, 9), ',') FROM personalize.recommend('radio', '42', 10);
};
close $fh;

my @connect = ('-h', $node->host, '-p', $node->port, 'postgres');
my ($load_out, $load_err, $watch_out, $watch_err) = ('', '', '', '');
my $load = IPC::Run::start(
	[ 'pgbench', '-n', '-T', $seconds, '-c', '8', '-j', '2', '-f', "$dir/load.sql",
	  '-l', "--log-prefix=$dir/load", @connect ],
	'>', \$load_out, '2>', \$load_err);
my $watch = IPC::Run::start(
	[ 'pgbench', '-n', '-T', $seconds, '-c', '1', '-f', "$dir/watch.sql", @connect ],
	'>', \$watch_out, '2>', \$watch_err);

# two retrains during the load, each switching the campaign
my $started = time;
my @switches;
for my $at ($seconds * 0.25, $seconds * 0.6)
{
	sleep($at - (time - $started)) if $at > time - $started;
	my $version = $node->safe_psql('postgres', q{SET client_min_messages = warning;
		INSERT INTO plays SELECT u, (u * 3 + 11) % 800, 10000000 + u FROM generate_series(1, 3000, 7) u;
		SELECT personalize.create_solution_version('radio-up')});
	push @switches, [ $version, time - $started ];
}
my $load_ok = $load->finish;
my $watch_ok = $watch->finish;

ok($load_ok, 'the 8 load clients finished without error') or diag($load_err);
ok($watch_ok, 'the watching client finished without error') or diag($watch_err);
my ($transactions) = $load_out =~ /number of transactions actually processed: (\d+)/;
my ($failed) = $load_out =~ /number of failed transactions: (\d+)/;
cmp_ok($transactions // 0, '>', 0, 'the load ran');
is($failed // 0, 0, 'no failed transactions');
for my $s (@switches)
{
	cmp_ok($s->[1], '<', $seconds, "version $s->[0] was deployed during the load");
}
is($node->safe_psql('postgres', q{SELECT solution_version FROM personalize.campaigns WHERE name = 'radio'}),
	$switches[-1][0], 'the campaign switched to the last version');

# every answer the watcher saw is one version's whole answer (the campaign
# does not explore, so its answers equal _recommend_version's)
my $versions = join(',', $first, map { $_->[0] } @switches);
my $mixed = $node->safe_psql('postgres', qq{
	WITH expected AS (
		SELECT v AS version, string_agg(r.item_id || ':' || round(r.score::numeric, 9), ',') AS items
		  FROM unnest(ARRAY[$versions]::bigint[]) v,
		       LATERAL personalize._recommend_version(v, '42', NULL, 10) r
		 GROUP BY v)
	SELECT count(*) FROM answers a WHERE NOT EXISTS (SELECT 1 FROM expected e WHERE e.items = a.items)});
my $seen = $node->safe_psql('postgres', qq{
	WITH expected AS (
		SELECT v AS version, string_agg(r.item_id || ':' || round(r.score::numeric, 9), ',') AS items
		  FROM unnest(ARRAY[$versions]::bigint[]) v,
		       LATERAL personalize._recommend_version(v, '42', NULL, 10) r
		 GROUP BY v)
	SELECT count(DISTINCT e.version) || '/' || count(*) FROM answers a JOIN expected e ON e.items = a.items});
is($mixed, '0', 'every recorded answer is exactly one complete version\'s answer');
like($seen, qr{^[23]/}, "the watcher saw the versions switch ($seen answers matched)");

# latency from pgbench's per-transaction logs (microseconds, third field)
my @latencies;
for my $log (glob("$dir/load*"))
{
	next if $log =~ /\.sql$/;
	open(my $in, '<', $log) or die;
	while (<$in>)
	{
		my @f = split;
		push @latencies, $f[2] / 1000.0 if @f >= 3;
	}
	close $in;
}
@latencies = sort { $a <=> $b } @latencies;
my $p = sub { $latencies[ int($_[0] * $#latencies) ] };
diag(sprintf('load: %d s, 8 clients, %d transactions (recommend + personalized_rank), %.0f tps, '
	  . 'median %.2f ms, p99 %.2f ms, 2 version switches, 0 errors',
	$seconds, scalar(@latencies), @latencies / $seconds, $p->(0.5), $p->(0.99)));

$node->stop;
done_testing();
