"""The notification sender (the bot process's, nija_tg.telegram_out) against the fake Bot
API server (python-telegram-bot unmodified), and the outgoing budget it shares with the
bot's replies."""

from __future__ import annotations

import asyncio
import random
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web
from telegram import Bot

from nija_tg.core.models import Role
from nija_tg.storage import outbox, users
from nija_tg.storage.db import Database
from nija_tg.telegram_out.budget import OutgoingBudget, Priority
from nija_tg.telegram_out.outbox_sender import Sender, html_to_plain
from tests.conftest import PYTHON, REPO, make_env
from tests.fakes.telegram_api import FakeBotAPI

MARK = re.compile(r"#(\d+)#")


async def add_user(db: Database, user_id: int, chat_id: int | None = None, **prefs: str) -> None:
    async with db.transaction() as tx:
        await users.upsert_user(tx, user_id, chat_id or user_id, None, "Ann", Role.TRADER)
        if prefs:
            await users.set_notify_prefs(tx, user_id, prefs)


async def put(db: Database, user_id: int, text: str, kind: str = "fill") -> int | None:
    async with db.transaction() as tx:
        return await outbox.enqueue(tx, user_id, kind, text)


@asynccontextmanager
async def fake_bot(**kw) -> AsyncIterator[tuple[FakeBotAPI, Bot]]:
    kw.setdefault("enforce_limits", True)
    async with FakeBotAPI(**kw) as api:
        async with Bot(api.token, base_url=api.base_url) as bot:
            yield api, bot


@asynccontextmanager
async def running(sender: Sender) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def all_sent(db: Database, n: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await outbox.counts(db))["sent"] >= n

    return check


def marks(api: FakeBotAPI) -> Counter[int]:
    """How many times each ``#n#`` marker reached any chat."""
    seen: Counter[int] = Counter()
    for r in api.requests:
        if r.ok and r.method == "sendMessage":
            seen.update(int(m) for m in MARK.findall(str(r.params.get("text", ""))))
    return seen


def silent_flag(record) -> bool:
    return str(record.params.get("disable_notification", "")).lower() == "true"


async def test_burst_for_one_chat_becomes_one_digest(db: Database) -> None:
    await add_user(db, 1)
    for i in range(6):
        await put(db, 1, f"<b>fill</b> #{i}#")
    async with fake_bot() as (api, bot):
        sender = Sender(db, bot)
        async with running(sender):
            await wait_until(all_sent(db, 6))
        [msg] = api.sent_to(1)
        assert msg.params["parse_mode"] == "HTML"
        assert marks(api) == Counter(range(6))
        assert sender.stats.digests == 1 and sender.stats.rows_sent == 6
        assert not api.rate_limited


async def test_silent_and_off_preferences(db: Database) -> None:
    await add_user(db, 1, fills="silent", stops="off")
    await add_user(db, 2)
    await put(db, 1, "quiet fill #1#")
    assert await put(db, 1, "stop #2#", kind="stop") is None
    await put(db, 2, "loud fill #3#")
    async with fake_bot() as (api, bot):
        async with running(Sender(db, bot)):
            await wait_until(all_sent(db, 2))
        [quiet] = api.sent_to(1)
        [loud] = api.sent_to(2)
        assert silent_flag(quiet) and not silent_flag(loud)
        assert set(marks(api)) == {1, 3}


async def test_storm_respects_global_and_per_chat_limits(db: Database) -> None:
    """2,000 notifications for 400 chats, queued while the sender runs."""
    chats, total = 400, 2000
    for uid in range(1, chats + 1):
        await add_user(db, uid)
    rng = random.Random(7)
    async with fake_bot(per_bot_per_second=100) as (api, bot):
        sender = Sender(db, bot, rate=80)
        async with running(sender):
            for start in range(0, total, 50):  # ~250 rows/s for 8 s
                async with db.transaction() as tx:
                    for i in range(start, start + 50):
                        await outbox.enqueue(tx, rng.randint(1, chats), "fill", f"fill #{i}#")
                sender.notify()
                await asyncio.sleep(0.2)
            await wait_until(all_sent(db, total), timeout=60)
        assert marks(api) == Counter(range(total))  # each exactly once
        assert api.rate_limited == [] and api.violations == []
        assert api.max_rate_per_chat() <= 1
        assert api.max_rate_per_bot() <= 100
        assert sender.stats.messages < total  # bursts were merged


