"""The deletion lane (telegram_out.deletion_lane) against the fake Bot API: deletions
started together each get a connection of their own (none waits for another's), at
most ``connections`` at once; a 429 on a deletion is reported (the bot pauses its
budget) and the deletion retried after it; a refusal answers False; a closed lane
answers False without a request. And the bot deletes a pasted key through its lane.

Ordering and counts, not wall-clock thresholds (timing is bench/secret_window.py's)."""

from __future__ import annotations

import asyncio
from typing import Any

from nija_tg.bot_main import LANE_KEY
from nija_tg.telegram_out.deletion_lane import DeletionLane
from tests.conftest import TEST_TOKEN
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.telegram_api_wire import ApiError, DecodedRequest
from tests.handlers.harness import start_bot, stop_bot

CHAT = 4242
KEY = "LANEkey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"


class PeersBotAPI(FakeBotAPI):
    """The fake, noting the client port each deleteMessage came from and holding every
    deletion until ``release`` is set (so deletions started together overlap)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.release = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0

    async def api_deleteMessage(self, req: DecodedRequest) -> Any:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
            return await super().api_deleteMessage(req)
        finally:
            self.in_flight -= 1


class RefusingOnceBotAPI(FakeBotAPI):
    """The first deleteMessage is refused with a 429 (retry after 1 s)."""

    refused = 0

    async def api_deleteMessage(self, req: DecodedRequest) -> Any:
        if not self.refused:
            self.refused += 1
            raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        return await super().api_deleteMessage(req)


async def _lane(api: FakeBotAPI, **kwargs: Any) -> DeletionLane:
    lane = DeletionLane(TEST_TOKEN, api.base_url, **kwargs)
    await lane.start()
    return lane


async def test_deletions_started_together_each_have_a_connection():
    async with PeersBotAPI(token=TEST_TOKEN) as api:
        lane = await _lane(api, connections=8)
        try:
            ids = [api.user_message(CHAT, f"m{i}") for i in range(6)]
            tasks = [lane.delete(CHAT, i) for i in ids]
            async with asyncio.timeout(10):
                while api.in_flight < 6:  # noqa: ASYNC110 - every deletion reached the fake
                    await asyncio.sleep(0.01)
            api.release.set()
            assert await asyncio.gather(*tasks) == [True] * 6
            assert api.most_in_flight == 6  # none waited for another's connection
            assert lane.deleted == 6
        finally:
            await lane.close()


async def test_at_most_connections_deletions_at_once_and_the_rest_follow():
    async with PeersBotAPI(token=TEST_TOKEN) as api:
        lane = await _lane(api, connections=2)
        try:
            ids = [api.user_message(CHAT, f"m{i}") for i in range(5)]
            tasks = [lane.delete(CHAT, i) for i in ids]
            async with asyncio.timeout(10):
                while api.in_flight < 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            assert api.in_flight == 2
            api.release.set()
            assert await asyncio.gather(*tasks) == [True] * 5
            assert api.most_in_flight == 2
        finally:
            await lane.close()


async def test_a_429_is_reported_and_the_deletion_retried_after_it():
    async with RefusingOnceBotAPI(token=TEST_TOKEN) as api:
        reported: list[tuple[int, float]] = []
        lane = await _lane(api, on_retry_after=lambda chat, secs: reported.append((chat, secs)))
        try:
            message_id = api.user_message(CHAT, "to delete")
            assert await asyncio.wait_for(lane.delete(CHAT, message_id), 10) is True
            assert reported == [(CHAT, 1.0)]
            deletes = [r for r in api.requests if r.method == "deleteMessage"]
            assert [r.status for r in deletes] == [429, 200]
            assert deletes[1].ts - deletes[0].ts >= 0.9  # waited out the retry_after
        finally:
            await lane.close()


async def test_a_refused_deletion_answers_false_and_a_closed_lane_sends_nothing():
    async with FakeBotAPI(token=TEST_TOKEN) as api:
        lane = await _lane(api)
        message_id = api.user_message(CHAT, "undeletable")
        api.fail_delete(CHAT, message_id)
        assert await asyncio.wait_for(lane.delete(CHAT, message_id), 10) is False
        await lane.close()
        before = len(api.requests)
        assert await lane.delete(CHAT, api.user_message(CHAT, "late")) is False
        assert len(api.requests) == before


async def test_the_bot_deletes_a_pasted_key_through_its_lane(data_dir):
    bot = await start_bot(data_dir)
    try:
        lane = bot.app.bot_data[LANE_KEY]
        assert isinstance(lane, DeletionLane) and lane.running
        user = 5151
        await bot.say(user, "/start")
        await bot.ask(user, "/connect kraken")
        since = bot.api.mark()
        key_id = await bot.send(user, KEY)
        await bot.api.wait_for(
            "deleteMessage",
            lambda r: int(r.params.get("message_id", 0)) == key_id,
            timeout=10,
            since=since,
        )
        assert lane.deleted == 1
        assert not any(KEY in t for t in bot.texts(user))
    finally:
        await stop_bot(bot)
    assert not lane.running
