"""mllint: find export hazards in PyTorch and TensorFlow/Keras model code without running it."""

__version__ = "0.1.0"
