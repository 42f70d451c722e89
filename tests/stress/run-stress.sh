#!/bin/sh
# Runs in the guest, from tests/guest/run-suite.sh: the stress and
# fault-injection scenarios of sgdma-stress, each with its own budget
# (seconds of the guest's clock, besides caps on iterations), on a kernel
# with fault injection (the debug kernel); elsewhere a single SKIP line.
#   run-stress.sh SGDMA_STRESS RESULTS [--final]
# PASS/FAIL/SKIP lines are appended to RESULTS (tests/run-tests counts
# them), the log goes to stdout. --final runs the last check, that the
# module unloads once the stress is over (after the kmemleak scan, which
# can name sgdma only while it is loaded). $SGDMA_STRESS_SEED replays a
# run's seed, $SGDMA_STRESS_ARGS adds options (--verbose).
set -u
stress=$1
results=$2
final=${3:-}

[ -e /sys/kernel/debug/fail_page_alloc ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
if [ ! -e /proc/self/fail-nth ] || [ ! -e /sys/kernel/debug/fail_page_alloc ]; then
	[ -n "$final" ] && exit 0
	echo "SKIP stress # this kernel has no fault injection (the debug kernel has)" >>"$results"
	exit 0
fi
if [ ! -x "$stress" ]; then
	[ -n "$final" ] && exit 0
	echo "FAIL stress ($stress not built)" >>"$results"
	exit 1
fi

# One process runs them in turn (starting programs is slow on a debug
# kernel): about 130 s of budgets, most of the stress part's time.
if [ -n "$final" ]; then
	plan="unload:10"
else
	plan="threads:12 procs:8 fdpass:6 fork:8 kill:8 revoke:8 admin:8 limits:8 swiotlb:8
	      thp:10 failnth:30 failprob:8"
fi
seed=${SGDMA_STRESS_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
out=/tmp/sgdma-stress${final:+-final}.log
# shellcheck disable=SC2086 # word splitting is the point
"$stress" --seed "$seed" ${SGDMA_STRESS_ARGS:-} $plan >"$out" 2>&1
status=$?
cat "$out"
echo "# sgdma-stress exited $status (seed $seed; SGDMA_STRESS_SEED=$seed replays it)"
grep -E '^(PASS|FAIL|SKIP) ' "$out" >>"$results"
rc=0
[ $status -eq 0 ] || rc=1
# Every scenario reports, even when the process died on the way.
for step in $plan; do
	name=${step%%:*}
	if ! grep -qE "^(PASS|FAIL|SKIP) $name( |\$)" "$out"; then
		echo "FAIL $name (no result: sgdma-stress exited $status, seed $seed)" >>"$results"
		rc=1
	fi
done
if [ $status -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
	echo "FAIL stress (sgdma-stress exited $status, seed $seed)" >>"$results"
fi
exit $rc
