"""Data engineering's job steps: validation, preprocessing and the feature encoder."""
