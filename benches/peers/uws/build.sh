#!/usr/bin/env bash
# Builds the uWebSockets echo server of the kit (benches/peers/uws/echo.c) into
# target/bench-peers/uws/uws-echo.
#
# uWebSockets is not published in the registries this kit may use (crates,
# npm, PyPI, Debian), except inside one PyPI package: socketify ships a
# prebuilt library of uWebSockets v20 and uSockets (on libuv) with their C API.
# This downloads socketify's source archive (pinned version and SHA-256), takes
# the Linux x86-64 library from it, and links echo.c against it. Needs a C
# compiler, python3 with pip, and libuv 1 (`apt-get install libuv1`, done
# here when missing and running as root). Linux x86-64 only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
version=0.0.31
sha256=7502bed5b382e75f04ea3c6d6b53b76f27bb8653740db92e3f2b55fab388df20
out=target/bench-peers/uws
lib=libsocketify_linux_amd64.so

[ "$(uname -m)" = x86_64 ] || { echo "uws peer: only built on x86-64 (socketify's prebuilt library)" >&2; exit 1; }
if ! ldconfig -p | grep -q 'libuv\.so\.1 '; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y libuv1 >/dev/null
  else
    echo "uws peer: needs libuv 1 (apt-get install libuv1)" >&2
    exit 1
  fi
fi
mkdir -p "$out"
archive=$out/socketify-$version.tar.gz
if [ ! -f "$archive" ] || ! echo "$sha256  $archive" | sha256sum -c --quiet - 2>/dev/null; then
  rm -f "$archive"
  python3 -m pip download --quiet --no-deps --no-binary :all: --dest "$out" "socketify==$version"
  echo "$sha256  $archive" | sha256sum -c --quiet - || { echo "uws peer: $archive has the wrong SHA-256" >&2; exit 1; }
fi
tar -xzf "$archive" -C "$out" --strip-components=3 "socketify-$version/src/socketify/$lib"
cc -O2 -Wall -Wextra -Werror -o "$out/uws-echo" benches/peers/uws/echo.c \
  -L"$out" -l:"$lib" -Wl,-rpath,'$ORIGIN'
echo "uws peer: $out/uws-echo (uWebSockets v20 from socketify $version)"
