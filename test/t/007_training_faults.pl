# Faults injected during training, each followed by a check that the
# catalog is consistent.
#
# Faults:
#  1. In-session training (wait => true) cancelled and terminated
#     (pg_cancel_backend, pg_terminate_backend) while reading the
#     interactions (waiting for a lock on the interactions table, no
#     progress yet), while iterating (evaluation split; training on all
#     data) and while writing the model (waiting for a lock on
#     personalize.model_item after the last iteration).  The call fails
#     with the cancel or the disconnection and its version row is rolled
#     back.
#  2. Background training (wait => false): the worker cancelled,
#     terminated or stopped (stop_solution_version) at the same points.
#     The version ends CREATE FAILED (cancel: the error message; terminate:
#     "exited before finishing") or CREATE STOPPED.  Also in the CREATE
#     PENDING window, where the worker waits for the requesting transaction:
#     the requesting session terminated before it commits (nothing is
#     trained, no row remains), and the waiting worker cancelled before the
#     requester commits (CREATE FAILED once waited for).
#  3. An immediate server stop in the middle of a background training, with
#     a second training (of another solution) waiting to write its model.
#     After the restart wait_for_solution_version(id, '10 s') reports the
#     first CREATE FAILED because of the restart, new versions of both
#     solutions train ACTIVE, and starting the second solution's marks its
#     interrupted version CREATE FAILED without anyone waiting for it.
#  4. DROP TABLE of the registered interactions table during training:
#     committed while the worker waits to read it (the version fails naming
#     the table), run while the worker computes (the worker holds no lock
#     then: ACTIVE or CREATE FAILED), and run while an in-session training
#     holds the table (the DROP waits; the training ends ACTIVE).  A later
#     training from the dropped table fails cleanly.
#  5. Two background trainings of the same solution started at once: both
#     end ACTIVE; a campaign following the solution serves one of them.
#  6. personalize.training_memory below what the model needs: '2MB'
#     in-session (below even the interactions read) and 4096 (kB) in a
#     worker (above the interactions, below the matrices and factors).  The
#     version is CREATE FAILED with the estimate and the limit in
#     failure_reason (in-session also a WARNING with SQLSTATE 54000), and
#     the same training passes with enough memory.
#
# After each group of faults the invariants are checked: no version is left
# CREATE PENDING or CREATE IN_PROGRESS, versions that are not ACTIVE have
# no rows in personalize.model_item or personalize.model_user, every ACTIVE
# version has one model_item row per item, the campaign deployed before the
# faults serves exactly the same recommendations (read in a new session, so
# from the model rows), and amcheck finds every index (bt_index_check with
# heapallindexed) and table (verify_heapam) of schema personalize intact.
#
# Faults are timed so that they land where they are meant to: a session
# holding a lock makes the training wait inside the phase to fault (seen in
# pg_locks), in-session progress is followed through its NOTICEs, and a
# worker is faulted by the same query that sees its progress column in the
# wanted range.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $test_started = time;
my $faults = 0;

my $node = PostgreSQL::Test::Cluster->new('training_faults');
$node->init;
# trainings run side by side (faults 3 and 5)
$node->append_conf('postgresql.conf', "max_worker_processes = 8\n");
$node->start;

# --- psql sessions ----------------------------------------------------------
#
# A session is psql reading a script on its stdin: NOTICEs arrive as they are
# sent, statements can be added later, and its backend is found by its
# application_name.  IPC::Run hands psql its input only when pumped.

my $sessions = 0;

sub start_session
{
	my ($script) = @_;
	my $s = { name => 'faults_' . ++$sessions, stdin => $script, stdout => '', stderr => '' };
	$s->{timer} = IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);
	$s->{run} = IPC::Run::start(
		[
			'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose',
			'-d', $node->connstr('postgres') . " application_name=$s->{name}", '-f', '-'
		],
		'<', \$s->{stdin}, '>', \$s->{stdout}, '2>', \$s->{stderr}, $s->{timer});
	return $s;
}

