"""sacroai.nn against PyTorch (CPU) in one process: single conv layers, ResNet-18, DenseNet-121, 3-D U-Nets, 3-D CNN.

Prints, at 1 thread and at all cores, the time of each case for sacroai and
PyTorch, the ratio PyTorch/sacroai (> 1 means sacroai is faster), the GFLOP/s
of the convolutions and their fraction of the OpenBLAS sgemm peak measured in
the same run (a 2048^3 sgemm through sacroai's BLAS wrapper).

    python benchmarks/bench_nn.py [--quick] [--no-resnet]

OPENBLAS_CORETYPE is removed from the environment before anything is
imported so OpenBLAS picks its native (AVX-512) kernels, the ones PyTorch's
oneDNN is compared with; the core name is printed.  PyTorch's CPU allocator is
told to use transparent huge pages (THP_MEM_ALLOC_ENABLE=1, unless set): with
4 KiB pages its fresh activations fault in at a few hundred MB/s here, which
made its times depend on what ran before them by up to 2x.
"""
import os

os.environ.pop("OPENBLAS_CORETYPE", None)
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sacroai  # noqa: E402
from sacroai import _core  # noqa: E402
from sacroai import nn  # noqa: E402
from sacroai.nn import functional as F  # noqa: E402
from sacroai.nn.models import UNet, resnet18  # noqa: E402

import torch  # noqa: E402

# the parity tests' PyTorch twins (imported here, before the passes set thread counts)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from test_nn_models_attention_unet import TAttentionUNet  # noqa: E402
from test_nn_models_cnn import TCNN  # noqa: E402
from test_nn_models_densenet import TDenseNet  # noqa: E402
from test_nn_models_plain_unet import TPlain  # noqa: E402


def check_threads():
    """Both libraries must run on the thread count of the pass being timed.

    The parity tests' PyTorch twins set PyTorch's thread count when their
    module is imported; a row that imported one mid-pass would otherwise time
    PyTorch on more threads than sacroai."""
    if torch.get_num_threads() != sacroai.get_num_threads():
        raise RuntimeError(f"thread counts differ: PyTorch {torch.get_num_threads()}, "
                           f"sacroai {sacroai.get_num_threads()}")


def best_time(fn, reps, warmup=1):
    check_threads()
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def sgemm_peak(n, reps):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    t = best_time(lambda: _core.nn_sgemm(a, b), reps)
    return 2.0 * n ** 3 / t / 1e9


def conv_cases(quick):
    if quick:
        return [("conv2d 3x3 64->64 4x56x56", (4, 64, 56, 56), (64, 64, 3, 3), 2),
                ("conv3d 3x3x3 32->32 1x24^3", (1, 32, 24, 24, 24), (32, 32, 3, 3, 3), 3)]
    return [("conv2d 3x3 64->64 16x56x56", (16, 64, 56, 56), (64, 64, 3, 3), 2),
            ("conv3d 3x3x3 32->32 1x48^3", (1, 32, 48, 48, 48), (32, 32, 3, 3, 3), 3)]


def bench_conv(name, xs, ws, nd, reps, peak, rows):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xs, dtype=np.float32)
    w = (rng.standard_normal(ws, dtype=np.float32) * 0.05).astype(np.float32)
    flops = 2.0 * xs[0] * ws[0] * np.prod(xs[2:]) * np.prod(ws[1:])  # output size == input size (pad 1)
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    tconv = torch.nn.functional.conv2d if nd == 2 else torch.nn.functional.conv3d
    with torch.no_grad():
        t_torch = best_time(lambda: tconv(tx, tw, None, 1, 1), reps)
        ty = tconv(tx, tw, None, 1, 1)
    t_ours = best_time(lambda: F.conv(x, w, None, 1, 1, 1, 1, nd), reps)
    rows.append((name + " fwd", t_ours, t_torch, flops / t_ours / 1e9, flops / t_torch / 1e9, peak))
    g = rng.standard_normal(ty.shape, dtype=np.float32)
    tg = torch.from_numpy(g)
    pad = [1] * nd

    def torch_bwd():
        torch.ops.aten.convolution_backward(tg, tx, tw, None, [1] * nd, pad, [1] * nd, False, [0] * nd, 1,
                                            [True, True, False])

    t_torch_b = best_time(torch_bwd, reps)
    t_ours_b = best_time(lambda: F.conv_backward(x, w, g, (1,) * nd, (1,) * nd, (1,) * nd, 1, nd, True, False), reps)
    rows.append((name + " bwd (data+weight)", t_ours_b, t_torch_b, 2 * flops / t_ours_b / 1e9,
                 2 * flops / t_torch_b / 1e9, peak))


class TorchBasic(torch.nn.Module):
    def __init__(self, cin, c, stride):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(cin, c, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(c)
        self.conv2 = torch.nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(c)
        self.downsample = None
        if stride != 1 or cin != c:
            self.downsample = torch.nn.Sequential(torch.nn.Conv2d(cin, c, 1, stride, bias=False),
                                                  torch.nn.BatchNorm2d(c))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + (self.downsample(x) if self.downsample is not None else x))


