#!/bin/sh
# run.sh BUILD_DIR...: run every test binary of each build, sum cmocka's
# summaries, and end with one line "N passed, N failed". Exit 1 on any failure.
# A binary that dies without a summary counts as one failed test.
set -u
passed=0
failed=0
for b in "$@"; do
	[ -d "$b/tests" ] || continue
	for t in $(find "$b/tests/${TEST_MOD:-}" -type f -perm -u+x -name 'test_*' | sort); do
		log=$(mktemp)
		MN_BUILD="$b" timeout 900 "$t" >"$log" 2>&1
		rc=$?
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
		p=${p:-0}
		f=${f:-0}
		if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
			f=1
		fi
		if [ "$f" != 0 ]; then
			cat "$log"
			echo "FAIL $t (exit $rc)"
		else
			echo "ok   $t ($p)"
		fi
		passed=$((passed + p))
		failed=$((failed + f))
		rm -f "$log"
	done
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
