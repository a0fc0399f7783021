"""The live routing monitor (`sentinelle routing monitor`): sources, detector, outbox, delivery."""