# Pump the session until $re matches its stderr (or $stream).
sub session_wait_for
{
	my ($s, $re, $stream) = @_;
	$s->{timer}->start($PostgreSQL::Test::Utils::timeout_default);
	pump_until($s->{run}, $s->{timer}, \$s->{ $stream // 'stderr' }, $re)
	  or die "session $s->{name} did not print $re:\n$s->{stdout}\n$s->{stderr}";
}

# Wait for the session's psql to exit; returns its exit code.
sub session_finish
{
	my ($s) = @_;
	$s->{run}->finish;
	return $s->{run}->result(0);
}

# Most statements go through one long-lived session: starting psql costs
# about 0.1 s, which would dominate the test and blur the timing of faults.
my $control;
my $queries = 0;

sub query
{
	my ($sql) = @_;
	$control //= start_session('');
	my $marker = '__query_' . ++$queries . '__';
	$control->{stdout} = $control->{stderr} = '';
	$control->{stdin} .= "$sql;\n\\echo $marker\n";
	$control->{timer}->start($PostgreSQL::Test::Utils::timeout_default);
	pump_until($control->{run}, $control->{timer}, \$control->{stdout}, qr/^$marker$/m)
	  or die "query failed: $sql\n$control->{stderr}";
	(my $out = $control->{stdout}) =~ s/\n?$marker\n//;
	return $out;
}

sub close_control
{
	return unless $control;
	$control->{stdin} .= "\\q\n";
	session_finish($control);
	$control = undef;
}

# Run $sql until it returns something other than 'wait'; return that.
sub poll_until_fired
{
	my ($sql) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		my $r = query($sql);
		return $r if $r ne 'wait';
		usleep(20_000);
	}
	die "timed out polling: $sql";
}

sub poll
{
	my ($condition) = @_;
	return poll_until_fired("SELECT CASE WHEN $condition THEN 't' ELSE 'wait' END");
}

# The pid of the session's backend once it runs a statement.
sub session_pid
{
	my ($s) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		$s->{run}->pump_nb;
		my $pid = query(qq{SELECT pid FROM pg_stat_activity WHERE application_name = '$s->{name}' AND state = 'active'});
		return $pid if $pid ne '';
		usleep(20_000);
	}
	die "session $s->{name} did not start:\n$s->{stdout}\n$s->{stderr}";
}

# A session holding a lock on $table in $mode until released.
sub lock_table
{
	my ($table, $mode) = @_;
	my $s = start_session("BEGIN;\nLOCK TABLE $table IN $mode MODE;\n\\echo locked\n");
	session_wait_for($s, qr/locked/, 'stdout');
	return $s;
}

sub release
{
	my ($s) = @_;
	$s->{stdin} .= "COMMIT;\n\\q\n";
	is(session_finish($s), 0, 'the lock is released');
}

# SQL: does backend $pid (an expression) wait for a lock on $relation?
sub waits_for_lock
{
	my ($pid, $relation) = @_;
	return "EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = $pid AND l.relation = $relation AND NOT l.granted)";
}

sub wait_for_exit
{
	my ($pid) = @_;
	poll("NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $pid)");
}

sub log_since
{
	my ($offset) = @_;
	return slurp_file($node->logfile, $offset);
}

# --- data, and the campaign deployed before the faults ----------------------

query(q{
	SET client_min_messages = warning;
	CREATE EXTENSION personalize;
	CREATE EXTENSION amcheck;
	CREATE TABLE plays (user_id int, item_id int, ts bigint);
	INSERT INTO plays SELECT u, (u * 7 + j * 13) % 1000, u * 100 + j
	  FROM generate_series(1, 5000) u, generate_series(1, 20) j;
	CREATE INDEX ON plays (user_id, ts);
	CREATE TABLE plays_gone AS SELECT * FROM plays;
	CREATE INDEX ON plays_gone (user_id, ts);
	SELECT personalize.create_dataset_group('radio');
	SELECT personalize.create_dataset('radio', 'interactions', 'plays', event_time => 'ts');
	SELECT personalize.create_dataset_group('gone');
	SELECT personalize.create_dataset('gone', 'interactions', 'plays_gone', event_time => 'ts');
	-- 100,000 interactions: the evaluation split runs to 50%, training on all data to 95%
	-- about 2 s
	SELECT personalize.create_solution('radio-slow', 'radio', 'user-personalization', '{"factors": 64, "iterations": 40}');
	SELECT personalize.create_solution('gone-slow', 'gone', 'user-personalization', '{"factors": 64, "iterations": 40}');
	-- about 1 s
	SELECT personalize.create_solution('radio-mid', 'radio', 'user-personalization', '{"factors": 32, "iterations": 30}');
	-- about 0.2 s
	SELECT personalize.create_solution('radio-quick', 'radio', 'user-personalization', '{"factors": 8, "iterations": 3}');
	SELECT personalize.create_solution('gone-quick', 'gone', 'user-personalization', '{"factors": 8, "iterations": 3}');
});

