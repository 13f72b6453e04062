"""Issue 3: who may open what. Staff, the policy engine, per-role views and
masking, checked with real Linux users on real mounts.

Clauses: R1.1 (deny by default), R1.2 (staff-type ceilings), R2.2-R2.6
(department roles), R3.2 (job change), R3.4, R3.6 (new customers), R4.1 (each
sees what they may), R4.2 (why was I denied)."""
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import CUSTFS, DEMO_CSV, POLICY, Mount, as_user, ctl, read_csv

BASIC = {"company", "contact", "phone", "email", "address"}
BUSINESS = {"requirements", "preferences", "contract_terms"}
ORDERS = {"order_qty", "delivery_date", "product_spec"}
SERVICE = {"feedback", "complaints"}
FINANCE = {"credit_limit", "bank_account", "payment_terms", "balance"}
PRIVACY = {"id_number", "personal_phone", "home_address"}


@pytest.fixture(scope="module")
def people(make_user):
    """Six real accounts: one per department and staff type worth telling apart."""
    return {k: make_user(k) for k in ("sales", "prod", "intern", "partner", "tech", "svc")}


@pytest.fixture
def staffed(demo_store, people):
    s = demo_store
    ctl("employee", "add", s, people["sales"], "--name", "李明 Li Ming", "--dept", "sales",
        "--type", "formal", "--post", "account manager")
    ctl("employee", "add", s, people["prod"], "--name", "Wang Fang", "--dept", "production",
        "--type", "formal")
    ctl("employee", "add", s, people["intern"], "--name", "Zhao Lei", "--dept", "sales",
        "--type", "intern")
    ctl("employee", "add", s, people["partner"], "--name", "Acme CS", "--dept", "service",
        "--type", "partner", "--org", "Acme Call Centre", "--until", "2099-12-31")
    ctl("employee", "add", s, people["tech"], "--name", "Sun Hao", "--dept", "tech",
        "--type", "formal")
    ctl("employee", "add", s, people["svc"], "--name", "Chen Jing", "--dept", "service",
        "--type", "formal")
    ctl("grant", "add", s, people["sales"], "sales")
    ctl("grant", "add", s, people["prod"], "production")
    ctl("grant", "add", s, people["intern"], "sales")
    ctl("grant", "add", s, people["partner"], "service", "--customers", "C1001,C1002",
        "--until", "2099-06-30")
    ctl("grant", "add", s, people["svc"], "service")
    return s


def ls(user, path):
    p = as_user(user, "ls", "-1", path)
    return set(p.stdout.decode().split()) if p.returncode == 0 else None


def cat(user, path):
    p = as_user(user, "cat", path)
    return p.stdout.decode() if p.returncode == 0 else None


def test_each_person_sees_their_own_view(staffed, people, mount):
    """R4.1, R2.2-R2.6, R1.2: ls shows each person exactly what they may see."""
    _, rows = read_csv(DEMO_CSV)
    m = mount(staffed)
    everyone = set(rows)
    c = m.path("C1001")
    present = set(os.listdir(c))
    assert ls(people["sales"], m.mnt) == everyone
    assert ls(people["sales"], c) == present & (BASIC | BUSINESS | ORDERS)           # R2.2
    assert ls(people["prod"], c) == present & (ORDERS | {"company"})                 # R2.3
    assert ls(people["svc"], c) == present & (BASIC | BUSINESS | ORDERS | SERVICE)   # R2.4
    assert ls(people["intern"], c) == present & (BASIC | BUSINESS | ORDERS)         # R1.2
    # R1.2: partners see only named customers, and never above level 2.
    assert ls(people["partner"], m.mnt) == {"C1001", "C1002"}
    assert ls(people["partner"], c) == present & (BASIC | BUSINESS | ORDERS)
    assert ls(people["partner"], m.path("C1003")) is None
    # R2.6: tech runs the system but reads no customer contents.
    assert ls(people["tech"], m.mnt) == set()
    assert cat(people["tech"], m.path("C1001", "company")) is None


