"""Behaviour of the TensorFlow / Keras rules beyond their catalogue examples: which code is traced
and converted, the Keras flavour, value kinds, guards, call sites, and look-alikes that are fine."""

from __future__ import annotations

from functools import partial
import textwrap
from typing import List, Tuple

from mllint import testing

# Rule tests judge every target (the CLI's default, ``auto``, judges the project's own).
lint_files = partial(testing.lint_files, targets=["all"])
lint_source = partial(testing.lint_source, targets=["all"])


def found(code: str, select: str = "TF", **kwargs) -> List[Tuple[int, str]]:  # type: ignore[no-untyped-def]
    findings = lint_source(textwrap.dedent(code), select=[select], **kwargs)
    return sorted((f.line, f.code) for f in findings if f.suppressed is None)


# -- traced scope and AutoGraph ------------------------------------------------------------------
TENSOR_IF_CALL = """\
    import tensorflow as tf
    from {keras} import layers

    class Gate(layers.Layer):
        def call(self, x):
            if tf.reduce_sum(x) > 0:
                return x * 2.0
            return x
    """


def test_keras3_call_is_not_converted_but_tf_keras_call_is() -> None:
    assert found(TENSOR_IF_CALL.format(keras="keras"), "TF109") == [(6, "TF109")]
    assert found(TENSOR_IF_CALL.format(keras="tensorflow.keras"), "TF109") == [(6, "TF109")]
    assert found(TENSOR_IF_CALL.format(keras="tf_keras"), "TF109") == []


def test_tf_function_decides_autograph_for_itself() -> None:
    code = """\
        import keras
        import tensorflow as tf

        class Decorated(keras.layers.Layer):
            @tf.function
            def call(self, x):
                if tf.reduce_sum(x) > 0:
                    return x
                return -x

        @tf.function(autograph=False, input_signature=[tf.TensorSpec([None], tf.float32)])
        def unconverted(x):
            if tf.reduce_sum(x) > 0:
                return x
            return -x

        @tf.function(reduce_retracing=True)
        def converted(x):
            while tf.reduce_max(x) > 1.0:
                x = x / 2.0
            return x
        """
    assert found(code, "TF109") == [(13, "TF109")]


def test_keras3_layer_called_from_a_tf_function_is_still_not_converted() -> None:
    code = """\
        import keras
        import tensorflow as tf

        class Inner(keras.layers.Layer):
            def call(self, x):
                for row in x:
                    x = x + row
                return x

        class Outer(tf.Module):
            def __init__(self):
                self.inner = Inner()

            @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
            def __call__(self, x):
                for row in x:
                    x = x + row
                return self.inner(x)
        """
    assert found(code, "TF109") == [(6, "TF109")]


def test_tf_function_call_form_is_an_entry_point() -> None:
    code = """\
        import tensorflow as tf

        def scale(x):
            if tf.reduce_sum(x) > 0:
                return x * 2.0
            return x * x.numpy()

        serve = tf.function(scale, input_signature=[tf.TensorSpec([None], tf.float32)])
        """
    assert found(code) == [(6, "TF101")]


def test_helper_in_another_file_is_reported_at_its_line_naming_the_entry() -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/util.py": "import tensorflow as tf\n\ndef gate(t):\n    if tf.reduce_mean(t) > 0:\n        return t\n    return -t\n",
        "pkg/model.py": textwrap.dedent("""\
            import keras
            from pkg.util import gate

            @keras.saving.register_keras_serializable()
            class Net(keras.Model):
                def call(self, x):
                    return gate(x * 2.0)
            """),
    }
    findings = lint_files(files, select=["TF109"])
    assert [(f.path, f.line, f.code) for f in findings] == [("pkg/util.py", 4, "TF109")]
    assert "reached from `Net.call`" in findings[0].message
    assert findings[0].targets == ("savedmodel", "tflite", "tfjs")


def test_training_steps_and_construction_are_not_exported_code() -> None:
    code = """\
        import keras
        import numpy as np
        import tensorflow as tf

        @keras.saving.register_keras_serializable()
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                print("building")
                self.noise = np.random.normal(size=3)
                self.dense = keras.layers.Dense(3)

            def call(self, x):
                return self.dense(x)

            def train_step(self, data):
                x, y = data
                loss = keras.ops.mean(self(x) - y)
                print("loss", float(loss), loss.numpy())
                return {"loss": loss}

        @tf.function
        def train_step(model, x):
            if tf.reduce_sum(x) > 0:
                print("step", x.numpy())
            return model(x)
        """
    assert found(code) == []


