"""The package speaks one vocabulary (the "Conventions" section of ``mslearn``'s docstring).

Every public callable of every submodule is enumerated (functions, classes and their public
methods) and its parameters are checked against the conventions, so that a new module that
strays fails here rather than in a reader's notebook.
"""
import importlib
import inspect

import pytest
from sklearn.base import BaseEstimator

import mslearn

SUBMODULES = sorted(mslearn._SUBMODULES)

# Names the conventions replace, with the name to use instead.
FORBIDDEN = {
    "image": "labels or field", "images": "labels or field (estimators: X)", "structure": "labels",
    "mask": "labels", "data": "labels or field", "query": "labels", "grain_ids": "labels",
    "k_field": "field", "C_field": "field", "x": "labels or field",
    "dim": "ndim", "d": "ndim",
    "tolerance": "tol",
    "maxiter": "max_iter", "iterations": "max_iter", "max_epochs": "max_iter", "n_iter": "max_iter",
    "steps": "max_iter", "sweeps": "max_iter",
    "lr": "learning_rate_init (estimators)",
}
# Estimators take scikit-learn's names where the meaning is the same.
ESTIMATOR_FORBIDDEN = {
    "seed": "random_state", "learning_rate": "learning_rate_init", "hidden_layers": "hidden_layer_sizes",
}
# A parameter that looks like a forbidden one but is not what the rule is about, each with why.
ALLOWED = {
    ("mslearn.sensitivity.ishigami", "x"): "points of [-pi, pi]^3 (n, 3), not an image",
    ("mslearn.descriptors.FeatureNetwork.forward", "x"): "torch's Module.forward(input) on a (batch, 1, *spatial) "
                                                          "tensor, called as network(x)",
    ("mslearn.nn.PeriodicConv.forward", "x"): "torch's Module.forward(input) on a (batch, channels, *spatial) "
                                              "tensor, called as layer(x)",
    ("mslearn.homogenization.HomogenizationResult", "iterations"): "the iterations done, a result, not a cap",
    ("mslearn.optimization.TopologyResult", "iterations"): "the iterations done, a result, not a cap",
    ("mslearn.optimization.InverseHomogenizationResult", "iterations"): "the design updates done, a result, "
                                                                        "not a cap",
    ("mslearn.optimization.branin", "x"): "a point of the test function's domain (2,), not an image",
    ("mslearn.optimization.hartmann3", "x"): "a point of the test function's domain (3,), not an image",
    ("mslearn.optimization.zdt1", "x"): "points of the test problem's domain (n,) or (m, n), not an image",
}


def _public_callables():
    seen = {}
    for name in SUBMODULES:
        module = importlib.import_module(f"mslearn.{name}")
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if inspect.ismodule(obj):
                for sub in getattr(obj, "__all__", []):
                    seen.setdefault(f"{obj.__name__}.{sub}", getattr(obj, sub))
            else:
                seen.setdefault(f"mslearn.{name}.{attr}", obj)
    out = []
    for qualname, obj in sorted(seen.items()):
        if inspect.isclass(obj):
            if issubclass(obj, (Warning, Exception)):
                continue
            out.append((qualname, obj, obj.__init__))
            for method_name, method in vars(obj).items():
                if not method_name.startswith("_") and inspect.isfunction(method):
                    out.append((f"{qualname}.{method_name}", obj, method))
        elif callable(obj):
            out.append((qualname, None, obj))
    return out


CALLABLES = _public_callables()


def _parameters(function):
    try:
        return inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}


def test_the_enumeration_sees_the_package():
    names = {name for name, _, _ in CALLABLES}
    assert len(names) > 80
    for expected in ("mslearn.descriptors.two_point_correlation", "mslearn.reconstruction.reconstruct",
                     "mslearn.homogenization.conductivity", "mslearn.surrogates.CNNRegressor.fit"):
        assert expected in names


def test_parameter_names_follow_the_conventions():
    wrong = []
    for name, owner, function in CALLABLES:
        estimator = owner is not None and issubclass(owner, BaseEstimator)
        for parameter in _parameters(function):
            if (name, parameter) in ALLOWED:
                continue
            if parameter in FORBIDDEN:
                wrong.append(f"{name}({parameter}=...): use {FORBIDDEN[parameter]}")
            if estimator and parameter in ESTIMATOR_FORBIDDEN:
                wrong.append(f"{name}({parameter}=...): use {ESTIMATOR_FORBIDDEN[parameter]}")
    assert not wrong, "\n".join(wrong)


