#!/usr/bin/env python3
"""Check the syzkaller description of sgdma against the uapi header.

  check-syzlang.py [--cc CC] [--stamp FILE] SGDMA_TXT UAPI_HEADER

syzkaller cannot run here, so this reads sgdma.txt the way syz-sysgen
would need it and compares it with the header, compiled by the C compiler
(sizes, offsets and constant values come from the compiler, not from
reading the C by eye):

- the syntax: every line is an include, a resource, a call, a struct (or
  its closing brace), a field, a flag set or a type alias; brackets match;
- every SGDMA_IOC_* ioctl of the header has an ioctl$ call whose cmd is that
  constant and whose argument is that ioctl's struct (or a $variant of it);
  no call names a command the header lacks; every ioctl takes fd_sgdma,
  which openat$sgdma returns;
- every struct of the header is described, with the same fields in the same
  order, each of the same size at the same offset (a $variant may append
  fields), and the same total size;
- every constant used exists in the header (or is a kernel constant
  syzkaller knows); each flag set lists exactly the header's flags of its
  family; the handle resource is produced (out) by REGISTER and consumed
  by GET_SEGS, SYNC and UNREGISTER.

Exit status 0 and "sgdma.txt: ... match" when all hold, 1 with one line per
problem otherwise.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

# Constants the description may use that come from other kernel headers or
# from syzkaller's own descriptions.
KNOWN_EXTERNAL = {"AT_FDCWD", "O_RDWR", "O_RDONLY", "O_WRONLY", "O_CLOEXEC", "O_NONBLOCK",
                  "PROT_READ", "MAP_SHARED"}
KNOWN_FLAG_SETS = {"open_flags"}
INT_SIZES = {"int8": 1, "int16": 2, "int32": 4, "int64": 8, "intptr": 8}


class Problems(list):
    def add(self, where, text):
        self.append(f"{where}: {text}")


# ---------------------------------------------------------------- the header

def parse_header(text):
    """Struct field names in order, macro names, enum names, ioctl -> struct."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    structs = {}
    for name, body in re.findall(r"struct\s+(\w+)\s*\{(.*?)\};", text, flags=re.S):
        fields = []
        for decl in body.split(";"):
            decl = decl.strip()
            if not decl:
                continue
            m = re.match(r"(?:[\w]+\s+)+(\w+)\s*(\[\s*\w+\s*\])?$", decl)
            if not m:
                raise SystemExit(f"check-syzlang: cannot read field '{decl}' of struct {name}")
            fields.append(m.group(1))
        structs[name] = fields
    macros = re.findall(r"^#define\s+(SGDMA_\w+)(?!\()", text, flags=re.M)
    enums = []
    for body in re.findall(r"enum\s+\w*\s*\{(.*?)\};", text, flags=re.S):
        enums += re.findall(r"(SGDMA_\w+)", body.split("=")[0] + "," + body)
    joined = text.replace("\\\n", " ")  # a #define continued over lines
    ioctls = dict(re.findall(r"#define\s+(SGDMA_IOC_\w+)\s*_IO\w*\(\s*\w+\s*,\s*\w+\s*,"
                             r"\s*struct\s+(\w+)\s*\)", joined))
    return structs, sorted(set(macros)), sorted(set(enums)), ioctls


