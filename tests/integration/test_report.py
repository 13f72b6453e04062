"""Issue 14 (R5.1, R2.1, R3.5): the audit report people hand on, for a
period, as text, CSV, JSON and one self-contained HTML file -- every figure
checked against a log of known content (written through the library's own
chain and signature by tests/tools/audit-load), names that are hostile HTML,
the HTML rendered by headless Chromium, and a generated month of records."""
import csv
import datetime
import html.parser
import io
import json
import os
import pwd
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib
import zoneinfo

import pytest

from conftest import BUILD, CUSTCTL, DEMO_CSV, POLICY, ROOT, ctl, staff_ok, staff_run

sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import synthlog  # noqa: E402

LOAD = os.path.join(BUILD, "tests", "tools", "audit-load")
TZ = "Asia/Shanghai"   # days are local days: not UTC's
ZONE = zoneinfo.ZoneInfo(TZ)
S = synthlog.S
HOSTILE_CUSTOMER = '<img src=x onerror=alert(1)> & "Co" <script>'
HOSTILE_LOGIN = '<script>alert("x")</script>'
HOSTILE_DEPT = 'R&D "<lab>"'
POLICY_NOTE = '=1+2 <b>bold</b> & "q"'
FORMATS = ("text", "csv", "json", "html")


def at(day, hh, mm, ss=0):
    """2026-03-DAY HH:MM in TZ, plus SS seconds, as nanoseconds."""
    t = datetime.datetime(2026, 3, day, hh, mm, tzinfo=ZONE) + datetime.timedelta(seconds=ss)
    return int(t.timestamp()) * S


def env():
    return dict(os.environ, TZ=TZ)


def report(store, *args, check=True):
    p = subprocess.run([CUSTCTL, "audit", "report", store, *args], capture_output=True,
                       timeout=120, env=env())
    if check:
        assert p.returncode == 0, p.stderr.decode()
    return p


