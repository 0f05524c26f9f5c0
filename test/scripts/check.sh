#!/usr/bin/env bash
# check.sh: what `make check` (and so CI's .ci/run) runs.  Installs missing
# packages, builds and installs the extension, copies what the tests need
# into a temporary directory owned by postgres, then runs every suite there
# against throwaway servers, as postgres:
#   pg_regress  test/sql/*.sql -> expected/*.out   (a --temp-instance of its own)
#   pgTAP       test/pgtap/*.sql through pg_prove  (a cluster started here,
#                                                   a fresh database per file)
#   TAP         test/t/*.pl with PostgreSQL::Test::Cluster (clusters of their own)
# A failing suite does not stop the next one.  Results are counted per test
# (a pg_regress test, a pgTAP file, a TAP file); the last line is exactly
# "N passed, N failed" and the exit status is non-zero when anything failed.
# Set KEEP_WORKDIR=1 to keep the temporary directory (results, logs), and
# ONLY_TAP="test/t/X.pl ..." to run just those TAP files (make loadcheck).
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

bash test/scripts/deps.sh
source test/scripts/lib.sh
build_and_install

passed=0
failed=0
skipped=0
failures=()

# pass NAME / fail NAME / skip NAME: record one test's result
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); failures+=("$1"); }
skip() { skipped=$((skipped + 1)); }

# Copy what the tests need into $WORKDIR, owned by postgres.
prepare_workdir() {
	make_workdir
	cp -r Makefile personalize.control test expected "$WORKDIR/"
	give_to_pg "$WORKDIR"
}

