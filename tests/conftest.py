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
