"""PT225 across files, in transformers' shape: a cache class in its own module, a config class whose
declared defaults decide ``use_cache``, ``@merge_with_config_defaults`` filling ``use_cache=None``."""

from __future__ import annotations

import textwrap
from typing import Dict, List, Tuple

from mllint.testing import lint_files

CACHE = """\
class Cache:
    def __init__(self, config=None):
        self.layers = []

    def get_seq_length(self):
        return 0


class DynamicCache(Cache):
    pass


class StaticCache(Cache):
    pass
"""

REGISTERED_CACHE = (
    CACHE
    + """

import torch.utils._pytree as pytree

pytree.register_pytree_node(DynamicCache, lambda c: (c.layers, None), lambda v, ctx: DynamicCache())
"""
)

OPT_IN_REGISTRATION = (
    CACHE
    + """

import torch.utils._pytree as pytree


def register_cache_export_support():
    pytree.register_pytree_node(DynamicCache, lambda c: (c.layers, None), lambda v, ctx: DynamicCache())
"""
)

CONFIG = """\
class PretrainedConfig:
    is_decoder: bool = False
    add_cross_attention: bool = False


class DecoderConfig(PretrainedConfig):
    use_cache: bool = True


class NoCacheConfig(PretrainedConfig):
    use_cache: bool = False


class VagueConfig(PretrainedConfig):
    pass
"""

UTILS = """\
import functools


def merge_with_config_defaults(func):
    @functools.wraps(func)
    def wrapper(self, *args, **kwargs):
        return func(self, *args, **kwargs)
    return wrapper
"""

MODEL = """\
from typing import Optional

import torch
from torch import nn

from pkg.cache_utils import Cache, DynamicCache
from pkg.configuration import {config}
from pkg.utils import merge_with_config_defaults


class Output(dict):
    pass


class Decoder(nn.Module):
    def __init__(self, config: {config}):
        super().__init__()
        self.config = config
        self.proj = nn.Linear(4, 4)

    @merge_with_config_defaults
    def forward(self, x: torch.Tensor, cache: Optional[Cache] = None, use_cache: Optional[bool] = None):
        if use_cache and cache is None:
            cache = DynamicCache(config=self.config)
        h = self.proj(x)
        return (h, cache)
"""


def pt225(files: Dict[str, str]) -> List[Tuple[str, int]]:
    found = lint_files({k: textwrap.dedent(v) for k, v in files.items()}, select=["PT225"])
    return [(f.path.split("/")[-1], f.line) for f in found if f.code == "PT225" and f.suppressed is None]


def project(config: str = "DecoderConfig", cache: str = CACHE) -> Dict[str, str]:
    return {
        "pkg/__init__.py": "",
        "pkg/cache_utils.py": cache,
        "pkg/configuration.py": CONFIG,
        "pkg/utils.py": UTILS,
        "pkg/modeling.py": MODEL.format(config=config),
    }


def test_config_default_turns_the_cache_on() -> None:
    assert pt225(project()) == [("modeling.py", 26)]


def test_config_default_off_or_unknown_reports_nothing() -> None:
    assert pt225(project("NoCacheConfig")) == []
    assert pt225(project("VagueConfig")) == []  # no declared default: unknown stays unknown


def test_registered_at_import_time_is_flattenable() -> None:
    assert pt225(project(cache=REGISTERED_CACHE)) == []


def test_registration_in_a_function_someone_must_call_does_not_count() -> None:
    assert pt225(project(cache=OPT_IN_REGISTRATION)) == [("modeling.py", 26)]


def test_message_names_the_class_and_the_condition() -> None:
    files = {k: textwrap.dedent(v) for k, v in project().items()}
    found = [f for f in lint_files(files, select=["PT225"]) if f.code == "PT225"]
    assert len(found) == 1
    message = found[0].message
    assert "`DynamicCache`" in message and "use_cache and cache is None" in message
    assert set(found[0].targets) == {"torch-export", "onnx-dynamo"}
