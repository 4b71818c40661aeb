"""Corpus tests read real logs written by others from `../shared/corpora` (beside the checkout).

They skip cleanly where that folder is absent, so a fresh clone passes on its own.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests_helpers, imported explicitly by the tests

CORPORA = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpora"


@pytest.fixture(scope="session")
def corpora_dir() -> Path:
    """`<repo>/../shared/corpora`, resolved; skips the test when it is not there."""
    path = CORPORA.resolve()
    if not path.is_dir():
        pytest.skip(f"corpora not present at {path}")
    return path


@pytest.fixture(scope="session")
def corpora(corpora_dir: Path) -> Path:
    """Alias of `corpora_dir`."""
    return corpora_dir
