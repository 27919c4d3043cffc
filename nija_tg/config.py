"""Settings from the environment (and an optional ``.env`` file).

Every variable is parsed strictly: a bad value raises ConfigError naming the variable
and the expected form. ``Settings`` is immutable and passed down explicitly.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from nija_tg.core.errors import ConfigError

TOKEN_RE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,100}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_TELEGRAM_API = "https://api.telegram.org"

# Documented in README.md "Configuration"; keep both in step.
VARIABLES = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_BASE_URL",
    "NIJA_ADMIN_IDS",
    "NIJA_DATA_DIR",
    "NIJA_DB_PATH",
    "NIJA_ENGINE_KEY",
    "NIJA_ENGINE_KEY_FILE",
    "NIJA_MASTER_KEY",
    "NIJA_MASTER_KEY_FILE",
    "NIJA_ALLOW_EXCHANGES_WITHOUT_WITHDRAW_CHECK",
    "NIJA_SERVER_IP",
    "NIJA_EXCHANGE_URLS",
    "NIJA_SANDBOX",
    "NIJA_LOG_LEVEL",
    "NIJA_LIBRARY_LOG_LEVEL",
    "NIJA_WEBHOOK_URL",
    "NIJA_WEBHOOK_SECRET",
    "NIJA_WEBHOOK_LISTEN",
    "NIJA_WEBHOOK_PORT",
    "NIJA_PAPER_START_BALANCE",
    "NIJA_ENGINE_DRAIN_SECONDS",
    "NIJA_SENDER_RATE",
    "NIJA_PAID_BROADCAST_RATE",
    "NIJA_METRICS_PORT",
    "NIJA_METRICS_LISTEN",
    "NIJA_REGISTRATION",
)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    db_path: Path
    telegram_token: str | None = field(default=None, repr=False)
    telegram_api_base_url: str = DEFAULT_TELEGRAM_API
    admin_ids: frozenset[int] = frozenset()
    engine_key: str | None = field(default=None, repr=False)
    engine_key_file: Path | None = None
    master_key: str | None = field(default=None, repr=False)  # legacy Fernet (migration)
    master_key_file: Path | None = None
    allow_unproven_exchanges: bool = False
    server_ip: str | None = None
    exchange_urls: Mapping[str, str] = field(default_factory=dict)
    sandbox: bool = False
    log_level: str = "INFO"
    library_log_level: str = "WARNING"
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    paper_start_balance: float = 10000.0
    engine_drain_seconds: float = 20.0
    sender_rate: float = 30.0  # the outbox sender's ceiling inside the one budget
    paid_broadcast_rate: float = 0.0  # messages/s above the free 30 as paid broadcasts
    metrics_port: int | None = None  # the engine serves Prometheus metrics when set
    metrics_listen: str = "127.0.0.1"
    registration: str = "open"  # who may register: open | approval | closed

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def effective_master_key_file(self) -> Path:
        """Legacy Fernet key file (before key sealing), read only to migrate old rows."""
        return self.master_key_file or self.data_dir / "master.key"

    @property
    def effective_engine_key_file(self) -> Path:
        return self.engine_key_file or self.data_dir / "engine.key"

    def require_token(self) -> str:
        if not self.telegram_token:
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather in Telegram "
                "(/newbot), then export TELEGRAM_BOT_TOKEN=<the token it gives you>."
            )
        return self.telegram_token


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=value`` lines; ``#`` comments, blank lines and optional quotes allowed."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ConfigError(f"{path}:{number}: expected KEY=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be true or false (1/0, yes/no), got {raw[:20]!r}")


def _number(name: str, raw: str, low: float, high: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (low <= value <= high):  # also rejects NaN
        raise ConfigError(f"{name} must be a number between {low:g} and {high:g}")
    return value


def _url(name: str, raw: str) -> str:
    parsed = urlparse(raw.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{name} must be an http(s) URL like https://host[:port], got {raw!r}")
    return raw.strip().rstrip("/")


def _admin_ids(raw: str) -> frozenset[int]:
    ids = set()
    for part in raw.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or len(part) > 20 or int(part) == 0:
            raise ConfigError(
                "NIJA_ADMIN_IDS must be comma-separated numeric Telegram user ids "
                "(e.g. 12345678,87654321); usernames are not accepted"
            )
        ids.add(int(part))
    return frozenset(ids)


def _ip_list(raw: str) -> str:
    """One or more IP addresses (comma-separated), as users enter them in a key's IP
    allow-list on the exchange."""
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    try:
        return ", ".join(str(ipaddress.ip_address(p)) for p in parts)
    except ValueError:
        raise ConfigError(
            "NIJA_SERVER_IP must be the server's public IP address(es), comma-separated, "
            "e.g. 203.0.113.7"
        ) from None


REGISTRATION_MODES = ("open", "approval", "closed")


def _choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    value = raw.strip().lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw[:20]!r}")
    return value


def _listen_address(raw: str) -> str:
    try:
        return str(ipaddress.ip_address(raw.strip()))
    except ValueError:
        raise ConfigError(
            "NIJA_METRICS_LISTEN must be an IP address to bind, e.g. 127.0.0.1 or 0.0.0.0"
        ) from None


def _exchange_urls(raw: str) -> dict[str, str]:
    form = 'a JSON object of exchange id -> base URL, e.g. {"kraken": "http://127.0.0.1:8001"}'
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(f"NIJA_EXCHANGE_URLS must be {form}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"NIJA_EXCHANGE_URLS must be {form}")
    urls = {}
    for key, value in data.items():
        if not isinstance(key, str) or not re.fullmatch(r"[a-z0-9_]{2,40}", key):
            raise ConfigError(f"NIJA_EXCHANGE_URLS: {str(key)[:40]!r} is not an exchange id")
        if not isinstance(value, str):
            raise ConfigError(f"NIJA_EXCHANGE_URLS must be {form}")
        urls[key] = _url(f"NIJA_EXCHANGE_URLS[{key}]", value)
    return urls


def load_settings(
    env: Mapping[str, str] | None = None, *, dotenv: Path | None = Path(".env")
) -> Settings:
    """Build Settings from ``env`` (default ``os.environ``) over an optional ``.env``.

    Real environment variables win over the file.
    """
    merged: dict[str, str] = {}
    if dotenv is not None:
        merged.update(read_dotenv(dotenv))
    merged.update(os.environ if env is None else env)

    def get(name: str) -> str | None:
        value = merged.get(name)
        return value if value not in (None, "") else None

    data_dir = Path(get("NIJA_DATA_DIR") or "./data").expanduser().resolve()
    token = get("TELEGRAM_BOT_TOKEN")
    if token is not None and not TOKEN_RE.match(token.strip()):
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN must look like 123456789:AA... (digits, a colon, then the "
            "secret part), as @BotFather gives it"
        )
    level = (get("NIJA_LOG_LEVEL") or "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"NIJA_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    lib_level = (get("NIJA_LIBRARY_LOG_LEVEL") or "WARNING").upper()
    if lib_level not in LOG_LEVELS:
        raise ConfigError(f"NIJA_LIBRARY_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    master_key_file = get("NIJA_MASTER_KEY_FILE")
    webhook_url = get("NIJA_WEBHOOK_URL")
    webhook_secret = get("NIJA_WEBHOOK_SECRET")
    if webhook_url and not webhook_secret:
        raise ConfigError("NIJA_WEBHOOK_SECRET must be set when NIJA_WEBHOOK_URL is")
    if webhook_secret and not re.fullmatch(r"[A-Za-z0-9_-]{32,256}", webhook_secret):
        raise ConfigError(
            "NIJA_WEBHOOK_SECRET must be 32-256 characters of A-Z a-z 0-9 _ - "
            "(e.g. the output of `openssl rand -hex 32`)"
        )
    engine_key_file = get("NIJA_ENGINE_KEY_FILE")
    server_ip = get("NIJA_SERVER_IP")
    if server_ip is not None:
        server_ip = _ip_list(server_ip)
    return Settings(
        data_dir=data_dir,
        db_path=Path(get("NIJA_DB_PATH")).expanduser().resolve()
        if get("NIJA_DB_PATH")
        else data_dir / "nija.sqlite3",
        telegram_token=token.strip() if token else None,
        telegram_api_base_url=_url("TELEGRAM_API_BASE_URL", get("TELEGRAM_API_BASE_URL"))
        if get("TELEGRAM_API_BASE_URL")
        else DEFAULT_TELEGRAM_API,
        admin_ids=_admin_ids(get("NIJA_ADMIN_IDS") or ""),
        engine_key=get("NIJA_ENGINE_KEY"),
        engine_key_file=Path(engine_key_file).expanduser().resolve() if engine_key_file else None,
        master_key=get("NIJA_MASTER_KEY"),
        master_key_file=Path(master_key_file).expanduser().resolve() if master_key_file else None,
        exchange_urls=_exchange_urls(get("NIJA_EXCHANGE_URLS") or "{}"),
        sandbox=_bool("NIJA_SANDBOX", get("NIJA_SANDBOX") or "0"),
        log_level=level,
        library_log_level=lib_level,
        webhook_url=_url("NIJA_WEBHOOK_URL", webhook_url) if webhook_url else None,
        webhook_secret=webhook_secret,
        webhook_listen=get("NIJA_WEBHOOK_LISTEN") or "127.0.0.1",
        allow_unproven_exchanges=_bool(
            "NIJA_ALLOW_EXCHANGES_WITHOUT_WITHDRAW_CHECK",
            get("NIJA_ALLOW_EXCHANGES_WITHOUT_WITHDRAW_CHECK") or "0",
        ),
        server_ip=server_ip,
        webhook_port=int(
            _number("NIJA_WEBHOOK_PORT", get("NIJA_WEBHOOK_PORT") or "8443", 1, 65535)
        ),
        paper_start_balance=_number(
            "NIJA_PAPER_START_BALANCE", get("NIJA_PAPER_START_BALANCE") or "10000", 1, 1e9
        ),
        engine_drain_seconds=_number(
            "NIJA_ENGINE_DRAIN_SECONDS", get("NIJA_ENGINE_DRAIN_SECONDS") or "20", 1, 600
        ),
        sender_rate=_number("NIJA_SENDER_RATE", get("NIJA_SENDER_RATE") or "30", 1, 30),
        paid_broadcast_rate=_number(
            "NIJA_PAID_BROADCAST_RATE", get("NIJA_PAID_BROADCAST_RATE") or "0", 0, 970
        ),
        metrics_port=int(_number("NIJA_METRICS_PORT", get("NIJA_METRICS_PORT"), 1, 65535))
        if get("NIJA_METRICS_PORT")
        else None,
        metrics_listen=_listen_address(get("NIJA_METRICS_LISTEN") or "127.0.0.1"),
        registration=_choice(
            "NIJA_REGISTRATION", get("NIJA_REGISTRATION") or "open", REGISTRATION_MODES
        ),
    )
