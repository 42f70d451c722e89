#!/usr/bin/env python3
"""The kernels sgdma is built and tested on, and where each comes from.

A kernel is an image, its modules folder and a build tree for external
modules; nothing else assumes where it came from:

  installed  Debian packages of this machine: /boot/vmlinuz-V, /lib/modules/V
             (tools/install-deps installs 6.1 and 6.12)
  packaged   Debian packages of other suites, unpacked with dpkg -x into the
             cache and never installed: 5.10 (bullseye), 7.3 (trixie-backports)
  built      built here from a Debian linux-source package with a config
             fragment of ours: the debug kernel (tests/vm/kernels/debug.config)
             and, for `scons bench` only, the same without its checkers
             (+ tests/vm/kernels/bench.config)

The cache is $SGDMA_CACHE, default ~/.cache/sgdma: kernels/<entry>/kernel.json
describes a finished entry. An entry's name holds everything it was made
from (package versions, a hash of the config), so a changed recipe makes a
new entry and an old one is never reused by mistake.

Kernels have an architecture (Debian's name for it): the last word of
the version when that is one of ARCHES (6.12.117+deb12-arm64), else the
host's; arm64 kernels are Debian's own, with the host's kbuild programs
(linux-kbuild of the host's architecture) and the cross compiler.

A selector (KERNELS=, --kernel) is [ARCH-]SEL. It matches the kernels of
architecture ARCH (the host's when not given) whose version SEL matches:
SEL is the version, a prefix of it ending before a non-digit ("6.1" is
6.1.0-56-amd64, never 6.12.x), or its last '-'-separated words ("debug" is
7.3.4-sgdma-debug; a kernel built here is selected only so, or by its exact
version); an empty SEL matches every kernel of ARCH ("arm64").
So "6.12" is the host's 6.12 and "arm64-6.12" Debian's arm64 6.12. A
kernel's exact version always matches it.
The matrix of `scons test` is MATRIX.

  kernels.py list                  what is there, with origins
  kernels.py ensure SEL...         fetch or build what SEL needs; prints versions
"""

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("SGDMA_CACHE") or Path.home() / ".cache" / "sgdma")
STORE = CACHE / "kernels"

# What `scons test` runs on, oldest first, then the other architectures.
MATRIX = ["5.10", "6.1", "6.12", "7.3", "debug", "arm64-6.12"]

# Debian architectures the store knows, and this machine's.
ARCHES = ("amd64", "arm64")


def _host_arch():
    try:
        return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "amd64"


HOST_ARCH = _host_arch()


def arch_of(version):
    """The Debian architecture of a kernel version (see the header)."""
    last = version.rsplit("-", 1)[-1]
    return last if last in ARCHES else HOST_ARCH


@dataclasses.dataclass
class Kernel:
    version: str  # uname -r
    image: Path
    modules_dir: Path  # holds modules.dep, modules.builtin, kernel/...
    build_dir: Path  # for make -C ... M=...
    origin: str = "installed"
    # kbuild arguments this tree needs on this machine (e.g. the compiler).
    make_args: list = dataclasses.field(default_factory=list)

    @property
    def hz(self) -> int:
        """CONFIG_HZ of the build tree (Debian's 250 if unknown)."""
        try:
            m = re.search(r"^CONFIG_HZ=(\d+)$", (self.build_dir / ".config").read_text(), re.M)
        except OSError:
            m = None
        return int(m.group(1)) if m else 250

    @property
    def arch(self) -> str:
        return arch_of(self.version)

    @property
    def slow(self) -> bool:
        """Several times slower under TCG: another architecture, or KASAN."""
        return self.arch != HOST_ARCH or self.config("KASAN") == "y"

    @property
    def stalls_bringing_up_cpus(self) -> bool:
        """Whether its second CPU's bring-up stalls under -icount until the
        VM is stopped and resumed (sgvm's nudge_until_init does that).

        Debian's x86 5.10 and 6.1 (shift 0, 1 and 2 tried; also with
        tsc=reliable): the new CPU spins in cpu_init() waiting for
        cpu_callout_mask while the boot CPU loops in schedule(), for
        minutes. A stop and resume (a gdb attach and detach, or QMP stop
        and cont) ends it at once, so it looks like a livelock of QEMU's
        round-robin vCPU scheduling under icount rather than the kernel's;
        6.12 and later, whose x86 CPU bring-up was rewritten in 6.5, have
        not met it. Without the nudges the two ran under shift=auto, where
        the bring-up took 0.6 to 215 s of guest time with the host's load.
        """
        return self.arch == "amd64" and version_key(self.version) < version_key("6.12")

    def config(self, name) -> str:
        """The value of CONFIG_<name> in the build tree ('' when unset)."""
        try:
            m = re.search(rf"^CONFIG_{name}=(.*)$", (self.build_dir / ".config").read_text(), re.M)
        except OSError:
            m = None
        return m.group(1) if m else ""

    def save(self, path):
        d = {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(d, indent=1) + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, path):
        d = json.loads(path.read_text())
        for k in ("image", "modules_dir", "build_dir"):
            d[k] = Path(d[k])
        return cls(**d)


