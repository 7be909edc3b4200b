"""deft.pointcloud: lifting with the fitted pose, stabilising, model inputs, the Point-MAE encoder and heads."""



import numpy as np
import pytest

from deft.data.world.mesh import Pose, project
from deft.face3d import mean_face
from deft.pointcloud.features import MOTION_SCALE, clip_input, landmarks_2d, stabilise
from deft.pointcloud.lift import dense_triangles, densify, lift_clip, rotation

torch = pytest.importorskip("torch")

POSES = [(0, 0, 0), (20, -10, 15), (-25, 12, -20), (10, 8, 5)]


def _filmed(points: np.ndarray, poses) -> np.ndarray:
    """(T, 68, 2) pixels of canonical points under each pose, weak perspective at 60 px IOD."""
    return np.stack([project(points, Pose(*p, 60.0, (128.0, 110.0)))[0] for p in poses])


def test_rotation_matches_the_world_and_perception():
    from deft.tracking.pose import euler_from_rotation

    for yaw, pitch, roll in POSES:
        assert np.allclose(euler_from_rotation(rotation(yaw, pitch, roll)), (yaw, pitch, roll), atol=1e-6)


def test_lifting_removes_the_pose():
    clouds = lift_clip(_filmed(mean_face(), POSES), (256, 256), dense=False)
    raw = landmarks_2d(_filmed(mean_face(), POSES))
    lifted_spread = np.median(np.linalg.norm(clouds[:, :, :2] - clouds[0, :, :2], axis=-1)[1:])
    raw_spread = np.median(np.linalg.norm(raw - raw[0], axis=-1)[1:])
    assert np.median(np.linalg.norm(clouds - mean_face(), axis=-1)) < 0.05  # IOD
    assert lifted_spread < raw_spread / 3  # 2D eye alignment cannot undo yaw and pitch; the lift does


def test_lifted_expression_survives_a_head_turn():
    moved = mean_face().copy()
    moved[48:68, 1] -= 0.05  # the lips rise 0.05 IOD
    turned = [(15, 5, 10)] * 2
    a = lift_clip(_filmed(mean_face(), turned), (256, 256), dense=False)[0]
    b = lift_clip(_filmed(moved, turned), (256, 256), dense=False)[0]
    rise = (a - b)[48:68, 1]
    assert 0.03 < np.median(rise) < 0.07
    assert np.median(np.abs((a - b)[:17])) < 0.01  # the jaw outline did not move


def test_densify_adds_triangle_centroids():
    pts = mean_face()
    dense = densify(pts)
    tri = dense_triangles()
    assert dense.shape == (68 + len(tri), 3)
    assert np.allclose(dense[68], pts[tri[0]].mean(axis=0))
    assert lift_clip(np.full((2, 68, 2), np.nan), (256, 256)).shape == (2, 68 + len(tri), 3)


def test_stabilise_undoes_rigid_motion_and_drops_lost_frames():
    rng = np.random.default_rng(0)
    base = densify(mean_face())
    frames = np.stack([base @ rotation(*rng.normal(0, 4, 3)).T + rng.normal(0, 0.1, 3) for _ in range(6)])
    frames[2] = np.nan
    aligned, rest, kept = stabilise(frames)
    assert kept.tolist() == [True, True, False, True, True, True]
    assert np.abs(aligned - aligned[0]).max() < 1e-9


def test_clip_input_shows_a_brief_motion_at_its_peak():
    frames = np.repeat(mean_face()[None], 12, axis=0)
    frames[5:8, 54, 1] -= 0.03  # a mouth corner rises for three frames
    x = clip_input(frames)
    assert x.shape == (68, 6)
    assert x[54, 4] == pytest.approx(-0.03 * MOTION_SCALE, rel=0.05)
    assert np.abs(np.delete(x[:, 3:], 54, axis=0)).max() < 0.05


TINY = dict(n_groups=8, group_size=24, dim=16, depth=1, heads=2, adapter_dim=4, domain_dim=8)


