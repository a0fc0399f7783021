"""Evidence bundles: a zip of raw measurements with a signed manifest a third party can check.

Plain Python (no Django): the probe and the routing monitor write bundles on a laptop, and anyone
can verify one with ``sentinelle evidence verify`` without the platform.
"""
