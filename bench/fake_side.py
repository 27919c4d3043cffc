"""The Telegram side of the latency benchmarks: the fake Bot API with arrival times
(``TimedBotAPI``), the simulated users' scenarios, and the same fake in a process of its
own (``FakeProcess``), so the bot's event loop does only the bot's work.

In production the Bot API is a remote server: the bot's loop does not also answer its own
requests. When the fake runs in the bot's process (the ``in_loop`` mode, kept for
comparison), every notification, reply and getUpdates costs the bot's loop twice (the
client's and the server's side). ``FakeProcess`` runs ``python -m bench.fake_side`` on
127.0.0.1 and drives the same scenarios there over HTTP (``/_bench/*``): the bot's loop
only sees one control request per scenario. Both ends of every measured interval are
taken in the fake's process (time.monotonic, CLOCK_MONOTONIC: system-wide on Linux), in
either mode. The fake enforces the same limits in both (``enforce_limits``: 30/s per bot,
1/s per chat, 429 with retry_after).

    python -m bench.fake_side --port 0 --token T --port-file F [--enforce-limits]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.telegram_api import FakeBotAPI, _write_port_file
from tests.fakes.telegram_api_wire import DecodedRequest, as_int_chat_id, json_response

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 600.0
FREE_RATE = 30.0


class TimedBotAPI(FakeBotAPI):
    """The tests' FakeBotAPI plus three timestamps (time.monotonic): when a user's
    message was handed to the bot in a getUpdates answer, and when the bot's
    sendMessage / deleteMessage requests for a chat arrived. Waiters get a future per
    chat, so hundreds of concurrent users cost nothing to watch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handed: dict[tuple[int, int], float] = {}  # (chat, message id) -> handed at
        self._waiters: dict[tuple[str, int], list[asyncio.Future[float]]] = defaultdict(list)

    def expect(self, method: str, chat_id: int) -> asyncio.Future[float]:
        """A future resolved with the arrival time of the next ``method`` to ``chat_id``."""
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters[(method, chat_id)].append(fut)
        return fut

    def _arrived(self, method: str, req: DecodedRequest, at: float) -> None:
        chat = as_int_chat_id(req.params.get("chat_id"))
        if not isinstance(chat, int):
            return
        waiters = self._waiters.get((method, chat))
        while waiters:
            fut = waiters.pop(0)
            if not fut.done():
                fut.set_result(at)
                break

    async def api_getUpdates(self, req: DecodedRequest) -> Any:
        batch = await super().api_getUpdates(req)
        now = time.monotonic()
        for update in batch:
            msg = update.get("message")
            if msg is not None:
                self.handed.setdefault((msg["chat"]["id"], msg["message_id"]), now)
        return batch

    async def api_sendMessage(self, req: DecodedRequest) -> Any:
        self._arrived("sendMessage", req, time.monotonic())
        return await super().api_sendMessage(req)

    async def api_deleteMessage(self, req: DecodedRequest) -> Any:
        self._arrived("deleteMessage", req, time.monotonic())
        return await super().api_deleteMessage(req)

    def _app(self) -> web.Application:
        app = super()._app()
        app.router.add_post("/_bench/{name}", self._bench_call)
        return app

    async def _bench_call(self, request: web.Request) -> web.Response:
        scenario = SCENARIOS.get(request.match_info["name"])
        if scenario is None:
            return json_response({"ok": False, "description": "unknown scenario"}, 404)
        kwargs = await request.json()
        return json_response({"ok": True, "result": await scenario(self, **kwargs)})


# -- the simulated users' scenarios (run where the fake runs) --------------------------------
async def reply(api: TimedBotAPI, uid: int, text: str) -> float:
    """``uid`` sends ``text``; the arrival time of the bot's next message to that chat."""
    fut = api.expect("sendMessage", uid)
    api.user_message(uid, text)
    return await asyncio.wait_for(fut, TIMEOUT)


async def replies(api: TimedBotAPI, uids: list[int], text: str) -> None:
    """Every user of ``uids`` sends ``text`` at once; returns once all were answered."""
    await asyncio.gather(*(reply(api, uid, text) for uid in uids))


async def connect_runs(api: TimedBotAPI, uid: int, count: int, key: str) -> list[list[float]]:
    """``count`` times: ``/connect kraken``, then the key once the bot asked for it.
    Per run [handed -> delete, injected -> delete] in seconds."""
    out = []
    for _ in range(count):
        await reply(api, uid, "/connect kraken")
        deleted = api.expect("deleteMessage", uid)
        prompt = api.expect("sendMessage", uid)
        injected = time.monotonic()
        message_id = api.user_message(uid, key)
        at = await asyncio.wait_for(deleted, TIMEOUT)
        await asyncio.wait_for(prompt, TIMEOUT)
        handed = api.handed.get((uid, message_id), injected)
        out.append([at - handed, at - injected])
    return out


def failed_deletes(api: TimedBotAPI) -> int:
    return sum(1 for r in api.requests if r.method == "deleteMessage" and not r.ok)


async def _failed_deletes(api: TimedBotAPI) -> int:
    return failed_deletes(api)


