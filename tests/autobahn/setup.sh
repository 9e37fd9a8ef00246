#!/usr/bin/env bash
# Installs the Autobahn TestSuite (`wstest`, PyPI autobahntestsuite 25.10.1) for
# tests/autobahn/run.sh, into ${AUTOBAHN_HOME:-~/.cache/autobahn}.
#
# The suite only runs on Python 2.7, which Debian bookworm no longer ships. So
# this script fetches bullseye's python2.7 packages through an apt configuration
# of its own (own sources list, lists, cache; the system's apt state and dpkg
# database are not touched), unpacks them with `dpkg -x` under the cache
# directory, bootstraps pip 20.3.4 and installs the suite with the versions in
# constraints.txt. The result is one entry point, $AUTOBAHN_HOME/bin/wstest,
# whose listening sockets are bound to 127.0.0.1.
#
# Needs: x86_64, apt-get and dpkg, a reachable Debian mirror carrying bullseye,
# python3 with pip (to fetch pip's wheel), gcc, PyPI. About 20 s and 115 MB the
# first time; later runs only check the installed version (well under a second).
#
# Safe to run several times at once: the work happens under an exclusive lock
# ($AUTOBAHN_HOME/.setup.lock), so a second caller waits for the first one and
# then finds the suite installed. Prints the wstest path as its last line.
#
# Environment:
#   AUTOBAHN_HOME           install prefix (default ~/.cache/autobahn)
#   AUTOBAHN_DEBIAN_MIRROR  Debian mirror to take bullseye from (default: the
#                           first non-security mirror in the system's apt sources)
set -euo pipefail

VERSION=25.10.1
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
home="${AUTOBAHN_HOME:-$HOME/.cache/autobahn}"
sysroot="$home/python2.7"     # the unpacked Debian packages (usr/bin/python2.7, ...)
scratch="$home/tmp"           # apt state, downloads; deleted after a good install
wstest="$home/bin/wstest"
py="$sysroot/usr/bin/python2.7"
libs="$sysroot/usr/lib/x86_64-linux-gnu"

step="starting"
hint=""
on_exit() {
  local rc=$?
  [ "$rc" -eq 0 ] && return
  {
    echo
    echo "setup.sh: FAILED while $step (exit status $rc)."
    [ -z "$hint" ] || echo "  $hint"
    echo "  Fix the cause and run tests/autobahn/setup.sh again: finished steps are kept."
    echo "  To start over: rm -rf '$home'. To install by hand, see tests/autobahn/README.md"
    echo "  (\"Installing by hand\"): any Python 2.7 with pip will do, with"
    echo "  'pip install -c tests/autobahn/constraints.txt autobahntestsuite==$VERSION'."
  } >&2
}
trap on_exit EXIT

