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
        [--archs rnn,gru,lstm,transformer,cnn] [--peak-gflops X] [--lofi-args ...]

Each row also gives the fraction of the CPU's FP32 peak each side reaches:
FLOPs per trained token (forward multiply-adds × 2, × 3 for forward and
backward; see `flops_per_token`) × tokens/s, over the peak. The peak is
measured in the same run: the larger of the best rates PyTorch's own SGEMM
(2048³ `torch.mm`, all cores, best of 5) and the `gemm` crate lofi trains
on (`step_phases peak`, the same product) reach: what this CPU delivers to
a well-tuned FP32 kernel at its real clock. Both are printed: on an AMD
CPU PyTorch's BLAS may take a narrower vector path than the CPU has (on
the Zen 5 machine of docs/performance.md it reached half of what `gemm`
did), so its figure alone would flatter both sides. The nominal peak (cores × FLOPs
per cycle × /proc/cpuinfo's "cpu MHz", which is the base clock, not the
boost) is printed beside it for reference; a measured SGEMM above it means
the cores run faster than the kernel reports. --peak-gflops overrides the
measurement.
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
        elif arch == "rnn":
            self.body = nn.RNN(E, H, L, batch_first=True, dropout=P, nonlinearity="tanh")
        elif arch == "cnn":
            # lofi's CNN: conv k=3 same padding + ReLU + max-pool 2, per layer;
            # dense over the flattened window, ReLU; head on the token after it.
            self.convs = nn.ModuleList([nn.Conv1d(E if i == 0 else H, H, 3, padding=1) for i in range(L)])
            self.dense = nn.Linear(H * (T >> L), H)
        else:
            self.pos = nn.Embedding(T, E)
            layer = nn.TransformerEncoderLayer(E, HEADS, H, P, activation="gelu", batch_first=True, norm_first=True)
            self.body = nn.TransformerEncoder(layer, L, enable_nested_tensor=False)
            self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(T))
        self.head = nn.Linear(E if arch == "transformer" else H, vocab)

    def forward(self, x):
        # x [B, T] -> logits [B, T, vocab]
        h = self.drop(self.emb(x))
        if arch == "cnn":
            c = h.transpose(1, 2)
            for conv in self.convs:
                c = torch.max_pool1d(torch.relu(conv(c)), 2)
            return self.head(torch.relu(self.dense(c.flatten(1)))).unsqueeze(1)
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
    target = w[:, -1:] if arch == "cnn" else w[:, 1:]
    loss = loss_fn(logits.reshape(-1, vocab), target.reshape(-1))
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


def flops_per_token(arch, vocab):
    """Training FLOPs per counted token: 3 × (2 × forward multiply-adds).

    Recurrent: per layer G·H·(input + H) (G = 1, 3, 4 gates), plus the head
    H·V. Transformer: per layer the Q, K, V and output projections 4·E², the
    attention scores and weighted values 2·T·E (the full T×T product, as both
    sides compute it under the causal mask), the feed-forward 2·E·F; plus the
    head E·V. CNN: lofi counts a window as T tokens though it trains on one
    target, so its per-token FLOPs are the window's over T: each conv
    3·in·H per output position (T / 2^i positions at layer i), the dense
    (H·T/2^L)·H and the head H·V. Embedding lookups, pointwise work and the
    optimizer are left out (under 1 %).
    """
    E, H, L, T, V = EMBED, HIDDEN, LAYERS, SEQ, vocab
    if arch in ("rnn", "gru", "lstm"):
        g = {"rnn": 1, "gru": 3, "lstm": 4}[arch]
        macs = sum(g * H * ((E if i == 0 else H) + H) for i in range(L)) + H * V
    elif arch == "transformer":
        macs = L * (4 * E * E + 2 * T * E + 2 * E * HIDDEN) + E * V
    else:
        window = sum(3 * (E if i == 0 else H) * H * (T >> i) for i in range(L))
        window += (H * (T >> L)) * H + H * V
        macs = window / T
    return 3 * 2 * macs


SGEMM_WORKER = r"""
import json, os, time, torch
torch.set_num_threads(os.cpu_count())
n = 2048
a, b = torch.randn(n, n), torch.randn(n, n)
torch.mm(a, b)
best = 0.0
for _ in range(5):
    t0 = time.perf_counter()
    for _ in range(4):
        torch.mm(a, b)
    best = max(best, 4 * 2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
print(json.dumps({"gflops": best}))
"""


