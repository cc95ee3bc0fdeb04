"""Benchmarks: a reference implementation of Gatys et al., a fixed judge, and time-to-quality measurements.

Run ``python -m benchmarks --help``; see ``benchmarks/README.md`` for the protocol.
"""
