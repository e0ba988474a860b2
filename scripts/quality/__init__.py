"""What scripts/evaluate.py (restoration) and scripts/evaluate_color.py (colorization) share:
clips and run records (`common`), the baselines vsrtn is measured against (`baselines`), scoring
(`scoring`) and the rendering of docs/QUALITY.md (`report`)."""
