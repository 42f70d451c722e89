#!/usr/bin/env python3
"""Host tests of sgvm's own logic (no VM): prints "PASS name" / "FAIL name"."""

import importlib.machinery
import importlib.util
import json
import shutil
import socket
import sys
import tempfile
import threading
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
_loader = importlib.machinery.SourceFileLoader("sgvm", str(HERE / "sgvm"))
_spec = importlib.util.spec_from_loader("sgvm", _loader)
sgvm = importlib.util.module_from_spec(_spec)
_loader.exec_module(sgvm)

# The report 7.3 printed at boot in a debug guest (addresses shortened).
DL_SERVER_WARNING = """\
[    9.120311] ------------[ cut here ]------------
[    9.120498] WARNING: kernel/time/hrtimer.c:1098 at hrtimer_forward+0x9e/0xc0, CPU#1: swapper/1/0
[    9.121002] Modules linked in:
[    9.121511] RIP: 0010:hrtimer_forward+0x9e/0xc0
[    9.123990] Call Trace:
[    9.124101]  <IRQ>
[    9.124220]  dl_task_timer+0x1b4/0x7c0
[    9.124405]  __hrtimer_run_queues+0x5ee/0xa40
[    9.124672]  hrtimer_interrupt+0x2cf/0x7d0
[    9.124980]  </IRQ>
[    9.125630] ---[ end trace 0000000000000000 ]---
"""


class KernelTrouble(unittest.TestCase):
    def test_dl_server_timer_warning_is_the_kernels_own(self):
        trouble, ignored = sgvm.kernel_trouble("[    1.0] booting\n" + DL_SERVER_WARNING)
        self.assertEqual([], trouble)
        self.assertEqual(len(DL_SERVER_WARNING.splitlines()) - 1, len(ignored))

    def test_same_warning_from_another_caller_fails(self):
        other = DL_SERVER_WARNING.replace("dl_task_timer", "sgdma_region_map")
        trouble, ignored = sgvm.kernel_trouble(other)
        self.assertEqual([], ignored)
        self.assertTrue(any("WARNING:" in t for t in trouble))
        self.assertTrue(any("Call Trace" in t for t in trouble))

    def test_report_cut_short_fails(self):
        cut = "\n".join(DL_SERVER_WARNING.splitlines()[:-1]) + "\n"
        trouble, ignored = sgvm.kernel_trouble(cut)
        self.assertEqual([], ignored)
        self.assertTrue(any("WARNING:" in t for t in trouble))

    def test_trouble_after_an_ignored_report_fails(self):
        log = DL_SERVER_WARNING + "[   30.1] BUG: KASAN: use-after-free in sgdma_region_put\n"
        trouble, ignored = sgvm.kernel_trouble(log)
        self.assertEqual(["[   30.1] BUG: KASAN: use-after-free in sgdma_region_put"], trouble)

    def test_second_warning_inside_a_report_is_kept(self):
        lines = DL_SERVER_WARNING.splitlines()
        nested = lines[:4] + ["[    9.1235] WARNING: mm/gup.c:1 at foo+0x0/0x1, CPU#0: t/1"] + lines[4:]
        trouble, _ = sgvm.kernel_trouble("\n".join(nested))
        self.assertTrue(any("mm/gup.c" in t for t in trouble))

    def test_clean_log(self):
        self.assertEqual(([], []), sgvm.kernel_trouble("[    1.0] sgdma: loaded\n"))


class GuestMemory(unittest.TestCase):
    def test_machine_keeps_its_own_nodes(self):
        bounce = sgvm.machines.CONFIGS["bounce"]
        self.assertEqual(bounce.node_mib, sgvm.node_mib(bounce))

    def test_more_memory_keeps_the_nodes_proportions(self):
        self.assertEqual((2048, 2048), sgvm.node_mib(sgvm.machines.CONFIGS["direct"], 4096))
        self.assertEqual((3072, 1024), sgvm.node_mib(sgvm.machines.CONFIGS["bounce"], 4096))
        self.assertEqual(3000, sum(sgvm.node_mib(sgvm.machines.CONFIGS["direct"], 3000)))

    def test_less_than_the_machine_is_refused(self):
        with self.assertRaises(SystemExit):
            sgvm.node_mib(sgvm.machines.CONFIGS["direct"], 512)

    def test_qemu_command_has_the_memory_and_the_gigantic_pages(self):
        kernel = sgvm.kernels.Kernel("6.12.117+deb12-amd64", Path("/boot/vmlinuz"), Path("/nonexistent"),
                                     Path("/nonexistent"))
        work = Path("/nonexistent-workdir")
        cmd = sgvm.qemu_command(kernel, "direct", work, work / "initrd", False, None, 4096, 1)
        self.assertEqual("4096M", cmd[cmd.index("-m") + 1])
        self.assertIn("size=2048M", " ".join(cmd))
        self.assertIn("+pdpe1gb", cmd[cmd.index("-cpu") + 1])
        self.assertIn("hugepagesz=1G hugepages=1", cmd[cmd.index("-append") + 1])
        plain = sgvm.qemu_command(kernel, "direct", work, work / "initrd", False)
        self.assertEqual("1024M", plain[plain.index("-m") + 1])
        self.assertNotIn("pdpe1gb", plain[plain.index("-cpu") + 1])
        self.assertNotIn("hugepagesz", plain[plain.index("-append") + 1])


class FakeQmp:
    """A QMP server on a Unix socket that answers each command after an event."""

    def __init__(self, path, close_after=None):
        self.commands = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(1)
        self.close_after = close_after
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _ = self.server.accept()
        with conn, conn.makefile("rw") as f:
            f.write('{"QMP": {"version": {}, "capabilities": []}}\n')
            f.flush()
            for line in f:
                self.commands.append(json.loads(line)["execute"])
                if len(self.commands) == self.close_after:
                    return
                f.write('{"event": "STOP", "timestamp": {}}\n{"return": {}}\n')
                f.flush()


class Nudges(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="sgvm-test-"))

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_stop_then_cont(self):
        qmp = FakeQmp(self.dir / "qmp.sock")
        sgvm.qmp_stop_cont(self.dir / "qmp.sock")
        self.assertEqual(["qmp_capabilities", "stop", "cont"], qmp.commands)

    def test_qemu_gone_midway_is_an_error_not_a_hang(self):
        FakeQmp(self.dir / "qmp.sock", close_after=2)
        with self.assertRaises(OSError):
            sgvm.qmp_stop_cont(self.dir / "qmp.sock")

    def test_no_nudge_once_init_ran(self):
        class Running:
            def poll(self):
                return None

        console = self.dir / "console.log"
        console.write_text("[    1.0] booting\n" + sgvm.INIT_MARK + "\n")
        qmp = FakeQmp(self.dir / "qmp.sock")
        sgvm.NUDGE_EVERY, saved = 0.01, sgvm.NUDGE_EVERY
        try:
            sgvm.nudge_until_init(self.dir / "qmp.sock", console, Running())
        finally:
            sgvm.NUDGE_EVERY = saved
        self.assertEqual([], qmp.commands)


class LineResult(unittest.TextTestResult):
    def addSuccess(self, test):
        super().addSuccess(test)
        print(f"PASS {test.id()}", flush=True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        print(f"FAIL {test.id()}", flush=True)

    def addError(self, test, err):
        super().addError(test, err)
        print(f"FAIL {test.id()}", flush=True)


if __name__ == "__main__":
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(stream=sys.stderr, resultclass=LineResult).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)
