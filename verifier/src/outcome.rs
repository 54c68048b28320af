//! The outcome of a command and how it is reported: exit code, text, JSON.

use std::process::ExitCode;

use serde_json::{json, Value};

/// Outcome is what a command found.
pub enum Outcome {
    /// Verified: all checks passed; `text` for people, `json` for machines.
    Verified {
        /// text is printed on stdout without --json.
        text: String,
        /// json is printed on stdout with --json (with "ok": true added).
        json: Value,
    },
    /// Failed: a verification failure (exit 1).
    Failed {
        /// reason is printed after "FAIL: ".
        reason: String,
        /// json carries any details for --json (with "ok": false added).
        json: Value,
        /// text is a report printed on stdout without --json (may be empty).
        text: String,
    },
    /// InputError: usage or input error (exit 2).
    InputError(String),
}

impl Outcome {
    /// fail builds a Failed outcome with no extra details.
    pub fn fail(reason: impl Into<String>) -> Outcome {
        Outcome::Failed {
            reason: reason.into(),
            json: json!({}),
            text: String::new(),
        }
    }

    /// input_error builds an InputError from an input error, with what to do next.
    pub fn input_error(e: crate::input::InputError) -> Outcome {
        match e.next_step() {
            Some(next) => Outcome::InputError(format!("{e} ({next})")),
            None => Outcome::InputError(e.to_string()),
        }
    }

    /// input builds an InputError from any error or message.
    pub fn input(reason: impl std::fmt::Display) -> Outcome {
        Outcome::InputError(reason.to_string())
    }

    /// report prints the outcome and returns the exit code.
    pub fn report(self, as_json: bool) -> ExitCode {
        match self {
            Outcome::Verified { text, mut json } => {
                if as_json {
                    json["ok"] = Value::Bool(true);
                    println!("{json}");
                } else {
                    print!("{text}");
                }
                ExitCode::from(0)
            }
            Outcome::Failed {
                reason,
                mut json,
                text,
            } => {
                if !as_json {
                    print!("{text}");
                }
                eprintln!("FAIL: {reason}");
                if as_json {
                    json["ok"] = Value::Bool(false);
                    json["failure"] = Value::String(reason);
                    println!("{json}");
                }
                ExitCode::from(1)
            }
            Outcome::InputError(reason) => {
                eprintln!("error: {reason}");
                if as_json {
                    println!("{}", json!({"ok": false, "error": reason}));
                }
                ExitCode::from(2)
            }
        }
    }
}
