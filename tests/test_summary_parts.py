"""Which classes of a file are parts of a bigger model (read from the text by the summary pass)."""

from __future__ import annotations

import textwrap

from mllint.analysis.summary import classes_used_as_parts

SOURCE = textwrap.dedent('''\
    import torch
    from torch import nn


    class Block(nn.Module):
        """Not a part because its own docstring names Block."""
        def forward(self, x):
            return x


    class Head(nn.Module):
        def forward(self, x):
            return x


    class Stem(nn.Module):
        def forward(self, x):
            return x


    class Lonely(nn.Module):
        def forward(self, x):
            return x


    class Net(nn.Module):
        def __init__(self, block_fn=Block):
            super().__init__()
            self.blocks = nn.ModuleList([block_fn() for _ in range(2)])

        def forward(self, x):
            return x


    STEMS = {"stem": Stem}
    __all__ = ["Lonely", "Net", "Head"]


    def build():
        return Head()


    if __name__ == "__main__":
        Lonely()(torch.randn(2))
    ''')


def test_parts_are_names_in_other_classes_or_module_level_values_not_calls() -> None:
    classes = ["Block", "Head", "Stem", "Lonely", "Net"]
    # Block: named in Net's body; Stem: a value in a module-level dict. Head is only called (by a
    # factory), Lonely only in __all__ and the __main__ block, Net nowhere else.
    assert classes_used_as_parts(SOURCE, classes) == {"Block", "Stem"}
