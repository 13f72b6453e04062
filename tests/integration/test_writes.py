"""Issue 11: nothing lost, nothing silent. A write that cannot be stored
stores nothing and says so where the writer looks; names in a customer
directory are fields or known scratch; import is exact and idempotent.

Clauses: R3.4 (changes are new versions; nothing is lost), R3.6 (information
entered promptly and correctly), R4.2 (a refused person is told why)."""
import errno
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import Held, Writer, ctl, versions

MIB = 1024 * 1024


def read(path):
    with open(path, "rb") as f:
        return f.read()


def why(m):
    return read(m.path(".custfs", "why")).decode()


def test_a_value_over_the_limit_stores_nothing(demo_store, mount):
    """R3.4: 2 MiB written to a field: the write fails with EFBIG, close fails
    too, and no cut-off 1 MiB version replaces the good value."""
    m = mount(demo_store)
    f = m.path("C1002", "requirements")
    before, n = read(f), versions(demo_store, "C1002", "requirements")
    p = subprocess.run(f"head -c {2 * MIB} /dev/zero | tr '\\0' y > {f}", shell=True,
                       capture_output=True)
    assert p.returncode != 0 and b"too large" in p.stderr.lower(), p
    assert read(f) == before
    assert versions(demo_store, "C1002", "requirements") == n
    assert "larger than 1 MiB" in why(m) and "C1002/requirements" in why(m)

    # Written by a program that ignores write()'s error: close() still fails.
    fd = os.open(f, os.O_WRONLY | os.O_TRUNC)
    chunk = b"y" * 65536
    failed = 0
    for _ in range(32):
        try:
            os.write(fd, chunk)
        except OSError as e:
            assert e.errno == errno.EFBIG
            failed += 1
    assert failed > 0
    with pytest.raises(OSError) as e:
        os.fsync(fd)
    assert e.value.errno == errno.EFBIG
    with pytest.raises(OSError) as e:
        os.close(fd)
    assert e.value.errno == errno.EFBIG
    assert read(f) == before
    assert versions(demo_store, "C1002", "requirements") == n


@pytest.mark.parametrize("newline", [True, False])
def test_a_value_of_exactly_the_limit_reads_back(demo_store, mount, newline):
    """A value of exactly 1 MiB is stored and every reader can open it (its
    file view is 1 MiB + the newline)."""
    m = mount(demo_store)
    f = m.path("C1002", "requirements")
    value = b"y" * MIB
    with open(f, "wb") as out:
        out.write(value + (b"\n" if newline else b""))
    assert os.stat(f).st_size == MIB + 1
    assert read(f) == value + b"\n"
    assert ctl("history", demo_store, "C1002", "requirements", "--show",
               str(versions(demo_store, "C1002", "requirements")[-1])).stdout == value + b"\n"


def test_once_stored_a_stat_shows_the_stored_size(demo_store, mount):
    """R3.4: once close() has stored a value, stat shows what is stored (the
    value and the view's newline), even while the file is still open through
    another descriptor, as it is while the kernel's RELEASE is on its way."""
    m = mount(demo_store)
    f = m.path("C1002", "requirements")
    fd = os.open(f, os.O_WRONLY | os.O_TRUNC)
    os.write(fd, b"y" * MIB)
    held = os.dup(fd)
    try:
        os.close(fd)  # the flush that stores the value; `held` keeps it open
        assert os.stat(f).st_size == MIB + 1
        assert read(f) == b"y" * MIB + b"\n"
    finally:
        os.close(held)
    assert os.stat(f).st_size == MIB + 1


