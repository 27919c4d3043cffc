from pathlib import Path

import pytest

from nija_tg.config import VARIABLES, load_settings, read_dotenv
from nija_tg.core.errors import ConfigError
from tests.conftest import REPO, TEST_TOKEN


def load(**env: str):
    return load_settings(env, dotenv=None)


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load()
    assert s.data_dir == (tmp_path / "data").resolve()
    assert s.db_path == s.data_dir / "nija.sqlite3"
    assert s.telegram_api_base_url == "https://api.telegram.org"
    assert s.admin_ids == frozenset()
    assert s.sandbox is False
    assert s.log_level == "INFO"
    assert s.effective_master_key_file == s.data_dir / "master.key"
    assert s.effective_engine_key_file == s.data_dir / "engine.key"
    assert s.webhook_listen == "127.0.0.1"
    assert s.allow_unproven_exchanges is False and s.server_ip is None


def test_full_configuration(tmp_path):
    s = load(
        TELEGRAM_BOT_TOKEN=TEST_TOKEN,
        TELEGRAM_API_BASE_URL="http://127.0.0.1:8081/",
        NIJA_ADMIN_IDS="11, 22;33",
        NIJA_DATA_DIR=str(tmp_path),
        NIJA_EXCHANGE_URLS='{"kraken": "http://127.0.0.1:9000", "bingx": "https://x.test"}',
        NIJA_SANDBOX="yes",
        NIJA_LOG_LEVEL="debug",
    )
    assert s.telegram_token == TEST_TOKEN
    assert s.telegram_api_base_url == "http://127.0.0.1:8081"
    assert s.admin_ids == {11, 22, 33}
    assert s.exchange_urls == {"kraken": "http://127.0.0.1:9000", "bingx": "https://x.test"}
    assert s.sandbox is True
    assert s.log_level == "DEBUG"
    assert TEST_TOKEN not in repr(s)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TELEGRAM_BOT_TOKEN", "not-a-token", "TELEGRAM_BOT_TOKEN must look like"),
        ("TELEGRAM_API_BASE_URL", "ftp://x", "TELEGRAM_API_BASE_URL must be an http(s) URL"),
        ("TELEGRAM_API_BASE_URL", "localhost:8081", "TELEGRAM_API_BASE_URL must be"),
        ("NIJA_ADMIN_IDS", "@alice", "NIJA_ADMIN_IDS must be comma-separated numeric"),
        ("NIJA_ADMIN_IDS", "12,-5", "NIJA_ADMIN_IDS must be"),
        ("NIJA_ADMIN_IDS", "0", "NIJA_ADMIN_IDS must be"),
        ("NIJA_EXCHANGE_URLS", "{not json", "NIJA_EXCHANGE_URLS must be a JSON object"),
        ("NIJA_EXCHANGE_URLS", '["kraken"]', "NIJA_EXCHANGE_URLS must be a JSON object"),
        ("NIJA_EXCHANGE_URLS", '{"kraken": 5}', "NIJA_EXCHANGE_URLS must be a JSON object"),
        ("NIJA_EXCHANGE_URLS", '{"kraken": "nope"}', "NIJA_EXCHANGE_URLS[kraken] must be"),
        ("NIJA_EXCHANGE_URLS", '{"Bad Id!": "http://x"}', "is not an exchange id"),
        ("NIJA_SANDBOX", "maybe", "NIJA_SANDBOX must be true or false"),
        ("NIJA_LOG_LEVEL", "LOUD", "NIJA_LOG_LEVEL must be one of"),
        ("NIJA_LIBRARY_LOG_LEVEL", "x", "NIJA_LIBRARY_LOG_LEVEL must be one of"),
        ("NIJA_WEBHOOK_PORT", "99999", "NIJA_WEBHOOK_PORT must be a number between 1 and 65535"),
        ("NIJA_WEBHOOK_PORT", "nan", "NIJA_WEBHOOK_PORT must be a number"),
        ("NIJA_PAPER_START_BALANCE", "-1", "NIJA_PAPER_START_BALANCE must be a number"),
        ("NIJA_ENGINE_DRAIN_SECONDS", "inf", "NIJA_ENGINE_DRAIN_SECONDS must be a number"),
        ("NIJA_SENDER_RATE", "31", "NIJA_SENDER_RATE must be a number between 1 and 30"),
        ("NIJA_SERVER_IP", "my-server", "NIJA_SERVER_IP must be the server's public IP"),
        (
            "NIJA_ALLOW_EXCHANGES_WITHOUT_WITHDRAW_CHECK",
            "perhaps",
            "NIJA_ALLOW_EXCHANGES_WITHOUT_WITHDRAW_CHECK must be true or false",
        ),
    ],
)
def test_bad_values_name_the_variable(name, value, expected):
    with pytest.raises(ConfigError) as err:
        load(**{name: value})
    assert expected in str(err.value)


