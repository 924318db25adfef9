# A timer whose service fails (issue 14): timer_unit_failed for the timer, not unit_failed
# for the service it started. Sourced by ../check in boot 1; on a failure it prints what systemd and shd say of both units.
mark "systemd timer"
c=$(cursor)
printf '[Service]\nType=oneshot\nExecStart=/bin/false\n' >/etc/systemd/system/shd-test-job.service
printf '[Timer]\nOnActiveSec=1s\nAccuracySec=1s\n' >/etc/systemd/system/shd-test-job.timer
systemctl daemon-reload
systemctl start shd-test-job.timer
if waitfor 60 journal_has "$c" '^alert firing rule=timer_unit_failed .*timer=shd-test-job\.timer '; then
	ok "a timer's service fails: timer_unit_failed firing for shd-test-job.timer"
else
	fail "a timer's service fails: timer_unit_failed firing for shd-test-job.timer within 60 s" \
		"$(systemctl show -p ActiveState -p SubState -p Result -p TriggeredBy shd-test-job.service)"$'\n'"$(systemctl show -p ActiveState -p Unit -p LastTriggerUSec shd-test-job.timer)"$'\n'"$(python3 -c '
import json
r = json.load(open("/var/lib/shd/report.json"))
for w in r["worker_reports"]:
    for f in w["function_reports"]:
        for row in f.get("data", []):
            if "shd-test-job" in json.dumps(row): print(w["name"], f["name"], json.dumps(row))' 2>&1)"$'\n'"$(unit_log "$c" 15)"
fi
check "the timer's failed service is the timer's alert, not a unit_failed" bash -c '
	! journalctl -q -u shd.service -o cat --cursor="$1" | grep -qE "^alert firing rule=unit_failed .*unit=shd-test-job\.service "' _ "$c"
systemctl stop shd-test-job.timer
systemctl reset-failed shd-test-job.service shd-test-job.timer 2>/dev/null
rm -f /etc/systemd/system/shd-test-job.service /etc/systemd/system/shd-test-job.timer
systemctl daemon-reload
