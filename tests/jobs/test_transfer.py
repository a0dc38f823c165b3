"""`ace3d train --init i3d_kinetics400` on a handful of clips: the Kinetics weights are kept in the trunk, the new
head is fitted, and the result loads as a model like any `ace3d train` output (needs `make weights`)."""

import json

import torch

from ace3d import models
from ace3d.jobs.transfer import TransferConfig, train_transfer
from ace3d.models.i3d_net import build_i3d_transfer, stage_channels


def test_the_cut_network_keeps_the_kinetics_names():
    net = build_i3d_transfer("Mixed_3c", 5)
    names = [n for n, _ in net.named_children()]
    assert names[-2:] == ["Mixed_3c", "head"] and "Mixed_4b" not in names
    assert net.head.fc.in_features == stage_channels("Mixed_3c") == 480
    assert net(torch.zeros(1, 3, 16, 112, 112)).shape == (1, 5)


def test_transfer_on_a_few_clips(synth_dir, tmp_path):
    cfg = TransferConfig(clip_shape=(16, 64, 64), still=0.2)
    rec = train_transfer(synth_dir, tmp_path / "t", cfg, test_data=[synth_dir], progress=False)
    assert rec["arch"] == "i3d_transfer" and rec["class_names"][-1] == "no_motion"
    clf = models.load(f"demo:{tmp_path / 't.json'}")
    kinetics = models.load("i3d_kinetics400").net.state_dict()
    assert torch.equal(clf.net.state_dict()["Mixed_3c.Branch_1.Conv3d_0b_3x3.conv.weight"],
                       kinetics["Mixed_3c.Branch_1.Conv3d_0b_3x3.conv.weight"])
    assert clf.layer == "Mixed_3c" and clf.stages[0][0] == "input"
    test = rec["training"]["tests"][str(synth_dir)]
    assert test["videos"] > 0 and 0.0 <= test["accuracy"] <= 1.0
    assert rec["training"]["train_accuracy"] > 0.5  # a linear head separates the training clips
    assert json.loads((tmp_path / "t.json").read_text())["training"]["tests"] == rec["training"]["tests"]


def test_classes_are_the_data_sets_folders(synth_dir, tmp_path):
    from ace3d.jobs.synth import CLASSES
    from ace3d.jobs.transfer import data_classes

    assert data_classes(synth_dir) == list(CLASSES)  # a synthetic set keeps the generator's order
    for name in ("using segway", "playing piano"):  # real clips: their folders, sorted
        (tmp_path / "real" / name).mkdir(parents=True)
        (tmp_path / "real" / name / "a.mp4").write_bytes(b"")
    (tmp_path / "real" / "random").mkdir()
    assert data_classes(tmp_path / "real") == ["playing piano", "using segway"]