def compile_facts(cc, header, structs, names):
    """Values of the constants and sizes/offsets of every field, from the compiler."""
    incdir = os.path.dirname(os.path.dirname(os.path.abspath(header)))
    lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <linux/sgdma.h>",
             "#define F(s, f) printf(\"field %s %s %zu %zu\\n\", #s, #f, offsetof(struct s, f),"
             " sizeof(((struct s *)0)->f))",
             "int main(void)", "{"]
    for name in names:
        lines.append(f'\tprintf("const {name} %llu\\n", (unsigned long long)({name}));')
    for sname, fields in structs.items():
        lines.append(f'\tprintf("struct {sname} %zu\\n", sizeof(struct {sname}));')
        for f in fields:
            lines.append(f"\tF({sname}, {f});")
    lines += ["\treturn 0;", "}"]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "facts.c")
        exe = os.path.join(tmp, "facts")
        with open(src, "w") as f:
            f.write("\n".join(lines) + "\n")
        subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-I", incdir, "-o", exe, src],
                       check=True)
        out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    consts, sizes, fields = {}, {}, {}
    for line in out.splitlines():
        kind, *rest = line.split()
        if kind == "const":
            consts[rest[0]] = int(rest[1])
        elif kind == "struct":
            sizes[rest[0]] = int(rest[1])
        else:
            fields[(rest[0], rest[1])] = (int(rest[2]), int(rest[3]))
    return consts, sizes, fields


# ---------------------------------------------------------------- syzlang

def split_top(s, sep=","):
    """Split at sep outside brackets and quotes."""
    parts, depth, cur, quote = [], 0, "", False
    for ch in s:
        if ch == '"':
            quote = not quote
        elif not quote and ch in "[(":
            depth += 1
        elif not quote and ch in "])":
            depth -= 1
        if ch == sep and depth == 0 and not quote:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def parse_type(t):
    """'ptr[in, foo]' -> ('ptr', ['in', 'foo']); 'int32' -> ('int32', [])."""
    m = re.match(r"^([\w$]+)(?:\[(.*)\])?$", t.strip())
    if not m:
        return None, []
    return m.group(1), split_top(m.group(2)) if m.group(2) is not None else []


def strip_comment(line):
    out, quote = "", False
    for ch in line:
        if ch == '"':
            quote = not quote
        if ch == "#" and not quote:
            break
        out += ch
    return out.rstrip()


def balanced(s):
    depth = 0
    for ch in s:
        depth += ch in "[("
        depth -= ch in "])"
        if depth < 0:
            return False
    return depth == 0


def parse_syzlang(text, problems):
    desc = {"includes": [], "resources": {}, "calls": [], "structs": {}, "flags": {},
            "aliases": {}}
    cur = None
    for no, raw in enumerate(text.splitlines(), 1):
        line = strip_comment(raw)
        where = f"sgdma.txt:{no}"
        if not line.strip():
            continue
        if not balanced(line):
            problems.add(where, "unbalanced brackets")
            continue
        if cur is not None:
            if line.strip().startswith("}"):
                attrs = line.strip()[1:].strip()
                if attrs and not re.match(r"^\[[\w\[\], ]+\]$", attrs):
                    problems.add(where, f"bad struct attributes '{attrs}'")
                cur = None
                continue
            if not line.startswith("\t"):
                problems.add(where, "struct field not indented with a tab")
            m = re.match(r"^\s+(\w+)\s+(\S+(?:\[.*\])?)(?:\s+\((in|out|inout)\))?\s*$", line)
            if not m:
                problems.add(where, f"cannot read field '{line.strip()}'")
                continue
            desc["structs"][cur]["fields"].append(
                {"name": m.group(1), "type": m.group(2), "dir": m.group(3), "where": where})
            continue
        if line.startswith("include "):
            m = re.match(r"^include <([\w/.]+)>$", line)
            if not m:
                problems.add(where, "bad include")
            else:
                desc["includes"].append(m.group(1))
        elif line.startswith("resource "):
            m = re.match(r"^resource (\w+)\[(\w+)\](?::\s*(.+))?$", line)
            if not m:
                problems.add(where, "bad resource")
            else:
                desc["resources"][m.group(1)] = {"base": m.group(2), "special": m.group(3),
                                                 "where": where}
        elif line.startswith("type "):
            m = re.match(r"^type (\w+)(?:\[[\w, ]+\])? (.+)$", line)
            if not m:
                problems.add(where, "bad type alias")
            else:
                desc["aliases"][m.group(1)] = m.group(2)
        elif re.match(r"^[\w$]+ \{$", line):
            cur = line.split()[0]
            if cur in desc["structs"]:
                problems.add(where, f"struct {cur} described twice")
            desc["structs"][cur] = {"fields": [], "where": where}
        elif re.match(r"^\w+ = ", line):
            name, values = line.split(" = ", 1)
            desc["flags"][name] = {"values": split_top(values), "where": where}
        elif re.match(r"^[\w$]+\(", line):
            m = re.match(r"^([\w$]+)\((.*)\)(?:\s+(\w+))?$", line)
            if not m:
                problems.add(where, "bad call")
                continue
            args = []
            for a in split_top(m.group(2)):
                am = re.match(r"^(\w+) (.+)$", a)
                if not am:
                    problems.add(where, f"bad argument '{a}'")
                    continue
                args.append((am.group(1), am.group(2)))
            desc["calls"].append({"name": m.group(1), "args": args, "ret": m.group(3),
                                  "where": where})
        else:
            problems.add(where, f"cannot read '{line}'")
    if cur is not None:
        problems.add("sgdma.txt", f"struct {cur} not closed")
    return desc


