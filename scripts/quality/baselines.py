"""The methods vsrtn is measured against. Restoration: OpenCV temporal non-local means, BM3D with
a temporal median, and the motion-compensated chain VapourSynth users build for old film
(`mv_chain`). Colorization: the keyframe's ab copied through its shot, and ab carried frame to
frame along DIS flow.
"""
from __future__ import annotations

import cv2
import numpy as np

NLMEANS_GRID = (3, 5, 7, 10, 14, 20)  # strengths tried (best mean PSNR on the tuning clip)
BM3D_GRID = (5, 8, 12, 16, 24, 32)
MVTOOLS_GRID = (100, 200, 400, 800, 1600, 3200)  # MDegrain2 thSAD
MV_CHAIN = "mvtools chain"
RESTORATION_BASELINES = ("nlmeans", "bm3d+median", MV_CHAIN)


def nlmeans(frames: list[np.ndarray], h: float) -> list[np.ndarray]:
    """OpenCV's temporal non-local means over 5 frames (mirrored at the clip ends)."""
    from vsrtn.windows import reflect

    u8 = [np.clip(np.rint(f * 255), 0, 255).astype(np.uint8) for f in frames]
    out = []
    for i in range(len(u8)):
        stack = [u8[reflect(j, 0, len(u8))] for j in range(i - 2, i + 3)]
        out.append(cv2.fastNlMeansDenoisingMulti(stack, 2, 5, None, h, 7, 21).astype(np.float32) / 255)
    return out


def gray_clip(frames: list[np.ndarray]):
    """A GRAYS VapourSynth clip of float frames."""
    import vapoursynth as vs

    h, w = frames[0].shape
    blank = vs.core.std.BlankClip(format=vs.GRAYS, width=w, height=h, length=len(frames))

    def fill(n, f):
        out = f.copy()
        np.copyto(np.asarray(out[0]), frames[n])
        return out

    return blank.std.ModifyFrame(blank, fill)


def clip_frames(clip) -> list[np.ndarray]:
    return [np.asarray(clip.get_frame(n)[0]).copy() for n in range(clip.num_frames)]


def bm3d_median(frames: list[np.ndarray], sigma: float) -> list[np.ndarray]:
    import vapoursynth as vs

    core = vs.core
    clip = gray_clip(frames)
    basic = core.bm3d.Basic(clip, sigma=sigma)
    final = core.bm3d.Final(clip, ref=basic, sigma=sigma)
    prev = final[0] + final[:-1] if len(frames) > 1 else final
    nxt = final[1:] + final[-1] if len(frames) > 1 else final
    med = core.std.Expr([prev, final, nxt], "x y min x y max z min max")  # median of three
    return clip_frames(med)


def mv_chain(frames: list[np.ndarray], thsad: int) -> list[np.ndarray]:
    """The chain a VapourSynth user builds for old film: motion searched on a blurred copy (grain
    and dust must not steer it); the median of the motion-compensated previous, current and next
    frames against dust and dirt (SpotLess-style); DeScratch against line scratches; MDegrain2
    against grain. Scene-change detection is off (thscd1 at its maximum): on grainy,
    flickering film mvtools otherwise takes most frames for cuts and does nothing."""
    import vapoursynth as vs

    core = vs.core
    clip = core.resize.Point(gray_clip(frames), format=vs.GRAY16)
    search = core.mv.Super(clip.std.Convolution([1, 2, 1, 2, 4, 2, 1, 2, 1]), pel=2)
    render = core.mv.Super(clip, pel=2, levels=1)
    vectors = {(isb, delta): core.mv.Analyse(search, isb=isb, delta=delta, blksize=8, overlap=4)
               for isb in (True, False) for delta in (1, 2)}
    no_cuts = dict(thscd1=16320, thscd2=255)  # the largest thscd1 mvtools takes
    back, fwd = (core.mv.Compensate(clip, render, vectors[(isb, 1)], **no_cuts) for isb in (True, False))
    spotless = core.std.Expr([fwd, clip, back], "x y min x y max z min max")
    # DeScratch takes 8-bit YUV: find the scratches there and carry only its change back to 16 bits.
    luma8 = core.resize.Point(spotless, format=vs.GRAY8)
    grey = core.std.BlankClip(luma8, color=128)
    yuv = core.std.ShufflePlanes([luma8, grey, grey], [0, 0, 0], vs.YUV)
    cleaned = core.std.ShufflePlanes(core.descratch.DeScratch(yuv), 0, vs.GRAY)
    descratched = core.std.Expr([spotless, core.resize.Point(cleaned, format=vs.GRAY16),
                                 core.resize.Point(luma8, format=vs.GRAY16)], "x y + z -")
    out = core.mv.Degrain2(descratched, core.mv.Super(descratched, pel=2, levels=1), vectors[(True, 1)],
                           vectors[(False, 1)], vectors[(True, 2)], vectors[(False, 2)], thsad=thsad, **no_cuts)
    return clip_frames(core.resize.Point(out, format=vs.GRAYS))


def restoration_baselines(frames: list[np.ndarray], tuned: dict) -> dict[str, list[np.ndarray]]:
    """Every restoration baseline's output, at the strengths `tune` chose."""
    return {"nlmeans": nlmeans(frames, tuned["nlmeans_h"]), "bm3d+median": bm3d_median(frames, tuned["bm3d_sigma"]),
            MV_CHAIN: mv_chain(frames, tuned["mvtools_thsad"])}


def tune(clean: list[np.ndarray], degraded: list[np.ndarray]) -> dict:
    """The restoration baselines' strengths with the best mean PSNR on one clip."""
    from vsrtn.metrics import psnr

    def mean_psnr(out):
        return np.mean([psnr(c, o) for c, o in zip(clean, out)])

    return {"nlmeans_h": max(NLMEANS_GRID, key=lambda h: mean_psnr(nlmeans(degraded, h))),
            "bm3d_sigma": max(BM3D_GRID, key=lambda s: mean_psnr(bm3d_median(degraded, s))),
            "mvtools_thsad": max(MVTOOLS_GRID, key=lambda t: mean_psnr(mv_chain(degraded, t)))}


def shot_of(t: int, starts: list[int]) -> int:
    return max(s for s in starts if s <= t)


def ab_copy(lumas, refs_ab, starts) -> list[np.ndarray]:
    """Baseline: every frame takes its shot reference's ab."""
    return [refs_ab[shot_of(t, starts)] for t in range(len(lumas))]


def dis_chain(lumas, refs_ab, starts) -> list[np.ndarray]:
    """Baseline: ab warped frame to frame along DIS flow from the shot's reference frame."""
    from vsrtn.models.flow import dis_flow, warp_by_flow

    out = []
    for t, y in enumerate(lumas):
        if t in starts:
            ab = refs_ab[t]
        else:
            flow = dis_flow(y, lumas[t - 1])  # lines frame t-1 up with frame t
            ab = warp_by_flow(out[-1].transpose(1, 2, 0), flow).transpose(2, 0, 1)
        out.append(np.ascontiguousarray(ab, np.float32))
    return out
