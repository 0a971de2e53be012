"""``mslearn.sweep``: papermill runs of a Cartesian product of parameters, serially and on Dask.

The notebook is a tiny one written here with nbformat: a ``parameters`` cell, a cell that fails for
one seed, and ``myst_nb.glue`` of a number and a text, as the book's chapters glue.
"""
import nbformat
import pandas as pd
import pytest

from mslearn.sweep import glued_values, main, notebook_parameters, sweep

pytest.importorskip("papermill", reason="papermill is not installed; the sweeps need it")

SOURCE = [
    ("seed = 0\nscale = 1.0\nlabel = 'a'", ["parameters"]),
    ("if seed == 13:\n    raise ArithmeticError(f'unlucky seed {seed}')", []),
    ("import numpy as np\nfrom myst_nb import glue\n"
     "glue('product', np.float64(seed * scale), display=False)\n"
     "glue('count', seed + 1, display=False)\n"
     "glue('tag', f'{label}-{seed}', display=False)", []),
]


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source, metadata={"tags": tags}) for source, tags in SOURCE]
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.metadata["language_info"] = {"name": "python"}
    path = tmp_path_factory.mktemp("notebook") / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] is not installed "
                                      "(pip install 'dask[distributed]'); sweeps on Dask are optional")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=40)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def test_the_parameters_cell_is_read(notebook):
    assert list(notebook_parameters(notebook)) == ["seed", "scale", "label"]


def test_a_serial_sweep_runs_the_product_and_reports_a_failure(notebook, tmp_path):
    table = sweep(notebook, {"seed": [2, 13], "scale": [0.5, 3.0]}, output=tmp_path / "out", progress=False)
    assert list(table[["seed", "scale"]].itertuples(index=False, name=None)) == [(2, 0.5), (2, 3.0), (13, 0.5),
                                                                                 (13, 3.0)]
    assert list(table["status"]) == ["ok", "ok", "failed", "failed"]
    assert table["product"].tolist()[:2] == [1.0, 6.0]
    assert table["count"].tolist()[:2] == [3, 3] and table["tag"].tolist()[:2] == ["a-2", "a-2"]
    assert table["product"].iloc[2:].isna().all()
    failed = table.iloc[2]
    assert "ArithmeticError: unlucky seed 13" in failed["error"]
    assert "unlucky seed 13" in open(failed["traceback"]).read()
    assert all(open(p).read() for p in table["notebook"])            # every run's notebook is stored
    saved = pd.read_csv(tmp_path / "out" / "results.csv")
    assert saved["product"].tolist()[:2] == [1.0, 6.0] and len(saved) == 4
    assert glued_values(table["notebook"].iloc[1]) == {"product": 6.0, "count": 3, "tag": "a-2"}


def test_glued_nan_infinities_and_numpy_booleans_are_read_as_values():
    """NaN and infinities (``literal_eval`` reads neither) and numpy >= 2's ``np.True_`` came back as text, so a
    sweep's column of them became object dtype while results.csv read back as float."""
    prefix = "application/papermill.record/"
    texts = {"a": "nan", "b": "np.float64(nan)", "c": "inf", "d": "np.float64(-inf)", "e": "np.True_",
             "f": "np.False_", "g": "nano"}
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("", outputs=[
        nbformat.v4.new_output("display_data", data={prefix + "text/plain": text},
                               metadata={"scrapbook": {"name": name, "mime_prefix": prefix}})
        for name, text in texts.items()])]
    values = glued_values(nb)
    assert all(isinstance(values[k], float) for k in "abcd")
    assert pd.isna(values["a"]) and pd.isna(values["b"]) and values["c"] == float("inf") and values["d"] == -values["c"]
    assert values["e"] is True and values["f"] is False and values["g"] == "nano"


def _kernel_that_dies(real, deaths, started_cell):
    """papermill.execute_notebook whose first ``deaths`` kernels die, as a port collision kills one."""
    calls = []

    def execute_notebook(notebook, output, **kwargs):
        calls.append(output)
        if len(calls) <= deaths:
            nb = nbformat.read(notebook, as_version=4)
            for i, cell in enumerate(nb.cells):       # what papermill saves before the kernel answers
                cell.metadata["papermill"] = {"status": "pending",
                                              "start_time": "2026-01-01T00:00:00" if started_cell and i == 0
                                              else None}
            nbformat.write(nb, output)
            raise RuntimeError("Kernel died before replying to kernel_info")
        return real(notebook, output, **kwargs)
    return execute_notebook, calls


