#!/usr/bin/env bash
# Prints the path of a working Python interpreter of the given minor version (e.g. 3.10), or
# fails with a message naming the missing interpreter. Looks in pyenv's versions, then PATH
# (a pyenv shim on PATH only works if that version is selected, so each candidate is run).
set -euo pipefail
want="${1:?usage: find-python.sh 3.10}"
root="${PYENV_ROOT:-$HOME/.pyenv}"
candidates=()
for dir in $(ls -d "$root"/versions/"$want".* 2>/dev/null | sort -V -r); do
  candidates+=("$dir/bin/python$want")
done
if command -v "python$want" >/dev/null 2>&1; then candidates+=("$(command -v "python$want")"); fi
for exe in "${candidates[@]}"; do
  if [ -x "$exe" ] && "$exe" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$want'.split('.')))" 2>/dev/null; then
    echo "$exe"; exit 0
  fi
done
echo "error: Python $want is required but was not found (looked in $root/versions/$want.* and for python$want on PATH). Install it, e.g. 'pyenv install $want'." >&2
exit 1
