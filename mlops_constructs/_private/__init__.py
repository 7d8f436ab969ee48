"""Shared building blocks of the capabilities (nag, validation, grants, key, CodeBuild, functions). Not public API."""
