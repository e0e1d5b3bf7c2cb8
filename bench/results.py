#!/usr/bin/env python3
"""Regenerates docs/results.md: every number on that page comes from this run.

One command, from the repository root (CI does not run it: it trains eight
models):

    python3 bench/results.py --corpus ../shared/corpus/pop909 --minutes 10 --cpus 1

What it does, skipping whatever WORK already holds (so an interrupted run
picks up where it stopped; a half-trained run is resumed with
`lofi train --resume`):

1. builds `target/release/lofi` if it is missing;
2. `lofi ingest`s the corpus three ways: `remi`, `classic`, `classic-merged`;
3. trains, with the same wall-clock budget (`--minutes`) and the same CPUs
   (`--cpus`, through `taskset`), default sizes and seed 1:
   the five architectures on `remi` tokens, and a GRU on `classic` tokens
   three ways (plain, `--rest-weight 0.3`, `classic-merged`) for the
   tokenizer comparison and the rest problem;
4. runs `lofi eval` on every run and on the built-in model (validation on
   the held-out songs, then `--samples` pieces from seeds 1, 2, ...;
   pictures in WORK/eval/NAME);
5. writes the page (`--page`) and its pictures (docs/img/results-*.png),
   and prints the page on stdout.
"""
import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOFI = os.path.join(ROOT, "target", "release", "lofi")
ARCHS = ["transformer", "rnn", "gru", "lstm", "cnn"]
SHOWN = ["pitch_class_entropy", "scale_consistency", "polyphony", "rest_ratio", "note_density",
         "groove_consistency", "longest_self_repetition"]


def log(msg):
    print(f"[results {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd, cpus=None, **kw):
    if cpus:
        cmd = ["taskset", "-c", cpus] + cmd
    log(" ".join(cmd))
    return subprocess.run(cmd, check=True, **kw)


def main():
    global LOFI
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, help="the POP909 folder")
    ap.add_argument("--minutes", type=float, default=10.0, help="training budget of every run")
    ap.add_argument("--cpus", default=None, help="taskset CPU list for training and eval, e.g. 1")
    ap.add_argument("--samples", type=int, default=10, help="pieces generated per model")
    ap.add_argument("--notes", type=int, default=500, help="notes per generated piece")
    ap.add_argument("--work", default="results", help="caches, runs and eval reports")
    ap.add_argument("--page", default=os.path.join(ROOT, "docs", "results.md"))
    ap.add_argument("--lofi", default=None, help="the lofi binary (default: target/release/lofi, built if missing)")
    args = ap.parse_args()
    LOFI = args.lofi or LOFI

    if not os.path.exists(LOFI):
        run(["cargo", "build", "--release", "-p", "lofi-cli"], cwd=ROOT)
    work = args.work
    os.makedirs(os.path.join(work, "runs"), exist_ok=True)
    os.makedirs(os.path.join(work, "eval"), exist_ok=True)

    caches, ingest = {}, {}
    for tok in ["remi", "classic", "classic-merged"]:
        path = os.path.join(work, f"pop909.{tok}.lofitok")
        summary = os.path.join(work, f"pop909.{tok}.json")
        if not (os.path.exists(path) and os.path.exists(summary)):
            out = run([LOFI, "ingest", args.corpus, "--tokenizer", tok, "--out", path, "--json"],
                      capture_output=True, text=True)
            with open(summary + ".tmp", "w") as f:
                f.write(out.stdout)
            os.replace(summary + ".tmp", summary)
        caches[tok] = path
        ingest[tok] = json.load(open(summary))

    budget = f"{args.minutes:g}"
    # (name, cache, architecture, extra options)
    plan = [(a, "remi", a, []) for a in ARCHS] + [
        ("classic-gru", "classic", "gru", []),
        ("classic-gru-w03", "classic", "gru", ["--rest-weight", "0.3"]),
        ("classic-merged-gru", "classic-merged", "gru", []),
    ]
    commands = []
    for name, tok, arch, extra in plan:
        out = os.path.join(work, "runs", name)
        cmd = [LOFI, "train", "--data", caches[tok], "--arch", arch, "--minutes", budget, "--seed", "1",
               "--out", out] + extra
        commands.append(cmd)
        state = os.path.join(out, "state.json")
        if os.path.exists(state) and json.load(open(state)).get("finished"):
            continue
        if os.path.exists(os.path.join(out, "run.json")):
            run([LOFI, "train", "--resume", out], cpus=args.cpus)
        else:
            run(cmd, cpus=args.cpus)

    evals = {}
    for name, tok in [("default", "remi")] + [(p[0], p[1]) for p in plan]:
        model = "default" if name == "default" else os.path.join(work, "runs", name)
        path = os.path.join(work, "eval", name + ".json")
        if not os.path.exists(path):
            index = "default" if tok == "remi" else "none"
            out = run([LOFI, "eval", "--model", model, "--data", caches[tok], "--samples", str(args.samples),
                       "--notes", str(args.notes), "--seed", "1", "--index", index,
                       "--out", os.path.join(work, "eval", name), "--json"],
                      cpus=args.cpus, capture_output=True, text=True)
            with open(path + ".tmp", "w") as f:
                f.write(out.stdout)
            os.replace(path + ".tmp", path)
        evals[name] = json.load(open(path))

    page = render_page(args, work, plan, evals, ingest)
    # The lofi-idiom section is bench/idiom.py's: kept as it is.
    if os.path.exists(args.page):
        old = open(args.page).read()
        begin, end = "<!-- idiom:begin -->", "<!-- idiom:end -->"
        if begin in old and end in old:
            page = page.rstrip("\n") + "\n\n" + old[old.index(begin):old.index(end) + len(end)] + "\n"
    tmp = args.page + ".tmp"
    with open(tmp, "w") as f:
        f.write(page)
    os.replace(tmp, args.page)
    print(page)
    log(f"wrote {args.page}")


