"""Helpers of benchmarks/bench_sfu.py (server process, load generator, wire protocol)."""
