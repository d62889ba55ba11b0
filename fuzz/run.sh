#!/bin/sh
# run.sh BUILD SECONDS NAME...: run each libFuzzer target BUILD/fuzz/fuzz_NAME
# for SECONDS seconds on a scratch copy of fuzz/corpus/NAME (the committed
# corpus is never grown automatically; copy an interesting new input in by
# hand). Crashes land in BUILD/fuzz/artifacts/NAME/, logs in
# BUILD/fuzz/logs/NAME.log, the grown corpus in BUILD/fuzz/grown/NAME/ (merge
# the useful part by hand: BUILD/fuzz/fuzz_NAME -merge=1 fuzz/corpus/NAME
# BUILD/fuzz/grown/NAME). Prints libFuzzer's final stats per target and
# ends with "N targets, N crashed"; exits 1 if any target crashed.
set -u
b=$1
secs=$2
shift 2
crashed=0
total=0
for t in "$@"; do
	bin="$b/fuzz/fuzz_$t"
	scratch=$(mktemp -d "/tmp/mn-fuzz-$t.XXXXXX")
	art="$b/fuzz/artifacts/$t/"
	log="$b/fuzz/logs/$t.log"
	mkdir -p "$art" "$b/fuzz/logs"
	[ -d "fuzz/corpus/$t" ] && cp -R "fuzz/corpus/$t/." "$scratch/"
	dict=""
	[ -f "fuzz/$t.dict" ] && dict="-dict=fuzz/$t.dict"
	# -print_final_stats gives the exec count; the last "cov:" line the coverage.
	"$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$art" \
		-timeout=25 -rss_limit_mb=4096 $dict "$scratch" >"$log" 2>&1
	rc=$?
	total=$((total + 1))
	stats=$(grep -E '^#[0-9]+.*(cov|DONE)' "$log" | tail -n 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	units=$(ls "$scratch" | wc -l)
	if [ "$rc" != 0 ]; then
		crashed=$((crashed + 1))
		echo "CRASH fuzz_$t (exit $rc): see $log and $art"
		grep -E 'ERROR|fuzz check failed|SUMMARY' "$log" | head -n 5
	else
		echo "ok    fuzz_$t ${secs}s execs=${execs:-?} corpus=$units | $stats"
	fi
	rm -rf "$b/fuzz/grown/$t"
	mkdir -p "$b/fuzz/grown"
	mv "$scratch" "$b/fuzz/grown/$t"
done
echo "$total targets, $crashed crashed"
[ "$crashed" = 0 ]
