#!/usr/bin/env python3
"""Ingest speed of two lofi binaries on the same corpora, interleaved.

A change to the MIDI reader or a tokenizer must not slow ingest down. Machines
differ by 2x and drift during a run, so the two binaries are timed
alternately, run after run, and compared by the ratio of their medians.

    git worktree add /tmp/base REV && cargo build --release -p lofi-cli \
        --manifest-path /tmp/base/Cargo.toml
    python3 bench/ingest_ab.py --base /tmp/base/target/release/lofi \
        --new target/release/lofi --runs 15

Prints, per corpus, the median wall time of each binary (whole `lofi
ingest`, cache written) and new/base.
"""

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

CORPORA = {
    "pop909 (remi)": ("pop909", ["--tokenizer", "remi"]),
    "groove-midi (drums)": ("groove-midi", ["--tokenizer", "drums"]),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the lofi binary to compare against")
    ap.add_argument("--new", required=True, help="the lofi binary under test")
    ap.add_argument("--corpus", default="../shared/corpus", help="folder holding pop909/ and groove-midi/")
    ap.add_argument("--runs", type=int, default=9)
    a = ap.parse_args()
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "ab.lofitok")
        for _ in range(a.runs):
            for name, (folder, extra) in CORPORA.items():
                for side, binary in (("base", a.base), ("new", a.new)):
                    cmd = [binary, "ingest", str(Path(a.corpus) / folder), *extra, "--out", out, "--json"]
                    start = time.perf_counter()
                    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    times.setdefault((name, side), []).append(time.perf_counter() - start)
    print(f"median of {a.runs} interleaved runs")
    for name in CORPORA:
        base = statistics.median(times[(name, "base")])
        new = statistics.median(times[(name, "new")])
        print(f"  {name:20} base {base * 1e3:7.1f} ms   new {new * 1e3:7.1f} ms   new/base {new / base:.3f}")


if __name__ == "__main__":
    main()
