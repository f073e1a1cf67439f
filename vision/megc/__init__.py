"""Facial micro-expressions, MEGC 2019 (megc2019_micro_expressions.txt): faces, flow, strain, spotting, data."""

__all__ = []
