#!/usr/bin/env python3
"""The guest userland for kernels of another architecture than the host's.

An amd64 guest runs the host's own programs (sgvm shares the host root). An
arm64 guest cannot, so sgvm mounts a small Debian userland of the guest's
architecture over the host root's /usr: every path (the build tree, $HOME,
the working directory) is the host's, every program the guest's. Our own
programs are linked statically for the guest (SConstruct); the userland
only carries what the scripts call: /bin/sh (dash: busybox's shell would
run its own applets before the packages' programs), the usual commands
(busybox), python3 (sgdump's JSON checks), kmod (compressed modules),
e2fsprogs (mkfs.ext4), mount (which, unlike busybox's, finds a loop
device's filesystem type, so its module loads), numpy and pytest (the
Python package's tests, python/, over the guest's shared libsgdma).

It is the closure of PACKAGES over Depends and Pre-Depends of the same
architecture (data and tools that any architecture satisfies are left out;
of a choice, the first: libblas3 and liblapack3, the reference BLAS, not
OpenBLAS), plus the closure of PURE (Python packages of architecture all)
over the dependencies of architecture all, unpacked with dpkg -x, never
installed, with bin/, sbin/ and lib/ merged into usr/ and busybox linked in
for every command no package brings. What maintainer scripts would do and
the guest needs is done here: the BLAS and LAPACK alternatives' links, and
Python's bytecode compiled by the host's Python of the same version (the
guest sees the tree read-only; an emulated guest would otherwise compile
every module it imports, every run). Kept in
$SGDMA_CACHE/userland/<arch>-<hash of the .deb names>/usr.

  userland.py ensure [ARCH]      build it (if needed); prints its /usr
"""

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kernels  # noqa: E402  (the cache, apt downloads and locks)

HOST_BUSYBOX = Path("/bin/busybox")
PACKAGES = ["busybox-static", "dash", "kmod", "e2fsprogs", "mount", "python3.11-minimal",
            "libpython3.11-stdlib", "python3-numpy"]
PURE = ["python3-pytest"]
# Bump when the way the tree is made changes (the .deb names do not say so).
RECIPE = "3"


