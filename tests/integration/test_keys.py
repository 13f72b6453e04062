"""Issue 13: the master key's life (R2.6: technical keeps storage secure).
Rotation online — running mounts switch without a failed open or a lost
write, the old key no longer opens the store — crash-safe at every step; the
passphrase around the key changes without touching data."""
import csv
import io
import os
import shutil
import subprocess
import threading
import time

import pytest

from conftest import CUSTCTL, DEMO_CSV, POLICY, ctl


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def export(store, *args):
    return ctl("export", store, *args).stdout


def test_rotation_while_a_reader_and_a_writer_run(demo_store, mount, workdir):
    m = mount(demo_store)
    old_key = os.path.join(workdir, "old.key")
    shutil.copy(os.path.join(demo_store, "master.key"), old_key)
    stop = threading.Event()
    errors, reads, written = [], [0], [0]

    def reader():
        fields = [m.path(c, f) for c in ("C1001", "C1002", "C1003") for f in ("phone", "company")]
        while not stop.is_set():
            for f in fields:
                try:
                    assert read(f)
                    reads[0] += 1
                except (OSError, AssertionError) as e:
                    errors.append(("read", f, repr(e)))

    def writer():
        f = m.path("C1004", "order_qty")
        n = 0
        while not stop.is_set():
            n += 1
            try:
                write(f, b"%d\n" % n)
                written[0] = n
            except OSError as e:
                errors.append(("write", n, repr(e)))
            if n % 20 == 0:   # a new customer too: wrapped under the key of the moment
                try:
                    os.mkdir(m.path(f"ROT{n}"))
                    write(m.path(f"ROT{n}", "company"), b"Rotated Co\n")
                except OSError as e:
                    errors.append(("mkdir", n, repr(e)))

    threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
    for t in threads:
        t.start()
    try:
        for _ in range(3):
            time.sleep(0.3)
            out = ctl("key", "rotate", demo_store).stdout.decode()
            assert "master key rotated" in out
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not errors, errors[:5]
    assert reads[0] > 0 and written[0] > 0
    assert read(m.path("C1004", "order_qty")) == b"%d\n" % written[0]
    made = [d for d in os.listdir(m.mnt) if d.startswith("ROT")]
    for d in made:
        assert read(m.path(d, "company")) == b"Rotated Co\n"
    assert "switched to the new one" in m.log_text()
    m.stop()
    assert b"OK" in ctl("audit", "verify", demo_store).stdout
    # The old key no longer opens the store.
    saved = os.path.join(workdir, "new.key")
    shutil.copy(os.path.join(demo_store, "master.key"), saved)
    shutil.copy(old_key, os.path.join(demo_store, "master.key"))
    p = ctl("export", demo_store, check=False)
    assert p.returncode == 1 and b"does not open this store" in p.stderr
    shutil.copy(saved, os.path.join(demo_store, "master.key"))
    rows = list(csv.reader(io.StringIO(export(demo_store).decode())))
    assert len(rows) == 1 + 36 + len(made)           # the header, the demo, the new ones
    rotations = [l for l in ctl("audit", demo_store).stdout.decode().splitlines()
                 if "key-rotate" in l]
    assert len(rotations) == 3


@pytest.mark.parametrize("step", ["before-commit", "after-commit"])
def test_a_rotation_cut_short_leaves_a_store_that_opens(demo_store, step):
    before = export(demo_store)
    p = subprocess.run([CUSTCTL, "key", "rotate", demo_store], capture_output=True,
                       env=dict(os.environ, CUSTCTL_TEST_CRASH=step), timeout=60)
    assert p.returncode == 99
    assert export(demo_store) == before      # the next open finishes or forgets it
    assert not os.path.exists(os.path.join(demo_store, "master.key.next")) or \
        step == "before-commit"
    assert b"OK" in ctl("audit", "verify", demo_store).stdout
    ctl("key", "rotate", demo_store)          # and the next rotation works
    assert export(demo_store) == before
    assert not os.path.exists(os.path.join(demo_store, "master.key.next"))


