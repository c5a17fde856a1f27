"""Resolve "package/msg/Type" strings of optimus_voice.contract.topics to message classes."""

from __future__ import annotations

import importlib
from functools import cache


@cache
def message_class(type_name: str) -> type:
    package, kind, name = type_name.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)
