"""The kernels sgdma builds for: every installed kernel with a build tree."""
import os


def installed_kernels(selectors=None):
    """Kernels with a build tree, optionally filtered by KERNELS selectors.

    A selector is an exact version or a major.minor prefix: '6.1' matches
    6.1.x only, not 6.12.
    """
    found = []
    for ver in sorted(os.listdir('/lib/modules')) if os.path.isdir('/lib/modules') else []:
        if os.path.exists(os.path.join('/lib/modules', ver, 'build', 'Makefile')):
            found.append(ver)
    if not selectors:
        return found
    picked = []
    for sel in selectors:
        for ver in found:
            if ver == sel or ver.startswith(sel + '.') or ver.startswith(sel + '-'):
                if ver not in picked:
                    picked.append(ver)
    return picked
