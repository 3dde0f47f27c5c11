"""Where chunks of work run: in this process, in local worker processes, or on a Dask cluster.

``map_chunks(func, items)`` returns ``func(item)`` for every item, in the order of ``items``,
whatever ran them. ``func`` must be a module-level function (it is pickled to reach other
processes) and its result must depend only on its item, so every backend gives identical results.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from ketasim.errors import KetasimError


def default_workers() -> int:
    """Local worker processes: one per core (at least 1)."""
    return max(1, os.cpu_count() or 1)


def map_chunks(
    func: Callable[[Any], Any],
    items: Iterable[Any],
    scheduler: str | None = None,
    workers: int | None = None,
) -> Iterator[Any]:
    """Yield ``func(item)`` for each item in order.

    ``scheduler`` is the address of a Dask scheduler (``tcp://host:8786``) or a
    ``distributed.Client``; without it the items run in ``workers`` local processes (1: in this
    process, which is what tests and small runs use)."""
    items = list(items)
    if scheduler is not None:
        yield from _dask_map(func, items, scheduler)
        return
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise KetasimError(f"workers must be at least 1, got {workers}", argument="--workers")
    if workers == 1 or len(items) <= 1:
        for item in items:
            yield func(item)
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(items))) as pool:
        yield from pool.map(func, items)


def _dask_map(func: Callable[[Any], Any], items: list[Any], scheduler: Any) -> Iterator[Any]:
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - dask[distributed] is a dependency
        raise KetasimError(
            "Dask distributed is not installed", argument="--scheduler", fix="pip install 'dask[distributed]'"
        ) from None
    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler, timeout="20s") if own else scheduler
    except (OSError, TimeoutError) as exc:
        raise KetasimError(
            f"cannot reach the Dask scheduler at {scheduler} ({exc})",
            argument="--scheduler",
            fix="give the address printed by 'dask scheduler', e.g. tcp://127.0.0.1:8786",
        ) from None
    try:
        futures = client.map(func, items, pure=False)
        for fut in futures:  # in submission order
            yield fut.result()
    finally:
        if own:
            client.close()
