"""A person's own mount, -o person=LOGIN (issue 15): the kernel lets that
person alone in (root included out), so its caches of names and attributes
hold nothing anyone else could read, and custfs lets it keep them
(entry_timeout, default 1 s). Every change to that person's rights drops
them before the command that made it returns; a value written through the
mount drops that file's attributes (R1.1, R3.5, R4.3)."""
import json
import os
import subprocess

import pytest

from conftest import CUSTCTL, CUSTFS, as_user, ctl


@pytest.fixture(scope="module")
def people(make_user):
    return {k: make_user(k) for k in ("pclerk", "pother")}


@pytest.fixture
def shop(demo_store, people):
    s = demo_store
    for who in people.values():
        ctl("employee", "add", s, who, "--name", who, "--dept", "sales", "--type", "formal")
        ctl("grant", "add", s, who, "sales")
    return s


def grant_id(store, login):
    rows = [json.loads(l) for l in ctl("grant", "list", store, login, "--json").stdout.decode()
            .splitlines()]
    return next(r["id"] for r in rows if r["status"] == "active")


def stat(user, path, cached="default"):
    """(size, mode) as USER's stat --cached=CACHED sees PATH, or the error."""
    r = as_user(user, "stat", f"--cached={cached}", "-c", "%s %A", path)
    return r.stdout.decode().split() if r.returncode == 0 else r.stderr.decode().strip()


def test_only_the_person_gets_in(shop, people, mount):
    m = mount(shop, "-o", f"person={people['pclerk']}")
    with open("/proc/self/mounts") as f:
        line = next(l for l in f if l.split()[1] == m.mnt)
    uid = int(subprocess.check_output(["id", "-u", people["pclerk"]]))
    assert f"user_id={uid}," in line and "allow_other" not in line
    r = as_user(people["pclerk"], "cat", m.path("C1001", "phone"))
    assert r.returncode == 0 and r.stdout == b"13812345678\n"
    r = as_user(people["pother"], "cat", m.path("C1001", "phone"))
    assert r.returncode != 0 and b"Permission denied" in r.stderr
    with pytest.raises(PermissionError):
        os.stat(m.path("C1001"))
    # custctl, run by the person inside their own mount, talks to it.
    r = as_user(people["pclerk"], "sh", "-c", f"cd {m.mnt} && {CUSTCTL} whoami")
    assert r.returncode == 0 and people["pclerk"] in r.stdout.decode(), r.stderr


def test_a_rights_change_drops_the_cached_names_at_once(shop, people, mount):
    clerk = people["pclerk"]
    m = mount(shop, "-o", f"person={clerk},entry_timeout=60")
    phone, cust = m.path("C1001", "phone"), m.path("C1001")
    assert stat(clerk, phone)[0] == "12" and stat(clerk, cust, "always")[1].startswith("d")
    out = ctl("grant", "revoke", shop, str(grant_id(shop, clerk))).stdout.decode()
    assert "revoked" in out
    # Cached for 60 s, yet gone before revoke returned, even from the cache.
    for cached in ("always", "default", "never"):
        for path in (phone, cust):
            assert "No such file" in stat(clerk, path, cached), (path, cached)
    ctl("grant", "add", shop, clerk, "sales")
    assert stat(clerk, phone)[0] == "12"


def test_a_value_written_through_the_mount_is_seen_at_once(shop, people, mount):
    clerk = people["pclerk"]
    m = mount(shop, "-o", f"person={clerk},entry_timeout=60")
    m.expected.append("refused")
    phone = m.path("C1001", "phone")
    assert stat(clerk, phone)[0] == "12"
    r = as_user(clerk, "sh", "-c", f"printf '13900001111222\\n' > {phone}")
    assert r.returncode == 0, r.stderr
    assert stat(clerk, phone)[0] == "15"
    # A refused value leaves the stored one, and stat says so at once.
    r = as_user(clerk, "python3", "-c", f"import os; f = os.open({phone!r}, os.O_WRONLY | "
                f"os.O_TRUNC); os.write(f, b'not a phone number at all\\n'); os.close(f)")
    assert r.returncode != 0
    assert stat(clerk, phone)[0] == "15"   # (--cached=always may show what was written)
    assert as_user(clerk, "cat", phone).stdout == b"13900001111222\n"


