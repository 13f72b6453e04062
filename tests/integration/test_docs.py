"""The manual pages render without a warning and name what the programs do:
every custctl verb of its --help, every custfs option (issues 13, 14)."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import CUSTCTL, ROOT

MAN = os.path.join(ROOT, "man")


@pytest.mark.skipif(not shutil.which("man"), reason="man-db is not installed")
@pytest.mark.parametrize("page", ["custfs.8", "custctl.1", "custfs-policy.5"])
def test_page_renders_without_warnings(page):
    p = subprocess.run(["man", "--warnings", "-l", os.path.join(MAN, page)], capture_output=True,
                       env=dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8"), timeout=60)
    assert p.returncode == 0 and not p.stderr.strip(), p.stderr.decode()
    assert b"NAME" in p.stdout and b"SEE ALSO" in p.stdout


def _text(page):
    with open(os.path.join(MAN, page), encoding="utf-8") as f:
        return re.sub(r"\\f[BIRP]|\\-|\\e", lambda m: "-" if m.group(0) == "\\-" else "",
                      f.read())


def test_custctl_page_names_every_verb():
    helptext = subprocess.run([CUSTCTL, "--help"], capture_output=True, text=True).stdout
    verbs = set(re.findall(r"^\s+custctl ([a-z-]+)", helptext, flags=re.M))
    assert {"init", "key", "backup", "erase", "prune", "inbox", "checkout"} <= verbs
    page = _text("custctl.1")
    missing = [v for v in sorted(verbs) if not re.search(rf"\b{re.escape(v)}\b", page)]
    assert not missing, missing


def test_policy_page_names_every_statement():
    page = _text("custfs-policy.5")
    for stmt in ("class", "field", "stafftype", "department", "role", "procedure", "checkout",
                 "audit", "erase", "keep", "limit", "scratch", "mask"):
        assert re.search(rf"^\.BI \"?{stmt}\b", open(os.path.join(MAN, "custfs-policy.5"))
                         .read(), flags=re.M), stmt
