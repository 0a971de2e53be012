r"""Parameter sweeps over a notebook: papermill runs of a Cartesian product, locally or on Dask.

Every chapter of the book is a notebook whose first code cell is tagged ``parameters`` and whose key
numbers are *glued* (``myst_nb.glue``). A sweep runs one notebook for every combination of the
values given, stores each executed notebook, and gathers the glued numbers into one table::

    python -m mslearn.sweep book/part2/ml_workflow.ipynb -p seed 0 1 2 3 -p n_samples 500 2000 \
        --workers 2 --output results/ml_workflow

writes ``results/ml_workflow/<run>.ipynb`` for the 8 runs and ``results.csv`` (and
``results.parquet`` when pyarrow is installed) with one row per run: the parameters, the glued
numbers, ``status`` (``"ok"`` or ``"failed"``), ``seconds``, the executed ``notebook`` and, for a
failed run, its ``error`` and the path of its ``traceback``. From Python, :func:`sweep` returns the
same table as a DataFrame.

Why so little code: papermill already injects parameters and executes a notebook in a fresh kernel,
and Dask already schedules tasks on workers (a laptop's ``LocalCluster``, one worker per GPU, an HPC
cluster through dask-jobqueue) and reruns the task of a worker that died. What is written here is the
glue: the product of the values, checking the parameter names against the notebook's ``parameters``
cell *before* anything runs (a misspelled name would otherwise become a new variable that nothing
reads, and the sweep would silently run the defaults), reading the glued values back from the
executed notebooks, recording a failed run instead of stopping the others, and starting again a
kernel that died before it ran a cell (kernels started side by side can collide on a port).

Without a client (or ``--scheduler`` / ``--workers``) the runs execute one after the other in this
process. Each run executes in the notebook's folder (``cwd``), as the book's notebooks expect.

Glued values are read from the outputs that ``myst_nb.glue(name, value, display=False)`` writes
(metadata ``scrapbook.name``, a ``text/plain`` representation, possibly under the prefix
``application/papermill.record/``) and from scrapbook's ``application/scrapbook.scrap.json+json``;
numbers (``1.5``, ``np.float64(1.5)``, ``nan``, ``-inf``) become floats or ints, booleans (``True``,
``np.True_``) bools, anything else stays text.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import importlib.util
import itertools
import json
import math
import numbers
import re
import sys
import time
import traceback as traceback_module
import uuid
from pathlib import Path

import pandas as pd

from ._validation import check_flag, check_positive

__all__ = ["sweep", "glued_values", "notebook_parameters"]

_RESERVED = ("status", "seconds", "notebook", "error", "traceback")
_GLUE_PREFIX = "application/papermill.record/"
_SCRAP_MIME = "application/scrapbook.scrap.json+json"


def notebook_parameters(notebook):
    r"""The names and default values of the notebook's ``parameters``-tagged cell.

    Parameters
    ----------
    notebook : str or Path
        An ``.ipynb`` file.

    Returns
    -------
    dict
        ``{name: default source text}`` in the cell's order (papermill's reading of the cell).

    Raises
    ------
    ValueError
        No such notebook, or no cell tagged ``parameters``.

    Examples
    --------
    >>> import nbformat, tempfile, pathlib
    >>> nb = nbformat.v4.new_notebook()
    >>> nb.cells = [nbformat.v4.new_code_cell("seed = 0\nn_samples = 100", metadata={"tags": ["parameters"]})]
    >>> nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.ipynb"
    >>> nbformat.write(nb, path)
    >>> notebook_parameters(path)
    {'seed': '0', 'n_samples': '100'}
    """
    import papermill

    path = Path(notebook)
    if not path.is_file():
        raise ValueError(f"no notebook at {path}")
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a notebook (nbformat 4 JSON): {error}") from error
    if not any("parameters" in cell.get("metadata", {}).get("tags", []) for cell in cells):
        raise ValueError(f"{path} has no cell tagged 'parameters'; tag the cell that sets the defaults "
                         "(papermill injects the values after it)")
    inferred = papermill.inspect_notebook(str(path))
    return {name: info.get("default") for name, info in inferred.items()}


def _check_parameters(notebook, parameters):
    """Validate ``{name: [values]}`` against the notebook; return it with lists as values."""
    if not isinstance(parameters, dict):
        raise ValueError(f"parameters must be a dict {{name: [values]}}, got {type(parameters).__name__}")
    known = notebook_parameters(notebook)
    checked = {}
    for name, values in parameters.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"parameter name {name!r} is not a Python identifier")
        if name in _RESERVED:
            raise ValueError(f"parameter name {name!r} is reserved for a column of the results table "
                             f"({', '.join(_RESERVED)})")
        if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple, range)) or not len(values):
            raise ValueError(f"parameters[{name!r}] = {values!r}; expected a non-empty list of values")
        # numpy scalars (np.arange, np.linspace) as the Python values papermill can write into a notebook
        checked[name] = [value.item() if hasattr(value, "item") and getattr(value, "ndim", None) == 0 else value
                         for value in values]
        for value in checked[name]:
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                raise ValueError(f"parameters[{name!r}] holds {value!r} ({type(value).__name__}); expected values "
                                 "papermill can pass to a notebook (numbers, strings, booleans, None, lists, "
                                 "dicts of them). Nothing was run.") from None
    unknown = [name for name in checked if name not in known]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, list(known), n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValueError(f"{Path(notebook)} has no parameter {', '.join(hints)}; its parameters cell defines "
                         f"{', '.join(known) or 'nothing'}. Nothing was run.")
    return checked


def _parse_value(text):
    """A command-line value as papermill's ``-p`` reads it: int, float, True/False/None, else text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(text, text)


