"""How every stage reads the words of what was said: lower case, letters and apostrophes."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z']+")


def words(text: str) -> list[str]:
    """The lower-case words of `text` ("Don't stop!" -> ["don't", "stop"])."""
    return _WORD.findall(text.lower())
