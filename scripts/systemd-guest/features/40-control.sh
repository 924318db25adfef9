# Control socket under the shipped unit (issue 16): /run/shd/control from RuntimeDirectory=, mode 0660
# shd:shd-admin; `shd status`, `explain` and `reload` work as root and for a member of shd-admin, and an
# unprivileged user is refused with exit 4. Sourced by ../check in boot 1 (test_uptime is firing then).
mark "control socket"
check "control socket /run/shd/control: mode 660, owner shd, group shd-admin ($(stat -c '%a %U %G' /run/shd/control 2>&1))" \
	bash -c '[ "$(stat -c "%a %U %G" /run/shd/control)" = "660 shd shd-admin" ]'
control_status_root() {
	local out rc
	out=$(timeout 30 /usr/sbin/shd status 2>&1)
	rc=$?
	# 1: something is firing (test_uptime); the line names it.
	[ $rc -eq 1 ] && printf '%s\n' "$out" | grep -q '^FIRING  warn  test_uptime ' || { echo "exit $rc"; printf '%s\n' "$out"; return 1; }
}
check "shd status as root: exit 1 with test_uptime FIRING" control_status_root
check "shd status --json as root: firing >= 1" bash -c '/usr/sbin/shd status --json | grep -q "\"firing\": [1-9]"'
check "shd explain test_uptime as root: its condition holds" bash -c '/usr/sbin/shd explain test_uptime | grep -q ": true"'
control_refused() {
	local out rc
	out=$(timeout 30 setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/sbin/shd status 2>&1)
	rc=$?
	[ $rc -eq 4 ] && printf '%s\n' "$out" | grep -q 'permission denied' || { echo "exit $rc"; printf '%s\n' "$out"; return 1; }
}
check "shd status as nobody: refused (exit 4, permission denied)" control_refused
control_member() {
	local gid out rc
	gid=$(getent group shd-admin | cut -d: -f3)
	out=$(timeout 30 setpriv --reuid=nobody --regid=nogroup --groups="$gid" /usr/sbin/shd status 2>&1)
	rc=$?
	[ $rc -eq 1 ] || { echo "exit $rc"; printf '%s\n' "$out"; return 1; }
}
check "shd status as nobody in group shd-admin: allowed (exit 1, test_uptime firing)" control_member
c=$(cursor)
check "shd reload as root: exit 0, reloaded" bash -c '/usr/sbin/shd reload | grep -q "^reloaded: "'
check "the reload is logged with its caller (uid 0)" waitfor 30 journal_has "$c" 'control: reload by uid 0'
