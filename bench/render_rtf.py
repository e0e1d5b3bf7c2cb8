#!/usr/bin/env python3
"""Real-time factor of the whole `lofi render` process on one core.

Runs `taskset -c 0 lofi render` on the project's own fixture (a 3-minute
track by default) with the built-in instruments and with a SoundFont (when
one is installed: `apt-get install timgm6mb-soundfont`), each with and
without --stems, and prints the median wall time of several runs and the
real-time factor (track seconds / wall seconds), with the medians of the
renders' user and system CPU time beside it.

    python3 bench/render_rtf.py [--runs 5] [--minutes 3] [--soundfont FILE.sf2] [--baseline OLD_LOFI]

With --baseline (another build of `lofi`, e.g. one made at an older commit)
each case runs both binaries, alternating run by run, and prints the ratio
of their medians: the only figure that means something across machines.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOUNDFONTS = ["/usr/share/sounds/sf2/TimGM6mb.sf2", "/usr/share/sounds/sf2/FluidR3_GM.sf2"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--input", default=os.path.join(ROOT, "testdata", "midi", "chord-loop.mid"))
    ap.add_argument("--soundfont", default=next((f for f in SOUNDFONTS if os.path.exists(f)), None))
    ap.add_argument("--baseline", help="another lofi binary to time in the same run")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "lofi-cli"], cwd=ROOT, check=True)
    lofi = os.path.join(ROOT, "target", "release", "lofi")
    cases = [("built-in", []), ("built-in --stems", ["--stems"])]
    if args.soundfont:
        cases += [("soundfont", ["--soundfont", args.soundfont]),
                  ("soundfont --stems", ["--soundfont", args.soundfont, "--stems"])]
    else:
        print("no SoundFont installed: SoundFont cases skipped")
    print(f"input {os.path.relpath(args.input, ROOT)}, {args.minutes} min, taskset -c 0, median of {args.runs}")
    binaries = [("", lofi)] + ([("baseline ", os.path.abspath(args.baseline))] if args.baseline else [])
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in cases:
            walls = {b: [] for b, _ in binaries}
            users = {b: [] for b, _ in binaries}
            syss = {b: [] for b, _ in binaries}
            duration = None
            for run in range(args.runs):
                for label, binary in binaries:
                    # A fresh folder per run, the previous one deleted outside the
                    # timing: a first render, as a newcomer runs it. (Rendering over
                    # existing files also pays the file system's deletion of the
                    # old ~300 MB inside the timed rename: +0.1-0.5 s here.)
                    out_dir = os.path.join(tmp, f"run-{run}")
                    cmd = ["taskset", "-c", "0", binary, "render", args.input, "-o", os.path.join(out_dir, "t.wav"),
                           "--minutes", str(args.minutes), "--json"] + extra
                    t0 = time.perf_counter()
                    before = resource.getrusage(resource.RUSAGE_CHILDREN)
                    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                    walls[label].append(time.perf_counter() - t0)
                    after = resource.getrusage(resource.RUSAGE_CHILDREN)
                    # CPU time of the render itself: on a shared machine wall
                    # time moves with the neighbours, and system time (fresh
                    # pages, file writes) with what the kernel did before.
                    users[label].append(after.ru_utime - before.ru_utime)
                    syss[label].append(after.ru_stime - before.ru_stime)
                    duration = json.loads(out)["duration_s"]
                    shutil.rmtree(out_dir)
                    time.sleep(1.0)  # let the deletion settle before the next run
            for label, _ in binaries:
                med = statistics.median(walls[label])
                print(f"{label + name:29} {duration:7.1f} s of audio in {med:6.3f} s  = {duration / med:6.1f}x real time"
                      f"   (user {statistics.median(users[label]):.2f} s, system {statistics.median(syss[label]):.2f} s)"
                      f"   runs: {', '.join(f'{w:.2f}' for w in walls[label])}")
            if args.baseline:
                ratio = statistics.median(walls[""]) / statistics.median(walls["baseline "])
                cpu = statistics.median(users[""]) / statistics.median(users["baseline "])
                print(f"{'':29} this build / baseline: wall {ratio:.3f}, user CPU {cpu:.3f}")

if __name__ == "__main__":
    main()
