//! The printable 数据产品登记证书 as a one-page A4 PDF: every certificate
//! field, the 区块链编号, the checkpoint the certificate is proven
//! against, the log key and its fingerprint, the status when printed, the
//! print (issue) date, and the QR code of the verification URL.
//!
//! Chinese text needs a CJK font. The node finds one at start (`--cjk-font`,
//! or the first of [`DEFAULT_FONTS`] that exists) and embeds a subset of
//! it in each PDF — only the glyphs the page uses (`subsetter`, the font
//! subsetter of typst), written as a CID font with a ToUnicode map so the
//! text can be searched and copied (`pdf-writer`). TrueType (WenQuanYi) and
//! CFF-flavoured OpenType (Noto CJK) fonts and collections both work.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};

use super::qr::{Matrix, QUIET};

/// DEFAULT_FONTS are where Debian's CJK font packages put their fonts
/// (fonts-wqy-microhei, fonts-wqy-zenhei, fonts-noto-cjk), in order of preference.
pub const DEFAULT_FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
];

/// MAX_FONT_BYTES bounds a font file the node loads.
const MAX_FONT_BYTES: u64 = 64 << 20;

/// Font is a loaded CJK font: the file's bytes and the face to use.
pub struct Font {
    /// path is where it was read from.
    pub path: PathBuf,
    data: Vec<u8>,
    index: u32,
}

/// CJK_PROBE are characters every certificate prints: a font that lacks
/// them cannot set one.
const CJK_PROBE: &str = "数据产品登记证书号经营主体";

impl Font {
    /// load reads and checks a font file: a face that has the glyphs of
    /// [`CJK_PROBE`] (the Simplified Chinese face of a collection if it has one).
    pub fn load(path: &Path) -> Result<Font, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.len() > MAX_FONT_BYTES {
            return Err(format!("{}: larger than 64 MiB", path.display()));
        }
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let n = ttf_parser::fonts_in_collection(&data).unwrap_or(1);
        let mut best = None;
        for i in 0..n {
            let Ok(face) = ttf_parser::Face::parse(&data, i) else {
                continue;
            };
            if !CJK_PROBE.chars().all(|c| face.glyph_index(c).is_some()) {
                continue;
            }
            let family = face
                .names()
                .into_iter()
                .filter(|n| n.name_id == ttf_parser::name_id::FAMILY)
                .find_map(|n| n.to_string())
                .unwrap_or_default();
            // In Noto's collections the SC face draws Simplified Chinese forms.
            let sc = family.contains(" SC") || family.contains("Hei") || family.contains("Ming");
            if best.is_none() || sc {
                best = Some(i);
            }
            if sc {
                break;
            }
        }
        let index = best.ok_or_else(|| {
            format!(
                "{}: no face with Chinese glyphs (need e.g. fonts-wqy-microhei or fonts-noto-cjk)",
                path.display()
            )
        })?;
        Ok(Font {
            path: path.to_path_buf(),
            data,
            index,
        })
    }

    /// find loads `explicit` if given, else the first of [`DEFAULT_FONTS`] that loads.
    pub fn find(explicit: Option<&Path>) -> Result<Font, String> {
        if let Some(p) = explicit {
            return Font::load(p);
        }
        let mut why = Vec::new();
        for p in DEFAULT_FONTS {
            let p = Path::new(p);
            if !p.exists() {
                continue;
            }
            match Font::load(p) {
                Ok(f) => return Ok(f),
                Err(e) => why.push(e),
            }
        }
        Err(format!(
            "no CJK font found (looked for {}{}); install fonts-wqy-microhei or fonts-noto-cjk, or pass --cjk-font FILE",
            DEFAULT_FONTS.join(", "),
            if why.is_empty() {
                String::new()
            } else {
                format!("; {}", why.join("; "))
            }
        ))
    }

    fn face(&self) -> ttf_parser::Face<'_> {
        ttf_parser::Face::parse(&self.data, self.index).expect("checked at load")
    }
}

/// Certificate is what the PDF prints.
pub struct Certificate {
    /// fields are (Chinese label, English label, value) in display order.
    pub fields: Vec<(String, String, String)>,
    /// status_zh is the status when printed (Chinese and English).
    pub status: String,
    /// checkpoint is "size N, root …" of the checkpoint the bundle is proven against.
    pub checkpoint: String,
    /// origin is the log's origin.
    pub origin: String,
    /// log_vkey is the log's verifier key.
    pub log_vkey: String,
    /// fingerprint is its short fingerprint.
    pub fingerprint: String,
    /// issued_on is the date this copy was printed (China time).
    pub issued_on: String,
    /// verify_url is the URL of the QR code.
    pub verify_url: String,
    /// qr is the QR code of `verify_url`.
    pub qr: Matrix,
}