def test_python_lists_of_tensors_are_not_tensors() -> None:
    code = """\
        import keras

        @keras.saving.register_keras_serializable()
        class Merge(keras.layers.Layer):
            def call(self, inputs, mask=None):
                if len(inputs) < 2:
                    return inputs[0]
                out = inputs[0]
                for x in inputs[1:]:
                    out = out + x
                return out

        @keras.saving.register_keras_serializable()
        class Unwrap(keras.layers.Layer):
            def call(self, x):
                if isinstance(x, tuple) and len(x) == 1:
                    x = x[0]
                return x

        @keras.saving.register_keras_serializable()
        class Pyramid(keras.layers.Layer):
            def call(self, inputs):
                levels = [int(level[1]) for level in inputs]
                level = "P" + str(max(levels))
                return inputs[level]

        @keras.saving.register_keras_serializable()
        class Boxes(keras.layers.Layer):
            def call(self, data):
                boxes = data["boxes"]
                if isinstance(boxes, (list, tuple)):
                    if boxes and len(boxes[0]) > 0:
                        return [b for b in boxes if len(b)]
                return boxes
        """
    assert found(code) == []


def test_convert_to_numpy_is_reported_where_it_happens() -> None:
    code = """\
        import keras

        @keras.saving.register_keras_serializable()
        class Pad(keras.layers.Layer):
            def call(self, x):
                short = keras.ops.convert_to_numpy(keras.ops.sum(x) < 3)
                if short:
                    return x
                return int(short) * x
        """
    assert found(code) == [(6, "TF101")]


def test_int_and_len_are_converted_by_autograph_but_bool_is_not() -> None:
    code = """\
        import tensorflow as tf

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def f(x):
            n = int(tf.shape(x)[0]) + len(x)
            m = float(tf.reduce_sum(x))
            flag = bool(tf.reduce_any(x > 0))
            return x * tf.cast(n, tf.float32) * m
        """
    assert found(code, "TF102") == [(7, "TF102")]


# -- sizes ---------------------------------------------------------------------------------------------
def test_static_sizes_only_of_dynamic_dimensions() -> None:
    code = """\
        import keras
        import tensorflow as tf

        @keras.saving.register_keras_serializable()
        class Sizes(keras.layers.Layer):
            def build(self, input_shape):
                self.kernel = self.add_weight(shape=(input_shape[-1], 4))

            def call(self, x):
                width = x.shape[-1] * 2
                rows = self.kernel.shape[0] + 1
                batch = keras.ops.shape(x)[0]
                y = keras.ops.reshape(x, (batch, -1))
                z = keras.ops.zeros((x.shape[0], width))
                if x.shape[0] is not None and x.shape[0] > 1:
                    y = y[:1]
                n = x.shape[0]
                if n is None:
                    n = tf.shape(x)[0]
                spec = tf.TensorSpec([x.shape[0], rows])
                return y, z, tf.zeros([n, rows])
        """
    assert found(code, "TF301") == [(14, "TF301")]


def test_signature_says_which_dimensions_are_dynamic() -> None:
    code = """\
        import tensorflow as tf

        SPEC = [tf.TensorSpec([None, None, 3], tf.float32)]

        class M(tf.Module):
            @tf.function(input_signature=SPEC)
            def __call__(self, x):
                steps = x.shape[1] * 2
                channels = x.shape[2] * 2
                return tf.zeros([channels]), steps

            @tf.function(input_signature=[tf.TensorSpec([4, 3], tf.float32)])
            def fixed(self, x):
                return tf.reshape(x, [x.shape[0] * 3])

            @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
            def whole(self, x):
                return tf.random.normal(x.shape) + tf.zeros(x.shape[1:])
        """
    assert found(code, "TF301") == [(8, "TF301"), (18, "TF301")]