my $served = query(q{SELECT personalize.create_solution_version('radio-quick')});
query("SELECT personalize.create_campaign('radio', $served)");

# Recommendations of a campaign for four users (one unknown), read in a new
# session so that they come from the model rows, not a cached model.
sub recommendations
{
	my ($campaign) = @_;
	return $node->safe_psql('postgres', qq{
		SET client_min_messages = error;
		SELECT u, string_agg(r.item_id || ':' || round(r.score::numeric, 8), ',' ORDER BY r.n)
		  FROM unnest(ARRAY['42', '1234', '4999', 'nobody']) u,
		       personalize.recommend('$campaign', u, 10) WITH ORDINALITY r(item_id, score, n)
		 GROUP BY u ORDER BY u});
}
my $recommendations = recommendations('radio');
is(scalar(() = $recommendations =~ /:/g), 40, 'the campaign serves ten items to each of four users');

my $btree_indexes = query(q{
	SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	  JOIN pg_am a ON a.oid = c.relam
	 WHERE n.nspname = 'personalize' AND c.relkind = 'i' AND a.amname = 'btree'});
cmp_ok($btree_indexes, '>=', 10, "schema personalize has $btree_indexes btree indexes to check");

sub version_count
{
	return query('SELECT count(*) FROM personalize.solution_version');
}

sub model_rows
{
	my ($v) = @_;
	return query(qq{SELECT (SELECT count(*) FROM personalize.model_item WHERE solution_version = $v)
		+ (SELECT count(*) FROM personalize.model_user WHERE solution_version = $v)});
}

sub check_invariants
{
	my ($label) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;

	is(query(q{SELECT string_agg(id || ' ' || status, ', ' ORDER BY id) FROM personalize.solution_version
		WHERE status IN ('CREATE PENDING', 'CREATE IN_PROGRESS')}),
		'', "$label: no version is left CREATE PENDING or CREATE IN_PROGRESS");
	is(query(q{SELECT string_agg(v.id || ' ' || v.status, ', ' ORDER BY v.id) FROM personalize.solution_version v
		WHERE v.status <> 'ACTIVE'
		  AND (EXISTS (SELECT 1 FROM personalize.model_item i WHERE i.solution_version = v.id)
		       OR EXISTS (SELECT 1 FROM personalize.model_user u WHERE u.solution_version = v.id))}),
		'', "$label: versions that are not ACTIVE have no model rows");
	is(query(q{SELECT string_agg(v.id || ': ' || coalesce(v.items::text, 'NULL') || ' items, ' || m.n || ' rows', ', ' ORDER BY v.id)
		FROM personalize.solution_version v
		CROSS JOIN LATERAL (SELECT count(*) AS n FROM personalize.model_item i WHERE i.solution_version = v.id) m
		WHERE v.status = 'ACTIVE' AND (v.items IS NULL OR v.items <> m.n OR m.n = 0)}),
		'', "$label: every ACTIVE version has one model_item row per item");
	is(recommendations('radio'), $recommendations,
		"$label: the campaign deployed before the faults serves the same recommendations");

	my ($ret, $stdout, $stderr) = $node->psql('postgres', q{
		SELECT c.relname, bt_index_check(c.oid, true)
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = c.relam
		 WHERE n.nspname = 'personalize' AND c.relkind = 'i' AND a.amname = 'btree'
		 ORDER BY 1});
	is($ret, 0, "$label: bt_index_check(heapallindexed) passes on every index of schema personalize")
	  or diag($stderr);
	is(scalar(split /\n/, $stdout), $btree_indexes, "$label: all $btree_indexes indexes were checked");
	is(query(q{
		SELECT string_agg(c.relname || ' block ' || v.blkno || ': ' || v.msg, '; ')
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
		       verify_heapam(c.oid) v
		 WHERE n.nspname = 'personalize' AND c.relkind = 'r'}),
		'', "$label: verify_heapam finds no corruption in the tables of schema personalize");
}

