#!/usr/bin/env bash
# Records a real trace pair through one of QEMU's emulated IOMMUs (docs/qemu.md):
#   OUT/qemu.log     QEMU's trace events (host side: every DMA translation,
#                    IOTLB hit/miss/fill/reset, invalidation command):
#                    vtd_* (Intel VT-d), smmu*_* (Arm SMMUv3) or amdvi_* (AMD-Vi)
#   OUT/guest.trace  the guest kernel's iommu:* ftrace events (map, unmap, ...)
# The guest is a busybox initramfs with the guest kernel's own NVMe modules,
# booted under TCG with the IOMMU and an NVMe scratch disk: q35 for VT-d and
# AMD-Vi (the host's amd64 kernel), virt with GICv3 for SMMUv3 (an arm64
# kernel and busybox, extracted from Debian's packages). No network device:
# nothing leaves the machine.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: scripts/record-qemu.sh [options] -o DIR
  --iommu vtd|smmuv3|amd    Intel VT-d on q35 (default), Arm SMMUv3 on virt, AMD-Vi on q35
  --strict | --lazy         iommu.strict=1 (default) or iommu.strict=0
  --pattern seq|rand        sequential (default) or random offsets
  --op read|write           read (default) or write
  --io buffered|direct      page cache (default) or O_DIRECT (dd iflag/oflag=direct)
  --bs LIST                 block sizes, comma-separated (default 4k,64k)
  --count N                 blocks per block size (default 256)
  --disk-mb N               scratch disk size (default 64)
  --kernel FILE             guest kernel (default: newest /boot/vmlinuz-*; smmuv3: none,
                            give an arm64 one). Its modules are taken from
                            ROOT/lib/modules/VERSION when FILE is ROOT/boot/vmlinuz-VERSION
  --cpu MODEL               QEMU -cpu (default max; smmuv3: max,pauth-impdef=on runs faster)
  --busybox FILE            static busybox for the guest (default: the host's; smmuv3:
                            ROOT/bin/busybox beside the kernel)
  --timeout S               give up after S seconds (default 600)
  -o, --out DIR             output directory (qemu.log, guest.trace, console.log, cmdline)
USAGE
}

ARGS=("$@")
IOMMU=vtd MODE=strict PATTERN=seq OP=read IO=buffered BS=4k,64k COUNT=256 DISK_MB=64 KERNEL= BUSYBOX= CPU=max TIMEOUT=600 OUT=
while [ $# -gt 0 ]; do
  case "$1" in
    --iommu) IOMMU=$2; shift ;;
    --strict) MODE=strict ;;
    --lazy) MODE=lazy ;;
    --pattern) PATTERN=$2; shift ;;
    --op) OP=$2; shift ;;
    --io) IO=$2; shift ;;
    --bs) BS=$2; shift ;;
    --count) COUNT=$2; shift ;;
    --disk-mb) DISK_MB=$2; shift ;;
    --kernel) KERNEL=$2; shift ;;
    --busybox) BUSYBOX=$2; shift ;;
    --cpu) CPU=$2; shift ;;
    --timeout) TIMEOUT=$2; shift ;;
    -o|--out) OUT=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "record-qemu.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
fail() { echo "record-qemu.sh: $*" >&2; exit 2; }
[ -n "$OUT" ] || { usage >&2; exit 2; }
case "$PATTERN" in seq|rand) ;; *) fail "--pattern: expected seq or rand, got $PATTERN" ;; esac
case "$OP" in read|write) ;; *) fail "--op: expected read or write, got $OP" ;; esac
case "$IO" in buffered|direct) ;; *) fail "--io: expected buffered or direct, got $IO" ;; esac
[[ "$COUNT" =~ ^[0-9]+$ ]] || fail "--count: expected a positive integer, got $COUNT"
[[ "$BS" =~ ^[0-9]+[kKmM]?(,[0-9]+[kKmM]?)*$ ]] || fail "--bs: expected sizes like 4k,64k, got $BS"
case "$IOMMU" in
  vtd|amd) QEMU=qemu-system-x86_64 QPKG=qemu-system-x86 ;;
  smmuv3) QEMU=qemu-system-aarch64 QPKG=qemu-system-arm ;;
  *) fail "--iommu: expected vtd, smmuv3 or amd, got $IOMMU" ;;
