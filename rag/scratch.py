"""Scratch folders for work that is thrown away: an evaluation's or a benchmark's own corpus and
index. Each is made under the system's temporary folder (``TMPDIR``) and removed when the process
ends, however it ends short of being killed, so repeated runs do not fill the disk."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path


def scratch_dir(prefix: str) -> Path:
    """A new empty folder, removed with everything in it when this process exits."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
