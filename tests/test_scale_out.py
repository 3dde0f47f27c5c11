"""Issue 6: trials in chunks with bounded memory, locally or on Dask, with the same patients everywhere."""

from __future__ import annotations

import gc
import json
import math
import socket
import tracemalloc
import weakref

import numpy as np
import pyarrow.parquet as pq
import pytest

from ketasim import scenario, trial
from ketasim.cli import main
from ketasim.population import load_population
from ketasim.scale import chunks, seeding
from ketasim.scale.executor import default_workers, in_order, map_chunks
from ketasim.scale.rows import madrs_column, remission_column, response_column
from ketasim.scale.summaries import BIN_WIDTH, PERCENTILES, Histogram, Moments
from ketasim.trial_statistics import hedges_g, wilson_ci

SMALL = """
name = "small trial for the scale-out tests"
species = "human"
condition = "depressed"
horizon = "{horizon}"
[population]
n = 6
seed = 2
[[arms]]
name = "ketamine"
doses = [{{ compound = "ketamine", amount = "0.5 mg/kg", route = "iv", duration = "40 min" }}]
{more}
"""
SALINE = '[[arms]]\nname = "saline"\ndoses = []\n'
N, SEED, BLOCK = 12, 5, 4  # three blocks of four patients per arm


@pytest.fixture(scope="module")
def small_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenarios") / "small.toml"
    path.write_text(SMALL.format(horizon="48 h", more=SALINE))
    return path


@pytest.fixture(scope="module")
def small(small_path):
    return scenario.load(small_path)


@pytest.fixture(scope="module")
def reference(small):
    """The unchunked trial: every patient's time courses in memory."""
    return trial.run_trial(small, n=N, seed=SEED, block_size=BLOCK)


@pytest.fixture(scope="module")
def local_run(small, tmp_path_factory):
    """Chunks of one block, in this process, streamed to Parquet."""
    out = tmp_path_factory.mktemp("local")
    run = chunks.run_chunked(small, N, SEED, chunk_size=BLOCK, block_size=BLOCK, workers=1, out=out)
    return run, {arm: pq.read_table(path) for arm, path in run.files.items()}


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as c:
        yield c


def worker_threads(_: int) -> int:
    """numba's thread count in the process that runs this (module level: it is pickled to workers)."""
    import numba

    return numba.get_num_threads()


def assert_close_document(a, b, path="", rel=1e-12):
    """Every value of ``b`` under the keys that ``a`` also has is equal (numbers to ``rel``)."""
    if isinstance(a, dict):
        for k in a.keys() & b.keys():
            assert_close_document(a[k], b[k], f"{path}/{k}", rel)
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close_document(x, y, f"{path}/{i}", rel)
    elif isinstance(a, float):
        assert math.isclose(a, b, rel_tol=rel, abs_tol=1e-12), f"{path}: {a} != {b}"
    else:
        assert a == b, path


# ------------------------------------------------------------------------------------------- seeding


def test_block_seeds_are_the_spawned_children_of_the_trial_seed():
    child = np.random.SeedSequence(11).spawn(3)[2].spawn(6)[5]
    assert seeding.block_seeds(11, 2, 5) == tuple(int(w) for w in child.generate_state(2, np.uint64))
    assert seeding.block_seeds(11, 2, 5) != seeding.block_seeds(11, 1, 5) != seeding.block_seeds(11, 2, 4)


def test_a_patient_draws_the_same_numbers_whatever_the_trial_size():
    z5 = trial.clinical_draws(np.random.default_rng(3), 5, 7)
    np.testing.assert_array_equal(z5[:3], trial.clinical_draws(np.random.default_rng(3), 3, 7))
    spec = load_population("trd")
    full, cut = seeding.blocks(0, 0, 8, 4)[1], seeding.blocks(0, 0, 6, 4)[1]
    a, b = seeding.block_frame(spec, 9, full, 4), seeding.block_frame(spec, 9, cut, 4)
    assert list(b.index) == [4, 5]
    assert a.iloc[:2].equals(b)


@pytest.mark.parametrize("size", [0, 3, 250.0, True])
def test_chunks_are_whole_blocks(size):
    with pytest.raises(ValueError, match="--chunk-size"):
        seeding.check_chunk_size(size, 250)


# ----------------------------------------------------------------------------------- reproducibility


def test_chunked_run_has_the_patients_of_run_trial_bit_for_bit(reference, local_run):
    _, tables = local_run
    for name, arm in reference.arms.items():
        rows = tables[name]
        assert rows.column("patient").to_pylist() == list(range(N))
        for col in ("age_y", "weight_kg", "madrs_baseline", "eta_cl"):
            np.testing.assert_array_equal(rows.column(col).to_numpy(), arm.frame[col].to_numpy())
        assert rows.column("cyp2b6").to_pylist() == arm.frame["cyp2b6"].astype(str).tolist()
        for h in reference.hours:
            np.testing.assert_array_equal(rows.column(madrs_column(h)).to_numpy(), arm.madrs[:, arm.at(h)])
        np.testing.assert_array_equal(rows.column("cadss_peak").to_numpy(), arm.cadss.max(axis=1))


