//! QR codes for otpauth URIs, rendered locally (feature `qr`).
//!
//! The URI never leaves the process: no chart service or other third-party URL is involved. Both
//! renderings contain the secret key, so they are returned as [`Zeroizing`] strings, written into
//! a buffer allocated once at its final size.
//!
//! The `qrcode` crate encodes the data; its internal working buffers are freed without being
//! wiped, which this module cannot change. The module grid it returns and every rendered string
//! are wiped.

use alloc::string::String;
use alloc::vec::Vec;

use qrcode::{Color, EcLevel, QrCode};
use zeroize::Zeroizing;

use crate::otp::error::OtpError;
use crate::otp::uri::OtpAuthUri;
use crate::otp::uri::{Sink, render_exact};

/// Light modules around the code, as the QR specification requires (ISO/IEC 18004 §6.3.8).
const QUIET_ZONE: usize = 4;

/// Size of one module in the SVG's `width`/`height`, in CSS pixels (the `viewBox` counts modules,
/// so the image scales cleanly to any size).
const SVG_MODULE_PX: u64 = 8;

/// Sets black text on a white background for the rest of the line.
const ANSI_BLACK_ON_WHITE: &str = "\x1b[30;47m";
const ANSI_RESET: &str = "\x1b[0m";

/// How [`OtpAuthUri::qr_terminal`] draws the code. Each character cell holds two modules, one
/// above the other, with Unicode half blocks (`▀`, `▄`, `█`, space); a 4-module quiet zone
/// surrounds the code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TerminalStyle {
    /// Black on white set with ANSI colour codes on every line, so the code scans whatever the
    /// terminal's own colours are. The default.
    #[default]
    Ansi,
    /// No escape codes; dark modules are drawn in the text colour. For terminals with dark text
    /// on a light background (and for files).
    PlainForLightBackground,
    /// No escape codes; light modules are drawn in the text colour, so the code keeps its dark
    /// modules dark on a terminal with light text on a dark background.
    PlainForDarkBackground,
}

/// The modules of a QR code with its quiet zone: `size` × `size`, `true` for dark.
struct Modules {
    code_width: usize,
    dark: Zeroizing<Vec<bool>>,
}

impl Modules {
    fn encode(uri: &OtpAuthUri) -> Result<Self, OtpError> {
        let text = uri.expose_uri();
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
            .map_err(|_| OtpError::Qr)?;
        let code_width = code.width();
        // Same-layout `collect` reuses the encoder's module buffer, which is then wiped on drop.
        let dark = Zeroizing::new(
            code.into_colors()
                .into_iter()
                .map(|module| module == Color::Dark)
                .collect(),
        );
        Ok(Self { code_width, dark })
    }

    /// Width and height including the quiet zone.
    fn size(&self) -> usize {
        self.code_width.saturating_add(QUIET_ZONE.saturating_mul(2))
    }

    /// Whether the module at (`x`, `y`), counted from the outer corner of the quiet zone, is
    /// dark. Anything outside the code is light.
    fn is_dark(&self, x: usize, y: usize) -> bool {
        let inner = |v: usize| v.checked_sub(QUIET_ZONE).filter(|v| *v < self.code_width);
        match (inner(x), inner(y)) {
            (Some(x), Some(y)) => y
                .checked_mul(self.code_width)
                .and_then(|row| row.checked_add(x))
                .and_then(|index| self.dark.get(index))
                .copied()
                .unwrap_or(false),
            _ => false,
        }
    }
}

impl OtpAuthUri {
    /// The URI as a QR code in an SVG document (black modules on white, a 4-module quiet zone,
    /// `viewBox` in modules, 8 CSS pixels per module), ready to serve or inline in HTML.
    ///
    /// It encodes the secret key: send it only to the person enrolling, over the same protected
    /// channel as the manual key, and do not cache or log it. [`OtpError::Qr`] if the URI is too
    /// long for any QR version.
    #[cfg_attr(docsrs, doc(cfg(feature = "qr")))]
    pub fn qr_svg(&self) -> Result<Zeroizing<String>, OtpError> {
        let modules = Modules::encode(self)?;
        Ok(render_exact(|sink| write_svg(&modules, sink)))
    }

