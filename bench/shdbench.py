"""Helpers for scripts/bench-*: a timestamping webhook receiver and shd run with timestamped log lines.

Every timestamp is time.monotonic() (CLOCK_MONOTONIC) of this process, so differences between a
file write, a log line and a webhook request are comparable. The receiver and the log reader run
in threads of the benchmark process; their own scheduling delay (a few hundred microseconds on a
busy 2-core machine) is counted against shd, never in its favour.
"""
import http.server, json, os, queue, subprocess, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHD = os.path.join(ROOT, ".build-bench/release/shd")


class Receiver:
    """HTTP receiver on 127.0.0.1 (an ephemeral port); records (arrival, path, parsed JSON body).

    Arrival is taken when the request line and headers have been read, before the body."""

    def __init__(self, status=200):
        self.events = queue.Queue()
        self.status = status
        self.count = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                t = time.monotonic()
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                try:
                    doc = json.loads(body)
                except ValueError:
                    doc = None
                outer.count += 1
                outer.events.put((t, self.path, doc, len(body)))

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def wait(self, predicate, timeout=10):
        """The first request whose parsed body satisfies predicate; (arrival, doc) or None."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                t, _, doc, _ = self.events.get(timeout=left)
            except queue.Empty:
                return None
            if doc is not None and predicate(doc):
                return t, doc

    def drain(self):
        while not self.events.empty():
            self.events.get_nowait()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def alerts(doc):
    """The alert objects of a webhook payload (one alert or a batch)."""
    if not isinstance(doc, dict):
        return []
    if "alert" in doc:
        return [doc["alert"]]
    if "alerts" in doc:
        return list(doc["alerts"])
    return []


class Shd:
    """`shd run ARGS` with stderr read line by line into a queue of (monotonic time, line)."""

    def __init__(self, args, shd=SHD, env=None):
        self.cmd = [shd, "run"] + args
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, bufsize=0, env=env)
        self.lines = queue.Queue()
        self.all = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in iter(self.proc.stderr.readline, b""):
            item = (time.monotonic(), raw.decode(errors="replace").rstrip("\n"))
            self.all.append(item)
            self.lines.put(item)

    def wait_line(self, needle, timeout=10):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                t, line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if needle in line:
                return t, line

    def drain(self):
        while not self.lines.empty():
            self.lines.get_nowait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def write_in_place(path, text):
    """Rewrites a file's bytes in place (same inode: shd keeps /proc fds open and preads at 0)."""
    data = text.encode()
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def stats(xs):
    xs = sorted(xs)
    n = len(xs)
    med = xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
    return {"n": n, "min": xs[0], "median": med, "max": xs[-1], "mean": sum(xs) / n}


def machine():
    return (f"nproc={os.cpu_count()} kernel={os.uname().release} "
            f"loadavg={open('/proc/loadavg').read().split()[0]}")


def shipped_rules(dest="/tmp/shd-bench/shipped-rules.d", conf="/tmp/shd-bench/shipped-shd.conf"):
    """The shipped rules.d and etc/shd.conf as committed at HEAD (not the working tree, which other
    work may be editing), exported to DEST and CONF; returns (DEST, CONF, short commit)."""
    import shutil as _shutil
    _shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    names = subprocess.run(["git", "-C", ROOT, "ls-tree", "--name-only", "HEAD", "rules.d/"], capture_output=True, text=True, check=True).stdout.split()
    for n in names:
        if n.endswith(".rules"):
            data = subprocess.run(["git", "-C", ROOT, "show", f"HEAD:{n}"], capture_output=True, check=True).stdout
            open(os.path.join(dest, os.path.basename(n)), "wb").write(data)
    data = subprocess.run(["git", "-C", ROOT, "show", "HEAD:etc/shd.conf"], capture_output=True, check=True).stdout
    open(conf, "wb").write(data)
    return dest, conf, commit
