"""Benchmarks: speed and memory targets live here, never as timing asserts in tests.

Each benchmark measures side by side in one run and reports ratios, because
the machines are shared and noisy: absolute numbers move, ratios much less.
"""
