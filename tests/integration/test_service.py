"""custfs as a systemd service (issue 14): the readiness protocol of
sd_notify(3) spoken to a socket this test owns, as systemd's would be for
Type=notify (READY=1 once the mount is live, RELOADING=1/READY=1 around a
SIGHUP reload, STOPPING=1 and exit 0 on SIGTERM), and the journal's stderr
convention: with JOURNAL_STREAM naming stderr, each line carries its level as
a "<N>" prefix (sd-daemon(3)); otherwise the plain "custfs: LEVEL:" lines."""
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import CUSTFS, ROOT, ctl


class Notify:
    """A notification socket, as systemd's: AF_UNIX datagrams."""

    def __init__(self, workdir, abstract):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"custfs-test-notify-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.address = os.path.join(workdir, "notify.sock")
            self.sock.bind(self.address)
        self.sock.settimeout(30)

    def message(self):
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.splitlines() if "=" in line)

    def close(self):
        self.sock.close()


def start(store, mnt, log, notify, *args):
    os.makedirs(mnt, exist_ok=True)
    environ = dict(os.environ, NOTIFY_SOCKET=notify.address)
    environ.pop("JOURNAL_STREAM", None)
    return subprocess.Popen([CUSTFS, *args, store, mnt], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=log, env=environ)


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_ready_after_the_mount_is_live_stopping_on_sigterm(demo_store, workdir, abstract):
    notify = Notify(workdir, abstract)
    mnt = os.path.join(workdir, "mnt")
    with open(os.path.join(workdir, "custfs.log"), "wb") as log:
        proc = start(demo_store, mnt, log, notify, "-f")
        try:
            msg = notify.message()
            # Ready means ready: the mount answers now, not a moment later.
            assert msg.get("READY") == "1", msg
            assert os.path.ismount(mnt)
            assert "C1001" in os.listdir(mnt)
            assert msg["STATUS"] == f"serving {demo_store} at {mnt}"
            assert "MAINPID" not in msg  # in the foreground it is the process started

            proc.send_signal(signal.SIGHUP)  # ExecReload=
            assert notify.message().get("RELOADING") == "1"
            assert notify.message().get("READY") == "1"

            proc.send_signal(signal.SIGTERM)
            assert notify.message().get("STOPPING") == "1"
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                subprocess.run(["fusermount3", "-u", "-z", mnt], capture_output=True)
            notify.close()
    assert not os.path.ismount(mnt)


def signals_blocked(pid, tid):
    with open(f"/proc/{pid}/task/{tid}/status") as f:
        for line in f:
            if line.startswith("SigBlk:"):
                return int(line.split()[1], 16)
    raise AssertionError(f"no SigBlk for thread {tid}")


def test_only_the_main_thread_takes_a_stop(demo_store, workdir, mount):
    """libfuse's SIGTERM handler only marks the session ended, and the loop
    sees it when the signal interrupts the main thread's wait: a stop that
    a helper thread took waited for the next request (5 SIGTERMs in 100,
    under load, never stopped custfs). Every other thread blocks them."""
    m = mount(demo_store)
    assert "C1001" in os.listdir(m.mnt)  # a worker or two are running
    pid = m.proc.pid
    tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    assert len(tids) >= 3, tids  # the main one, the reload and the FUSE threads
    for sig in (signal.SIGTERM, signal.SIGINT):
        bit = 1 << (sig - 1)
        assert not signals_blocked(pid, pid) & bit, f"the main thread blocks {sig.name}"
        for tid in tids:
            if tid != pid:
                assert signals_blocked(pid, tid) & bit, f"thread {tid} takes {sig.name}"


def test_a_daemonized_custfs_names_its_pid(demo_store, workdir):
    notify = Notify(workdir, False)
    mnt = os.path.join(workdir, "mnt")
    with open(os.path.join(workdir, "custfs.log"), "wb") as log:
        parent = start(demo_store, mnt, log, notify)
        try:
            msg = notify.message()
            assert msg.get("READY") == "1", msg
            daemon = int(msg["MAINPID"])
            assert daemon != parent.pid and os.path.ismount(mnt)
            assert parent.wait(timeout=30) == 0
            subprocess.run(["fusermount3", "-u", mnt], check=True, timeout=30)
            assert notify.message().get("STOPPING") == "1"
        finally:
            if os.path.ismount(mnt):
                subprocess.run(["fusermount3", "-u", "-z", mnt], capture_output=True)
            notify.close()


def test_a_bad_notify_socket_is_said_and_the_mount_goes_on(demo_store, workdir):
    class Bad:
        address = "relative/notify.sock"
    mnt = os.path.join(workdir, "mnt")
    path = os.path.join(workdir, "custfs.log")
    with open(path, "wb") as log:
        proc = start(demo_store, mnt, log, Bad, "-f")
        try:
            for _ in range(400):
                if os.path.ismount(mnt):
                    break
                time.sleep(0.05)
            assert os.path.ismount(mnt)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
    assert "NOTIFY_SOCKET=relative/notify.sock: not an absolute path" in open(path).read()