def test_webhook_needs_secret():
    with pytest.raises(ConfigError, match="NIJA_WEBHOOK_SECRET must be set"):
        load(NIJA_WEBHOOK_URL="https://bot.example.com/hook")
    with pytest.raises(ConfigError, match="NIJA_WEBHOOK_SECRET must be 32-256"):
        load(NIJA_WEBHOOK_URL="https://bot.example.com/hook", NIJA_WEBHOOK_SECRET="sp ace")
    with pytest.raises(ConfigError, match="NIJA_WEBHOOK_SECRET must be 32-256"):
        load(NIJA_WEBHOOK_URL="https://bot.example.com/hook", NIJA_WEBHOOK_SECRET="a" * 31)
    s = load(NIJA_WEBHOOK_URL="https://bot.example.com/hook", NIJA_WEBHOOK_SECRET="a" * 32)
    assert s.webhook_listen == "127.0.0.1"


def test_server_ip_and_unproven_exchanges():
    s = load(
        NIJA_SERVER_IP="203.0.113.7, 2001:db8::1", NIJA_ALLOW_EXCHANGES_WITHOUT_WITHDRAW_CHECK="1"
    )
    assert s.server_ip == "203.0.113.7, 2001:db8::1"
    assert s.allow_unproven_exchanges is True


def test_missing_token_message_says_how_to_get_one():
    with pytest.raises(ConfigError) as err:
        load().require_token()
    assert "TELEGRAM_BOT_TOKEN is not set" in str(err.value)
    assert "BotFather" in str(err.value)


def test_dotenv_is_read_and_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\n\nexport NIJA_LOG_LEVEL=debug\nNIJA_ADMIN_IDS='7'\nNIJA_SANDBOX=\"1\"\n"
    )
    assert read_dotenv(env_file)["NIJA_ADMIN_IDS"] == "7"
    s = load_settings({"NIJA_ADMIN_IDS": "8"}, dotenv=env_file)
    assert s.admin_ids == {8}
    assert s.log_level == "DEBUG"
    assert s.sandbox is True


def test_dotenv_malformed_line(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("JUST TEXT\n")
    with pytest.raises(ConfigError, match=r"\.env:1: expected KEY=value"):
        read_dotenv(env_file)


def test_every_variable_is_documented_in_readme():
    readme = (REPO / "README.md").read_text()
    missing = [v for v in VARIABLES if f"`{v}`" not in readme]
    assert missing == []


def test_missing_dotenv_is_fine(tmp_path):
    assert read_dotenv(Path(tmp_path / "absent")) == {}


def test_env_example_lists_every_variable_and_loads_as_the_defaults(tmp_path, monkeypatch):
    example = REPO / ".env.example"
    values = read_dotenv(example)
    assert sorted(values) == sorted(VARIABLES)
    monkeypatch.chdir(tmp_path)
    from_example = load_settings({}, dotenv=example)
    assert from_example == load_settings({}, dotenv=None)  # its values are the defaults
