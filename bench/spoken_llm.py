"""How often the local language model's spoken replies hold what the voice would read wrong as written.

    .venv/bin/python bench/spoken_llm.py [--questions bench/data/llm_questions.txt] [--model PATH] [--name spoken_llm]

Starts the packaged local model (`deciding/llm_server.py`, as `--llm local` does), asks each question with the
dialogue's system prompt, cuts the streamed answer into pieces as the dialogue does (`deciding/llm.sentences`),
and counts the pieces that `speaking/spoken_text.speakable` changes: what Piper would otherwise have read as
written. Prints each changed piece; writes bench/results/<name>.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=Path(__file__).parent / "data" / "llm_questions.txt")
    parser.add_argument("--model", default="", help="a GGUF file; default: the packaged one")
    parser.add_argument("--name", default="spoken_llm", help="results file: bench/results/NAME.json")
    ns = parser.parse_args()

    from optimus_voice.deciding.llm import SYSTEM_PROMPT, ChatStream, LlmConfig, sentences
    from optimus_voice.deciding.llm_server import LocalLlmServer, ServerConfig, model_file
    from optimus_voice.speaking.spoken_text import speakable
    from optimus_voice.speaking.tts import clean_text

    questions = [q for q in ns.questions.read_text().splitlines() if q.strip() and not q.startswith("#")]
    server = LocalLlmServer(ServerConfig(model_path=ns.model, port=0))
    rows = []
    try:
        stream = ChatStream(LlmConfig(server.url, timeout_s=30.0, deadline_s=60.0))
        for question in questions:
            messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]
            pieces = list(sentences(stream.deltas(messages)))
            said = [speakable(clean_text(p)) for p in pieces]
            changed = [(p, s) for p, s in zip(pieces, said, strict=True) if s != " ".join(p.split())]
            rows.append({"question": question, "pieces": pieces, "changed": changed})
            for piece, spoken in changed:
                print(f"{piece!r}\n    -> {spoken!r}")
    finally:
        server.close()
    n_pieces = sum(len(r["pieces"]) for r in rows)
    n_changed = sum(len(r["changed"]) for r in rows)
    result = {"machine": machine(), "model": model_file(ns.model).name, "questions": len(rows), "pieces": n_pieces,
              "pieces_changed": n_changed, "answers_with_a_changed_piece": sum(bool(r["changed"]) for r in rows),
              "rows": rows}
    print(f"{n_changed} of {n_pieces} pieces changed, in {result['answers_with_a_changed_piece']} of {len(rows)} "
          f"answers ({result['model']})")
    print(f"wrote {write(ns.name, result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
