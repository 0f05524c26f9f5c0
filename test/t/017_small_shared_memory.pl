# No room for the shared memory segment of a parallel training (as with
# Docker's default 64 MB /dev/shm): the training goes on in its own
# process alone instead of failing, says why in the server log, and gives
# the same model and metrics as a training told to use no helpers.  The
# server runs with a file size limit (ulimit -f 16384: 8 MB in /bin/sh's
# 512-byte blocks), which makes the creation of a larger segment fail as
# a full /dev/shm does ("File too large" rather than "No space left on
# device"), while the tables, WAL segments of 1 MB and the stored model
# stay under it.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FileSizeLimit;

my $node = PostgreSQL::Test::Cluster->new('small_shm');
$node->init(extra => [ '--wal-segsize=1' ]);
$node->append_conf('postgresql.conf',
	"max_wal_size = 32MB\nmin_wal_size = 4MB\nmax_worker_processes = 8\n");

start_with_file_size_limit($node, 16384);

# 100,000 interactions of 50,000 users over 500 items: a table and an
# index of about 4 MB each, but an ALS segment of about 15 MB (the user factors alone, 50,000
# x 64 floats, take 12.8 MB)
$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION personalize;
	CREATE TABLE clicks (user_id int, item_id int, ts bigint);
	INSERT INTO clicks SELECT u, ((u % 10) * 50 + (u * 7 + j * 13) % 50), u * 10 + j
	  FROM generate_series(1, 50000) u, generate_series(0, 1) j;
	CREATE INDEX ON clicks (user_id, ts) INCLUDE (item_id);
	SELECT personalize.create_dataset_group('g');
	SELECT personalize.create_dataset('g', 'interactions', 'clicks', event_time => 'ts');
	SELECT personalize.create_solution('up', 'g', 'user-personalization', '{"iterations": 3}');
});
cmp_ok($node->safe_psql('postgres', q{
	SELECT max(pg_relation_size(r)) FROM (SELECT 'clicks'::regclass UNION ALL
	  SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'clicks'::regclass) AS t(r)}),
	'<', 8 * 1024 * 1024, 'the files of the interactions stay under the file size limit');

my $parallel = q{SET client_min_messages = warning;
	SET personalize.min_parallel_training_interactions = 1000;
	SET personalize.max_training_workers = 2;
};
my $log_offset = -s $node->logfile;
my $version = $node->safe_psql('postgres', $parallel . q{SELECT personalize.create_solution_version('up')});
my $row = q{SELECT status || ' ' || coalesce(failure_reason, '') FROM personalize.solution_versions WHERE id = };
is($node->safe_psql('postgres', $row . $version), 'ACTIVE ', 'with no room for its segment the training succeeds');
my $log = substr(slurp_file($node->logfile), $log_offset);
like($log,
	qr/could not create a shared memory segment of \d+ bytes for the ALS helpers of a training: could not resize shared memory segment .*File too large/,
	'the server log says why the training had no helpers');
like($log, qr/HINT:  The training goes on in its own process alone; a larger \/dev\/shm/,
	'with a hint');
my @refusals = ($log =~ /could not create a shared memory segment/g);
is(scalar(@refusals), 1, 'once: the fit on all data, whose segment is larger still, does not try again');
unlike($log, qr/ALS training used \d+ helper/, 'no ALS helper was started');

$log_offset = -s $node->logfile;
my $background = $node->safe_psql('postgres',
	$parallel . q{SELECT personalize.create_solution_version('up', wait => false)});
is($node->safe_psql('postgres', "SELECT personalize.wait_for_solution_version($background, '120 s')"),
	'ACTIVE', 'so does a training in a background worker');
$log = substr(slurp_file($node->logfile), $log_offset);
like($log, qr/could not create a shared memory segment of \d+ bytes for the ALS helpers of a training/,
	'which logs why too');
unlike($log, qr/ALS training used \d+ helper/, 'and starts no ALS helper');

my $alone = $node->safe_psql('postgres', q{SET client_min_messages = warning;
	SET personalize.max_training_workers = 0;
	SELECT personalize.create_solution_version('up')});
my $metrics = q{SELECT metrics::text FROM personalize.solution_versions WHERE id = };
my $alone_metrics = $node->safe_psql('postgres', $metrics . $alone);
like($alone_metrics, qr/normalized_discounted_cumulative_gain_at_10/, 'the versions have metrics');
is($node->safe_psql('postgres', $metrics . $version), $alone_metrics,
	'the same metrics as a training told to use no helpers');
is($node->safe_psql('postgres', $metrics . $background), $alone_metrics, 'in the background too');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM personalize.model_item a JOIN personalize.model_item b USING (item_id)
	 WHERE a.solution_version = $version AND b.solution_version = $alone AND a.factors IS DISTINCT FROM b.factors}),
	'0', 'and the same item factors');

$node->stop;
done_testing();
