"""Entry point of the bot process: wires settings, storage and services into a
python-telegram-bot Application and runs it (long polling, or a webhook).

The bot process sends everything that goes to Telegram: replies through
python-telegram-bot's rate limiter and the outbox's notifications through the outbox
sender, both spending one budget (telegram_out.budget) with replies first.

The bot holds no private key and loads no exchange client: it seals credentials to the
engine's public key and the engine verifies them."""

from __future__ import annotations

import asyncio
import logging
import signal
from urllib.parse import urlparse

from telegram import Update
from telegram.ext import Application, ApplicationBuilder

from nija_tg.config import Settings
from nija_tg.handlers import register_all
from nija_tg.handlers.admin_health import HealthAlerts
from nija_tg.handlers.context import CONTEXT_TYPES, SERVICES_KEY
from nija_tg.handlers.menus import set_default_menu
from nija_tg.handlers.rate_limit import PerChatRateLimiter
from nija_tg.handlers.update_processor import PerUserUpdateProcessor, SecretFirstQueue
from nija_tg.runtime import Runtime, open_runtime
from nija_tg.services.admin_service import AdminService
from nija_tg.services.admission import Admission, RegistrationMode
from nija_tg.services.bounds_service import BoundsService
from nija_tg.services.connect_service import ConnectService
from nija_tg.services.container import Services
from nija_tg.services.health_service import HealthService
from nija_tg.services.reports_service import ReportsService
from nija_tg.services.settings_service import SettingsService
from nija_tg.services.trading_service import TradingService
from nija_tg.services.users_service import UserService
from nija_tg.telegram_out.bot_request import ConnectionPerRequest
from nija_tg.telegram_out.budget import TELEGRAM_RATE, OutgoingBudget
from nija_tg.telegram_out.deletion_lane import DeletionLane
from nija_tg.telegram_out.direct_http import DirectConnections
from nija_tg.telegram_out.outbox_sender import Sender

log = logging.getLogger("nija_tg.bot")
RUNTIME_KEY = "runtime"
HEALTH_KEY = "health_alerts"
SENDER_KEY = "outbox_sender"
LANE_KEY = "deletion_lane"
SENDER_SETTLE_SECONDS = 5.0  # in-flight notifications finish (else they stay pending)
BOT_CONNECTIONS = 256  # the bot's requests in flight at once (PTB's default pool size)
BOT_DIRECT_CONNECTIONS = 64  # kept open: a reply or notification on one is written at once


def build_services(runtime: Runtime) -> Services:
    settings, db = runtime.settings, runtime.db
    return Services(
        settings=settings,
        users=UserService(db, settings.admin_ids),
        connect=ConnectService(db, allow_unproven=settings.allow_unproven_exchanges),
        trading=TradingService(db),
        reports=ReportsService(db, settings),
        preferences=SettingsService(db),
        admin=AdminService(db, settings.admin_ids),
        bounds=BoundsService(db),
        health=HealthService(db),
        admission=Admission(db, settings.admin_ids, RegistrationMode(settings.registration)),
    )


async def stop_sender(app: Application) -> None:
    """Stop the outbox sender: sends in flight get ``SENDER_SETTLE_SECONDS`` to finish;
    rows of sends still unanswered stay pending and go at the next start."""
    outgoing = app.bot_data.pop(SENDER_KEY, None)
    if outgoing is None:
        return
    sender, sender_stop, task = outgoing
    sender_stop.set()
    try:
        await asyncio.wait_for(task, SENDER_SETTLE_SECONDS)
    except TimeoutError:
        pass
    except Exception:
        log.exception("outbox sender failed")
    await sender.cancel_in_flight()


def build_application(settings: Settings) -> Application:
    token = settings.require_token()

    async def post_init(app: Application) -> None:
        runtime = await open_runtime(settings)
        app.bot_data[RUNTIME_KEY] = runtime
        app.bot_data[SERVICES_KEY] = build_services(runtime)
        await app.bot_data[SERVICES_KEY].users.sync_admins(settings.admin_ids)
        await set_default_menu(app.bot)
        await lane.start()  # before the first update: deletions get their own connections
        app.bot_data[LANE_KEY] = lane
        stop = asyncio.Event()
        alerts = HealthAlerts(app.bot_data[SERVICES_KEY].health, app.bot)
        app.bot_data[HEALTH_KEY] = (stop, asyncio.create_task(alerts.run(stop)))
        sender = Sender(runtime.db, app.bot, budget=budget, rate=settings.sender_rate)
        sender_stop = asyncio.Event()
        app.bot_data[SENDER_KEY] = (
            sender,
            sender_stop,
            asyncio.create_task(sender.run(sender_stop)),
        )
        log.info("bot started")

    async def post_stop(app: Application) -> None:
        # run_polling/run_webhook call this before closing the bot's connections
        await stop_sender(app)

    async def post_shutdown(app: Application) -> None:
        await stop_sender(app)  # when the Application was driven by hand (tests)
        watch = app.bot_data.pop(HEALTH_KEY, None)
        if watch is not None:
            stop, task = watch
            stop.set()
            await asyncio.gather(task, return_exceptions=True)
        running_lane = app.bot_data.pop(LANE_KEY, None)
        if running_lane is not None:
            await running_lane.close()
        runtime = app.bot_data.pop(RUNTIME_KEY, None)
        if runtime is not None:
            await runtime.close()
        log.info("bot stopped")

    base = settings.telegram_api_base_url
    budget = OutgoingBudget(TELEGRAM_RATE, paid_rate=settings.paid_broadcast_rate)
    processor = PerUserUpdateProcessor()

    def deletion_refused(chat_id: int, seconds: float) -> None:  # a 429 on the lane
        budget.pause(seconds)
        budget.block_chat(chat_id, seconds)

    lane = DeletionLane(token, f"{base}/bot", on_retry_after=deletion_refused)
    processor.deletions.use_lane(lane)
    # replies, callback answers and notifications: no request waits for another's
    # connection, and one on an idle kept-open connection is written at once
    # (telegram_out.bot_request); getUpdates keeps PTB's own request
    request = ConnectionPerRequest(
        BOT_CONNECTIONS, DirectConnections(f"{base}/bot", BOT_DIRECT_CONNECTIONS)
    )
    app = (
        ApplicationBuilder()
        .token(token)
        .request(request)
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .context_types(CONTEXT_TYPES)
        .rate_limiter(PerChatRateLimiter(budget, max_retries=3))
        .concurrent_updates(processor)
        .update_queue(SecretFirstQueue(processor))
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
        .build()
    )
    register_all(app)
    return app


def webhook_options(settings: Settings) -> dict:
    """How the bot listens in webhook mode; Telegram sends ``secret_token`` back in the
    X-Telegram-Bot-Api-Secret-Token header and PTB refuses requests without it."""
    path = urlparse(settings.webhook_url or "").path.lstrip("/")
    return {
        "listen": settings.webhook_listen,
        "port": settings.webhook_port,
        "url_path": path,
        "webhook_url": settings.webhook_url,
        "secret_token": settings.webhook_secret,
        "allowed_updates": Update.ALL_TYPES,
    }


def run_bot(settings: Settings) -> int:
    app = build_application(settings)
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    if settings.webhook_url:
        app.run_webhook(**webhook_options(settings), stop_signals=stop_signals)
    else:
        app.run_polling(
            allowed_updates=Update.ALL_TYPES, stop_signals=stop_signals, drop_pending_updates=False
        )
    return 0