def _depends(packages):
    """The first choice of each Depends/Pre-Depends of @packages (apt-cache
    depends output: '|' marks a choice with alternatives after it; a virtual
    package <name> is followed by its providers)."""
    out = subprocess.run(["apt-cache", "depends", "--no-recommends", "--no-suggests",
                          "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"]
                         + packages, check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()
    found, after_choice = set(), False
    for n, line in enumerate(lines):
        m = re.match(r"^ ([| ])(?:Pre)?Depends: (\S+)", line)
        if not m:
            continue
        skip, after_choice = after_choice, m.group(1) == "|"
        if skip:  # an alternative to a choice already taken
            continue
        name = m.group(2)
        if name.startswith("<"):
            nxt = lines[n + 1] if n + 1 < len(lines) else ""
            if not nxt.startswith("    "):
                continue  # nothing provides it
            name = nxt.strip()
        found.add(name)
    return found


def _arch_all(packages):
    """Those of @packages (names without architecture) whose candidate is of
    architecture all."""
    out = subprocess.run(["apt-cache", "show", "--no-all-versions"] + packages, check=True,
                         capture_output=True, text=True).stdout
    found, name = set(), None
    for line in out.splitlines():
        if line.startswith("Package: "):
            name = line.split()[1]
        elif line.startswith("Architecture: ") and line.split()[1] == "all":
            found.add(name)
    return found


def closure(arch):
    """PACKAGES for @arch and what they need of @arch, as NAME:ARCH; PURE and
    what they need of architecture all, as NAME."""
    def answer():
        have, todo = set(), {f"{p}:{arch}" for p in PACKAGES}
        while todo:
            have |= todo
            todo = {d for d in _depends(sorted(todo)) if d.endswith(f":{arch}")} - have
        pure, todo = set(), set(PURE)
        while todo:
            pure |= todo
            deps = {d for d in _depends(sorted(todo)) if ":" not in d} - pure
            todo = _arch_all(sorted(deps)) if deps else set()
        return sorted(have) + sorted(pure)
    return kernels.apt_answer(f"userland {arch} {' '.join(PACKAGES)} + {' '.join(PURE)}", answer)


def _alternatives(usr):
    """The links update-alternatives makes for the reference BLAS and LAPACK
    (usr/lib/<triplet>/libblas.so.3 -> blas/libblas.so.3): numpy's
    extensions need them."""
    for lib in sorted(usr.glob("lib/*/blas/lib*.so.3")) + sorted(
            usr.glob("lib/*/lapack/lib*.so.3")):
        link = lib.parent.parent / lib.name
        if not link.exists() and not link.is_symlink():
            link.symlink_to(f"{lib.parent.name}/{lib.name}")


def _compile_python(usr):
    """Bytecode for the userland's Python modules, by the host's Python when
    it is the same version (bytecode does not depend on the architecture)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if not (usr / "lib" / version).is_dir():
        return
    dirs = [usr / "lib" / version, usr / "lib/python3/dist-packages"]
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", "-x", "/test/|/tests/"]
                   + [str(d) for d in dirs if d.is_dir()], check=False,
                   stdout=subprocess.DEVNULL)


def _merge_usr(root):
    """bin, sbin, lib into usr/ as Debian's merged /usr has them."""
    for d in ("bin", "sbin", "lib"):
        top = root / d
        if not top.is_dir() or top.is_symlink():
            continue
        for item in sorted(top.rglob("*")):
            dest = root / "usr" / d / item.relative_to(top)
            if item.is_dir() and not item.is_symlink():
                dest.mkdir(parents=True, exist_ok=True)
            elif not dest.exists() and not dest.is_symlink():
                dest.parent.mkdir(parents=True, exist_ok=True)
                item.rename(dest)
        shutil.rmtree(top)


def _busybox_applets():
    """Where busybox installs its applets (usr/bin/awk, sbin/modprobe, ...).
    The host's busybox-static answers for the guest's: both come from the
    same Debian release with the same configuration."""
    out = subprocess.run([str(HOST_BUSYBOX), "--list-full"], check=True,
                         capture_output=True, text=True).stdout
    return out.split()


def ensure(arch):
    """The userland's usr/ for @arch (made once)."""
    debs = kernels.download(closure(arch), None)
    digest = hashlib.sha256(" ".join([RECIPE] + [d.name for d in debs]).encode()).hexdigest()[:12]
    entry = kernels.CACHE / "userland" / f"{arch}-{digest}"
    usr = entry / "usr"
    done = entry / "done"
    if done.exists():
        return usr
    with kernels.locked(entry.parent / f".{entry.name}.lock"):
        if done.exists():
            return usr
        shutil.rmtree(entry, ignore_errors=True)
        entry.mkdir(parents=True)
        for deb in debs:
            kernels.run(["dpkg", "-x", deb, entry])
        _merge_usr(entry)
        for d in ("doc", "man", "locale", "info", "lintian"):
            shutil.rmtree(usr / "share" / d, ignore_errors=True)
        for d in sorted(usr.glob("lib/python3/dist-packages/numpy/**/tests")):
            shutil.rmtree(d)  # numpy's own test suite
        for applet in _busybox_applets():
            name = Path(applet).name
            dest = usr / applet.removeprefix("usr/")
            if not any((usr / d / name).exists() or (usr / d / name).is_symlink()
                       for d in ("bin", "sbin")):
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.symlink_to("/usr/bin/busybox")
        sh = usr / "bin/sh"
        if sh.is_symlink() or sh.exists():
            sh.unlink()
        sh.symlink_to("dash")
        python = usr / "bin/python3"
        if not python.exists():
            python.symlink_to(next(usr.glob("bin/python3.[0-9]*")).name)
        _alternatives(usr)
        _compile_python(usr)
        # Mount points of the guest's /lib/modules (sgvm mounts over it).
        (usr / "lib/modules").mkdir(parents=True, exist_ok=True)
        done.write_text("\n".join(d.name for d in debs) + "\n")
    for old in entry.parent.glob(f"{arch}-*"):
        if old != entry and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return usr


def main():
    if len(sys.argv) < 2 or sys.argv[1] != "ensure" or len(sys.argv) > 3:
        raise SystemExit(__doc__.strip().splitlines()[-1].strip())
    print(ensure(sys.argv[2] if len(sys.argv) == 3 else "arm64"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
