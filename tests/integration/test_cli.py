"""The command lines as Debian's tools behave (issue 14, R1.3: staff of every
level use custfs): help anywhere, options before or after the verb, --json on
every verb, the README's exit codes for custfs and custctl, FUSE's mount
conventions, one daemon per store and view."""
import json
import os
import subprocess

import pytest

from conftest import CUSTCTL, CUSTFS, POLICY, Mount, as_user, ctl, staff_run as run


@pytest.fixture(scope="module")
def staff(make_user):
    return {k: make_user(k) for k in ("admin", "tech", "head", "clerk")}


@pytest.fixture
def office(demo_store, staff, mount):
    s = demo_store
    add = lambda who, *a: ctl("employee", "add", s, staff[who], "--name", who, *a)
    add("admin", "--dept", "admin", "--type", "formal", "--head", "--group", "leader")
    add("tech", "--dept", "tech", "--type", "formal")
    add("head", "--dept", "sales", "--type", "formal", "--head")
    add("clerk", "--dept", "sales", "--type", "formal", "--post", "clerk")
    return s, mount(s)


PERSON_VERBS = ("whoami", "explain", "app", "appeal", "report", "employee", "grant", "policy",
                "checkout", "checkouts", "return", "with-checkout", "inbox", "erase", "prune",
                "audit")
ROOT_VERBS = ("init", "import", "export", "key", "store", "history", "backup", "restore")


