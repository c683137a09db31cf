#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""banger(8) and the program agree on the options of each command.

  man-options.py TOP BANGER

Every command that "banger --help" lists is in the SYNOPSIS of man/banger.8.
For each command of the SYNOPSIS that the program has (its
"COMMAND --help" exits 0), every option that the help text shows is in the
SYNOPSIS of that command (--help itself and -h aside).  The SYNOPSIS may
give more: options of commands that branches not merged here add.  A command the program does not have yet is reported and skipped.
Prints one line per problem, exit 1 if any, 77 if no command could be checked.
"""
import re
import subprocess
import sys

OPT = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])")
IGNORED = {"--help", "-h"}


def synopsis(page):
    """{command: set of options} from the SYNOPSIS of banger.8."""
    cmds, cur, in_syn = {}, None, False
    for line in open(page):
        line = line.rstrip("\n")
        if line.startswith(".Sh "):
            in_syn = line == ".Sh SYNOPSIS"
            continue
        if not in_syn:
            continue
        if line == ".Nm":
            cur = None
        elif line.startswith(".Cm ") and cur is None:
            cur = line.split()[1]
            cmds[cur] = set()
        elif cur:
            for m in re.finditer(r"Fl (\\-[a-z\\-]+|[a-zA-Z])\b", line):
                cmds[cur].add("-" + m.group(1).replace("\\-", "-"))
    return cmds


def main():
    if len(sys.argv) != 3:
        print("usage: man-options.py TOP_SRCDIR BANGER", file=sys.stderr)
        return 64
    top, banger = sys.argv[1:]
    problems, checked = 0, 0
    cmds = synopsis("%s/man/banger.8" % top)
    try:
        usage = subprocess.run([banger, "--help"], capture_output=True, text=True,
                               timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        print("banger --help: %s" % e)
        return 1
    listed = re.findall(r"^  ([a-z][a-z-]*)  ", usage.split("Commands:", 1)[-1], re.M)
    for cmd in listed:
        if cmd not in cmds:
            print("banger --help lists the command %s, the SYNOPSIS of banger.8 does not" % cmd)
            problems += 1
    for cmd, documented in sorted(cmds.items()):
        try:
            p = subprocess.run([banger, cmd, "--help"], capture_output=True, text=True,
                               timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            print("banger %s --help: %s" % (cmd, e))
            problems += 1
            continue
        if p.returncode != 0:
            print("skip: banger has no command '%s' yet (--help exited %d)" %
                  (cmd, p.returncode))
            continue
        checked += 1
        shown = set(OPT.findall(p.stdout)) - IGNORED
        documented = documented - IGNORED
        for o in sorted(shown - documented):
            print("banger %s --help shows %s, the SYNOPSIS of banger.8 does not" % (cmd, o))
            problems += 1
    print("%d commands checked, %d problems" % (checked, problems))
    if problems:
        return 1
    return 0 if checked else 77


if __name__ == "__main__":
    sys.exit(main())
