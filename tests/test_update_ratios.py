"""update:data from the change the optimizer really made (nbdiag.update_ratios), as a watch records it."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch_models import batches, small_mlp

from nbdiag.watch import watch


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda ps: torch.optim.Adam(ps, lr=1e-3),
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9),
    ],
    ids=["adam", "sgd-momentum"],
)
def test_update_ratio_is_the_actual_change(make_optimizer):
    model = small_mlp()
    opt = make_optimizer(model.parameters())
    params = list(model.parameters())
    lr = opt.param_groups[0]["lr"]
    expected, lr_times_grad = [], []
    with watch(model) as rec:
        for x, y in batches(70):  # past two batches of update:data computed together, and the first 64-step buffer
            before = [p.detach().clone() for p in params]
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            rec.step(loss)
            expected.append(
                [((p.detach() - b).std() / p.detach().std()).log10().item() for p, b in zip(params, before)]
            )
            lr_times_grad.append([((lr * p.grad).std() / p.detach().std()).log10().item() for p in params])
    torch.testing.assert_close(rec.update_ratios, torch.tensor(expected), rtol=0, atol=1e-5)
    # later steps of Adam and momentum are not lr * grad: the records must not be either
    assert not torch.allclose(rec.update_ratios[1:], torch.tensor(lr_times_grad)[1:], atol=0.1)


@pytest.mark.parametrize("transposed", [False, True])
def test_update_ratios_follow_parameters_whose_data_is_replaced(transposed):
    """update:data reads the parameters through views; a parameter given new data (p.data = ..., as
    torch.nn.utils.vector_to_parameters does) or stored transposed is read afresh."""
    model = small_mlp(width=8, depth=1)
    if transposed:
        model[0].weight = nn.Parameter(torch.randn(20, 8).t())  # not contiguous: no view of it
    params = list(model.parameters())
    expected = []
    with watch(model) as rec:
        for i, (x, y) in enumerate(batches(4)):
            before = [p.detach().clone() for p in params]
            loss = F.cross_entropy(model(x), y)
            model.zero_grad()
            loss.backward()
            with torch.no_grad():
                vector = torch.cat([p.reshape(-1) for p in params])
                grads = torch.cat([p.grad.reshape(-1) for p in params])
                if i % 2:
                    torch.nn.utils.vector_to_parameters(vector - 0.1 * grads, params)  # new data
                else:
                    for p in params:
                        p -= 0.1 * p.grad
            rec.step(loss)
            expected.append(
                [((p.detach() - b).std() / p.detach().std()).log10().item() for p, b in zip(params, before)]
            )
    torch.testing.assert_close(rec.update_ratios, torch.tensor(expected), rtol=0, atol=1e-5)


def test_a_big_model_batches_fewer_steps_so_its_copies_stay_within_copy_numbers():
    from nbdiag.update_ratios import BATCH_STEPS, COPY_NUMBERS, UpdateRatios

    small = UpdateRatios([torch.zeros(10, 10), torch.zeros(10)])
    assert small._copies.shape == (BATCH_STEPS + 1, 110)
    big = UpdateRatios([torch.zeros(COPY_NUMBERS // 4)])
    assert big._copies.shape == (4, COPY_NUMBERS // 4) and big._copies.numel() <= COPY_NUMBERS
    huge = UpdateRatios([torch.zeros(COPY_NUMBERS)])
    assert huge._copies.shape[0] == 2  # two copies of a model bigger than the budget: before and after a step
