"""fpops.platform.lsn_to_int: a PostgreSQL LSN ("16/B374D848") as an integer, to compare two."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def lsn_to_int(lsn: str) -> int:
    high, _, low = str(lsn).strip().partition("/")
    if not low:
        raise ValueError(f"not a PostgreSQL LSN: {lsn!r}")
    return (int(high, 16) << 32) + int(low, 16)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"lsn_to_int": lsn_to_int}
