"""CAVs, TCAV scores and their significance.

A CAV is the normal of a linear classifier separating a concept's features from a random set's. The
TCAV score of a concept for a class is the share of the class's videos whose target logit rises when the
bottleneck activation moves along the CAV (positive directional derivative). Repeating this against many
random sets gives a distribution of scores; random-vs-random CAVs give the null distribution; a paired
t-test compares them. p-values are reported raw and Benjamini-Hochberg corrected across all concepts,
which the reference implementation leaves out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats
from sklearn.linear_model import LogisticRegression

from ace3d.models import Classifier
from ace3d.models.engine import ForwardEngine


@dataclass
class TcavResult:
    scores: np.ndarray  # TCAV score against each random set
    null_scores: np.ndarray  # random-vs-random scores against the same sets (paired)
    cav: np.ndarray  # mean unit CAV over the random sets
    p_raw: float


def cav(positive: np.ndarray, negative: np.ndarray, seed: int = 0) -> np.ndarray:
    """Unit normal of a linear boundary between two feature sets, pointing towards `positive`."""
    x = np.concatenate([positive, negative])
    y = np.r_[np.ones(len(positive)), np.zeros(len(negative))]
    mu, sd = x.mean(0), x.std(0) + 1e-6
    clf = LogisticRegression(C=1.0, max_iter=500, random_state=seed).fit((x - mu) / sd, y)
    w = clf.coef_[0] / sd  # back to the unstandardised feature space
    return (w / (np.linalg.norm(w) + 1e-12)).astype(np.float32)


def pooled_gradients(engine: ForwardEngine, clips: list[torch.Tensor], target: int) -> np.ndarray:
    """d(target logit)/d(activation), averaged over the bottleneck's space and time, one row per clip.
    A CAV lives in that averaged feature space, so this is the directional derivative's gradient."""
    rows = []
    for x in clips:
        with torch.no_grad():
            act = engine.trunk(x.to(engine.clf.device))
        rows.append(activation_gradient(engine.clf, act, target))
    return np.stack(rows) if rows else np.zeros((0, 0), np.float32)


def activation_gradient(clf: Classifier, act: torch.Tensor, target: int) -> np.ndarray:
    """The row of `pooled_gradients` for a clip whose bottleneck activation `act` (1 x C x t x h x w, computed
    without autograd) is already at hand: only the head runs, forwards and backwards."""
    act = act.detach().requires_grad_(True)
    logit = clf.head(act)[0, target]
    (grad,) = torch.autograd.grad(logit, act)
    return grad[0].float().mean(dim=(1, 2, 3)).cpu().numpy()


def score(gradients: np.ndarray, direction: np.ndarray) -> float:
    """Share of clips whose target logit increases along `direction`."""
    return float(np.mean(gradients @ direction > 0)) if len(gradients) else 0.0


def random_sets(pool: np.ndarray, n_sets: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`n_sets` random feature sets of `size` rows drawn from the random videos' supervoxels."""
    return [pool[rng.choice(len(pool), size=size, replace=len(pool) < size)] for _ in range(n_sets + 1)]


def concept_tcav(members: np.ndarray, randoms: list[np.ndarray], gradients: np.ndarray,
                 seed: int = 0) -> TcavResult:
    """TCAV scores of a concept against randoms[1:], paired with randoms[0]-vs-randoms[i] null scores."""
    scores, null, cavs = [], [], []
    for i, neg in enumerate(randoms[1:], start=1):
        c = cav(members, neg, seed + i)
        cavs.append(c)
        scores.append(score(gradients, c))
        null.append(score(gradients, cav(randoms[0], neg, seed + i)))
    s, n = np.array(scores), np.array(null)
    if np.allclose(s - n, (s - n)[0]):
        p = 0.0 if abs((s - n)[0]) > 0 else 1.0  # a constant difference: the t-test is undefined
    else:
        p = float(stats.ttest_rel(s, n).pvalue)
    mean_cav = np.mean(cavs, axis=0)
    return TcavResult(scores=s, null_scores=n, cav=(mean_cav / (np.linalg.norm(mean_cav) + 1e-12)).astype(np.float32),
                      p_raw=p)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (monotone, capped at 1)."""
    p = np.asarray(p, float)
    n = len(p)
    if n == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    out = np.empty(n)
    out[order] = adjusted
    return out
