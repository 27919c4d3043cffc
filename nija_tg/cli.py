"""The ``nija-tg`` command line: operator tasks and the two process entry points."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from nija_tg.config import Settings, load_settings
from nija_tg.core.errors import ConfigError, NijaError
from nija_tg.core.models import Role
from nija_tg.logging_setup import setup_logging
from nija_tg.redaction import redact
from nija_tg.runtime import (
    init_data_dir,
    open_keyring,
    open_runtime,
    register_config_secrets,
    share_database,
)
from nija_tg.services import key_rotation, registration
from nija_tg.storage import users
from nija_tg.storage.db import Database
from nija_tg.vault.keyring import generate_private_key

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nija-tg",
        description="Multi-user crypto trading service run from Telegram.",
        epilog="Configuration comes from the environment (see README.md).",
    )
    sub = parser.add_subparsers(dest="command", metavar="command", required=True)
    sub.add_parser(
        "init",
        help="create the data directory, database and engine key if missing; publish "
        "the engine's public key",
    )
    sub.add_parser(
        "check",
        help="prove the configuration: the bot token with the Bot API (getMe), the engine "
        "key file's mode, the database's schema version and writability",
    )
    sub.add_parser(
        "health",
        help="the engine's health from its heartbeat (as /health shows it); exit 1 when "
        "something is wrong (the container's healthcheck)",
    )
    sub.add_parser("keygen", help="print a new engine private key (for NIJA_ENGINE_KEY)")
    rotate = sub.add_parser(
        "rotate-key",
        help="new engine key pair: publish it, re-seal every credential, retire the old "
        "key (run as the engine's user; safe to rerun after a crash)",
    )
    rotate.add_argument(
        "--env",
        action="store_true",
        help="keys come from NIJA_ENGINE_KEY (new key first, engine restarted with it); "
        "publish, re-seal and retire",
    )
    sub.add_parser(
        "fatal-listener",
        help="supervisord event listener: tells admins over the Bot API when a program "
        "ends in FATAL (configured in supervisord.conf)",
    )
    sub.add_parser("bot", help="run the Telegram bot process")
    sub.add_parser("engine", help="run the trading engine daemon")
    admin = sub.add_parser("admin", help="add or remove an admin by Telegram user id")
    admin.add_argument("action", choices=("add", "remove"))
    admin.add_argument("telegram_id", help="numeric Telegram user id")
    sub.add_parser("users", help="list registered users")
    backup = sub.add_parser("backup", help="online backup of the database to PATH")
    backup.add_argument("path", type=Path)
    backtest = sub.add_parser("backtest", help="run a strategy over historical candles")
    backtest.add_argument("--strategy", default="adx_trend")
    backtest.add_argument("--data", type=Path, required=True, help="CSV: timestamp,o,h,l,c,v")
    backtest.add_argument("--pair", default="BTC/USDT")
    backtest.add_argument("--settings", type=Path, help="JSON file of risk settings")
    backtest.add_argument("--chart", type=Path, help="write an equity chart PNG here")
    backtest.add_argument("--balance", type=float, default=10000.0)
    for flag, what in (
        ("--amount-step", "order amounts are rounded down to this step"),
        ("--price-step", "fill prices are rounded to this step, against the trader"),
        ("--min-amount", "entries below this amount are refused"),
        ("--min-cost", "entries below this notional (quote units) are refused"),
    ):
        backtest.add_argument(
            flag, metavar="N", help=f"the simulated market: {what} (default: from the price)"
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        register_config_secrets(settings)
        setup_logging(settings.log_level, settings.library_log_level)
        return asyncio.run(_dispatch(args, settings)) if _is_async(args) else _sync(args, settings)
    except ConfigError as exc:
        print(f"nija-tg: {redact(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    except NijaError as exc:
        print(f"nija-tg: {redact(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_OK


def _is_async(args: argparse.Namespace) -> bool:
    return args.command in ("init", "check", "health", "rotate-key", "admin", "users", "backup")


def _sync(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "keygen":
        print(generate_private_key())
        return EXIT_OK
    if args.command == "bot":
        from nija_tg.bot_main import run_bot

        return run_bot(settings)
    if args.command == "fatal-listener":
        from nija_tg.fatal_listener import serve

        return serve(settings)
    if args.command == "engine":
        from nija_tg.engine_main import run_engine

        return run_engine(settings)
    if args.command == "backtest":
        from nija_tg.backtest_main import run_backtest_cli

        return run_backtest_cli(args, settings)
    raise AssertionError(args.command)


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "check":
        from nija_tg.config_check import check_configuration

        for line in await check_configuration(settings):
            print(line)
        return EXIT_OK
    if args.command == "init":
        created = init_data_dir(settings)
        db = await Database.open(settings.db_path)
        share_database(settings)
        try:
            ring = open_keyring(settings)
            if await key_rotation.publish_primary(db, ring):
                created.append(f"published the engine's public key {ring.primary.key_id}")
        finally:
            await db.close()
        for line in created:
            print(f"created {line}")
        print(f"ready: database {settings.db_path}")
        return EXIT_OK
    runtime = await open_runtime(settings)
    try:
        if args.command == "health":
            from nija_tg.services.health_service import HealthService

            report = await HealthService(runtime.db).report()
            age = report.data_age_s
            print("engine: " + ("never reported" if age is None else f"last beat {age:.0f} s ago"))
            for problem in report.problems:
                print(f"problem: {problem.text}")
            return EXIT_OK if report.ok else EXIT_ERROR
        if args.command == "rotate-key":
            if args.env:
                if not settings.engine_key:
                    raise ConfigError("--env needs NIJA_ENGINE_KEY (new key first, then old)")
                report = await key_rotation.rotate_env_keys(runtime.db, settings.engine_key)
            else:
                if settings.engine_key:
                    raise ConfigError(
                        "NIJA_ENGINE_KEY is set: put a new key (`nija-tg keygen`) first in it, "
                        "restart the engine, then run `nija-tg rotate-key --env`"
                    )
                report = await key_rotation.rotate_file_keys(
                    runtime.db, settings.effective_engine_key_file
                )
            print(
                f"re-sealed {report.rotated} of {report.total} credentials "
                f"({report.already_current} were already current); old keys retired"
                + (
                    " and removed from the key file"
                    if report.old_keys_removed
                    else "; you may now remove the old key from NIJA_ENGINE_KEY"
                )
            )
            return EXIT_OK
        if args.command == "admin":
            raw = args.telegram_id.strip()
            if not raw.isdigit() or int(raw) <= 0:
                print("nija-tg: telegram_id must be a positive number", file=sys.stderr)
                return EXIT_CONFIG
            if args.action == "remove":
                row = await users.get_user(runtime.db, int(raw))
                if row is not None and row.role is not Role.ADMIN:
                    print(f"user {raw} is not an admin (role: {row.role.value}); nothing changed")
                    return EXIT_OK
            try:
                changed = await registration.set_admin(
                    runtime.db, int(raw), args.action == "add", actor_id=None
                )
            except users.LastAdminError:
                print(
                    f"nija-tg: user {raw} is the last admin; removing them would leave the bot "
                    "without one. Add another admin first (`nija-tg admin add <id>`).",
                    file=sys.stderr,
                )
                return EXIT_ERROR
            if not changed:
                print(f"user {raw} is not registered; nothing to remove")
                return EXIT_ERROR
            print(f"user {raw} is {'now an admin' if args.action == 'add' else 'no longer admin'}")
            if args.action == "remove" and int(raw) in settings.admin_ids:
                print("note: NIJA_ADMIN_IDS lists them, so the bot makes them admin again at start")
            return EXIT_OK
        if args.command == "users":
            rows = await users.admin_list_users(runtime.db, 0, 10_000)
            print(f"{'user id':>14}  {'role':7} {'status':7} {'trading':7} {'mode':5} username")
            for u in rows:
                print(
                    f"{u.user_id:>14}  {u.role.value:7} {u.status.value:7} "
                    f"{'on' if u.trading_on else 'off':7} {u.mode.value:5} {u.username or '-'}"
                )
            print(f"{len(rows)} user(s)")
            return EXIT_OK
        if args.command == "backup":
            await runtime.db.backup(args.path)
            print(f"backup written to {args.path} (mode 0600; no private key is in it)")
            return EXIT_OK
    finally:
        await runtime.close()
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