def _glued_value(text):
    text = text.strip()
    match = re.fullmatch(r"np\.\w+\((.*)\)", text)       # numpy >= 2 scalars: np.float64(1.5)
    if match:
        text = match.group(1)
    if text in ("np.True_", "np.False_"):                  # numpy >= 2 booleans
        return text == "np.True_"
    if re.fullmatch(r"[+-]?(nan|inf)", text):              # literal_eval reads neither: a number all the same
        return float(text)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    if isinstance(value, str):
        return value
    return value if isinstance(value, (numbers.Number, bool)) or value is None else text


def glued_values(notebook):
    """The values glued in an executed notebook, ``{name: value}`` in the order glued.

    Parameters
    ----------
    notebook : str, Path or dict
        An executed notebook: its path, or the notebook itself (an ``nbformat.NotebookNode`` or the
        dict of its JSON, nbformat 4).

    Returns
    -------
    dict
        Numbers as int or float (``np.float64(0.5)``, NaN and infinities included), booleans as bool
        (``np.True_`` included), other values as their text.

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook()
    >>> prefix = "application/papermill.record/"        # myst_nb's glue(..., display=False)
    >>> out = nbformat.v4.new_output("display_data", data={prefix + "text/plain": "0.25"},
    ...                              metadata={"scrapbook": {"name": "r2", "mime_prefix": prefix}})
    >>> nb.cells = [nbformat.v4.new_code_cell("glue('r2', 0.25, display=False)", outputs=[out])]
    >>> glued_values(nb)
    {'r2': 0.25}
    """
    nb = notebook if isinstance(notebook, dict) else json.loads(Path(notebook).read_text(encoding="utf-8"))
    values = {}
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if _SCRAP_MIME in data:                                     # scrapbook's sb.glue
                scrap = data[_SCRAP_MIME]
                if isinstance(scrap, str):
                    scrap = json.loads(scrap)
                values[scrap.get("name")] = scrap.get("data")
                continue
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is None:
                continue
            prefix = output["metadata"]["scrapbook"].get("mime_prefix", "")
            text = data.get(prefix + "text/plain", data.get("text/plain"))
            if isinstance(text, list):
                text = "".join(text)
            values[name] = _glued_value(text) if isinstance(text, str) else None
    return values


def _slug(value):
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", str(value)).strip("-")[:40] or "x"


KERNEL_START_ATTEMPTS = 3


