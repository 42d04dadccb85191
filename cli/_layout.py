"""The ``modsnn`` package as a folder tree of symbolic links into a checkout.

The repository folders become ``modsnn.*`` sub-packages through ``package-dir`` in
``pyproject.toml``; the editable install maps them with an import hook, which tools that read
files rather than import (mypy) and other checkouts (a baseline commit for ``modsnn bench
--baseline``) cannot use. :func:`link_tree` lays the mapping out as links::

    python -m modsnn._layout build/typecheck      # → build/typecheck/modsnn/{cli files, golden_model, ...}
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

__all__ = ["link_tree"]


def link_tree(checkout: Path, into: Path) -> Path:
    """Create ``into/modsnn`` from ``checkout``'s ``package-dir`` mapping (replacing an earlier
    tree); returns ``into``, the folder to put on ``sys.path`` or ``MYPYPATH``."""
    pyproject = checkout / "pyproject.toml"
    if not pyproject.is_file():
        raise FileNotFoundError(f"{checkout} has no pyproject.toml: not a modsnn checkout")
    mapping: dict[str, str] = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-dir"]
    root = into / "modsnn"
    if root.is_symlink() or root.is_file():
        root.unlink()
    elif root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for item in (checkout / mapping["modsnn"]).iterdir():
        if item.suffix == ".py":
            (root / item.name).symlink_to(item.resolve())
    for package, folder in sorted(mapping.items()):
        if package != "modsnn":
            (root / package.split(".", 1)[1]).symlink_to((checkout / folder).resolve(), target_is_directory=True)
    return into


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m modsnn._layout DEST  (run from a modsnn checkout)")
    print(link_tree(Path.cwd(), Path(sys.argv[1])))
