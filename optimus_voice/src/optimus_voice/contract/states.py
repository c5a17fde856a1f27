"""The dialogue's floor states, as plain Python (engines use them without the message package)."""

from __future__ import annotations

from enum import IntEnum


class State(IntEnum):
    """Same values as optimus_voice_msgs/DialogueState."""

    IDLE = 0
    LISTENING = 1
    THINKING = 2
    SPEAKING = 3
