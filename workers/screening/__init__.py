"""Virtual screening domain. Light on import: RDKit is loaded only by `workers.screening.pipeline`."""
