"""Bad inputs to the processes, schedules, targets, losses and GAN pieces (issue 12): each raises
a TypeError or ValueError naming the argument; numpy numbers work wherever Python ones do."""

import numpy as np
import pytest
import torch
from bad_inputs import assert_rejected, case

from minidiff import gan, losses, schedules, sde, targets
from minidiff.nets.mlp import MLP

NAN, INF = float("nan"), float("inf")
VP, VE = sde.VP(), sde.VE()
X, EPS, T = torch.randn(4, 2), torch.randn(4, 2), torch.full((4,), 0.5)
Y, NULL = torch.tensor([0, 1, 2, 3]), torch.tensor(10)
REAL, FAKE = torch.tensor([0.0, 2.0]), torch.tensor([0.0, -1.0])


def net(x, t):
    return x * t[:, None]


D = targets.Denoiser(net, VP)

CASES = [
    # found by an independent audit (a suite the project did not write)
    case(
        "weighting",
        lambda: losses.dsm(D, X, sde=VP, weighting=losses.min_snr),
        TypeError,
        id="dsm-weighting-factory-not-called",
    ),  # fmt: skip
    case("null[0]", lambda: losses.cfg_dsm(D, X, Y, sde=VP, null=(10,)), id="cfg_dsm-null-int"),
    case(
        "null[0]",
        lambda: losses.drop_conditions((Y,), (torch.tensor([10, 10]),)),
        id="drop-null-not-broadcastable",
    ),  # fmt: skip
    case("dtype", lambda: VP.prior_sample((4, 2), dtype="float32"), TypeError, id="prior-dtype"),
    case("x0", lambda: VP.add_noise(torch.full((4, 2), NAN), 0.5, EPS), id="add_noise-nan-x0"),
    case("x0", lambda: losses.dsm(D, torch.full((4, 2), NAN), sde=VP), id="dsm-nan-x0"),
    # sde: process parameters, t in [0, 1], tensors, generators
    case("beta_min", lambda: sde.VP(beta_min=-1.0), id="vp-negative-beta_min"),
    case("beta_min", lambda: sde.VP(beta_min=30.0, beta_max=20.0), id="vp-beta_min-above-max"),
    case("beta_max", lambda: sde.VP(beta_max=NAN), id="vp-beta_max-nan"),
    case("beta_max", lambda: sde.SubVP(beta_min=0.0, beta_max=0.0), id="subvp-beta_max-zero"),
    case("sigma_min", lambda: sde.VE(sigma_min=0.0), id="ve-sigma_min-zero"),
    case("sigma_min", lambda: sde.VE(sigma_min=10.0, sigma_max=1.0), id="ve-sigma_min-above-max"),
    case("sigma_max", lambda: sde.VE(sigma_max=INF), id="ve-sigma_max-inf"),
    case("sigma_max", lambda: sde.VE(sigma_max=-10.0), id="ve-negative-sigma_max"),
    case("t", lambda: VP.add_noise(X, 500, EPS), id="add_noise-t-step-index"),
    case(
        "t", lambda: VP.add_noise(X, torch.arange(4) * 250, EPS), TypeError, id="add_noise-t-int64"
    ),
    case("t", lambda: VP.add_noise(X, NAN, EPS), id="add_noise-t-nan"),
    case("t", lambda: VP.add_noise(X, torch.full((4,), NAN), EPS), id="add_noise-t-nan-tensor"),
    case("t", lambda: VP.add_noise(X, "0.5", EPS), TypeError, id="add_noise-t-str"),
    case("t", lambda: VP.add_noise(X, torch.rand(3), EPS), id="add_noise-t-wrong-batch"),
    case("x0", lambda: VP.add_noise(X[:0], 0.5, EPS[:0]), id="add_noise-empty-batch"),
    case("x0", lambda: VP.add_noise(X.numpy(), 0.5, EPS), TypeError, id="add_noise-x0-numpy"),
    case("eps", lambda: VP.add_noise(X, 0.5, None), id="add_noise-eps-none"),
    case("eps", lambda: VP.add_noise(X, 0.5, EPS.double()), id="add_noise-eps-dtype"),
    case("x", lambda: VP.drift(X.long(), 0.5), TypeError, id="drift-x-int64"),
    case("generator", lambda: VP.prior_sample((4, 2), generator=0), TypeError, id="prior-seed"),
    case("shape", lambda: VP.prior_sample((0, 2)), id="prior_sample-empty-batch"),
    case("shape", lambda: VP.prior_sample("4, 2"), TypeError, id="prior_sample-shape-str"),
    case("x", lambda: VP.prior_logp(torch.tensor([[INF, 0.0]])), id="prior_logp-x-inf"),
    case("generator", lambda: sde.noise_like(X, generator=0), TypeError, id="noise_like-seed"),
    # targets: the denoiser wrappers and the denoiser contract
    case("sde", lambda: targets.Denoiser(net, sde.VP), TypeError, id="denoiser-sde-class"),
    case("sde", lambda: targets.Denoiser(net, "vp"), TypeError, id="denoiser-sde-str"),
    case("net", lambda: targets.Denoiser(MLP, VP), TypeError, id="denoiser-net-class"),
    case("prediction", lambda: targets.Denoiser(net, VP, "score"), id="denoiser-prediction"),
    case(
        "x",
        lambda: targets.Denoiser(MLP(hidden=8, depth=1), VP)(X.double(), T),
        TypeError,
        id="denoiser-x-dtype-not-the-network's",
    ),
    case("t", lambda: D(X, 500), id="denoiser-t-step-index"),
    case("sigma_data", lambda: targets.EDMDenoiser(net, VE, sigma_data=-0.5), id="edm-sigma_data"),
    case("sde", lambda: targets.EDMDenoiser(net, sde.VE), TypeError, id="edm-sde-class"),
    case("x", lambda: targets.denoise(D, torch.full((4, 2), NAN), 0.5), id="denoise-x-nan"),
    case(
        "denoiser",
        lambda: targets.denoise(lambda x, t: (x,), X, 0.5),
        TypeError,
        id="denoise-returns-a-tuple",
    ),
    case("denoiser", lambda: targets.denoise("D", X, 0.5), TypeError, id="denoise-denoiser-str"),
    case("sde", lambda: targets.coefficients(sde.VP, 0.5, X), TypeError, id="coefficients-sde"),
    case("sigma_data", lambda: targets.edm_loss_weight(T, 0.0), id="edm_loss_weight-sigma_data"),
    # losses
    case(
        "weighting",
        lambda: losses.dsm(D, X, sde=VP, weighting="snr"),
        TypeError,
        id="dsm-weighting-str",
    ),
    case("sde", lambda: losses.dsm(D, X, sde=sde.VP), TypeError, id="dsm-sde-class"),
    case("generator", lambda: losses.dsm(D, X, sde=VP, generator=0), TypeError, id="dsm-seed"),
    case("x0", lambda: losses.dsm(D, X[:0], sde=VP), id="dsm-empty-batch"),
    case("x0", lambda: losses.dsm(D, X.long(), sde=VP), TypeError, id="dsm-x0-int64"),
    case("t", lambda: losses.dsm(D, X, sde=VP, t=torch.arange(4)), TypeError, id="dsm-t-int64"),
    case("t", lambda: losses.dsm(D, X, sde=VP, t=T * 1000), id="dsm-t-step-index-float"),
    case(
        "denoiser",
        lambda: losses.dsm(targets.Denoiser, X, sde=VP),
        TypeError,
        id="dsm-denoiser-class",
    ),
    case("gamma", lambda: losses.min_snr(-5.0), id="min_snr-negative-gamma"),
    case("gamma", lambda: losses.min_snr(NAN), id="min_snr-gamma-nan"),
    case("sigma_data", lambda: losses.edm_weight(VP, T, sigma_data=0.0), id="edm_weight"),
    case("p", lambda: losses.drop_conditions((Y,), (NULL,), p=1.5), id="drop-p-above-one"),
    case("p", lambda: losses.drop_conditions((Y,), (NULL,), p=NAN), id="drop-p-nan"),
    case("cond", lambda: losses.drop_conditions(Y, (NULL,)), TypeError, id="drop-cond-bare"),
    case("cond", lambda: losses.drop_conditions((Y[:0],), (NULL,)), id="drop-cond-empty-batch"),
    case("null", lambda: losses.drop_conditions((Y,), NULL), TypeError, id="drop-null-bare"),
    case("null", lambda: losses.drop_conditions((Y,), (NULL, NULL)), id="drop-null-count"),
    case(
        "generator",
        lambda: losses.drop_conditions((Y,), (NULL,), generator=0),
        TypeError,
        id="drop-seed",
    ),
    case(
        "p_uncond",
        lambda: losses.cfg_dsm(D, X, Y, sde=VP, null=(NULL,), p_uncond=-0.1),
        id="cfg_dsm-p_uncond",
    ),
    case(
        "sde",
        lambda: losses.native_mse(net, sde.VP, X, T, EPS, "eps"),
        TypeError,
        id="native_mse-sde-class",
    ),
    case("prediction", lambda: losses.native_mse(net, VP, X, T, EPS, "score"), id="native_mse"),
    # schedules: grids and training-time densities
    case("n", lambda: schedules.uniform(0), id="uniform-zero-steps"),
    case("n", lambda: schedules.uniform(8.0), id="uniform-n-float"),
    case("t_min", lambda: schedules.uniform(8, t_max=0.5, t_min=0.7), id="uniform-t_min-above"),
    case("t_max", lambda: schedules.uniform(8, t_max=NAN), id="uniform-t_max-nan"),
    case("sde", lambda: schedules.karras(sde.VP, 10), TypeError, id="karras-sde-class"),
    case("rho", lambda: schedules.karras(VP, 10, rho=0.0), id="karras-rho-zero"),
    case("sigma_min", lambda: schedules.karras(VP, 10, sigma_min=-0.002), id="karras-sigma_min"),
    case("sigma_max", lambda: schedules.karras(VP, 10, sigma_max=INF), id="karras-sigma_max-inf"),
    case("n", lambda: schedules.karras(VP, -3), id="karras-negative-n"),
    case("t_min", lambda: schedules.log_snr(VP, 10, t_min=0.0), id="log_snr-infinite-at-t_min"),
    case("sde", lambda: schedules.log_snr("vp", 10), TypeError, id="log_snr-sde-str"),
    case(
        "sigmas",
        lambda: schedules.times_from_sigmas(VP, torch.tensor([NAN, 1.0, 0.0])),
        id="times_from_sigmas-nan",
    ),
    case(
        "sigmas",
        lambda: schedules.times_from_sigmas(VP, torch.tensor([INF, 1.0, 0.0])),
        id="times_from_sigmas-inf",
    ),
    case("sigmas", lambda: schedules.times_from_sigmas(VP, "80, 0"), TypeError, id="sigmas-str"),
    case("sigmas", lambda: schedules.times_from_sigmas(VP, torch.tensor(1.0)), id="sigmas-0d"),
    case("ts", lambda: schedules.check_times(torch.arange(1000, -1, -1)), id="ts-step-indices"),
    case("ts", lambda: schedules.check_times(torch.tensor([1.0, NAN, 0.0])), id="ts-nan"),
    case("n", lambda: schedules.sample_uniform(0), id="sample_uniform-empty-batch"),
    case(
        "generator",
        lambda: schedules.sample_uniform(8, generator=0),
        TypeError,
        id="sample_uniform-seed",
    ),
    case("t_min", lambda: schedules.sample_uniform(8, t_min=1.0), id="sample_uniform-t_min"),
    case("p_std", lambda: schedules.sample_lognormal(VP, 8, p_std=-1.2), id="lognormal-p_std"),
    case("p_mean", lambda: schedules.sample_lognormal(VP, 8, p_mean=NAN), id="lognormal-p_mean"),
    case("sde", lambda: schedules.sample_lognormal(sde.VP, 8), TypeError, id="lognormal-sde"),
    # gan
    case("net", lambda: gan.Discriminator(MLP), TypeError, id="discriminator-net-class"),
    case("loss", lambda: gan.discriminator_loss(REAL, FAKE, "wasserstein"), id="d-loss-name"),
    case("real_logits", lambda: gan.discriminator_loss(REAL[:0], FAKE), id="d-loss-empty"),
    case("fake_logits", lambda: gan.generator_loss([0.0, 1.0]), TypeError, id="g-loss-list"),
    case("loss", lambda: gan.generator_loss(FAKE, "Hinge"), id="g-loss-name-case"),
    case("discriminator", lambda: gan.r1_penalty("D", X), TypeError, id="r1-discriminator"),
    case(
        "x_real",
        lambda: gan.r1_penalty(lambda v: v.sum(1), X.long()),
        TypeError,
        id="r1-x_real-int64",
    ),
]