def load(store, recs):
    p = subprocess.run([LOAD, store], input=synthlog.tsv(recs).encode(), capture_output=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr.decode()


def customers(store):
    out = subprocess.run([LOAD, store, "--customers"], capture_output=True, check=True,
                         timeout=60).stdout.decode()
    return {name: int(i) for i, name in (l.split("\t", 1) for l in out.splitlines())}


def known_records(cust, hostile):
    """A log whose every figure is known: three days of the period, a record
    on each side of it, root's and a stranger's accesses, hostile names."""
    R = synthlog.rec
    recs = [R(at(1, 23, 59, 59), 3001, "alice", "sales", cust[0], "company", "basic")]  # before
    # 2026-03-02
    recs += [R(at(2, 9, 0, i), 3001, "alice", "sales", cust[i], "company", "basic")
             for i in range(3)]
    recs += [R(at(2, 9, 5, 0), 3002, "bob", "production", cust[0], "order_qty", "orders"),
             R(at(2, 9, 5, 1), 3002, "bob", "production", cust[1], "order_qty", "orders",
               "open-rw"),
             R(at(2, 9, 5, 2), 3002, "bob", "production", cust[1], "phone", "basic",
               "open-read", False, "department-ceiling"),
             R(at(2, 10, 0, 0), 0, "", "", cust[2], "company", "basic", rule="root"),
             R(at(2, 10, 0, 1), 0, "", "", cust[3], "company", "basic", rule="root"),
             R(at(2, 10, 0, 2), 0, "", "", cust[3], "credit_limit", "finance",
               rule="break-glass"),
             R(at(2, 10, 1, 0), 4242, "", "", cust[4], "company", "basic", allow=False,
               rule="not-on-register"),
             R(at(2, 11, 0, 0), 3003, HOSTILE_LOGIN, HOSTILE_DEPT, hostile, "company", "basic"),
             R(at(2, 11, 0, 1), 3003, HOSTILE_LOGIN, HOSTILE_DEPT, hostile, "company", "basic",
               "close", detail="10 bytes read"),
             R(at(2, 11, 0, 2), 3003, HOSTILE_LOGIN, HOSTILE_DEPT, hostile, "phone", "basic",
               "probe-hidden", False, "hidden"),
             R(at(2, 12, 0, 0), 3001, "alice", "sales", 0, "", "", "command", True, "", 0,
               "checkouts"),
             R(at(2, 12, 0, 1), 3001, "alice", "sales", 0, "", "", "command-done", True,
               "exit 0", 0, "checkouts"),
             R(at(2, 12, 30, 0), 0, "", "", 0, "", "", "command", True,
               "root on the store files", 0, "break-glass: employee list"),
             R(at(2, 13, 0, 0), 3007, "carol", "tech", 0, "", "", "policy-propose", True,
               "policy", 0, POLICY_NOTE)]
    # 2026-03-03: a night access, 25 customers in four minutes, denials again and again
    recs.append(R(at(3, 23, 30, 0), 3004, "dave", "sales", cust[5], "company", "basic"))
    recs += [R(at(3, 10, 0, 10 * i), 3005, "erin", "production", cust[i], "order_qty", "orders")
             for i in range(25)]
    recs += [R(at(3, 14, 0, 20 * i), 3006, "frank", "sales", cust[0], "credit_limit", "finance",
               "open-read", False, "role") for i in range(6)]
    recs.append(R(at(3, 14, 2, 30), 3006, "frank", "sales", cust[0], "credit_limit", "finance",
                  "open-read", False, "role", 0, "repeated 4 more times within 10s"))
    recs += [R(at(3, 15, 0, 0), 3001, "alice", "sales", cust[6], "credit_limit", "finance",
               rule="checkout", co=7),
             R(at(3, 15, 0, 1), 3001, "alice", "sales", cust[6], "bank_account", "finance",
               rule="checkout", co=7)]
    # 2026-03-04: its last half minute is in the period (--to is inclusive), midnight not
    recs.append(R(at(4, 23, 59, 30), 3002, "bob", "production", cust[7], "order_qty", "orders"))
    recs.append(R(at(5, 0, 0, 0), 3001, "alice", "sales", cust[0], "company", "basic"))
    recs.sort(key=lambda r: r["t"])
    return recs


@pytest.fixture
def known(workdir):
    store = os.path.join(workdir, "store")
    ctl("init", store, "--policy", POLICY)
    ctl("import", store, DEMO_CSV)
    hostile_csv = os.path.join(workdir, "hostile.csv")
    with open(hostile_csv, "w", newline="") as f:
        csv.writer(f).writerows([["id", "company"], [HOSTILE_CUSTOMER, "ACME"]])
    ctl("import", store, hostile_csv)
    ids = customers(store)
    cust = sorted(i for name, i in ids.items() if name != HOSTILE_CUSTOMER)[:30]
    recs = known_records(cust, ids[HOSTILE_CUSTOMER])
    load(store, recs)
    period = [r for r in recs if at(2, 0, 0) <= r["t"] < at(5, 0, 0)]
    # Each record's seq, by its time (unique in this log).
    listed = [json.loads(l) for l in ctl("audit", store, "--json").stdout.decode().splitlines()]
    seq = {r["time_ns"]: r["seq"] for r in listed}
    return store, period, seq, cust


PERIOD = ("--from", "2026-03-02", "--to", "2026-03-04")


def expect(period):
    return synthlog.tally(period, TZ)


def label(dept):
    return dept or "(none)"


# ---- the figures, format by format ----

def test_json_has_every_figure_of_a_known_log(known):
    store, period, seq, cust = known
    want = expect(period)
    js = json.loads(report(store, *PERIOD, "--format", "json").stdout)
    assert js["report"] == "custfs-audit-report" and js["version"] == 1
    assert js["period"]["from"] == "2026-03-02" and js["period"]["to"] == "2026-03-04"
    assert js["period"]["from_time"] == "2026-03-02T00:00:00+08:00"
    assert js["period"]["until_time"] == "2026-03-05T00:00:00+08:00"
    assert js["records"]["read"] == len(period)
    t = js["totals"]
    assert (t["accesses"], t["denied"]) == (want["accesses"], want["denied"]) == (50, 12)
    assert t["through_checkouts"] == 2 and t["commands"] == 2
    assert t["break_glass"] == 2 and t["policy_changes"] == 1
    # Every department, root's and the stranger's in one row ("" : no department).
    assert {d["department"]: [d["accesses"], d["denied"]] for d in js["departments"]} == \
        want["departments"]
    assert want["departments"] == {"sales": [16, 10], "production": [29, 1], "": [4, 1],
                                   HOSTILE_DEPT: [1, 0]}
    assert [d["department"] for d in js["departments"]] == sorted(want["departments"])
    assert {(p["login"] or f"uid {p['uid']}"): [p["accesses"], p["denied"]]
            for p in js["people"]} == want["people"]
    assert {c["class"]: [c["accesses"], c["denied"]] for c in js["classes"]} == want["classes"]
    assert {r["rule"]: r["denied"] for r in js["denials_by_rule"]} == want["rules"]
    assert js["denials_by_rule"][0] == {"rule": "role", "denied": 10}
    assert {d["day"]: [d["accesses"], d["denied"]] for d in js["days"]} == want["days"]
    assert [d["day"] for d in js["days"]] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    cells = {(d["day"], c["department"]): [c["accesses"], c["denied"]]
             for d in js["days"] for c in d["departments"]}
    assert cells == want["department_days"]
    # The anomalies, with the records that show them.
    got = {(a["kind"], a["login"]): a for a in js["anomalies"]}
    assert set(got) == {("night", "dave"), ("night", "bob"), ("many-customers", "erin"),
                        ("denials", "frank")}
    erin = got[("many-customers", "erin")]
    assert erin["count"] == 25 and erin["records"] == 25
    assert erin["seqs"] == [seq[at(3, 10, 0, 10 * i)] for i in range(25)]
    frank = got[("denials", "frank")]
    assert frank["count"] == 10 and frank["records"] == 7
    assert frank["seqs"] == [seq[at(3, 14, 0, 20 * i)] for i in range(6)] + [seq[at(3, 14, 2, 30)]]
    assert got[("night", "bob")]["seqs"] == [seq[at(4, 23, 59, 30)]]
    assert got[("night", "dave")]["count"] == 1
    # Policy changes and break-glass uses, by record.
    assert [(c["seq"], c["login"], c["detail"]) for c in js["policy_changes"]] == \
        [(seq[at(2, 13, 0)], "carol", POLICY_NOTE)]
    assert [g["seq"] for g in js["break_glass"]] == [seq[at(2, 10, 0, 2)], seq[at(2, 12, 30)]]
    names = {i: name for name, i in customers(store).items()}
    assert js["break_glass"][0]["customer"] == names[cust[3]]
    # People and customers as they are, for programs.
    assert any(p["login"] == HOSTILE_LOGIN and p["department"] == HOSTILE_DEPT
               for p in js["people"])


def test_the_sample_is_drawn_from_data_accesses_only(known):
    store, period, seq, cust = known
    accesses = {seq[r["t"]] for r in period if synthlog.data_access(r["action"])}
    others = {seq[r["t"]] for r in period} - accesses
    assert len(accesses) == 47 and others
    js = json.loads(report(store, *PERIOD, "--format", "json", "--sample", "1000").stdout)
    assert {r["seq"] for r in js["sample"]} == accesses     # all of them, nothing else
    assert [r["seq"] for r in js["sample"]] == sorted(accesses)
    seen = set()
    for _ in range(5):
        js = json.loads(report(store, *PERIOD, "--json", "--sample", "5").stdout)
        drawn = [r["seq"] for r in js["sample"]]
        assert len(drawn) == len(set(drawn)) == 5 and set(drawn) <= accesses
        seen |= set(drawn)
    assert len(seen) > 5                                    # drawn at random
    # The verb too: audit sample N draws data accesses, never commands.
    out = subprocess.run([CUSTCTL, "audit", "sample", store, "60", "--json", *PERIOD],
                         capture_output=True, check=True, timeout=60, env=env()).stdout.decode()
    assert {json.loads(l)["seq"] for l in out.splitlines()} == accesses


def _text_rows(section):
    rows = {}
    for line in section.strip("\n").splitlines()[1:]:            # after the column heads
        m = re.match(r"^  (.*?)\s+(\d+)\s+(\d+)$", line)
        assert m, line
        rows[m.group(1)] = [int(m.group(2)), int(m.group(3))]
    return rows


def test_text_counts_every_department_and_day(known):
    store, period, seq, cust = known
    want = expect(period)
    out = report(store, *PERIOD).stdout.decode()
    assert "period: 2026-03-02 to 2026-03-04" in out
    assert "50 accesses, 12 denied, 2 through checkouts; 2 commands, 2 break-glass" in out
    dept = out.split("accesses by department:\n")[1].split("\n\n")[0]
    assert _text_rows(dept) == {label(k): v for k, v in want["departments"].items()}
    days = out.split("accesses per department per day:\n")[1].split("\n\n")[0]
    cells, day = {}, None
    for line in days.splitlines()[1:]:
        m = re.match(r"^  (\d{4}-\d\d-\d\d)?\s+(.*?)\s+(\d+)\s+(\d+)$", line)
        assert m, line
        day = m.group(1) or day
        cells[(day, m.group(2))] = [int(m.group(3)), int(m.group(4))]
    assert cells == {(d, label(k)): v for (d, k), v in want["department_days"].items()}
    people = out.split("by person:\n")[1].split("\n\n")[0]
    rows = _text_rows(people)
    assert rows["root ((none))"] == [3, 0] and rows["uid 4242 ((none))"] == [1, 1]
    assert rows["erin (production)"] == [25, 0]
    assert "erin read 25 different customers within ten minutes (records " in out
    assert "dave accessed customer data at night (22:00-06:00): 1 time (" in out
    assert "frank was denied 10 times within ten minutes" in out
    assert re.search(rf"propose +by carol +{re.escape(POLICY_NOTE)} \(record {seq[at(2, 13, 0)]}\)",
                     out)


def test_csv_is_one_table_quoted_and_formula_safe(known):
    store, period, seq, cust = known
    want = expect(period)
    raw = report(store, *PERIOD, "--format", "csv").stdout.decode()
    assert raw.endswith("\r\n") and "\n" not in raw.replace("\r\n", "")
    assert '"R&D ""<lab>"""' in raw                        # RFC 4180 quoting
    rows = list(csv.DictReader(io.StringIO(raw, newline="")))
    assert list(rows[0]) == ["section", "item", "value", "day", "department", "login", "uid",
                             "class", "rule", "customer", "field", "action", "decision",
                             "status", "accesses", "denied", "seq", "time", "detail"]
    by = lambda sec: [r for r in rows if r["section"] == sec]
    summary = {r["item"]: r["value"] for r in by("summary")}
    assert summary["accesses"] == "50" and summary["denied"] == "12"
    assert summary["from"] == "2026-03-02" and summary["to"] == "2026-03-04"
    assert {r["department"]: [int(r["accesses"]), int(r["denied"])]
            for r in by("department")} == want["departments"]
    assert {(r["day"], r["department"]): [int(r["accesses"]), int(r["denied"])]
            for r in by("department_day")} == want["department_days"]
    assert {(r["login"] or f"uid {r['uid']}"): [int(r["accesses"]), int(r["denied"])]
            for r in by("person")} == want["people"]
    assert {r["rule"]: int(r["denied"]) for r in by("denial_rule")} == want["rules"]
    # A cell a spreadsheet would run as a formula is text.
    assert [r["detail"] for r in by("policy_change")] == ["'" + POLICY_NOTE]
    anomalies = {(r["item"], r["login"]): r for r in by("anomaly")}
    assert anomalies[("denials", "frank")]["value"] == "10"
    assert anomalies[("many-customers", "erin")]["detail"].split() == \
        [str(seq[at(3, 10, 0, 10 * i)]) for i in range(25)]


class Tables(html.parser.HTMLParser):
    """The tables of an HTML document by id (rows of cell texts), and every
    element and attribute it holds."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tables, self.tags, self.attrs, self.texts = {}, [], [], []
        self._table = self._row = self._cell = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]
        a = dict(attrs)
        if tag == "table" and "id" in a:
            self._table = self.tables.setdefault(a["id"], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = self._row = None

    def handle_data(self, data):
        self.texts.append(data)
        if self._cell is not None:
            self._cell.append(data)


def check_html_figures(doc, period):
    """The figures a person reads in the HTML (or in the DOM Chromium built)."""
    want = expect(period)
    t = Tables(doc)
    summary = {r[0]: int(r[1]) for r in t.tables["t-summary"]}
    assert summary["accesses to customer data"] == 50 and summary["denied"] == 12
    assert summary["break-glass uses"] == 2 and summary["unusual behaviour"] == 4
    assert {r[0]: [int(r[1]), int(r[2])] for r in t.tables["t-departments"][1:]} == \
        {label(k): v for k, v in want["departments"].items()}
    head, *rows = t.tables["t-department-days"]
    assert head[0] == "day" and head[-2:] == ["all", "denied"]
    cells = {}
    for r in rows:
        for dept, n in zip(head[1:-2], r[1:-2]):
            if int(n):
                cells[(r[0], dept)] = int(n)
        assert [int(r[-2]), int(r[-1])] == want["days"][r[0]]
    assert cells == {(d, label(k)): v[0] for (d, k), v in want["department_days"].items()}
    assert {r[0]: int(r[1]) for r in t.tables["t-rules"][1:]} == want["rules"]
    people = {r[0]: [int(r[2]), int(r[3])] for r in t.tables["t-people"][1:]}
    assert people[HOSTILE_LOGIN] == [1, 0] and people["root"] == [3, 0]
    anomalies = {(r[0], r[2]): r for r in t.tables["t-anomalies"][1:]}
    assert anomalies[("erin", "different customers within ten minutes")][3] == "25"
    assert anomalies[("frank", "denials within ten minutes")][3] == "10"
    # Hostile names are text, never markup: no script, image, link or handler.
    assert not {"script", "img", "iframe", "object", "embed", "link", "a", "form",
                "base"} & set(t.tags)
    assert not [a for a in t.attrs if a[1].startswith("on") or a[1] in ("src", "href")]
    text = "".join(t.texts)
    assert HOSTILE_LOGIN in text and HOSTILE_CUSTOMER in text and HOSTILE_DEPT in text
    assert POLICY_NOTE in text
    return t


def test_html_is_one_self_contained_file_with_the_figures(known):
    store, period, seq, cust = known
    doc = report(store, *PERIOD, "--format", "html", "--sample", "100").stdout.decode()
    assert doc.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in doc
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', doc)
    assert csp and "default-src 'none'" in csp.group(1) and "script-src" not in csp.group(1)
    # No address of anything anywhere: nothing to load, nothing to leak to.
    assert not re.search(r"(?i)\b(?:https?|ftp|file|javascript|ws|wss):|//|url\(|@import",
                         doc)
    assert "<svg" in doc and "<style>" in doc and "<script" not in doc.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in doc
    t = check_html_figures(doc, period)
    assert {"svg", "rect", "style"} <= set(t.tags)


# ---- headless Chromium ----

def _png_pixels(path, rows):
    """The RGB(A) pixels of the first ROWS rows of an 8-bit PNG (zlib only)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    w, h, depth, ctype = ihdr[:4]
    assert depth == 8 and ctype in (2, 6)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    prev = bytearray(stride)
    out = []
    for y in range(min(rows, h)):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out.append(bytes(line))
        prev = line
    return w, h, bpp, out


def chromium(*args, timeout=60):
    exe = shutil.which("chromium")
    if not exe:
        pytest.skip("chromium is not installed (scripts/install-deps installs it)")
    return subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-dev-shm-usage", "--no-first-run", "--enable-logging=stderr",
                           "--v=0", *args], capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def _page_errors(stderr):
    """Chromium's lines about the page itself: a refused load or script, a
    console error. (Its own complaints, about D-Bus or the GPU, are not.)"""
    return [l for l in stderr.decode(errors="replace").splitlines()
            if re.search(r"Refused to|CONSOLE|Uncaught|Content Security Policy|"
                         r"net::ERR|Failed to load", l)]


