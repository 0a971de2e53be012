"""pyproject.toml and environment.yml list the same packages (so they cannot drift)."""
import re

try:
    import tomllib
except ImportError:  # Python 3.10: pip vendors the same parser
    from pip._vendor import tomli as tomllib

import yaml

from notebook_tools import ROOT

# conda names that differ from the PyPI names
CONDA_TO_PYPI = {"pytorch": "torch"}


def _name_and_spec(requirement: str):
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement)
    name, spec = match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")
    return CONDA_TO_PYPI.get(name, name), spec


def test_pyproject_and_environment_agree():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pypi = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    pypi = dict(_name_and_spec(r) for r in pypi)

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = dict(
        _name_and_spec(d) for d in env["dependencies"] if isinstance(d, str) and not d.startswith(("python", "pip"))
    )
    # packages that conda-forge lacks come from pip, inside environment.yml too (the project itself aside)
    pip_section = next((d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d), [])
    conda.update(_name_and_spec(r.split("#")[0]) for r in pip_section if not r.startswith("-e"))
    assert pypi == conda


def test_version_and_device():
    import mslearn
    import torch

    assert re.fullmatch(r"\d+\.\d+\.\d+", mslearn.__version__)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert mslearn.device("auto").type == expected
    assert mslearn.device("cpu") == torch.device("cpu")


# import names that differ from the distribution names
IMPORT_TO_PYPI = {"sklearn": "scikit-learn", "yaml": "pyyaml", "skfem": "scikit-fem"}


def _third_party_imports(folder):
    import ast
    import sys

    found = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "mslearn" and top not in sys.stdlib_module_names:
                    found.add(IMPORT_TO_PYPI.get(top, top))
    return found


def test_the_package_declares_what_it_imports_and_imports_what_it_declares():
    """Every third-party import of ``mslearn/`` is a runtime dependency, and every runtime dependency
    is imported somewhere in the package (no dead weight in a reader's install)."""
    runtime = {_name_and_spec(r)[0] for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    imported = _third_party_imports(ROOT / "mslearn")
    optional = {"dask", "papermill"}   # imported lazily by generate(client=) and mslearn.sweep (extra "scale")
    assert imported - runtime - optional == set(), "imported but not declared"
    # ipywidgets: declared for the notebooks' interactive cells (a plain `pip install mslearn` runs the
    # book's notebooks), not imported by the package itself
    assert runtime - imported - {"ipywidgets"} == set(), "declared but never imported"
