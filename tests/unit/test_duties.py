"""The duty supervisor: a crashing duty is logged with its name, restarted with backoff, and makes
the service NOT_SERVING until it runs again; run_once() counts are what the duty returns."""

from __future__ import annotations

import asyncio

import structlog

from postsched.duties import BACKOFF_CAP, Supervisor, backoff
from postsched.errors import Unavailable


class Flaky:
    """Fails `failures` times (with `error`), then counts its runs."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.runs = 0

    async def run_once(self) -> int:
        if self.failures:
            self.failures -= 1
            raise self.error
        self.runs += 1
        return self.runs


async def settle(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met"
        await asyncio.sleep(0.001)


def recording_supervisor() -> tuple[Supervisor, list[bool], list[float]]:
    """A supervisor whose health reports and sleeps are recorded (sleeps do not wait)."""
    health: list[bool] = []
    slept: list[float] = []

    async def sink(serving: bool) -> None:
        health.append(serving)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    return Supervisor(health=sink, sleep=sleep), health, slept


def test_backoff_grows_and_is_capped() -> None:
    assert [backoff(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert backoff(50) == BACKOFF_CAP


async def test_a_crashing_duty_is_logged_restarted_and_reported() -> None:
    duty = Flaky(2, RuntimeError("boom"))
    supervisor, health, slept = recording_supervisor()
    with structlog.testing.capture_logs() as logs:
        supervisor.periodic("flaky", duty.run_once, 10.0)
        await settle(lambda: duty.runs >= 1)
        await supervisor.stop()
    crashes = [entry for entry in logs if entry["event"] == "duty crashed; restarting"]
    assert [c["duty"] for c in crashes] == ["flaky", "flaky"] and all(c["log_level"] == "error" for c in crashes)
    assert health == [False, True], "NOT_SERVING while the duty could not run, SERVING once it ran"
    assert 0.5 in slept and 1.0 in slept  # backoff between restarts
    assert supervisor.states["flaky"].healthy


async def test_an_expected_failure_is_a_warning_and_still_not_serving() -> None:
    duty = Flaky(1, Unavailable("database unavailable; retry"))
    supervisor, health, _ = recording_supervisor()
    with structlog.testing.capture_logs() as logs:
        supervisor.periodic("rescuer", duty.run_once, 1.0)
        await settle(lambda: duty.runs >= 1)
        await supervisor.stop()
    (entry,) = [e for e in logs if e["event"].startswith("duty") and e["log_level"] != "info"]
    assert entry["log_level"] == "warning" and entry["duty"] == "rescuer"
    assert health == [False, True]


async def test_a_loop_duty_that_dies_is_restarted() -> None:
    starts: list[int] = []

    async def loop() -> None:
        starts.append(1)
        if len(starts) < 3:
            raise ValueError("the loop died")
        await asyncio.Event().wait()

    supervisor, _, _ = recording_supervisor()
    supervisor.loop("consumer", loop)
    await settle(lambda: len(starts) == 3)
    await settle(lambda: supervisor.healthy)  # once it has run its clean interval (not waited here)
    await supervisor.stop()


async def test_stop_stops_only_the_named_duties() -> None:
    duty = Flaky(0, RuntimeError())
    supervisor = Supervisor()
    supervisor.periodic("a", duty.run_once, 0.001)
    supervisor.periodic("b", duty.run_once, 0.001)
    await supervisor.stop("a")
    runs = duty.runs
    await settle(lambda: duty.runs > runs)  # b still runs
    await supervisor.stop()


class Gate:
    """A sleep for supervisors under test: the clean interval of a loop duty waits for `open`,
    backoff sleeps are recorded and return at once."""

    def __init__(self, clean_after: float) -> None:
        self.clean_after = clean_after
        self.open = asyncio.Event()
        self.backoffs: list[float] = []

    async def sleep(self, seconds: float) -> None:
        if seconds == self.clean_after:
            await self.open.wait()
        else:
            self.backoffs.append(seconds)
            await asyncio.sleep(0)


async def test_a_loop_duty_failing_at_every_start_backs_off_further_and_health_does_not_flap() -> None:
    gate, health = Gate(clean_after=7.0), []

    async def sink(serving: bool) -> None:
        health.append(serving)

    starts: list[int] = []

    async def run() -> None:
        starts.append(1)
        await asyncio.sleep(0)  # it gets going, then fails
        raise ConnectionError("the broker went away")

    supervisor = Supervisor(health=sink, sleep=gate.sleep)
    supervisor.loop("consumer", run, clean_after=gate.clean_after)
    await settle(lambda: len(gate.backoffs) >= 6)
    assert gate.backoffs[:6] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]  # doubling up to LOOP_BACKOFF_CAP
    assert health == [False] and supervisor.states["consumer"].failures >= 6

    # Once it runs a clean interval, it counts as running again.
    starts.clear()

    async def steady() -> None:
        starts.append(1)
        await asyncio.Event().wait()

    await supervisor.stop()
    supervisor = Supervisor(health=sink, sleep=gate.sleep)
    health.clear()
    calls = iter([run, steady])
    supervisor.loop("consumer", lambda: next(calls)(), clean_after=gate.clean_after)
    await settle(lambda: len(starts) == 2)  # the failing start, then the steady one
    await asyncio.sleep(0.01)
    assert not supervisor.healthy  # failed once, not yet clean for 7 s
    gate.open.set()
    await settle(lambda: supervisor.healthy)
    assert health == [False, True]
    await supervisor.stop()


async def test_a_loop_duty_that_returns_is_a_failure_unless_its_service_is_stopping() -> None:
    gate = Gate(clean_after=7.0)
    gate.open.set()
    returned: list[int] = []

    async def returns_once() -> None:
        returned.append(1)
        if len(returned) > 1:
            await asyncio.Event().wait()

    supervisor = Supervisor(sleep=gate.sleep)
    with structlog.testing.capture_logs() as logs:
        supervisor.loop("handover", returns_once, clean_after=gate.clean_after)
        await settle(lambda: len(returned) == 2)
    (ended,) = [e for e in logs if e["event"] == "duty ended by itself; restarting"]
    assert ended["duty"] == "handover" and ended["log_level"] == "error"
    await settle(lambda: supervisor.healthy)
    await supervisor.stop()

    stopping = Supervisor(sleep=gate.sleep)
    finished: list[int] = []

    async def ends() -> None:
        finished.append(1)

    with structlog.testing.capture_logs() as logs:
        stopping.loop("consumer", ends, finished=lambda: True, clean_after=gate.clean_after)
        await settle(lambda: finished == [1])
        await asyncio.sleep(0.01)
    assert finished == [1] and not [e for e in logs if e["log_level"] == "error"]
    await stopping.stop()


async def test_a_duty_marked_unable_stays_unhealthy_through_its_recovery_until_it_says_otherwise() -> None:
    """The consumer marks itself unable (its stream is gone) within a second of starting: the loop's
    recovery timer must not clear that."""
    gate = Gate(clean_after=7.0)
    supervisor = Supervisor(sleep=gate.sleep)
    running = asyncio.Event()

    async def consumer() -> None:
        await supervisor.mark("consumer", False, "the stream is gone")
        running.set()
        await asyncio.Event().wait()

    supervisor.loop("consumer", consumer, clean_after=gate.clean_after)
    await running.wait()
    gate.open.set()  # its clean interval passes
    await asyncio.sleep(0.01)
    assert not supervisor.healthy and supervisor.states["consumer"].marked == "the stream is gone"
    await supervisor.mark("consumer", True)
    assert supervisor.healthy
    await supervisor.stop()
