"""Posts on a rhythm, end to end: recurring posts in local time, the horizon duty racing itself, no
burst after an outage, min_post_interval, and posting-schedule slots (real processes, PostgreSQL, NATS)."""

from __future__ import annotations

import json
import threading
from time import sleep
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import grpc
import pytest
from google.protobuf import duration_pb2

from postsched.slots import WeeklySchedule
from postsched.v1 import resources_pb2, scheduler_pb2
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import ServiceProcess, Suite
from postsched_devtools.tenant import Tenant, field_violations
from tests.conftest import ADMIN_TOKEN, TENANT_TOKENS
from tests.dashboard_http import request
from tests.e2e.test_dashboard_security_e2e import session_of, sign_in
from tests.waiting import until

pytestmark = pytest.mark.e2e
Req = scheduler_pb2
UTC = timezone.utc


def occurrences(client: Tenant, recurring_id: str) -> list[resources_pb2.Post]:
    posts: list[resources_pb2.Post] = []
    token = ""
    while True:
        page = client.ListPosts(Req.ListPostsRequest(recurring_post_id=recurring_id, page_size=1000, page_token=token))
        posts.extend(page.posts)
        token = page.next_page_token
        if not token:
            return posts


def local_instant(day: date, at: time, zone: str) -> datetime:
    """What zoneinfo gives for a civil time (fold=0: the first of a repeated hour, the offset before a gap)."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def test_a_year_of_local_times_across_dst_made_once_by_two_racing_dispatchers(suite: Suite) -> None:
    scheduler = suite.start("scheduler")
    # Two dispatchers, each running the horizon duty over a 400-day horizon at the same moment.
    for _ in range(2):
        suite.start("dispatcher", POSTSCHED_RECURRENCE_HORIZON="400d")
    client = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    berlin = client.webhook_account("berlin", zone="Europe/Berlin")
    new_york = client.webhook_account("new-york", zone="America/New_York")

    def create(account: resources_pb2.Account, start: str, rule: str, zone: str = "") -> resources_pb2.RecurringPost:
        return client.CreateRecurringPost(Req.CreateRecurringPostRequest(
            account_id=account.account_id, text="on a rhythm", start_time=start, time_zone=zone, recurrence=[rule]))

    daily = create(berlin, "2027-01-01T09:00:00", "RRULE:FREQ=DAILY;UNTIL=20271231T235959")
    weekly = create(new_york, "2027-01-04T18:30:00", "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20271231T235959")
    gap = create(berlin, "2027-03-27T02:30:00", "RRULE:FREQ=DAILY;COUNT=3")  # 2027-03-28 02:30 does not exist
    twice = create(berlin, "2027-11-06T01:30:00", "RRULE:FREQ=DAILY;COUNT=3", zone="America/New_York")
    assert twice.time_zone == "America/New_York" and daily.time_zone == "Europe/Berlin"
    assert [t.ToDatetime(tzinfo=UTC) for t in daily.next_occurrences] == [
        local_instant(date(2027, 1, d), time(9), "Europe/Berlin") for d in range(1, 6)]

    days = [date(2027, 1, 1) + timedelta(days=n) for n in range(365)]
    mondays_wednesdays = [d for d in days if d.isoweekday() in (1, 3) and d >= date(2027, 1, 4)]
    expected = {
        daily.recurring_post_id: [local_instant(d, time(9), "Europe/Berlin") for d in days],
        weekly.recurring_post_id: [local_instant(d, time(18, 30), "America/New_York") for d in mondays_wednesdays],
        gap.recurring_post_id: [datetime(2027, 3, 27, 1, 30, tzinfo=UTC), datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
                                datetime(2027, 3, 29, 0, 30, tzinfo=UTC)],
        twice.recurring_post_id: [datetime(2027, 11, 6, 5, 30, tzinfo=UTC), datetime(2027, 11, 7, 5, 30, tzinfo=UTC),
                                  datetime(2027, 11, 8, 6, 30, tzinfo=UTC)],
    }
    until(lambda: all(len(occurrences(client, rid)) == len(at) for rid, at in expected.items()), timeout=60,
          what="every occurrence of the year created")
    for rid, instants in expected.items():
        posts = occurrences(client, rid)
        assert [p.scheduled_at.ToDatetime(tzinfo=UTC) for p in posts] == instants
        assert all(p.occurrence_time == p.scheduled_at and p.status == resources_pb2.SCHEDULED for p in posts)
    # Local wall time stays 09:00 / 18:30 across the four DST changes of the year.
    assert {p.scheduled_at.ToDatetime(tzinfo=UTC).astimezone(ZoneInfo("Europe/Berlin")).time()
            for p in occurrences(client, daily.recurring_post_id)} == {time(9)}
    assert {p.scheduled_at.ToDatetime(tzinfo=UTC).astimezone(ZoneInfo("America/New_York")).time()
            for p in occurrences(client, weekly.recurring_post_id)} == {time(18, 30)}
    # Once each, whichever dispatcher won; the rules ended with their last occurrence.
    ((total, distinct),) = suite.sql("SELECT count(*), count(DISTINCT (recurring_post_id, occurrence_time)) FROM posts")
    assert total == distinct == sum(len(v) for v in expected.values())
    assert all(client.GetRecurringPost(Req.GetRecurringPostRequest(recurring_post_id=rid)).status
               == resources_pb2.RECURRING_POST_STATUS_ENDED for rid in expected)
    ended = suite.sql("SELECT message FROM events WHERE type = 'recurring_post.ended'")
    assert sorted(m for (m,) in ended) == sorted(expected)  # once each, whichever dispatcher ended it


def test_after_three_hours_away_missed_occurrences_are_skipped_not_piled(suite: Suite, fake_meta: FakeMeta) -> None:
    scheduler = suite.start("scheduler")
    dispatcher = suite.start("dispatcher")
    client = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    account = client.webhook_account("rhythm", f"{fake_meta.base}/_webhooks/rhythm")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    # Hourly from half an hour from now, daily from 20 minutes from now: three hours later they were
    # due 2.5 h, 1.5 h and 0.5 h ago, and 2 h 40 min ago, each far from the one-hour grace's edge.
    hourly = client.CreateRecurringPost(Req.CreateRecurringPostRequest(
        account_id=account.account_id, text="hourly", start_time=(now + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S"),
        time_zone="UTC", recurrence=["RRULE:FREQ=HOURLY"]))
    daily = client.CreateRecurringPost(Req.CreateRecurringPostRequest(
        account_id=account.account_id, text="daily", start_time=(now + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S"),
        time_zone="UTC", recurrence=["RRULE:FREQ=DAILY"]))
    until(lambda: len(occurrences(client, hourly.recurring_post_id)) >= 47, timeout=30, what="48 hours of occurrences")
    dispatcher.stop()
    # Three hours away: everything they knew moves three hours into the past, as if the clock had run on.
    suite.sql("UPDATE posts SET scheduled_at = scheduled_at - interval '3 hours', "
              "occurrence_time = occurrence_time - interval '3 hours'")
    suite.sql("UPDATE recurring_posts SET start_time = start_time - interval '3 hours', "
              "created_through = created_through - interval '3 hours'")
    suite.start("dispatcher")
    suite.start("publisher")
    # Two hourly and the daily skipped; the hourly one within the grace published, once.
    suite.wait_for("SELECT count(*) FROM posts WHERE status = 'PUBLISHED'", 1)
    suite.wait_for("SELECT count(*) FROM posts WHERE status = 'CANCELLED'", 3)
    skipped = suite.sql("SELECT text, last_error FROM posts WHERE status = 'CANCELLED' ORDER BY scheduled_at")
    assert sorted(t for t, _ in skipped) == ["daily", "hourly", "hourly"]
    assert all("POSTSCHED_MISSED_OCCURRENCE_GRACE" in e for _, e in skipped)
    ((events,),) = suite.sql("SELECT count(*) FROM events WHERE type = 'post.skipped'")
    assert events == 3
    assert client.GetRecurringPost(Req.GetRecurringPostRequest(recurring_post_id=hourly.recurring_post_id)).occurrences_skipped == 2
    assert client.GetRecurringPost(Req.GetRecurringPostRequest(recurring_post_id=daily.recurring_post_id)).occurrences_skipped == 1
    until(lambda: len(fake_meta.webhooks()) >= 1, timeout=30, what="the one delivery")
    sleep(3)  # a window in which a late pile would show
    assert [d["body"]["text"] for d in fake_meta.webhooks()] == ["hourly"]


def test_min_post_interval_turns_a_backlog_into_a_paced_catch_up(suite: Suite, fake_meta: FakeMeta) -> None:
    scheduler = suite.start("scheduler")
    for _ in range(2):  # two dispatchers and two publishers: the spacing holds across replicas
        suite.start("dispatcher")
        suite.start("publisher")
    client = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    slow = client.webhook_account("ten-minutes", f"{fake_meta.base}/_webhooks/slow", spacing=timedelta(minutes=10))
    quick = client.webhook_account("one-second", f"{fake_meta.base}/_webhooks/quick", spacing=timedelta(seconds=1))
    # Due together in three seconds, in this order (a time in the past would mean "now" for all of them).
    due = datetime.now(UTC) + timedelta(seconds=3)
    batch = Req.BatchCreatePostsRequest()
    for n in range(50):
        batch.requests.add(account_id=slow.account_id, text=f"slow {n}").scheduled_at.FromDatetime(due + timedelta(milliseconds=n))
    for n in range(6):
        batch.requests.add(account_id=quick.account_id, text=f"quick {n}").scheduled_at.FromDatetime(due + timedelta(milliseconds=n))
    client.BatchCreatePosts(batch)
    suite.wait_for("SELECT count(*) FROM posts WHERE status = 'PUBLISHED' AND text LIKE 'quick%%'", 6, timeout=30)
    # The first slow post went at once; each of the 49 others said once when it will go, 10 minutes apart.
    # (The one-second account's posts wait too, each for about a second: said or not, by a hair.)
    suite.wait_for("SELECT count(*) FROM events e JOIN posts p ON p.id = e.post_id "
                   "WHERE e.type = 'post.waiting' AND p.text LIKE 'slow%%'", 49, timeout=30)
    published = suite.sql("SELECT text FROM posts WHERE status = 'PUBLISHED' AND text LIKE 'slow%%'")
    assert published == [("slow 0",)]
    ((claimed_at,),) = suite.sql("SELECT claimed_at FROM posts WHERE text = 'slow 0'")
    expected = [r[0] for r in suite.sql("SELECT not_before FROM posts WHERE text LIKE 'slow%%' AND status = 'SCHEDULED' "
                                        "ORDER BY scheduled_at")]
    assert len(expected) == 49
    assert all(b - a == timedelta(minutes=10) for a, b in zip(expected, expected[1:]))
    # The first in line goes a turn after the post in flight: promised from its due time, the claim a
    # few milliseconds later (the promise is a lower bound: the dispatcher waits for the claim's turn).
    assert abs(expected[0] - (claimed_at + timedelta(minutes=10))) < timedelta(seconds=2)
    waiting = suite.sql("SELECT e.message FROM events e WHERE e.type = 'post.waiting' LIMIT 1")
    assert "min_post_interval" in waiting[0][0]
    # The one-second account: its calls reached the platform in order, at least a second apart.
    claims = [r[0] for r in suite.sql("SELECT l.created_at FROM processing_logs l JOIN posts p ON p.id = l.post_id "
                                      "WHERE l.event = 'claimed' AND p.text LIKE 'quick%%' ORDER BY l.id")]
    assert len(claims) == 6 and all(b - a >= timedelta(seconds=1) for a, b in zip(claims, claims[1:]))
    order = [d["body"]["text"] for d in fake_meta.webhooks() if d["body"]["text"].startswith("quick")]
    assert order == [f"quick {n}" for n in range(6)]


@pytest.fixture(scope="module")
def slots_client(scheduler: ServiceProcess) -> Tenant:
    return Tenant(scheduler.addr, TENANT_TOKENS["acme"])


def test_two_hundred_concurrent_enqueues_fill_two_hundred_slots_in_order(slots_client: Tenant) -> None:
    client = slots_client
    account = client.webhook_account("slots", zone="Europe/Berlin")
    slots = [(day, at) for day in range(1, 8) for at in ("09:00", "12:30", "18:00")]
    schedule = client.SetPostingSchedule(Req.SetPostingScheduleRequest(
        account_id=account.account_id, slots=[resources_pb2.PostingSlot(day_of_week=d, time=t) for d, t in slots]))
    assert schedule.time_zone == "Europe/Berlin" and len(schedule.slots) == 21
    results: list[resources_pb2.Post] = []
    lock = threading.Lock()

    def enqueue(n: int) -> None:
        post = client.EnqueuePost(Req.EnqueuePostRequest(post=Req.CreatePostRequest(account_id=account.account_id,
                                                                                       text=f"queued {n}")))
        with lock:
            results.append(post)

    started = datetime.now(UTC)
    threads = [threading.Thread(target=enqueue, args=(n,)) for n in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    weekly = WeeklySchedule.parse(ZoneInfo("Europe/Berlin"), slots)
    taken = sorted(p.scheduled_at.ToDatetime(tzinfo=UTC) for p in results)
    assert len(set(taken)) == 200 and all(p.slotted for p in results)
    assert taken == weekly.after(started, 200)  # the first 200 slots after the calls began, none skipped

    # Cancelling one frees exactly its slot, and the next enqueue takes it.
    victim = sorted(results, key=lambda p: p.scheduled_at.ToDatetime())[7]
    client.CancelPost(Req.CancelPostRequest(post_id=victim.post_id))
    upcoming = client.ListUpcomingSlots(Req.ListUpcomingSlotsRequest(account_id=account.account_id, count=12)).slots
    free = [s.at for s in upcoming if not s.HasField("post")]
    assert free == [victim.scheduled_at]
    again = client.EnqueuePost(Req.EnqueuePostRequest(post=Req.CreatePostRequest(account_id=account.account_id, text="late")))
    assert again.scheduled_at == victim.scheduled_at

    # A new schedule with reshuffle: the SCHEDULED slotted posts fill the first new slots, order kept.
    before = sorted([p for p in results if p.post_id != victim.post_id] + [again], key=lambda p: p.scheduled_at.ToDatetime())
    changed_at = datetime.now(UTC)
    client.SetPostingSchedule(Req.SetPostingScheduleRequest(
        account_id=account.account_id, reshuffle=True,
        slots=[resources_pb2.PostingSlot(day_of_week=d, time="10:15") for d in range(1, 6)]))
    moved = [client.GetPost(Req.GetPostRequest(post_id=p.post_id)) for p in before]
    new_times = [p.scheduled_at.ToDatetime(tzinfo=UTC) for p in moved]
    weekdays = WeeklySchedule.parse(ZoneInfo("Europe/Berlin"), [(d, "10:15") for d in range(1, 6)])
    assert new_times == weekdays.after(changed_at, 200) and all(p.slotted for p in moved)


def test_enqueue_without_a_schedule_and_bad_slots_are_refused(slots_client: Tenant) -> None:
    account = slots_client.webhook_account("no-schedule")
    with pytest.raises(grpc.RpcError) as error:
        slots_client.EnqueuePost(Req.EnqueuePostRequest(post=Req.CreatePostRequest(account_id=account.account_id, text="x")))
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    for slot in (resources_pb2.PostingSlot(day_of_week=8, time="09:00"), resources_pb2.PostingSlot(day_of_week=1, time="9:00")):
        with pytest.raises(grpc.RpcError) as error:
            slots_client.SetPostingSchedule(Req.SetPostingScheduleRequest(account_id=account.account_id, slots=[slot]))
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_account_time_zone_and_spacing_are_validated_and_updated_in_place(slots_client: Tenant) -> None:
    client = slots_client
    with pytest.raises(grpc.RpcError) as error:
        client.webhook_account("bad-zone", zone="Europe/Berln")
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    account = client.webhook_account("updated", zone="Asia/Tokyo")
    changed = client.UpdateAccount(Req.UpdateAccountRequest(
        account_id=account.account_id, min_post_interval=duration_pb2.Duration(seconds=600)))
    assert changed.time_zone == "Asia/Tokyo" and changed.min_post_interval.seconds == 600
    renamed = client.UpdateAccount(Req.UpdateAccountRequest(account_id=account.account_id, display_name="Tokyo"))
    assert renamed.display_name == "Tokyo" and renamed.min_post_interval.seconds == 600 and renamed.time_zone == "Asia/Tokyo"
    for bad in (duration_pb2.Duration(seconds=-1), duration_pb2.Duration(seconds=7 * 86400 + 1),
                duration_pb2.Duration(seconds=0, nanos=1_000_000_000)):
        with pytest.raises(grpc.RpcError) as error:
            client.UpdateAccount(Req.UpdateAccountRequest(account_id=account.account_id, min_post_interval=bad))
        assert list(field_violations(error.value)) == ["min_post_interval"], bad
    with pytest.raises(grpc.RpcError) as error:
        client.UpdateAccount(Req.UpdateAccountRequest(account_id=account.account_id, time_zone="x" * 65))
    assert list(field_violations(error.value)) == ["time_zone"]
    # the limits of a posting schedule's reads and writes
    for count in (501, -1):
        with pytest.raises(grpc.RpcError) as error:
            client.ListUpcomingSlots(Req.ListUpcomingSlotsRequest(account_id=account.account_id, count=count))
        assert list(field_violations(error.value)) == ["count"]
    too_many = [resources_pb2.PostingSlot(day_of_week=d, time=f"{h:02}:{m:02}")
                for d in range(1, 8) for h in range(24) for m in (0, 20, 40)]  # 504
    with pytest.raises(grpc.RpcError) as error:
        client.SetPostingSchedule(Req.SetPostingScheduleRequest(account_id=account.account_id, slots=too_many))
    assert list(field_violations(error.value)) == ["slots"]
    far = Req.EnqueuePostRequest(post=Req.CreatePostRequest(account_id=account.account_id, text="x"))
    far.not_before.FromDatetime(datetime.now(UTC) + timedelta(days=401))
    with pytest.raises(grpc.RpcError) as error:
        client.EnqueuePost(far)
    assert list(field_violations(error.value)) == ["not_before"]


def test_recurring_post_rules_are_refused_naming_the_line_and_its_calls_answer_the_recurring_post(
        slots_client: Tenant) -> None:
    client = slots_client
    account = client.webhook_account("refusals")
    for lines, start, field in (
            (["RRULE:FREQ=MINUTELY"], "2027-01-01T09:00:00", "recurrence[0]"),
            (["RRULE:FREQ=HOURLY;BYMINUTE=0,30"], "2027-01-01T09:00:00", "recurrence[0]"),
            (["RRULE:FREQ=DAILY", "DTSTART:20270101T090000"], "2027-01-01T09:00:00", "recurrence[1]"),
            (["RRULE:FREQ=DAILY;COUNT=3"], "1904-02-29T09:00:00", "start_time"),  # over a year back
            (["RRULE:FREQ=DAILY;COUNT=3"], "2030-01-01T09:00:00", "start_time"),  # over 400 days ahead
            (["RRULE:FREQ=DAILY"] * 51, "2027-01-01T09:00:00", "recurrence"),  # 1 to 50 lines
            (["RRULE:FREQ=DAILY"], "2027-01-01 09:00", "start_time")):
        with pytest.raises(grpc.RpcError) as error:
            client.CreateRecurringPost(Req.CreateRecurringPostRequest(
                account_id=account.account_id, text="x", start_time=start, recurrence=lines))
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, lines
        assert list(field_violations(error.value)) == [field], (lines, field_violations(error.value))
    recurring = client.CreateRecurringPost(Req.CreateRecurringPostRequest(
        account_id=account.account_id, text="v1", start_time="2027-01-01T09:00", recurrence=["RRULE:FREQ=WEEKLY"],
        idempotency_key="weekly-1"))
    again = client.CreateRecurringPost(Req.CreateRecurringPostRequest(
        account_id=account.account_id, text="v1", start_time="2027-01-01T09:00", recurrence=["RRULE:FREQ=WEEKLY"],
        idempotency_key="weekly-1"))
    assert again.recurring_post_id == recurring.recurring_post_id
    paused = client.PauseRecurringPost(Req.PauseRecurringPostRequest(recurring_post_id=recurring.recurring_post_id))
    assert paused.status == resources_pb2.RECURRING_POST_STATUS_PAUSED and not paused.next_occurrences
    resumed = client.ResumeRecurringPost(Req.ResumeRecurringPostRequest(recurring_post_id=recurring.recurring_post_id))
    assert resumed.status == resources_pb2.RECURRING_POST_STATUS_ACTIVE and len(resumed.next_occurrences) == 5
    updated = client.UpdateRecurringPost(Req.UpdateRecurringPostRequest(
        recurring_post_id=recurring.recurring_post_id, text="v2", update_mask={"paths": ["text"]}))
    assert updated.text == "v2" and updated.recurrence == ["RRULE:FREQ=WEEKLY"]
    cancelled = client.CancelRecurringPost(Req.CancelRecurringPostRequest(recurring_post_id=recurring.recurring_post_id))
    assert cancelled.status == resources_pb2.RECURRING_POST_STATUS_CANCELLED
    listed = client.ListRecurringPosts(Req.ListRecurringPostsRequest(account_id=account.account_id)).recurring_posts
    assert [r.recurring_post_id for r in listed] == [recurring.recurring_post_id]


def test_the_dashboard_shows_an_occurrences_recurring_post_and_an_accounts_rhythm(suite: Suite) -> None:
    scheduler = suite.start("scheduler")
    suite.start("dispatcher")
    admin = suite.start("admin")
    client = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    account = client.webhook_account("desk", zone="Europe/Berlin", spacing=timedelta(minutes=10))
    client.SetPostingSchedule(Req.SetPostingScheduleRequest(account_id=account.account_id, slots=[
        resources_pb2.PostingSlot(day_of_week=d, time="09:00") for d in (1, 3, 5)]))
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT09:00:00")
    recurring = client.CreateRecurringPost(Req.CreateRecurringPostRequest(
        account_id=account.account_id, text="hourly", start_time=tomorrow, recurrence=["RRULE:FREQ=HOURLY;COUNT=2"]))
    until(lambda: len(occurrences(client, recurring.recurring_post_id)) == 2, timeout=30, what="the occurrences")
    first = occurrences(client, recurring.recurring_post_id)[0]
    _, answer = sign_in(admin, ADMIN_TOKEN)
    session = session_of(answer)
    status, _, page = request(admin, f"/posts/{first.post_id}", headers=session)
    assert status == 200
    assert recurring.recurring_post_id in page and "RRULE:FREQ=HOURLY;COUNT=2" in page and "Europe/Berlin" in page
    assert "occurrence of" in page
    overview = json.loads(request(admin, "/api/overview", headers=session)[2])
    (row,) = [a for a in overview["accounts"] if a["account_id"] == account.account_id]
    assert (row["time_zone"], row["slots"], row["min_post_interval_s"]) == ("Europe/Berlin", 3, 600)
