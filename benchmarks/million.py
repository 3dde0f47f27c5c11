"""Throughput and memory of the chunked trial runner: the standard infusion's ketamine arm for N patients.

    python benchmarks/million.py --n 2000 [--chunk-size 500] [--workers 2] [--scheduler ADDR] [--json]

Runs 0.5 mg/kg ketamine over 40 min (examples/standard_infusion.toml, 14-day horizon, ketamine arm only)
for ``--n`` patients with :func:`ketasim.scale.chunks.run_chunked`, streaming per-patient rows to Parquet
(in a temporary directory unless ``--out`` is given), and prints the wall time, patients per second, the
peak resident memory of this process and of the busiest worker (``resource.getrusage``), and the
response rate at 24 h. The memory of a worker is bounded by one seeding block (250 patients) whatever N.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from ketasim import scenario
from ketasim.scale.chunks import DEFAULT_CHUNK_SIZE, peak_rss_mb, run_chunked

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "standard_infusion.toml"


def ketamine_arm() -> scenario.Scenario:
    """The standard infusion scenario with its ketamine arm only."""
    record = scenario.load(EXAMPLE).record()
    record["arms"] = [a for a in record["arms"] if a["name"] == "ketamine"]
    return scenario.from_dict(record)


def run(n: int, chunk_size: int, workers: int, scheduler: str | None, out: str | None, seed: int) -> dict:
    """Run the benchmark and return its figures."""
    sc = ketamine_arm()
    with tempfile.TemporaryDirectory(prefix="ketasim-million-") as tmp:
        directory = Path(out or tmp)
        start = time.perf_counter()
        result = run_chunked(
            sc, n, seed, chunk_size=chunk_size, workers=workers, scheduler=scheduler, out=directory
        )
        wall = time.perf_counter() - start
        parquet_mb = sum(p.stat().st_size for p in result.files.values()) / 1e6
    arm = result.summary["arms"]["ketamine"]
    return {
        "n": n,
        "chunk_size": chunk_size,
        "backend": result.summary["run"]["backend"],
        "wall_time_s": round(wall, 2),
        "patients_per_s": round(n / wall, 2),
        "peak_rss_mb": peak_rss_mb(),
        "worker_peak_rss_mb": result.summary["run"]["worker_peak_rss_mb"],
        "parquet_mb": round(parquet_mb, 3),
        "response_rate_24h": arm["response_rate"]["24"],
        "response_ci_24h": arm["response_ci"]["24"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, required=True, help="patients")
    p.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help="patients per chunk")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1: this process)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address (instead of local processes)")
    p.add_argument("--out", default=None, help="keep the Parquet files in this directory")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    args = p.parse_args(argv)
    figures = run(args.n, args.chunk_size, args.workers, args.scheduler, args.out, args.seed)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:<20}{value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
