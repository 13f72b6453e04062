#!/usr/bin/python3
"""Synthetic audit logs for the audit report's tests and benchmark.

Records are dicts; `tsv` turns them into the lines audit-load (audit_load.c)
appends to a store's log, chained and signed as custfs writes them; `tally`
counts them as the report must (independently of its C code). As a program
it writes a month of office life to standard output:

    synthlog.py --records 1000000 --customers 1-2000 | build/tests/tools/audit-load STORE

a million records in a few seconds: 200 people in seven departments (and
root), working hours with a little night work, denials by several rules (some
repeated, counted in one record), commands, root's break-glass commands and
reads, policy changes, accesses through checkouts, one person who reads
forty customers in 200 seconds and one who is denied eight times in 80.
"""
import argparse
import itertools
import random
import re
import sys
import time

S = 1_000_000_000

FIELDS = [("company", "basic"), ("contact", "basic"), ("phone", "basic"), ("email", "basic"),
          ("requirements", "business"), ("order_qty", "orders"),
          ("delivery_date", "orders"), ("feedback", "service"), ("credit_limit", "finance"),
          ("bank_account", "finance"), ("id_number", "privacy")]
DEPARTMENTS = ["sales", "production", "service", "admin", "tech", "finance", "R&D \"<lab>\""]
RULES = ["role", "department-ceiling", "stafftype-ceiling", "view", "hours", "checkout"]


def data_access(action):
    return (action.startswith("open") or action in ("read", "write", "create")
            or action.startswith("read-") or action.startswith("write-"))


def weight(r):
    """Accesses a record stands for: a repeated denial's count record, N."""
    if not r["allow"]:
        m = re.match(r"repeated (\d+) more time", r.get("detail", ""))
        if m and int(m.group(1)):
            return int(m.group(1))
    return 1


def rec(t, uid=0, login="", dept="", cust=0, field="", cls="", action="open-read", allow=True,
        rule="role", co=0, detail=""):
    return {"t": int(t), "uid": uid, "login": login, "dept": dept, "cust": cust,
            "field": field, "cls": cls, "action": action, "allow": allow, "rule": rule,
            "co": co, "detail": detail}


def line(r):
    for k in ("login", "dept", "field", "cls", "action", "rule", "detail"):
        assert "\t" not in r[k] and "\n" not in r[k], r
    return (f"{r['t']}\t{r['uid']}\t{r['login']}\t{r['dept']}\t{r['cust']}\t{r['field']}\t"
            f"{r['cls']}\t{r['action']}\t{1 if r['allow'] else 0}\t{r['rule']}\t{r['co']}\t"
            f"{r['detail']}\n")


def tsv(recs):
    return "".join(line(r) for r in recs)