def test_fstat_shows_the_writers_pending_size(demo_store, mount):
    """fstat on a field open for writing reports what its writer has written
    (fsx and tools that stat their output rely on it), not the stored size."""
    m = mount(demo_store)
    f = m.path("C1002", "requirements")
    stored = os.stat(f).st_size
    fd = os.open(f, os.O_RDWR | os.O_TRUNC)
    try:
        assert os.fstat(fd).st_size == 0
        os.write(fd, b"x" * 2999 + b"\n")
        assert os.fstat(fd).st_size == 3000
        assert os.lseek(fd, 0, os.SEEK_END) == 3000
        os.ftruncate(fd, 10)
        assert os.fstat(fd).st_size == 10
    finally:
        os.close(fd)
    assert os.stat(f).st_size == 11 != stored  # 10 bytes stored + the view's newline


def test_an_invalid_value_fails_where_the_writer_looks(demo_store, mount):
    """R4.2: bash's `echo abc > order_qty` exits non-zero with an error (the
    write that ends the value fails), the value is unchanged and .custfs/why
    names the field and the rule."""
    m = mount(demo_store)
    f = m.path("C1001", "order_qty")
    before, n = read(f), versions(demo_store, "C1001", "order_qty")
    p = subprocess.run(["bash", "-c", f"echo abc > {f}"], capture_output=True)
    assert p.returncode != 0, p
    assert b"Invalid argument" in p.stderr
    assert read(f) == before
    assert versions(demo_store, "C1001", "order_qty") == n
    w = why(m)
    assert "C1001/order_qty" in w and "expected a whole number" in w and "Nothing was stored" in w
    assert "abc" not in m.log_text()  # the refused value never reaches the log

    # The same through a program that writes without a newline: close says it.
    fd = os.open(f, os.O_WRONLY | os.O_TRUNC)
    os.write(fd, b"12x")
    with pytest.raises(OSError) as e:
        os.close(fd)
    assert e.value.errno == errno.EINVAL
    assert read(f) == before

    # A valid value written after all that is stored as usual.
    subprocess.run(["bash", "-c", f"echo 250 > {f}"], check=True)
    assert read(f) == b"250\n"
    assert versions(demo_store, "C1001", "order_qty") == n + [n[-1] + 1]

    # The refusals are on the record, as refused writes (the value never is).
    out = ctl("audit", demo_store, "--json").stdout.decode()
    refused = [json.loads(x) for x in out.splitlines() if '"write-refused"' in x]
    assert refused and all(r["decision"] == "deny" and r["rule"] == "value" for r in refused)
    assert all("abc" not in json.dumps(r) for r in refused)


def test_a_mistyped_field_is_refused_with_the_nearest_field(demo_store, mount):
    """R3.6: `echo x > C1001/adress` fails (it would look saved and vanish at
    unmount); .custfs/why suggests 'address'. Renames to such names fail too,
    and lookups of them (editors' probes) stay a plain ENOENT."""
    m = mount(demo_store)
    d = m.path("C1001")
    p = subprocess.run(["bash", "-c", f"echo x > {d}/adress"], capture_output=True)
    assert p.returncode != 0 and b"Operation not permitted" in p.stderr, p
    assert "adress" not in os.listdir(d)
    assert "did you mean 'address'?" in why(m)
    with pytest.raises(OSError) as e:
        os.open(os.path.join(d, "notes.txt"), os.O_CREAT | os.O_WRONLY, 0o600)
    assert e.value.errno == errno.EPERM
    assert "no field 'notes.txt'" in why(m)
    # A scratch file may not be renamed to a name that is neither.
    tmp = os.path.join(d, "requirements~")
    with open(tmp, "w") as f:
        f.write("draft\n")
    with pytest.raises(OSError) as e:
        os.rename(tmp, os.path.join(d, "requirments"))
    assert e.value.errno == errno.EPERM
    assert "did you mean 'requirements'?" in why(m)
    # Emacs probes for .dir-locals.el and the like: a clean ENOENT.
    with pytest.raises(FileNotFoundError):
        os.stat(os.path.join(d, ".dir-locals.el"))


