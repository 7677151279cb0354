#!/usr/bin/env bash
# Build and run the pure C kernels' test program (tests/c/harness.c): no
# Python. Prints a digest of the bits of every result, which must be the same
# for every compiler, instruction set and architecture.
#   tests/c/run.sh                         the system's cc
#   CC=clang tests/c/run.sh                another compiler
#   CC=aarch64-linux-gnu-gcc RUN="qemu-aarch64-static -L /usr/aarch64-linux-gnu" tests/c/run.sh
# The flags are setup.py's for gcc and clang (no fused multiply-add;
# clang keeps the floating-point status flags as written).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../../src/kernels"
cc="${CC:-cc}"
flags=(-std=c99 -O3 -ffp-contract=off -Wall -Wextra -Werror)
if "$cc" --version 2>/dev/null | grep -qi clang; then
    flags+=(-ftrapping-math)
fi
out="$(mktemp -d)/harness"
"$cc" "${flags[@]}" -I"$src" "$here/harness.c" "$src"/*.c -lm -o "$out"
# shellcheck disable=SC2086
${RUN:-} "$out"
