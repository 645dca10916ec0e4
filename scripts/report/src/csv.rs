//! CSV fields as RFC 4180 wants them.

use std::borrow::Cow;

/// `field` as one CSV field. In double quotes, its own doubled, when it
/// holds a comma, a quote or a line break, which would otherwise end the
/// field or the record (failure reasons do); as it is otherwise, so that
/// names and numbers stay plain.
pub fn quote(field: &str) -> Cow<'_, str> {
    if field.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_fields_stay_as_they_are() {
        assert_eq!(quote("gemm"), "gemm");
        assert_eq!(quote("1.25"), "1.25");
        assert_eq!(quote(""), "");
        assert_eq!(quote("fail: a | b; c"), "fail: a | b; c");
        assert!(matches!(quote("gemm"), Cow::Borrowed(_)));
    }

    #[test]
    fn separators_and_line_breaks_are_quoted() {
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("two\nlines"), "\"two\nlines\"");
        assert_eq!(quote("cr\r\nlf"), "\"cr\r\nlf\"");
    }

    #[test]
    fn quotes_are_doubled_inside_quotes() {
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quote("\""), "\"\"\"\"");
    }
}
