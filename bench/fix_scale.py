#!/usr/bin/env python3
"""How ``wnlint fix`` scales with the size of one file.

Generates single Python files of growing size (5k, 10k, 20k and 50k lines by
default) made of realistic PyTorch modules repeated with fresh names: a
HiFi-GAN style generator, residual blocks and a discriminator on the legacy
API (``from torch.nn.utils import weight_norm, remove_weight_norm``,
``torch.nn.utils.weight_norm(nn.Conv1d(...))``, ``nn.ModuleList`` of normed
convolutions, ``remove_weight_norm(self.conv)`` in a method, a
``weight_g`` read), plus hand-written weight-norm layers that the WN1xx
rules fire on and a training helper that WN202 fires on. Every file gets
the whole WN301/WN302 migration and the span fixes of the other rules.

For each size it runs ``python -m wnlint check`` and ``python -m wnlint fix
--unsafe-fixes --diff`` (one process each, from the repository root, so the
code measured is this checkout's) and prints their wall times, the ratio
fix/check, the fix's CPU time (steadier than wall time on a busy machine)
and each process's peak resident memory. A run past ``--timeout`` is killed
and shown as ``>LIMIT``.

Targets: ``fix`` time grows linearly with the file's size (the ratio stays
flat as the file grows), and the 50,000-line file is fixed within 5x the
``check`` time on the same file, in bounded memory (peak RSS growing no
faster than the file).

    python bench/fix_scale.py                   # 5k 10k 20k 50k lines
    python bench/fix_scale.py --sizes 5000 20000 --runs 3
    python bench/fix_scale.py --keep /tmp/big   # keep the generated files
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

HEADER = '''"""Generated vocoder zoo: legacy weight norm and hand-made norms."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import remove_weight_norm, spectral_norm, weight_norm

LRELU_SLOPE = 0.1


def get_padding(kernel_size, dilation=1):
    return int((kernel_size * dilation - dilation) / 2)

