"""The Debian package (issue 14): custfs_*.deb built by scripts/package, its
files where Debian puts them, hardened binaries, man pages that render, a unit
that `systemd-analyze verify` accepts, and custctl init and a real mount run
from the installed files alone, with the source tree out of reach.

How "installed" is made honest without touching the machine: the .deb is
unpacked (`dpkg -x`) and laid over /usr in a private mount namespace (an
overlay of /usr, the package's files on top; /lib is /usr/lib on Debian 12),
so the binaries run at the very paths they were built for (/usr/sbin/custfs,
/usr/share/custfs/policy), exactly as `dpkg -i` would place them, while the
rest of the machine sees nothing. The source tree is covered by an empty
tmpfs in that namespace, and the package was built in a temporary copy that
is gone, so nothing can fall back on a build path. On CI (CI=true: a fresh
machine, as root) the package is also really installed with `dpkg -i` and
purged again. scripts/test builds the .deb once and passes it in CUSTFS_DEB;
otherwise the first test that needs it builds it (nocheck)."""
import os
import shutil
import subprocess
import tempfile
import textwrap
import time

import pytest

from conftest import DEMO_CSV, ROOT

PACKAGE_TOOLS = all(shutil.which(t) for t in ("dpkg-buildpackage", "dh", "dpkg-deb"))
needs_tools = pytest.mark.skipif(not PACKAGE_TOOLS and os.environ.get("CI") != "true",
                                 reason="dpkg-dev and debhelper are not installed "
                                        "(scripts/install-deps)")

EXPECTED = {  # path in the package: mode
    "usr/sbin/custfs": 0o755,
    "usr/bin/custctl": 0o755,
    "usr/share/custfs/policy/fields.conf": 0o644,
    "usr/share/custfs/policy/access.conf": 0o644,
    "usr/share/custfs/demo/custfs-demo": 0o755,
    "usr/share/custfs/demo/customers.csv": 0o644,
    "usr/share/man/man8/custfs.8.gz": 0o644,
    "usr/share/man/man1/custctl.1.gz": 0o644,
    "usr/share/man/man5/custfs-policy.5.gz": 0o644,
    "lib/systemd/system/custfs@.service": 0o644,
    "usr/share/bash-completion/completions/custctl": 0o644,
    "usr/share/doc/custfs/copyright": 0o644,
    "usr/share/doc/custfs/changelog.gz": 0o644,
}


@pytest.fixture(scope="session")
def deb():
    given = os.environ.get("CUSTFS_DEB")
    if given:
        assert os.path.isfile(given), f"CUSTFS_DEB={given}: no such file"
        yield given
        return
    if not PACKAGE_TOOLS:
        pytest.fail("dpkg-dev and debhelper are missing (scripts/install-deps)")
    out = tempfile.mkdtemp(prefix="custfs-test-deb-", dir="/var/tmp")
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck")
    p = subprocess.run([os.path.join(ROOT, "scripts", "package"), out], capture_output=True,
                       text=True, env=env, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
    path = p.stdout.strip().splitlines()[-1]
    assert os.path.isfile(path), p.stdout
    yield path
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def unpacked(deb):
    """The package's files (dpkg -x), and the same merged into a /usr tree
    (Debian 12 is merged-/usr: the package's /lib lands in /usr/lib)."""
    d = tempfile.mkdtemp(prefix="custfs-test-pkgroot-", dir="/var/tmp")
    os.chmod(d, 0o755)
    root = os.path.join(d, "root")
    subprocess.run(["dpkg", "-x", deb, root], check=True)
    usr = os.path.join(d, "overlay", "usr")
    shutil.copytree(os.path.join(root, "usr"), usr, symlinks=True)
    if os.path.isdir(os.path.join(root, "lib")):
        shutil.copytree(os.path.join(root, "lib"), os.path.join(usr, "lib"), symlinks=True,
                        dirs_exist_ok=True)
    yield root, usr
    shutil.rmtree(d, ignore_errors=True)


def installed(usr, script, timeout=180):
    """Runs SCRIPT (bash) in a private mount namespace where /usr holds the
    package's files and the source tree is an empty directory."""
    prologue = textwrap.dedent(f"""\
        set -euo pipefail
        mount -t overlay custfs-test-usr -o lowerdir={usr}:/usr /usr
        mount -t tmpfs -o size=1m,mode=0700 custfs-source-hidden {ROOT}
        [[ ! -e {ROOT}/policy/fields.conf && ! -e {ROOT}/build ]]
        """)
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c",
                           prologue + textwrap.dedent(script)],
                          capture_output=True, text=True, timeout=timeout, cwd="/",
                          stdin=subprocess.DEVNULL)


