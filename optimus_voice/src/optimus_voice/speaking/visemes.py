"""Phonemes (espeak-ng IPA, as Piper speaks them) -> mouth shapes for lip-sync (no rclpy).

The viseme set is the common 15-shape one (Oculus/Meta lip-sync, also used by Azure and many face rigs):
sil PP FF TH DD kk CH SS nn RR aa E I O U. Stress and length marks carry no shape of their own: their samples
go to the phoneme before them. Consecutive phonemes with the same shape become one viseme.
"""

from __future__ import annotations

from dataclasses import dataclass

VISEMES = ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U")

_GROUPS = {
    "PP": "pbm", "FF": "fv", "TH": "θð", "DD": "tdɾ", "kk": "kgŋxɡ", "CH": "ʃʒ", "SS": "sz", "nn": "nlɫ",
    "RR": "rɹɚɝ", "aa": "aɑæʌɐ", "E": "eɛəɜh", "I": "iɪjɨ", "O": "oɔɒ", "U": "uʊwɵ",
}
PHONEME_TO_VISEME = {ph: viseme for viseme, chars in _GROUPS.items() for ph in chars}
MODIFIERS = set("ˈˌːˑ̃ʰ")  # stress, length, nasal and aspiration marks


@dataclass
class VisemeSpan:
    viseme: str
    phonemes: str
    start: int      # first sample, relative to the audio it belongs to
    samples: int


def to_visemes(alignments: list[tuple[str, int]]) -> list[VisemeSpan]:
    """(phoneme, number of samples) in order -> merged viseme spans covering the same samples."""
    spans: list[VisemeSpan] = []
    position = 0
    for phoneme, samples in alignments:
        samples = int(samples)
        if phoneme in MODIFIERS and spans:
            spans[-1].samples += samples
            spans[-1].phonemes += phoneme
        else:
            viseme = PHONEME_TO_VISEME.get(phoneme, "sil")  # pauses, punctuation, BOS/EOS
            if spans and spans[-1].viseme == viseme:
                spans[-1].samples += samples
                spans[-1].phonemes += phoneme
            else:
                spans.append(VisemeSpan(viseme, phoneme, position, samples))
        position += samples
    return spans
