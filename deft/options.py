"""Command-line options as keyword arguments: only the options given, so each default lives in its callee."""

from __future__ import annotations

import argparse


def given(args: argparse.Namespace, **names: str) -> dict:
    """{keyword: args.<option>} for each option given on the command line (an option left out is None):
    every other keyword keeps the callee's default (its config dataclass or signature), stated once there."""
    return {key: getattr(args, name) for key, name in names.items() if getattr(args, name) is not None}
