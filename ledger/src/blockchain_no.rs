//! blockchain_no: to be written.