def test_other_chunk_size_in_local_processes_gives_identical_rows(small, local_run, tmp_path):
    # Exact, not merely close: each seeding block is one batch for the engine whatever the chunking, so
    # chunk size and worker process cannot change a patient's numbers.
    run = chunks.run_chunked(small, N, SEED, chunk_size=2 * BLOCK, block_size=BLOCK, workers=2, out=tmp_path)
    for arm, path in run.files.items():
        assert pq.read_table(path).equals(local_run[1][arm])
    assert run.summary["run"]["backend"] == "2 local processes"


def test_dask_cluster_gives_identical_rows_and_summary(small, local_run, cluster, tmp_path):
    from distributed import Client

    with Client(cluster) as client:
        run = chunks.run_chunked(
            small, N, SEED, chunk_size=BLOCK, block_size=BLOCK, scheduler=client, out=tmp_path
        )
    for arm, path in run.files.items():
        assert pq.read_table(path).equals(local_run[1][arm])
    a, b = dict(run.summary), dict(local_run[0].summary)
    for doc in (a, b):
        doc.pop("run")
    assert a == b


def test_trial_size_changes_only_the_cut_block(small, reference):
    smaller = trial.run_trial(small, n=10, seed=SEED, block_size=BLOCK)
    for name, arm in smaller.arms.items():
        ref = reference.arms[name]
        assert arm.frame.equals(ref.frame.iloc[:10])
        np.testing.assert_array_equal(arm.madrs[:8], ref.madrs[:8])  # whole blocks: bit for bit
        # Patients 8 and 9 have the same covariates and noise, but their block is a batch of 2 instead of 4;
        # the engine solves every patient on its own, so their numbers are the same bit for bit.
        np.testing.assert_array_equal(arm.strength[8:], ref.strength[8:10])
        np.testing.assert_array_equal(arm.madrs[8:], ref.madrs[8:10])
        np.testing.assert_array_equal(arm.cadss[8:], ref.cadss[8:10])


# ----------------------------------------------------------------------------------------- summaries


def test_on_the_fly_summary_equals_the_summary_of_the_full_table(reference, local_run):
    run, tables = local_run
    doc = run.summary
    assert_close_document(reference.summary(), doc)  # every key of the unchunked document
    for name, rows in tables.items():
        a = doc["arms"][name]
        base = rows.column("madrs_baseline").to_numpy()
        for h in reference.hours:
            key = f"{h:g}"
            madrs = rows.column(madrs_column(h)).to_numpy()
            resp = rows.column(response_column(h)).to_numpy()
            x = int(resp.sum())
            assert a["response_rate"][key] == x / N
            assert a["remission_rate"][key] == rows.column(remission_column(h)).to_numpy().mean()
            ci = wilson_ci(x, N)
            assert a["response_ci"][key] == [float(ci.lower), float(ci.upper)]
            assert math.isclose(a["madrs_change_mean"][key], np.mean(madrs - base), rel_tol=1e-13)
            assert math.isclose(a["madrs_change_sd"][key], np.std(madrs - base, ddof=1), rel_tol=1e-12)
            for q in PERCENTILES:
                exact = np.percentile(madrs, q, method="inverted_cdf")
                assert abs(a["madrs_percentiles"][key][f"p{q}"] - exact) <= BIN_WIDTH + 1e-9
        assert math.isclose(a["dissociation_peak_mean"], rows.column("cadss_peak").to_numpy().mean())
    change = {
        n: (t.column(madrs_column(24)).to_numpy() - t.column("madrs_baseline").to_numpy())
        for n, t in tables.items()
    }
    g = hedges_g(change["ketamine"], change["saline"])
    got = doc["comparisons"]["ketamine vs saline"]["madrs_change_hedges_g"]
    np.testing.assert_allclose(got, [g.estimate, g.lower, g.upper], rtol=1e-12)


def test_moments_and_histogram_of_a_stream_match_the_whole_sample():
    rng = np.random.default_rng(0)
    x = np.clip(rng.normal(20, 9, 100_003), 0, 60)
    m, hist = Moments(), Histogram()
    for part in np.array_split(x, 37):
        m.add(part)
        hist.add(part)
    assert m.n == x.size and math.isclose(m.mean, math.fsum(x) / x.size, rel_tol=1e-15)
    assert math.isclose(m.variance, x.var(ddof=1), rel_tol=1e-12)
    for q in (0.1, 5, 50, 97.5, 100):
        assert abs(hist.percentile(q) - np.percentile(x, q, method="inverted_cdf")) <= BIN_WIDTH + 1e-9


# ------------------------------------------------------------------------------------ bounded memory


@pytest.fixture(scope="module")
def one_arm(tmp_path_factory):
    path = tmp_path_factory.mktemp("one_arm") / "one_arm.toml"
    path.write_text(SMALL.format(horizon="6 h", more=""))
    return scenario.load(path)


