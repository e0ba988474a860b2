"""The synthetic old-film degradation model, its presets and its VapourSynth filter."""
from __future__ import annotations

import copy

import cv2
import numpy as np
import pytest
import vapoursynth as vs

import vsrtn
from vsrtn.degrade import Degrader, validate_spec
from vsrtn.degrade.components import BY_NAME
from vsrtn.errors import PresetError
from vsrtn.presets import available, load_preset

from vsclips import textured

MEDIUM = load_preset("medium")["degradation"]


def clean(h=96, w=128, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w), dtype=np.float32), (0, 0), 3)
    return ((img - img.min()) / (img.max() - img.min()) * 0.6 + 0.2).astype(np.float32)


def only(name: str, **ranges) -> dict:
    """A spec with one component always on, at the middle of its bounds unless given."""
    cls = BY_NAME[name]
    cfg = {"prob": 1.0}
    for key, p in cls.params.items():
        mid = (p.lo + p.hi) / 2
        mid = round(mid) if p.integer else mid
        cfg[key] = ranges.get(key, [mid, mid])
    return {name: cfg}


def test_shipped_presets_are_valid_and_ordered_by_strength():
    assert {"light", "medium", "heavy"} <= set(available())
    img = clean()
    errs = []
    for name in ("light", "medium", "heavy"):
        spec = load_preset(name)["degradation"]
        diffs = [np.abs(Degrader(spec, s).frame(img, 3)[0] - img).mean() for s in range(8)]
        errs.append(np.mean(diffs))
    assert errs[0] < errs[1] < errs[2]


def test_random_access_gives_the_same_frames():
    img = clean()
    a = Degrader(MEDIUM, seed=5)
    linear = [a.frame(img, n) for n in range(12)]
    b = Degrader(MEDIUM, seed=5)
    for n in np.random.default_rng(0).permutation(12):
        out, mask = b.frame(img, int(n))
        assert np.array_equal(out, linear[n][0]) and np.array_equal(mask, linear[n][1])


def test_seeds_and_frames_differ():
    img = clean()
    a, b = Degrader(MEDIUM, 1).frame(img, 0)[0], Degrader(MEDIUM, 2).frame(img, 0)[0]
    assert not np.array_equal(a, b)
    d = Degrader(MEDIUM, 1)
    assert not np.array_equal(d.frame(img, 0)[0], d.frame(img, 1)[0])


@pytest.mark.parametrize("name,ranges", [
    ("scratches", dict(rate=[0.5, 0.5], lifetime=[30, 30], opacity=[0.8, 0.8])),
    ("dust", dict(density=[40, 40], opacity=[0.9, 0.9])),
    ("hairs", dict(rate=[3, 3], opacity=[0.9, 0.9])),
    ("blotches", dict(rate=[3, 3], opacity=[0.8, 0.8], size=[10, 20])),
])
def test_damage_changes_the_frame_exactly_where_the_mask_says(name, ranges):
    img = np.full((96, 128), 0.5, np.float32)
    d = Degrader(only(name, **ranges), seed=3)
    changed = 0
    for n in range(4):
        out, mask = d.frame(img, n)
        diff = np.abs(out - img)
        assert (diff[mask == 0] == 0).all()  # nothing outside the mask
        assert (diff[mask > 0.05] > 0).all()  # visible wherever the mask is
        changed += (mask > 0).sum()
    assert changed > 0


@pytest.mark.parametrize("name", ["blur", "resolution", "grain", "fading", "flicker", "compression"])
def test_global_components_change_the_frame_without_marking_damage(name):
    ranges = {"resolution": dict(scale=[0.3, 0.3]), "fading": dict(contrast=[0.6, 0.6], lift=[0.1, 0.1]),
              "flicker": dict(gain=[0.1, 0.1]), "compression": dict(quality=[10, 10])}.get(name, {})
    img = clean()
    out, mask = Degrader(only(name, **ranges), seed=4).frame(img, 0)
    assert np.abs(out - img).mean() > 1e-3
    assert not mask.any()


def test_restoration_target_keeps_the_tone_and_nothing_else():
    img = clean()
    fading = only("fading", contrast=[0.7, 0.7], lift=[0.1, 0.1])["fading"]
    d = Degrader({**MEDIUM, "fading": fading}, seed=6)
    assert "fading" in d.components and len(d.components) > 2
    target = d.target(img, 4)
    np.testing.assert_allclose(target, 0.1 + img * 0.6, atol=1e-6)  # the faded print, undamaged
    assert np.abs(d.frame(img, 4)[0] - target).mean() > 1e-3
    unfaded = Degrader({k: v for k, v in MEDIUM.items() if k != "fading"}, seed=6)
    assert np.array_equal(unfaded.target(img, 4), img)


def test_damage_only_target_keeps_the_very_grain_the_frame_got():
    img = clean()
    grain_only = Degrader(only("grain", amount=[0.05, 0.05], size=[1, 1]), seed=3)
    np.testing.assert_array_equal(grain_only.target(img, 2, keep=("grain",)), grain_only.frame(img, 2)[0])
    assert not np.array_equal(grain_only.target(img, 3, keep=("grain",)), grain_only.frame(img, 2)[0])
    d = Degrader(MEDIUM, seed=6)
    kept = d.target(img, 4, keep=("grain",))
    # The damaged frame is closer to the target that keeps its grain than to the grainless one.
    frame = d.frame(img, 4)[0]
    assert np.abs(frame - kept).mean() < np.abs(frame - d.target(img, 4)).mean()


