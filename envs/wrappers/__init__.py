"""Composable gymnasium wrappers: the adapter for third-party suites and its helpers."""
