# Mutation fuzzing of the extension's readers, through SQL: filter
# expressions (Personalize syntax and SQL predicates, compiled and planned by
# _check_filter), hyperparameter JSON (create_solution), campaign config JSON
# (create_campaign) and filter_values JSON (recommend).  Inputs are the seed
# corpus below mutated at random (deleting, duplicating and swapping spans,
# inserting tokens of the grammar and hostile fragments, splicing seeds),
# with a seed printed so that a run can be repeated (PERSONALIZE_FUZZ_SEED).
#
# Every input runs in a subtransaction; what it may not do is crash the
# server or raise an internal error (SQLSTATE XX000).  A batch that crashes
# is replayed one input at a time to find the culprit, which the test prints
# (add it to test/sql/hostile_arguments.sql or hostile.sql as a case).
#
# PERSONALIZE_FUZZ_SECONDS (default 0: one round of the default sizes) keeps
# generating rounds until that many seconds have passed: make fuzzcheck.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Basename qw(basename dirname);
use Time::HiRes qw(time);

my $seed = $ENV{PERSONALIZE_FUZZ_SEED} || int(time * 1000) % 1000000;
my $budget = $ENV{PERSONALIZE_FUZZ_SECONDS} || 0;
srand($seed);
diag("fuzz seed $seed (PERSONALIZE_FUZZ_SEED=$seed repeats this run)");

my $node = PostgreSQL::Test::Cluster->new('fuzz');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION personalize;
	CREATE TABLE shop_items (item_id text PRIMARY KEY, genre text, price numeric, in_stock boolean,
		tags text[], released timestamptz);
	INSERT INTO shop_items SELECT 'i' || i, (ARRAY['Comedy', 'Drama', 'Horror|Comedy'])[1 + i % 3], i, i % 2 = 0,
		ARRAY['t' || (i % 4)], timestamptz '2026-01-01' + i * interval '1 day' FROM generate_series(0, 39) i;
	CREATE TABLE shop_users (user_id text PRIMARY KEY, age int, segment text);
	INSERT INTO shop_users SELECT 'u' || u, 20 + u, 'S' || (u % 3) FROM generate_series(1, 60) u;
	CREATE TABLE shop_events (user_id text, item_id text, ts bigint, event_type text, event_value float8);
	INSERT INTO shop_events SELECT 'u' || u, 'i' || ((u + j) % 40), u * 100 + j,
		(ARRAY['click', 'purchase'])[1 + j % 2], j FROM generate_series(1, 60) u, generate_series(0, 5) j;
	CREATE INDEX ON shop_events (user_id, ts);
	SET personalize.min_interactions = 50;
	SET personalize.min_users = 5;
	SELECT personalize.create_dataset_group('shop');
	SELECT personalize.create_dataset('shop', 'interactions', 'shop_events', event_time => 'ts');
	SELECT personalize.create_dataset('shop', 'items', 'shop_items', metadata => ARRAY['genre', 'price', 'tags', 'released']);
	SELECT personalize.create_dataset('shop', 'users', 'shop_users', metadata => ARRAY['age', 'segment']);
	SELECT personalize.create_solution('shop-up', 'shop', 'user-personalization', '{"factors": 4, "iterations": 2}');
	SELECT personalize.create_campaign('shop', personalize.create_solution_version('shop-up'));
	SELECT personalize.create_filter('shop-genre', 'shop', 'INCLUDE ItemID WHERE Items.GENRE IN ($G) AND Items.PRICE < $MAX');
	CREATE TABLE fuzz_input (n int, kind text, input text);
	CREATE TABLE fuzz_result (n int, sqlstate text);
});

