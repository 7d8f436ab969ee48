"""Code that runs inside SageMaker jobs, in the platform's Lambdas and locally. Imports only numpy/pandas/xgboost."""