def run_logged(store, workdir, journal):
    """custfs -f with stderr in a file: JOURNAL_STREAM naming that file (as
    systemd names the journal's stream), or not. Provokes a refused value (a
    warning) and returns the log's lines."""
    mnt = os.path.join(workdir, "mnt")
    os.makedirs(mnt, exist_ok=True)
    path = os.path.join(workdir, "stderr.log")
    env = dict(os.environ)
    env.pop("JOURNAL_STREAM", None)
    env.pop("NOTIFY_SOCKET", None)
    with open(path, "wb") as log:
        if journal:
            st = os.fstat(log.fileno())
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        proc = subprocess.Popen([CUSTFS, "-f", store, mnt], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, env=env)
        try:
            for _ in range(400):
                if os.path.ismount(mnt):
                    break
                assert proc.poll() is None, open(path).read()
                time.sleep(0.05)
            with pytest.raises(OSError):
                with open(os.path.join(mnt, "C1001", "order_qty"), "w") as f:
                    f.write("abc\n")
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
    with open(path) as f:
        return f.read().splitlines()


def test_under_the_journal_each_line_carries_its_level(demo_store, workdir):
    lines = run_logged(demo_store, workdir, journal=True)
    mounted = [line for line in lines if "mounted " in line and "unmounted" not in line]
    assert mounted and mounted[0].startswith("<6>mounted "), lines        # LOG_INFO
    refused = [line for line in lines if "refused:" in line and "order_qty" in line]
    assert refused and refused[0].startswith("<4>refused: "), lines       # LOG_WARNING
    assert any(line.startswith("<6>unmounted ") for line in lines), lines
    assert not any(line.startswith("custfs: info:") for line in lines), lines


def test_elsewhere_stderr_lines_are_plain(demo_store, workdir):
    lines = run_logged(demo_store, workdir, journal=False)
    assert any(line.startswith("custfs: info: mounted ") for line in lines), lines
    assert any(line.startswith("custfs: warning: refused: ") for line in lines), lines
    assert not any(line.startswith("<") for line in lines), lines


def test_a_journal_stream_that_is_not_stderr_is_ignored(demo_store, workdir):
    """JOURNAL_STREAM inherited by a process whose stderr was redirected (to
    a file here) names another stream: no prefixes then."""
    mnt = os.path.join(workdir, "mnt")
    os.makedirs(mnt)
    path = os.path.join(workdir, "stderr.log")
    other = os.stat(workdir)
    env = dict(os.environ, JOURNAL_STREAM=f"{other.st_dev}:{other.st_ino}")
    env.pop("NOTIFY_SOCKET", None)
    with open(path, "wb") as log:
        proc = subprocess.Popen([CUSTFS, "-f", demo_store, mnt], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, env=env)
        for _ in range(400):
            if os.path.ismount(mnt):
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    text = open(path).read()
    assert "custfs: info: mounted " in text and "<6>" not in text, text


def unit_setting(name):
    unit = os.path.join(ROOT, "systemd", "custfs@.service.in")
    with open(unit) as f:
        return [line.split("=", 1)[1].strip() for line in f if line.startswith(name + "=")]


def test_the_units_capabilities_are_enough(demo_store, workdir, make_user):
    """custfs under exactly the unit's CapabilityBoundingSet and
    NoNewPrivileges (setpriv, as systemd would set them): it mounts, serves a
    staff member, records the executable of their process (CAP_SYS_PTRACE:
    /proc/PID/exe of another uid) and exits 0 on SIGTERM."""
    caps = unit_setting("CapabilityBoundingSet")[0].split()
    assert unit_setting("NoNewPrivileges") == ["yes"]
    bounding = "-all," + ",".join("+" + c.lower().removeprefix("cap_") for c in caps)
    user = make_user("capsales")
    ctl("employee", "add", demo_store, user, "--name", "Cap Test", "--dept", "sales",
        "--type", "formal")
    ctl("grant", "add", demo_store, user, "sales")
    mnt = os.path.join(workdir, "mnt")
    os.makedirs(mnt)
    with open(os.path.join(workdir, "custfs.log"), "wb") as log:
        proc = subprocess.Popen(["setpriv", "--no-new-privs", f"--bounding-set={bounding}",
                                 CUSTFS, "-f", demo_store, mnt], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log)
        try:
            for _ in range(400):
                if os.path.ismount(mnt):
                    break
                assert proc.poll() is None
                time.sleep(0.05)
            with open(f"/proc/{proc.pid}/status") as f:
                eff = int(next(line for line in f if line.startswith("CapEff:")).split()[1], 16)
            assert eff == sum(1 << CAPS[c] for c in caps)
            p = subprocess.run(["runuser", "-u", user, "--", "cat", os.path.join(mnt, "C1001",
                                                                               "phone")],
                               capture_output=True, timeout=60)
            assert p.stdout == b"13812345678\n", p.stderr
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
    records = [json.loads(line) for line in
               ctl("audit", demo_store, "--json", "--employee", user).stdout.splitlines()]
    opens = [r for r in records if r["action"].startswith("open")]
    assert opens and all(r["exe"].endswith("/cat") for r in opens), opens


CAPS = {"CAP_SYS_ADMIN": 21, "CAP_IPC_LOCK": 14, "CAP_SYS_PTRACE": 19}
