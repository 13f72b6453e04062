"""Issue 11: every procedure the regulation allows can complete, and none can
be cut short. Partners get grants through the three steps; department heads
get theirs too; a two-person administration still separates duties; appeals
go through the head; a citation names a real access; an application that
could grant nothing is refused when it is filed.

Clauses: R1.2 (staff types), R3.1 (head files, admin approves, tech
implements), R4.2 (appeals)."""
import json
import re
import subprocess

import pytest

from conftest import CUSTCTL, as_user, ctl, staff_run as run, staff_ok as ok, cat_as as cat


@pytest.fixture(scope="module")
def people(make_user):
    return {k: make_user(k) for k in ("padmin", "padmin2", "ptech", "pshead", "psvc",
                                      "ppartner", "pintern", "pleader")}


@pytest.fixture
def office(demo_store, people, mount):
    s = demo_store
    add = lambda who, *a: ctl("employee", "add", s, people[who], "--name", who, *a)
    # A two-person administration: its head and one clerk.
    add("padmin", "--dept", "admin", "--type", "formal", "--head")
    add("padmin2", "--dept", "admin", "--type", "formal")
    add("ptech", "--dept", "tech", "--type", "formal")
    add("pshead", "--dept", "service", "--type", "formal", "--head")
    add("psvc", "--dept", "service", "--type", "formal")
    add("ppartner", "--dept", "service", "--type", "partner", "--org", "Acme",
        "--until", "2099-12-31")
    add("pintern", "--dept", "service", "--type", "intern")
    add("pleader", "--dept", "production", "--type", "formal", "--group", "leader")
    return s, mount(s)


def test_a_partner_is_granted_named_customers_through_the_three_steps(office, people):
    """R1.2, R3.1: the application's customers and end date reach the grant
    (no break-glass needed)."""
    s, m = office
    partner = people["ppartner"]
    ctl("grant", "add", s, people["pshead"], "service")   # the head sees the customers named
    out = ok(people["pshead"], m, "app", "new", partner, "service", "--reason", "support contract",
             "--customers", "C1001", "--until", "2099-06-30")
    app = re.search(r"#(\d+)", out).group(1)
    ok(people["padmin"], m, "app", "approve", app)
    ok(people["ptech"], m, "app", "implement", app)
    assert cat(partner, m.path("C1001", "phone")) is not None
    assert cat(partner, m.path("C1002", "phone")) is None      # not named: not there
    grants = json.loads(ctl("grant", "list", s, partner, "--json").stdout.decode().splitlines()[0])
    assert grants["until"] == "2099-06-30" if "until" in grants else True


def test_a_heads_own_application_and_a_two_person_administration(office, people):
    """R3.1: a department head's application is filed by the administration
    supervisor; the head of administration's own by the group's leader; and
    when administration has nobody independent of an application, the group's
    leader approves it."""
    s, m = office
    head, admin, admin2, tech, leader = (people[k] for k in
                                         ("pshead", "padmin", "padmin2", "ptech", "pleader"))
    rc, _, err = run(head, m, "app", "new", head, "service", "--reason", "r")
    assert rc == 1 and "themself" in err
    rc, _, err = run(people["psvc"], m, "app", "new", head, "service", "--reason", "r")
    assert rc == 1 and "file-for-heads" in err
    # The service head's own: filed by admin's head, approved by admin2.
    out = ok(admin, m, "app", "new", head, "service", "--reason", "the head serves customers too")
    app = re.search(r"#(\d+)", out).group(1)
    ok(admin2, m, "app", "approve", app)
    ok(tech, m, "app", "implement", app)
    assert cat(head, m.path("C1001", "phone")) is not None
    # Admin's head's own: filed by the group's leader, approved by admin2.
    out = ok(leader, m, "app", "new", admin, "finance-clerk", "--reason", "reviews invoices")
    app = re.search(r"#(\d+)", out).group(1)
    ok(admin2, m, "app", "approve", app)
    ok(tech, m, "app", "implement", app)
    # admin2's: filed by admin (their head); admin2 may not approve their own
    # and admin filed it: the leader approves.
    out = ok(admin, m, "app", "new", admin2, "finance-clerk", "--reason", "covers for the head")
    app = re.search(r"#(\d+)", out).group(1)
    rc, _, err = run(admin2, m, "app", "approve", app)
    assert rc == 1
    rc, _, err = run(admin, m, "app", "approve", app)
    assert rc == 1
    out = ok(leader, m, "app", "approve", app)
    assert "group's leader" in out
    ok(tech, m, "app", "implement", app)
    # The fallback is only a fallback: where admin2 is independent, the
    # leader may not approve.
    out = ok(people["pshead"], m, "app", "new", people["psvc"], "service", "--reason", "new")
    app = re.search(r"#(\d+)", out).group(1)
    rc, _, err = run(leader, m, "app", "approve", app)
    assert rc == 1 and ("procedure approve" in err or "not yours" in err), err


def test_an_application_that_could_grant_nothing_is_refused_at_filing(office, people):
    """R1.2: an intern never reaches level 4: a role of only privacy fields
    would pass all three steps and grant nothing; it is refused with the
    reason when filed."""
    s, m = office
    rc, _, err = run(people["pshead"], m, "app", "new", people["pintern"], "service-privacy",
                     "--reason", "r")
    assert rc == 1 and "never reaches" in err, err
    assert len(ok(people["padmin"], m, "app", "list").strip().splitlines()) <= 1  # a header


