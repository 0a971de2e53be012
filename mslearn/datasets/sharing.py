r"""Share a dataset: a self-describing folder with a Frictionless Data Package card, and read it back.

:func:`export_dataset` writes a :class:`~mslearn.datasets.store.Dataset` to a folder that anyone can
read without mslearn, and :func:`load_shared` reads it back into a ``Dataset`` after checking it::

    <folder>/datapackage.json   the machine-readable card (Frictionless Data Package v2)
    <folder>/parameters.csv     one row per sample: sampled parameters, measured descriptors, seed
    <folder>/targets.csv        one row per sample: scalar targets
    <folder>/arrays.h5          images and tensors (chunked, gzip-compressed, Fletcher-32 checked),
                                variable-length data (/ragged/<name>/values, offsets)
    <folder>/README.md          the human-readable card

Why a Frictionless Data Package
-------------------------------
The card has to be read by machines (catalogues, repositories such as Zenodo, validators, other
people's loaders), not only by people. The Frictionless Data Package (Open Knowledge Foundation;
v2, 2024) is a small, plain-JSON community standard: a list of *resources* (files) each with its
path, format, media type, size and hash, a *Table Schema* for tabular ones (field names, types,
units, constraints), licences, contributors and sources. Its validator (``frictionless validate
datapackage.json``) checks the descriptor, the hashes and every cell of the tables against their
schema, and readers exist for Python, R, Julia and JavaScript. (Croissant, MLCommons' JSON-LD format
for ML datasets, says much the same in schema.org vocabulary; it is better suited to hubs that already
speak JSON-LD, while a Data Package is plain JSON that a reader can check by hand.)

The scalar tables are CSV, the most widely readable format (exact: floats are written in the
shortest form that reads back to the same float, and the tables' schema records each column's dtype,
so that a float32 or an int16 column is read back as one); the arrays stay in one chunked, compressed
HDF5 file as in :mod:`mslearn.datasets.store` (one file is easy to hash, cite and copy; a Zarr store is a
directory of many chunk files, each of which would need its own hash). Every file's SHA-256 and size
are in the card, and :func:`load_shared` refuses a folder whose files do not match them.

Provenance
----------
The card's ``mslearn`` block keeps what is needed to regenerate the data: the store's configuration
(parameter space, sampler, design method, seed), its metadata (phase properties, solver settings),
the package versions that generated it, the creation and export times; ``parameters.csv`` has each
sample's own seed (``SeedSequence(seed, spawn_key=(i,))``, see :mod:`mslearn.datasets.store`).

References: Frictionless Data Package v2, https://datapackage.org (2024); Table Schema,
https://datapackage.org/standard/table-schema/.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath

import h5py
import numpy as np
import pandas as pd

from .._validation import check_flag
from .._versions import environment_versions
from .store import Dataset, _json_default

__all__ = ["export_dataset", "load_shared", "validate_shared", "REQUIRED_FIELDS"]

PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
RESOURCE_PROFILE = "https://datapackage.org/profiles/2.0/dataresource.json"
TABLE_SCHEMA = "https://datapackage.org/profiles/2.0/tableschema.json"
SHARING_VERSION = 1

#: Fields :func:`validate_shared` requires: of the package, of each resource, of each contributor.
REQUIRED_FIELDS = {
    "package": ("name", "title", "created", "licenses", "contributors", "resources", "mslearn"),
    "resource": ("name", "path", "format", "mediatype", "bytes", "hash"),
    "contributor": ("title",),
    "mslearn": ("sharing_version", "config", "metadata", "versions", "n_samples", "exported"),
}

_LICENCES = {  # SPDX identifier -> URL, for the common open data and code licences
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "ODbL-1.0": "https://opendatacommons.org/licenses/odbl/1-0/",
    "PDDL-1.0": "https://opendatacommons.org/licenses/pddl/1-0/",
    "MIT": "https://opensource.org/licenses/MIT",
}
_FILES = {"parameters": "parameters.csv", "targets": "targets.csv", "arrays": "arrays.h5", "card": "README.md"}


# ----------------------------------------------------------------------------- helpers
def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _slug(text):
    slug = re.sub(r"[^a-z0-9._-]+", "-", str(text).lower()).strip("-._")
    return slug or "dataset"


def _json_text(value, what):
    try:
        return json.dumps(value, indent=2, sort_keys=False, default=_json_default, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be JSON-serializable (finite numbers): {error}") from error


def _is_json(value):
    try:
        json.dumps(value, default=_json_default, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _check_licence(licence):
    if isinstance(licence, str) and licence.strip():
        entry = {"name": licence.strip()}
        if licence.strip() in _LICENCES:
            entry["path"] = _LICENCES[licence.strip()]
        return [entry]
    if isinstance(licence, dict) and (licence.get("name") or licence.get("path")):
        return [dict(licence)]
    raise ValueError(f"licence = {licence!r}; expected an SPDX identifier such as 'CC-BY-4.0' or a dict with "
                     "'name' and/or 'path' (a URL)")


def _check_creators(creators):
    if isinstance(creators, (str, dict)):
        creators = [creators]
    if not isinstance(creators, (list, tuple)) or not creators:
        raise ValueError(f"creators = {creators!r}; expected a non-empty list of names or of dicts with 'title' "
                         "(and optionally 'email', 'path', 'organization', 'roles')")
    out = []
    for creator in creators:
        if isinstance(creator, str) and creator.strip():
            out.append({"title": creator.strip(), "roles": ["creator"]})
        elif isinstance(creator, dict) and isinstance(creator.get("title"), str) and creator["title"].strip():
            out.append({"roles": ["creator"], **creator})
        else:
            raise ValueError(f"creator {creator!r} is invalid; expected a non-empty name or a dict with 'title'")
    return out


def _field_type(values):
    kind = np.asarray(values).dtype.kind
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "integer"
    if kind == "f":
        return "number"
    raise ValueError(f"a column of dtype {np.asarray(values).dtype} cannot be shared; expected numbers")


def _field(name, values, role, units, descriptions, constraints=None):
    field = {"name": name, "type": _field_type(values), "role": role, "dtype": np.asarray(values).dtype.str}
    if name in units:
        field["unit"] = units[name]
    if name in descriptions:
        field["description"] = descriptions[name]
    if constraints:
        field["constraints"] = constraints
    return field


def _write_csv(frame, path):
    # pandas writes float64 with repr(), the shortest text that reads back to the same float
    frame.to_csv(path, index=False, lineterminator="\n")


def _field_dtype(field, path):
    """The dtype a table's field was exported with (float32, int16, ...); an export from before the dtype was
    recorded gets its type's (int64, float64, bool), as it was read then."""
    dtype = field.get("dtype", {"integer": "int64", "number": "float64", "boolean": "bool"}[field["type"]])
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        kind = None
    if kind is None or kind not in {"integer": "iu", "number": "f", "boolean": "b"}[field["type"]]:
        raise ValueError(f"the card gives the field {field['name']!r} of {path.name} the type {field['type']!r} and "
                         f"the dtype {dtype!r}; expected a numpy dtype of that type")
    return np.dtype(dtype)


