#!/usr/bin/env python3
"""Download and unpack the pinned real-code corpus: 19 PyPI wheels (about
8,000 Python files), no dependencies installed, nothing imported or run.

    python bench/corpus.py DIR      # DIR/<package>/..., idempotent

``.ci/run`` unpacks it for the test that checks the prefilters lose no
finding on real code (``WNLINT_CORPUS``, tests/test_prefilter_off.py); the
benchmarks take it as ``--corpus``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PINNED = (
    "transformers==5.23.0",
    "descript-audio-codec==1.0.0",
    "bigvgan==2.4.1",
    "vocos==0.1.0",
    "kokoro==0.9.4",
    "styletts2==0.1.6",
    "speechbrain==1.1.2",
    "TTS==0.22.0",
    "snac==1.2.1",
    "espnet==202511",
    "nemo-toolkit==3.0.0",
    "peft==0.21.2",
    "lightly==1.6.0",
    "kornia==0.9.0",
    "stable-audio-tools==0.0.19",
    "braindecode==1.8.1",
    "chatterbox-tts==0.1.7",
    "timm==1.0.31",
    "mmpretrain==1.2.0",
)


def unpack(target: Path) -> int:
    """Each pinned wheel unpacked under ``target/<name>``; the number of
    Python files there."""
    target.mkdir(parents=True, exist_ok=True)
    for spec in PINNED:
        name = spec.split("==")[0]
        if (target / name).is_dir():
            continue
        with tempfile.TemporaryDirectory() as tmp:
            pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
            subprocess.run([*pip, "--only-binary=:all:", spec, "-d", tmp], check=True)
            (wheel,) = Path(tmp).glob("*.whl")
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(target / name)
    return sum(1 for _ in target.rglob("*.py"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args()
    print(f"{args.directory}: {unpack(args.directory)} .py files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
