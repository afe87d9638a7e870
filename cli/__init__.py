"""The `medsieve` command line: embedded runs, servers, workers and an HTTP client for the job API."""
