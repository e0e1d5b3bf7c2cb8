#!/usr/bin/env python3
"""Ingest speed: `lofi ingest` against music21 on the same POP909 files.

music21 is what the original approach used: `converter.parse` on each file,
then flattening to a list of note names and chord normal orders. lofi does
more work per file (full Score, tokens, split, cache write) in one process.

Run from the repository root (it installs music21 into bench/.venv on first
use; never in CI):

    python3 bench/ingest_vs_music21.py [--files 20] [--runs 5] [--corpus ../shared/corpus/pop909]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, "bench", ".venv")

MUSIC21_WORKER = r"""
import sys, time, json
from music21 import converter, note, chord
times = []
for path in sys.argv[1:]:
    t0 = time.perf_counter()
    midi = converter.parse(path)
    notes = []
    for el in midi.flatten().notes:
        if isinstance(el, note.Note):
            notes.append(str(el.pitch))
        elif isinstance(el, chord.Chord):
            notes.append('.'.join(str(n) for n in el.normalOrder))
    times.append(time.perf_counter() - t0)
print(json.dumps(times))
"""


def venv_python():
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    probe = subprocess.run([py, "-c", "import music21"], capture_output=True)
    if probe.returncode != 0:
        print("installing music21 into bench/.venv ...", file=sys.stderr)
        subprocess.run([py, "-m", "pip", "install", "-q", "music21"], check=True)
    return py


def lofi_binary():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "lofi-cli"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "lofi")


def time_lofi(lofi, folder, runs, out):
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([lofi, "ingest", folder, "--tokenizer", "classic", "--json", "--out", out],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls), walls


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpus", "pop909"))
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    all_files = sorted(
        os.path.join(d, f) for d, _, fs in os.walk(args.corpus) for f in fs if f.lower().endswith((".mid", ".midi"))
    )
    if not all_files:
        sys.exit(f"no MIDI files under {args.corpus}")
    subset = all_files[: args.files]
    lofi = lofi_binary()
    py = venv_python()
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "subset")
        os.mkdir(folder)
        for f in subset:
            shutil.copy(f, os.path.join(folder, os.path.basename(f)))
        cache = os.path.join(tmp, "c.lofitok")
        # Same files, same machine, same run: lofi first (warm page cache for both).
        lofi_med, lofi_walls = time_lofi(lofi, folder, args.runs, cache)
        m21 = subprocess.run([py, "-c", MUSIC21_WORKER] + subset, check=True, capture_output=True, text=True)
        m21_times = json.loads(m21.stdout.strip().splitlines()[-1])
        full_med, full_walls = time_lofi(lofi, args.corpus, args.runs, cache)

    n = len(subset)
    lofi_per_file = lofi_med / n
    m21_per_file = statistics.median(m21_times)
    print(f"files: {n} POP909 songs ({args.corpus})")
    print(f"lofi ingest (whole process, classic tokens, median of {args.runs}): {lofi_med:.3f} s "
          f"= {n / lofi_med:,.1f} files/s = {lofi_per_file * 1000:.2f} ms/file")
    print(f"music21 parse + flatten (median per file of {n}): {m21_per_file:.3f} s/file "
          f"= {1 / m21_per_file:.2f} files/s (total {sum(m21_times):.1f} s)")
    print(f"ratio per file: lofi is {m21_per_file / lofi_per_file:,.0f}x faster than music21")
    print(f"lofi ingest, all {len(all_files)} files (whole process, median of {args.runs}): {full_med:.3f} s "
          f"= {len(all_files) / full_med:,.0f} files/s   runs: {', '.join(f'{w:.3f}' for w in full_walls)}")


if __name__ == "__main__":
    main()
