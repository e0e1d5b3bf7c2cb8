#!/usr/bin/env python3
"""The tables of docs/results.md, from run folders made by `lofi train`.

For every run folder given it reads the last row of metrics.csv and runs
`lofi eval --model RUN --data CACHE --samples N --json` (kept in
OUT/NAME.json, reused when present), then prints the Markdown tables.

    python3 bench/results.py --data pop.remi.lofitok --samples 10 --out results \\
        runs/transformer runs/rnn runs/gru runs/lstm runs/cnn
"""
import argparse
import csv
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOFI = os.path.join(ROOT, "target", "release", "lofi")
SHOWN = ["pitch_class_entropy", "scale_consistency", "polyphony", "rest_ratio", "note_density",
         "groove_consistency", "longest_self_repetition"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--data", required=True)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--out", default="results")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for run in args.runs:
        name = os.path.basename(os.path.normpath(run))
        spec = json.load(open(os.path.join(run, "run.json")))
        with open(os.path.join(run, "metrics.csv")) as f:
            last = list(csv.DictReader(f))[-1]
        path = os.path.join(args.out, name + ".json")
        if not os.path.exists(path):
            out = subprocess.run([LOFI, "eval", "--model", run, "--data", args.data, "--samples",
                                  str(args.samples), "--json"], check=True, capture_output=True, text=True)
            open(path, "w").write(out.stdout)
        rows.append((name, spec, last, json.load(open(path))))

    print("| run | arch | window | steps | minutes | tokens/s | val loss | val accuracy | bits / note |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, spec, last, ev in rows:
        m = spec["model"]
        print(f"| {name} | {m['arch']} | {m['seq_len']} | {last['step']} | {float(last['seconds']) / 60:.1f} "
              f"| {float(last['tokens_per_s']):,.0f} | {ev['val_loss']:.3f} | {ev['val_accuracy']:.3f} "
              f"| {ev['val_bits_per_note']:.2f} |")
    print()
    corpus = rows[0][3]["metrics"]
    print("| run | " + " | ".join(SHOWN) + " | mean overlap | longest copied run |")
    print("| --- | " + " | ".join("---:" for _ in SHOWN) + " | ---: | ---: |")
    print("| **corpus** | " + " | ".join(f"{corpus[k]['corpus']:.3f}" for k in SHOWN) + " | | |")
    for name, _, _, ev in rows:
        m = ev["metrics"]
        cells = [f"{m[k]['generated']:.3f} ({m[k]['overlap']:.2f})" for k in SHOWN]
        mean = sum(m[k]["overlap"] for k in m) / len(m)
        print(f"| {name} | " + " | ".join(cells) + f" | {mean:.2f} | {ev['longest_copied_run']} |")


if __name__ == "__main__":
    main()