def _read_csv(path, fields):
    # pandas < 3 parses floats exactly only with float_precision="round_trip"; pandas >= 3 always does
    # (and deprecates the argument)
    exact = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""],
                        dtype={f["name"]: _field_dtype(f, path) for f in fields}, **exact)
    names = [f["name"] for f in fields]
    if list(frame.columns) != names:
        raise ValueError(f"{path} has the columns {list(frame.columns)}; its schema in the card lists {names}")
    return frame


# ----------------------------------------------------------------------------- export
def export_dataset(dataset, path, *, licence, creators, description=None, title=None, keywords=None,
                   sources=None, units=None, field_descriptions=None, overwrite=False) -> Path:
    """Write ``dataset`` to the folder ``path`` with a Frictionless Data Package card.

    Parameters
    ----------
    dataset : Dataset
        From :func:`mslearn.datasets.load`, :func:`~mslearn.datasets.generate` or a ready-made dataset.
    path : str or Path
        A folder (created; it must be empty or absent unless ``overwrite``).
    licence : str or dict
        The data's licence: an SPDX identifier (``"CC-BY-4.0"``, ``"CC0-1.0"``, ``"ODbL-1.0"``, ...;
        the common ones get their URL) or a dict with ``name`` and/or ``path``.
    creators : str, dict or list
        Who made the data: names, or dicts with ``title`` and optionally ``email``, ``path`` (an ORCID
        URL), ``organization``, ``roles``.
    description : str, optional
        What the data are; default the dataset's own ``metadata["description"]``.
    title : str, optional
        Default the dataset's ``metadata["title"]``, else the name of its store (or of ``path``); the
        package ``name`` is a slug of it.
    keywords : list of str, optional
    sources : list of dict, optional
        Where the data come from, each with ``title`` and optionally ``path``; mslearn and the
        dataset's sampler are always listed.
    units : dict, optional
        ``{column or array name: unit}``, e.g. ``{"k_xx": "W/(m K)"}`` (dimensionless columns need none).
    field_descriptions : dict, optional
        ``{column or array name: description}``.
    overwrite : bool
        Replace the files of an earlier export in ``path`` (a folder with a ``datapackage.json``; a
        folder that holds other files only is refused, so that none of them is lost). The files are written
        beside ``path`` first and moved in at the end: an export that fails leaves ``path`` as it was.

    Returns
    -------
    Path
        The card, ``path / "datapackage.json"``.

    Examples
    --------
    >>> from mslearn.datasets.sharing import export_dataset, load_shared   # doctest: +SKIP
    >>> card = export_dataset(ds, "shared/composites", licence="CC-BY-4.0", creators=["A. Author"])  # doctest: +SKIP
    >>> load_shared(card.parent).targets.equals(ds.targets)   # doctest: +SKIP
    True
    """
    if not isinstance(dataset, Dataset):
        raise ValueError(f"dataset is a {type(dataset).__name__}; expected an mslearn.datasets.Dataset")
    licences = _check_licence(licence)
    contributors = _check_creators(creators)
    units = dict(units or {})
    descriptions = dict(field_descriptions or {})
    for name, mapping in (("units", units), ("field_descriptions", descriptions)):
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
            raise ValueError(f"{name} must map column or array names to strings")
    if keywords is not None and (not isinstance(keywords, (list, tuple))
                                 or not all(isinstance(k, str) for k in keywords)):
        raise ValueError(f"keywords = {keywords!r}; expected a list of strings")
    if sources is not None and (not isinstance(sources, (list, tuple))
                                or not all(isinstance(s, dict) and s.get("title") for s in sources)):
        raise ValueError(f"sources = {sources!r}; expected a list of dicts, each with a 'title'")
    meta = dataset.metadata
    if "config" in meta:                       # a store's Dataset: the metadata it was generated with
        user_metadata = dict(meta["config"].get("metadata", {}))
    else:                                      # a Dataset made by hand: its JSON-serializable metadata
        user_metadata = {k: v for k, v in meta.items() if k not in ("seeds", "path", "card") and _is_json(v)}
    title = title or user_metadata.get("title") or Path(str(meta.get("path") or path)).stem
    description = description or user_metadata.get("description")
    known = set(dataset.parameters.columns) | set(dataset.targets.columns) | set(dataset.arrays) | set(
        dataset._ragged)
    unknown = sorted((set(units) | set(descriptions)) - known)
    if unknown:
        raise ValueError(f"units or field_descriptions name {unknown}, which are not in the dataset; "
                         f"expected some of {sorted(known)}")

    overwrite = check_flag(overwrite, name="overwrite")
    reserved = [name for name in ("sample", "seed")
                if name in dataset.parameters.columns or name in dataset.targets.columns]
    if reserved:
        # the package adds these columns: a dataset's own would be replaced (seed) or clash (sample)
        raise ValueError(f"the dataset has a column named {reserved[0]!r}, a name the package reserves for its own "
                         "column (the sample index and the per-sample seed); rename it before exporting")
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file; expected a folder (or a path to create one)")
    present = [p.name for p in folder.iterdir()] if folder.exists() else []
    if present and not overwrite:
        raise ValueError(f"{folder} is not empty ({', '.join(sorted(present)[:5])}); pass overwrite=True to "
                         "replace an earlier export, or choose another folder")
    if present and "datapackage.json" not in present:
        # overwrite replaces an export's own files (README.md, parameters.csv, ...), which any folder may hold
        raise ValueError(f"{folder} holds files ({', '.join(sorted(present)[:5])}) but no earlier export (no "
                         "datapackage.json); overwrite=True replaces an earlier export only: choose an empty or "
                         "new folder")
    # everything is written to a staging folder beside ``folder`` and moved in at the end: an export that fails
    # part way (a column that cannot be shared, metadata that is not JSON) leaves an earlier export whole,
    # not new tables under its old card
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.export-", dir=folder.parent))
    try:
        return _export_into(staging, folder, dataset, meta, title, description, licences, contributors, units,
                            descriptions, user_metadata, sources, keywords)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _export_into(staging, folder, dataset, meta, title, description, licences, contributors, units, descriptions,
                 user_metadata, sources, keywords):
    """The body of :func:`export_dataset`: writes the export to ``staging``, then moves it to ``folder``."""
    n = len(dataset)

    # tables -----------------------------------------------------------------------------------
    space = meta.get("parameter_space", {})
    parameter_names = [name for name in dataset.parameters.columns if name in space]
    seeds = np.asarray(meta.get("seeds", np.zeros(0, np.int64)))
    table = dataset.parameters.reset_index(drop=True).copy()
    fields = []
    for name in table.columns:
        if name in space:
            low, high, scale = space[name]
            constraints = {"minimum": float(low), "maximum": float(high)}
            field = _field(name, table[name], "parameter", units, descriptions, constraints)
            field["scale"] = "log-uniform" if scale == "log" else "uniform"
        else:
            field = _field(name, table[name], "descriptor", units, descriptions)
        fields.append(field)
    if len(seeds) == n:
        table["seed"] = seeds.astype(np.int64)
        fields.append({"name": "seed", "type": "integer", "role": "seed",
                       "description": "the sample's own seed, SeedSequence(seed, spawn_key=(i,)) of the design seed"})
    table.insert(0, "sample", np.arange(n, dtype=np.int64))
    fields.insert(0, {"name": "sample", "type": "integer", "role": "index", "constraints": {"required": True,
                                                                                           "unique": True}})
    _write_csv(table, staging / _FILES["parameters"])
    targets = dataset.targets.reset_index(drop=True).copy()
    target_fields = [_field(name, targets[name], "target", units, descriptions) for name in targets.columns]
    targets.insert(0, "sample", np.arange(n, dtype=np.int64))
    target_fields.insert(0, {"name": "sample", "type": "integer", "role": "index",
                             "constraints": {"required": True, "unique": True}})
    _write_csv(targets, staging / _FILES["targets"])

    # arrays -------------------------------------------------------------------------------------
    array_entries = []
    with h5py.File(staging / _FILES["arrays"], "w", track_order=True) as file:
        file.attrs["title"] = title
        for name, array in dataset.arrays.items():
            array = np.asarray(array)
            _field_type(array)
            chunk = (1,) + array.shape[1:] if n else None
            options = {"compression": "gzip", "compression_opts": 4, "shuffle": True, "fletcher32": True} \
                if n and array[0].size > 1 else {}
            file.create_dataset(f"arrays/{name}", data=array, chunks=chunk if options else None, track_times=False,
                                **options)
            entry = {"name": name, "path": f"/arrays/{name}", "dtype": array.dtype.str, "shape": list(array.shape)}
            entry.update({"unit": units[name]} if name in units else {})
            entry.update({"description": descriptions[name]} if name in descriptions else {})
            array_entries.append(entry)
        for name, (values, offsets) in dataset._ragged.items():
            values, offsets = np.asarray(values), np.asarray(offsets, dtype=np.int64)
            group = file.create_group(f"ragged/{name}")
            options = {"compression": "gzip", "shuffle": True, "fletcher32": True} if values.size else {}
            group.create_dataset("values", data=values, track_times=False, **options)
            group.create_dataset("offsets", data=offsets, track_times=False)
            entry = {"name": name, "path": f"/ragged/{name}", "dtype": values.dtype.str,
                     "shape": ["variable"] + list(values.shape[1:]), "ragged": True,
                     "description": descriptions.get(name, f"sample i is values[offsets[i]:offsets[i + 1]]")}
            entry.update({"unit": units[name]} if name in units else {})
            array_entries.append(entry)

    # the card -----------------------------------------------------------------------------------
    exported = _now()
    provenance = {
        "sharing_version": SHARING_VERSION,
        "n_samples": n,
        # a Dataset made by hand (not by a store) has no configuration: record what is known
        "config": meta.get("config") or {"parameter_space": [], "sampler": None, "seed": None, "method": None,
                                          "metadata": user_metadata},
        "metadata": user_metadata,
        "seed": meta.get("seed"), "method": meta.get("method"), "sampler": meta.get("sampler"),
        "parameters": parameter_names,
        "created": meta.get("created") or None,
        "versions": meta.get("versions") or environment_versions(),   # generating, else exporting versions
        "former_versions": list(meta.get("former_versions") or []),    # of earlier samples of a resumed store
        "exported": exported,
        "exported_with": environment_versions(),
    }
    sources = [{"title": "mslearn (the companion package of the book Machine Learning for "
                         "Microstructure-Informed Materials Modeling and Design)",
                "version": environment_versions().get("mslearn")}] + list(sources or [])
    if meta.get("sampler"):
        sources.append({"title": f"generated by the sampler {meta['sampler']} with seed {meta.get('seed')}"})
    readme = _readme(dataset, title, description, licences, contributors, provenance)
    (staging / _FILES["card"]).write_text(readme)

    def resource(key, fmt, mediatype, **extra):
        file = staging / _FILES[key]
        return {"name": key, "path": _FILES[key], "format": fmt, "mediatype": mediatype,
                "bytes": file.stat().st_size, "hash": f"sha256:{_sha256(file)}", **extra}

    descriptor = {
        "$schema": PROFILE,
        "name": _slug(title),
        "title": title,
        **({"description": description} if description else {}),
        "version": "1.0.0",
        "created": exported,
        "licenses": licences,
        "contributors": contributors,
        "sources": sources,
        "keywords": list(keywords or []) + ["microstructure", "homogenization", "mslearn"],
        "resources": [
            resource("parameters", "csv", "text/csv", type="table", encoding="utf-8",
                     description="one row per sample: the sampled generator parameters (with their ranges), the "
                                 "measured descriptors and the sample's seed",
                     schema={"$schema": TABLE_SCHEMA, "fields": fields, "primaryKey": ["sample"]}),
            resource("targets", "csv", "text/csv", type="table", encoding="utf-8",
                     description="one row per sample: the scalar targets",
                     schema={"$schema": TABLE_SCHEMA, "fields": target_fields, "primaryKey": ["sample"],
                             "foreignKeys": [{"fields": ["sample"],
                                              "reference": {"resource": "parameters", "fields": ["sample"]}}]}),
            resource("arrays", "hdf5", "application/x-hdf5",
                     description="per-sample arrays (leading axis = sample), chunked, gzip-compressed and "
                                 "Fletcher-32 checked; variable-length data as values and offsets",
                     arrays=array_entries),
            resource("card", "md", "text/markdown", encoding="utf-8",
                     description="the human-readable dataset card"),
        ],
        "mslearn": provenance,
    }
    (staging / "datapackage.json").write_text(_json_text(descriptor, "the dataset's metadata") + "\n")
    folder.mkdir(exist_ok=True)
    for name in list(_FILES.values()) + ["datapackage.json"]:     # datapackage.json last: it lists the others' hashes
        os.replace(staging / name, folder / name)
    return folder / "datapackage.json"


