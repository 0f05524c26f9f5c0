# A full disk while a model is written.  The server runs with a file size
# limit (ulimit -f 4096: 2 MB in /bin/sh's 512-byte blocks; WAL segments of
# 1 MB stay under it), so writing
# the rows of a large model fails with "could not extend file ... File too
# large", as on a full disk, while everything small goes on working.
# Afterwards: the version is CREATE FAILED with that reason and has no model
# rows, in a session and in a background worker; the campaign serves its
# previous version unchanged; amcheck finds the extension's indexes and
# tables sound; and once the limit is lifted the same training succeeds.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FileSizeLimit;

my $node = PostgreSQL::Test::Cluster->new('full');
$node->init(extra => [ '--wal-segsize=1' ]);
$node->append_conf('postgresql.conf', "max_wal_size = 32MB\nmin_wal_size = 4MB\n");

start_with_file_size_limit($node, 4096);

$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION personalize;
	CREATE EXTENSION amcheck;
	CREATE TABLE plays (user_id int, item_id int, ts bigint);
	INSERT INTO plays SELECT u, (u * 7 + j * 13) % 1200, u * 100 + j
	  FROM generate_series(1, 1500) u, generate_series(1, 12) j;
	CREATE INDEX ON plays (user_id, ts);
	SELECT personalize.create_dataset_group('radio');
	SELECT personalize.create_dataset('radio', 'interactions', 'plays', event_time => 'ts');
	SELECT personalize.create_solution('radio-pop', 'radio', 'popularity-count');
	SELECT personalize.create_campaign('radio', personalize.create_solution_version('radio-pop'));
	SELECT personalize.create_solution('radio-ease', 'radio', 'ease');
});
my $answers = q{SELECT string_agg(item_id || ':' || round(score::numeric, 6), ',') FROM personalize.recommend('radio', '42', 10)};
my $before = $node->safe_psql('postgres', $answers);

# ease stores 1200 x 1200 weights: about 5.5 MB of model rows
my ($ret, $out, $err) = $node->psql('postgres', q{SET client_min_messages = warning;
	SELECT personalize.create_solution_version('radio-ease')});
is($ret, 0, 'the training call returns (its failure is recorded)');
my ($status, $reason) = split /\|/, $node->safe_psql('postgres',
	q{SELECT status, failure_reason FROM personalize.solution_versions WHERE solution = 'radio-ease' ORDER BY id DESC LIMIT 1});
is($status, 'CREATE FAILED', 'a model too large for the disk leaves its version CREATE FAILED');
like($reason, qr/could not extend|File too large|No space/, "with the reason ($reason)");

my $worker_version = $node->safe_psql('postgres', q{SET client_min_messages = warning;
	SELECT personalize.create_solution_version('radio-ease', wait => false)});
is($node->safe_psql('postgres', "SELECT personalize.wait_for_solution_version($worker_version, '120 s')"),
	'CREATE FAILED', 'so does the same training in a background worker');

is($node->safe_psql('postgres', q{
	SELECT count(*) FROM personalize.model_item m JOIN personalize.solution_version v ON v.id = m.solution_version
	 WHERE v.status <> 'ACTIVE'}), '0', 'no model rows of the failed versions');
is($node->safe_psql('postgres', q{SELECT count(*) FROM personalize.solution_version
	WHERE status IN ('CREATE PENDING', 'CREATE IN_PROGRESS')}), '0', 'nothing left in progress');
is($node->safe_psql('postgres', $answers), $before, 'the campaign serves its previous version unchanged');
my ($check_ret, $checked, $check_err) = $node->psql('postgres', q{
	SELECT c.relname, bt_index_check(c.oid, true)
	  FROM pg_class c JOIN pg_am a ON a.oid = c.relam
	 WHERE c.relnamespace = 'personalize'::regnamespace AND c.relkind = 'i' AND a.amname = 'btree'});
is($check_ret, 0, 'amcheck: bt_index_check (heapallindexed) passes on every index of the extension')
  or diag($check_err);
cmp_ok(scalar(split /\n/, $checked), '>=', 10, 'all the indexes were checked');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_class c, LATERAL verify_heapam(c.oid)
	 WHERE c.relnamespace = 'personalize'::regnamespace AND c.relkind = 'r'}), '0',
	'amcheck: verify_heapam finds no corruption in the tables of the extension');

# with room again, the same training succeeds
$node->restart;
$node->safe_psql('postgres', q{VACUUM personalize.model_item});
my $retry = $node->safe_psql('postgres', q{SET client_min_messages = warning;
	SELECT personalize.create_solution_version('radio-ease')});
is($node->safe_psql('postgres', "SELECT status FROM personalize.solution_versions WHERE id = $retry"),
	'ACTIVE', 'without the limit the same training succeeds');

$node->stop;
done_testing();