# pg_regress on a temporary instance.  PostgreSQL 15's pg_regress has no
# --expecteddir: it reads OUTPUTDIR/expected, then INPUTDIR/expected, so
# with expected/ copied into $WORKDIR, --outputdir=$WORKDIR finds it.
run_pg_regress() {
	echo "== pg_regress (test/sql)"
	local files=(test/sql/*.sql) tests=() log="$WORKDIR/pg_regress.log" name result failed_before=$failed
	if [[ ${#files[@]} -eq 0 ]]; then
		echo "no tests in test/sql: skipped"
		return 0
	fi
	for name in "${files[@]}"; do tests+=("$(basename "$name" .sql)"); done
	pick_port || { fail "pg_regress (no port)"; return 0; }
	(cd "$WORKDIR" && as_pg "$PG_REGRESS" --temp-instance="$WORKDIR/regress_instance" \
		--port="$PGPORT" --bindir="$PG_BINDIR" --inputdir=test --outputdir=. \
		--load-extension=personalize "${tests[@]}") 2>&1 | tee "$log" || true
	# one line per test: "test NAME ... ok|FAILED|failed (ignored)  N ms"
	for name in "${tests[@]}"; do
		result=$(grep -E "^(test)? +$name +\.\.\. " "$log" | sed -E 's/.*\.\.\. +//' | head -n 1)
		case "$result" in
			ok*|"failed (ignored)"*) pass ;;
			*) fail "pg_regress $name" ;;
		esac
	done
	if [[ -s "$WORKDIR/regression.diffs" ]]; then
		echo "--- regression.diffs"
		cat "$WORKDIR/regression.diffs"
	fi
	if [[ $failed -gt $failed_before && -f "$WORKDIR/log/postmaster.log" ]]; then
		echo "--- last lines of the temporary instance's log"
		tail -n 30 "$WORKDIR/log/postmaster.log"
	fi
}

# The ALS training tests once more with helper processes forced onto their
# small data (personalize.min_parallel_training_interactions = 0; the
# default keeps small fits in the training process): the expected output is
# the same, since the factors are bitwise the same.
PARALLEL_TESTS=(training training_hpo training_metadata training_worker training_parallel
	recommenders segments worker_segment)
run_pg_regress_parallel() {
	echo "== pg_regress with parallel ALS training forced on"
	local dir="$WORKDIR/parallel" log="$WORKDIR/parallel/pg_regress.log" name result
	mkdir -p "$dir"
	ln -sfn "$WORKDIR/expected" "$dir/expected"
	printf 'personalize.min_parallel_training_interactions = 0\npersonalize.max_training_workers = 2\n' > "$dir/parallel.conf"
	give_to_pg "$dir"
	pick_port || { fail "pg_regress parallel (no port)"; return 0; }
	(cd "$WORKDIR" && as_pg "$PG_REGRESS" --temp-instance="$dir/regress_instance" \
		--temp-config="$dir/parallel.conf" \
		--port="$PGPORT" --bindir="$PG_BINDIR" --inputdir=test --outputdir="$dir" \
		--load-extension=personalize "${PARALLEL_TESTS[@]}") 2>&1 | tee "$log" || true
	for name in "${PARALLEL_TESTS[@]}"; do
		result=$(grep -E "^(test)? +$name +\.\.\. " "$log" | sed -E 's/.*\.\.\. +//' | head -n 1)
		case "$result" in
			ok*) pass ;;
			*) fail "pg_regress (parallel training) $name" ;;
		esac
	done
	if [[ -s "$dir/regression.diffs" ]]; then
		echo "--- regression.diffs (parallel training)"
		cat "$dir/regression.diffs"
	fi
	# the helpers did take part
	grep -h "ALS training used" "$dir"/log/postmaster.log | tail -n 3 || true
}

# Run CMD..., showing its output live without prove's per-run summary lines
# when they only say that all went well, and keeping all of it in OUTFILE.
# Returns CMD's exit status.
run_logged() {	# OUTFILE CMD...
	local out=$1
	shift
	{ "$@" 2>&1; echo $? >"$out.rc"; } | tee "$out" \
		| grep --line-buffered -vE '^(All tests successful\.|Files=[0-9]+, Tests=[0-9]+,|Result: PASS)' || true
	return "$(cat "$out.rc")"
}

# pgTAP: each file in a fresh database of a cluster started here.
run_pgtap() {
	echo "== pgTAP (test/pgtap)"
	local files=(test/pgtap/*.sql) f db n=0
	if [[ ${#files[@]} -eq 0 ]]; then
		echo "no tests in test/pgtap: skipped"
		return 0
	fi
	if ! start_cluster; then
		for f in "${files[@]}"; do fail "pgTAP $f (cluster did not start)"; done
		return 0
	fi
	for f in "${files[@]}"; do
		n=$((n + 1))
		db="pgtap_$n"
		if as_pg createdb "$db" && run_logged "$WORKDIR/pgtap_$n.out" \
			as_pg env -C "$WORKDIR" pg_prove -h "$PGHOST" -p "$PGPORT" -d "$db" "$f"; then
			pass
		else
			fail "pgTAP $f"
		fi
	done
	stop_cluster
}

# TAP: prove, one file at a time, so each file's result is its exit status.
run_tap() {
	echo "== TAP (test/t)"
	local files=(test/t/*.pl) f out ml100k="$ROOT/../shared/data/ml-100k"
	if [[ -n "${ONLY_TAP:-}" ]]; then
		read -ra files <<<"$ONLY_TAP"
	fi
	if [[ ${#files[@]} -eq 0 ]]; then
		echo "no tests in test/t: skipped"
		return 0
	fi
	local env=(TESTDIR="$WORKDIR" PG_REGRESS="$PG_REGRESS" PERL5LIB="$PG_PERL${PERL5LIB:+:$PERL5LIB}")
	local var
	for var in PERSONALIZE_LOAD_SECONDS PERSONALIZE_FUZZ_SECONDS PERSONALIZE_FUZZ_SEED; do
		if [[ -n "${!var:-}" ]]; then
			env+=("$var=${!var}")
		fi
	done
	if [[ -r "$ml100k/u.data" ]]; then
		env+=(PERSONALIZE_ML100K="$(cd "$ml100k" && pwd)")
	else
		echo "MovieLens-100K not found at $ml100k: the tests that need it skip"
	fi
	local quota_dir rc
	for f in "${files[@]}"; do
		out="$WORKDIR/$(basename "$f" .pl).prove"
		rc=0
		if [[ $f == *_cpu_quota.pl ]] && quota_dir=$(make_cpu_quota_cgroup); then
			# the test, its servers and their workers inside the cgroup (if
			# this process may not move there, the test runs outside and skips)
			(
				quota_env=()
				if echo "$BASHPID" 2>/dev/null >"$quota_dir/cgroup.procs"; then
					quota_env=(PERSONALIZE_CPU_QUOTA=1)
				else
					echo "could not move into the cgroup $quota_dir: $f runs outside it (and skips)"
				fi
				run_logged "$out" as_pg env -C "$WORKDIR" "${env[@]}" "${quota_env[@]}" prove "$f"
			) || rc=$?
			remove_cgroup "$quota_dir"
		else
			run_logged "$out" as_pg env -C "$WORKDIR" "${env[@]}" prove "$f" || rc=$?
		fi
		if [[ $rc -eq 0 ]]; then
			if grep -q '\.\. skipped' "$out"; then skip; else pass; fi
		else
			fail "TAP $f"
			show_tap_logs "$(basename "$f" .pl)"
		fi
	done
}

# A cgroup limited to one CPU of time (cgroup v2's cpu.max, else v1's CFS
# quota), for the TAP files named *_cpu_quota.pl, which test what the
# extension does under a container's CPU limit: prints its directory, or
# fails where cgroups cannot be written (not root, a read-only cgroup file
# system, no cpu controller, or cgroup v2 with the cpu controller not
# already enabled for the root's children: the host's setup is not changed).
make_cpu_quota_cgroup() {
	local dir=""
	[[ $(id -u) -eq 0 ]] || return 1
	if [[ -f /sys/fs/cgroup/cgroup.subtree_control ]] && grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control; then
		dir=/sys/fs/cgroup/personalize-check-$$
		if mkdir "$dir" 2>/dev/null && echo "100000 100000" 2>/dev/null >"$dir/cpu.max"; then
			echo "$dir"
			return 0
		fi
	elif [[ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]]; then
		dir=/sys/fs/cgroup/cpu/personalize-check-$$
		if mkdir "$dir" 2>/dev/null && echo 100000 2>/dev/null >"$dir/cpu.cfs_period_us" &&
			echo 100000 2>/dev/null >"$dir/cpu.cfs_quota_us"; then
			echo "$dir"
			return 0
		fi
	fi
	[[ -n "$dir" && -d "$dir" ]] && rmdir "$dir" 2>/dev/null
	return 1
}

# Remove a cgroup once the processes of the test run in it have exited.
remove_cgroup() {	# DIR
	local tries
	for tries in 1 2 3 4 5 6 7 8 9 10; do
		rmdir "$1" 2>/dev/null && return 0
		sleep 1
	done
	echo "could not remove the cgroup $1" >&2
}

# The end of the node and test logs of a failed TAP file.
show_tap_logs() {
	local log
	for log in "$WORKDIR/tmp_check/log/regress_log_$1" "$WORKDIR"/tmp_check/log/"$1"_*.log; do
		[[ -f "$log" ]] || continue
		echo "--- last lines of $log"
		tail -n 40 "$log"
	done
}

main() {
	prepare_workdir
	trap cleanup EXIT
	if [[ -z "${ONLY_TAP:-}" ]]; then
		run_pg_regress
		run_pg_regress_parallel
		run_pgtap
	fi
	run_tap
	echo
	[[ $skipped -gt 0 ]] && echo "$skipped skipped"
	if [[ ${#failures[@]} -gt 0 ]]; then
		echo "Failed:"
		printf '  %s\n' "${failures[@]}"
	fi
	echo "$passed passed, $failed failed"
	[[ $failed -eq 0 ]]
}

main "$@"
