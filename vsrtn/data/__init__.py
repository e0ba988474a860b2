"""Files shipped inside the package: presets (`presets/`), the trained weights with their manifest
(`weights/`) and the pretrained feature networks Colorize and LPIPS use (`features/`, licences in
features/LICENSE.md). Found through the import system, so they work wherever vsrtn is installed."""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def path(*parts: str) -> Path:
    """The shipped file or folder `parts` (pip installs packages as plain folders, never zipped)."""
    return Path(str(resources.files(__name__).joinpath(*parts)))
