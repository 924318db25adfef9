#!/bin/bash
# Builds the Debian package (make deb) and checks it: contents, metadata,
# lintian, and the packaged binary run from a throwaway extracted root with an
# empty environment (no Swift toolchain on PATH, no LD_LIBRARY_PATH), plus the
# systemd unit (verify, security exposure) and the init script's syntax.
#
# Usage: scripts/test-deb.sh            (as root on Debian 12 with /opt/swift)
#   SHD_DEB_SKIP_BUILD=1  reuse out/shd_*.deb instead of running make deb
#   SHD_DEB_INSTALL=1     also dpkg -i on THIS machine, drive /etc/init.d/shd
#                         (start, status, reload, stop), then remove and purge
#                         (creates the "shd" system user; for CI containers)
# Prints "deb: N passed, M failed" and exits non-zero if anything failed.
set -u

cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
START=$(date +%s)
PASSED=0
FAILED=0
WORK=$(mktemp -d /tmp/shd-test-deb.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/     /'; }
# check NAME COMMAND...: passes when COMMAND exits 0; shows its output if not.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$out"; fi
}
finish() {
	echo "deb: $PASSED passed, $FAILED failed ($(($(date +%s) - START)) s)"
	[ "$FAILED" -eq 0 ]
	exit
}

# --- Tools: install only what is missing (needs root and Debian's apt). ---
need=()
command -v dpkg-buildpackage >/dev/null || need+=(dpkg-dev)
command -v dh >/dev/null || need+=(debhelper)
command -v lintian >/dev/null || need+=(lintian)
command -v fakeroot >/dev/null || need+=(fakeroot)
command -v dpkg-parsechangelog >/dev/null || need+=(dpkg-dev)
command -v debchange >/dev/null || need+=(devscripts)
dpkg -s libcurl4-openssl-dev >/dev/null 2>&1 || need+=(libcurl4-openssl-dev)
command -v make >/dev/null || need+=(make)
if [ ${#need[@]} -gt 0 ]; then
	echo "installing: ${need[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		fail "build tools present" "missing ${need[*]} and not root"
		finish
	fi
	apt-get install -y --no-install-recommends "${need[@]}" >"$WORK/apt.log" 2>&1 ||
		{ apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends "${need[@]}" >"$WORK/apt.log" 2>&1; } ||
		{ fail "install build tools" "$(tail -5 "$WORK/apt.log")"; finish; }
fi
command -v swift >/dev/null || export PATH="$PATH:/opt/swift/usr/bin"

VERSION=$(dpkg-parsechangelog -S Version)
ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
DEB=out/shd_${VERSION}_${ARCH}.deb

# --- Build. ---
if [ -z "${SHD_DEB_SKIP_BUILD:-}" ]; then
	t0=$(date +%s)
	mkdir -p out
	if make deb >out/test-deb-build.log 2>&1; then
		pass "make deb ($(($(date +%s) - t0)) s)"
	else
		fail "make deb (log: out/test-deb-build.log)" "$(tail -25 out/test-deb-build.log)"
		finish
	fi
fi
[ -f "$DEB" ] || { fail "package $DEB exists"; finish; }

# --- Contents (dpkg-deb -c). ---
dpkg-deb -c "$DEB" >"$WORK/contents" || { fail "dpkg-deb -c"; finish; }
for path in ./usr/sbin/shd ./lib/systemd/system/shd.service ./etc/init.d/shd \
	./etc/default/shd ./etc/shd/shd.conf ./usr/share/man/man8/shd.8.gz \
	./usr/share/man/man5/shd.rules.5.gz ./usr/share/doc/shd/copyright \
	./usr/share/doc/shd/changelog.gz ./usr/share/bash-completion/completions/shd \
	./usr/share/zsh/vendor-completions/_shd ./usr/share/fish/vendor_completions.d/shd.fish; do
	check "contains $path" grep -q " $path\$" "$WORK/contents"
done
check "contains rules in /etc/shd/rules.d" grep -qE ' \./etc/shd/rules\.d/[^/]+\.rules$' "$WORK/contents"
check "/usr/sbin/shd is root:root 0755" grep -qE '^-rwxr-xr-x root/root .* \./usr/sbin/shd$' "$WORK/contents"
check "no state directory shipped (postinst makes it)" bash -c '! grep -q " \./var/lib/shd" "$1"' _ "$WORK/contents"

# --- Metadata (dpkg-deb -I). ---
depends=$(dpkg-deb -f "$DEB" Depends)
# shd dlopens libcurl.so.4 (only when a channel needs it), so dpkg-shlibdeps cannot see it: debian/control names it.
check "Depends has libcurl4 >= 7.85 (explicit, dlopened): $depends" grep -qE '(^|, )libcurl4 \(>= 7\.(8[5-9]|9[0-9])[^)]*\)( |,|$)' <<<"$depends"
check "Depends has libc6 (from shlibs)" grep -qE '(^|, )libc6( |,|$)' <<<"$depends"
check "Depends has no Swift runtime" bash -c '! grep -qi swift <<<"$1"' _ "$depends"
dpkg-deb -e "$DEB" "$WORK/control"
for f in /etc/shd/shd.conf /etc/init.d/shd /etc/default/shd; do
	check "conffile $f" grep -qx "$f" "$WORK/control/conffiles"
done
rules_conffiles=$(grep -cE '^/etc/shd/rules\.d/.+\.rules$' "$WORK/control/conffiles")
rules_shipped=$(grep -cE ' \./etc/shd/rules\.d/[^/]+\.rules$' "$WORK/contents")
check "every shipped rules file is a conffile ($rules_conffiles/$rules_shipped)" test "$rules_conffiles" -eq "$rules_shipped" -a "$rules_shipped" -gt 0
check "postinst creates the shd user" grep -q 'adduser --system' "$WORK/control/postinst"
check "postinst enables the unit (dh_installsystemd)" grep -q 'deb-systemd-helper' "$WORK/control/postinst"
check "postinst registers the init script (dh_installinit)" grep -q 'update-rc.d shd' "$WORK/control/postinst"
check "postinst checks the configuration with the new version before restarting" grep -q 'runuser -u shd -- /usr/sbin/shd check-rules' "$WORK/control/postinst"
check "debhelper does not restart shd on upgrade (the postinst does, after the check)" bash -c '! grep -q "_dh_action=restart" "$1"' _ "$WORK/control/postinst"
check "postrm purges /var/lib/shd" grep -q 'rm -rf /var/lib/shd' "$WORK/control/postrm"

# --- lintian: no errors; warnings only if listed in debian/lintian-accepted.txt. ---
lintian --no-tag-display-limit "$DEB" >"$WORK/lintian" 2>&1
check "lintian: no errors" bash -c '! grep -E "^E: " "$1"' _ "$WORK/lintian"
accepted=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' debian/lintian-accepted.txt 2>/dev/null | awk '{print $1}')
unlisted=$(grep -E '^W: ' "$WORK/lintian" | awk '{print $3}' | sort -u | while read -r tag; do
	grep -qx "$tag" <<<"$accepted" || echo "$tag"
done)
check "lintian: every warning is in debian/lintian-accepted.txt" test -z "$unlisted"
[ -n "$unlisted" ] && grep -E '^W: ' "$WORK/lintian"

# --- The binary from a throwaway root, with an empty environment. ---
X="$WORK/root"
dpkg-deb -x "$DEB" "$X"
BIN="$X/usr/sbin/shd"
ldd "$BIN" >"$WORK/ldd" 2>&1
check "ldd resolves every library" bash -c '! grep -q "not found" "$1"' _ "$WORK/ldd"
check "no libswift*.so, no /opt/swift in ldd" bash -c '! grep -qE "libswift|libFoundation|/opt/swift" "$1"' _ "$WORK/ldd"
check "no RPATH/RUNPATH" bash -c '! readelf -d "$1" | grep -qE "RPATH|RUNPATH"' _ "$BIN"
check "PIE" bash -c 'readelf -h "$1" | grep -q "Type:.*DYN"' _ "$BIN"
check "RELRO" bash -c 'readelf -lW "$1" | grep -q GNU_RELRO' _ "$BIN"
check "BIND_NOW" bash -c 'readelf -d "$1" | grep -qE "BIND_NOW|FLAGS_1.*NOW"' _ "$BIN"
check "shd --version (env -i)" env -i "$BIN" --version
check "shd --check-rules on the packaged config and rules (env -i)" \
	env -i "$BIN" --check-rules "$X/etc/shd/shd.conf" "$X/etc/shd/rules.d"
if env -i "$BIN" report >"$WORK/report.json" 2>"$WORK/report.err"; then
	check "shd report (env -i) prints a Daemon report" perl -MJSON::PP -e '
		local $/; my $r = decode_json(<STDIN>);
		$r->{name} eq "Daemon report" && @{$r->{worker_reports}} > 0 or die "not a daemon report\n";' <"$WORK/report.json"
else
	fail "shd report (env -i)" "$(tail -5 "$WORK/report.err")"
fi
# Shell completions: where each shell looks, 0644, what the packaged binary prints, and valid syntax.
for c in bash:/usr/share/bash-completion/completions/shd zsh:/usr/share/zsh/vendor-completions/_shd \
	fish:/usr/share/fish/vendor_completions.d/shd.fish; do
	sh=${c%%:*} file=${c#*:}
	check "$file is root:root 0644" grep -qE "^-rw-r--r-- root/root .* \.$file\$" "$WORK/contents"
	check "$file is what shd completions $sh prints (env -i)" bash -c 'cmp -s <(env -i "$1" completions "$2") "$3"' _ "$BIN" "$sh" "$X$file"
	if command -v "$sh" >/dev/null; then
		check "$sh -n $file" "$sh" -n "$X$file"
	else
		echo "skip $sh -n $file ($sh not installed)"
	fi
done
check "shd run -h (env -i) exits 0 with its usage" bash -c 'env -i "$1" run -h | grep -q "^Usage: shd run"' _ "$BIN"
env -i "$BIN" run --bogus >/dev/null 2>"$WORK/usage.err"
rc=$?
check "shd run --bogus: one line, exit 2 (got $rc)" bash -c '[ "$1" -eq 2 ] && [ "$(cat "$2")" = "shd run: unknown option '"'"'--bogus'"'"'; see shd run --help" ]' _ "$rc" "$WORK/usage.err"
# A broken rule must fail the check (so ExecReload, the init script and the postinst refuse it).
printf 'rule broken on disk.filesystems {\n  warn used_procent > 90\n}\n' >"$WORK/broken.rules"
env -i "$BIN" --check-rules "$WORK/broken.rules" >"$WORK/broken.out" 2>&1
rc=$?
check "shd --check-rules exits 1 on a broken rule (got $rc)" test "$rc" -eq 1

# --- systemd unit. ---
UNIT="$X/lib/systemd/system/shd.service"
if command -v systemd-analyze >/dev/null; then
	# On a copy whose commands point into the extracted root, so that verify
	# checks the packaged binary and man pages (MANPATH) on this host's systemd.
	mkdir -p "$WORK/unit"
	sed "s#/usr/sbin/shd#$X/usr/sbin/shd#g" "$UNIT" >"$WORK/unit/shd.service"
	check "systemd-analyze verify (no output)" bash -c '
		out=$(MANPATH="$1/usr/share/man" systemd-analyze verify "$2" 2>&1); rc=$?
		echo "$out"; [ $rc -eq 0 ] && [ -z "$out" ]' _ "$X" "$WORK/unit/shd.service"
	exposure=$(systemd-analyze security --offline=yes --root="$X" "$UNIT" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	check "systemd-analyze security exposure ${exposure:-?} <= 2.0" \
		systemd-analyze security --offline=yes --root="$X" --threshold=20 "$UNIT"
else
	echo "skip systemd-analyze (not installed)"
fi
# Every system call shd makes (a few seconds of "shd run" plus --check-rules,
# traced) must pass the unit's SystemCallFilter; with SystemCallErrorNumber=EPERM
# a missing one would be a silent EPERM in production. Needs strace (optional).
syscall_filter_expand() {
	local g x
	for g in "$@"; do
		case $g in @*) ;; *) echo "$g"; continue ;; esac
		systemd-analyze syscall-filter "$g" | sed 1d | grep -v '^ *#' | tr -d ' ' | grep -v '^$' |
			while read -r x; do case $x in @*) syscall_filter_expand "$x" ;; *) echo "$x" ;; esac; done
	done
}
if command -v strace >/dev/null && command -v systemd-analyze >/dev/null; then
	allow=() deny=()
	while IFS= read -r line; do
		line=${line#SystemCallFilter=}
		case $line in
		"~"*) deny+=(${line#\~}) ;;
		*) allow+=($line) ;;
		esac
	done < <(grep '^SystemCallFilter=' "$UNIT")
	syscall_filter_expand "${allow[@]}" | sort -u >"$WORK/sc-allow"
	syscall_filter_expand "${deny[@]}" | sort -u >"$WORK/sc-deny"
	# Plain names given after the deny list are allowed again.
	comm -23 "$WORK/sc-allow" "$WORK/sc-deny" >"$WORK/sc-eff"
	grep '^SystemCallFilter=[a-z]' "$UNIT" | sed 's/^SystemCallFilter=//' | tr ' ' '\n' >>"$WORK/sc-eff"
	sort -u "$WORK/sc-eff" -o "$WORK/sc-eff"
	mkdir -p "$WORK/state"
	env -i timeout -s TERM 8 strace -f -qq -o "$WORK/trace" "$BIN" run --config "$X/etc/shd/shd.conf" \
		--rules "$X/etc/shd/rules.d" --state-dir "$WORK/state" >"$WORK/run.log" 2>&1
	strace -f -qq -o "$WORK/trace2" env -i "$BIN" --check-rules "$X/etc/shd/shd.conf" "$X/etc/shd/rules.d" >/dev/null 2>&1
	# The packaged config has no channel that sends through libcurl, so shd never loads it above: a third run
	# with a webhook channel (a loopback port nobody answers) covers the dlopen, curl_global_init and TLS set-up.
	mkdir -p "$WORK/curl-rules.d" "$WORK/curl-state"
	cp "$X"/etc/shd/rules.d/*.rules "$WORK/curl-rules.d/"
	printf 'channel hook webhook { url "http://127.0.0.1:9/hook" }\n' >"$WORK/curl-rules.d/zz-hook.rules"
	env -i timeout -s TERM 5 strace -f -qq -o "$WORK/trace3" "$BIN" run --config "$X/etc/shd/shd.conf" \
		--rules "$WORK/curl-rules.d" --state-dir "$WORK/curl-state" >"$WORK/run-curl.log" 2>&1
	check "shd run with a webhook channel loads libcurl.so.4" grep -q 'open.*libcurl\.so\.4' "$WORK/trace3"
	cat "$WORK/trace" "$WORK/trace2" "$WORK/trace3" | awk '{print $2}' | sed -n 's/^\([a-z_0-9]*\)(.*/\1/p' | sort -u >"$WORK/sc-used"
	# execve of shd itself happens before the filter applies.
	blocked=$(comm -23 "$WORK/sc-used" "$WORK/sc-eff" | tr '\n' ' ')
	check "every syscall shd made ($(wc -l <"$WORK/sc-used")) passes the unit's SystemCallFilter${blocked:+ (blocked: $blocked)}" test -z "$blocked"
else
	echo "skip syscall-filter coverage (needs strace and systemd-analyze)"
fi
check "unit: Type=notify, User=shd" bash -c 'grep -qx Type=notify "$1" && grep -qx User=shd "$1"' _ "$UNIT"
# A start check would fail a restart and stop monitoring: shd falls back to its last good configuration.
check "unit: no ExecStartPre" bash -c '! grep -q "^ExecStartPre=" "$1"' _ "$UNIT"
check "unit: ExecReload checks, then signals" bash -c '[ "$(grep "^ExecReload=" "$1")" = "$(printf "%s\n" "ExecReload=/usr/sbin/shd check-rules --format journal" "ExecReload=/bin/kill -HUP \$MAINPID")" ]' _ "$UNIT"

# --- SysV init script. ---
INIT="$X/etc/init.d/shd"
check "init script: sh -n" sh -n "$INIT"
check "init script: LSB header" grep -q '^### BEGIN INIT INFO' "$INIT"
if command -v checkbashisms >/dev/null; then
	check "init script: checkbashisms" checkbashisms "$INIT"
fi

# --- Optional: install on this machine and drive the init script. ---
if [ -n "${SHD_DEB_INSTALL:-}" ]; then
	if dpkg -s shd >/dev/null 2>&1; then
		fail "SHD_DEB_INSTALL: shd is already installed here; not touching it"
		finish
	fi
	if dpkg -i "$DEB" >"$WORK/dpkg.log" 2>&1; then pass "dpkg -i"; else fail "dpkg -i" "$(tail -10 "$WORK/dpkg.log")"; fi
	check "user shd exists" getent passwd shd
	check "/var/lib/shd is shd:shd 0750" bash -c '[ "$(stat -c "%U:%G %a" /var/lib/shd)" = "shd:shd 750" ]'
	check "/etc/shd/secrets is root:shd 0750" bash -c '[ "$(stat -c "%U:%G %a" /etc/shd/secrets)" = "root:shd 750" ]'
	/etc/init.d/shd stop >/dev/null 2>&1 # in case postinst's invoke-rc.d started it
	check "/etc/init.d/shd start" /etc/init.d/shd start
	check "/etc/init.d/shd status" /etc/init.d/shd status
	check "daemon runs as shd" bash -c '[ "$(ps -o user= -p "$(cat /run/shd/shd.pid)")" = shd ]'
	check "daemon writes /var/lib/shd/report.json" bash -c 'for i in $(seq 30); do [ -s /var/lib/shd/report.json ] && exit 0; sleep 0.5; done; exit 1'
	check "/etc/init.d/shd reload" /etc/init.d/shd reload
	check "daemon alive after reload" /etc/init.d/shd status
	printf 'rule broken on disk.filesystems {\n  warn used_procent > 90\n}\n' >/etc/shd/rules.d/zz-broken.rules
	check "reload with a broken rule fails" bash -c '! /etc/init.d/shd reload'
	check "restart with a broken rule keeps the daemon" bash -c '! /etc/init.d/shd restart && /etc/init.d/shd status'
	rm -f /etc/shd/rules.d/zz-broken.rules
	check "/etc/init.d/shd restart" /etc/init.d/shd restart
	check "/etc/init.d/shd stop" /etc/init.d/shd stop
	check "status after stop is 3" bash -c '/etc/init.d/shd status; [ $? -eq 3 ]'
	echo "# local edit" >>/etc/shd/shd.conf
	touch /var/lib/shd/keep
	check "upgrade (dpkg -i again)" dpkg -i --force-confold "$DEB"
	check "upgrade keeps config edits and state" bash -c 'grep -q "# local edit" /etc/shd/shd.conf && [ -e /var/lib/shd/keep ]'
	check "/etc/init.d/shd status after the upgrade" /etc/init.d/shd status
	printf 'rule broken on disk.filesystems {\n  warn used_procent > 90\n}\n' >/etc/shd/rules.d/zz-broken.rules
	check "upgrade with a broken rule fails loudly" bash -c '! dpkg -i --force-confold "$1" >"$2" 2>&1 && grep -q "shd was NOT restarted" "$2"' _ "$DEB" "$WORK/dpkg-broken.log"
	check "upgrade with a broken rule keeps the daemon" /etc/init.d/shd status
	rm -f /etc/shd/rules.d/zz-broken.rules
	check "dpkg --configure -a after the fix" dpkg --configure -a
	/etc/init.d/shd stop >/dev/null 2>&1
	check "dpkg -r" dpkg -r shd
	check "remove keeps config and state" bash -c 'grep -q "# local edit" /etc/shd/shd.conf && [ -e /var/lib/shd/keep ]'
	check "dpkg -P" dpkg -P shd
	check "purge removes state and config" bash -c '[ ! -e /var/lib/shd ] && [ ! -e /etc/shd/shd.conf ] && [ ! -e /etc/init.d/shd ]'
fi

finish