# --- 1. in-session training cancelled or terminated -----------------------

# Train $solution with wait => true in a session; once its stderr matches
# $opts{notice} and (if given) it waits for a lock on $opts{lock}, send it
# pg_cancel_backend or pg_terminate_backend.
sub in_session_fault
{
	my ($label, $solution, $signal, %opts) = @_;
	my $versions = version_count();
	my $max_id = query('SELECT coalesce(max(id), 0) FROM personalize.solution_version');
	my $s = start_session("SELECT personalize.create_solution_version('$solution');\n\\q\n");
	my $pid = session_pid($s);

	session_wait_for($s, $opts{notice}) if $opts{notice};
	my $ready = $opts{lock} ? waits_for_lock($pid, $opts{lock}) : 'true';
	is(poll_until_fired("SELECT CASE WHEN $ready THEN (CASE WHEN pg_${signal}_backend($pid) THEN 't' ELSE 'f' END) ELSE 'wait' END"),
		't', "$label: the session is sent pg_${signal}_backend");
	$faults++;
	$opts{check}->($s) if $opts{check};
	isnt(session_finish($s), 0, "$label: create_solution_version fails");
	like($s->{stderr},
		$signal eq 'cancel'
		? qr/ERROR:  57014: canceling statement due to user request/
		: qr/FATAL:  57P01: terminating connection due to administrator command/,
		"$label: with the " . ($signal eq 'cancel' ? 'cancel' : 'termination'));
	$opts{after}->() if $opts{after};
	wait_for_exit($pid);
	is(version_count(), $versions, "$label: the version row was rolled back");
	is(query("SELECT count(*) FROM personalize.model_item WHERE solution_version > $max_id"), '0',
		"$label: no model rows were written");
}

for my $signal (qw(cancel terminate))
{
	# the interactions table is locked: the training waits in its read phase
	my $lock = lock_table('plays', 'ACCESS EXCLUSIVE');
	in_session_fault("in-session $signal while reading", 'radio-slow', $signal,
		lock => q{'plays'::regclass},
		check => sub {
			$_[0]{run}->pump_nb;
			unlike($_[0]{stderr}, qr/% done/, "in-session $signal while reading: no progress was reported");
		},
		after => sub { release($lock) });
}

in_session_fault('in-session cancel while iterating (evaluation split)', 'radio-slow', 'cancel',
	notice => qr/evaluation split, iteration \d+ of 40, [1-4]\d% done/);
in_session_fault('in-session terminate while iterating (training on all data)', 'radio-slow', 'terminate',
	notice => qr/training on all data, iteration \d+ of 40, [5-8]\d% done/);

for my $signal (qw(cancel terminate))
{
	# after the last iteration the insert into model_item waits for the lock
	my $lock = lock_table('personalize.model_item', 'SHARE');
	in_session_fault("in-session $signal while writing the model", 'radio-quick', $signal,
		notice => qr/training on all data, iteration 3 of 3, 95% done/,
		lock => q{'personalize.model_item'::regclass},
		after => sub { release($lock) });
}
check_invariants('in-session faults');

# --- 2. background training worker cancelled, terminated or stopped -------

