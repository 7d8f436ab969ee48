"""Data science's job steps: training, evaluation, the quality gate, drift baseline statistics and the model card's evaluation."""
