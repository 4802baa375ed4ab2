"""Map an export failure to the user's source line.

Sources, as measured in the research notes (pytorch-hazards §4, tensorflow-hazards §8): traceback frames
inside the project (over the ``__cause__`` / ``__context__`` chain), ``File "...", line N`` blocks that
torch.export, TorchScript, AutoGraph and TensorFlow runtime errors embed in their messages, TorchScript
interpreter frames ``path(N): fn``, the legacy ONNX exporter's ``# path:N:0`` graph comments, ``faulthandler``
dumps of a crashed or hung child, and TracerWarning ``filename`` / ``lineno``. No framework import here:
the parent uses it on log text too.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import traceback
import warnings
from types import FrameType
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Sequence, TextIO, Tuple, Type, Union

Location = Tuple[str, int]

FILE_LINE = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')
TORCHSCRIPT_FRAME = re.compile(r"^\s*(?P<file>[^\s()]+\.py)\((?P<line>\d+)\): \S+", re.M)
IR_COMMENT = re.compile(r"# (?P<file>[^\s#]+\.py):(?P<line>\d+):\d+")

#: Phrases after which a message lists the user's own frames (so they beat the traceback, which then
#: only shows the call site).
_STRONG_MARKERS = (
    "in user code:",
    "from user code:",
    "The following call raised this error",
    "Detected at node",
    "<--- HERE",
    "Traceback of TorchScript",
)


@dataclass
class Located:
    """A primary user location, the user frames around it, and how it was found."""

    location: Optional[Location] = None
    stack: List[Location] = field(default_factory=list)
    how: str = ""

    def __bool__(self) -> bool:
        return self.location is not None


class UserFiles:
    """Decides which files are the user's: under the project root, outside installed packages and mllint."""

    def __init__(self, root: Path, exclude: Sequence[Path] = ()) -> None:
        self.root = Path(os.path.realpath(root))
        self.exclude = [Path(os.path.realpath(p)) for p in exclude]
        self.exclude.append(Path(os.path.realpath(Path(__file__).resolve().parents[1])))  # mllint itself
        self._cache: dict = {}

    def resolve(self, filename: str) -> Optional[Path]:
        if not filename or filename.startswith("<"):
            return None
        path = Path(filename)
        if not path.is_absolute():
            path = self.root / path
        return Path(os.path.realpath(path))

    def is_user(self, filename: str) -> bool:
        if filename in self._cache:
            return self._cache[filename]
        ok = False
        path = self.resolve(filename)
        if path is not None and path.suffix == ".py" and (path == self.root or self.root in path.parents):
            parts = set(path.relative_to(self.root).parts)
            ok = not (parts & {"site-packages", "dist-packages", "__pycache__"}) and not any(
                ex == path or ex in path.parents for ex in self.exclude
            ) and "__autograph_generated_file" not in path.name
        self._cache[filename] = ok
        return ok

    def rel(self, filename: str) -> str:
        path = self.resolve(filename)
        assert path is not None
        return path.relative_to(self.root).as_posix()

    def loc(self, filename: str, line: int) -> Optional[Location]:
        return (self.rel(filename), int(line)) if self.is_user(filename) and line > 0 else None


def exception_chain(exc: BaseException) -> List[BaseException]:
    """``exc`` then its causes (``__cause__``, else ``__context__``), outermost first, without cycles."""
    out: List[BaseException] = []
    seen = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def _dedupe(items: Iterable[Location]) -> List[Location]:
    out: List[Location] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def frames_in_text(text: str, files: UserFiles) -> Tuple[List[Location], bool]:
    """User frames named in a message, innermost last, and whether a strong marker vouches for them."""
    innermost_first = "<--- HERE" in text and "Traceback of TorchScript" not in text
    found: List[Tuple[int, Location]] = []
    for regex in (FILE_LINE, TORCHSCRIPT_FRAME, IR_COMMENT):
        for m in regex.finditer(text):
            loc = files.loc(m.group("file"), int(m.group("line")))
            if loc:
                found.append((m.start(), loc))
    ordered = [loc for _, loc in sorted(found)]
    if innermost_first:
        ordered.reverse()
    strong = any(marker in text for marker in _STRONG_MARKERS)
    return _dedupe(ordered), strong