def test_chromium_renders_the_html_report_with_the_figures(known, workdir):
    store, period, seq, cust = known
    page = os.path.join(workdir, "report.html")
    with open(page, "wb") as f:
        f.write(report(store, *PERIOD, "--format", "html", "--sample", "100").stdout)
    profile = os.path.join(workdir, "chromium-profile")
    png = os.path.join(workdir, "report.png")
    t0 = time.monotonic()
    shot = chromium(f"--user-data-dir={profile}", f"--screenshot={png}",
                    "--window-size=1200,2000", "file://" + page)
    dom = chromium(f"--user-data-dir={profile}", "--dump-dom", "file://" + page)
    took = time.monotonic() - t0
    print(f"chromium: screenshot and DOM in {took:.1f} s")
    assert shot.returncode == 0, shot.stderr.decode()[-2000:]
    assert dom.returncode == 0, dom.stderr.decode()[-2000:]
    assert not _page_errors(shot.stderr) and not _page_errors(dom.stderr)
    # The DOM Chromium built has the figures, and no script in it.
    check_html_figures(dom.stdout.decode(), period)
    # The screenshot: the size asked, and not blank (text, bars, colours).
    assert os.path.getsize(png) > 20_000
    w, h, bpp, rows = _png_pixels(png, 900)
    assert (w, h) == (1200, 2000)
    colours, ink = set(), 0
    for line in rows:
        for x in range(0, w * bpp, bpp * 3):
            px = line[x:x + 3]
            colours.add(px)
            ink += px != b"\xff\xff\xff"
    assert len(colours) > 20, len(colours)
    assert ink > 0.03 * len(rows) * (w // 3), ink
    # The bars are drawn in the chart's colours (#4e79a7 and the red of denials).
    assert b"\x4e\x79\xa7" in colours and b"\xe1\x57\x59" in colours


def test_counts_are_whole_numbers_in_range(known):
    """--many, --sample and audit sample N take digits only, in range: "5x",
    "-1" and a number past int are usage errors, not a silent atoi (R5.1)."""
    store = known[0]
    for args in (("--many", "5x"), ("--many", "1"), ("--many", "99999999999999"),
                 ("--sample", "-1"), ("--sample", "10001"), ("--sample", "3 ")):
        p = report(store, *args, check=False)
        assert p.returncode == 2 and b"takes" in p.stderr, (args, p.stderr)
    assert report(store, "--many", "5", "--sample", "3").returncode == 0
    for n, code in (("5x", 2), ("0", 2), ("5", 0)):
        p = subprocess.run([CUSTCTL, "audit", "sample", store, n], capture_output=True,
                           timeout=60, env=env())
        assert p.returncode == code, (n, p.stderr)


def test_chromium_renders_the_report_in_chinese(known, workdir):
    """Under zh_CN the HTML report is in Chinese (lang="zh-CN", headings and
    table labels translated) and Chromium renders it with a font that has
    the glyphs (scripts/install-deps installs one)."""
    store, period, seq, cust = known
    zh = dict(env(), LANG="zh_CN.UTF-8")
    zh.pop("LC_ALL", None), zh.pop("LANGUAGE", None), zh.pop("LC_MESSAGES", None)
    p = subprocess.run([CUSTCTL, "audit", "report", store, *PERIOD, "--format", "html"],
                       capture_output=True, timeout=120, env=zh)
    assert p.returncode == 0, p.stderr.decode()
    page = os.path.join(workdir, "report-zh.html")
    with open(page, "wb") as f:
        f.write(p.stdout)
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True)
    assert fonts.stdout.strip(), "no font with Chinese glyphs (scripts/install-deps)"
    profile = os.path.join(workdir, "chromium-profile-zh")
    png = os.path.join(workdir, "report-zh.png")
    shot = chromium(f"--user-data-dir={profile}", f"--screenshot={png}",
                    "--window-size=1200,2000", "file://" + page)
    dom = chromium(f"--user-data-dir={profile}", "--dump-dom", "file://" + page)
    assert shot.returncode == 0 and dom.returncode == 0, shot.stderr.decode()[-2000:]
    assert not _page_errors(shot.stderr) and not _page_errors(dom.stderr)
    doc = dom.stdout.decode()
    assert 'lang="zh-CN"' in doc
    headings = re.findall(r"<h[12][^>]*>([^<]*)", doc)
    assert headings and all(re.search(r"[\u4e00-\u9fff]", h) for h in headings), headings
    assert os.path.getsize(png) > 20_000


