"""Evaluation: metrics (pure functions over NumPy arrays), protocols and reports."""
