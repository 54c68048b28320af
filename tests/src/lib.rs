//! End-to-end test helpers: start real binaries on loopback, in temp dirs.
