#!/usr/bin/env bash
# One-command, idempotent set-up of vsrtn on a Debian/Ubuntu machine:
#   ffmpeg + x264 (apt), a Python >= 3.12 with shared libpython, .venv with vsrtn[dev],
#   and `vapoursynth config` so that vspipe can start. A second run is a no-op in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
export VSRTN_CACHE="${VSRTN_CACHE:-$HOME/.cache/vsrtn}"
log() { echo "[setup] $*" >&2; }
die() { echo "[setup] ERROR: $*" >&2; exit 1; }

# 1. Media tools from apt.
missing=()
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v x264 >/dev/null || missing+=(x264)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    log "installing ${missing[*]} with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
  else
    die "missing ${missing[*]}: run 'sudo apt-get install -y ${missing[*]}' and then run this again"
  fi
else
  log "ffmpeg and x264 present"
fi

# 2. A Python that can host vspipe.
finder_python=$(command -v python3 || true)
find_python() {
  if [ -n "$finder_python" ]; then "$finder_python" scripts/find_python.py
  elif [ -x "$VSRTN_CACHE/python/bin/python3" ]; then echo "$VSRTN_CACHE/python/bin/python3"
  else return 1; fi
}
set +e; PY=$(find_python); rc=$?; set -e
if [ $rc -eq 2 ]; then die "the Python named by PYTHON= cannot be used (see above)"; fi
if [ $rc -ne 0 ]; then
  log "no Python >= 3.12 with a shared libpython found; building one into $VSRTN_CACHE/python"
  scripts/build_python.sh || die "building Python failed (see above)"
  PY=$(find_python) || die "Python was built but is still not usable"
fi
log "using $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"

# 3. The virtual environment, re-made only when pyproject.toml or the base Python changed.
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $PY"
stamp="$VENV/.vsrtn-setup"
if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  log "$VENV is up to date"
else
  base_of_venv=$("$VENV/bin/python" -c 'import os, sys; print(os.path.realpath(sys._base_executable))' 2>/dev/null || true)
  if [ "$base_of_venv" != "$("$PY" -c 'import os, sys; print(os.path.realpath(sys.executable))')" ]; then
    log "creating $VENV"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV" || die "could not create $VENV"
  fi
  log "installing vsrtn[dev] and its dependencies into $VENV (a fresh venv takes a few minutes: torch is ~4 GB)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2 || die "pip upgrade failed"
  "$VENV/bin/python" -m pip install --quiet -e '.[dev]' >&2 || die "pip install -e .[dev] failed"
  echo "$want" > "$stamp"
fi

# 4. vspipe needs VapourSynth's runtime configuration for this venv (idempotent, cheap).
"$VENV/bin/vapoursynth" config >/dev/null 2>&1 || die "'vapoursynth config' failed"
log "setup complete: activate with 'source $VENV/bin/activate'"
