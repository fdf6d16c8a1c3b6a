"""Vision tools: digit reading, MNIST samples and face anonymisation."""
