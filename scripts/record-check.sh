#!/usr/bin/env bash
# `npm run record:check`: records a fresh strict and lazy pair through QEMU's
# VT-d (scripts/record-qemu.sh), imports each and checks the model's counts
# against QEMU's (scripts/qemu-check.mjs). Skipped, saying so, without QEMU.
# `npm run record:check -- --shipped` runs the same check on the recordings
# shipped in traces/qemu/, VT-d, SMMUv3 and AMD-Vi (no QEMU needed; the
# test suite runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/src/cli/main.js ] || npm run build
status=0
check() { # MODE QEMU.log GUEST.trace
  node scripts/qemu-check.mjs "$1" "$2" "$3" || status=1
}
if [ "${1:-}" = "--shipped" ]; then
  check strict traces/qemu/strict.qemu.log.gz traces/qemu/strict.guest.trace.gz
  check lazy traces/qemu/lazy.qemu.log.gz traces/qemu/lazy.guest.trace.gz
  check lazy traces/qemu/lazy-seq.qemu.log.gz traces/qemu/lazy-seq.guest.trace.gz
  # SMMUv3 and AMD-Vi (scripts/record-qemu.sh --iommu smmuv3|amd)
  for r in smmuv3-strict smmuv3-split amd-strict amd-split; do check strict traces/qemu/$r.qemu.log.gz traces/qemu/$r.guest.trace.gz; done
  for r in smmuv3-lazy smmuv3-lazy-fast smmuv3-lazy-seq amd-lazy; do check lazy traces/qemu/$r.qemu.log.gz traces/qemu/$r.guest.trace.gz; done
elif ! command -v qemu-system-x86_64 >/dev/null; then
  echo "record:check skipped: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86 linux-image-amd64 busybox-static); 'npm run record:check -- --shipped' checks the shipped recordings"
  exit 0
else
  OUT=$(mktemp -d)
  trap 'rm -rf "$OUT"' EXIT
  for mode in strict lazy; do
    scripts/record-qemu.sh --$mode --pattern rand --op read --io direct --bs 4k,64k --count 100 -o "$OUT/$mode"
    check $mode "$OUT/$mode/qemu.log" "$OUT/$mode/guest.trace"
  done
fi
if [ $status -eq 0 ]; then
  echo "record:check: the model agrees with QEMU on every count that must agree"
else
  echo "record:check: FAILED (see the tables above)" >&2
fi
exit $status
