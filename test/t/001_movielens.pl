# Quality and freshness on MovieLens-100K under the SPEC 2.3 protocol.
#
# Trains popularity-count, user-personalization and ease with their defaults
# and checks that user-personalization beats the popularity baseline
# measured on the same split on every metric at 10 and 25, by at least 1.4x
# on NDCG@10, that ease beats it on NDCG@10, precision@10 and MRR@25, and
# that an event inserted after training changes the next answer; and that
# item-attribute-affinity segments of a genre rate it later well above the
# average user.
# Skipped when the data set is absent (PERSONALIZE_ML100K unset): its
# licence forbids shipping it with the project.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $data = $ENV{PERSONALIZE_ML100K};
if (!defined $data || !-r "$data/u.data")
{
	plan skip_all => 'MovieLens-100K not found; set PERSONALIZE_ML100K to its directory';
}

my $node = PostgreSQL::Test::Cluster->new('movielens');
$node->init;
$node->start;

$node->safe_psql('postgres', qq{
	CREATE EXTENSION personalize;
	CREATE TABLE ratings (user_id int, item_id int, rating int, ts bigint);
	COPY ratings FROM '$data/u.data';
	CREATE INDEX ON ratings (user_id, ts);
	SELECT personalize.create_dataset_group('movies');
	SELECT personalize.create_dataset('movies', 'interactions', 'ratings', event_time => 'ts');
	SELECT personalize.create_solution('movies-pop', 'movies', 'popularity-count');
	SELECT personalize.create_solution('movies-up', 'movies', 'user-personalization');
	SELECT personalize.create_solution('movies-ease', 'movies', 'ease');
	SELECT personalize.create_solution('movies-sims', 'movies', 'sims');
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM ratings'), '100000', 'loaded 100,000 ratings');

my $pop = $node->safe_psql('postgres', q{SET client_min_messages = warning;
	SELECT personalize.create_solution_version('movies-pop')});
my $up = $node->safe_psql('postgres', q{SET client_min_messages = warning;
	SELECT personalize.create_solution_version('movies-up')});
is($node->safe_psql('postgres', "SELECT string_agg(status, ',' ORDER BY id) FROM personalize.solution_versions"),
	'ACTIVE,ACTIVE', 'both versions are ACTIVE');

# metric -> [value, baseline value]
my %metrics;
for my $row (split /\n/, $node->safe_psql('postgres', qq{
	SELECT m.metric, m.value, b.value FROM personalize.solution_metrics($up) m
	  JOIN personalize.solution_metrics($up) b ON b.metric = 'baseline_' || m.metric}))
{
	my ($name, $value, $base) = split /\|/, $row;
	$metrics{$name} = [ $value, $base ];
	diag(sprintf('%-45s %.4f  popularity %.4f', $name, $value, $base));
}

# The baseline stored with the user-personalization version is the same
# model as the popularity-count solution evaluated on the same split.
is($node->safe_psql('postgres', qq{
	SELECT round(a.value::numeric, 6) = round(b.value::numeric, 6)
	  FROM personalize.solution_metrics($pop) a, personalize.solution_metrics($up) b
	 WHERE a.metric = 'normalized_discounted_cumulative_gain_at_10'
	   AND b.metric = 'baseline_normalized_discounted_cumulative_gain_at_10'}),
	't', 'baseline equals popularity-count on the same split');

for my $name (qw(precision_at_10 precision_at_25 recall_at_10 recall_at_25
	normalized_discounted_cumulative_gain_at_10 normalized_discounted_cumulative_gain_at_25
	mean_reciprocal_rank_at_25 coverage))
{
	cmp_ok($metrics{$name}[0], '>', $metrics{$name}[1], "user-personalization beats popularity on $name");
}
cmp_ok($metrics{normalized_discounted_cumulative_gain_at_10}[0] / $metrics{normalized_discounted_cumulative_gain_at_10}[1],
	'>=', 1.4, 'NDCG@10 lift over popularity is at least 1.4x');

my $seconds = $node->safe_psql('postgres', "SELECT round(training_seconds::numeric, 2) FROM personalize.solution_versions WHERE id = $up");
diag("user-personalization trained (evaluation split and full model) in $seconds s");

# Parallel training: the 100,000 ratings reach personalize.min_parallel_training_interactions,
# so the model above was trained with helper processes (the default
# personalize.max_training_workers = 2; the evaluation split, on 90% of the
# users, is below it and ran alone).  Forced on both fits, and off: the
# metrics and the item factors are the same, to the bit.
my $helpers = $node->safe_psql('postgres', q{SET client_min_messages = warning;
	SET personalize.min_parallel_training_interactions = 0;
	SELECT personalize.create_solution_version('movies-up')});
my $alone = $node->safe_psql('postgres', q{SET client_min_messages = warning;
	SET personalize.max_training_workers = 0;
	SELECT personalize.create_solution_version('movies-up')});
is($node->safe_psql('postgres', qq{
	SELECT count(DISTINCT metrics) || ' ' || bool_and(status = 'ACTIVE')
	  FROM personalize.solution_versions WHERE id IN ($up, $helpers, $alone)}),
	'1 true', 'training with and without helper processes gives the same metrics');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FILTER (WHERE a.factors IS DISTINCT FROM h.factors) || ' of ' || count(*)
	  FROM personalize.model_item a JOIN personalize.model_item h USING (item_id)
	 WHERE a.solution_version = $alone AND h.solution_version = $helpers}),
	'0 of 1682', 'and the same item factors');