def test_the_tools_people_use_still_save(demo_store, mount, workdir):
    """Each tool's own scratch names, as they write them (sed -i, perl -i,
    cp --backup, Python's tempfile with os.replace, vim with backup and swap):
    the value is stored and no scratch file is left but the backups."""
    m = mount(demo_store)
    d = m.path("C1002")
    f = os.path.join(d, "feedback")
    subprocess.run(["sed", "-i", "s/$/ (sed)/", f], check=True)
    subprocess.run(["perl", "-pi", "-e", "s/\\(sed\\)/(perl)/", f], check=True)
    assert read(f).endswith(b"(perl)\n")
    subprocess.run(["perl", "-pi.bak", "-e", "s/\\(perl\\)/(perl.bak)/", f], check=True)
    assert read(f).endswith(b"(perl.bak)\n")
    assert read(os.path.join(d, "feedback.bak")).endswith(b"(perl)\n")
    src = os.path.join(workdir, "new-feedback")
    with open(src, "wb") as out:
        out.write(b"copied with a backup\n")
    # (cp --backup renames the field away, then creates it with O_EXCL: the
    # field stays where it is (R3.4), so that create fails with EEXIST.)
    subprocess.run(["cp", src, f], check=True)
    assert read(f) == b"copied with a backup\n"
    script = ("import os, sys, tempfile\n"
              "d, f = sys.argv[1], sys.argv[2]\n"
              "fd, tmp = tempfile.mkstemp(dir=d)\n"
              "os.write(fd, b'via tempfile\\n'); os.close(fd)\n"
              "os.replace(tmp, f)\n")
    subprocess.run(["/usr/bin/python3", "-c", script, d, f], check=True)
    assert read(f) == b"via tempfile\n"
    env = dict(os.environ, HOME=workdir)
    subprocess.run(["vim", "-es", "-u", "NONE", "-c", "set backup swapfile", "-c",
                    "s/tempfile/vim/", "-c", "wq", f], check=True, env=env,
                   stdin=subprocess.DEVNULL, timeout=30, cwd=workdir)
    assert read(f) == b"via vim\n"
    left = sorted(x for x in os.listdir(d) if x.startswith(("feedback", ".feedback", "tmp")))
    assert left == ["feedback", "feedback.bak", "feedback~"], left
    # Each version the tools stored, by a write or a rename over the field,
    # is on the record (R5.1).
    m.stop()
    recs = [json.loads(line) for line in ctl("audit", demo_store, "--action", "version",
                                             "--customer", "C1002", "--json")
            .stdout.decode().splitlines()]
    recorded = sorted(int(r["detail"].split()[1]) for r in recs
                      if r["field"] == "feedback" and r["decision"] == "allow")
    stored = sorted(versions(demo_store, "C1002", "feedback"))
    assert recorded == stored[1:], (recorded, stored)   # version 1: the import


def test_a_write_the_store_could_not_take_is_not_stored_later(demo_store, mount):
    """Review finding: a close that failed (the store busy) left the value to
    be stored at the release anyway, after the writer was told it failed.
    Now the writer is told, and nothing is stored later (R3.4, R4.2)."""
    m = mount(demo_store)
    f = m.path("C1003", "order_qty")
    before = read(f)
    m.expected.append("write failed")
    w = Writer(None, f, "99")
    with Held.store(demo_store):   # another writer holds the store
        w.go()
        assert w.result() == ["error", str(errno.EBUSY)]
    assert read(f) == before
    assert "nothing was stored: write it again" in why(m)
    m.stop()
    assert versions(demo_store, "C1003", "order_qty") == [1]


def test_a_rename_over_a_field_the_store_could_not_take_says_why(demo_store, mount):
    """A rename of a scratch file over a field (sed -i, os.replace) that the
    store could not take failed with EBUSY alone: .custfs/why said nothing."""
    m = mount(demo_store)
    f = m.path("C1003", "order_qty")
    before = read(f)
    m.expected.append("write failed")
    fd, tmp = tempfile.mkstemp(dir=m.path("C1003"))   # Python's own scratch name
    os.write(fd, b"98\n")
    os.close(fd)
    with Held.store(demo_store), pytest.raises(OSError) as e:
        os.replace(tmp, f)
    assert e.value.errno == errno.EBUSY
    assert read(f) == before
    assert "nothing was stored: write it again" in why(m)
    m.stop()
    assert versions(demo_store, "C1003", "order_qty") == [1]


