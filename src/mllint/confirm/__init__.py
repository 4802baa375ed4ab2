"""``mllint check --confirm``: prove static findings by running the real exports.

The API the CLI uses: ``run_confirm`` (isolated exports, one child process per model) and ``merge``
(confirmation states on static findings, new ML101-ML105 findings for what no rule predicted).
Importing this package imports neither torch nor TensorFlow; only the child processes do.
"""

from mllint.confirm.devices import gpu_available, resolve_device
from mllint.confirm.isolation import DEFAULT_TIMEOUT, model_targets, run_confirm
from mllint.confirm.merge import PROBLEM_CODES, confirm_summary, merge, summarise
from mllint.confirm.results import STATUSES, ExportResult
from mllint.confirm.spec import ExportSpec

__all__ = [
    "DEFAULT_TIMEOUT", "PROBLEM_CODES", "confirm_summary", "STATUSES", "ExportResult", "ExportSpec", "gpu_available", "merge",
    "model_targets", "resolve_device", "run_confirm", "summarise",
]
