#!/usr/bin/env bash
# Build CPython 3.13 with a shared libpython into $VSRTN_CACHE/python (default ~/.cache/vsrtn),
# from Debian 13 (trixie)'s source package, fetched through apt's configured mirror.
# Only used when no suitable Python exists on the machine (see scripts/find_python.py).
# The system's apt configuration is never modified: a private sources file and lists dir are used.
set -euo pipefail
CACHE="${VSRTN_CACHE:-$HOME/.cache/vsrtn}"
PREFIX="$CACHE/python"
log() { echo "[build-python] $*" >&2; }

if [ -x "$PREFIX/bin/python3" ]; then
  log "already built: $PREFIX/bin/python3"; exit 0
fi
for tool in apt-get gcc make; do
  command -v "$tool" >/dev/null || { log "ERROR: '$tool' is required to build Python (apt-get install build-essential)"; exit 1; }
done

# The mirror the system already uses (never hard-code a host).
mirror=$(grep -hoE '^URIs:[[:space:]]*\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | awk '{print $2}' || true)
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(grep -hoE '^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?\S+' /etc/apt/sources.list | head -n1 | awk '{print $NF}')
fi
[ -n "$mirror" ] || { log "ERROR: cannot read the apt mirror from /etc/apt/sources.list(.d)"; exit 1; }
log "using mirror $mirror"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/src"
echo "deb-src $mirror trixie main" > "$work/sources.list"
APT=(apt-get -o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=/dev/null
     -o "Dir::State::Lists=$work/lists" -o APT::Get::List-Cleanup=0)
"${APT[@]}" update >&2
(cd "$work/src" && "${APT[@]}" source --download-only python3.13 >&2)
tarball=$(ls "$work"/src/python3.13_*.orig.tar.xz | head -n1)
[ -n "$tarball" ] || { log "ERROR: python3.13 source tarball not downloaded"; exit 1; }
log "building from $(basename "$tarball") into $PREFIX (about 3-4 minutes on 2 cores)"
tar -xf "$tarball" -C "$work/src"
srcdir=$(find "$work/src" -maxdepth 1 -type d -name 'Python-*' | head -n1)
(cd "$srcdir" && ./configure --prefix="$PREFIX" --enable-shared LDFLAGS="-Wl,-rpath,$PREFIX/lib" >&2 \
  && make -j"$(nproc)" >&2 && make install >&2)
ln -sf python3.13 "$PREFIX/bin/python3"
log "built $PREFIX/bin/python3"
