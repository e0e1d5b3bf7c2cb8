#!/usr/bin/env python3
"""How soon a control change on `lofi serve` is in the stream, measured from
the audio.

Starts the release `lofi serve` on a free port and one listener that notes
when each byte arrives and decodes the stream (the `probe` example of
lofi-radio: per 1,024-frame window its RMS, RMS frequency and largest
sample step). While it listens, the bench posts changes and finds each in
the audio:

- mix controls (keys, bass, drums, rain: one stem alone audible, the
  others muted, toggled between 0 and its level; brightness: 0 <-> 1 over
  the drums alone, found in the RMS frequency, a running median of 9
  windows since hits differ);
- a music control (drums source off <-> library, drums alone audible):
  heard from the next 4-bar phrase;
- the tempo (bpm 80 <-> 100, drums alone audible), found in the onset
  intervals: drum onsets (a window 6 dB over the least of the 3 before it)
  are fitted to each tempo's eighth-note grid (the share of pairs of
  onsets under 2 s apart that lie within 30 ms of a multiple of its
  eighth), and the new tempo is heard from the first onset whose next
  3 s fit it better than the old one, for 2 s of onsets on;
- a new-track control (temperature 0.9 <-> 1.1): heard when the new
  track's title arrives in the stream (ICY metadata, which rides at the
  next metadata block: up to 16,000 bytes, 0.67 s, after the track's
  first audio), and as /api/status reports it.

A change is found at the first window past the midpoint between the level
before it and after it (a fall must stay past it for 0.4 s: a gap between
drum hits is not a mute). Latency counts from the POST to the arrival of
that window's bytes: what leaves the server, on loopback. Click-free: the
largest sample step from 0.1 s before to 0.6 s after each change, over the
largest in that control's stretch away from changes. Gapless: decoded
seconds over wall seconds.

    python3 bench/radio_latency.py                 # 10 changes of each kind
    python3 bench/radio_latency.py --changes 4     # quicker
"""
import argparse, json, os, random, statistics, subprocess, tempfile, time

from radio_common import ROOT, free_port, post, status, wait_playing
FLOOR_DB = -100.0
# Seconds of stream per probe window (1,024 frames at 44.1 kHz).
WINDOW_S = 1024 / 44100


def median(xs):
    return statistics.median(xs) if xs else None


