"""VapourSynth glue: the filters `vsrtn.Restore`, `vsrtn.Colorize` and `vsrtn.Degrade` for .vpy
scripts (`filters`), how they run engines inside VapourSynth (`schedule`), and frames in and
out (`frames`). Nothing else in vsrtn imports VapourSynth.
"""
from vsrtn.plugin.filters import Colorize, Degrade, Restore, colorize, degrade, restore

__all__ = ["Colorize", "Degrade", "Restore", "colorize", "degrade", "restore"]