# Train $solution with wait => false and cancel, terminate or stop it from
# the query that sees $opts{when} true on its version row; the fault is
# missed (and the test fails) if the training ends or $opts{late} holds
# first.
sub worker_fault
{
	my ($label, $solution, $signal, %opts) = @_;
	my $offset = -s $node->logfile;
	my $v = query("SELECT personalize.create_solution_version('$solution', wait => false)");
	my $pid = query("SELECT worker_pid FROM personalize.solution_version WHERE id = $v");
	my $action = $signal eq 'stop'
	  ? "(SELECT 't' FROM personalize.stop_solution_version(id))"
	  : "CASE WHEN pg_${signal}_backend(worker_pid) THEN 't' ELSE 'f' END";
	my $when = $opts{when} // 'true';
	my $late = $opts{late} // 'false';

	is(poll_until_fired(qq{
		SELECT CASE WHEN status NOT IN ('CREATE PENDING', 'CREATE IN_PROGRESS') OR $late
		            THEN 'missed: ' || status || ' at ' || progress
		            WHEN status = 'CREATE IN_PROGRESS' AND $when THEN $action
		            ELSE 'wait' END
		  FROM personalize.solution_version WHERE id = $v}),
		't', "$label: the fault is injected while the version is being trained");
	$faults++;
	$opts{check}->($v, $offset) if $opts{check};
	$opts{after}->() if $opts{after};
	wait_for_exit($pid);

	my $status = query("SELECT personalize.wait_for_solution_version($v, '30 s')");
	my $reason = query("SELECT failure_reason FROM personalize.solution_version WHERE id = $v");
	if ($signal eq 'stop')
	{
		is($status, 'CREATE STOPPED', "$label: the version is CREATE STOPPED");
		like($reason, qr/stopped by personalize\.stop_solution_version/, "$label: with the reason");
	}
	else
	{
		is($status, 'CREATE FAILED', "$label: the version is CREATE FAILED");
		like($reason,
			$signal eq 'cancel'
			? qr/canceling statement due to user request/
			: qr/the training worker \(pid $pid\) exited before finishing/,
			"$label: with the reason");
	}
	is(model_rows($v), '0', "$label: no model rows once the worker is gone");
	is(query("SELECT finished IS NOT NULL FROM personalize.solution_version WHERE id = $v"), 't',
		"$label: the version has a finish time");
	return $v;
}

for my $signal (qw(cancel terminate))
{
	my $lock = lock_table('plays', 'ACCESS EXCLUSIVE');
	worker_fault("worker $signal while reading", 'radio-slow', $signal,
		when => waits_for_lock('worker_pid', q{'plays'::regclass}),
		check => sub {
			my ($v, $offset) = @_;
			like(log_since($offset), qr/solution version $v of "radio-slow": reading interactions/,
				"worker $signal while reading: the worker logged its read phase");
			is(query("SELECT progress FROM personalize.solution_version WHERE id = $v"), '0',
				"worker $signal while reading: no progress was recorded");
		},
		after => sub { release($lock) });
}

worker_fault('worker cancel while iterating (evaluation split)', 'radio-slow', 'cancel',
	when => 'progress BETWEEN 0.10 AND 0.45', late => 'progress > 0.45');
worker_fault('worker terminate while iterating (training on all data)', 'radio-slow', 'terminate',
	when => 'progress BETWEEN 0.55 AND 0.90', late => 'progress > 0.90');
worker_fault('worker stop while iterating (evaluation split)', 'radio-slow', 'stop',
	when => 'progress BETWEEN 0.10 AND 0.45', late => 'progress > 0.45');

for my $signal (qw(cancel terminate stop))
{
	my $lock = lock_table('personalize.model_item', 'SHARE');
	worker_fault("worker $signal while writing the model", 'radio-quick', $signal,
		when => waits_for_lock('worker_pid', q{'personalize.model_item'::regclass}),
		check => sub {
			my ($v, $offset) = @_;
			like(log_since($offset), qr/solution version $v of "radio-quick": writing model/,
				"worker $signal while writing the model: the worker logged its write phase");
			is(query("SELECT progress FROM personalize.solution_version WHERE id = $v"), '0.95',
				"worker $signal while writing the model: progress was 95%");
		},
		# a stopped worker writes its rows once the lock is released, finds
		# the version stopped and rolls them back
		after => sub { release($lock) });
}

# Before it claims its version the worker waits for the requesting
# transaction to end.  The requesting session terminated before it commits:
# nothing is trained and no version remains.
my $requester = start_session(
	"BEGIN;\nSELECT personalize.create_solution_version('radio-quick', wait => false);\n\\echo requested\n");
session_wait_for($requester, qr/requested/, 'stdout');
my ($pending) = $requester->{stdout} =~ /^(\d+)$/m;
my $offset = -s $node->logfile;
my $waiting_worker = poll_until_fired(q{
	SELECT coalesce(min(pid)::text, 'wait') FROM pg_stat_activity
	 WHERE backend_type = 'personalize training' AND wait_event = 'transactionid'});
my $requester_pid = query("SELECT pid FROM pg_stat_activity WHERE application_name = '$requester->{name}'");
is(query("SELECT pg_terminate_backend($requester_pid)"), 't',
	'the session that asked for a background training is terminated before it commits');
