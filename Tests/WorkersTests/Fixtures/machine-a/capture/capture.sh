#!/bin/bash
# Copies the kernel files shd's workers read from this machine into a fixture tree.
# /proc and /sys sizes lie, so every file is copied with `cat src > dst`; unreadable files are skipped.
set -u
DST=${1:?destination}
mkdir -p "$DST"
cp_f() { # cp_f SRC DST-RELATIVE
  local src=$1 rel=$2
  mkdir -p "$(dirname "$DST/$rel")"
  if ! cat "$src" > "$DST/$rel" 2>/dev/null; then rm -f "$DST/$rel"; fi
}
for f in stat meminfo vmstat loadavg uptime diskstats mounts cpuinfo swaps mdstat; do
  [ -e /proc/$f ] && cp_f /proc/$f proc/$f
done
for f in /proc/pressure/*; do cp_f "$f" "proc/pressure/$(basename "$f")"; done
for f in mountinfo mounts status stat statm cmdline; do cp_f /proc/self/$f proc/self/$f; done
# Mounts of the machine's own tooling (EXCLUDE_MOUNTS, a grep -E pattern) are left out of the copy.
if [ -n "${EXCLUDE_MOUNTS:-}" ]; then
  for f in proc/self/mountinfo proc/self/mounts proc/mounts; do
    [ -f "$DST/$f" ] && grep -vE "$EXCLUDE_MOUNTS" "$DST/$f" > "$DST/$f.tmp" && mv "$DST/$f.tmp" "$DST/$f"
  done
fi
# statvfs(3) of every mount point in the copied mountinfo, in the sidecar format of FixtureStatfs.
python3 - "$DST" <<'PY'
import os, sys
dst = sys.argv[1]
out = ["# mount f_bsize f_blocks f_bfree f_bavail f_files f_ffree flags"]
seen = set()
for line in open(os.path.join(dst, "proc/self/mountinfo")):
    point = line.split()[4]
    if point in seen: continue
    seen.add(point)
    real = point.encode().decode("unicode_escape")
    try: s = os.statvfs(real)
    except OSError: continue
    unit = s.f_frsize or s.f_bsize
    out.append(f"{point} {unit} {s.f_blocks} {s.f_bfree} {s.f_bavail} {s.f_files} {s.f_ffree} {'ro' if s.f_flag & os.ST_RDONLY else 'rw'}")
open(os.path.join(dst, "statvfs"), "w").write("\n".join(out) + "\n")
PY
for f in dev sockstat sockstat6 tcp tcp6 udp udp6 snmp netstat; do cp_f /proc/net/$f proc/net/$f; done
for f in sys/fs/file-nr sys/fs/file-max sys/kernel/hostname sys/kernel/osrelease sys/kernel/pid_max sys/kernel/threads-max; do
  cp_f /proc/$f proc/$f
done
for pid in ${PIDS:-}; do
  for f in stat status cmdline statm; do cp_f /proc/$pid/$f proc/$pid/$f; done
done
C=/sys/devices/system/cpu
for f in online possible present offline kernel_max; do cp_f $C/$f sys/devices/system/cpu/$f; done
for d in $C/cpu[0-9]*; do
  n=$(basename "$d")
  for f in topology/core_id topology/physical_package_id topology/thread_siblings_list topology/core_cpus_list; do
    cp_f "$d/$f" "sys/devices/system/cpu/$n/$f"
  done
  if [ -d "$d/cpufreq" ]; then
    for f in "$d"/cpufreq/*; do [ -f "$f" ] && cp_f "$f" "sys/devices/system/cpu/$n/cpufreq/$(basename "$f")"; done
  fi
done
for i in /sys/class/net/*; do
  n=$(basename "$i")
  for f in operstate carrier speed duplex mtu type flags address ifindex tx_queue_len; do cp_f "$i/$f" "sys/class/net/$n/$f"; done
  for f in "$i"/statistics/*; do cp_f "$f" "sys/class/net/$n/statistics/$(basename "$f")"; done
done
for b in /sys/block/*; do
  n=$(basename "$b")
  for f in size stat removable ro queue/rotational queue/logical_block_size queue/physical_block_size; do cp_f "$b/$f" "sys/block/$n/$f"; done
done
for z in /sys/class/thermal/thermal_zone* /sys/class/thermal/cooling_device*; do
  [ -d "$z" ] || continue
  for f in "$z"/*; do [ -f "$f" ] && cp_f "$f" "sys/class/thermal/$(basename "$z")/$(basename "$f")"; done
done
for h in /sys/class/hwmon/hwmon*; do
  [ -d "$h" ] || continue
  for f in "$h"/name "$h"/temp* "$h"/fan* "$h"/in*; do [ -f "$f" ] && cp_f "$f" "sys/class/hwmon/$(basename "$h")/$(basename "$f")"; done
done
cp_f /etc/os-release etc/os-release
cp_f /etc/passwd etc/passwd
# adjtimex(2) in the layout of `adjtimex --print`; system.time reads it on fixture trees.
[ -n "${ADJTIMEX_PRINT:-}" ] && "$ADJTIMEX_PRINT" > "$DST/adjtimex"
true
