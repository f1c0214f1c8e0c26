"""Fixtures for the HTTP tests: per-test settings overrides and a local git repository."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from models.settings import Settings


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Settings fields a test changes: `@pytest.mark.parametrize("overrides", [{...}])`."""
    return {}


@pytest.fixture
def settings(settings: Settings, overrides: dict[str, Any]) -> Settings:
    return replace(settings, **overrides)
