#!/bin/sh
# Runs in the guest (started by tests/run-tests through tests/vm/sgvm): the
# in-VM googletest suites against the freshly built module, results as
# googletest XML in $SGVM_OUT.
#   run-suite.sh TEST_BINARY MODULE.ko SGDUMP EXAMPLE [GTEST_FILTER]
set -u
bin=$1
export SGDMA_KO=$2
sgdump=$3
example=$4
filter=${5:-}
rc=0

# On a kernel with kmemleak (the debug kernel), scan after each part: an
# object allocated on sgdma's behalf and no longer referenced fails it.
kmemleak=/sys/kernel/debug/kmemleak
[ -e /sys/kernel/debug/kmemleak ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
[ -w "$kmemleak" ] && echo clear >"$kmemleak"
leak_check() {
	[ -w "$kmemleak" ] || return 0
	# Twice: kmemleak reports an object only when two scans find it.
	echo scan >"$kmemleak"
	echo scan >"$kmemleak"
	cat "$kmemleak" >"$SGVM_OUT/kmemleak-$1.log"
	echo clear >"$kmemleak"
	if grep -q sgdma "$SGVM_OUT/kmemleak-$1.log"; then
		echo "FAIL kmemleak after $1" >>"$SGVM_OUT/kmemleak.results"
		cat "$SGVM_OUT/kmemleak-$1.log"
		rc=1
	else
		echo "PASS kmemleak after $1" >>"$SGVM_OUT/kmemleak.results"
	fi
}

if [ -n "$filter" ]; then
	"$bin" --gtest_filter="$filter" --gtest_output="xml:$SGVM_OUT/suite.xml" || rc=1
	leak_check suite
	exit $rc
fi
# arm64: the kernel maintains the caches for the device exactly when the
# configuration makes it non-coherent (PASS/FAIL lines, as sgdump's). First,
# while the device has never had a driver: a driver's probe configures its
# DMA, and that configuration outlives the driver.
if [ "$(uname -m)" = aarch64 ]; then
	"$(dirname "$0")/cache-maintenance.sh" "$sgdump" "$SGDMA_KO" >"$SGVM_OUT/cache.results" 2>&1 ||
		rc=1
	cat "$SGVM_OUT/cache.results"
fi
# Unloading needs a process that never opened the device: run those first.
"$bin" --gtest_filter='ModuleLifecycle.*:ModuleExposure.*' --gtest_output="xml:$SGVM_OUT/module.xml" || rc=1
"$bin" --gtest_filter='-ModuleLifecycle.*:ModuleExposure.*' --gtest_output="xml:$SGVM_OUT/suite.xml" || rc=1
leak_check suite

# The documented userspace-driver example (docs/userspace-driver.md).
if "$example" >"$SGVM_OUT/example.log" 2>&1; then
	echo "PASS edu_uio" >"$SGVM_OUT/example.results"
else
	echo "FAIL edu_uio" >"$SGVM_OUT/example.results"
	rc=1
fi
cat "$SGVM_OUT/example.log"

# sgdump against the device as the suites left it (exposed, with this
# configuration's mask); its checks print PASS/FAIL/SKIP lines.
tools_dir=$(dirname "$0")/../tools
"$tools_dir/test-sgdump.sh" "$sgdump" >"$SGVM_OUT/sgdump.results" 2>&1 || rc=1
cat "$SGVM_OUT/sgdump.results"
leak_check tools

# The Python package (python/): pytest, real edu DMA into numpy arrays and
# other buffers, with the library of this build (the shared libsgdma of the
# guest's architecture: build/<arch>/libsgdma next to an arm64 $bin); its
# JUnit XML is counted as the googletest reports are. One SKIP line without
# numpy or pytest.
python_dir=$(dirname "$0")/../../python
if ! python3 -c 'import numpy, pytest' 2>/dev/null; then
	echo "SKIP python # python3 with numpy and pytest missing (tools/install-deps installs them)" \
		>"$SGVM_OUT/python.results"
else
	SGDMA_LIB=$(dirname "$bin")/../../libsgdma/libsgdma.so.1 PYTHONDONTWRITEBYTECODE=1 \
		python3 -m pytest -q -c "$python_dir/pytest.ini" "$python_dir/tests" \
		--junitxml="$SGVM_OUT/python.xml" >"$SGVM_OUT/python.log" 2>&1
	status=$?
	cat "$SGVM_OUT/python.log"
	# 1: tests failed (the report has them); anything else is a failure
	# of its own (5: no test ran).
	if [ $status -ne 0 ]; then
		rc=1
		[ $status -eq 1 ] && [ -s "$SGVM_OUT/python.xml" ] ||
			echo "FAIL python (pytest exited $status)" >"$SGVM_OUT/python.results"
	fi
fi
leak_check python

# The ioctl fuzzer (tests/fuzz/sgdma-fuzz.c), sized for CI (whichever comes
# first: the guest's clock is virtual, the call count is not); a failure
# names the seed that replays it. The debug kernel's checkers (KASAN,
# lockdep, kmemleak) are what find a bug in a short run: it gets 20 s.
# Elsewhere 5 s (some 40,000 calls) shows that this kernel's build takes
# every command and leaves nothing behind; longer runs are `scons fuzz`.
fuzz=$(dirname "$bin")/../fuzz/sgdma-fuzz
fuzz_seconds=5 fuzz_calls=50000
[ -w "$kmemleak" ] && fuzz_seconds=20 fuzz_calls=200000
if [ ! -x "$fuzz" ]; then
	echo "SKIP fuzz # $fuzz not built" >"$SGVM_OUT/fuzz.results"
elif "$fuzz" --seconds $fuzz_seconds --calls $fuzz_calls --threads 4 --kmsg >"$SGVM_OUT/fuzz.log" 2>&1; then
	echo "PASS fuzz" >"$SGVM_OUT/fuzz.results"
else
	seed=$(sed -n 's/^sgdma-fuzz: seed \([0-9]*\).*/\1/p' "$SGVM_OUT/fuzz.log")
	echo "FAIL fuzz (seed ${seed:-unknown})" >"$SGVM_OUT/fuzz.results"
	rc=1
fi
cat "$SGVM_OUT/fuzz.log"
leak_check fuzz

# Stress and fault injection (tests/stress/), on a kernel with fault
# injection (the debug kernel); elsewhere one SKIP line. Unloading the
# module is the last check, after the kmemleak scan (which can name sgdma
# only while it is loaded).
stress_sh=$(dirname "$0")/../stress/run-stress.sh
stress=$(dirname "$bin")/../stress/sgdma-stress
"$stress_sh" "$stress" "$SGVM_OUT/stress.results" || rc=1
leak_check stress
"$stress_sh" "$stress" "$SGVM_OUT/stress.results" --final || rc=1
exit $rc
