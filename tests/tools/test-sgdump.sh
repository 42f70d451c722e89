#!/bin/sh
# Checks sgdump's output and exit statuses against a live sgdma device.
# Runs in the guest (tests/vm/sgvm) with sgdma.ko loaded and one device
# exposed; in the bounce configuration set the device's 28-bit mask first.
#   test-sgdump.sh SGDUMP
# Prints "PASS name", "FAIL name" or "SKIP name # why" per check; exits 1
# if any check failed.
set -u

sgdump=${1:?usage: test-sgdump.sh SGDUMP}
failed=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
err=$tmp/err

pass() { echo "PASS $1"; }
skip() { echo "SKIP $1 # $2"; }
fail() {
	echo "FAIL $1${2:+: $2}"
	failed=1
	if [ -s "$err" ]; then sed 's/^/    stderr: /' "$err" | head -5; fi
}

# run EXPECTED_STATUS ARGS...: sgdump's stdout in $out, stderr in $err;
# succeeds when it exited with EXPECTED_STATUS.
run() {
	want=$1
	shift
	"$sgdump" "$@" >"$out" 2>"$err"
	rc=$?
	[ "$rc" -eq "$want" ]
}

# check NAME EXPECTED_STATUS ARGS...: exit status and, on failure, a
# one-line message on stderr that starts with "sgdump: ".
check_status() {
	name=$1
	shift
	if ! run "$@"; then
		fail "$name" "exit status $rc, expected $1"
	elif [ "$1" -ne 0 ] && ! head -1 "$err" | grep -q '^sgdump: '; then
		fail "$name" "no 'sgdump: ' message on stderr"
	else
		pass "$name"
	fi
}

# json_check NAME PYTHON_EXPR [ARGS...]: runs sgdump --json ARGS, then
# evaluates PYTHON_EXPR with d = the document; it must be true.
json_check() {
	name=$1
	expr=$2
	shift 2
	if ! run 0 --json "$@"; then
		fail "$name" "exit status $rc"
		return
	fi
	if msg=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
ok = eval("(" + sys.argv[2] + ")")
if not ok:
    print("false: " + sys.argv[2])
    sys.exit(1)
' "$out" "$expr" 2>&1); then
		pass "$name"
	else
		fail "$name" "$(echo "$msg" | tail -1)"
	fi
}

# The document must describe a consistent registration of SIZE bytes.
consistent='
d["buffer"]["size"] == SIZE and
len(d["segments"]) == d["summary"]["segments"] >= 1 and
[s["index"] for s in d["segments"]] == list(range(len(d["segments"]))) and
all(s["offset"] == sum(t["len"] for t in d["segments"][:i])
    for i, s in enumerate(d["segments"])) and
sum(s["len"] for s in d["segments"]) == SIZE and
all(s["len"] > 0 and s["pages"] >= 1 for s in d["segments"]) and
all(int(s["addr"], 16) + s["len"] - 1 <= int(d["device"]["dma_mask"], 16)
    for s in d["segments"]) and
d["summary"]["largest"] == max(s["len"] for s in d["segments"]) and
d["summary"]["smallest"] == min(s["len"] for s in d["segments"]) and
d["summary"]["pages"] == d["buffer"]["pages"] and
d["summary"]["register_ns"] > 0 and
sum(v for k, v in d["buffer"]["pages_per_node"].items()) == d["buffer"]["pages"] and
set(d["device"]) >= {"name", "numa_node", "dma_mask", "iommu", "coherent", "max_segment",
                     "seg_boundary", "dma_align"} and
d["summary"]["contiguous"] == (d["summary"]["segments"] == 1) and
d["summary"]["needs_sync"] == (d["summary"]["bounced"] or d["device"]["coherent"] is not True) and
(not d["summary"]["cacheline_shared"] or d["device"]["coherent"] is False) and
set(d["buffer"]) >= {"size", "offset", "memory", "dir", "pages", "pages_per_node"}
'

# ---- usage and errors ----------------------------------------------------

if run 0 --help && grep -q '^Usage:' "$out" && grep -q -- '--max-rows' "$out" &&
	grep -q 'Exit status' "$out"; then
	pass help
else
	fail help "exit status $rc or incomplete text"
fi

if run 0 --version && grep -q '^sgdump from sgdma ' "$out"; then
	pass version
else
	fail version "exit status $rc"
fi

check_status bad-size-zero 1 --size 0
check_status bad-size-unit 1 --size 12Q
check_status bad-size-negative 1 --size -4K
check_status bad-dir 1 --dir sideways
check_status bad-offset 1 --offset 4096
check_status bad-option 1 --no-such-option
check_status bad-node 1 --node 4096
check_status device-nonexistent 2 --device nonexistent
mkdir "$tmp/empty"
if SGDMA_DEV_DIR=$tmp/empty "$sgdump" >"$out" 2>"$err"; then rc=0; else rc=$?; fi
if [ "$rc" -eq 2 ] && grep -q '^sgdump: .*no sgdma device' "$err"; then
	pass no-device
