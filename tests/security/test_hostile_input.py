"""Hostile input (reliability item 11): hypothesis-generated garbage through every
command and every /connect step, from traders, viewers, admins and strangers, in private
chats, groups, supergroups and channel-like chats.

What must hold: no handler raises (the global error handler's generic line never goes
out and nothing is logged at ERROR by nija_tg), every input gets a reply, every deletion
of a message that may carry a key works (no "could not delete" warning), and nothing is
stored wrongly (stored settings load back unchanged, roles/chats/modes untouched, no
credential stored from garbage: at most a pending one, which only the engine verifies).

The inputs are drawn synchronously by hypothesis (``collect``) and then sent in parallel
by many simulated users, because the bot paces every private chat at 1 message/s.
"""

from __future__ import annotations

import json
import logging
import re

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from nija_tg.core.models import Role
from nija_tg.core.risk_settings import RiskSettings, setting_names
from nija_tg.exchange.ccxt_factory import supported_exchanges
from nija_tg.messages.commands import ADMIN_ONLY
from nija_tg.messages.connect import CHECKING
from nija_tg.storage import users
from tests.fakes.bingx import BingXEmulator
from tests.fakes.coinbase import CoinbaseEmulator
from tests.fakes.kraken import KrakenEmulator
from tests.handlers.harness import start_bot, stop_bot
from tests.security.conftest import (
    FAST_ENV,
    GENERIC_ERROR,
    all_commands,
    converse,
    db_of,
    in_parallel,
    register,
)

TRADERS = [710_001 + i for i in range(30)]
VIEWERS = [720_001 + i for i in range(10)]
ADMINS = [730_001 + i for i in range(6)]
CHOOSERS = [740_001 + i for i in range(10)]  # /connect, then a hostile exchange choice
KEYERS = [750_001 + i for i in range(9)]  # /connect <exchange>, then hostile credentials
GROUPERS = [760_001 + i for i in range(16)]  # commands in groups and channel-like chats
STRANGERS = [770_001 + i for i in range(5)]  # never registered
SHAPED = [780_001 + i for i in range(20)]  # well-formed commands with hostile values
REGISTERED = TRADERS + VIEWERS + ADMINS + CHOOSERS + KEYERS + GROUPERS + SHAPED
PER_USER = 6
POOL_SIZE = 600
EMULATORS = {"kraken": KrakenEmulator, "bingx": BingXEmulator, "coinbase": CoinbaseEmulator}
KNOWN_EXCHANGES = frozenset(supported_exchanges())

# --- the hostile vocabulary -----------------------------------------------------------

WEIRD = [
    "\u202eevil\u202c",  # right-to-left override
    "\u200b\u200c\u200d\ufeff",  # zero-width characters
    "👨‍👩‍👧‍👦🏳️‍🌈💣",
    "مرحبا بالعالم",
    "שלום עולם",
    "e\u0301\u0301\u0301\u0301",  # stacked combining marks
    "<b>bold</b><script>alert(1)</script>&amp;&lt;",
    "\x00\x01\x07\x1b[31m\x7f",
    "١٢٣",  # Arabic-Indic digits
    "１２３",  # full-width digits
    "𝟏𝟐𝟑",
    "%s%n%x{0}{}",
    "'; DROP TABLE users; --",
    "../../etc/passwd",
]
NUMBERS = [
    "NaN", "nan", "-nan", "inf", "-inf", "Infinity", "1e309", "-1e309", "1e-400", "-0",
    "0", "-1", "0x10", "1_000", "9" * 40, "-" + "9" * 40, "1e18", "2**64", "3.4.5", "1,5",
]  # fmt: skip
ASCII_DIGITS = re.compile(r"[0-9]+")