def _no_cell_started(output_path):
    """True when papermill wrote ``output_path`` but started none of its code cells."""
    try:
        cells = json.loads(Path(output_path).read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return False
    return all(not (cell.get("metadata", {}).get("papermill") or {}).get("start_time")
               for cell in cells if cell.get("cell_type") == "code")


def _run_one(notebook, output_path, parameters, cwd, kernel_name, cell_timeout=None):
    """Execute one run; never raises for a failing notebook (the outcome is a dict).

    A kernel that dies before it answers (a ``RuntimeError`` from jupyter_client while no cell has
    started) is started again, up to ``KERNEL_START_ATTEMPTS`` times in all: kernels started side by
    side, as on Dask workers, can be handed the same free port between its choice and its bind
    ("ZMQError: Address already in use", papermill#511). No code ran, so nothing is run twice.
    """
    import papermill

    output_path = Path(output_path)
    trace_path = output_path.with_suffix(".traceback.txt")
    trace_path.unlink(missing_ok=True)          # an earlier failure's traceback beside a rerun would mislead
    start = time.perf_counter()
    outcome = {"status": "ok", "error": "", "traceback": ""}
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        try:
            papermill.execute_notebook(str(notebook), str(output_path), parameters=parameters, cwd=str(cwd),
                                       kernel_name=kernel_name, progress_bar=False, execution_timeout=cell_timeout)
            break
        except Exception as error:      # noqa: BLE001 - a failed run is recorded, the others go on
            if (attempt < KERNEL_START_ATTEMPTS and isinstance(error, RuntimeError)
                    and not hasattr(error, "ename") and _no_cell_started(output_path)):
                time.sleep(0.2 * attempt)
                continue
            message = (f"{error.ename}: {error.evalue}" if hasattr(error, "ename")
                       else f"{type(error).__name__}: {error}").strip()
            message = message.splitlines()[0][:500] if message else type(error).__name__
            if attempt > 1:
                message += f" (kernel started {attempt} times)"
            trace_path.write_text("".join(traceback_module.format_exception(error)))
            outcome.update(status="failed", error=message, traceback=str(trace_path))
            break
    outcome["seconds"] = time.perf_counter() - start
    glued = {}
    if output_path.exists():
        try:
            glued = glued_values(output_path)
        except Exception:           # noqa: BLE001 - an unreadable notebook of a failed run: no values
            glued = {}
    outcome["glued"] = glued
    return outcome


def _code_sources(cells):
    """The sources of a notebook's code cells, papermill's injected parameters cell left out."""
    return ["".join(cell.get("source", "")) for cell in cells if cell.get("cell_type") == "code"
            and "injected-parameters" not in cell.get("metadata", {}).get("tags", [])]


def _finished_run(output_path, code, parameters):
    """The outcome of a run already finished at ``output_path`` from the notebook code ``code`` with these
    ``parameters`` (papermill's record: no exception, an end time, the same parameters and code cells), else
    None: a run of an edited notebook, of other values, or one that failed or was cut off is run again."""
    try:
        nb = json.loads(Path(output_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    record = nb.get("metadata", {}).get("papermill", {})
    same = json.dumps(record.get("parameters"), sort_keys=True, default=str) == json.dumps(
        parameters, sort_keys=True, default=str)
    if record.get("exception") or not record.get("end_time") or not same or _code_sources(nb["cells"]) != code:
        return None
    duration = record.get("duration")
    return {"status": "ok", "error": "", "traceback": "", "glued": glued_values(nb),
            "seconds": float(duration) if duration is not None else math.nan}


def sweep(notebook, parameters, *, client=None, output="sweep", kernel_name=None, cwd=None, progress=False,
          resume=True, cell_timeout=None):
    """Run ``notebook`` for every combination of ``parameters`` and collect the glued values.

    Parameters
    ----------
    notebook : str or Path
        A notebook with a cell tagged ``parameters``.
    parameters : dict of str to list
        ``{name: [values]}``; the runs are the Cartesian product, in the order given (the last name
        varies fastest). Every name must be set in the ``parameters`` cell (checked before any run).
    client : dask.distributed.Client, optional
        Run on its workers (one run per task; a run whose worker dies is rerun by Dask). Default:
        one run after the other in this process.
    output : str or Path
        Folder for the executed notebooks (``NNN_name-value_....ipynb``), the tracebacks of failed
        runs (``.traceback.txt``) and the table ``results.csv`` (and ``results.parquet`` if pyarrow
        is installed). Created if missing; files of an earlier sweep there are overwritten (see ``resume``).
    kernel_name : str, optional
        Jupyter kernel to run in (default: the notebook's own).
    cwd : str or Path, optional
        Working folder of the runs (default: the notebook's folder). With a client the workers must
        see the same paths (a shared file system).
    progress : bool
        Show a tqdm progress bar over finished runs.
    resume : bool
        Keep the runs that an earlier sweep into ``output`` finished: an executed notebook at a run's
        path whose papermill record shows no error, the same parameter values and the same code cells as
        ``notebook`` now is read back instead of run again (its ``seconds`` are those it took then), so a
        sweep that was interrupted goes on where it stopped. Runs that failed, were cut off, or come
        from an edited notebook run again. ``False``: run everything.
    cell_timeout : float, optional
        Seconds one cell of a run may take (papermill's ``execution_timeout``); a cell that takes longer
        stops its run, recorded as failed (``status``, ``error``), and the sweep goes on. Default: no
        limit, so that a run that hangs (a kernel that stops answering, a dead worker's lock) holds its
        worker for ever: set it on a cluster, well above the longest cell a run should take.

    Returns
    -------
    pandas.DataFrame
        One row per run, in product order: the parameters, the glued values (one column per glued
        name; a glued name equal to a parameter or a reserved column gets the suffix ``" (glued)"``),
        then ``status``, ``seconds``, ``notebook``, ``error`` and ``traceback``.

    Raises
    ------
    TypeError
        A ``cell_timeout`` that is not a number (a bool or a string included).
    ValueError
        No such notebook, no ``parameters`` cell, a name the cell does not set, an empty value
        list, or a ``cell_timeout`` that is not positive; raised before anything runs. A failing
        *run* does not raise: see ``status``.

    Examples
    --------
    >>> from mslearn.sweep import sweep                                           # doctest: +SKIP
    >>> table = sweep("book/part2/ml_workflow.ipynb", {"seed": [0, 1], "n_samples": [500, 2000]},
    ...               output="results/ml_workflow")                                # doctest: +SKIP
    >>> table.groupby("n_samples")["best_r2"].mean()                               # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    notebook = Path(notebook)
    checked = _check_parameters(notebook, parameters)
    if cell_timeout is not None:
        if isinstance(cell_timeout, bool) or not isinstance(cell_timeout, numbers.Real):
            raise TypeError(f"cell_timeout is {type(cell_timeout).__name__}; expected seconds (a number) or None")
        cell_timeout = float(check_positive(cell_timeout, name="cell_timeout"))
    if client is not None and not all(callable(getattr(client, m, None)) for m in ("submit", "cancel")):
        raise ValueError(f"client = {client!r}; expected a dask.distributed.Client (or None to run here)")
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    cwd = Path(cwd) if cwd is not None else notebook.resolve().parent
    names = list(checked)
    combos = [dict(zip(names, values)) for values in itertools.product(*checked.values())]
    width = max(3, len(str(len(combos) - 1)))
    paths = [(output / (f"{i:0{width}d}_" + "_".join(f"{_slug(k)}-{_slug(v)}" for k, v in combo.items())
                        + ".ipynb")).resolve() for i, combo in enumerate(combos)]
    outcomes = [None] * len(combos)
    if check_flag(resume, name="resume"):
        code = _code_sources(json.loads(notebook.read_text(encoding="utf-8"))["cells"])
        outcomes = [_finished_run(path, code, combo) for path, combo in zip(paths, combos)]
    todo = [i for i, outcome in enumerate(outcomes) if outcome is None]
    bar = tqdm(total=len(combos), initial=len(combos) - len(todo), disable=not check_flag(progress, name="progress"),
               desc=f"sweep {notebook.stem}", unit="run")
    try:
        if client is None:
            for i in todo:
                outcomes[i] = _run_one(notebook.resolve(), paths[i], combos[i], cwd, kernel_name, cell_timeout)
                bar.update(1)
        else:
            from dask.distributed import as_completed   # imported here: dask is needed only with a client

            token = uuid.uuid4().hex[:8]
            futures = {client.submit(_run_one, notebook.resolve(), paths[i], combos[i], cwd, kernel_name, cell_timeout,
                                     pure=False,
                                     key=f"mslearn-sweep-{notebook.stem}-{token}-{i}"): i
                       for i in todo}
            try:
                for future in as_completed(futures):
                    i = futures[future]
                    try:
                        outcomes[i] = future.result()
                    except Exception as error:   # noqa: BLE001 - e.g. KilledWorker: this run failed
                        outcomes[i] = {"status": "failed", "error": f"{type(error).__name__}: {error}"[:500],
                                       "traceback": "", "seconds": math.nan, "glued": {}}
                    bar.update(1)
            finally:
                client.cancel([f for f in futures if not f.done()])
    finally:
        bar.close()
    table = _table(combos, outcomes, paths, names)
    table.to_csv(output / "results.csv", index=False)
    if importlib.util.find_spec("pyarrow") is not None:       # parquet too where pandas can write it
        table.to_parquet(output / "results.parquet", index=False)
    return table


def _table(combos, outcomes, paths, names):
    glued_names = []
    for outcome in outcomes:
        for name in outcome["glued"]:
            if name not in glued_names:
                glued_names.append(name)
    taken = set(names) | set(_RESERVED)
    column = {g: (f"{g} (glued)" if g in taken else g) for g in glued_names}
    rows = []
    for combo, outcome, path in zip(combos, outcomes, paths):
        row = dict(combo)
        row.update({column[g]: outcome["glued"].get(g, math.nan) for g in glued_names})
        row.update(status=outcome["status"], seconds=outcome["seconds"],
                   notebook=str(path) if path.exists() else "", error=outcome["error"],
                   traceback=outcome["traceback"])
        rows.append(row)
    return pd.DataFrame(rows, columns=names + [column[g] for g in glued_names] + list(_RESERVED))


def main(argv=None):
    """``python -m mslearn.sweep NOTEBOOK -p NAME VALUE [VALUE ...] ...``; returns the exit status
    (0: every run ok, 1: some runs failed, 2: bad arguments, nothing run)."""
    parser = argparse.ArgumentParser(
        prog="python -m mslearn.sweep",
        description="Run a notebook for every combination of parameter values (papermill), locally or on "
                    "Dask workers, and collect its glued numbers into one table.")
    parser.add_argument("notebook", help="the notebook (its first code cell tagged 'parameters')")
    parser.add_argument("-p", "--parameter", nargs="+", action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a parameter and its values, e.g. -p seed 0 1 2 3 (repeat for more parameters)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--workers", type=int, help="start a local Dask cluster of N worker processes "
                                                    "(1 thread each); default: run serially here")
    parser.add_argument("--output", default="sweep", help="folder for the executed notebooks and results.csv "
                                                          "(default: ./sweep)")
    parser.add_argument("--kernel", dest="kernel_name", help="Jupyter kernel (default: the notebook's)")
    parser.add_argument("--cwd", help="working folder of the runs (default: the notebook's folder)")
    parser.add_argument("--cell-timeout", type=float, help="seconds one cell of a run may take; a run that takes "
                                                          "longer is recorded as failed (default: no limit)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--rerun", action="store_true", help="run every combination again (default: keep the runs "
                                                             "an earlier sweep into --output finished)")
    args = parser.parse_args(argv)

    parameters = {}
    for entry in args.parameter:
        if len(entry) < 2:
            parser.error(f"-p {entry[0]} has no values; expected -p NAME VALUE [VALUE ...]")
        if entry[0] in parameters:
            parser.error(f"-p {entry[0]} is given twice; list all its values after one -p")
        parameters[entry[0]] = [_parse_value(v) for v in entry[1:]]
    if not parameters:
        parser.error("no parameters; expected at least one -p NAME VALUE [VALUE ...]")
    if args.scheduler and args.workers:
        parser.error("give --scheduler or --workers, not both")
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers {args.workers}; expected at least 1")
    if args.cell_timeout is not None:
        try:
            check_positive(args.cell_timeout, name="--cell-timeout")
        except ValueError as error:
            parser.error(str(error))
    try:
        _check_parameters(args.notebook, parameters)        # before a cluster is started
    except ValueError as error:
        parser.error(str(error))

    cluster = client = None
    try:
        if args.scheduler or args.workers:
            from dask.distributed import Client, LocalCluster

            if args.workers:
                cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True)
            client = Client(cluster or args.scheduler)
        table = sweep(args.notebook, parameters, client=client, output=args.output, kernel_name=args.kernel_name,
                      cwd=args.cwd, progress=not args.no_progress, resume=not args.rerun, cell_timeout=args.cell_timeout)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    failed = table[table["status"] != "ok"]
    ok = len(table) - len(failed)
    print(f"{ok} of {len(table)} runs ok; table: {Path(args.output) / 'results.csv'}")
    for _, row in failed.iterrows():
        values = ", ".join(f"{k}={row[k]!r}" for k in parameters)
        print(f"FAILED {values}: {row['error']}" + (f" (traceback: {row['traceback']})" if row["traceback"] else ""),
              file=sys.stderr)
    return 0 if failed.empty else 1


if __name__ == "__main__":
    sys.exit(main())
