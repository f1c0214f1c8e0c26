"""Reading operations on behalf of an API caller (plain SQL: see models/reads.py)."""

from models.reads import select_operation, select_operations

__all__ = ["select_operation", "select_operations"]
