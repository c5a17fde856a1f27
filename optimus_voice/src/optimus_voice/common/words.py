"""How every stage reads the words of what was said: lower case, letters and apostrophes."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z']+")


def words(text: str) -> list[str]:
    """The lower-case words of `text` ("Don't stop!" -> ["don't", "stop"])."""
    return _WORD.findall(text.lower())


def cap(text: str, limit: int) -> str:
    """Cut text to `limit` characters at the last sentence end (or word) before it."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = max(head.rfind(". "), head.rfind("! "), head.rfind("? "))
    return head[:cut + 1] if cut > 0 else head.rsplit(" ", 1)[0]