async def burst(
    api: TimedBotAPI,
    askers: list[int],
    keys: list[int],
    key: str,
    window: float,
    notify_first: int,
) -> dict[str, Any]:
    """``askers`` send /status and ``keys`` (at the /connect key step) send ``key`` at
    the same instant. Per user the reply's (deletion's) time from queueing and from the
    getUpdates answer that handed it to the bot; over ``window`` seconds from the burst
    what the replies and the notifications (chats >= ``notify_first``) took of the budget;
    429s and requests inside a penalty window over the whole run."""
    reply_futs = [api.expect("sendMessage", uid) for uid in askers]
    deletions = [api.expect("deleteMessage", uid) for uid in keys]
    started = time.monotonic()
    status_ids = [api.user_message(uid, "/status") for uid in askers]
    key_ids = [api.user_message(uid, key) for uid in keys]
    reply_at = await asyncio.wait_for(asyncio.gather(*reply_futs), TIMEOUT)
    delete_at = await asyncio.wait_for(asyncio.gather(*deletions), TIMEOUT)
    replies_done = time.monotonic() - started
    await asyncio.sleep(max(0.0, started + window - time.monotonic()))
    ended = started + window
    in_window = [
        r for r in api.requests if r.method == "sendMessage" and r.ok and started <= r.ts < ended
    ]
    chats = set(askers) | set(keys)  # the keyers' next prompts are replies too
    replies_in = sum(1 for r in in_window if r.chat_id in chats)
    notes = [r for r in in_window if isinstance(r.chat_id, int) and r.chat_id >= notify_first]
    paid_notes = sum(1 for r in notes if r.params.get("allow_paid_broadcast"))
    paid_replies = sum(
        1 for r in in_window if r.chat_id in chats and r.params.get("allow_paid_broadcast")
    )
    replies_end = started + replies_done
    return {
        "replies_done_s": replies_done,
        "reply_queued_s": [at - started for at in reply_at],
        "reply_handed_s": [
            at - api.handed.get((uid, mid), started)
            for uid, mid, at in zip(askers, status_ids, reply_at, strict=True)
        ],
        "key_handed_s": [
            at - api.handed.get((uid, mid), started)
            for uid, mid, at in zip(keys, key_ids, delete_at, strict=True)
        ],
        # CLOCK_MONOTONIC instants (system-wide on Linux), for profiles across processes
        "started_at": started,
        "key_handed_at": [
            api.handed.get((uid, mid)) for uid, mid in zip(keys, key_ids, strict=True)
        ],
        "key_deleted_at": list(delete_at),
        "reply_at": list(reply_at),
        "reply_handed_at": [
            api.handed.get((uid, mid)) for uid, mid in zip(askers, status_ids, strict=True)
        ],
        "replies_in_window": replies_in,
        "paid_replies": paid_replies,
        "notifications_in_window": len(notes),
        "notifications_while_replying": sum(1 for r in notes if r.ts < replies_end),
        "paid_notifications": paid_notes,
        "free_left_by_replies": FREE_RATE * window - (replies_in - paid_replies),
        "rate_limited_429": len(api.rate_limited),
        "violations": len(api.violations),
        "max_per_bot_per_s": api.max_rate_per_bot(),
        "max_per_chat_per_s": api.max_rate_per_chat(),
    }


SCENARIOS = {
    "reply": reply,
    "replies": replies,
    "connect_runs": connect_runs,
    "failed_deletes": _failed_deletes,
    "burst": burst,
}


# -- the two ways to run it ----------------------------------------------------------------
class InLoopFake:
    """The fake in the bot's own event loop (the benchmarks' earlier setup)."""

    in_process = True

    def __init__(self, token: str, *, enforce_limits: bool = False) -> None:
        self.api = TimedBotAPI(token=token, enforce_limits=enforce_limits)

    @property
    def url(self) -> str:
        return self.api.url

    async def start(self) -> None:
        await self.api.start()

    async def stop(self) -> None:
        await self.api.stop()

    async def call(self, name: str, **kwargs: Any) -> Any:
        return await SCENARIOS[name](self.api, **kwargs)


class FakeProcess:
    """The fake in a child process (``python -m bench.fake_side``); scenarios run there."""

    in_process = False

    def __init__(self, token: str, *, enforce_limits: bool = False) -> None:
        self.token = token
        self.enforce_limits = enforce_limits
        self.url = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    async def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="nija-bench-fake-")
        port_file = Path(self._tmp.name) / "port"
        cmd = [sys.executable, "-m", "bench.fake_side", "--port", "0", "--token", self.token]
        cmd += ["--port-file", str(port_file)]
        if self.enforce_limits:
            cmd.append("--enforce-limits")
        self._proc = await asyncio.create_subprocess_exec(*cmd, cwd=REPO)
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if self._proc.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError("the fake Bot API process did not start")
            await asyncio.sleep(0.05)
        self.url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))

    async def call(self, name: str, **kwargs: Any) -> Any:
        assert self._session is not None
        async with self._session.post(f"{self.url}/_bench/{name}", json=kwargs) as resp:
            body = await resp.json()
        if not body.get("ok"):
            raise RuntimeError(f"fake scenario {name} failed: {body}")
        return body["result"]

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._proc is not None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), 10)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
            self._proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def make_fake(token: str, *, in_loop: bool, enforce_limits: bool = False) -> Any:
    cls = InLoopFake if in_loop else FakeProcess
    return cls(token, enforce_limits=enforce_limits)


async def _serve(args: argparse.Namespace) -> None:
    api = TimedBotAPI(args.token, port=args.port, enforce_limits=args.enforce_limits)
    await api.start()
    _write_port_file(args.port_file, api.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await api.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The benchmarks' fake Bot API process")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--enforce-limits", action="store_true")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
