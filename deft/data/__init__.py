"""Datasets and the synthetic clip generator."""