def _clouds(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Clip inputs of two classes: the lips (and the centroids among them) rise (1) or drop (0) for two
    frames of six, with point jitter."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    frames = np.repeat(densify(mean_face())[None, None], n, axis=0).repeat(6, axis=1)
    frames = frames + rng.normal(0, 0.002, frames.shape)
    frames[:, 2:4, 48:68, 1] += np.where(y == 1, -0.05, 0.05)[:, None, None]
    return np.stack([clip_input(f) for f in frames]), y


def test_point_mae_shapes_and_chamfer():
    from deft.pointcloud.model import PointMAE, PointMAEConfig, chamfer, farthest_points, patches

    x = torch.from_numpy(_clouds(4, 0)[0])
    idx = farthest_points(x[..., :3], 8)
    assert all(len(set(row.tolist())) == 8 for row in idx)
    centres, groups = patches(x, 8, 24)
    assert centres.shape == (4, 8, 6) and groups.shape == (4, 8, 24, 6)
    assert float(chamfer(groups[0], groups[0])) == 0.0
    losses = PointMAE(PointMAEConfig(**TINY))(x, torch.tensor([0, 1, 2, 3]))
    assert set(losses) == {"chamfer", "domain"} and all(torch.isfinite(v) for v in losses.values())


def test_domain_adapter_picks_or_mixes():
    from deft.pointcloud.model import DomainAdapter

    adapter = DomainAdapter(8, 4, 3)
    torch.nn.init.normal_(adapter.up)
    x = torch.randn(2, 5, 8)
    one = adapter(x, torch.tensor([[0.0, 1.0, 0.0]] * 2))
    expected = x + torch.nn.functional.gelu(x @ adapter.down[1]) @ adapter.up[1]
    assert torch.allclose(one, expected, atol=1e-6)


def test_without_adapter_the_heads_see_no_domain_feature():
    from deft.pointcloud.model import PointClassifier, PointMAE, PointMAEConfig

    model = PointClassifier(PointMAE(PointMAEConfig(**TINY, use_adapter=False)).encoder)
    assert model.encoder.adapters is None and model.fine.in_features == 2 * TINY["dim"]
    out = model(torch.from_numpy(_clouds(2, 0)[0]))
    assert out["fine"].shape == (2, 10) and out["aus"].shape == (2, 12)


@pytest.mark.slow
def test_pretraining_lowers_the_chamfer_loss():
    from deft.pointcloud.model import PointMAE, PointMAEConfig
    from deft.pointcloud.train import FitConfig, pretrain

    x, _ = _clouds(16, 1)
    curve = pretrain(PointMAE(PointMAEConfig(**TINY)), x, np.arange(16) % 6, FitConfig(steps=30, batch_size=8, lr=3e-3))
    assert np.mean(curve[-10:]) < 0.7 * np.mean(curve[:5])


@pytest.mark.slow
def test_fine_tuning_learns_and_saves(tmp_path):
    from deft.pointcloud.clips import CloudClip
    from deft.pointcloud.io import load_classifier, save_classifier
    from deft.pointcloud.model import PointClassifier, PointMAE, PointMAEConfig
    from deft.pointcloud.train import FitConfig, finetune, predict, score, targets

    x, y = _clouds(24, 2)
    clips = [CloudClip(None, None, *(("happiness", "positive", ("AU12",)) if c else ("sadness", "negative", ("AU15",))),
                       0, "a") for c in y]
    model = PointClassifier(PointMAE(PointMAEConfig(**TINY)).encoder)
    finetune(model, x, targets(clips), FitConfig(steps=100, batch_size=8, lr=3e-3))
    xt, yt = _clouds(10, 3)
    test = [clips[1] if c else clips[0] for c in yt]
    assert score(test, predict(model, xt))["composite_acc"] >= 0.9
    save_classifier(model, tmp_path / "m")
    again = predict(load_classifier(tmp_path / "m"), xt)
    assert again == predict(model, xt)


@pytest.mark.slow
def test_world_clip_becomes_labelled_clouds():
    from deft.data.world.clips import world_set
    from deft.pointcloud.clips import N_DOMAINS, domain_of, world_landmarks_clip

    spec = world_set("pose", 1)[0]
    clip = world_landmarks_clip(spec, np.random.default_rng(0))
    assert clip.clouds.shape == (spec.n_frames, 68 + len(dense_triangles()), 3)
    assert clip.emotion == spec.emotion and set(clip.aus) and 0 <= clip.domain < N_DOMAINS
    assert domain_of(spec) % 2 == 1  # the pose set turns the head
    assert np.median(np.linalg.norm(clip.clouds[:, :68] - mean_face(), axis=-1)) < 0.15


@pytest.mark.slow
def test_cli_writes_the_clouds_of_a_clip(tmp_path, capsys):
    import json

    from deft.cli import main

    clip = str(tmp_path / "clip.mp4")
    assert main(["synth", clip, "--seed", "2"]) == 0
    capsys.readouterr()
    assert main(["pointcloud", clip, "--clouds", str(tmp_path / "c.npz")]) == 0
    shown = json.loads(capsys.readouterr().out)
    clouds = np.load(tmp_path / "c.npz")["clouds"]
    assert list(clouds.shape) == shown["shape"] and clouds.shape[1:] == (68 + len(dense_triangles()), 3)
    assert np.isfinite(clouds).all()
    # a still frontal face: its lifted clouds stay near the mean face, frame after frame
    assert np.median(np.linalg.norm(clouds[:, :68] - mean_face(), axis=-1)) < 0.15
    assert main(["pointcloud", clip, "--model", str(tmp_path / "none")]) == 1
    assert "not a point-cloud model folder" in capsys.readouterr().err
