"""The rational-quadratic spline and the coupling flows: inverses, log-determinants, identity start."""

from __future__ import annotations

import torch

from calolab.gen.models.couplings import CouplingFlow, SplineCoupling, rational_quadratic_spline


def test_spline_is_monotone_inverts_and_its_log_det_is_the_derivative() -> None:
    generator = torch.Generator().manual_seed(0)
    n, bins, bound = 2001, 6, 3.0
    x = torch.linspace(-4.0, 4.0, n, dtype=torch.float64, requires_grad=True)  # beyond the bound: identity
    widths, heights = (torch.randn(1, bins, generator=generator, dtype=torch.float64).expand(n, bins)
                       for _ in range(2))
    derivatives = torch.randn(1, bins - 1, generator=generator, dtype=torch.float64).expand(n, bins - 1)
    y, log_det = rational_quadratic_spline(x, widths, heights, derivatives, bound)
    (derivative,) = torch.autograd.grad(y.sum(), x)  # each y depends on its own x only
    x, y, log_det = x.detach(), y.detach(), log_det.detach()
    assert bool((y[1:] > y[:-1]).all())
    torch.testing.assert_close(y[x.abs() > bound], x[x.abs() > bound])
    torch.testing.assert_close(y[[0, -1]], torch.tensor([-4.0, 4.0], dtype=torch.float64))
    torch.testing.assert_close(torch.exp(log_det), derivative)
    back, inverse_log_det = rational_quadratic_spline(y, widths, heights, derivatives, bound, inverse=True)
    torch.testing.assert_close(back, x, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(inverse_log_det, -log_det)


def test_spline_with_raw_zero_parameters_is_the_identity() -> None:
    x = torch.linspace(-2.0, 2.0, 11)
    y, log_det = rational_quadratic_spline(x, torch.zeros(11, 4), torch.zeros(11, 4), torch.zeros(11, 3), 2.0)
    torch.testing.assert_close(y, x)
    torch.testing.assert_close(log_det, torch.zeros(11), atol=1e-6, rtol=0)


def test_spline_coupling_flow_inverts_and_keeps_the_masked_cells() -> None:
    torch.manual_seed(0)
    flow = CouplingFlow((3, 4), 2, couplings=4, hidden=8, clamp=3.0, spline_bins=5, spline_bound=3.0)
    with torch.no_grad():
        for parameter in flow.parameters():
            parameter.normal_(0, 0.3)
    context, x = torch.rand(5, 2), 1.5 * torch.randn(5, 12)
    coupling = flow.couplings[0]
    assert isinstance(coupling, SplineCoupling)
    z, _ = coupling(x, context)
    fixed = coupling.mask.bool()
    torch.testing.assert_close(z[:, fixed], x[:, fixed])
    assert not torch.allclose(z[:, ~fixed], x[:, ~fixed])
    torch.testing.assert_close(coupling.inverse(z, context), x, atol=1e-5, rtol=1e-5)
    # the density integrates the change of variables: log p(x) = log N(z) + sum of log-determinants
    mapped, total = x, torch.zeros(5)
    for step in flow.couplings:
        mapped, log_det = step(mapped, context)
        total = total + log_det
    expected = -0.5 * (mapped**2 + torch.log(torch.tensor(2 * torch.pi))).sum(dim=1) + total
    torch.testing.assert_close(flow.log_prob(x, context), expected)
