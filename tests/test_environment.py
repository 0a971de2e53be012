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
