# plot.gp: draws bench/throughput.png and bench/latency.png from the data files
# bench_http writes (run from the repository root):
#   gnuplot -e "dir='build/bench'" bench/plot.gp
if (!exists("dir")) dir = 'build/bench'
set terminal pngcairo size 800,500 noenhanced
set grid

set output 'bench/throughput.png'
set title 'add-chain over HTTP on 127.0.0.1 (load generator on the same machine)'
set xlabel 'concurrent keep-alive connections'
set ylabel 'submissions answered with an SCT per second'
set logscale x 2
set xtics (1, 8, 64)
set xrange [0.8:80]
set yrange [0:*]
set key bottom right
plot dir.'/http_throughput.dat' using 1:2 with linespoints lw 2 pt 7 title 'logd add-chain/s', \
     '' using 1:3 with lines dt 2 lw 2 title 'naive validation path x cores (ceiling B)'

set output 'bench/latency.png'
unset logscale x
set xtics auto
set key top left
set title 'add-chain: SCT latency (request sent to SCT received, after the fsync)'
set xlabel 'percentile'
set ylabel 'ms'
set xrange [0:100]
set logscale y
set yrange [*:*]
plot dir.'/http_latency.dat' using 1:2 with lines lw 2 title '1 connection', \
     '' using 1:3 with lines lw 2 title '8 connections', \
     '' using 1:4 with lines lw 2 title '64 connections'