def last_row(work, name):
    with open(os.path.join(work, "runs", name, "metrics.csv")) as f:
        return list(csv.DictReader(f))[-1]


def copy_picture(work, name, picture, img_dir):
    src = os.path.join(work, "eval", name, picture)
    dst_name = f"results-{name}-{picture}"
    shutil.copyfile(src, os.path.join(img_dir, dst_name))
    return f"img/{dst_name}"


def render_page(args, work, plan, evals, ingest):
    img_dir = os.path.join(os.path.dirname(os.path.abspath(args.page)), "img")
    os.makedirs(img_dir, exist_ok=True)
    cpus = f"pinned with `taskset -c {args.cpus}`" if args.cpus else "on all CPUs"
    nproc = os.cpu_count()
    corpus = evals["default"]
    lines = []
    w = lines.append

    w("# Results: which architecture, which tokens")
    w("")
    w("<!-- Written by bench/results.py; edit that script, not this page. -->")
    w("")
    w(f"Every figure on this page (but two quoted from elsewhere and marked so) was printed by one command, on this project's {nproc}-CPU machine "
      f"(training and evaluation {cpus}), from POP909 ({corpus['corpus_songs']} songs; "
      "10 % of the songs held out for validation, split seed 0):")
    w("")
    w("```sh")
    w("cargo build --release -p lofi-cli")
    cmd = f"python3 bench/results.py --corpus ../shared/corpus/pop909 --minutes {args.minutes:g}"
    if args.cpus:
        cmd += f" --cpus {args.cpus}"
    if args.samples != 10:
        cmd += f" --samples {args.samples}"
    if args.notes != 500:
        cmd += f" --notes {args.notes}"
    w(cmd)
    w("```")
    w("")
    w("It ingests the corpus, trains eight models, evaluates each with `lofi eval` and writes this page. "
      f"The commands it runs (from the folder `{os.path.basename(os.path.normpath(work))}/` it works in):")
    w("")
    w("```sh")
    for tok in ["remi", "classic", "classic-merged"]:
        w(f"lofi ingest ../shared/corpus/pop909 --tokenizer {tok} --out pop909.{tok}.lofitok --json")
    for name, tok, arch, extra in plan:
        w(f"lofi train --data pop909.{tok}.lofitok --arch {arch} --minutes {args.minutes:g} --seed 1 "
          f"--out runs/{name}" + ("" if not extra else " " + " ".join(extra)))
    w(f"lofi eval --model runs/NAME --data pop909.TOKENS.lofitok --samples {args.samples} --notes {args.notes} "
      "--seed 1 --out eval/NAME --json   # --index none for classic tokens")
    w(f"lofi eval --model default --data pop909.remi.lofitok --samples {args.samples} --notes {args.notes} "
      "--seed 1 --out eval/default --json")
    w("```")
    w("")

    # The short answer first, computed from the tables below.
    remi_names = [p[0] for p in plan if p[1] == "remi"]
    by_bits = sorted(remi_names, key=lambda n: evals[n]["val_bits_per_note"])
    by_overlap = sorted(remi_names, key=lambda n: -sum(m["overlap"] for m in evals[n]["metrics"].values()))
    w("## In short")
    w("")
    w(f"With {args.minutes:g} minutes each on this CPU, **{by_bits[0]}** learns the most (lowest bits per "
      f"note on held-out songs: {evals[by_bits[0]]['val_bits_per_note']:.2f}, then {by_bits[1]} "
      f"{evals[by_bits[1]]['val_bits_per_note']:.2f}) and **{by_overlap[0]}** writes the music closest "
      f"to the corpus (mean overlap of the metric distributions). The built-in model (`default`: a "
      "Transformer, which generates with a KV cache, trained for an hour) reaches "
      f"{evals['default']['val_bits_per_note']:.2f} bits per note. The tables and pictures below "
      "say where each one stands and falls short.")
    w("")

    # Training table.
    w(f"## Training: {args.minutes:g} minutes of wall clock for every architecture")
    w("")
    w("Default sizes for all (embedding 128, hidden 256, 2 layers, batch 64, window 64, dropout 0.1, "
      "AdamW at 2e-3 with warm-up and cosine decay, seed 1), `remi` tokens. `default` is the built-in "
      "model (a larger Transformer, window 128, trained 58 minutes on both CPUs: models/README.md), "
      "shown for what more training buys.")
    w("")
    w("| run | arch | steps | minutes | tokens/s | val loss | val accuracy | bits / note |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    d = evals["default"]
    w(f"| default (built-in) | transformer | | 58.6 ‡ | | {d['val_loss']:.3f} | {d['val_accuracy']:.3f} "
      f"| {d['val_bits_per_note']:.2f} |")
    remi_runs = [p for p in plan if p[1] == "remi"]
    for name, _, arch, _ in remi_runs:
        last, ev = last_row(work, name), evals[name]
        w(f"| {name} | {arch} | {last['step']} | {float(last['seconds']) / 60:.1f} "
          f"| {float(last['tokens_per_s']):,.0f} | {ev['val_loss']:.3f} | {ev['val_accuracy']:.3f} "
          f"| {ev['val_bits_per_note']:.2f} |")
    w("")
    ranked = sorted(remi_runs, key=lambda p: evals[p[0]]["val_bits_per_note"])
    w("Loss is nats per `remi` token on the held-out songs; bits per note is the same loss summed per "
      "note, in bits, so it compares across tokenizers. The unigram baseline (token frequencies alone) "
      "is 3.81 nats per token ‡. The CNN is the original approach: it predicts one token per window "
      "(the token after it), so its tokens/s counts windows × 64 and is not comparable. "
      "‡ Quoted, not measured by this command: the built-in model's training time is from "
      "models/README.md, the unigram baseline is what `lofi train` prints for this cache "
      "(`unigram baseline loss 3.8101`).")
    w("")
    w("At equal wall clock, lowest bits per note first: " + ", ".join(
        f"{n} ({evals[n]['val_bits_per_note']:.2f})" for n, _, _, _ in ranked) + ".")
    w("")

    # Generated music.
    w("## Generated music against the corpus")
    w("")
    w(f"Mean over {args.samples} pieces of {args.notes} notes (seeds 1–{args.samples}, default sampling), "
      "with the overlap area between the generated and the corpus distributions of that metric in "
      "brackets (1 = the same distribution; KL divergences are in the eval JSON). Each metric is defined "
      "in `crates/lofi-score/src/metrics.rs`. The longest copied run is the longest stretch of "
      "consecutive notes a piece shares with a training song.")
    w("")
    w("| run | " + " | ".join(SHOWN) + " | mean overlap | longest copied run |")
    w("| --- | " + " | ".join("---:" for _ in SHOWN) + " | ---: | ---: |")
    cm = corpus["metrics"]
    w("| **corpus** | " + " | ".join(f"{cm[k]['corpus']:.3f}" for k in SHOWN) + " | | |")
    overlaps = {}
    for name in ["default"] + [p[0] for p in remi_runs]:
        ev = evals[name]
        m = ev["metrics"]
        cells = [f"{m[k]['generated']:.3f} ({m[k]['overlap']:.2f})" for k in SHOWN]
        overlaps[name] = sum(m[k]["overlap"] for k in m) / len(m)
        w(f"| {name} | " + " | ".join(cells) + f" | {overlaps[name]:.2f} | {ev['longest_copied_run']} |")
    w("")
    closest = sorted([p[0] for p in remi_runs], key=lambda n: -overlaps[n])
    w("Closest to the corpus at equal training time (mean overlap over all metrics): " + ", ".join(
        f"{n} ({overlaps[n]:.2f})" for n in closest) + f"; the built-in model: {overlaps['default']:.2f}.")
    w("")
    runs = [p[0] for p in remi_runs]
    metric_overlap = {k: [evals[n]["metrics"][k]["overlap"] for n in runs] for k in cm}
    # Self-repetition is bounded by the window (below), so it is left out here.
    hardest = min((k for k in metric_overlap if k != "longest_self_repetition"),
                  key=lambda k: sum(metric_overlap[k]))
    rep = [evals[n]["metrics"]["longest_self_repetition"]["generated"] for n in runs]
    copied = [evals[n]["longest_copied_run"] for n in ["default"] + runs]
    w(f"- **Hardest metric at this budget** (lowest overlap summed over the runs, self-repetition aside): `{hardest}`, "
      f"overlaps {min(metric_overlap[hardest]):.2f}–{max(metric_overlap[hardest]):.2f} "
      f"(the built-in model: {evals['default']['metrics'][hardest]['overlap']:.2f}).")
    w(f"- **Self-repetition**: POP909 songs repeat whole sections note for note (longest repeated run "
      f"{cm['longest_self_repetition']['corpus']:.0f} notes on average); the models' pieces repeat "
      f"{min(rep):.1f}–{max(rep):.1f} notes at most, as no model sees further back than its window "
      "(64 or 128 tokens, a bar or two). In a lofi track the repetition comes from `lofi render`'s "
      "arrangement, which loops the generated sample.")
    w(f"- **Copying**: the longest run of notes any piece shares with a training song is "
      f"{max(c for c in copied if c is not None)} notes; `lofi generate` refuses pieces that copy "
      "more than 32.")
    w("")

    # Pictures.
    w("## Piano rolls")
    w("")
    w("The first piece (seed 1) of every model, as `lofi eval --out` draws it:")
    w("")
    for name in ["default"] + [p[0] for p in remi_runs]:
        w(f"![{name}]({copy_picture(work, name, 'piano-roll-1.png', img_dir)})")
        w("")
    w("Pitch classes of the built-in model's pieces next to the corpus's:")
    w("")
    w(f"![pitch classes]({copy_picture(work, 'default', 'pitch-classes.png', img_dir)})")
    w("")

    # Tokens and rests.
    classic = [p for p in plan if p[1] != "remi"]
    w("## Tokens, and the rest problem")
    w("")
    w("Loss per token cannot compare tokenizers (a `classic` token is a 16th step, a `remi` token a "
      "fraction of a note); bits per note can. The same GRU, the same budget, on each:")
    w("")
    w("| tokens | run | val loss (nats/token) | bits / note | argmax predictions that are rests "
      "| rest ratio of sampled pieces | corpus rest ratio (same decoding) |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    ev = evals["gru"]
    w(f"| `remi` | gru | {ev['val_loss']:.3f} | {ev['val_bits_per_note']:.2f} | (no rest tokens) "
      f"| {ev['metrics']['rest_ratio']['generated']:.3f} | {ev['metrics']['rest_ratio']['corpus']:.3f} |")
    labels = {"classic-gru": "`classic`", "classic-gru-w03": "`classic`, `--rest-weight 0.3`",
              "classic-merged-gru": "`classic-merged`"}
    for name, _, _, _ in classic:
        ev = evals[name]
        share = ev.get("val_rest_share")
        share = "" if share is None else f"{100 * share:.1f} %"
        rr = ev["metrics"]["rest_ratio"]
        w(f"| {labels[name]} | {name} | {ev['val_loss']:.3f} | {ev['val_bits_per_note']:.2f} | {share} "
          f"| {rr['generated']:.3f} | {rr['corpus']:.3f} |")
    w("")
    w("`classic` keeps only a chord's pitch classes and no note's duration or velocity (each decoded "
      "note lasts one 16th step, hence the corpus's high rest ratio under that decoding), all of which "
      "`remi` encodes and its bits per note pay for: the column is a cost per note, not a like-for-like "
      "quality ranking.")
    w("")
    cl, w03, merged = (evals[n] for n in ["classic-gru", "classic-gru-w03", "classic-merged-gru"])
    corpus_rr = cl["metrics"]["rest_ratio"]["corpus"]
    share = ingest["classic"].get("rest_token_share")
    share_m = ingest["classic-merged"].get("rest_token_share")
    silent = ingest["remi"].get("rest_ratio")
    names = {"classic-gru": "plain `classic`", "classic-gru-w03": "`--rest-weight 0.3`",
             "classic-merged-gru": "`classic-merged`"}
    nearest = min(names, key=lambda n: abs(evals[n]["metrics"]["rest_ratio"]["generated"] - corpus_rr))
    w(f"The rest problem: POP909 is silent in {100 * silent:.1f} % of its 16th steps, yet "
      f"{100 * share:.1f} % of `classic` tokens are rests ({100 * share_m:.1f} % with merged runs), "
      "because a step with no new onset is a rest even while notes sound. After "
      f"{args.minutes:g} minutes the plain GRU predicts a rest at its argmax for "
      f"{100 * cl['val_rest_share']:.1f} % of the held-out positions, where rests are "
      f"{100 * share:.1f} % of the tokens; `--rest-weight 0.3` brings that to "
      f"{100 * w03['val_rest_share']:.1f} %, merging rest runs to {100 * merged['val_rest_share']:.1f} %. "
      "The silence of their sampled pieces (rest ratio, decoded the same way as the corpus's "
      f"{corpus_rr:.3f}): {cl['metrics']['rest_ratio']['generated']:.3f}, "
      f"{w03['metrics']['rest_ratio']['generated']:.3f} and "
      f"{merged['metrics']['rest_ratio']['generated']:.3f}; nearest the corpus: {names[nearest]}. "
      "At generation time `lofi generate --rest-bias` is the sampling-side lever. The fix lofi ships "
      "is the tokenization: `remi` has no rest tokens at all; silence is the distance between "
      "positions, so no class dominates (the first row: its pieces' rest ratio next to the corpus's).")
    w("")
    w("## Limits of this page")
    w("")
    w(f"Every run had {args.minutes:g} minutes; none is converged (the built-in model's 58 minutes show "
      "how far from it), so the ranking is of learning speed on this CPU as much as of capacity. "
      "`--minutes 60` gives converged-er runs at eight hours of machine time.")
    w("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
