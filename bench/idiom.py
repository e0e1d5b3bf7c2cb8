#!/usr/bin/env python3
"""Lofi idiom of lofi's own output, seeds 1-16, next to real playing.

Writes the section of docs/results.md between the markers
`<!-- idiom:begin -->` and `<!-- idiom:end -->` (bench/results.py keeps it
when it rewrites the page) and its pictures (docs/img/idiom-*.png):

    cargo build --release -p lofi-cli
    python3 bench/idiom.py --old OLD_LOFI [--corpus ../shared/corpus] [--seeds 16]

For each seed, each binary runs a bare `lofi generate --seed S` (the main
job: the built-in model's 500 notes and a 3-minute track), and this build's
`lofi inspect --json` measures the track's MIDI: keys over the Keys part,
drums per bar with a hit, the whole track (intro, breakdown and outro
included). `--old` is a build from before the lofi-idiom work (137b15a);
without it only this build is measured. The drum reference is every Groove
MIDI Dataset beat the drum ranges come from (hip-hop, soul, R&B, funk at
100 BPM or slower, 4/4), measured by the same command; POP909 (the keys
model's corpus: pop ballad piano, not lofi) is shown for the keys.
"""
import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- idiom:begin -->", "<!-- idiom:end -->"
DRUMS = [("lofi_bars", "bars inside the lofi drum ranges", "{:.0%}"),
         ("kick_on_downbeat", "kick on the downbeat", "{:.0%}"),
         ("backbeat_strength", "backbeat strength", "{:.2f}"),
         ("ghost_notes_per_bar", "ghost notes / bar", "{:.1f}"),
         ("accents_per_bar", "accents / bar", "{:.1f}"),
         ("hat_regularity", "hat regularity", "{:.2f}"),
         ("kicks_per_bar", "kicks / bar", "{:.1f}"),
         ("snares_per_bar", "snares / bar", "{:.1f}")]
KEYS = [("onsets_per_bar", "onsets / bar", "{:.1f}"),
        ("chord_time", "chord sounding", "{:.0%}"),
        ("chord_changes_per_bar", "chord changes / bar", "{:.2f}"),
        ("top_line_per_bar", "top-line notes / bar", "{:.1f}")]


def run(cmd, cwd=None):
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return out.stdout


def inspect(lofi, path):
    return json.loads(run([lofi, "inspect", path, "--json"]))["idiom"]


def median(rows, part, key):
    vals = [r[part][key] for r in rows if r.get(part)]
    return statistics.median(vals) if vals else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lofi", default=os.path.join(ROOT, "target", "release", "lofi"))
    ap.add_argument("--old", help="a lofi build from before the idiom work, e.g. at 137b15a")
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpus"))
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--page", default=os.path.join(ROOT, "docs", "results.md"))
    ap.add_argument("--pictures", type=int, default=3, help="arrangement plots of the first N seeds")
    args = ap.parse_args()
    lofi = os.path.abspath(args.lofi)
    builds = [("this build", lofi)] + ([("before (137b15a)", os.path.abspath(args.old))] if args.old else [])
    seeds = range(1, args.seeds + 1)
    measured = {name: [] for name, _ in builds}
    arranger = []  # this build's own report of its grooves and main loop
    with tempfile.TemporaryDirectory() as tmp:
        for name, binary in builds:
            for s in seeds:
                out = os.path.join(tmp, f"{len(measured[name])}-{name[:4]}")
                cmd = [binary, "generate", "--seed", str(s), "--out", out, "--json"]
                if binary == lofi and s <= args.pictures:
                    cmd += ["--plot", os.path.join(ROOT, "docs", "img", f"idiom-seed-{s}.png")]
                summary = json.loads(run(cmd))
                measured[name].append(inspect(lofi, os.path.join(out, "track.mid")))
                if binary == lofi:
                    arranger.append(summary)
        reference = reference_drums(lofi, args.corpus)
        pop = reference_keys(lofi, args.corpus)
    section = render(args, builds, measured, arranger, reference, pop)
    write_section(args.page, section)
    print(section)


def reference_drums(lofi, corpus):
    root = os.path.join(corpus, "groove-midi", "groove")
    rows = []
    with open(os.path.join(root, "info.csv")) as f:
        for r in csv.DictReader(f):
            genre = r["style"].split("/")[0]
            if (genre in ("hiphop", "soul", "rnb", "funk") and int(r["bpm"]) <= 100
                    and r["beat_type"] == "beat" and r["time_signature"] == "4-4"):
                rows.append(inspect(lofi, os.path.join(root, r["midi_filename"])))
    return rows


def reference_keys(lofi, corpus, n=64):
    root = os.path.join(corpus, "pop909")
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".mid"))
    random.Random(0).shuffle(files)
    return [inspect(lofi, f) for f in files[:n]]


