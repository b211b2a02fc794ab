"""Batch-axis reasoning: abstract values, the API catalogue and the evaluator."""
