//! Reading back what the charts wrote, for the tests: the text of every
//! `<text>` element and the boxes of the `<rect>` elements, as plotters'
//! SVG backend writes them.

use super::Rgb;
use plotters::style::RGBColor;

/// The text of every `<text>` element, unescaped, in document order.
pub fn texts(svg: &str) -> Vec<String> {
    svg.split("<text ")
        .skip(1)
        .map(|element| {
            let body = element.split_once('>').expect("a text element").1;
            let text = body.split("</text>").next().expect("a closed element");
            unescape(text.trim())
        })
        .collect()
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// How many `<text>` elements hold exactly `text`.
pub fn count_text(svg: &str, text: &str) -> usize {
    texts(svg).iter().filter(|t| *t == text).count()
}

/// The attributes of every `tag` element that has `attribute`, such as
/// `fill="#1F77B4"`.
fn elements<'a>(svg: &'a str, tag: &str, attribute: &str) -> Vec<&'a str> {
    svg.split(&format!("<{tag} "))
        .skip(1)
        .map(|e| e.split('>').next().expect("an element"))
        .filter(|e| e.contains(attribute))
        .collect()
}

/// How many `tag` elements have `attribute`.
pub fn count(svg: &str, tag: &str, attribute: &str) -> usize {
    elements(svg, tag, attribute).len()
}

/// The box (x, y, width, height) of every `<rect>` filled with `fill`
/// (as `#RRGGBB`, upper case).
pub fn rects(svg: &str, fill: &str) -> Vec<[f64; 4]> {
    elements(svg, "rect", &format!(r#"fill="{fill}""#))
        .into_iter()
        .map(|r| ["x", "y", "width", "height"].map(|name| attribute(r, name)))
        .collect()
}

/// `color` as the SVG backend writes it.
pub fn hex(color: Rgb) -> String {
    let RGBColor(r, g, b) = color;
    format!("#{r:02X}{g:02X}{b:02X}")
}

fn attribute(element: &str, name: &str) -> f64 {
    let element = format!(" {element}");
    let value = element
        .split(&format!(r#" {name}=""#))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the attribute");
    value.parse().expect("a number")
}

/// The `width` and `height` of the document.
pub fn size(svg: &str) -> (f64, f64) {
    let root = svg.split_once("<svg ").expect("an svg root").1;
    (attribute(root, "width"), attribute(root, "height"))
}
