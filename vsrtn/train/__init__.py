"""Training our own RTN weights: content, the synthetic camera, the training loop."""