def test_passphrase_added_changed_removed_and_a_mounted_rotation(workdir, mount):
    store = os.path.join(workdir, "pstore")
    ctl("init", store, "--policy", POLICY)
    ctl("import", store, DEMO_CSV)
    before = export(store)
    first, second = os.path.join(workdir, "p1"), os.path.join(workdir, "p2")
    write(first, b"first passphrase\n")
    write(second, b"second passphrase\n")
    ctl("key", "passphrase", store, "--new-passphrase-file", first)
    assert read(os.path.join(store, "master.key"))[:9] == b"CUSTFSK1W"
    assert ctl("export", store, check=False).returncode == 1      # needs it now
    assert export(store, "--passphrase-file", first) == before
    ctl("key", "passphrase", store, "--passphrase-file", first, "--new-passphrase-file", second)
    p = ctl("export", store, "--passphrase-file", first, check=False)
    assert p.returncode == 1 and b"passphrase" in p.stderr
    assert export(store, "--passphrase-file", second) == before
    # A mount of a passphrase store follows a rotation (it kept the passphrase).
    m = mount(store, "-o", f"passfile={second}")
    assert read(m.path("C1001", "phone"))
    ctl("key", "rotate", store, "--passphrase-file", second)
    assert read(m.path("C1001", "phone"))
    write(m.path("C1002", "phone"), b"13900000002\n")
    m.stop()
    assert b"13900000002" in export(store, "--passphrase-file", second)
    ctl("key", "passphrase", store, "--passphrase-file", second, "--remove")
    assert read(os.path.join(store, "master.key"))[:9] != b"CUSTFSK1W"
    assert export(store).count(b"\n") == before.count(b"\n")


def _wrapped_keys(store):
    import sqlite3
    db = sqlite3.connect(f"file:{store}/custfs.db?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT id, wrapped_key FROM customers").fetchall())
    finally:
        db.close()


def test_fresh_data_keys_for_one_customer_and_for_all_resumed_after_kill9(demo_store, mount,
                                                                         workdir):
    """`key rotate --data CUSTOMER` and `--all`: every version re-encrypted
    under a fresh data key (history still reads); `--all` killed with
    SIGKILL part-way resumes where it stopped; values never change."""
    before = export(demo_store)
    old_hist = ctl("history", demo_store, "C1001", "phone", "--show", "1").stdout
    keys = _wrapped_keys(demo_store)
    out = ctl("key", "rotate", demo_store, "--data", "C1001").stdout.decode()
    assert "versions re-encrypted" in out
    after = _wrapped_keys(demo_store)
    changed = [k for k in keys if keys[k] != after[k]]
    assert len(changed) == 1
    assert ctl("history", demo_store, "C1001", "phone", "--show", "1").stdout == old_hist
    # More customers, so that --all takes long enough to be killed part-way.
    big = os.path.join(workdir, "more.csv")
    with open(big, "w") as f:
        f.write("id,company,phone,requirements\n")
        for i in range(1500):
            f.write(f"M{i:05d},Company {i},1380000{i:04d},{'x' * 200}\n")
    ctl("import", demo_store, big)
    before = export(demo_store)
    keys = _wrapped_keys(demo_store)
    p = subprocess.Popen([CUSTCTL, "key", "rotate", demo_store, "--all"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.4)
    p.kill()
    p.wait(timeout=30)
    half = _wrapped_keys(demo_store)
    done_first = sum(1 for k in keys if keys[k] != half[k])
    assert export(demo_store) == before
    p = subprocess.run([CUSTCTL, "key", "rotate", demo_store, "--all"], capture_output=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    if 0 < done_first < len(keys):
        assert b"resuming after customer" in p.stderr
    final = _wrapped_keys(demo_store)
    assert all(keys[k] != final[k] for k in keys)
    assert export(demo_store) == before
    assert b"OK" in ctl("audit", "verify", demo_store).stdout
    # A mount reads every value afterwards.
    m = mount(demo_store)
    assert read(m.path("M01499", "requirements")) == b"x" * 200 + b"\n"
