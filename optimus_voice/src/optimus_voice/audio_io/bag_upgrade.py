"""Bags recorded with an older definition of our messages, read as today's (no rclpy).

A field added to a message (`AudioFrame.double_talk`, `VoiceActivity.voice_id`) changes its CDR layout: a bag
recorded before would not decode, or would replay garbage into today's nodes. Each bag carries the definitions it
was recorded with. Where ours differ, its messages are decoded with its own and encoded again with ours: fields
kept by name, a new field at its zero value, a removed field dropped.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def upgrader(msgtype: str, msgdef: str, ours) -> Callable[[bytes], bytes] | None:
    """A function that turns a bag's CDR of `msgtype`, recorded with the definition `msgdef` (ros2msg text, as
    rosbag2 stores it), into CDR of today's definition in the typestore `ours`; None when the two agree, or when
    there is nothing to compare (not one of our types, or no definition stored)."""
    from rosbags.typesys import Stores, TypesysError, get_types_from_msg, get_typestore

    if not msgdef.strip() or msgtype not in ours.fielddefs:
        return None
    types = get_types_from_msg(msgdef, msgtype)
    theirs = get_typestore(Stores.ROS2_JAZZY)  # the standard types a definition may leave out
    try:
        theirs.register(types)
    except TypesysError:  # the bag's standard types differ from Jazzy's (another distribution): its own only
        theirs = get_typestore(Stores.EMPTY)
        theirs.register(types)
    if _same(msgtype, theirs, ours):
        return None

    def upgrade(rawdata: bytes) -> bytes:
        return ours.serialize_cdr(_convert(theirs.deserialize_cdr(rawdata, msgtype), msgtype, theirs, ours), msgtype)

    return upgrade


def _nested(desc) -> str | None:
    """The message type a field holds (itself, or in an array or sequence), if any."""
    from rosbags.typesys.base import Nodetype

    kind, arg = desc
    if kind == Nodetype.NAME:
        return arg
    if kind in (Nodetype.ARRAY, Nodetype.SEQUENCE) and arg[0][0] == Nodetype.NAME:
        return arg[0][1]
    return None


def _same(msgtype: str, theirs, ours) -> bool:
    if theirs.fielddefs.get(msgtype) != ours.fielddefs.get(msgtype):
        return False
    return all(_same(t, theirs, ours) for _, desc in ours.fielddefs[msgtype][1] if (t := _nested(desc)))


def _convert(old, msgtype: str, theirs, ours):
    """`old` (a message of the bag's definition) as a message of ours."""
    had = dict(theirs.fielddefs[msgtype][1])
    values = {}
    for name, desc in ours.fielddefs[msgtype][1]:
        if name not in had or (had[name] != desc and _nested(desc) is None):
            values[name] = _zero(desc, ours)  # new, or a different primitive type: nothing to carry over
            continue
        value = getattr(old, name)
        if (t := _nested(desc)) is not None:  # a message (desc names it), or an array or sequence of them
            value = _convert(value, t, theirs, ours) if desc[1] == t else [_convert(v, t, theirs, ours) for v in value]
        values[name] = value
    return ours.types[msgtype](**values)


def _zero(desc, ours):
    """The zero value of a field: 0, "", False, an empty sequence, a message of zeros."""
    from rosbags.typesys.base import Nodetype

    kind, arg = desc
    if kind == Nodetype.BASE:
        return _zero_base(arg[0])
    if kind == Nodetype.NAME:
        return ours.types[arg](**{n: _zero(d, ours) for n, d in ours.fielddefs[arg][1]})
    inner, size = arg
    if inner[0] == Nodetype.BASE and inner[1][0] not in ("string", "wstring"):
        return np.zeros(size if kind == Nodetype.ARRAY else 0, _DTYPES.get(inner[1][0], inner[1][0]))
    return [_zero(inner, ours) for _ in range(size if kind == Nodetype.ARRAY else 0)]


def _zero_base(typename: str):
    if typename in ("string", "wstring"):
        return ""
    if typename == "bool":
        return False
    return 0.0 if typename.startswith("float") else 0


_DTYPES = {"bool": np.bool_, "byte": np.uint8, "char": np.uint8, "octet": np.uint8}
