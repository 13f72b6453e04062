"""Fixtures for custfs integration tests: real stores, real FUSE mounts, real
Linux users (created with useradd, used with runuser), in the way sshfs tests
itself. Run as root: `scripts/test` (or /usr/bin/python3 -m pytest tests/integration)."""
import csv
import json
import os
import pwd
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("CUSTFS_BUILD", os.path.join(ROOT, "build")))
CUSTFS = os.path.join(BUILD, "custfs")
CUSTCTL = os.path.join(BUILD, "custctl")
SHIPPED_POLICY = os.path.join(ROOT, "policy")


def _test_policy():
    """The shipped policy, but with checkout hours open all day: tests must not
    pass or fail by the hour they run at (the hours rule has its own test)."""
    d = tempfile.mkdtemp(prefix="custfs-test-policy-", dir="/var/tmp")
    os.chmod(d, 0o755)
    for name in os.listdir(SHIPPED_POLICY):
        with open(os.path.join(SHIPPED_POLICY, name)) as f:
            text = f.read()
        text = re.sub(r"hours \d\d:\d\d-\d\d:\d\d", "hours 00:00-24:00", text)
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    return d


POLICY = _test_policy()
DEMO_CSV = os.path.join(ROOT, "demo", "customers.csv")

# Sanitizer builds: LeakSanitizer cannot stop the world in a non-dumpable daemon.
os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=0")

# Daemon log lines that are expected in some tests and never a failure by themselves.
EXPECTED_LOG = ("deny:", "refused:", "integrity:", "mounted ", "unmounted ",
                "new customer", "discarded unsaved")


def ctl(*args, check=True, input=None, user=None):
    cmd = [CUSTCTL, *args]
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    p = subprocess.run(cmd, capture_output=True, input=input, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} failed ({p.returncode}): {p.stderr.decode()}")
    return p


def versions(store, customer, field):
    """The stored version numbers of CUSTOMER's FIELD (custctl history)."""
    out = ctl("history", store, customer, field, "--json").stdout.decode()
    return [json.loads(line)["version"] for line in out.splitlines()]


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    return header, {r[0]: dict(zip(header[1:], r[1:])) for r in body}


def is_mounted(path):
    """Whether PATH is a mount point, by the mount table (a person's own mount
    answers even root's stat with EACCES, so os.path.ismount cannot tell)."""
    path = os.path.abspath(path)
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


