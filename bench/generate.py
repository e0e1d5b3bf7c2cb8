#!/usr/bin/env python3
"""Generation speed: lofi's stateful stepping against its naive window path
and against PyTorch stepping the same model from Python.

* lofi: `lofi generate --no-track --json` reports the tokens drawn and the
  seconds spent generating (model loading and process start excluded); run
  with the default model (a 3-layer causal Transformer, KV cache) and again
  with `--naive` (the whole window re-read through burn for every token).
* PyTorch: the same architecture and sizes (embed 192, feed-forward 512,
  3 pre-norm layers, 4 heads, learned positions, vocab 396, window 128),
  stepped one token at a time with a KV cache and the same
  refeed-the-last-half policy when the window is full, batch 1, under
  torch.inference_mode, with mkldnn on and off, at torch's default thread
  count and at one thread (lofi's kernel uses one). Weights are random:
  speed does not depend on their values. Also the naive window path.

Medians of --runs runs, side by side in the same run on the same machine.
Installs torch into bench/.venv on first use (never in CI):

    python3 bench/generate.py [--runs 5] [--notes 500] [--tokens 1500]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, "bench", ".venv")
LOFI = os.path.join(ROOT, "target", "release", "lofi")

TORCH_WORKER = r"""
import json, math, sys, time
import torch
from torch import nn

V, D, FF, L, H, T = 396, 192, 512, 3, 4, 128
tokens, runs, naive = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "naive"
torch.backends.mkldnn.enabled = sys.argv[4] == "on"
if int(sys.argv[5]) > 0:
    torch.set_num_threads(int(sys.argv[5]))
torch.manual_seed(0)

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.q, self.k, self.v, self.o = (nn.Linear(D, D) for _ in range(4))
        self.f1, self.f2 = nn.Linear(D, FF), nn.Linear(FF, D)

    def attend(self, q, k, v, causal):
        # q [b, t, D], k/v [b, s, D] -> [b, t, D]
        b, t, _ = q.shape
        s = k.shape[1]
        q = q.view(b, t, H, D // H).transpose(1, 2)
        k = k.view(b, s, H, D // H).transpose(1, 2)
        v = v.view(b, s, H, D // H).transpose(1, 2)
        a = (q @ k.transpose(-1, -2)) / math.sqrt(D // H)
        if causal:
            a = a.masked_fill(torch.ones(t, s, dtype=torch.bool).triu(1), float("-inf"))
        return (a.softmax(-1) @ v).transpose(1, 2).reshape(b, t, D)

    def forward(self, x, cache=None):
        h = self.n1(x)
        q, k, v = self.q(h), self.k(h), self.v(h)
        if cache is not None:
            if cache["k"] is not None:
                k = torch.cat([cache["k"], k], 1)
                v = torch.cat([cache["v"], v], 1)
            cache["k"], cache["v"] = k, v
        x = x + self.o(self.attend(q, k, v, cache is None))
        return x + self.f2(nn.functional.gelu(self.f1(self.n2(x))))

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.pos = nn.Embedding(V, D), nn.Embedding(T, D)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.head = nn.Linear(D, V)

    def window(self, ids):
        # ids [1, t] -> logits of the last position [V]
        x = self.emb(ids) + self.pos(torch.arange(ids.shape[1]))[None]
        for b in self.blocks:
            x = b(x)
        return self.head(x[0, -1])

    def step(self, tok, pos, caches):
        x = self.emb(torch.tensor([[tok]])) + self.pos(torch.tensor([[pos]]))
        for b, c in zip(self.blocks, caches):
            x = b(x, c)
        return self.head(x[0, -1])

model = Model().eval()
gen = torch.Generator().manual_seed(1)

def run_stateful():
    caches = [{"k": None, "v": None} for _ in range(L)]
    ctx, tok = [], 2
    for _ in range(tokens):
        if len(ctx) == T:
            keep = ctx[T // 2:]
            caches = [{"k": None, "v": None} for _ in range(L)]
            ctx = []
            for t in keep:
                model.step(t, len(ctx), caches); ctx.append(t)
        logits = model.step(tok, len(ctx), caches); ctx.append(tok)
        tok = int(torch.multinomial(logits.softmax(-1), 1, generator=gen))

def run_naive():
    ctx, tok = [], 2
    for _ in range(tokens):
        ctx = (ctx + [tok])[-T:]
        logits = model.window(torch.tensor([ctx]))
        tok = int(torch.multinomial(logits.softmax(-1), 1, generator=gen))

times = []
with torch.inference_mode():
    (run_naive if naive else run_stateful)()  # warm-up
    for _ in range(runs):
        t0 = time.perf_counter()
        (run_naive if naive else run_stateful)()
        times.append(time.perf_counter() - t0)
print(json.dumps({"times": times, "threads": torch.get_num_threads(), "version": torch.__version__}))
"""


def venv_python():
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        # PyPI's torch (its CUDA libraries come along; only the CPU runs here).
        subprocess.run([py, "-m", "pip", "install", "-q", "torch"], check=True)
    return py


def lofi_runs(args, runs, extra):
    rates, secs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            out = subprocess.run(
                [LOFI, "generate", "--no-track", "--json", "--notes", str(args.notes),
                 "--seed", str(i + 1), "--out", os.path.join(tmp, str(i))] + extra,
                check=True, capture_output=True, text=True)
            v = json.loads(out.stdout)
            rates.append(v["tokens_per_s"])
            secs.append(v["generate_seconds"])
    return statistics.median(rates), statistics.median(secs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--notes", type=int, default=500)
    ap.add_argument("--tokens", type=int, default=1500)
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(LOFI):
        subprocess.run(["cargo", "build", "--release", "-p", "lofi-cli"], cwd=ROOT, check=True)

    rows = []
    rate, secs = lofi_runs(args, args.runs, [])
    rows.append(("lofi stateful (KV cache, native kernel)", rate))
    print(f"lofi: {args.notes} notes in {secs:.3f} s (median of {args.runs}, generation only)")
    naive_runs = max(1, min(args.runs, 3))
    nrate, _ = lofi_runs(args, naive_runs, ["--naive"])
    rows.append((f"lofi naive window (burn, median of {naive_runs})", nrate))
    if not args.no_torch:
        py = venv_python()
        for mode in ["stateful", "naive"]:
            for mkldnn, threads in [("on", 0), ("off", 0), ("on", 1), ("off", 1)]:
                out = subprocess.run([py, "-c", TORCH_WORKER, str(args.tokens), str(args.runs), mode, mkldnn,
                                      str(threads)], check=True, capture_output=True, text=True)
                v = json.loads(out.stdout)
                rows.append((f"PyTorch {v['version']} {mode} (mkldnn {mkldnn}, {v['threads']} threads)",
                             args.tokens / statistics.median(v["times"])))
    best_torch = max((r for n, r in rows if n.startswith("PyTorch") and "stateful" in n), default=None)
    print(f"{'path':60} {'tokens/s':>10} {'vs lofi':>8}")
    for name, r in rows:
        print(f"{name:60} {r:10.0f} {rate / r:7.2f}x")
    if best_torch:
        print(f"lofi stateful / best PyTorch stateful = {rate / best_torch:.2f}x")


if __name__ == "__main__":
    main()
