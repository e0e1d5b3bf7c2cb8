#!/usr/bin/env python3
"""The default model's output against its corpus, for issue #4's targets:
seeds 1..20 with default options, each piece's rest ratio, pitch-class
entropy, longest run of one repeated onset and longest copied run, next to
the corpus's figures (printed by `lofi index CACHE`, run on --cache).

    python3 bench/generation_quality.py [--cache pop909.remi.lofitok] [--seeds 20]

Without --cache it uses the POP909 figures measured for the model card.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOFI = os.path.join(ROOT, "target", "release", "lofi")
# `lofi index` on POP909 (remi): see models/README.md.
POP909 = {"corpus_rest_ratio": 0.01936, "corpus_mean_pitch_class_entropy": 2.8172, "corpus_longest_onset_run": 31}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--model", default="default")
    args = ap.parse_args()
    if not os.path.exists(LOFI):
        subprocess.run(["cargo", "build", "--release", "-p", "lofi-cli"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = POP909
        if args.cache:
            out = subprocess.run([LOFI, "index", args.cache, "-o", os.path.join(tmp, "i")],
                                 check=True, capture_output=True, text=True)
            corpus = json.loads(out.stdout)
        rows = []
        for seed in range(1, args.seeds + 1):
            out = subprocess.run([LOFI, "generate", "--model", args.model, "--no-track", "--json",
                                  "--seed", str(seed), "--out", os.path.join(tmp, str(seed))],
                                 check=True, capture_output=True, text=True)
            rows.append(json.loads(out.stdout))
    print(f"{'seed':>4} {'rest':>6} {'pce':>6} {'onset run':>9} {'copied':>6} {'tries':>5} {'seconds':>7}")
    for s, r in enumerate(rows, 1):
        print(f"{s:4d} {r['rest_ratio']:6.3f} {r['pitch_class_entropy']:6.3f} {r['longest_onset_run']:9d}"
              f" {r['longest_copied_run']:6d} {r['attempts']:5d} {r['generate_seconds']:7.3f}")
    rest = statistics.mean(r["rest_ratio"] for r in rows)
    pce = statistics.mean(r["pitch_class_entropy"] for r in rows)
    onset = max(r["longest_onset_run"] for r in rows)
    copied = max(r["longest_copied_run"] for r in rows)
    c_rest, c_pce, c_onset = (corpus["corpus_rest_ratio"], corpus["corpus_mean_pitch_class_entropy"],
                              corpus["corpus_longest_onset_run"])
    print()
    print(f"rest ratio           generated {rest:.4f}  corpus {c_rest:.4f}  diff {100 * (rest - c_rest):+.2f} points (target within 5)")
    print(f"pitch-class entropy  generated {pce:.3f}   corpus {c_pce:.3f}   diff {100 * (pce / c_pce - 1):+.1f} % (target within 10 %)")
    print(f"longest onset run    generated {onset}  corpus {c_onset} (target: not longer)")
    print(f"longest copied run   generated {copied} notes (target <= 32)")
    print(f"500 notes generated in median {statistics.median(r['generate_seconds'] for r in rows):.3f} s (target < 0.5 s)")


if __name__ == "__main__":
    main()
