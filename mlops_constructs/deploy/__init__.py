"""Deploy: the approval-driven deploy pipeline, guarded endpoints, serving access, batch scoring."""
