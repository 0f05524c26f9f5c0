#!/usr/bin/env bash
# bench.sh: what `make bench` runs.  Builds, starts a throwaway cluster,
# loads MovieLens-100K (when ../shared/data/ml-100k exists) and a synthetic
# set of MovieLens-20M's shape, trains each recipe, measures serving with
# pgbench against a primary-key lookup, and prints a table (figure, value,
# reference, ratio) that is also written as CSV under bench/results/.
#   SCALE=small  ~1M synthetic interactions (under two minutes)
#   SCALE=full   138,493 users x 26,744 items x ~20M interactions
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
source test/scripts/lib.sh
SCALE=${SCALE:-small}
case "$SCALE" in
	small) users=50000; items=10000; per_user=20 ;;
	full) users=138493; items=26744; per_user=144 ;;
	*) echo "SCALE must be small or full" >&2; exit 1 ;;
esac

bash test/scripts/deps.sh
build_and_install
make_workdir
trap cleanup EXIT
start_cluster
mkdir -p bench/results
csv="bench/results/bench-$SCALE-$(date -u +%Y%m%dT%H%M%SZ).csv"
echo "figure,value,reference,ratio" > "$csv"
rows=()

psql_b() { as_pg psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }
record() {	# figure value reference
	local ratio=""
	[[ -n "$3" ]] && ratio=$(awk -v a="$2" -v b="$3" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
	echo "$1,$2,$3,$ratio" >> "$csv"
	rows+=("$(printf '%-72s %12s %12s %8s' "$1" "$2" "$3" "$ratio")")
}
# median and p99 latency (ms) of a pgbench script, one client
latency() {	# script-file seconds
	local log="$WORKDIR/pgbench"
	rm -f "$log".*
	(cd "$WORKDIR" && as_pg pgbench -n -T "$2" -c 1 -f "$1" -l --log-prefix="$log" postgres >/dev/null)
	cat "$log".* | awk '{ print $3 / 1000 }' | sort -n | awk '{ v[NR] = $1 } END { printf "%.3f %.3f", v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1] }'
}
throughput() {	# script-file seconds clients
	(cd "$WORKDIR" && as_pg pgbench -n -T "$2" -c "$3" -j 2 -f "$1" postgres) | awk '/^tps/ { printf "%.0f", $3 }'
}

psql_b -c "CREATE EXTENSION personalize" -c "SET personalize.ease_max_items = 12000" \
	-c "CREATE TABLE pk AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 100000) g" \
	-c "ALTER TABLE pk ADD PRIMARY KEY (id)" >/dev/null
echo '\set id random(1, 100000)
SELECT * FROM pk WHERE id = :id;' > "$WORKDIR/pk.sql"

train() {	# dataset solution recipe -> prints seconds
	psql_b -At <<SQL | tail -1
SET client_min_messages = warning;
SET personalize.ease_max_items = 12000;
SELECT personalize.create_solution('$2', '$1', '$3') \g /dev/null
SELECT personalize.create_solution_version('$2') AS v \gset
SELECT round(training_seconds::numeric, 2) FROM personalize.solution_versions WHERE id = :v;
SQL
}

ml100k="$ROOT/../shared/data/ml-100k"
if [[ -r "$ml100k/u.data" ]]; then
	cp "$ml100k/u.data" "$WORKDIR/u.data"
	[[ $(id -u) -eq 0 ]] && chown postgres: "$WORKDIR/u.data"
	psql_b -c "CREATE TABLE ratings (user_id int, item_id int, rating int, ts bigint)" \
		-c "\\copy ratings FROM '$WORKDIR/u.data'" -c "CREATE INDEX ON ratings (user_id, ts)" \
		-c "SELECT personalize.create_dataset_group('ml100k')" \
		-c "SELECT personalize.create_dataset('ml100k', 'interactions', 'ratings', event_time => 'ts')" >/dev/null
	for recipe in popularity-count user-personalization ease sims; do
		record "ml-100k: train $recipe (split + full), s" "$(train ml100k "ml-$recipe" "$recipe")" ""
	done
	psql_b -At -c "SELECT 'ml-100k: ' || s.recipe || ' NDCG@10', round((v.metrics->>'normalized_discounted_cumulative_gain_at_10')::numeric, 4), round((v.metrics->>'baseline_normalized_discounted_cumulative_gain_at_10')::numeric, 4) FROM personalize.solution_versions v JOIN personalize.solutions s ON s.name = v.solution WHERE s.dataset_group = 'ml100k' AND s.recipe <> 'popularity-count' ORDER BY v.id" \
		| while IFS='|' read -r fig val ref; do echo "$fig|$val|$ref"; done > "$WORKDIR/ndcg"
	while IFS='|' read -r fig val ref; do record "$fig (ref: popularity)" "$val" "$ref"; done < "$WORKDIR/ndcg"
fi

echo "Generating the synthetic set (SCALE=$SCALE: $users users, $items items)"
start=$(date +%s.%N)
psql_b -v users="$users" -v items="$items" -v per_user="$per_user" -f test/scripts/bench_data.sql
record "synthetic: generate data, s" "$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')" ""
n=$(psql_b -At -c "SELECT count(*) FROM bench_ratings")
record "synthetic: interactions" "$n" ""
psql_b -c "SELECT personalize.create_dataset_group('synthetic')" \
	-c "SELECT personalize.create_dataset('synthetic', 'interactions', 'bench_ratings', event_time => 'ts')" \
	-c "SELECT personalize.create_dataset('synthetic', 'items', 'bench_items', metadata => ARRAY['category'])" \
	-c "SELECT personalize.create_filter('category', 'synthetic', 'INCLUDE ItemID WHERE Items.CATEGORY IN (\$C)')" \
	-c "SELECT personalize.create_filter('not-recent', 'synthetic', 'EXCLUDE ItemID WHERE Interactions.TS > 1400000000')" >/dev/null
for recipe in popularity-count user-personalization sims; do
	record "synthetic: train $recipe (split + full), s" "$(train synthetic "syn-$recipe" "$recipe")" ""
done
psql_b -c "SELECT personalize.create_campaign('syn', (SELECT max(id) FROM personalize.solution_versions WHERE solution = 'syn-user-personalization'))" \
	-c "SELECT personalize.create_campaign('syn-sims', (SELECT max(id) FROM personalize.solution_versions WHERE solution = 'syn-sims'))" >/dev/null

echo "\\set u random(1, $users)
SELECT * FROM personalize.recommend('syn', :u::text, 25);" > "$WORKDIR/rec.sql"
echo "\\set u random(1, $users)
SELECT * FROM personalize.recommend('syn', :u::text, 25, filter => 'category', filter_values => '{\"C\": \"3\"}');" > "$WORKDIR/rec_category.sql"
echo "\\set u random(1, $users)
SELECT * FROM personalize.recommend('syn', :u::text, 25, filter => 'not-recent');" > "$WORKDIR/rec_interactions.sql"
echo "\\set i random(0, $((items / 10)))
SELECT * FROM personalize.related_items('syn-sims', :i::text, 25);" > "$WORKDIR/rel.sql"
echo "\\set u random(1, $users)
SELECT * FROM personalize.personalized_rank('syn', :u::text, ARRAY(SELECT g::text FROM generate_series(1, 100) g));" > "$WORKDIR/rank.sql"
[[ $(id -u) -eq 0 ]] && chown postgres: "$WORKDIR"/*.sql
read -r pk_med pk_p99 <<< "$(latency "$WORKDIR/pk.sql" 5)"
read -r rec_med rec_p99 <<< "$(latency "$WORKDIR/rec.sql" 10)"
read -r rel_med rel_p99 <<< "$(latency "$WORKDIR/rel.sql" 5)"
read -r rank_med rank_p99 <<< "$(latency "$WORKDIR/rank.sql" 5)"
read -r cat_med cat_p99 <<< "$(latency "$WORKDIR/rec_category.sql" 5)"
read -r int_med int_p99 <<< "$(latency "$WORKDIR/rec_interactions.sql" 5)"
record "recommend(25) median latency, ms (ref: PK lookup)" "$rec_med" "$pk_med"
record "recommend(25) p99 latency, ms (ref: PK lookup)" "$rec_p99" "$pk_p99"
record "related_items(25) median latency, ms (ref: PK lookup)" "$rel_med" "$pk_med"
record "personalized_rank(100) median latency, ms (ref: PK lookup)" "$rank_med" "$pk_med"
record "recommend(25), 10% category filter, median ms (ref: unfiltered)" "$cat_med" "$rec_med"
record "recommend(25), Interactions EXCLUDE filter, median ms (ref: unfiltered)" "$int_med" "$rec_med"
pk_tps=$(throughput "$WORKDIR/pk.sql" 5 8)
rec_tps=$(throughput "$WORKDIR/rec.sql" 10 8)
record "recommend(25) tps, 8 clients (ref: PK lookup)" "$rec_tps" "$pk_tps"

echo
printf '%-58s %12s %12s %8s\n' figure value reference ratio
for r in "${rows[@]}"; do echo "$r"; done
echo
echo "CSV: $csv"
