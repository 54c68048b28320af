//! tile: to be written.
