#!/bin/sh
# The packages, installed and used as an admin and a user would, in a guest
# (tests/vm/sgvm, started by tests/run-tests; no module loaded beforehand).
#
#   install-test.sh DEB_DIR EXAMPLE_SOURCE
#
# The guest's root is the host's, read-only: the packages go into a
# writable copy of it (overlayfs over /, changes in RAM) and everything runs
# chrooted there.  dpkg -i installs sgdma-dkms, libsgdma1, libsgdma-dev and
# sgdma-tools from DEB_DIR; their scripts create the group (sysusers.d),
# DKMS builds the module for this kernel from /usr/src and installs it in
# /lib/modules, ldconfig runs.  Then: the admin enables ids= in
# /etc/modprobe.d/sgdma.conf and runs modprobe; udev gives the node to
# group sgdma; the example driver (EXAMPLE_SOURCE) is compiled against the
# installed header, pkg-config file and library and moves real data through
# the edu device; sgdump runs as a member of the group, and is refused to
# someone outside it; removing sgdma-dkms removes the module.
#
# Every check prints "PASS name", "FAIL name" or "SKIP name # why" into
# $SGVM_OUT/install.results (counted by tests/run-tests); logs in $SGVM_OUT.
set -u
debs=$(realpath "$1")
example=$(realpath "$2")
out=$SGVM_OUT
results=$out/install.results
bdf=$SGDMA_EDU_BDF
kver=$(uname -r)
: >"$results"
rc=0

