"""A trial in chunks of patients: bounded memory for any number of patients, locally or on Dask.

:func:`run_chunked` splits each arm's ``n`` patients into chunks of ``chunk_size`` (whole seeding blocks,
:mod:`ketasim.scale.seeding`) and runs them with :func:`ketasim.scale.executor.map_chunks`: in this
process, in local worker processes, or on a Dask cluster given a scheduler address. A chunk
(:func:`run_chunk`) simulates its blocks one at a time with :func:`ketasim.trial.simulate_block` (which
calls :func:`ketasim.trial.simulate_arm`) and reduces each block's time courses to per-patient rows
(:mod:`ketasim.scale.rows`) before the next, so a worker holds at most one block's (patients x time)
arrays and the driver none: only the rows of the chunks in flight. As chunks arrive, in order, their rows
update the summaries (:mod:`ketasim.scale.summaries`) and, with ``out``, are appended to one Parquet file
per arm (:mod:`ketasim.scale.streaming`), then dropped.

Results do not depend on where or how the work ran: for a given seed and block size, patient ``i`` of
an arm has the same covariates, noise and outcomes as in :func:`ketasim.trial.run_trial`, bit for bit,
whatever the chunk size and whether chunks ran here, in worker processes or on Dask (each block is one
batch for the engine whatever the chunking).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from ketasim import __version__
from ketasim.population import PopulationSpec, load_population
from ketasim.progress import track
from ketasim.provenance import git_revision
from ketasim.scale.executor import check_scheduler, check_workers, map_chunks
from ketasim.scale.rows import patient_rows
from ketasim.scale.seeding import SEED_BLOCK, blocks, check_block_size, check_chunk_size
from ketasim.scale.streaming import ParquetSink, prepare_output_dir, write_summary
from ketasim.scale.summaries import PERCENTILE_METHOD, ArmSummary, trial_document
from ketasim.scenario import Scenario
from ketasim.trial import (
    check_n_seed,
    clinical_params,
    default_control,
    report_hours,
    simulate_block,
    trial_meta,
)

DEFAULT_CHUNK_SIZE = 2000


@dataclass(frozen=True)
class ChunkTask:
    """Patients ``start`` to ``stop - 1`` of arm ``arm_index``: everything a worker needs, picklable."""

    scenario: Scenario
    spec: PopulationSpec
    seed: int
    arm_index: int
    start: int
    stop: int
    block_size: int
    hours: tuple[float, ...]
    mechanisms: frozenset[str] | None = None


@dataclass
class ChunkResult:
    """A chunk's per-patient rows and the fingerprint of the model that made them."""

    arm_index: int
    start: int
    stop: int
    rows: pa.Table
    fingerprint: tuple[str, str, str]  # (model parameter hash, clinical parameter hash, ketasim version)
    peak_rss_mb: float | None = None  # peak resident memory of the process that ran it, so far
    failed: dict[int, str] = field(default_factory=dict)  # patients whose solve failed -> reason


