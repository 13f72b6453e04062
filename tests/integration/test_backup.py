"""Issue 13, item 3 (R2.6): online backup, its verification, and restore.

A backup is taken while the store is mounted and written to; it is one
consistent point of the store, holds no plaintext and no key unless asked
(`--with-key FILE`, written apart from it); `backup verify` finds a changed
byte, a changed manifest and a value that does not authenticate; `restore`
never overwrites a store and gives back every value."""
import glob
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import CUSTCTL, DEMO_CSV, POLICY, ctl, read_csv
from test_erase import office, ok, people  # noqa: F401 - the erase procedure's staff

# Plaintext that is in the demo store (values and customer names): none of it
# may appear in any file of a backup.
NEEDLES = ["13812345678", "wangjg@mingqian-tea.example.com", "杭州明前茶业有限公司",
           "6222 0210 0000 1234", "Green Leaf Trading Ltd", "990101198003150012",
           "浙江省杭州市拱墅区示例小区3幢201室", "C1001", "C1002"]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def tree(d):
    """Every regular file under D, by relative path: its bytes."""
    out = {}
    for p in glob.glob(os.path.join(d, "**"), recursive=True):
        if os.path.isfile(p) and not os.path.islink(p):
            out[os.path.relpath(p, d)] = read(p)
    return out


def export(store, *opts):
    return ctl("export", store, *opts).stdout


def values(store, *opts):
    """The store's current values: {customer: {field: value}}."""
    text = export(store, *opts).decode()
    path = os.path.join(os.path.dirname(store), os.path.basename(store) + ".csv")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return read_csv(path)[1]


def master_key(store):
    """The raw 32 bytes of a plain key file (magic, kind 'P', key)."""
    data = read(os.path.join(store, "master.key"))
    assert data[:9] == b"CUSTFSK1P"
    return data[9:]


def leftovers(parent):
    return glob.glob(os.path.join(parent, ".*.verify-*")) + \
        glob.glob(os.path.join(parent, ".*.restore-*"))


def test_backup_under_writes_verifies_and_restores(demo_store, mount, workdir):
    """A backup taken while a writer keeps writing through the mount verifies,
    restores, and is one consistent point of the store; the last one, taken
    after the writer stopped, restores to exactly the live store's values."""
    m = mount(demo_store)
    stop = threading.Event()
    rounds = [0]
    errors = []

    def writer():
        # Always in this order: a consistent copy holds a prefix of the
        # sequence, so order_qty of C1001 >= C1002's >= the feedback's round.
        try:
            i = 0
            while not stop.is_set():
                i += 1
                write(m.path("C1001", "order_qty"), f"{i}\n".encode())
                write(m.path("C1002", "order_qty"), f"{i}\n".encode())
                write(m.path("C1003", "feedback"), f"round {i}\n".encode())
                rounds[0] = i
        except Exception as e:   # noqa: BLE001 - reported below
            errors.append(repr(e))

    t = threading.Thread(target=writer)
    t.start()
    try:
        deadline = time.time() + 30
        while rounds[0] < 5 and time.time() < deadline and not errors:
            time.sleep(0.01)
        assert rounds[0] >= 5, errors or "the writer made no progress"
        backups = []
        for n in range(5):
            dest, key = os.path.join(workdir, f"during{n}"), os.path.join(workdir, f"during{n}.key")
            before = rounds[0]
            out = ctl("backup", demo_store, dest, "--with-key", key).stdout.decode()
            assert "backed up" in out
            backups.append((dest, key, rounds[0] - before))
        assert any(moved > 0 for _, _, moved in backups), "no backup overlapped a write"
    finally:
        stop.set()
        t.join(timeout=60)
    assert not errors, errors

    header, demo = read_csv(DEMO_CSV)
    for n, (dest, key, _) in enumerate(backups):
        ok = ctl("backup", "verify", dest, "--key", key).stdout.decode()
        assert ok.startswith("OK: ") and "decrypt and authenticate" in ok, ok
        assert "hash chain intact" in ok
        restored = os.path.join(workdir, f"restored{n}")
        ctl("restore", dest, restored, "--key", key)
        got = values(restored)
        a, b = int(got["C1001"]["order_qty"]), int(got["C1002"]["order_qty"])
        c = int(got["C1003"]["feedback"].split()[1])
        # A prefix of A1 B1 C1 A2 B2 C2 ... ends after a C, an A or a B.
        assert (a, b, c) in ((b, b, b), (b + 1, b, b), (b, b, b - 1)), (n, a, b, c)
        for cid, cells in demo.items():   # what the writer never touched is the demo's
            for field, value in cells.items():
                if (cid, field) not in (("C1001", "order_qty"), ("C1002", "order_qty"),
                                        ("C1003", "feedback")):
                    assert got[cid][field] == value, (n, cid, field)

    final, key = os.path.join(workdir, "final"), os.path.join(workdir, "final.key")
    ctl("backup", demo_store, final, "--with-key", key)
    ctl("backup", "verify", final, "--key", key)
    restored = os.path.join(workdir, "restored-final")
    out = ctl("restore", final, restored, "--key", key).stdout.decode()
    assert "restored" in out and "decrypt and authenticate" in out
    assert export(restored) == export(demo_store)
    assert int(values(restored)["C1001"]["order_qty"]) == rounds[0]
    # The restored store is a store: it mounts, serves values, keeps its log,
    # which holds the backup (recorded before it started) and the restore.
    assert os.stat(restored).st_mode & 0o777 == 0o700
    assert os.stat(os.path.join(restored, "master.key")).st_mode & 0o777 == 0o400
    assert ctl("audit", "verify", restored).stdout.decode().startswith("OK:")
    actions = [json.loads(line)["action"] for line in
               ctl("audit", restored, "--json").stdout.decode().splitlines()]
    assert actions.count("backup") == 6, actions   # the five during, and this one
    assert actions.index("restore") > max(i for i, a in enumerate(actions) if a == "backup")
    r = mount(restored)
    assert read(r.path("C1001", "order_qty")) == f"{rounds[0]}\n".encode()
    assert leftovers(workdir) == []


