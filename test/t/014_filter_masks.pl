# Item masks of item-attribute filters (src/filter_mask.c): a backend keeps
# which of a model's items pass such a filter and reuses it across
# statements; it must never serve a stale answer.  Every answer of the
# masked path is compared with the same filter written as an SQL predicate,
# which always runs its query: after another session commits a change to the
# items, within a REPEATABLE READ transaction that must not see it, after the
# session's own uncommitted change and its rollback, and for a role that may
# not read the items.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('masks');
$node->init;
$node->append_conf('postgresql.conf', "log_min_messages = debug2\n");
$node->start;

$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION personalize;
	CREATE TABLE plays (user_id int, item_id int, ts bigint);
	INSERT INTO plays SELECT u, (u * 7 + j * j) % 300, u * 100 + j
	  FROM generate_series(1, 200) u, generate_series(1, 15) j;
	CREATE INDEX ON plays (user_id, ts);
	CREATE TABLE tracks (item_id int PRIMARY KEY, genre text);
	INSERT INTO tracks SELECT i, (ARRAY['rock', 'jazz', 'folk', 'pop'])[i % 4 + 1] FROM generate_series(0, 299) i;
	SELECT personalize.create_dataset_group('radio');
	SELECT personalize.create_dataset('radio', 'interactions', 'plays', event_time => 'ts');
	SELECT personalize.create_dataset('radio', 'items', 'tracks');
	SELECT personalize.create_solution('radio', 'radio', 'user-personalization', '{"factors": 8, "iterations": 5, "seed": 1}');
	SELECT personalize.create_campaign('radio', personalize.create_solution_version('radio'));
	SELECT personalize.create_filter('genre', 'radio', 'INCLUDE ItemID WHERE Items.GENRE IN ($G)');
	-- the same filter as an SQL predicate: never masked, it always runs its query
	SELECT personalize.create_filter('genre-sql', 'radio', 'INCLUDE WHERE items.genre = $G');
	-- user 1's best track is not jazz (the test makes it jazz later)
	UPDATE tracks SET genre = 'rock' WHERE item_id = (SELECT item_id::int FROM personalize.recommend('radio', '1', 1));
	-- the error of a masked request, as text (an error would end the session's psql)
	CREATE FUNCTION personalize_test_try(filter text) RETURNS text LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM personalize.recommend('radio', '1', 10, filter => filter, filter_values => '{"G": "jazz"}');
		RETURN 'allowed';
	EXCEPTION WHEN insufficient_privilege THEN
		RETURN SQLERRM;
	END $$;
	CREATE ROLE outsider;
	GRANT USAGE ON SCHEMA personalize TO outsider;
	GRANT SELECT ON plays TO outsider;
});

# the top 10 jazz tracks of users 1..12, through the mask and through the query
my $masked = q{SELECT string_agg(u || ':' || item_id, ',' ORDER BY u, ord) FROM generate_series(1, 12) u,
	personalize.recommend('radio', u::text, 10, filter => 'genre', filter_values => '{"G": "jazz"}')
	WITH ORDINALITY r(item_id, score, ord)};
(my $queried = $masked) =~ s/'genre'/'genre-sql'/;

my $session = $node->background_psql('postgres');
my $offset = -s $node->logfile;
my $first = $session->query_safe($masked);
ok($node->wait_for_log(qr/filter "genre": item mask computed over \d+ items/, $offset), 'the mask is computed');
is($first, $session->query_safe($queried), 'masked answer equals the query\'s');
my $jazz_count = $node->safe_psql('postgres', q{SELECT count(*) FROM tracks WHERE genre = 'jazz'});
ok($first =~ /^1:/ && $jazz_count > 50, 'the answer is not empty');
$offset = -s $node->logfile;
is($session->query_safe($masked), $first, 'same answer the second time');
ok($node->wait_for_log(qr/filter "genre": item mask reused/, $offset), 'the mask is reused');

# User 1's best track (rock) becomes jazz in another session.
my $promoted = $session->query_safe(q{SELECT item_id FROM personalize.recommend('radio', '1', 1)});
$node->safe_psql('postgres', "UPDATE tracks SET genre = 'jazz' WHERE item_id = $promoted");
my $after = $session->query_safe($masked);
isnt($after, $first, 'a change committed elsewhere changes the answer');
like($after, qr/^1:$promoted,/, 'the new jazz track leads user 1\'s list');
is($after, $session->query_safe($queried), 'and equals the query\'s');

# REPEATABLE READ: a change committed after the snapshot stays invisible.
$session->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
my $in_snapshot = $session->query_safe($masked);
$node->safe_psql('postgres', "UPDATE tracks SET genre = 'rock' WHERE item_id = $promoted");
is($session->query_safe($masked), $in_snapshot, 'the transaction keeps its snapshot\'s answer');
is($session->query_safe($queried), $in_snapshot, 'as the query does');
$session->query_safe('COMMIT');
is($session->query_safe($masked), $first, 'after it, the change is seen');
is($session->query_safe($queried), $first, 'as by the query');

# The session's own uncommitted change, then its rollback.
$session->query_safe('BEGIN');
$session->query_safe("UPDATE tracks SET genre = 'jazz' WHERE item_id = $promoted");
my $own = $session->query_safe($masked);
like($own, qr/^1:$promoted,/, 'the session sees its own change');
is($own, $session->query_safe($queried), 'as the query does');
$session->query_safe('ROLLBACK');
is($session->query_safe($masked), $first, 'and not after the rollback');

# The filter redefined by another session: the next request compiles it anew.
$node->safe_psql('postgres', q{SELECT personalize.drop_filter('genre');
	SELECT personalize.create_filter('genre', 'radio', 'EXCLUDE ItemID WHERE Items.GENRE IN ($G)');
	SELECT personalize.create_filter('not-genre-sql', 'radio', 'EXCLUDE WHERE items.genre = $G')});
(my $excluding = $queried) =~ s/'genre-sql'/'not-genre-sql'/;
my $redefined = $session->query_safe($masked);
isnt($redefined, $first, 'a redefined filter changes the answer');
is($redefined, $session->query_safe($excluding), 'to the new definition\'s');
$node->safe_psql('postgres', q{SELECT personalize.drop_filter('genre');
	SELECT personalize.create_filter('genre', 'radio', 'INCLUDE ItemID WHERE Items.GENRE IN ($G)')});
is($session->query_safe($masked), $first, 'and back');

# A role that may not read the items does not get another role's mask.
$session->query_safe('SET ROLE outsider');
like($session->query_safe(q{SELECT personalize_test_try('genre')}), qr/permission denied for table tracks/,
	'a role without SELECT on the items is refused');
$session->query_safe('RESET ROLE');
is($session->query_safe($masked), $first, 'the owner still gets the answer');
$session->quit;

# A fresh session computes its own mask and agrees.
is($node->safe_psql('postgres', $masked), $first, 'another backend agrees');

# An items relation holding each jazz track twice: every candidate still
# passes once, through the mask and through the query.
$node->safe_psql('postgres', q{ALTER TABLE tracks DROP CONSTRAINT tracks_pkey;
	INSERT INTO tracks SELECT * FROM tracks WHERE genre = 'jazz'});
is($node->safe_psql('postgres', $masked), $first, 'repeated item rows: same masked answer');
is($node->safe_psql('postgres', $queried), $first, 'repeated item rows: same queried answer');

done_testing();