@pytest.mark.parametrize("opts,why", [
    ("person=nosuchlogin", b"no such login"),
    ("person=root", b"no such login"),
    ("person={clerk},allow_other", b"allow_other"),
    ("person={clerk},cached_names=-1", b"cached_names"),
    ("person={clerk},cached_names=4194305", b"cached_names"),
])
def test_a_bad_person_option_mounts_nothing(shop, people, workdir, opts, why):
    mnt = os.path.join(workdir, "pmnt")
    os.makedirs(mnt)
    p = subprocess.run([CUSTFS, "-f", "-o", opts.format(clerk=people["pclerk"]), shop, mnt],
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 2 and why in p.stderr, p.stderr
    assert not os.path.ismount(mnt)


def test_a_rights_change_drops_a_held_field_name_and_its_attributes(shop, people, mount):
    """A descriptor (O_PATH sends no OPEN, so custfs has no handle of it) and a
    working directory keep a field's dentry past its customer's name: stat
    through them must not answer from the cache once the right is gone."""
    clerk = people["pclerk"]
    m = mount(shop, "-o", f"person={clerk},entry_timeout=60")
    script = (
        "import os, sys\n"
        f"os.chdir({m.path('C1001')!r})\n"
        "fd = os.open('phone', os.O_PATH)\n"
        "print(os.fstat(fd).st_size, os.stat('phone').st_size, flush=True)\n"
        "sys.stdin.readline()\n"
        "def tr(f):\n"
        "    try:\n"
        "        return str(f())\n"
        "    except OSError as e:\n"
        "        return e.strerror\n"
        "print(tr(lambda: os.fstat(fd).st_size), tr(lambda: os.stat('phone').st_size),"
        " flush=True)\n"
        # stat --cached=always (AT_STATX_DONT_SYNC) answers from a cached
        # dentry without asking; from the held working directory, the name
        # must be gone.
        "import subprocess\n"
        "r = subprocess.run(['stat', '--cached=always', '-c', '%s', 'phone'],"
        " capture_output=True, text=True)\n"
        "print(r.returncode, r.stdout.strip() or '-', flush=True)\n")
    p = subprocess.Popen(["runuser", "-u", clerk, "--", "/usr/bin/python3", "-c", script],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().split() == ["12", "12"]
        ctl("grant", "revoke", shop, str(grant_id(shop, clerk)))
        p.stdin.write("\n")
        p.stdin.flush()
        after = p.stdout.readline().strip()
        assert "12" not in after and "No such file" in after, after
        rc, size = p.stdout.readline().split()
        assert rc != "0" and size == "-", (rc, size)
    finally:
        p.stdin.close()
        p.wait(timeout=30)


HELD_SCRIPT = (
    "import os, subprocess, sys\n"
    "def st(name):\n"
    "    r = subprocess.run(['stat', '--cached=always', '-c', '%s %A %i', name],"
    " capture_output=True, text=True)\n"
    "    return r.stdout.strip().replace(' ', '/') if r.returncode == 0 else 'gone'\n"
    "def fst(fd):\n"
    "    try:\n"
    "        s = os.fstat(fd)\n"
    "        return '%d/%o' % (s.st_size, s.st_mode)\n"
    "    except OSError:\n"
    "        return 'gone'\n"
    "os.chdir(sys.argv[1])\n"
    "exec(sys.argv[2])\n"          # sets `names` and opens `fds`
    "print(' '.join(st(n) for n in names), ' '.join(fst(f) for f in fds), flush=True)\n"
    "sys.stdin.readline()\n"
    "print(' '.join(st(n) for n in names), ' '.join(fst(f) for f in fds), flush=True)\n")


def all_gone_after_a_revoke(shop, clerk, where, setup):
    """Runs SETUP as CLERK in WHERE, holding what it opens, across a revoke of
    their grant: what stat --cached=always and fstat showed before must all be
    gone after. The number of things held."""
    p = subprocess.Popen(["runuser", "-u", clerk, "--", "/usr/bin/python3", "-c", HELD_SCRIPT,
                          where, setup],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        before = p.stdout.readline().split()
        assert before and "gone" not in before, before
        ctl("grant", "revoke", shop, str(grant_id(shop, clerk)))
        p.stdin.write("\n")
        p.stdin.flush()
        after = p.stdout.readline().split()
        assert after == ["gone"] * len(before), list(zip(before, after))
        return len(before)
    finally:
        p.stdin.close()
        p.wait(timeout=30)


def test_a_rights_change_drops_a_held_customer_directorys_attributes(shop, people, mount):
    """A customer directory opened O_PATH after a listing (no LOOKUP, no
    OPEN) keeps its inode: fstat must not answer from the kept attributes
    once the customer is out of reach (R4.3)."""
    clerk = people["pclerk"]
    m = mount(shop, "-o", f"person={clerk},entry_timeout=60")
    held = all_gone_after_a_revoke(
        shop, clerk, m.mnt,
        "names = sorted(os.listdir('.'))[:5]\n"
        "fds = [os.open(n, os.O_PATH) for n in names]\n")
    assert held == 10
    assert "cannot drop" not in m.log_text()


def test_a_field_renamed_to_a_scratch_name_is_dropped_too(shop, people, mount):
    """vim's backup renames a field to a scratch name; custfs copies the value
    and keeps the field, so the kernel's moved entry (the field's inode under
    the new name) is dropped: stat of the new name is the scratch file's, and
    nothing of the field stays past a rights change (R3.4, R4.3)."""
    clerk = people["pclerk"]
    m = mount(shop, "-o", f"person={clerk},entry_timeout=60")
    held = all_gone_after_a_revoke(
        shop, clerk, m.path("C1001"),
        "os.listdir('.')\n"
        "field_ino = os.stat('phone').st_ino\n"
        "os.rename('phone', 'phone~')\n"
        # The moved entry is dropped just after the rename's answer.
        "import time\n"
        "until = time.monotonic() + 5\n"
        "while os.stat('phone~').st_ino == field_ino and time.monotonic() < until:\n"
        "    time.sleep(0.01)\n"
        "assert os.stat('phone~').st_ino != field_ino, 'the moved entry is still the field'\n"
        "names = ['phone~', 'phone']\n"
        "fds = [os.open(n, os.O_PATH) for n in names]\n")
    assert held == 4


def test_past_cached_names_nothing_is_kept_and_a_rights_change_still_reaches_all(
        shop, people, mount):
    """-o cached_names bounds the names the kernel keeps (memory, and the time
    a rights change takes): past it a name is answered uncached, so it too is
    gone after a revoke, held descriptors and all (R4.3)."""
    clerk = people["pclerk"]
    m = mount(shop, "-o", f"person={clerk},entry_timeout=60,cached_names=10")
    held = all_gone_after_a_revoke(
        shop, clerk, m.mnt,
        "names = []\n"
        "for c in sorted(os.listdir('.'))[:6]:\n"
        "    names += [os.path.join(c, f) for f in sorted(os.listdir(c))]\n"
        "fds = [os.open(n, os.O_PATH) for n in names]\n")
    assert held > 40


def test_a_listing_gives_what_a_lookup_gives_and_a_rights_change_drops_it(shop, people,
                                                                          mount):
    """READDIRPLUS: a listing hands the kernel each customer's and field's name
    with its attributes, as a LOOKUP would. They are the same attributes a
    LOOKUP gives, and a rights change drops them all, even those held by a
    descriptor that sent no LOOKUP (the listing's names served the path walk)
    and no OPEN (O_PATH), before the command that made it returns (R4.3)."""
    clerk = people["pclerk"]
    m = mount(shop, "-o", f"person={clerk},entry_timeout=60")
    held = all_gone_after_a_revoke(
        shop, clerk, m.mnt,
        "def fresh(n):\n"
        "    r = subprocess.run(['stat', '--cached=never', '-c', '%s %A %i', n],"
        " capture_output=True, text=True)\n"
        "    return r.stdout.strip().replace(' ', '/')\n"
        "os.listdir('.')\n"
        "assert st('C1001') == fresh('C1001')\n"
        "os.chdir('C1001')\n"
        "names = sorted(os.listdir('.'))\n"
        "assert 'phone' in names and [st(n) for n in names] == [fresh(n) for n in names]\n"
        "fds = [os.open(n, os.O_PATH) for n in names]\n")
    assert held > 10


def test_mv_over_a_field_reads_back_at_once(shop, people, mount):
    """`mv phone.bak phone` stores phone.bak's value in the field (R3.4), and
    the very next stat and read of phone see it, though the kernel had moved
    the scratch file's kept entry onto the name (custfs answers ESTALE for the
    used-up scratch file, and the kernel looks phone up again)."""
    clerk = people["pclerk"]
    m = mount(shop, "-o", f"person={clerk},entry_timeout=60")
    script = (
        "import os\n"
        f"os.chdir({m.path('C1001')!r})\n"
        "bad = []\n"
        "for i in range(10):\n"
        "    os.listdir('.')\n"
        "    value = '138%08d\\n' % i\n"
        "    with open('phone.bak', 'w') as f:\n"
        "        f.write(value)\n"
        "    os.stat('phone.bak')\n"
        "    os.rename('phone.bak', 'phone')\n"
        "    try:\n"
        "        size = os.stat('phone').st_size\n"
        "        got = open('phone').read()\n"
        "    except OSError as e:\n"
        "        size, got = -1, e.strerror\n"
        "    if size != len(value) or got != value:\n"
        "        bad.append((i, size, got))\n"
        "print(bad)\n")
    r = as_user(clerk, "/usr/bin/python3", "-c", script)
    assert r.returncode == 0 and r.stdout.decode().strip() == "[]", (r.stdout, r.stderr)
