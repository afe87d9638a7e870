"""The job API (FastAPI). Light: never imports rdkit/torch; only light modules of `workers`."""
