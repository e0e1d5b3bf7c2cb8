#!/usr/bin/env python3
"""Training throughput: `lofi train` against PyTorch on the same CPU, the
same model sizes, batch, window and optimizer.

* lofi: the real trainer, `lofi train --data CACHE --arch A --max-steps S`
  with the CLI's default sizes (embed 128, hidden 256, 2 layers, dropout
  0.1, batch 64, window 64, AdamW lr 2e-3 with weight decay 1e-4 and
  gradient-norm clipping at 1.0, loss on every position). Its tokens/s is
  the `tokens_per_s` column of the run's metrics.csv: training tokens over
  training seconds, batch building and every step included, validation
  excluded.
* PyTorch: the same model built from torch.nn (Embedding → dropout →
  nn.LSTM/nn.GRU with 2 layers and dropout, or nn.TransformerEncoder with
  pre-norm, GELU, causal mask and learned positions → Linear), the same
  batch/window/vocab, AdamW with the same settings, clip_grad_norm_ 1.0,
  S steps on random token windows (speed does not depend on the values),
  threads = cores. Timed over all S steps, the first included, as lofi's.

Both run by this script, alternating, median of --runs runs each; the
ratio is lofi / PyTorch (above 1: lofi faster). Installs torch into
bench/.venv on first use (several GB; never in CI):

    python3 bench/train_vs_pytorch.py [--runs 3] [--steps 20] [--data CACHE]
        [--archs lstm,gru,transformer]

Without --data it ingests ../shared/corpus/pop909 with the remi tokenizer.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, "bench", ".venv")
LOFI = os.path.join(ROOT, "target", "release", "lofi")
POP909 = os.path.join(ROOT, "..", "shared", "corpus", "pop909")

# The CLI's defaults (crates/lofi-cli/src/args.rs), used by both sides.
EMBED, HIDDEN, LAYERS, DROPOUT, BATCH, SEQ = 128, 256, 2, 0.1, 64, 64
LR, WEIGHT_DECAY, CLIP, HEADS = 2e-3, 1e-4, 1.0, 4

TORCH_WORKER = r"""
import json, math, os, sys, time
import torch
from torch import nn

arch, vocab, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
E, H, L, P, B, T, LR, WD, CLIP, HEADS = [float(x) if "." in x or "e" in x else int(x) for x in sys.argv[4:14]]
torch.set_num_threads(os.cpu_count())
torch.manual_seed(0)

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(vocab, E)
        self.drop = nn.Dropout(P)
        if arch == "lstm":
            self.body = nn.LSTM(E, H, L, batch_first=True, dropout=P)
        elif arch == "gru":
            self.body = nn.GRU(E, H, L, batch_first=True, dropout=P)
        else:
            self.pos = nn.Embedding(T, E)
            layer = nn.TransformerEncoderLayer(E, HEADS, H, P, activation="gelu", batch_first=True, norm_first=True)
            self.body = nn.TransformerEncoder(layer, L, enable_nested_tensor=False)
            self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(T))
        self.head = nn.Linear(E if arch == "transformer" else H, vocab)

    def forward(self, x):
        # x [B, T] -> logits [B, T, vocab]
        h = self.drop(self.emb(x))
        if arch == "transformer":
            h = h + self.pos(torch.arange(x.shape[1]))
            h = self.body(h, mask=self.mask, is_causal=True)
        else:
            h = self.drop(self.body(h)[0])
        return self.head(h)

model = Model()
opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD)
loss_fn = nn.CrossEntropyLoss()
g = torch.Generator().manual_seed(1)
data = [torch.randint(0, vocab, (B, T + 1), generator=g) for _ in range(steps)]
t0 = time.perf_counter()
for w in data:
    logits = model(w[:, :-1])
    loss = loss_fn(logits.reshape(-1, vocab), w[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
    opt.step()
dt = time.perf_counter() - t0
print(json.dumps({"tokens_per_s": steps * B * T / dt, "torch": torch.__version__,
                  "threads": torch.get_num_threads(),
                  "params": sum(p.numel() for p in model.parameters())}))
"""


def ensure_torch():
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    if subprocess.run([py, "-c", "import torch"], capture_output=True).returncode != 0:
        print("installing torch into bench/.venv (first use only)...", flush=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "torch"], check=True)
    return py


def lofi_run(data, arch, steps, out):
    subprocess.run(
        [LOFI, "train", "--data", data, "--arch", arch, "--max-steps", str(steps), "--out", out,
         "--seed", "1", "--embed", str(EMBED), "--hidden", str(HIDDEN), "--layers", str(LAYERS),
         "--dropout", str(DROPOUT), "--batch", str(BATCH), "--seq-len", str(SEQ), "--lr", str(LR),
         "--weight-decay", str(WEIGHT_DECAY)],
        check=True, capture_output=True, text=True)
    with open(os.path.join(out, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(out, "run.json")) as f:
        spec = json.load(f)
    return float(rows[-1]["tokens_per_s"]), spec


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--data", help="a remi cache (default: ingest ../shared/corpus/pop909)")
    ap.add_argument("--archs", default="lstm,gru,transformer")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "lofi-cli"], cwd=ROOT, check=True)
    py = ensure_torch()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            if not os.path.isdir(POP909):
                sys.exit("no --data given and ../shared/corpus/pop909 is absent")
            data = os.path.join(tmp, "pop909.remi.lofitok")
            subprocess.run([LOFI, "ingest", POP909, "--tokenizer", "remi", "--out", data],
                           check=True, capture_output=True)
        print(f"embed {EMBED}, hidden {HIDDEN}, {LAYERS} layers, batch {BATCH}, "
              f"window {SEQ}, {args.steps} steps per run, median of {args.runs}, {os.cpu_count()} cores")
        print(f"{'arch':12} {'lofi tok/s':>11} {'torch tok/s':>12} {'lofi/torch':>11}  runs (lofi | torch)")
        for arch in args.archs.split(","):
            ours, theirs, meta = [], [], {}
            for i in range(args.runs):
                tps, spec = lofi_run(data, arch, args.steps, os.path.join(tmp, f"{arch}-{i}"))
                ours.append(tps)
                vocab = spec["model"]["vocab_size"]
                worker = [py, "-c", TORCH_WORKER, arch, str(vocab), str(args.steps)] + [
                    str(v) for v in (EMBED, HIDDEN, LAYERS, DROPOUT, BATCH, SEQ, LR, WEIGHT_DECAY, CLIP, HEADS)]
                meta = json.loads(subprocess.run(worker, check=True, capture_output=True, text=True).stdout)
                theirs.append(meta["tokens_per_s"])
            a, b = statistics.median(ours), statistics.median(theirs)
            print(f"{arch:12} {a:11.0f} {b:12.0f} {a / b:10.2f}x  "
                  f"{', '.join(f'{v:.0f}' for v in ours)} | {', '.join(f'{v:.0f}' for v in theirs)}"
                  f"   (torch {meta['torch']}, {meta['threads']} threads, {meta['params']:,} params, vocab {vocab})",
                  flush=True)


if __name__ == "__main__":
    main()
