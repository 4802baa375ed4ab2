"""Compare an exported artifact's outputs with eager ones, and derive the second inputs to compare on.

Silent hazards (a baked branch, a baked shape) only show on inputs other than the example: the research
found them with inputs that flip branches and change the batch size. So each model gets probes unless its
factory supplies its own: the example with other values (negated floats, rotated integers) and the example
with other batch sizes (fresh values; leading dimension + 1, and halved).
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

DEFAULT_TOLERANCE = 1e-4


def to_numpy(value: Any) -> Any:
    """A NumPy array for tensors of any framework; other values unchanged."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor
        return value.detach().cpu().numpy()
    if hasattr(value, "numpy") and callable(value.numpy):  # tf.Tensor, EagerTensor
        return value.numpy()
    if isinstance(value, (int, float, bool, np.generic)):
        return np.asarray(value)
    return value


def leaves(value: Any, sort_dicts: bool = False) -> List[Any]:
    """Flatten nested tuples, lists, dicts and namedtuples into their leaves, in order."""
    if isinstance(value, dict):
        keys = sorted(value, key=str) if sort_dicts else list(value)
        return [leaf for k in keys for leaf in leaves(value[k], sort_dicts)]
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in leaves(item, sort_dicts)]
    if value is None:
        return []
    return [value]


def array_leaves(value: Any, sort_dicts: bool = False) -> List[np.ndarray]:
    out = []
    for leaf in leaves(value, sort_dicts):
        arr = to_numpy(leaf)
        if isinstance(arr, np.ndarray):
            out.append(arr)
    return out


def describe_difference(expected: Sequence[np.ndarray], got: Sequence[np.ndarray], tolerance: float) -> Optional[str]:
    """None when ``got`` matches ``expected`` within ``tolerance`` (absolute and relative), else why not."""
    if len(expected) != len(got):
        return f"{len(got)} outputs instead of {len(expected)}"
    for i, (want, have) in enumerate(zip(expected, got)):
        want, have = np.asarray(want), np.asarray(have)
        if want.shape != have.shape:
            return f"output {i} has shape {tuple(have.shape)} instead of {tuple(want.shape)}"
        if want.dtype.kind in "fc" or have.dtype.kind in "fc":
            a, b = have.astype(np.float64), want.astype(np.float64)
            if not np.allclose(a, b, rtol=tolerance, atol=tolerance, equal_nan=True):
                diff = np.abs(a - b)
                worst = float(np.nanmax(diff)) if np.isfinite(diff).any() else float("nan")
                return f"output {i} differs by up to {worst:.4g} (tolerance {tolerance:g})"
        elif not np.array_equal(want, have):
            return f"output {i} differs ({int(np.sum(want != have))} of {want.size} values)"
    return None


def map_arrays(value: Any, fn: Callable[[np.ndarray], np.ndarray], is_array: Callable[[Any], bool]) -> Any:
    """Rebuild ``value`` with ``fn`` applied to every array-like leaf."""
    if isinstance(value, dict):
        return {k: map_arrays(v, fn, is_array) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(map_arrays(v, fn, is_array) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(map_arrays(v, fn, is_array) for v in value)
    return fn(value) if is_array(value) else value


def other_values(arr: np.ndarray) -> np.ndarray:
    """Same shape and dtype, other values: flips sign-based branches, keeps integer ids valid."""
    if arr.dtype.kind == "f" or arr.dtype.kind == "c":
        out = -arr
        if not np.any(arr):
            out = arr + 1
        return out.astype(arr.dtype)
    if arr.dtype.kind in "iu" and arr.ndim >= 1 and arr.size > 1:
        return np.roll(arr, 1, axis=-1)
    return arr.copy()


def common_batch(arrays: Sequence[np.ndarray]) -> Optional[Tuple[int, int]]:
    """The batch size (leading dimension of the first input) and the fewest dimensions a batched input has:
    next to a batched matrix, a 1-D vector of the same length is more likely a parameter than a batch."""
    first = next((a for a in arrays if a.ndim >= 1), None)
    if first is None:
        return None
    return first.shape[0], 2 if first.ndim >= 2 else 1


def other_batch(arr: np.ndarray, batch: Tuple[int, int], rng: np.random.Generator, new_size: int) -> np.ndarray:
    """``arr`` with ``new_size`` rows of fresh values drawn like the example's."""
    size, min_ndim = batch
    if arr.ndim < min_ndim or arr.shape[0] != size:
        return arr
    shape = (new_size,) + arr.shape[1:]
    if arr.dtype.kind in "fc":
        mean = float(np.mean(arr)) if arr.size else 0.0
        std = float(np.std(arr)) if arr.size > 1 else 1.0
        return (rng.standard_normal(shape) * (std or 1.0) + mean).astype(arr.dtype)
    if arr.dtype.kind in "iub" and arr.size:
        return rng.choice(np.unique(arr), size=shape).astype(arr.dtype)
    return np.resize(arr, shape)


def derive_probes(args: Tuple[Any, ...], kwargs: dict, is_array: Callable[[Any], bool],
                  to_array: Callable[[Any], np.ndarray], from_array: Callable[[np.ndarray, Any], Any],
                  seed: int = 1234) -> List[Tuple[str, Tuple[Any, ...], dict]]:
    """Probes rebuilt in the caller's tensor type: "other-values" (same shapes), "other-batch" (batch + 1) and,
    from a batch of 2 up, "smaller-batch" (half): a branch on the batch size or a dimension an exporter
    narrowed shows on one side only."""
    rng = np.random.default_rng(seed)

    def apply(fn: Callable[[np.ndarray], np.ndarray]) -> Tuple[Tuple[Any, ...], dict]:
        conv = lambda leaf: from_array(fn(to_array(leaf)), leaf)  # noqa: E731
        return map_arrays(tuple(args), conv, is_array), map_arrays(dict(kwargs), conv, is_array)

    probes = []
    a, k = apply(other_values)
    probes.append(("other-values", a, k))
    arrays = [to_array(x) for x in leaves((args, kwargs)) if is_array(x)]
    batch = common_batch(arrays)
    if batch is not None:
        a, k = apply(lambda arr: other_batch(arr, batch, rng, batch[0] + 1))
        probes.append(("other-batch", a, k))
        if batch[0] >= 2:
            a, k = apply(lambda arr: other_batch(arr, batch, rng, max(1, batch[0] // 2)))
            probes.append(("smaller-batch", a, k))
    return probes