# -- Python state ----------------------------------------------------------------------------------
def test_python_state_rules_need_state_that_changes() -> None:
    code = """\
        import keras
        import tensorflow as tf

        @keras.saving.register_keras_serializable()
        class Attn(keras.layers.Layer):
            def __init__(self, heads: int = 2, **kwargs):
                super().__init__(**kwargs)
                self.heads = heads
                self.cache = {}
                self.steps = 0

            def call(self, x, return_scores=False):
                self._return_scores = return_scores
                if self._return_scores:
                    x = x * 2.0
                if self.heads > 1 and "k" in self.cache:
                    x = x + 1.0
                self.steps = self.steps + 1
                return x

            def reset(self):
                self.heads = 1
        """
    # self.heads is changed by reset(); self.steps is a counter; _return_scores is set from the
    # call's own argument on every trace; the cache is only tested for membership.
    assert found(code) == [(16, "TF108"), (18, "TF107")]


def test_module_level_containers_only() -> None:
    code = """\
        import tensorflow as tf

        HISTORY = []
        LIMIT = 3

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def f(x):
            local = []
            local.append(x)
            HISTORY.append(x)
            return tf.stack(local) * LIMIT
        """
    assert found(code) == [(10, "TF106")]


def test_randomness_and_clocks() -> None:
    code = """\
        import random
        import time
        from datetime import datetime

        import keras
        import tensorflow as tf

        @keras.saving.register_keras_serializable()
        class Jitter(keras.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.scale = random.random()
                self.seed = keras.random.SeedGenerator(1)

            def call(self, x):
                stamp = time.time() + datetime.now().second
                good = keras.random.uniform(keras.ops.shape(x), seed=self.seed) + tf.random.uniform([1])
                return x * random.random() + stamp + good
        """
    findings = lint_source(textwrap.dedent(code), select=["TF105"])
    assert sorted((f.line, f.col) for f in findings) == [(16, 16), (16, 30), (18, 19)]


# -- state ---------------------------------------------------------------------------------------------
def test_layers_in_call_with_and_without_weights() -> None:
    code = """\
        import keras

        @keras.saving.register_keras_serializable()
        class Block(keras.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.dense = keras.layers.Dense(2)

            def call(self, x):
                return self.dense(x)

        @keras.saving.register_keras_serializable()
        class Net(keras.Model):
            def call(self, x):
                x = keras.layers.Activation("relu")(keras.layers.Reshape((-1,))(x))
                x = keras.layers.Dropout(0.2)(x)
                return Block()(x)
        """
    assert found(code, "TF202") == [(16, "TF202"), (17, "TF202")]


# -- call sites ------------------------------------------------------------------------------------------
SUBCLASS = """\
    import keras
    import numpy as np

    @keras.saving.register_keras_serializable()
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    @keras.saving.register_keras_serializable()
    class Functional(keras.Model):
        def __init__(self):
            inputs = keras.Input((3,))
            super().__init__(inputs, keras.layers.Dense(2)(inputs))

    def train(model):
        model.fit(np.zeros((4, 3)), np.zeros((4, 2)))
    """


def test_export_before_first_call_needs_an_untouched_subclassed_model() -> None:
    code = textwrap.dedent(SUBCLASS) + textwrap.dedent("""\

        def a(path):
            model = Net()
            model.compile(optimizer="adam", loss="mse")
            model.export(path)

        def b(path):
            model = Net()
            model(np.zeros((1, 3)))
            model.export(path)

        def c(path):
            model = Net()
            train(model)
            model.export(path)

        def d(path):
            model = Functional()
            model.export(path)

        def e(path):
            model = Net()
            model.save(path + ".keras")
        """)
    assert found(code, "TF404") == [(25, "TF404")]


def test_saved_tf_module_signatures() -> None:
    code = """\
        import tensorflow as tf

        SPEC = [tf.TensorSpec([None], tf.float32)]

        class One(tf.Module):
            @tf.function(input_signature=SPEC)
            def __call__(self, x):
                return x

            def _helper(self, x):
                return x

            def describe(self):
                return "one"

        class Loose(tf.Module):
            @tf.function
            def __call__(self, x):
                return x

        def export(path):
            tf.saved_model.save(One(), path)
            loose = Loose()
            tf.saved_model.save(loose, path, signatures=loose.__call__.get_concrete_function(SPEC[0]))
            traced = Loose()
            traced.__call__.get_concrete_function(SPEC[0])
            tf.saved_model.save(traced, path)
            tf.saved_model.save(Loose(), path)
        """
    assert found(code, "TF4") == [(28, "TF401")]


