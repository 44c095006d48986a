"""Peak memory of one 3-D U-Net training step: sacroai against PyTorch (CPU).

Each measurement runs in its own child process, so one library's arena cannot
hide the other's.  The child builds the U-Net (16-32-64-128 channels, batch
norm) and a 1x1xS^3 input, resets the kernel's peak-RSS counter
(``/proc/self/clear_refs``), takes three steps (forward, backward with a given
output gradient) and reports the peak resident set size during them
(``VmHWM``) and the resident size before them.  The difference is what
training needs beyond the weights and the data: activations kept for
backward, gradients, workspaces and whatever the allocator keeps.

    python benchmarks/bench_nn_memory.py [--size 96] [--threads N]

Prints both libraries' figures and the ratio PyTorch / sacroai (> 1: sacroai
needs less).
"""
import os

os.environ.pop("OPENBLAS_CORETYPE", None)

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import json, os, sys
sys.path.insert(0, {repo!r}); sys.path.insert(0, {here!r})
import numpy as np

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0  # MiB
    raise RuntimeError(key)

lib, size, threads = {lib!r}, {size}, {threads}
feats = (16, 32, 64, 128)
rng = np.random.default_rng(0)
x = rng.standard_normal((1, 1, size, size, size), dtype=np.float32)
g = rng.standard_normal((1, 2, size, size, size), dtype=np.float32)
if lib == "sacroai":
    import sacroai
    from sacroai.nn.models import UNet
    sacroai.set_num_threads(threads)
    model = UNet(3, 1, 2, feats, rng=0)
    model.train()
    def step():  # like the PyTorch input (no requires_grad): parameter gradients only
        model.zero_grad()
        model(x)
        with sacroai.nn.no_input_grad():
            model.backward(g)
else:
    import torch
    from bench_nn import TorchUNet
    torch.set_num_threads(threads)
    model = TorchUNet(1, 2, feats)
    model.train()
    tx, tg = torch.from_numpy(x), torch.from_numpy(g)
    def step():
        model.zero_grad(set_to_none=True)
        model(tx).backward(tg)
base = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset VmHWM to the current RSS
step(); step(); step()
print(json.dumps({{"base_mib": base, "peak_mib": status("VmHWM")}}))
"""


def measure(lib, size, threads):
    code = CHILD.format(repo=os.path.dirname(HERE), here=HERE, lib=lib, size=size, threads=threads)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{lib} child failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=96, help="input edge S of the 1x1xS^3 volume (default 96)")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    a = ap.parse_args()
    print(f"3-D U-Net 16-32-64-128, one training step on 1x1x{a.size}^3, {a.threads} thread(s)")
    print(f"{'library':10s} {'RSS before MiB':>15s} {'peak MiB':>10s} {'step MiB':>10s}")
    res = {}
    for lib in ("sacroai", "torch"):
        m = measure(lib, a.size, a.threads)
        res[lib] = m["peak_mib"] - m["base_mib"]
        print(f"{lib:10s} {m['base_mib']:15.0f} {m['peak_mib']:10.0f} {res[lib]:10.0f}")
    print(f"\nstep working memory, torch / sacroai: {res['torch'] / max(res['sacroai'], 1e-9):.2f}x "
          f"(> 1: sacroai needs less)")


if __name__ == "__main__":
    main()
