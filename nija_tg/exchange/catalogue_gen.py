"""Write ``nija_tg/core/exchange_catalogue.json`` from the installed ccxt:
``python -m nija_tg.exchange.catalogue_gen`` after upgrading ccxt."""

from __future__ import annotations

import json
import sys

import ccxt

from nija_tg.core.exchange_catalogue import CATALOGUE_FILE
from nija_tg.exchange.ccxt_factory import required_credentials, supported_exchanges


def build() -> dict:
    exchanges = {eid: required_credentials(eid) for eid in supported_exchanges()}
    return {"ccxt_version": ccxt.__version__, "exchanges": exchanges}


def render(doc: dict) -> str:
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def main() -> int:
    CATALOGUE_FILE.write_text(render(build()), encoding="utf-8")
    print(f"wrote {len(build()['exchanges'])} exchanges to {CATALOGUE_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
