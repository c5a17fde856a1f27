"""The conversation `make demo` plays into the microphone: varied turns with the pauses a person leaves, one of
them spoken over the robot. A recording where one exists (Common Voice, CC0); the stand-in user's voice
(espeak-ng, not the robot's) for the rest, and the demo says which is which."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from optimus_voice.contract.audio import SAMPLE_RATE

DATA = Path(__file__).resolve().parents[3] / "test" / "data"  # the source tree (a symlink install finds it)


@dataclass(frozen=True)
class Turn:
    text: str
    pause_s: float           # silence after it: the robot answers meanwhile
    recording: str = ""      # a clip of test/data, else synthesized
    over_robot: bool = False  # said while the robot still speaks (a barge-in)


TURNS = (
    Turn("Hello there!", 3.5),
    Turn("My name is Anna.", 4.0),
    Turn("What can you do?", 1.8),
    Turn("Please speak a lot louder.", 3.5, over_robot=True),
    Turn("I feel sad and lonely today.", 5.0),
    Turn("What did he look like?", 6.0, recording="cv_what_did_he_look_like.wav"),
    Turn("Say that again.", 5.0),
    Turn("Goodbye!", 3.5),
)


def conversation(turns: tuple[Turn, ...] = TURNS) -> tuple[np.ndarray, list[str]]:
    """The microphone audio of the conversation, and a line per turn saying what it is and where it comes from."""
    from optimus_voice.audio_io.sources import load_audio
    from optimus_voice.tools.user_voice import USER_VOICE, speak_as_user

    parts, lines = [np.zeros(SAMPLE_RATE, np.float32)], []
    for turn in turns:
        if turn.recording and (DATA / turn.recording).exists():
            speech = load_audio(DATA / turn.recording)
            origin = f"recording ({turn.recording}, Common Voice, CC0)"
        else:
            speech = speak_as_user(turn.text)
            origin = f"synthesized (espeak-ng {USER_VOICE}, not the robot's voice)"
        parts += [speech, np.zeros(int(turn.pause_s * SAMPLE_RATE), np.float32)]
        lines.append(f"{turn.text!r}: {origin}{', over the robot' if turn.over_robot else ''}")
    return np.concatenate(parts), lines


def write(path: str | Path) -> list[str]:
    import soundfile as sf

    audio, lines = conversation()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, SAMPLE_RATE, subtype="PCM_16")
    return lines