def test_cat_returns_or_refuses_by_policy(staffed, people, mount):
    _, rows = read_csv(DEMO_CSV)
    m = mount(staffed)
    v = rows["C1001"]
    assert cat(people["sales"], m.path("C1001", "phone")) == v["phone"] + "\n"
    assert cat(people["prod"], m.path("C1001", "order_qty")) == v["order_qty"] + "\n"
    assert cat(people["prod"], m.path("C1001", "phone")) is None          # R2.3
    assert cat(people["svc"], m.path("C1001", "feedback")) == v["feedback"] + "\n"
    assert cat(people["sales"], m.path("C1001", "feedback")) is None      # service class
    assert cat(people["partner"], m.path("C1001", "feedback")) is None    # level 3 > 2
    # Sensitive classes: nobody without a role reaching them; never without a checkout.
    for who in people.values():
        assert cat(who, m.path("C1001", "credit_limit")) is None, who
    # Writes need a write right (R3.4).
    p = as_user(people["prod"], "sh", "-c", f"echo 7 > {m.path('C1001', 'order_qty')}")
    assert p.returncode != 0
    p = as_user(people["svc"], "sh", "-c", f"echo 'called back' > {m.path('C1001', 'feedback')}")
    assert p.returncode == 0
    assert cat(people["svc"], m.path("C1001", "feedback")) == "called back\n"
    h = ctl("history", staffed, "C1001", "feedback", "--json").stdout.decode().splitlines()
    assert f'"uid":{int(subprocess.check_output(["id", "-u", people["svc"]]))}' in h[-1]


def test_intern_sees_masked_phone_and_cannot_write_it(staffed, people, mount):
    """DOMAIN.md: interns see phone and email masked (138****5678), read-only."""
    _, rows = read_csv(DEMO_CSV)
    m = mount(staffed)
    phone = rows["C1001"]["phone"]
    masked = phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    assert cat(people["intern"], m.path("C1001", "phone")) == masked + "\n"
    out = as_user(people["intern"], "stat", "-c", "%s %A", m.path("C1001", "phone")).stdout
    assert out.decode().split() == [str(len(masked) + 1), "-r--------"]
    email = cat(people["intern"], m.path("C1001", "email"))
    assert email.endswith("@" + rows["C1001"]["email"].split("@")[1] + "\n") and "*" in email
    p = as_user(people["intern"], "sh", "-c", f"echo 13900000000 > {m.path('C1001', 'phone')}")
    assert p.returncode != 0
    assert cat(people["sales"], m.path("C1001", "phone")) == phone + "\n"
    # Unmasked fields read as they are.
    assert cat(people["intern"], m.path("C1001", "company")) == rows["C1001"]["company"] + "\n"


def test_two_users_alternating_on_one_path_do_not_leak_through_caches(staffed, people, mount):
    """The kernel caches per inode, not per user: custfs must answer each one."""
    _, rows = read_csv(DEMO_CSV)
    m = mount(staffed)
    phone = m.path("C1002", "phone")
    plain = rows["C1002"]["phone"] + "\n"
    for _ in range(10):
        assert cat(people["sales"], phone) == plain
        got = cat(people["intern"], phone)
        assert got != plain and "****" in got
        assert as_user(people["intern"], "stat", "-c", "%A", phone).stdout.strip() == b"-r--------"
        assert as_user(people["sales"], "stat", "-c", "%A", phone).stdout.strip() == b"-rw-------"
        assert cat(people["prod"], phone) is None
        assert as_user(people["prod"], "stat", phone).returncode != 0
    # An open descriptor of the unmasked reader does not fill a cache the
    # masked reader is then served from.
    script = ("import os,sys,subprocess\n"
              f"fd=os.open({phone!r},os.O_RDONLY); os.read(fd,100)\n"
              "sys.stdout.write('ok')\n")
    assert as_user(people["sales"], "python3", "-c", script).stdout == b"ok"
    assert "****" in cat(people["intern"], phone)


