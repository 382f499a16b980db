"""An admin's own mappings folder: a copy of the packaged scoring and mapping files."""

from __future__ import annotations

import shutil
from pathlib import Path

from mappings.loader import PACKAGED


def copy_packaged(folder: Path) -> Path:
    """Copy every packaged YAML file into `folder` (created if needed); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in PACKAGED.glob("*.yaml"):
        shutil.copy(source, folder / source.name)
    return folder
