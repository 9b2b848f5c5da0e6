"""calolab.reco.models: every network's output shapes on two detector shapes, heads, losses, registry errors."""

from __future__ import annotations

import pytest
import torch

from calolab.errors import ConfigError
from calolab.reco.models import InputShapes, get_model, heads_for_task, list_models, multitask_loss
from calolab.reco.models.heads import LossWeights, photon_pair_loss, squared_error

# a cms-like crystal matrix (1 layer) and a small two-section sampling calorimeter
SHAPES = [InputShapes({"ECAL": (1, 11, 11)}, 1), InputShapes({"ECAL": (8, 12, 12), "HCAL": (6, 5, 5)}, 4)]
SMALL = {"width": 4, "dropout": 0.0}


@pytest.mark.parametrize("shapes", SHAPES, ids=["cms", "two-sections"])
@pytest.mark.parametrize("name", list_models())
def test_forward_shapes(name, shapes):
    torch.manual_seed(0)
    net = get_model(name, SMALL, shapes, heads_for_task("pid+energy", 3))
    cells = {section: torch.rand(5, 1, *shape) for section, shape in shapes.sections.items()}
    out = net(cells, torch.randn(5, shapes.n_scalars))
    assert set(out) == {"logits", "energy"}
    assert out["logits"].shape == (5, 3) and out["energy"].shape == (5,)
    assert torch.isfinite(out["energy"]).all()


@pytest.mark.parametrize(("task", "keys"), [("position", {"position": (2, 2)}), ("cluster", {"position": (2, 2),
                         "energy": (2,)}), ("overlap", {"photons": (2, 2, 3)}), ("pid", {"logits": (2, 4)})])
def test_heads_of_each_task(task, keys):
    shapes = InputShapes({"ECAL": (1, 5, 5)}, 3)
    net = get_model("cluster" if task != "overlap" else "overlap", SMALL, shapes, heads_for_task(task, 4))
    out = net({"ECAL": torch.rand(2, 1, 1, 5, 5)}, torch.randn(2, 3))
    assert {key: tuple(value.shape) for key, value in out.items()} == keys


def test_scalars_reach_the_last_layer():
    """The total energy skips into the heads: changing only the scalars changes the energy output."""
    torch.manual_seed(1)
    net = get_model("cnn", SMALL, SHAPES[0], heads_for_task("energy", 0)).eval()
    cells = {"ECAL": torch.rand(1, 1, 1, 11, 11)}
    a, b = net(cells, torch.zeros(1, 1))["energy"], net(cells, torch.ones(1, 1))["energy"]
    assert not torch.allclose(a, b)


def test_photon_pair_loss_is_permutation_invariant():
    target = torch.tensor([[[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]]])
    assert photon_pair_loss(target.flip(1), target).item() == 0.0
    assert photon_pair_loss(target + 1.0, target).item() == pytest.approx(1.0)


def test_photon_pair_loss_weights_positions_against_energies():
    target = torch.zeros(1, 2, 3)
    position_off = target.clone()
    position_off[0, 0, 0] = 1.0  # one x wrong by 1: 1/6 of the elements
    energy_off = target.clone()
    energy_off[0, 1, 2] = 1.0  # one E wrong by 1
    # weights (10, 10, 1) -> (30, 30, 3) / 21 per element
    assert photon_pair_loss(position_off, target, 10.0, 1.0).item() == pytest.approx(30 / 21 / 6)
    assert photon_pair_loss(energy_off, target, 10.0, 1.0).item() == pytest.approx(3 / 21 / 6)
    assert photon_pair_loss(position_off, target).item() == pytest.approx(1 / 6)  # equal weights: plain MSE
    # the ordering follows the weighted error: swapping the photons costs the smaller weighted sum
    predicted = torch.tensor([[[0.0, 0.0, 1.0], [2.0, 0.0, 0.0]]])
    truth = torch.tensor([[[0.0, 0.0, 0.0], [2.0, 0.0, 1.0]]])  # right positions, energies swapped
    assert photon_pair_loss(predicted, truth, 10.0, 1.0).item() == pytest.approx(2 * 3 / 21 / 6)


def test_multitask_loss_weights_and_unknown_labels():
    outputs = {"logits": torch.tensor([[2.0, 0.0], [0.0, 2.0]]), "energy": torch.tensor([1.0, 1.0])}
    batch = {"label": torch.tensor([0, -1]), "energy": torch.tensor([0.0, 0.0])}
    total, parts = multitask_loss(outputs, batch, LossWeights(pid=0.0, energy=2.0))
    assert parts["energy"].item() == pytest.approx(1.0)
    assert parts["pid"].item() == pytest.approx(torch.log(1 + torch.exp(torch.tensor(-2.0))).item())  # label -1 ignored
    assert total.item() == pytest.approx(2.0)


def test_huber_form_is_square_in_the_core_and_linear_in_the_tails():
    target = torch.zeros(4)
    predicted = torch.tensor([0.02, -0.05, 0.5, -3.0])
    # delta 0.05: 0.02^2 and 0.05^2 unchanged; beyond, 2 * 0.05 * |e| - 0.05^2
    expected = torch.tensor([0.0004, 0.0025, 0.1 * 0.5 - 0.0025, 0.1 * 3.0 - 0.0025])
    torch.testing.assert_close(squared_error(predicted, target, 0.05), expected)
    torch.testing.assert_close(squared_error(predicted, target), predicted ** 2)
    outputs, batch = {"position": torch.tensor([[3.0, 0.0]])}, {"position": torch.zeros(1, 2)}
    _, mse = multitask_loss(outputs, batch, LossWeights())
    _, huber = multitask_loss(outputs, batch, LossWeights(), huber_delta=0.1)
    assert mse["position"].item() == pytest.approx(4.5) and huber["position"].item() == pytest.approx((0.6 - 0.01) / 2)
    # the pair loss: one photon 2 off in x, delta 0.5 -> (2 * 0.5 * 2 - 0.25) / 6 elements
    pair = torch.zeros(1, 2, 3)
    off = pair.clone()
    off[0, 0, 0] = 2.0
    assert photon_pair_loss(off, pair, huber_delta=0.5).item() == pytest.approx(1.75 / 6)


def test_registry_errors_name_the_choices():
    with pytest.raises(ConfigError, match="choose one of"):
        get_model("resnet", None, SHAPES[0], heads_for_task("energy", 0))
    with pytest.raises(ConfigError, match="width"):
        get_model("cnn", {"width": 0}, SHAPES[0], heads_for_task("energy", 0))
    with pytest.raises(ConfigError, match="channels"):
        get_model("dnn", {"channels": 3}, SHAPES[0], heads_for_task("energy", 0))
    assert get_model("cnn3d", SMALL, SHAPES[0], heads_for_task("energy", 0)) is not None  # alias
