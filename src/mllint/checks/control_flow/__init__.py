"""Checks of the rules in ``rules/control-flow/`` (PyTorch: ``torch_*``, TensorFlow/Keras: ``tf_*``)."""