def test_keras3_tflite_path_needs_a_conversion_in_the_file() -> None:
    base = """\
        import keras
        import tensorflow as tf

        class Holder(tf.Module):
            def __init__(self, model):
                self.model = keras.Sequential([keras.layers.Dense(2)])

        def save(path):
            inputs = keras.Input((3,))
            model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
            tf.saved_model.save(model, path)
            tf.saved_model.save(Holder(model), path)
        """
    assert found(base, "TF206") == []
    converting = base + "    return tf.lite.TFLiteConverter.from_saved_model(path).convert()\n"
    assert found(converting, "TF206") == [(11, "TF206"), (12, "TF206")]


def test_litert_export_with_a_target_spec_is_fine() -> None:
    code = """\
        import keras
        import tensorflow as tf

        def export(model, path):
            model.export(path, format="litert", target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]})
            model.export(path, format="tf_saved_model")
        """
    assert found(code, "TF207") == []


# -- serialization ---------------------------------------------------------------------------------------
def test_serialization_rules_negatives() -> None:
    code = """\
        from typing import List, Optional

        import keras

        class Base(keras.layers.Layer):
            pass

        class Scale(Base):
            def __init__(self, factors: Optional[List[float]] = None, name: str = "s", **kwargs):
                super().__init__(name=name, **kwargs)
                self.factors = factors

            def call(self, x):
                return x

        keras.saving.register_keras_serializable(package="p")(Scale)

        @keras.saving.register_keras_serializable(package="p")
        class WithConfig(keras.layers.Layer):
            def __init__(self, units, activation: keras.layers.Layer = None, **kwargs):
                super().__init__(**kwargs)
                self.units = units

            def get_config(self):
                return {**super().get_config(), "units": self.units, "activation": None, "name": self.name}

        @keras.saving.register_keras_serializable(package="p")
        class Opaque(keras.layers.Layer):
            def __init__(self, units, **kwargs):
                super().__init__(**kwargs)
                self.units = units

            def get_config(self):
                config = super().get_config()
                config.update(self.extra_config())
                return config
        """
    assert found(code, "TF4") == []


def test_get_config_missing_a_required_parameter() -> None:
    code = """\
        import keras

        @keras.saving.register_keras_serializable(package="p")
        class Head(keras.layers.Layer):
            def __init__(self, units, rate: float = 0.1, **kwargs):
                super().__init__(**kwargs)
                self.units = units

            def get_config(self):
                config = super().get_config()
                config["rate"] = 0.1
                return config

        def build_model():  # the layer is saved with its own config
            inputs = keras.Input((3,))
            return keras.Model(inputs, Head(2)(inputs))
        """
    result = lint_source(textwrap.dedent(code), select=["TF407"])
    assert [(f.line, f.code) for f in result] == [(9, "TF407")]
    assert "`units`" in result[0].message


def test_tf_keras_classes_are_not_checked_for_keras3_registration() -> None:
    code = """\
        import tf_keras as keras

        class Legacy(keras.layers.Layer):
            def __init__(self, inner: keras.layers.Layer, **kwargs):
                super().__init__(**kwargs)
                self.inner = inner

            def call(self, x):
                return self.inner(x)
        """
    assert found(code, "TF4") == []


# -- targets -----------------------------------------------------------------------------------------------
def test_targets_decide_what_is_reported() -> None:
    code = """\
        import keras
        import tensorflow as tf

        class Gate(keras.Model):  # not registered: keras-file only
            def call(self, x):
                tf.debugging.assert_positive(x)
                if tf.reduce_sum(x) > 0:
                    return x
                return -x
        """
    assert found(code, targets=["keras-file"]) == [(4, "TF405")]
    assert found(code, targets=["savedmodel"]) == [(7, "TF109")]
    assert found(code, targets=["tflite"]) == [(6, "TF205"), (7, "TF109")]
    assert found(code, targets=["torch-export"]) == []


def test_losses_and_metrics_are_not_exported_model_code() -> None:
    code = """\
        import tensorflow as tf
        import keras

        class Loss(tf.keras.losses.Loss):
            def call(self, y_true, y_pred):
                tf.print(y_pred)
                return tf.math.erf(y_pred) - y_true

        class Layer(keras.Model):
            def call(self, x):
                return tf.math.erf(x)
        """
    # only the model's call is exported; a Loss runs in training, never in the SavedModel / TFLite artifact
    assert found(code) == [(9, "TF405"), (11, "TF208")]
