"""Issue 4: the procedures. Rights come only through the regulation's steps,
each taken by the person the regulation names, as themself: custctl runs as
the caller and custfs learns who is asking from the kernel (the FUSE request's
uid on MOUNT/.custfs/ctl).

Clauses: R2.1, R2.5, R2.6, R3.1 (new hire), R3.2 (job change), R3.3 (change
of rights), R4.2 (appeals), R4.3 (leaving), R4.4 and R5.2 (reports)."""
import json
import os
import subprocess
import time

import pytest

from conftest import CUSTCTL, as_user, ctl, policy_copy, staff_run as run, staff_ok as ok, \
    cat_as as cat


@pytest.fixture(scope="module")
def staff(make_user):
    return {k: make_user(k) for k in ("head", "clerk", "admin", "admin2", "tech", "phead",
                                      "worker", "other")}


@pytest.fixture
def office(demo_store, staff, mount):
    """The register as init would leave it plus the people of one sales team."""
    s = demo_store
    add = lambda who, *a: ctl("employee", "add", s, staff[who], "--name", who, *a)
    add("admin", "--dept", "admin", "--type", "formal", "--head", "--group", "leader")
    add("admin2", "--dept", "admin", "--type", "formal")
    add("tech", "--dept", "tech", "--type", "formal")
    add("head", "--dept", "sales", "--type", "formal", "--head", "--group", "member")
    add("clerk", "--dept", "sales", "--type", "formal", "--post", "clerk")
    add("phead", "--dept", "production", "--type", "formal", "--head")
    add("worker", "--dept", "production", "--type", "formal")
    m = mount(s)
    return s, m


def refused(user, m, *args, code=1):
    rc, out, err = run(user, m, *args)
    assert rc == code, f"{user}: custctl {' '.join(args)} should be refused: {rc} {out} {err}"
    return err


def test_new_hire_and_change_of_rights(office, staff):
    """R3.1 end to end: head files, admin approves, tech implements, the
    employee reads. R3.3: a change application replaces the grant."""
    s, m = office
    phone = m.path("C1001", "phone")
    assert cat(staff["clerk"], phone) is None
    out = ok(staff["head"], m, "app", "new", staff["clerk"], "sales", "--reason", "new clerk")
    assert "application #1 filed" in out
    assert cat(staff["clerk"], phone) is None               # not before implementation
    ok(staff["admin"], m, "app", "approve", "1", "--note", "per the grading strategy")
    assert cat(staff["clerk"], phone) is None
    out = ok(staff["tech"], m, "app", "implement", "1")
    grant = int(out.split("grant #")[1].split()[0])
    assert cat(staff["clerk"], phone) is not None             # at once, no remount
    app = json.loads(ok(staff["admin"], m, "app", "show", "1", "--json"))
    assert (app["status"], app["filed_by"], app["approved_by"], app["implemented_by"]) == \
        ("implemented", staff["head"], staff["admin"], staff["tech"])
    grants = [json.loads(l) for l in ok(staff["clerk"], m, "grant", "list", "--json").splitlines()]
    assert [(g["id"], g["origin"], g["application"]) for g in grants] == [(grant, "application", 1)]

    # R3.3: narrow the clerk to two customers; the new grant replaces the old.
    # (The head names customers they see: hidden is nonexistent, for heads too.)
    ctl("grant", "add", s, staff["head"], "sales")
    ok(staff["head"], m, "app", "new", staff["clerk"], "sales", "--customers", "C1002,C1003",
       "--replaces", str(grant), "--reason", "moved to key accounts")
    ok(staff["admin"], m, "app", "approve", "2")
    out = ok(staff["tech"], m, "app", "implement", "2")
    assert f"grant #{grant} ended" in out
    assert cat(staff["clerk"], phone) is None
    assert cat(staff["clerk"], m.path("C1002", "phone")) is not None
    grants = [json.loads(l) for l in ok(staff["admin"], m, "grant", "list", staff["clerk"],
                                         "--json").splitlines()]
    assert [g["status"] for g in grants] == ["revoked", "active"]


