"""Deploy: the approval-driven deploy pipeline, guarded endpoints (with their metrics and the limits shared with
the config), serving access, batch scoring."""
