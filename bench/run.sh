#!/bin/sh
# run.sh BUILD_DIR: run every benchmark and write bench/RESULTS.md.
# Each benchmark prints markdown table rows (figure, value, its ceiling measured
# in the same run, ratio). Benchmarks talk to 127.0.0.1 only and stop by
# themselves.
set -eu
B=${1:-build}
out=bench/RESULTS.md
tmp=$(mktemp)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
{
	echo "# Benchmark results"
	echo
	echo "Written by \`make bench\` on $(date -u +%Y-%m-%dT%H:%MZ), commit $commit,"
	echo "$(nproc) cores ($cpu), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, Linux $(uname -r)."
	echo "Every figure is measured next to a ceiling in the same run, because this"
	echo "machine is shared and noisy: the ratio is the figure to compare."
	echo
	echo "| what | measured | ceiling (same run) | ratio |"
	echo "|---|---|---|---|"
} >"$tmp"
for b in bench_ceilings bench_merkle bench_validate bench_store bench_map bench_scale bench_http bench_lookup bench_mn bench_policy bench_shards bench_ops bench_tiles bench_mirror bench_publish bench_witness bench_witness_log; do
	if [ -x "$B/bench/$b" ]; then
		echo "bench: $b" >&2
		"$B/bench/$b" "$B" >>"$tmp" || echo "| $b | failed | | |" >>"$tmp"
	fi
done
{
	echo
	echo "Plots from this run: [throughput](throughput.png), [latency](latency.png),"
	echo "[scale](scale.png)."
} >>"$tmp"
if [ -f bench/notes.md ]; then
	echo >>"$tmp"
	cat bench/notes.md >>"$tmp"
fi
mv "$tmp" "$out"
cat "$out"
