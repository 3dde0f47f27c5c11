"""Running an exported arm in libRoadRunner, for checking the export and for benchmarks.

The document is exported once (for the first patient); every other patient is simulated by setting
that patient's constants and initial values (:func:`ketasim.sbml_export.patient_values`) and
resetting, which is how libRoadRunner is used for parameter scans. Population runs use one process
per core, each loading the model once (libRoadRunner's documented way to run simulations in
parallel is to give each process or thread its own RoadRunner instance).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ketasim.errors import KetasimError

DEFAULT_SELECTIONS = (
    "c_plasma_esketamine",
    "available_pyramidal",
    "y_surface_ampa",
    "y_spine_density",
)


def _roadrunner():
    try:
        import roadrunner
    except ImportError:
        raise KetasimError(
            "libRoadRunner is not installed", argument="roadrunner", fix="pip install libroadrunner"
        ) from None
    return roadrunner


def load(sbml: str, rtol: float = 1e-6, atol: float = 1e-9):
    """A RoadRunner instance for ``sbml`` with CVODE at the given tolerances."""
    rr = _roadrunner().RoadRunner(sbml)
    rr.integrator.relative_tolerance = rtol
    rr.integrator.absolute_tolerance = atol
    return rr


def simulate(rr, values: dict[str, float], times: np.ndarray, selections: list[str]) -> np.ndarray:
    """Trajectories (T, len(selections)) of one patient given all its values.

    The state is reset, then every constant and every state variable is set to the patient's value
    (setting current values; changing ``init(...)`` values would make libRoadRunner regenerate the
    model each time)."""
    rr.reset()
    rr.setValues(list(values), list(values.values()))
    rr.timeCourseSelections = ["time", *selections]
    res = rr.simulate(times=np.asarray(times, dtype=float))
    return np.asarray(res)[:, 1:]


_WORKER: dict = {}


def _init_worker(sbml: str, rtol: float, atol: float) -> None:
    _WORKER["rr"] = load(sbml, rtol, atol)


def _ready(_: int) -> bool:
    return "rr" in _WORKER


def _run_one(args) -> np.ndarray:
    """One patient's trajectories; a patient libRoadRunner cannot integrate (a CVODE error) gets NaN
    rows instead of stopping the population, so the caller can count and report it."""
    values, times, selections = args
    try:
        return simulate(_WORKER["rr"], values, times, selections)
    except RuntimeError:
        return np.full((len(times), len(selections)), np.nan)


class Pool:
    """Worker processes that each hold the loaded model; ``simulate`` runs a population on them.

    Loading (libRoadRunner's LLVM compilation) happens when the pool starts, so timing
    :meth:`simulate` measures simulation only."""

    def __init__(self, sbml: str, workers: int = 1, rtol: float = 1e-6, atol: float = 1e-9):
        self.workers = max(1, int(workers))
        if self.workers == 1:
            _init_worker(sbml, rtol, atol)
            self.pool = None
        else:
            import multiprocessing as mp

            ctx = mp.get_context("forkserver")
            self.pool = ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=_init_worker, initargs=(sbml, rtol, atol)
            )
            assert all(self.pool.map(_ready, range(4 * self.workers)))

    def simulate(
        self, values: list[dict[str, float]], times: np.ndarray, selections: list[str]
    ) -> np.ndarray:
        """Trajectories (P, T, S) of every patient (NaN for a patient whose integration failed)."""
        jobs = [(v, np.asarray(times, dtype=float), list(selections)) for v in values]
        if self.pool is None:
            return np.stack([_run_one(j) for j in jobs])
        chunk = max(1, len(jobs) // (8 * self.workers))
        return np.stack(list(self.pool.map(_run_one, jobs, chunksize=chunk)))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def simulate_population(
    sbml: str,
    values: list[dict[str, float]],
    times: np.ndarray,
    selections: list[str],
    workers: int = 1,
    rtol: float = 1e-6,
    atol: float = 1e-9,
) -> np.ndarray:
    """Trajectories (P, T, S) of every patient, in ``workers`` processes."""
    with Pool(sbml, workers, rtol, atol) as pool:
        return pool.simulate(values, times, selections)