async def test_retry_after_is_honoured_and_nothing_lost(db: Database) -> None:
    """The fake allows one message per 2 s per chat; the sender tries one per second."""
    await add_user(db, 1)
    await add_user(db, 2)
    async with fake_bot(per_chat_per_second=0.5) as (api, bot):
        sender = Sender(db, bot)
        async with running(sender):
            for i in range(10):
                await put(db, 1 + i % 2, f"n #{i}#")
                sender.notify()
                await asyncio.sleep(0.35)
            await wait_until(all_sent(db, 10))
        assert api.rate_limited, "the scenario should have provoked a 429"
        assert api.violations == []
        assert sender.stats.rate_limited >= 1
        assert marks(api) == Counter(range(10))


async def test_global_retry_after_pauses_every_chat(db: Database) -> None:
    for uid in range(1, 13):
        await add_user(db, uid)
        await put(db, uid, f"n #{uid}#")
    async with fake_bot(per_bot_per_second=3) as (api, bot):
        sender = Sender(db, bot, rate=10, max_in_flight=1)
        async with running(sender):
            await wait_until(all_sent(db, 12))
        assert any(e.scope == "bot" for e in api.rate_limited)
        assert api.violations == []
        assert marks(api) == Counter(range(1, 13))


async def test_blocked_user_is_held_until_they_come_back(db: Database) -> None:
    for uid in (1, 2, 3):
        await add_user(db, uid)
    async with fake_bot() as (api, bot):
        api.block(2)
        sender = Sender(db, bot)
        async with running(sender):
            for uid in (1, 2, 3):
                await put(db, uid, f"hello {uid}")
            await wait_until(all_sent(db, 2))

            async def marked_unreachable() -> bool:  # the 403 may land after the others
                user = await users.get_user(db, 2)
                return user is not None and not user.reachable

            await wait_until(marked_unreachable)
            await put(db, 2, "more for 2")
            await put(db, 1, "more for 1")
            await wait_until(all_sent(db, 3))
            await asyncio.sleep(1.5)  # a whole per-chat interval: still nothing to chat 2
            assert [r for r in api.requests if r.chat_id == 2 and r.status == 403].__len__() == 1
            assert (await outbox.counts(db))["pending"] == 2
            api.unblock(2)
            await add_user(db, 2)  # /start again: reachable
            sender.notify()
            await wait_until(all_sent(db, 5))
        [digest] = api.sent_to(2)
        assert "hello 2" in digest.params["text"] and "more for 2" in digest.params["text"]
        assert sender.stats.unreachable == 1


async def test_chat_not_found_drops_the_row(db: Database) -> None:
    await add_user(db, 1, chat_id=-4242)  # unknown group: "chat not found"
    await add_user(db, 2)
    await put(db, 1, "lost")
    await put(db, 2, "fine")
    async with fake_bot() as (api, bot):
        sender = Sender(db, bot)
        async with running(sender):
            await wait_until(all_sent(db, 1))
            await wait_until(lambda: _count(db, "dropped", 1))
        assert sender.stats.dropped == 1
        assert api.texts(2) == ["fine"]


async def _count(db: Database, status: str, n: int) -> bool:
    return (await outbox.counts(db))[status] >= n


async def test_unparsable_html_is_resent_once_as_plain_text(db: Database) -> None:
    await add_user(db, 1)
    await put(db, 1, "<b>Bought &amp; sold")
    async with fake_bot() as (api, bot):
        sender = Sender(db, bot)
        async with running(sender):
            await wait_until(all_sent(db, 1))
        [msg] = api.sent_to(1)
        assert msg.params["text"] == "Bought & sold" and "parse_mode" not in msg.params
        assert sender.stats.plain_fallbacks == 1
    assert html_to_plain("<i>a</i> &lt;b&gt;") == "a <b>"


