//! tlog_proof: to be written.
