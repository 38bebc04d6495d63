"""Shared helpers of the Python suite."""

import json
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="session")
def nt_fixtures():
    """neural-tangents 0.6.5 kernels (tests/fixtures/make_nt_fixtures.py)."""
    return json.loads((FIXTURES / "neural_tangents.json").read_text())


@pytest.fixture
def rng():
    return np.random.default_rng(0)