def test_device_defaults_to_auto_and_batch_to_false():
    wrong = []
    for name, _, function in CALLABLES:
        parameters = _parameters(function)
        if "device" in parameters and parameters["device"].default != "auto":
            wrong.append(f"{name}: device={parameters['device'].default!r}, expected 'auto'")
        if "batch" in parameters and parameters["batch"].default is not False:
            wrong.append(f"{name}: batch={parameters['batch'].default!r}, expected False (never guessed)")
    assert not wrong, "\n".join(wrong)


def test_metrics_take_the_truth_first():
    """Like scikit-learn's ``metric(y_true, y_pred)``: the target or true values come first."""
    wrong = []
    for name, owner, function in CALLABLES:
        short = name.rsplit(".", 1)[-1]
        if owner is not None or not (short.endswith("_error") or short.endswith("_r2") or short == "quality"):
            continue
        first_two = list(_parameters(function))[:2]
        if first_two not in (["y_true", "y_pred"], ["target", "labels"]):
            wrong.append(f"{name}{tuple(first_two)}: expected (y_true, y_pred) or (target, labels)")
    assert not wrong, "\n".join(wrong)


def test_no_public_function_returns_by_flag():
    """Result types never depend on a flag: no ``return_*`` / ``with_*`` switches (``return_fields`` only
    fills the ``fields`` attribute of the same result dataclass)."""
    wrong = [f"{name}({parameter}=...)" for name, _, function in CALLABLES for parameter in _parameters(function)
             if (parameter.startswith("return_") and parameter != "return_fields") or parameter.startswith("with_")]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("module", SUBMODULES)
def test_every_name_in_all_exists(module):
    mod = importlib.import_module(f"mslearn.{module}")
    missing = [name for name in getattr(mod, "__all__", []) if not hasattr(mod, name)]
    assert not missing


def _notebook_parameters():
    import nbformat
    from notebook_tools import notebook_paths, read_parameters
    out = []
    for path in notebook_paths():
        name = path.relative_to(path.parents[2]).as_posix()
        out.append(pytest.param(name, read_parameters(nbformat.read(path, as_version=4)), id=name))
    return out


@pytest.mark.parametrize("notebook, parameters", _notebook_parameters())
def test_notebook_parameters_speak_the_same_vocabulary(notebook, parameters):
    """A papermill job's parameters are API too: an iteration cap is ``max_iter`` (or ``<part>_max_iter``
    where a notebook has several), never ``epochs``/``steps``/``iterations``/``sweeps``."""
    caps = ("iterations", "epochs", "steps", "sweeps", "maxiter", "n_iter")
    wrong = [name for name in parameters
             if name in FORBIDDEN or any(part in caps for part in name.split("_"))]
    assert not wrong, f"{notebook}: parameters {wrong} (use max_iter / <part>_max_iter, the package's names)"
    assert parameters.get("device") == "auto", f"{notebook}: device = {parameters.get('device')!r}, expected 'auto'"


@pytest.mark.parametrize("notebook, parameters", _notebook_parameters())
def test_papermill_lists_every_parameter_with_its_help(notebook, parameters):
    """``papermill --help-notebook`` is how a job's parameters are discovered. papermill drops a line with
    a second ``=`` (a ``<=`` or ``n = 4`` in the comment, say) from its list with only a logged warning,
    and takes the first comment line as the help: every parameter must be listed, with a help text."""
    import papermill
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    listed = papermill.inspect_notebook(str(root / notebook))
    missing = sorted(set(parameters) - set(listed))
    assert not missing, f"{notebook}: papermill does not list {missing} (a second '=' on the line?)"
    silent = sorted(name for name, entry in listed.items() if not entry["help"] and name not in ("seed", "device"))
    assert not silent, f"{notebook}: parameters {silent} have no help comment"


@pytest.mark.parametrize("module", SUBMODULES)
def test_the_api_reference_has_a_page_listing_every_public_name(module):
    """book/api/<module>.md opens with an autosummary table of exactly the module's ``__all__``, and
    the table of contents links the page, so a new public name cannot miss the rendered reference."""
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    page = root / "book" / "api" / f"{module}.md"
    assert page.exists(), f"no API page {page.relative_to(root)} for mslearn.{module}"
    table = re.search(r"\.\. autosummary::\n\n((?:   \S+\n)+)", page.read_text())
    assert table, f"{page.name} has no autosummary table"
    listed = table.group(1).split()
    expected = list(importlib.import_module(f"mslearn.{module}").__all__)
    assert listed == expected, f"{page.name} lists {listed}; mslearn.{module}.__all__ is {expected}"
    assert f"book/api/{module}" in (root / "_toc.yml").read_text()