start=$(date +%s)
pass() { echo "PASS install: $*" >>"$results"; }
step() { echo "$(($(date +%s) - start)) s: $*" >>"$out/steps.log"; }
fail() {
	echo "FAIL install: $*" >>"$results"
	rc=1
}
check() { # check NAME COMMAND...: PASS when COMMAND succeeds
	name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
finish() {
	cat "$out/steps.log" "$results" 2>/dev/null
	exit $rc
}

# ---- a writable root
w=/run/install
root=$w/root
mkdir -p $w
mount -t tmpfs -o mode=755 tmpfs $w
mkdir -p $w/upper $w/work $root
if ! mount -t overlay overlay -o lowerdir=/,upperdir=$w/upper,workdir=$w/work $root 2>"$out/overlay.log"; then
	fail "writable root (overlayfs over the host root): $(cat "$out/overlay.log")"
	finish
fi
mount -t proc proc $root/proc
mount -t sysfs sysfs $root/sys
mount --rbind /dev $root/dev
# What udev or systemd would have made in /dev (bash's <(...) needs /dev/fd).
for l in fd:/proc/self/fd stdin:/proc/self/fd/0 stdout:/proc/self/fd/1 stderr:/proc/self/fd/2; do
	[ -e /dev/${l%%:*} ] || ln -s ${l#*:} /dev/${l%%:*}
done
mount -t tmpfs -o mode=1777 tmpfs $root/tmp
mount -t tmpfs -o mode=755 tmpfs $root/run
# This kernel's headers come from the host's root, as installed.
if [ ! -e "$root/lib/modules/$kver/build/include" ]; then
	echo "SKIP install: the host has no headers for $kver (only installed kernels: DKMS builds against /lib/modules/$kver/build)" >>"$results"
	finish
fi
# Its modules folder, trimmed to the modules this test loads besides sgdma:
# depmod (DKMS runs it at install and removal) then reads a few modules,
# not a whole kernel's over 9p under TCG, which takes minutes.
mods=/lib/modules/$kver
build=$(readlink "$root$mods/build")
mount -t tmpfs -o mode=755 tmpfs "$root$mods"
ln -s "$build" "$root$mods/build"
for f in modules.order modules.builtin modules.builtin.modinfo; do
	[ -e "$mods/$f" ] && cp "$mods/$f" "$root$mods/"
done
for m in $(modprobe --show-depends uio_pci_generic | sed -n 's/^insmod \([^ ]*\).*/\1/p'); do
	mkdir -p "$root$(dirname "$m")"
	cp "$m" "$root$m"
done
in_root() {
	chroot $root /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@"
}

# The machine is the one running: DKMS builds for the running kernel and for
# the newest one whose config is in /boot; only this one is ours to test.
for c in "$root"/boot/config-*; do
	[ "$c" = "$root/boot/config-$kver" ] || rm -f "$c"
done

# ---- install
step install
pkgs=""
for p in sgdma-dkms libsgdma1 libsgdma-dev sgdma-tools; do
	deb=$(find "$debs" -maxdepth 1 -name "${p}_*.deb" | head -n1)
	[ -n "$deb" ] || fail "package $p in $debs"
	pkgs="$pkgs $deb"
done
[ $rc -eq 0 ] || finish
# Nothing here reads manual pages: skip man-db's index update.
rm -f $root/var/lib/man-db/auto-update
# shellcheck disable=SC2086
if in_root dpkg -i $pkgs >"$out/dpkg-install.log" 2>&1; then
	pass "dpkg -i sgdma-dkms libsgdma1 libsgdma-dev sgdma-tools"
else
	fail "dpkg -i sgdma-dkms libsgdma1 libsgdma-dev sgdma-tools (dpkg-install.log)"
	cat "$out/dpkg-install.log"
	finish
fi
cat "$out/dpkg-install.log"
step installed

in_root dkms status sgdma >"$out/dkms-status.log" 2>&1
check "DKMS built and installed sgdma for $kver" grep -q "sgdma/.*, $kver, .*: installed" "$out/dkms-status.log"
ko=$(in_root modinfo -n sgdma 2>/dev/null)
check "modprobe finds the DKMS module ($ko)" \
	test -n "$ko" -a "${ko#"/lib/modules/$kver/updates/dkms/sgdma.ko"}" != "$ko"
check "group sgdma (sysusers.d)" in_root getent group sgdma
check "udev rule in /lib/udev/rules.d" grep -q 'SUBSYSTEM=="sgdma", GROUP="sgdma", MODE="0660"' \
	$root/lib/udev/rules.d/60-sgdma.rules
check "ldconfig knows libsgdma.so.1" sh -c "chroot $root /sbin/ldconfig -p | grep -q 'libsgdma.so.1 .*=> /.*/libsgdma.so.1$'"

# /etc/modprobe.d/sgdma.conf: all comments, naming every parameter that can be set at load.
conf=$root/etc/modprobe.d/sgdma.conf
check "/etc/modprobe.d/sgdma.conf is all comments" sh -c "! grep -qv '^#\|^\$' $conf"
missing=""
for p in $(in_root modinfo -F parm sgdma | sed 's/:.*//'); do
	case $p in regions | pinned_pages | unexpose) continue ;; esac
	grep -q "^#options sgdma .*\b$p=" "$conf" || missing="$missing $p"
done
check "/etc/modprobe.d/sgdma.conf lists every parameter${missing:+ (missing:$missing)}" test -z "$missing"

# ---- the admin: udev running, ids= enabled in the configuration file, modprobe
udevd=$(for d in /lib/systemd /usr/lib/systemd; do [ -x $root$d/systemd-udevd ] && echo $d/systemd-udevd; done | head -n1)
if [ -n "$udevd" ]; then
	in_root "$udevd" --daemon >"$out/udevd.log" 2>&1 || udevd=""
	# Listening before the module's events come.
	for _ in $(seq 60); do
		in_root udevadm control --ping 2>/dev/null && break
		sleep 1
	done
	in_root udevadm control --ping 2>>"$out/udevd.log" || udevd=""
fi
step udevd
sed -i 's/^#options sgdma ids=.*/options sgdma ids=1234:11e8/' "$conf"
if in_root modprobe sgdma >"$out/modprobe.log" 2>&1; then
	pass "modprobe sgdma (ids=1234:11e8 from /etc/modprobe.d/sgdma.conf)"
else
	fail "modprobe sgdma: $(cat "$out/modprobe.log")"
	finish
fi
# The same build: the GNU build ID in the loaded module and in the file.
loaded_id=$(od -An -tx1 -v /sys/module/sgdma/notes/.note.gnu.build-id 2>/dev/null | tr -d ' \n' | tail -c 40)
case $ko in
*.xz) xz -dc "$root$ko" >/tmp/sgdma-installed.ko ;;
*.zst) zstd -qdc "$root$ko" >/tmp/sgdma-installed.ko ;;
*) cp "$root$ko" /tmp/sgdma-installed.ko ;;
esac
file_id=$(readelf -n /tmp/sgdma-installed.ko | sed -n 's/.*Build ID: *//p')
check "the module loaded is the one DKMS installed (build ID ${file_id:-none})" \
	test -n "$file_id" -a "$loaded_id" = "$file_id"
