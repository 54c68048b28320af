//! The site's own assets, compiled into the binary: no page loads
//! anything from elsewhere.

/// CSS is the inline stylesheet of every page (its print rules lay the
/// certificate out on A4).
pub const CSS: &str = include_str!("assets/site.css");

/// VERIFY_JS loads the certificate check and shows its verdict.
pub const VERIFY_JS: &str = include_str!("assets/verify.js");

/// VERIFY_WASM is `web/verify-wasm` built for wasm32-unknown-unknown by
/// `web/verify-wasm/build.sh` (committed, checked by CI; decision D16).
pub const VERIFY_WASM: &[u8] =
    include_bytes!("../../../web/verify-wasm/dist/regledger_web_verify.wasm");

/// CSP is the content security policy of every page: scripts and the
/// wasm only from the site itself, no inline script, nothing from
/// elsewhere, so a string that escaped escaping still could not run.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
