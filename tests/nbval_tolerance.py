"""A pytest plugin: nbval compares the book's checked cells under the tolerances they declare.

nbval (``pytest --nbval-lax``) executes a notebook cell by cell and compares the outputs of the
cells marked ``# NBVAL_CHECK_OUTPUT`` with the stored ones, as text. Floating-point results differ
between CPUs (FFT, BLAS and oneDNN kernels, reduction orders, thread counts), so text equality holds
only on the machine that stored the outputs. With this plugin each checked cell is compared number
by number under the ``# tolerance: ...`` lines it declares (:mod:`notebook_tools`). ``book/conftest.py``
loads it for the book's notebooks; elsewhere use ``pytest --nbval-lax -p nbval_tolerance``.
"""
import pytest
from nbval.plugin import IPyNbCell

from notebook_tools import compare_cell_outputs


class ToleranceCell(IPyNbCell):
    """An nbval cell whose outputs are compared under the cell's declared tolerances."""

    def compare_outputs(self, test, ref, skip_compare=None):
        self.comparison_traceback = compare_cell_outputs(self.cell.source, ref, test)
        return not self.comparison_traceback


def pytest_configure(config):
    # the kernel of the environment running pytest, not whatever "python3" kernel a user registered
    if not config.option.nbval_kernel_name:
        config.option.nbval_current_env = True


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if type(item) is IPyNbCell:
            item.__class__ = ToleranceCell
