"""The demo's hints, and a check that each works as its comment says. Used
by test_demo.py (the source tree's demo) and by test_package.py, which copies
this file out and runs it in a namespace where only the installed package
exists: `python3 demo_hints.py OUTPUT PREFIX` prints one line per failure
and exits 1 if there is any."""
import os
import re
import subprocess
import sys


def hints(text):
    """The command lines the demo prints: indented, after "Try" / "Sample staff"."""
    lines, on = [], False
    for line in text.splitlines():
        if line.startswith("Try, as root:"):
            on = True
        elif on and line.startswith("  ") and not re.match(r"  \S+ \(", line) \
                and "(sales)" not in line and "(call-centre" not in line \
                and "(administration)" not in line:
            lines.append(line.strip())
    return lines


def failures(text, prefix, env=None):
    """Runs every hint of the demo's output TEXT (but vim's); what went wrong."""
    cmds = hints(text)
    bad = []
    if len(cmds) < 30:
        bad.append(f"only {len(cmds)} hints")
    bad += [f"{c}: not the prefix {prefix}" for c in cmds if "runuser" in c and prefix not in c]
    for c in cmds:
        if c.startswith("vim "):
            continue                                                  # interactive
        cmd, _, comment = c.partition("  #")
        refused = comment.strip().startswith("refused") and ";" not in cmd
        r = subprocess.run(["bash", "-c", "set -o pipefail; " + cmd], env=env,
                           capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        said = (r.stdout + r.stderr).decode(errors="replace")
        if refused and r.returncode == 0:
            bad.append(f"{c}: should be refused: {said}")
        elif not refused and r.returncode != 0:
            bad.append(f"{c}: exit {r.returncode}: {said}")
        elif "history" in cmd and "--show" in cmd and not r.stdout.endswith(b"\n"):
            bad.append(f"{c}: no newline at the end")
        elif "masked" in comment and b"****" not in r.stdout:
            bad.append(f"{c}: not masked: {said}")
        elif "app new" in cmd and not re.search(r"#(\d+)", said):
            bad.append(f"{c}: no application id: {said}")
    # The hints' ids are the ones the demo's own steps make.
    if not (any("app approve 1" in c for c in cmds) and any("app implement 1" in c for c in cmds)):
        bad.append("the hints do not approve and implement application 1")
    return bad


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        found = failures(f.read(), sys.argv[2], dict(os.environ))
    for line in found:
        print(line)
    sys.exit(1 if found else 0)
