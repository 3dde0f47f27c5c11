"""Per-patient rows streamed to Parquet, one file per arm, written chunk by chunk.

Each arm's rows go to ``DIR/<arm>.parquet`` (the arm name with characters other than letters, digits,
``.``, ``-`` and ``_`` replaced by ``_``), one row group per chunk, in patient order. A file is written
under a temporary name and renamed when the run completes, so a file with the final name is always whole;
an interrupted run leaves no partial files behind. Read one with ``pyarrow.parquet.read_table`` or
``pandas.read_parquet``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ketasim.errors import KetasimError


def prepare_output_dir(directory: str | os.PathLike, argument: str = "--out") -> Path:
    """Create ``directory`` if needed and check that files can be written in it."""
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".ketasim-write-test-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise KetasimError(
            f"cannot write to '{directory}' ({reason})",
            argument=argument,
            fix="give a directory you can write to, e.g. --out results/trial",
        ) from None
    return path


def arm_file_names(arms: Sequence[str]) -> dict[str, str]:
    """A distinct, file-system-safe Parquet file name for each arm."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for arm in arms:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", arm).strip("._") or "arm"
        candidate, k = stem, 2
        while candidate.lower() in used:
            candidate, k = f"{stem}_{k}", k + 1
        used.add(candidate.lower())
        names[arm] = f"{candidate}.parquet"
    return names


class ParquetSink:
    """Writes each arm's chunks of rows to its Parquet file; use as a context manager."""

    def __init__(
        self, directory: str | os.PathLike, arms: Sequence[str], metadata: dict | None = None
    ) -> None:
        self.directory = prepare_output_dir(directory)
        self.files = arm_file_names(arms)
        # provenance carried in each file's schema (key b"ketasim", JSON), read by `ketasim provenance`
        self.metadata = {b"ketasim": json.dumps(metadata, sort_keys=True).encode()} if metadata else None
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._partial: dict[str, Path] = {}

    def path(self, arm: str) -> Path:
        return self.directory / self.files[arm]

    def write(self, arm: str, rows: pa.Table) -> None:
        """Append a chunk of ``arm``'s rows (all chunks of an arm share one schema)."""
        writer = self._writers.get(arm)
        if writer is None:
            partial = self.directory / f".{self.files[arm]}.partial"
            schema = rows.schema.with_metadata(self.metadata) if self.metadata else rows.schema
            writer = pq.ParquetWriter(partial, schema, compression="zstd")
            self._writers[arm], self._partial[arm] = writer, partial
        writer.write_table(rows.replace_schema_metadata(writer.schema.metadata))

    def close(self) -> dict[str, Path]:
        """Finish every file and give it its final name; returns arm -> path."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        out = {}
        for arm, partial in self._partial.items():
            os.replace(partial, self.path(arm))
            out[arm] = self.path(arm)
        self._partial.clear()
        return out

    def abort(self) -> None:
        """Drop the unfinished files."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        for partial in self._partial.values():
            partial.unlink(missing_ok=True)
        self._partial.clear()

    def __enter__(self) -> ParquetSink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def write_summary(directory: str | os.PathLike, document: Mapping) -> Path:
    """Write ``DIR/summary.json`` (written whole, then renamed into place)."""
    path = Path(directory) / "summary.json"
    partial = path.with_name(".summary.json.partial")
    partial.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(partial, path)
    return path