def measured_peak_gflops(py):
    out = subprocess.run([py, "-c", SGEMM_WORKER], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["gflops"]


def lofi_peak_gflops():
    """The `gemm` crate's SGEMM rate, from the step_phases example."""
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "lofi-model", "--example", "step_phases"],
                   cwd=ROOT, check=True)
    exe = os.path.join(ROOT, "target", "release", "examples", "step_phases")
    out = subprocess.run([exe, "peak"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["gflops"]


def nominal_peak_gflops():
    """(GFLOP/s, how) for the whole machine from its nominal clock."""
    cores = os.cpu_count()
    family, mhz, flags = None, None, ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "cpu family" and family is None:
                family = int(value)
            elif key == "cpu MHz" and mhz is None:
                mhz = float(value)
            elif key == "flags" and not flags:
                flags = value
    amd = "GenuineIntel" not in open("/proc/cpuinfo").read(4096)
    if amd and family == 26:
        per_cycle, why = 64, "Zen 5: 2 x 512-bit FMA"
    elif "avx2" in flags.split() and "fma" in flags.split():
        per_cycle, why = 32, "2 x 256-bit FMA"
    else:
        per_cycle, why = 16, "SSE"
    return cores * per_cycle * mhz / 1000, f"{cores} cores x {per_cycle} FLOP/cycle ({why}) x {mhz:.0f} MHz"


def lofi_run(data, arch, steps, out, extra):
    subprocess.run(
        [LOFI, "train", "--data", data, "--arch", arch, "--max-steps", str(steps), "--out", out,
         "--seed", "1", "--embed", str(EMBED), "--hidden", str(HIDDEN), "--layers", str(LAYERS),
         "--dropout", str(DROPOUT), "--batch", str(BATCH), "--seq-len", str(SEQ), "--lr", str(LR),
         "--weight-decay", str(WEIGHT_DECAY)] + extra,
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
    ap.add_argument("--archs", default="rnn,gru,lstm,transformer,cnn")
    ap.add_argument("--peak-gflops", type=float, help="the CPU's FP32 peak (default: computed, see above)")
    ap.add_argument("--lofi", help="a lofi binary to measure instead of building target/release/lofi")
    ap.add_argument("--lofi-args", default="", help="extra `lofi train` flags, e.g. --reference-kernels")
    ap.add_argument("--torch-keep-freed-memory", action="store_true",
                    help="run PyTorch under the glibc settings `lofi train` sets for itself "
                         "(lofi_model::memory: mmap threshold 32 MiB, no heap trim), through "
                         "MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_")
    args = ap.parse_args()
    nominal, nominal_how = nominal_peak_gflops()
    global LOFI
    if args.lofi:
        LOFI = os.path.abspath(args.lofi)
    else:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "lofi-cli"], cwd=ROOT, check=True)
    py = ensure_torch()
    if args.peak_gflops:
        peak, how = args.peak_gflops, "given"
    else:
        theirs, ours = measured_peak_gflops(py), lofi_peak_gflops()
        peak = max(theirs, ours)
        how = (f"best measured SGEMM 2048^3: PyTorch {theirs:.0f}, gemm crate {ours:.0f}")
    torch_env = dict(os.environ)
    if args.torch_keep_freed_memory:
        torch_env.update(MALLOC_MMAP_THRESHOLD_=str(32 << 20), MALLOC_TRIM_THRESHOLD_=str(2**31 - 1))
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            if not os.path.isdir(POP909):
                sys.exit("no --data given and ../shared/corpus/pop909 is absent")
            data = os.path.join(tmp, "pop909.remi.lofitok")
            subprocess.run([LOFI, "ingest", POP909, "--tokenizer", "remi", "--out", data],
                           check=True, capture_output=True)
        print(f"embed {EMBED}, hidden {HIDDEN}, {LAYERS} layers, batch {BATCH}, "
              f"window {SEQ}, {args.steps} steps per run, median of {args.runs}, {os.cpu_count()} cores"
              + (", PyTorch with lofi's glibc settings" if args.torch_keep_freed_memory else ""))
        print(f"FP32 peak {peak:.0f} GFLOP/s ({how}); nominal {nominal:.0f} GFLOP/s ({nominal_how})")
        print(f"{'arch':12} {'lofi tok/s':>11} {'torch tok/s':>12} {'lofi/torch':>11} {'lofi peak':>10} "
              f"{'torch peak':>11}  runs (lofi | torch)")
        for arch in args.archs.split(","):
            ours, theirs, meta = [], [], {}
            for i in range(args.runs):
                tps, spec = lofi_run(data, arch, args.steps, os.path.join(tmp, f"{arch}-{i}"),
                                     args.lofi_args.split())
                ours.append(tps)
                vocab = spec["model"]["vocab_size"]
                worker = [py, "-c", TORCH_WORKER, arch, str(vocab), str(args.steps)] + [
                    str(v) for v in (EMBED, HIDDEN, LAYERS, DROPOUT, BATCH, SEQ, LR, WEIGHT_DECAY, CLIP, HEADS)]
                meta = json.loads(subprocess.run(worker, check=True, capture_output=True, text=True,
                                                 env=torch_env).stdout)
                theirs.append(meta["tokens_per_s"])
            a, b = statistics.median(ours), statistics.median(theirs)
            fl = flops_per_token(arch, vocab) / 1e9
            print(f"{arch:12} {a:11.0f} {b:12.0f} {a / b:10.2f}x {100 * a * fl / peak:9.1f}% "
                  f"{100 * b * fl / peak:10.1f}%  "
                  f"{', '.join(f'{v:.0f}' for v in ours)} | {', '.join(f'{v:.0f}' for v in theirs)}"
                  f"   (torch {meta['torch']}, {meta['threads']} threads, {meta['params']:,} params, vocab {vocab})",
                  flush=True)


if __name__ == "__main__":
    main()