def test_backup_holds_no_plaintext_and_no_key(demo_store, mount, workdir):
    m = mount(demo_store)
    assert read(m.path("C1001", "phone")) == b"13812345678\n"
    live = export(demo_store)
    for n in NEEDLES:
        assert n.encode() in live, n   # they are real values of the store
    key = master_key(demo_store)

    plain = os.path.join(workdir, "plain")
    out = ctl("backup", demo_store, plain).stdout.decode()
    assert "not in the backup" in out
    assert os.stat(plain).st_mode & 0o777 == 0o700
    files = tree(plain)
    assert sorted(files) == ["BACKUP", "audit.db", "custfs.db", "policy/access.conf",
                             "policy/fields.conf"]
    for name, data in files.items():
        assert os.stat(os.path.join(plain, name)).st_mode & 0o077 == 0, name
        assert key not in data, name
        assert key.hex().encode() not in data, name
        for n in NEEDLES:
            assert n.encode() not in data, (name, n)

    withkey, keyfile = os.path.join(workdir, "withkey"), os.path.join(workdir, "backup.key")
    out = ctl("backup", demo_store, withkey, "--with-key", keyfile).stdout.decode()
    assert keyfile in out
    assert os.stat(keyfile).st_mode & 0o777 == 0o600
    assert read(keyfile) == read(os.path.join(demo_store, "master.key"))
    assert sorted(tree(withkey)) == sorted(files)   # the key went beside it, not in it
    for data in tree(withkey).values():
        assert key not in data

    # Refusals change nothing and record nothing.
    snap = tree(plain)
    p = ctl("backup", demo_store, plain, check=False)
    assert p.returncode == 1 and b"exists" in p.stderr and tree(plain) == snap
    p = ctl("backup", demo_store, os.path.join(workdir, "b3"), "--with-key", keyfile,
            check=False)
    assert p.returncode == 1 and b"exists" in p.stderr
    assert not os.path.exists(os.path.join(workdir, "b3"))
    b4 = os.path.join(workdir, "b4")
    p = ctl("backup", demo_store, b4, "--with-key", os.path.join(b4, "key"), check=False)
    assert p.returncode == 1 and not os.path.exists(b4)
    assert ctl("backup", demo_store, check=False).returncode == 2

    # Each backup is on the record, before it was made (so in its own log).
    recs = [json.loads(line) for line in
            ctl("audit", demo_store, "--action", "backup", "--json").stdout.decode().splitlines()]
    assert [r["detail"] for r in recs] == [f"to {plain}",
                                           f"to {withkey}; the master key to {keyfile}"]
    assert all(r["decision"] == "allow" and r["uid"] == 0 for r in recs)
    restored = os.path.join(workdir, "r")
    ctl("restore", withkey, restored, "--key", keyfile)
    mine = [json.loads(line)["detail"] for line in
            ctl("audit", restored, "--action", "backup", "--json").stdout.decode().splitlines()]
    assert mine[-1] == recs[-1]["detail"]


