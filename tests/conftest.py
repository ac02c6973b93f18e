"""Fixtures and settings shared by the test modules."""

import os
import sys

import pytest
import torch

# as the xaiexit command does (xaiexit/course/cli.py): nbformat's jsonschema goes without its
# optional IRI format checker, whose import costs 1.4 s in every test process
sys.modules.setdefault("rfc3987_syntax", None)


def pytest_configure(config):
    """Under pytest-xdist (``make test``: one worker per core), each worker and everything it
    starts (kernels, commands) computes on one thread, so the workers do not fight over cores."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module: the hidden tests' inputs are tiny, and threads only add
    overhead (a lot of it on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
