"""Seeded data order that does not depend on the world size, and a data position that is just the
optimizer step.

torch's DistributedSampler shards the *dataset* per rank, so the samples that meet in one
optimizer step change with the number of ranks, and a run on 8 GPUs is not the run on 1. Here the
unit is the GLOBAL batch: step k of epoch e takes positions [k*G, (k+1)*G) of a permutation seeded
by (seed, e); rank r takes its contiguous slice of that batch and splits it into micro-batches for
gradient accumulation. Any (world size x micro-batch x accumulation) with the same G sees the same
samples in the same step, and resuming at step k needs nothing but k.

Per-sample random choices (prompt dropout) come from a generator seeded by (seed, epoch, index)
for the same reason: they must not depend on which rank, worker or resume drew the sample.
"""
from __future__ import annotations

from typing import Iterator, List, Tuple

import numpy as np


class GlobalBatchSampler:
    def __init__(self, n: int, global_batch: int, micro_batch: int, world: int = 1, rank: int = 0, seed: int = 0):
        if global_batch % (world * micro_batch):
            raise ValueError(f"--batch-size {global_batch} must be a multiple of world size x --micro-batch "
                             f"({world} x {micro_batch})")
        if n < global_batch:
            raise ValueError(f"{n} examples are fewer than one global batch of {global_batch}")
        self.n, self.global_batch, self.micro_batch = n, global_batch, micro_batch
        self.world, self.rank, self.seed = world, rank, seed
        self.per_rank = global_batch // world
        self.accumulation = self.per_rank // micro_batch
        self.steps_per_epoch = n // global_batch  # the tail that does not fill a batch waits for the next epoch
        self._perm_epoch = -1
        self._perm = None

    def epoch_of(self, step: int) -> int:
        return step // self.steps_per_epoch

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            self._perm_epoch = epoch
        return self._perm

    def global_indices(self, step: int) -> List[int]:
        e, k = divmod(step, self.steps_per_epoch)
        return [int(i) for i in self._permutation(e)[k * self.global_batch:(k + 1) * self.global_batch]]

    def micro_batches(self, step: int) -> List[List[Tuple[int, int]]]:
        """This rank's micro-batches of step `step` as lists of (epoch, dataset index)."""
        e = self.epoch_of(step)
        mine = self.global_indices(step)[self.rank * self.per_rank:(self.rank + 1) * self.per_rank]
        return [[(e, i) for i in mine[j:j + self.micro_batch]] for j in range(0, self.per_rank, self.micro_batch)]

    def iter_from(self, start: int, stop: int) -> Iterator[List[Tuple[int, int]]]:
        """Micro-batches of steps start..stop-1 in order (a torch DataLoader batch_sampler)."""
        for s in range(start, stop):
            yield from self.micro_batches(s)


class StepBatches:
    """DataLoader batch_sampler over steps [start, stop): lets workers prefetch the next steps."""

    def __init__(self, sampler: GlobalBatchSampler, start: int, stop: int):
        self.sampler, self.start, self.stop = sampler, start, stop

    def __iter__(self):
        return self.sampler.iter_from(self.start, self.stop)

    def __len__(self) -> int:
        return (self.stop - self.start) * self.sampler.accumulation


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, 7919, epoch, index])
