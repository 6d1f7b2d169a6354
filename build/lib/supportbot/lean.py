"""aiogram's pydantic models built when first used, not all at import.

aiogram declares its ~300 Telegram types with pydantic's `defer_build=True`, then its
`aiogram/types/__init__.py` forces every one of them to build at import (`model_rebuild` with
a namespace of all the types, to resolve the forward references), and its ~170 method classes
build eagerly too. That import costs about 100 MB of resident memory and 2.5 s of CPU in every
process, though a bot uses a few dozen of them (`Update`, `Message`, `SendMessage`, ...).

`defer_aiogram_models()` imports aiogram with the build deferred instead: the namespace those
rebuild calls carry is put into each type's own module (where pydantic looks when it builds a
deferred model), and the methods' base class gets `defer_build` before its subclasses are
declared. Each model is then built by pydantic on its first validation, with the same result.
Measured (bench/relay.py): the product's RSS drops by about 100 MB and `import aiogram` from
3.5 s to 1 s. If aiogram's internals change so that this no longer applies, aiogram is imported
as usual (nothing is lost but the memory); tests/unit/test_lean.py watches that.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

METHODS_BASE = "aiogram.methods.base"
applied = False  # whether the last call deferred the models (False: aiogram was imported as usual)


class _DeferMethods(importlib.abc.MetaPathFinder):
    """Sets `defer_build` on `TelegramMethod` right after its module runs, before any method
    class (all declared in other modules) inherits the config."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != METHODS_BASE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            method = getattr(module, "TelegramMethod", None)
            if method is not None:
                method.model_config["defer_build"] = True

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def defer_aiogram_models() -> bool:
    """Import aiogram with its models' build deferred; True when that applied."""
    global applied
    if "aiogram" in sys.modules:  # too late for this process: already built
        return applied
    from pydantic import BaseModel

    original = BaseModel.__dict__["model_rebuild"]
    deferred_types = 0

    def model_rebuild(
        cls: type[BaseModel],
        *,
        force: bool = False,
        raise_errors: bool = True,
        _parent_namespace_depth: int = 2,
        _types_namespace: Any = None,
    ) -> bool | None:
        nonlocal deferred_types
        if _types_namespace is not None and not force and cls.__module__.startswith("aiogram."):
            module = sys.modules[cls.__module__].__dict__
            for name, value in _types_namespace.items():
                module.setdefault(name, value)
            deferred_types += 1
            return None
        return original.__func__(
            cls,
            force=force,
            raise_errors=raise_errors,
            _parent_namespace_depth=_parent_namespace_depth + 1,
            _types_namespace=_types_namespace,
        )

    finder = _DeferMethods()
    sys.meta_path.insert(0, finder)
    BaseModel.model_rebuild = classmethod(model_rebuild)  # type: ignore[assignment,method-assign]
    try:
        import aiogram.methods
        import aiogram.types  # noqa: F401
    finally:
        BaseModel.model_rebuild = original  # type: ignore[method-assign]
        sys.meta_path.remove(finder)
    from aiogram.methods.base import TelegramMethod

    applied = deferred_types > 100 and bool(TelegramMethod.model_config.get("defer_build"))
    if not applied:
        log.debug("aiogram models built at import (deferred %d types)", deferred_types)
    return applied
