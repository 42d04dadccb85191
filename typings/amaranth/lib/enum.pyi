# amaranth.lib.enum, as far as mypy needs it: an Enum is a standard enumeration (members with .name
# and .value, iteration, lookup by value) whose metaclass also makes it shape-castable. Without this
# stub the untyped module makes every `class X(enum.Enum, shape=N)` of modsnn.hw a subclass of Any,
# and mypy takes X.MEMBER for an int. The hardware side (shapes, views, IntEnum, Flag) stays Any.
import enum as py_enum
from typing import Any

class EnumType(py_enum.EnumMeta):
    def as_shape(cls) -> Any: ...
    def const(cls, init: Any) -> Any: ...
    def from_bits(cls, bits: int) -> Any: ...

# A member-less base enumeration, as in the real module (mypy warns about any such class in a stub).
class Enum(py_enum.Enum, metaclass=EnumType):  # type: ignore[misc]
    def __init_subclass__(cls, *, shape: Any = None, view_class: Any = None) -> None: ...

def __getattr__(name: str) -> Any: ...