def type_size(t, desc, problems, where):
    """Bytes a field of syzlang type t takes (64-bit target); None if unknown."""
    name, opts = parse_type(t)
    if name in INT_SIZES:
        return INT_SIZES[name]
    if name in ("const", "flags", "len", "bytesize", "bitsize") and len(opts) == 2:
        return INT_SIZES.get(opts[1])
    if name in ("ptr64", "vma64"):
        return 8
    if name in ("ptr", "vma"):
        problems.add(where, f"'{t}': a __u64 address needs ptr64/vma64 (32-bit callers)")
        return 8
    if name == "array" and opts:
        elem = type_size(opts[0], desc, problems, where)
        if len(opts) == 2 and re.match(r"^\d+$", opts[1]) and elem:
            return elem * int(opts[1])
        return None  # variable length
    if name in desc["resources"]:
        base = desc["resources"][name]["base"]
        return INT_SIZES.get(base) or type_size(base, desc, problems, where)
    if name in ("fd",):
        return 4
    if name in desc["structs"]:
        total = 0
        for f in desc["structs"][name]["fields"]:
            s = type_size(f["type"], desc, problems, where)
            if s is None:
                return None
            total += s
        return total
    problems.add(where, f"unknown type '{t}'")
    return None


def constants_in(t):
    return [w for w in re.findall(r"\b[A-Z][A-Z0-9_]+\b", t)]


# ---------------------------------------------------------------- checks

