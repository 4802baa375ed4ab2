"""Checks of the rules in ``rules/dynamic-shape/`` (PyTorch: ``torch_*``, TensorFlow/Keras: ``tf_*``)."""
