# The kernel log under the shipped rules (issue 14): kernel-style lines written to /dev/kmsg (journald reads them
# as _TRANSPORT=kernel) and a real OOM kill in a memory-limited unit, each to the receiver in the guest; then a
# restart of shd while they fire: no second firing. Sourced by ../check in boot 1.
mark "kernel log"
cp -p /etc/shd/shd.conf "$T/shd.conf.kernel"
c=$(cursor)
sed 's/^set default_channels \["log"\]$/set default_channels ["hook", "log"]/' "$T/shd.conf.kernel" >/etc/shd/.shd.conf.tmp
mv /etc/shd/.shd.conf.tmp /etc/shd/shd.conf
check "default_channels with the receiver's channel: reloaded" waitfor 30 journal_has "$c" '^reloaded \(files changed\)'
n0=$(hook_last)
echo '<3>blk_update_request: I/O error, dev vdz, sector 2048 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0' >/dev/kmsg
echo '<2>EXT4-fs error (device vdz1): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0' >/dev/kmsg
check "an I/O error line in the kernel log: disk_io_errors firing at the receiver (device vdz)" \
	hook_exactly "$n0" 1 disk_io_errors firing
check "an ext4 error line: ext4_errors firing at the receiver" hook_exactly "$n0" 1 ext4_errors firing
# A real OOM kill: 200 MiB asked for in a unit allowed 32 MiB and no swap.
systemd-run --quiet --wait --unit=shd-test-oom.service -p MemoryMax=32M -p MemorySwapMax=0 \
	/usr/bin/python3 -c 'b = [bytearray(1 << 20) for _ in range(200)]' >/dev/null 2>&1
check "a real OOM kill in a memory-limited unit: oom_killed_process firing at the receiver" \
	hook_exactly "$n0" 1 oom_killed_process firing
# (unit_oom_kill is 75-unit-oom.sh: this transient unit is gone when systemd-run --wait returns, before shd has
# read its counter at 0.)
systemctl reset-failed shd-test-oom.service 2>/dev/null
# A restart while they fire: the state and the journal cursor carry them over; nothing fires twice.
pid=$(mainpid)
timeout 120 systemctl restart shd
check "restarted while kernel alerts fire: new pid, active (running)" bash -c '[ "$(systemctl show -p MainPID --value shd)" != "$1" ] && [ "$(systemctl is-active shd)" = active ]' _ "$pid"
sleep 10
check "after the restart: still exactly one disk_io_errors firing at the receiver (no replay)" hook_exactly "$n0" 1 disk_io_errors firing
check "after the restart: still exactly one oom_killed_process firing at the receiver" hook_exactly "$n0" 1 oom_killed_process firing
c=$(cursor)
mv "$T/shd.conf.kernel" /etc/shd/shd.conf
check "shd.conf restored: reloaded" waitfor 30 journal_has "$c" '^reloaded \(files changed\)'
