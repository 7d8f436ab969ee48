"""Code that runs inside SageMaker jobs, in the platform's Lambdas and locally. Imports only numpy/pandas/xgboost."""
import os as _os

# Before xgboost or scikit-learn load libgomp: idle OpenMP threads sleep instead of spinning. Spinning costs
# nothing on a dedicated SageMaker instance but makes 2-thread training ~6x slower on a shared machine.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
