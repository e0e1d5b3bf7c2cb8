#!/usr/bin/env python3
"""The radio against hostile and stalled clients, on loopback.

Starts the release `lofi serve` on a free port with one real listener that
reads the stream the whole time, then:

1. opens N connections (default 2,000) that each send half a request
   header and stop, while a fresh connection fetches the page and
   /api/status every 0.5 s: how many page fetches succeeded, how long
   until every half-sent connection was closed by the server, and the
   longest any one of them was held open (polled every 0.2 s);
2. opens M listeners (default 100) that ask for the stream and never read:
   how long until /api/status counts them gone, and whether a fresh
   listener then gets 200;
3. the server's open file descriptors and RSS before, at the peak and after.

    python3 bench/radio_hostile.py
    python3 bench/radio_hostile.py --half 500 --stalled 20   # quicker
"""
import argparse, json, os, resource, socket, subprocess, tempfile, threading, time

from radio_common import ROOT, free_port, status, wait_playing


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mib(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def get(port, path, timeout=5.0):
    """Status code of a GET on a fresh connection, or None."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head = s.recv(64)
        s.close()
        return int(head.split()[1])
    except (OSError, ValueError, IndexError):
        return None


class Reader(threading.Thread):
    """A listener that reads the stream: bytes and seconds."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.bytes, self.stop, self.start_t, self.end_t = port, 0, False, None, None

    def run(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.sendall(b"GET /stream.mp3 HTTP/1.1\r\nHost: x\r\n\r\n")
        self.start_t = time.time()
        while not self.stop:
            try:
                b = s.recv(65536)
            except OSError:
                break
            if not b:
                break
            self.bytes += len(b)
        self.end_t = time.time()


def closed(s):
    """Whether the server closed `s` (what it sent is read and dropped)."""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half", type=int, default=2000, help="half-sent requests (default 2000)")
    ap.add_argument("--stalled", type=int, default=100, help="listeners that never read (default 100)")
    ap.add_argument("--lofi", default=os.path.join(ROOT, "target/release/lofi"))
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, a.half + a.stalled + 200)), hard))
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "lofi-cli"], cwd=ROOT, check=True)
    port = free_port()
    cache = tempfile.mkdtemp(prefix="lofi-hostile-")
    server = subprocess.Popen([a.lofi, "serve", "--addr", f"127.0.0.1:{port}", "--cache-dir", os.path.join(cache, "c"),
                               "--seed", "1", "--max-listeners", str(a.stalled + 10)],
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(cache, "serve.log"), "w"))
    r = {}
    try:
        wait_playing(port)
        reader = Reader(port)
        reader.start()
        time.sleep(2)
        r["fds_before"], r["rss_mib_before"] = fds(server.pid), rss_mib(server.pid)
        # 1. Half-sent requests, while the page is fetched.
        page = {"ok": 0, "asked": 0}
        done = threading.Event()

        def fetch():
            while not done.is_set():
                for path in ["/", "/api/status"]:
                    page["asked"] += 1
                    page["ok"] += get(port, path) == 200
                time.sleep(0.5)
        fetcher = threading.Thread(target=fetch, daemon=True)
        fetcher.start()
        half, t0 = [], time.time()
        for _ in range(a.half):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                s.setblocking(False)
                half.append((s, time.time()))
            except OSError:
                pass
        r["half_opened"], r["half_open_s"] = len(half), time.time() - t0
        r["fds_peak"], r["rss_mib_peak"] = fds(server.pid), rss_mib(server.pid)
        open_, held = half, []
        while open_ and time.time() - t0 < 60:
            still = []
            for s, at in open_:
                if closed(s):
                    held.append(time.time() - at)
                else:
                    still.append((s, at))
            open_ = still
            time.sleep(0.2)
        r["half_all_closed_s"] = time.time() - t0 if not open_ else None
        r["half_longest_held_s"] = max(held) if held else None
        r["half_still_open"] = len(open_)
        for s, _ in half:
            s.close()
        time.sleep(1)
        done.set()
        fetcher.join()
        r["page_ok"], r["page_asked"] = page["ok"], page["asked"]
        # 2. Stalled listeners.
        base = status(port)["station"]["listeners"]
        stalled, t1 = [], time.time()
        for _ in range(a.stalled):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /stream.mp3 HTTP/1.1\r\nHost: x\r\n\r\n")
            stalled.append(s)
        peak = base
        while time.time() - t1 < 120:
            n = status(port)["station"]["listeners"]
            peak = max(peak, n)
            if n <= base and time.time() - t1 > 1:
                break
            time.sleep(0.25)
        r["stalled_listeners_peak"] = peak - base
        r["stalled_freed_s"] = time.time() - t1 if status(port)["station"]["listeners"] <= base else None
        r["fresh_listener_status"] = get(port, "/stream.mp3")
        for s in stalled:
            s.close()
        reader.stop = True
        time.sleep(1)
        r["reader_realtime"] = reader.bytes * 8 / 192_000 / ((reader.end_t or time.time()) - reader.start_t)
        st = status(port)["stats"]
        r["listeners_dropped_slow"], r["connections_refused"] = st["listeners_dropped_slow"], st.get("connections_refused")
        time.sleep(2)
        r["fds_after"], r["rss_mib_after"] = fds(server.pid), rss_mib(server.pid)
        r["server_alive"] = server.poll() is None
    finally:
        server.terminate()
        server.wait()
    if a.json:
        print(json.dumps(r))
        return
    print("| figure | value |\n|---|---|")
    print(f"| half-sent requests opened | {r['half_opened']} in {r['half_open_s']:.1f} s |")
    hc = r["half_all_closed_s"]
    print(f"| all of them closed by the server after | {'%.1f s' % hc if hc is not None else 'not within 60 s (%d open)' % r['half_still_open']} |")
    print(f"| the longest any one was held open | {r['half_longest_held_s']:.1f} s |")
    print(f"| page and status fetched meanwhile | {r['page_ok']} / {r['page_asked']} |")
    print(f"| stalled listeners counted at most | {r['stalled_listeners_peak']} / {a.stalled} |")
    sf = r["stalled_freed_s"]
    print(f"| their slots freed after | {'%.1f s' % sf if sf is not None else 'not within 120 s'} |")
    print(f"| a fresh listener then gets | {r['fresh_listener_status']} |")
    print(f"| the reading listener's bytes / 192 kbit/s | {r['reader_realtime']:.3f}x |")
    print(f"| server open files before / peak / after | {r['fds_before']} / {r['fds_peak']} / {r['fds_after']} |")
    print(f"| server RSS before / peak / after | {r['rss_mib_before']:.0f} / {r['rss_mib_peak']:.0f} / {r['rss_mib_after']:.0f} MiB |")
    print(f"| listeners dropped slow, connections refused | {r['listeners_dropped_slow']}, {r['connections_refused']} |")
    print(f"| server still running | {r['server_alive']} |")


if __name__ == "__main__":
    main()