def outside(user, *args):
    """custctl as USER from / (no mount anywhere near)."""
    p = subprocess.run(["runuser", "-u", user, "--", CUSTCTL, *args], cwd="/",
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_help_anywhere_and_for_every_verb(staff):
    """`custctl help VERB`, `VERB --help` and `-h` anywhere on the line work
    outside any mount, print on standard output and exit 0."""
    u = staff["clerk"]
    rc, out, err = outside(u, "help")
    assert rc == 0 and "usage: custctl" in out and not err
    for verb in PERSON_VERBS + ROOT_VERBS:
        for args in (("help", verb), (verb, "--help"), (verb, "x", "-h")):
            rc, out, err = outside(u, *args)
            assert rc == 0, f"{args}: {rc} {err}"
            assert f"custctl {verb}" in out, f"{args}: {out}"
            assert "no custfs mount" not in out + err
    # with-checkout: what follows "--" is the command's, --help included.
    rc, out, err = outside(u, "checkout", "approve", "3", "--help")
    assert rc == 0 and "checkout approve ID" in out
    rc, out, err = outside(u, "help", "nonsense")
    assert rc == 2 and "unknown command" in err
    rc, out, err = outside(u, "help", "app", "extra")
    assert rc == 2


def test_global_options_before_or_after_the_verb(office, staff):
    s, m = office
    u = staff["clerk"]
    after = outside(u, "whoami", "--mount", m.mnt)
    before = outside(u, "--mount", m.mnt, "whoami")
    assert after[0] == before[0] == 0
    assert after[1] == before[1] and u in before[1]
    rc, out, _ = outside(u, "--json", "--mount", m.mnt, "whoami")
    assert rc == 0 and json.loads(out)["login"] == u
    rc, _, err = outside(u, "whoami")
    assert rc == 3 and "no custfs mount" in err


def test_json_is_valid_on_every_verb(office, staff, workdir):
    """--json: one JSON object a line, for every verb that prints; verbs with
    no JSON of their own give {command, exit, ok, output, errors}."""
    s, m = office
    head, clerk, admin = staff["head"], staff["clerk"], staff["admin"]

    def lines(text):
        rows = [json.loads(l) for l in text.splitlines() if l.strip()]
        assert rows, "no JSON printed"
        return rows

    person = [
        (clerk, "whoami"), (clerk, "explain", "C1001/phone"), (clerk, "checkouts"),
        (clerk, "inbox"), (clerk, "app", "list"), (clerk, "appeal", "list"),
        (clerk, "report", "list"), (admin, "employee", "list"), (admin, "grant", "list"),
        (admin, "policy", "proposals"), (admin, "policy", "history"), (admin, "erase", "list"),
        (admin, "prune", "list"), (admin, "audit", "list"), (admin, "audit", "sample", "3"),
        (admin, "audit", "pubkey"), (admin, "audit", "report"), (admin, "audit", "verify"),
        (admin, "checkout", "approve", "999"),
        (head, "app", "new", clerk, "sales-finance", "--reason", "cover"),
        (clerk, "report", "new", "a loose cable"),
        (clerk, "return", "999"),                      # refused: still JSON
    ]
    for who, *args in person:
        rc, out, err = run(who, m, *args, "--json")
        rows = [json.loads(l) for l in out.splitlines()]   # a list may be empty
        assert rows or args[-1] in ("list", "checkouts", "inbox", "proposals", "history") \
            or args[:2] == ["audit", "sample"], \
            f"custctl {' '.join(args)} --json printed nothing ({rc}): {err}"
        if rows and "exit" in rows[0]:
            assert rows[0]["exit"] == rc and rows[0]["ok"] == (rc == 0)
            assert rows[0]["command"] == " ".join(args[:2]) or rows[0]["command"] == args[0]
    # audit report and verify print their own JSON (custctl(1)), not the envelope.
    rc, out, _ = run(admin, m, "audit", "report", "--json")
    rep = json.loads(out)
    assert rc == 0 and rep["report"] == "custfs-audit-report" and "exit" not in rep
    rc, out, _ = run(admin, m, "audit", "verify", "--json")
    ver = json.loads(out)
    assert rc == 0 and ver["ok"] is True and ver["records"] > 0 and "exit" not in ver
    assert ver["verdict"].endswith("hash chain intact") or "hash chain intact" in ver["verdict"]
    rc, out, _ = run(clerk, m, "return", "999", "--json")
    row = json.loads(out)
    assert rc == 1 and row["ok"] is False and row["errors"], row
    # Root on the store files.
    fresh = os.path.join(workdir, "fresh")
    for args in (("init", fresh, "--policy", POLICY), ("store", "stats", s),
                 ("history", s, "C1001", "phone"), ("export", s, "-o",
                                                   os.path.join(workdir, "x.csv"))):
        p = ctl(*args, "--json")
        rows = lines(p.stdout.decode())
        if "exit" in rows[0]:
            assert rows[0]["exit"] == 0 and rows[0]["ok"] is True
    # The wrapper never names a path or a customer as the command.
    p = ctl("--json", "init", fresh, "--policy", POLICY, check=False)
    row = json.loads(p.stdout)
    assert p.returncode == 1 and row["command"] == "init" and row["errors"]


def test_custctl_exit_codes_as_the_readme_says(office, staff):
    s, m = office
    clerk = staff["clerk"]
    table = [
        ((clerk, "whoami"), 0),
        ((clerk, "checkouts", "--bogus"), 2),
        ((clerk, "frobnicate"), 2),
        ((clerk, "employee", "leave", staff["head"]), 1),       # not administration
        ((clerk, "app", "approve", "12345"), 1),
    ]
    for (who, *args), code in table:
        rc, out, err = run(who, m, *args)
        assert rc == code, f"custctl {args}: {rc}, README says {code}: {err}"
    assert outside(clerk, "checkouts")[0] == 3
    assert ctl("import", s, "/nonexistent.csv", check=False).returncode == 1
    assert ctl("init", check=False).returncode == 2
    assert ctl(check=False).returncode == 2


def test_custfs_exit_codes_and_mount_conventions(demo_store, workdir, mount):
    s = demo_store

    def custfs(*args):
        return subprocess.run([CUSTFS, *args], capture_output=True, timeout=60)

    mnt = os.path.join(workdir, "mp")
    os.mkdir(mnt)
    assert custfs("-o", "no_such_option", s, mnt).returncode == 2
    assert custfs(os.path.join(workdir, "no-store"), mnt).returncode == 1
    assert custfs(s, os.path.join(workdir, "no-dir")).returncode == 2
    # Not over files already there, unless -o nonempty.
    busy = os.path.join(workdir, "busy")
    os.mkdir(busy)
    open(os.path.join(busy, "file"), "w").close()
    p = custfs(s, busy)
    assert p.returncode == 2 and b"not empty" in p.stderr
    m = Mount(s, busy, "-o", "nonempty").start()
    m.stop()
    # The user's fsname and subtype; a clean stop exits 0 (Mount.stop checks).
    m = mount(s, "-o", "fsname=tea-records,subtype=teafs")
    with open("/proc/self/mounts") as f:
        mine = [l.split() for l in f if l.split()[1] == m.mnt]
    assert mine and mine[0][0] == "tea-records" and mine[0][2] == "fuse.teafs"
    # Never over another mount; never a second daemon on the same store and view.
    p = custfs(s, m.mnt)
    assert p.returncode == 2 and b"already a mount point" in p.stderr
    p = custfs(s, mnt)
    assert p.returncode == 1 and m.mnt.encode() in p.stderr and b"already served" in p.stderr
    assert not os.path.ismount(mnt)
    # Another view of the same store is another daemon's to serve.
    v = mount(s, "-o", "view=production")
    assert os.path.ismount(v.mnt)
    # SIGTERM is a clean stop too.
    t = Mount(s, mnt, "-o", "view=sales").start()
    t.proc.terminate()
    assert t.proc.wait(timeout=30) == 0
    t.proc = None
    assert not os.path.ismount(mnt)


def test_a_planted_ctl_file_gets_no_request(office, staff, workdir, make_user):
    """custctl looks for .custfs/ctl from its directory upwards. Anyone may
    make a .custfs/ctl in a shared directory (/tmp): a staff member running
    custctl below it wrote the request there, for its maker to read (the
    customer and field asked about, reasons, policy files; R1.1), and read
    back whatever answer that person wrote. Only a custfs mount of root's
    daemon gets a request, found, named with --mount or CUSTFS_MOUNT."""
    s, m = office
    clerk = staff["clerk"]
    stranger = make_user("plant")  # not on the register
    shared = os.path.join(workdir, "shared")
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    planted = os.path.join(shared, ".custfs", "ctl")
    p = as_user(stranger, "sh", "-c", f"mkdir -m 777 {shared}/.custfs && touch {planted} && "
                f"chmod 666 {planted}")
    assert p.returncode == 0, p.stderr
    mine = os.path.join(shared, "clerk")
    assert as_user(clerk, "mkdir", mine).returncode == 0
    for how, env in (("found", {}), ("--mount", None), ("CUSTFS_MOUNT", {"CUSTFS_MOUNT": shared})):
        args = ["explain", "C1001/credit_limit"] + (["--mount", shared] if env is None else [])
        p = subprocess.run(["runuser", "-u", clerk, "--", "env", *(f"{k}={v}" for k, v in
                                                                  (env or {}).items()),
                            CUSTCTL, *args], cwd=mine, capture_output=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        assert p.returncode == 3, (how, p.returncode, p.stderr)
        with open(planted, "rb") as f:
            assert f.read() == b"", f"{how}: the request went to the planted file"
    # The real mount still answers, from inside it and named.
    assert run(clerk, m, "whoami")[0] == 0
    p = subprocess.run(["runuser", "-u", clerk, "--", CUSTCTL, "--mount", m.mnt, "whoami"],
                       cwd=mine, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr


def test_an_id_echoed_in_an_error_is_inert(office, staff):
    """A typed id that is not one (escape sequences in it) comes back in the
    error as \\x1b text, never as a live control sequence (R1.3; text.h)."""
    s, m = office
    bad = "\x1b[2J\x1b]0;owned\x07"
    for who, args in (("admin", ("policy", "show", bad)), ("admin", ("app", "show", bad)),
                      ("admin", ("employee", "show", bad)), ("clerk", ("return", bad)),
                      ("admin", ("prune", "show", bad)), ("head", ("erase", "show", bad))):
        p = subprocess.run(["runuser", "-u", staff[who], "--", CUSTCTL, *args], cwd=m.mnt,
                           capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        said = p.stdout + p.stderr
        assert p.returncode != 0, (args, said)
        assert b"\x1b" not in said and b"\x07" not in said, (args, said)
