"""Scoring of submissions against ground truth, reproducing the official evaluator."""