def frames_in_traceback(exc: BaseException, files: UserFiles) -> List[Location]:
    """User frames of one exception's traceback, outermost first."""
    out: List[Location] = []
    for frame in traceback.extract_tb(exc.__traceback__):
        loc = files.loc(frame.filename, frame.lineno or 0)
        if loc:
            out.append(loc)
    return out


def locate_exception(exc: BaseException, files: UserFiles) -> Located:
    """The user line an exception points to, preferring message blocks that frameworks vouch for."""
    chain = exception_chain(exc)
    strong: List[Location] = []
    weak: List[Location] = []
    for item in chain:
        if isinstance(item, SyntaxError) and item.filename and item.lineno:
            loc = files.loc(item.filename, item.lineno)
            if loc:
                return Located(loc, [loc], "syntax error")
        found, vouched = frames_in_text(str(item), files)
        (strong if vouched else weak).extend(found)
    tb_stack: List[Location] = []
    tb_primary: Optional[Location] = None
    for item in chain:
        frames = frames_in_traceback(item, files)
        if frames:
            tb_stack = _dedupe(tb_stack + frames)
            tb_primary = frames[-1]  # the deepest exception in the chain with user frames wins
    if strong:
        strong = _dedupe(strong)
        return Located(strong[-1], _dedupe(tb_stack + strong), "message")
    if tb_primary is not None:
        return Located(tb_primary, _dedupe(tb_stack + [tb_primary]), "traceback")
    if weak:
        weak = _dedupe(weak)
        return Located(weak[-1], weak, "message")
    return Located()


def locate_text(text: str, files: UserFiles, how: str) -> Located:
    """The innermost user frame named in free text (a node stack trace, a captured log)."""
    frames, _ = frames_in_text(text, files)
    return Located(frames[-1], frames, how) if frames else Located()


def faulthandler_frames(log: str, files: UserFiles) -> Located:
    """User frames of the main thread in a ``faulthandler`` dump (it prints the most recent call first)."""
    blocks = re.split(r"\n(?=(?:Current thread|Thread) 0x)", log)
    dumps = [b for b in blocks if re.match(r"(?:Current thread|Thread) 0x", b.lstrip())]
    if not dumps:
        return Located()
    # The thread running Python user code: the current thread of the last dump, else any with user frames.
    last = [b for b in dumps if b.lstrip().startswith("Current thread")] or dumps
    for block in reversed(last + dumps):
        frames = []
        for m in FILE_LINE.finditer(block):
            loc = files.loc(m.group("file"), int(m.group("line")))
            if loc:
                frames.append(loc)
        if frames:
            frames = _dedupe(frames)
            frames.reverse()  # outermost first, like the others
            return Located(frames[-1], frames, "faulthandler")
    return Located()


@contextlib.contextmanager
def recorded_user_warnings(files: UserFiles, category: str = "") -> Iterator[List[Tuple[str, int, str]]]:
    """Record warnings (all of them, each time) as (path, line, first message line) in user files.

    A warning raised inside a framework's own code on behalf of the user's call (``nn.LSTM`` and
    ``nn.EmbeddingBag`` warn from torch/nn/modules) is attributed to the innermost user frame of the stack
    it was raised from, which only exists while the warning is shown: so it is read there."""
    found: List[Tuple[str, int, str]] = []
    wanted = category

    # the parameter names are those of ``warnings.showwarning``, which this replaces
    def show(message: Union[Warning, str], category: Type[Warning], filename: str, lineno: int,
             file: Optional[TextIO] = None, line: Optional[str] = None) -> None:
        if wanted and getattr(category, "__name__", "") != wanted:
            return
        loc = files.loc(str(filename), int(lineno or 0))
        frame: Optional[FrameType] = sys._getframe(1)
        while loc is None and frame is not None:
            loc = files.loc(frame.f_code.co_filename, frame.f_lineno)
            frame = frame.f_back
        if loc is not None:
            text = str(message).strip().splitlines()
            item = (loc[0], loc[1], text[0] if text else getattr(category, "__name__", ""))
            if item not in found:
                found.append(item)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        yield found


def iter_user_frames(stack_text: str, files: UserFiles) -> Iterator[Location]:
    for m in FILE_LINE.finditer(stack_text or ""):
        loc = files.loc(m.group("file"), int(m.group("line")))
        if loc:
            yield loc
