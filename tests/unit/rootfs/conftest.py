import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hostwarden.scan.safefiles import remove_tree  # noqa: E402


@pytest.fixture(autouse=True)
def _remove_deep_trees(tmp_path: Path):  # noqa: ANN202 - a fixture
    """These tests build 1,500-deep folders; pytest's own cleanup (shutil.rmtree) recurses and fails on them."""
    yield
    remove_tree(tmp_path)
