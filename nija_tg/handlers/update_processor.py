"""Updates of different users run concurrently; updates of one user run in order, and
one user cannot crowd out the others.

python-telegram-bot's ``concurrent_updates`` alone would also run two messages of the
same user at once: in /connect a key and a secret sent quickly could then both be taken
for the key. So each user's updates queue on a per-user lock.

Fairness: the per-user lock is taken *before* one of the shared processing slots
(PTB's semaphore of ``max_concurrent_updates``), so a user's queued updates wait without
holding a slot, and a flood from one user never delays another user's updates (the
earlier order, slot first, let 600 queued updates of one user hold every slot). Each
user may have at most ``max_queued_per_user`` updates waiting or running; the excess is
dropped and the user is told once per burst.

Shutdown (issue 15, item 8): when the Application stops it waits for every queued
update, and a flooder's 20 queued updates would take 20 s at one reply per second in
their chat. So once the Application is stopping, each user's updates that were already
running finish and at most ``keep_on_shutdown`` (default 2) more of that user's queued
updates are answered; the rest are dropped (counted in ``dropped`` and
``dropped_on_shutdown``; the user is told once, as for any drop, when not told already
in this burst). Telegram has acknowledged them: they are lost, as a flood's excess is.
A user with one or two updates queued loses nothing.

Secrets never wait, not even for the updates ahead of them: the Application's update
queue (``SecretFirstQueue``) starts deleting a message that may carry a secret the
moment the Updater (or the webhook) hands it over, before it waits in that queue behind
a burst of other updates; the processor checks again when the update's turn comes (a
credential step that began meanwhile). In more detail: a message that looks like a key
or secret, ``/connect <anything>``, and anything but our own commands while the sender's
/connect waits for a credential (or a /connect of theirs is queued) is deleted the
moment it arrives, before it queues and before the decision to drop it; the handlers
read the outcome of that deletion
(secret_guard.Deletions).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import Application, BaseUpdateProcessor

from nija_tg.core.secret_shapes import looks_like_secret
from nija_tg.handlers.secret_guard import (
    Deletions,
    awaiting_credential,
    command_of,
    is_connect_with_arguments,
    is_our_command,
    message_text,
)
from nija_tg.messages.common import SKIPPED, SKIPPED_SECRETS

log = logging.getLogger("nija_tg.bot.updates")

MAX_QUEUED_PER_USER = 20
KEEP_ON_SHUTDOWN = 2  # queued updates per user still answered once the bot stops


def _close(coroutine: Awaitable[Any]) -> None:
    if asyncio.iscoroutine(coroutine):
        coroutine.close()  # a no-op once it ran


@dataclass
class _UserQueue:
    lock: asyncio.Lock
    waiting: int = 0  # updates of this user waiting or running
    connects: int = 0  # /connect commands among them (private chat)
    told: bool = False  # "I skipped some messages" sent in this burst
    told_secrets: bool = False
    kept_on_shutdown: int = 0  # queued updates started after the Application stopped


class SecretFirstQueue(asyncio.Queue):
    """The Application's update queue: every update is shown to the processor's secret
    check as it is queued (``PerUserUpdateProcessor.early``)."""

    def __init__(self, processor: PerUserUpdateProcessor) -> None:
        super().__init__()
        self._processor = processor

    def put_nowait(self, item: Any) -> None:  # Queue.put ends here too
        self._processor.early(item)
        super().put_nowait(item)


class PerUserUpdateProcessor(BaseUpdateProcessor):
    def __init__(
        self,
        max_concurrent_updates: int = 256,
        max_queued_per_user: int = MAX_QUEUED_PER_USER,
        keep_on_shutdown: int = KEEP_ON_SHUTDOWN,
    ) -> None:
        super().__init__(max_concurrent_updates)
        self.max_queued_per_user = max_queued_per_user
        self.keep_on_shutdown = keep_on_shutdown
        self.deletions = Deletions()
        self.dropped = 0
        self.dropped_on_shutdown = 0
        self._users: dict[int, _UserQueue] = {}
        self._app: Application | None = None
        self._notices: set[asyncio.Task[None]] = set()

    def bind(self, app: Application) -> None:
        """The application whose ``user_data`` tells who is at the /connect credential
        step and whose bot sends the "skipped" notice (handlers.register_all binds)."""
        self._app = app

    # PTB marks process_update @final; it is overridden on purpose: the base class takes
    # the shared slot first and only then calls do_process_update, which is the order
    # that let one user's queue hold every slot.
    async def process_update(  # type: ignore[misc]
        self, update: object, coroutine: Awaitable[Any]
    ) -> None:
        user = update.effective_user if isinstance(update, Update) else None
        if user is None:
            try:
                async with self._semaphore:
                    await coroutine
            except asyncio.CancelledError:
                _close(coroutine)
                raise
            return
        assert isinstance(update, Update)
        queue = self._users.get(user.id)
        if queue is None:
            queue = self._users[user.id] = _UserQueue(asyncio.Lock())
        message = update.effective_message
        secret = self._delete_now(update, queue)
        if queue.waiting >= self.max_queued_per_user:
            self._drop(update, coroutine, queue, secret)
            return
        connect = self._is_private_connect(update)
        queue.waiting += 1
        queue.connects += connect
        try:
            async with queue.lock:
                if self._stopping() and not self._keep_on_shutdown(queue):
                    self.dropped_on_shutdown += 1
                    self._drop(update, coroutine, queue, secret)
                    return
                async with self._semaphore:
                    await coroutine
        except asyncio.CancelledError:
            _close(coroutine)  # cancelled while queued: never started, never warned about
            raise
        finally:
            queue.waiting -= 1
            queue.connects -= connect
            if message is not None:
                self.deletions.forget(message)
            if queue.waiting == 0:
                del self._users[user.id]

    def early(self, update: object) -> None:
        """Start deleting ``update``'s message now if it may carry a secret (called as the
        update is queued, before the updates ahead of it are processed)."""
        try:
            if not isinstance(update, Update) or update.effective_user is None:
                return
            queue = self._users.get(update.effective_user.id) or _UserQueue(asyncio.Lock())
            self._delete_now(update, queue)
        except Exception:  # the update still gets its full check when its turn comes
            log.exception("early secret check failed")

    def queued(self, user_id: int) -> int:
        """Updates of ``user_id`` waiting or running."""
        queue = self._users.get(user_id)
        return 0 if queue is None else queue.waiting

    def _stopping(self) -> bool:
        """The Application is stopping (PTB clears ``running`` first, then waits for the
        queued updates)."""
        return self._app is not None and not self._app.running

    def _keep_on_shutdown(self, queue: _UserQueue) -> bool:
        queue.kept_on_shutdown += 1
        return queue.kept_on_shutdown <= self.keep_on_shutdown

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await coroutine  # not used: process_update above does the work

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        for task in list(self._notices):
            task.cancel()

    # -- what must not wait --------------------------------------------------------------

    def _user_data(self, user_id: int) -> Mapping[str, Any] | None:
        if self._app is None:
            return None
        return self._app.user_data.get(user_id)

    @staticmethod
    def _is_private_connect(update: Update) -> bool:
        chat = update.effective_chat
        if chat is None or chat.type != ChatType.PRIVATE or update.message is None:
            return False
        parsed = command_of(update.message.text)
        return parsed is not None and parsed[0] == "connect"

    def _delete_now(self, update: Update, queue: _UserQueue) -> bool:
        """Start deleting the message at once when it may carry a secret; True when it
        looks like one."""
        message = update.effective_message
        if message is None or update.effective_user.is_bot:
            return False
        text = message_text(message)
        secret = looks_like_secret(text)
        urgent = secret or is_connect_with_arguments(text)
        chat = update.effective_chat
        if not urgent and chat is not None and chat.type == ChatType.PRIVATE:
            at_credential = awaiting_credential(self._user_data(update.effective_user.id))
            urgent = (at_credential or queue.connects > 0) and not is_our_command(text)
        if urgent:
            self.deletions.start(message)
        return secret

    # -- dropping ------------------------------------------------------------------------

    def _drop(
        self, update: Update, coroutine: Awaitable[Any], queue: _UserQueue, secret: bool
    ) -> None:
        _close(coroutine)  # never awaited: no "was never awaited" warning
        self.dropped += 1
        message = update.effective_message
        if message is not None:
            self.deletions.forget(message)  # a deletion under way runs on regardless
        chat = update.effective_chat
        if chat is None or self._app is None:
            return
        if secret and not queue.told_secrets:
            queue.told = queue.told_secrets = True
            self._notice(self._app.bot.send_message(chat.id, SKIPPED_SECRETS))
        elif not queue.told:
            queue.told = True
            self._notice(self._app.bot.send_message(chat.id, SKIPPED))

    def _notice(self, call: Awaitable[Any]) -> None:
        async def send() -> None:
            with contextlib.suppress(TelegramError):
                await call

        task = asyncio.get_running_loop().create_task(send())
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)