const A4: (f32, f32) = (595.28, 841.89);
const MM: f32 = 72.0 / 25.4;

/// Run is one line of text placed on the page.
struct Run {
    x: f32,
    y: f32,
    size: f32,
    text: String,
    gray: f32,
}

struct Layout<'f> {
    face: ttf_parser::Face<'f>,
    upem: f32,
    runs: Vec<Run>,
    rects: Vec<(f32, f32, f32, f32)>,
    lines: Vec<(f32, f32, f32, f32, f32)>,
}

impl Layout<'_> {
    fn width(&self, s: &str, size: f32) -> f32 {
        s.chars()
            .map(|c| {
                let g = self.face.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
                f32::from(self.face.glyph_hor_advance(g).unwrap_or(0))
            })
            .sum::<f32>()
            / self.upem
            * size
    }

    /// wrap breaks `s` into lines no wider than `w` (between any two
    /// characters: Chinese has no spaces to break at).
    fn wrap(&self, s: &str, size: f32, w: f32) -> Vec<String> {
        let mut out = Vec::new();
        for para in s.split('\n') {
            let mut line = String::new();
            for c in para.chars() {
                let mut t = line.clone();
                t.push(c);
                if !line.is_empty() && self.width(&t, size) > w {
                    out.push(std::mem::take(&mut line));
                    line.push(c);
                } else {
                    line = t;
                }
            }
            out.push(line);
        }
        out
    }

    fn text(&mut self, x: f32, y: f32, size: f32, s: &str) {
        self.runs.push(Run {
            x,
            y,
            size,
            text: s.to_string(),
            gray: 0.0,
        });
    }

    fn muted(&mut self, x: f32, y: f32, size: f32, s: &str) {
        self.runs.push(Run {
            x,
            y,
            size,
            text: s.to_string(),
            gray: 0.35,
        });
    }

    fn centered(&mut self, y: f32, size: f32, s: &str) {
        let w = self.width(s, size);
        self.text((A4.0 - w) / 2.0, y, size, s);
    }

    /// paragraph sets wrapped text from the top line at `y` down; returns the y below it.
    fn paragraph(&mut self, x: f32, y: f32, size: f32, w: f32, s: &str, muted: bool) -> f32 {
        let mut y = y;
        for l in self.wrap(s, size, w) {
            if muted {
                self.muted(x, y, size, &l);
            } else {
                self.text(x, y, size, &l);
            }
            y -= size * 1.4;
        }
        y
    }
}

