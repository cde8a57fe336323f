#!/usr/bin/env bash
# Makes sure the virtualenv (.venv, or $VENV) exists and holds the pinned requirements.
#
#   scripts/ensure-venv.sh runtime   # requirements.txt: enough for `make run`
#   scripts/ensure-venv.sh dev       # requirements-dev.txt (includes runtime): tests and lint
#
# The interpreter comes from scripts/find-python.sh (Python >= 3.12). A venv that is broken or
# too old is rebuilt. pip runs only when the requirement files changed since the last install:
# a stamp file in the venv holds a hash of their contents and of the interpreter's version, so
# calling this before every make target costs a few milliseconds.
set -euo pipefail

kind=${1:-dev}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=${VENV:-.venv}

case $kind in
  runtime) files=(requirements.txt) ;;
  dev) files=(requirements.txt requirements-dev.txt) ;;
  *)
    echo "usage: $0 [runtime|dev]" >&2
    exit 2
    ;;
esac

# Two make targets started at once must not pip install into the same venv together.
exec 9<"${BASH_SOURCE[0]}"
flock 9

py_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

if [[ -e $venv ]] && ! py_ok "$venv/bin/python"; then
  echo "ensure-venv: $venv is broken or its Python is older than 3.12; rebuilding it" >&2
  rm -rf "$venv"
fi
if [[ ! -e $venv/bin/python ]]; then
  py=$(scripts/find-python.sh)
  echo "ensure-venv: creating $venv with $py ($("$py" -V 2>&1))"
  "$py" -m venv "$venv"
fi

# digest FILE...: what the stamp of an install from these files must say.
digest() { { "$venv/bin/python" -VV; cat "$@"; } | sha256sum | cut -d' ' -f1; }
up_to_date() { [[ -f $venv/.stamp-$1 && $(<"$venv/.stamp-$1") == "$2" ]]; }

want=$(digest "${files[@]}")
if up_to_date "$kind" "$want"; then
  exit 0
fi
# An up-to-date dev install covers runtime.
if [[ $kind == runtime ]] && up_to_date dev "$(digest requirements.txt requirements-dev.txt)"; then
  exit 0
fi

t0=$SECONDS
# PyICU ships as source only: building it needs ICU's headers, pkg-config and a C++ compiler,
# and the interpreter's own headers (python3-dev when the interpreter is Debian's).
build_deps=(libicu-dev pkg-config g++)
if ! "$venv/bin/python" -c 'import os, sysconfig, sys
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)'; then
  build_deps+=(python3-dev)
fi
scripts/system-deps.sh "${build_deps[@]}"
req=requirements.txt
[[ $kind == dev ]] && req=requirements-dev.txt
echo "ensure-venv: pip install -r $req"
# pip's output goes to a log, shown only if it fails, less the harmless "Location 'file://...'
# is ignored" warnings that this machine's pip configuration causes by the hundred.
log=$(mktemp)
if ! "$venv/bin/python" -m pip install --disable-pip-version-check -r "$req" >"$log" 2>&1; then
  grep -v "is ignored: it is neither a file nor a directory" "$log" | tail -n 60 >&2 || true
  rm -f "$log"
  echo "ensure-venv: pip install -r $req failed" >&2
  exit 1
fi
rm -f "$log"
echo "$want" >"$venv/.stamp-$kind"
if [[ $kind == dev ]]; then
  digest requirements.txt >"$venv/.stamp-runtime"
fi
echo "ensure-venv: $req installed in $((SECONDS - t0))s"