# Runs the private interpreter with its own shared libraries (libssl1.1, libffi7,
# libpython2.7), which only it sees: nothing else here gets LD_LIBRARY_PATH.
py2() { LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$py" "$@"; }

installed() { [ -x "$wstest" ] && "$wstest" -a 2>/dev/null | grep -q "AutobahnTestSuite $VERSION"; }

step="taking the lock $home/.setup.lock"
hint="Another setup.sh may be stuck; find it with: fuser -v '$home/.setup.lock'"
mkdir -p "$home"
exec 9>"$home/.setup.lock"
if ! flock -n 9; then
  echo "setup.sh: another setup is running; waiting for it (up to 30 min)" >&2
  flock -w 1800 9
fi

if installed; then
  echo "Autobahn TestSuite $VERSION is installed"
  echo "$wstest"
  exit 0
fi

step="checking the prerequisites"
hint="Install what is missing, e.g. apt-get install -y gcc python3-pip"
[ "$(uname -m)" = x86_64 ] || { echo "setup.sh: this installer supports x86_64 only" >&2; exit 1; }
for tool in apt-get dpkg gcc python3 timeout; do
  command -v "$tool" >/dev/null || { echo "setup.sh: '$tool' is not installed" >&2; exit 1; }
done
python3 -m pip --version >/dev/null 2>&1 || { echo "setup.sh: python3 has no pip" >&2; exit 1; }
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || { echo "setup.sh: $keyring is missing (apt-get install debian-archive-keyring)" >&2; exit 1; }

# --- 1. Python 2.7 out of Debian bullseye -----------------------------------
if [ ! -f "$sysroot/.complete" ]; then
  step="finding a Debian mirror"
  hint="Set AUTOBAHN_DEBIAN_MIRROR, e.g. AUTOBAHN_DEBIAN_MIRROR=http://deb.debian.org/debian"
  mirror="${AUTOBAHN_DEBIAN_MIRROR:-}"
  if [ -z "$mirror" ]; then
    # One-line sources ("deb URL suite ...") and deb822 ones ("URIs: URL").
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
                 /etc/apt/sources.list.d/*.sources 2>/dev/null \
      | awk '$1 == "deb" || $1 == "URIs:" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) print $i }' \
      | grep -v -e '-security' | head -n 1 || true)
  fi
  [ -n "$mirror" ] || { echo "setup.sh: no Debian mirror in the apt sources" >&2; exit 1; }

  echo "== Python 2.7: Debian bullseye packages from $mirror"
  rm -rf "$scratch/apt" "$scratch/debs"
  mkdir -p "$scratch/apt/lists/partial" "$scratch/apt/archives/partial" "$scratch/debs"
  echo "deb [signed-by=$keyring] $mirror bullseye main" >"$scratch/apt/sources.list"
  # Every path apt would read or write is redirected into $scratch/apt; the
  # status file is empty, so apt sees no installed packages and downloads by name.
  apt=(apt-get -q
    -o "Dir::Etc::SourceList=$scratch/apt/sources.list"
    -o Dir::Etc::SourceParts=/dev/null
    -o Dir::Etc::Preferences=/dev/null
    -o Dir::Etc::PreferencesParts=/dev/null
    -o "Dir::State::Lists=$scratch/apt/lists"
    -o Dir::State::status=/dev/null
    -o "Dir::Cache=$scratch/apt"
    -o Acquire::Languages=none
    -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
    -o "APT::Sandbox::User=$(id -un)")
  step="downloading the bullseye package lists (apt-get update)"
  hint="Is $mirror reachable, and does it still carry bullseye? (otherwise try AUTOBAHN_DEBIAN_MIRROR=http://archive.debian.org/debian)"
  timeout 600 "${apt[@]}" --error-on=any update
  step="downloading the python2.7 packages (apt-get download)"
  # libssl1.1 and libffi7 (for the _ssl, _hashlib and _ctypes modules) are not in
  # bookworm either. libpython2.7-dev brings the headers wsaccel compiles against.
  (cd "$scratch/debs" && timeout 600 "${apt[@]}" download \
    python2.7 python2.7-minimal libpython2.7-minimal libpython2.7-stdlib libpython2.7-dev \
    libssl1.1 libffi7)
  step="unpacking the python2.7 packages (dpkg -x)"
  hint="Is there space under $home? (about 115 MB are needed)"
  rm -rf "$sysroot" && mkdir -p "$sysroot"
  for deb in "$scratch"/debs/*.deb; do dpkg -x "$deb" "$sysroot"; done
  touch "$sysroot/.complete"
fi

step="checking the shared libraries of python2.7"
hint="rm -rf '$sysroot' and run setup.sh again to unpack the packages anew"
unresolved=$(LD_LIBRARY_PATH="$libs" ldd "$py" \
  "$sysroot"/usr/lib/python2.7/lib-dynload/{_ssl,_hashlib,_ctypes,pyexpat,bz2}.x86_64-linux-gnu.so \
  | grep 'not found' || true)
if [ -n "$unresolved" ]; then
  echo "setup.sh: python2.7 needs libraries that are not there:" >&2
  echo "$unresolved" >&2
  exit 1
fi

# --- 2. pip for Python 2.7 ---------------------------------------------------
if ! py2 -m pip --version >/dev/null 2>&1; then
  echo "== pip 20.3.4 for Python 2.7"
  step="downloading pip, setuptools and wheel from PyPI (python3 -m pip download)"
  hint="Is PyPI reachable from python3 -m pip (proxy settings, pip.conf)?"
  mkdir -p "$scratch/wheels"
  timeout 600 python3 -m pip download -q --disable-pip-version-check --no-deps \
    --only-binary=:all: --python-version 2.7 -d "$scratch/wheels" \
    pip==20.3.4 setuptools==44.0.0 wheel==0.37.1
  step="installing pip into the private Python 2.7"
  hint=""
  # A wheel is a zip archive, and pip runs from its own wheel.
  py2 "$scratch/wheels/pip-20.3.4-py2.py3-none-any.whl/pip" install -q --no-index \
    --no-warn-script-location --no-python-version-warning "$scratch"/wheels/*.whl
fi

# --- 3. The suite --------------------------------------------------------------
echo "== autobahntestsuite $VERSION and its dependencies"
step="installing autobahntestsuite $VERSION with pip (Python 2.7)"
hint="Is PyPI reachable? wsaccel and ujson compile C code: is gcc installed?"
# No build isolation: the pinned setuptools 44 is the last one for Python 2.7.
CFLAGS="-I$sysroot/usr/include/python2.7 -I$sysroot/usr/include" \
  timeout 1200 env LD_LIBRARY_PATH="$libs" "$py" -m pip install -q \
  --disable-pip-version-check --no-warn-script-location --no-python-version-warning \
  --no-build-isolation -c "$here/constraints.txt" "autobahntestsuite==$VERSION"
step="importing the suite"
hint="The install finished but does not import; rm -rf '$home' and run setup.sh again"
py2 -c 'import autobahntestsuite, wsaccel'

# --- 4. The entry point --------------------------------------------------------
# A small Python launcher plus a shell wrapper. The launcher makes Twisted's
# listenTCP default to 127.0.0.1 (the suite listens on all interfaces otherwise).
step="writing $wstest"
mkdir -p "$home/bin"
cat >"$home/bin/wstest-loopback.py" <<'EOF'
# Starts the suite's wstest with every listening socket on 127.0.0.1 unless an
# interface is given. Written by tests/autobahn/setup.sh.
import sys
del sys.path[0]  # the directory of this file: nothing to import from there
import autobahntestsuite.choosereactor  # installs the reactor wstest expects
from twisted.internet import reactor

_listen_tcp = reactor.listenTCP


def _loopback_listen_tcp(port, factory, backlog=50, interface=""):
    return _listen_tcp(port, factory, backlog, interface or "127.0.0.1")


reactor.listenTCP = _loopback_listen_tcp

from autobahntestsuite.wstest import run

sys.argv[0] = "wstest"
sys.exit(run())
EOF
# -E -s: ignore PYTHON* variables and the user's site-packages; -u: unbuffered
# output, so that logs show progress as it happens.
cat >"$wstest.new" <<EOF
#!/bin/sh
# Autobahn TestSuite $VERSION on the Python 2.7 in $sysroot.
# Written by tests/autobahn/setup.sh.
LD_LIBRARY_PATH="$libs\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" \\
  exec "$py" -E -s -u "$home/bin/wstest-loopback.py" "\$@"
EOF
chmod +x "$wstest.new"
step="running the new wstest (wstest -a)"
"$wstest.new" -a | grep -q "AutobahnTestSuite $VERSION"
# Appears only once it works: run.sh takes an existing wstest as installed.
mv -f "$wstest.new" "$wstest"
rm -rf "$scratch"
echo "Autobahn TestSuite $VERSION installed"
echo "$wstest"
