"""Checks of the rules in ``rules/signature/`` (PyTorch: ``torch_*``, TensorFlow/Keras: ``tf_*``)."""