def installed():
    found = []
    if not Path("/lib/modules").is_dir():
        return found
    for mod in sorted(Path("/lib/modules").iterdir()):
        image = Path("/boot") / f"vmlinuz-{mod.name}"
        build = mod / "build"
        if image.is_file() and (mod / "modules.dep").is_file() and (build / "Makefile").exists():
            found.append(Kernel(mod.name, image, mod, build))
    return found


def version_key(version):
    return [(0, int(w), "") if w.isdigit() else (1, 0, w) for w in re.split(r"[.+~-]", version)]


def split_selector(selector):
    """[ARCH-]SEL -> (ARCH, SEL), ARCH the host's when not given."""
    word, _, rest = selector.partition("-")
    return (word, rest) if word in ARCHES else (HOST_ARCH, selector)


def qualify(selector, arch):
    """@selector for architecture @arch unless it names one itself."""
    word = selector.partition("-")[0]
    return selector if word in ARCHES or arch == HOST_ARCH else f"{arch}-{selector}"


# In the version of every kernel built here (CONFIG_LOCALVERSION of its
# fragment): "7.3" selects Debian's 7.3, never the debug or bench build.
BUILT_MARK = "-sgdma-"


def matches(selector, version):
    if version == selector:  # an exact version names its architecture itself
        return True
    arch, selector = split_selector(selector)
    if arch_of(version) != arch:
        return False
    if not selector or version == selector:
        return True
    if BUILT_MARK in version:  # built here: by its name only ("debug")
        return version.endswith("-" + selector)
    if version.startswith(selector) and not version[len(selector)].isdigit():
        return True
    return version.endswith("-" + selector)


def select(selectors, kernels=None):
    """Kernels matching any selector, oldest first, each once."""
    kernels = current() if kernels is None else kernels
    picked = {k.version: k for k in kernels if any(matches(s, k.version) for s in selectors)}
    return [picked[v] for v in sorted(picked, key=version_key)]


def select_one(selector):
    found = select([selector])
    if len(found) != 1:
        have = ", ".join(k.version for k in current()) or "none"
        what = "no" if not found else "more than one"
        raise SystemExit(f"{what} kernel matches '{selector}' (there are: {have})")
    return found[0]


# ---------------------------------------------------------------- fetching

