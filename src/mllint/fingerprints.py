"""GitHub code scanning's ``primaryLocationLineHash``: a rolling hash of each line and its neighbours.

The same algorithm as GitHub's upload action computes for results that carry no fingerprint, so the
alerts it shows keep their identity when unrelated lines move. Checked against GitHub's own values
(tests/data/sarif/fingerprints). The text is read as UTF-16 code units, spaces and tabs are ignored,
CR and CRLF count as LF, and each line's hash covers a window of 100 characters from its start.
"""

from __future__ import annotations

from typing import Dict, List

_MASK = (1 << 64) - 1
_BLOCK = 100
_MOD = 37
_EOF = 0xFFFF


def line_hashes(text: str) -> Dict[int, str]:
    """1-based line number -> ``"<hex hash>:<occurrence>"`` for every line, plus one past the end."""
    first_mod = pow(_MOD, _BLOCK, 1 << 64)
    window: List[int] = [0] * _BLOCK
    line_numbers: List[int] = [-1] * _BLOCK
    counts: Dict[str, int] = {}
    out: Dict[int, str] = {}
    state = {"hash": 0, "index": 0, "line": 0, "line_start": True, "prev_cr": False}

    def output() -> None:
        value = format(state["hash"], "x")
        counts[value] = counts.get(value, 0) + 1
        out[line_numbers[state["index"]]] = f"{value}:{counts[value]}"
        line_numbers[state["index"]] = -1

    def update(current: int) -> None:
        index = state["index"]
        begin = window[index]
        window[index] = current
        state["hash"] = (_MOD * state["hash"] + current - first_mod * begin) & _MASK
        state["index"] = (index + 1) % _BLOCK

    def process(current: int) -> None:
        if current in (0x20, 0x09) or (state["prev_cr"] and current == 0x0A):
            state["prev_cr"] = False
            return
        if current == 0x0D:
            current = 0x0A
            state["prev_cr"] = True
        else:
            state["prev_cr"] = False
        if line_numbers[state["index"]] != -1:
            output()
        if state["line_start"]:
            state["line_start"] = False
            state["line"] += 1
            line_numbers[state["index"]] = state["line"]
        if current == 0x0A:
            state["line_start"] = True
        update(current)

    units = text.encode("utf-16-le", "surrogatepass")
    for i in range(0, len(units), 2):
        process(units[i] | (units[i + 1] << 8))
    process(_EOF)
    for _ in range(_BLOCK):
        if line_numbers[state["index"]] != -1:
            output()
        update(0)
    return out
