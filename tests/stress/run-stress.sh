#!/bin/sh
# Runs in the guest, from tests/guest/run-suite.sh: the stress and
# fault-injection scenarios of sgdma-stress, each in a process of its own
# with its own time budget (seconds of the guest's clock), on a kernel with
# fault injection (the debug kernel); elsewhere a single SKIP line.
#   run-stress.sh SGDMA_STRESS RESULTS [--final]
# PASS/FAIL/SKIP lines are appended to RESULTS (tests/run-tests counts
# them), everything else goes to stdout. --final runs the last check, that
# the module unloads once the stress is over (after the kmemleak scan,
# which can name sgdma only while it is loaded).
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

# name and budget; about 150 s in all (the lifetime scenarios spend much of
# it sleeping, which the guest's virtual clock skips).
if [ -n "$final" ]; then
	plan="unload 10"
else
	plan="threads 14 procs 10 fdpass 8 fork 10 kill 10 revoke 16 admin 10 limits 10
	      swiotlb 8 thp 12 failnth 40 failprob 8"
fi
seed=${SGDMA_STRESS_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
rc=0
set -- $plan
while [ $# -ge 2 ]; do
	name=$1 seconds=$2
	shift 2
	out=/tmp/sgdma-stress-$name.log
	start=$(cut -d' ' -f1 /proc/uptime)
	"$stress" --seed "$seed" --seconds "$seconds" "$name" >"$out" 2>&1
	status=$?
	end=$(cut -d' ' -f1 /proc/uptime)
	cat "$out"
	echo "# stress $name: exit $status, $(awk "BEGIN { print $end - $start }") s (seed $seed)"
	grep -E '^(PASS|FAIL|SKIP) ' "$out" >>"$results"
	if [ $status -ne 0 ]; then
		rc=1
		grep -q '^FAIL ' "$out" ||
			echo "FAIL $name (sgdma-stress exited $status, seed $seed)" >>"$results"
	elif ! grep -qE '^(PASS|SKIP) ' "$out"; then
		echo "FAIL $name (no result, seed $seed)" >>"$results"
		rc=1
	fi
done
exit $rc