@needs_tools
def test_files_are_where_debian_puts_them(deb, unpacked):
    root, _ = unpacked
    for path, mode in EXPECTED.items():
        st = os.lstat(os.path.join(root, path))
        assert oct(st.st_mode & 0o7777) == oct(mode), path
        assert st.st_uid == 0 and st.st_gid == 0, path
    # bash-completion loads a command's completion by its name
    assert os.readlink(os.path.join(root, "usr/share/bash-completion/completions/custfs")) \
        == "custctl"
    for name in ("fields.conf", "access.conf"):
        with open(os.path.join(ROOT, "policy", name), "rb") as a, \
             open(os.path.join(root, "usr/share/custfs/policy", name), "rb") as b:
            assert a.read() == b.read(), name
    depends = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], capture_output=True,
                             text=True, check=True).stdout
    for lib in ("fuse3", "libfuse3-3", "libsodium23", "libsqlite3-0", "libicu", "libc6"):
        assert lib in depends, depends
    # Built without a build path: nothing in the binaries points at a tree.
    for exe in ("usr/sbin/custfs", "usr/bin/custctl"):
        with open(os.path.join(root, exe), "rb") as f:
            data = f.read()
        assert ROOT.encode() not in data and b"custfs-package." not in data, exe


@needs_tools
def test_binaries_carry_debian_hardening(unpacked):
    root, _ = unpacked
    for exe in ("usr/sbin/custfs", "usr/bin/custctl"):
        path = os.path.join(root, exe)
        header = subprocess.run(["readelf", "-hW", path], capture_output=True, text=True).stdout
        dynamic = subprocess.run(["readelf", "-dW", path], capture_output=True, text=True).stdout
        segments = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True).stdout
        symbols = subprocess.run(["readelf", "--dyn-syms", "-W", path], capture_output=True,
                                 text=True).stdout
        assert "DYN (Position-Independent Executable" in header, exe      # PIE
        assert "BIND_NOW" in dynamic, exe                                 # -z now
        assert "GNU_RELRO" in segments, exe                               # -z relro
        assert "__stack_chk_fail" in symbols, exe                         # stack protector
        assert "__snprintf_chk" in symbols or "__memcpy_chk" in symbols, exe  # fortify


@needs_tools
@pytest.mark.skipif(not shutil.which("man"), reason="man-db is not installed")
@pytest.mark.parametrize("page", ["man8/custfs.8.gz", "man1/custctl.1.gz",
                                  "man5/custfs-policy.5.gz"])
def test_installed_man_pages_render_without_warnings(unpacked, page):
    root, _ = unpacked
    p = subprocess.run(["man", "--warnings", "-l", os.path.join(root, "usr/share/man", page)],
                       capture_output=True, env=dict(os.environ, MANWIDTH="80",
                                                     LC_ALL="C.UTF-8"), timeout=60)
    assert p.returncode == 0 and not p.stderr.strip(), p.stderr.decode()
    assert b"SEE ALSO" in p.stdout


@needs_tools
@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd is not installed")
def test_installed_unit_verifies(unpacked):
    _, usr = unpacked
    p = installed(usr, """\
        test -x /usr/sbin/custfs
        systemd-analyze verify /lib/systemd/system/custfs@.service
        echo VERIFIED
        systemd-analyze security --offline=true --no-pager \\
            /lib/systemd/system/custfs@.service 2>&1 | tail -1
        """)
    assert p.returncode == 0 and "VERIFIED" in p.stdout, p.stdout + p.stderr
    # verify prints nothing but its findings: there must be none
    assert not p.stderr.strip(), p.stderr
    print(p.stdout.strip().splitlines()[-1])  # the exposure level, for the log