/// render lays out and writes the certificate PDF.
pub fn render(font: &Font, c: &Certificate) -> Result<Vec<u8>, String> {
    let face = font.face();
    let upem = f32::from(face.units_per_em());
    let mut l = Layout {
        face,
        upem,
        runs: vec![],
        rects: vec![],
        lines: vec![],
    };
    let (left, right) = (62.0, A4.0 - 62.0);
    // Frame: a heavy and a thin rule.
    l.lines.push((28.0, 28.0, A4.0 - 28.0, A4.1 - 28.0, 2.0));
    l.lines.push((34.0, 34.0, A4.0 - 34.0, A4.1 - 34.0, 0.6));

    l.centered(A4.1 - 92.0, 26.0, "数据产品登记证书");
    l.centered(A4.1 - 112.0, 11.0, "Data Product Registration Certificate");
    let mut y = A4.1 - 150.0;
    let value_x = 200.0;
    let value_w = right - value_x;
    for (zh, en, val) in &c.fields {
        l.text(left, y, 11.0, zh);
        l.muted(left, y - 11.0, 7.0, en);
        let below = l.paragraph(value_x, y, 11.0, value_w, val, false);
        // Rows are 32 pt apart at least; the rule sits between them.
        y = below.min(y - 22.0) - 10.0;
        l.lines.push((left, y + 13.0, right, y + 13.0, 0.3));
    }
    y -= 8.0;
    let small = |l: &mut Layout, y: f32, zh: &str, en: &str, val: &str| -> f32 {
        l.text(left, y, 9.0, zh);
        l.muted(left, y - 9.0, 6.5, en);
        let below = l.paragraph(value_x, y, 9.0, value_w - 105.0, val, false);
        below.min(y - 18.0) - 4.0
    };
    y = small(&mut l, y, "打印时状态", "Status when printed", &c.status);
    y = small(
        &mut l,
        y,
        "证明所依检查点",
        "Proven against checkpoint",
        &c.checkpoint,
    );
    y = small(&mut l, y, "日志", "Log", &c.origin);
    y = small(&mut l, y, "日志公钥", "Log key", &c.log_vkey);
    y = small(&mut l, y, "公钥指纹", "Key fingerprint", &c.fingerprint);
    small(&mut l, y, "打印日期", "Issued (printed) on", &c.issued_on);

    // The QR code, 32 mm square with its quiet zone, bottom right.
    let side = 32.0 * MM;
    let n = (c.qr.width + 2 * QUIET) as f32;
    let module = side / n;
    let (qx, qy) = (right - side, 112.0);
    for yy in 0..c.qr.width {
        for xx in 0..c.qr.width {
            if c.qr.dark_at(xx, yy) {
                let x0 = qx + (xx + QUIET) as f32 * module;
                let y0 = qy + side - (yy + QUIET + 1) as f32 * module;
                l.rects.push((x0, y0, module, module));
            }
        }
    }
    l.text(qx + 6.0, qy - 2.0, 8.0, "扫码验证当前状态");
    l.muted(
        qx + 6.0,
        qy - 12.0,
        6.5,
        "Scan to verify the current status",
    );

    let foot_w = right - left;
    let mut fy = 92.0;
    fy = l.paragraph(left, fy, 7.0, foot_w, &c.verify_url, true);
    fy = l.paragraph(
        left,
        fy,
        8.0,
        foot_w,
        "本证书的真实性与当前状态以扫码后浏览器验证或离线验证为准：regledger-verify cert bundle.json --log log.json",
        false,
    );
    l.paragraph(
        left,
        fy,
        6.5,
        foot_w,
        "Authenticity and current status: scan the code (the certificate page verifies in your browser) or verify offline with regledger-verify; compare the key fingerprint above.",
        true,
    );
    write_pdf(font, l)
}

fn write_pdf(font: &Font, l: Layout) -> Result<Vec<u8>, String> {
    let mut remap = subsetter::GlyphRemapper::new();
    let mut cids: BTreeMap<u16, char> = BTreeMap::new();
    let mut content = Content::new();
    // The frame and the QR code.
    for &(x0, y0, x1, y1, w) in &l.lines {
        content.set_line_width(w);
        if y0 == y1 {
            content.move_to(x0, y0);
            content.line_to(x1, y1);
        } else {
            content.rect(x0, y0, x1 - x0, y1 - y0);
        }
        content.stroke();
    }
    for &(x, y, w, h) in &l.rects {
        content.rect(x, y, w, h);
    }
    content.set_fill_gray(0.0);
    content.fill_nonzero();
    let font_name = Name(b"F1");
    for r in &l.runs {
        let mut bytes = Vec::with_capacity(r.text.len() * 2);
        for ch in r.text.chars() {
            let g = l.face.glyph_index(ch).map_or(0, |g| g.0);
            let cid = remap.remap(g);
            cids.entry(cid).or_insert(ch);
            bytes.extend_from_slice(&cid.to_be_bytes());
        }
        content.set_fill_gray(r.gray);
        content.begin_text();
        content.set_font(font_name, r.size);
        content.next_line(r.x, r.y);
        content.show(Str(&bytes));
        content.end_text();
    }
    let content = content.finish();

    let subset = subsetter::subset(&font.data, font.index, &remap)
        .map_err(|e| format!("font subset of {}: {e}", font.path.display()))?;
    let cff = l.face.tables().cff.is_some();
    let upem = l.upem;
    let scale = |v: f32| v / upem * 1000.0;
    let widths: Vec<f32> = remap
        .remapped_gids()
        .map(|g| {
            scale(f32::from(
                l.face
                    .glyph_hor_advance(ttf_parser::GlyphId(g))
                    .unwrap_or(0),
            ))
        })
        .collect();
    let bb = l.face.global_bounding_box();

    let mut pdf = Pdf::new();
    let (catalog, pages, page, contents) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4));
    let (type0, cid_font, descriptor, file, to_unicode, info) = (
        Ref::new(5),
        Ref::new(6),
        Ref::new(7),
        Ref::new(8),
        Ref::new(9),
        Ref::new(10),
    );
    pdf.catalog(catalog).pages(pages);
    pdf.pages(pages).kids([page]).count(1);
    let mut p = pdf.page(page);
    p.media_box(Rect::new(0.0, 0.0, A4.0, A4.1));
    p.parent(pages);
    p.contents(contents);
    p.resources().fonts().pair(font_name, type0);
    p.finish();
    pdf.stream(contents, &deflate(&content)?)
        .filter(Filter::FlateDecode);
    pdf.document_info(info)
        .title(pdf_writer::TextStr("数据产品登记证书"))
        .producer(pdf_writer::TextStr("regledger"));

    // A subset's name carries a six-letter tag (PDF 32000-1 §9.6.4).
    let base = Name(b"RLSUBS+CJK");
    pdf.type0_font(type0)
        .base_font(base)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_font)
        .to_unicode(to_unicode);
    let sys = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    let mut cf = pdf.cid_font(cid_font);
    cf.subtype(if cff {
        CidFontType::Type0
    } else {
        CidFontType::Type2
    });
    cf.base_font(base);
    cf.system_info(sys);
    cf.font_descriptor(descriptor);
    cf.default_width(1000.0);
    cf.widths().consecutive(0, widths);
    if !cff {
        cf.cid_to_gid_map_predefined(Name(b"Identity"));
    }
    cf.finish();
    let mut fd = pdf.font_descriptor(descriptor);
    fd.name(base)
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(
            scale(f32::from(bb.x_min)),
            scale(f32::from(bb.y_min)),
            scale(f32::from(bb.x_max)),
            scale(f32::from(bb.y_max)),
        ))
        .italic_angle(0.0)
        .ascent(scale(f32::from(l.face.ascender())))
        .descent(scale(f32::from(l.face.descender())))
        .cap_height(scale(f32::from(
            l.face.capital_height().unwrap_or(l.face.ascender()),
        )))
        .stem_v(80.0);
    if cff {
        fd.font_file3(file);
    } else {
        fd.font_file2(file);
    }
    fd.finish();
    let mut s = pdf.stream(file, &subset);
    if cff {
        s.pair(Name(b"Subtype"), Name(b"OpenType"));
    }
    s.finish();
    let mut cmap = UnicodeCmap::new(Name(b"RL-UCS"), sys);
    for (cid, ch) in &cids {
        cmap.pair(*cid, *ch);
    }
    pdf.cmap(to_unicode, &cmap.finish());
    Ok(pdf.finish())
}

