"""Always-valid inference for the ramp gates: bounds that stay valid however often the controller looks.

The controller evaluates its gates every few seconds for as long as a ramp runs. A fixed-sample bound (a z-test,
Agresti-Caffo) read again and again crosses its threshold by chance sooner or later, so an equal candidate gets
rolled back. Everything here is a *confidence sequence*: with probability at least 1 − α the bound holds at every
evaluation at once (Ville's inequality applied to a nonnegative test martingale), so evaluating every second or
every minute changes nothing but the reaction time.

Two constructions:

- Difference of proportions (candidate disagreement vs the primary's noise floor, invalid JSON, errors): a
  one-sided mixture SPRT in the Gaussian (information-time) approximation, as A/B platforms use for continuous
  monitoring (Johari, Koomen, Pekelis, Walsh, "Always valid inference: continuous monitoring of A/B tests",
  Operations Research 70(3), 2022; Optimizely's mSPRT). The mixing distribution has two parts: a point mass at the
  excess the gate is tuned to catch (Wald's SPRT, fastest there) and a half-normal (Robbins' normal mixture, the
  one-sided form of Howard, Ramdas, McAuliffe, Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence
  sequences", Annals of Statistics 49(2), 2021), so any other excess is still caught, later. The martingale is
  fed the signed root of the two-sample likelihood ratio against each hypothesised excess θ, with the information
  under θ (the restricted maximum-likelihood rates of Miettinen & Nurminen, Statistics in Medicine 4, 1985, in
  the closed form of Farrington & Manning, 1990). At the 1-5 % rates and ~100 samples the gates start from, a
  Wald or score z is skewed and crosses an upper boundary about twice as often as it should (measured: 2.2 % at
  a nominal 1 % for a candidate exactly at the margin); the likelihood-ratio root stays below the nominal level.
  The point part is not the Gaussian λs − λ²v/2 but the exact binomial log-likelihood ratio of excess θ + λ
  against θ, the baseline rate profiled out under each: ℓ̃(θ + λ) − ℓ̃(θ) = (D(θ) − D(θ + λ))/2 with D the
  profile deviance. Against a floor known exactly this is Wald's Bernoulli SPRT itself (a martingale, no
  approximation); with the floor estimated it equals the Gaussian term to first order (the same asymptotic
  guarantee), and at rare rates it follows the binomial's skew: at the dropped-call gate's tuning it fails a
  candidate at 14 bad pairs of 500 against a 1 % floor where the Gaussian point part needed 15 (bench/rollout:
  the 3-point drop within 500 in 97.5 % instead of 96.5 % of runs at a 1 % floor, the type-I rows unchanged
  within their limits). The half-normal part stays Gaussian, and so does the passing test.
- Means and quantiles (cost per request, p95 latency): Robbins' two-sided normal mixture on the standardised sum,
  with the variance plugged in — the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy,
  Ramdas, "Time-uniform central limit theory and asymptotic confidence sequences", Annals of Statistics 52(6),
  2024; for a quantile the count of observations below it is the sum (Howard & Ramdas, "Sequential estimation
  of quantiles with applications to A/B-testing and best-arm identification", Bernoulli 28(3), 2022).

Both rest on a normal approximation of a statistic, so the guarantee is asymptotic; the gates' minimum sample
counts keep them out of the small-sample regime, and `bench/rollout` measures the false-rollback rate of an equal
candidate and of one exactly at the margin at evaluation intervals of 1, 5 and 30 seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_LOG2 = math.log(2.0)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def log_ndtr(x: float) -> float:
    """log Φ(x), accurate in the far left tail (where Φ underflows)."""
    if x > -30.0:
        return math.log(0.5 * math.erfc(-x / math.sqrt(2.0)))
    # Mills-ratio asymptotics: Φ(x) ≈ φ(x)/|x| · (1 − 1/x²)
    return -0.5 * x * x - math.log(-x) - _HALF_LOG_2PI + math.log1p(-1.0 / (x * x))


# -- one-sided mixture SPRT for a difference of proportions -----------------------------------------------------


@dataclass(frozen=True)
class Mixture:
    """Mixing distribution of the one-sided test martingale over the drift λ ≥ 0 (in the effect's units):
    `weight` on the point λ = `point` (Wald's SPRT), the rest on a half-normal of scale `scale`."""

    point: float
    scale: float
    weight: float = 0.5

    def log_martingale(self, s: float, v: float, point_llr: float | None = None) -> float:
        """log M(s, v) for the sum s = (estimate − θ)·v at information v = 1/variance.

        M = w·exp(λs − λ²v/2) + (1 − w)·2·√(ρ/(v+ρ))·exp(s²/(2(v+ρ)))·Φ(s/√(v+ρ)), ρ = 1/scale²: a nonnegative
        martingale with mean 1 under the hypothesis, so P(it ever reaches 1/α) ≤ α (Ville). `point_llr`, when
        given, replaces the Gaussian log-likelihood ratio λs − λ²v/2 of the point part (the exact binomial one)."""
        lam = self.point
        llr = lam * s - 0.5 * lam * lam * v if point_llr is None else point_llr
        a = math.log(self.weight) + llr if self.weight > 0 else -math.inf
        rho = 1.0 / (self.scale * self.scale)
        t = v + rho
        b = (math.log1p(-self.weight) + _LOG2 + 0.5 * math.log(rho / t) + s * s / (2 * t)
             + log_ndtr(s / math.sqrt(t))) if self.weight < 1 else -math.inf
        hi = max(a, b)
        return hi + math.log(math.exp(a - hi) + math.exp(b - hi))


def _loglik(bad: int, n: int, p: float) -> float:
    out = 0.0
    if bad:
        out += bad * math.log(max(p, 1e-300))
    if n - bad:
        out += (n - bad) * math.log(max(1.0 - p, 1e-300))
    return out


def restricted_rates(x1: int, n1: int, x2: int, n2: int, delta: float) -> tuple[float, float]:
    """Maximum-likelihood (p1, p2) of two binomials under p1 − p2 = delta (Farrington-Manning closed form)."""
    p1h, p2h = x1 / n1, x2 / n2
    t = n2 / n1
    a = 1.0 + t
    b = -(1.0 + t + p1h + t * p2h + delta * (t + 2.0))
    c = delta * delta + delta * (2.0 * p1h + t + 1.0) + p1h + t * p2h
    d = -p1h * delta * (1.0 + delta)
    v = b ** 3 / (3 * a) ** 3 - b * c / (6 * a * a) + d / (2 * a)
    u = math.sqrt(max(b * b / (3 * a) ** 2 - c / (3 * a), 0.0))
    if v < 0:
        u = -u
    if u == 0.0:
        p1 = -b / (3 * a)
    else:
        w = (math.pi + math.acos(max(-1.0, min(1.0, v / u ** 3)))) / 3.0
        p1 = 2.0 * u * math.cos(w) - b / (3 * a)
    p1 = min(max(p1, max(0.0, delta)), min(1.0, 1.0 + delta))
    return p1, p1 - delta


@dataclass(frozen=True)
class TwoProportions:
    """bad1 of n1 (the candidate) against bad2 of n2 (the baseline: noise floor or the primary's own rate)."""

    bad1: int
    n1: int
    bad2: int
    n2: int

    @property
    def estimate(self) -> float:
        return self.bad1 / self.n1 - self.bad2 / self.n2

    def _profile(self, theta: float) -> tuple[float, float, float]:
        """(D(θ), p̃1, p̃2): the deviance 2·(ℓ̂ − ℓ̃(θ)), the log-likelihood lost by restricting the excess to θ, and
        the restricted maximum-likelihood rates."""
        p1, p2 = restricted_rates(self.bad1, self.n1, self.bad2, self.n2, theta)
        dev = 2.0 * (_loglik(self.bad1, self.n1, self.bad1 / self.n1) + _loglik(self.bad2, self.n2, self.bad2 / self.n2)
                     - _loglik(self.bad1, self.n1, p1) - _loglik(self.bad2, self.n2, p2))
        return max(dev, 0.0), p1, p2

    def point_llr(self, theta: float, lam: float, dev_theta: float | None = None) -> float:
        """Exact binomial log-likelihood ratio of excess θ + λ against θ, the baseline rate profiled out under
        each: ℓ̃(θ + λ) − ℓ̃(θ) = (D(θ) − D(θ + λ))/2."""
        d0 = self._profile(theta)[0] if dev_theta is None else dev_theta
        return 0.5 * (d0 - self._profile(max(-1.0, min(1.0, theta + lam)))[0])

    def _stat(self, theta: float) -> tuple[float, float]:
        """(|signed root of the likelihood ratio|, information) of the data against excess = θ.

        The signed-root statistic √(2·(ℓ̂ − ℓ̃)) is close to normal even at the 1 % rates and ~100 samples the gates
        start from, where a Wald or score z is skewed and crosses an upper boundary too often; the information is
        taken under θ (restricted maximum likelihood)."""
        dev, p1, p2 = self._profile(theta)
        var = p1 * (1 - p1) / self.n1 + p2 * (1 - p2) / self.n2
        return math.sqrt(dev), 1.0 / max(var, 1e-15)

    def evidence_above(self, theta: float, mix: Mixture) -> float:
        """log of the test martingale against H0: excess ≤ θ (large = the excess is above θ)."""
        if self.estimate < theta:
            return -math.inf
        z, v = self._stat(theta)
        return mix.log_martingale(z * math.sqrt(v), v, self.point_llr(theta, mix.point, z * z))

    def evidence_below(self, theta: float, mix: Mixture) -> float:
        """log of the test martingale against H0: excess ≥ θ (large = the excess is below θ)."""
        if self.estimate > theta:
            return -math.inf
        z, v = self._stat(theta)
        return mix.log_martingale(z * math.sqrt(v), v)

    def above(self, theta: float, alpha: float, mix: Mixture) -> bool:
        """Rejects 'excess ≤ θ' at level α, valid at every look."""
        return self.estimate > theta and self.evidence_above(theta, mix) >= math.log(1.0 / alpha)

    def below(self, theta: float, alpha: float, mix: Mixture) -> bool:
        """Rejects 'excess ≥ θ' at level α, valid at every look."""
        return self.estimate < theta and self.evidence_below(theta, mix) >= math.log(1.0 / alpha)

    def _spread(self) -> float:
        p1, p2 = (self.bad1 + 0.5) / (self.n1 + 1), (self.bad2 + 0.5) / (self.n2 + 1)
        return math.sqrt(p1 * (1 - p1) / self.n1 + p2 * (1 - p2) / self.n2)

    def lower(self, alpha: float, mix: Mixture, tol: float = 1e-5) -> float:
        """Lower confidence-sequence bound of the excess: the smallest θ not rejected by `above`."""
        est, need = self.estimate, math.log(1.0 / alpha)
        a = max(-1.0, est - 12 * self._spread() - 0.01)
        if self.evidence_above(a, mix) < need:
            a = -1.0
            if self.evidence_above(a, mix) < need:
                return a
        return _crossing(lambda t: self.evidence_above(t, mix) - need, a, est, tol)

    def upper(self, alpha: float, mix: Mixture, tol: float = 1e-5) -> float:
        """Upper confidence-sequence bound of the excess: the largest θ not rejected by `below`."""
        est, need = self.estimate, math.log(1.0 / alpha)
        b = min(1.0, est + 12 * self._spread() + 0.01)
        if self.evidence_below(b, mix) < need:
            b = 1.0
            if self.evidence_below(b, mix) < need:
                return b
        return _crossing(lambda t: self.evidence_below(t, mix) - need, b, est, tol)

    def scaled(self, f: float) -> TwoProportions:
        """The same rates on f times the samples (for 'how many more samples until it decides')."""
        return TwoProportions(round(self.bad1 * f), max(1, round(self.n1 * f)), round(self.bad2 * f),
                              max(1, round(self.n2 * f)))


def _crossing(g, rejected: float, kept: float, tol: float) -> float:
    """The boundary between θ = `rejected` (g ≥ 0) and θ = `kept` (g < 0), by the Illinois variant of regula
    falsi (a handful of evaluations where bisection takes twenty); returns the kept side."""
    a, b = rejected, kept
    fa, fb = g(a), g(b)
    side = 0
    for _ in range(100):
        if abs(b - a) <= tol:
            break
        c = (a * fb - b * fa) / (fb - fa)
        if not (min(a, b) < c < max(a, b)):
            c = (a + b) / 2
        fc = g(c)
        if fc >= 0:
            a, fa = c, fc
            if side == -1:
                fb /= 2
            side = -1
        else:
            b, fb = c, fc
            if side == 1:
                fa /= 2
            side = 1
        if abs(fc) < 1e-4:  # log-evidence units: the bound is then within ~1e-6 of the crossing
            break
    return b


# -- two-sided normal mixture on a standardised sum (means, quantile ranks) ---------------------------------------


def mixture_rho(alpha: float, tune_samples: float) -> float:
    """Prior precision making Robbins' boundary tightest after `tune_samples` observations (Howard et al. 2021)."""
    ell = 2 * math.log(1 / alpha)
    return tune_samples / (ell + math.log1p(ell))


def radius(n: float, alpha: float, tune_samples: float) -> float:
    """Half-width, in standard deviations of one observation, of a two-sided confidence sequence for the sum
    of n observations: |S_n − nμ| ≤ σ·radius(n) at every n at once with probability ≥ 1 − α."""
    rho = mixture_rho(alpha, tune_samples)
    return math.sqrt((n + rho) * math.log((n + rho) / (rho * alpha * alpha)))


def samples_to_decide(decides, n: int, limit: float = 1e6) -> int | None:
    """How many more samples until `decides(f)` (f = future samples / current samples) turns true, at the current
    estimates; None when it does not happen within `limit` samples (the estimate sits on the threshold)."""
    if n <= 0:
        return None
    if decides(1.0):
        return 0
    hi = 2.0
    while not decides(hi):
        hi *= 2
        if n * hi > limit:
            return None
    lo = hi / 2
    while (hi - lo) * n > max(1.0, 0.01 * n * lo):
        mid = (lo + hi) / 2
        if decides(mid):
            hi = mid
        else:
            lo = mid
    return max(1, math.ceil(n * (hi - 1)))
