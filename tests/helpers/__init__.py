"""What outside-in tests and benchmarks share."""
