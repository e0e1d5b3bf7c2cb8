#!/usr/bin/env python3
"""Load and soak test of `lofi serve` on loopback.

Starts the release `lofi serve` on a free port, measures the time from the
start to the first audio byte, then runs N concurrent listeners for S
seconds (the `listeners` example of lofi-radio: bytes, seconds decoded by
symphonia) while sampling the server's CPU per thread (producer, deck,
network) and its RSS from /proc once a second.

    python3 bench/radio_load.py                       # 50 listeners, 60 s
    python3 bench/radio_load.py --listeners 5 --seconds 1800 --soak   # 30-min soak
    python3 bench/radio_load.py --listeners 5 --seconds 1200 --soak --minutes 0.25
        # 20 minutes of 15-second tracks: the tracks made in 4 hours of
        # 3-minute ones (what memory grows with), RSS each minute
    python3 bench/radio_load.py --listeners 5 --seconds 900 --soak --speed 8 --change-every 4
        # 2 hours of 3-minute tracks in 15 minutes (the stream played 8x
        # faster than real time), a control change every 32 s of stream:
        # RSS and the MiB held by stems each minute
    python3 bench/radio_load.py --seconds 600 --change-every 2        # live controls moved all along
    python3 bench/radio_load.py --listeners 3000 --no-decode          # scale: bytes only

Prints a Markdown table, and JSON with --json. Figures are ratios to real
time and shares of one core, so they mean the same on any machine.
"""
import argparse, json, os, resource, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time