# ---- through a mount: checkouts, late returns, --output ----

@pytest.fixture(scope="module")
def staff(make_user):
    return {k: make_user(k) for k in ("radm", "rfin", "rfin2", "rclerk")}


def test_checkouts_late_returns_and_output_through_the_mount(demo_store, staff, mount,
                                                             workdir):
    s = demo_store
    add = lambda who, *a: ctl("employee", "add", s, staff[who], "--name", who, *a)
    add("radm", "--dept", "admin", "--type", "formal", "--head", "--group", "leader")
    add("rfin", "--dept", "admin", "--type", "formal")
    add("rfin2", "--dept", "admin", "--type", "formal")
    add("rclerk", "--dept", "sales", "--type", "formal")
    ctl("grant", "add", s, staff["rfin"], "finance-clerk")
    ctl("grant", "add", s, staff["rfin2"], "finance-clerk")
    m = mount(s)
    purpose = '<script>"q&a"'
    co1 = json.loads(staff_ok(staff["rfin"], m, "checkout", "C1001/finance", "--purpose",
                              purpose, "--for", "30m", "--json"))["id"]
    assert subprocess.run(["runuser", "-u", staff["rfin"], "--", "cat",
                           m.path("C1001", "credit_limit")], capture_output=True).returncode == 0
    staff_ok(staff["rfin"], m, "return", str(co1))
    co2 = json.loads(staff_ok(staff["rfin2"], m, "checkout", "C1003/credit_limit", "--purpose",
                              "call back", "--for", "2s", "--json"))["id"]
    assert subprocess.run(["runuser", "-u", staff["rfin2"], "--", "cat",
                           m.path("C1003", "credit_limit")], capture_output=True).returncode == 0
    m.expected.append("expired unreturned")
    deadline = time.time() + 15
    while time.time() < deadline:
        rows = [json.loads(l) for l in staff_ok(staff["radm"], m, "checkouts", "--all",
                                                 "--json").splitlines()]
        if any(r["id"] == co2 and r["status"] == "expired" for r in rows):
            break
        time.sleep(0.3)
    js = json.loads(staff_ok(staff["radm"], m, "audit", "report", "--json"))
    cos = {c["id"]: c for c in js["checkouts"]}
    assert cos[co1]["status"] == "returned" and not cos[co1]["late"]
    assert cos[co1]["purpose"] == purpose and cos[co1]["login"] == staff["rfin"]
    assert cos[co1]["customer"] == "C1001" and cos[co1]["target"] == "finance"
    assert cos[co1]["accesses"] == 1
    assert cos[co2]["status"] == "expired" and cos[co2]["late"] and cos[co2]["accesses"] == 1
    assert js["totals"]["late_returns"] == 1 and js["totals"]["checkouts"] == 2
    assert js["totals"]["through_checkouts"] == 2
    text = staff_ok(staff["radm"], m, "audit", "report")
    assert f"#{co2} {staff['rfin2']}: C1003/credit_limit" in text and "LATE" in text
    # --output: written by custctl as its caller (custfs writes no file), 0600, whole.
    outdir = os.path.join(workdir, "out")
    os.mkdir(outdir)
    uid = pwd.getpwnam(staff["radm"]).pw_uid
    os.chown(outdir, uid, 0)
    page = os.path.join(outdir, "report.html")
    assert staff_ok(staff["radm"], m, "audit", "report", "--format", "html", "--output",
                    page) == ""
    st = os.stat(page)
    assert st.st_uid == uid and st.st_mode & 0o777 == 0o600
    doc = open(page, encoding="utf-8").read()
    assert doc.rstrip().endswith("</html>") and "&lt;script&gt;&quot;q&amp;a&quot;" in doc
    assert "<script" not in doc.lower()
    # A report that fails leaves no file; a staff member who is not the
    # group's or administration's gets none.
    bad = os.path.join(outdir, "bad.pdf")
    rc, _, err = staff_run(staff["radm"], m, "audit", "report", "--format", "pdf", "--output",
                           bad)
    assert rc == 2 and "--format is text, csv, json or html" in err
    assert sorted(os.listdir(outdir)) == ["report.html"]
    rc, _, err = staff_run(staff["rclerk"], m, "audit", "report")
    assert rc == 1 and "administration" in err


