#!/usr/bin/env python3
"""The built-in drum kit and keys against sampled acoustic instruments.

Writes the section of docs/sound.md between `<!-- kit:begin -->` and
`<!-- kit:end -->` and its pictures (docs/img/kit-*.png, keys-*.png):

    sudo apt-get install musescore-general-soundfont-lossless fluid-soundfont-gm avldrums.lv2-soundfont
    python3 bench/kit_reference.py [--no-build]

The references are Debian's SoundFonts (bench only: never shipped, never
committed): MuseScore General's Standard, Jazz and Brush kits, FluidR3's
Standard kit and the AVL Black Pearl and Red Zeppelin acoustic kits; for
the keys MuseScore's Tine Electric Piano and Grand Piano and FluidR3's
Rhodes and Grand Piano. Every hit (velocity 100) and note (velocity 80,
held 1 s) of the built-in instruments and the references goes through the
same lofi chain (the `study` preset's drum and keys buses) and is measured
by `lofi_audio::timbre` (`cargo run --release -p lofi-audio --example
kit_reference`): spectral envelope, attack, decay and ringing. A built-in
piece is *within* the references when, measure by measure, its distance to
the nearest reference is no larger than the largest distance between two
references.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SF2 = "/usr/share/sounds/sf2"
MUSESCORE = f"{SF2}/MuseScore_General_Full.sf2"
FLUID = f"{SF2}/FluidR3_GM.sf2"
DRUMS = [("MuseScore Standard", MUSESCORE, 0), ("MuseScore Jazz", MUSESCORE, 32),
         ("MuseScore Brush", MUSESCORE, 40), ("FluidR3 Standard", FLUID, 0),
         ("AVL Black Pearl", f"{SF2}/Black_Pearl_4_LV2.sf2", 0),
         ("AVL Red Zeppelin", f"{SF2}/Red_Zeppelin_4_LV2.sf2", 0)]
KEYS = [("MuseScore Tine EP", MUSESCORE, 4), ("MuseScore Grand Piano", MUSESCORE, 0),
        ("FluidR3 Rhodes", FLUID, 4), ("FluidR3 Grand Piano", FLUID, 0)]
BEGIN, END = "<!-- kit:begin -->", "<!-- kit:end -->"
MEASURES = [("envelope_db", "envelope, dB"), ("attack", "attack, log2"), ("decay", "decay, log2"),
            ("ringing", "ringing")]


def measure(no_build):
    missing = sorted({f for _, f, _ in DRUMS + KEYS if not os.path.exists(f)})
    if missing:
        sys.exit("missing SoundFonts: " + ", ".join(missing) + "\n(apt-get install "
                 "musescore-general-soundfont-lossless fluid-soundfont-gm avldrums.lv2-soundfont)")
    ex = os.path.join(ROOT, "target", "release", "examples", "kit_reference")
    if not no_build:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "lofi-audio", "--example", "kit_reference"],
                       cwd=ROOT, check=True)
    cmd = [ex, "--png-dir", os.path.join(ROOT, "docs", "img")]
    for flag, refs in (("--drums", DRUMS), ("--keys", KEYS)):
        for name, path, preset in refs:
            cmd += [flag, f"{name}={path}@{preset}"]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def table(rows, what):
    lines = [f"| {what} | " + " | ".join(f"{label}: nearest / spread" for _, label in MEASURES) + " | within |",
             "| --- |" + " ---: |" * len(MEASURES) + " :---: |"]
    inside = 0
    for name, r in rows.items():
        v = r["verdict"]
        cells = []
        for key, _ in MEASURES:
            m = v[key]
            mark = "" if m["within"] else " **out**"
            cells.append(f"{m['nearest']:.2f} / {m['spread']:.2f}{mark}")
        inside += v["within"]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {'yes' if v['within'] else 'no'} |")
    return lines, inside


def timbres(rows, what):
    lines = [f"| {what} | instrument | attack ms | T20 s | T40 s | ringing |", "| --- | --- | ---: | ---: | ---: | ---: |"]
    for name, r in rows.items():
        for t in r["timbres"]:
            m = t["timbre"]
            lines.append(f"| {name} | {t['name']} | {m['attack_ms']:.1f} | {m['t20_s']:.3f} | {m['t40_s']:.3f} "
                         f"| {m['ringing']:.3f} |")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--page", default=os.path.join(ROOT, "docs", "sound.md"))
    a = ap.parse_args()
    r = measure(a.no_build)
    drums, d_in = table(r["drums"], "piece")
    keys, k_in = table({f"note {k}": v for k, v in r["keys"].items()}, "keys")
    section = [BEGIN, "", "<!-- Written by bench/kit_reference.py; edit that script, not this section. -->", "",
               f"Written by `python3 bench/kit_reference.py`: {d_in} of {len(r['drums'])} drum pieces and "
               f"{k_in} of {len(r['keys'])} keys notes of the built-in instruments within the references' spread "
               "on every measure. References: " + ", ".join(n for n, _, _ in DRUMS) + " (drums); "
               + ", ".join(n for n, _, _ in KEYS) + " (keys). Nearest: the built-in one's distance to the "
               "nearest reference; spread: the largest distance between two references; **out** where the "
               "first is larger.", ""]
    section += drums + [""] + keys + ["", "The measures themselves:", ""]
    section += timbres(r["drums"], "piece") + [""] + timbres({f"note {k}": v for k, v in r["keys"].items()}, "keys")
    section += ["", "Spectral envelopes (the built-in one thick):", ""]
    section += [f"![{p}](img/kit-{p.replace(' ', '-')}.png)" for p in r["drums"]]
    section += [f"![keys {k}](img/keys-{k}.png)" for k in r["keys"]]
    section += ["", END]
    text = "\n".join(section)
    page = open(a.page).read() if os.path.exists(a.page) else "# Sound\n"
    if BEGIN in page and END in page:
        page = page[:page.index(BEGIN)] + text + page[page.index(END) + len(END):]
    else:
        page = page.rstrip("\n") + "\n\n" + text + "\n"
    tmp = a.page + ".tmp"
    with open(tmp, "w") as f:
        f.write(page)
    os.replace(tmp, a.page)
    print(text)


if __name__ == "__main__":
    main()
