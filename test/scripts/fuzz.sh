#!/usr/bin/env bash
# fuzz.sh: what `make fuzzcheck` runs, for SECONDS seconds each (300 by
# default):
#   1. the libFuzzer target test/fuzz/filter_parse_fuzz.c over the filter
#      parser (src/filter_parse.c), built standalone with clang and the
#      address and undefined-behaviour sanitizers, seeded from
#      test/fuzz/corpus/filter with the grammar's words as a dictionary;
#      a crashing input is saved under test/fuzz/crashes/ (which the SQL
#      fuzzer replays from then on) and fails the run;
#   2. the SQL-level fuzzer test/t/009_fuzz.pl (filters compiled to SQL and
#      the JSON readers, through a running server).
# Installs clang and libclang-rt-14-dev (libFuzzer) when missing, as root.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${SECONDS_EACH:-300}

source test/scripts/lib.sh
if ! command -v clang >/dev/null || ! dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "ok installed"; then
	if is_root; then
		echo "fuzz.sh: installing clang and libclang-rt-14-dev"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
	else
		echo "libFuzzer needs: sudo apt-get install clang libclang-rt-14-dev" >&2
		exit 1
	fi
fi

work=$(mktemp -d /tmp/personalize-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc \
	test/fuzz/filter_parse_fuzz.c src/filter_parse.c -o "$work/filter_parse_fuzz"
mkdir -p "$work/corpus" test/fuzz/crashes
cp test/fuzz/corpus/filter/* "$work/corpus/"
echo "== libFuzzer: the filter parser for ${SECONDS_EACH} s"
if ! "$work/filter_parse_fuzz" -max_total_time="$SECONDS_EACH" -dict=test/fuzz/filter.dict \
	-artifact_prefix=test/fuzz/crashes/ -print_final_stats=1 "$work/corpus" 2>"$work/fuzz.log"; then
	tail -n 60 "$work/fuzz.log"
	echo "libFuzzer found a crash: the input is in test/fuzz/crashes/" >&2
	exit 1
fi
grep -E "^Done|stat::(number_of_executed_units|new_units_added)" "$work/fuzz.log"

echo "== SQL-level fuzzer for ${SECONDS_EACH} s"
PERSONALIZE_FUZZ_SECONDS=$SECONDS_EACH ONLY_TAP=test/t/009_fuzz.pl bash test/scripts/check.sh
