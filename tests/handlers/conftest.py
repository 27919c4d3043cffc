import pytest

from tests.handlers.harness import start_bot, stop_bot


@pytest.fixture
async def bot(data_dir):
    harness = await start_bot(data_dir)
    try:
        yield harness
    finally:
        await stop_bot(harness)
