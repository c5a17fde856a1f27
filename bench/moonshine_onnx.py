"""Moonshine base rewritten for onnxruntime in variants, for `bench/asr_models.py --moonshine-onnx NAME=OUT`.

    .venv/bin/python bench/moonshine_onnx.py --package DIR --to OUT [--int8 encoder] [--int8 decoder] [--per-channel]

The recognizer (`hearing/moonshine.py`) rewrites the `moonshine-cpp` wheel's model once into its cache, with both
parts int8 per channel; this writes the other variants it was chosen from (no `--int8`: every weight unpacked to
float once, the shipped model's arithmetic). DIR is the folder holding the `moonshine_cpp` package.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from optimus_voice.hearing.moonshine_export import export


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", type=Path, required=True, help="the folder holding the moonshine_cpp package")
    parser.add_argument("--to", type=Path, required=True)
    parser.add_argument("--int8", action="append", default=[], choices=("encoder", "decoder"),
                        help="quantize this part's matmuls dynamically")
    parser.add_argument("--per-channel", action="store_true", help="int8 weights per output channel")
    ns = parser.parse_args()
    export(ns.package / "moonshine_cpp" / "models" / "base-en", ns.to, tuple(ns.int8), ns.per_channel)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
