"""No key that can withdraw is kept: the withdraw proofs of ``CcxtGateway.verify`` against
the Kraken, BingX and Coinbase emulators (real ccxt, real wire format), the refusals that
need no network call, and the parsing of each exchange's answer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt
import pytest
from aiohttp import web

from nija_tg.core.models import WithdrawProof
from nija_tg.exchange import key_permissions as kp
from nija_tg.exchange.ccxt_factory import required_credentials, supported_exchanges
from nija_tg.exchange.ccxt_gateway import (
    CAN_WITHDRAW_REASON,
    CANNOT_CONFIRM_REASON,
    CcxtGateway,
    unproven_exchange_reason,
    wallet_key_reason,
)
from nija_tg.messages.errors import text as error_text
from tests.exchange.conftest import make_gateway

PROVEN = ["kraken", "bingx", "coinbase"]
# The request that proves (or disproves) the withdraw permission, per exchange.
PROBE_PATHS = {
    "kraken": "/0/private/WithdrawMethods",
    "bingx": "/openApi/v1/account/apiPermissions",
    "coinbase": "/api/v3/brokerage/key_permissions",
}
WALLET_EXCHANGES = [
    eid for eid in supported_exchanges() if kp.wallet_key_exchange(required_credentials(eid))
]


def probes(emu: Any) -> int:
    return sum(1 for _, path in emu.requests if path == PROBE_PATHS[emu.exchange_id])


async def verify(emu: Any, account: Any, **kw: Any):
    gw = make_gateway(emu, **kw.pop("gateway", {}))
    try:
        return await gw.verify(emu.exchange_id, emu.credentials(account), **kw)
    finally:
        await gw.close_all()


# --- the three proven exchanges --------------------------------------------------------------


@pytest.mark.parametrize("exchange_id", PROVEN)
async def test_trade_only_key_is_accepted_after_the_probe(emulators, exchange_id):
    emu = await emulators(exchange_id)
    result = await verify(emu, emu.add_account())
    assert result.ok and result.reason is None
    assert result.can_withdraw is False
    assert result.withdraw_proof is WithdrawProof.PROVEN_NO_WITHDRAW
    assert result.balances
    assert probes(emu) == 1  # accepted because the exchange answered, not by default


@pytest.mark.parametrize("exchange_id", PROVEN)
@pytest.mark.parametrize("allow_unproven", [False, True])
async def test_withdraw_key_is_refused(emulators, exchange_id, allow_unproven):
    emu = await emulators(exchange_id)
    result = await verify(emu, emu.add_account(can_withdraw=True), allow_unproven=allow_unproven)
    assert not result.ok
    assert result.can_withdraw is True
    assert result.withdraw_proof is WithdrawProof.CAN_WITHDRAW
    assert result.reason == CAN_WITHDRAW_REASON
    assert "can withdraw" in error_text(result.reason)
    assert probes(emu) == 1


@pytest.mark.parametrize("exchange_id", PROVEN)
@pytest.mark.parametrize("fault", ["http_500", "http_429", "malformed", "auth"])
@pytest.mark.parametrize("allow_unproven", [False, True])
async def test_failed_probe_refuses_the_key(emulators, exchange_id, fault, allow_unproven):
    """Whatever goes wrong with the permission call, a trade-only key is not kept: the
    failure proves nothing (and the operator's setting does not change that)."""
    emu = await emulators(exchange_id)
    account = emu.add_account()
    emu.faults.arm(fault, only_paths=(PROBE_PATHS[exchange_id],))
    result = await verify(emu, account, allow_unproven=allow_unproven)
    assert emu.faults.fired == [(fault, PROBE_PATHS[exchange_id])]
    assert not result.ok
    assert result.reason == CANNOT_CONFIRM_REASON
    assert result.can_withdraw is None
    assert result.withdraw_proof is WithdrawProof.UNKNOWN
    assert account.secret not in error_text(result.reason) and account.api_key not in error_text(
        result.reason
    )


@pytest.mark.parametrize("exchange_id", PROVEN)
async def test_probe_that_times_out_refuses_the_key(emulators, exchange_id):
    emu = await emulators(exchange_id)
    account = emu.add_account()
    emu.faults.arm("timeout_after_accept", only_paths=(PROBE_PATHS[exchange_id],))
    result = await verify(emu, account, gateway={"timeout_ms": 700})
    assert not result.ok and result.reason == CANNOT_CONFIRM_REASON
    assert result.withdraw_proof is WithdrawProof.UNKNOWN


async def test_kraken_probe_retries_a_transient_failure_then_proves(emulators):
    emu = await emulators("kraken")
    account = emu.add_account()
    emu.faults.arm("http_500", only_paths=(PROBE_PATHS["kraken"],))
    result = await verify(emu, account, gateway={"read_retries": 1, "retry_delay_s": 0})
    assert result.ok and result.can_withdraw is False
    assert probes(emu) == 2


async def test_kraken_permission_denied_elsewhere_is_not_a_proof(emulators):
    """A key without Query Funds is refused at the balance; the denial there says nothing
    about withdrawals and never reaches the probe."""
    from tests.fakes.kraken_auth import CREATE_ORDERS, WITHDRAW_FUNDS

    emu = await emulators("kraken")
    result = await verify(emu, emu.add_account(permissions=[CREATE_ORDERS, WITHDRAW_FUNDS]))
    assert not result.ok and result.can_withdraw is None
    assert "permission" in error_text(result.reason)
    assert probes(emu) == 0


async def test_kraken_key_that_may_only_withdraw_and_query_is_refused(emulators):
    from tests.fakes.kraken_auth import QUERY_FUNDS, WITHDRAW_FUNDS

    emu = await emulators("kraken")
    result = await verify(emu, emu.add_account(permissions=[QUERY_FUNDS, WITHDRAW_FUNDS]))
    assert not result.ok and result.can_withdraw is True and result.reason == CAN_WITHDRAW_REASON


@pytest.mark.parametrize(
    ("codes", "ok", "proof"),
    [
        ([1, 2, 3, 4, 7], True, WithdrawProof.PROVEN_NO_WITHDRAW),  # transfers stay inside
        ([2, 5], False, WithdrawProof.CAN_WITHDRAW),
        ([2, 3, 6], False, WithdrawProof.UNKNOWN),  # a code BingX does not document
        ([], False, WithdrawProof.UNKNOWN),
    ],
)
async def test_bingx_permission_codes(emulators, codes, ok, proof):
    emu = await emulators("bingx")
    result = await verify(emu, emu.add_account(permissions=codes))
    assert (result.ok, result.withdraw_proof) == (ok, proof)
    if ok:
        assert result.permissions == (
            "spot_trading",
            "read",
            "perpetual_futures_trading",
            "universal_transfer",
            "sub_account_transfer",
        )


# --- decided before any network call ---------------------------------------------------------


@pytest.fixture
async def recorder():
    """A server that records every request and answers 404: pointed at by an exchange
    the emulators do not cover, it shows whether verify() touched the network."""
    seen: list[str] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(status=404, text="not here")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # aiohttp exposes no getter
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def test_unprovable_exchange_is_refused_without_a_network_call(recorder):
    base_url, seen = recorder
    gw = CcxtGateway(exchange_urls={"binance": base_url}, enable_rate_limit=False, read_retries=0)
    creds = {"apiKey": "k" * 64, "secret": "s" * 64}
    try:
        refused = await gw.verify("binance", creds)
        assert seen == []
        # the control: allowed, the same gateway does go to the (recording) exchange
        allowed = await gw.verify("binance", creds, allow_unproven=True)
    finally:
        await gw.close_all()
    assert not refused.ok
    assert refused.reason == unproven_exchange_reason("Binance")
    assert refused.withdraw_proof is WithdrawProof.NOT_PROVABLE
    assert refused.can_withdraw is None
    assert creds["secret"] not in error_text(refused.reason)
    assert seen and not allowed.ok  # the recorder answers 404 to everything


@pytest.mark.parametrize("exchange_id", WALLET_EXCHANGES)
async def test_wallet_key_exchange_is_refused_even_when_unproven_is_allowed(recorder, exchange_id):
    base_url, seen = recorder
    gw = CcxtGateway(exchange_urls={exchange_id: base_url}, read_retries=0)
    creds = {name: "0x" + "ab" * 32 for name in required_credentials(exchange_id)}
    try:
        result = await gw.verify(exchange_id, creds, allow_unproven=True)
    finally:
        await gw.close_all()
    assert seen == []
    assert not result.ok and result.can_withdraw is True
    assert result.withdraw_proof is WithdrawProof.CAN_WITHDRAW
    assert result.reason == wallet_key_reason(exchange_id.capitalize())


def test_wallet_exchanges_include_the_known_ones():
    assert {"hyperliquid", "paradex"} <= set(WALLET_EXCHANGES)
    assert "privateKey" in required_credentials("hyperliquid")
    assert not {"kraken", "bingx", "coinbase", "binance"} & set(WALLET_EXCHANGES)


# --- helpers and parsers -----------------------------------------------------------------------


def test_wallet_key_exchange_and_the_provable_list():
    assert kp.PROVABLE_EXCHANGES == ("kraken", "bingx", "coinbase")
    assert set(kp.PROBES) == set(kp.PROVABLE_EXCHANGES)  # a proof for each, no more
    assert not kp.wallet_key_exchange(["apiKey", "secret"])
    assert not kp.wallet_key_exchange(["apiKey", "secret", "password"])
    assert kp.wallet_key_exchange(["privateKey"])
    assert kp.wallet_key_exchange(["walletAddress", "apiKey"])
    assert not kp.wallet_key_exchange([])


def test_kraken_permission_denied_is_recognised_exactly():
    denied = ccxt.PermissionDenied('kraken {"error":["EGeneral:Permission denied"]}')
    assert kp.kraken_permission_denied(denied)
    with_result = ccxt.PermissionDenied(
        'kraken {"error":["EGeneral:Permission denied"],"result":{}}'
    )
    assert kp.kraken_permission_denied(with_result)
    other = ccxt.PermissionDenied('kraken {"error":["EAccount:Invalid permissions:USDT"]}')
    assert not kp.kraken_permission_denied(other)
    two = ccxt.PermissionDenied('kraken {"error":["EGeneral:Permission denied","EX:y"]}')
    assert not kp.kraken_permission_denied(two)
    plain = ccxt.ExchangeError('kraken {"error":["EGeneral:Permission denied"]}')
    assert not kp.kraken_permission_denied(plain)
    assert not kp.kraken_permission_denied(ccxt.PermissionDenied("kraken not json"))


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        ({"error": [], "result": []}, WithdrawProof.CAN_WITHDRAW),
        ({"error": [], "result": [{"asset": "XXBT", "method": "Bitcoin"}]}, "can_withdraw"),
        ({"error": [], "result": "unavailable"}, "unknown"),
        ({"error": [], "result": {}}, "unknown"),
        ({"error": [], "result": ["x"]}, "unknown"),
        ({"result": []}, "unknown"),
        ({"unexpected": "shape"}, "unknown"),
        ("<html>", "unknown"),
        (None, "unknown"),
    ],
)
def test_kraken_answers(answer, state):
    assert kp.kraken_proof(answer).state == state


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        ({"code": 0, "data": {"permissions": [2, 3]}}, "proven_no_withdraw"),
        ({"code": "0", "data": {"permissions": ["1", "2"]}}, "proven_no_withdraw"),
        ({"code": 0, "data": {"permissions": [2, 3, 5]}}, "can_withdraw"),
        ({"code": 0, "data": {"permissions": ["5"]}}, "can_withdraw"),
        ({"code": 0, "data": {"permissions": [2, 8]}}, "unknown"),
        ({"code": 0, "data": {"permissions": [2, "read"]}}, "unknown"),
        ({"code": 0, "data": {"permissions": [2, True]}}, "unknown"),
        ({"code": 0, "data": {"permissions": [2, None]}}, "unknown"),
        ({"code": 0, "data": {"permissions": []}}, "unknown"),
        ({"code": 0, "data": {"permissions": "2,3"}}, "unknown"),
        ({"code": 0, "data": {}}, "unknown"),
        ({"code": 0, "data": [2, 3]}, "unknown"),
        ({"code": 100001, "data": {"permissions": [2]}}, "unknown"),
        ({"data": {"permissions": [2]}}, "unknown"),
        ({"unexpected": "shape"}, "unknown"),
        ([2, 3], "unknown"),
    ],
)
def test_bingx_answers(answer, state):
    assert kp.bingx_proof(answer).state == state


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        ({"can_view": True, "can_trade": True, "can_transfer": False}, "proven_no_withdraw"),
        ({"can_view": True, "can_trade": True, "can_transfer": True}, "can_withdraw"),
        ({"can_view": True, "can_trade": True, "can_transfer": "false"}, "unknown"),
        ({"can_view": True, "can_trade": True, "can_transfer": 0}, "unknown"),
        ({"can_view": True, "can_trade": True, "can_transfer": None}, "unknown"),
        ({"can_view": True, "can_trade": True}, "unknown"),
        ([], "unknown"),
    ],
)
def test_coinbase_answers(answer, state):
    assert kp.coinbase_proof(answer).state == state


def test_proof_maps_to_can_withdraw():
    assert kp.Proof(WithdrawProof.PROVEN_NO_WITHDRAW).can_withdraw is False
    assert kp.Proof(WithdrawProof.CAN_WITHDRAW).can_withdraw is True
    assert kp.Proof(WithdrawProof.UNKNOWN).can_withdraw is None
    assert kp.Proof(WithdrawProof.NOT_PROVABLE).can_withdraw is None


async def test_balances_survive_in_a_refusal(emulators):
    emu = await emulators("coinbase")
    result = await verify(emu, emu.add_account({"USD": Decimal(5)}, can_withdraw=True))
    assert not result.ok and [b.currency for b in result.balances] == ["USD"]
