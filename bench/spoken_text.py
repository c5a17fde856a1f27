"""What the voice is told to say for written replies: phonemes against a person's reading, with and without
`speaking/spoken_text.py`'s rewriting.

    .venv/bin/python bench/spoken_text.py [--pairs bench/data/spoken_text.tsv] [--name spoken_text]

Each line of the pairs file is a written reply and, by hand, what a person reading it aloud would say. Both are
phonemized by the Piper voice itself (espeak-ng's rules, as Piper speaks them); the phoneme error rate is the edit
distance of the written reply's phonemes (as is, or rewritten) to the reading's, over the reading's phonemes,
stress marks left out. Also the first piece's synthesis time (median of 3) with and without the rewriting: times
and dates said in fewer words make shorter first pieces. Writes bench/results/<name>.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write
from optimus_voice.tools.textnorm import edit_distance

STRESS = {"ˈ", "ˌ"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=Path, default=Path(__file__).parent / "data" / "spoken_text.tsv")
    parser.add_argument("--name", default="spoken_text", help="results file: bench/results/NAME.json")
    ns = parser.parse_args()

    from optimus_voice.speaking import tts
    from optimus_voice.speaking.spoken_text import speakable

    lines = [line.split("\t") for line in ns.pairs.read_text().splitlines() if line and not line.startswith("# ")]
    pairs = [(written.replace("\\n", "\n"), said) for written, said in lines]
    synth = tts.Synthesizer()

    def phonemes(text: str) -> list[str]:
        return [p for sentence in synth.voice.phonemize(tts.clean_text(text)) for p in sentence if p not in STRESS]

    def first_piece_ms(text: str) -> float:
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            next(synth.synthesize(text), None)
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)

    rows, totals = [], {"as_written": 0, "rewritten": 0, "reference": 0}
    for written, said in pairs:
        reference = phonemes(said)
        row = {"written": written, "said": said, "rewritten": speakable(tts.clean_text(written)),
               "reference_phonemes": len(reference)}
        for mode, text in (("as_written", written), ("rewritten", row["rewritten"])):
            row[f"{mode}_errors"] = edit_distance(reference, phonemes(text))
            totals[mode] += row[f"{mode}_errors"]
        totals["reference"] += len(reference)
        rows.append(row)
    synth.cache = None  # every piece synthesized, none taken from the cache
    speakable_now = tts.speakable
    timing = {}
    for mode, rewrite in (("as_written", lambda text: text), ("rewritten", speakable_now)):
        tts.speakable = rewrite
        timing[mode] = [first_piece_ms(written) for written, _ in pairs]
    tts.speakable = speakable_now
    for row, a, b in zip(rows, timing["as_written"], timing["rewritten"], strict=True):
        row["first_piece_ms"] = {"as_written": round(a, 1), "rewritten": round(b, 1)}
        mark = " " if row["rewritten_errors"] == 0 else "!"
        print(f"{mark} {row['as_written_errors']:3d} -> {row['rewritten_errors']:3d} phoneme errors, first piece "
              f"{a:6.1f} -> {b:6.1f} ms  {row['written']!r}")
    result = {
        "machine": machine(), "pairs": len(rows), "reference_phonemes": totals["reference"],
        "phoneme_error_rate": {mode: round(100 * totals[mode] / totals["reference"], 2)
                               for mode in ("as_written", "rewritten")},
        "read_exactly": {mode: sum(r[f"{mode}_errors"] == 0 for r in rows) for mode in ("as_written", "rewritten")},
        "first_piece_ms_median": {mode: round(statistics.median(v), 1) for mode, v in timing.items()},
        "first_piece_ms_max": {mode: round(max(v), 1) for mode, v in timing.items()},
        "rows": rows,
    }
    print(f"phoneme error rate: as written {result['phoneme_error_rate']['as_written']}%, rewritten "
          f"{result['phoneme_error_rate']['rewritten']}%; read exactly {result['read_exactly']['as_written']} -> "
          f"{result['read_exactly']['rewritten']} of {len(rows)}; first piece median "
          f"{result['first_piece_ms_median']['as_written']} -> {result['first_piece_ms_median']['rewritten']} ms")
    print(f"wrote {write(ns.name, result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
