//! The certificate's QR code: the `qrcode` crate encodes, this module
//! only draws its module matrix (as inline SVG for the page, as filled
//! squares for the PDF).
//!
//! The code encodes the short verification URL
//! `<public url>/products/<登记号>?h=<first 8 hex digits of the leaf hash>`
//! at error-correction level M: for a URL under ~80 bytes that is a
//! version 4–5 code (33–37 modules), printed at 32 mm on the certificate
//! (about 0.9 mm a module, well above what phone cameras resolve at
//! arm's length) with the standard 4-module quiet zone.

use qrcode::{Color, EcLevel, QrCode};

/// QUIET is the quiet zone in modules (ISO/IEC 18004).
pub const QUIET: usize = 4;

/// HASH_PREFIX_HEX is how many hex digits of the leaf hash the URL carries.
pub const HASH_PREFIX_HEX: usize = 8;

/// Matrix is a QR code's dark modules.
pub struct Matrix {
    /// width is the number of modules per side, quiet zone excluded.
    pub width: usize,
    /// dark[y * width + x] is true for a dark module.
    pub dark: Vec<bool>,
}

/// verify_url builds the URL a certificate's QR code encodes.
pub fn verify_url(public_url: &str, registration_no: &str, leaf_hash_hex: &str) -> String {
    let h = &leaf_hash_hex[..HASH_PREFIX_HEX.min(leaf_hash_hex.len())];
    format!("{public_url}/products/{registration_no}?h={h}")
}

/// encode makes the QR code of `data`.
pub fn encode(data: &str) -> Result<Matrix, String> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .map_err(|e| format!("QR code: {e}"))?;
    Ok(Matrix {
        width: code.width(),
        dark: code
            .to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect(),
    })
}

impl Matrix {
    /// dark_at reports whether module (x, y) is dark.
    pub fn dark_at(&self, x: usize, y: usize) -> bool {
        self.dark[y * self.width + x]
    }

    /// svg draws the code as an SVG element `size_css` wide (e.g. "32mm"),
    /// one path of unit squares, quiet zone included.
    pub fn svg(&self, size_css: &str, label: &str) -> String {
        let n = self.width + 2 * QUIET;
        let mut d = String::new();
        for y in 0..self.width {
            for x in 0..self.width {
                if self.dark_at(x, y) {
                    d.push_str(&format!("M{} {}h1v1h-1z", x + QUIET, y + QUIET));
                }
            }
        }
        // `label` is escaped by the caller's contract: only ASCII letters,
        // digits and '-' (a 登记号) reach it; anything else is dropped here.
        let label: String = label
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qrcode\" viewBox=\"0 0 {n} {n}\" width=\"{size_css}\" height=\"{size_css}\" role=\"img\" aria-label=\"QR {label}\" shape-rendering=\"crispEdges\"><rect width=\"{n}\" height=\"{n}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{d}\"/></svg>"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_carries_the_number_and_an_8_digit_prefix() {
        let u = verify_url(
            "https://ledger.example.gov.cn",
            "GXDP-2025-000001",
            "9c2b3799f232761fabcdef",
        );
        assert_eq!(
            u,
            "https://ledger.example.gov.cn/products/GXDP-2025-000001?h=9c2b3799"
        );
        let m = encode(&u).unwrap();
        // Small enough to print at 32 mm with modules near 1 mm.
        assert!(m.width <= 37, "{} modules", m.width);
        assert_eq!(m.dark.len(), m.width * m.width);
        let svg = m.svg("32mm", "GXDP-2025-000001\"><script>");
        assert!(svg.starts_with("<svg") && !svg.contains("<script>"));
        // Finder pattern: the top-left module is dark.
        assert!(m.dark_at(0, 0));
    }
}