def run(cmd, **kw):
    print("kernels: " + " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def apt_answer(key, answer):
    """answer() for @key, kept in the cache until apt's lists change: apt
    takes seconds to answer."""
    lists = [p.stat().st_mtime for p in Path("/var/lib/apt/lists").glob("*_Packages*")]
    key = f"{key} {max(lists, default=0)}"
    memo_file = CACHE / "apt-answers.json"
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    if key not in memo:
        memo[key] = answer()
        CACHE.mkdir(parents=True, exist_ok=True)
        memo_file.write_text(json.dumps(memo, indent=1) + "\n")
    return memo[key]


def newest_package(pattern, suite):
    """The newest package name matching @pattern (a regex whose one group is
    the version part to compare) that @suite offers (None: any suite)."""
    return apt_answer(f"{pattern} {suite}", lambda: _newest_package(pattern, suite))


def _newest_package(pattern, suite):
    prefix = re.match(r"[\w.+-]*", pattern.replace("\\", "")).group(0)
    names = subprocess.run(["apt-cache", "pkgnames", prefix], check=True, capture_output=True,
                           text=True).stdout.split()
    names = [n for n in names if re.fullmatch(pattern, n)]
    offered = subprocess.run(["apt-cache", "madison"] + names, capture_output=True,
                             text=True).stdout if names else ""
    best = None
    for line in offered.splitlines():
        name, _, where = (f.strip() for f in line.split("|"))
        name = name.split(":")[0]  # madison names foreign packages name:arch
        if suite and f" {suite}/" not in where:
            continue
        version = re.fullmatch(pattern, name).group(1)
        if best is None or version_key(version) > version_key(best[1]):
            best = (name, version)
    if best is None:
        raise SystemExit(f"kernels: no package matching {pattern} in {suite or 'apt'}: "
                         "run tools/install-deps (it adds the suite to apt)")
    return best[0]


def download(packages, suite):
    """The .deb files of @packages (NAME or NAME:ARCH, the host's
    architecture when not given) from @suite (None: apt's candidate),
    downloaded once."""
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)

    def cached(name, arch):
        return sorted(debs.glob(f"{name}_*_{arch}.deb")) or sorted(debs.glob(f"{name}_*_all.deb"))

    specs = [(pkg, *pkg.partition(":")[::2]) for pkg in packages]
    missing = [pkg for pkg, name, arch in specs if not cached(name, arch or HOST_ARCH)]
    if missing:
        # One apt run for all (apt takes seconds to start); its sandbox user
        # cannot write the cache: download as root.
        run(["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root"]
            + [pkg + (f"/{suite}" if suite else "") for pkg in missing], cwd=debs)
    files = []
    for pkg, name, arch in specs:
        have = cached(name, arch or HOST_ARCH)
        if not have:
            raise SystemExit(f"kernels: {pkg} did not download")
        files.append(have[-1])
    return files


@contextlib.contextmanager
def locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def depmod(root, version):
    """modules.dep for a modules folder that was unpacked, not installed."""
    run(["depmod", "-b", root, version])


# ---------------------------------------------------------------- recipes

class Recipe:
    name = ""

    def entry(self):
        """The store entry for the current recipe (its name says what from)."""
        raise NotImplementedError

    def make(self, entry):
        raise NotImplementedError

    def ensure(self):
        entry = self.entry()
        done = entry / "kernel.json"
        if done.is_file():
            return Kernel.load(done)
        with locked(STORE / f".{entry.name}.lock"):
            if done.is_file():
                return Kernel.load(done)
            shutil.rmtree(entry, ignore_errors=True)
            entry.mkdir(parents=True)
            kernel = self.make(entry)
            kernel.save(done)
        # What older versions of this recipe made is never used again.
        for old in STORE.glob(f"{self.name}-*"):
            if old != entry and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
        return kernel


class DebianSource:
    """A linux-source-X.Y package unpacked once, shared by the recipes."""

    def __init__(self, series, suite):
        self.series, self.suite = series, suite

    def tree(self):
        deb = download([f"linux-source-{self.series}"], self.suite)[0]
        top = CACHE / "src" / deb.stem
        tree = top / f"linux-source-{self.series}"
        if (tree / "Makefile").exists():
            return tree
        with locked(CACHE / "src" / f".{deb.stem}.lock"):
            if not (tree / "Makefile").exists():
                shutil.rmtree(top, ignore_errors=True)
                top.mkdir(parents=True)
                run(["dpkg", "-x", deb, top / "deb"])
                tarball = next((top / "deb/usr/src").glob(f"linux-source-{self.series}.tar.*"))
                run(["tar", "-xf", tarball, "-C", top])
                shutil.rmtree(top / "deb")
        return tree


def jobs():
    return str((os.cpu_count() or 1) + 1)


