"""A small project of real models for the --confirm tests that run through the ``mllint`` command.

``Clean`` exports everywhere; ``Branchy`` branches on tensor data (PT101 at line 12, failing torch.export);
``Unpredicted`` cannot even run eagerly (ML105). Each factory seeds torch, so messages with figures agree
between runs.
"""

from __future__ import annotations

import textwrap

MODELS = textwrap.dedent("""\
    import torch
    from torch import nn


    class Clean(nn.Module):
        def forward(self, x):
            return torch.relu(x) * 2


    class Branchy(nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x * 2
            return x - 1


    class Unpredicted(nn.Module):
        def forward(self, x):
            return torch.ops.aten.nonexistent_op_for_the_test(x)


    def clean():
        torch.manual_seed(0)  # the same inputs in every run, so that messages with figures agree
        return Clean().eval(), (torch.randn(2, 3),)


    def branchy():
        torch.manual_seed(0)  # the same inputs in every run, so that messages with figures agree
        return Branchy().eval(), (torch.randn(2, 3),)


    def unpredicted():
        torch.manual_seed(0)  # the same inputs in every run, so that messages with figures agree
        return Unpredicted().eval(), (torch.randn(2, 3),)
    """)
