# A process of a long-lived service killed by the OOM killer (issue 14): unit_oom_kill from the unit's cgroup
# memory.events (followed with inotify), besides the kernel's own line. OOMPolicy=continue keeps the unit running
# after the kill (the default, stop, would stop it); the 5 s before the allocation let shd read the unit's counter
# at 0 first, as it would for any service that ran a while. Sourced by ../check in boot 1; the shipped rules
# notify the log channel here (70-kernel restored shd.conf).
mark "unit OOM kill"
c=$(cursor)
systemd-run --quiet --unit=shd-test-oomsvc.service -p MemoryMax=32M -p MemorySwapMax=0 -p OOMPolicy=continue \
	/bin/sh -c 'sleep 5; python3 -c "b = bytearray(200 << 20)"; sleep 600'
if waitfor 90 journal_has "$c" '^alert firing rule=unit_oom_kill .*unit=shd-test-oomsvc\.service '; then
	ok "a process OOM-killed in a MemoryMax= service: unit_oom_kill firing for the unit"
else
	fail "a process OOM-killed in a MemoryMax= service: unit_oom_kill firing for the unit within 90 s" \
		"$(cat /sys/fs/cgroup/system.slice/shd-test-oomsvc.service/memory.events 2>&1)"$'\n'"$(jsince "$c" -u shd-test-oomsvc.service -o short-monotonic | tail -5)"$'\n'"$(unit_log "$c" 15)"
fi
check "the service runs on after the kill (OOMPolicy=continue): one unit_oom_kill, the unit active" bash -c '
	systemctl is-active -q shd-test-oomsvc.service &&
	[ "$(journalctl -q -u shd.service -o cat --cursor="$1" | grep -cE "^alert firing rule=unit_oom_kill .*unit=shd-test-oomsvc\.service ")" = 1 ]' _ "$c"
systemctl stop shd-test-oomsvc.service
systemctl reset-failed shd-test-oomsvc.service 2>/dev/null
