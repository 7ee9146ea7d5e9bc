"""Writes a long run's figures into a document, between its markers.

    record_figures.py DOC NAME COMMAND FIGURE_FILE...

Replaces what stands between `<!-- figures:NAME:begin -->` and `<!-- figures:NAME:end -->` in DOC
with the command that made the figures, the date, the commit and each figure file's lines, so a
published figure always says where it came from. Fails if DOC has no such markers.
"""

import datetime
import pathlib
import subprocess
import sys


def main(doc, name, command, *figure_files):
    path = pathlib.Path(doc)
    text = path.read_text(encoding="utf-8")
    begin, end = f"<!-- figures:{name}:begin -->", f"<!-- figures:{name}:end -->"
    if begin not in text or end not in text:
        sys.exit(f"{doc} has no {begin} … {end} block")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"`{command}`, {when}, commit {commit or 'unknown'}{' (with uncommitted changes)' if dirty else ''}:", "", "```"]
    for figure in figure_files:
        lines += pathlib.Path(figure).read_text(encoding="utf-8").rstrip("\n").splitlines()
    lines.append("```")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(head + begin + "\n" + "\n".join(lines) + "\n" + end + tail, encoding="utf-8")
    print(f"{doc}: figures of `{command}` recorded")


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