def check(txt_path, header_path, cc):
    problems = Problems()
    with open(header_path) as f:
        structs, macros, enums, ioctls = parse_header(f.read())
    consts, csizes, cfields = compile_facts(cc, header_path, structs, macros + enums)
    with open(txt_path) as f:
        desc = parse_syzlang(f.read(), problems)
    known_consts = set(consts) | KNOWN_EXTERNAL

    if "uapi/linux/sgdma.h" not in desc["includes"]:
        problems.add("sgdma.txt", "does not include <uapi/linux/sgdma.h>")

    # The file: a resource returned by openat$sgdma.
    fd_res = [r for r, v in desc["resources"].items() if v["base"] == "fd"]
    opens = [c for c in desc["calls"] if c["name"].startswith("openat$")]
    if len(fd_res) != 1 or not opens or any(c["ret"] != fd_res[0] for c in opens):
        problems.add("sgdma.txt", "needs one fd resource, returned by openat$sgdma")
    for c in opens:
        path = dict(c["args"]).get("file", "")
        pm = re.match(r"^ptr\[in, string\[(\w+|\".*\")\]\]$", path)
        if not pm:
            problems.add(c["where"], "openat$sgdma: file must be ptr[in, string[...]]")
        elif pm.group(1) in desc["flags"]:
            for v in desc["flags"][pm.group(1)]["values"]:
                if not re.match(r'^"/dev/sgdma/[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]"$', v):
                    problems.add(desc["flags"][pm.group(1)]["where"], f"not a node path: {v}")

    # Every ioctl of the header described, with its struct, on the fd.
    seen = set()
    arg_structs = {}
    for c in desc["calls"]:
        if c["name"].startswith("mmap$"):
            # The status page: mapped from the device file.
            if fd_res and dict(c["args"]).get("fd") != fd_res[0]:
                problems.add(c["where"], f"mmap$ of {dict(c['args']).get('fd')}, not {fd_res[0]}")
            continue
        if not c["name"].startswith("ioctl$"):
            if not c["name"].startswith("openat$"):
                problems.add(c["where"], f"unexpected call {c['name']}")
            continue
        args = dict(c["args"])
        if [a for a, _ in c["args"]] != ["fd", "cmd", "arg"]:
            problems.add(c["where"], "ioctl arguments must be fd, cmd, arg")
            continue
        if fd_res and args["fd"] != fd_res[0]:
            problems.add(c["where"], f"fd is {args['fd']}, not {fd_res[0]}")
        cm = re.match(r"^const\[(SGDMA_IOC_\w+)\]$", args["cmd"])
        if not cm or cm.group(1) not in ioctls:
            problems.add(c["where"], f"cmd {args['cmd']} is not an ioctl of the header")
            continue
        cmd = cm.group(1)
        if not c["name"].split("$")[1] == cmd:
            problems.add(c["where"], f"{c['name']} issues {cmd}")
        am = re.match(r"^ptr\[(in|out|inout), ([\w$]+)\]$", args["arg"])
        if not am:
            problems.add(c["where"], "arg must be ptr[dir, struct]")
            continue
        sname = am.group(2)
        if sname.split("$")[0] != ioctls[cmd]:
            problems.add(c["where"], f"{cmd} takes struct {ioctls[cmd]}, not {sname}")
        if sname not in desc["structs"]:
            problems.add(c["where"], f"struct {sname} not described")
        seen.add(cmd)
        arg_structs[sname] = cmd
    for cmd in sorted(set(ioctls) - seen):
        problems.add("sgdma.txt", f"no ioctl$ call for {cmd}")

    # Structs: names, order, sizes, offsets, total size.
    for sname, s in desc["structs"].items():
        base = sname.split("$")[0]
        if base not in structs:
            problems.add(s["where"], f"struct {sname}: no struct {base} in the header")
            continue
        names = [f["name"] for f in s["fields"]]
        want = structs[base]
        if names[:len(want)] != want:
            problems.add(s["where"], f"struct {sname}: fields {names}, header has {want}")
            continue
        if len(names) > len(want) and "$" not in sname:
            problems.add(s["where"], f"struct {sname}: fields past the header's")
        off = 0
        for f in s["fields"]:
            size = type_size(f["type"], desc, problems, f["where"])
            if f["name"] not in want:
                break  # a variant's tail
            coff, csize = cfields[(base, f["name"])]
            if size != csize or off != coff:
                problems.add(f["where"], f"{sname}.{f['name']}: {size} bytes at {off}, "
                             f"header: {csize} bytes at {coff}")
            off = coff + csize
        if off != csizes[base]:
            problems.add(s["where"], f"struct {sname}: {off} bytes, header: {csizes[base]}")
    for base in structs:
        if base not in desc["structs"]:
            problems.add("sgdma.txt", f"struct {base} of the header not described")

    # Constants and flag sets.
    for sname, s in desc["structs"].items():
        for f in s["fields"]:
            for k in constants_in(f["type"]):
                if k not in known_consts:
                    problems.add(f["where"], f"unknown constant {k}")
            name, opts = parse_type(f["type"])
            if name == "flags" and opts and opts[0] not in set(desc["flags"]) | KNOWN_FLAG_SETS:
                problems.add(f["where"], f"no flag set {opts[0]}")
            if name == "len" and opts and opts[0] != "parent" and \
                    opts[0] not in [g["name"] for g in s["fields"]]:
                problems.add(f["where"], f"len of unknown field {opts[0]}")
            if f["name"] == "size" and f["type"] != "len[parent, int32]":
                problems.add(f["where"], "size must be len[parent, int32]")
            if f["name"] == "reserved" and f["type"] != "const[0, int32]":
                problems.add(f["where"], "reserved must be const[0, int32]")
    for c in desc["calls"]:
        for _, t in c["args"]:
            for k in constants_in(t):
                if k not in known_consts:
                    problems.add(c["where"], f"unknown constant {k}")
            name, opts = parse_type(t)
            if name == "flags" and opts and opts[0] not in set(desc["flags"]) | KNOWN_FLAG_SETS:
                problems.add(c["where"], f"no flag set {opts[0]}")
    families = {}
    for m in macros:
        fm = re.match(r"^(SGDMA_(?:REG|SYNC|INFO))_\w+$", m)
        if fm and not m.endswith("_MASK") and fm.group(1) != "SGDMA_INFO":
            families.setdefault(fm.group(1), set()).add(m)
    for fname, fset in desc["flags"].items():
        values = fset["values"]
        if all(v.startswith('"') for v in values):
            continue
        for v in values:
            if v not in known_consts and not re.match(r"^(0x[0-9a-f]+|\d+)$", v):
                problems.add(fset["where"], f"{fname}: unknown constant {v}")
        fams = {re.match(r"^(SGDMA_(?:REG|SYNC))_", v).group(1) for v in values
                if re.match(r"^SGDMA_(?:REG|SYNC)_", v)}
        for fam in fams:
            if set(values) != families[fam]:
                problems.add(fset["where"], f"{fname} lists {sorted(values)}, "
                             f"the header's {fam}_* flags are {sorted(families[fam])}")

    # The handle: produced by REGISTER, consumed by the others.
    handle = [r for r, v in desc["resources"].items() if v["base"] == "int32"]
    if len(handle) != 1:
        problems.add("sgdma.txt", "needs one int32 resource for region handles")
    else:
        produced, consumed = set(), set()
        for sname, cmd in arg_structs.items():
            for f in desc["structs"][sname]["fields"]:
                if f["type"] == handle[0]:
                    (produced if f["dir"] == "out" else consumed).add(cmd)
        if produced != {"SGDMA_IOC_REGISTER", "SGDMA_IOC_REGISTER_DMABUF"}:
            problems.add("sgdma.txt", f"{handle[0]} produced by {sorted(produced)}, "
                         "expected REGISTER and REGISTER_DMABUF")
        want = {"SGDMA_IOC_GET_SEGS", "SGDMA_IOC_SYNC", "SGDMA_IOC_UNREGISTER"}
        if consumed != want:
            problems.add("sgdma.txt", f"{handle[0]} consumed by {sorted(consumed)}, "
                         f"expected {sorted(want)}")

    return problems, desc, consts, ioctls


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--stamp", help="file to write when everything matches")
    ap.add_argument("txt")
    ap.add_argument("header")
    args = ap.parse_args()
    problems, desc, consts, ioctls = check(args.txt, args.header, args.cc)
    if problems:
        for p in problems:
            print(f"check-syzlang: {p}")
        print(f"check-syzlang: {args.txt} does not match {args.header}: "
              f"{len(problems)} problem(s)")
        return 1
    nioctl = sum(c["name"].startswith("ioctl$") for c in desc["calls"])
    numbers = ", ".join(f"{k[len('SGDMA_IOC_'):]}=0x{consts[k]:x}" for k in sorted(ioctls))
    print(f"check-syzlang: {os.path.basename(args.txt)}: {nioctl} ioctl calls, "
          f"{len(desc['structs'])} structs match {os.path.basename(args.header)} ({numbers})")
    if args.stamp:
        with open(args.stamp, "w") as f:
            f.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
