"""Every --model format loads from a local file that the test writes itself (random weights), and the
trunk/head split computes exactly what the whole network computes."""

import json

import pytest
import torch

from ace3d import models
from ace3d.errors import ModelError


def _check_split(clf: models.Classifier, shape=None) -> None:
    x = torch.randn(1, 3, *(shape or clf.clip_shape))
    with torch.no_grad():
        full = clf.net(x)
        split = clf.logits(x)
    assert split.shape == (1, len(clf.class_names))
    assert torch.allclose(full.flatten(1), split, atol=1e-4)


def test_x3d_pyth_checkpoint(tmp_path):
    net = models.build_x3d(num_classes=7, clip_len=4, crop=160, depth_factor=2.2)
    torch.save({"model_state": net.state_dict(), "epoch": 3}, tmp_path / "x3d_xs.pyth")
    clf = models.load(f"x3d_xs:{tmp_path / 'x3d_xs.pyth'}")
    assert clf.clip_shape == (4, 160, 160) and clf.layer == "blocks.4" and len(clf.class_names) == 7
    _check_split(clf)
    assert models.load(f"x3d_xs:{tmp_path / 'x3d_xs.pyth'}", layer="blocks.2").layer == "blocks.2"


@pytest.mark.parametrize("arch", ["r3d_18", "mc3_18", "r2plus1d_18"])
def test_torchvision_state_dicts(tmp_path, arch):
    import torchvision.models.video as tvv

    torch.save(getattr(tvv, arch)(num_classes=5).state_dict(), tmp_path / "w.pth")
    clf = models.load(f"{arch}:{tmp_path / 'w.pth'}")
    assert clf.layer == "layer4" and clf.clip_shape == (16, 112, 112)
    _check_split(clf, (8, 64, 64))


def test_s3d_and_slow_r50_load(tmp_path):
    import torchvision.models.video as tvv

    torch.save(tvv.s3d(num_classes=3).state_dict(), tmp_path / "s3d.pth")
    clf = models.load(f"s3d:{tmp_path / 's3d.pth'}")
    assert clf.layer == "features.15" and len(clf.class_names) == 3
    _check_split(clf, (16, 224, 224))
    torch.save(models.build_slow_r50(num_classes=6).state_dict(), tmp_path / "slow.pyth")
    slow = models.load(f"slow_r50:{tmp_path / 'slow.pyth'}")
    assert slow.clip_shape == (8, 224, 224) and len(slow.class_names) == 6


def test_torchscript_with_metadata(tmp_path):
    import torchvision.models.video as tvv

    scripted = torch.jit.script(tvv.r3d_18(num_classes=4).eval())
    meta = {"clip_shape": [8, 64, 64], "class_names": ["a", "b", "c", "d"]}
    torch.jit.save(scripted, str(tmp_path / "m.pt"), _extra_files={"ace3d.json": json.dumps(meta)})
    clf = models.load(f"torchscript:{tmp_path / 'm.pt'}")
    assert clf.class_names == ["a", "b", "c", "d"] and clf.layer == "layer4"
    _check_split(clf)


def test_bad_specs(tmp_path):
    with pytest.raises(ModelError, match="needs a checkpoint path"):
        models.load("r3d_18")
    with pytest.raises(ModelError, match="unknown model kind"):
        models.load("resnet9000:/x")
    with pytest.raises(ModelError, match="not found"):
        models.load(f"r3d_18:{tmp_path / 'missing.pth'}")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="weights-only"):
        models.load(f"r3d_18:{tmp_path / 'junk.pth'}")
    import torchvision.models.video as tvv

    torch.save(tvv.mc3_18(num_classes=4).state_dict(), tmp_path / "mc3.pth")
    with pytest.raises(ModelError, match="does not fit"):
        models.load(f"r3d_18:{tmp_path / 'mc3.pth'}")
    with pytest.raises(ModelError, match="not a bottleneck"):
        models.load(f"mc3_18:{tmp_path / 'mc3.pth'}", layer="nope")


def test_fingerprint_tracks_weights():
    a = models.build_x3d(num_classes=2, clip_len=4, crop=32, width_factor=0.5, depth_factor=0.5, head_dim_out=16)
    fp = models.fingerprint(a)
    with torch.no_grad():
        next(a.parameters()).add_(1.0)
    assert models.fingerprint(a) != fp
