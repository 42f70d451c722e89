"""SCons tool: build an out-of-tree kernel module with kbuild.

env.KernelModule(target_dir, sources, KERNEL_BUILD=...) copies the module
sources into target_dir (kbuild writes next to its sources, and the source
tree stays clean) and runs `make -C <kernel build dir> M=<target_dir>`.
Returns the .ko node.
"""
import os
import shutil
import subprocess

import SCons.Errors


def _kbuild(target, source, env):
    outdir = os.path.dirname(str(target[0]))
    os.makedirs(outdir, exist_ok=True)
    for src in source:
        rel = os.path.relpath(str(src.srcnode()), env['KBUILD_SRCDIR'])
        dst = os.path.join(outdir, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(str(src.srcnode()), dst)
    cmd = ['make', '-s', '-C', env['KERNEL_BUILD'], 'M=' + os.path.abspath(outdir), 'modules']
    cmd += env.get('KBUILD_FLAGS', [])
    print(' '.join(cmd))
    if subprocess.call(cmd) != 0:
        raise SCons.Errors.BuildError(errstr='kbuild failed for ' + env['KERNEL_BUILD'])
    return None


def _kernel_module(env, target_dir, sources, **kw):
    e = env.Clone(**kw)
    name = e.get('MODULE_NAME', 'sgdma')
    ko = e.Command(os.path.join(str(target_dir), name + '.ko'), sources,
                   e.Action(_kbuild, 'KBUILD $TARGET ($KERNEL_BUILD)'))
    e.Depends(ko, e.Value([e['KERNEL_BUILD']] + list(e.get('KBUILD_FLAGS', []))))
    e.Clean(ko, str(target_dir))
    return ko


def generate(env):
    env.AddMethod(_kernel_module, 'KernelModule')


def exists(env):
    return env.Detect('make')
