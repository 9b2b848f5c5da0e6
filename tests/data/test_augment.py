"""Symmetry augmentation: cells, positions and absolute-position inputs move together; only training changes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from calolab.data.augment import GridSymmetry, check_augmentation
from calolab.data.torch import DataConfig, ShowerArrays, ShowerDataModule
from calolab.errors import ConfigError

PITCH = 10.0  # mm


def _one_hot_events(n: int, size: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Cells ``(n, 1, 2, size, size)`` with one hot cell per layer (both layers alike) and its centre (mm)."""
    rng = np.random.default_rng(seed)
    iy, ix = rng.integers(0, size, n), rng.integers(0, size, n)
    cells = torch.zeros(n, 1, 2, size, size)
    cells[torch.arange(n), 0, :, torch.from_numpy(iy), torch.from_numpy(ix)] = 1.0
    centre = (size - 1) / 2
    xy = torch.from_numpy(np.stack([(ix - centre) * PITCH, (iy - centre) * PITCH], axis=1)).float()
    return cells, xy


def _hot_centre(cells: torch.Tensor) -> torch.Tensor:
    """Centre (mm) of each event's hot cell in the first layer."""
    n, size = cells.shape[0], cells.shape[-1]
    flat = cells[:, 0, 0].reshape(n, -1).argmax(dim=1)
    iy, ix = flat // size, flat % size
    centre = (size - 1) / 2
    return torch.stack([(ix - centre) * PITCH, (iy - centre) * PITCH], dim=1).float()


@pytest.mark.parametrize("augment", ["flips", "dihedral"])
def test_cells_targets_and_position_inputs_move_together(augment: str) -> None:
    cells, xy = _one_hot_events(400)
    scalars = torch.cat([torch.full((400, 1), 7.0), xy + 3.0], dim=1)  # a total, then the seed x, y
    share = torch.full((400, 1), 0.7)
    photons = torch.stack([torch.cat([xy, share], 1), torch.cat([-xy, 1 - share], 1)], 1)
    symmetry = GridSymmetry(augment, position_columns=(1, 2), seed=4)
    moved_cells, moved_scalars, targets = symmetry({"ECAL": cells}, scalars, {"position": xy, "photons": photons})
    new = moved_cells["ECAL"]
    assert torch.equal(new[:, 0, 0], new[:, 0, 1])  # every layer gets the same image
    assert torch.allclose(_hot_centre(new), targets["position"])  # the truth follows the hot cell
    assert torch.allclose(targets["photons"][:, 0, :2], targets["position"])
    assert torch.allclose(targets["photons"][:, 1, :2], -targets["position"])
    assert torch.equal(targets["photons"][..., 2], photons[..., 2])  # energies unchanged
    assert torch.equal(moved_scalars[:, 0], scalars[:, 0])
    # the seed position is mirrored with the event: (x + 3, y + 3) -> the image of the point (x + 3, y + 3)
    assert torch.allclose(moved_scalars[:, 1:], GridSymmetry.points(xy + 3.0, symmetry_draws(symmetry, 400, 4)))
    assert not torch.equal(new, cells) and torch.equal(xy, _hot_centre(cells))  # inputs untouched


def symmetry_draws(symmetry: GridSymmetry, n: int, seed: int) -> torch.Tensor:
    """The draws a fresh GridSymmetry of the same seed makes first."""
    return GridSymmetry("dihedral" if symmetry.swap else "flips", seed=seed).draw(n)


def test_dihedral_reaches_all_eight_images_and_flips_four() -> None:
    cells = torch.zeros(1, 1, 1, 5, 5)
    cells[0, 0, 0, 0, 1] = 1.0  # (iy, ix) = (0, 1): off every symmetry axis, so the 8 images differ
    for augment, expected in (("flips", 4), ("dihedral", 8)):
        symmetry = GridSymmetry(augment, seed=1)
        images = {tuple(symmetry.cells(cells.expand(64, -1, -1, -1, -1), symmetry.draw(64))[i].flatten().nonzero()
                        .flatten().tolist()) for i in range(64)}
        assert len(images) == expected


def test_bad_augmentation_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="unknown"):
        check_augmentation("rotate", {"ECAL": (1, 5, 5)}, 5)
    with pytest.raises(ConfigError, match="odd --window"):
        check_augmentation("flips", {"ECAL": (1, 4, 4)}, 4)
    with pytest.raises(ConfigError, match="use augment 'flips'"):
        check_augmentation("dihedral", {"ECAL": (3, 4, 6)}, None)
    with pytest.raises(ConfigError, match="10 x 20 mm"):
        check_augmentation("dihedral", {"ECAL": (3, 5, 5)}, 5, {"ECAL": (10.0, 20.0)})
    check_augmentation("flips", {"ECAL": (3, 4, 6)}, None)  # flips need no square
    check_augmentation("dihedral", {"ECAL": (3, 5, 5)}, 5, {"ECAL": (22.0, 22.0)})


def _window_arrays(n: int) -> ShowerArrays:
    cells, xy = _one_hot_events(n, seed=2)
    truth = {"energy": np.full(n, 5e3), "pdg": np.full(n, 22, dtype=np.int32), "position": xy.numpy().astype(float),
             "theta": np.zeros(n), "photon_position": np.full((n, 2, 2), np.nan),
             "photon_energy": np.full((n, 2), np.nan)}
    cells_np = cells[:, 0].numpy()
    return ShowerArrays({"ECAL": cells_np}, cells_np.sum(axis=(1, 2, 3))[:, None], np.zeros((n, 2)), truth,
                        {"ECAL": (PITCH, PITCH)})


def test_only_the_training_split_is_mirrored_and_standardisation_holds() -> None:
    arrays = _window_arrays(300)
    plain = ShowerDataModule(arrays=arrays, config=DataConfig(), seed=3)
    mirrored = ShowerDataModule(arrays=arrays, config=DataConfig(), seed=3, augment="dihedral")
    for split in ("val", "test"):
        a = plain.dataset(split)[np.arange(20)]
        b = mirrored.dataset(split)[np.arange(20)]
        assert torch.equal(a["cells"]["ECAL"], b["cells"]["ECAL"]) and torch.equal(a["position"], b["position"])
    batch = mirrored.dataset("train")[np.arange(len(mirrored.train_index))]
    standardizer = mirrored.standardizer
    position = standardizer.inverse("position", batch["position"].numpy())
    assert np.allclose(_hot_centre(batch["cells"]["ECAL"]).numpy(), position, atol=1e-4)
    reference = plain.dataset("train")[np.arange(len(plain.train_index))]
    assert not torch.equal(batch["cells"]["ECAL"], reference["cells"]["ECAL"])
    assert torch.allclose(batch["scalars"], reference["scalars"])  # the totals do not move
