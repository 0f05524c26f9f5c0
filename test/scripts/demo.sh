#!/usr/bin/env bash
# demo.sh: what `make demo` runs. Installs missing packages, builds and
# installs the extension, starts a throwaway cluster on a private port,
# loads a dataset (MovieLens-100K with --data DIR, else the generated demo
# dataset of demo_data.sql), then runs the walk-through in demo.sql:
# register, train, evaluate, deploy, recommend. The cluster and its
# directory are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/scripts/lib.sh

data=""
if [[ "${1:-}" == "--data" ]]; then
	data=$(cd "${2:?--data needs a directory}" && pwd)
	[[ -r "$data/u.data" && -r "$data/u.item" ]] || { echo "no MovieLens-100K (u.data, u.item) in $data" >&2; exit 1; }
fi

bash test/scripts/deps.sh
build_and_install
make_workdir
trap cleanup EXIT
start_cluster
cp test/scripts/demo_data.sql test/scripts/demo.sql "$WORKDIR/"
[[ $(id -u) -eq 0 ]] && chown postgres: "$WORKDIR"/*.sql

psql_demo() { as_pg psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

if [[ -n "$data" ]]; then
	echo "Loading MovieLens-100K from $data"
	# u.item: id|title|release|video release|url|19 genre flags (latin1)
	iconv -f latin1 -t utf-8 "$data/u.item" | awk -F'|' -v OFS='\t' '
		BEGIN { split("unknown Action Adventure Animation Children Comedy Crime Documentary Drama Fantasy Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western", g, " ") }
		{ genres = ""; for (i = 6; i <= 24; i++) if ($i == 1) genres = genres (genres == "" ? "" : "|") g[i - 5];
		  gsub(/\t/, " ", $2); print $1, $2, genres }' > "$WORKDIR/movies.tsv"
	cp "$data/u.data" "$WORKDIR/ratings.tsv"
	[[ $(id -u) -eq 0 ]] && chown postgres: "$WORKDIR"/*.tsv
	psql_demo -c "CREATE TABLE movies (item_id int PRIMARY KEY, title text NOT NULL, genre text NOT NULL)" \
		-c "CREATE TABLE ratings (user_id int NOT NULL, item_id int NOT NULL, rating int NOT NULL, ts bigint NOT NULL)" \
		-c "\\copy movies FROM '$WORKDIR/movies.tsv'" \
		-c "\\copy ratings FROM '$WORKDIR/ratings.tsv'"
else
	echo "Generating the demo dataset (600 users in 6 taste groups, 300 movies)"
	psql_demo -f "$WORKDIR/demo_data.sql"
fi
psql_demo -f "$WORKDIR/demo.sql"
echo
echo "Demo finished; its cluster is removed. See README.md for the SQL used."
