//! leaf: to be written.
