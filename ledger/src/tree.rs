//! tree: to be written.