class Mount:
    """One custfs daemon in the foreground, with its stderr kept for checks."""

    def __init__(self, store, mnt, *opts):
        self.store, self.mnt, self.opts = store, mnt, list(opts)
        self.proc = None
        self.expected = []   # log fragments a test provokes on purpose
        self.log_path = os.path.join(os.path.dirname(mnt), os.path.basename(mnt) + ".log")

    def start(self):
        os.makedirs(self.mnt, exist_ok=True)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([CUSTFS, "-f", *self.opts, self.store, self.mnt],
                                     stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + 20
        while not is_mounted(self.mnt):
            if self.proc.poll() is not None:
                raise AssertionError(f"custfs exited {self.proc.returncode}: {self.log_text()}")
            if time.time() > deadline:
                raise AssertionError("custfs did not mount in 20 s: " + self.log_text())
            time.sleep(0.02)
        return self

    def log_text(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        subprocess.run(["fusermount3", "-u", "-z", self.mnt], capture_output=True)
        self.proc = None

    def stop(self, check=True):
        """Unmount; the daemon must exit 0 with no unexpected errors in its log."""
        if not self.proc:
            return
        subprocess.run(["fusermount3", "-u", self.mnt], check=True, timeout=30)
        rc = self.proc.wait(timeout=30)
        self.proc = None
        if check:
            assert rc == 0, f"custfs exited {rc}: {self.log_text()}"
            bad = [line for line in self.log_text().splitlines()
                   if ("error" in line or "ERROR" in line or "Sanitizer" in line)
                   and not any(e in line for e in EXPECTED_LOG + tuple(self.expected))]
            assert not bad, "unexpected daemon errors:\n" + "\n".join(bad)


@pytest.fixture
def workdir():
    # Outside /tmp: vim skips backups under /tmp (backupskip), and the mount
    # point must be reachable by the test users.
    d = tempfile.mkdtemp(prefix="custfs-test-", dir="/var/tmp")
    os.chmod(d, 0o755)
    yield d
    for m in os.listdir(d):
        p = os.path.join(d, m)
        if os.path.ismount(p):
            subprocess.run(["fusermount3", "-u", "-z", p], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def store(workdir):
    path = os.path.join(workdir, "store")
    ctl("init", path, "--policy", POLICY)
    return path


@pytest.fixture
def demo_store(store):
    ctl("import", store, DEMO_CSV)
    return store


@pytest.fixture
def mount(workdir):
    """mount(store, *opts) -> a started Mount, stopped (and checked) after the test."""
    mounts = []

    def make(store, *opts):
        m = Mount(store, os.path.join(workdir, f"mnt{len(mounts)}"), *opts).start()
        mounts.append(m)
        return m

    yield make
    for m in mounts:
        m.stop()


_users = []


@pytest.fixture(scope="session")
def make_user():
    """Creates a real Linux user for the session (deleted at the end)."""
    def make(name):
        name = f"cft{os.getpid() % 10000}{name}"[:31]
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name],
                           check=True)
            _users.append(name)
        return name

    yield make
    for u in _users:
        subprocess.run(["userdel", u], capture_output=True)
    shutil.rmtree(POLICY, ignore_errors=True)


WRITE_THEN_WAIT = r"""
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, sys.argv[2].encode() + b"\n")
print("written", flush=True)
sys.stdin.readline()
try:
    os.close(fd)
    print("closed", flush=True)
except OSError as e:
    print("error", e.errno, flush=True)
"""


class Held:
    """A transaction another process holds on one of a store's databases until
    release() (or the with block's end): the store held keeps writers off
    (BEGIN IMMEDIATE), the log held keeps every record off (BEGIN EXCLUSIVE)."""

    def __init__(self, path, how):
        self.db = sqlite3.connect(path, timeout=1)
        self.db.execute("BEGIN " + how)

    @classmethod
    def store(cls, store):
        return cls(os.path.join(store, "custfs.db"), "IMMEDIATE")

    @classmethod
    def log(cls, store):
        return cls(os.path.join(store, "audit.db"), "EXCLUSIVE")

    def release(self):
        if self.db:
            self.db.rollback()
            self.db.close()
            self.db = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class Writer:
    """A process (as USER, or root for None) that has written VALUE to PATH
    and closes it when told to: go(), then result()."""

    def __init__(self, user, path, value):
        cmd = ["/usr/bin/python3", "-c", WRITE_THEN_WAIT, path, value]
        self.p = subprocess.Popen((["runuser", "-u", user, "--"] if user else []) + cmd,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().strip() == "written"

    def go(self):
        self.p.stdin.write("go\n")
        self.p.stdin.flush()

    def result(self):
        out = self.p.stdout.readline().split()
        self.p.wait(timeout=30)
        return out


def as_user(user, *cmd, input=None):
    return subprocess.run(["runuser", "-u", user, "--", *cmd], capture_output=True,
                          input=input, timeout=60)


# custctl as a person, from inside the mount (as git finds its repository).
def staff_run(user, m, *args):
    p = subprocess.run(["runuser", "-u", user, "--", CUSTCTL, *args], cwd=m.mnt,
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def staff_ok(user, m, *args):
    """staff_run that must succeed; its standard output."""
    rc, out, err = staff_run(user, m, *args)
    assert rc == 0, f"{user}: custctl {' '.join(args)}: {rc}: {err}"
    return out


def cat_as(user, path):
    """PATH's contents as USER reads them, or None if refused."""
    p = as_user(user, "cat", path)
    return p.stdout.decode() if p.returncode == 0 else None


def policy_copy(workdir, name):
    """A copy of the test policy in WORKDIR/NAME that staff can read (custctl
    reads a proposal's files as the person who proposes it)."""
    d = os.path.join(workdir, name)
    shutil.copytree(POLICY, d)
    os.chmod(workdir, 0o755)
    for root, dirs, files in os.walk(d):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    return d
