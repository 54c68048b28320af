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
    /// NotActive: verified, but the object is not proven 有效 (active):
    /// exit `code` (one of the [`StatusCode`] codes), printed like
    /// `Verified` (with "ok": true, "active": false in --json).
    NotActive {
        /// code is the exit code.
        code: StatusCode,
        /// text is printed on stdout without --json.
        text: String,
        /// json is printed on stdout with --json.
        json: Value,
    },
}

/// StatusCode is the exit code of a verified object that is not proven
/// active (CONTRACT.md; docs/regulator.md "Exit codes"): never 0, 1 or 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusCode {
    /// Suspended: 暂停 (exit 3).
    Suspended = 3,
    /// Revoked: 已撤销登记 / 已撤销 (exit 4).
    Revoked = 4,
    /// Deregistered: 已注销登记 (exit 5).
    Deregistered = 5,
    /// Absent: 不存在, no such object (exit 6).
    Absent = 6,
    /// Inactive: another state that is not 有效 (已终止, 已到期, 未生效) (exit 7).
    Inactive = 7,
    /// Unproven: a certificate whose current status the bundle cannot prove (v1) (exit 8).
    Unproven = 8,
}

impl StatusCode {
    /// of returns the code of a proven state's name, None for active.
    pub fn of(status: &str) -> Option<StatusCode> {
        Some(match status {
            "active" => return None,
            "suspended" => StatusCode::Suspended,
            "revoked" => StatusCode::Revoked,
            "deregistered" => StatusCode::Deregistered,
            "absent" => StatusCode::Absent,
            _ => StatusCode::Inactive,
        })
    }
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
            Outcome::NotActive {
                code,
                text,
                mut json,
            } => {
                if as_json {
                    json["ok"] = Value::Bool(true);
                    json["active"] = Value::Bool(false);
                    json["exit_code"] = json!(code as u8);
                    println!("{json}");
                } else {
                    print!("{text}");
                }
                ExitCode::from(code as u8)
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
