#!/usr/bin/env python3
"""Journal export format (systemd's JOURNAL_EXPORT_FORMATS) for scripts/bench-journal: a busy server's mix.

Usage: bench/journalgen.py --entries N [--start-usec T] [--rate R] [--seed S] [--end-marker] > FILE.export
       bench/journalgen.py --paced --rate R --seconds S [--end-marker]   (a storm in real time, on stdout)
       (pipe into `systemd-journal-remote --output=X.journal -` to get a journal file)

Entries carry the fields journald records (trusted `_` fields, the syslog ones, CODE_* of systemd's own lines, the
kernel's `_KERNEL_*`), 20–27 per entry, so a reader enumerates as many fields as on a real host. The mix, per 1,000
entries: ~600 nginx/app stdout lines, ~150 sshd/cron/sudo syslog lines, ~120 systemd lines, ~80 kernel lines,
~50 errors of services (priority 3). A small share matches the benchmark's rules: sshd failures, app timeouts, I/O
errors, segfaults, OOM kills, 5xx responses. Timestamps advance by 1e6/RATE µs per entry from START (default: now minus
the span), so the entries are recent for the engine's windows. `--end-marker` appends one entry whose MESSAGE is
`shd-bench end of storm` (a rule matches it: the benchmark knows shd has read everything). Messages come from pools
of 50–2,000 per kind (real logs repeat themselves; with every value distinct the writer rotates its file early).
"""
import argparse, random, sys, time, zlib

BOOT = "5f0e9a8b7c6d4e3f2a1b0c9d8e7f6a5b"
MACHINE = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
HOST = "web-7"

SERVICES = [  # unit, comm, exe, uid
    ("nginx.service", "nginx", "/usr/sbin/nginx", 33),
    ("app-api.service", "java", "/usr/lib/jvm/java-17-openjdk-amd64/bin/java", 1001),
    ("app-worker@1.service", "python3", "/usr/bin/python3.11", 1002),
    ("app-worker@2.service", "python3", "/usr/bin/python3.11", 1002),
    ("postgresql@15-main.service", "postgres", "/usr/lib/postgresql/15/bin/postgres", 113),
    ("redis-server.service", "redis-server", "/usr/bin/redis-server", 114),
    ("docker.service", "dockerd", "/usr/bin/dockerd", 0),
    ("containerd.service", "containerd", "/usr/bin/containerd", 0),
    ("kubelet.service", "kubelet", "/usr/bin/kubelet", 0),
    ("grafana-server.service", "grafana", "/usr/share/grafana/bin/grafana", 115),
]
PATHS = ["/", "/api/v1/orders", "/api/v1/users/42", "/static/app.js", "/health", "/login", "/api/v1/search?q=x"]
IPS = [f"203.0.113.{i}" for i in range(1, 60)] + [f"198.51.100.{i}" for i in range(1, 40)]
USERS = ["root", "admin", "ubuntu", "test", "oracle", "git", "deploy", "postgres"]
DISKS = ["sda", "sdb", "nvme0n1", "nvme1n1"]


POOL = {}


def pooled(rng, key, make, size=400):
    """A message from a pool of `size` per kind: real logs repeat themselves, and a journal file stores each distinct
    field value once (with every value distinct, systemd-journal-remote rotates the file after ~145,000 entries)."""
    p = POOL.setdefault(key, [])
    if len(p) < size:
        p.append(make())
        return p[-1]
    return p[rng.randrange(size)]


def field(out, k, v):
    out.append(f"{k}={v}\n")