my %seeds = (
	filter => [
		'INCLUDE ItemID WHERE Items.GENRE IN ($GENRES)',
		'INCLUDE ItemID WHERE Items.PRICE < $MAX AND Items.GENRE IN ("Comedy", "Drama")',
		'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")',
		'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click") | INCLUDE ItemID WHERE Items.TAGS IN ("t1")',
		'INCLUDE ItemID WHERE Items.GENRE NOT IN ("Horror") OR (Items.PRICE >= 3 AND Items.PRICE <= 30)',
		'INCLUDE ItemID WHERE Items.RELEASED > $SINCE',
		'EXCLUDE ItemID WHERE Interactions.EVENT_VALUE > 3',
		'INCLUDE ItemID WHERE Items.GENRE = "Comedy" | EXCLUDE ItemID WHERE Items.PRICE != 7',
		'INCLUDE ItemID WHERE Items.PRICE < 10 IF CurrentUser.AGE >= 40',
		'INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRE IN (CurrentItem.GENRE)',
		'EXCLUDE ItemID WHERE Items.GENRE IN ("Comedy") IF CurrentUser.AGE < $ADULT AND CurrentUser.SEGMENT IN ("S1")',
		q{INCLUDE WHERE items.price < $MAX::numeric AND items.in_stock},
		q{EXCLUDE WHERE interactions.event_type = 'purchase'},
		q{INCLUDE WHERE users.age > 30 AND items.genre LIKE 'C%'},
		q{INCLUDE WHERE coalesce(items.tags && ARRAY[$TAG], false)},
	],
	hyperparameters => [
		'{"factors": 8, "iterations": 3}',
		'{"regularization": 0.5, "alpha": 2, "cg_steps": 2, "seed": 7}',
		'{"factors": {"values": [4, 8]}}',
		'{"recency_half_life": 10}',
		'{}',
	],
	config => [
		'{"sync_with_latest_solution_version": true}',
		'{"min_metric": {"metric": "precision_at_10", "tolerance": 0.1}}',
		'{"exploration_weight": 0.3, "exploration_item_age_cut_off": 30}',
		'{}',
	],
	filter_values => [
		'{"G": "\"Comedy\"", "MAX": "20"}',
		'{"G": ["Drama", "Comedy"], "MAX": 5}',
		'{"G": "\"Comedy\",\"Drama\"", "MAX": "1e3"}',
		'{}',
	],
);

# Fragments the mutator inserts: the grammar's own words and symbols, and
# the values most likely to break a reader.
my @fragments = (
	'INCLUDE', 'EXCLUDE', 'ItemID', 'UserID', 'WHERE', 'Items.', 'Users.', 'Interactions.', 'IF CurrentUser.AGE > 3',
	'CurrentItem.', 'CurrentUser.', 'IF', 'AND', 'OR', 'NOT', 'IN', '(', ')', ',', '|', '$', '$X',
	'"', '"x"', "'", ' ', '=', '!=', '<', '<=', '>', '>=', '~', ';', '--', '/*', '*/', '\\', '::',
	'NULL', 'null', 'true', '0', '-1', '1e308', '-1e-308', 'NaN', 'Infinity', '99999999999999999999',
	'{', '}', '[', ']', ':', '{"values": []}', '{"values": [1, "a", null]}', '"factors"', '"alpha"',
	'"seed"', '"min_metric"', '"metric"', '"tolerance"', '"G"', "\x{00e9}", "\x{1F600}", "\t", "\n",
	'x' x 300, 'DROP TABLE shop_items', 'pg_sleep(10)', 'E\'\\\\x\'',
	# deep nesting: 200,000 parentheses once overflowed the filter parser's stack
	'(' x 100000, '[' x 100000, '{"a": ' x 50000,
);

sub mutate
{
	my ($text, $pool) = @_;
	for (1 .. 1 + int(rand(4)))
	{
		my $len = length($text);
		my $at = int(rand($len + 1));
		my $span = int(rand(8)) + 1;
		my $op = int(rand(6));
		if ($op == 0 && $len) { substr($text, $at, $span, ''); }
		elsif ($op == 1) { substr($text, $at, 0, $fragments[ int(rand(@fragments)) ]); }
		elsif ($op == 2 && $len) { substr($text, $at, 0, substr($text, int(rand($len)), $span)); }
		elsif ($op == 3 && $len) { substr($text, int(rand($len)), 1, chr(32 + int(rand(95)))); }
		elsif ($op == 4)
		{
			my $other = $pool->[ int(rand(@$pool)) ];
			$text = substr($text, 0, $at) . substr($other, int(rand(length($other) + 1)));
		}
		else { substr($text, $at, 0, ' ' . $fragments[ int(rand(@fragments)) ] . ' '); }
	}
	return $text;
}

# One SQL statement per kind: run the input, record its SQLSTATE ('-' if none).
my %calls = (
	filter => q{PERFORM personalize._check_filter('shop', 'fuzz', r.input)},
	hyperparameters => q{PERFORM personalize.create_solution('fuzz', 'shop', 'user-personalization', r.input::jsonb)},
	config => q{PERFORM personalize.create_campaign('fuzz', (SELECT solution_version FROM personalize.campaigns WHERE name = 'shop'), r.input::jsonb)},
	filter_values => q{PERFORM count(*) FROM personalize.recommend('shop', 'u3', 5, filter => 'shop-genre', filter_values => r.input::jsonb)},
);
my $runner = q{
DO $fuzz$
DECLARE
	r record;
	state text;
BEGIN
	FOR r IN SELECT * FROM fuzz_input ORDER BY n LOOP
		BEGIN
			CASE r.kind
} . join('', map { "\t\t\t\tWHEN '$_' THEN $calls{$_};\n" } sort keys %calls) . q{
			END CASE;
			RAISE EXCEPTION USING ERRCODE = 'P0099';
		EXCEPTION WHEN OTHERS THEN
			state := SQLSTATE;
		END;
		INSERT INTO fuzz_result VALUES (r.n, CASE state WHEN 'P0099' THEN '-' ELSE state END);
	END LOOP;
END $fuzz$;
};

