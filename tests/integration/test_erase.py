"""Issue 13: erasing one customer is a procedure of its own (R3.4; PIPL Art.
47): a head files it with a reason, administration approves, technical
implements after the policy's waiting period, and until then it can be
cancelled. Implementing it crypto-erases the customer: no version opens
again, the name is gone from the store, the audit keeps the act by store id."""
import json
import os
import re
import subprocess

import pytest

from conftest import CUSTCTL, POLICY, as_user, ctl, staff_run as run, staff_ok as ok


@pytest.fixture(scope="module")
def people(make_user):
    return {k: make_user(k) for k in ("ehead", "eclerk", "eadmin", "etech")}


def policy_with_delay(workdir, delay):
    d = os.path.join(workdir, f"policy-{delay}")
    os.makedirs(d)
    for name in os.listdir(POLICY):
        with open(os.path.join(POLICY, name)) as f:
            text = f.read()
        with open(os.path.join(d, name), "w") as f:
            f.write(re.sub(r"^erase delay .*$", f"erase delay {delay}", text, flags=re.M))
    return d


@pytest.fixture
def office(demo_store, people, mount, workdir, request):
    s = demo_store
    delay = getattr(request, "param", "0")
    ctl("policy", "reload", s, "--from", policy_with_delay(workdir, delay))
    add = lambda who, *a: ctl("employee", "add", s, people[who], "--name", who, *a)
    add("ehead", "--dept", "sales", "--type", "formal", "--head")
    add("eclerk", "--dept", "sales", "--type", "formal")
    add("eadmin", "--dept", "admin", "--type", "formal")
    add("etech", "--dept", "tech", "--type", "formal")
    for who in ("ehead", "eclerk"):
        ctl("grant", "add", s, people[who], "sales")
    return s, mount(s)


def test_an_erase_through_the_three_steps_leaves_nothing_readable(office, people):
    s, m = office
    head, clerk, admin, tech = (people[k] for k in ("ehead", "eclerk", "eadmin", "etech"))
    phone = m.path("C1003", "phone")
    reader = subprocess.Popen(["runuser", "-u", clerk, "--", "python3", "-c",
                               "import os,sys\nfd=os.open(sys.argv[1],os.O_RDONLY)\n"
                               "print(os.pread(fd,100,0).decode().strip(),flush=True)\n"
                               "sys.stdin.readline()\n"
                               "try:\n print(os.pread(fd,100,0))\n"
                               "except OSError as e: print('REFUSED',e.errno)\n", phone],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip()           # it reads before
    rc, _, err = run(clerk, m, "erase", "new", "C1003", "--reason", "asked")
    assert rc == 1 and "head" in err
    rc, _, err = run(head, m, "erase", "new", "C1003", "--reason", "C1003 asked to be forgotten")
    assert rc == 1 and "names the customer" in err
    out = ok(head, m, "erase", "new", "C1003", "--reason", "the customer asked (PIPL Art. 47)")
    eid = re.search(r"#(\d+)", out).group(1)
    rc, _, err = run(head, m, "erase", "approve", eid)
    assert rc == 1                                       # not the filer, not admin
    rc, _, err = run(tech, m, "erase", "implement", eid)
    assert rc == 1 and "approved" in err                 # not before approval
    ok(admin, m, "erase", "approve", eid)
    rc, _, err = run(admin, m, "erase", "implement", eid)
    assert rc == 1                                       # not the approver, not admin
    ok(tech, m, "erase", "implement", eid)
    reader.stdin.write("\n")
    reader.stdin.flush()
    assert reader.stdout.readline().startswith("REFUSED")   # the open file too
    reader.wait(timeout=20)
    # Gone from every view, for everyone.
    assert "C1003" not in os.listdir(m.mnt)
    assert as_user(clerk, "ls", m.mnt).stdout.decode().split().count("C1003") == 0
    assert as_user(clerk, "cat", phone).returncode != 0
    assert not os.path.exists(phone)
    assert b"C1003" not in ctl("export", s).stdout
    assert ctl("history", s, "C1003", "phone", check=False).returncode == 1
    # The name is in no file of the store; the audit keeps the act by store id.
    m.stop()
    for root, _, files in os.walk(s):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                assert b"C1003" not in fh.read(), f
    assert b"OK" in ctl("audit", "verify", s).stdout
    acts = [a for a in map(json.loads, ctl("audit", s, "--json").stdout.decode().splitlines())
            if a["action"].startswith("erase")]
    assert [a["action"] for a in acts] == ["erase-filed", "erase-approved", "erase"]
    assert all(a["customer"].startswith("#") for a in acts)


def test_a_cancelled_erase_leaves_the_customer(office, people):
    s, m = office
    head, admin = people["ehead"], people["eadmin"]
    out = ok(head, m, "erase", "new", "C1004", "--reason", "duplicate record")
    eid = re.search(r"#(\d+)", out).group(1)
    ok(admin, m, "erase", "approve", eid)
    ok(head, m, "erase", "cancel", eid)
    rc, _, err = run(people["etech"], m, "erase", "implement", eid)
    assert rc == 1 and "cancelled" in err
    assert as_user(people["eclerk"], "cat", m.path("C1004", "phone")).returncode == 0
    listed = [json.loads(l) for l in ok(admin, m, "erase", "list", "--json").splitlines()]
    assert [(x["id"], x["status"]) for x in listed] == [(int(eid), "cancelled")]


@pytest.mark.parametrize("office", ["7d"], indirect=True)
def test_an_approved_erase_waits_for_the_policys_delay(office, people):
    s, m = office
    out = ok(people["ehead"], m, "erase", "new", "C1005", "--reason", "contract ended")
    eid = re.search(r"#(\d+)", out).group(1)
    out = ok(people["eadmin"], m, "erase", "approve", eid)
    assert "can be cancelled" in out
    rc, _, err = run(people["etech"], m, "erase", "implement", eid)
    assert rc == 1 and "waits until" in err
    assert as_user(people["eclerk"], "cat", m.path("C1005", "phone")).returncode == 0
