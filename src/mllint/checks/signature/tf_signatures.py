"""What a saved or exported model can be called with after loading (family: signature).

At each ``tf.saved_model.save`` of a project ``tf.Module``: TF401 a ``tf.function`` without
``input_signature`` (and no ``signatures=``), TF402 two or more signed functions and no
``signatures=`` (no ``serving_default``), TF403 public methods that are not ``tf.function`` (gone
after load); at each export of a subclassed Keras model: TF404 the model was never called first.
"""

from __future__ import annotations

from typing import Dict, List, Set

from mllint.analysis.summary import ClassSummary, FuncSummary
from mllint.analysis.walker import FileContext
from mllint.checks.base import Check
from mllint.checks.tf_sites import Site, file_sites

_NOT_SERVED = ("property", "staticmethod", "classmethod", "functools.cached_property", "abc.abstractmethod")


def _module_methods(fctx: FileContext, cls: ClassSummary) -> Dict[str, FuncSummary]:
    """Methods of ``cls`` and its project tf.Module bases, most derived first."""
    out: Dict[str, FuncSummary] = {}
    for c in fctx.index.mro(cls):
        for name, fn in c.methods.items():
            out.setdefault(name, fn)
    return out


def _shown(api: str) -> str:
    return {"saved_model.save": "tf.saved_model.save", "export": "export()", "keras-save": "save()",
            "from_keras_model": "TFLiteConverter.from_keras_model"}.get(api, api)


class TFSavedSignatures(Check):
    """TF401-TF404 at save / export sites."""

    codes = ("TF401", "TF402", "TF403", "TF404")
    frameworks = ("tensorflow",)

    def check_file(self, fctx: FileContext) -> None:
        if not fctx.summary.uses_tf:
            return
        for site in file_sites(fctx).sites:
            obj = site.obj
            if obj is None:
                continue
            if obj.framework == "tf" and obj.cls is not None and site.api == "saved_model.save":
                self._tf_module(fctx, site, obj.cls, obj.concrete)
            elif obj.framework == "keras" and not site.built and site.api in ("saved_model.save", "export",
                                                                             "from_keras_model"):
                fctx.report("TF404", site.call, site.top, site.stmt, cls=obj.cls.name if obj.cls else "model",
                            call=_shown(site.api))

    def _tf_module(self, fctx: FileContext, site: Site, cls: ClassSummary, concrete: Set[str]) -> None:
        if "signatures" in site.keywords or len(site.call.args) >= 3 and site.call.args[2].keyword is None:
            return  # explicit signatures
        methods = _module_methods(fctx, cls)
        signed: List[str] = []
        unsigned: List[str] = []
        plain: List[str] = []
        for name, fn in methods.items():
            if fn.tf_function is not None:
                (signed if fn.tf_function.has_signature else unsigned).append(name)
            elif (not name.startswith("_") and len(fn.params) > 1 and not fn.is_async
                  and not any(d in _NOT_SERVED or d.endswith((".setter", ".getter")) for d in fn.decorators)):
                plain.append(name)
        unsigned = [n for n in unsigned if n not in concrete]
        if unsigned:
            fctx.report("TF401", site.call, site.top, site.stmt, cls=cls.name, methods=_names(unsigned))
        if len(signed) >= 2:
            fctx.report("TF402", site.call, site.top, site.stmt, cls=cls.name, methods=_names(signed))
        if plain:
            fctx.report("TF403", site.call, site.top, site.stmt, cls=cls.name, methods=_names(plain))


def _names(names: List[str]) -> str:
    return ", ".join(f"`{n}`" for n in sorted(names))
