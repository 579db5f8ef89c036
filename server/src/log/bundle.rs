//! Offline audit bundles (in progress).
