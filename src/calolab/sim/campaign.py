"""Sharded generation: many events, in one process, in local processes, or on a Dask cluster.

A campaign of ``n_events`` is cut into shards of ``shard_size`` events. Shard ``k`` draws its
primaries from ``SeedSequence(seed, spawn_key=(k, 0))`` and hands the engine
``SeedSequence(seed, spawn_key=(k, 1))``, so a shard depends only on (seed, k, its size): any
shard can be regenerated alone, bit for bit, and the result does not depend on how many
workers ran it or in which order they finished. Shards are written in index order.

Where the shards run:

* ``workers=1`` (default): in this process;
* ``workers=N``: N local processes (``spawn``ed, so it is safe alongside numba and threads);
* ``scheduler="local"``: a Dask ``LocalCluster`` of ``workers`` processes started for the run;
* ``scheduler="tcp://host:8786"``: an existing Dask cluster (its workers need calolab installed).

With a ``selection`` (:class:`~calolab.sim.selection.EventSelection`) each shard keeps only the
events that pass its cuts, where the shard runs; the kept events do not change with the number of
workers either.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np

from calolab.detector.geometry import Calorimeter, load_detector
from calolab.errors import ConfigError
from calolab.sim.engine import Engine, get_engine
from calolab.sim.events import Deposits
from calolab.sim.gun import Gun, GunConfig, make_gun
from calolab.sim.selection import EventSelection, as_selection

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "Shard",
    "Campaign",
    "plan_shards",
    "shard_seeds",
    "simulate_shard",
    "random_seed",
    "simulate",
]

#: events per shard unless told otherwise: small enough for a smooth progress bar and
#: little memory per worker, large enough that scheduling costs nothing
DEFAULT_SHARD_SIZE = 100
#: how long to keep trying to reach a Dask scheduler before giving up
SCHEDULER_TIMEOUT = "20s"


@dataclass(frozen=True)
class Shard:
    """Events ``[start, start + n_events)`` of a campaign, generated as shard ``index``."""

    index: int
    start: int
    n_events: int


def plan_shards(n_events: int, shard_size: int = DEFAULT_SHARD_SIZE) -> list[Shard]:
    """Cut ``n_events`` into shards of ``shard_size`` (the last one may be shorter)."""
    if n_events < 0:
        msg = f"the number of events must be >= 0, got {n_events}"
        raise ConfigError(msg)
    if shard_size < 1:
        msg = f"the shard size must be >= 1 event, got {shard_size}"
        raise ConfigError(msg)
    return [Shard(k, start, min(shard_size, n_events - start))
            for k, start in enumerate(range(0, n_events, shard_size))]


def shard_seeds(seed: int, index: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """The (gun, engine) seed sequences of shard ``index`` of a campaign seeded with ``seed``."""
    return (np.random.SeedSequence(seed, spawn_key=(index, 0)),
            np.random.SeedSequence(seed, spawn_key=(index, 1)))


def random_seed() -> int:
    """A fresh seed from the OS, in [0, 2**63) so shower files can store it."""
    return int(cast(int, np.random.SeedSequence().entropy) % (1 << 63))  # entropy is an int when drawn


def simulate_shard(detector: Calorimeter | str, gun: GunConfig | dict[str, Any], engine: str | Engine,
                   seed: int, shard: Shard, selection: EventSelection | str | None = None) -> Deposits:
    """Generate one shard; a pure function of its arguments, so it runs anywhere (processes, Dask).

    Args:
        detector: the detector, or its TOML text (what crosses to other processes).
        gun: the gun config (or its dict).
        engine: an engine or its spec (``"mc"``).
        seed: the campaign seed.
        shard: which shard.
        selection: keep only the events that pass these cuts (or their text); ``None`` keeps all.
    """
    if not isinstance(detector, Calorimeter):
        detector = Calorimeter.from_toml(detector)
    gun_seed, engine_seed = shard_seeds(seed, shard.index)
    shooter = make_gun(gun).for_detector(detector)  # a pair separation in cells -> mm
    primaries = shooter.generate(shard.n_events, np.random.default_rng(gun_seed))
    deposits = get_engine(engine).simulate(primaries.transported(), detector, engine_seed)
    deposits.primaries = primaries  # the full generator record: decayed pi0 (status 2) and their photons
    deposits.extra.update(shooter.truth(primaries))  # /truth/opening_angle, /truth/separation
    cuts = as_selection(selection)
    if cuts is not None:
        deposits = deposits.select(np.flatnonzero(cuts.passes(deposits.active, detector)))
    return deposits


class _Submitter(Protocol):  # concurrent.futures.Executor and dask.distributed.Client both fit
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any: ...


class _InProcess:
    """Runs each submitted call at once; its 'future' is the result itself."""

    class _Done:
        def __init__(self, value: Deposits) -> None:
            self.value = value

        def result(self) -> Deposits:
            return self.value

    def submit(self, fn: Callable[..., Deposits], /, *args: Any, **kwargs: Any) -> _Done:
        return self._Done(fn(*args, **kwargs))


@contextmanager
def _dask_client(scheduler: str, workers: int) -> Iterator[_Submitter]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as error:  # pragma: no cover - dask is a core dependency
        msg = "running on a Dask cluster needs dask.distributed: pip install 'dask[distributed]'"
        raise ConfigError(msg) from error
    with ExitStack() as stack:
        if scheduler == "local":
            cluster = stack.enter_context(LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=logging.ERROR,
            ))
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(scheduler, timeout=SCHEDULER_TIMEOUT))
            except OSError as error:
                msg = f"cannot reach the Dask scheduler at {scheduler!r}: {error} (is it running?)"
                raise ConfigError(msg) from None
        yield client


class Campaign:
    """A planned generation: detector, gun, engine, number of events, seed and where to run.

    Args:
        detector: a :class:`Calorimeter`, a preset name or a detector ``.toml`` path.
        gun: a :class:`GunConfig`, a dict of its fields, or a :class:`Gun`.
        n_events: events to generate, >= 0.
        seed: campaign seed; ``None`` draws one from the OS (kept in :attr:`seed` and the file).
        engine: engine spec (``"mc"``) or an :class:`Engine`.
        shard_size: events per shard; with the seed it fixes the result (see module docs).
        workers: local processes (or Dask workers with ``scheduler="local"``), >= 1.
        scheduler: ``None`` (no Dask), ``"local"`` or the address of a Dask scheduler.
        digitize: :meth:`write` also stores each shard's digitised signal
            (:class:`~calolab.detector.readout.Readout` of the detector), drawn from
            ``SeedSequence(seed, spawn_key=(k, 2))`` for shard ``k``.
        selection: keep only the events that pass these cuts on their raw shower features, e.g.
            ``"hcal_ecal_ratio<0.1"`` (:class:`~calolab.sim.selection.EventSelection`); ``n_events``
            are simulated and fewer kept (:attr:`n_kept` after a run).
    """

    def __init__(
        self,
        detector: Calorimeter | str | os.PathLike[str],
        gun: GunConfig | Gun | dict[str, Any],
        n_events: int,
        *,
        seed: int | None = None,
        engine: str | Engine = "mc",
        shard_size: int = DEFAULT_SHARD_SIZE,
        workers: int = 1,
        scheduler: str | None = None,
        digitize: bool = False,
        selection: EventSelection | str | None = None,
    ) -> None:
        self.digitize = digitize
        self.detector = detector if isinstance(detector, Calorimeter) else load_detector(detector)
        self.gun = gun if isinstance(gun, Gun) else make_gun(gun)
        self.shards = plan_shards(n_events, shard_size)
        self.n_events = n_events
        self.shard_size = shard_size
        if seed is not None and not 0 <= int(seed) < (1 << 63):
            msg = f"the seed must be an integer in [0, 2**63), got {seed}"
            raise ConfigError(msg)
        self.seed = random_seed() if seed is None else int(seed)
        self.engine = get_engine(engine)  # fails early on an unknown engine
        self._engine_spec: str | Engine = engine if isinstance(engine, str) else self.engine
        if workers < 1:
            msg = f"workers must be >= 1, got {workers}"
            raise ConfigError(msg)
        self.workers = workers
        self.scheduler = scheduler
        self.selection = as_selection(selection)
        if self.selection is not None:
            self.selection.check(self.detector)  # an unknown feature fails before the first shower
        #: events the last run kept (``n_events`` without a selection)
        self.n_kept: int | None = None

    # ------------------------------------------------------------ running

    def _executor(self) -> AbstractContextManager[_Submitter]:
        if self.scheduler is not None:
            return _dask_client(self.scheduler, self.workers)
        if self.local_processes > 1:
            context = multiprocessing.get_context("spawn")
            return ProcessPoolExecutor(max_workers=self.local_processes, mp_context=context)
        return nullcontext(_InProcess())

    def run(self, on_shard: Callable[[Shard, Deposits], None] | None = None) -> Iterator[Deposits]:
        """Generate the shards and yield their (kept) events in index order (at most ~2 per worker in flight).

        Args:
            on_shard: called with each shard and its kept deposits as they are yielded (progress bars).
        """
        gun = self.gun.config.model_dump(mode="json")
        selection = None if self.selection is None else self.selection.describe()
        detector_toml = self.detector.to_toml()
        window = 2 * self.workers if (self.workers > 1 or self.scheduler) else 1
        with self._executor() as executor:
            pending: deque[Any] = deque()
            shards = iter(self.shards)

            def submit_next() -> None:
                shard = next(shards, None)
                if shard is not None:
                    detector = self.detector if isinstance(executor, _InProcess) else detector_toml
                    pending.append((shard, executor.submit(simulate_shard, detector, gun, self._engine_spec,
                                                           self.seed, shard, selection)))

            self.n_kept = 0
            for _ in range(window):
                submit_next()
            while pending:
                shard, future = pending.popleft()
                deposits = future.result()
                submit_next()
                self.n_kept += len(deposits)
                if on_shard is not None:
                    on_shard(shard, deposits)
                yield deposits

    def simulate(self, progress: bool = False) -> Deposits:
        """All events in memory (one :class:`Deposits`)."""
        with _progress(self, progress) as advance:
            parts = list(self.run(advance))
        if not parts:
            return simulate_shard(self.detector, self.gun.config, self.engine, self.seed, Shard(0, 0, 0))
        return Deposits.concatenate(parts)

    def write(
        self,
        path: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        compression: str | None = "gzip",
        progress: bool = False,
    ) -> Path:
        """Generate into a shower file, shard by shard; the file appears only when complete.

        The file records the detector, gun, engine, seed and shard size, so it can be regenerated.

        Raises:
            DatasetError: the output folder is missing or the file exists (checked before any
                simulation starts).
        """
        from calolab.data.showerfile import ShowerFileWriter

        attrs: dict[str, Any] = {"shard_size": self.shard_size}
        if self.selection is not None:
            attrs |= {"selection": self.selection.describe(), "n_simulated": self.n_events}
        if self.digitize:
            attrs |= {"digitize_seed": self.seed, "digitize_seeding": "SeedSequence(seed, spawn_key=(shard, 2))"}
        writer = ShowerFileWriter(
            path, self.detector, gun=self.gun.to_dict(), engine=self.engine.name,
            engine_version=self.engine.version, seed=self.seed, compression=compression, overwrite=overwrite,
            attrs=attrs,
        )
        with writer, _progress(self, progress) as advance:
            readout = None
            if self.digitize:  # the readout (and any sampling-fraction calibration run) before the first shard
                from calolab.detector.readout import Readout

                readout = Readout.from_detector(self.detector)
            for shard, deposits in zip(self.shards, self.run(advance), strict=False):
                hits = None
                if readout is not None:
                    rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(shard.index, 2)))
                    hits = readout.digitize(deposits, rng)
                writer.append(deposits, hits)
        return writer.path

    @property
    def local_processes(self) -> int:
        """Processes a run without a scheduler uses: never more than there are shards."""
        return max(1, min(self.workers, len(self.shards)))

    def describe(self) -> str:
        processes = self.local_processes
        where = (f"Dask {self.scheduler} ({self.workers} workers)" if self.scheduler
                 else f"{processes} process{'es' if processes > 1 else ''}")
        shards = f"{len(self.shards)} shard{'s' if len(self.shards) > 1 else ''}"
        kept = "" if self.selection is None else f", keeping those with {self.selection.describe()}"
        return (f"{self.n_events} events of {self.gun.config.describe()} in {self.detector.name} "
                f"with engine {self.engine.name}, seed {self.seed}, {shards} on {where}{kept}")


@contextmanager
def _progress(campaign: Campaign, enabled: bool) -> Iterator[Callable[[Shard, Deposits], None] | None]:
    """A rich progress bar counting the events simulated (and kept, with a selection) while the campaign runs."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    kept = [TextColumn("{task.fields[kept]} kept")] if campaign.selection is not None else []
    columns = (TextColumn("[bold]simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("events"), *kept,
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("simulating", total=campaign.n_events, kept=0)

        def advance(shard: Shard, deposits: Deposits) -> None:  # run() has counted the shard's kept events
            bar.update(task, advance=shard.n_events, kept=campaign.n_kept)

        yield advance


def simulate(
    detector: Calorimeter | str | os.PathLike[str],
    gun: GunConfig | Gun | dict[str, Any] | None = None,
    n: int = 100,
    *,
    seed: int | None = None,
    engine: str | Engine = "mc",
    workers: int = 1,
    scheduler: str | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    progress: bool = False,
    selection: EventSelection | str | None = None,
    **gun_options: Any,
) -> Deposits:
    """Simulate ``n`` events and return them in memory.

    >>> showers = simulate("calice-siw", particle="e-", energy="1GeV", n=2, seed=1)  # doctest: +SKIP
    >>> showers.active["ECAL"].shape  # doctest: +SKIP
    (2, 30, 18, 18)

    Args:
        detector: a :class:`Calorimeter`, a preset name (``"cms"``) or a detector ``.toml`` path.
        gun: a :class:`GunConfig` / :class:`Gun` / dict; ``None`` builds one from ``gun_options``.
        n: number of events.
        seed: the seed (the same seed and shard size give the same events); ``None`` = fresh.
        engine: ``"mc"`` (the calolab Monte Carlo) or another registered engine.
        workers: local processes; with ``scheduler`` the Dask workers of a local cluster.
        scheduler: ``None``, ``"local"`` (a Dask LocalCluster) or a Dask scheduler address.
        shard_size: events per shard.
        progress: show a progress bar.
        selection: keep only the events that pass these cuts, e.g. ``"hcal_ecal_ratio<0.1"``
            (:class:`~calolab.sim.selection.EventSelection`): ``n`` events are simulated, fewer returned.
        **gun_options: :class:`GunConfig` fields (``particle="gamma", energy="10-100GeV"``), merged
            over ``gun``.

    Returns:
        the deposits, events in order.
    """
    if isinstance(gun, Gun):
        gun = gun.config
    campaign = Campaign(detector, make_gun(gun, **gun_options), n, seed=seed, engine=engine,
                        shard_size=shard_size, workers=workers, scheduler=scheduler, selection=selection)
    return campaign.simulate(progress=progress)
