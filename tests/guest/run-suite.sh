#!/bin/sh
# Runs in the guest (started by tests/run-tests through tests/vm/sgvm): the
# in-VM googletest suites against the freshly built module, results as
# googletest XML in $SGVM_OUT.
#   run-suite.sh TEST_BINARY MODULE.ko [GTEST_FILTER]
set -u
bin=$1
export SGDMA_KO=$2
filter=${3:-}
rc=0

if [ -n "$filter" ]; then
	"$bin" --gtest_filter="$filter" --gtest_output="xml:$SGVM_OUT/suite.xml" || rc=1
	exit $rc
fi
# Unloading needs a process that never opened the device: run those first.
"$bin" --gtest_filter='ModuleLifecycle.*' --gtest_output="xml:$SGVM_OUT/module.xml" || rc=1
"$bin" --gtest_filter='-ModuleLifecycle.*' --gtest_output="xml:$SGVM_OUT/suite.xml" || rc=1
exit $rc