my @shares = (slurp_file($node->logfile) =~ /ALS training used 2 helper processes, which solved (\d+)% of/g);
cmp_ok(scalar(@shares), '==', 3, 'three fits used two helpers each');
cmp_ok((sort { $b <=> $a } @shares)[0], '>', 0, 'the helpers solved rows (' . join('%, ', @shares) . '%)');

# An event inserted after training changes the next answer.
# EASE (lambda 500) beats popularity on NDCG@10, precision@10 and MRR@25 too.
my $ease = $node->safe_psql('postgres', q{SET client_min_messages = warning;
	SELECT personalize.create_solution_version('movies-ease')});
for my $row (split /\n/, $node->safe_psql('postgres', qq{
	SELECT m.metric, m.value, b.value FROM personalize.solution_metrics($ease) m
	  JOIN personalize.solution_metrics($ease) b ON b.metric = 'baseline_' || m.metric
	 WHERE m.metric IN ('normalized_discounted_cumulative_gain_at_10', 'precision_at_10', 'mean_reciprocal_rank_at_25')}))
{
	my ($name, $value, $base) = split /\|/, $row;
	diag(sprintf('ease %-40s %.4f  popularity %.4f', $name, $value, $base));
	cmp_ok($value, '>', $base, "ease beats popularity on $name");
}

# the stored ease model (items x items, written a chunk of rows per INSERT):
# one row per item with indexes 0..n-1, a full row of weights each, and the
# zero diagonal of EASE's closed form where each row's own index points
is($node->safe_psql('postgres', qq{
	SELECT count(*) || ' ' || min(item_index) || ' ' || max(item_index) || ' '
	       || count(DISTINCT item_index) || ' ' || min(cardinality(factors)) || ' ' || max(cardinality(factors)) || ' '
	       || count(*) FILTER (WHERE factors[item_index + 1] <> 0)
	  FROM personalize.model_item WHERE solution_version = $ease}),
	'1682 0 1681 1682 1682 1682 0', 'the stored ease model is whole, each row in its place');

# sims: the films related to Star Wars (50) include its sequels, Return of
# the Jedi (181) and The Empire Strikes Back (172).
$node->safe_psql('postgres', q{SET client_min_messages = warning;
	SELECT personalize.create_campaign('movies-sims', personalize.create_solution_version('movies-sims'))});
my $star_wars = $node->safe_psql('postgres', q{SELECT string_agg(item_id, ',') FROM personalize.related_items('movies-sims', '50', 5)});
diag("related to Star Wars: $star_wars");
like($star_wars, qr/(^|,)181(,|$)/, 'Return of the Jedi is related to Star Wars');
like($star_wars, qr/(^|,)172(,|$)/, 'The Empire Strikes Back is related to Star Wars');

# related items share a genre with their item far more often than random
# pairs do: over the 100 most rated films and their 10 related items each
# (measured: 65% against 37%, 1.75x; asserted: at least 1.4x)
SKIP:
{
	skip 'u.item not found', 1 unless -r "$data/u.item";
	$node->safe_psql('postgres', qq{
		CREATE TABLE movie_lines (line text);
		COPY movie_lines FROM '$data/u.item' WITH (FORMAT text, DELIMITER E'\\x01', ENCODING 'LATIN1');
		CREATE TABLE movie_genres AS
		SELECT split_part(line, '|', 1)::int AS item_id,
		       ARRAY(SELECT k FROM generate_series(1, 19) k WHERE split_part(line, '|', 5 + k) = '1') AS genres
		  FROM movie_lines});
	my ($related, $random) = split /\|/, $node->safe_psql('postgres', q{
		WITH popular AS (SELECT item_id FROM ratings GROUP BY 1 ORDER BY count(*) DESC, item_id LIMIT 100),
		related AS (SELECT p.item_id AS q, r.item_id::int AS rel
		              FROM popular p CROSS JOIN LATERAL personalize.related_items('movies-sims', p.item_id::text, 10) r)
		SELECT avg((gq.genres && gr.genres)::int),
		       (SELECT avg((a.genres && b.genres)::int) FROM movie_genres a JOIN popular p ON p.item_id = a.item_id
		          JOIN movie_genres b ON b.item_id <> a.item_id)
		  FROM related JOIN movie_genres gq ON gq.item_id = related.q JOIN movie_genres gr ON gr.item_id = related.rel});
	diag(sprintf('sims: related items sharing a genre %.3f, random pairs %.3f', $related, $random));
	cmp_ok($related, '>=', 1.4 * $random, 'related items share genres far more often than random pairs');
}

