"""Background duties under one supervisor, so none can die silently (after River's maintenance services).

A duty is either periodic (`run_once()` every `period` seconds, returning a count a test can check)
or a loop (a coroutine meant to run until the service stops: the consumer, the hand-over). The
supervisor runs each as a task. An unexpected exception is logged at error level with the duty's
name and the duty restarts after an exponential backoff; an expected one (the database or NATS
unavailable) is logged as a warning. A loop that returns although its service is not stopping is a
failure too. While any duty cannot run, the service reports NOT_SERVING on grpc.health.v1, and
SERVING again once every duty runs.

A duty counts as running again only once it has worked: a periodic duty after one clean run, a loop
after LOOP_CLEAN_AFTER seconds without failing. Until then its failures keep counting, so one that
fails at every start backs off further each time instead of restarting at the first step forever
(and health does not flap).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import structlog

from postsched import instruments
from postsched.backoff import Backoff
from postsched.errors import PostschedError

log = structlog.get_logger("postsched.duties")

BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
# A loop counts as running again after this long without failing. Its restarts back off up to
# LOOP_BACKOFF_CAP: far enough apart not to spin, near enough to be back within seconds of an outage.
LOOP_CLEAN_AFTER = 1.0
LOOP_BACKOFF_CAP = 5.0
HealthSink = Callable[[bool], Awaitable[None]]


backoff = Backoff(BACKOFF_BASE, BACKOFF_CAP).delay  # seconds before restart n + 1 of a failing duty


@dataclass
class DutyState:
    name: str
    runs: int = 0
    failures: int = 0  # consecutive
    last_error: str = ""
    marked: str = ""  # why the running duty says it cannot work (mark), until it says it can again

    @property
    def healthy(self) -> bool:
        return self.failures == 0 and not self.marked


STOP_TIMEOUT = 8.0


class DutyEnded(Exception):
    """A loop duty returned while its service was not stopping."""


def _stack(task: asyncio.Task[Any]) -> str:
    """Where a task is stuck, for the log line that says so."""
    frames = task.get_stack(limit=8)
    return " <- ".join(f"{f.f_code.co_filename.rsplit('/', 1)[-1]}:{f.f_lineno} {f.f_code.co_name}" for f in reversed(frames))


@dataclass
class Supervisor:
    """Runs duties, restarts them after failures, and reports health."""

    health: HealthSink | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    states: dict[str, DutyState] = field(default_factory=dict)
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _reported: bool = True

    def __post_init__(self) -> None:
        # postsched.duty.healthy per duty, for Prometheus (read at scrape time, from another thread).
        instruments.watch_duties(lambda: [(s.name, s.healthy) for s in list(self.states.values())])

    @property
    def healthy(self) -> bool:
        return all(state.healthy for state in self.states.values())

    def periodic(
        self, name: str, run_once: Callable[[], Awaitable[object]], period: float, *, first_delay: float | None = None
    ) -> None:
        """Runs `run_once()` every `period` seconds (the first after `first_delay`, default `period`)."""

        async def body(state: DutyState) -> None:
            await self.sleep(period if first_delay is None else first_delay)
            while True:
                await run_once()
                state.runs += 1
                await self._recovered(state)
                await self.sleep(period)

        self._start(name, body, cap=period)

    def loop(self, name: str, run: Callable[[], Awaitable[None]], *, finished: Callable[[], bool] | None = None,
             clean_after: float = LOOP_CLEAN_AFTER) -> None:
        """Runs `run()` for good: restarts it whenever it raises, or returns while `finished()` (its
        service is stopping) is not true."""

        async def body(state: DutyState) -> None:
            state.runs += 1
            recovery = asyncio.create_task(self._recover_after(state, clean_after))
            try:
                await run()
            finally:
                recovery.cancel()
            if finished is None or not finished():
                raise DutyEnded(f"the {name} loop returned")

        self._start(name, body, cap=LOOP_BACKOFF_CAP)

    async def _recover_after(self, state: DutyState, seconds: float) -> None:
        await self.sleep(seconds)
        await self._recovered(state)

    def _start(self, name: str, body: Callable[[DutyState], Awaitable[None]], *, cap: float = BACKOFF_CAP) -> None:
        state = self.states[name] = DutyState(name)
        self._tasks[name] = asyncio.create_task(self._supervise(state, body, cap), name=name)

    async def _supervise(self, state: DutyState, body: Callable[[DutyState], Awaitable[None]], cap: float) -> None:
        while True:
            try:
                await body(state)
                return
            except Exception as exc:  # a duty must outlive any one failure
                state.failures += 1
                state.last_error = str(exc) or type(exc).__name__
                delay = min(backoff(state.failures), cap)  # a periodic duty retries at least once a period
                if isinstance(exc, PostschedError):
                    log.warning("duty failed; retrying", duty=state.name, error=state.last_error,
                                failures=state.failures, retry_in_s=delay)
                elif isinstance(exc, DutyEnded):
                    log.error("duty ended by itself; restarting", duty=state.name, failures=state.failures,
                              retry_in_s=delay)
                else:
                    log.exception("duty crashed; restarting", duty=state.name, failures=state.failures,
                                  retry_in_s=delay)
                await self._report()
                await self.sleep(delay)

    async def mark(self, name: str, healthy: bool, error: str = "") -> None:
        """A running duty says it cannot do its work now (or can again) without ending: health
        follows it (a consumer whose JetStream consumer is gone keeps trying to make it again)."""
        state = self.states.get(name)
        if state is None:
            return
        # Kept apart from the failure count: a duty's own restarts and recovery never clear it.
        state.marked = "" if healthy else (error or "unavailable")
        await self._report()

    async def _recovered(self, state: DutyState) -> None:
        if state.failures:
            log.info("duty running again", duty=state.name, after_failures=state.failures)
            state.failures = 0
            await self._report()

    async def _report(self) -> None:
        healthy = self.healthy
        if healthy != self._reported and self.health is not None:
            self._reported = healthy
            with contextlib.suppress(Exception):
                await self.health(healthy)

    async def stop(self, *names: str, timeout: float = STOP_TIMEOUT) -> None:
        """Stops the named duties, or all of them; gives up on one that has not ended within
        `timeout` seconds of its cancellation (logged by name), so shutdown never hangs on it."""
        stopping = [self._tasks.pop(name) for name in (names or list(self._tasks)) if name in self._tasks]
        for task in stopping:
            task.cancel()
        if not stopping:
            return
        _, pending = await asyncio.wait(stopping, timeout=timeout)
        if pending:
            log.error("duties did not stop when cancelled; shutting down without them",
                      duties=sorted(t.get_name() for t in pending), stacks=[_stack(t) for t in pending])
