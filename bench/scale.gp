# scale.gp: draws bench/scale.png from the series bench_scale writes (run from
# the repository root; bench_scale runs it itself when gnuplot is installed):
#   gnuplot -e "dat='build/bench-scale.dat'" bench/scale.gp
# Columns: n build_s incl_p50_us incl_p99_us cons_p50_us cons_p99_us
#   entries_per_s file_bytes_per_entry used_bytes_per_entry rss_mb hwm_mb anon_mb
#   open_ms incl_minflt_per_proof proof_rps proof_cpu_us proof_p99_ms entries_rps
#   entries_cpu_us entries_mb_s logd_rss_mb logd_anon_mb touch_p50_us
if (!exists("dat")) dat = 'build/bench-scale.dat'
set terminal pngcairo size 1200,1000 noenhanced
set output 'bench/scale.png'
set grid
set logscale x 10
set format x '10^%T'
set xrange [5e3:2e7]
set key top left
set multiplot layout 3,2 title 'costs against tree size: storage alone, and served by logd (one log built to 10^7 leaves of 100 B)'

set title 'proof generation (read_begin + proof + read_end)'
set ylabel 'us (log)'
set logscale y
set yrange [0.01:30]
set key bottom right font ',9' 
plot dat using 1:3 with linespoints lw 2 pt 7 title 'inclusion p50', \
     ''  using 1:4 with linespoints lw 2 pt 6 dt 2 title 'inclusion p99', \
     ''  using 1:5 with linespoints lw 2 pt 5 title 'consistency p50', \
     ''  using 1:6 with linespoints lw 2 pt 4 dt 2 title 'consistency p99', \
     ''  using 1:23 with linespoints lw 2 pt 3 dt 3 title 'floor: one random read of the map'

unset logscale y
set yrange [0:*]
set key top left font ',10' 
set title 'time to open (store_open incl. its check, warm cache)'
set ylabel 'ms'
plot dat using 1:13 with linespoints lw 2 pt 7 title 'store_open'

set title 'get-entries: store_r_entries of 256 at random starts'
set ylabel 'entries/s'
plot dat using 1:7 with linespoints lw 2 pt 7 title 'entries/s'

set title 'data.mdb bytes per entry beyond the 100-byte leaf'
set ylabel 'bytes'
plot dat using 1:($8-100) with linespoints lw 2 pt 7 title 'data.mdb size / n - 100 (incl. free pages)'
set title 'served by logd: CPU per request (wrk -t2 -c64)'
set ylabel 'us'
plot dat using 1:16 with linespoints lw 2 pt 7 title 'get-proof-by-hash', \
     ''  using 1:($19/10) with linespoints lw 2 pt 5 title 'get-entries of 256 (/10)'

set title 'served by logd: entries/s (get-entries of 256) and logd RssAnon'
set ylabel 'entries/s'
set y2label 'MB'
set y2tics
set y2range [0:*]
plot dat using 1:($18*256) with linespoints lw 2 pt 7 title 'get-entries entries/s', \
     ''  using 1:22 axes x1y2 with linespoints lw 2 pt 5 title 'logd RssAnon (MB, right)'
unset y2tics
unset y2label
unset multiplot