def test_production_view_mount_beside_the_full_mount(staffed, people, mount):
    """-o view=ROLE: a production terminal shows only orders fields (R2.3),
    on top of each user's own rights; several views of one store at once."""
    full = mount(staffed)
    prod = mount(staffed, "-o", "view=production")
    c = "C1003"
    present = set(os.listdir(full.path(c)))
    assert ls(people["sales"], prod.path(c)) == present & (ORDERS | {"company"})
    assert ls(people["sales"], full.path(c)) == present & (BASIC | BUSINESS | ORDERS)
    assert cat(people["sales"], prod.path(c, "phone")) is None
    assert ls(people["prod"], prod.path(c)) == present & (ORDERS | {"company"})
    assert ls(people["svc"], prod.path(c)) == present & ORDERS | (present & {"company"})
    # A view never adds rights: tech sees nothing in it either.
    assert ls(people["tech"], prod.mnt) == set()
    os.makedirs(full.mnt + "x")
    p = subprocess.run([CUSTFS, "-f", "-o", "view=nosuchrole", staffed, full.mnt + "x"],
                       capture_output=True)
    assert p.returncode == 2 and b"no such role" in p.stderr


def test_policy_reload_changes_an_answer_and_a_broken_one_is_refused(staffed, people, mount,
                                                                      workdir):
    m = mount(staffed)
    addr = m.path("C1001", "address")
    assert cat(people["prod"], addr) is None
    new = os.path.join(workdir, "policy2")
    shutil.copytree(POLICY, new)
    conf = os.path.join(new, "access.conf")
    text = open(conf).read()
    text = text.replace("department production  read orders,company",
                        "department production  read orders,company,address")
    text = text.replace("role production       department production  read orders,company",
                        "role production       department production  read orders,company,address")
    open(conf, "w").write(text)
    out = ctl("policy", "reload", staffed, "--from", new).stdout.decode()
    # The command returns once every mount has reloaded: the next read sees it.
    assert "1 of 1 mount reloaded it" in out
    assert cat(people["prod"], addr) is not None, m.log_text()

    # A broken policy: refused with its line number, nothing changes.
    open(conf, "a").write("role broken department nowhere read basic\n")
    nlines = len(open(conf).read().splitlines())
    p = ctl("policy", "reload", staffed, "--from", new, check=False)
    assert p.returncode == 1
    assert f"access.conf:{nlines}: role 'broken': unknown department 'nowhere'" in p.stderr.decode()
    # Even if a broken file lands in the store by hand, the daemon keeps the old policy.
    m.expected.append("policy reload:")
    shutil.copy(conf, os.path.join(staffed, "policy", "access.conf"))
    os.kill(m.proc.pid, 1)
    deadline = time.time() + 10
    while "keeping the old policy" not in m.log_text() and time.time() < deadline:
        time.sleep(0.05)
    assert f"access.conf:{nlines}: role 'broken'" in m.log_text()
    assert cat(people["prod"], addr) is not None
    assert m.proc.poll() is None   # still mounted and serving


def test_broken_policy_refuses_to_mount(staffed, workdir):
    with open(os.path.join(staffed, "policy", "access.conf"), "a") as f:
        f.write("stafftype formal max-level 9\nfrobnicate\n")
    os.makedirs(os.path.join(workdir, "mnt-x"))
    p = subprocess.run([CUSTFS, "-f", staffed, os.path.join(workdir, "mnt-x")],
                       capture_output=True, timeout=30)
    err = p.stderr.decode()
    assert p.returncode == 1
    assert re.search(r"access\.conf:\d+: staff type 'formal' is defined twice", err)
    assert re.search(r"access\.conf:\d+: unknown statement 'frobnicate'", err)
    assert not os.path.ismount(os.path.join(workdir, "mnt-x"))


def test_why_was_i_denied(staffed, people, mount):
    """R4.2: a denial says why and how to appeal, in the mount and in custctl."""
    m = mount(staffed)
    assert cat(people["intern"], m.path("C1001", "phone"))
    p = as_user(people["intern"], "sh", "-c", f"echo 1 > {m.path('C1001', 'phone')}")
    assert p.returncode != 0
    why = cat(people["intern"], m.path(".custfs", "why"))
    assert "denied write of C1001/phone" in why and "masked" in why and "R4.2" in why
    # Another person's denials are not theirs to read.
    assert "C1001/phone" not in (cat(people["sales"], m.path(".custfs", "why")) or "")
    q = as_user(people["partner"], "sh", "-c",
                f"echo 'C1001/feedback read' > {m.mnt}/.custfs/explain && "
                f"cat {m.mnt}/.custfs/explain")
    text = q.stdout.decode()
    assert "stafftype-ceiling" in text and "level 3" in text and "Decision: DENY" in text
    out = ctl("explain", staffed, people["prod"], "C1001/phone", check=False)
    assert out.returncode == 1
    assert b"no grant of yours gives read on phone (class basic)" in out.stdout
    assert b"R4.2" in out.stdout
    assert ctl("explain", staffed, people["sales"], "C1001/phone", "write").returncode == 0


