"""Lambda handlers, one package per function: ``functions/<name>/handler.py`` with its ``requirements.txt``."""
