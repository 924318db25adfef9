# systemd units under the shipped rules (issue 14): a failed unit, a crash loop and a reset, as the
# systemd worker follows them on the bus (events, not the 60 s interval). Sourced by ../check in boot 1.
# The shipped rules notify the log channel: the checks read shd's "alert firing rule=…" lines.
mark "systemd units"
# unit_alert CURSOR KIND RULE UNIT: shd logged "alert KIND rule=RULE … unit=UNIT" after CURSOR.
unit_alert() { journal_has "$1" "^alert $2 rule=$3 .*unit=$4 "; }
unit_alert_count() { jsince "$1" -u shd.service -o cat | grep -cE "^alert $2 rule=$3 .*unit=$4 "; }

c=$(cursor)
t0=$(date +%s%N)
systemd-run --quiet --unit=shd-test-fail.service /bin/sh -c 'exit 3'
if waitfor 20 unit_alert "$c" firing unit_failed shd-test-fail.service; then
	ok "a failed unit (exit 3): unit_failed firing within $((($(date +%s%N) - t0) / 1000000)) ms of the start (bus event; the interval is 60 s)"
	# The delay itself, from the journal's clock: PID 1's "Failed with result" line to shd's alert line (the
	# budget is 1 s; under emulation the guest runs many times slower than a host).
	delay=$(jsince "$c" -o json | python3 -c '
import json, sys
failed = alert = None
for line in sys.stdin:
    e = json.loads(line); m = e.get("MESSAGE"); m = m if isinstance(m, str) else ""
    if failed is None and e.get("UNIT") == "shd-test-fail.service" and "Failed with result" in m: failed = int(e["__MONOTONIC_TIMESTAMP"])
    if alert is None and m.startswith("alert firing rule=unit_failed") and "unit=shd-test-fail.service " in m: alert = int(e["__MONOTONIC_TIMESTAMP"])
print("%d" % ((alert - failed) // 1000) if failed and alert else "?")')
	check "the failed unit's alert followed systemd's own line by ${delay} ms (guest clock, under emulation)" test "$delay" != "?"
else
	fail "a failed unit (exit 3): unit_failed firing within 20 s" "$(systemctl status --no-pager shd-test-fail.service 2>&1 | head -5)"$'\n'"$(unit_log "$c" 20)"
fi
check "the failed unit's alert says why: its summary names the result (exit-code)" journal_has "$c" '^alert firing rule=unit_failed .*unit=shd-test-fail\.service .*summary="shd-test-fail\.service failed \(exit-code\)"'
c2=$(cursor)
systemctl reset-failed shd-test-fail.service
check "systemctl reset-failed: unit_failed resolved" waitfor 20 unit_alert "$c2" resolved unit_failed shd-test-fail.service
sleep 3
check "one firing and one resolved for the failed unit, nothing more" bash -c '
	[ "$(journalctl -q -u shd.service -o cat --cursor="$1" | grep -cE "^alert (firing|resolved) rule=unit_failed .*unit=shd-test-fail\.service ")" = 2 ]' _ "$c"

# A crash loop: Restart=always on a service that exits at once. One alert, however many restarts.
c=$(cursor)
systemd-run --quiet --unit=shd-test-loop.service -p Restart=always -p RestartSec=1 -p StartLimitBurst=1000 \
	/bin/sh -c 'sleep 0.2; exit 1'
if waitfor 60 unit_alert "$c" firing unit_restart_loop shd-test-loop.service; then
	ok "a crash loop (Restart=always, exit 1): unit_restart_loop firing"
else
	fail "a crash loop (Restart=always, exit 1): unit_restart_loop firing within 60 s" \
		"$(systemctl show -p NRestarts -p ActiveState -p SubState shd-test-loop.service)"$'\n'"$(unit_log "$c" 20)"
fi
sleep 5
# On failure: every alert line about the unit, and what PID 1 logged of its states (which one shd saw).
check "the crash loop is one unit_restart_loop alert and no unit_failed (it never settles in failed)" bash -c '
	journalctl --sync
	lines=$(journalctl -q -u shd.service -o short-monotonic --cursor="$1" | grep -E "alert [a-z]+ rule=unit_[a-z_]+ .*unit=shd-test-loop\.service ")
	[ "$(printf "%s\n" "$lines" | grep -cE "alert firing rule=unit_restart_loop ")" = 1 ] &&
		! printf "%s\n" "$lines" | grep -qE "alert firing rule=unit_failed " && exit 0
	printf "%s\n" "$lines"
	journalctl -q -o short-monotonic --cursor="$1" -u shd-test-loop.service | tail -8
	systemctl show -p NRestarts -p ActiveState -p SubState -p Result shd-test-loop.service
	exit 1' _ "$c"
c2=$(cursor)
systemctl stop shd-test-loop.service
systemctl reset-failed shd-test-loop.service 2>/dev/null
check "the crash-looping unit stopped and unloaded: unit_restart_loop resolved" waitfor 30 unit_alert "$c2" resolved unit_restart_loop shd-test-loop.service

# What following systemd cost the bus: dbus-daemon never refused shd a call for having too many replies due
# (max_replies_per_connection, 128), as it did thousands of times when every unit's properties were asked at once.
check "dbus-daemon never refused shd's calls for too many awaited replies (since boot)" bash -c '
	n=$(journalctl -q -b --no-pager -o cat _COMM=dbus-daemon | grep -c "maximum number of pending replies.*shd")
	[ "$n" = 0 ] || { echo "$n refusals"; journalctl -q -b --no-pager -o cat _COMM=dbus-daemon | grep "maximum number" | tail -2; exit 1; }'

# A unit file systemd refuses (a service without ExecStart=: bad-setting), loaded because a target wants it.
c=$(cursor)
printf "[Service]\nType=simple\n" >/etc/systemd/system/shd-test-bad.service
mkdir -p /etc/systemd/system/multi-user.target.wants
ln -sf /etc/systemd/system/shd-test-bad.service /etc/systemd/system/multi-user.target.wants/shd-test-bad.service
systemctl daemon-reload
check "a unit file systemd refused (bad-setting): unit_load_failed firing for shd-test-bad.service" \
	waitfor 60 journal_has "$c" '^alert firing rule=unit_load_failed .*unit=shd-test-bad\.service '
c2=$(cursor)
rm -f /etc/systemd/system/shd-test-bad.service /etc/systemd/system/multi-user.target.wants/shd-test-bad.service
systemctl daemon-reload
check "unit file removed, daemon-reload: unit_load_failed resolved" \
	waitfor 60 journal_has "$c2" '^alert resolved rule=unit_load_failed .*unit=shd-test-bad\.service '