def _long(seed: str, size: int) -> str:
    seed = seed or "x"
    return (seed * (size // len(seed) + 1))[:size]


numbers = st.one_of(
    st.sampled_from(NUMBERS),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
exchange_ids = st.one_of(
    st.from_regex(r"\A[a-z0-9_]{2,32}\Z").filter(lambda s: s not in KNOWN_EXCHANGES),
    st.sampled_from(["KRAKEN\u200b", "kraken;rm -rf", "ccxt", "__init__", "a" * 33, "x"]),
)
tokens = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(categories=("Cc", "Cf", "Zs", "Zl", "Zp")), min_size=1, max_size=20),
    st.sampled_from(WEIRD),
    numbers,
    exchange_ids,
)
hostile = st.one_of(
    tokens,
    st.lists(tokens, min_size=2, max_size=4).map(" ".join),
    st.builds(_long, st.text(min_size=1, max_size=8), st.integers(5000, 6500)),
)


def collect(strategy: st.SearchStrategy, n: int) -> list:
    """Draw ``n`` examples of ``strategy`` (a plain list: the sending happens later)."""
    drawn: list = []

    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def draw(value) -> None:
        drawn.append(value)

    draw()
    return drawn


def _sendable(text: str) -> str:
    """What Telegram would deliver: trimmed, never empty."""
    text = text.strip()
    return text or "\u2063"  # an invisible separator: not whitespace to str.split()


def _no_real_target(text: str) -> bool:
    """Admin inputs must not name a real user or "all" (that would be an intended
    action on someone, not garbage)."""
    real = {str(uid) for uid in REGISTERED}
    for word in text.split():
        if word.lower() == "all" or (ASCII_DIGITS.fullmatch(word) and str(int(word)) in real):
            return False
    return True


# Commands in their expected shape, a hostile value where a number or word goes:
# {n} a hostile number, {h} any hostile text.
SHAPES = [f"/set {name} {{n}}" for name in setting_names()] + [
    f"/set {name} {{h}}" for name in ("position_mode", "trailing_stop", "allowed_pairs", "strategy")
] + [
    "/trades {n}", "/trades 5 {n}", "/sessions {n}", "/pnl week {n}", "/pnl {h}", "/status {n}",
    "/notify fills {h}", "/notify {h} on", "/notify all {n}", "/pairs add {h}",
    "/pairs remove {h}", "/pairs add {n}", "/preset {h}", "/trade {h}", "/mode {h}",
    "/connect {h}", "/balance {n}",
]  # fmt: skip
ADMIN_SHAPES = [
    "/users {n}", "/user {n}", "/audit {n}", "/pause {n} {h}", "/resume {n}", "/role {n} {h}",
    "/role {n} viewer", "/grant {n} {n}", "/revoke {n} {n}", "/broadcast {h}",
]  # fmt: skip


class Pool:
    """Hostile texts drawn once, handed out in order (one hypothesis run for all)."""

    def __init__(self, n: int) -> None:
        self._items = [_sendable(t) for t in collect(st.one_of(hostile, exchange_ids), n)]
        self._numbers = collect(numbers, 200)
        self._next = 0

    def shaped(self, shapes: list[str], n: int, *, admin: bool = False) -> list[str]:
        """``n`` lines cycling through ``shapes`` with hostile values filled in."""
        out: list[str] = []
        while len(out) < n:
            k = self._next
            shape = shapes[(len(out) + k) % len(shapes)]
            value = self._numbers[k % len(self._numbers)]
            line = _sendable(shape.replace("{n}", value).replace("{h}", self.take(1)[0]))
            if not admin or _no_real_target(line):
                out.append(line)
        return out

    def take(self, n: int) -> list[str]:
        out = [self._items[(self._next + i) % len(self._items)] for i in range(n)]
        self._next += n
        return out

    def commands(self, names: list[str], n: int, *, admin: bool = False) -> list[str]:
        """``n`` command lines cycling through ``names`` (every one covered), each with
        hostile arguments; every other one addressed as /cmd@bot."""
        out: list[str] = []
        while len(out) < n:
            name = names[len(out) % len(names)]
            at = "@fake_test_bot" if (self._next % 2) else ""
            line = _sendable(f"/{name}{at} {self.take(1)[0]}")
            if not admin or _no_real_target(line):
                out.append(line)
        return out


# --- the bot ---------------------------------------------------------------------------


@pytest.fixture
async def exchanges():
    emus = {name: cls() for name, cls in EMULATORS.items()}
    for emu in emus.values():
        await emu.start()
    yield emus
    for emu in emus.values():
        await emu.stop()


@pytest.fixture
async def bot(data_dir, exchanges):
    urls = {name: emu.base_url for name, emu in exchanges.items()}
    env = {**FAST_ENV, "NIJA_EXCHANGE_URLS": json.dumps(urls)}
    env["NIJA_ADMIN_IDS"] = ",".join(str(uid) for uid in ADMINS)
    harness = await start_bot(data_dir, **env)
    try:
        yield harness
    finally:
        await stop_bot(harness)


class ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def error_log():
    handler = ErrorRecords()
    logger = logging.getLogger("nija_tg")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


async def _state(bot) -> dict[int, tuple]:
    rows = await db_of(bot).fetchall("SELECT user_id, chat_id, role, mode FROM users")
    return {r["user_id"]: (r["chat_id"], r["role"], r["mode"]) for r in rows}


def _scripts(
    commands: list[str], user_commands: list[str], real_keys: dict[str, str]
) -> dict[int, list]:
    """Per user: a list of (texts, chat kwargs) steps. Half the /connect users send a
    real API key first, so that a hostile secret reaches the exchange client."""
    pool = Pool(POOL_SIZE)
    jobs: dict[int, list] = {}
    plain = pool.commands(user_commands, PER_USER * (len(TRADERS) + len(VIEWERS)))
    for i, uid in enumerate(TRADERS + VIEWERS):
        jobs[uid] = [(plain[i * PER_USER : (i + 1) * PER_USER], {})]
    for uid in SHAPED:
        jobs[uid] = [(pool.shaped(SHAPES, PER_USER), {})]
    admin = pool.commands(sorted(ADMIN_ONLY), PER_USER * len(ADMINS), admin=True)
    admin += pool.shaped(ADMIN_SHAPES, PER_USER * len(ADMINS), admin=True)
    for i, uid in enumerate(ADMINS):
        jobs[uid] = [(admin[i :: len(ADMINS)], {})]
    for uid in CHOOSERS:
        jobs[uid] = [(["/connect", *pool.take(5), "/cancel"], {})]
    for i, uid in enumerate(KEYERS):
        exchange = list(EMULATORS)[i % len(EMULATORS)]
        key = [real_keys[exchange]] if i % 2 else pool.take(1)
        jobs[uid] = [([f"/connect {exchange}", *key, *pool.take(2), "/cancel"], {})]
    grouped = pool.commands(commands, 5 * len(GROUPERS))
    for i, uid in enumerate(GROUPERS):
        kind = ("group", "supergroup", "channel")[i % 3]
        jobs[uid] = [
            ([text], {"chat_type": kind, "chat_id": -(uid * 10 + k)})
            for k, text in enumerate(grouped[i * 5 : (i + 1) * 5])
        ]
    strange = pool.commands(commands, 4 * len(STRANGERS))
    for i, uid in enumerate(STRANGERS):
        jobs[uid] = [(strange[i * 4 : (i + 1) * 4], {})]
    return jobs


async def _run(bot, uid: int, steps: list) -> list:
    out = []
    for texts, where in steps:
        out += await converse(bot, uid, texts, timeout=30, **where)
    return out


async def test_hostile_input_everywhere_is_answered_and_stores_nothing_wrong(
    bot, exchanges, error_log
):
    commands = all_commands(bot.app)
    user_commands = [c for c in commands if c not in ADMIN_ONLY]
    await register(bot, REGISTERED)
    async with db_of(bot).transaction() as tx:
        for uid in VIEWERS:
            await users.set_role(tx, uid, Role.VIEWER)
    before = await _state(bot)
    mark = bot.api.mark()

    real_keys = {
        name: emu.credentials(emu.add_account())["apiKey"] for name, emu in exchanges.items()
    }
    jobs = _scripts(commands, user_commands, real_keys)
    results = await in_parallel(_run(bot, uid, steps) for uid, steps in jobs.items())
    await bot.settle(2)

    unanswered = [(e.user_id, e.chat_id, e.text[:80]) for e in results if e.reply is None]
    assert not unanswered, f"{len(unanswered)} inputs got no reply: {unanswered[:5]}"
    generic = [
        (r.chat_id, str(r.params.get("text"))[:80])
        for r in bot.api.requests[mark:]
        if GENERIC_ERROR in str(r.params.get("text", ""))
    ]
    assert not generic, f"the global error handler answered: {generic[:5]}"
    errors = [f"{r.name}: {r.getMessage()[:200]}" for r in error_log.records]
    assert not errors, errors[:5]
    assert not bot.api.server_errors
    # garbage did get sealed and submitted (the engine verifies it; the bot keeps nothing)
    submitted = [t for uid in KEYERS for t in bot.texts(uid) if t == CHECKING]
    assert submitted
    hints = [(e.user_id, e.reply) for e in results if "could not delete" in (e.reply or "")]
    assert not hints, f"a deletion failed: {hints[:3]}"

    db = db_of(bot)
    assert await _state(bot) == before  # chat, role and mode of everyone unchanged
    assert await db.fetchall("SELECT user_id FROM credentials") == []
    for row in await db.fetchall("SELECT user_id, settings FROM risk_settings"):
        stored = json.loads(row["settings"])
        assert RiskSettings.from_dict(stored).to_dict() == stored, row["user_id"]
    assert len(results) == sum(len(t) for steps in jobs.values() for t, _ in steps)
