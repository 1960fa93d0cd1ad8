#!/usr/bin/env bash
# `make offline-check`: the course's offline promise, checked the way a learner meets it.
#
# 1. a fresh clone of this checkout's HEAD (committed work only) in $OFFLINE_CLONE;
# 2. `make setup-dev` there, with the network (pip's index, the npm registry);
# 3. then, in a network namespace with no route out (only loopback): `make site`, `make slides` and the
#    browser tests of the site, the decks and the exported HTML on what those two wrote, which must not skip
#    (NORMCOURSE_REQUIRE_BROWSER=1) and fail on any request outside file:// and loopback.
#
# Needs Linux's unshare(1) with network namespaces (root, or unprivileged user namespaces enabled);
# it stops with the reason if the namespace cannot be made or still reaches the outside.
# Not part of `make test`: it installs a whole second .venv (minutes) and builds everything.
set -euo pipefail

# In the namespace (the script runs itself again there): loopback up (a machine without internet still has it),
# prove the outside unreachable before trusting anything that passes, then build and test.
inside() {
  cd "$1"
  ip link set lo up
  local verdict
  verdict=$(.venv/bin/python tools/offline_probe.py "$PROBE_URL")
  if [ "$verdict" != "cut" ]; then
    echo "offline-check: the network is not cut inside the namespace: $verdict" >&2; exit 2
  fi
  echo "network cut: $PROBE_URL and 1.1.1.1:443 unreachable"
  make site
  make slides
  # the tests open the pages and decks just written to build/ (NORMCOURSE_E2E_BUILD), and may not skip
  NORMCOURSE_E2E_BUILD=build NORMCOURSE_REQUIRE_BROWSER=1 nice -n 10 .venv/bin/python -m pytest -q -rs -p no:cacheprovider \
    tests/e2e/test_e2e_site.py tests/e2e/test_e2e_slides_html.py tests/e2e/test_e2e_html_export.py
}
if [ "${1:-}" = --inside ]; then inside "$2"; exit; fi

REPO=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
CLONE=${OFFLINE_CLONE:-${TMPDIR:-/tmp}/normcourse-offline-check}
PROBE_URL=${OFFLINE_PROBE_URL:-https://registry.npmjs.org/}

say() { printf '\n== offline-check: %s\n' "$*"; }

# Root may make a network namespace directly; anyone else maps themselves to root inside a user namespace.
if [ "$(id -u)" = 0 ]; then NO_NET=(unshare --net); else NO_NET=(unshare --net --map-root-user); fi
if ! "${NO_NET[@]}" true 2>/dev/null; then
  echo "offline-check: cannot cut the network here: '${NO_NET[*]} true' failed (no network namespaces:" \
       "run as root, or enable unprivileged user namespaces, e.g. sysctl kernel.unprivileged_userns_clone=1)" >&2
  exit 2
fi

say "fresh clone of $(git -C "$REPO" rev-parse --short HEAD) into $CLONE"
if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no)" ]; then
  echo "note: uncommitted changes in $REPO are not in the clone (it checks HEAD)"
fi
# Only ever delete a folder this script made (its mark is inside .git), never one OFFLINE_CLONE names by mistake.
if [ -e "$CLONE" ] && [ ! -e "$CLONE/.git/normcourse-offline-check" ]; then
  echo "offline-check: $CLONE exists and is not an earlier offline-check clone: move it or set OFFLINE_CLONE" >&2
  exit 2
fi
rm -rf "$CLONE"
git clone --quiet "$REPO" "$CLONE"
touch "$CLONE/.git/normcourse-offline-check"
cd "$CLONE"

say "make setup-dev (network allowed)"
start=$(date +%s)
make setup-dev
echo "setup-dev took $(( $(date +%s) - start )) s"

say "network cut: make site, make slides, browser tests"
"${NO_NET[@]}" env PROBE_URL="$PROBE_URL" "$CLONE/tools/offline_check.sh" --inside "$CLONE"
say "passed: site, decks and exported HTML render offline from a fresh clone ($CLONE)"
