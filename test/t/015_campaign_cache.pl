# The campaign cache (src/campaign_cache.c): a backend reuses a resolved
# campaign across statements only while its snapshot sees the same
# committed rows.  A long-lived session serves a campaign; another session
# moves the campaign to another version, reconfigures it, revokes the
# reader's right to the interactions, drops it: each change is seen by the
# long-lived session's very next statement.  Its own uncommitted change is
# seen inside its transaction, and a REPEATABLE READ transaction keeps
# the campaign it started with, as without the cache.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('campaign_cache');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION personalize;
	CREATE TABLE plays (user_id int, item_id int, ts bigint);
	INSERT INTO plays SELECT u, (u * 7 + j * j) % 300, u * 100 + j
	  FROM generate_series(1, 200) u, generate_series(1, 12) j;
	CREATE INDEX ON plays (user_id, ts);
	SELECT personalize.create_dataset_group('radio');
	SELECT personalize.create_dataset('radio', 'interactions', 'plays', event_time => 'ts');
	SELECT personalize.create_solution('radio-a', 'radio', 'user-personalization', '{"factors": 8, "iterations": 3, "seed": 1}');
	SELECT personalize.create_solution('radio-b', 'radio', 'user-personalization', '{"factors": 8, "iterations": 3, "seed": 2}');
	SELECT personalize.create_solution_version('radio-a') \g /dev/null
	SELECT personalize.create_solution_version('radio-b') \g /dev/null
	SELECT personalize.create_campaign('radio', (SELECT min(id) FROM personalize.solution_versions), '{"exploration_weight": 0}');
	CREATE ROLE listener;
	GRANT USAGE ON SCHEMA personalize TO listener;
	GRANT SELECT ON plays TO listener;
});
my ($va, $vb) = split /\n/, $node->safe_psql('postgres',
	'SELECT id FROM personalize.solution_versions ORDER BY id');

# The answers of each version, as _recommend_version gives them (no cache).
my $list = q{SELECT string_agg(item_id || ':' || round(score::numeric, 10), ',' ORDER BY ord) FROM %s WITH ORDINALITY r(item_id, score, ord)};
my %by_version = map {
	$_ => $node->safe_psql('postgres',
		sprintf($list, "personalize._recommend_version($_, '7', NULL, 10)"))
} ($va, $vb);
isnt($by_version{$va}, $by_version{$vb}, 'the two versions answer differently');

# The long-lived session: psql reading statements from its stdin; DEBUG2
# tells whether a statement found the campaign in the cache.
my $s = { stdin => '', stdout => '', stderr => '' };
$s->{timer} = IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);
$s->{run} = IPC::Run::start(
	[ 'psql', '-X', '-A', '-t', '-q', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$s->{stdin}, '>', \$s->{stdout}, '2>', \$s->{stderr}, $s->{timer});
my $n = 0;

# Run sql in the session; returns (stdout, stderr) of it alone.
sub session
{
	my ($sql) = @_;
	my $marker = '__done_' . ++$n . '__';
	$s->{stdout} = $s->{stderr} = '';
	$s->{stdin} .= "$sql;\n\\echo $marker\n";
	$s->{timer}->start($PostgreSQL::Test::Utils::timeout_default);
	pump_until($s->{run}, $s->{timer}, \$s->{stdout}, qr/^$marker$/m)
	  or die "session did not finish: $sql\n$s->{stderr}";
	(my $out = $s->{stdout}) =~ s/\n?$marker\n//;
	return ($out, $s->{stderr});
}

my $recommend = sprintf($list, "personalize.recommend('radio', '7', 10)");
my $hit = qr/campaign "radio" resolved from the cache/;

session('SET client_min_messages = debug2');
my ($out, $err) = session($recommend);
is($out, $by_version{$va}, 'the campaign serves version a');
unlike($err, $hit, 'the first statement reads the campaign');
($out, $err) = session($recommend);
is($out, $by_version{$va}, 'the next statement gives the same answer');
like($err, $hit, '... from the cache');

# another session moves the campaign: seen at once
$node->safe_psql('postgres', "SELECT personalize.update_campaign('radio', $vb)");
($out, $err) = session($recommend);
is($out, $by_version{$vb}, 'a move committed by another session is seen by the next statement');
unlike($err, $hit, '... which reads the campaign again');
($out, $err) = session($recommend);
like($err, $hit, 'then it is kept again');

# its config too
$node->safe_psql('postgres', q{SELECT personalize.update_campaign('radio', config => '{"exploration_weight": 1}')});
($out, $err) = session("SELECT count(*) FROM personalize.recommend('radio', '7', 300) WHERE item_id = '299'");
unlike($err, $hit, 'a config committed by another session is read at once');
$node->safe_psql('postgres', q{SELECT personalize.update_campaign('radio', config => '{"exploration_weight": 0}')});

# its own uncommitted write is seen inside its transaction only
session('BEGIN');
session("SELECT personalize.update_campaign('radio', $va)");
($out, $err) = session($recommend);
is($out, $by_version{$va}, 'its own uncommitted move is seen in its transaction');
unlike($err, $hit, '... never from the cache');
session('ROLLBACK');
($out, $err) = session($recommend);
is($out, $by_version{$vb}, 'and forgotten after ROLLBACK');

# REPEATABLE READ keeps its snapshot's campaign, as without the cache
session('BEGIN ISOLATION LEVEL REPEATABLE READ');
($out, $err) = session($recommend);
is($out, $by_version{$vb}, 'a repeatable-read transaction serves version b');
$node->safe_psql('postgres', "SELECT personalize.update_campaign('radio', $va)");
($out, $err) = session($recommend);
is($out, $by_version{$vb}, '... and still b after another session moves the campaign');
session('COMMIT');
($out, $err) = session($recommend);
is($out, $by_version{$va}, 'the next transaction serves a');

# the caller's right to the interactions is checked on every call, hit or not
session('SET ROLE listener');
($out, $err) = session($recommend);
($out, $err) = session($recommend);
is($out, $by_version{$va}, 'a reader may be served');
like($err, $hit, '... from the cache');
$node->safe_psql('postgres', 'REVOKE SELECT ON plays FROM listener');
($out, $err) = session($recommend);
like($err, qr/permission denied for relation public.plays/, 'a revoked reader is refused at once');
session('RESET ROLE');

# a dropped campaign is gone at once
session($recommend);
$node->safe_psql('postgres', "SELECT personalize.drop_campaign('radio')");
($out, $err) = session($recommend);
like($err, qr/campaign "radio" does not exist/, 'a campaign dropped by another session is gone at once');

$s->{stdin} .= "\\q\n";
$s->{run}->finish;
$node->stop;
done_testing();
