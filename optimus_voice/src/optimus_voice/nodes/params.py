"""Node parameters: declared with a description, a range or a set of choices, and when a change may take effect.

- RUN: takes effect at once (`ros2 param set` while the node runs).
- CONFIGURE: read when the node is configured; a change is refused while the node is active (deactivate and clean
  it up, set it, configure again).
- READ_ONLY: set once, by the launch file or a parameter file (paths of models and files).
A value outside its range or choices, or not a finite number, is refused with the reason, whatever the state.
"""

from __future__ import annotations

import math
import os
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

RUN, CONFIGURE, READ_ONLY = "run", "configure", "read_only"


@dataclass(frozen=True)
class Param:
    name: str
    default: bool | int | float | str | list
    description: str
    low: float | None = None        # inclusive range of a number
    high: float | None = None
    choices: tuple = ()
    when: str = RUN
    check: Callable[[object], str | None] | None = None  # why a value of the right type cannot work (a geometry)

    def descriptor(self) -> ParameterDescriptor:
        d = ParameterDescriptor(description=self.description, read_only=self.when == READ_ONLY)
        notes = []
        if self.choices:
            notes.append("one of " + ", ".join(map(str, self.choices)))
        if self.when == CONFIGURE:
            notes.append("takes effect at configure; refused while active")
        d.additional_constraints = "; ".join(notes)
        if self.low is not None and self.high is not None:
            if isinstance(self.default, float):
                d.floating_point_range = [FloatingPointRange(from_value=float(self.low), to_value=float(self.high))]
            elif isinstance(self.default, int) and not isinstance(self.default, bool):
                d.integer_range = [IntegerRange(from_value=int(self.low), to_value=int(self.high), step=1)]
        return d

    def coerced(self, value):
        """`value` as this parameter's type, where a command line or YAML typed the same meaning another way, or None
        when it needs no change: an integer for a float (`ros2 param set /asr end_silence_ms 300`, `rate: 20`),
        integers for a list of floats (`[0, 1, 0]` metres), a bare off/on, which YAML reads as a boolean, for that
        choice of a string parameter (`echo_cancel:=off`)."""
        if isinstance(self.default, float) and type(value) is int:
            return float(value)
        if isinstance(self.default, list) and self.default and isinstance(self.default[0], float) \
                and isinstance(value, list | tuple | array) and len(value) and all(type(v) is int for v in value):
            return [float(v) for v in value]
        if isinstance(self.default, str) and type(value) is bool and ("on" if value else "off") in self.choices:
            return "on" if value else "off"
        return None

    def invalid(self, value) -> str | None:
        """Why `value` can never be this parameter's value (type, range, choices), or None."""
        value = _plain(value)
        if type(value) is not type(self.default):
            hint = " (YAML reads a bare off/on/yes/no as a boolean: quote it)" if type(value) is bool else ""
            return f"{self.name} must be a {type(self.default).__name__}, not {value!r}{hint}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"{self.name} must be a finite number, not {value}"
        if self.low is not None and isinstance(value, int | float) and not isinstance(value, bool) \
                and not self.low <= value <= self.high:
            return f"{self.name} out of range [{self.low:g}, {self.high:g}]: {value}"
        if self.choices and value not in self.choices:
            return f"{self.name} must be one of {', '.join(map(str, self.choices))}, not {value!r}"
        if isinstance(value, list) and self.default:
            kind = type(self.default[0])
            if any(type(v) is not kind or (kind is float and not math.isfinite(v)) for v in value):
                finite = "finite " if kind is float else ""
                return f"{self.name} must be a list of {finite}{kind.__name__}s, not {value!r}"
        if self.check is not None and (why := self.check(value)):
            return why if why.startswith(self.name) else f"{self.name}: {why}"
        return None

    def refused(self, value, active: bool, current=None) -> str | None:
        """Why `value` cannot be set now (`ros2 param set`), or None. A configure-time setting may be set to the
        value it has (`current`) while active: `ros2 param load` of a `ros2 param dump` changes nothing."""
        if self.when == READ_ONLY:
            return f"{self.name} is read-only: set it in the launch file or a parameter file"
        if self.when == CONFIGURE and active and not _same(value, current):
            return f"{self.name} takes effect at configure: refused while the node is active"
        return self.invalid(value)


def _plain(value):
    """A parameter value with its array as a list: a parameter message's arrays arrive as array.array."""
    return list(value) if isinstance(value, array | tuple) else value


def _same(a, b) -> bool:
    """Whether two parameter values are one value."""
    a, b = _plain(a), _plain(b)
    return type(a) is type(b) and a == b


def default_intents_path() -> str:
    """The package's intents file: the dialogue's replies (and what the TTS synthesizes ahead of them)."""
    from ament_index_python.packages import get_package_share_directory

    return os.path.join(get_package_share_directory("optimus_voice"), "config", "intents.yaml")