def peak_rss_mb() -> float | None:
    """Peak resident set size of this process in MB (None where the ``resource`` module is missing)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1e3  # bytes on macOS, KB on Linux


def run_chunk(task: ChunkTask) -> ChunkResult:
    """Simulate one chunk, block by block, keeping only per-patient rows (runs in a worker)."""
    tables, parameter_hash, failed = [], None, {}
    for block in blocks(task.arm_index, task.start, task.stop, task.block_size):
        result = simulate_block(task.scenario, block, task.spec, task.seed, task.mechanisms, task.block_size)
        tables.append(patient_rows(result, task.hours))
        failed.update(result.failed)
        if parameter_hash is not None and result.parameter_hash != parameter_hash:
            raise RuntimeError(f"parameter hash changed within a chunk of arm {task.arm_index}")
        parameter_hash = result.parameter_hash
        del result  # the block's (patients x time) arrays go before the next block is simulated
    fingerprint = (str(parameter_hash), clinical_params().digest(), __version__)
    rows = pa.concat_tables(tables)
    return ChunkResult(task.arm_index, task.start, task.stop, rows, fingerprint, peak_rss_mb(), failed)


def plan_chunks(
    scenario: Scenario,
    spec: PopulationSpec,
    n: int,
    seed: int,
    chunk_size: int,
    block_size: int = SEED_BLOCK,
    mechanisms: frozenset[str] | None = None,
) -> Iterator[ChunkTask]:
    """The chunks of a trial, arm by arm, in patient order (made lazily)."""
    hours = report_hours(scenario)
    for a in range(len(scenario.arms)):
        for start in range(0, n, chunk_size):
            yield ChunkTask(
                scenario, spec, seed, a, start, min(start + chunk_size, n), block_size, hours, mechanisms
            )


@dataclass
class ChunkedTrial:
    """What :func:`run_chunked` returns: the summary document, the arm summaries, the files written."""

    summary: dict
    arms: dict[str, ArmSummary]
    files: dict[str, Path] = field(default_factory=dict)
    control: str | None = None
    directory: Path | None = None  # where the files and summary.json went (``out``)


def run_chunked(
    scenario: Scenario,
    n: int | None = None,
    seed: int | None = None,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    scheduler: Any = None,
    workers: int | None = None,
    out: str | os.PathLike | None = None,
    mechanisms: frozenset[str] | None = None,
    control: str | None = None,
    block_size: int = SEED_BLOCK,
    progress: Callable[[str, int, int], None] | None = None,
) -> ChunkedTrial:
    """Run every arm of ``scenario`` with ``n`` patients in chunks; summaries on the fly, rows to ``out``.

    ``scheduler``: a Dask scheduler address or ``distributed.Client`` (default: ``workers`` local
    processes; ``workers=1`` runs in this process). ``out``: a directory for one Parquet file of
    per-patient rows per arm and ``summary.json`` (the returned summary document). ``progress(arm, done,
    n)`` is called after each chunk. ``n``, ``seed``, ``mechanisms`` and ``control`` are as in
    :func:`ketasim.trial.run_trial`, whose patients these are. A script that runs chunks in local
    processes keeps its work under ``if __name__ == "__main__":`` (see :mod:`ketasim.scale.executor`)."""
    if control is not None:
        scenario.arm(control)  # unknown arm -> error naming the choices
    n, seed = check_n_seed(scenario, n, seed)
    block_size = check_block_size(block_size)
    chunk_size = check_chunk_size(chunk_size, block_size)
    if scheduler is None:
        workers = check_workers(workers)
    elif isinstance(scheduler, str):
        check_scheduler(scheduler)
    directory = prepare_output_dir(out) if out is not None else None
    spec = load_population(str(scenario.population.get("name", "trd")))
    names = [a.name for a in scenario.arms]
    summaries = {name: ArmSummary(name, report_hours(scenario)) for name in names}
    tasks = plan_chunks(scenario, spec, n, seed, chunk_size, block_size, mechanisms)
    started = time.perf_counter()
    files: dict[str, Path] = {}
    worker_rss: list[float] = []
    record = {
        "ketasim_version": __version__,
        "git_revision": git_revision(),
        "scenario": scenario.name,
        "scenario_hash": scenario.digest(),
        "seed": seed,
        "n_per_arm": n,
        "population": spec.name,
        "mechanisms": sorted(scenario.mechanisms if mechanisms is None else mechanisms),
    }
    sink = ParquetSink(directory, names, record) if directory is not None else None
    try:
        total = len(scenario.arms) * -(-n // chunk_size)
        results = map_chunks(run_chunk, tasks, scheduler=scheduler, workers=workers)
        for result in track(results, "trial chunks", total=total):
            name = names[result.arm_index]
            summaries[name].update(result.rows, result.fingerprint)
            summaries[name].failed.update(result.failed)
            if sink is not None:
                sink.write(name, result.rows)
            if result.peak_rss_mb is not None:
                worker_rss.append(result.peak_rss_mb)
            if progress is not None:
                progress(name, result.stop, n)
            del result
        if sink is not None:
            files = sink.close()
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    control = control or default_control(scenario)
    meta = trial_meta(scenario, spec, n, {k: s.parameter_hash for k, s in summaries.items()})
    meta["run"] = {
        "chunk_size": chunk_size,
        "block_size": block_size,
        "chunks_per_arm": -(-n // chunk_size),
        "backend": _backend(scheduler, workers),
        "wall_time_s": time.perf_counter() - started,
        "worker_peak_rss_mb": max(worker_rss) if worker_rss else None,
        "madrs_percentiles": PERCENTILE_METHOD,
    }
    if files:
        meta["files"] = {arm: path.name for arm, path in files.items()}
    doc = trial_document(summaries, seed, control, meta)
    if directory is not None:
        write_summary(directory, doc)
    return ChunkedTrial(doc, summaries, files, control, directory)


def _backend(scheduler: Any, workers: int | None) -> str:
    if scheduler is not None:
        return f"dask ({scheduler if isinstance(scheduler, str) else 'client'})"
    return "this process" if workers == 1 else f"{workers} local processes"
