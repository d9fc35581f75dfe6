"""The widgets' state: a config and the run it gives, with requests that merge so stale values never run."""

import pytest

import nbdiag.records
import nbdiag.session
from nbdiag import Config, ConfigError, train
from nbdiag.session import Session
from nbdiag.stats import tables

GAIN_3_LAYER_1 = "layer 1 (      Tanh): mean -0.03, std 0.85, saturated: 47.66%"


def test_a_new_session_runs_the_lesson_config(dataset):
    session = Session(dataset=dataset)
    assert session.config == Config()
    assert session.pending is None
    assert tables(session.run) == tables(train(Config(), dataset))


def test_update_reruns_with_the_change(dataset):
    session = Session(dataset=dataset)
    run = session.update(gain=3)
    assert run is session.run and session.config.gain == 3.0
    assert GAIN_3_LAYER_1 in tables(session.run)


@pytest.mark.parametrize(
    "changes, option",
    [
        (dict(gain=-1), "gain"),
        (dict(gain=0), "gain"),
        (dict(lr=float("nan")), "lr"),
        (dict(lr=0), "lr"),
        (dict(steps=0), "steps"),
        (dict(depth=2.5), "depth"),
        (dict(n_hidden=0), "n_hidden"),
        (dict(seed=-1), "seed"),
        (dict(batchnorm="yes"), "batchnorm"),
        (dict(residual=1), "residual"),
        (dict(activation="swish"), "activation"),
        (dict(optimizer="Adam"), "optimizer"),
        (dict(bogus=1), "bogus"),
    ],
)
def test_invalid_values_are_rejected_naming_the_option(dataset, changes, option):
    session = Session(dataset=dataset)
    config, run = session.config, session.run
    with pytest.raises(ConfigError, match=option):
        session.update(**changes)
    with pytest.raises(ConfigError, match=option):
        session.request(**changes)
    assert session.config is config and session.run is run and session.pending is None


def test_requests_merge_and_only_the_latest_runs(dataset, trained):
    session = Session(dataset=dataset)
    trained.clear()
    session.request(gain=0.5)
    session.request(gain=1)
    session.request(batchnorm=True)
    assert session.request(gain=3) == Config(gain=3, batchnorm=True)
    assert trained == []  # a request runs nothing by itself
    run = session.run_pending()
    assert trained == [Config(gain=3, batchnorm=True)]  # one run, of the latest values; 0.5 and 1 never ran
    assert run.config == session.config == Config(gain=3, batchnorm=True)
    assert session.run_pending() is None and len(trained) == 1


def test_requesting_back_the_current_config_runs_nothing(dataset, trained):
    session = Session(dataset=dataset)
    trained.clear()
    session.request(gain=3)
    assert session.request(gain=5 / 3) is None
    assert session.run_pending() is None and trained == []
    assert session.update(gain=5 / 3) is session.run and trained == []


def test_a_failed_run_keeps_the_request_for_the_next_change(dataset, monkeypatch):
    session = Session(dataset=dataset)
    config = session.config

    def failing_train(config, dataset=None, progress=None, **options):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(nbdiag.session, "train", failing_train)
    with pytest.raises(RuntimeError, match="out of memory"):
        session.update(gain=3)
    assert session.config is config and session.pending == Config(gain=3)
    monkeypatch.undo()
    session.update(batchnorm=True)
    assert session.config == Config(gain=3, batchnorm=True)


def test_going_back_to_a_recent_config_trains_nothing(dataset, monkeypatch):
    session = Session(dataset=dataset)
    first = session.run
    session.update(gain=3)
    trained = []
    monkeypatch.setattr(nbdiag.session, "train", lambda *args, **kwargs: trained.append(args) or train(*args))
    assert session.update(gain=5 / 3) is first  # the very run shown before: nothing trained
    assert session.update(gain=3).config.gain == 3.0 and trained == []
    session.update(gain=2)
    assert len(trained) == 1 and GAIN_3_LAYER_1 not in tables(session.run)


def test_the_cache_keeps_the_most_recent_runs_within_its_bytes(dataset):
    one = nbdiag.records.nbytes(train(Config(), dataset))
    cache = nbdiag.session.RunCache(max_bytes=int(2.5 * one))  # room for two runs of this size
    runs = [train(Config(gain=gain), dataset) for gain in (1, 2, 3)]
    for run in runs:
        cache.add(run)
    assert cache.get(Config(gain=1)) is None  # the oldest went first
    assert cache.get(Config(gain=2)) is runs[1] and cache.get(Config(gain=3)) is runs[2]
    assert cache.bytes == 2 * one <= cache.max_bytes
    cache.get(Config(gain=2))  # now the most recent: the next run drops gain 3 instead
    cache.add(train(Config(gain=4), dataset))
    assert cache.get(Config(gain=3)) is None and cache.get(Config(gain=2)) is runs[1]
    assert nbdiag.session.RunCache(max_bytes=one - 1).add(runs[0]) is None  # a run beyond the bound is not kept


def test_a_runs_bytes_count_its_tensors_and_snapshots(dataset):
    plain = train(Config(steps=20), dataset)
    kept = train(Config(steps=20), dataset, snapshots=5)
    layer = plain.layers[0]
    assert nbdiag.records.nbytes(plain) > layer.out.numel() * layer.out.element_size() * len(plain.layers)
    assert nbdiag.records.nbytes(kept) == nbdiag.records.nbytes(plain) + 8 * kept.snapshots.numbers()
