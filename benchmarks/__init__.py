"""Benchmarks of the integration: calls per day, CPU and memory per poll, start-up time.

Run them with scripts/benchmark; they are not part of scripts/test.
"""