esac
command -v $QEMU >/dev/null || fail "$QEMU not found (apt-get install $QPKG)"
if [ "$IOMMU" = smmuv3 ]; then
  [ -n "$KERNEL" ] || fail "--iommu smmuv3 needs --kernel ROOT/boot/vmlinuz-VERSION of an arm64 kernel (docs/qemu.md: apt-get download linux-image-VERSION-arm64:arm64 busybox-static:arm64, dpkg-deb -x each into ROOT)"
  [ -n "$BUSYBOX" ] || BUSYBOX=$(dirname "$(dirname "$KERNEL")")/bin/busybox
fi
[ -n "$BUSYBOX" ] || BUSYBOX=$(command -v busybox || true)
[ -x "$BUSYBOX" ] || fail "busybox not found (apt-get install busybox-static, or --busybox FILE)"
if [ -z "$KERNEL" ]; then KERNEL=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1 || true); fi
[ -r "$KERNEL" ] || fail "no readable kernel (apt-get install linux-image-amd64, or --kernel FILE)"
KVER=${KERNEL##*/vmlinuz-}
# ROOT/boot/vmlinuz-VERSION -> ROOT/lib/modules/VERSION (/boot/... -> /lib/modules/...)
KROOT=$(cd "$(dirname "$KERNEL")/.." && pwd); KROOT=${KROOT%/}
MODDIR=$KROOT/lib/modules/$KVER
[ -r "$MODDIR/modules.dep" ] || fail "no $MODDIR/modules.dep for kernel $KVER$([ "$KROOT" = "" ] || echo " (a kernel extracted from its .deb has none: depmod -b $KROOT $KVER)")"

mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# --- initramfs: busybox, nvme + nvme-core and their dependencies (modules.dep order) ---
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,dev,proc,sys,mod}
cp "$BUSYBOX" "$ROOT/bin/busybox"
for app in sh mount insmod echo cat sleep dd poweroff ls seq grep; do ln -s busybox "$ROOT/bin/$app"; done
# modules.dep lists a module's dependencies, most dependent first: load them in reverse.
moddeps() {
  awk -v m="$1" '
  { key=$1; sub(/:$/, "", key) }
  key ~ "^" m "(\\.xz|\\.zst|\\.gz)?$" { for (i = NF; i >= 2; i--) print $i; print key }' "$MODDIR/modules.dep"
}
deps=
# A kernel that builds the SMMUv3 driver as a module (Debian 6.1 arm64 builds it in) needs it
# loaded before nvme: registering it probes the PCI devices already there.
if [ "$IOMMU" = smmuv3 ]; then deps=$(moddeps kernel/drivers/iommu/arm/arm-smmu-v3/arm_smmu_v3.ko); fi
nvmedeps=$(moddeps kernel/drivers/nvme/host/nvme.ko)
[ -n "$nvmedeps" ] || fail "nvme.ko not in $MODDIR/modules.dep"
deps=$(printf '%s\n%s\n' "$deps" "$nvmedeps" | awk 'NF && !seen[$0]++')
n=0
for rel in $deps; do
  n=$((n + 1))
  name=$(printf '%02d-%s' "$n" "$(basename "$rel")")
  case "$rel" in
    *.xz) xz -dc "$MODDIR/$rel" >"$ROOT/mod/${name%.xz}" ;;   # busybox insmod cannot read .xz
    *.zst) zstd -qdc "$MODDIR/$rel" >"$ROOT/mod/${name%.zst}" ;;
    *.gz) gzip -dc "$MODDIR/$rel" >"$ROOT/mod/${name%.gz}" ;;
    *) cp "$MODDIR/$rel" "$ROOT/mod/$name" ;;
  esac