# ---- a generated month ----

def _month_store(workdir, n):
    store = os.path.join(workdir, "month")
    ctl("init", store, "--policy", POLICY)
    assert subprocess.run([LOAD, store, "--make-customers", "300"], timeout=120).returncode == 0
    start = int(datetime.datetime(2026, 3, 1, tzinfo=ZONE).timestamp())
    recs = list(synthlog.month(n, start, 30, 14, list(range(1, 301))))
    load(store, recs)
    return store, recs


def test_a_generated_month_counts_right_in_every_format(workdir):
    """20,000 generated records (the benchmark's generator, smaller): every
    department, day and rule as an independent count says, in all four
    formats."""
    store, recs = _month_store(workdir, 20_000)
    period = [r for r in recs if at(1, 0, 0) <= r["t"] < at(31, 0, 0) + 86400 * S]
    want = synthlog.tally(period, TZ)
    args = ("--from", "2026-03-01", "--to", "2026-03-31")
    js = json.loads(report(store, *args, "--json").stdout)
    assert (js["totals"]["accesses"], js["totals"]["denied"]) == (want["accesses"],
                                                                  want["denied"])
    assert {d["department"]: [d["accesses"], d["denied"]] for d in js["departments"]} == \
        want["departments"]
    assert {(d["day"], c["department"]): [c["accesses"], c["denied"]]
            for d in js["days"] for c in d["departments"]} == want["department_days"]
    assert {r["rule"]: r["denied"] for r in js["denials_by_rule"]} == want["rules"]
    assert js["totals"]["break_glass"] == want["break_glass"]
    assert js["totals"]["policy_changes"] == want["policy_changes"]
    assert js["totals"]["commands"] == want["commands"]
    kinds = {(a["kind"], a["login"]) for a in js["anomalies"]}
    assert ("many-customers", "u0007") in kinds and ("denials", "u0011") in kinds
    rows = list(csv.DictReader(io.StringIO(report(store, *args, "--format", "csv")
                                           .stdout.decode(), newline="")))
    assert {r["department"]: [int(r["accesses"]), int(r["denied"])] for r in rows
            if r["section"] == "department"} == want["departments"]
    text = report(store, *args).stdout.decode()
    dept = text.split("accesses by department:\n")[1].split("\n\n")[0]
    assert _text_rows(dept) == {label(k): v for k, v in want["departments"].items()}
    t = Tables(report(store, *args, "--format", "html").stdout.decode())
    assert {r[0]: [int(r[1]), int(r[2])] for r in t.tables["t-departments"][1:]} == \
        {label(k): v for k, v in want["departments"].items()}


