# bench_charts.gp: the two charts of `make bench` (test/scripts/bench.sh),
# as SVG, from the data files it writes under bench/results/:
#   training-SCALE.dat  interactions seconds       -> training-SCALE.svg
#   latency-SCALE.dat   items median_ms p99_ms filtered_median_ms -> latency-SCALE.svg
# Run: gnuplot -e "scale='small'; dir='bench/results'" test/scripts/bench_charts.gp
set terminal svg size 640,400 dynamic font "sans,12" background "white"
set grid
set key top left
set datafile columnheaders

# Training: seconds against millions of interactions, with the line through
# the origin fitted to the points (linear growth is the bar)
set output dir."/training-".scale.".svg"
set title "user-personalization training (k = 64, 15 sweeps)"
set xlabel "interactions (millions)"
set ylabel "seconds (split + full, reading included)"
set xrange [0:*]
set yrange [0:*]
f(x) = a * x
a = 1
set fit quiet
set fit logfile "/dev/null"
fit f(x) dir."/training-".scale.".dat" using ($1 / 1e6):2 via a
plot dir."/training-".scale.".dat" using ($1 / 1e6):2 with linespoints pt 7 lw 2 title "personalize", \
	f(x) with lines dt 2 lc rgb "gray" title sprintf("linear fit: %.2f s per million", a)

# Serving: recommend(25) latency against catalogue size (the 1M-item model
# loads in seconds: bench.sh leaves each connection's first call out)
set output dir."/latency-".scale.".svg"
set title "recommend(25) latency from one connection (k = 64)"
set xlabel "items in the catalogue"
set ylabel "milliseconds"
# both axes logarithmic: catalogues span three decades, latencies two
set logscale xy
set xrange [*:*]
set yrange [*:*]
set format x "%.0s%c"
set format y "%g"
plot dir."/latency-".scale.".dat" using 1:2 with linespoints pt 7 lw 2 title "median", \
	"" using 1:3 with linespoints pt 5 lw 1 dt 3 title "p99", \
	"" using 1:4 with linespoints pt 9 lw 1 title "median, 10% category filter"