else
	fail no-device "exit status $rc, expected 2"
fi

# ---- JSON ------------------------------------------------------------------

json_check json-default "$(echo "$consistent" | sed 's/SIZE/1048576/g') and
d[\"buffer\"][\"memory\"] == \"anonymous\" and d[\"buffer\"][\"dir\"] == \"bidi\""
# 32 MiB: large, yet within what swiotlb can bounce at once (64 MiB pool).
json_check json-32M "$(echo "$consistent" | sed 's/SIZE/33554432/g')" --size 32M
json_check json-odd-size "$(echo "$consistent" | sed 's/SIZE/12345/g') and
d[\"buffer\"][\"pages\"] == 4" --size 12345 --offset 4000
json_check json-size-units "d[\"buffer\"][\"size\"] == 3 * 1024 and
d[\"buffer\"][\"dir\"] == \"to\"" --size 3KiB --dir to
json_check json-dir-from "d[\"buffer\"][\"dir\"] == \"from\"" --dir from --size 8K
json_check json-offset "$(echo "$consistent" | sed 's/SIZE/65536/g') and
d[\"buffer\"][\"offset\"] == 100 and d[\"buffer\"][\"pages\"] == 17 and
(not d[\"device\"][\"iommu\"] or int(d[\"segments\"][0][\"addr\"], 16) % 4096 == 100)" \
	--size 64K --offset 100
json_check json-full-despite-max-rows "len(d[\"segments\"]) == d[\"summary\"][\"segments\"]" \
	--max-rows 1 --size 4M
json_check json-thp "$(echo "$consistent" | sed 's/SIZE/4194304/g') and
d[\"buffer\"][\"memory\"] == \"thp\"" --thp --size 4M

dd if=/dev/zero of="$tmp/file" bs=4096 count=16 2>/dev/null
json_check json-file "$(echo "$consistent" | sed 's/SIZE/65536/g') and
d[\"buffer\"][\"memory\"] == \"file\"" --file "$tmp/file"
json_check json-file-ro "d[\"buffer\"][\"size\"] == 65536 - 512" \
	--file "$tmp/file" --offset 512 --dir to
# A path with UTF-8, a byte that is not UTF-8, a newline, a quote, a
# backslash and a control character: one valid JSON document all the same,
# the bad byte as U+FFFD, and a warning that says so.
odd=$(printf '%s/caf\303\251-\377\n"\\\001x' "$tmp")
dd if=/dev/zero of="$odd" bs=4096 count=4 2>/dev/null
if ! run 0 --json --file "$odd"; then
	fail json-odd-path "exit status $rc"
elif ! python3 -m json.tool "$out" >/dev/null 2>"$tmp/json-err"; then
	fail json-odd-path "invalid JSON: $(head -1 "$tmp/json-err")"
elif ! python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(d["buffer"]["file"] != sys.argv[2] + "/caf\u00e9-\ufffd\n\"\\\x01x")
' "$out" "$tmp"; then
	fail json-odd-path "the file member is not the path with U+FFFD for the bad byte"
elif ! grep -q '^sgdump: warning: .*not valid UTF-8' "$err"; then
	fail json-odd-path "no warning about the path that is not UTF-8"
else
	pass json-odd-path
fi

# ---- region facts and --require-contig --------------------------------------

# One page is one segment everywhere; bounced and needs sync as the
# configuration has them (x86 DMA is coherent: only bouncing needs syncs;
# the suites check bouncing against pagemap).
json_check contig-one-page "d[\"summary\"][\"contiguous\"] and
d[\"summary\"][\"segments\"] == 1" --size 4K --require-contig
# The machine's own name (tests/vm/sgvm: $SGDMA_MACHINE).
machine=${SGDMA_MACHINE:-${SGDMA_CONFIG:-}}
case $machine in
direct | numa | iommu | smmuv3)
	json_check coherent-not-bounced "d[\"device\"][\"coherent\"] is True and
not d[\"summary\"][\"bounced\"] and not d[\"summary\"][\"needs_sync\"]" --size 1M
	;;
noncoherent)
	json_check noncoherent-needs-sync "d[\"device\"][\"coherent\"] is False and
not d[\"summary\"][\"bounced\"] and d[\"summary\"][\"needs_sync\"] and
d[\"summary\"][\"cacheline_shared\"]" --size 1000 --offset 100 --dir from
	;;
esac
if [ "$machine" = iommu ] || [ "$machine" = smmuv3 ]; then
	json_check contig-iommu "d[\"summary\"][\"contiguous\"]" --size 4M --require-contig
fi
# A scattered buffer: one segment (an IOMMU, or luck), or status 7 and the count.
if run 0 --require-contig --size 1M --quiet; then
	if grep -q '^contiguous: *yes$' "$out"; then
		pass require-contig-scattered
	else
		fail require-contig-scattered "exit 0 without contiguous: yes"
	fi
elif [ "$rc" -eq 7 ] && grep -q '^sgdump: .*SGDMA_REQUIRE_CONTIG.* would be [0-9]* DMA segments' "$err"; then
	pass require-contig-scattered
else
	fail require-contig-scattered "exit status $rc, expected 0 or 7 with the segment count"
fi
if [ "${SGDMA_CONFIG:-}" != bounce ]; then
	json_check require-contig-thp "d[\"summary\"][\"segments\"] == 1" --thp --size 2M \
		--require-contig
fi

check_status file-too-small 5 --file "$tmp/file" --size 1M
check_status file-missing 5 --file "$tmp/no-such-file"

if [ "$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)" -eq 0 ]; then
	check_status hugetlb-none-reserved 5 --hugetlb
	if grep -q nr_hugepages "$err"; then
		pass hugetlb-message
	else
		fail hugetlb-message "no pointer to /proc/sys/vm/nr_hugepages"
	fi
else
	skip hugetlb-none-reserved "huge pages are reserved"
fi

# ---- dma-bufs --------------------------------------------------------------

# A dma-buf from each exporter the kernel has, its segments tiling it; where
# it has none, status 5 and a message that names what is missing.
for kind in udmabuf heap; do
	if [ "$kind" = udmabuf ]; then dev=/dev/udmabuf mem=udmabuf; else
		dev=/dev/dma_heap/system mem=dma-heap
	fi
	if [ -e "$dev" ]; then
		json_check "dmabuf-$kind" "d[\"buffer\"][\"memory\"] == \"$mem\" and
d[\"buffer\"][\"offset\"] == 100 and
sum(s[\"len\"] for s in d[\"segments\"]) == 65536 == d[\"buffer\"][\"size\"] and
len(d[\"segments\"]) == d[\"summary\"][\"segments\"] >= 1" --dmabuf "$kind" --size 64K --offset 100
	else
		check_status "dmabuf-$kind-missing" 5 --dmabuf "$kind"
		if grep -q "$dev does not exist" "$err"; then
			pass "dmabuf-$kind-message"
		else
			fail "dmabuf-$kind-message" "no word of $dev"
		fi
	fi
done

# ---- NUMA ------------------------------------------------------------------

if [ -d /sys/devices/system/node/node1 ]; then
	json_check node1 "d[\"buffer\"][\"pages_per_node\"][\"1\"] == d[\"buffer\"][\"pages\"] == 1024" \
		--node 1 --size 4M
	if run 0 --node 1 --size 4M --quiet &&
		grep -q '^pages per node:.* node1=1024' "$out"; then
		pass node1-text
	else
		fail node1-text "exit status $rc or wrong pages per node line"
	fi
else
	skip node1 "no NUMA node 1"
fi

# ---- text ------------------------------------------------------------------

# Without an IOMMU every registration lands on other pages and so has its
# own segment count: each text check compares with the summary of its own run.
summary_segments() { sed -n 's/^segments: *//p' "$out"; }

if run 0 --size 4M --max-rows 0 &&
	grep -q '^device: ' "$out" && grep -q '^dma mask: *0x' "$out" &&
	grep -q '^iommu: *\(yes\|no\)$' "$out" && grep -q '^coherent: *\(yes\|no\|unknown\)$' "$out" &&
	grep -q '^max segment: ' "$out" && grep -q '^contiguous: *\(yes\|no\)$' "$out" &&
	grep -q '^bounced: *\(yes\|no\)$' "$out" && grep -q '^needs sync: *\(yes\|no\)$' "$out" &&
	grep -q '^boundary: *0x' "$out" && grep -q '^segments: *[0-9]' "$out" &&
	grep -q '^register time: ' "$out" && grep -q '^pages per node: node0=' "$out" &&
	[ "$(grep -c '^ *[0-9][0-9]*  0x' "$out")" = "$(summary_segments)" ]; then
	pass text
else
	fail text "exit status $rc or missing lines (expected $(summary_segments) rows)"
fi

if run 0 --size 4M --max-rows 1; then
	rows=$(grep -c '^ *[0-9][0-9]*  0x' "$out")
	nsegs=$(summary_segments)
	if [ "${nsegs:-0}" -gt 1 ]; then
		if [ "$rows" -eq 1 ] && grep -q "^\.\.\. $((nsegs - 1)) more segments (use --max-rows 0 for all)$" "$out"; then
			pass max-rows
		else
			fail max-rows "$rows rows, or no truncation note"
		fi
	elif [ "$rows" -eq 1 ] && ! grep -q 'more segments' "$out"; then
		pass max-rows
	else
		fail max-rows "$rows rows"
	fi
else
	fail max-rows "exit status $rc"
fi

if run 0 --size 4M --quiet && ! grep -q '^device:' "$out" &&
	! grep -q '0x' "$out" && [ "$(summary_segments)" -ge 1 ] &&
	grep -q '^pages: *1024 ' "$out" && grep -q '^largest segment: ' "$out" &&
	grep -q '^smallest segment: ' "$out" && grep -q '^pages per segment: ' "$out"; then
	pass quiet
else
	fail quiet "exit status $rc or unexpected output"
fi

exit $failed