my $dir = PostgreSQL::Test::Utils::tempdir();
my %sizes = (filter => 1500, hyperparameters => 500, config => 300, filter_values => 300);
my ($n, $crashes, $internal) = (0, 0, 0);
my %states;
my $started = time;

# Load inputs (as CSV, so that any text survives) and run them.
sub run_inputs
{
	my @inputs = @_;
	open(my $csv, '>:encoding(UTF-8)', "$dir/inputs.csv") or die;
	for my $i (@inputs)
	{
		(my $quoted = $i->[2]) =~ s/"/""/g;
		print $csv "$i->[0],$i->[1],\"$quoted\"\n";
	}
	close $csv;
	$node->safe_psql('postgres', "TRUNCATE fuzz_input, fuzz_result; COPY fuzz_input FROM '$dir/inputs.csv' WITH (FORMAT csv)");
	my ($ret, $out, $err) = $node->psql('postgres', "SET client_min_messages = error; SET statement_timeout = '120s'; $runner");
	return ($ret, $err);
}

do
{
	for my $kind (sort keys %sizes)
	{
		my $pool = $seeds{$kind};
		my @batch = map { [ ++$n, $kind, mutate($pool->[ int(rand(@$pool)) ], $pool) ] } 1 .. $sizes{$kind};
		my ($ret, $err) = run_inputs(@batch);
		if ($err =~ /server closed the connection|terminating connection|connection to server was lost/)
		{
			# find the input that crashed the server, one at a time
			$node->poll_query_until('postgres', 'SELECT 1', '1');
			for my $one (@batch)
			{
				my ($r1, $e1) = run_inputs($one);
				next unless $e1 =~ /server closed the connection|terminating connection|connection to server was lost/;
				$crashes++;
				diag("CRASH ($kind): " . $one->[2]);
				$node->poll_query_until('postgres', 'SELECT 1', '1');
			}
			next;
		}
		die "fuzz runner failed: $err" if $ret != 0;
		for my $row (split /\n/, $node->safe_psql('postgres',
			q{SELECT r.sqlstate, count(*) FROM fuzz_result r GROUP BY 1}))
		{
			my ($state, $count) = split /\|/, $row;
			$states{$state} += $count;
		}
		for my $bad (split /\n/, $node->safe_psql('postgres',
			q{SELECT i.input FROM fuzz_result r JOIN fuzz_input i USING (n) WHERE r.sqlstate LIKE 'XX%'}))
		{
			$internal++;
			diag("INTERNAL ERROR ($kind): $bad");
		}
	}
} while (time - $started < $budget);

# inputs that once crashed something (test/fuzz/crashes) stay cases
my $kept = 0;
for my $file (glob(dirname(__FILE__) . '/../fuzz/crashes/*'))
{
	next if $file =~ /\.md$/;
	open(my $in, '<:raw', $file) or die "$file: $!";
	local $/;
	my $input = <$in>;
	close $in;
	$input =~ s/\x00.*//s;	# text ends at the first NUL
	my ($ret, $err) = run_inputs([ 0, 'filter', $input ]);
	$kept++;
	unlike($err, qr/server closed the connection|connection to server was lost/,
		'kept crash input ' . basename($file) . ' does not crash the server');
}
cmp_ok($kept, '>=', 1, "$kept kept crash inputs replayed");

my $total = 0;
$total += $_ for values %states;
diag(sprintf('%d inputs in %.0f s (seed %d): %s', $n, time - $started, $seed,
	join(', ', map { "$_ x$states{$_}" } sort { $states{$b} <=> $states{$a} } keys %states)));
cmp_ok($total, '>=', $n - $crashes, 'every input ran');
is($crashes, 0, 'no input crashed the server');
is($internal, 0, 'no input raised an internal error');
is($node->safe_psql('postgres', q{SELECT count(*) FROM personalize.recommend('shop', 'u3', 5)}), '5',
	'the campaign still serves');

$node->stop;
done_testing();
