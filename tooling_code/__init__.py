"""Tooling run in CodeBuild or on a laptop: starting pipeline executions and synthetic data."""
