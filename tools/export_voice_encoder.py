"""Export Resemblyzer's GE2E speaker encoder (Apache-2.0) to ONNX, and check our numpy front end against it.

    pip install torch==2.13.0 && pip install --no-deps resemblyzer==0.1.4   # plus librosa for --check
    python tools/export_voice_encoder.py [--out optimus_voice/models/voices] [--check CLIP.wav ...]

The wheel ships only torch weights (`pretrained.pt`, a 3-layer LSTM of 256 units over 40 mel bands, then a
linear layer, ReLU and L2 normalisation). The robot runs the exported graph with onnxruntime, without torch.
`--check` embeds each clip with Resemblyzer itself (librosa mels, torch network) and with ours (numpy mels,
the ONNX graph) and prints the cosine similarity of the two: it should be above 0.99.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "optimus_voice" / "src"))


def export(out: Path) -> Path:
    import torch
    from resemblyzer import VoiceEncoder as Reference

    reference = Reference(device="cpu", verbose=False).eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm, self.linear = reference.lstm, reference.linear

        def forward(self, mels):
            _, (hidden, _) = self.lstm(mels)
            raw = torch.relu(self.linear(hidden[-1]))
            return raw / torch.clamp(torch.norm(raw, dim=1, keepdim=True), min=1e-9)

    out.mkdir(parents=True, exist_ok=True)
    path = out / "ge2e_voice_encoder.onnx"
    torch.onnx.export(Encoder().eval(), torch.zeros(2, 160, 40), path, input_names=["mels"],
                      output_names=["embeddings"], dynamic_axes={"mels": {0: "batch", 1: "frames"},
                                                                 "embeddings": {0: "batch"}},
                      opset_version=17, dynamo=False)
    return path


def check(path: Path, clips: list[str]) -> None:
    import soundfile as sf
    from optimus_voice.hearing.voice_encoder import VoiceEncoder, VoiceEncoderConfig, normalize_volume
    from resemblyzer import VoiceEncoder as Reference

    reference = Reference(device="cpu", verbose=False)
    ours = VoiceEncoder(VoiceEncoderConfig(model_path=str(path)))
    for clip in clips:
        audio, rate = sf.read(clip, dtype="float32")
        assert rate == 16000, f"{clip}: {rate} Hz, 16 kHz expected"
        audio = normalize_volume(audio)  # both at -30 dBFS: Resemblyzer's own level step only raises
        a = reference.embed_utterance(audio, rate=1 / ours.config.step_s, min_coverage=0.5)
        b = ours.embed(audio)
        print(f"{Path(clip).name}: cosine(resemblyzer, ours) = {float(a @ b):.4f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "optimus_voice" / "models" / "voices")
    parser.add_argument("--check", nargs="*", default=[], metavar="CLIP")
    ns = parser.parse_args()
    path = export(ns.out)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if ns.check:
        check(path, ns.check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