class BuiltKernel(Recipe):
    """A kernel built from Debian's source with defconfig + kvm_guest and a
    fragment of ours: the test machine's needs built in, the checkers on."""

    def __init__(self, name, source, fragment, overrides=None):
        """@overrides: a second fragment merged after @fragment (the same
        kernel with some of its options changed)."""
        self.name, self.source = name, source
        self.fragments = [fragment] + ([overrides] if overrides else [])

    def entry(self):
        deb = download([f"linux-source-{self.source.series}"], self.source.suite)[0]
        recipe = b"".join(f.read_bytes() for f in self.fragments)
        digest = hashlib.sha256(recipe + deb.name.encode()).hexdigest()[:12]
        return STORE / f"{self.name}-{self.source.series}-{digest}"

    def wanted(self):
        """The options the fragments set to y, the later fragment winning."""
        value = {}
        for fragment in self.fragments:
            for line in fragment.read_text().splitlines():
                m = re.fullmatch(r"(CONFIG_\w+)=(.*)", line)
                if m:
                    value[m.group(1)] = m.group(2)
        return [f"{name}=y" for name, v in value.items() if v == "y"]

    def make(self, entry):
        src = self.source.tree()
        out = entry / "build"
        make = ["make", "-s", "-C", src, f"O={out}"]
        run(make + ["x86_64_defconfig", "kvm_guest.config"])
        run([src / "scripts/kconfig/merge_config.sh", "-m", "-O", out, out / ".config",
             *self.fragments])
        run(make + ["olddefconfig"])
        have = (out / ".config").read_text().splitlines()
        missing = [line for line in self.wanted() if line not in have]
        if missing:
            raise SystemExit(f"kernels: {self.name}: the config lost {', '.join(missing)}")
        run(make + ["-j", jobs(), "bzImage", "modules"])
        run(make + ["-j", jobs(), "modules_install", f"INSTALL_MOD_PATH={entry}",
                    "INSTALL_MOD_STRIP=1"])
        version = (out / "include/config/kernel.release").read_text().strip()
        shutil.copy(out / "arch/x86/boot/bzImage", entry / "vmlinuz")
        # Objects are not needed for external modules; the tree keeps the rest.
        run(["find", out, "-name", "*.o", "-delete"])
        return Kernel(version, entry / "vmlinuz", entry / "lib/modules" / version, out,
                      origin=f"built from linux-source-{self.source.series} with "
                             + " + ".join(str(f.relative_to(REPO)) for f in self.fragments))


class PackagedKernel(Recipe):
    """Debian's own kernel of another suite, unpacked, never installed.

    @packages: the image, modules, headers and kbuild package names, given
    the ABI string (the newest the suite offers) and its base (the ABI
    without the flavour); NAME:ARCH for another architecture's package (a
    foreign kernel is built with the host's kbuild programs and the cross
    compiler its headers name). @suite None: wherever apt has it. @host_tools: a
    DebianSource to rebuild kbuild's programs from when the packaged ones
    need a newer C library than this machine's. @cc: the compiler for
    external modules when the packaged one cannot run here, and the config
    symbols that compiler cannot honour (kbuild then uses the fallback the
    kernel itself has for compilers without them).
    """

    def __init__(self, name, suite, abi_pattern, packages, host_tools=None, cc=None,
                 cc_lacks=()):
        self.name, self.suite, self.abi_pattern = name, suite, abi_pattern
        self.packages, self.host_tools, self.cc, self.cc_lacks = packages, host_tools, cc, cc_lacks
        self._abi = None

    def abi(self):
        if self._abi is None:
            pattern, suite = self.abi_pattern
            self._abi = re.fullmatch(pattern, newest_package(pattern, suite)).group(1)
        return self._abi

    def entry(self):
        return STORE / f"{self.name}-{self.abi()}"

    def make(self, entry):
        abi = self.abi()
        root = entry / "root"
        base = abi.rsplit("-", 1)[0]
        for deb in download([p.format(abi=abi, base=base) for p in self.packages], self.suite):
            run(["dpkg", "-x", deb, root])
        # usr-merged suites keep modules in /usr/lib/modules.
        mods = next(p for p in (root / "lib/modules", root / "usr/lib/modules") if p.is_dir())
        version = next(mods.iterdir()).name
        modules_dir = mods / version
        depmod(mods.parent.parent, version)
        image = next(p for p in (root / f"boot/vmlinuz-{version}", modules_dir / "vmlinuz")
                     if p.is_file())
        build = root / f"usr/src/linux-headers-{version}"
        # The headers refer to themselves by absolute path.
        mk = build / "Makefile"
        mk.write_text(mk.read_text().replace("/usr/src/", f"{root}/usr/src/"))
        # BTF for modules needs the pahole the kernel was built with.
        (build / "vmlinux").unlink(missing_ok=True)
        make_args = []
        if self.host_tools:
            self.rebuild_host_tools(root, build)
        if self.cc:
            make_args.append(f"CC={self.cc}")
            auto = build / "include/config/auto.conf"
            text = auto.read_text()
            for sym in self.cc_lacks:
                text = re.sub(rf"^CONFIG_{sym}=.*$", f"# CONFIG_{sym} is not set", text, flags=re.M)
            auto.write_text(text)
        return Kernel(version, image, modules_dir, build, origin=" ".join(["Debian", self.suite or ""]).strip(),
                      make_args=make_args)

    def rebuild_host_tools(self, root, build):
        """kbuild's programs, built from the same source with this machine's C library."""
        src = self.host_tools.tree()
        out = root.parent / "host-tools"
        out.mkdir(exist_ok=True)
        shutil.copy(build / ".config", out / ".config")
        make = ["make", "-s", "-C", src, f"O={out}", "-j", jobs()]
        run(make + ["olddefconfig"])
        run(make + ["modules_prepare", "tools/objtool"])
        kbuild = (build / "scripts").resolve().parent
        for packaged, ours in (("scripts/mod/modpost.real-lsb-64", "scripts/mod/modpost"),
                               ("tools/objtool/objtool.real-x86", "tools/objtool/objtool")):
            if (kbuild / packaged).exists():
                shutil.copy(out / ours, kbuild / packaged)