# HPO and AutoML, evaluated on the same split as the default version (the
# search only sees a validation split of the training users).  Measured
# with seeds 42, 1, 2, 3, 4: HPO (10 trials) against the defaults moved
# NDCG@10 by +0.004 +0.006 +0.002 -0.002 +0.015, precision@10 by at worst
# -0.006 and MRR@25 by at worst -0.003; asserted: no metric more than 0.015
# below the defaults (about one standard error over 94 held-out users).
# AutoML chose ease every time, 1.7x to 2.0x popularity's NDCG@10.
$node->safe_psql('postgres', q{
	SELECT personalize.create_solution('movies-hpo', 'movies', 'user-personalization', perform_hpo => true);
	SELECT personalize.create_solution('movies-auto', 'movies', NULL, perform_automl => true)});
my $hpo = $node->safe_psql('postgres', q{SET client_min_messages = warning;
	SELECT personalize.create_solution_version('movies-hpo')});
my $auto = $node->safe_psql('postgres', q{SET client_min_messages = warning;
	SELECT personalize.create_solution_version('movies-auto')});
my %figures;
for my $row (split /\n/, $node->safe_psql('postgres', qq{
	SELECT v.id, v.recipe, round(v.training_seconds::numeric, 2), m.metric, m.value
	  FROM personalize.solution_versions v, personalize.solution_metrics(v.id) m
	 WHERE v.id IN ($up, $hpo, $auto)
	   AND m.metric IN ('normalized_discounted_cumulative_gain_at_10', 'precision_at_10', 'mean_reciprocal_rank_at_25',
	                    'baseline_normalized_discounted_cumulative_gain_at_10', 'baseline_precision_at_10',
	                    'baseline_mean_reciprocal_rank_at_25')}))
{
	my ($id, $recipe, $seconds, $metric, $value) = split /\|/, $row;
	$figures{$id}{$metric} = $value;
	$figures{$id}{recipe} = $recipe;
	$figures{$id}{seconds} = $seconds;
}
for my $id ($up, $hpo, $auto)
{
	diag(sprintf('%-8s %-22s NDCG@10 %.4f  precision@10 %.4f  MRR@25 %.4f  %s s',
		$id == $up ? 'default' : $id == $hpo ? 'HPO' : 'AutoML', $figures{$id}{recipe},
		map({ $figures{$id}{$_} } qw(normalized_discounted_cumulative_gain_at_10 precision_at_10 mean_reciprocal_rank_at_25)),
		$figures{$id}{seconds}));
}
diag('HPO tuned ' . $node->safe_psql('postgres', "SELECT metrics->'hpo'->'tuned' FROM personalize.solution_versions WHERE id = $hpo"));
for my $metric (qw(normalized_discounted_cumulative_gain_at_10 precision_at_10 mean_reciprocal_rank_at_25))
{
	cmp_ok($figures{$hpo}{$metric}, '>=', $figures{$up}{$metric} - 0.015,
		"HPO's hyperparameters do no worse than the defaults on $metric");
	cmp_ok($figures{$auto}{$metric}, '>=', $figures{$auto}{"baseline_$metric"},
		"AutoML's choice is at least as good as popularity-count on $metric");
}
is($node->safe_psql('postgres', qq{
	SELECT jsonb_array_length(metrics->'hpo'->'trials') || ' ' || (metrics->'automl' IS NULL)
	  FROM personalize.solution_versions WHERE id = $hpo}), '10 true', 'HPO ran its 10 default trials');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(c->>'recipe', ',') || ' ' || (v.recipe = v.metrics->'automl'->>'chosen')
	  FROM personalize.solution_versions v, jsonb_array_elements(v.metrics->'automl'->'candidates') c
	 WHERE v.id = $auto GROUP BY v.recipe, v.metrics}),
	'user-personalization,ease,popularity-count true', 'AutoML trained the three candidates and serves its choice');

$node->safe_psql('postgres', "SELECT personalize.create_campaign('movies', $up)");
my $before = $node->safe_psql('postgres', q{SELECT string_agg(item_id, ',') FROM personalize.recommend('movies', '42', 10)});
is(scalar(split /,/, $before), 10, 'ten recommendations for user 42');
# user 42 binges the ten films user 1 rated first
$node->safe_psql('postgres', q{
	INSERT INTO ratings SELECT 42, item_id, 5, 2000000000 + row_number() OVER (ORDER BY ts, item_id)
	  FROM (SELECT item_id, ts FROM ratings WHERE user_id = 1 ORDER BY ts, item_id LIMIT 10) r});
