import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from vuln_helpers import make_debian_root  # noqa: E402


@pytest.fixture
def debian_root(tmp_path):
    return make_debian_root(tmp_path / "root")
