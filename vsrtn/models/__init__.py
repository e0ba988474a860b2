"""Network architectures: the RTN restoration network, its Swin trunk and optical-flow estimators."""
