"""Model families in the registry: every spec goes through it, and a new family is one registration."""

from pathlib import Path

import pytest

from ace3d import models
from ace3d.errors import ModelError
from ace3d.models import registry


def test_every_family_is_registered_once():
    assert {"demo", "x3d_xs", "x3d_s", "x3d_m", "slow_r50", "r3d_18", "mc3_18", "r2plus1d_18", "s3d",
            "torchscript"} <= set(models.FAMILIES)
    with pytest.raises(ValueError, match="registered twice"):
        models.register(models.FAMILIES["demo"])


def test_unknown_family_lists_the_registered_ones():
    with pytest.raises(ModelError, match="unknown model kind 'nope'") as exc:
        models.load("nope:x.pt")
    assert "x3d_s:PATH" in str(exc.value) and "demo" in str(exc.value)


def test_a_spec_is_checked_without_loading(tmp_path):
    family, path = registry.parse_spec(f"x3d_s:{tmp_path / 'absent.pt'}")  # the file is read only by load
    assert family.name == "x3d_s" and path == tmp_path / "absent.pt"
    assert registry.parse_spec("i3d_kinetics400") == (models.FAMILIES["i3d_kinetics400"], None)
    with pytest.raises(ModelError, match="needs a checkpoint path: s3d:PATH"):
        registry.parse_spec("s3d")


def test_the_readme_models_table_is_the_registry():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("<!-- models table: the output of registry.markdown_table() -->\n")
    end = readme.index("\n<!-- end of models table -->")
    shown = readme[readme.index("\n", start) + 1:end]
    assert shown == registry.markdown_table(), ("README.md's models table differs from the registry; paste "
                                                "`python -c 'from ace3d.models import registry; "
                                                "print(registry.markdown_table())'`")
    assert shown.count("\n| `") == len(models.FAMILIES)


def test_a_new_family_is_one_registration(tiny_model_json):
    def loader(spec, path, layer, names):
        clf = models.load_config(tiny_model_json, layer)
        clf.name = spec
        return clf

    registry.register(models.Family("tiny_test", loader, needs_path=False, summary="a test family"))
    try:
        clf = models.load("tiny_test")
        assert clf.name == "tiny_test" and clf.clip_shape == (16, 64, 64)  # the config's
        assert "`tiny_test[:PATH]` | the one the file names | a test family |" in registry.markdown_table()
    finally:
        del registry.FAMILIES["tiny_test"]
