#!/usr/bin/env bash
# demo.sh [--data DIR]: what `make demo [DATA=DIR]` runs.  Installs missing
# packages, builds and installs the extension, starts a throwaway cluster on
# a private port as postgres, loads a dataset into ratings and movies
# (MovieLens-100K from DIR with --data, else the generated dataset of
# demo_data.sql), then runs the walk-through in demo.sql: register, train,
# compare metrics, deploy, recommend.  The cluster and its directory are
# removed at the end.
set -euo pipefail

usage() { echo "usage: $0 [--data MOVIELENS_100K_DIR]" >&2; exit 2; }

# Parse arguments before leaving the caller's directory (DIR may be relative).
DATA_DIR=""
while [[ $# -gt 0 ]]; do
	case "$1" in
		--data) [[ $# -ge 2 ]] || usage; DATA_DIR=$2; shift 2 ;;
		--data=*) DATA_DIR=${1#--data=}; shift ;;
		*) usage ;;
	esac
done
if [[ -n "$DATA_DIR" ]]; then
	[[ -r "$DATA_DIR/u.data" && -r "$DATA_DIR/u.item" ]] \
		|| { echo "no MovieLens-100K (u.data, u.item) in $DATA_DIR" >&2; exit 1; }
	DATA_DIR=$(cd "$DATA_DIR" && pwd)
fi

cd "$(dirname "$0")/../.."
bash test/scripts/deps.sh
source test/scripts/lib.sh

psql_demo() { as_pg psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

# The 19 genre names of MovieLens-100K in flag order (from u.genre when present).
movielens_genres() {
	if [[ -r "$DATA_DIR/u.genre" ]]; then
		iconv -f latin1 -t utf-8 "$DATA_DIR/u.genre" | awk -F'|' 'NF == 2 { printf "%s%s", sep, $1; sep = "," }'
	else
		echo "unknown,Action,Adventure,Animation,Children's,Comedy,Crime,Documentary,Drama,Fantasy,Film-Noir,Horror,Musical,Mystery,Romance,Sci-Fi,Thriller,War,Western"
	fi
}

# u.item: id|title|release date|video release date|IMDb URL|19 genre flags,
# in latin1 -> tab-separated item_id, title, genres ('|'-joined names).
movielens_movies_tsv() {
	iconv -f latin1 -t utf-8 "$DATA_DIR/u.item" | awk -F'|' -v OFS='\t' -v names="$(movielens_genres)" '
		BEGIN { n = split(names, g, ",") }
		NF >= 5 {
			genres = ""
			for (i = 1; i <= n; i++) if ($(5 + i) == 1) genres = genres (genres == "" ? "" : "|") g[i]
			title = $2; gsub(/[\t\\]/, " ", title)
			print $1, title, genres
		}'
}

load_movielens() {
	echo "Loading MovieLens-100K from $DATA_DIR"
	psql_demo -c "CREATE TABLE movies (item_id int PRIMARY KEY, title text NOT NULL, genres text NOT NULL)" \
		-c "CREATE TABLE ratings (user_id int NOT NULL, item_id int NOT NULL, rating int NOT NULL, ts bigint NOT NULL)"
	# u.data: user item rating epoch, tab-separated; COPY's text format as is
	movielens_movies_tsv | psql_demo -c "\\copy movies FROM STDIN"
	psql_demo -c "\\copy ratings FROM STDIN" < "$DATA_DIR/u.data"
	psql_demo -c "ANALYZE movies, ratings"
}

load_generated() {
	echo "Generating the demo dataset (600 users in 6 taste groups, 300 movies)"
	psql_demo < test/scripts/demo_data.sql
}

main() {
	build_and_install
	make_workdir
	trap cleanup EXIT
	start_cluster
	if [[ -n "$DATA_DIR" ]]; then load_movielens; else load_generated; fi
	psql_demo < test/scripts/demo.sql
	stop_cluster
	echo
	echo "Demo finished; its cluster is stopped and removed. README.md explains the SQL used."
}

main