@pytest.mark.skipif(not os.environ.get("CUSTFS_BENCH"),
                    reason="a million records: scripts/report-bench, or CUSTFS_BENCH=1")
def test_a_million_records_in_under_ten_seconds_each_format(workdir):
    p = subprocess.run([os.path.join(ROOT, "scripts", "report-bench"), "--max", "10"],
                       capture_output=True, timeout=1800, env=dict(os.environ, CUSTFS_BUILD=BUILD))
    print(p.stdout.decode())
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()


@pytest.mark.parametrize("args", [("--to", "2999-12-31"), ("--from", "2000-01-01", "--to",
                                  "2300-01-01"), ("--to", "2262-04-12T08:00")])
def test_a_far_date_is_refused_not_a_period_with_nothing_in_it(known, args):
    """A date past what the log's nanoseconds hold (2262) once wrapped to a
    time before 1970: 'audit report --to 2999-12-31' said 'no records in the
    period' and 'audit --to ...' listed nothing, about a log full of records
    (R5.1: the report is what the group reads). It is a usage error now."""
    store = known[0]
    for cmd in (["audit", "report", store], ["audit", store], ["audit", "report", store,
                                                                 "--format", "json"]):
        p = subprocess.run([CUSTCTL, *cmd, *args], capture_output=True, timeout=120, env=env())
        out = p.stdout.decode()
        assert p.returncode == 2 and "YYYY-MM-DD" in p.stderr.decode(), (cmd, p.returncode, out)
        assert "no records" not in out
