#!/usr/bin/env bash
# check.sh: what `make check` runs. Installs missing packages, builds and
# installs the extension, then runs every suite against throwaway servers:
#   pg_regress  test/sql/*.sql -> expected/*.out  (its own --temp-instance)
#   pgTAP       test/pgtap/*.sql through pg_prove (a cluster started here)
#   TAP         test/t/*.pl with PostgreSQL::Test::Cluster (clusters of its own)
# Every suite runs even when an earlier one fails; the exit status is
# non-zero when anything failed. The last line counts test files:
# "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
source test/scripts/lib.sh

bash test/scripts/deps.sh
build_and_install

make_workdir
trap cleanup EXIT
cp -r test expected "$WORKDIR/"
mkdir -p "$WORKDIR/regress"
ln -s "$WORKDIR/test/sql" "$WORKDIR/regress/sql"
ln -s "$WORKDIR/expected" "$WORKDIR/regress/expected"
[[ $(id -u) -eq 0 ]] && chown -R postgres: "$WORKDIR"

passed=0
failed=0
skipped=0
failures=()

# pg_regress, on a temporary instance of its own
echo "== pg_regress"
tests=$(cd test/sql && ls *.sql | sed 's/\.sql$//')
pick_port
if as_pg "$PG_REGRESS" --temp-instance="$WORKDIR/regress/instance" --port="$PGPORT" \
	--bindir="$PG_BINDIR" --inputdir="$WORKDIR/regress" --outputdir="$WORKDIR/regress" \
	--load-extension=personalize $tests | tee "$WORKDIR/regress.log"; then :; fi
passed=$((passed + $(grep -cE '^(test| )?[a-z_ ]+\.\.\. ok' "$WORKDIR/regress.log" || true)))
n=$(grep -cE '\.\.\. FAILED' "$WORKDIR/regress.log" || true)
if [[ $n -gt 0 || ! -s "$WORKDIR/regress.log" ]]; then
	failed=$((failed + (n > 0 ? n : 1)))
	failures+=("pg_regress")
	[[ -f "$WORKDIR/regress/regression.diffs" ]] && cat "$WORKDIR/regress/regression.diffs"
fi

# pgTAP, on a cluster started here
echo "== pgTAP"
start_cluster
as_pg createdb personalize_pgtap
if as_pg pg_prove -d personalize_pgtap "$WORKDIR"/test/pgtap/*.sql | tee "$WORKDIR/pgtap.log"; then :; fi
passed=$((passed + $(grep -cE '\.\. ok' "$WORKDIR/pgtap.log" || true)))
n=$(grep -cE '\.\. (Failed|Dubious|not ok)|Bad plan' "$WORKDIR/pgtap.log" || true)
if [[ $n -gt 0 ]] || ! grep -q '^Result: PASS' "$WORKDIR/pgtap.log"; then
	failed=$((failed + (n > 0 ? n : 1)))
	failures+=("pgTAP")
fi

# TAP, each test starting its own clusters
echo "== TAP"
ml100k="$ROOT/../shared/data/ml-100k"
tap_env=(TESTDIR="$WORKDIR/tap" PG_REGRESS="$PG_REGRESS")
if [[ -r "$ml100k/u.data" ]]; then
	tap_env+=(PERSONALIZE_ML100K="$(cd "$ml100k" && pwd)")
else
	echo "MovieLens-100K not found at $ml100k: its TAP test will be skipped"
fi
mkdir -p "$WORKDIR/tap/tmp_check"
[[ $(id -u) -eq 0 ]] && chown -R postgres: "$WORKDIR/tap"
if (cd "$WORKDIR" && as_pg env "${tap_env[@]}" prove -I "$PG_PERL" test/t/*.pl) | tee "$WORKDIR/tap.log"; then :; fi
skipped=$((skipped + $(grep -cE '\.\. skipped' "$WORKDIR/tap.log" || true)))
passed=$((passed + $(grep -cE '\.\. ok' "$WORKDIR/tap.log" || true)))
n=$(grep -cE '\.\. (Failed|Dubious)' "$WORKDIR/tap.log" || true)
if [[ $n -gt 0 ]] || ! grep -q '^Result: PASS' "$WORKDIR/tap.log"; then
	failed=$((failed + (n > 0 ? n : 1)))
	failures+=("TAP")
	for f in "$WORKDIR"/tap/tmp_check/log/regress_log_*; do
		[[ -f "$f" ]] && { echo "--- $f"; tail -50 "$f"; }
	done
fi

echo
if [[ ${#failures[@]} -gt 0 ]]; then
	echo "Failed suites: ${failures[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
