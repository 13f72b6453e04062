"""custfs in Chinese (issue 14, R1.3: staff of every level read what custfs
says): under LANG=zh_CN.UTF-8 the main flows (a denied read and .custfs/why,
.custfs/explain, custctl's verbs, its errors and help, custfs's own usage
errors) leave no English message; the catalogue translates every message of
the sources; tables with Chinese names align by display width."""
import os
import re
import subprocess
import unicodedata

import pytest

from conftest import BUILD, CUSTCTL, CUSTFS, POLICY, ROOT, as_user, ctl

ZH = {"LANG": "zh_CN.UTF-8", "LC_ALL": "", "LC_MESSAGES": "", "LANGUAGE": ""}
EN = {"LANG": "C.UTF-8", "LC_ALL": "", "LC_MESSAGES": "", "LANGUAGE": ""}
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")

NAMES = {"admin": "王芳", "tech": "李强", "head": "张伟", "clerk": "陈静", "intern": "欧阳小明"}


def env(lang):
    e = dict(os.environ)
    e.update(lang)
    return {k: v for k, v in e.items() if v != ""}


def run(user, cwd, *cmd, lang=ZH, input=None):
    p = subprocess.run(["runuser", "-u", user, "--", *cmd], cwd=cwd, capture_output=True,
                       timeout=60, env=env(lang), input=input,
                       stdin=None if input is not None else subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def zh(user, m, *args, lang=ZH):
    return run(user, m.mnt, CUSTCTL, *args, lang=lang)


def identifiers(logins):
    """The words custfs prints that are not English to translate: what people
    type (verbs, options, policy keywords and names), logins, units, and the
    programs' own names."""
    words = set(logins)
    for name in ("access.conf", "fields.conf"):
        with open(os.path.join(POLICY, name)) as f:
            for line in f:
                words.update(re.findall(r"[A-Za-z]+", line.split("#")[0]))
    words.update("""custctl custfs uid pid root echo cat read write list create UTF MiB NFC
        Unicode JSON CSV json csv whoami explain app appeal report employee grant policy
        checkout checkouts return with inbox erase prune audit new show approve reject
        implement withdraw forward answer resolve add set leave revoke install check
        reload verify sample checkpoint pubkey archive cancel preview replay propose
        proposals history diff help init import export key store backup restore deny
        mount passphrase purpose reason customers until role dept type head group
        leader post org note all from to format text html period stats rotate remove
        version show daemon fusermount nonempty fsname subtype passfile view witness
        entry timeout durable allow CUSTFS MOUNT MNT STORE DIR ID ok YYYY MM DD gid
        break glass superuser unknown user identity departed mismatch expired
        ceiling stafftype department masked pending required default unavailable
        limit value hidden probe command done UID WIDENS member none yes libfuse FUSE
        versions days delay hours approval scoped expiring first last email max level
        sensitive field class procedure scratch mask keep""".split())
    return words


def english_left(text, allowed):
    """The lines of TEXT that still hold an English word: any run of three or
    more Latin letters that is not an identifier, after dropping options,
    paths, e-mail addresses and what is quoted from the command line."""
    bad = []
    for line in text.splitlines():
        s = re.sub(r"--?[A-Za-z][\w-]*", " ", line)           # options
        s = re.sub(r"[\w.+-]+@[\w.-]+", " ", s)                # e-mail addresses
        s = re.sub(r"[\w-]+\.[A-Za-z]\w*", " ", s)              # file names (master.key)
        s = re.sub(r"(?<![\w])/[^\s:：,，()（）]*", " ", s)     # paths
        s = re.sub(r"'[^']*'|\"[^\"]*\"|“[^”]*”", " ", s)       # quoted words
        # a word with a digit is data (C1001, a login such as cft12clerk)
        words = [w for w in re.findall(r"[A-Za-z][\w-]*", s)
                 if not re.search(r"\d", w) and w not in allowed
                 and any(len(p) >= 3 and p not in allowed for p in re.split(r"[-_]", w))]
        if words:
            bad.append(f"{line!r}: {words}")
    return bad


def assert_chinese(text, allowed, what):
    bad = english_left(text, allowed)
    assert not bad, f"{what}: English left:\n" + "\n".join(bad)
    assert not text.strip() or CJK.search(text), f"{what}: no Chinese at all: {text!r}"


@pytest.fixture(scope="module")
def staff(make_user):
    return {k: make_user("z" + k) for k in NAMES}


@pytest.fixture
def office(demo_store, staff, mount):
    s = demo_store
    add = lambda who, *a: ctl("employee", "add", s, staff[who], "--name", NAMES[who], *a)
    add("admin", "--dept", "admin", "--type", "formal", "--head", "--group", "leader")
    add("tech", "--dept", "tech", "--type", "formal")
    add("head", "--dept", "sales", "--type", "formal", "--head")
    add("clerk", "--dept", "sales", "--type", "formal", "--post", "业务员")
    add("intern", "--dept", "sales", "--type", "intern")
    return s, mount(s)


def test_main_flows_say_nothing_in_english(office, staff):
    s, m = office
    allowed = identifiers(staff.values())
    clerk, head, admin, tech = staff["clerk"], staff["head"], staff["admin"], staff["tech"]
    seen, bad = [], []

    def say(text, what):
        if what.startswith("audit"):
            # an audit record's rule and detail are the record's own fields,
            # kept as recorded (in English, for programs): the rest is read
            text = "\n".join(l.split(" [")[0] for l in text.splitlines())
        # every flow runs; the English left is listed at the end, all of it
        bad.extend(f"{what}: {b}" for b in english_left(text, allowed))
        if text.strip() and not CJK.search(text):
            bad.append(f"{what}: no Chinese at all: {text!r}")
        seen.append(text)

    # custctl, verb by verb.
    rc, out, err = zh(clerk, m, "whoami")
    assert rc == 0, err
    say(out + err, "whoami")
    rc, out, err = zh(head, m, "app", "new", clerk, "sales", "--reason", "负责华东客户")
    assert rc == 0, err
    say(out + err, "app new")
    app = re.search(r"#(\d+)", out).group(1)
    for who, args in ((head, ("app", "list")), (admin, ("app", "show", app)),
                      (admin, ("inbox",)), (admin, ("app", "approve", app)),
                      (tech, ("app", "implement", app)), (clerk, ("app", "list")),
                      (admin, ("employee", "list")), (admin, ("employee", "show", clerk)),
                      (clerk, ("grant", "list")), (clerk, ("explain", "C1001/phone")),
                      (head, ("app", "new", clerk, "sales-finance", "--reason", "对账"))):
        rc, out, err = zh(who, m, *args)
        assert rc == 0, f"{args}: {err}"
        say(out + err, " ".join(args))
    fin = re.search(r"#(\d+)", out).group(1)
    assert zh(admin, m, "app", "approve", fin)[0] == 0
    assert zh(tech, m, "app", "implement", fin)[0] == 0
    # A denied read, and .custfs/why in the reader's language.
    rc, out, err = run(clerk, m.mnt, "cat", "C1001/credit_limit")
    assert rc != 0
    rc, why, _ = run(clerk, m.mnt, "cat", ".custfs/why")
    assert rc == 0 and "C1001/credit_limit" in why and "拒绝" in why
    say(why, ".custfs/why")
    # .custfs/explain, asked with ordinary tools.
    rc, _, _ = run(clerk, m.mnt, "sh", "-c", "echo 'C1001/credit_limit read' > .custfs/explain")
    rc, expl, _ = run(clerk, m.mnt, "cat", ".custfs/explain")
    assert rc == 0 and "决定:拒绝" in expl
    say(expl, ".custfs/explain")
    # The same mount answers in English whoever asks in English.
    rc, _, _ = run(clerk, m.mnt, "sh", "-c", "echo 'C1001/credit_limit read' > .custfs/explain",
                   lang=EN)
    rc, en, _ = run(clerk, m.mnt, "cat", ".custfs/explain", lang=EN)
    assert "Decision: DENY" in en and "决定" not in en and "拒绝" not in en

    rc, out, err = zh(clerk, m, "checkout", "C1001/finance", "--purpose", "核对余额",
                      "--for", "1h30m")
    assert rc == 0, err
    say(out + err, "checkout")
    co = re.search(r"#(\d+)", out).group(1)
    for who, args in ((clerk, ("checkouts",)), (admin, ("checkouts", "--all")),
                      (clerk, ("return", co)), (admin, ("audit", "list")),
                      (clerk, ("appeal", "new", "需要查看客户地址")),
                      (admin, ("appeal", "list")), (admin, ("erase", "list")),
                      (tech, ("policy", "history"))):
        rc, out, err = zh(who, m, *args)
        assert rc == 0, f"{args}: {err}"
        say(out + err, " ".join(args))

    # Refusals and mistakes: still Chinese, with the README's exit codes.
    for who, args, code in ((clerk, ("whoami", "--bogus"), 2), (clerk, ("frobnicate",), 2),
                            (clerk, ("app", "approve", app), 1),
                            (clerk, ("employee", "add", "x"), 1),
                            (clerk, ("checkout", "C1001/privacy", "--purpose", "p",
                                     "--for", "1h"), 1),
                            (clerk, ("return", "999"), 1), (clerk, ("app", "show"), 2),
                            (clerk, ("app", "new", clerk, "nosuchrole", "--reason", "r"), 1)):
        rc, out, err = zh(who, m, *args)
        assert rc == code, f"{args}: {rc}: {err}"
        say(out + err, " ".join(args))
    rc, out, err = run(clerk, "/", CUSTCTL, "whoami")
    assert rc == 3
    say(out + err, "no mount")
    # Help, anywhere.
    for args in (("help",), ("app", "--help"), ("checkout", "--help"), ("help", "import")):
        rc, out, err = run(clerk, "/", CUSTCTL, *args)
        assert rc == 0, err
        say(out + err, " ".join(args))
    assert not bad, "English left:\n" + "\n".join(bad)
    assert len(seen) > 30


def test_custfs_usage_errors_in_chinese(demo_store, workdir, staff):
    allowed = identifiers(staff.values())
    mnt = os.path.join(workdir, "zmnt")
    os.makedirs(mnt)
    for args, code in (((), 2), (("-o", "bogus", demo_store, mnt), 2),
                       ((demo_store,), 2), (("/nonexistent", mnt), 1)):
        p = subprocess.run([CUSTFS, "-f", *args], capture_output=True, timeout=30,
                           env=env(ZH), stdin=subprocess.DEVNULL)
        assert p.returncode == code, (args, p.stderr.decode())
        text = p.stderr.decode() + p.stdout.decode()
        # libfuse's own option list (after custfs's) and its own complaint
        # ("fuse: unknown option(s)") are libfuse's, in English; custfs then
        # says what it means in the reader's language.
        text = text.split("FUSE")[0]
        text = "\n".join(l for l in text.splitlines() if not l.startswith("fuse: "))
        assert_chinese(text, allowed, f"custfs {' '.join(args)}")


def test_root_verbs_in_chinese(workdir, staff):
    allowed = identifiers(staff.values())
    s = os.path.join(workdir, "zstore")
    for args, code in ((("init", s, "--policy", POLICY), 0),
                       (("import", s, os.path.join(ROOT, "demo", "customers.csv")), 0),
                       (("store", "stats", s), 0), (("history", s, "C1001", "phone"), 0),
                       (("policy", "check", POLICY), 0), (("init", s), 1),
                       (("import", s), 2), (("history", s, "C9999", "phone"), 1)):
        p = subprocess.run([CUSTCTL, *args], capture_output=True, timeout=60, env=env(ZH),
                           stdin=subprocess.DEVNULL)
        assert p.returncode == code, (args, p.stderr.decode())
        assert_chinese(p.stdout.decode() + p.stderr.decode(), allowed, " ".join(args))


@pytest.mark.parametrize("file,line", [
    ("access.conf", "bogus statement"),
    ("access.conf", "limit open-files lots"),
    ("access.conf", "checkout basic max 2h"),
    ("access.conf", "role sales-clerk2 department nowhere"),
    ("access.conf", "keep finance versions 0"),
    ("access.conf", "scratch a/b"),
    ("fields.conf", "class extra level high"),
    ("fields.conf", "field phone basic format colour"),
])
def test_policy_errors_in_chinese(workdir, staff, file, line):
    """A policy file's error (file:line: message) in the reader's language:
    the technical department reads them in Chinese (R2.6)."""
    allowed = identifiers(staff.values())
    bad = os.path.join(workdir, "bad-policy")
    subprocess.run(["cp", "-r", POLICY, bad], check=True)
    with open(os.path.join(bad, file), "a") as f:
        f.write(line + "\n")
    p = subprocess.run([CUSTCTL, "policy", "check", bad], capture_output=True, timeout=60,
                       env=env(ZH), stdin=subprocess.DEVNULL)
    text = p.stdout.decode() + p.stderr.decode()
    assert p.returncode == 1, text
    assert re.search(rf"{re.escape(file)}:\d+: ", text), text
    assert_chinese(text, allowed, line)


def test_the_demo_speaks_chinese(workdir, staff):
    """scripts/demo under zh_CN: what it says between the commands (the
    hints' comments, the headings, the staff's departments) is Chinese; the
    commands themselves are what a person types, and stay as they are."""
    prefix = f"zdm{os.getpid() % 1000}-"
    e = env(ZH)
    e.update(CUSTFS_DEMO_DIR=os.path.join(workdir, "zdemo"),
             CUSTFS_DEMO_MNT=os.path.join(workdir, "zdemo-mnt"), CUSTFS_DEMO_PREFIX=prefix)
    try:
        p = subprocess.run([os.path.join(ROOT, "scripts", "demo")], env=e, capture_output=True,
                           timeout=600, stdin=subprocess.DEVNULL)
        out = p.stdout.decode()
        assert p.returncode == 0, p.stderr.decode()[-2000:]
    finally:
        subprocess.run(["fusermount3", "-u", e["CUSTFS_DEMO_MNT"]], capture_output=True)
        for who in ("sales", "prod", "service", "intern", "partner", "admin", "tech"):
            subprocess.run(["userdel", prefix + who], capture_output=True)
    allowed = identifiers([prefix + w for w in ("sales", "prod", "service", "intern",
                                                 "partner", "admin", "tech")])
    said, comments = [], 0
    for line in out.splitlines():
        if not line.startswith("  "):
            said.append(line)                                  # headings and custctl's lines
        elif "  # " in line:
            said.append(line.split("  # ", 1)[1])              # a hint's comment
            comments += 1
        elif "(" in line and prefix in line:
            said += re.findall(r"\(([^)]*)\)", line)           # the staff's departments
    assert comments >= 15, out
    text = "\n".join(l.replace("fusermount3", "") for l in said)
    assert_chinese(text, allowed | {"EINVAL", "WIDENS", "Linux"}, "scripts/demo")


def test_every_message_is_translated():
    """The catalogue covers every message of the sources (a fresh .pot from
    po/POTFILES), none fuzzy or untranslated; every source with marks is in
    po/POTFILES; the build made the .mo the programs use."""
    po = os.path.join(ROOT, "po", "zh_CN.po")
    p = subprocess.run(["msgfmt", "--check", "--statistics", "-o", "/dev/null", po],
                       capture_output=True, text=True, env=env(EN))
    assert p.returncode == 0, p.stderr
    assert re.fullmatch(r"\d+ translated messages\.\n", p.stderr), p.stderr
    marked = subprocess.run(["grep", "-rlE", r"(^|[^A-Za-z0-9_])N?_\(", "src", "include"],
                            cwd=ROOT, capture_output=True, text=True).stdout.split()
    with open(os.path.join(ROOT, "po", "POTFILES")) as f:
        listed = set(f.read().split())
    assert set(marked) - {"include/i18n.h"} <= listed, set(marked) - listed
    pot = os.path.join(BUILD, "zh-test.pot")
    subprocess.run(["xgettext", "--keyword=_", "--keyword=N_", "--from-code=UTF-8", "-D", ROOT,
                    "-f", os.path.join(ROOT, "po", "POTFILES"), "-o", pot], check=True,
                   capture_output=True)
    p = subprocess.run(["msgcmp", po, pot], capture_output=True, text=True, env=env(EN))
    os.unlink(pot)
    assert p.returncode == 0, p.stderr
    assert os.path.exists(os.path.join(BUILD, "po", "zh_CN", "LC_MESSAGES", "custfs.mo"))


def columns(line):
    """The display column where each field of LINE starts (a CJK character
    takes two columns), fields being separated by two or more spaces, or one
    after a wide character."""
    starts, col, prev_space = [], 0, True
    for ch in line:
        w = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if ch != " " and prev_space:
            starts.append(col)
        prev_space = ch == " "
        col += w
    return starts


def test_tables_align_by_display_width(office, staff):
    """employee list with names of two, three and four Chinese characters
    beside Latin ones: every row's columns start where the header's do."""
    s, m = office
    rc, out, err = zh(staff["admin"], m, "employee", "list")
    assert rc == 0, err
    lines = [l for l in out.splitlines() if l.strip()]
    head = columns(lines[0])
    rows = [l for l in lines[1:] if any(n in l for n in NAMES.values())]
    assert len(rows) == len(NAMES)
    for row in rows:
        cols = columns(row)
        # login, name, department and post start where the header says (the
        # uid is right-aligned; the last columns may hold spaces of their own)
        pick = lambda c: [c[0]] + c[2:5]
        assert pick(cols) == pick(head), f"misaligned:\n{lines[0]}\n{row}"
    # The English table aligns the same way.
    rc, out, _ = zh(staff["admin"], m, "employee", "list", lang=EN)
    lines = [l for l in out.splitlines() if l.strip()]
    for row in (l for l in lines[1:] if any(n in l for n in NAMES.values())):
        pick = lambda c: [c[0]] + c[2:5]
        assert pick(columns(row)) == pick(columns(lines[0])), f"{lines[0]}\n{row}"


def _ctl_raw(user, mnt, words):
    """Sends WORDS to MNT/.custfs/ctl as USER, as a program of theirs would
    (no custctl: the words are whatever the caller chooses)."""
    code = ("import os,sys\n"
            "fd=os.open(sys.argv[1]+'/.custfs/ctl',os.O_RDWR)\n"
            "os.write(fd,b''.join(w.encode()+b'\\0' for w in sys.argv[2:]))\n"
            "print(os.pread(fd,65536,0).decode('utf-8','replace'))\n")
    return run(user, mnt, "/usr/bin/python3", "-c", code, mnt, *words, lang=EN)


def test_made_up_locale_names_leave_others_their_language(demo_store, staff, mount,
                                                          make_user):
    """A caller chooses the locale words it sends (@locale=...) and its own
    LANG: made-up spellings, even from an account with no staff record, must
    not use up what custfs keeps per language, or everyone who asks later in
    Chinese is answered in English (R1.3: a plain answer to "why")."""
    m = mount(demo_store)
    stranger = make_user("zstranger")  # not on the register
    clerk = staff["clerk"]
    ctl("employee", "add", demo_store, clerk, "--name", NAMES["clerk"], "--dept", "sales",
        "--type", "formal")
    for i in range(40):
        made_up = chr(65 + i // 26) + chr(65 + i % 26)  # AA, AB, ...: valid names
        for name in (f"en_{made_up}", f"xx_{made_up}", f"zh_CN.X{made_up}"):
            rc, out, _ = _ctl_raw(stranger, m.mnt, [f"@locale={name}", "whoami"])
            assert out.startswith("1 "), out  # refused: not on the register
    for lang in ("zh_CN", "zh_CN.utf8", "zh_CN.UTF-8"):
        rc, why, err = run(clerk, m.mnt, "cat", ".custfs/why",
                           lang={**ZH, "LANG": lang})
        assert rc == 0, err
        assert CJK.search(why), f"LANG={lang}: answered in English: {why!r}"
        rc, out, _ = _ctl_raw(clerk, m.mnt, [f"@locale={lang}", "bogus-verb"])
        assert CJK.search(out), f"@locale={lang}: answered in English: {out!r}"