@pytest.mark.parametrize("deaths, started_cell, status, calls", [
    (1, False, "ok", 2),          # a kernel that died at start is started again, and the run goes on
    (3, False, "failed", 3),      # ... but not forever: the third death is the run's failure
    (1, True, "failed", 1),       # a cell had started: the run may have done work, so it is not rerun
])
def test_a_kernel_that_dies_before_running_a_cell_is_started_again(notebook, tmp_path, monkeypatch, deaths,
                                                                    started_cell, status, calls):
    import papermill
    fake, seen = _kernel_that_dies(papermill.execute_notebook, deaths, started_cell)
    monkeypatch.setattr(papermill, "execute_notebook", fake)
    table = sweep(notebook, {"seed": [3]}, output=tmp_path / "out", progress=False)
    assert table["status"].tolist() == [status] and len(seen) == calls
    if status == "ok":
        assert table["product"].tolist() == [3.0] and table["error"].tolist() == [""]
    else:
        assert "RuntimeError: Kernel died before replying to kernel_info" in table["error"].iloc[0]
        assert ("kernel started 3 times" in table["error"].iloc[0]) == (calls == 3)


def test_a_misspelled_parameter_is_rejected_before_running(notebook, tmp_path):
    with pytest.raises(ValueError, match=r"no parameter 'sead' \(did you mean 'seed'\?\).*Nothing was run"):
        sweep(notebook, {"sead": [1, 2]}, output=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="non-empty list"):
        sweep(notebook, {"seed": []}, output=tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match="non-empty list"):
        sweep(notebook, {"seed": 3}, output=tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match="no notebook"):
        sweep(tmp_path / "missing.ipynb", {"seed": [1]}, output=tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match=r"holds .*object.*expected values papermill can pass.*Nothing was run"):
        sweep(notebook, {"seed": [object()]}, output=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_numpy_values_run_as_python_values(notebook, tmp_path):
    import numpy as np
    table = sweep(notebook, {"seed": list(np.arange(2, 4))}, output=tmp_path / "out", progress=False)
    assert table["status"].tolist() == ["ok", "ok"] and table["count"].tolist() == [3, 4]   # every run failed


def test_the_command_line_rejects_a_misspelled_name_and_runs_nothing(notebook, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([str(notebook), "-p", "seed", "1", "-p", "scael", "2.0", "--output", str(tmp_path / "cli")])
    assert exit_.value.code == 2
    assert "did you mean 'scale'" in capsys.readouterr().err
    assert not (tmp_path / "cli").exists()


def test_a_sweep_on_dask_workers(notebook, client, tmp_path):
    table = sweep(notebook, {"seed": [13, 4], "label": ["x", "y"]}, client=client, output=tmp_path / "dask",
                  progress=False)
    assert list(table["status"]) == ["failed", "failed", "ok", "ok"]
    assert table["tag"].tolist()[2:] == ["x-4", "y-4"]
    assert table["product"].tolist()[2:] == [4.0, 4.0]


def test_the_command_line_on_a_dask_scheduler(notebook, client, tmp_path, capsys):
    status = main([str(notebook), "-p", "seed", "5", "13", "-p", "scale", "2", "--scheduler",
                   client.scheduler.address, "--output", str(tmp_path / "cli"), "--no-progress"])
    assert status == 1                       # one run failed, the other ran
    out = capsys.readouterr()
    assert "1 of 2 runs ok" in out.out and "FAILED seed=13, scale=2" in out.err
    table = pd.read_csv(tmp_path / "cli" / "results.csv")
    assert table.loc[0, "product"] == 10.0 and table.loc[0, "status"] == "ok"


@pytest.mark.parametrize("arguments, message", [
    (["--workers", "0"], "expected at least 1"),
    (["--workers", "2", "--scheduler", "tcp://localhost:8786"], "not both"),
    (["-p", "seed"], "has no values"),
    ([], "no parameters"),
    (["--cell-timeout", "0"], "--cell-timeout has the value 0.0; expected > 0"),   # these two were uncaught
    (["--cell-timeout", "nan"], "--cell-timeout contains NaN"),                    # ValueErrors, not status 2
])
def test_the_command_line_rejects_bad_options_before_starting_anything(notebook, arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([str(notebook), *(["-p", "seed", "1"] if arguments[:1] in (["--workers"], ["--cell-timeout"]) else []),
              *arguments])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_a_sweep_into_the_same_folder_keeps_the_finished_runs(notebook, tmp_path, monkeypatch):
    import papermill
    out = tmp_path / "out"
    first = sweep(notebook, {"seed": [2, 13], "scale": [3.0]}, output=out)
    runs = []
    real = papermill.execute_notebook
    monkeypatch.setattr(papermill, "execute_notebook", lambda nb, path, **kw: (runs.append(path), real(nb, path, **kw)))
    again = sweep(notebook, {"seed": [2, 13], "scale": [3.0]}, output=out)
    # the finished run is read back (same values, its recorded time); the failed one runs again
    assert runs == [str(out.resolve() / "001_seed-13_scale-3.0.ipynb")]
    assert again["status"].tolist() == ["ok", "failed"] and again["product"].iloc[0] == 6.0
    assert again["seconds"].iloc[0] > 0 and again.iloc[0]["notebook"] == first.iloc[0]["notebook"]
    runs.clear()
    sweep(notebook, {"seed": [2, 13], "scale": [3.0]}, output=out, resume=False)
    assert len(runs) == 2                                        # resume=False: everything again
    runs.clear()
    edited = tmp_path / "edited.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[2].source += "\nglue('extra', 1, display=False)"
    nbformat.write(nb, edited)
    table = sweep(edited, {"seed": [2], "scale": [3.0]}, output=out)
    assert len(runs) == 1 and table["extra"].tolist() == [1]     # an edited notebook's runs are not kept
    with pytest.raises(TypeError, match="resume = 'yes'"):
        sweep(notebook, {"seed": [2]}, output=out, resume="yes")


def test_a_rerun_that_succeeds_removes_the_traceback_of_its_earlier_failure(notebook, tmp_path):
    """The traceback of a failed run stayed beside the notebook of its successful rerun, and misled."""
    failed = sweep(notebook, {"seed": [13]}, output=tmp_path / "out")
    trace = failed["traceback"].iloc[0]
    assert failed["status"].tolist() == ["failed"] and open(trace).read()
    fixed = tmp_path / "fixed.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    del nb.cells[1]                                               # the cell that raised for seed 13
    nbformat.write(nb, fixed)
    table = sweep(fixed, {"seed": [13]}, output=tmp_path / "out")
    assert table["status"].tolist() == ["ok"] and table["traceback"].tolist() == [""]
    assert not (tmp_path / "out" / trace).exists()


def test_a_cell_that_runs_past_cell_timeout_fails_its_run_and_the_sweep_goes_on(tmp_path):
    """A run that hangs would hold its worker for ever: with cell_timeout it is recorded as failed."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("pause = 0.0", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import time\ntime.sleep(pause)\nfrom myst_nb import glue\n"
                                          "glue('slept', pause, display=False)")]
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    path = tmp_path / "sleepy.ipynb"
    nbformat.write(nb, path)
    table = sweep(path, {"pause": [0.0, 30.0]}, output=tmp_path / "out", cell_timeout=5)
    assert list(table["status"]) == ["ok", "failed"] and table["slept"].iloc[0] == 0.0
    assert "timed out" in table["error"].iloc[1].lower() and table["seconds"].iloc[1] < 25


@pytest.mark.parametrize("value, error, message", [
    (0, ValueError, "cell_timeout has the value 0; expected > 0"),
    (float("nan"), ValueError, "cell_timeout contains NaN"),
    ("60", TypeError, "cell_timeout is str; expected seconds"),
    (True, TypeError, "cell_timeout is bool"),
])
def test_sweep_refuses_a_cell_timeout_that_is_not_positive_seconds(notebook, tmp_path, value, error, message):
    with pytest.raises(error, match=message):
        sweep(notebook, {"seed": [1]}, output=tmp_path / "out", cell_timeout=value)
    assert not (tmp_path / "out").exists()                       # refused before anything ran