def smooth(windows, key, n=9):
    """`key` as the running median of n windows (centred), into key + '_s'."""
    vals = [w[key] for w in windows]
    for i, w in enumerate(windows):
        w[key + "_s"] = statistics.median(vals[max(0, i - n // 2): i + n // 2 + 1])


def levels(windows, tp, key, after_from=1.5, after_to=2.8):
    """Median `key` before tp and after it: what a change is judged by."""
    if key == "rms_hz":
        key = "rms_hz_s"
    val = lambda w: max(w[key], FLOOR_DB) if key == "rms_db" else w[key]
    before = median([val(w) for w in windows if tp - 2.0 <= w["t"] < tp - 0.05])
    after = median([val(w) for w in windows if tp + after_from <= w["t"] < tp + after_to])
    return before, after


def find(windows, tp, key, after_from=1.5, after_to=2.8):
    """Seconds from tp to the change in `key`, or None if no clear change."""
    before, after = levels(windows, tp, key, after_from, after_to)
    if key == "rms_hz":
        key = "rms_hz_s"
    val = lambda w: max(w[key], FLOOR_DB) if key == "rms_db" else w[key]
    if before is None or after is None:
        return None
    big = abs(after - before) >= 6.0 if key == "rms_db" else abs(after - before) >= 0.2 * max(before, after)
    if not big:
        return None
    thr = (before + after) / 2
    rising = after > before
    later = [w for w in windows if w["t"] >= tp - 0.05]
    for i, w in enumerate(later):
        if rising and val(w) > thr:
            return w["t"] - tp
        if not rising and val(w) < thr:
            hold = [val(x) for x in later[i:] if x["t"] < w["t"] + 0.4]
            if all(v < thr for v in hold):
                return w["t"] - tp
    return None


def onsets(windows, rise=6.0, floor=-60.0):
    """Arrival times of drum onsets: a window 6 dB over the least of the
    three before it (at most one each 70 ms of stream)."""
    out, last = [], None
    for i in range(3, len(windows)):
        w = windows[i]
        prev = min(x["rms_db"] for x in windows[i - 3:i])
        s = i * WINDOW_S
        if w["rms_db"] - prev >= rise and w["rms_db"] > floor and (last is None or s - last > 0.07):
            out.append((s, w["t"]))
            last = s
    return out


def grid_fit(times, bpm, tol=0.03):
    """Share of pairs of onsets under 2 s apart within `tol` of a multiple
    of an eighth note at `bpm`."""
    eighth = 30.0 / bpm
    n = ok = 0
    for i in range(len(times)):
        for j in range(i + 1, len(times)):
            d = times[j] - times[i]
            if d > 2.0:
                break
            n += 1
            k = round(d / eighth)
            ok += k >= 1 and abs(d - k * eighth) <= tol
    return ok / n if n else 0.0


def find_tempo(ons, tp, old, new, span=3.0, hold=2.0):
    """Seconds from tp to the first onset from which the next `span`
    seconds fit `new` better than `old`, and do so for `hold` seconds of
    onsets on; None if never within 30 s."""
    stream = [s for s, _ in ons]
    def better(k):
        seg = [x for x in stream[k:] if x < stream[k] + span]
        return len(seg) >= 4 and grid_fit(seg, new) > grid_fit(seg, old)
    for k, (s, t) in enumerate(ons):
        if t < tp - 0.5:
            continue
        if t > tp + 30:
            return None
        ks = [j for j in range(k, len(ons)) if ons[j][0] < s + hold]
        if all(better(j) for j in ks):
            return t - tp
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--changes", type=int, default=10, help="changes of each control (default 10)")
    ap.add_argument("--gap", type=float, default=3.0, help="seconds between mix changes")
    ap.add_argument("--bpm", type=float, default=80.0, help="the station's tempo (a phrase is 16 beats)")
    ap.add_argument("--lofi", default=os.path.join(ROOT, "target/release/lofi"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    probe = os.path.join(ROOT, "target/release/examples/probe")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "lofi-cli"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "lofi-radio", "--example", "probe"], cwd=ROOT, check=True)
    port = free_port()
    cache = tempfile.mkdtemp(prefix="lofi-latency-")
    log = open(os.path.join(cache, "serve.log"), "w")
    server = subprocess.Popen([a.lofi, "serve", "--addr", f"127.0.0.1:{port}", "--cache-dir", os.path.join(cache, "c"),
                               "--seed", "1", "--bpm", str(a.bpm)], stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_playing(port)
        phrase_s = 16 * 60 / a.bpm
        mix_plan = [
            ("keys", {"bass": 0, "drums_gain": 0}, "rms_db", [0, 1]),
            ("bass", {"keys": 0, "drums_gain": 0}, "rms_db", [0, 1]),
            ("drums_gain", {"keys": 0, "bass": 0}, "rms_db", [0, 1]),
            ("rain", {"keys": 0, "bass": 0, "drums_gain": 0}, "rms_db", [0, 2]),
            ("brightness", {"keys": 0, "bass": 0}, "rms_hz", [0.0, 1.0]),
        ]
        phrase_plan = ("drums", {"keys": 0, "bass": 0}, "rms_db", ["off", "library"])
        seconds = (8 + len(mix_plan) * (a.changes + 1) * a.gap + (a.changes + 1) * (phrase_s + 6)
                   + (a.changes + 3) * (2 * phrase_s + 6) + a.changes * (1.5 * phrase_s + 8) + 60)
        listener = subprocess.Popen([probe, f"127.0.0.1:{port}", str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(4)
        quiet = {"keys": 1, "bass": 1, "drums_gain": 1, "rain": 0, "vinyl": 0, "tape": 0, "brightness": 0.5}
        posts = []  # (control, feature, wall time, section)
        for section, (name, bg, feature, values) in enumerate(mix_plan):
            post(port, {**quiet, **bg, name: values[1]})
            time.sleep(a.gap)
            for i in range(a.changes):
                tp, _ = post(port, {name: values[i % 2]})
                posts.append((name, feature, tp, section))
                time.sleep(a.gap)
        name, bg, feature, values = phrase_plan
        post(port, {**quiet, **bg, "drums": values[1]})
        time.sleep(phrase_s + 3)
        phrase_status = []
        for i in range(a.changes):
            tp, r = post(port, {name: values[i % 2]})
            posts.append((name, feature, tp, len(mix_plan)))
            # Wait until it is heard (the next phrase), then a little more.
            end = time.time() + 2 * phrase_s + 10
            while time.time() < end:
                h = status(port)["heard"].get(name, {})
                if h.get("heard_s") is not None and h["posted_s"] >= r["stream_s"] - 1e-6:
                    phrase_status.append(h["heard_s"] - h["posted_s"])
                    break
                time.sleep(0.2)
            time.sleep(4)
        # The tempo, drums alone, from a random point of a phrase.
        tempos = [100.0, a.bpm]
        post(port, {**quiet, "keys": 0, "bass": 0, "drums": "library"})
        time.sleep(phrase_s + 3)
        tempo_posts = []
        rng = random.Random(1)
        for i in range(a.changes):
            new = tempos[i % 2]
            tp, r = post(port, {"bpm": new})
            tempo_posts.append((tp, tempos[(i + 1) % 2], new))
            end = time.time() + 2 * phrase_s + 10
            while time.time() < end:
                h = status(port)["heard"].get("bpm", {})
                if h.get("heard_s") is not None and h["posted_s"] >= r["stream_s"] - 1e-6:
                    break
                time.sleep(0.2)
            time.sleep(4 + rng.uniform(0, phrase_s))
        post(port, {"bpm": a.bpm})
        time.sleep(2 * phrase_s)
        # A new track (temperature), keys alone.
        post(port, {**quiet, "bass": 0, "drums_gain": 0})
        track_status, track_posts = [], []
        for i in range(a.changes):
            tp, r = post(port, {"temperature": [0.9, 1.1][i % 2]})
            track_posts.append(tp)
            end = time.time() + 2 * phrase_s + 15
            while time.time() < end:
                h = status(port)["heard"].get("temperature", {})
                if h.get("heard_s") is not None and h["posted_s"] >= r["stream_s"] - 1e-6:
                    track_status.append(h["heard_s"] - h["posted_s"])
                    break
                time.sleep(0.2)
            time.sleep(2 + rng.uniform(0, phrase_s))
        out, err = listener.communicate(timeout=seconds + 60)
        cpu = None
        try:
            with open(f"/proc/{server.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    finally:
        server.terminate()
        server.wait()
    windows = [json.loads(l) for l in out.splitlines() if l.strip()]
    smooth(windows, "rms_hz")
    summary = json.loads(err.strip().splitlines()[-1])
    rows = {}
    for name, feature, tp, section in posts:
        lat = find(windows, tp, feature, *( (phrase_s + 2, phrase_s + 3.5) if name == "drums" else (1.5, 2.8)))
        if name == "drums" and lat is None:
            # Heard at the next phrase: look for it over a longer span.
            lat = find(windows, tp, feature, phrase_s + 1, phrase_s + 3)
        near = [w["step"] for w in windows if tp - 0.1 <= w["t"] < tp + (phrase_s + 1 if name == "drums" else 0.6)]
        r = rows.setdefault(name, {"lat": [], "missed": 0, "near": [], "section": section, "why": []})
        if lat is None:
            r["missed"] += 1
            b, f = levels(windows, tp, feature)
            r["why"].append(f"{b:.1f} -> {f:.1f}" if b is not None and f is not None else "no audio")
        else:
            r["lat"].append(lat)
        r["near"].append(max(near) if near else 0.0)
    change_times = [p[2] for p in posts]
    table = []
    for name, r in rows.items():
        sec_posts = [p[2] for p in posts if p[3] == r["section"]]
        lo, hi = min(sec_posts) - 1, max(sec_posts) + 3
        away = [w["step"] for w in windows if lo <= w["t"] < hi and all(abs(w["t"] - t) > 1.0 for t in change_times)]
        ref = max(away) if away else 0.0
        table.append({
            "control": name,
            "when": "phrase" if name == "drums" else "mix",
            "changes": len(r["lat"]) + r["missed"],
            "found": len(r["lat"]),
            "median_s": median(r["lat"]),
            "worst_s": max(r["lat"]) if r["lat"] else None,
            "step_ratio": (max(r["near"]) / ref) if ref > 0 else None,
            "missed_levels": r["why"],
        })
    ons = onsets(windows)
    r = {"lat": [], "missed": 0, "near": []}
    for tp, old, new in tempo_posts:
        lat = find_tempo(ons, tp, old, new)
        if lat is None:
            r["missed"] += 1
        else:
            r["lat"].append(lat)
            near = [w["step"] for w in windows if tp + lat - 0.5 <= w["t"] < tp + lat + 0.6]
            r["near"].append(max(near) if near else 0.0)
    lo, hi = (tempo_posts[0][0] - 1, tempo_posts[-1][0] + 3) if tempo_posts else (0, 0)
    away = [w["step"] for w in windows if lo <= w["t"] < hi
            and all(abs(w["t"] - (tp + l)) > 1.0 for (tp, _, _), l in zip(tempo_posts, r["lat"]))]
    table.append({
        "control": "bpm", "when": "phrase", "changes": len(tempo_posts), "found": len(r["lat"]),
        "median_s": median(r["lat"]), "worst_s": max(r["lat"]) if r["lat"] else None,
        "step_ratio": (max(r["near"]) / max(away)) if r["near"] and away else None, "missed_levels": [],
    })
    # Temperature: the first new title after each post.
    titles = summary.get("titles", [])
    lats = []
    for tp in track_posts:
        before = [t for at, t in titles if at < tp]
        after = [(at, t) for at, t in titles if at >= tp and (not before or t != before[-1])]
        if after and after[0][0] - tp < 60:
            lats.append(after[0][0] - tp)
    table.append({
        "control": "temperature", "when": "track", "changes": len(track_posts), "found": len(lats),
        "median_s": median(lats), "worst_s": max(lats) if lats else None, "step_ratio": None,
        "missed_levels": [],
    })
    result = {
        "bpm": a.bpm, "phrase_s": phrase_s, "wall_s": summary["wall_s"], "decoded_s": summary["decoded_s"],
        "realtime": summary["decoded_s"] / summary["wall_s"], "controls": table,
        "drums_source_status_s": phrase_status, "temperature_status_s": track_status,
        "server_cpu_s": cpu,
    }
    if a.json:
        print(json.dumps(result))
        return
    print(f"station at {a.bpm:.0f} BPM (a phrase is {phrase_s:.1f} s); decoded {summary['decoded_s']:.1f} s of audio "
          f"in {summary['wall_s']:.1f} s wall ({result['realtime']:.3f}x); server CPU {cpu:.1f} s")
    print()
    print("| control | heard | changes found | median s | worst s | largest step at a change / elsewhere |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for t in table:
        f = lambda v: "–" if v is None else f"{v:.2f}"
        print(f"| {t['control']} | {t['when']} | {t['found']}/{t['changes']} | {f(t['median_s'])} | {f(t['worst_s'])} | {f(t['step_ratio'])} |")
    for t in table:
        if t["missed_levels"]:
            print(f"\n{t['control']}: not found where the level before -> after was {', '.join(t['missed_levels'])}")
    if phrase_status:
        print(f"\ndrums source, as /api/status reports it heard: median {median(phrase_status):.2f} s, worst {max(phrase_status):.2f} s")
    if track_status:
        print(f"temperature (a new track at the next phrase), as /api/status reports it: median {median(track_status):.2f} s, worst {max(track_status):.2f} s")


if __name__ == "__main__":
    main()