def _import(store, workdir, text, check=True):
    path = os.path.join(workdir, "in.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return ctl("import", store, path, check=check)


def test_import_is_exact_and_idempotent(demo_store, workdir):
    """R3.6: two rows for one customer are an error naming both lines; the
    same file again adds no version; the summary counts new, changed and
    unchanged values."""
    before = ctl("export", demo_store).stdout
    p = _import(demo_store, workdir, "id,company,phone\nX1,Acme,13812345678\nX2,B,1390000\n"
                "X1,Acme Ltd,13812345678\n", check=False)
    err = p.stderr.decode()
    assert p.returncode == 1 and ":4: column 1: customer id 'X1' is also on line 2" in err, err
    assert "nothing was imported" in err
    assert ctl("export", demo_store).stdout == before

    text = "id,company,phone,order_qty\nX1,Acme,13812345678,\nC1001,杭州明前茶业有限公司,13812345678,999\n"
    out = _import(demo_store, workdir, text).stdout.decode()
    # X1: 2 new values; C1001: company and phone as stored, order_qty changed
    assert "2 records (1 new customers): 2 values new, 1 changed, 2 unchanged" in out, out
    n = {f: versions(demo_store, "C1001", f) for f in ("company", "phone", "order_qty")}
    again = _import(demo_store, workdir, text).stdout.decode()
    assert "0 values new, 0 changed, 5 unchanged" in again, again
    assert {f: versions(demo_store, "C1001", f) for f in n} == n
    # The record says what was done.
    audit = [json.loads(x) for x in ctl("audit", demo_store, "--json").stdout.decode().splitlines()]
    imports = [a for a in audit if a["action"] == "import"]
    assert imports[-1]["detail"].startswith("2 records (0 new customers): 0 values new")


def test_import_without_its_audit_record_imports_nothing(demo_store, workdir):
    """R5.1: the import's record is written before its commit; when it cannot
    be written, nothing is imported and custctl says so."""
    audit_db = os.path.join(demo_store, "audit.db")
    before = ctl("export", demo_store).stdout
    if not shutil.which("chattr") or \
            subprocess.run(["chattr", "+i", audit_db], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not supported here")
    try:
        p = _import(demo_store, workdir, "id,company\nX9,New Co\n", check=False)
        assert p.returncode == 1, p
        assert b"nothing" in p.stderr and b"audit log" in p.stderr, p.stderr
    finally:
        subprocess.run(["chattr", "-i", audit_db], check=True)
    assert ctl("export", demo_store).stdout == before


def test_roots_sensitive_reads_are_break_glass_in_the_report(demo_store, mount):
    """R3.5 (issue 11): root needs no checkout, so its reads of sensitive
    records are recorded as break-glass and listed in the admin report."""
    m = mount(demo_store)
    read(m.path("C1001", "credit_limit"))      # finance: sensitive
    read(m.path("C1001", "phone"))             # basic: not
    m.stop()
    audit = [json.loads(x) for x in ctl("audit", demo_store, "--json").stdout.decode().splitlines()]
    glass = [a for a in audit if a["rule"] == "break-glass"]
    assert [(a["customer"], a["field"]) for a in glass] == [("C1001", "credit_limit")]
    phone = [a for a in audit if a["field"] == "phone" and a["action"].startswith("open")]
    assert phone and all(a["rule"] == "superuser" for a in phone)
    report = ctl("audit", "report", demo_store).stdout.decode()
    glass = report.split("break-glass uses:", 1)[1].split("\n\n", 1)[0]
    assert "reads of sensitive records without a checkout (R3.5)" in glass
    assert "C1001/credit_limit" in glass and "C1001/phone" not in glass
