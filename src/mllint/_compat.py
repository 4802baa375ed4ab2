"""Switches that depend on the Python version."""

from __future__ import annotations

import sys
from typing import Dict

#: ``@dataclass(**SLOTS)``: instances without a ``__dict__``, about half the memory for the many small
#: summary and task objects a monorepo run keeps; only where slotted frozen dataclasses pickle (3.11+),
#: since the cache pickles them.
SLOTS: Dict[str, bool] = {"slots": True} if sys.version_info >= (3, 11) else {}