def test_restore_refuses_an_existing_store(demo_store, workdir):
    dest, key = os.path.join(workdir, "b"), os.path.join(workdir, "b.key")
    ctl("backup", demo_store, dest, "--with-key", key)
    snap = tree(demo_store)
    p = ctl("restore", dest, demo_store, "--key", key, check=False)
    assert p.returncode == 1 and b"exists" in p.stderr and b"nothing was changed" in p.stderr
    assert tree(demo_store) == snap
    afile = os.path.join(workdir, "afile")
    write(afile, b"not a store\n")
    p = ctl("restore", dest, afile, "--key", key, check=False)
    assert p.returncode == 1 and read(afile) == b"not a store\n"
    # No key, or another store's key: refused before anything is made.
    target = os.path.join(workdir, "new")
    p = ctl("restore", dest, target, check=False)
    assert p.returncode == 1 and b"--key" in p.stderr and not os.path.exists(target)
    other = os.path.join(workdir, "other")
    ctl("init", other, "--policy", POLICY)
    p = ctl("restore", dest, target, "--key", os.path.join(other, "master.key"), check=False)
    assert p.returncode == 1 and b"not the master key of this backup" in p.stderr
    assert not os.path.exists(target)
    p = ctl("backup", "verify", dest, "--key", os.path.join(other, "master.key"), check=False)
    assert p.returncode == 1 and b"not the master key" in p.stderr
    assert leftovers(workdir) == []
    ctl("restore", dest, target, "--key", key)
    assert export(target) == export(demo_store)


