"""How a file converts models to TFLite (family: unsupported).

TF206 a Keras 3 model converted through ``tf.saved_model.save`` or ``from_concrete_functions`` (the
``.tflite`` computes garbage), TF207 Flex (SELECT_TF_OPS) enabled, a hidden runtime dependency.
"""

from __future__ import annotations

from typing import Optional

from mllint.analysis.summary import ClassSummary
from mllint.analysis.values import code_of
from mllint.analysis.walker import FileContext
from mllint.checks.base import Check
from mllint.checks.tf_sites import ModelBinding, file_sites


def _holds_keras3(fctx: FileContext, obj: ModelBinding) -> Optional[str]:
    """A short description when ``obj`` is (or is a tf.Module that holds) a Keras 3 model."""
    if obj.framework == "keras":
        return "a Keras 3 model" if obj.flavor == "keras3" else None
    if obj.framework == "tf" and obj.cls is not None:
        for c in fctx.index.mro(obj.cls):
            for attr, info in c.attrs.items():
                if info.kind != "module" or not info.cls:
                    continue
                if _is_keras3_class(fctx, info.cls):
                    return f"a tf.Module holding a Keras 3 model (`self.{attr}`)"
    return None


def _is_keras3_class(fctx: FileContext, qname: str) -> bool:
    cls: Optional[ClassSummary] = fctx.index.resolve_class(qname)
    if cls is not None:
        return fctx.index.framework_of(cls) == "keras" and fctx.index.keras_flavor_of(cls) == "keras3"
    return qname.startswith(("keras.", "tensorflow.keras.")) and qname.rsplit(".", 1)[-1] in ("Model", "Sequential")


class TFLiteConversionPaths(Check):
    """TF206-TF207: conversion paths that give wrong numbers or need the Flex runtime."""

    codes = ("TF206", "TF207")
    frameworks = ("tensorflow",)

    def check_file(self, fctx: FileContext) -> None:
        if not fctx.summary.uses_tf:
            return
        sites = file_sites(fctx)
        converts = sites.any("from_saved_model")
        for site in sites.sites:
            if site.obj is None:
                continue
            if site.api == "saved_model.save" and converts:
                what = _holds_keras3(fctx, site.obj)
                if what:
                    fctx.report("TF206", site.call, site.top, site.stmt, what=what, path="tf.saved_model.save")
            elif site.api == "from_concrete_functions":
                what = _holds_keras3(fctx, site.obj)
                if what:
                    fctx.report("TF206", site.call, site.top, site.stmt, what=what,
                                path="TFLiteConverter.from_concrete_functions")
        for node, top, stmt in sites.select_ops:
            fctx.report("TF207", node, top, stmt, expr=code_of(node))
