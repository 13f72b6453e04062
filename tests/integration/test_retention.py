"""Issue 13: retention that deletes nothing silently (R3.4). The policy's
`keep` statements say how much history a class keeps; a prune, filed by
technical, approved by administration and implemented by another technical
person, removes the rest and says what it removed; the current value always
stays; `custctl store stats` shows size by class and growth."""
import json
import os
import re
import sqlite3
import subprocess

import pytest

from conftest import CUSTCTL, POLICY, ctl, staff_run as run, staff_ok as ok, versions


@pytest.fixture(scope="module")
def people(make_user):
    return {k: make_user(k) for k in ("rtech1", "rtech2", "radmin")}


def test_a_prune_through_the_three_steps_keeps_current_values(demo_store, people, mount,
                                                              workdir):
    s = demo_store
    d = os.path.join(workdir, "policy-keep")
    os.makedirs(d)
    for name in os.listdir(POLICY):
        text = open(os.path.join(POLICY, name)).read()
        if name == "access.conf":
            text = re.sub(r"^keep .*$", "", text, flags=re.M) + "\nkeep basic versions 2\n"
        open(os.path.join(d, name), "w").write(text)
    ctl("policy", "reload", s, "--from", d)
    for who, dept in (("rtech1", "tech"), ("rtech2", "tech"), ("radmin", "admin")):
        ctl("employee", "add", s, people[who], "--name", who, "--dept", dept, "--type", "formal")
    m = mount(s)
    phone = m.path("C1001", "phone")
    for n in range(5):
        with open(phone, "w") as f:
            f.write(f"1390000000{n}\n")
    assert versions(s, "C1001", "phone") == [1, 2, 3, 4, 5, 6]
    assert versions(s, "C1002", "phone") == [1]
    preview = ok(people["rtech1"], m, "prune", "preview")
    assert re.search(r"basic\s+4 versions", preview), preview
    out = ok(people["rtech1"], m, "prune", "new", "--reason", "yearly retention run")
    pid = re.search(r"#(\d+)", out).group(1)
    assert run(people["rtech2"], m, "prune", "implement", pid)[0] == 1   # not yet approved
    assert run(people["rtech1"], m, "prune", "approve", pid)[0] == 1     # not technical's step
    ok(people["radmin"], m, "prune", "approve", pid)
    assert run(people["rtech1"], m, "prune", "implement", pid)[0] == 1   # who filed it
    out = ok(people["rtech2"], m, "prune", "implement", pid)
    assert re.search(r"basic\s+4 versions", out), out
    assert versions(s, "C1001", "phone") == [5, 6]
    assert versions(s, "C1002", "phone") == [1]                        # the current one stays
    assert open(phone).read() == "13900000004\n"
    m.stop()
    audit = [json.loads(l) for l in ctl("audit", s, "--json").stdout.decode().splitlines()]
    pruned = [a for a in audit if a["action"] == "prune"]
    assert len(pruned) == 1 and "basic 4" in pruned[0]["detail"]
    assert b"OK" in ctl("audit", "verify", s).stdout
    # Nothing else may delete a version: the append-only trigger is back.
    db = sqlite3.connect(os.path.join(s, "custfs.db"))
    with pytest.raises(sqlite3.DatabaseError):
        db.execute("DELETE FROM versions WHERE version = 5")
        db.commit()
    db.close()
    stats = json.loads(ctl("store", "stats", s, "--json").stdout)
    basic = next(c for c in stats["classes"] if c["class"] == "basic")
    assert basic["versions"] > 0 and stats["customers"] == 36
    assert stats["versions_per_day"][0] > 0 and stats["audit_records"] > 0