@pytest.mark.parametrize("argument, call, error", CASES)
def test_bad_input_is_named(argument, call, error):
    assert_rejected(argument, call, error)


@pytest.mark.parametrize(
    "call",
    [
        lambda: VP.add_noise(X, 500, EPS),
        lambda: VP.add_noise(X, torch.arange(4), EPS),
        lambda: D(X, torch.full((4,), 250.0)),
        lambda: schedules.check_times(torch.arange(1000, -1, -1)),
    ],
)
def test_step_indices_are_told_that_t_is_i_over_n(call):
    with pytest.raises((TypeError, ValueError), match="i/N"):
        call()


def test_a_nan_input_is_not_blamed_on_the_denoiser():
    message = assert_rejected(
        "x", lambda: targets.denoise(D, torch.full((4, 2), NAN), 0.5), ValueError
    )
    assert "NaN" in message and "denoiser" not in message


def test_messages_show_the_value_received():
    assert "-1.0" in assert_rejected("beta_min", lambda: sde.VP(beta_min=-1.0), ValueError)
    assert "'snr'" in assert_rejected(
        "weighting", lambda: losses.dsm(D, X, sde=VP, weighting="snr"), TypeError
    )
    assert "VP()" in assert_rejected("sde", lambda: schedules.karras(sde.VP, 10), TypeError)
    assert "manual_seed(0)" in assert_rejected(
        "generator", lambda: VP.prior_sample((4, 2), generator=0), TypeError
    )


def gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def test_numpy_integers_count_steps():
    assert torch.equal(schedules.uniform(np.int64(8)), schedules.uniform(8))
    assert torch.equal(schedules.karras(VP, np.int32(10)), schedules.karras(VP, 10))
    assert torch.equal(schedules.log_snr(VP, np.int64(6)), schedules.log_snr(VP, 6))
    assert VP.prior_sample((np.int64(4), 2), generator=gen()).shape == (4, 2)
    assert torch.equal(schedules.sample_uniform(np.int64(5), generator=gen()),
                       schedules.sample_uniform(5, generator=gen()))  # fmt: skip


def test_numpy_floats_are_numbers():
    assert torch.equal(
        schedules.karras(VP, 10, np.float64(0.002), np.float32(80.0), np.float64(7.0)),
        schedules.karras(VP, 10, 0.002, 80.0, 7.0),
    )
    assert torch.equal(schedules.uniform(4, np.float64(0.5)), schedules.uniform(4, 0.5))
    lognormal = schedules.sample_lognormal(VP, 5, np.float64(-1.2), np.float64(1.2), gen())
    assert torch.equal(lognormal, schedules.sample_lognormal(VP, 5, -1.2, 1.2, gen()))
    torch.testing.assert_close(sde.VP(np.float64(0.1), np.float64(20.0)).sigma(T), VP.sigma(T))
    torch.testing.assert_close(sde.VE(np.float64(0.01), np.int64(10)).sigma(T), VE.sigma(T))
    torch.testing.assert_close(VP.add_noise(X, np.float64(0.5), EPS), VP.add_noise(X, 0.5, EPS))
    assert torch.equal(VP.add_noise(X, np.int64(0), EPS), VP.add_noise(X, 0.0, EPS))
    w = losses.min_snr(np.int64(5))(VP, T)
    torch.testing.assert_close(w, losses.min_snr(5.0)(VP, T))
    dropped = losses.drop_conditions((Y,), (NULL,), np.float64(1.0))[0]
    assert bool((dropped == 10).all())
    assert targets.EDMDenoiser(net, VE, np.float32(0.5))(X, T).shape == X.shape


def test_python_ints_are_floats_where_floats_are_expected():
    assert sde.VP(beta_min=1, beta_max=20) == sde.VP(1.0, 20.0)
    assert torch.equal(schedules.karras(VP, 10, sigma_max=80), schedules.karras(VP, 10))
    assert torch.equal(VP.add_noise(X, 1, EPS), VP.add_noise(X, 1.0, EPS))


def test_dsm_takes_t_as_a_number_too():
    loss = losses.dsm(D, X, sde=VP, t=0.5, eps=EPS)
    assert loss == losses.dsm(D, X, sde=VP, t=torch.full((4,), 0.5), eps=EPS)
