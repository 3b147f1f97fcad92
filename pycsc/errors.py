"""Every exception pycsc raises on purpose.

A :class:`PycscError` is a user-facing problem: the command line prints it as one line
(no traceback unless ``--debug``) and exits non-zero. Messages name the file, array or
parameter, say what was expected and what was found, and how to fix it.
"""


class PycscError(Exception):
    """Base class of all deliberate pycsc errors."""


class InputError(PycscError, ValueError):
    """A parameter or array has an invalid value (shape, range, NaN, mismatch)."""


class InputTypeError(PycscError, TypeError):
    """A parameter or array has an unsupported type or dtype."""


class ConfigError(PycscError, ValueError):
    """A TOML config or command-line override is invalid (unknown key, wrong type)."""


class DataError(PycscError):
    """A file or store is missing, unreadable, or laid out differently than expected."""


class SubmissionError(DataError):
    """A submission is malformed or hostile (bad zip, path traversal, zip bomb, bad layout)."""


class BackendUnavailableError(PycscError, RuntimeError):
    """The requested compute backend (GPU, native extension) is not usable here."""


class EvaluationError(PycscError):
    """Base class of the scoring errors that the official evaluator also raises."""


class TooManyInstancesError(EvaluationError):
    """The prediction has too many instances for the truth (the official ratio gate)."""

    def __init__(self, n_pred: int, n_truth: int, ratio: float, cutoff: float):
        self.n_pred, self.n_truth, self.ratio, self.cutoff = n_pred, n_truth, ratio, cutoff
        super().__init__(
            f"too many predicted instances: {n_pred} predicted for {n_truth} true "
            f"(ratio {ratio:.3f} > cutoff {cutoff:.3f})"
        )


class TooManyOverlapEdgesError(EvaluationError):
    """More distinct (truth, prediction) overlapping pairs than the configured cap."""

    def __init__(self, n_edges: int, max_edges: int):
        self.n_edges, self.max_edges = n_edges, max_edges
        super().__init__(f"too many overlap edges: {n_edges} > max_overlap_edges {max_edges}")


class MatchingFailedError(EvaluationError):
    """The optimal matching could not be solved."""

    def __init__(self, status: str):
        self.status = status
        super().__init__(f"instance matching failed: {status}")


class FetchError(DataError):
    """Downloading from the remote store failed (access denied, missing key, retries exhausted)."""