def render(args, builds, measured, arranger, reference, pop):
    n = args.seeds
    lines = [BEGIN, "", "## Lofi idiom: the drums and keys of a finished track", "",
             "<!-- Written by bench/idiom.py; edit that script, not this section. -->", "",
             "Written by `python3 bench/idiom.py --old OLD_LOFI` (OLD_LOFI: a build at 137b15a, before "
             "the lofi-idiom work): a bare `lofi generate --seed S` for seeds 1-" f"{n} with each build, "
             "each track's MIDI measured by `lofi inspect --json` over the whole track (intro, breakdown "
             "and outro included, so no track reaches 100 % of bars inside the drum ranges). Medians over "
             "the seeds; the drum reference is the median over the "
             f"{len(reference)} Groove MIDI beats the ranges are drawn from (`LOFI_DRUMS`: the middle 90 % "
             "of their bars), measured the same way. Definitions: `crates/lofi-arrange/src/idiom.rs`.", ""]
    lines.append("| drums | reference: Groove MIDI slow hip-hop/soul/funk beats |" + "".join(f" {b} |" for b, _ in builds))
    lines.append("| --- | ---: |" + " ---: |" * len(builds))
    for key, label, fmt in DRUMS:
        cells = [fmt.format(median(reference, "drums", key))]
        cells += [fmt.format(median(measured[b], "drums", key)) for b, _ in builds]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| keys | POP909 (the keys model's corpus, not lofi; 64 songs) |"
              + "".join(f" {b} |" for b, _ in builds), "| --- | ---: |" + " ---: |" * len(builds)]
    for key, label, fmt in KEYS:
        cells = [fmt.format(median(pop, "keys", key))]
        cells += [fmt.format(median(measured[b], "keys", key)) for b, _ in builds]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    inside = sum(not g["outside"] for s in arranger for g in s["grooves"])
    distinct = len({json.dumps([g["pattern"][k] for k in ("kick", "snare", "hat", "open_hat")])
                    for s in arranger for g in s["grooves"]})
    learned = sum(s["drums"]["source"] == "learned" for s in arranger)
    k = [s["keys_idiom"] for s in arranger]
    lines += ["", "This build's arranger on the same seeds (its `--json`): "
              f"{inside} of {2 * n} main and variation grooves inside every drum range, {distinct} distinct "
              f"grooves, learned grooves in {learned} of {n} tracks (the rest: the pattern library). "
              "The main keys loop (what `--keys lofi` plays): median "
              f"{statistics.median(x['onsets_per_bar'] for x in k):.1f} onsets a bar, a chord sounding "
              f"{statistics.median(x['chord_time'] for x in k):.0%} of the time, "
              f"{statistics.median(x['chord_changes_per_bar'] for x in k):.2f} chord changes a bar, "
              f"{statistics.median(x['top_line_per_bar'] for x in k):.1f} top-line notes a bar; "
              f"seam harmony jump {statistics.median(x['seam_harmony_jump'] for x in k):.2f}.", ""]
    lines += ["### The drum kit", "",
              "Each piece of the built-in kit (one hit at velocity 100) next to the same GM note of two "
              "recorded SoundFont kits (Debian's `fluid-soundfont-gm` and `timgm6mb-soundfont`), measured by "
              "`lofi_audio::spectrum` over the first 93 ms (centroid, 85 % roll-off, shares below 150 Hz and "
              "above 12 kHz, flatness over 100 Hz-16 kHz) and the whole hit (T40: time to fall 40 dB; level: "
              "RMS of the first 100 ms). The synth kit lofi had before (pitch-swept sine kick, noise snare, "
              "noise hats), measured the same way at commit 5cfac77 (quoted, not rerun): kick T40 1.05 s, snare centroid 1757 Hz with flatness 0.107 and T40 0.56 s, "
              "closed hat 70 % of its power above 12 kHz, crash centroid 13.7 kHz. Printed by "
              "`cargo run --release -p lofi-audio --example kit_spectra -- FILE.sf2…`:", "", kit_table(), ""]
    for s in range(1, min(args.pictures, n) + 1):
        lines.append(f"![seed {s}: form, main loop keys and bass, drum grid](img/idiom-seed-{s}.png)")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def kit_table():
    fonts = [f for f in ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2")
             if os.path.exists(f)]
    out = run(["cargo", "run", "--release", "-q", "-p", "lofi-audio", "--example", "kit_spectra", "--"] + fonts,
              cwd=ROOT)
    return out.strip()


def write_section(page, section):
    text = open(page).read() if os.path.exists(page) else ""
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    tmp = page + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, page)


if __name__ == "__main__":
    main()
