"""Fault-injection runs (issue 6): `make chaos` runs them all and writes the figures into
docs/reliability.md. Each script also runs alone: ``python -m chaos.<name> --help``."""