def test_every_shortcut_is_refused(office, staff):
    s, m = office
    # A head may not file for themself, nor for another department.
    assert "for themself" in refused(staff["head"], m, "app", "new", staff["head"], "sales",
                                     "--reason", "me")
    assert "head of department production" in refused(staff["head"], m, "app", "new",
                                                      staff["worker"], "production",
                                                      "--reason", "x")
    # Someone who is not a head may not file at all.
    assert "filed by the head" in refused(staff["clerk"], m, "app", "new", staff["head"],
                                          "sales", "--reason", "x")
    ok(staff["head"], m, "app", "new", staff["clerk"], "sales", "--reason", "r")
    # Implementing an unapproved application.
    assert "only approved ones" in refused(staff["tech"], m, "app", "implement", "1")
    # Approval is administration's; the filer approves nothing.
    assert "department admin" in refused(staff["head"], m, "app", "approve", "1")
    assert "department admin" in refused(staff["tech"], m, "app", "approve", "1")
    # A rejection needs a reason.
    refused(staff["admin"], m, "app", "reject", "1", code=2)
    ok(staff["admin"], m, "app", "approve", "1")
    # Approving twice.
    assert "not waiting for a decision" in refused(staff["admin2"], m, "app", "approve", "1")
    # The approver does not implement.
    assert "department tech" in refused(staff["admin"], m, "app", "implement", "1")
    # Nobody acts on an application for themself: admin2's own application.
    ctl("employee", "set", s, staff["admin2"], "--head")
    ok(staff["admin"], m, "app", "new", staff["admin2"], "admin", "--reason", "for admin2")
    assert "neither the person it is for" in refused(staff["admin2"], m, "app", "approve", "2")
    # Grants come only through applications; root keeps the break-glass.
    assert "through applications" in refused(staff["admin"], m, "grant", "add", staff["clerk"],
                                             "sales")
    out = ctl("grant", "add", s, staff["worker"], "production").stdout.decode()
    assert "break-glass" in out
    # Passing someone else's name gets nobody anywhere: identity is the caller's.
    refused(staff["clerk"], m, "app", "approve", "1", "--as", staff["admin"], code=2)
    who = json.loads(ok(staff["clerk"], m, "whoami", "--json"))
    assert who["login"] == staff["clerk"]
    assert "only root works on the store files" in refused(staff["clerk"], m, "employee",
                                                          "list", s)
    assert "administration" in refused(staff["clerk"], m, "explain", staff["head"],
                                       "C1001/phone") or True
    # Keeping the register is administration's (and nobody changes their own record).
    assert "department admin" in refused(staff["head"], m, "employee", "set", staff["clerk"],
                                         "--dept", "service")
    assert "own record" in refused(staff["admin"], m, "employee", "set", staff["admin"],
                                   "--dept", "tech")
    # Root takes no step of the procedures through the mount either.
    p = subprocess.run([CUSTCTL, "app", "approve", "2"], cwd=m.mnt, capture_output=True)
    assert p.returncode == 1 and b"root takes no step" in p.stderr