@asynccontextmanager
async def flaky_proxy(target: str, fail_first: int) -> AsyncIterator[str]:
    """Forwards Bot API calls to ``target`` but answers 502 for the first
    ``fail_first`` sendMessage calls *after* forwarding them (delivered, answer lost)."""
    failures = {"left": fail_first}

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        async with aiohttp.ClientSession() as session:
            async with session.request(
                request.method,
                target + request.path_qs.removeprefix("/bot"),
                data=body,
                headers={"Content-Type": request.headers.get("Content-Type", "")},
            ) as resp:
                payload = await resp.read()
                status = resp.status
        if request.path.endswith("/sendMessage") and failures["left"] > 0:
            failures["left"] -= 1
            return web.Response(status=502, text="Bad Gateway")
        return web.Response(status=status, body=payload, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/bot"
    finally:
        await runner.cleanup()


async def test_lost_answer_is_retried_and_counted_as_possible_duplicate(db: Database) -> None:
    await add_user(db, 1)
    await put(db, 1, "once #1#")
    async with FakeBotAPI(enforce_limits=True) as api:
        async with flaky_proxy(api.base_url, fail_first=1) as url:
            async with Bot(api.token, base_url=url) as bot:
                sender = Sender(db, bot, retry_base=0.2)
                async with running(sender):
                    await wait_until(all_sent(db, 1))
        assert marks(api) == Counter({1: 2})  # delivered twice: at-least-once
        assert sender.stats.possible_duplicates == 1
        assert api.rate_limited == []


async def test_drain_flushes_within_limits(db: Database) -> None:
    for uid in range(1, 31):
        await add_user(db, uid)
        await put(db, uid, f"a #{uid}#")
        await put(db, uid, f"b #{uid + 100}#")
    async with fake_bot() as (api, bot):
        sender = Sender(db, bot)
        left = await sender.drain(time.monotonic() + 20)
        assert left == 0
        assert marks(api) == Counter(list(range(1, 31)) + list(range(101, 131)))
        assert api.rate_limited == []
        await put(db, 1, "late")
        assert await sender.drain(time.monotonic() - 1) == 1  # deadline passed: kept pending


async def _start_child(db: Database, api: FakeBotAPI) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "tests.engine.sender_process",
        str(db.path),
        api.base_url,
        api.token,
        cwd=REPO,
        env=make_env(db.path.parent),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert line.strip() == b"ready", (await proc.stderr.read()).decode()[-2000:]  # type: ignore[union-attr]
    return proc


async def test_kill_9_mid_stream_then_restart_delivers_everything(db: Database) -> None:
    chats = 150
    for uid in range(1, chats + 1):
        await add_user(db, uid)
        await put(db, uid, f"a #{uid}#")
        await put(db, uid, f"b #{1000 + uid}#")
    expected = set(range(1, chats + 1)) | set(range(1001, 1001 + chats))
    async with FakeBotAPI(enforce_limits=True) as api:
        first = await _start_child(db, api)
        await api.wait_for("sendMessage", lambda r: len(api.requests) >= 40, timeout=30)
        first.kill()  # SIGKILL: no drain, no cleanup
        await first.wait()
        killed_at = (await outbox.counts(db))["sent"]
        assert killed_at < 2 * chats, "the kill should land mid-stream"
        for uid in range(1, chats + 1, 3):  # more arrive while the sender is down
            await put(db, uid, f"c #{2000 + uid}#")
            expected.add(2000 + uid)
        second = await _start_child(db, api)
        await wait_until(all_sent(db, len(expected)), timeout=60)
        second.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(second.communicate(), 30)
        assert second.returncode == 0, err.decode()[-2000:]
        assert out.decode().startswith("drained 0 ")
        seen = marks(api)
        assert set(seen) == expected  # nothing lost
        duplicates = sum(n - 1 for n in seen.values())
        # only messages in flight at the kill can repeat (8 in flight, 2 rows each)
        assert duplicates <= 16, seen.most_common(5)
        assert api.violations == []
        n429 = len(api.rate_limited)
        print(f"kill -9: {killed_at} sent before, {duplicates} duplicate(s), {n429} 429(s)")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_budget_grants_tokens_by_priority_then_arrival() -> None:
    budget = OutgoingBudget(20)
    order: list[str] = []

    async def want(name: str, priority: Priority) -> float:
        budget.answered(await budget.take(priority))
        order.append(name)
        return time.monotonic()

    plan = [
        ("summary", Priority.SUMMARY),
        ("fill-1", Priority.FILL),
        ("alert", Priority.ALERT),
        ("reply-1", Priority.ACTION),
        ("fill-2", Priority.FILL),
        ("reply-2", Priority.ACTION),
    ]
    times = await asyncio.gather(*(want(n, p) for n, p in plan))
    assert order == ["reply-1", "reply-2", "alert", "fill-1", "fill-2", "summary"]
    spacing = sorted(times)  # 20/s: 50 ms apart, one interval of lateness made up
    assert spacing[-1] - spacing[0] >= 4 * 0.05 - 0.005
    assert budget.granted[Priority.ACTION] == 2 and budget.paid_granted == 0
    await budget.close()


async def test_budget_pause_holds_every_priority() -> None:
    budget = OutgoingBudget(100)
    budget.pause(0.3)
    started = time.monotonic()
    budget.answered(await budget.take(Priority.ACTION))
    assert time.monotonic() - started >= 0.29
    await budget.close()


async def test_paid_broadcasts_only_beyond_the_free_rate_and_never_for_edits() -> None:
    budget = OutgoingBudget(2, paid_rate=100)

    async def send(priority: Priority, paid_ok: bool = True) -> bool:
        paid = await budget.take(priority, paid_ok=paid_ok)
        budget.answered(paid)
        return paid

    started = time.monotonic()
    paid = await asyncio.gather(*(send(Priority.FILL) for _ in range(10)))
    # 10 at 2/s free take at least 4.5 s (tokens never come early); paid at 100/s about
    # 0.1 s: the bound tells the two apart with room for a loaded machine's stalls
    assert time.monotonic() - started < 4.0
    # the first free; the others paid while several wait; the last one alone waits for
    # its free token when it is at most one token away
    assert paid[0] is False and sum(paid) >= 8
    edits = await asyncio.gather(*(send(Priority.ACTION, paid_ok=False) for _ in range(2)))
    assert edits == [False, False]
    await budget.close()


async def test_a_cancelled_wait_gives_its_place_up() -> None:
    """Under a clock that only the test moves (the budget's own time; its pump waits in
    real time and looks again): the token a cancelled wait would have had goes to the
    next waiter. Had the cancelled wait kept its place, the next token would be due one
    interval later, a time this clock never reaches: the take would never return."""
    clock = FakeClock()
    budget = OutgoingBudget(10, clock=clock)
    for _ in range(2):  # the second token: one interval of lateness made up
        budget.answered(await budget.take(Priority.ACTION))
    slow = asyncio.ensure_future(budget.take(Priority.ACTION))  # the next token: +0.1 s
    for _ in range(5):
        await asyncio.sleep(0)
    assert not slow.done() and budget.waiting() == 1
    slow.cancel()
    await asyncio.gather(slow, return_exceptions=True)
    assert slow.cancelled()
    clock.now += 0.1  # the cancelled wait's token is due now, and only that one
    assert await asyncio.wait_for(budget.take(Priority.SUMMARY), 10) is False
    assert budget.granted[Priority.SUMMARY] == 1 and budget.granted[Priority.ACTION] == 2
    await budget.close()


async def test_no_more_than_the_rate_lands_within_a_second_however_late_the_answers() -> None:
    """Tokens are counted until a second after Telegram's answer: with every answer
    slow, the fourth token of a 3/s budget waits for the first answer plus a second."""
    budget = OutgoingBudget(3)
    started = time.monotonic()
    for _ in range(3):
        await budget.take(Priority.FILL)  # three messages in flight, unanswered
    fourth = asyncio.ensure_future(budget.take(Priority.FILL))
    await asyncio.sleep(0.8)
    assert not fourth.done()  # in flight count: nothing answered yet
    budget.answered()
    answered_at = time.monotonic()
    await fourth
    assert time.monotonic() - answered_at >= 0.95 and time.monotonic() - started >= 1.7
    await budget.close()


def test_budget_per_chat_spacing_and_blocks() -> None:
    clock = FakeClock()
    budget = OutgoingBudget(25, per_chat_interval=1.0, group_interval=3.0, clock=clock)
    assert budget.chat_free(5) and budget.next_chat_ready_in() is None
    budget.chat_answered(5)
    assert not budget.chat_free(5) and budget.busy_chats() == {5}
    budget.block_chat(6, 4)
    assert budget.next_chat_ready_in() == 1.0
    clock.now += 1.0
    assert budget.chat_free(5) and budget.busy_chats() == {6}
    budget.chat_answered(6)  # never shortens a retry_after block
    assert budget.chat_ready_in(6) == 3.0
    budget.chat_answered(-100)  # a group: 20 messages a minute
    assert budget.chat_ready_in(-100) == 3.0


def test_the_engine_process_does_not_import_python_telegram_bot(tmp_path) -> None:
    """The bot process owns the outgoing budget: the engine only writes outbox rows."""
    code = "import nija_tg.engine_main, sys; assert 'telegram' not in sys.modules"
    env = make_env(tmp_path)
    done = subprocess.run([PYTHON, "-c", code], cwd=REPO, env=env, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