def day_of(t, tz=None):
    """The local day of T (ns): in TZ (a zoneinfo name), or this process's."""
    if tz:
        import datetime
        import zoneinfo
        return datetime.datetime.fromtimestamp(t // S, zoneinfo.ZoneInfo(tz)).strftime("%Y-%m-%d")
    return time.strftime("%Y-%m-%d", time.localtime(t // S))


def tally(recs, tz=None):
    """What the report counts, by its definitions (custctl(1)): accesses to
    customer data, weighted, by department, person, class, day and
    department-day; denials by rule. People without a login are "uid N"."""
    out = {"accesses": 0, "denied": 0, "departments": {}, "people": {}, "classes": {},
           "rules": {}, "days": {}, "department_days": {}, "commands": 0, "break_glass": 0,
           "policy_changes": 0, "through_checkouts": 0}

    def add(table, key, w, deny):
        c = table.setdefault(key, [0, 0])
        c[0] += w
        c[1] += w if deny else 0

    for r in recs:
        a = r["action"]
        if a == "command":
            out["commands"] += 1
            out["break_glass"] += r["detail"].startswith("break-glass")
            continue
        if a == "command-done":
            continue
        if r["allow"] and r["rule"] == "break-glass":
            out["break_glass"] += 1
        if a.startswith("policy-"):
            out["policy_changes"] += 1
            continue
        if not data_access(a):
            continue
        w, deny = weight(r), not r["allow"]
        out["accesses"] += w
        out["denied"] += w if deny else 0
        out["through_checkouts"] += r["co"] != 0
        add(out["departments"], r["dept"], w, deny)
        add(out["people"], r["login"] or f"uid {r['uid']}", w, deny)
        add(out["classes"], r["cls"], w, deny)
        day = day_of(r["t"], tz)
        add(out["days"], day, w, deny)
        add(out["department_days"], (day, r["dept"]), w, deny)
        if deny:
            out["rules"][r["rule"]] = out["rules"].get(r["rule"], 0) + w
    return out


def month(n, start, days, seed, customers, people=200):
    """N records over DAYS days from START (local midnight, seconds)."""
    rnd = random.Random(seed)
    staff = [(2000 + i, f"u{i:04d}", DEPARTMENTS[i % len(DEPARTMENTS)]) for i in range(people)]
    per_day = max(1, n // days)
    burst_at, burst_who = per_day * 2 + per_day // 2, staff[7]      # day 3, mid-morning
    deny_at, deny_who = per_day * 4 + per_day // 3, staff[11]
    for i in range(n):
        d, k = divmod(i, per_day)
        frac = k / per_day
        if frac < 0.97:                          # 08:00-18:00
            tod = 8 * 3600 + frac / 0.97 * 10 * 3600
        else:                                    # 22:00-24:00: a little night work
            tod = 22 * 3600 + (frac - 0.97) / 0.03 * 2 * 3600 * 0.999
        t = (start + d * 86400 + tod) * S
        if i == burst_at:
            burst_t = t
        if burst_at <= i < burst_at + 40:        # forty customers in 200 s
            uid, login, dept = burst_who
            f, cls = FIELDS[0]
            yield rec(burst_t + (i - burst_at) * 5 * S, uid, login, dept,
                      customers[(i - burst_at) % len(customers)], f, cls)
            continue
        if i == deny_at:
            deny_t = t
        if deny_at <= i < deny_at + 8:           # denied 8 times in 80 s
            uid, login, dept = deny_who
            f, cls = FIELDS[8]
            yield rec(deny_t + (i - deny_at) * 10 * S, uid, login, dept, customers[0], f, cls,
                      "open-read", False, "role")
            continue
        x = rnd.random()
        if x < 0.01:                             # a command through the mount
            uid, login, dept = staff[rnd.randrange(people)]
            yield rec(t, uid, login, dept, 0, "", "", "command", True, "", 0, "checkouts")
            yield rec(t, uid, login, dept, 0, "", "", "command-done", True, "exit 0", 0,
                      "checkouts")
            continue
        if x < 0.0102:                           # root on the store files
            yield rec(t, 0, "", "", 0, "", "", "command", True, "root on the store files", 0,
                      "break-glass: employee list")
            continue
        if x < 0.0104:                           # root's read of a sensitive record
            f, cls = FIELDS[9]
            yield rec(t, 0, "", "", customers[rnd.randrange(len(customers))], f, cls,
                      "open-read", True, "break-glass")
            continue
        if x < 0.0105:
            uid, login, dept = staff[1]
            yield rec(t, uid, login, dept, 0, "", "", rnd.choice(
                ["policy-propose", "policy-approve", "policy-install"]), True, "policy", 0,
                "proposal #3: sales reads finance with a checkout")
            continue
        uid, login, dept = staff[rnd.randrange(people)]
        f, cls = FIELDS[rnd.randrange(len(FIELDS))]
        cust = customers[rnd.randrange(len(customers))]
        if x < 0.06:
            rule = RULES[rnd.randrange(len(RULES))]
            detail = f"repeated {rnd.randrange(2, 9)} more times within 10s" if x < 0.015 else ""
            yield rec(t, uid, login, dept, cust, f, cls, "open-read", False, rule, 0, detail)
        elif x < 0.07:
            yield rec(t, uid, login, dept, cust, f, cls, "open-read", True, "checkout",
                      1 + rnd.randrange(50))
        elif x < 0.2:
            yield rec(t, uid, login, dept, cust, f, cls, "open-rw", True, "role")
        else:
            yield rec(t, uid, login, dept, cust, f, cls, "open-read", True, "role")


def parse_ids(s):
    ids = []
    for part in s.split(","):
        lo, _, hi = part.partition("-")
        ids.extend(range(int(lo), int(hi or lo) + 1))
    return ids


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--start", default="2026-03-01", help="the first day (local time)")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--customers", default="1-40", help="customer ids, e.g. 1-40,45")
    a = ap.parse_args()
    start = int(time.mktime(time.strptime(a.start, "%Y-%m-%d")))
    out = sys.stdout
    buf = []
    # exactly --records (a command is two records: the last hours fall off)
    for r in itertools.islice(month(a.records, start, a.days, a.seed, parse_ids(a.customers)),
                              a.records):
        buf.append(line(r))
        if len(buf) >= 10000:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))


if __name__ == "__main__":
    main()
