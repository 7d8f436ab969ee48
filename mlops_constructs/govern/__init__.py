"""Govern: the audit trail and the registry lifecycle recorder."""
