# Compact scoring (src/compact.c): recommend() scores catalogues of 2048
# items or more from int8 item factors and re-scores exactly every item
# that could enter the list.  Its answers must rank exactly as the float
# factors do (personalize.compact_scoring = off), with the same items and
# scores equal to float precision, through every path that ranks a
# catalogue: no filter, an item mask, an Interactions filter (batches),
# a promotion, a deep list, exploration of young items (some or all).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('compact');
$node->init;
$node->append_conf('postgresql.conf', "log_min_messages = debug1\n");
$node->start;

# 1500 users in 10 taste clusters over 3000 items; items below 1500 were
# first seen 200 days before the rest (old), the others are young.
$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION personalize;
	CREATE FUNCTION pg_temp.draw(a int, b int) RETURNS float8 LANGUAGE sql IMMUTABLE
		RETURN (hashint8(a::int8 * 100003 + b)::int8 + 2147483648) / 4294967296.0;
	CREATE TABLE events (user_id int, item_id int, ts bigint);
	INSERT INTO events
	SELECT u, item, 1600000000 + u * 60 + j - CASE WHEN item < 1500 THEN 200 * 86400 ELSE 0 END
	  FROM generate_series(1, 1500) u, generate_series(1, 40) j,
	       LATERAL (SELECT CASE WHEN pg_temp.draw(u, j) < 0.7
	                            THEN (u % 10) * 300 + floor(300 * pg_temp.draw(u, j + 1000) ^ 2)::int
	                            ELSE floor(3000 * pg_temp.draw(u, j + 2000) ^ 3)::int END AS item) i;
	CREATE INDEX ON events (user_id, ts);
	CREATE TABLE goods (item_id int PRIMARY KEY, shelf text);
	INSERT INTO goods SELECT i, 's' || (i % 7) FROM generate_series(0, 2999) i;
	SELECT personalize.create_dataset_group('shop');
	SELECT personalize.create_dataset('shop', 'interactions', 'events', event_time => 'ts');
	SELECT personalize.create_dataset('shop', 'items', 'goods');
	SELECT personalize.create_solution('shop', 'shop', 'user-personalization', '{"factors": 24, "iterations": 6, "seed": 3}');
	SELECT personalize.create_campaign('plain', personalize.create_solution_version('shop'), '{"exploration_weight": 0}');
	SELECT personalize.create_campaign('young', (SELECT max(id) FROM personalize.solution_versions), '{"exploration_weight": 0.5, "exploration_item_age_cut_off": 30}');
	SELECT personalize.create_campaign('all-young', (SELECT max(id) FROM personalize.solution_versions), '{"exploration_weight": 0.5, "exploration_item_age_cut_off": 1000}');
	SELECT personalize.create_filter('shelf', 'shop', 'INCLUDE ItemID WHERE Items.SHELF IN ($S)');
	SELECT personalize.create_filter('recent', 'shop', 'EXCLUDE ItemID WHERE Interactions.TS > 1600050000');
});
is($node->safe_psql('postgres', q{SELECT count(DISTINCT item_id) >= 2048 FROM events}), 't',
	'the catalogue is large enough for compact scoring');

# Each request's rows as "user:item" in rank order, and its scores.
sub answers
{
	my ($setting, $calls) = @_;
	return $node->safe_psql('postgres', qq{
		SET personalize.compact_scoring = $setting;
		SET personalize.max_results = 3000;
		SELECT string_agg(concat_ws(' ', u, ord, item_id, score), E'\n' ORDER BY u, ord)
		  FROM generate_series(1, 1500, 13) u, LATERAL (SELECT c.*, row_number() OVER () AS ord FROM ($calls) c) r});
}

my %paths = (
	'no filter' => q{SELECT * FROM personalize.recommend('plain', u::text, 25)},
	'item mask filter' =>
	  q{SELECT * FROM personalize.recommend('plain', u::text, 25, filter => 'shelf', filter_values => '{"S": "s3"}')},
	'Interactions filter' => q{SELECT * FROM personalize.recommend('plain', u::text, 25, filter => 'recent')},
	'promotion' => q{SELECT item_id, score FROM personalize.recommend('plain', u::text, 20,
		promotion => '{"name": "p", "filter": "shelf", "filter_values": {"S": "s1"}, "percent": 30}')},
	'500 results' => q{SELECT * FROM personalize.recommend('plain', u::text, 500)},
	'some items young' => q{SELECT * FROM personalize.recommend('young', u::text, 25)},
	'every item young' => q{SELECT * FROM personalize.recommend('all-young', u::text, 25)},);