fn deflate(b: &[u8]) -> Result<Vec<u8>, String> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).map_err(|e| e.to_string())?;
    e.finish().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(qr: Matrix) -> Certificate {
        Certificate {
            fields: vec![
                (
                    "证书名称".into(),
                    "Certificate".into(),
                    "数据产品登记证书".into(),
                ),
                (
                    "数据产品名称".into(),
                    "Product name".into(),
                    "公交客流预测服务".repeat(8),
                ),
            ],
            status: "有效 valid".into(),
            checkpoint: "size 42, root AAAA".into(),
            origin: "regledger.test/pdf".into(),
            log_vkey: "regledger.test/pdf+01234567+AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
                .into(),
            fingerprint: "0123 4567 89ab cdef".into(),
            issued_on: "2025-03-24".into(),
            verify_url: "http://127.0.0.1:8470/products/GXDP-2025-000001?h=9c2b3799".into(),
            qr,
        }
    }

    #[test]
    fn a_missing_font_is_a_clear_error() {
        let Err(e) = Font::find(Some(Path::new("/nonexistent/font.ttc"))) else {
            panic!("a missing file loaded");
        };
        assert!(e.contains("/nonexistent/font.ttc"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.ttf");
        std::fs::write(&junk, b"not a font").unwrap();
        let Err(e) = Font::load(&junk) else {
            panic!("junk loaded as a font");
        };
        assert!(e.contains("Chinese glyphs"), "{e}");
    }

    /// Every installed default font makes a small PDF (skips fonts not installed).
    #[test]
    fn installed_cjk_fonts_make_a_subset_pdf() {
        let mut made = 0;
        for p in DEFAULT_FONTS {
            let Ok(f) = Font::load(Path::new(p)) else {
                continue;
            };
            let qr = super::super::qr::encode("http://127.0.0.1/products/X?h=00000000").unwrap();
            let pdf = render(&f, &cert(qr)).unwrap();
            assert!(pdf.starts_with(b"%PDF-"));
            // A subset, not the multi-megabyte font.
            assert!(pdf.len() < 200_000, "{p}: {} bytes", pdf.len());
            made += 1;
        }
        if made == 0 {
            eprintln!("no CJK font installed: PDF rendering not exercised here (the e2e test requires one in CI)");
        }
    }
}
