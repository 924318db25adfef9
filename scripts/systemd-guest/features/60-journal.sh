# The journal under the shipped rules (issue 14): a service that logs errors and one that dumps core,
# read by sd-journal as the unit's SupplementaryGroups=systemd-journal allows. Sourced by ../check in boot 1.
mark "journal event rules"
c=$(cursor)
# Six err lines from one service, three on its stdout ("<3>": the priority) and three by systemd-cat -p err:
# service_errors wants 5 in 10 minutes.
systemd-run --quiet --wait --unit=shd-test-errors.service /bin/sh -c \
	'for i in 1 2 3; do echo "<3>shd-test: cannot open /srv/data/$i: No such file or directory"; done
	 for i in 4 5 6; do echo "shd-test: cannot open /srv/data/$i: No such file or directory" | systemd-cat -t backup -p err; done'
if waitfor 30 journal_has "$c" '^alert firing rule=service_errors .*unit=shd-test-errors\.service '; then
	ok "six error lines from a service: service_errors firing for shd-test-errors.service"
else
	fail "six error lines from a service: service_errors firing for shd-test-errors.service" \
		"$(journalctl -q -u shd-test-errors.service -o short-monotonic | tail -3)"$'\n'"$(unit_log "$c" 20)"
fi
check "service_errors is one alert for the six lines" bash -c '
	[ "$(journalctl -q -u shd.service -o cat --cursor="$1" | grep -cE "^alert firing rule=service_errors .*unit=shd-test-errors\.service ")" = 1 ]' _ "$c"
check "shd's own alert lines (error priority for crit) never count as a service's errors" bash -c '
	! journalctl -q -u shd.service -o cat --cursor="$1" | grep -qE "^alert firing rule=service_errors .*unit=shd\.service "' _ "$c"

# A core dump: PID 1 logs "Main process exited, code=dumped, status=11/SEGV".
c=$(cursor)
systemd-run --quiet --wait --unit=shd-test-crash.service -p LimitCORE=infinity -p WorkingDirectory=/tmp \
	/bin/sh -c 'kill -SEGV $$$$'
if waitfor 30 journal_has "$c" '^alert firing rule=service_crashed .*service=shd-test-crash\.service .*signal=11/SEGV'; then
	ok "a service dumps core (SIGSEGV): service_crashed firing with the signal"
else
	fail "a service dumps core (SIGSEGV): service_crashed firing with the signal" \
		"$(jsince "$c" -u shd-test-crash.service -o short-monotonic | tail -5)"$'\n'"$(unit_log "$c" 20)"
fi
systemctl reset-failed shd-test-crash.service shd-test-errors.service 2>/dev/null
rm -f /tmp/core /tmp/core.*