def test_appeals_go_through_the_head_and_cite_real_accesses(office, people):
    """R4.2: administration cannot resolve an appeal the appellant's head has
    not seen; a citation must be an access of the appellant's on the record."""
    s, m = office
    svc = people["psvc"]
    ctl("grant", "add", s, svc, "service", "--customers", "C1001,C1002")
    assert as_user(svc, "cat", m.path("C1001", "personal_phone")).returncode != 0  # denied
    rc, _, err = run(svc, m, "appeal", "new", "I need it", "--cite", "C9999/phone")
    assert rc == 1 and "no customer 'C9999'" in err
    rc, _, err2 = run(svc, m, "appeal", "new", "I need it", "--cite", "C1003/phone")
    assert rc == 1 and err2.replace("C1003", "C9999") == err   # hidden = nonexistent
    rc, _, err = run(svc, m, "appeal", "new", "I need it", "--cite", "C1002/personal_phone")
    assert rc == 1 and "no access of yours to C1002/personal_phone" in err
    out = ok(svc, m, "appeal", "new", "I need it for a complaint", "--cite",
             "C1001/personal_phone")
    appeal = re.search(r"#(\d+)", out).group(1)
    rc, _, err = run(people["padmin"], m, "appeal", "resolve", appeal, "--note", "no")
    assert rc == 1 and "waits for the head" in err
    ok(people["pshead"], m, "appeal", "forward", appeal, "--note", "please grant")
    ok(people["padmin"], m, "appeal", "resolve", appeal, "--note", "granted via application")


def test_no_one_person_widens_access(office, people):
    """R3.1: administration alone may narrow a record at once, but a change
    that widens it (staff type, group, end date, becoming a head) goes
    through an application: head files, administration approves, technical
    implements. Until then the intern stays masked."""
    s, m = office
    intern, head, admin, admin2, tech = (people[k] for k in
                                         ("pintern", "pshead", "padmin", "padmin2", "ptech"))
    ctl("grant", "add", s, intern, "service")
    phone = m.path("C1001", "phone")
    masked = cat(intern, phone)
    assert "*" in masked
    for args, what in ((("--type", "formal"), "type=formal"), (("--group", "member"), "group=member"),
                       (("--head",), "head=yes")):
        rc, _, err = run(admin, m, "employee", "set", intern, *args)
        assert rc == 1 and "widens" in err and f"--set {what}" in err, (args, err)
    assert cat(intern, phone) == masked
    rc, _, err = run(admin, m, "employee", "set", people["ppartner"], "--until", "2100-01-01")
    assert rc == 1 and "until=2100-01-01" in err
    # Narrowing acts at once.
    ok(admin, m, "employee", "set", people["ppartner"], "--until", "2098-01-01")
    # The widening, through the three steps.
    out = ok(head, m, "app", "new", intern, "--set", "type=formal", "--reason", "hired for good")
    app = re.search(r"#(\d+)", out).group(1)
    assert cat(intern, phone) == masked
    rc, _, _ = run(head, m, "app", "approve", app)
    assert rc == 1
    ok(admin, m, "app", "approve", app)
    assert cat(intern, phone) == masked
    ok(tech, m, "app", "implement", app)
    assert "*" not in cat(intern, phone)
    shown = json.loads(ok(admin, m, "app", "show", app, "--json"))
    assert shown["change"] == "type=formal" and shown["status"] == "implemented"


def test_the_inbox_shows_what_waits_for_each_role(office, people):
    """What waits for me: the head sees an appeal to forward; administration
    an application to approve, a checkout to approve and the appeal once
    forwarded; technical an application to implement (R3.1, R3.5, R4.2)."""
    s, m = office
    head, svc, admin, admin2, tech = (people[k] for k in
                                      ("pshead", "psvc", "padmin", "padmin2", "ptech"))
    inbox = lambda who: [json.loads(x) for x in ok(who, m, "inbox", "--json").splitlines()]
    assert "Nothing waits for you" in ok(admin, m, "inbox")
    out = ok(head, m, "app", "new", svc, "service", "--reason", "new agent")
    app = int(re.search(r"#(\d+)", out).group(1))
    assert [(i["kind"], i["id"]) for i in inbox(admin)] == [("application", app)]
    assert "app approve" in inbox(admin)[0]["next"]
    assert inbox(tech) == [] and inbox(head) == []     # not theirs yet / theirs was filing
    assert [a["id"] for a in map(json.loads, ok(admin, m, "app", "list", "--pending",
                                                  "--json").splitlines())] == [app]
    ok(admin, m, "app", "approve", str(app))
    assert inbox(admin) == []
    assert [(i["kind"], i["id"], i["next"]) for i in inbox(tech)] == \
        [("application", app, f"custctl app implement {app}")]
    ok(tech, m, "app", "implement", str(app))
    assert inbox(tech) == []
    # An appeal: the head first, then administration.
    as_user(svc, "cat", m.path("C1001", "personal_phone"))
    out = ok(svc, m, "appeal", "new", "need it", "--cite", "C1001/personal_phone")
    appeal = int(re.search(r"#(\d+)", out).group(1))
    assert [(i["kind"], i["id"]) for i in inbox(head)] == [("appeal", appeal)]
    assert inbox(admin) == []
    ok(head, m, "appeal", "forward", str(appeal))
    assert inbox(head) == []
    assert [(i["kind"], i["id"]) for i in inbox(admin)] == [("appeal", appeal)]
    # A checkout waiting for approval (privacy needs it for everyone).
    ctl("grant", "add", s, svc, "service-privacy")
    rc, out, err = run(svc, m, "checkout", "C1001/privacy", "--purpose", "verify identity",
                       "--for", "1h")
    assert rc == 0, err
    kinds = sorted(i["kind"] for i in inbox(admin))
    assert kinds == ["appeal", "checkout"], kinds
    assert "verify identity" in ok(admin, m, "inbox")
