"""Generated op-support tables (``rules/data/*.json``), read without importing any ML framework.

* ``mllint.optables.torch_tables``: PyTorch ops the ONNX exporters cannot lower
  (``rules/data/torch_ops.json``, from ``scripts/gen_torch_op_tables.py``).
* ``mllint.optables.tf_tables``: TensorFlow ops and TFLite / TF.js (``rules/data/tf_ops.json``).

Import the submodule you need.
"""
