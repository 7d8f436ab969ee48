"""Seeded synthetic data sets for the examples, tests and benchmarks."""
