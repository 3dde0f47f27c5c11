"""Where chunks of work run: in this process, in local worker processes, or on a Dask cluster.

``map_chunks(func, items)`` returns ``func(item)`` for every item, in the order of ``items``,
whatever ran them. ``func`` must be a module-level function (it is pickled to reach other
processes) and its result must depend only on its item, so every backend gives identical results.

Memory stays bounded however many items there are: items are taken from ``items`` lazily, at most
``window`` of them are in flight (submitted, result not yet handed on), and a result is dropped by the
executor (a Dask future is released) as soon as it has been yielded. A slow consumer therefore holds
back the submissions instead of letting finished results pile up in this process or on the cluster.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from ketasim.errors import KetasimError

SCHEDULER_FIX = "give the address printed by 'dask scheduler', e.g. tcp://127.0.0.1:8786"


def default_workers() -> int:
    """Local worker processes: one per core (at least 1)."""
    return max(1, os.cpu_count() or 1)


def check_workers(workers: int | None) -> int:
    """Local worker processes (default :func:`default_workers`), or a :class:`KetasimError`."""
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise KetasimError(
            f"must be a whole number >= 1, got {workers!r}", argument="--workers", fix="e.g. 4"
        )
    return workers


def map_chunks(
    func: Callable[[Any], Any],
    items: Iterable[Any],
    scheduler: Any = None,
    workers: int | None = None,
    window: int | None = None,
) -> Iterator[Any]:
    """Yield ``func(item)`` for each item in order.

    ``scheduler`` is the address of a Dask scheduler (``tcp://host:8786``) or a
    ``distributed.Client``; without it the items run in ``workers`` local processes (1, or a
    single item: in this process, which is what tests and small runs use). ``window`` caps the items
    in flight (default twice the local processes, or twice the cluster's threads and at least 8)."""
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
        raise KetasimError(f"must be a whole number >= 1, got {window!r}", argument="window")
    if scheduler is not None:
        yield from _dask_map(func, items, scheduler, window)
        return
    workers = check_workers(workers)
    if isinstance(items, Sized):
        workers = max(1, min(workers, len(items)))
    if workers == 1:
        for item in items:
            yield func(item)
        return
    threads = max(1, default_workers() // workers)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_process_context(func),
        initializer=share_cores,
        initargs=(threads,),
    )
    try:
        yield from in_order(lambda item: pool.submit(func, item), items, window or 2 * workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def share_cores(threads: int) -> None:
    """Cap numba's thread pool in a worker process at ``threads`` (the cores divided among the workers),
    so that local processes and the engine's parallel loops do not oversubscribe the cores."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))


def _process_context(func: Callable[[Any], Any]) -> multiprocessing.context.BaseContext:
    """Fresh worker processes that do not inherit this process's threads (a Dask client, numba's thread
    pool, a web app): a fork server with ``func``'s module imported once (POSIX), else spawned
    interpreters. Either way a script that runs chunks in local processes must keep its work under
    ``if __name__ == "__main__":``, as the workers import the script's main module."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([func.__module__])
        return ctx
    return multiprocessing.get_context("spawn")


def in_order(submit: Callable[[Any], Any], items: Iterable[Any], window: int) -> Iterator[Any]:
    """Submit items (``submit(item)`` returns a future) keeping at most ``window`` in flight; yield results
    in the order of ``items``, each future dropped once its result is handed on."""
    pending: deque = deque()
    it = iter(items)
    for item in it:
        pending.append(submit(item))
        if len(pending) >= window:
            break
    while pending:
        result = pending.popleft().result()
        for item in it:  # refill one slot before handing the result on
            pending.append(submit(item))
            break
        yield result
        del result


def check_scheduler(address: str, timeout: float = 5.0) -> None:
    """Raise a :class:`KetasimError` naming ``--scheduler`` unless a TCP scheduler address answers.

    Addresses ``tcp://host:port``, ``tls://host:port`` and ``host:port`` are checked with a plain TCP
    connection (a refused or unroutable address fails at once instead of after the client's timeout);
    other protocols (``inproc://``, ``ucx://``) are left to the Dask client."""
    text = address.strip()
    scheme, _, rest = text.rpartition("://")
    if scheme not in ("", "tcp", "tls"):
        return
    host, sep, port = rest.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit():
        raise KetasimError(
            f"'{address}' is not a scheduler address", argument="--scheduler", fix=SCHEDULER_FIX
        )
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise KetasimError(
            f"cannot reach the Dask scheduler at {address} ({reason})",
            argument="--scheduler",
            fix=SCHEDULER_FIX,
        ) from None


def _dask_map(func: Callable[[Any], Any], items: Iterable[Any], scheduler: Any, window: int | None):
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - dask[distributed] is a dependency
        raise KetasimError(
            "Dask distributed is not installed", argument="--scheduler", fix="pip install 'dask[distributed]'"
        ) from None
    own = not isinstance(scheduler, Client)
    if own:
        check_scheduler(str(scheduler))
        try:
            client = Client(scheduler, timeout="20s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise KetasimError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc})",
                argument="--scheduler",
                fix=SCHEDULER_FIX,
            ) from None
    else:
        client = scheduler
    try:
        if window is None:
            window = max(8, 2 * sum(client.nthreads().values()))
        yield from in_order(lambda item: client.submit(func, item, pure=False), items, window)
    finally:
        if own:
            client.close()
