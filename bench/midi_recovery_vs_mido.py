#!/usr/bin/env python3
"""Damaged MIDI files: notes found by lofi, mido and symusic, side by side.

Each case is an 8-note scale (so the right answer is known) damaged the way
files from the internet are: stray status bytes, running status across meta
and sysex events, lying track lengths, a cut-off last event, format 2. The
table shows the notes each reader finds (or its error) and lofi's warnings.

Run from the repository root (it installs mido and symusic into bench/.venv
on first use; never in CI):

    python3 bench/midi_recovery_vs_mido.py
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, "bench", ".venv")
EOT = bytes([0x00, 0xFF, 0x2F, 0x00])

WORKER = r"""
import json, sys
out = {}
for path in sys.argv[1:]:
    row = {}
    try:
        import mido
        f = mido.MidiFile(path)
        row["mido"] = sum(1 for t in f.tracks for m in t if m.type == "note_on" and m.velocity > 0)
    except Exception as e:
        row["mido"] = "error: " + type(e).__name__
    try:
        import symusic
        row["symusic"] = symusic.Score(path).note_num()
    except Exception as e:
        row["symusic"] = "error: " + type(e).__name__
    out[path] = row
print(json.dumps(out))
"""


def chunk(ident, data, length=None):
    return ident + struct.pack(">I", len(data) if length is None else length) + data


def header(fmt, ntracks):
    return chunk(b"MThd", struct.pack(">HHH", fmt, ntracks, 96))


def scale(first=60, n=8):
    """Events of a scale: status on the first, running status after."""
    events = []
    for i in range(n):
        key = first + i
        events.append(bytes([0x00, 0x90, key, 0x64]) if i == 0 else bytes([0x00, key, 0x64]))
        events.append(bytes([0x60, key, 0x00]))
    return events


def single(track, length=None):
    return header(0, 1) + chunk(b"MTrk", track + EOT, length)


def cases():
    out = {}
    for status, data in [(0xF1, [0x12]), (0xF2, [0x10, 0x20]), (0xF3, [5]), (0xF4, []), (0xF6, []),
                         (0xF8, []), (0xFA, []), (0xFC, []), (0xFE, [])]:
        ev = scale()
        ev.insert(6, bytes([0x00, status, *data]))
        out["stray 0x%02X" % status] = single(b"".join(ev))
    ev = scale()
    ev.insert(4, bytes([0x00, 0xFF, 0x01, 0x03]) + b"abc")
    out["running status after meta"] = single(b"".join(ev))
    ev = scale()
    ev.insert(4, bytes([0x00, 0xF0, 0x05, 0x7E, 0x7F, 0x09, 0x01, 0xF7]))
    out["running status after sysex"] = single(b"".join(ev))
    first = b"".join(scale(60, 4)) + EOT
    second = bytes([0x83, 0x00]) + b"".join(scale(64, 4))[1:] + EOT
    out["unknown chunk between tracks"] = (header(1, 2) + chunk(b"MTrk", first)
                                           + chunk(b"XFIH", b"\x01\x02\x90\x3c\x64") + chunk(b"MTrk", second))
    out["track length 10 too short"] = header(1, 2) + chunk(b"MTrk", first, len(first) - 10) + chunk(b"MTrk", second)
    out["track length 30 too long"] = header(1, 2) + chunk(b"MTrk", first, len(first) + 30) + chunk(b"MTrk", second)
    out["last track length past EOF"] = single(b"".join(scale()), len(b"".join(scale())) + 4 + 500)
    ev = scale()[:14] + [bytes([0x00, 0x90, 67])]
    out["truncated last event (7 notes)"] = header(0, 1) + chunk(b"MTrk", b"".join(ev))
    out["format 2, two sequences"] = (header(2, 2) + chunk(b"MTrk", b"".join(scale(60, 4)) + EOT)
                                      + chunk(b"MTrk", b"".join(scale(64, 4)) + EOT))
    return out


def venv_python():
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    if subprocess.run([py, "-c", "import mido, symusic"], capture_output=True).returncode != 0:
        print("installing mido and symusic into bench/.venv ...", file=sys.stderr)
        subprocess.run([py, "-m", "pip", "install", "-q", "mido", "symusic"], check=True)
    return py


def main():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "lofi-cli"], cwd=ROOT, check=True)
    lofi = os.path.join(ROOT, "target", "release", "lofi")
    py = os.environ.get("BENCH_PYTHON") or venv_python()
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for i, (name, data) in enumerate(cases().items()):
            paths[name] = os.path.join(tmp, f"case{i:02}.mid")
            with open(paths[name], "wb") as f:
                f.write(data)
        others = json.loads(subprocess.run([py, "-c", WORKER, *paths.values()], capture_output=True,
                                           text=True, check=True).stdout)
        print("| case | notes in | lofi | mido | symusic | lofi's warnings |")
        print("|---|---|---|---|---|---|")
        for name, path in paths.items():
            r = subprocess.run([lofi, "inspect", path, "--json"], capture_output=True, text=True)
            if r.returncode == 0:
                v = json.loads(r.stdout)
                found = v["notes"]
                warnings = ", ".join(f"{w['what']}×{w['count']}" for w in v["warnings"]) or "none"
            else:
                found, warnings = "error", r.stderr.strip().splitlines()[-1]
            want = 7 if "7 notes" in name else 8
            o = others[path]
            print(f"| {name} | {want} | {found} | {o['mido']} | {o['symusic']} | {warnings} |")


if __name__ == "__main__":
    main()