def test_access_syscall_answers_by_policy(staffed, people, mount):
    m = mount(staffed)
    probe = "import os,sys; print(os.access(sys.argv[1], os.R_OK), os.access(sys.argv[1], os.W_OK))"
    def acc(user, path):
        return as_user(user, "python3", "-c", probe, path).stdout.decode().split()
    assert acc(people["sales"], m.path("C1001", "phone")) == ["True", "True"]
    assert acc(people["intern"], m.path("C1001", "phone")) == ["True", "False"]
    assert acc(people["prod"], m.path("C1001", "order_qty")) == ["True", "False"]
    assert acc(people["prod"], m.path("C1001", "phone")) == ["False", "False"]


def test_new_customers_and_format_checks(staffed, people, mount):
    """R3.6: roles with the create right make customers with mkdir and echo."""
    m = mount(staffed)
    new = m.path("福建新客户")
    assert as_user(people["sales"], "mkdir", new).returncode == 0
    assert as_user(people["sales"], "sh", "-c", f"echo 'Fujian New Tea' > {new}/company").returncode == 0
    assert cat(people["sales"], os.path.join(new, "company")) == "Fujian New Tea\n"
    p = as_user(people["sales"], "sh", "-c", f"echo 'tomorrow' > {new}/delivery_date")
    assert p.returncode != 0 or not os.path.exists(os.path.join(new, "delivery_date"))
    assert "a date is written YYYY-MM-DD" in m.log_text()
    assert as_user(people["prod"], "mkdir", m.path("PRODCO")).returncode != 0
    assert as_user(people["sales"], "mkdir", m.path("..hidden")).returncode != 0


def test_revocation_and_job_change_take_effect_at_the_next_request(staffed, people, mount):
    """R3.2: a job change suspends all grants at once; a revoked grant stops."""
    m = mount(staffed)
    f = m.path("C1001", "company")
    assert cat(people["sales"], f) is not None
    out = ctl("employee", "set", staffed, people["sales"], "--dept", "service").stdout.decode()
    assert "1 grant suspended" in out
    assert cat(people["sales"], f) is None
    assert cat(people["prod"], m.path("C1001", "order_qty")) is not None
    gid = [g for g in ctl("grant", "list", staffed, people["prod"], "--json").stdout.decode()
           .splitlines()][0]
    gid = re.search(r'"id":(\d+)', gid).group(1)
    ctl("grant", "revoke", staffed, gid)
    assert cat(people["prod"], m.path("C1001", "order_qty")) is None


def test_staff_register_refusals(staffed, people, make_user):
    s = staffed
    spare = make_user("spare")
    def refused(*args):
        p = ctl(*args, check=False)
        assert p.returncode in (1, 2), args
        return p.stderr.decode()
    assert "no department 'nowhere'" in refused("employee", "add", s, spare, "--name", "X",
                                                "--dept", "nowhere", "--type", "formal")
    assert "no Linux account" in refused("employee", "add", s, "no-such-login-x", "--name", "X",
                                         "--dept", "tech", "--type", "formal")
    assert "needs an end date" in refused("employee", "add", s, spare, "--name", "X",
                                          "--dept", "service", "--type", "partner", "--org", "O")
    assert "already on the staff register" in refused("employee", "add", s, people["tech"],
                                                      "--name", "X", "--dept", "tech",
                                                      "--type", "formal")
    assert "root is the system's administrator" in refused("employee", "add", s, "root",
                                                           "--name", "R", "--dept", "tech",
                                                           "--type", "formal")
    assert "belongs to department sales" in refused("grant", "add", s, people["prod"], "sales")
    assert "named customers only" in refused("grant", "add", s, people["partner"], "service",
                                             "--until", "2099-01-01")
    assert "until an end date only" in refused("grant", "add", s, people["partner"], "service",
                                               "--customers", "C1001")
    assert "no role 'boss'" in refused("grant", "add", s, people["sales"], "boss")
