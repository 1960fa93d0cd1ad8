"""Start JupyterLab for `make lab` and say the course's messages *after* its link.

`make lab` first brings the learner's workspace up to date (tools/learner.py), which may have something to
say ("Course update: 03_batchnorm.ipynb changed ..."). JupyterLab then prints some 25 lines of log, and a
message printed before them scrolls out of sight. This wrapper relays JupyterLab's output unchanged and,
once the closing banner's link with the token has been printed, repeats the messages below it, framed.

    python tools/lab.py --messages build/learner-messages.txt -- jupyter lab --ServerApp.ip=127.0.0.1 ...

Written here because JupyterLab has no hook for a line of text at the end of its start-up banner.
The exit code is JupyterLab's. Ctrl-C reaches JupyterLab directly (same process group) and is ignored
here, so its "Shutdown this Jupyter server?" prompt still shows; a SIGTERM sent to this wrapper alone is
passed on, so stopping it never leaves a server behind.
"""

from __future__ import annotations

import argparse
import codecs
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

# The loopback URL with the token. jupyter_server prints it twice: in its log ("is running at:") and, a few
# lines later, in the closing banner a learner copies it from ("Or copy and paste one of these URLs:"). The
# messages go below the banner's link: below the first one, that banner pushed them up again.
LINK = re.compile(r"http://127\.0\.0\.1:\d+/\S*\?token=")
BANNER = re.compile(r"copy and paste one of these URLs", re.IGNORECASE)
# A server that prints no closing banner: the messages come this many lines after its first link.
FALLBACK_LINES = 20


class _LinkWatch:
    """Fed the server's output line by line; says when the messages are due."""

    def __init__(self) -> None:
        self.banner = False
        self.lines_since_link: int | None = None

    def due(self, text: str) -> bool:
        if BANNER.search(text):
            self.banner = True
            return False
        if LINK.search(text) and self.banner:
            return True
        if self.lines_since_link is None and LINK.search(text):
            self.lines_since_link = 0
        elif self.lines_since_link is not None:
            self.lines_since_link += 1
        return self.lines_since_link is not None and self.lines_since_link >= FALLBACK_LINES


def framed(messages: list[str]) -> list[str]:
    """The messages as a block that stands out from a server log."""
    rule = "=" * 78
    return ["", rule, "  From the course (said above too, before JupyterLab's log):",
            *(f"  - {m}" for m in messages), rule, ""]


def relay(chunks: Iterable[str], messages: list[str], out: TextIO) -> None:
    """Copy ``chunks`` (text as it arrives, not only whole lines: JupyterLab's Ctrl-C prompt has no line end)
    to ``out``; right after the closing banner's token link, add the framed messages (before whatever else
    arrived in the same chunk)."""
    pending, line, watch = bool(messages), "", _LinkWatch()
    for chunk in chunks:
        cut = None
        if pending:
            start = len(line)  # the start of the current line, written with the previous chunk
            *done, line = (line + chunk).split("\n")
            cut = _end_of_due_line(done, watch, start)
        if cut is None:
            out.write(chunk)
        else:
            out.write(chunk[:cut] + "\n".join(framed(messages)) + "\n" + chunk[cut:])
            pending = False
        out.flush()


def _end_of_due_line(done: list[str], watch: _LinkWatch, start: int) -> int | None:
    """Where in the chunk the line that makes the messages due ends (after its newline), or None.
    ``done`` are the complete lines, the first beginning ``start`` characters before the chunk."""
    end = -start
    for text in done:
        end += len(text) + 1
        if watch.due(text):
            return end
    return None


def _chunks(stream) -> Iterable[str]:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while data := os.read(stream.fileno(), 65536):
        yield decoder.decode(data)


def read_messages(path: Path | None) -> list[str]:
    if path is None or not path.is_file():
        return []
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=Path, help="a file of messages, one per line (tools/learner.py "
                        "--messages-file writes it); missing or empty: nothing is added")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the server command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the server command after --, e.g. `-- jupyter lab --ServerApp.ip=127.0.0.1`")
    messages = read_messages(args.messages)
    # Ctrl-C is JupyterLab's to answer (it asks before shutting down); this wrapper keeps relaying meanwhile.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    assert proc.stdout is not None
    relay(_chunks(proc.stdout), messages, sys.stdout)
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
