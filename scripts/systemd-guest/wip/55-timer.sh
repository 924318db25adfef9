# NOT RUN BY CI (see README here): a timer whose service fails: timer_unit_failed for the timer, not unit_failed
# for the service it started. Passed in one guest run, failed in a fresh-clone run (no timer_unit_failed within 60 s).
mark "systemd timer"
c=$(cursor)
printf '[Service]\nType=oneshot\nExecStart=/bin/false\n' >/etc/systemd/system/shd-test-job.service
printf '[Timer]\nOnActiveSec=1s\nAccuracySec=1s\n' >/etc/systemd/system/shd-test-job.timer
systemctl daemon-reload
systemctl start shd-test-job.timer
check "a timer's service fails: timer_unit_failed firing for shd-test-job.timer" \
	waitfor 60 journal_has "$c" '^alert firing rule=timer_unit_failed .*timer=shd-test-job\.timer '
check "the timer's failed service is the timer's alert, not a unit_failed" bash -c '
	! journalctl -q -u shd.service -o cat --cursor="$1" | grep -qE "^alert firing rule=unit_failed .*unit=shd-test-job\.service "' _ "$c"
systemctl stop shd-test-job.timer
systemctl reset-failed shd-test-job.service shd-test-job.timer 2>/dev/null
rm -f /etc/systemd/system/shd-test-job.service /etc/systemd/system/shd-test-job.timer
systemctl daemon-reload
