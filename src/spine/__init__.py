"""Spine: data pipelines as durable workflows, with their whole history kept in SQL."""

__version__ = "0.1.0"

__all__ = ["__version__"]
