"""Per-model scheduling: N slots, a bounded wait queue, generation in worker threads.

Each slot owns one engine instance (slot 0 is the :class:`~shimmy_lab.lab.Lab`'s
engine, the others are extra llama.cpp contexts over the same memory-mapped
weights), used by one worker thread at a time. A request waits for a free slot in
FIFO order; when ``queue_size`` requests already wait it is refused at once
(:class:`QueueFullError`, 429), and after ``queue_timeout`` seconds of waiting it
gives up (:class:`OverloadedError`, 503). The event loop only moves chunks from the
worker thread to the client, so ``/health`` answers while every slot is busy. A
client that goes away sets the job's cancel event and the worker stops at the
next token.

With ``batching`` (llama.cpp models only) the N slots are N sequences of one
:class:`~shimmy_lab.engines.llama_batch.BatchedLlama`: one context whose decode
loop advances every running request by one token per ``llama_decode`` call.
Each slot's engine is then a :class:`~shimmy_lab.engines.llama_batch.BatchedEngine`
view; requests with logprobs or a grammar fall back to the lab's engine.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterable

from ..cores import usable_cores
from ..errors import ModelNotFoundError
from .errors import OverloadedError, QueueFullError

if TYPE_CHECKING:  # pragma: no cover
    from ..engines import Engine
    from ..lab import Lab
    from .metrics import Metrics

__all__ = ["ModelScheduler", "SchedulerPool"]

log = logging.getLogger("shimmy_lab.server")

_END = object()


class ModelScheduler:
    """Slots and queue of one model.

    Parameters
    ----------
    lab : Lab
        Where slot 0's engine comes from (so a model loaded in the notebook is served).
    model_id : str
        Registry id of the model.
    slots : int
        Number of engine instances that generate at the same time.
    queue_size : int
        How many requests may wait for a slot.
    queue_timeout : float
        Seconds a request may wait before it is answered 503.
    metrics : Metrics, optional
        Queue depth and busy slots are reported there.
    batching : bool
        Serve the slots from one batched llama.cpp context (llama.cpp engines only;
        other engines keep one instance per slot).
    batch_threads : int, optional
        Threads of the batched context (default: all cores).
    batch_slots : int, optional
        Sequences of the batched context when the engine can batch (default: ``slots``);
        an engine that cannot batch gets ``slots`` instances.
    share_cores : bool
        The running slots share the machine's cores (:meth:`Engine.set_threads`): a job
        starting while N run gets ``cores // N`` threads and gives some back when more
        start, so a request alone runs on every core and concurrent ones do not
        oversubscribe them (``--parallel auto``).
    """

    def __init__(self, lab: "Lab", model_id: str, *, slots: int = 1, queue_size: int = 16,
                 queue_timeout: float = 60.0, metrics: "Metrics | None" = None, batching: bool = False,
                 batch_threads: int | None = None, share_cores: bool = False, batch_slots: int | None = None):
        self.lab = lab
        self.model_ref = model_id  # what Lab.engine accepts (an id, or the default model's path)
        self.model_id = model_id  # the public id
        self.n_slots = max(1, int(slots))
        self.queue_size = int(queue_size)
        self.queue_timeout = float(queue_timeout)
        self.metrics = metrics
        self.engines: list[Engine] = []
        self._extra: list[Engine] = []
        self.batching = bool(batching)
        self.batch_threads = batch_threads
        self.batch_slots = batch_slots
        self.batch = None  # BatchedLlama when batching
        self._views: list[Engine] = []
        self._free: asyncio.Queue[int] = asyncio.Queue()
        self._waiting = 0
        self._busy = 0
        self._cancels: set[threading.Event] = set()
        self.closed = False
        self.share_cores = bool(share_cores)
        self._cores = usable_cores()
        self._running: set[int] = set()  # slots generating now (share_cores)
        self._threads: dict[int, int] = {}  # id(engine) -> threads it was last given
        self._running_lock = threading.Lock()
        self._mailbox: _Mailbox | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> "ModelScheduler":
        """Load the engines (in a thread) and open the slots."""
        loop = asyncio.get_running_loop()
        primary = await loop.run_in_executor(None, self.lab.engine, self.model_ref)
        self.engines = [primary]
        if self.batching and getattr(primary, "supports_batching", False):
            self.n_slots = max(1, int(self.batch_slots or self.n_slots))
            await loop.run_in_executor(None, self._start_batch, primary)
        for _ in range(self.n_slots - 1 if self.batch is None else 0):
            extra = await loop.run_in_executor(None, self._new_engine, primary)
            self._extra.append(extra)
            self.engines.append(extra)
        for i in range(self.n_slots):
            self._free.put_nowait(i)
        if self.metrics is not None:
            self.metrics.slots.labels(self.model_id).set(self.n_slots)
        return self

    def _start_batch(self, primary: "Engine") -> None:
        view = primary.batched(self.n_slots, base=lambda: self.lab.engine(self.model_ref),
                               n_threads=self.batch_threads)
        self.batch = view.batch
        self._views = [view] * self.n_slots

    def _new_engine(self, primary: "Engine") -> "Engine":
        return self.lab.engine(self.model_ref, engine=primary.name, keep=False)

    def close(self) -> None:
        """Stop running jobs and free the extra engines (slot 0 belongs to the lab)."""
        self.closed = True
        for event in list(self._cancels):
            event.set()
        for eng in self._extra:
            try:
                eng.close()
            except Exception:  # pragma: no cover - best effort at shutdown
                log.exception("closing a slot engine failed")
        self._extra.clear()
        if self.batch is not None:
            try:
                self.batch.close()
            except Exception:  # pragma: no cover - best effort at shutdown
                log.exception("closing the batched context failed")
            self.batch = None

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot."""
        return self._waiting

    @property
    def busy(self) -> int:
        """Slots generating right now."""
        return self._busy

    def status(self) -> dict[str, Any]:
        return {"model": self.model_id, "slots": self.n_slots, "busy": self._busy, "waiting": self._waiting,
                "queue_size": self.queue_size, "batching": self.batch is not None}

    # ------------------------------------------------------------------ slots
    async def _acquire(self) -> int:
        if self.closed:
            raise OverloadedError("The server is shutting down.")
        if self._free.empty() and self._waiting >= self.queue_size:
            if self.metrics is not None:
                self.metrics.rejected.labels(self.model_id, "queue_full").inc()
            raise QueueFullError(self.model_id, self.queue_size, retry_after=max(1, round(self.queue_timeout / 10)))
        self._waiting += 1
        self._gauge()
        try:
            slot = await asyncio.wait_for(self._free.get(), self.queue_timeout)
        except (asyncio.TimeoutError, TimeoutError):
            if self.metrics is not None:
                self.metrics.rejected.labels(self.model_id, "timeout").inc()
            raise OverloadedError(f"No slot for {self.model_id!r} became free within {self.queue_timeout:g} s.",
                                  retry_after=max(1, round(self.queue_timeout / 10))) from None
        finally:
            self._waiting -= 1
            self._gauge()
        self._busy += 1
        self._gauge()
        return slot

    def _release(self, slot: int) -> None:
        self._busy -= 1
        self._free.put_nowait(slot)
        self._gauge()

    def _gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.labels(self.model_id).set(self._waiting)
            self.metrics.slots_busy.labels(self.model_id).set(self._busy)

    def _share(self, slot: int, running: bool) -> None:
        """Mark ``slot`` running or stopped (the cores are spread over the running slots)."""
        with self._running_lock:
            if running:
                self._running.add(slot)
            else:
                self._running.discard(slot)

    def _fit_threads(self, slot: int, engine: "Engine", start: bool = False) -> None:
        """Give ``engine`` its share of the cores before its next forward pass. Called by the
        slot's own worker between tokens (a context's threads never change during a decode):
        at the start of a job its share; later only less, when more slots run (a share that
        grows back mid-job would change the thread team at every arrival and departure)."""
        threads = max(1, self._cores // max(1, len(self._running)))
        last = self._threads.get(id(engine))  # by engine: the lab may have reloaded slot 0's
        if last != threads and (start or last is None or threads < last):
            engine.set_threads(threads)
            self._threads[id(engine)] = threads

    def _engine(self, slot: int) -> "Engine":
        if self._views:
            return self._views[slot]
        if slot == 0:  # the lab may have reloaded the model since; keeps its LRU order fresh too
            self.engines[0] = self.lab.engine(self.model_ref)
        return self.engines[slot]

    # ------------------------------------------------------------------ jobs
    async def stream(self, make: Callable[["Engine"], Iterable[Any]],
                     cancel: threading.Event | None = None) -> AsyncIterator[Any]:
        """Run ``make(engine)`` on a free slot in a worker thread; yield what it yields.

        Exceptions raised by ``make`` or while iterating are re-raised here. Closing
        this generator early (client gone) cancels the job; the slot is freed once
        the worker has stopped.
        """
        cancel = cancel or threading.Event()
        slot = await self._acquire()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[Any, Any]] = asyncio.Queue()
        self._cancels.add(cancel)
        if self._mailbox is None or self._mailbox.loop is not loop:
            self._mailbox = _Mailbox(loop)
        mailbox = self._mailbox

        def put(kind: Any, value: Any) -> None:
            if not mailbox.put(queue, (kind, value)):  # loop closed: the server is gone
                cancel.set()

        share = self.share_cores and self.batch is None

        def work() -> None:
            iterator = None
            try:
                engine = self._engine(slot)
                if share:
                    self._share(slot, True)
                    self._fit_threads(slot, engine, start=True)
                iterator = iter(make(engine))
                for item in iterator:
                    if cancel.is_set():
                        break
                    put("item", item)
                    if share:
                        self._fit_threads(slot, engine)
                put(_END, None)
            except BaseException as exc:  # handed over to the event loop
                put("error", exc)
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    try:
                        close()
                    except Exception:  # pragma: no cover
                        log.exception("closing a generation failed")
                if share:
                    self._share(slot, False)

        future = _in_new_thread(loop, work, f"shimmy-{self.model_id[:16]}-{slot}")
        try:
            while True:
                kind, value = await queue.get()
                if kind is _END:
                    break
                if kind == "error":
                    raise value
                yield value
        finally:
            cancel.set()
            self._cancels.discard(cancel)
            # free the slot only when the worker has really stopped using the engine
            future.add_done_callback(lambda _f: self._release(slot))

    async def call(self, fn: Callable[["Engine"], Any]) -> Any:
        """Run ``fn(engine)`` on a free slot in a worker thread and return its result."""
        result = None
        async for result in self.stream(lambda eng: [fn(eng)]):
            pass
        return result