def test_verify_finds_a_changed_backup(demo_store, workdir):
    dest, key = os.path.join(workdir, "b"), os.path.join(workdir, "b.key")
    ctl("backup", demo_store, dest, "--with-key", key)
    snap = tree(dest)
    assert ctl("backup", "verify", dest, "--key", key).stdout.startswith(b"OK: ")
    assert tree(dest) == snap, "verify wrote to the backup"

    db = os.path.join(dest, "custfs.db")
    data = bytearray(read(db))
    data[len(data) // 2] ^= 0x01
    write(db, bytes(data))
    for opts in ((), ("--key", key)):
        p = ctl("backup", "verify", dest, *opts, check=False)
        assert p.returncode == 1, opts
        assert b"custfs.db does not match its hash" in p.stderr, p.stderr
        assert p.stdout == b""
    target = os.path.join(workdir, "r")
    p = ctl("restore", dest, target, "--key", key, check=False)
    assert p.returncode == 1 and not os.path.exists(target)

    # The manifest rewritten to match: only the key can tell.
    manifest = os.path.join(dest, "BACKUP")
    text = read(manifest).decode()
    digest = hashlib.blake2b(bytes(data), digest_size=32).hexdigest()
    text = re.sub(r"(file \d+ )[0-9a-f]{64}( custfs\.db)", rf"\g<1>{digest}\2", text)
    write(manifest, text.encode())
    p = ctl("backup", "verify", dest, "--key", key, check=False)
    assert p.returncode == 1 and b"changed after the backup" in p.stderr, p.stderr

    # Back as it was: OK again. Then a file that is not the manifest's.
    data[len(data) // 2] ^= 0x01
    write(db, bytes(data))
    write(manifest, snap["BACKUP"])
    assert ctl("backup", "verify", dest, "--key", key).returncode == 0
    shutil.copy(key, os.path.join(dest, "master.key"))
    p = ctl("backup", "verify", dest, check=False)
    assert p.returncode == 1 and b"master.key is not in the manifest" in p.stderr
    os.unlink(os.path.join(dest, "master.key"))
    # A truncated audit log fails its hash; an unfinished backup has no manifest.
    os.truncate(os.path.join(dest, "audit.db"), 4096)
    p = ctl("backup", "verify", dest, check=False)
    assert p.returncode == 1 and b"audit.db is 4096 bytes" in p.stderr
    os.unlink(manifest)
    p = ctl("backup", "verify", dest, check=False)
    assert p.returncode == 1 and b"did not finish" in p.stderr
    assert leftovers(workdir) == []


def test_verify_finds_a_value_that_does_not_authenticate(demo_store, workdir):
    """Damage made in the store before the backup (a sealed value moved to
    another version's place): the files match their manifest and sqlite's
    check passes; only decrypting every version finds it."""
    db = sqlite3.connect(os.path.join(demo_store, "custfs.db"))
    db.execute("DROP TRIGGER versions_append_only_u")
    (fa, sa), (fb, _) = db.execute(
        "SELECT field_id, sealed FROM versions ORDER BY field_id LIMIT 2").fetchall()
    db.execute("UPDATE versions SET sealed=? WHERE field_id=?", (sa, fb))
    db.commit()
    db.close()
    dest, key = os.path.join(workdir, "b"), os.path.join(workdir, "b.key")
    ctl("backup", demo_store, dest, "--with-key", key)
    ok = ctl("backup", "verify", dest).stdout.decode()   # without the key: cannot tell
    assert ok.startswith("OK: ") and "NOT decrypted" in ok
    p = ctl("backup", "verify", dest, "--key", key, check=False)
    assert p.returncode == 1
    assert re.search(rb"customer #\d+ field '\w+' version 1 does not decrypt", p.stderr), p.stderr
    p = ctl("restore", dest, os.path.join(workdir, "r"), "--key", key, check=False)
    assert p.returncode == 1 and not os.path.exists(os.path.join(workdir, "r"))


def test_passphrase_store_backup(workdir, mount):
    pw, wrong = os.path.join(workdir, "pass"), os.path.join(workdir, "wrong")
    write(pw, b"correct horse battery staple\n")
    write(wrong, b"tr0ub4dor\n")
    store = os.path.join(workdir, "pstore")
    ctl("init", store, "--policy", POLICY, "--passphrase-file", pw)
    ctl("import", store, DEMO_CSV, "--passphrase-file", pw)
    m = mount(store, "-o", f"passfile={pw}")
    write(m.path("C1001", "feedback"), "新的反馈\n".encode())

    dest, keyfile = os.path.join(workdir, "b"), os.path.join(workdir, "b.key")
    p = ctl("backup", store, dest, check=False)   # the audit record needs the key
    assert p.returncode == 1 and b"--passphrase-file" in p.stderr and not os.path.exists(dest)
    out = ctl("backup", store, dest, "--passphrase-file", pw, "--with-key", keyfile)
    assert b"passphrase" in out.stdout and b"no key file was written" in out.stdout
    assert not os.path.exists(keyfile)
    # Its key is the store's wrapped key file, useless without the passphrase.
    assert read(os.path.join(dest, "master.key")) == read(os.path.join(store, "master.key"))
    for name, data in tree(dest).items():
        for n in NEEDLES + ["新的反馈"]:
            assert n.encode() not in data, (name, n)

    ok = ctl("backup", "verify", dest).stdout.decode()
    assert ok.startswith("OK: ") and "NOT decrypted" in ok and "--passphrase-file" in ok
    ok = ctl("backup", "verify", dest, "--passphrase-file", pw).stdout.decode()
    assert ok.startswith("OK: ") and "36 customers" in ok and "decrypt and authenticate" in ok
    p = ctl("backup", "verify", dest, "--passphrase-file", wrong, check=False)
    assert p.returncode == 1 and b"wrong passphrase" in p.stderr
    p = ctl("backup", "verify", dest, "--key", pw, check=False)
    assert p.returncode == 1 and b"not --key" in p.stderr

    restored = os.path.join(workdir, "restored")
    p = ctl("restore", dest, restored, check=False)
    assert p.returncode == 1 and not os.path.exists(restored)
    ctl("restore", dest, restored, "--passphrase-file", pw)
    assert read(os.path.join(restored, "master.key"))[:9] == b"CUSTFSK1W"
    assert export(restored, "--passphrase-file", pw) == export(store, "--passphrase-file", pw)
    assert "新的反馈" == values(restored, "--passphrase-file", pw)["C1001"]["feedback"]


@pytest.mark.skipif(not shutil.which("script"), reason="needs script(1) for a terminal")
def test_backup_shows_progress_on_a_terminal(demo_store, workdir):
    dest = os.path.join(workdir, "b")
    p = subprocess.run(["script", "-qec", f"{CUSTCTL} backup {demo_store} {dest}", "/dev/null"],
                       capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout
    assert re.search(rb"backup: custfs\.db +100% of \d+ pages", p.stdout), p.stdout
    # Not on a pipe: nothing but the summary.
    p = ctl("backup", demo_store, os.path.join(workdir, "b2"))
    assert b"%" not in p.stderr


def test_erased_customers_and_rotated_keys(office, people, workdir):
    """A backup keeps the store as it was: taken before an erase it holds the
    customer (README, erasing); taken after, the erased customer's fields are
    counted, not decrypted. A rotation makes a new key: each backup verifies
    with the key of its time only."""
    s, m = office
    head, admin, tech = (people[k] for k in ("ehead", "eadmin", "etech"))
    before, kb = os.path.join(workdir, "before"), os.path.join(workdir, "before.key")
    ctl("backup", s, before, "--with-key", kb)
    out = ok(head, m, "erase", "new", "C1003", "--reason", "the customer asked (PIPL Art. 47)")
    eid = re.search(r"#(\d+)", out).group(1)
    ok(admin, m, "erase", "approve", eid)
    ok(tech, m, "erase", "implement", eid)
    after, ka = os.path.join(workdir, "after"), os.path.join(workdir, "after.key")
    ctl("backup", s, after, "--with-key", ka)
    out = ctl("backup", "verify", after, "--key", ka).stdout.decode()
    assert out.startswith("OK: ") and "35 customers" in out, out
    assert re.search(r"; \d+ fields of erased customers", out), out
    ctl("restore", after, os.path.join(workdir, "r-after"), "--key", ka)
    assert "C1003" not in values(os.path.join(workdir, "r-after"))
    ctl("restore", before, os.path.join(workdir, "r-before"), "--key", kb)
    assert "C1003" in values(os.path.join(workdir, "r-before"))

    ctl("key", "rotate", s)
    rotated, kr = os.path.join(workdir, "rotated"), os.path.join(workdir, "rotated.key")
    ctl("backup", s, rotated, "--with-key", kr)
    assert read(kr) != read(ka)
    assert ctl("backup", "verify", rotated, "--key", kr).returncode == 0
    p = ctl("backup", "verify", rotated, "--key", ka, check=False)
    assert p.returncode == 1 and b"not the master key of this backup" in p.stderr
    assert ctl("backup", "verify", after, "--key", ka).returncode == 0
    # A rotation caught between its commit and its rename: no backup then.
    os.link(os.path.join(s, "master.key"), os.path.join(s, "master.key.next"))
    p = ctl("backup", s, os.path.join(workdir, "mid"), check=False)
    os.unlink(os.path.join(s, "master.key.next"))
    assert p.returncode == 1 and b"rotation is under way" in p.stderr
    assert not os.path.exists(os.path.join(workdir, "mid"))


def test_pruned_versions_and_a_missing_one(demo_store, mount, workdir):
    """A prune (retention) leaves a field's newest versions without a gap:
    that verifies; a version missing between two kept ones does not."""
    m = mount(demo_store)
    for n in range(5):
        write(m.path("C1001", "phone"), f"1390000000{n}\n".encode())
    m.stop()
    path = os.path.join(demo_store, "custfs.db")

    def delete(where):
        db = sqlite3.connect(path)
        db.execute("DROP TRIGGER versions_append_only_d")
        fid = db.execute("SELECT field_id FROM versions GROUP BY field_id "
                         "HAVING count(*) > 1").fetchone()[0]
        db.execute(f"DELETE FROM versions WHERE field_id = ? AND {where}", (fid,))
        db.execute("CREATE TRIGGER versions_append_only_d BEFORE DELETE ON versions "
                   "BEGIN SELECT RAISE(ABORT, 'versions are append-only'); END")
        db.commit()
        db.close()

    delete("version <= 3")   # as retention_prune does: the oldest ones
    dest, key = os.path.join(workdir, "b"), os.path.join(workdir, "b.key")
    ctl("backup", demo_store, dest, "--with-key", key)
    out = ctl("backup", "verify", dest, "--key", key).stdout.decode()
    assert out.startswith("OK: ") and "707 versions" in out, out   # 705 + 5 - 3
    delete("version = 5")    # one between two kept ones: not a prune
    dest2, key2 = os.path.join(workdir, "b2"), os.path.join(workdir, "b2.key")
    ctl("backup", demo_store, dest2, "--with-key", key2)
    p = ctl("backup", "verify", dest2, "--key", key2, check=False)
    assert p.returncode == 1 and b"version 5 is missing" in p.stderr, p.stderr
