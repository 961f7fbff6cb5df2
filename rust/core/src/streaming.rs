//! Streaming accumulator kernels (binned histograms, mergeable states).