$faults++;
wait_for_exit($requester_pid);
$requester->{stdin} .= "\\q\n";
session_finish($requester);
wait_for_exit($waiting_worker);
like(log_since($offset), qr/solution version $pending is no longer pending; nothing to train/,
	'the worker finds nothing to train');
is(query("SELECT count(*) FROM personalize.solution_version WHERE id = $pending"), '0',
	'and no version row remains');

# The worker cancelled while it waits for the requester, which then commits:
# the version is CREATE PENDING with no worker, which waiting notices.
$requester = start_session(
	"BEGIN;\nSELECT personalize.create_solution_version('radio-quick', wait => false);\n\\echo requested\n");
session_wait_for($requester, qr/requested/, 'stdout');
($pending) = $requester->{stdout} =~ /^(\d+)$/m;
$waiting_worker = poll_until_fired(q{
	SELECT coalesce(min(pid)::text, 'wait') FROM pg_stat_activity
	 WHERE backend_type = 'personalize training' AND wait_event = 'transactionid'});
is(query("SELECT pg_cancel_backend($waiting_worker)"), 't',
	'a worker waiting for its requester to commit is cancelled');
$faults++;
wait_for_exit($waiting_worker);
$requester->{stdin} .= "COMMIT;\n\\q\n";
is(session_finish($requester), 0, 'then the requester commits');
is(query("SELECT status FROM personalize.solution_version WHERE id = $pending"), 'CREATE PENDING',
	'the version is CREATE PENDING');
is(query("SELECT personalize.wait_for_solution_version($pending, '30 s')"), 'CREATE FAILED',
	'wait_for_solution_version finds its worker gone and reports CREATE FAILED');
like(query("SELECT failure_reason FROM personalize.solution_version WHERE id = $pending"),
	qr/the training worker \(pid $waiting_worker\) exited before finishing/, 'with the reason');
check_invariants('worker faults');

# --- 3. immediate server stop during background training ------------------

my $lock = lock_table('personalize.model_item', 'SHARE');
my $blocked = query(q{SELECT personalize.create_solution_version('radio-quick', wait => false)});
poll(waits_for_lock("(SELECT worker_pid FROM personalize.solution_version WHERE id = $blocked)",
	q{'personalize.model_item'::regclass}));
my $crashed = query(q{SELECT personalize.create_solution_version('radio-slow', wait => false)});
is(poll_until_fired(qq{
	SELECT CASE WHEN status NOT IN ('CREATE PENDING', 'CREATE IN_PROGRESS') OR progress > 0.45 THEN 'missed: ' || status || ' at ' || progress
	            WHEN status = 'CREATE IN_PROGRESS' AND progress >= 0.10 THEN 't' ELSE 'wait' END
	  FROM personalize.solution_version WHERE id = $crashed}),
	't', 'a training is iterating and another waits to write its model when the server stops');
close_control();
$node->stop('immediate');
$faults++;
$lock->{run}->kill_kill;
$node->start;

my $t0 = time;
is(query("SELECT personalize.wait_for_solution_version($crashed, '10 s')"), 'CREATE FAILED',
	'after the restart wait_for_solution_version reports the interrupted version CREATE FAILED');
cmp_ok(time - $t0, '<', 9, 'without waiting for the timeout');
like(query("SELECT failure_reason FROM personalize.solution_version WHERE id = $crashed"),
	qr/server restarted/, 'the failure reason names the restart');
is(query("SELECT status FROM personalize.solution_version WHERE id = $blocked"), 'CREATE IN_PROGRESS',
	'the other interrupted version is left as it was until something looks at it');
is(recommendations('radio'), $recommendations, 'the campaign serves the same recommendations after the restart');

my $retrained = query(q{SET client_min_messages = warning;
	SELECT personalize.create_solution_version('radio-slow')});
is(query("SELECT status FROM personalize.solution_version WHERE id = $retrained"), 'ACTIVE',
	'a new version of the interrupted solution trains ACTIVE');
is(query("SELECT status FROM personalize.solution_version WHERE id = $crashed"), 'CREATE FAILED',
	'the interrupted version stays CREATE FAILED');
