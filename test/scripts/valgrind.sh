#!/usr/bin/env bash
# valgrind.sh: what `make valgrindcheck` runs.  The pg_regress suite against
# a server running under valgrind's memcheck (backends and background
# workers are forked from it, so every one is checked), then a report of
# the memory errors whose stack passes through personalize.so.
#
# Debian's PostgreSQL is not built with USE_VALGRIND, so the server itself
# reports known noise (uninitialised padding written to WAL and files);
# errors are counted only when a frame of the extension is on the stack,
# and the padding PostgreSQL writes on purpose is suppressed (valgrind.supp).
# Reads and writes past a palloc'd chunk inside a memory-context block are
# invisible this way; the large arrays (factors, scores, matrices) are
# allocated as blocks of their own, so overruns of those are caught.
#
# Exit status: non-zero when a test fails or the extension has an error.
# Takes a few minutes (valgrind slows the server 20-50 times).
# Set KEEP_WORKDIR=1 to keep the logs, TESTS="runtime filters" to run some.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash test/scripts/deps.sh
source test/scripts/lib.sh
if ! command -v valgrind >/dev/null; then
	if is_root; then
		apt-get install -y -qq --no-install-recommends valgrind >/dev/null
	else
		echo "valgrind is not installed: sudo apt-get install valgrind" >&2
		exit 1
	fi
fi
build_and_install

make_workdir
trap cleanup EXIT
cp -r test expected "$WORKDIR/"
give_to_pg "$WORKDIR"
pick_port
as_pg initdb -D "$WORKDIR/data" -A trust -U postgres --no-locale -E UTF8 >"$WORKDIR/initdb.log" 2>&1
export PGHOST="$WORKDIR" PGUSER=postgres PGDATABASE=postgres

# The server under memcheck; each process writes its own log.
CLUSTER_STARTED=1
as_pg valgrind --quiet --leak-check=no --num-callers=30 --error-limit=no \
	--suppressions="$WORKDIR/test/scripts/valgrind.supp" \
	--log-file="$WORKDIR/valgrind.%p.log" \
	postgres -D "$WORKDIR/data" -p "$PGPORT" -k "$WORKDIR" -c listen_addresses= \
	-c huge_pages=off -c max_worker_processes=16 >"$WORKDIR/server.log" 2>&1 &
for _ in $(seq 1 120); do
	as_pg pg_isready -q && break
	sleep 1
done
as_pg pg_isready -q || { echo "the server did not start under valgrind" >&2; exit 1; }

as_pg createdb valgrind_regression
as_pg psql -X -q -d valgrind_regression -c 'CREATE EXTENSION personalize'
tests=${TESTS:-$(cd test/sql && ls ./*.sql | sed 's|^\./||; s|\.sql$||')}
regress_status=0
# shellcheck disable=SC2086  # one argument per test
(cd "$WORKDIR" && as_pg "$PG_REGRESS" --use-existing --inputdir=test --outputdir=. \
	--dbname=valgrind_regression $tests) || regress_status=$?
[[ -s "$WORKDIR/regression.diffs" ]] && cat "$WORKDIR/regression.diffs"
stop_cluster

# Memory errors with a frame of the extension on their stack: a frame shows
# "(in .../personalize.so)", or, with the debug information the build has,
# "(file.c:line)" for one of src/*.c.
ours="personalize\\.so|\\(($(cd src && ls ./*.c | sed 's|^\./||; s|\.c$||' | paste -sd '|'))\\.c:"
export ours	# read through ENVIRON: awk -v would undo the backslashes
errors=$(awk '
	BEGIN { ours = ENVIRON["ours"] }
	/^==[0-9]+== [A-Z]/ && !block { block = $0 "\n"; next }
	block && /^==[0-9]+== *$/ { if (block ~ ours) { print block; n++ } block = ""; next }
	block { block = block $0 "\n" }
	END { if (block ~ ours) { print block; n++ } printf "%d\n", n > "/dev/stderr" }
' "$WORKDIR"/valgrind.*.log 2>"$WORKDIR/count")
count=$(cat "$WORKDIR/count")
processes=$(ls "$WORKDIR"/valgrind.*.log | wc -l)
echo
if [[ $count -gt 0 ]]; then
	echo "$errors"
	echo "valgrind: $count memory error(s) in personalize.so ($processes processes checked)"
else
	echo "valgrind: no memory error in personalize.so ($processes processes checked)"
fi
[[ $regress_status -eq 0 ]] || echo "pg_regress under valgrind failed; see the diffs above"
[[ $count -eq 0 && $regress_status -eq 0 ]]
