"""Benchmarks (``make bench``): see bench/run_all.py and docs/benchmarks.md."""
