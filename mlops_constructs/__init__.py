"""The reusable construct library: one package per capability, and ``_private`` for what they share."""