check "ids= exposed the edu device: /dev/sgdma/$bdf" test -c "/dev/sgdma/$bdf"
echo 64 >"/sys/class/sgdma/$bdf/dma_mask_bits" || fail "dma_mask_bits 64"
# The node's owner and mode once udevd has handled its events (a node made
# by a new exposure is root's until then).
udev_mode() {
	in_root udevadm settle -t 60
	for _ in $(seq 30); do
		mode=$(in_root stat -c '%U:%G %a' "/dev/sgdma/$bdf")
		[ "$mode" = "root:sgdma 660" ] && break
		sleep 1
	done
	echo "$mode"
}
if [ -n "$udevd" ]; then
	mode=$(udev_mode)
	check "udev: /dev/sgdma/$bdf is root:sgdma 660 ($mode)" test "$mode" = "root:sgdma 660"
else
	echo "SKIP install: udev rule applied # systemd-udevd did not start: $(cat "$out/udevd.log" 2>/dev/null)" >>"$results"
fi

# ---- the developer: the example, built against what the packages installed
step example
libdir=$(in_root pkg-config --variable=libdir sgdma)
check "pkg-config sgdma: libdir $libdir is multiarch" \
	test "$libdir" = "/usr/lib/$(in_root dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"
if in_root sh -c "cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o /tmp/edu_uio '$example' \$(pkg-config --cflags --libs sgdma)" \
	>"$out/example-build.log" 2>&1; then
	pass "example compiles against the installed header and pkg-config file"
else
	fail "example compiles against the installed header and pkg-config file (example-build.log)"
	cat "$out/example-build.log"
	finish
fi
# /lib is /usr/lib on a merged-/usr system.
check "example links the installed libsgdma.so.1" \
	sh -c "chroot $root ldd /tmp/edu_uio | grep -Eq 'libsgdma.so.1 => (/usr)?${libdir#/usr}/libsgdma.so.1 '"
if in_root /tmp/edu_uio "$bdf" >"$out/example.log" 2>&1; then
	pass "example driver: DMA through the installed library and module"
else
	fail "example driver: DMA through the installed library and module (example.log)"
fi
cat "$out/example.log"

# ---- a user: sgdump as a member of group sgdma, and as someone who is not
if [ -e "/dev/sgdma/$bdf" ] && [ -n "$udevd" ]; then
	# The example exposes the device again after uio_pci_generic revoked it.
	mode=$(udev_mode)
	in_root useradd --system --no-create-home --groups sgdma sgdmauser >>"$out/users.log" 2>&1
	in_root useradd --system --no-create-home otheruser >>"$out/users.log" 2>&1
	in_root setpriv --reuid=sgdmauser --regid=sgdmauser --init-groups \
		sgdump --device "$bdf" --size 1M >"$out/sgdump-user.log" 2>&1
	check "sgdump as a member of group sgdma (exit $?; node $mode)" test $? -eq 0
	in_root setpriv --reuid=otheruser --regid=otheruser --init-groups \
		sgdump --device "$bdf" --size 1M >"$out/sgdump-other.log" 2>&1
	check "sgdump outside group sgdma is refused with exit 3 (exit $?)" test $? -eq 3
	cat "$out/sgdump-user.log"
else
	in_root sgdump --device "$bdf" --size 1M >"$out/sgdump-user.log" 2>&1
	check "sgdump as root" test $? -eq 0
fi

# ---- removal
step removal
in_root modprobe -r sgdma
in_root dpkg -r sgdma-dkms >"$out/dpkg-remove.log" 2>&1
check "dpkg -r sgdma-dkms removes the module" sh -c "! chroot $root modinfo -n sgdma >/dev/null 2>&1"
[ -n "$udevd" ] && in_root udevadm control --exit
step finished
finish
