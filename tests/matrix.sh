#!/usr/bin/env bash
# The suite at each end of the declared ranges (pyproject.toml:
# requires-python >= 3.9, numpy >= 1.24): the oldest and the newest Python
# this finds (3.9 and 3.13 where pyenv or PATH has them), each with the
# oldest NumPy that installs on it and the newest. Each cell is a fresh venv
# with retroprop installed from this checkout (pip install ".[test]", a real
# build, not editable) and the suite run against it; a summary table ends the
# output. Extra arguments go to pytest, e.g. tests/matrix.sh -x -q;
# MATRIX_PYTHONS="3.13" runs only the cells of those Pythons.
#
#   oldest NumPy on Python 3.9:  1.24 (the declared lower bound)
#   oldest NumPy on Python 3.13: 2.1  (the first with CPython 3.13 wheels)
#   newest NumPy:                whatever pip picks for "numpy>=1.24"
set -uo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
# A snapshot of the checkout (its tracked files as they are now, edits
# included): the cells build and test it, whatever happens to the checkout
# meanwhile.
root="$tmp/src"
mkdir "$root"
if git rev-parse --git-dir >/dev/null 2>&1; then
    git ls-files -z | xargs -0 cp --parents -t "$root"
else
    cp -r . "$root"
    rm -rf "$root"/build "$root"/python/retroprop/*.so
fi
cd "$root"
pytest_args=("$@")
[ ${#pytest_args[@]} -eq 0 ] && pytest_args=(-q)

find_python() {  # the interpreter for version $1 (3.9), or nothing
    local v="$1" candidate
    for candidate in "python$v" "$(pyenv root 2>/dev/null)"/versions/"$v".*/bin/python; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           [ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$v" ]; then
            command -v "$candidate"
            return
        fi
    done
}

# python version, numpy requirement, what that end is
cells=(
    "3.9|numpy==1.24.*|oldest Python, oldest NumPy"
    "3.9|numpy>=1.24|oldest Python, newest NumPy"
    "3.13|numpy==2.1.*|newest Python, oldest NumPy for it"
    "3.13|numpy>=1.24|newest Python, newest NumPy"
)

summary=()
status=0
for cell in "${cells[@]}"; do
    IFS="|" read -r pyver npspec what <<<"$cell"
    if [ -n "${MATRIX_PYTHONS:-}" ] && ! [[ " $MATRIX_PYTHONS " == *" $pyver "* ]]; then
        continue
    fi
    python="$(find_python "$pyver")"
    if [ -z "$python" ]; then
        summary+=("$(printf '%-6s %-10s %-36s %s' "$pyver" "-" "$what" "skipped: no python$pyver found")")
        continue
    fi
    echo
    echo "=== Python $pyver ($python), $npspec: $what"
    venv="$tmp/venv-$pyver-${#summary[@]}"
    start=$SECONDS
    "$python" -m venv "$venv"
    if ! "$venv/bin/python" -m pip install -q ".[test]" "$npspec"; then
        summary+=("$(printf '%-6s %-10s %-36s %s' "$pyver" "?" "$what" "FAILED to install")")
        status=1
        continue
    fi
    npver="$("$venv/bin/python" -c 'import numpy; print(numpy.__version__)')"
    log="$tmp/pytest-$pyver-$npver.log"
    # run from the checkout: `import retroprop` finds the installed package
    # (the sources are under python/, not on sys.path)
    (cd "$root" && "$venv/bin/python" -c 'import retroprop, sys; assert "site-packages" in retroprop.__file__, retroprop.__file__' &&
     "$venv/bin/python" -m pytest -p no:cacheprovider "${pytest_args[@]}") 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    result="$(grep -E '[0-9]+ (passed|failed)' "$log" | tail -1 | sed 's/=//g; s/^ *//; s/ *$//')"
    [ "$rc" -eq 0 ] || status=1
    summary+=("$(printf '%-6s %-10s %-36s %s (%d s)' "$pyver" "$npver" "$what" "${result:-exit $rc}" $((SECONDS - start)))")
done

echo
echo "=== matrix: Python x NumPy"
printf '%-6s %-10s %-36s %s\n' "Python" "NumPy" "end of the ranges" "suite"
printf '%s\n' "${summary[@]}"
exit $status
