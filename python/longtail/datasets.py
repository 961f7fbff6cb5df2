"""Long-tailed subsets of balanced datasets (CIFAR-LT style) and test distributions."""