def _peak_bytes(sc, n: int) -> int:
    tracemalloc.start()
    try:
        chunks.run_chunked(sc, n, 1, chunk_size=1, block_size=1, workers=1)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_number_of_chunks(one_arm):
    chunks.run_chunked(one_arm, 1, 1, chunk_size=1, block_size=1, workers=1)  # warm the caches
    two, eight = _peak_bytes(one_arm, 2), _peak_bytes(one_arm, 8)
    assert eight < 1.3 * two, (two, eight)  # measured: +12% (allocator and solver noise)


def test_each_blocks_time_courses_are_released_before_the_next_chunk(one_arm, monkeypatch):
    made = []
    simulate = trial.simulate_arm

    def recorded(*args, **kwargs):
        result = simulate(*args, **kwargs)
        made.extend(weakref.ref(x) for x in (result, result.madrs, result.strength, result.frame))
        return result

    def progress(arm: str, done: int, n: int) -> None:
        gc.collect()
        assert made and all(ref() is None for ref in made), f"time courses alive after {done} patients"

    monkeypatch.setattr(trial, "simulate_arm", recorded)
    chunks.run_chunked(one_arm, 8, 1, chunk_size=4, block_size=2, workers=1, progress=progress)
    assert len(made) == 4 * 4


def test_a_chunk_returns_rows_only_one_per_patient(small):
    spec = load_population("trd")
    task = chunks.ChunkTask(small, spec, SEED, 0, 4, 12, BLOCK, trial.report_hours(small))
    result = chunks.run_chunk(task)
    assert result.rows.num_rows == 8 and result.rows.column("patient").to_pylist() == list(range(4, 12))
    assert all(c.type.num_fields == 0 and not str(c.type).startswith("list") for c in result.rows.columns)


def test_local_worker_processes_share_the_cores_among_their_thread_pools():
    numba = pytest.importorskip("numba")
    threads = list(map_chunks(worker_threads, [0, 1], workers=2))
    assert threads == [max(1, min(default_workers() // 2, numba.config.NUMBA_NUM_THREADS))] * 2


def test_in_order_keeps_at_most_window_items_in_flight():
    class Done:
        def __init__(self, value):
            self.value = value

        def result(self):
            return self.value

    state = {"submitted": 0, "taken": 0, "most": 0}

    def items():
        for i in range(50):
            state["taken"] += 1
            yield i

    def submit(item):
        state["submitted"] += 1
        return Done(item * item)

    got = []
    for value in in_order(submit, items(), window=3):
        got.append(value)
        state["most"] = max(state["most"], state["submitted"] - len(got))
    assert got == [i * i for i in range(50)]
    assert state["most"] <= 3 and state["taken"] == 50


# ---------------------------------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def plain_document(small_path):
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["trial", str(small_path), "--json"]) == 0
    return json.loads(buf.getvalue())


def test_cli_streams_to_parquet_with_the_same_document(small_path, plain_document, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(["trial", str(small_path), "--chunk-size", "250", "--workers", "1", "--out", str(out), "--json"])
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert set(plain_document) <= set(doc)
    assert_close_document(plain_document, doc)
    assert json.loads((out / "summary.json").read_text()) == doc
    assert pq.read_table(out / "ketamine.parquet").num_rows == 6 == doc["arms"]["saline"]["n"]
    assert sorted(p.name for p in out.iterdir()) == ["ketamine.parquet", "saline.parquet", "summary.json"]


def test_cli_runs_on_a_dask_scheduler(small_path, plain_document, cluster, capsys):
    assert main(["trial", str(small_path), "--scheduler", cluster.scheduler_address, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert_close_document(plain_document, doc)
    assert doc["run"]["backend"].startswith("dask")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "argument"),
    [
        (["--chunk-size", "0"], "--chunk-size"),
        (["--chunk-size", "300"], "--chunk-size"),
        (["--chunk-size", "lots"], "--chunk-size"),
        (["--workers", "0"], "--workers"),
        (["--scheduler", "tcp://127.0.0.1:{port}"], "--scheduler"),
        (["--scheduler", "nowhere"], "--scheduler"),
        (["--out", "{file}/sub"], "--out"),
        (["--out", "{dir}", "--report", "{dir}"], "--report"),
    ],
)
def test_cli_errors_name_the_argument_and_the_fix(small_path, tmp_path, capsys, args, argument):
    (tmp_path / "file").write_text("not a directory")
    values = {"port": _closed_port(), "file": tmp_path / "file", "dir": tmp_path / "d"}
    assert main(["trial", str(small_path), *(a.format(**values) for a in args)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"ketasim: error: {argument}:") and "\n" not in err and "(" in err


def test_benchmark_script_reports_throughput_and_memory(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "million.py"
    spec = importlib.util.spec_from_file_location("million", path)
    million = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(million)
    assert million.main(["--n", "1", "--chunk-size", "250", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["n"] == 1 and figures["patients_per_s"] > 0 and figures["peak_rss_mb"] > 0
    assert figures["worker_peak_rss_mb"] > 0 and figures["backend"] == "this process"
