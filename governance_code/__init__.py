"""Governance runtime (run by the audit and lifecycle Lambdas and the CLI): the audit schema and registry lifecycle."""
