"""What a run leaves: train's Run and watch's Recording both are a RunRecord, with the documented types."""

import dataclasses
import typing

import torch
from torch_models import small_mlp, train_watched

from nbdiag import Config, train
from nbdiag.records import LayerRecord, ParamRecord, RunRecord
from nbdiag.snapshots import Snapshots


def check_record(run, config_type):
    assert isinstance(run, RunRecord)
    assert isinstance(run.config, config_type)
    assert run.lr is None or isinstance(run.lr, float)
    assert run.saturation_threshold is None or isinstance(run.saturation_threshold, float)
    assert isinstance(run.losses, torch.Tensor) and run.losses.shape == (run.steps_done,)
    assert run.update_ratios.shape == (run.steps_done, len(run.params))
    assert run.layers and all(isinstance(l, LayerRecord) for l in run.layers)
    assert isinstance(run.watched, tuple) and all(isinstance(i, int) for i in run.watched)
    assert {l.index for l in run.layers} >= set(run.watched)
    assert run.params and all(isinstance(p, ParamRecord) for p in run.params)
    assert all(p.data.shape == p.shape and p.grad.shape == p.shape for p in run.params)
    assert isinstance(run.snapshots, Snapshots)
    assert run.diverged_at is None and run.diverging_from is None
    assert isinstance(run.steps_done, int) and isinstance(run.status, str)


def test_a_train_run_is_a_run_record(dataset):
    check_record(train(Config(steps=3), dataset, snapshots=1), Config)


def test_a_watch_recording_is_a_run_record():
    check_record(train_watched(small_mlp(), 3, lr=0.1, saturation_threshold=0.5, snapshots=1), type(None))


def test_the_protocol_names_every_field_the_diagnostics_read():
    hints = typing.get_type_hints(RunRecord, localns={"Snapshots": Snapshots})  # typing-only in records
    assert set(hints) == {
        "config", "lr", "saturation_threshold", "losses", "update_ratios", "layers", "watched", "params",
        "snapshots", "diverged_at", "diverging_from", "steps_done", "status",
    }  # fmt: skip
    assert hints["config"] == Config | None and hints["layers"] == list[LayerRecord]


def test_layer_and_param_records_hold_a_tensor_its_gradient_and_a_name(dataset):
    assert [f.name for f in dataclasses.fields(LayerRecord)] == ["index", "kind", "out", "grad", "name", "input"]
    assert [f.name for f in dataclasses.fields(ParamRecord)] == ["index", "shape", "data", "grad", "name"]
    run = train(Config(), dataset)
    first = run.layers[0]
    assert (first.index, first.kind, first.name) == (0, "Linear", "") and first.grad.shape == first.out.shape
    assert run.params[0].shape == (27, 10) and run.params[0].name == ""
    rec = train_watched(small_mlp(), 2)
    assert rec.layers[0].name == "1" and rec.params[0].name == "0.weight"
