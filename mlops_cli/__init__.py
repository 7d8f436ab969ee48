"""The ``mlops`` command line: config validation and schema, local runs, drift checks, lineage queries."""