done

# Guest lines run before the modules load. AMD-Vi: QEMU advertises NpCache, so
# Linux forces strict mode ("Using strict mode due to virtualization", 6.1
# iommu_init_pci()) and ignores iommu.strict=0; a DMA domain can still be
# switched to the flush queue through sysfs before a driver binds (6.1
# iommu_group_store_type() -> iommu_dma_init_fq()), which is lazy mode.
PRELOAD=
if [ "$IOMMU" = amd ] && [ "$MODE" = lazy ]; then
  PRELOAD='for d in /sys/bus/pci/devices/*; do
  if [ "$(cat $d/class)" = 0x010802 ]; then echo DMA-FQ > $d/iommu_group/type; echo "${d##*/}: iommu group type $(cat $d/iommu_group/type)"; fi
done'
fi
# The kernel's IOMMU messages on the console (quiet hides them): which mode
# the driver chose, and why a device got no translation. Not for VT-d, whose
# console log stays as it was.
POSTRUN=
[ "$IOMMU" = vtd ] || POSTRUN='busybox dmesg | grep -i -e iommu -e smmu -e amd-vi -e nvme -e dmar'
FLAG=
if [ "$IO" = direct ]; then FLAG=$([ "$OP" = read ] && echo "iflag=direct" || echo "oflag=direct conv=notrunc"); fi
cat >"$ROOT/init" <<INIT
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tracefs tracefs /sys/kernel/tracing
T=/sys/kernel/tracing
echo 65536 > \$T/buffer_size_kb
echo 1 > \$T/events/iommu/enable
[ -d \$T/events/dma ] && echo 1 > \$T/events/dma/enable
echo 1 > \$T/tracing_on
$PRELOAD
for m in /mod/*.ko; do insmod \$m || echo "insmod \$m failed"; done
i=0; while [ ! -b /dev/nvme0n1 ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
[ -b /dev/nvme0n1 ] || echo "no /dev/nvme0n1"
DISK_MB=$DISK_MB
for bs in $(echo "$BS" | tr , ' '); do
  case \$bs in *k|*K) b=\$(( \${bs%?} * 1024 ));; *m|*M) b=\$(( \${bs%?} * 1048576 ));; *) b=\$bs;; esac
  blocks=\$(( DISK_MB * 1048576 / b ))
  echo "workload: $PATTERN $OP $IO bs=\$bs count=$COUNT"
  if [ "$PATTERN" = seq ]; then
    if [ "$OP" = read ]; then dd if=/dev/nvme0n1 of=/dev/null bs=\$b count=$COUNT $FLAG 2>/dev/null
    else dd if=/dev/zero of=/dev/nvme0n1 bs=\$b count=$COUNT $FLAG 2>/dev/null; fi
  else
    k=0
    while [ \$k -lt $COUNT ]; do
      off=\$(( (RANDOM * 32768 + RANDOM) % blocks ))
      if [ "$OP" = read ]; then dd if=/dev/nvme0n1 of=/dev/null bs=\$b count=1 skip=\$off $FLAG 2>/dev/null
      else dd if=/dev/zero of=/dev/nvme0n1 bs=\$b count=1 seek=\$off $FLAG 2>/dev/null; fi
      k=\$((k + 1))
    done
  fi
  [ "$IO" = buffered ] && echo 3 > /proc/sys/vm/drop_caches
done
echo 0 > \$T/tracing_on
$POSTRUN
echo "=====IOMMU-TRACE-BEGIN====="
cat \$T/trace
echo "=====IOMMU-TRACE-END====="
poweroff -f
INIT
chmod +x "$ROOT/init"
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1) >"$WORK/initrd.gz"

# --- the machine ---
DISK=$WORK/disk.img
truncate -s "${DISK_MB}M" "$DISK"
[ "$OP" = read ] && head -c $((DISK_MB * 1048576)) /dev/urandom >"$DISK" 2>/dev/null || true
STRICT=$([ "$MODE" = strict ] && echo 1 || echo 0)
rm -f "$OUT/qemu.log" "$OUT/console.log"
case "$IOMMU" in
  vtd)
    MACHINE=(-machine q35,accel=tcg -cpu "$CPU" -device intel-iommu,aw-bits=48,intremap=off,caching-mode=off -vga none)
    APPEND="console=ttyS0 quiet loglevel=3 intel_iommu=on iommu.strict=$STRICT iommu.passthrough=0"
    TRACE=(-trace vtd_dmar_translate -trace 'vtd_iotlb_page_*' -trace vtd_iotlb_reset -trace 'vtd_inv_desc*')
    TRANSLATE=vtd_dmar_translate ;;
  smmuv3)
    # The GICv3 ITS doorbell is mapped through the SMMU: each MSI is a
    # translated DMA write. No page-table walk, MMIO or config-cache events:
    # they would make the log many times larger and count nothing we compare.
    MACHINE=(-machine virt,accel=tcg,iommu=smmuv3,gic-version=3 -cpu "$CPU")
    APPEND="console=ttyAMA0 quiet loglevel=3 iommu.strict=$STRICT iommu.passthrough=0"
    TRACE=(-trace 'smmuv3_translate_*' -trace 'smmu_iotlb_*' -trace 'smmuv3_cmdq_*' -trace smmuv3_s1_range_inval
      -trace smmuv3_record_event -trace smmuv3_unhandled_cmd)
    TRANSLATE=smmuv3_translate_success ;;
  amd)
    # intremap=off needs no split irqchip under TCG. Linux 6.1 turns the
    # driver on whenever the IVRS table exists (amd_iommu=on is rejected).
    MACHINE=(-machine q35,accel=tcg -cpu "$CPU" -device amd-iommu,intremap=off -vga none)
    APPEND="console=ttyS0 quiet loglevel=3 iommu.strict=$STRICT iommu.passthrough=0"
    TRACE=(-trace 'amdvi_*' -trace '-amdvi_mmio_*' -trace '-amdvi_ir_*' -trace '-amdvi_mem_ir_*')
    TRANSLATE=amdvi_translation_result ;;
esac
CMD=($QEMU "${MACHINE[@]}" -smp 1 -m 512M
  -kernel "$KERNEL" -initrd "$WORK/initrd.gz"
  -append "$APPEND"
  -drive "file=$DISK,if=none,id=scratch,format=raw" -device nvme,drive=scratch,serial=scratch0
  -nic none -display none -no-reboot
  -serial "file:$OUT/console.log"
  "${TRACE[@]}"
  -msg timestamp=on -D "$OUT/qemu.log")
printf '%q ' scripts/record-qemu.sh "${ARGS[@]}" >"$OUT/cmdline"; echo >>"$OUT/cmdline"
echo "recording ($([ "$IOMMU" = vtd ] || echo "$IOMMU, ")$MODE, $PATTERN $OP $IO, bs $BS x $COUNT) into $OUT ..." >&2
start=$(date +%s)
timeout "$TIMEOUT" "${CMD[@]}" || fail "QEMU failed or timed out after ${TIMEOUT}s (see $OUT/console.log)"
sed -n '/=====IOMMU-TRACE-BEGIN=====/,/=====IOMMU-TRACE-END=====/p' "$OUT/console.log" | sed '1d;$d' | tr -d '\r' >"$OUT/guest.trace"
[ -s "$OUT/guest.trace" ] || fail "the guest printed no trace (see $OUT/console.log)"
grep -q "$TRANSLATE" "$OUT/qemu.log" || fail "QEMU logged no $TRANSLATE (see $OUT/qemu.log)"
echo "recorded in $(( $(date +%s) - start ))s: $(wc -l <"$OUT/qemu.log") QEMU lines, $(grep -c ': map:\|: unmap:' "$OUT/guest.trace" || true) guest map/unmap lines" >&2
