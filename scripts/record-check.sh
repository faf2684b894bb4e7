#!/usr/bin/env bash
# `npm run record:check`: records a fresh strict and lazy pair through QEMU's
# VT-d (scripts/record-qemu.sh), imports each and checks the model's counts
# against QEMU's (scripts/qemu-check.mjs). Skipped, saying so, without QEMU.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v qemu-system-x86_64 >/dev/null; then
  echo "record:check skipped: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86 linux-image-amd64 busybox-static)"
  exit 0
fi
[ -f dist/src/cli/main.js ] || npm run build
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
status=0
for mode in strict lazy; do
  scripts/record-qemu.sh --$mode --pattern rand --op read --io direct --bs 4k,64k --count 100 -o "$OUT/$mode"
  node scripts/qemu-check.mjs $mode "$OUT/$mode/qemu.log" "$OUT/$mode/guest.trace" || status=1
done
[ $status -eq 0 ] && echo "record:check: the model agrees with QEMU on every count that must agree" || echo "record:check: FAILED (see the tables above)" >&2
exit $status