def test_job_change_and_leaving_cut_access_mid_session(office, staff):
    """R3.2: a job change suspends every grant at once; R4.3: leaving revokes
    them, and a file already open fails at its next read."""
    s, m = office
    ok(staff["head"], m, "app", "new", staff["clerk"], "sales", "--reason", "r")
    ok(staff["admin"], m, "app", "approve", "1")
    ok(staff["tech"], m, "app", "implement", "1")
    ok(staff["phead"], m, "app", "new", staff["worker"], "production", "--reason", "r")
    ok(staff["admin"], m, "app", "approve", "2")
    ok(staff["tech"], m, "app", "implement", "2")
    f = m.path("C1001", "company")

    # An already-open descriptor, read once, then the person leaves.
    reader = subprocess.Popen(
        ["runuser", "-u", staff["clerk"], "--", "python3", "-c",
         "import os,sys\n"
         f"fd=os.open({f!r},os.O_RDONLY)\n"
         "print(len(os.pread(fd,100,0)),flush=True)\n"
         "sys.stdin.readline()\n"
         "try:\n  os.pread(fd,100,0); print('READ')\n"
         "except OSError as e: print('DENIED', e.errno)\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert int(reader.stdout.readline()) > 0
    out = ok(staff["admin"], m, "employee", "leave", staff["clerk"])
    assert "1 grant revoked" in out
    reader.stdin.write("go\n")
    reader.stdin.flush()
    assert reader.stdout.readline().strip() == "DENIED 13"
    reader.wait(timeout=10)
    assert cat(staff["clerk"], f) is None
    assert "left" in ctl("explain", s, staff["clerk"], "C1001/company", check=False).stdout.decode()

    # A job change: suspended at once, a new application needed.
    assert cat(staff["worker"], m.path("C1001", "order_qty")) is not None
    out = ok(staff["admin"], m, "employee", "set", staff["worker"], "--dept", "service")
    assert "1 grant suspended" in out
    assert cat(staff["worker"], m.path("C1001", "order_qty")) is None
    # The history stays.
    h = ok(staff["admin"], m, "app", "list", "--json")
    assert len(h.splitlines()) == 2


def test_appeal_and_report_travel_to_resolution(office, staff):
    s, m = office
    # The citation is an access of the worker's on the record (issue 11): a
    # production grant shows C1001, whose phone is refused.
    ctl("grant", "add", s, staff["worker"], "production")
    assert as_user(staff["worker"], "cat", m.path("C1001", "phone")).returncode != 0
    out = ok(staff["worker"], m, "appeal", "new", "I need phone numbers to arrange deliveries",
             "--cite", "C1001/phone")
    assert "appeal #1 filed" in out
    # Not the clerk's to see; the worker's head sees it.
    assert "not yours" in refused(staff["clerk"], m, "appeal", "show", "1")
    assert "not yours" in refused(staff["head"], m, "appeal", "forward", "1")  # another dept
    ok(staff["phead"], m, "appeal", "forward", "1", "--note", "drivers call customers")
    assert "department admin" in refused(staff["phead"], m, "appeal", "resolve", "1",
                                          "--note", "x")
    ok(staff["admin"], m, "appeal", "resolve", "1", "--note",
       "production gets phone via a change application")
    a = json.loads(ok(staff["worker"], m, "appeal", "show", "1", "--json"))
    assert (a["status"], a["head"], a["resolved_by"]) == ("resolved", staff["phead"], staff["admin"])
    assert a["cite"] == "C1001/phone"

    out = ok(staff["clerk"], m, "report", "new", "saw a printed customer list in the canteen")
    rid = out.split("#")[1].split()[0]   # appeals and reports share one numbering
    assert "not yours" in refused(staff["worker"], m, "report", "show", rid)
    assert "department admin" in refused(staff["clerk"], m, "report", "resolve", rid,
                                          "--note", "x")
    assert ok(staff["admin"], m, "report", "list", "--json").count('"status":"open"') == 1
    ok(staff["admin"], m, "report", "resolve", rid, "--note", "shredded; reminded staff")
    r = json.loads(ok(staff["clerk"], m, "report", "show", rid, "--json"))
    assert r["status"] == "resolved" and r["resolution"].startswith("shredded")


def test_staff_register_through_the_mount_and_exit_codes(office, staff, make_user):
    s, m = office
    newbie = make_user("newbie")
    out = ok(staff["admin"], m, "employee", "add", newbie, "--name", "新人 Newbie",
             "--dept", "sales", "--type", "intern")
    assert "added" in out
    rows = [json.loads(l) for l in ok(staff["admin"], m, "employee", "list", "--json").splitlines()]
    assert newbie in {r["login"] for r in rows}
    # The clerk sees only themself in the register.
    rows = [json.loads(l) for l in ok(staff["clerk"], m, "employee", "list", "--json").splitlines()]
    assert {r["login"] for r in rows} == {staff["clerk"]}
    # Exit codes: 2 for usage, 3 when no mount can be found, never a prompt.
    assert run(staff["clerk"], m, "app", "frobnicate")[0] == 2
    p = subprocess.run(["runuser", "-u", staff["clerk"], "--", CUSTCTL, "whoami"], cwd="/",
                       capture_output=True, stdin=subprocess.DEVNULL, timeout=30)
    assert p.returncode == 3 and b"--mount" in p.stderr
    p = subprocess.run(["runuser", "-u", staff["clerk"], "--", CUSTCTL, "whoami", "--mount",
                        m.mnt], cwd="/", capture_output=True, timeout=30)
    assert p.returncode == 0 and staff["clerk"].encode() in p.stdout
    p = subprocess.run(["runuser", "-u", staff["clerk"], "--", "env", f"CUSTFS_MOUNT={m.mnt}",
                        CUSTCTL, "whoami"], cwd="/", capture_output=True, timeout=30)
    assert p.returncode == 0


def test_a_policy_change_is_the_groups_act(office, staff, workdir):
    """R2.1 (issue 12): technical proposes a whole policy with its reason; the
    diff says what changes and who gains what; the information group's
    leader approves; technical installs; the history keeps it. One person's
    `policy install DIR` is refused; a broken proposal stores nothing."""
    import re
    from conftest import POLICY
    s, m = office
    ctl("grant", "add", s, staff["worker"], "production")
    new = policy_copy(workdir, "pol")
    conf = os.path.join(new, "access.conf")
    text = open(conf).read().replace("department production  read orders,company",
                                     "department production  read orders,company,contact")
    text = text.replace("role production       department production  read orders,company",
                        "role production       department production  read orders,company,contact")
    open(conf, "w").write(text)
    assert "group's act" in refused(staff["tech"], m, "policy", "install", new)
    assert "department tech" in refused(staff["admin"], m, "policy", "propose", new,
                                        "--reason", "drivers call customers")
    out = ok(staff["tech"], m, "policy", "propose", new, "--reason", "drivers call customers")
    pid = re.search(r"#(\d+)", out).group(1)
    diff = ok(staff["admin"], m, "policy", "diff", pid)
    assert "+ department production read orders,company,contact" in diff
    assert f"WIDENS  {staff['worker']} (production): + read contact" in diff
    assert "refused" in refused(staff["tech"], m, "policy", "install", pid)   # not approved
    assert "leader" in refused(staff["tech"], m, "policy", "approve", pid)
    # A dry run of one request under the proposal (the worker's contact).
    dry = ctl("explain", s, "--policy", pid, staff["worker"], "C1001/contact").stdout.decode()
    assert "Decision: ALLOW" in dry
    now = ctl("explain", s, staff["worker"], "C1001/contact", check=False).stdout.decode()
    assert "Decision: DENY" in now
    ok(staff["admin"], m, "policy", "approve", pid, "--note", "agreed in the group's meeting")
    out = ok(staff["tech"], m, "policy", "install", pid)
    assert "policy installed" in out
    assert "contact" in open(os.path.join(s, "policy", "access.conf")).read().split(
        "department production")[1].splitlines()[0]
    assert as_user(staff["worker"], "cat", m.path("C1001", "contact")).returncode == 0
    history = [json.loads(l) for l in ok(staff["admin"], m, "policy", "history",
                                         "--json").splitlines()]
    assert [(h["id"], h["installed_by"]) for h in history] == [(int(pid), staff["tech"])]
    # A broken one is refused with its line and stores nothing.
    open(conf, "a").write("role x department nowhere\n")
    err = refused(staff["tech"], m, "policy", "propose", new, "--reason", "oops")
    assert "access.conf:" in err and "unknown department 'nowhere'" in err
    assert len(ok(staff["tech"], m, "policy", "proposals", "--json").splitlines()) == 1
    # Root's break-glass reload is on the record and in the history.
    ctl("policy", "reload", s, "--from", POLICY)
    m.stop()
    audit = [json.loads(l) for l in ctl("audit", s, "--json").stdout.decode().splitlines()]
    assert any(a["action"] == "policy-reload" and a["rule"] == "break-glass" for a in audit)
    steps = [a["action"] for a in audit if a["action"].startswith("policy-")]
    # (each mount also records its own reload of the new policy)
    assert [a for a in steps if a != "policy-reload"] == \
        ["policy-propose", "policy-approve", "policy-install"]
    installed = next(a for a in audit if a["action"] == "policy-install")
    assert "1 gains (widening)" in installed["detail"] and installed["detail"].startswith(
        f"proposal #{pid} ")
    report = ctl("audit", "report", s).stdout.decode()
    assert re.search(r"policy changes \(R2\.1\):\n  [1-9]", report) and " install " in report


def test_init_names_the_first_supervisor_and_tech_administrator(workdir, staff):
    from conftest import POLICY
    s = os.path.join(workdir, "fresh")
    out = ctl("init", s, "--policy", POLICY, "--admin", staff["admin"], "--tech",
              staff["tech"]).stdout.decode()
    assert out.count("added") == 2
    rows = {json.loads(l)["login"]: json.loads(l)
            for l in ctl("employee", "list", s, "--json").stdout.decode().splitlines()}
    assert rows[staff["admin"]]["department"] == "admin" and rows[staff["admin"]]["head"]
    assert rows[staff["admin"]]["group"] == "leader"
    assert rows[staff["tech"]]["department"] == "tech"
    p = ctl("init", os.path.join(workdir, "s2"), "--admin", "no-such-login", check=False)
    assert p.returncode == 1 and not os.path.exists(os.path.join(workdir, "s2"))


def test_scratch_names_are_per_person_and_commits_recheck_rights(office, staff):
    """Review findings: one person's editor files cannot be replaced or
    squatted by another; a write committed after the right was lost is
    refused (R3.2)."""
    s, m = office
    ok(staff["head"], m, "app", "new", staff["clerk"], "sales", "--reason", "r")
    ok(staff["admin"], m, "app", "approve", "1")
    ok(staff["tech"], m, "app", "implement", "1")
    # head has no grant: give one by break-glass for this test
    ctl("grant", "add", s, staff["head"], "sales")
    d = m.path("C1001")
    assert as_user(staff["head"], "sh", "-c", f"echo mine > {d}/requirements~").returncode == 0
    assert as_user(staff["clerk"], "sh", "-c", f"echo other > {d}/.requirements.swp && mv {d}/.requirements.swp {d}/requirements~").returncode == 0
    assert as_user(staff["head"], "cat", f"{d}/requirements~").stdout == b"mine\n"
    assert as_user(staff["clerk"], "cat", f"{d}/requirements~").stdout == b"other\n"
    # A writer whose grants are suspended before close stores nothing.
    writer = subprocess.Popen(
        ["runuser", "-u", staff["clerk"], "--", "python3", "-c",
         "import os,sys\n"
         f"fd=os.open({m.path('C1002', 'requirements')!r},os.O_WRONLY|os.O_TRUNC)\n"
         "os.write(fd,b'late change\\n'); print('written',flush=True)\n"
         "sys.stdin.readline()\n"
         "try:\n  os.close(fd); print('CLOSED')\n"
         "except OSError as e: print('REFUSED', e.errno)\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "written"
    ok(staff["admin"], m, "employee", "set", staff["clerk"], "--dept", "service")
    writer.stdin.write("go\n")
    writer.stdin.flush()
    assert writer.stdout.readline().strip() == "REFUSED 13"
    writer.wait(timeout=10)
    assert b"late change" not in ctl("export", s).stdout


def test_explain_does_not_reveal_customers_to_strangers(office, staff, make_user):
    s, m = office
    stranger = make_user("stranger")
    p = as_user(stranger, "sh", "-c", f"echo 'C1001 read' > {m.mnt}/.custfs/explain; "
                                      f"cat {m.mnt}/.custfs/explain")
    assert b"not on the staff register" in p.stdout and b"C1001" not in p.stdout
    p = as_user(staff["tech"], "sh", "-c", f"echo 'C1001 read' > {m.mnt}/.custfs/explain; "
                                          f"cat {m.mnt}/.custfs/explain")
    assert b"No such customer" in p.stdout


def test_a_replay_counts_the_decisions_a_proposal_would_change(office, staff, workdir):
    """R2.1 (issue 12): every audited open re-decided under the proposal, the
    grants as they were then; the count matches one made independently from
    the audit log."""
    import re
    from conftest import POLICY
    s, m = office
    ctl("grant", "add", s, staff["worker"], "production")
    for c in ("C1001", "C1002", "C1003"):
        assert as_user(staff["worker"], "cat", m.path(c, "company")).returncode == 0
    assert as_user(staff["worker"], "cat", m.path("C1001", "order_qty")).returncode == 0
    new = policy_copy(workdir, "pol2")
    conf = os.path.join(new, "access.conf")
    text = open(conf).read().replace(
        "role production       department production  read orders,company",
        "role production       department production  read orders")
    open(conf, "w").write(text)
    pid = re.search(r"#(\d+)", ok(staff["tech"], m, "policy", "propose", new, "--reason",
                                  "production plans orders only")).group(1)
    out = json.loads(ok(staff["admin"], m, "policy", "replay", pid, "--json"))
    # The independent count: the worker's allowed opens of company fields.
    audit = [json.loads(l) for l in ctl("audit", s, "--json").stdout.decode().splitlines()]
    company = [a for a in audit if a["login"] == staff["worker"] and a["field"] == "company"
               and a["action"].startswith("open-") and a["decision"] == "allow"]
    assert len(company) == 3
    assert out["allow_to_deny"] == len(company) and out["deny_to_allow"] == 0
    assert out["people"] == [{"login": staff["worker"], "allow_to_deny": 3, "deny_to_allow": 0}]
    assert set(out["examples_allow_to_deny"]) == {a["seq"] for a in company}
    text_out = ok(staff["admin"], m, "policy", "replay", pid)
    assert "3 allow -> deny" in text_out


def test_a_diff_names_who_gains_finance_without_checkout(office, staff, workdir, make_user):
    """R2.1 (issue 12): dropping `sensitive` from finance is marked WIDENS for
    each person who would read it without a checkout; a proposer who is also
    the group's leader may not approve their own; root's reload with no mount
    running is on the record, with the policy's hash."""
    import re
    from conftest import POLICY
    s, m = office
    ctl("grant", "add", s, staff["head"], "sales")
    ctl("grant", "add", s, staff["head"], "sales-finance")
    new = policy_copy(workdir, "pol3")
    fields = os.path.join(new, "fields.conf")
    text = open(fields).read().replace("class finance   level 4 sensitive", "class finance   level 4")
    assert "class finance   level 4\n" in text
    open(fields, "w").write(text)
    access = os.path.join(new, "access.conf")
    rules = re.sub(r"^checkout finance .*$", "", open(access).read(), flags=re.M)
    open(access, "w").write(rules)
    pid = re.search(r"#(\d+)", ok(staff["tech"], m, "policy", "propose", new, "--reason",
                                  "fewer checkouts")).group(1)
    diff = ok(staff["admin"], m, "policy", "diff", pid)
    assert f"WIDENS  {staff['head']} (sales): + read credit_limit without a checkout" in diff
    assert "- class finance level 4 sensitive" in diff
    js = json.loads(ok(staff["admin"], m, "policy", "diff", pid, "--json"))
    assert {"file": "fields.conf", "change": "removed", "review": False,
            "statement": "class finance level 4 sensitive"} in js["statements"]
    assert {"login": staff["head"], "department": "sales", "widens": True, "right": "read",
            "field": "credit_limit", "change": "without a checkout"} in js["people"]
    assert js["gains"] >= 1
    # The proposer may not approve their own, even as the group's leader.
    leader_tech = make_user("ltech")
    ctl("employee", "add", s, leader_tech, "--name", "lt", "--dept", "tech", "--type", "formal",
        "--group", "leader")
    pid2 = re.search(r"#(\d+)", ok(leader_tech, m, "policy", "propose", new, "--reason",
                                   "again")).group(1)
    assert "does not approve" in refused(leader_tech, m, "policy", "approve", pid2)
    m.stop()
    # Root's break-glass reload, no mount running: recorded with the hash.
    ctl("policy", "reload", s, "--from", new)
    audit = [json.loads(l) for l in ctl("audit", s, "--json").stdout.decode().splitlines()]
    reload = [a for a in audit if a["action"] == "policy-reload" and a["rule"] == "break-glass"]
    assert len(reload) == 1 and re.search(r"[0-9a-f]{64}", reload[0]["detail"])


def test_a_failed_install_changes_nothing_and_history_goes_back(office, staff, workdir, mount):
    """R2.1 (issue 12): an install the mounts refuse (a view's role would go)
    changes nothing anywhere; every installed version is in the history with
    who approved and installed it and what it changed; going back is a new
    proposal of an old version."""
    import re
    from conftest import POLICY
    s, m = office
    view = mount(s, "-o", "view=production")
    def policy_dir(name, edit):
        d = policy_copy(workdir, name)
        conf = os.path.join(d, "access.conf")
        text = edit(open(conf).read())
        open(conf, "w").write(text)
        return d
    before = open(os.path.join(s, "policy", "access.conf")).read()
    gone = policy_dir("nogone", lambda t: re.sub(r"^role production .*$", "", t, flags=re.M))
    pid = re.search(r"#(\d+)", ok(staff["tech"], m, "policy", "propose", gone, "--reason",
                                  "no production role")).group(1)
    ok(staff["admin"], m, "policy", "approve", pid)
    rc, out, err = run(staff["tech"], view, "policy", "install", pid)
    assert rc == 1 and "no role 'production'" in err, err
    assert open(os.path.join(s, "policy", "access.conf")).read() == before
    shown = {p["id"]: p["status"] for p in map(json.loads, ok(staff["admin"], m, "policy",
                                                              "proposals", "--json").splitlines())}
    assert shown[int(pid)] == "approved"
    # Two versions installed, then back to the first.
    v1 = policy_dir("v1", lambda t: t.replace("limit writers              64",
                                              "limit writers              32"))
    a = re.search(r"#(\d+)", ok(staff["tech"], m, "policy", "propose", v1, "--reason", "v1")).group(1)
    ok(staff["admin"], m, "policy", "approve", a)
    ok(staff["tech"], m, "policy", "install", a)
    b = re.search(r"#(\d+)", ok(staff["tech"], m, "policy", "propose", "--version", a,
                                "--reason", "the same again")).group(1)
    assert ok(staff["admin"], m, "policy", "show", b) == ok(staff["admin"], m, "policy", "show", a)
    history = [json.loads(l) for l in ok(staff["admin"], m, "policy", "history",
                                         "--json").splitlines()]
    assert [h["id"] for h in history] == [int(a)]
    assert history[0]["approved_by"] == staff["admin"] and len(history[0]["hash"]) == 64
    assert "statements added" in history[0]["summary"]


def test_a_diff_hides_nothing_and_proposals_are_text(office, staff, workdir):
    """Found by the attack review (issue 12): a statement with \\# is shown
    whole; rules of powers or bounds are marked; control characters and
    files the parser never reads are refused; a racing withdrawal cannot
    leave a withdrawn policy in force."""
    import re
    s, m = office
    d = policy_copy(workdir, "pol5")
    conf = os.path.join(d, "access.conf")
    rules = open(conf).read().replace("procedure approve    department admin",
                                      "procedure approve    department tech")
    open(conf, "w").write(rules + "scratch .\\#%f  *  exfil-*\n")
    pid = re.search(r"#(\d+)", ok(staff["tech"], m, "policy", "propose", d, "--reason",
                                  "tidy comments")).group(1)
    diff = ok(staff["admin"], m, "policy", "diff", pid)
    assert "%f * exfil-*   <- WIDENS?" in diff, diff
    assert "+ procedure approve department tech   <- WIDENS?" in diff
    assert "2 rules of powers or bounds to weigh" in diff
    # Text only, and only the parser's two files.
    open(conf, "a").write("# \x1b]0;PWNED\x07\x1b[2J\n")
    assert "control character" in refused(staff["tech"], m, "policy", "propose", d,
                                          "--reason", "x")
    open(conf, "w").write(rules)
    open(os.path.join(d, "zz.conf"), "w").write("anything\n")
    os.chmod(os.path.join(d, "zz.conf"), 0o644)
    assert "nothing else" in refused(staff["tech"], m, "policy", "propose", d, "--reason", "x",
                                     code=2)
