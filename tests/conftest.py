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
