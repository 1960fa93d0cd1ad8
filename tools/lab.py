"""Start JupyterLab for `make lab` and say the course's messages *after* its link.

`make lab` first brings the learner's workspace up to date (tools/learner.py), which may have something to
say ("Course update: 03_batchnorm.ipynb changed ..."). JupyterLab then prints some 25 lines of log, and a
message printed before them scrolls out of sight. This wrapper relays JupyterLab's output unchanged and,
once the link with the token has been printed, repeats the messages below it, framed.

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

# The last line of JupyterLab's banner: the loopback URL with the token (jupyter_server prints it after the
# localhost one). Until it is printed a learner is still waiting, so that is when the messages are useful.
LINK = re.compile(r"http://127\.0\.0\.1:\d+/\S*\?token=")


def framed(messages: list[str]) -> list[str]:
    """The messages as a block that stands out from a server log."""
    rule = "=" * 78
    return ["", rule, "  From the course (said above too, before JupyterLab's log):",
            *(f"  - {m}" for m in messages), rule, ""]


def relay(chunks: Iterable[str], messages: list[str], out: TextIO) -> None:
    """Copy ``chunks`` (text as it arrives, not only whole lines: JupyterLab's Ctrl-C prompt has no line end)
    to ``out``; after the first line with the token link, add the framed messages."""
    pending, line = bool(messages), ""
    for chunk in chunks:
        out.write(chunk)
        out.flush()
        if pending:
            *done, line = (line + chunk).split("\n")
            if any(LINK.search(text) for text in done):
                out.write("\n".join(framed(messages)) + "\n")
                out.flush()
                pending = False


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