def torch_resnet18(in_channels, num_classes):
    layers, cin = [], 64
    for c, s in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        layers.append(torch.nn.Sequential(TorchBasic(cin, c, s), TorchBasic(c, c, 1)))
        cin = c
    return torch.nn.Sequential(torch.nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False), torch.nn.BatchNorm2d(64),
                               torch.nn.ReLU(), torch.nn.MaxPool2d(3, 2, 1), *layers,
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(512, num_classes))


def bench_resnet(batch, size, reps, rows):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((batch, 1, size, size), dtype=np.float32)
    ours = resnet18(in_channels=1, num_classes=2, rng=0)
    tm = torch_resnet18(1, 2)
    tx = torch.from_numpy(x)
    ours.eval()
    tm.eval()
    with torch.no_grad():
        t_torch = best_time(lambda: tm(tx), reps)
    with nn.no_grad():
        t_ours = best_time(lambda: ours(x), reps)
    rows.append((f"resnet18 2D infer {batch}x1x{size}^2 (img/s)", t_ours, t_torch, batch / t_ours, batch / t_torch, None))
    train_step_row(ours, tm, x, rng, f"resnet18 2D train step {batch}x1x{size}^2 (img/s)", reps, rows)


def train_step_row(ours, tm, x, rng, label, reps, rows):
    """Time one forward + backward (a random output gradient) of a network in both libraries."""
    batch = len(x)
    ours.train()
    tm.train()
    tx = torch.from_numpy(x)
    with torch.no_grad():
        shape = tuple(tm(tx).shape)
    g = rng.standard_normal(shape, dtype=np.float32)
    tg = torch.from_numpy(g)

    def torch_step():
        tm.zero_grad(set_to_none=True)
        tm(tx).backward(tg)

    def ours_step():  # like the PyTorch input (no requires_grad): parameter gradients only
        ours.zero_grad()
        ours(x)
        with nn.no_input_grad():
            ours.backward(g)

    t_torch = best_time(torch_step, reps)
    t_ours = best_time(ours_step, reps)
    rows.append((label, t_ours, t_torch, batch / t_ours, batch / t_torch, None))


class TorchUNet(torch.nn.Module):
    """The same U-Net as sacroai.nn.models.UNet (BatchNorm), in PyTorch, same attribute names."""

    def __init__(self, cin, cout, f):
        super().__init__()
        from collections import OrderedDict
        tnn = torch.nn

        def dc(a, b):
            return tnn.Sequential(OrderedDict([("conv1", tnn.Conv3d(a, b, 3, padding=1, bias=False)),
                                               ("norm1", tnn.BatchNorm3d(b)), ("act1", tnn.ReLU()),
                                               ("conv2", tnn.Conv3d(b, b, 3, padding=1, bias=False)),
                                               ("norm2", tnn.BatchNorm3d(b)), ("act2", tnn.ReLU())]))
        self.encoders = tnn.ModuleList([dc(cin if i == 0 else f[i - 1], f[i]) for i in range(len(f))])
        self.pools = tnn.ModuleList([tnn.MaxPool3d(2) for _ in range(len(f) - 1)])
        self.upconvs = tnn.ModuleList([tnn.ConvTranspose3d(f[i + 1], f[i], 2, stride=2)
                                       for i in reversed(range(len(f) - 1))])
        self.decoders = tnn.ModuleList([dc(2 * f[i], f[i]) for i in reversed(range(len(f) - 1))])
        self.head = tnn.Conv3d(f[0], cout, 1)

    def forward(self, x):
        skips, h, L = [], x, len(self.encoders)
        for i in range(L - 1):
            h = self.encoders[i](h)
            skips.append(h)
            h = self.pools[i](h)
        h = self.encoders[-1](h)
        for j in range(L - 1):
            h = self.decoders[j](torch.cat([self.upconvs[j](h), skips[L - 2 - j]], 1))
        return self.head(h)


def bench_unet(size, reps, rows):
    rng = np.random.default_rng(3)
    feats = (16, 32, 64, 128)
    x = rng.standard_normal((1, 1, size, size, size), dtype=np.float32)
    ours = UNet(3, 1, 2, feats, rng=0)
    tm = TorchUNet(1, 2, feats)
    tx = torch.from_numpy(x)
    ours.eval()
    tm.eval()
    with torch.no_grad():
        t_torch = best_time(lambda: tm(tx), reps)
    with nn.no_grad():
        t_ours = best_time(lambda: ours(x), reps)
    rows.append((f"unet3d 16-128 infer 1x1x{size}^3 (vol/s)", t_ours, t_torch, 1 / t_ours, 1 / t_torch, None))
    train_step_row(ours, tm, x, rng, f"unet3d 16-128 train step 1x1x{size}^3 (vol/s)", reps, rows)


