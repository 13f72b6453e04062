"""The README's first command: scripts/demo mounts a demo and every hint it
prints works as it says (issue 14 item 8; R1.3: staff of every level find
their way). Run with its own directory, mount point and login prefix."""
import os
import re
import subprocess

import pytest

from conftest import ROOT


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


def hints(text):
    """The command lines the demo prints: indented, after "Try" / "Sample staff"."""
    lines, on = [], False
    for line in text.splitlines():
        if line.startswith("Try, as root:"):
            on = True
        elif on and line.startswith("  ") and not re.match(r"  \S+ \(", line) \
                and "(sales)" not in line and "(call-centre" not in line \
                and "(administration)" not in line:
            lines.append(line.strip())
    return lines


def test_every_hint_of_the_demo_works(demo):
    p, env, prefix = demo
    out = p.stdout.decode()
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    assert os.path.ismount(env["CUSTFS_DEMO_MNT"])
    cmds = hints(out)
    assert len(cmds) >= 30, out
    assert all(prefix in c or "runuser" not in c for c in cmds)      # the prefix, everywhere
    for c in cmds:
        if c.startswith("vim "):
            continue                                                  # interactive
        cmd, _, comment = c.partition("  #")
        refused = comment.strip().startswith("refused") and ";" not in cmd
        r = subprocess.run(["bash", "-c", "set -o pipefail; " + cmd], env=env,
                           capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        said = (r.stdout + r.stderr).decode(errors="replace")
        if refused:
            assert r.returncode != 0, f"{c}: should be refused: {said}"
        else:
            assert r.returncode == 0, f"{c}: exit {r.returncode}: {said}"
        if "history" in cmd and "--show" in cmd:
            assert r.stdout.endswith(b"\n")
        if "masked" in comment:
            assert b"****" in r.stdout
        if "app new" in cmd:
            assert re.search(r"#(\d+)", said)
    # The hints' ids are the ones the demo's own steps make.
    assert any("app approve 1" in c for c in cmds) and any("app implement 1" in c for c in cmds)


def test_the_demo_refuses_a_bad_prefix(workdir):
    env = dict(os.environ, CUSTFS_DEMO_DIR=os.path.join(workdir, "d"),
               CUSTFS_DEMO_MNT=os.path.join(workdir, "m"), CUSTFS_DEMO_PREFIX="Root;rm")
    p = subprocess.run([os.path.join(ROOT, "scripts", "demo")], env=env, capture_output=True,
                       timeout=600)
    assert p.returncode == 2 and b"CUSTFS_DEMO_PREFIX" in p.stderr
