"""Shapes and forward passes of the GAN and the flow; the flow's transforms invert."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gen_fixtures import TINY_FLOW, TINY_GAN

from calolab.errors import ConfigError
from calolab.gen.models import CaloFlow, Discriminator, FlowConfig, GanConfig, Generator, model_config
from calolab.gen.models.flow import MAF, CouplingFlow
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
    generator = Generator(shape, 3, GanConfig(latent=8, gen_channels=(6, 4)))
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
