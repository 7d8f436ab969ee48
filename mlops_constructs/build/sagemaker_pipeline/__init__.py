"""SageMaker pipeline definitions as plain data: expressions, typed step builders, the build pipeline, images."""
