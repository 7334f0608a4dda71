"""The publisher's fair share, without processes: admission, deferral times, and who runs next."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from postsched.turns import in_turns
from services.publisher.fair_share import MAX_DEFER, MIN_DEFER, REMEMBER, FairShare

NOW = datetime(2027, 1, 1, tzinfo=timezone.utc)
A1, A2, A3, B1 = (uuid.UUID(int=i) for i in (1, 2, 3, 4))


def fill(fair: FairShare, tenant: str, account: uuid.UUID, count: int) -> None:
    for i in range(count):
        fair.enqueue(tenant, account, (tenant, account, i))


def teach(fair: FairShare, tenant: str, account: uuid.UUID, seconds: float) -> None:
    """Lets the fair share see 40 attempts of the account taking `seconds` each."""
    for i in range(40):
        fair.enqueue(tenant, account, ("lesson", i))
        assert fair.next() == ("lesson", i)
        fair.done(tenant, account, seconds)


def run_all(fair: FairShare) -> list[tuple]:
    started = []
    while (work := fair.next()) is not None:
        started.append(work)
    return started


def test_admission_holds_two_rounds_of_a_slow_account_and_gives_the_rest_back_spaced_in_order() -> None:
    fair: FairShare = FairShare(concurrency=100, per_account=4)
    teach(fair, "a", A1, 2.0)
    # 2 s of its work, at least two rounds of its slots, at most a quarter of the publisher.
    assert fair.account_cap(A1) == 8 and fair.account_cap(B1) == 25
    owners = [("a", A1)] * 20 + [("b", B1)] * 3 + [(None, None)]
    plan = fair.plan(owners, NOW)
    assert plan.claim == [0, 1, 2, 3, 4, 5, 6, 7, 20, 21, 22, 23]  # 2 x per_account of A1; b's; an old message
    times = [at for _, at in plan.defer]
    assert [i for i, _ in plan.defer] == list(range(8, 20))
    assert times == sorted(times) and len(set(times)) == len(times)  # in order, one slot's worth apart
    assert times[0] >= NOW + MIN_DEFER and times[-1] <= NOW + MAX_DEFER
    # Once the claimed ones are in, a second batch of the account continues after the first's last time.
    fill(fair, "a", A1, 8)
    later = fair.plan([("a", A1)] * 3, NOW)
    assert later.claim == [] and all(at > times[-1] for _, at in later.defer)


def test_defer_times_follow_how_long_the_accounts_attempts_take() -> None:
    fair: FairShare = FairShare(concurrency=100, per_account=2)
    teach(fair, "a", A1, 5.0)
    fill(fair, "a", A1, 4)
    plan = fair.plan([("a", A1)] * 3, NOW)
    gaps = [(b - a).total_seconds() for (_, a), (_, b) in zip(plan.defer, plan.defer[1:])]
    assert all(g == pytest.approx(2.5, rel=0.05) for g in gaps)  # 5 s / 2 slots
    assert plan.defer[0][1] - NOW == pytest.approx(timedelta(seconds=2.5), rel=0.05)  # one slot's worth from now


def test_a_lone_tenant_may_fill_the_publisher_one_account_a_quarter_and_tenants_share_by_weight() -> None:
    fair: FairShare = FairShare(concurrency=100, per_account=2)
    accounts = [uuid.UUID(int=10 + i) for i in range(6)]
    for account in accounts:
        teach(fair, "a", account, 0.01)
    assert fair.account_cap(accounts[0]) == 25
    plan = fair.plan([("a", accounts[i % 6]) for i in range(600)], NOW)
    assert len(plan.claim) == 100 and len(plan.defer) == 500  # alone: the whole publisher, no more
    assert max(sum(1 for i in plan.claim if i % 6 == a) for a in range(6)) <= 25
    fair = FairShare(concurrency=100, per_account=50, weight=lambda t: 3 if t == "big" else 1)
    for tenant, account in (("big", A1), ("big", A2), ("big", A3), ("small", B1)):
        teach(fair, tenant, account, 0.01)
    fill(fair, "small", B1, 1)
    plan = fair.plan([("big", (A1, A2, A3)[i % 3]) for i in range(100)], NOW)
    assert len(plan.claim) == 75  # three quarters while "small" has a post here
    assert fair.room == 99


def test_slots_go_round_robin_to_tenants_then_accounts_each_account_within_its_limit() -> None:
    fair: FairShare = FairShare(concurrency=10, per_account=2, reserve=0)
    fill(fair, "a", A1, 10)
    fill(fair, "a", A2, 10)
    fill(fair, "a", A3, 10)
    fill(fair, "b", B1, 10)
    started = run_all(fair)
    by_account = {a: sum(1 for w in started if w[1] == a) for a in (A1, A2, A3, B1)}
    assert by_account == {A1: 2, A2: 2, A3: 2, B1: 2}  # every account at its limit, b's included
    assert fair.running == 8 and fair.queued_of(A1) == 8 and fair.running_of(B1) == 2
    fair.done("a", A1, 0.1)
    assert fair.next() == ("a", A1, 2)  # the account's next post, in its order


def test_a_busy_tenant_leaves_a_reserve_and_a_newcomer_gets_it_at_once() -> None:
    fair: FairShare = FairShare(concurrency=10, per_account=10, reserve=2)
    fill(fair, "a", A1, 50)
    assert len(run_all(fair)) == 8  # alone, but never more than concurrency - reserve
    fill(fair, "b", B1, 50)
    assert len(run_all(fair)) == 2 and fair.running_of(B1) == 2
    # As a's attempts end, b is below its half and a is above: b gets every freed slot until even.
    for _ in range(3):
        fair.done("a", A1, 1.0)
        assert fair.next()[0] == "b"
    assert fair.running_of(A1) == 5 and fair.running_of(B1) == 5
    fair.done("a", A1, 1.0)
    fair.done("b", B1, 1.0)
    assert {fair.next()[0], fair.next()[0]} == {"a", "b"}


def test_weights_share_the_slots_in_proportion() -> None:
    fair: FairShare = FairShare(concurrency=12, per_account=12, weight=lambda t: 3 if t == "big" else 1, reserve=0)
    fill(fair, "big", A1, 50)
    fill(fair, "small", B1, 50)
    run_all(fair)
    assert (fair.running_of(A1), fair.running_of(B1)) == (9, 3)


def test_drain_returns_what_waits_and_idle_accounts_are_forgotten() -> None:
    clock = [0.0]
    fair: FairShare = FairShare(concurrency=4, per_account=1, monotonic=lambda: clock[0])
    fill(fair, "a", A1, 3)
    work = fair.next()
    drained = fair.drain()
    assert len(drained) == 2 and fair.held == 1 and fair.next() is None
    fair.done("a", A1, 0.5)
    assert fair.held == 0 and fair.running_of(A1) == 0
    fair.plan([("a", A2)] * 5, NOW)  # deferrals remember the account until they are due
    clock[0] = REMEMBER + 1
    fair.sweep(NOW)
    assert set(fair._accounts) == {A2}  # noqa: SLF001
    fair.sweep(NOW + MAX_DEFER)
    assert not fair._accounts  # noqa: SLF001
    assert work is not None


def test_turns_rotate_tenants_then_accounts_keeping_each_accounts_order() -> None:
    items = [("a", "big", i) for i in range(5)] + [("a", "small", 0), ("b", "other", 0), ("b", "other", 1)]
    ordered = in_turns(items, tenant_of=lambda x: x[0], account_of=lambda x: x[1])
    assert ordered == [("a", "big", 0), ("b", "other", 0), ("a", "small", 0), ("b", "other", 1),
                       ("a", "big", 1), ("a", "big", 2), ("a", "big", 3), ("a", "big", 4)]
