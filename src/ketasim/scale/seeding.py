"""Seeding by blocks of patients, so a patient's random numbers do not depend on how a run was split.

The patients of arm ``a`` are numbered 0, 1, ... and grouped in blocks of ``block_size`` (default
:data:`SEED_BLOCK`): block ``b`` holds patients ``b * block_size`` to ``(b + 1) * block_size - 1``. A block
is the unit of seeding and of work:

- its seeds come from ``numpy.random.SeedSequence(seed, spawn_key=(a, b))``, which is the child
  ``SeedSequence(seed).spawn(n_arms)[a].spawn(n_blocks)[b]`` built directly; two 64-bit words of its
  state seed the covariates (:func:`ketasim.population.sample` of a whole block) and the clinical noise;
- the covariates of a block are always sampled for the whole block and then cut to the patients run, and
  :func:`ketasim.trial.simulate_arm` draws each patient's clinical noise as one row of a row-major array,
  so a block's first ``m`` patients get the same numbers whatever ``m`` is (the trial size ``n`` only
  decides where the last block is cut);
- :func:`ketasim.trial.simulate_block` integrates one block (or its first ``m`` patients) as one batch.

So patient ``i`` of arm ``a`` has the same covariates and the same clinical noise for a given trial seed and
block size, whether the trial ran in one piece, in chunks of any multiple of the block, in local processes
or on a Dask cluster. The block size is part of the random design: another block size gives other
patients. Chunks are whole blocks (:func:`check_chunk_size`).

:data:`SEED_BLOCK` is 250: the batched engine holds about 1 MB per patient over a 14-day horizon while it
integrates a batch, so a block bounds a worker's working memory at about 250 MB, and the per-call
overhead of the engine (about 0.3 s) stays a few percent of a block's run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ketasim.errors import KetasimError
from ketasim.population import PopulationSpec, sample

SEED_BLOCK = 250


@dataclass(frozen=True)
class Block:
    """Patients ``start`` to ``stop - 1`` of arm ``arm_index``: block ``index`` or its first patients.

    ``start`` is the block's first patient, ``index * block_size``; make blocks with :func:`blocks`."""

    arm_index: int
    index: int
    start: int
    stop: int

    @property
    def n(self) -> int:
        return self.stop - self.start


def check_block_size(block_size: int) -> int:
    """``block_size`` as an int, or a :class:`KetasimError` if it is not a whole number >= 1."""
    if isinstance(block_size, bool) or not isinstance(block_size, int | np.integer) or block_size < 1:
        raise KetasimError(f"must be a whole number >= 1, got {block_size!r}", argument="block_size")
    return int(block_size)


def check_chunk_size(chunk_size: int, block_size: int = SEED_BLOCK, argument: str = "--chunk-size") -> int:
    """``chunk_size`` as an int, or a :class:`KetasimError`: a chunk is a whole number of blocks."""
    block_size = check_block_size(block_size)
    ok = not isinstance(chunk_size, bool) and isinstance(chunk_size, int | np.integer)
    if not ok or chunk_size < 1 or chunk_size % block_size:
        raise KetasimError(
            f"must be a positive multiple of {block_size} patients (the seeding block), got {chunk_size!r}",
            argument=argument,
            fix=f"e.g. {argument} {8 * block_size}",
        )
    return int(chunk_size)


def blocks(arm_index: int, start: int, stop: int, block_size: int = SEED_BLOCK) -> list[Block]:
    """The blocks covering patients ``start`` to ``stop - 1``; ``start`` must be on a block boundary."""
    block_size = check_block_size(block_size)
    if start % block_size:
        raise ValueError(f"start {start} is not on a block boundary of {block_size}")
    starts = range(start, stop, block_size)
    return [Block(arm_index, b // block_size, b, min(b + block_size, stop)) for b in starts]


def block_seeds(seed: int, arm_index: int, block: int) -> tuple[int, int]:
    """(covariate seed, noise seed) of block ``block`` of arm ``arm_index`` in a trial with ``seed``."""
    words = np.random.SeedSequence(int(seed), spawn_key=(int(arm_index), int(block))).generate_state(
        2, np.uint64
    )
    return int(words[0]), int(words[1])


def block_frame(spec: PopulationSpec, seed: int, block: Block, block_size: int = SEED_BLOCK) -> pd.DataFrame:
    """The covariates of the patients in ``block`` (index ``patient``: their numbers in the arm)."""
    cov_seed, _ = block_seeds(seed, block.arm_index, block.index)
    full = sample(spec, check_block_size(block_size), cov_seed)
    if block.start != block.index * block_size or not 0 < block.n <= block_size:
        raise ValueError(f"{block} is not a block of {block_size} patients")
    frame = full.iloc[: block.n].copy()
    frame.index = pd.RangeIndex(block.start, block.stop, name="patient")
    frame.attrs = {**full.attrs, "seed": int(seed), "block_size": int(block_size)}
    return frame


def block_noise(seed: int, block: Block) -> np.random.Generator:
    """The generator of the clinical noise of ``block``: its patients' rows, from the block's first."""
    _, noise_seed = block_seeds(seed, block.arm_index, block.index)
    return np.random.default_rng(noise_seed)
