"""The book builds strictly: a broken reference, citation, toc entry or notebook fails the build."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from notebook_tools import ROOT


@pytest.mark.slow
def test_book_builds_without_warnings():
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book) if jupyter_book.exists() else shutil.which("jupyter-book")]
    result = subprocess.run(
        [*command, "build", str(ROOT), "-W", "--keep-going"],
        cwd=ROOT, capture_output=True, text=True, timeout=3000,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert (ROOT / "_build" / "html" / "index.html").exists()
