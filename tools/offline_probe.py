"""Is the network cut? Prints "cut" when neither a name (DNS, then HTTPS) nor an address outside answers, else
what answered. Used by tools/offline_check.sh inside its network namespace; it says "cut" only when every
attempt failed with a network error, so a broken probe can never pass for a cut network."""

from __future__ import annotations

import socket
import sys
import urllib.request

OUTSIDE_ADDRESS = ("1.1.1.1", 443)  # an address, so a cut that only breaks DNS is not taken for a cut network


def answered(url: str) -> list[str]:
    """What answered from outside: the URL, the address, both or neither."""
    found = []
    try:
        urllib.request.urlopen(url, timeout=10).close()
        found.append(url)
    except OSError:
        pass
    try:
        socket.create_connection(OUTSIDE_ADDRESS, timeout=10).close()
        found.append(f"{OUTSIDE_ADDRESS[0]}:{OUTSIDE_ADDRESS[1]}")
    except OSError:
        pass
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: offline_probe.py URL (a URL outside, e.g. https://registry.npmjs.org/)", file=sys.stderr)
        return 2
    found = answered(argv[0])
    print("cut" if not found else "reachable: " + ", ".join(found))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
