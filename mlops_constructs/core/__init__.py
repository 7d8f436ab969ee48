"""Core: the per-model key, buckets and registry group every other capability builds on."""