RECIPES = {
    "5.10": PackagedKernel(
        "5.10", "bullseye", (r"linux-image-(5\.10\.0-\d+-amd64)-unsigned", "bullseye"),
        ["linux-image-{abi}-unsigned", "linux-headers-{abi}", "linux-headers-{base}-common",
         "linux-kbuild-5.10"]),
    "7.3": PackagedKernel(
        "7.3", "trixie-backports", (r"linux-binary-(7\.3\.\d+\+deb13-amd64)", "trixie-backports"),
        ["linux-base-{abi}", "linux-binary-{abi}", "linux-modules-{abi}", "linux-headers-{abi}",
         "linux-headers-{base}-common", "linux-kbuild-{base}"],
        host_tools=DebianSource("7.3", "trixie-backports"),
        # Built with gcc-14, which this Debian does not have.
        cc="x86_64-linux-gnu-gcc-12", cc_lacks=("CC_HAS_MIN_FUNCTION_ALIGNMENT",)),
    "debug": BuiltKernel("debug", DebianSource("7.3", "trixie-backports"),
                         REPO / "tests/vm/kernels/debug.config"),
    # The debug kernel without its checkers, for timing (scons bench
    # KERNELS=bench): it keeps CONFIG_GUP_TEST, the kernel's own pin
    # benchmark. Not in the test matrix.
    "bench": BuiltKernel("bench", DebianSource("7.3", "trixie-backports"),
                         REPO / "tests/vm/kernels/debug.config",
                         REPO / "tests/vm/kernels/bench.config"),
    # Debian 12's arm64 6.12 (a security update or a point release).
    "arm64-6.12": PackagedKernel(
        "arm64-6.12", None, (r"linux-image-(6\.12\.\d+\+deb12-arm64)-unsigned", None),
        ["linux-image-{abi}-unsigned:arm64", "linux-headers-{abi}:arm64",
         "linux-headers-{base}-common", "linux-kbuild-{base}"]),
}


def current():
    """The installed kernels and those the recipes have made (an entry of an
    older recipe is not among them)."""
    made = []
    for recipe in RECIPES.values():
        done = recipe.entry() / "kernel.json"
        if done.is_file():
            made.append(Kernel.load(done))
    return installed() + made


def ensure(selectors):
    """Kernels for @selectors, fetching or building the recipes they name."""
    for sel in selectors:
        for name, recipe in RECIPES.items():
            # A recipe by name, or every recipe of an architecture ("arm64").
            if sel == name or (sel in ARCHES and split_selector(name)[0] == sel):
                recipe.ensure()
    return select(selectors, current())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    sub.add_parser("list", help="kernels there now")
    e = sub.add_parser("ensure", help="fetch or build what the selectors need")
    e.add_argument("selectors", nargs="*", default=MATRIX)
    args = p.parse_args()
    kernels = current() if args.what == "list" else ensure(args.selectors)
    for k in kernels:
        print(f"{k.version:32} {k.origin}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
