import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if "NBDIAG_DATA_DIR" not in os.environ and (SHARED_DATA / "names.txt").is_file():
    os.environ["NBDIAG_DATA_DIR"] = str(SHARED_DATA)


@pytest.fixture(scope="session")
def dataset():
    from nbdiag import load_dataset

    return load_dataset()


@pytest.fixture(scope="session")
def run(dataset):
    """The lesson's network after 50 steps."""
    from nbdiag import Config, train

    return train(Config(steps=50), dataset)


@pytest.fixture(scope="session")
def diverged(dataset):
    """A linear sandwich at lr 1000: its loss becomes inf within 30 steps."""
    from nbdiag import Config, train

    return train(Config(lr=1000, activation="linear", steps=30), dataset)


@pytest.fixture(scope="session")
def snapshot_run(dataset):
    """The lesson's network after 200 steps, with a snapshot every 25."""
    from nbdiag import Config, train

    return train(Config(steps=200), dataset, progress=False, snapshots=25)


@pytest.fixture
def trained(monkeypatch):
    """Records the config of every training run that sessions (and so dashboards) start."""
    import nbdiag.session
    from nbdiag import train

    configs = []

    def recording_train(config, dataset=None, progress=None, **options):
        configs.append(config)
        return train(config, dataset, progress, **options)

    monkeypatch.setattr(nbdiag.session, "train", recording_train)
    return configs


@pytest.fixture
def ipympl_backend():
    """matplotlib on the lessons' backend, ipympl, for one test."""
    import matplotlib.pyplot as plt

    before = plt.get_backend()
    plt.switch_backend("module://ipympl.backend_nbagg")
    yield
    plt.switch_backend(before)


ROOT = Path(__file__).resolve().parents[1]


class Kernel:
    """A real IPython kernel running this repository's nbdiag, driven as a page would drive it."""

    def __init__(self, client):
        self.client = client

    def run(self, code, timeout=120):
        """Run `code`; what it printed (stripped), or an AssertionError with its traceback."""
        msg_id, out = self.client.execute(code), []
        while True:
            msg = self.client.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out).strip()


@pytest.fixture
def kernel():
    """A Kernel, shut down after the test."""
    from jupyter_client.manager import start_new_kernel

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(ROOT), env=env)
    yield Kernel(client)
    client.stop_channels()
    manager.shutdown_kernel(now=True)


@pytest.fixture
def in_a_kernel(monkeypatch):
    """The widgets see a Jupyter kernel's shell, as their callbacks in a notebook do: with an event loop running
    (asyncio.run), a change waits for the kernel's next turn."""
    import types

    import nbdiag.widgets.schedule

    monkeypatch.setattr(nbdiag.widgets.schedule, "get_ipython", lambda: types.SimpleNamespace(kernel=object()))