def test_scratches_persist_and_drift_slowly():
    d = Degrader(only("scratches", rate=[0.2, 0.2], lifetime=[60, 60], drift=[1, 1], length=[1, 1]), seed=2)
    img = np.full((64, 200), 0.5, np.float32)
    cols = [d.frame(img, n)[1].max(axis=0) > 0.3 for n in range(10, 13)]
    # Scratches appear and vanish, but most scratch columns of a frame have a scratch within a
    # few pixels in the frame before (one-frame damage would share almost none).
    for a, b in zip(cols, cols[1:]):
        xs_a, xs_b = np.flatnonzero(a), np.flatnonzero(b)
        assert len(xs_a) and len(xs_b)
        near = np.abs(xs_b[:, None] - xs_a[None, :]).min(axis=1) <= 4
        assert near.mean() >= 0.7


def test_grain_is_signal_dependent():
    d = Degrader(only("grain", amount=[0.05, 0.05], size=[0.5, 0.5]), seed=1)
    dark, mid = np.full((64, 64), 0.02, np.float32), np.full((64, 64), 0.5, np.float32)
    assert (d.frame(mid, 0)[0] - mid).std() > 2 * (d.frame(dark, 0)[0] - dark).std()


def test_templates_from_a_folder(tmp_path):
    tpl = np.zeros((40, 40), np.uint8)
    tpl[:, 18:21] = 255
    cv2.imwrite(str(tmp_path / "scratch.png"), tpl)
    spec = {"templates": {"prob": 1.0, "opacity": [1.0, 1.0], "folder": str(tmp_path)}}
    out, mask = Degrader(spec, 0).frame(np.full((80, 80), 0.5, np.float32), 0)
    assert mask.max() > 0.5 and np.abs(out - 0.5)[mask == 0].max() == 0


@pytest.mark.parametrize("mutate,message", [
    (lambda s: s.update(smudge={}), "unknown component 'smudge'"),
    (lambda s: s["dust"].update(color=[0, 1]), "unknown key 'color'"),
    (lambda s: s["dust"].pop("size"), "missing key 'size'"),
    (lambda s: s["dust"].update(size=3), "'degradation.dust.size' must be [min, max]"),
    (lambda s: s["dust"].update(size=[5, 1]), "0.5 <= min <= max <= 20"),
    (lambda s: s["dust"].update(size=[1, 99]), "got [1, 99]"),
    (lambda s: s["compression"].update(quality=[50.5, 60]), "integers"),
    (lambda s: s["dust"].update(prob=1.5), "'degradation.dust.prob' must be a number in 0..1"),
])
def test_spec_validation_names_key_and_range(mutate, message):
    spec = copy.deepcopy(MEDIUM)
    mutate(spec)
    with pytest.raises(PresetError) as err:
        validate_spec(spec)
    assert message in str(err.value)


def test_user_preset_overrides_one_range_of_a_base(tmp_path):
    user = tmp_path / "mine.yaml"
    user.write_text("base: heavy\ndegradation:\n  dust: {density: [1, 2]}\nrestore:\n  context: 3\n")
    merged = load_preset(user)
    heavy = load_preset("heavy")
    assert merged["degradation"]["dust"]["density"] == [1, 2]
    assert merged["degradation"]["dust"]["size"] == heavy["degradation"]["dust"]["size"]
    assert merged["restore"] == {**heavy["restore"], "context": 3}
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: heavy\ndegradation:\n  dust: {density: [1, 200]}\n")
    with pytest.raises(PresetError, match=r"dust.density"):
        load_preset(bad)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("base: extreme\n")
    with pytest.raises(PresetError, match="'base' must be one of"):
        load_preset(unknown)


def test_vapoursynth_filter_keeps_format_and_chroma_and_is_order_independent():
    src = textured(vs.YUV420P10, 96, 64, 6)
    out = vsrtn.Degrade(src, preset="heavy", seed=3)
    assert out.format.id == src.format.id and out.num_frames == 6
    f_lin = [np.asarray(out.get_frame(n)[0]).copy() for n in range(6)]
    for n in (5, 2, 0, 3):
        f = out.get_frame(n)
        assert np.array_equal(np.asarray(f[0]), f_lin[n])
        assert np.array_equal(np.asarray(f[1]), np.asarray(src.get_frame(n)[1]))
    assert not np.array_equal(f_lin[0], np.asarray(src.get_frame(0)[0]))
    mask = vsrtn.Degrade(src, preset="heavy", seed=3, mask=True)
    assert mask.format.id == vs.GRAYS and np.asarray(mask.get_frame(1)[0]).max() > 0


def test_vapoursynth_filter_errors():
    src = textured(length=2)
    with pytest.raises(vs.Error, match="vsrtn.Degrade: 'seed' must be an integer in 0..2\\*\\*63-1"):
        vsrtn.Degrade(src, seed=-1)
    with pytest.raises(vs.Error, match="vsrtn.Degrade: unknown preset 'x'"):
        vsrtn.Degrade(src, preset="x")