my $after = $node->safe_psql('postgres', q{SELECT string_agg(item_id, ',') FROM personalize.recommend('movies', '42', 10)});
isnt($after, $before, 'recommendations change after new events, without retraining');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM personalize.recommend('movies', '42', 25) r
	  JOIN ratings x ON x.user_id = 42 AND x.item_id::text = r.item_id}),
	'0', 'items the user has rated, including the new ones, are excluded');

# item-attribute-affinity: the users a genre predicate returns go on to rate
# that genre more than the average user.  Each user's latest 20% of ratings
# are held out; the solution trains on the rest.  For 12 genres, the top 50
# users of user_segment('ITEMS.GENRES = "<genre>"'): the genre's share of
# their held-out ratings against the same share averaged over all users
# (measured: lift 0.76 for War to 4.37 for Horror, mean 1.88, 11 of 12
# genres above 1; asserted: mean at least 1.4, at least 9 genres above 1).
SKIP:
{
	skip 'u.item or u.genre not found', 2 unless -r "$data/u.item" && -r "$data/u.genre";
	$node->safe_psql('postgres', qq{
		SET client_min_messages = warning;
		CREATE TABLE genre_lines (line text);
		COPY genre_lines FROM '$data/u.genre' WITH (FORMAT text, DELIMITER E'\\x01');
		CREATE TABLE seg_movies AS
		SELECT split_part(m.line, '|', 1)::int AS item_id,
		       (SELECT string_agg(split_part(g.line, '|', 1), '|') FROM genre_lines g
		         WHERE g.line <> '' AND split_part(m.line, '|', 6 + split_part(g.line, '|', 2)::int) = '1') AS genres
		  FROM movie_lines m;
		CREATE TABLE seg_ranked AS SELECT user_id, item_id, ts, row_number() OVER (PARTITION BY user_id ORDER BY ts, item_id) AS n,
		       count(*) OVER (PARTITION BY user_id) AS total FROM ratings;
		CREATE TABLE seg_train AS SELECT user_id, item_id, ts FROM seg_ranked WHERE n <= 0.8 * total;
		CREATE TABLE seg_later AS SELECT user_id, item_id FROM seg_ranked WHERE n > 0.8 * total;
		CREATE INDEX ON seg_train (user_id, ts);
		SELECT personalize.create_dataset_group('movie-segments');
		SELECT personalize.create_dataset('movie-segments', 'interactions', 'seg_train', event_time => 'ts');
		SELECT personalize.create_dataset('movie-segments', 'items', 'seg_movies', metadata => ARRAY['genres']);
		SELECT personalize.create_solution('movie-segments', 'movie-segments', 'item-attribute-affinity');
		SELECT personalize.create_campaign('movie-segments', personalize.create_solution_version('movie-segments'));
	});
	my $lifts = $node->safe_psql('postgres', q{
		WITH genres(g) AS (VALUES ('Action'), ('Animation'), ('Children''s'), ('Comedy'), ('Documentary'), ('Film-Noir'),
		                          ('Horror'), ('Musical'), ('Romance'), ('Sci-Fi'), ('War'), ('Western')),
		later_share AS (SELECT g.g, l.user_id, avg((('|' || m.genres || '|') LIKE '%|' || g.g || '|%')::int) AS share
		                  FROM genres g, seg_later l JOIN seg_movies m USING (item_id) GROUP BY 1, 2),
		segment AS (SELECT g.g, s.user_id::int AS user_id
		              FROM genres g CROSS JOIN LATERAL personalize.user_segment('movie-segments', format('ITEMS.GENRES = "%s"', g.g), 50) s)
		SELECT ls.g, avg(ls.share) FILTER (WHERE s.user_id IS NOT NULL) / avg(ls.share)
		  FROM later_share ls LEFT JOIN segment s ON s.g = ls.g AND s.user_id = ls.user_id GROUP BY 1 ORDER BY 1});
	my %lift = map { split /\|/ } split /\n/, $lifts;
	my $mean = 0;
	$mean += $_ / scalar(keys %lift) for values %lift;
	diag(sprintf('item-attribute-affinity: held-out genre share lift of the top 50 users %s; mean %.2f',
		join(', ', map { sprintf('%s %.2f', $_, $lift{$_}) } sort keys %lift), $mean));
	cmp_ok($mean, '>=', 1.4, 'genre segments rate their genre well above the average user later (mean lift)');
	cmp_ok(scalar(grep { $_ > 1 } values %lift), '>=', 9, 'most genre segments rate their genre above the average user later');
}

$node->stop;
done_testing();
