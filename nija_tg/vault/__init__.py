"""Key custody: the only code that handles keys and credential ciphertexts.

- ``sealing``: seal a credential to the engine's public key (HPKE) and open it; pure.
- ``keyring``: the engine's private keys (file or NIJA_ENGINE_KEY); only the engine and
  the operator's ``nija-tg rotate-key`` load it. The bot never imports it.
- ``fernet_legacy``: the Fernet master keys of releases before key sealing, read once by
  the engine to migrate old rows (see docs/security.md).
"""
