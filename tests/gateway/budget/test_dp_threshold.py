"""The noisy threshold of undeclared groups uses the tail of the noise counts really carry."""

from __future__ import annotations

import math

import pytest

from gateway.queries.dp import _mechanism, threshold


def discrete_tail(scale: float, k: int) -> float:
    """P(Z ≥ k) of discrete Laplace noise of this scale, k ≥ 1."""
    p = math.exp(-1.0 / scale)
    return p**k / (1 + p)


@pytest.mark.parametrize(
    ("limit", "scale", "delta"),
    [(1, 2.0, 1e-5), (1, 0.5, 1e-6), (3, 12.0, 1e-5), (10, 40.0, 1e-4), (1000, 8000.0, 1e-9)],
)
def test_a_group_of_one_person_passes_with_probability_at_most_delta_over_l(
    limit: int, scale: float, delta: float
) -> None:
    tau = threshold(limit, scale, delta)
    assert tau == int(tau)
    # The group holds at most L rows; it passes when L + Z ≥ τ.
    assert discrete_tail(scale, int(tau) - limit) <= delta / limit
    # τ is the smallest such count: one lower would pass too often.
    assert discrete_tail(scale, int(tau) - limit - 1) > delta / limit


def test_the_continuous_tail_would_let_one_person_through_too_often() -> None:
    limit, scale, delta = 1, 2.0, 1e-5
    continuous = limit + scale * math.log(limit / (2 * delta))  # the Laplace formula
    passes_at = math.ceil(continuous)  # noisy counts are integers
    print(
        f"continuous τ {continuous:.3f}: a lone resident's group passes with probability "
        f"{discrete_tail(scale, passes_at - limit):.3g} > δ/L = {delta / limit:g}; "
        f"discrete τ {threshold(limit, scale, delta):.0f}"
    )
    assert discrete_tail(scale, passes_at - limit) > delta / limit
    assert threshold(limit, scale, delta) > continuous


def test_the_count_noise_has_the_discrete_tail_the_threshold_assumes() -> None:
    # OpenDP's integer Laplace, as the release uses it, sampled: the empirical tail matches
    # p^k / (1 + p) and lies above the continuous ½·e^(−k/b).
    scale, n, k = 2.0, 200_000, 4
    draws = _mechanism(True, scale)([0] * n)
    observed = sum(1 for z in draws if z >= k) / n
    expected, continuous = discrete_tail(scale, k), 0.5 * math.exp(-k / scale)
    print(
        f"P(Z ≥ {k}): observed {observed:.4f}, discrete {expected:.4f}, continuous {continuous:.4f}"
    )
    assert abs(observed - expected) < 5 * math.sqrt(expected / n)
    assert observed > continuous + 5 * math.sqrt(continuous / n)
