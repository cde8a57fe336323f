#!/usr/bin/env bash
# Prints the path of a Python >= 3.12 interpreter (Django 6 needs it), or fails with a clear message.
# Order: python3.13 / python3.12 on PATH (only if they really run: pyenv shims may exist but
# refuse), then the versions pyenv has installed.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
for name in python3.14 python3.13 python3.12 python3; do
  p=$(command -v "$name" 2>/dev/null) || continue
  if ok "$p"; then echo "$p"; exit 0; fi
done
root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for p in $(ls -d "$root"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do
  if ok "$p"; then echo "$p"; exit 0; fi
done
echo "error: Colloquy needs Python >= 3.12 (Django 6 requires it), and none was found." >&2
echo "       Looked for python3.13/python3.12 on PATH and under $root/versions/." >&2
echo "       Install one (e.g. 'pyenv install 3.12' or 'apt-get install python3.12') and retry." >&2
exit 1
