"""The README's first command: scripts/demo mounts a demo and every hint it
prints works as it says (issue 14 item 8; R1.3: staff of every level find
their way). Run with its own directory, mount point and login prefix."""
import os
import subprocess

import pytest

from conftest import ROOT
from demo_hints import failures


@pytest.fixture
def demo(workdir):
    prefix = f"cfd{os.getpid() % 1000}-"
    env = dict(os.environ, CUSTFS_DEMO_DIR=os.path.join(workdir, "demo"),
               CUSTFS_DEMO_MNT=os.path.join(workdir, "demo-mnt"), CUSTFS_DEMO_PREFIX=prefix)
    p = subprocess.run([os.path.join(ROOT, "scripts", "demo")], env=env, capture_output=True,
                       timeout=600)
    yield p, env, prefix
    subprocess.run(["fusermount3", "-u", env["CUSTFS_DEMO_MNT"]], capture_output=True)
    for who in ("sales", "prod", "service", "intern", "partner", "admin", "tech"):
        subprocess.run(["userdel", prefix + who], capture_output=True)


def test_every_hint_of_the_demo_works(demo):
    p, env, prefix = demo
    out = p.stdout.decode()
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    assert os.path.ismount(env["CUSTFS_DEMO_MNT"])
    assert failures(out, prefix, env) == [], out


def test_the_demo_refuses_a_bad_prefix(workdir):
    env = dict(os.environ, CUSTFS_DEMO_DIR=os.path.join(workdir, "d"),
               CUSTFS_DEMO_MNT=os.path.join(workdir, "m"), CUSTFS_DEMO_PREFIX="Root;rm")
    p = subprocess.run([os.path.join(ROOT, "scripts", "demo")], env=env, capture_output=True,
                       timeout=600)
    assert p.returncode == 2 and b"CUSTFS_DEMO_PREFIX" in p.stderr