# Whether two answers hold the same items in the same order, and the
# largest relative difference of their scores.  Two items whose logits
# differ by float rounding alone (the float path's matrix product and the
# re-scoring's dot product add in different orders) may trade places: a
# rank holding different items passes when their scores are within 5e-5
# (the denominators' difference and rounding) and such ranks are rare.
sub compare
{
	my ($first, $second) = @_;
	my @a = map { [ split / / ] } split /\n/, $first;
	my @b = map { [ split / / ] } split /\n/, $second;
	my ($same_items, $worst, $ties) = (@a == @b && @a > 0, 0, 0);
	for my $r (0 .. $#a)
	{
		my ($x, $y) = ($a[$r], $b[$r]);
		unless (defined $y && "$x->[0]:$x->[1]" eq "$y->[0]:$y->[1]")
		{
			$same_items = 0;
			next;
		}
		my $rel = abs($x->[3] - $y->[3]) / abs($x->[3]);
		if ($x->[2] ne $y->[2])
		{
			note("a tie trades places: @$x / @$y");
			$ties++;
			$same_items = 0 if $rel > 5e-5;
			next;
		}
		$worst = $rel if $rel > $worst;
	}
	$same_items = 0 if $ties > @a / 1000;
	return ($same_items, $worst, scalar(@a));
}

my $offset = -s $node->logfile;
for my $path (sort keys %paths)
{
	my ($same_items, $worst, $rows) = compare(answers('off', $paths{$path}), answers('on', $paths{$path}));
	ok($same_items, "$path: the same items in the same order, but for float ties ($rows rows)");
	note("$path: largest relative score difference $worst");
	# measured: up to 1.7e-5 here, 2.7e-6 over 27k items (the softmax
	# denominator's compact terms; each returned item's logit is exact)
	cmp_ok($worst, '<', 1e-4, "$path: scores within 1e-4 of the float computation");
}

# Every loop (personalize.compact_kernel: auto is AVX-512 VNNI or AVX2 where
# the CPU has them) computes the same integer dot products, so they give
# the same answers to the bit.  On a CPU without AVX2 all three are the
# portable loop, and on one without VNNI auto is AVX2.
for my $path ('no filter', 'every item young')
{
	my $auto = answers('on', $paths{$path});
	for my $kernel ('avx2', 'portable')
	{
		my ($same_items, $worst) =
		  compare($auto, answers("on; SET personalize.compact_kernel = $kernel", $paths{$path}));
		ok($same_items && $worst == 0, "$path: the $kernel loop gives the same answers ($worst)");
	}
}

ok($node->wait_for_log(qr/compact item factors of solution version \d+ built \(3000 items\)/, $offset),
	'the compact path was taken');

# Over the whole catalogue the scores still sum to 1 (the seen items are
# left out of both the list and the softmax).
for my $setting ('off', 'on')
{
	my $sum = $node->safe_psql('postgres', qq{
		SET personalize.compact_scoring = $setting;
		SET personalize.max_results = 3000;
		SELECT max(abs(s - 1)) FROM (SELECT u, sum(score) AS s FROM generate_series(1, 1500, 97) u,
			personalize.recommend('all-young', u::text, 3000) GROUP BY u) t});
	cmp_ok($sum, '<', 1e-4, "compact_scoring = $setting: the scores of a whole catalogue sum to 1");
}

# A filter whose predicate runs another request on the same version with
# another cut-off (the 'all-young' campaign lists other young items) between
# the batches of a 'young' request: the items 'young' re-scores after that
# get its own bonus again (compact.c reads the model's ages, not the young
# lists the nested request rebuilt).  The answers are those of the same
# filter without the nested request.
$node->safe_psql('postgres', q{
	SELECT personalize.create_filter('shelf-sql', 'shop', 'INCLUDE WHERE items.shelf = ''s3''');
	SELECT personalize.create_filter('shelf-nested', 'shop',
		'INCLUDE WHERE items.shelf = ''s3'' AND EXISTS (SELECT 1 FROM personalize.recommend(''all-young'', ''7'', 1))');
});
my $plain_filter = answers('on', q{SELECT * FROM personalize.recommend('young', u::text, 25, filter => 'shelf-sql')});
my $nested_filter = answers('on', q{SELECT * FROM personalize.recommend('young', u::text, 25, filter => 'shelf-nested')});
ok(length($plain_filter) > 1000, 'the SQL filter answers');
is($nested_filter, $plain_filter, 'a nested request with another cut-off leaves the answers as they were');

done_testing();