def print_rows(threads, rows):
    print(f"\n== {threads} thread(s) ==")
    w = max(46, max(len(r[0]) for r in rows))
    print(f"{'case':{w}s} {'sacroai':>10s} {'torch':>10s} {'torch/sai':>9s} {'sai rate':>9s} {'torch rate':>10s} "
          f"{'sai %peak':>9s} {'torch %peak':>11s}")
    for name, to, tt, ro, rt, peak in rows:
        pk = f"{100 * ro / peak:8.0f}% {100 * rt / peak:10.0f}%" if peak else ""
        unit = "GF/s" if peak else ("vol/s" if "vol/s" in name else "img/s")
        print(f"{name:{w}s} {to * 1e3:8.1f}ms {tt * 1e3:8.1f}ms {tt / to:9.2f} {ro:5.0f}{unit:>5s} {rt:6.0f}{unit:>5s} {pk}")


def bench_densenet(batch, size, reps, rows):
    """DenseNet-121 2-D training step against the torchvision-layout twin of the parity tests."""
    from sacroai.nn.models import densenet121

    rng = np.random.default_rng(3)
    x = rng.standard_normal((batch, 1, size, size), dtype=np.float32)
    ours = densenet121(2, in_channels=1, num_classes=2, rng=0)
    tm = TDenseNet(32, (6, 12, 24, 16), 64, 2, cin=1)
    tm.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})
    train_step_row(ours, tm, x, rng, f"densenet121 2D train step {batch}x1x{size}^2 (img/s)", reps, rows)


def bench_more_models(quick, reps, rows):
    """Training steps of the other models the studies use, against the parity tests' PyTorch twins."""
    from sacroai.nn.models import CNN3D, AttentionUNet, PlainConvUNet

    rng = np.random.default_rng(4)
    n = 32 if quick else 64
    x = rng.standard_normal((1, 1, n, n, n), dtype=np.float32)
    cases = [
        (f"attention unet3d 16-128 train step 1x1x{n}^3 (vol/s)",
         AttentionUNet(3, 1, 2, channels=(16, 32, 64, 128), rng=0), TAttentionUNet(3, 1, 2, (16, 32, 64, 128)), x),
        (f"nnU-Net plain unet3d 32-256 train step 1x1x{n}^3 (vol/s)",
         PlainConvUNet(3, 1, 2, (32, 64, 128, 256), rng=0), TPlain(3, 1, 2, (32, 64, 128, 256)), x),
        (f"cnn3d 16-32-64-64 train step 4x1x{n}^3 (vol/s)",
         CNN3D(3, 1, 5, (16, 32, 64, 64), dropout=0.0, rng=0), TCNN(3, 1, 5, (16, 32, 64, 64), 0.0),
         rng.standard_normal((4, 1, n, n, n), dtype=np.float32)),
    ]
    for label, ours, tm, xx in cases:
        tm.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})
        train_step_row(ours, tm, xx, rng, label, reps, rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few repetitions (smoke run)")
    ap.add_argument("--no-resnet", action="store_true", help="skip the ResNet-18 rows")
    ap.add_argument("--no-unet", action="store_true", help="skip the 3-D U-Net rows")
    ap.add_argument("--no-densenet", action="store_true", help="skip the DenseNet-121 row")
    ap.add_argument("--no-more", action="store_true",
                    help="skip the attention U-Net, nnU-Net plain U-Net and 3-D CNN rows")
    ap.add_argument("--threads", type=int, nargs="*", default=None, help="thread counts (default: 1 and all cores)")
    args = ap.parse_args()
    sacroai.show_config()
    print(f"torch {torch.__version__}, oneDNN available: {torch.backends.mkldnn.is_available()}")
    ncores = len(os.sched_getaffinity(0))
    threads = args.threads or sorted({1, ncores})
    reps = 2 if args.quick else 5
    for nt in threads:
        sacroai.set_num_threads(nt)
        torch.set_num_threads(nt)
        peak = sgemm_peak(1024 if args.quick else 2048, reps)
        print(f"\nsgemm peak through sacroai ({nt} thread(s)): {peak:.0f} GFLOP/s")
        rows = []
        for name, xs, ws, nd in conv_cases(args.quick):
            bench_conv(name, xs, ws, nd, reps, peak, rows)
        if not args.no_resnet:
            bench_resnet(4 if args.quick else 16, 96 if args.quick else 224, 2 if args.quick else 3, rows)
        if not args.no_densenet:
            bench_densenet(4 if args.quick else 16, 96 if args.quick else 224, 2 if args.quick else 3, rows)
        if not args.no_unet:
            bench_unet(32 if args.quick else 96, 2 if args.quick else 3, rows)
        if not args.no_more:
            bench_more_models(args.quick, 2 if args.quick else 3, rows)
        print_rows(nt, rows)


if __name__ == "__main__":
    main()
