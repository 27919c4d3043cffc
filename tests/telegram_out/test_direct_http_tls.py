"""direct_http over TLS against a real TLS server on 127.0.0.1 (asyncio + ssl), with a CA
and server certificate made here (``cryptography``): with that CA given
(``ssl_context``) a request goes on a kept-open connection; with the default (certifi's
bundle, as httpx) the self-signed server is refused, by the kept-open connections and by
the ordinary client behind them, and the token in the request's path is in no error
text and no log record."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from telegram.error import NetworkError
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from nija_tg.telegram_out.bot_request import ConnectionPerRequest
from nija_tg.telegram_out.direct_http import DirectConnections
from tests.conftest import TEST_TOKEN
from tests.telegram_out.answering_server import AnsweringServer


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )
    if issuer is None:  # the CA
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        usage = dict(key_cert_sign=True, crl_sign=True, digital_signature=False)
    else:
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                False,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        )
        usage = dict(key_cert_sign=False, crl_sign=False, digital_signature=True)
    builder = builder.add_extension(
        x509.KeyUsage(
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
            **usage,
        ),
        True,
    )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(the server's context, a client context trusting only the test CA)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("nija_tg test CA", ca_key, None, ca_key)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate("127.0.0.1", key, ca, ca_key)
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "server.pem").write_bytes(cert.public_bytes(pem))
    (tmp_path / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    client = ssl.create_default_context(cafile=tmp_path / "ca.pem")
    return server, client


async def _idle(direct: DirectConnections, count: int = 1) -> None:
    async with asyncio.timeout(10):
        while direct.idle_count() < count:  # noqa: ASYNC110 - the connection opening
            await asyncio.sleep(0.02)


async def test_a_request_goes_over_tls_on_a_kept_open_connection_with_the_given_ca(tls):
    server_ctx, client_ctx = tls
    async with AnsweringServer(ssl=server_ctx) as server:
        url = f"https://127.0.0.1:{server.port}"
        direct = DirectConnections(f"{url}/bot", 2, ssl_context=client_ctx)
        await direct.start()
        try:
            await _idle(direct, 2)
            for _ in range(3):
                answer = direct.send(f"{url}/bot{TEST_TOKEN}/deleteMessage", {"a": "1"})
                assert answer is not None  # written on a kept-open TLS connection
                assert await asyncio.wait_for(answer, 5) == (200, b"ok")
            assert server.accepted == 2  # kept open: no connection per request
            assert server.heads[0].startswith(f"POST /bot{TEST_TOKEN}/deleteMessage ".encode())
        finally:
            await direct.close()


def _texts(exc: BaseException | None) -> list[str]:
    seen: list[str] = []
    while exc is not None and len(seen) < 10:
        seen += [str(exc), repr(exc)]
        exc = exc.__cause__ or exc.__context__
    return seen


async def test_with_certifis_bundle_a_self_signed_server_is_refused_and_the_token_not_shown(
    tls, caplog
):
    caplog.set_level(logging.DEBUG)
    server_ctx, _ = tls
    async with AnsweringServer(ssl=server_ctx) as server:
        url = f"https://127.0.0.1:{server.port}"
        direct = DirectConnections(f"{url}/bot", 1, reopen_after=0.05)  # the default
        request = ConnectionPerRequest(4, direct)
        await request.initialize()
        try:
            async with asyncio.timeout(10):
                while not any(r.name == "nija_tg.bot.direct_http" for r in caplog.records):  # noqa: ASYNC110 - refused
                    await asyncio.sleep(0.02)
            assert direct.open_count == 0
            target = f"{url}/bot{TEST_TOKEN}/sendMessage"
            assert direct.send(target, {"a": "1"}) is None
            data = RequestData([RequestParameter.from_input("chat_id", 7)])
            with pytest.raises(NetworkError) as refused:  # httpx (certifi too) refuses it
                await request.do_request(target, "POST", data)
        finally:
            await request.shutdown()
        assert server.accepted == 0 and not server.heads  # no handshake went through
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
    assert any(
        r.getMessage() == "direct connection failed: SSLCertVerificationError"
        for r in caplog.records
    )
    texts = _texts(refused.value) + [r.getMessage() for r in caplog.records]
    texts += [str(r.exc_info[1]) for r in caplog.records if r.exc_info]
    assert not [t for t in texts if TEST_TOKEN in t or TEST_TOKEN.split(":")[1] in t]