'''

# One unit of the file; ``{n}`` makes every name unique. Each class is a
# shape found in real vocoder and weight-norm code.
UNIT = """

class ResBlock{n}(nn.Module):
    def __init__(self, channels, kernel_size=3, dilation=(1, 3, 5)):
        super().__init__()
        self.convs1 = nn.ModuleList(
            [
                weight_norm(
                    nn.Conv1d(
                        channels,
                        channels,
                        kernel_size,
                        1,
                        dilation=d,
                        padding=get_padding(kernel_size, d),
                    )
                )
                for d in dilation
            ]
        )
        self.convs2 = nn.ModuleList(
            [
                weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, padding=1)),
                weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, padding=1)),
                weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, padding=1)),
            ]
        )

    def forward(self, x):
        for c1, c2 in zip(self.convs1, self.convs2):
            xt = F.leaky_relu(x, LRELU_SLOPE)
            xt = c1(xt)
            xt = F.leaky_relu(xt, LRELU_SLOPE)
            xt = c2(xt)
            x = xt + x
        return x

    def remove_weight_norm(self):
        for layer in self.convs1:
            remove_weight_norm(layer)
        for layer in self.convs2:
            remove_weight_norm(layer)


class Generator{n}(nn.Module):
    def __init__(self, mel_channels=80, channels=512, rates=(8, 8, 2, 2)):
        super().__init__()
        self.num_upsamples = len(rates)
        self.conv_pre = weight_norm(nn.Conv1d(mel_channels, channels, 7, 1, padding=3))
        self.ups = nn.ModuleList()
        for i, u in enumerate(rates):
            self.ups.append(
                weight_norm(
                    nn.ConvTranspose1d(
                        channels // (2**i),
                        channels // (2 ** (i + 1)),
                        u * 2,
                        u,
                        padding=(u + 1) // 2,
                    )
                )
            )
        self.resblocks = nn.ModuleList()
        for i in range(len(self.ups)):
            ch = channels // (2 ** (i + 1))
            self.resblocks.append(ResBlock{n}(ch))
        self.conv_post = torch.nn.utils.weight_norm(nn.Conv1d(ch, 1, 7, 1, padding=3))

    def forward(self, x):
        x = self.conv_pre(x)
        for i in range(self.num_upsamples):
            x = F.leaky_relu(x, LRELU_SLOPE)
            x = self.ups[i](x)
            x = self.resblocks[i](x)
        x = F.leaky_relu(x)
        x = self.conv_post(x)
        return torch.tanh(x)

    def magnitudes(self):
        # The per-channel gains, for logging.
        return self.conv_pre.weight_g.detach().flatten()

    def remove_weight_norm(self):
        print("Removing weight norm...")
        for layer in self.ups:
            remove_weight_norm(layer)
        for block in self.resblocks:
            block.remove_weight_norm()
        remove_weight_norm(self.conv_pre)
        nn.utils.remove_weight_norm(self.conv_post)


class DiscriminatorS{n}(nn.Module):
    def __init__(self, use_spectral_norm=False):
        super().__init__()
        norm_f = weight_norm if not use_spectral_norm else spectral_norm
        self.convs = nn.ModuleList(
            [
                norm_f(nn.Conv1d(1, 128, 15, 1, padding=7)),
                norm_f(nn.Conv1d(128, 128, 41, 2, groups=4, padding=20)),
                norm_f(nn.Conv1d(128, 256, 41, 2, groups=16, padding=20)),
                norm_f(nn.Conv1d(256, 512, 41, 4, groups=16, padding=20)),
                norm_f(nn.Conv1d(512, 1024, 41, 4, groups=16, padding=20)),
                norm_f(nn.Conv1d(1024, 1024, 5, 1, padding=2)),
            ]
        )
        self.conv_post = norm_f(nn.Conv1d(1024, 1, 3, 1, padding=1))

    def forward(self, x):
        fmap = []
        for layer in self.convs:
            x = layer(x)
            x = F.leaky_relu(x, LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap


class RecomputedScaleLinear{n}(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.v = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x):
        g = self.v.norm(dim=1, keepdim=True)
        w = g * self.v / self.v.norm(dim=1, keepdim=True)
        return F.linear(x, w, self.bias)


class StoredWeightLinear{n}(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.g = nn.Parameter(torch.rand(out_features, 1) + 0.5)
        self.v = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.weight = None

    def forward(self, x):
        self.weight = self.g * self.v / self.v.norm(dim=1, keepdim=True)
        return F.linear(x, self.weight, self.bias)


class NormalizedInitLinear{n}(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        w = torch.randn(out_features, in_features)
        self.g = nn.Parameter(w.norm(dim=1, keepdim=True))
        self.v = nn.Parameter(w / w.norm(dim=1, keepdim=True))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x):
        return F.linear(x, self.g * self.v, self.bias)


class UnusedScaleLinear{n}(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.g = nn.Parameter(torch.ones(out_features, 1))
        self.v = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x):
        return x @ (self.v / self.v.norm(dim=1, keepdim=True)).t() + self.bias


class DetachedNormConv{n}(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.v = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size))
        self.g = nn.Parameter(self.v.detach().norm(dim=(1, 2), keepdim=True))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x):
        with torch.no_grad():
            norm = self.v.norm(dim=(1, 2), keepdim=True)
        return F.conv1d(x, self.g * self.v / norm, self.bias, padding=1)


def build_head{n}(lr: float = 1e-3):
    model = nn.Sequential(nn.Linear(80, 256), nn.Tanh(), nn.Linear(256, 80))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model[0] = weight_norm(model[0])
    return model, opt
"""

DEFAULT_SIZES = (5_000, 10_000, 20_000, 50_000)


def generate(lines: int) -> str:
    """A file of about ``lines`` lines (never fewer): whole units only."""
    header_lines = HEADER.count("\n")
    unit_lines = UNIT.count("\n")
    units = max(1, -(-(lines - header_lines) // unit_lines))
    return HEADER + "".join(UNIT.format(n=n) for n in range(units))


@dataclass
class Run:
    """One command's wall seconds, CPU seconds and peak resident memory
    (MiB); ``seconds`` is None when it ran past the time limit."""

    seconds: float | None
    cpu: float
    rss: float
    status: int


#: Runs one command and prints its exit status, CPU time and peak RSS:
#: ``RUSAGE_CHILDREN`` of this small process covers that one child only.
_WRAPPER = """
import resource, subprocess, sys
limit = float(sys.argv[1])
try:
    rc = subprocess.call(
        sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        timeout=limit,
    )
except subprocess.TimeoutExpired:
    rc = -1
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(rc, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
"""


def timed(command: list[str], limit: float) -> Run:
    """Run ``command`` (killed after ``limit`` seconds) from the repository
    root, so that ``python -m wnlint`` is this checkout."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(limit), *command],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    elapsed = time.perf_counter() - start
    rc_text, cpu_text, peak_text = done.stdout.split()
    peak = int(peak_text) / (1024 * 1024 if sys.platform == "darwin" else 1024)
    rc = int(rc_text)
    return Run(None if rc == -1 else elapsed, float(cpu_text), peak, rc)


def measure(path: Path, runs: int, limit: float) -> tuple[Run, Run]:
    """The median-time check and fix runs on ``path``."""
    base = [sys.executable, "-m", "wnlint"]
    commands = {
        "check": [*base, "check", str(path)],
        "fix": [*base, "fix", "--unsafe-fixes", "--diff", str(path)],
    }
    results: dict[str, list[Run]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            run = timed(command, limit)
            if run.seconds is not None and run.status not in (0, 1):
                raise SystemExit(f"wnlint {name} failed on {path} (exit {run.status})")
            results[name].append(run)
    check, fix = (
        sorted(found, key=lambda r: r.seconds or math.inf)[len(found) // 2]
        for found in results.values()
    )
    return check, fix


def _seconds(run: Run, limit: float) -> str:
    return f"{run.seconds:.2f}" if run.seconds is not None else f">{limit:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--runs", type=int, default=1, help="runs per size (median)")
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds before a run is killed"
    )
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        folder: Path = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(
            f"{'lines':>7} {'check s':>8} {'fix s':>8} {'fix/check':>9} "
            f"{'fix CPU s':>9} {'check MiB':>9} {'fix MiB':>8}"
        )
        for size in args.sizes:
            path = folder / f"big_{size}.py"
            text = generate(size)
            path.write_text(text, encoding="utf-8")
            check, fix = measure(path, args.runs, args.timeout)
            ratio = (
                f"{fix.seconds / check.seconds:.2f}"
                if fix.seconds is not None and check.seconds
                else "-"
            )
            print(
                f"{text.count(chr(10)):>7} {_seconds(check, args.timeout):>8} "
                f"{_seconds(fix, args.timeout):>8} {ratio:>9} {fix.cpu:>9.2f} "
                f"{check.rss:>9.0f} {fix.rss:>8.0f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
