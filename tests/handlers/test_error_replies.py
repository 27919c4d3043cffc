"""The global error handler (handlers/errors.py) answers in HTML with the handled
error's explanation escaped: what it names in angle brackets reaches the user as typed,
not as ``&lt;`` entities."""

from __future__ import annotations

from nija_tg.handlers.callback_data import ForgetButton
from tests.handlers.harness import ADMIN_ID


async def test_a_handled_error_reaches_the_user_as_html_with_its_words_escaped(bot):
    await bot.say(ADMIN_ID, "/start")  # the only admin
    record = await bot.ask(ADMIN_ID, "/forget")
    refused = await bot.press(ADMIN_ID, ForgetButton("yes").pack(), record.result["message_id"])
    assert refused.params.get("parse_mode") == "HTML"
    assert "last admin" in refused.params["text"]
    assert "(/role &lt;id&gt; admin)" in refused.params["text"]  # shown as "<id>"
