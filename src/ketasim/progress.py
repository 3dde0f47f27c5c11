"""Progress bars on standard error for steps that take more than a moment.

A bar is drawn only when standard error is a terminal, and only once its outermost bar has been running
for :data:`DELAY_S` seconds, so quick commands and redirected output stay clean. Standard output is never
written to, so ``--json`` documents are unaffected. The environment variable ``KETASIM_PROGRESS``
overrides the terminal check: ``0`` (or ``false``, ``no``, ``off``) turns bars off, ``1`` (or ``true``,
``yes``, ``on``) draws them on any standard error at once (no delay), e.g. into a log file.

Bars nest: a bar opened while another is running is drawn on the same line after it
(``report 2/6 > trial arms 1/3``), so library code can report its loops without knowing its caller.
While a visible bar is open a daemon thread redraws the line twice a second, so the elapsed time keeps
moving through a long step.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

ENV = "KETASIM_PROGRESS"
DELAY_S = 1.5  # draw nothing for steps shorter than this
MIN_INTERVAL_S = 0.2  # at most five redraws a second
TICK_S = 0.5  # a background redraw keeps the clock moving through long steps
WIDTH = 20  # characters of the bar itself
OFF = {"0", "false", "no", "off"}
ON = {"1", "true", "yes", "on"}

T = TypeVar("T")

_stack: list[Bar] = []
_state = {"drawn": 0, "last": 0.0}  # characters on the current stderr line; time of the last draw
_lock = threading.RLock()
_ticker: list[threading.Thread] = []


def setting() -> str | None:
    """``"off"``, ``"on"`` or None (decide by the terminal check) from ``KETASIM_PROGRESS``."""
    value = os.environ.get(ENV, "").strip().lower()
    if value in OFF:
        return "off"
    if value in ON:
        return "on"
    return None


def enabled(stream: TextIO | None = None) -> bool:
    """Whether bars are drawn on ``stream`` (default standard error)."""
    mode = setting()
    if mode is not None:
        return mode == "on"
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}:{s:02d}"


class Bar:
    """A counter towards ``total`` with a label; use as a context manager (or call :meth:`close`)."""

    def __init__(self, total: int | None, desc: str, unit: str = "") -> None:
        self.total = None if total is None else max(int(total), 0)
        self.desc = desc
        self.unit = unit
        self.done = 0
        self.started = time.monotonic()
        self.closed = False
        self.show = enabled()
        self.delay = 0.0 if setting() == "on" else DELAY_S
        with _lock:
            _stack.append(self)
            if len(_stack) == 1:
                _state["last"] = 0.0  # a new line: its first draw is not rate-limited
            _draw()
            if _stack[0].show and not any(t.is_alive() for t in _ticker):
                _ticker[:] = [threading.Thread(target=_tick, name="ketasim-progress", daemon=True)]
                _ticker[0].start()

    def label(self) -> str:
        """This bar's part of the line, e.g. ``trial arms [######------] 2/3``."""
        unit = f" {self.unit}" if self.unit else ""
        if not self.total:
            return f"{self.desc} {self.done}{unit}"
        filled = int(WIDTH * min(self.done, self.total) / self.total)
        return f"{self.desc} [{'#' * filled}{'-' * (WIDTH - filled)}] {self.done}/{self.total}{unit}"

    def update(self, n: int = 1) -> None:
        """Count ``n`` more steps done and redraw (at most every :data:`MIN_INTERVAL_S`)."""
        with _lock:
            self.done += n
            _draw(force=self.total is not None and self.done >= self.total)

    def close(self) -> None:
        """Remove this bar; the outermost bar ends its line."""
        with _lock:
            if self.closed:
                return
            self.closed = True
            _draw(force=True)
            if self in _stack:
                _stack.remove(self)
            if not _stack and _state["drawn"]:
                _write("\n")
                _state["drawn"] = 0

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):  # closed or broken standard error: progress is optional
        pass


def _draw(force: bool = False) -> None:
    if not _stack or not _stack[0].show:
        return
    now = time.monotonic()
    outer = _stack[0]
    if now - outer.started < outer.delay:
        return
    if not force and now - _state["last"] < MIN_INTERVAL_S:
        return
    _state["last"] = now
    text = " > ".join(b.label() for b in _stack) + f"  {_clock(now - outer.started)}"
    pad = max(_state["drawn"] - len(text), 0)
    _write("\r" + text + " " * pad)
    _state["drawn"] = len(text)


def _tick() -> None:
    """Redraw every :data:`TICK_S` while a bar is open (the elapsed time moves during long steps)."""
    while True:
        time.sleep(TICK_S)
        with _lock:
            if not _stack:
                return
            _draw()


def note(text: str) -> None:
    """Print a message line on standard error without tearing an open bar (the bar is redrawn below)."""
    with _lock:
        if _state["drawn"]:
            _write("\r" + " " * _state["drawn"] + "\r")
            _state["drawn"] = 0
        _write(text + "\n")
        _draw(force=True)


def bar(total: int | None, desc: str, unit: str = "") -> Bar:
    """A progress bar of ``total`` steps (None: an open-ended counter) labelled ``desc``."""
    return Bar(total, desc, unit)


def track(items: Iterable[T], desc: str, total: int | None = None, unit: str = "") -> Iterator[T]:
    """Yield ``items`` while counting them on a bar (``total`` defaults to ``len(items)``)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Bar(total, desc, unit) as b:
        for item in items:
            yield item
            b.update()
