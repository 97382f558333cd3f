"""The Lambda runtime: configuration, observability, batching and the small worker pool."""
