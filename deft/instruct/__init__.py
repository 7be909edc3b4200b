"""Uni-MER motion instructions: grounded facts, templates, builders and the claim checker."""
