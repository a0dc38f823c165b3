import numpy as np

from ace3d.method.concepts import ConceptParams, discover, popular
from ace3d.method.tcav import benjamini_hochberg, cav, concept_tcav, score


def test_cav_points_to_positive_set():
    rng = np.random.default_rng(0)
    pos = rng.normal(0, 1, (40, 8)) + np.eye(8)[2] * 3
    neg = rng.normal(0, 1, (40, 8))
    c = cav(pos, neg)
    assert np.isclose(np.linalg.norm(c), 1.0, atol=1e-5)
    assert int(np.argmax(c)) == 2


def test_tcav_significant_only_for_a_real_direction():
    rng = np.random.default_rng(1)
    grads = rng.normal(0, 0.3, (30, 8)) + np.eye(8)[2]  # the logit rises along dimension 2
    randoms = [rng.normal(0, 1, (30, 8)) for _ in range(11)]
    real = concept_tcav(rng.normal(0, 1, (30, 8)) + np.eye(8)[2] * 3, randoms, grads)
    assert real.scores.mean() > 0.9 and real.p_raw < 0.01
    fake = concept_tcav(rng.normal(0, 1, (30, 8)), randoms, grads)
    assert fake.p_raw > real.p_raw
    assert score(grads, np.eye(8)[2]) > 0.9


def test_benjamini_hochberg():
    p = np.array([0.01, 0.04, 0.03, 0.5])
    adj = benjamini_hochberg(p)
    assert np.allclose(adj, [0.04, 0.16 / 3, 0.16 / 3, 0.5])  # 0.04*4/3 caps 0.03*4/2
    assert (adj >= p).all() and (adj <= 1).all()


def test_discover_keeps_popular_clusters():
    rng = np.random.default_rng(2)
    # 10 videos, each with one point near each of 3 centres plus noise points
    centres = np.eye(4)[:3] * 10
    feats, vids = [], []
    for v in range(10):
        for c in centres:
            feats.append(c + rng.normal(0, 0.1, 4))
            vids.append(v)
    found = discover(np.array(feats), np.array(vids), ConceptParams(n_clusters=3, min_members=5))
    assert len(found) == 3 and all(c.videos == 10 for c in found)
    assert not popular(1, 50, 10) and popular(10, 10, 10)
