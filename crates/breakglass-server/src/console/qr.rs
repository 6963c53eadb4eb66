//! TOTP enrolment QR codes as inline SVG (the CSP allows no external images; an inline
//! `<svg>` needs none). The markup is built from module coordinates only: the encoded URI
//! never appears in it as text.

use maud::{Markup, PreEscaped};
use qrcode::{Color, EcLevel, QrCode};

/// Quiet-zone width, in modules.
const QUIET: usize = 4;

/// The QR code of `data` as an `<svg>` element labelled `label`, or `None` if `data` is too
/// long for a QR code.
pub fn svg(data: &str, label: &str) -> Option<Markup> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let mut path = String::new();
    for (i, c) in colors.iter().enumerate() {
        if *c == Color::Dark {
            let (x, y) = (i % width + QUIET, i / width + QUIET);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    let size = width + 2 * QUIET;
    let label = maud::html! { (label) }.into_string();
    Some(PreEscaped(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="qr" role="img" aria-label="{label}" viewBox="0 0 {size} {size}" width="240" height="240" shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/><path d="{path}" fill="#000"/></svg>"##
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_modules_not_the_data() {
        let s = svg("otpauth://totp/breakglass:alice?secret=ABC", "QR \"code\"")
            .unwrap()
            .into_string();
        assert!(s.starts_with("<svg"));
        assert!(s.contains("path d=\"M"));
        assert!(!s.contains("secret=ABC"));
        assert!(s.contains("aria-label=\"QR &quot;code&quot;\""));
    }
}
