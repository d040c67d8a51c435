#!/usr/bin/env bash
# Install what faxout needs and is missing, quickly when nothing is:
#   1. Debian packages listed in deps/apt.txt, and with --test also deps/apt-test.txt
#      (as root: apt-get; otherwise print the command);
#   2. uv (from PyPI into .tools/ when it is not on the PATH);
#   3. the Python dependencies pinned in uv.lock, into .venv, on the system Python 3.11,
#      compiled to bytecode with faxout's own source: jailed Python processes (the header
#      step of every call, the render workers) cannot write .pyc files, and compiling numpy
#      and Pillow from source cost each of them about 0.4 s.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never DEBIAN_FRONTEND=noninteractive

lists=(deps/apt.txt)
[ "${1:-}" = "--test" ] && lists+=(deps/apt-test.txt)
mapfile -t wanted < <(sed 's/#.*//' "${lists[@]}" | tr -s ' \t' '\n' | sed '/^$/d')
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${#missing[@]} Debian package(s): ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages. Run this, then try again:" >&2
    echo "  sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

python=/usr/bin/python3.11
[ -x "$python" ] || python=$(command -v python3.11) || {
  echo "setup: Python 3.11 not found (Debian: apt-get install python3)" >&2; exit 1; }

uv=$(command -v uv || true)
if [ -z "$uv" ]; then
  uv=.tools/bin/uv
  if [ ! -x "$uv" ]; then
    echo "setup: installing uv into .tools/"
    "$python" -m venv .tools
    .tools/bin/pip install -q "uv==0.13.9"
  fi
fi

"$uv" sync --locked --quiet --python "$python" --compile-bytecode
.venv/bin/python -m compileall -q -j 0 src/faxout >/dev/null
