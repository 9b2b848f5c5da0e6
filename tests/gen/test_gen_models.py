"""Shapes and forward passes of the GAN and the flow; the flow's transforms invert."""

from __future__ import annotations

import math
from typing import cast

import numpy as np
import pytest
import torch
from gen_fixtures import TINY_FLOW, TINY_GAN, toy_arrays

from calolab.errors import ConfigError
from calolab.gen.models import CaloFlow, Discriminator, FlowConfig, GanConfig, Generator, gan3d, model_config
from calolab.gen.models.energy_flow import MAF, LayerEnergyFlow, largest
from calolab.gen.models.flow import CouplingFlow, _choose_hits
from calolab.gen.models.gan3d import upsampling_plan


@pytest.mark.parametrize("shape", [(12, 25, 25), (5, 9, 7), (1, 3, 3)])
def test_gan_shapes_adapt_to_the_section(shape: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    config = GanConfig.model_validate(TINY_GAN)
    generator, discriminator = Generator(shape, 4, config), Discriminator(shape, 2, config)
    cells = generator(torch.randn(3, config.latent), torch.rand(3, 4), torch.rand(3))
    assert cells.shape == (3, 1, *shape)
    assert bool((cells >= 0).all())  # ReLU output: non-negative transformed cells
    out = discriminator(cells, torch.rand(3))
    assert out["logit"].shape == (3,) and out["energy"].shape == (3,) and out["angle"].shape == (3,)
    assert out["class_logits"].shape == (3, 2)


@pytest.mark.parametrize("scaled_latent", [True, False])
def test_the_latent_is_scaled_by_the_incident_energy_only_with_scaled_latent(scaled_latent: bool) -> None:
    """3DGAN multiplies the latent by E_inc / E_max: at a fraction of 0 the latent is then ignored, at 1 it is
    the latent itself; without the scaling the latent counts the same at every energy."""
    torch.manual_seed(0)
    generator = Generator((5, 9, 7), 4, GanConfig.model_validate({**TINY_GAN, "scaled_latent": scaled_latent}))
    _randomise(generator)
    conditions, z = torch.rand(1, 4).expand(2, 4), torch.randn(2, generator.latent)
    for fraction in (0.0, 1.0):
        cells = generator(z, conditions, torch.full((2,), fraction))
        assert torch.equal(cells[0], cells[1]) == (scaled_latent and fraction == 0.0)
    unscaled = Generator((5, 9, 7), 4, GanConfig.model_validate({**TINY_GAN, "scaled_latent": False}))
    unscaled.load_state_dict(generator.state_dict())
    torch.testing.assert_close(generator(z, conditions, torch.ones(2)), unscaled(z, conditions, torch.ones(2)))


def test_spectral_norm_bounds_each_discriminator_layer_to_a_slope_of_one() -> None:
    torch.manual_seed(0)
    shape = (5, 9, 7)
    plain = Discriminator(shape, 1, GanConfig.model_validate({**TINY_GAN, "spectral_norm": False}))
    normed = Discriminator(shape, 1, GanConfig.model_validate(TINY_GAN))  # the default
    cells = torch.rand(4, 1, *shape)
    for _ in range(30):  # training-mode calls run the power iteration that estimates each largest singular value
        normed(cells, torch.rand(4))
    normed.eval()
    layers = [m for m in [*normed.body, *normed.dense, normed.real_fake]
              if isinstance(m, torch.nn.Conv3d | torch.nn.Linear)]
    assert len(layers) == 5
    for layer in layers:  # Miyato et al. 2018: W / sigma(W), sigma the largest singular value of W as a matrix
        sigma = torch.linalg.matrix_norm(layer.weight.detach().reshape(layer.weight.shape[0], -1), ord=2)
        assert float(sigma) == pytest.approx(1.0, abs=0.05)
    assert not hasattr(plain.real_fake, "parametrizations")  # 3DGAN's discriminator has none
    assert normed.energy.weight.requires_grad and not hasattr(normed.energy, "parametrizations")  # heads free


def test_upsampling_plan_pads_to_multiples() -> None:
    assert upsampling_plan((12, 25, 25)) == ((2, 2, 2), (12, 28, 28))
    assert upsampling_plan((5, 9, 7)) == ((0, 1, 1), (5, 10, 8))


def test_flow_log_prob_and_samples() -> None:
    torch.manual_seed(0)
    shape = (4, 5, 5)
    flow = CaloFlow(shape, 3, FlowConfig.model_validate(TINY_FLOW))
    cells = torch.rand(6, *shape) * 50 * (torch.rand(6, *shape) < 0.5)
    energy = torch.full((6,), 1000.0)
    flow.fit_preprocessing(cells, energy)
    log_energy, log_shape = flow.log_prob(cells, torch.rand(6, 3), energy)
    assert log_energy.shape == (6,) and log_shape.shape == (6,)
    assert torch.isfinite(log_energy).all() and torch.isfinite(log_shape).all()
    samples = flow.sample(torch.rand(6, 3), energy, torch.Generator().manual_seed(1))
    assert samples.shape == (6, *shape) and bool((samples >= 0).all())
    again = flow.sample(torch.rand(6, 3) * 0 + 0.5, energy, torch.Generator().manual_seed(1))
    assert torch.equal(again, flow.sample(torch.full((6, 3), 0.5), energy, torch.Generator().manual_seed(1)))


def _randomise(module: torch.nn.Module) -> None:
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_(0, 0.3)


def test_coupling_flow_inverts() -> None:
    torch.manual_seed(0)
    flow = CouplingFlow((3, 4), 2, couplings=4, hidden=8, clamp=3.0)
    _randomise(flow)
    context = torch.rand(5, 2)
    z = torch.randn(5, 12)
    x = z
    for coupling in reversed(flow.couplings):
        x = coupling.inverse(x, context)
    back = x
    for coupling in flow.couplings:
        back, _ = coupling(back, context)
    torch.testing.assert_close(back, z, atol=1e-5, rtol=1e-5)


def test_maf_sample_is_the_inverse_of_its_density_transform() -> None:
    torch.manual_seed(0)
    maf = MAF(5, 2, blocks=3, hidden=16)
    _randomise(maf)
    context = torch.rand(4, 2)
    y = maf.sample(context, torch.Generator().manual_seed(3))
    z = torch.randn(4, 5, generator=torch.Generator().manual_seed(3))
    # log_prob maps y back to z: its density equals the base density at z plus the log-determinant
    mapped = y
    for block in maf.blocks:
        shift, log_scale = block(mapped, context)
        mapped = ((mapped - shift) * torch.exp(-log_scale)).flip(1)
    torch.testing.assert_close(mapped, z, atol=1e-4, rtol=1e-4)
    assert np.isfinite(maf.log_prob(y, context).detach().numpy()).all()


def test_bad_model_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown generative model 'diffusion'"):
        model_config("diffusion")
    with pytest.raises(ConfigError, match="latnt"):
        model_config("gan", {"latnt": 3})


def test_deconv_equals_a_transposed_convolution_with_kernel_equal_to_stride() -> None:
    from calolab.gen.models.gan3d import Deconv

    torch.manual_seed(0)
    deconv = Deconv(3, 2, (2, 1, 2))
    reference = torch.nn.ConvTranspose3d(3, 2, kernel_size=(2, 1, 2), stride=(2, 1, 2))
    with torch.no_grad():  # Linear rows are (c_out, fd, fh, fw); ConvTranspose3d weights (c_in, c_out, fd, fh, fw)
        reference.weight.copy_(deconv.linear.weight.T.reshape(3, 2, 2, 1, 2))
        reference.bias.copy_(deconv.linear.bias.view(2, 4)[:, 0])
        deconv.linear.bias.copy_(reference.bias.repeat_interleave(4))
    x = torch.randn(2, 3, 3, 4, 5)
    torch.testing.assert_close(deconv(x), reference(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("shape", [(12, 25, 25), (5, 9, 7), (3, 4, 13)])
def test_generator_forward_equals_its_deconvolutions_in_sequence(shape: tuple[int, int, int]) -> None:
    """The fused forward (one voxel shuffle) computes exactly body(dense(...)), cropped."""
    from calolab.gen.models.gan3d import _crop

    torch.manual_seed(1)
    generator = Generator(shape, 3, GanConfig(latent=8, gen_channels=(6, 4), energy_flow=False))
    with torch.no_grad():  # undo the small start of the output layer, so that most cells are non-zero
        generator.body[2].linear.weight.normal_()
        generator.body[2].linear.bias.uniform_(-0.5, 1.0)
    z, conditions, fraction = torch.randn(4, 8), torch.randn(4, 3), torch.rand(4)
    h = torch.cat([z * fraction[:, None], conditions], dim=1)
    reference = _crop(generator.body(generator.dense(h).view(4, 6, *generator.coarse)), shape)
    fused = generator(z, conditions, fraction)
    assert fused.shape == (4, 1, *shape)
    assert 0.2 < (reference > 0).float().mean() < 1.0
    torch.testing.assert_close(fused, reference, atol=1e-6, rtol=1e-5)


def test_generator_bfloat16_hidden_layers_stay_close_and_give_float32_cells_without_steps() -> None:
    torch.manual_seed(2)
    generator = Generator((12, 25, 25), 3, GanConfig(energy_flow=False))
    with torch.no_grad():
        generator.body[2].linear.weight.normal_(0.0, 0.1)
        generator.body[2].linear.bias.uniform_(0.0, 1.0)
    z, conditions, fraction = torch.randn(8, 64), torch.rand(8, 3), torch.rand(8)
    with torch.no_grad():
        exact = generator.columns(z, conditions, fraction)
        fast = generator.columns(z, conditions, fraction, hidden_dtype=torch.bfloat16)
    assert fast.dtype == torch.float32 and fast.shape == (12 * 25 * 25, 8)
    # bfloat16 keeps 8 bits of mantissa: the hidden activations are good to ~0.4%, the cells to about as much
    torch.testing.assert_close(fast, exact, atol=0.02 * float(exact.abs().max()), rtol=0)
    assert not torch.equal(fast, exact)
    on = exact > 0.1 * exact.max()
    # the last layer runs in float32: as many distinct cell values as float32 gives, not bfloat16's 256 per octave
    assert fast[on].unique().numel() > 0.9 * exact[on].unique().numel()
    with torch.no_grad():  # the cached bfloat16 weights follow a change of the weights
        generator.dense[0].weight.mul_(2.0)
        moved = generator.columns(z, conditions, fraction, hidden_dtype=torch.bfloat16)
        torch.testing.assert_close(moved, generator.columns(z, conditions, fraction),
                                   atol=0.04 * float(exact.abs().max()), rtol=0)
    assert not torch.allclose(moved, fast)


@pytest.mark.parametrize("energy_flow", [False, True])
def test_generator_columns_in_reused_buffers_equal_fresh_ones_call_after_call(energy_flow: bool) -> None:
    """Sampling's ``reuse_buffers`` gives the same cells as new tensors, in float32 and bfloat16, for blocks of
    several sizes one after the other (the buffers are made anew when a block's size changes), and reuses the
    same memory for blocks of one size."""
    torch.manual_seed(3)
    generator = Generator((6, 9, 9), 3, GanConfig(latent=8, gen_channels=(6, 4), energy_flow=energy_flow))
    with torch.no_grad():
        generator.body[2].linear.weight.normal_(0.0, 0.3)
        generator.body[2].linear.bias.uniform_(-0.2, 1.0)
        extra = generator.layer_energies.dim if generator.layer_energies is not None else 0
        for dtype in (torch.float32, torch.bfloat16):
            for n in (5, 5, 3, 5):
                z, conditions, fraction = torch.randn(n, 8), torch.rand(n, 3 + extra), torch.rand(n)
                fresh = generator.columns(z, conditions, fraction, hidden_dtype=dtype)
                reused = generator.columns(z, conditions, fraction, hidden_dtype=dtype, reuse_buffers=True)
                assert torch.equal(reused, fresh)
                if not energy_flow:
                    assert 0.1 < float((fresh > 0).float().mean()) < 1.0
        again = generator.columns(z, conditions, fraction, hidden_dtype=torch.bfloat16, reuse_buffers=True)
        assert again.data_ptr() == reused.data_ptr()


def test_gaussianiser_maps_a_spiked_column_to_a_standard_normal_and_back() -> None:
    """A column like an empty-cell spike (75% of the mass in a narrow band) plus a broad continuum, and a
    lognormal one: the map gives mean 0 and variance 1, and the inverse returns the samples (up to
    rounding: both ways are one piecewise-linear map); standard-normal draws mapped back keep the spike's share."""
    from calolab.gen.models.flow import Gaussianiser

    rng = np.random.default_rng(0)
    n = 20_000
    spike = rng.random(n) < 0.75
    column = np.where(spike, -13.8 + 0.05 * rng.random(n), rng.uniform(-10.0, 0.0, n))
    x = torch.from_numpy(np.stack([column, rng.lognormal(0.0, 1.0, n)], axis=1).astype(np.float32))
    mapping = Gaussianiser(2, knots=512)
    mapping.fit(x)
    z = mapping(x)
    torch.testing.assert_close(z.mean(0), torch.zeros(2), atol=0.02, rtol=0)
    torch.testing.assert_close(z.std(0), torch.ones(2), atol=0.02, rtol=0)
    back = mapping.inverse(z)
    assert float((back[:, 0] - x[:, 0]).abs().max()) < 0.1  # one piecewise-linear map both ways: rounding only
    torch.testing.assert_close(back[:, 1], x[:, 1], atol=0.05, rtol=0.01)
    drawn = mapping.inverse(torch.randn(n, 2, generator=torch.Generator().manual_seed(1)))
    assert abs(float((drawn[:, 0] < -13.7).float().mean()) - 0.75) < 0.01  # binomial sigma 0.003
    assert float(drawn[:, 1].min()) >= float(x[:, 1].min())  # clamped to the fitted range


def test_gaussianiser_keeps_the_gap_above_a_spike_and_the_tail_of_a_column() -> None:
    """Standard-normal draws mapped back: with ``split`` at the gap between a spike (75%) and a continuum,
    almost none land in the gap (without it, the knot interval across the gap takes about 1% of the
    draws); and the 99.9% quantile of a long-tailed column is that of the sample (knots spread evenly
    in normal score, not in probability)."""
    from calolab.gen.models.flow import Gaussianiser

    rng = np.random.default_rng(0)
    n = 20_000
    spike = rng.random(n) < 0.75
    gapped = np.where(spike, -16.0 + rng.random(n), rng.uniform(-11.5, 0.0, n))  # the gap: -15 to -11.5
    x = torch.from_numpy(np.stack([gapped, rng.lognormal(0.0, 1.0, n)], axis=1).astype(np.float32))
    draws = torch.randn(200_000, 2, generator=torch.Generator().manual_seed(1))
    in_gap = {}
    for split in (None, -13.0):
        mapping = Gaussianiser(2, knots=256, split=split)
        mapping.fit(x)
        back = mapping.inverse(draws)
        in_gap[split] = float(((back[:, 0] > -14.99) & (back[:, 0] < -11.51)).float().mean())
        tail = float(back[:, 1].quantile(0.999))
        assert tail == pytest.approx(float(np.quantile(x[:, 1].numpy(), 0.999)), rel=0.15)  # sample error ~10%
    assert in_gap[None] > 0.004
    assert in_gap[-13.0] < 0.0005  # one sample's probability, 1/20000


def test_gaussianiser_without_knots_standardises() -> None:
    from calolab.gen.models.flow import Gaussianiser

    x = torch.tensor([[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]])
    mapping = Gaussianiser(2, knots=0)
    mapping.fit(x)
    torch.testing.assert_close(mapping(x), (x - x.mean(0)) / x.std(0))
    torch.testing.assert_close(mapping.inverse(mapping(x)), x)
    with pytest.raises(ConfigError, match="quantile_knots must be 0"):
        model_config("flow", {"quantile_knots": 1})


def test_flow_decoding_undoes_the_encoding_and_keeps_an_empty_layer_empty() -> None:
    """Cells -> the flow's coordinates (dequantised with cell_noise = 1 keV per cell) -> cells: hit cells
    come back to within that noise and the layer sums unbiased (decoding takes the noise's mean, 50 keV
    for 100 cells, off each layer); an empty layer stays empty even when the shape puts all of the
    layer's energy into one cell (as a flow's sample may)."""
    torch.manual_seed(0)
    cells = torch.rand(20, 4, 10, 10) * 50 * (torch.rand(20, 4, 10, 10) < 0.6)
    cells[0, 2] = 0.0
    energy = torch.full((20,), 5000.0)
    model = CaloFlow((4, 10, 10), 3, FlowConfig())
    u, x = model._encode(cells, energy, torch.Generator().manual_seed(1))
    x = x.view(20, 4, 100)
    back = model._decode(*model.energies.decode(u, energy), x)
    torch.testing.assert_close(back, cells, atol=0.01, rtol=1e-4)
    assert torch.equal(back > 0, cells > 0)
    bias = float((back.sum(dim=(2, 3)) - cells.sum(dim=(2, 3))).mean())
    assert abs(bias) < 0.003  # noise of a layer sum: 2.9 keV, over 80 layers; 50 keV if the mean stayed
    x[0, 2, 0] = 20.0  # one cell with all of the empty layer's share
    assert float(model._decode(*model.energies.decode(u, energy), x)[0, 2].sum()) == 0.0


def test_flow_hit_counts_are_energy_coordinates_and_decoding_keeps_that_many_largest_cells() -> None:
    """With hit_counts the energy coordinates end with each layer's number of hit cells plus [0, 1) noise;
    decoding keeps the floor(count) largest cells of a layer, whatever the shape coordinates say, and a
    count of zero empties the layer."""
    torch.manual_seed(0)
    cells = torch.rand(6, 3, 4, 4) * 20 * (torch.rand(6, 3, 4, 4) < 0.5)
    energy = torch.full((6,), 1000.0)
    model = CaloFlow((3, 4, 4), 3, FlowConfig())
    u, x = model._encode(cells, energy, torch.Generator().manual_seed(2))
    hits = (cells > 0).sum(dim=(2, 3))
    assert u.shape == (6, 6)
    assert torch.equal(u[:, 3:].floor().long(), hits)
    assert bool(((u[:, 3:] - hits) > 0).any())  # dequantised, not the integers
    u[0, 3 + 1], u[1, 3 + 2] = 2.5, 0.7  # event 0 keeps 2 cells of layer 1; event 1 none of layer 2
    back = model._decode(*model.energies.decode(u, energy), x)
    kept = back[0, 1].flatten() > 0
    assert int(kept.sum()) == 2
    assert set(kept.nonzero().flatten().tolist()) == set(cells[0, 1].flatten().topk(2).indices.tolist())
    assert float(back[1, 2].sum()) == 0.0
    torch.testing.assert_close(back[2:], cells[2:], atol=0.01, rtol=1e-4)  # the others come back


def test_sampling_chooses_the_count_cells_of_largest_margin_over_their_gap() -> None:
    """_choose_hits leaves exactly `count` cells of a layer above their empty-cell gap: those of largest
    margin z - gap. A chosen cell below its gap is mirrored across it (and decodes to a hit); an unchosen
    cell above it is emptied (decodes to zero)."""
    torch.manual_seed(0)
    cells = torch.rand(200, 2, 3, 3) * 20 * (torch.rand(200, 2, 3, 3) < 0.5)
    energy = torch.full((200,), 1000.0)
    flow = CaloFlow((2, 3, 3), 3, FlowConfig.model_validate(TINY_FLOW))
    flow.fit_preprocessing(cells, energy)
    gap = flow.shape_map.split_score().view(2, 9)
    margin = torch.tensor([[0.3, 0.2, -0.1, -0.2, -0.5, -0.6, -0.7, -0.8, -0.9],
                           [0.5, 0.4, 0.3, 0.2, 0.1, -0.1, -0.2, -0.3, -0.4]])
    z = _choose_hits(gap + margin, gap, torch.tensor([4, 2]))
    torch.testing.assert_close(z[0, :4], gap[0, :4] + margin[0, :4].abs())  # two kept, two mirrored up
    assert bool((z[0, 4:] == gap[0, 4:] + margin[0, 4:]).all())  # left in the spike
    torch.testing.assert_close(z[1, :2], gap[1, :2] + margin[1, :2])
    assert bool(torch.isneginf(z[1, 2:5]).all())  # above the gap but not chosen: emptied
    x = flow.shape_map.inverse(z.reshape(1, -1)).view(1, 2, 9)
    u = torch.tensor([[0.0] * 2 + [4.5, 2.5]])
    u[0, 1] = 0.0  # layer 0 keeps half of the energy
    decoded = flow._decode(*flow.energies.decode(u, energy[:1]), x)[0].reshape(2, 9)
    assert (decoded > 0).sum(dim=1).tolist() == [4, 2]
    assert bool((decoded[0, :4] > 0).all()) and bool((decoded[1, :2] > 0).all())


def test_largest_marks_the_count_largest_of_each_row() -> None:
    values = torch.tensor([[[0.1, 0.5, 0.3, 0.2], [4.0, 1.0, 3.0, 2.0]]])
    assert largest(values, torch.tensor([[2, 0]])).int().tolist() == [[[0, 1, 1, 0], [0, 0, 0, 0]]]
    assert bool(largest(values, torch.tensor([[9, 4]])).all())  # more than the row holds


def test_flow_layer_shape_depends_on_the_layer_before_and_not_after() -> None:
    """With the previous layer as context, a new shape of layer 1 (same energy) changes the density of
    layer 1 and of layer 2, and not of layers 0 and 3; with previous_layer_features=0 only layer 1's."""
    torch.manual_seed(0)
    shape = (4, 3, 3)
    cells = torch.rand(8, *shape) * 50 + 1.0
    energy = torch.full((8,), 1000.0)
    conditions = torch.rand(8, 3)
    changed = cells.clone()
    changed[:, 1] = changed[:, 1].flip(-1) * torch.linspace(0.5, 2.0, 3)
    changed[:, 1] *= cells[:, 1].sum(dim=(1, 2), keepdim=True) / changed[:, 1].sum(dim=(1, 2), keepdim=True)

    def shape_log_densities(flow: CaloFlow, showers: torch.Tensor) -> torch.Tensor:
        u, x = flow._encode(showers, energy, torch.Generator().manual_seed(5))  # the same noise each time
        n, layers = x.shape[:2]
        u = flow.energies.map(u)
        z = flow.shape_map(x.reshape(n, -1)).view(n, layers, -1)
        context = flow._shape_context(conditions, u, slice(None), flow._previous_layers(z))
        return flow.shape_flow.log_prob(z.reshape(n * layers, -1), context).view(n, layers)

    for features, sees_previous in ((4, True), (0, False)):
        flow = CaloFlow(shape, 3, FlowConfig.model_validate({**TINY_FLOW, "previous_layer_features": features}))
        flow.fit_preprocessing(cells, energy)
        _randomise(flow)
        before, after = shape_log_densities(flow, cells), shape_log_densities(flow, changed)
        moved = ~torch.isclose(after, before, rtol=1e-5, atol=1e-4).all(dim=0)
        assert moved.tolist() == [False, True, sees_previous, False]


def test_flow_previous_layer_hits_only_reads_no_empty_cell_noise() -> None:
    """With previous_layer_hits_only, the empty cells of a layer reach the next layer's projection at their
    gap, whatever their dequantisation noise; a plain projection reads that noise. The projection may have a
    hidden layer, and sampling works with both options."""
    torch.manual_seed(0)
    shape = (3, 3, 3)
    cells = torch.rand(64, *shape) * 20 * (torch.rand(64, *shape) < 0.5)
    energy = torch.full((64,), 1000.0)
    conditions = torch.rand(64, 3)
    for hits_only in (True, False):
        flow = CaloFlow(shape, 3, FlowConfig.model_validate(
            {**TINY_FLOW, "previous_layer_hits_only": hits_only, "previous_layer_hidden": 8}))
        assert isinstance(flow.previous_layer, torch.nn.Sequential)
        flow.fit_preprocessing(cells, energy)
        seen = []
        for seed in (1, 2):  # two draws of the dequantisation noise
            _, x = flow._encode(cells, energy, torch.Generator().manual_seed(seed))
            seen.append(flow._previous_layers(flow.shape_map(x.reshape(64, -1)).view(64, 3, -1)))
        empty = (cells[:, :-1] == 0).reshape(64, 2, -1)
        gap = flow.shape_map.split_score().view(3, -1)[:-1].expand(64, 2, -1)
        assert bool((seen[0][:, 0] == 0).all())  # nothing before the first layer
        if hits_only:
            assert torch.equal(seen[0][:, 1:][empty], gap[empty])
            assert torch.equal(seen[0][:, 1:][empty], seen[1][:, 1:][empty])
            assert bool((seen[0][:, 1:][~empty] > gap[~empty]).all())  # hit cells keep their coordinates
        else:
            assert not torch.equal(seen[0][:, 1:][empty], seen[1][:, 1:][empty])
        sampled = flow.sample(conditions[:4], energy[:4], torch.Generator().manual_seed(3))
        assert sampled.shape == (4, *shape) and bool(torch.isfinite(sampled).all()) and bool((sampled >= 0).all())


def test_empty_cells_have_the_same_shape_coordinates_whatever_the_layer_energy() -> None:
    """Dequantised shares (fraction_noise) rather than MeV noise: an empty cell's coordinate is the same in a
    soft and a hard shower of the same shape, so the flow's empty-cell region does not move with energy."""
    torch.manual_seed(0)
    shape = (2, 3, 3)
    flow = CaloFlow(shape, 3, FlowConfig.model_validate(TINY_FLOW))
    soft = torch.rand(1, *shape) * 10 * (torch.rand(1, *shape) < 0.5)
    hard = 100 * soft
    empty = (soft == 0).reshape(1, -1)
    _, x_soft = flow._encode(soft, torch.full((1,), 1e3), torch.Generator().manual_seed(1))
    _, x_hard = flow._encode(hard, torch.full((1,), 1e5), torch.Generator().manual_seed(1))
    x_soft, x_hard = x_soft.reshape(1, -1), x_hard.reshape(1, -1)
    assert int(empty.sum()) > 0
    torch.testing.assert_close(x_hard[empty], x_soft[empty])
    torch.testing.assert_close(x_hard[~empty], x_soft[~empty], atol=1e-3, rtol=1e-4)  # the same shares


def test_the_energy_flow_gan_gives_each_layer_the_energy_and_the_hit_count_its_energy_flow_drew() -> None:
    arrays = toy_arrays(64)
    spec = arrays.conditions()
    config = GanConfig.model_validate({**TINY_GAN, "energy_flow": True, "energy_blocks": 2, "energy_hidden": 16})
    torch.manual_seed(0)
    generator = Generator(arrays.shape, spec.size, config)
    generator.fit_energy_flow(torch.from_numpy(arrays.cells), torch.from_numpy(arrays.energy))
    assert generator.layer_energies is not None
    n, layers = 16, arrays.shape[0]
    conditions = torch.from_numpy(spec.encode(arrays.energy[:n], arrays.theta[:n], arrays.pdg[:n]))
    energy = torch.from_numpy(arrays.energy[:n]).float()
    z = torch.randn(n, config.latent)
    with torch.no_grad():
        _, layer_energy, counts = generator.layer_energies.sample(conditions, energy, torch.Generator().manual_seed(3))
        cells = generator.sample_cells(z, conditions, energy, spec.energy_range[1], torch.Generator().manual_seed(3))
    assert counts is not None and cells.shape == (n, *arrays.shape)
    flat = cells.reshape(n, layers, -1)
    drawn = counts.clamp(0, flat.shape[2]) * (layer_energy > 0)
    assert int(drawn.sum()) > 0 and torch.equal((flat > 0).sum(dim=2), drawn)
    kept = drawn > 0
    assert torch.allclose(flat.sum(dim=2).double()[kept], layer_energy[kept], rtol=1e-5)
    assert float(flat.sum(dim=2)[~kept].abs().sum()) == 0.0  # an empty layer or none of its cells drawn


def test_the_energy_flow_gan_keeps_the_cells_of_largest_logit_and_shares_by_their_softmax() -> None:
    generator = Generator((1, 6, 6), 2, GanConfig.model_validate({**TINY_GAN, "energy_flow": True, "energy_blocks": 1,
                                                                          "energy_hidden": 4, "sampled_hits": False,
                                                                          "share_noise": False, "axis_shift": False}))
    logits = torch.tensor([[[2.0, 0.0, 1.0, -1.0]]])
    cells = generator.cells_from_logits(logits, torch.tensor([[10.0]]), torch.tensor([[2]]))
    e = np.exp([2.0, 1.0])  # the two largest logits share the 10 MeV
    assert cells[0, 0].tolist() == pytest.approx([10 * e[0] / e.sum(), 0.0, 10 * e[1] / e.sum(), 0.0])
    none = generator.cells_from_logits(logits, torch.tensor([[10.0]]), torch.tensor([[0]]))
    assert none.tolist() == [[[0.0, 0.0, 0.0, 0.0]]]  # no cell drawn: an empty layer, not NaN


def test_the_layer_energy_flow_learns_how_the_layer_fractions_follow_the_incident_energy() -> None:
    from calolab.gen.models.energy_flow import LayerEnergyFlow

    arrays = toy_arrays(512)  # the toy showers start deeper at higher energy
    spec = arrays.conditions()
    torch.manual_seed(0)
    flow = LayerEnergyFlow(4, 36, spec.size, blocks=2, hidden=32, knots=64, cell_noise=1e-3, alpha=1e-6)
    cells, energy = torch.from_numpy(arrays.cells), torch.from_numpy(arrays.energy)
    flow.fit(cells, energy)
    conditions = torch.from_numpy(spec.encode(arrays.energy, arrays.theta, arrays.pdg))

    def first_layer_correlation() -> float:  # of log E_inc and the first layer's fraction, in samples
        with torch.no_grad():
            _, layer_energy, _ = flow.sample(conditions, energy.float(), torch.Generator().manual_seed(1))
        return float(np.corrcoef(np.log(arrays.energy), (layer_energy[:, 0] / layer_energy.sum(1)).numpy())[0, 1])

    real = np.corrcoef(np.log(arrays.energy), arrays.cells[:, 0].sum((1, 2)) / arrays.cells.sum((1, 2, 3)))[0, 1]
    assert real < -0.9 and abs(first_layer_correlation()) < 0.2  # untrained: fractions blind to the energy
    optimiser = torch.optim.Adam(flow.parameters(), lr=3e-3)
    for _ in range(150):
        optimiser.zero_grad()
        (-flow.log_prob(cells, conditions, energy)[0].mean()).backward()
        optimiser.step()
    assert first_layer_correlation() == pytest.approx(real, abs=0.1)


@pytest.mark.parametrize("minibatch_std", [False, True])
def test_the_minibatch_std_discriminator_judges_a_shower_by_how_much_its_batch_varies(minibatch_std: bool) -> None:
    torch.manual_seed(0)
    config = GanConfig.model_validate({**TINY_GAN, "minibatch_std": minibatch_std})
    discriminator = Discriminator((4, 6, 6), 1, config).eval()
    showers = torch.rand(4, 1, 4, 6, 6)
    with torch.no_grad():
        alone = discriminator(showers[:1].expand(4, -1, -1, -1, -1), torch.ones(4))["logit"]  # four copies
        among_others = discriminator(showers, torch.ones(4))["logit"]
    assert torch.allclose(alone, alone[0])
    assert (abs(float(alone[0] - among_others[0])) > 1e-4) == minibatch_std


def test_sampled_hits_draw_each_cell_with_its_softmax_probability_and_give_it_the_layer_energy() -> None:
    options = {**TINY_GAN, "energy_flow": True, "energy_blocks": 1, "energy_hidden": 4, "sampled_hits": True,
               "share_noise": False, "axis_shift": False, "hit_logits": False}
    generator = Generator((1, 6, 6), 2, GanConfig.model_validate(options))
    probabilities = torch.tensor([0.7, 0.2, 0.1])
    logits = torch.log(probabilities).expand(20000, 1, 3)
    cells = generator.cells_from_logits(logits, torch.full((20000, 1), 5.0), torch.ones(20000, 1, dtype=torch.long),
                                        torch.Generator().manual_seed(0))
    torch.testing.assert_close(cells.sum(dim=2), torch.full((20000, 1), 5.0), rtol=1e-6, atol=0)
    assert torch.equal((cells > 0).sum(dim=2), torch.ones(20000, 1).long())
    # one draw of a categorical per row (Gumbel top-1): frequencies within 4 sigma (sigma <= 0.0033)
    torch.testing.assert_close((cells[:, 0] > 0).float().mean(dim=0), probabilities, atol=0.013, rtol=0)
    both = generator.cells_from_logits(logits[:4], torch.full((4, 1), 5.0), torch.full((4, 1), 2))
    assert both.sum().item() == pytest.approx(20.0) and int((both > 0).sum()) == 8


def test_matched_start_gives_the_first_layers_halo_its_share_where_the_mean_share_start_starves_it(
        pisa_showers) -> None:  # noqa: ANN001
    """Before training, with the training showers' layer energies and hit counts and no network output: each
    cell's logit at the log of its mean share gives the halo (2 cells or more from the axis) of the first layer
    too little of its energy, as only some of its cells are hits; fitted (matched_start), the halo of the
    first two layers gets its Monte Carlo share to 30%. 60 Monte Carlo e- of 2-5 GeV in pisa-csi."""
    cells, energy = torch.from_numpy(pisa_showers.cells), torch.from_numpy(pisa_showers.energy).float()
    n, shape = len(cells), tuple(pisa_showers.cells.shape[1:])
    flat = cells.reshape(n, shape[0], -1).double()
    yy, xx = np.mgrid[0:shape[1], 0:shape[2]]
    halo = torch.from_numpy(np.hypot(yy - shape[1] // 2, xx - shape[2] // 2).ravel() >= 2)

    def halo_fraction(layer_cells: torch.Tensor) -> np.ndarray:
        return (layer_cells[:, :2] * halo).sum(dim=(0, 2)).numpy() / layer_cells[:, :2].sum(dim=(0, 2)).numpy()

    monte_carlo = halo_fraction(flat)
    assert (monte_carlo > 0.02).all()
    fractions = {}
    for matched in (False, True):
        options = {**TINY_GAN, "energy_flow": True, "energy_blocks": 1, "energy_hidden": 4, "matched_start": matched,
                   "share_noise": False, "axis_shift": False, "hit_logits": False}
        generator = Generator(shape, 3, GanConfig.model_validate(options))
        generator.fit_energy_flow(cells, energy, seed=1)
        logits = generator.cell_logit.detach().view(shape[0], -1).expand(n, shape[0], flat.shape[2])
        shares = generator.cells_from_logits(logits, flat.sum(dim=2), (flat > 0).sum(dim=2),
                                             torch.Generator().manual_seed(2))
        fractions[matched] = halo_fraction(shares.double())
    assert fractions[False][0] < 0.6 * monte_carlo[0]
    np.testing.assert_allclose(fractions[True], monte_carlo, rtol=0.3)  # 0.072 and 0.117 against 0.060, 0.114


def test_share_noise_gives_the_cells_shares_the_spread_they_have_in_the_training_showers(pisa_showers) -> None:  # noqa: ANN001
    """Before training, with the training showers' layer energies and hit counts and no network output: without
    share_noise every hit cell of a ring gets the same share in every shower (the spread of its log is ~0 where
    the Monte Carlo's is about 1); with it, the spread comes from the training showers, to 25% in the first
    layer's ring next to the axis and the fourth layer's core, and the shower centres move from event to event
    (the spread of the fourth layer's centre at least doubles). 60 Monte Carlo e- of 2-5 GeV in pisa-csi."""
    cells, energy = torch.from_numpy(pisa_showers.cells), torch.from_numpy(pisa_showers.energy).float()
    n, shape = len(cells), tuple(pisa_showers.cells.shape[1:])
    flat = cells.reshape(n, shape[0], -1).double()
    centre = (shape[1] // 2) * shape[2] + shape[2] // 2
    places = {"layer 0, ring of 1": (0, [centre - 1, centre + 1, centre - shape[2], centre + shape[2]]),
              "layer 3, core": (3, [centre])}

    def log_share_spread(layer_cells: torch.Tensor, layer: int, pixels: list[int]) -> float:
        share = layer_cells[:, layer, pixels] / layer_cells[:, layer].sum(dim=1, keepdim=True).clamp_min(1e-30)
        return float(torch.log(share[share > 0]).std())

    def centre_spread(layer_cells: torch.Tensor, layer: int) -> float:
        x = torch.arange(flat.shape[2]) % shape[2]
        weights = layer_cells[:, layer]
        return float(((weights * x).sum(dim=1) / weights.sum(dim=1).clamp_min(1e-30)).std())

    monte_carlo = {name: log_share_spread(flat, *place) for name, place in places.items()}
    assert min(monte_carlo.values()) > 0.3
    spreads, centres = {}, {}
    for noise in (False, True):
        options = {**TINY_GAN, "energy_flow": True, "energy_blocks": 1, "energy_hidden": 4, "share_noise": noise,
                   "axis_shift": False, "matched_start": False, "hit_logits": False}
        torch.manual_seed(0)
        generator = Generator(shape, 3, GanConfig.model_validate(options))
        generator.fit_energy_flow(cells, energy, seed=1)
        logits = generator.cell_logit.detach().view(shape[0], -1).expand(n, shape[0], flat.shape[2])
        with torch.no_grad():
            shares = generator.cells_from_logits(logits, flat.sum(dim=2), (flat > 0).sum(dim=2),
                                                 torch.Generator().manual_seed(2), energy=energy).double()
        spreads[noise] = {name: log_share_spread(shares, *place) for name, place in places.items()}
        centres[noise] = centre_spread(shares, 3)
    assert max(spreads[False].values()) < 0.2  # 0.09 and 0.06; Monte Carlo 1.06 and 0.61, with noise 1.18, 0.56
    for name, value in monte_carlo.items():
        assert spreads[True][name] == pytest.approx(value, rel=0.25), name
    assert centres[True] > 2 * centres[False]  # 0.20 against 0.08 cells


def test_share_noise_needs_the_incident_energy_and_learns_its_spread_from_the_discriminator() -> None:
    options = {**TINY_GAN, "energy_flow": True, "energy_blocks": 1, "energy_hidden": 4, "share_noise": True}
    generator = Generator((2, 6, 6), 2, GanConfig.model_validate(options))
    assert generator.share_spread is not None
    logits = torch.zeros(3, 2, 36)
    with pytest.raises(ValueError, match="energy="):
        generator.cells_from_logits(logits, torch.ones(3, 2), torch.full((3, 2), 10))
    cells = generator.cells_from_logits(logits, torch.ones(3, 2), torch.full((3, 2), 10), energy=torch.full((3,), 5e3))
    torch.testing.assert_close(cells.sum(dim=2), torch.ones(3, 2))
    (cells[:, :, 0] ** 2).sum().backward()  # a loss of the shares reaches the spreads (reparametrised noise)
    assert generator.share_spread.grad is not None and bool((generator.share_spread.grad != 0).any())


def test_hit_logits_give_each_ring_of_cells_its_hits_and_mean_share_where_one_logit_for_both_does_not(
        pisa_showers, monkeypatch) -> None:  # noqa: ANN001
    """Before training, with the training showers' layer energies and hit counts and no network output: with one
    logit per cell for the hit choice and the share (fitted by matched_start to the mean shares, the default), the
    first layer's far halo draws too many of
    the hits and the rings near the axis too few; with hit_logits each ring of the first and fourth layers gets
    its Monte Carlo hits per shower to 15% and its share of the layer's energy to 20%. 60 Monte Carlo e- of
    2-5 GeV in pisa-csi, each drawn 10 times; the fits take 60 steps of 512 draws instead of 200 of 1024."""
    monkeypatch.setattr(gan3d, "HIT_MATCH_STEPS", 60)
    monkeypatch.setattr(gan3d, "HIT_MATCH_BATCH", 512)
    cells, energy = torch.from_numpy(pisa_showers.cells), torch.from_numpy(pisa_showers.energy).float()
    n, shape = len(cells), tuple(pisa_showers.cells.shape[1:])
    flat = cells.reshape(n, shape[0], -1).double()
    yy, xx = np.mgrid[0:shape[1], 0:shape[2]]
    radius = torch.from_numpy(np.hypot(yy - shape[1] // 2, xx - shape[2] // 2).ravel())
    rings = [(0.5, 1.5), (1.5, 3.5), (3.5, 5.5), (5.5, 99.0)]

    def per_ring(layer_cells: torch.Tensor, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """Hits per shower and share of the layer's energy in each ring."""
        masks = [(radius >= low) & (radius < high) for low, high in rings]
        hits = np.array([float((layer_cells[:, layer, mask] > 0).sum(dim=1).double().mean()) for mask in masks])
        total = layer_cells[:, layer].sum()
        shares = np.array([float(layer_cells[:, layer, mask].sum() / total) for mask in masks])
        return hits, shares

    repeats = 10
    drawn: dict[bool, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
    for hit_logits in (False, True):
        options = {**TINY_GAN, "energy_flow": True, "energy_blocks": 1, "energy_hidden": 4,
                   "hit_logits": hit_logits}
        torch.manual_seed(0)
        generator = Generator(shape, 3, GanConfig.model_validate(options))
        generator.fit_energy_flow(cells, energy, seed=1)
        assert (generator.hit_logit is not None) == hit_logits
        logits = generator.cell_logit.detach().view(shape[0], -1).expand(n * repeats, shape[0], flat.shape[2])
        with torch.no_grad():
            shares = generator.cells_from_logits(logits, flat.sum(dim=2).repeat(repeats, 1),
                                                 (flat > 0).sum(dim=2).repeat(repeats, 1),
                                                 torch.Generator().manual_seed(2), energy=energy.repeat(repeats))
        drawn[hit_logits] = {layer: per_ring(shares.double(), layer) for layer in (0, 3)}
    for layer in (0, 3):
        hits, shares = per_ring(flat, layer)
        np.testing.assert_allclose(drawn[True][layer][0], hits, rtol=0.15, err_msg=f"hits, layer {layer}")
        np.testing.assert_allclose(drawn[True][layer][1], shares, rtol=0.2, err_msg=f"shares, layer {layer}")
    hits = per_ring(flat, 0)[0]
    assert drawn[False][0][0][-1] > 1.3 * hits[-1]  # the far halo of the first layer: too many hits
    assert drawn[False][0][0][1] < 0.8 * hits[1]  # 1.5-3.5 cells from the axis: too few


def test_hit_logits_apply_to_sampled_hits_only() -> None:
    """Without sampled_hits each layer keeps its cells of largest logit: no hit logit to fit."""
    options = {**TINY_GAN, "energy_flow": True, "energy_blocks": 1, "energy_hidden": 4}
    assert Generator((2, 6, 6), 2, model_config("gan", options)).hit_logit is not None  # the default
    assert Generator((2, 6, 6), 2, model_config("gan", {**options, "sampled_hits": False})).hit_logit is None


def test_share_profile_loss_bands_cells_by_mean_share_and_pulls_a_starved_halo_back(pisa_showers) -> None:  # noqa: ANN001
    """The bands: half a decade of mean share each, per layer (the core cell of a 2-5 GeV e- in the first layer
    holds ~0.8 of it: band 0). The loss is 0 for the real showers themselves, grows when the far cells of a layer
    lose most of their share to the core, and its gradient reaches the generator's logits."""
    cells, energy = torch.from_numpy(pisa_showers.cells), torch.from_numpy(pisa_showers.energy).float()
    n, shape = len(cells), tuple(pisa_showers.cells.shape[1:])
    options = {**TINY_GAN, "energy_flow": True, "energy_blocks": 1, "energy_hidden": 4, "matched_start": False,
               "share_noise": False, "axis_shift": False, "hit_logits": False, "share_profile_weight": 1.0}
    generator = Generator(shape, 3, GanConfig.model_validate(options))
    generator.fit_energy_flow(cells, energy, seed=1)
    assert generator.share_band is not None
    bands = generator.share_band.view(shape[0], -1)
    centre = (shape[1] // 2) * shape[2] + shape[2] // 2
    assert int(bands[0, centre]) == 0 and int(bands[1, centre]) == gan3d.SHARE_BANDS
    assert int(bands[0, 0]) == gan3d.SHARE_BANDS - 1  # a corner cell, never or barely hit
    flat = cells.reshape(n, shape[0], -1).float()
    assert float(generator.share_profile_loss(flat, flat)) == 0.0
    starved = flat.clone()  # the first layer: the cells outside the core lose 90% of their energy to it
    outside = starved[:, 0].clone()
    outside[:, centre] = 0
    starved[:, 0] -= 0.9 * outside
    starved[:, 0, centre] += 0.9 * outside.sum(dim=1)
    assert float(generator.share_profile_loss(starved, flat)) > 0.1
    logits = generator.cell_logit.detach().view(shape[0], -1).expand(n, shape[0], flat.shape[2]).clone()
    logits.requires_grad_(True)
    drawn = generator.cells_from_logits(logits, flat.sum(dim=2), (flat > 0).sum(dim=2),
                                        torch.Generator().manual_seed(0))
    generator.share_profile_loss(drawn, flat).backward()
    assert logits.grad is not None and bool((logits.grad != 0).any())


def _axis_shift_generator(shape: tuple[int, int, int], **options: object) -> Generator:
    config = {**TINY_GAN, "energy_flow": True, "energy_blocks": 1, "energy_hidden": 4, "matched_start": False,
              "share_noise": False, "hit_logits": False, "share_profile_weight": 0.0, "axis_shift": True, **options}
    return Generator(shape, 2, GanConfig.model_validate(config))


def test_a_generator_sampled_in_inference_mode_trains_on_and_samples_again() -> None:
    """Lightning validates in inference mode, between training steps that leave the parameters as they were: the
    slopes, swaps and buffers the generator keeps from sampling must not be those inference tensors when the next
    training step differentiates through them, nor be written to outside inference mode."""
    torch.manual_seed(0)
    generator = Generator((4, 9, 9), 3, GanConfig(latent=8, gen_channels=(6, 4), axis_shift=True,
                                                  centre_spread_weight=1.0))
    n = 6
    layer_energy, counts, energy = torch.rand(n, 4) * 10, torch.full((n, 4), 5), torch.full((n,), 5e3)
    extra = cast(LayerEnergyFlow, generator.layer_energies).dim
    z, conditions, fraction = torch.randn(n, 8), torch.rand(n, 3 + extra), torch.rand(n)
    with torch.inference_mode():
        generator.columns(z, conditions, fraction, reuse_buffers=True)
        generator.cells_from_logits(torch.randn(n, 4, 81), layer_energy, counts, energy=energy)
    logits = torch.randn(n, 4, 81, requires_grad=True)
    generator.cells_from_logits(logits, layer_energy, counts, energy=energy).sum().backward()
    assert generator.axis_shift is not None and generator.axis_shift.grad is not None
    with torch.no_grad():
        fresh = generator.columns(z, conditions, fraction)
        assert torch.equal(generator.columns(z, conditions, fraction, reuse_buffers=True), fresh)


def test_axis_offsets_are_normal_with_the_layers_spread_and_correlated_from_layer_to_layer() -> None:
    """Each layer's offset: a standard normal variable times exp(a + b log(E_inc / 1 GeV)); neighbouring layers
    correlated by rho (an AR(1) along the depth, so layers two apart by the product of the two rhos); x and y
    independent."""
    generator = _axis_shift_generator((4, 9, 9))
    assert generator.axis_shift is not None
    spread, rho = torch.tensor([0.1, 0.2, 0.3, 0.4]), torch.tensor([0.0, 0.8, 0.0, -0.5])
    with torch.no_grad():
        generator.axis_shift.copy_(torch.stack([torch.log(spread), torch.full((4,), -0.5), torch.atanh(rho)]))
    offsets = generator.axis_offsets(torch.full((40000,), 4000.0), torch.Generator().manual_seed(0)).detach()
    assert offsets.shape == (40000, 2, 4)
    std = offsets.std(dim=0)  # at 4 GeV: spread * 4^-0.5
    assert torch.allclose(std, (spread / 2).expand(2, 4), rtol=0.03), std
    x = offsets[:, 0].T.numpy()
    correlation = np.corrcoef(x)
    for layer in (1, 2, 3):
        assert correlation[layer - 1, layer] == pytest.approx(float(rho[layer]), abs=0.02)
    assert correlation[1, 3] == pytest.approx(0.0, abs=0.02)  # rho_2 rho_3 = 0
    assert np.corrcoef(offsets[:, 0, 1], offsets[:, 1, 1])[0, 1] == pytest.approx(0.0, abs=0.02)
    repeat = generator.axis_offsets(torch.full((40000,), 4000.0), torch.Generator().manual_seed(0))
    assert torch.equal(repeat.detach(), offsets)


@pytest.mark.parametrize("profile", ["exponential", "gaussian"])
def test_axis_shift_moves_each_layers_centre_of_energy_by_its_offset(profile: str, monkeypatch) -> None:  # noqa: ANN001
    """A layer of cell logits -r / (1 cell) (a shower's halo, log-linear in r) or -r^2 / (2 (1.5 cells)^2) (a
    Gaussian core), all its cells hit: the offsets (dx, dy) move its centre of energy by (dx, dy), to 10% (first
    order in the offset; the slopes are the logit map's central differences)."""
    shape = (2, 21, 21)
    generator = _axis_shift_generator(shape)
    y, x = torch.meshgrid(torch.arange(21.0), torch.arange(21.0), indexing="ij")
    r = torch.hypot(x - 10, y - 10)
    logit = -r if profile == "exponential" else -(r**2) / (2 * 1.5**2)
    with torch.no_grad():
        generator.cell_logit.copy_(logit.expand(2, 21, 21).reshape(-1))
    offsets = torch.tensor([[[0.3, -0.2], [-0.25, 0.15]]])  # (1, x/y, layer)
    monkeypatch.setattr(generator, "axis_offsets", lambda energy, generator=None: offsets.expand(len(energy), 2, 2))
    logits = generator.cell_logit.detach().view(1, 2, -1)
    cells = generator.cells_from_logits(logits, torch.ones(1, 2), torch.full((1, 2), 21 * 21),
                                        torch.Generator().manual_seed(0), energy=torch.tensor([5000.0]))
    grid = cells.view(2, 21, 21)
    centre_x = (grid.sum(dim=1) * torch.arange(21.0)).sum(dim=1) - 10
    centre_y = (grid.sum(dim=2) * torch.arange(21.0)).sum(dim=1) - 10
    assert torch.allclose(torch.stack([centre_x, centre_y]), offsets[0], rtol=0.1), (centre_x, centre_y)
    with pytest.raises(ValueError, match="incident energies"):
        generator.cells_from_logits(logits, torch.ones(1, 2), torch.full((1, 2), 21 * 21))


def test_centre_spread_loss_sees_showers_whose_centres_do_not_move_and_the_axis_shift_is_fitted_to_it(
        pisa_showers) -> None:  # noqa: ANN001
    """The loss is 0 for the real showers themselves and large for showers of the mean shape (their centres do not
    move from shower to shower). Before training the axis shift is fitted to it: with the learnt cell logits alone
    (no network), the fitted offsets give less than half the loss of none, on the 60 pisa-csi e- of 2-5 GeV."""
    cells, energy = torch.from_numpy(pisa_showers.cells), torch.from_numpy(pisa_showers.energy).float()
    n, shape = len(cells), tuple(pisa_showers.cells.shape[1:])
    generator = _axis_shift_generator(shape, centre_spread_weight=1.0)
    flat = cells.reshape(n, shape[0], -1).float()
    assert float(generator.centre_spread_loss(flat, flat, energy)) == 0.0
    mean_share = (flat / flat.sum(dim=2, keepdim=True).clamp_min(1e-30)).mean(dim=0)
    still = mean_share * flat.sum(dim=2, keepdim=True)
    assert float(generator.centre_spread_loss(still, flat, energy)) > 1.0
    generator.fit_energy_flow(cells, energy, seed=1)
    assert generator.axis_shift is not None
    assert float(generator.axis_shift.detach()[0].mean()) > math.log(gan3d.AXIS_SHIFT_START_SPREAD)  # widened
    assert all(parameter.grad is None for parameter in generator.parameters())
    logits = generator.cell_logit.detach().view(1, shape[0], -1).expand(n, -1, -1)

    def mean_loss() -> float:
        draws = torch.Generator().manual_seed(2)
        with torch.no_grad():
            return float(np.mean([generator.centre_spread_loss(generator.cells_from_logits(
                logits, flat.sum(dim=2), (flat > 0).sum(dim=2), draws, energy=energy), flat, energy)
                for _ in range(10)]))

    fitted = mean_loss()
    with torch.no_grad():
        generator.axis_shift[0] = math.log(gan3d.AXIS_SHIFT_SPREAD_RANGE[0])
        generator.axis_shift[1] = 0.0
    assert fitted < 0.5 * mean_loss()


def test_a_kept_cell_far_below_the_layers_other_logits_still_gets_the_layers_energy() -> None:
    """The softmax is shifted by the largest kept logit: a layer whose only hit lies 100 below the other cells'
    logits (exp(-100) underflows in float32) gets its energy, with finite gradients, and an empty layer none."""
    generator = _axis_shift_generator((2, 3, 3), axis_shift=False, sampled_hits=False)
    logits = torch.zeros(1, 2, 9)
    logits[0, 0, 4] = -100.0
    logits.requires_grad_(True)
    # the hit choice ranks the cell first; the shares read logits 100 below the others
    ranked = torch.full((1, 2, 9), -1.0)
    ranked[0, 0, 4] = 5.0
    cells = generator.cells_from_logits(logits, torch.tensor([[3.0, 0.0]]), torch.tensor([[1, 0]]),
                                        hit_logits=ranked)
    values = cells.detach()
    assert float(values[0, 0, 4]) == pytest.approx(3.0) and float(values[0, 0].sum()) == pytest.approx(3.0)
    assert float(values[0, 1].abs().sum()) == 0.0
    (cells * torch.arange(18.0).view(1, 2, 9)).sum().backward()
    assert logits.grad is not None and bool(torch.isfinite(logits.grad).all())
