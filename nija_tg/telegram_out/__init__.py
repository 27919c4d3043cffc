"""The Telegram edge of the bot process: the one outgoing budget (``budget``) shared by
python-telegram-bot's rate limiter and the outbox sender (``outbox_sender``), which
delivers the notifications the engine and the services queue in the outbox."""
