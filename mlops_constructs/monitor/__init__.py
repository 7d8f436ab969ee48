"""Monitor: drift and quality monitors, their fan-out, dashboard and retrain trigger."""