def entry(rng, n, t, mono):
    f = []
    field(f, "__REALTIME_TIMESTAMP", t)
    field(f, "__MONOTONIC_TIMESTAMP", mono)
    field(f, "_BOOT_ID", BOOT)
    r = rng.random()
    if r < 0.60:
        unit, comm, exe, uid = SERVICES[n % len(SERVICES)] if rng.random() < 0.5 else SERVICES[0]
        pid = 1000 + zlib.crc32(unit.encode()) % 5000
        if comm == "nginx":
            code = rng.choice([200] * 40 + [301, 304, 404, 404, 500, 502, 503])
            msg = pooled(rng, ("nginx", code), lambda: f'{rng.choice(IPS)} - - [01/Dec/2026:12:00:{n % 60:02d} +0000] "GET {rng.choice(PATHS)} HTTP/1.1" {code} {rng.randint(200, 90000)} "-" "Mozilla/5.0"')
        elif rng.random() < 0.01:
            msg = pooled(rng, "timeout", lambda: f"request {n} to upstream payments timed out after 30000 ms")
        elif rng.random() < 0.003 and comm == "java":
            msg = "Exception in thread \"pool-3\" java.lang.OutOfMemoryError: Java heap space"
        else:
            msg = pooled(rng, "info", lambda: f"INFO handled request id={n:08x} path={rng.choice(PATHS)} status=200 duration_ms={rng.randint(1, 900)}", 2000)
        field(f, "PRIORITY", 6)
        field(f, "SYSLOG_FACILITY", 3)
        field(f, "SYSLOG_IDENTIFIER", comm)
        field(f, "_TRANSPORT", "stdout")
        field(f, "_STREAM_ID", f"{zlib.crc32(unit.encode()):016x}{'0' * 16}")
        trusted(f, pid, uid, comm, exe, unit)
    elif r < 0.75:
        kind = rng.random()
        if kind < 0.5:
            ident, comm, exe = "sshd", "sshd", "/usr/sbin/sshd"
            if rng.random() < 0.3:
                msg = pooled(rng, "sshfail", lambda: f"Failed password for {'invalid user ' if rng.random() < 0.5 else ''}{rng.choice(USERS)} from {rng.choice(IPS)} port {rng.randint(1024, 65535)} ssh2")
            else:
                msg = pooled(rng, "sshok", lambda: f"Accepted publickey for deploy from {rng.choice(IPS)} port {rng.randint(1024, 65535)} ssh2: ED25519 SHA256:abcdefghijklmnop")
            unit, uid = "ssh.service", 0
        elif kind < 0.8:
            ident, comm, exe, unit, uid = "CRON", "cron", "/usr/sbin/cron", "cron.service", 0
            msg = f"(root) CMD (/usr/local/bin/backup --incremental --job {n % 17})"
        else:
            ident, comm, exe, unit, uid = "sudo", "sudo", "/usr/bin/sudo", "session-3.scope", 1000
            msg = "deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl restart app-api"
        field(f, "PRIORITY", 6 if rng.random() < 0.9 else 5)
        field(f, "SYSLOG_FACILITY", 4 if ident == "sshd" else 10 if ident == "sudo" else 9)
        field(f, "SYSLOG_IDENTIFIER", ident)
        field(f, "SYSLOG_PID", 20000 + n % 900)
        field(f, "SYSLOG_TIMESTAMP", "Dec  1 12:00:00 ")
        field(f, "_TRANSPORT", "syslog")
        field(f, "_SOURCE_REALTIME_TIMESTAMP", t // 100_000 * 100_000)
        trusted(f, 20000 + n % 900, uid, comm, exe, unit)
    elif r < 0.87:
        unit, comm, exe, uid = SERVICES[n % len(SERVICES)]
        k = rng.random()
        if k < 0.4:
            msg, prio, mid = f"Started {unit} - {comm} service.", 6, "39f53479d3a045ac8e11786248231fbf"
        elif k < 0.7:
            msg, prio, mid = f"Stopping {unit} - {comm} service...", 6, "de5b426a63be47a7b6ac3eaac82e2f6f"
        elif k < 0.97:
            msg, prio, mid = f"{unit}: Deactivated successfully.", 6, "7ad2d189f7e94e70a38c781354912448"
        else:
            msg, prio, mid = f"{unit}: Main process exited, code=dumped, status=11/SEGV", 4, "98e322203f7a4ed290d09fe03c09fe15"
        field(f, "PRIORITY", prio)
        field(f, "SYSLOG_FACILITY", 3)
        field(f, "SYSLOG_IDENTIFIER", "systemd")
        field(f, "CODE_FILE", "src/core/unit.c")
        field(f, "CODE_LINE", 5553)
        field(f, "CODE_FUNC", "unit_log_success")
        field(f, "MESSAGE_ID", mid)
        field(f, "UNIT", unit)
        field(f, "INVOCATION_ID", f"{zlib.crc32(unit.encode()):08x}{'a' * 24}")
        field(f, "_TRANSPORT", "journal")
        field(f, "_SOURCE_REALTIME_TIMESTAMP", t // 100_000 * 100_000)
        trusted(f, 1, 0, "systemd", "/usr/lib/systemd/systemd", "init.scope")
    elif r < 0.95:
        k = rng.random()
        dev = rng.choice(DISKS)
        if k < 0.02:
            msg = pooled(rng, ("io", dev), lambda: f"blk_update_request: I/O error, dev {dev}, sector {rng.randint(0, 1 << 30)} op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0", 50)
        elif k < 0.04:
            msg = pooled(rng, "segv", lambda: f"{rng.choice(['python3', 'node', 'php-fpm'])}[{rng.randint(1000, 60000)}]: segfault at 0 ip 00007f3a2c1d4e2a sp 00007ffd6b0e1f40 error 4 in libc.so.6[7f3a2c100000+195000]", 100)
        elif k < 0.045:
            msg = pooled(rng, "oom", lambda: f"Out of memory: Killed process {rng.randint(1000, 60000)} (java) total-vm:8123456kB, anon-rss:4123456kB, file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:9000kB oom_score_adj:0", 50)
        elif k < 0.06:
            msg = f"e1000e 0000:00:1f.6 eno{n % 3}: NIC Link is Down"
        elif k < 0.5:
            msg = pooled(rng, "ufw", lambda: f"[UFW BLOCK] IN=eno1 OUT= MAC=00:16:3e:00:00:01 SRC={rng.choice(IPS)} DST=192.0.2.10 LEN=40 TOS=0x00 PREC=0x00 TTL=240 ID=54321 PROTO=TCP SPT={rng.randint(1024, 65535)} DPT=23 WINDOW=1024 RES=0x00 SYN URGP=0", 1000)
        else:
            msg = f"IPv6: ADDRCONF(NETDEV_CHANGE): veth{n % 50:04x}: link becomes ready"
        field(f, "PRIORITY", 3 if "error" in msg or "Out of memory" in msg else 6 if "segfault" in msg else 4)
        field(f, "SYSLOG_FACILITY", 0)
        field(f, "SYSLOG_IDENTIFIER", "kernel")
        field(f, "_TRANSPORT", "kernel")
        field(f, "_SOURCE_MONOTONIC_TIMESTAMP", mono // 100_000 * 100_000)
        if "I/O error" in msg:
            field(f, "_KERNEL_DEVICE", f"b8:{DISKS.index(dev) * 16}")
            field(f, "_KERNEL_SUBSYSTEM", "block")
            field(f, "_UDEV_SYSNAME", dev)
            field(f, "_UDEV_DEVNODE", f"/dev/{dev}")
        field(f, "_HOSTNAME", HOST)
        field(f, "_MACHINE_ID", MACHINE)
    else:
        unit, comm, exe, uid = SERVICES[n % len(SERVICES)]
        msg = rng.choice([
            f"ERROR could not connect to database at 10.0.0.5:5432: connection refused (attempt {n % 5})",
            "FATAL:  password authentication failed for user \"report\"",
            f"level=error msg=\"failed to sync pod\" pod=\"default/web-{n % 30}\" err=\"context deadline exceeded\"",
            "WARNING: Memory overcommit must be enabled! Without it, a background save or replication may fail",
        ])
        field(f, "PRIORITY", 3)
        field(f, "SYSLOG_FACILITY", 3)
        field(f, "SYSLOG_IDENTIFIER", comm)
        field(f, "_TRANSPORT", "stdout")
        trusted(f, 3000 + n % 200, uid, comm, exe, unit)
    field(f, "MESSAGE", msg)
    f.append("\n")
    return "".join(f)


def trusted(f, pid, uid, comm, exe, unit):
    field(f, "_PID", pid)
    field(f, "_UID", uid)
    field(f, "_GID", uid)
    field(f, "_COMM", comm)
    field(f, "_EXE", exe)
    field(f, "_CMDLINE", f"{exe} --config /etc/{comm}/{comm}.conf")
    field(f, "_CAP_EFFECTIVE", "0" if uid else "1ffffffffff")
    field(f, "_SELINUX_CONTEXT", "unconfined")
    field(f, "_SYSTEMD_CGROUP", f"/system.slice/{unit}")
    field(f, "_SYSTEMD_UNIT", unit)
    field(f, "_SYSTEMD_SLICE", "system.slice")
    field(f, "_SYSTEMD_INVOCATION_ID", f"{zlib.crc32(unit.encode()):016x}{'b' * 16}")
    field(f, "_HOSTNAME", HOST)
    field(f, "_MACHINE_ID", MACHINE)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=0)
    ap.add_argument("--rate", type=float, default=50000, help="entries per second of journal time")
    ap.add_argument("--start-usec", type=int, default=0)
    ap.add_argument("--first", type=int, default=0, help="number of the first entry (to continue a file)")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--end-marker", action="store_true")
    ap.add_argument("--paced", action="store_true", help="write RATE entries a second for SECONDS, stamped with the time")
    ap.add_argument("--seconds", type=float, default=60)
    a = ap.parse_args()
    if a.paced:
        return paced(a)
    rng = random.Random(a.seed + a.first)
    step = 1e6 / a.rate
    start = a.start_usec or int(time.time() * 1e6 - a.entries * step)
    out = sys.stdout
    buf = []
    for i in range(a.first, a.first + a.entries):
        k = i - a.first
        buf.append(entry(rng, i, start + int(k * step), 3_600_000_000 + int(i * step)))
        if len(buf) >= 2000:
            out.write("".join(buf))
            buf = []
    if a.end_marker:
        t = start + int(a.entries * step)
        buf.append(marker(t, 3_600_000_000 + int((a.first + a.entries) * step)))
    out.write("".join(buf))


def marker(t, mono):
    return (f"__REALTIME_TIMESTAMP={t}\n__MONOTONIC_TIMESTAMP={mono}\n_BOOT_ID={BOOT}\n"
            f"PRIORITY=5\nSYSLOG_IDENTIFIER=shd-bench\n_TRANSPORT=journal\nMESSAGE=shd-bench end of storm\n\n")


def paced(a):
    """A storm in real time: every 50 ms the entries due by then, stamped with the clock (the writer appends them as
    journald would)."""
    rng = random.Random(a.seed)
    out = sys.stdout
    t0 = time.monotonic()
    i = 0
    while True:
        el = time.monotonic() - t0
        if el >= a.seconds:
            break
        due = int(el * a.rate)
        now = int(time.time() * 1e6)
        mono = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        buf = [entry(rng, k, now, mono) for k in range(i, due)]
        i = due
        out.write("".join(buf))
        out.flush()
        time.sleep(0.05)
    if a.end_marker:
        out.write(marker(int(time.time() * 1e6), time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000))
    out.flush()
    print(f"entries={i} seconds={time.monotonic() - t0:.1f}", file=sys.stderr)


if __name__ == "__main__":
    main()
