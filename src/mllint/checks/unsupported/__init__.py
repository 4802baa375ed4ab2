"""Checks of the rules in ``rules/unsupported/`` (PyTorch: ``torch_*``, TensorFlow/Keras: ``tf_*``)."""
