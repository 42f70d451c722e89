# SPDX-License-Identifier: LGPL-2.1-or-later
"""Loading libsgdma and declaring the C functions sgdma uses (ctypes)."""

import ctypes
import ctypes.util
import os
import platform
import threading
from pathlib import Path

SONAME = "libsgdma.so.1"


class Seg(ctypes.Structure):
    """struct sgdma_seg."""

    _fields_ = [("addr", ctypes.c_uint64),
                ("len", ctypes.c_uint64),
                ("offset", ctypes.c_uint64)]


class DevInfo(ctypes.Structure):
    """struct sgdma_dev_info."""

    _fields_ = [("name", ctypes.c_char * 64),
                ("numa_node", ctypes.c_int),
                ("dma_mask", ctypes.c_uint64),
                ("max_segment", ctypes.c_uint64),
                ("seg_boundary", ctypes.c_uint64),
                ("iommu", ctypes.c_bool)]


_DEV = ctypes.c_void_p
_REGION = ctypes.c_void_p
_SEGS = ctypes.POINTER(Seg)
# name: (restype, argtypes)
_PROTOTYPES = {
    "sgdma_open": (_DEV, [ctypes.c_char_p]),
    "sgdma_default_dev": (_DEV, []),
    "sgdma_close": (None, [_DEV]),
    "sgdma_dev_info": (ctypes.c_int, [_DEV, ctypes.POINTER(DevInfo)]),
    "sgdma_dev_coherent": (ctypes.c_int, [_DEV]),
    "sgdma_dev_dma_align": (ctypes.c_size_t, [_DEV]),
    "sgdma_dev_register": (_REGION, [_DEV, ctypes.c_void_p, ctypes.c_size_t,
                                     ctypes.c_uint]),
    "sgdma_register_dmabuf": (_REGION, [_DEV, ctypes.c_int, ctypes.c_size_t,
                                        ctypes.c_size_t, ctypes.c_uint]),
    "sgdma_cache_enable": (ctypes.c_int, [_DEV, ctypes.c_int]),
    "sgdma_region_valid": (ctypes.c_int, [_REGION]),
    "sgdma_region_nsegs": (ctypes.c_size_t, [_REGION]),
    "sgdma_region_segs": (_SEGS, [_REGION]),
    "sgdma_region_flags": (ctypes.c_uint, [_REGION]),
    "sgdma_region_len": (ctypes.c_size_t, [_REGION]),
    "sgdma_region_addr": (ctypes.c_void_p, [_REGION]),
    "sgdma_region_node_pages": (ctypes.c_int, [_REGION,
                                               ctypes.POINTER(ctypes.c_size_t),
                                               ctypes.c_int]),
    "sgdma_sync_for_device": (ctypes.c_int, [_REGION, ctypes.c_size_t,
                                             ctypes.c_size_t]),
    "sgdma_sync_for_cpu": (ctypes.c_int, [_REGION, ctypes.c_size_t,
                                          ctypes.c_size_t]),
    "sgdma_unregister": (ctypes.c_int, [_REGION]),
    "sgdma_last_error": (ctypes.c_char_p, []),
    "sgdma_split_segs": (ctypes.c_size_t, [_SEGS, ctypes.c_size_t,
                                           ctypes.c_uint64, ctypes.c_uint64,
                                           _SEGS, ctypes.c_size_t]),
}

_lock = threading.Lock()
_loaded = None


# platform.machine() -> the architecture's name in the build tree
# (build/<arch>/libsgdma: the cross builds of SConstruct).
_ARCHES = {"x86_64": "amd64", "aarch64": "arm64"}


def candidates():
    """Where the library is looked for, in order: $SGDMA_LIB, the build
    tree of the checkout this package is in (this machine's architecture's
    cross build, build/<arch>/libsgdma, then the native build,
    build/libsgdma: one of another architecture fails to load and the next
    is tried), the system's library path."""
    env = os.environ.get("SGDMA_LIB")
    if env:
        return [env]
    found = []
    build = Path(__file__).resolve().parents[2] / "build"
    arch = _ARCHES.get(platform.machine())
    dirs = ([build / arch / "libsgdma"] if arch else []) + [build / "libsgdma"]
    found += [str(d / SONAME) for d in dirs if (d / SONAME).exists()]
    found.append(ctypes.util.find_library("sgdma") or SONAME)
    return found


def lib():
    """The loaded library, its functions declared (loaded on first use)."""
    global _loaded
    with _lock:
        if _loaded is None:
            errors = []
            for path in candidates():
                try:
                    handle = ctypes.CDLL(path, use_errno=True)
                    break
                except OSError as err:
                    errors.append(str(err))
            else:
                raise OSError(f"libsgdma not found (set SGDMA_LIB to its "
                              f"path): {'; '.join(errors)}")
            for name, (restype, argtypes) in _PROTOTYPES.items():
                func = getattr(handle, name)
                func.restype = restype
                func.argtypes = argtypes
            _loaded = handle
        return _loaded


def path():
    """The file the library was loaded from."""
    return lib()._name