@needs_tools
def test_installed_custctl_init_and_a_mount_from_installed_files(unpacked, workdir, make_user):
    """The demo's basic steps with nothing but the package: init with the
    default policy (the installed one), import, staff and a grant, `mount -t
    fuse.custfs` (mount.fuse3 finds custfs on root's PATH, /usr/sbin), a
    staff member's masked view, unmount, audit verify."""
    _, usr = unpacked
    intern = make_user("pkgintern")
    sales = make_user("pkgsales")
    csv = os.path.join(workdir, "customers.csv")
    shutil.copy(DEMO_CSV, csv)
    store, mnt = os.path.join(workdir, "store"), os.path.join(workdir, "mnt")
    p = installed(usr, f"""\
        echo "custctl=$(command -v custctl) custfs=$(command -v custfs)"
        custctl init {store}
        cmp {store}/policy/fields.conf /usr/share/custfs/policy/fields.conf
        custctl import {store} {csv} >/dev/null
        custctl employee add {store} {sales} --name 'Li Ming' --dept sales --type formal >/dev/null
        custctl employee add {store} {intern} --name 'Zhao Lei' --dept sales --type intern >/dev/null
        custctl grant add {store} {sales} sales >/dev/null
        custctl grant add {store} {intern} sales >/dev/null
        mkdir {mnt}
        mount -t fuse.custfs {store} {mnt}
        grep " {mnt} " /proc/mounts
        echo "customers=$(ls {mnt} | wc -l)"
        echo "sales-phone=$(runuser -u {sales} -- cat {mnt}/C1001/phone)"
        echo "intern-phone=$(runuser -u {intern} -- cat {mnt}/C1001/phone)"
        umount {mnt}
        for i in $(seq 100); do
            compgen -G '{store}/run/*.sock' >/dev/null || break
            sleep 0.05
        done
        ! compgen -G '{store}/run/*.sock' >/dev/null
        custctl audit verify {store}
        """)
    out = p.stdout
    assert p.returncode == 0, out + p.stderr
    assert "custctl=/usr/bin/custctl custfs=/usr/sbin/custfs" in out
    assert "(policy from /usr/share/custfs/policy," in out
    assert f"custfs:{store} {mnt} fuse.custfs " in out
    assert "customers=36" in out
    assert "sales-phone=13812345678" in out
    assert "intern-phone=138****5678" in out
    assert "OK: " in out
    if not os.path.exists("/dev/log"):  # daemonized, with no system log: the store's file
        with open(os.path.join(store, "run", "custfs.log")) as f:
            text = f.read()
        assert f"mounted {store} at {mnt}" in text and f"unmounted {mnt}" in text


@needs_tools
def test_the_demo_runs_from_installed_files(unpacked, workdir):
    """The README's demo, run from the package alone (custfs-demo finds the
    installed policy and binaries), and every one of its hints works, in the
    namespace where the source tree is hidden (R1.3)."""
    _, usr = unpacked
    prefix = f"pkd{os.getpid() % 1000}-"
    demo, mnt = os.path.join(workdir, "demo"), os.path.join(workdir, "demo-mnt")
    checker = os.path.join(workdir, "demo_hints.py")
    shutil.copy(os.path.join(ROOT, "tests", "integration", "demo_hints.py"), checker)
    out = os.path.join(workdir, "demo.out")
    try:
        p = installed(usr, f"""\
            export CUSTFS_DEMO_DIR={demo} CUSTFS_DEMO_MNT={mnt} CUSTFS_DEMO_PREFIX={prefix}
            /usr/share/custfs/demo/custfs-demo > {out}
            grep " {mnt} " /proc/mounts
            rc=0; python3 {checker} {out} {prefix} || rc=$?
            fusermount3 -u {mnt}
            exit $rc
            """, timeout=600)
        with open(out) as f:
            text = f.read()
        assert p.returncode == 0, text + p.stdout + p.stderr
        assert "/usr/bin/custctl history" in text and ROOT not in text
    finally:
        for who in ("sales", "prod", "service", "intern", "partner", "admin", "tech"):
            subprocess.run(["userdel", prefix + who], capture_output=True)


@needs_tools
@pytest.mark.skipif(os.environ.get("CI") != "true",
                    reason="installs the package for real: CI only (a fresh machine)")
def test_dpkg_installs_and_purges_the_package(deb, workdir):
    if subprocess.run(["dpkg-query", "-W", "custfs"], capture_output=True).returncode == 0:
        pytest.skip("a custfs package is already installed here: left alone")
    subprocess.run(["dpkg", "-i", deb], check=True, capture_output=True, timeout=300)
    try:
        store = os.path.join(workdir, "store")
        p = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "bash", "-c",
             f"set -e; mount -t tmpfs -o size=1m custfs-source-hidden {ROOT}; "
             f"systemd-analyze verify custfs@.service; custctl init {store}"],
            capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "(policy from /usr/share/custfs/policy," in p.stdout
        assert os.path.exists("/usr/sbin/custfs")
    finally:
        subprocess.run(["dpkg", "--purge", "custfs"], check=True, capture_output=True,
                       timeout=300)
    assert not os.path.exists("/usr/sbin/custfs")
    assert not os.path.exists("/usr/share/custfs")