class _Mailbox:
    """Items from the worker threads to their jobs' queues on the event loop, handed over
    in batches: a worker's item goes into a shared list, and only the first item since
    the loop last emptied it schedules a call there (``call_soon_threadsafe``), which
    moves every item that came in the meantime. With batched decoding, the chunks of the
    requests' tokens of one step, made by their threads at about the same time, wake the
    loop once or a few times instead of once each. Each job's items keep their order.

    Parameters
    ----------
    loop : asyncio.AbstractEventLoop
        The loop that owns the jobs' queues.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self._items: list[tuple[asyncio.Queue, Any]] = []
        self._lock = threading.Lock()
        self._scheduled = False

    def put(self, queue: asyncio.Queue, item: Any) -> bool:
        """Hand ``item`` to ``queue`` (from any thread); False if the loop is closed."""
        with self._lock:
            self._items.append((queue, item))
            if self._scheduled:
                return True
            self._scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # loop closed
            with self._lock:
                self._scheduled = False
            return False
        return True

    def _deliver(self) -> None:
        with self._lock:
            items, self._items = self._items, []
            self._scheduled = False
        for queue, item in items:
            queue.put_nowait(item)


def _in_new_thread(loop: asyncio.AbstractEventLoop, fn: Callable[[], None], name: str) -> asyncio.Future:
    """Run ``fn`` in a thread of its own; the future resolves when it returns.

    One thread per job, not a pool: libgomp (llama.cpp's OpenMP) keeps a team of worker
    threads for every thread that ran a parallel region; once two slots' threads have
    computed at the same time, the extra teams outnumber the cores and every later decode
    runs with throttled spinning, about 2.3x slower on 2 cores, for good (measured with the
    bundled model; benchmarks/server.py, single_request_s). A thread that ends frees its team.
    """
    future = loop.create_future()

    def run() -> None:
        try:
            fn()
        finally:
            try:
                loop.call_soon_threadsafe(future.set_result, None)
            except RuntimeError:  # the loop is closed: the server is gone
                pass

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


class SchedulerPool:
    """The schedulers of one app, created on first use of each model.

    Parameters
    ----------
    lab : Lab
        Shared registry and engines.
    settings : callable
        Returns the current settings (they may be reloaded while serving).
    metrics : Metrics, optional
    """

    def __init__(self, lab: "Lab", settings: Callable[[], Any], metrics: "Metrics | None" = None):
        self.lab = lab
        self.settings = settings
        self.metrics = metrics
        self.schedulers: dict[str, ModelScheduler] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def resolve(self, model: str | None) -> tuple[str, str]:
        """``(reference for Lab.engine, public id)`` of a requested model.

        Only registry ids (and the configured default) are served: a request
        cannot make the server open an arbitrary path.

        Raises
        ------
        ModelNotFoundError
            Listing the ids that are available.
        """
        if not model or model == self.lab.default_model:
            return self.lab.default_model, self.lab.resolve(None).id
        ids = [e.id for e in self.lab.entries()]
        if model in ids:
            return model, model
        raise ModelNotFoundError(model, ids)

    async def get(self, model: str | None) -> ModelScheduler:
        """The started scheduler of ``model`` (loading it on first use)."""
        ref, model_id = await asyncio.get_running_loop().run_in_executor(None, self.resolve, model)
        sched = self.schedulers.get(model_id)
        if sched is not None and not sched.closed:
            return sched
        lock = self._locks.setdefault(model_id, asyncio.Lock())
        async with lock:
            sched = self.schedulers.get(model_id)
            if sched is None or sched.closed:
                s = self.settings()
                sched = ModelScheduler(self.lab, ref, slots=s.slots(), queue_size=s.queue_size,
                                       queue_timeout=s.queue_timeout, metrics=self.metrics,
                                       batching=bool(getattr(s, "batching", False)),
                                       batch_threads=getattr(s, "threads", None),
                                       share_cores=s.adaptive_threads, batch_slots=s.batch_slots())
                sched.model_id = model_id
                await sched.start()
                self.schedulers[model_id] = sched
        return sched

    def close(self) -> None:
        for sched in self.schedulers.values():
            sched.close()
        self.schedulers.clear()