my $requick = query(q{SELECT personalize.create_solution_version('radio-quick', wait => false)});
is(query("SELECT personalize.wait_for_solution_version($requick, '30 s')"), 'ACTIVE',
	'a new background version of the solution interrupted while writing trains ACTIVE');
is(query("SELECT status || ': ' || failure_reason FROM personalize.solution_version WHERE id = $blocked"),
	'CREATE FAILED: the server restarted before training finished',
	'starting it marked the version interrupted while writing CREATE FAILED');
check_invariants('immediate stop');

# --- 4. DROP TABLE of the interactions table during training -------------

sub register_gone
{
	query(q{
		CREATE TABLE plays_gone AS SELECT * FROM plays;
		SELECT personalize.drop_dataset('gone', 'interactions');
		SELECT personalize.create_dataset('gone', 'interactions', 'plays_gone', event_time => 'ts');
	});
}

# 4a. the DROP is committed while the worker waits to read the table
my $gone = query(q{SELECT 'plays_gone'::regclass::oid});
my $dropper = start_session("BEGIN;\nDROP TABLE plays_gone;\n\\echo dropped\n");
session_wait_for($dropper, qr/dropped/, 'stdout');
my $v = query(q{SELECT personalize.create_solution_version('gone-slow', wait => false)});
poll(waits_for_lock("(SELECT worker_pid FROM personalize.solution_version WHERE id = $v)", $gone));
$dropper->{stdin} .= "COMMIT;\n\\q\n";
is(session_finish($dropper), 0, 'DROP TABLE of the interactions table is committed while the worker waits to read it');
$faults++;
is(query("SELECT personalize.wait_for_solution_version($v, '30 s')"), 'CREATE FAILED',
	'the training fails');
like(query("SELECT failure_reason FROM personalize.solution_version WHERE id = $v"),
	qr/plays_gone.*(does not exist|no longer exists)/, 'naming the dropped table');
check_invariants('DROP TABLE while the worker waits to read it');

# 4b. the DROP runs while the worker computes, holding no lock on the table
register_gone();
$v = query(q{SELECT personalize.create_solution_version('gone-slow', wait => false)});
is(poll_until_fired(qq{
	SELECT CASE WHEN status NOT IN ('CREATE PENDING', 'CREATE IN_PROGRESS') OR progress > 0.90 THEN 'missed: ' || status || ' at ' || progress
	            WHEN status = 'CREATE IN_PROGRESS' AND progress >= 0.10 THEN 't' ELSE 'wait' END
	  FROM personalize.solution_version WHERE id = $v}),
	't', 'the worker is computing');
query(q{SET lock_timeout = '20 s'; DROP TABLE plays_gone; RESET lock_timeout});
$faults++;
note('DROP TABLE ' . (query("SELECT status FROM personalize.solution_version WHERE id = $v") eq 'CREATE IN_PROGRESS'
	? 'did not wait for the worker' : 'waited for the worker to finish'));
my $status = query("SELECT personalize.wait_for_solution_version($v, '60 s')");
like($status, qr/^(ACTIVE|CREATE FAILED)$/, "DROP TABLE while the worker computes: the version ends $status");
check_invariants('DROP TABLE while the worker computes');

# 4c. the DROP waits for an in-session training that read the table (held
# while writing its model by a lock on model_item)
register_gone();
$lock = lock_table('personalize.model_item', 'SHARE');
my $trainer = start_session("SELECT personalize.create_solution_version('gone-quick');\n\\q\n");
my $trainer_pid = session_pid($trainer);
poll(waits_for_lock($trainer_pid, q{'personalize.model_item'::regclass}));
$dropper = start_session("DROP TABLE plays_gone;\n\\q\n");
poll(waits_for_lock(session_pid($dropper), q{'plays_gone'::regclass}));
$faults++;
pass('DROP TABLE waits for the in-session training that read the table');
release($lock);
is(session_finish($trainer), 0, 'the in-session training finishes');
($v) = $trainer->{stdout} =~ /^(\d+)$/m;
is(query("SELECT status FROM personalize.solution_version WHERE id = $v"), 'ACTIVE', 'its version is ACTIVE');
is(session_finish($dropper), 0, 'then DROP TABLE completes');