from radio_common import ROOT, free_port, post, status

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def threads(pid):
    """CPU seconds per thread-name group of process `pid`."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICK
        group = "producer" if "producer" in name else "deck" if "deck" in name else "net" if "lofi-net" in name else "other"
        out[group] = out.get(group, 0.0) + cpu
    return out


def rss_mib(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def first_byte(port, start, timeout=30):
    """Seconds from `start` to the first audio byte of a listener connected at once."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            break
        except OSError:
            time.sleep(0.01)
    s.sendall(b"GET /stream.mp3 HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf or len(buf) <= buf.index(b"\r\n\r\n") + 4:
        d = s.recv(65536)
        if not d:
            raise SystemExit("the stream closed before any audio")
        buf += d
    t = time.monotonic() - start
    s.close()
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lofi", default=os.path.join(ROOT, "target/release/lofi"))
    ap.add_argument("--listeners", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--soak", action="store_true", help="report RSS each minute, at 10 min and at the end")
    ap.add_argument("--minutes", type=float, help="track length (lofi serve --minutes): short tracks soak faster")
    ap.add_argument("--speed", type=float, default=1.0,
                    help="lofi serve --speed: the stream plays this many times faster than real time")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-decode", action="store_true",
                    help="count the listeners' bytes without decoding them (thousands of listeners)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--change-every", type=float, default=0, metavar="S",
                    help="post a control change every S seconds: mix and music controls in turn")
    ap.add_argument("--mix-only", action="store_true", help="with --change-every: mix controls only")
    a = ap.parse_args()
    # A thousand listeners need as many sockets in the client (the server
    # raises its own limit).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * a.listeners + 256)), hard))
    ex = os.path.join(ROOT, "target/release/examples/listeners")
    if not a.no_build:
        for target in (["-p", "lofi-cli"], ["-p", "lofi-radio", "--example", "listeners"]):
            subprocess.run(["cargo", "build", "--release", "-q", *target], cwd=ROOT, check=True)
    port = free_port()
    cache = tempfile.mkdtemp(prefix="lofi-load-")
    start = time.monotonic()
    server = subprocess.Popen([a.lofi, "serve", "--addr", f"127.0.0.1:{port}", "--cache-dir", cache,
                               "--max-listeners", str(a.listeners + 10), "--speed", str(a.speed)]
                              + (["--minutes", str(a.minutes)] if a.minutes else []),
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(cache, "..", f"lofi-load-{port}.log"), "w"))
    try:
        ttfb = first_byte(port, start)
        cpu0, t0 = threads(server.pid), time.monotonic()
        load = subprocess.Popen([ex, f"127.0.0.1:{port}", str(a.listeners), str(a.seconds)]
                                + (["--no-decode"] if a.no_decode else []),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # The listeners write "listened" when they stop, then decode the
        # streams (minutes for a thousand): the server's figures end there.
        listened = threading.Event()
        def watch():
            for line in load.stderr:
                if line.strip() == "listened":
                    listened.set()
                else:
                    sys.stderr.write(line)
        threading.Thread(target=watch, daemon=True).start()
        rss = []
        changes = [{"rain": 0.5}, {"keys": 0.7}, {"brightness": 0.3}, {"drums_gain": 1.4}, {"density": 0.8},
                   {"bass": 1.3}, {"chords": "9ths"}, {"tape": 1.5}, {"brightness": 0.6}, {"vinyl": 0.4},
                   {"rain": 1.0}, {"keys": 1.0}, {"density": 0.4}, {"drums_gain": 1.0}, {"chords": "7ths"}, {"bass": 1.0}]
        if a.mix_only:
            changes = [c for c in changes if not ({"density", "chords"} & set(c))]
        posted, next_change, last_rss = 0, time.monotonic() + a.change_every, 0.0
        stems = []  # (wall s, MiB held by stems), every 5 s
        while not listened.is_set() and load.poll() is None:
            time.sleep(0.1)
            now = time.monotonic()
            if a.change_every > 0 and now >= next_change:
                post(port, changes[posted % len(changes)])
                posted += 1
                next_change += a.change_every
            if now - last_rss >= 1.0:
                last_rss = now
                rss.append((now - t0, rss_mib(server.pid)))
                if a.soak and len(rss) % 5 == 1:
                    stems.append((now - t0, status(port)["memory"]["stems_mib"]))
        cpu1, t1, st = threads(server.pid), time.monotonic(), status(port)
        out = json.loads(load.stdout.read())
    finally:
        server.send_signal(signal.SIGINT)
        t_stop = time.monotonic()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        stop_s = time.monotonic() - t_stop
        shutil.rmtree(cache, ignore_errors=True)
    wall = t1 - t0
    rows = out["listeners"]
    ok = [r for r in rows if r["status"] == 200]
    # Ratios to the stream's pace (real time times the speed).
    rt = sorted(r["decoded_s"] / a.seconds / a.speed for r in ok if r["decoded_s"] is not None)
    rate = sorted(r["bytes"] * 8 / 192000 / a.seconds / a.speed for r in ok)
    share = {k: (cpu1.get(k, 0) - cpu0.get(k, 0)) / wall for k in set(cpu0) | set(cpu1)}
    made = st["stats"]
    result = {
        "listeners": a.listeners, "seconds": a.seconds, "served": len(ok),
        "first_audio_byte_s": ttfb,
        "decoded_realtime_min": rt[0] if rt else None, "decoded_realtime_median": rt[len(rt) // 2] if rt else None,
        "bytes_realtime_min": rate[0] if rate else 0,
        "cpu_core_share": share,
        "cpu_per_listener_core_share": share.get("net", 0) / max(1, len(ok)),
        "make_speed_x_realtime": made["audio_seconds_made"] / max(1e-9, made["make_seconds"]),
        "min_ready_ahead_s": made["min_ready_ahead_s"], "underrun_s": made["underrun_s"],
        "listeners_dropped_slow": made["listeners_dropped_slow"],
        # What the station holds besides the tracks' stems, when the
        # listeners stop: per listener, compare runs with different counts.
        "rss_less_stems_mib": st["memory"]["resident_mib"] - st["memory"]["stems_mib"],
        "rss_mib_first": rss[0][1] if rss else None, "rss_mib_last": rss[-1][1] if rss else None,
        "rss_mib_max": max(r[1] for r in rss) if rss else None,
        "cpu_core_share_total": sum(share.values()), "changes_posted": posted,
        "stop_s": stop_s, "speed": a.speed, "stream_s": st["station"]["stream_s"],
    }
    if a.soak and rss:
        # "At 10 min" is the wall minute from ten minutes of stream on
        # (wall time times the speed: the station has warmed up by then,
        # whatever the speed), "the end" the last wall minute. One sample
        # says little: RSS swings by hundreds of MiB inside a minute (a make
        # or re-render holds its buses, a crossfade two tracks), so each
        # window gives its median (what the station holds between makes)
        # and its most (the peak of what it makes).
        ten, end = 600 / a.speed, rss[-1][0]
        def window(lo, hi):
            vals = [v for t, v in rss if lo <= t < hi] or [min(rss, key=lambda x: abs(x[0] - lo))[1]]
            return statistics.median(vals), max(vals)
        (med10, most10), (med_end, most_end) = window(ten, ten + 60), window(end - 60, end + 1)
        result["rss_mib_at_10_min"] = med10
        result["rss_mib_at_end"] = med_end
        result["rss_growth_after_10_min"] = med_end / med10 - 1
        result["rss_mib_most_at_10_min"] = most10
        result["rss_mib_most_at_end"] = most_end
        result["rss_most_growth_after_10_min"] = most_end / most10 - 1
        minutes = [r for r in rss if int(r[0]) % 60 == 0]
        result["rss_mib_each_minute"] = [round(r[1]) for r in minutes]
        # The most RSS over each minute: steadier than one sample, which
        # may fall in a crossfade (two tracks held) or between tracks.
        result["rss_mib_most_each_minute"] = [round(max(v for t, v in rss if m <= t < m + 60))
                                             for m in range(0, int(rss[-1][0]) - 59, 60)]
        result["stems_mib_each_minute"] = [round(min(stems, key=lambda x: abs(x[0] - t))[1]) for t, _ in minutes] if stems else []
        result["stems_mib_max"] = max(v for _, v in stems) if stems else None
        result["tracks_made"] = made["tracks_made"]
    if a.json:
        print(json.dumps(result, indent=1))
        return
    print(f"| figure | value |\n|---|---|")
    print(f"| listeners served / asked | {len(ok)} / {a.listeners} for {a.seconds:.0f} s |")
    print(f"| first audio byte after start | {ttfb:.2f} s |")
    if rt:
        print(f"| decoded audio / wall time, min (median) | {result['decoded_realtime_min']:.3f}× ({result['decoded_realtime_median']:.3f}×) |")
    print(f"| bytes / 192 kbit/s, min | {result['bytes_realtime_min']:.3f}× |")
    for k in ("producer", "deck", "net", "other"):
        if k in share:
            print(f"| CPU, {k} threads | {100 * share[k]:.2f} % of a core |")
    print(f"| CPU per listener (net threads / listeners) | {100 * result['cpu_per_listener_core_share']:.3f} % of a core |")
    print(f"| tracks made at | {result['make_speed_x_realtime']:.0f}× real time |")
    print(f"| least time a track was ready before needed | {made['min_ready_ahead_s'] or 0:.1f} s |")
    print(f"| silence for want of a track | {made['underrun_s']:.1f} s |")
    print(f"| CPU, the whole station | {100 * result['cpu_core_share_total']:.2f} % of a core |")
    if posted:
        print(f"| control changes posted | {posted}, one every {a.change_every:g} s |")
    print(f"| RSS less the stems when the listeners stop | {result['rss_less_stems_mib']:.0f} MiB |")
    print(f"| RSS first / last sample / most | {result['rss_mib_first']:.0f} / {result['rss_mib_last']:.0f} / {result['rss_mib_max']:.0f} MiB |")
    if a.speed != 1.0:
        print(f"| stream played | {result['stream_s'] / 60:.0f} min at {a.speed:g}× real time |")
    if "rss_mib_at_10_min" in result:
        print(f"| tracks made | {result['tracks_made']} |")
        print(f"| RSS median over the minute from 10 min of stream → the last minute | {result['rss_mib_at_10_min']:.0f} → {result['rss_mib_at_end']:.0f} MiB ({100 * result['rss_growth_after_10_min']:+.1f} %) |")
        print(f"| RSS most over the same minutes | {result['rss_mib_most_at_10_min']:.0f} → {result['rss_mib_most_at_end']:.0f} MiB ({100 * result['rss_most_growth_after_10_min']:+.1f} %) |")
        print(f"| RSS each minute, MiB | {' '.join(str(v) for v in result['rss_mib_each_minute'])} |")
        print(f"| RSS most in each minute, MiB | {' '.join(str(v) for v in result['rss_mib_most_each_minute'])} |")
        print(f"| held by stems each minute, MiB | {' '.join(str(v) for v in result['stems_mib_each_minute'])} |")
    print(f"| SIGINT to exit | {stop_s:.2f} s |")


if __name__ == "__main__":
    main()
