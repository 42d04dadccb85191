# Amaranth ships no type information (no py.typed); this stub package only declares what
# `make typecheck` needs: amaranth.lib.enum (see lib/enum.pyi). Every other name and sub-module
# stays untyped: ignored by the ignore_missing_imports override in pyproject.toml.
from typing import Any

def __getattr__(name: str) -> Any: ...