my ($ret, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT personalize.create_solution_version('gone-quick')}, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
is($ret, 0, 'training from the dropped table returns');
like($stderr, qr/WARNING:  42P01: solution version $stdout of "gone-quick" failed: the interactions relation of dataset group "gone" no longer exists/,
	'with a WARNING saying the table is gone');
is(query("SELECT status FROM personalize.solution_version WHERE id = $stdout"), 'CREATE FAILED',
	'and the version is CREATE FAILED');
check_invariants('DROP TABLE while an in-session training holds it');

# --- 5. two trainings of the same solution at once ------------------------

my $followed = query(q{SET client_min_messages = warning;
	SELECT personalize.create_solution_version('radio-mid')});
query(qq{SELECT personalize.create_campaign('radio-follow', $followed, '{"sync_with_latest_solution_version": true}')});
my ($first, $second) = split /\|/, query(q{
	SELECT personalize.create_solution_version('radio-mid', wait => false),
	       personalize.create_solution_version('radio-mid', wait => false)});
is(poll_until_fired(qq{
	SELECT CASE WHEN count(*) FILTER (WHERE status = 'CREATE IN_PROGRESS') = 2 THEN 't'
	            WHEN count(*) FILTER (WHERE status NOT IN ('CREATE PENDING', 'CREATE IN_PROGRESS')) > 0 THEN 'one ended first'
	            ELSE 'wait' END
	  FROM personalize.solution_version WHERE id IN ($first, $second)}),
	't', 'two trainings of the same solution run at the same time');
$faults++;
is(query("SELECT personalize.wait_for_solution_version($first, '60 s')") . ','
	  . query("SELECT personalize.wait_for_solution_version($second, '60 s')"),
	'ACTIVE,ACTIVE', 'both end ACTIVE');
is(query("SELECT count(DISTINCT items) FROM personalize.solution_version WHERE id IN ($first, $second, $followed)"),
	'1', 'all three versions have the same items');
like(query(q{SELECT solution_version FROM personalize.campaign WHERE name = 'radio-follow'}),
	qr/^($first|$second)$/, 'the campaign following the solution serves one of them');
is($node->safe_psql('postgres', q{SET client_min_messages = error;
	SELECT count(*) FROM personalize.recommend('radio-follow', '42', 10)}), '10', 'and serves');
check_invariants('concurrent trainings');

# --- 6. personalize.training_memory below the estimate ---------------------

for my $case ([ q{'2MB'}, '2', 'true' ], [ q{4096}, '4', 'false' ])
{
	my ($setting, $mb, $wait) = @$case;
	my $where = $wait eq 'true' ? 'in-session' : 'worker';
	my $versions = version_count();
	($ret, $stdout, $stderr) = $node->psql('postgres', qq{
		SET personalize.training_memory = $setting;
		SELECT personalize.create_solution_version('radio-slow', wait => $wait)},
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	$faults++;
	is($ret, 0, "$where training with training_memory = $setting returns a version");
	is(version_count(), $versions + 1, "$where: one version was created");
	$v = $stdout;
	my $message = qr/training solution "radio-slow" needs about [\d.]+ MB[^,]*, more than personalize\.training_memory \($mb(\.0)? MB\)/;
	if ($wait eq 'true')
	{
		like($stderr, qr/WARNING:  54000: solution version $v of "radio-slow" failed: $message/,
			"$where: a WARNING with SQLSTATE 54000 gives the estimate and the limit");
		like($stderr, qr/HINT:  .*personalize\.training_memory/, "$where: and a hint");
	}
	is(query("SELECT personalize.wait_for_solution_version($v, '30 s')"), 'CREATE FAILED',
		"$where: the version is CREATE FAILED");
	like(query("SELECT failure_reason FROM personalize.solution_version WHERE id = $v"),
		qr/^$message$/, "$where: failure_reason gives the estimate and the limit");
	is(model_rows($v), '0', "$where: no model rows");
}
$v = $node->safe_psql('postgres', q{SET client_min_messages = warning; SET personalize.training_memory = '64MB';
	SELECT personalize.create_solution_version('radio-quick')});
is(query("SELECT status FROM personalize.solution_version WHERE id = $v"), 'ACTIVE',
	'with enough training_memory the same training is ACTIVE');
check_invariants('training_memory too small');

close_control();
$node->stop;
note(sprintf('%d faults injected in %.1f s', $faults, time - $test_started));
done_testing();