def _readme(dataset, title, description, licences, contributors, provenance):
    lines = [f"# {title}", ""]
    if description:
        lines += [description, ""]
    lines += ["## Sharing", "",
              f"- {provenance['n_samples']} samples; files listed, with their SHA-256, in `datapackage.json` "
              "(a Frictionless Data Package: `frictionless validate datapackage.json` checks it)",
              "- licence: " + ", ".join(entry.get("name") or entry.get("path") for entry in licences),
              "- creators: " + ", ".join(c["title"] for c in contributors),
              f"- exported {provenance['exported']} with mslearn {provenance['exported_with'].get('mslearn')}",
              "- read it with `mslearn.datasets.sharing.load_shared(folder)`, or `parameters.csv` and "
              "`targets.csv` with any CSV reader and `arrays.h5` with any HDF5 reader", ""]
    original = dataset.metadata.get("card")
    if original:
        lines += ["## The dataset card of the store", "", re.sub(r"^#{1,2} ", "### ", original, flags=re.M), ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- checking and loading
def _card_path(path):
    path = Path(path)
    return path / "datapackage.json" if path.is_dir() or path.suffix != ".json" else path


def validate_shared(path) -> dict:
    """Check a shared dataset folder: the card's required fields, every file's presence, size and hash.

    Parameters
    ----------
    path : str or Path
        The folder :func:`export_dataset` wrote, or its ``datapackage.json``.

    Returns
    -------
    dict
        The card (the parsed ``datapackage.json``).

    Raises
    ------
    ValueError
        No card, a card that is not JSON, a missing required field (:data:`REQUIRED_FIELDS`), a
        resource path outside the folder, a missing file, or a file whose size or SHA-256 differs from
        the card's (a corrupted or altered file).

    Examples
    --------
    >>> import os, tempfile
    >>> from mslearn.datasets import generate
    >>> def sampler(parameters, seeds):
    ...     return {"k_parallel": (1 - parameters.phi.to_numpy()) + parameters.phi.to_numpy() * parameters.k.to_numpy()}
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     ds = generate(os.path.join(folder, "toy.h5"), sampler, {"phi": (0.1, 0.5), "k": (1.0, 10.0)}, 4, seed=0)
    ...     _ = export_dataset(ds, os.path.join(folder, "shared"), licence="CC-BY-4.0", creators=["A. Author"])
    ...     card = validate_shared(os.path.join(folder, "shared"))    # every file's size and SHA-256 checked
    >>> card["licenses"][0]["name"], sorted(resource["name"] for resource in card["resources"])
    ('CC-BY-4.0', ['arrays', 'card', 'parameters', 'targets'])
    """
    card_path = _card_path(path)
    if not card_path.is_file():
        raise ValueError(f"no dataset card at {card_path}; expected a folder written by export_dataset")
    try:
        card = json.loads(card_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"the dataset card {card_path} is not valid JSON: {error}") from error
    if not isinstance(card, dict):
        raise ValueError(f"the dataset card {card_path} holds a {type(card).__name__}; expected a JSON object")

    def require(entry, kind, where):
        missing = [key for key in REQUIRED_FIELDS[kind] if key not in entry or entry[key] in (None, "", [])]
        if missing:
            raise ValueError(f"the dataset card {card_path} lacks the required field(s) {missing} in {where}")

    require(card, "package", "the package")
    require(card["mslearn"], "mslearn", "its 'mslearn' provenance block")
    if not isinstance(card["licenses"], list) or not all(
            isinstance(entry, dict) and (entry.get("name") or entry.get("path")) for entry in card["licenses"]):
        raise ValueError(f"the dataset card {card_path} has licenses {card['licenses']!r}; expected a list of "
                         "objects, each with a 'name' or a 'path'")
    for i, contributor in enumerate(card["contributors"]):
        require(contributor, "contributor", f"contributors[{i}]")
    names = [resource.get("name") for resource in card["resources"]]
    for key in _FILES:
        if key not in names:
            raise ValueError(f"the dataset card {card_path} has no resource {key!r}; expected {list(_FILES)}")
    for resource in card["resources"]:
        require(resource, "resource", f"the resource {resource.get('name')!r}")
        relative = PurePosixPath(resource["path"])
        if relative.is_absolute() or ".." in relative.parts:
            raise ValueError(f"the resource {resource['name']!r} has the path {resource['path']!r}; expected a "
                             "relative path inside the folder")
        file = card_path.parent / relative
        if not file.is_file():
            raise ValueError(f"the file {file} of the resource {resource['name']!r} is missing")
        algorithm, _, expected = str(resource["hash"]).partition(":")
        if algorithm != "sha256" or not expected:
            raise ValueError(f"the resource {resource['name']!r} has the hash {resource['hash']!r}; expected "
                             "'sha256:<hex digest>'")
        size = file.stat().st_size
        if size != resource["bytes"] or _sha256(file) != expected:
            raise ValueError(f"the file {file} does not match its SHA-256 in the card ({size} bytes, card says "
                             f"{resource['bytes']}): it is corrupted or was changed after export")
        if resource.get("type") == "table" and not resource.get("schema", {}).get("fields"):
            raise ValueError(f"the table {resource['name']!r} has no schema fields in the card")
    return card


def load_shared(path) -> Dataset:
    """Read a folder written by :func:`export_dataset` back as a :class:`Dataset`, after checking it.

    Every file is checked against the card first (:func:`validate_shared`), so a corrupted, altered or
    missing file or a card without a required field raises ``ValueError`` instead of giving wrong data.

    Returns
    -------
    Dataset
        ``parameters`` (parameters and descriptors), ``targets``, ``arrays`` and ragged data as
        exported; ``metadata`` as :func:`mslearn.datasets.load` gives it (configuration, user metadata,
        versions, seeds, card), plus ``licenses``, ``contributors``, ``exported`` and ``package`` (the
        parsed ``datapackage.json``).

    Examples
    --------
    A round trip through the shared folder gives back the same data:

    >>> import os, tempfile
    >>> from mslearn.datasets import generate
    >>> def sampler(parameters, seeds):
    ...     return {"k_parallel": (1 - parameters.phi.to_numpy()) + parameters.phi.to_numpy() * parameters.k.to_numpy()}
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     ds = generate(os.path.join(folder, "toy.h5"), sampler, {"phi": (0.1, 0.5), "k": (1.0, 10.0)}, 4, seed=0)
    ...     card = export_dataset(ds, os.path.join(folder, "shared"), licence="CC-BY-4.0", creators=["A. Author"])
    ...     shared = load_shared(card.parent)
    >>> shared.targets.equals(ds.targets), shared.parameters.equals(ds.parameters)
    (True, True)
    """
    card = validate_shared(path)
    folder = _card_path(path).parent
    resources = {resource["name"]: resource for resource in card["resources"]}
    fields = resources["parameters"]["schema"]["fields"]
    table = _read_csv(folder / resources["parameters"]["path"], fields)
    target_fields = resources["targets"]["schema"]["fields"]
    targets = _read_csv(folder / resources["targets"]["path"], target_fields)
    n = int(card["mslearn"]["n_samples"])
    for name, frame in (("parameters", table), ("targets", targets)):
        if len(frame) != n or not np.array_equal(frame["sample"].to_numpy(), np.arange(n)):
            raise ValueError(f"{name}.csv has {len(frame)} rows numbered other than 0 .. {n - 1}; the card says "
                             f"{n} samples")
    roles = {field["name"]: field.get("role") for field in fields}
    seeds = table["seed"].to_numpy(np.int64) if "seed" in table else np.zeros(0, np.int64)
    parameters = table[[name for name in table.columns if roles[name] in ("parameter", "descriptor")]]
    parameters.index = pd.RangeIndex(n)
    targets = targets.drop(columns="sample")
    targets.index = pd.RangeIndex(n)
    arrays, ragged = {}, {}
    with h5py.File(folder / resources["arrays"]["path"], "r") as file:
        for entry in resources["arrays"].get("arrays", []):
            if entry["path"] not in file:
                raise ValueError(f"arrays.h5 has no {entry['path']}, which the card lists")
            if entry.get("ragged"):
                group = file[entry["path"]]
                ragged[entry["name"]] = (group["values"][()], group["offsets"][()])
            else:
                arrays[entry["name"]] = file[entry["path"]][()]
    provenance = card["mslearn"]
    config = provenance["config"]
    metadata = {
        **provenance["metadata"],
        "path": str(folder), "n_complete": n, "n_stored": n, "n_requested": n, "config": config,
        "seed": provenance.get("seed"), "method": provenance.get("method"), "sampler": provenance.get("sampler"),
        "parameter_space": {entry[0]: tuple(entry[1:]) for entry in config.get("parameter_space", [])},
        "versions": provenance["versions"], "former_versions": provenance.get("former_versions", []),
        "card": (folder / resources["card"]["path"]).read_text(),
        "seeds": seeds, "created": provenance.get("created") or "",
        "licenses": card["licenses"], "contributors": card["contributors"], "exported": provenance["exported"],
        "package": card,
    }
    return Dataset(parameters, targets, arrays, ragged, metadata)