    /// The URI as a QR code drawn with text, for a command-line enrollment; see
    /// [`TerminalStyle`]. Every line, including the last, ends with `\n`.
    ///
    /// It encodes the secret key: print it only to the person enrolling. [`OtpError::Qr`] if the URI
    /// is too long for any QR version.
    #[cfg_attr(docsrs, doc(cfg(feature = "qr")))]
    pub fn qr_terminal(&self, style: TerminalStyle) -> Result<Zeroizing<String>, OtpError> {
        let modules = Modules::encode(self)?;
        Ok(render_exact(|sink| write_terminal(&modules, style, sink)))
    }
}

fn write_svg(modules: &Modules, sink: &mut dyn Sink) {
    let size = modules.size();
    let size_u64 = u64::try_from(size).unwrap_or(u64::MAX);
    let px = size_u64.saturating_mul(SVG_MODULE_PX);
    sink.put(r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width=""#);
    sink.put_u64(px);
    sink.put(r#"" height=""#);
    sink.put_u64(px);
    sink.put(r#"" viewBox="0 0 "#);
    sink.put_u64(size_u64);
    sink.put(" ");
    sink.put_u64(size_u64);
    sink.put(r##"" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/>"##);
    sink.put(r##"<path fill="#000" d=""##);
    for y in 0..size {
        let mut x = 0;
        while x < size {
            if !modules.is_dark(x, y) {
                x = x.saturating_add(1);
                continue;
            }
            let start = x;
            while x < size && modules.is_dark(x, y) {
                x = x.saturating_add(1);
            }
            let run = u64::try_from(x.saturating_sub(start)).unwrap_or(0);
            sink.put("M");
            sink.put_u64(u64::try_from(start).unwrap_or(0));
            sink.put(" ");
            sink.put_u64(u64::try_from(y).unwrap_or(0));
            sink.put("h");
            sink.put_u64(run);
            sink.put("v1h-");
            sink.put_u64(run);
            sink.put("z");
        }
    }
    sink.put(r#""/></svg>"#);
    sink.put("\n");
}

fn write_terminal(modules: &Modules, style: TerminalStyle, sink: &mut dyn Sink) {
    let size = modules.size();
    // Draw the glyph where the module is dark, except when the text colour is the light one.
    let invert = style == TerminalStyle::PlainForDarkBackground;
    for top in (0..size).step_by(2) {
        if style == TerminalStyle::Ansi {
            sink.put(ANSI_BLACK_ON_WHITE);
        }
        let bottom = top.saturating_add(1);
        for x in 0..size {
            let upper = modules.is_dark(x, top) != invert;
            // An odd size leaves the lower half of the last line outside the code: light.
            let lower = (bottom < size && modules.is_dark(x, bottom)) != invert;
            sink.put(match (upper, lower) {
                (false, false) => " ",
                (true, false) => "\u{2580}",
                (false, true) => "\u{2584}",
                (true, true) => "\u{2588}",
            });
        }
        if style == TerminalStyle::Ansi {
            sink.put(ANSI_RESET);
        }
        sink.put("\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::secret::SecretKey;
    use crate::otp::totp::TotpParams;

    fn uri() -> OtpAuthUri {
        let key = SecretKey::from_base32("HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ").unwrap();
        OtpAuthUri::totp(
            Some("ACME Co"),
            "john.doe@email.com",
            key,
            &TotpParams::default(),
        )
        .unwrap()
    }

    #[test]
    fn svg_is_a_document() {
        let svg = uri().qr_svg().unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.ends_with("</svg>\n"));
        assert_eq!(svg.len(), svg.capacity());
        assert!(!svg.contains("otpauth"));
    }

    #[test]
    fn terminal_is_square_with_a_quiet_zone() {
        for style in [
            TerminalStyle::Ansi,
            TerminalStyle::PlainForLightBackground,
            TerminalStyle::PlainForDarkBackground,
        ] {
            let text = uri().qr_terminal(style).unwrap();
            assert_eq!(text.len(), text.capacity());
            let plain = text
                .replace(ANSI_BLACK_ON_WHITE, "")
                .replace(ANSI_RESET, "");
            let lines: Vec<&str> = plain.lines().collect();
            let width = lines[0].chars().count();
            assert!(width >= 21 + 2 * QUIET_ZONE);
            assert_eq!(lines.len(), width.div_ceil(2), "{style:?}");
            assert!(lines.iter().all(|l| l.chars().count() == width));
            let light = if style == TerminalStyle::PlainForDarkBackground {
                '\u{2588}'
            } else {
                ' '
            };
            // Two full lines (four module rows) and four columns each side are light.
            for line in &lines[..2] {
                assert!(line.chars().all(|c| c == light), "{style:?}");
            }
            for line in &lines {
                let chars: Vec<char> = line.chars().collect();
                assert!(chars[..QUIET_ZONE].iter().all(|c| *c == light));
                assert!(chars[width - QUIET_ZONE..].iter().all(|c| *c == light));
            }
        }
    }

    #[test]
    fn only_the_ansi_style_sets_colours_and_on_every_line() {
        let ansi = uri().qr_terminal(TerminalStyle::Ansi).unwrap();
        let lines: Vec<&str> = ansi.lines().collect();
        assert!(!lines.is_empty());
        for line in &lines {
            assert!(line.starts_with(ANSI_BLACK_ON_WHITE), "{line:?}");
            assert!(line.ends_with(ANSI_RESET), "{line:?}");
            assert_eq!(line.matches('\x1b').count(), 2, "{line:?}");
        }
        assert!(ansi.ends_with("\x1b[0m\n"));
        for style in [
            TerminalStyle::PlainForLightBackground,
            TerminalStyle::PlainForDarkBackground,
        ] {
            let plain = uri().qr_terminal(style).unwrap();
            assert!(!plain.contains('\x1b'), "{style:?}");
            assert!(plain.ends_with('\n'), "{style:?}");
        }
        assert_eq!(TerminalStyle::default(), TerminalStyle::Ansi);
    }

    #[test]
    fn svg_sizes_count_the_quiet_zone_and_eight_pixels_a_module() {
        let modules = Modules::encode(&uri()).unwrap();
        let size = modules.code_width + 2 * QUIET_ZONE;
        assert_eq!(modules.size(), size);
        let svg = uri().qr_svg().unwrap();
        let px = size * 8;
        let head = alloc::format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{px}\" \
             height=\"{px}\" viewBox=\"0 0 {size} {size}\" shape-rendering=\"crispEdges\">"
        );
        assert!(svg.starts_with(&head), "{}", &svg[..200]);
        // The quiet zone is light: no run starts left of it or above it.
        assert!(svg.contains("d=\"M4 4h7v1h-7z"), "{}", &svg[..400]);
    }

    #[test]
    fn modules_outside_the_code_are_light() {
        let modules = Modules::encode(&uri()).unwrap();
        let width = modules.code_width;
        // The finder pattern's corner modules are dark, the quiet zone around them light.
        assert!(modules.is_dark(QUIET_ZONE, QUIET_ZONE));
        assert!(modules.is_dark(QUIET_ZONE + width - 1, QUIET_ZONE));
        assert!(modules.is_dark(QUIET_ZONE, QUIET_ZONE + width - 1));
        assert!(!modules.is_dark(QUIET_ZONE - 1, QUIET_ZONE));
        assert!(!modules.is_dark(QUIET_ZONE, QUIET_ZONE - 1));
        assert!(!modules.is_dark(QUIET_ZONE + width, QUIET_ZONE));
        assert!(!modules.is_dark(QUIET_ZONE, QUIET_ZONE + width));
        assert!(!modules.is_dark(usize::MAX, usize::MAX));
    }

    #[test]
    fn too_long_for_a_qr_code() {
        // A maximal key and names that percent-encode to nearly MAX_LEN exceed version 40-M.
        let key = SecretKey::from_bytes(&[7; SecretKey::MAX_LEN]).unwrap();
        let account = "ü".repeat(500);
        let uri = OtpAuthUri::totp(None, &account, key, &TotpParams::default()).unwrap();
        assert_eq!(uri.qr_svg().unwrap_err(), OtpError::Qr);
        assert_eq!(
            uri.qr_terminal(TerminalStyle::Ansi).unwrap_err(),
            OtpError::Qr
        );
    }
}
