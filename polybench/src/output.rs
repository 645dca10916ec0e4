//! The harness's output protocol (see `polybench/include/polybench.h`):
//! the kernel time on stderr and, with `--dump`, the output arrays on
//! stdout. Dumps can be tens of megabytes, so they are read line by line:
//! native's is kept (as `f64`s) and every other runtime's is compared
//! against it as it streams in.

use crate::kernels::Dataset;
use std::io::BufRead;

/// Relative difference allowed between two doubles. Native and wasm code
/// do the same IEEE operations in the same order, so results differ only
/// where libm does (glibc against wasi-libc), by an ulp or so, amplified a
/// little by the arithmetic that follows.
pub const RELATIVE_TOLERANCE: f64 = 1e-9;
/// Absolute difference always allowed, for values that cancel to (almost)
/// zero, where a relative comparison means nothing.
pub const ABSOLUTE_TOLERANCE: f64 = 1e-12;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OutputError {
    #[error("no `polybench {kernel} {dataset} time_s=...` line on stderr")]
    NoTimeLine { kernel: String, dataset: Dataset },
    #[error("unexpected time line `{0}` (expected `polybench {1} {2} time_s=<seconds>`)")]
    BadTimeLine(String, String, Dataset),
    #[error("stdout line {line}: {problem}")]
    Malformed { line: usize, problem: String },
    #[error("reading stdout: {0}")]
    Read(String),
}

/// The kernel time from a run's stderr: the `polybench` line, which must
/// name `kernel` and `dataset` (a check that the right build ran).
pub fn parse_time(stderr: &str, kernel: &str, dataset: Dataset) -> Result<f64, OutputError> {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("polybench "))
        .ok_or_else(|| OutputError::NoTimeLine {
            kernel: kernel.into(),
            dataset,
        })?;
    let bad = || OutputError::BadTimeLine(line.into(), kernel.into(), dataset);
    let fields: Vec<_> = line.split_whitespace().collect();
    let [_, name, set, time] = fields[..] else {
        return Err(bad());
    };
    let seconds = time
        .strip_prefix("time_s=")
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|t| t.is_finite() && *t >= 0.0);
    match seconds {
        Some(seconds) if name == kernel && set == dataset.name() => Ok(seconds),
        _ => Err(bad()),
    }
}

/// One output array of the reference (native) run.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub name: String,
    pub values: Vec<f64>,
    /// Every value was printed as an integer (an `int` array, or doubles
    /// that all happen to be whole): such values must match exactly.
    pub integral: bool,
}

/// The arrays a run printed with `--dump`, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dump {
    pub arrays: Vec<Array>,
}

/// The first difference between a run's dump and the reference.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Mismatch {
    #[error("{array}[{index}]: expected {expected}, got {actual}")]
    Value {
        array: String,
        index: usize,
        expected: String,
        actual: String,
    },
    #[error("array {array}: expected {expected} values, got {actual}")]
    Count {
        array: String,
        expected: usize,
        actual: usize,
    },
    #[error("expected array {expected}, got array {actual}")]
    Name { expected: String, actual: String },
    #[error("expected array {0}, but the output ended")]
    Missing(String),
    #[error("unexpected extra array {0}")]
    Extra(String),
    #[error(transparent)]
    Output(#[from] OutputError),
}

impl Dump {
    /// Reads a whole dump.
    pub fn read(input: impl BufRead) -> Result<Dump, OutputError> {
        let mut lines = Lines::new(input);
        let mut arrays = Vec::new();
        while let Some((name, count)) = lines.header()? {
            let mut values = Vec::with_capacity(count.min(1 << 24));
            let mut integral = true;
            for _ in 0..count {
                let value = lines.value()?;
                integral &= value.integer;
                values.push(value.number);
            }
            lines.end(&name)?;
            arrays.push(Array {
                name,
                values,
                integral,
            });
        }
        Ok(Dump { arrays })
    }

    /// Compares the dump streaming from `input` against this one; stops at
    /// the first difference.
    pub fn check(&self, input: impl BufRead) -> Result<(), Mismatch> {
        let mut lines = Lines::new(input);
        for array in &self.arrays {
            let (name, count) = lines
                .header()?
                .ok_or_else(|| Mismatch::Missing(array.name.clone()))?;
            if name != array.name {
                return Err(Mismatch::Name {
                    expected: array.name.clone(),
                    actual: name,
                });
            }
            if count != array.values.len() {
                return Err(Mismatch::Count {
                    array: name,
                    expected: array.values.len(),
                    actual: count,
                });
            }
            for (index, &expected) in array.values.iter().enumerate() {
                let actual = lines.value()?;
                let exact = array.integral && actual.integer;
                if !same_value(expected, actual.number, exact) {
                    return Err(Mismatch::Value {
                        array: name,
                        index,
                        expected: expected.to_string(),
                        actual: actual.number.to_string(),
                    });
                }
            }
            lines.end(&name)?;
        }
        match lines.header()? {
            Some((extra, _)) => Err(Mismatch::Extra(extra)),
            None => Ok(()),
        }
    }
}

/// Whether `actual` stands for the same result as `expected`: equal when
/// `exact`, else within the tolerances. NaN matches NaN of any sign.
pub fn same_value(expected: f64, actual: f64, exact: bool) -> bool {
    if expected == actual || (expected.is_nan() && actual.is_nan()) {
        return true;
    }
    if exact || !expected.is_finite() || !actual.is_finite() {
        return false;
    }
    let difference = (expected - actual).abs();
    difference <= ABSOLUTE_TOLERANCE
        || difference <= RELATIVE_TOLERANCE * expected.abs().max(actual.abs())
}

fn is_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// One value line of a dump.
struct Value {
    number: f64,
    /// Printed as an integer (`%d`, or a whole double under `%.17g`).
    integer: bool,
}

/// A line reader for dumps that reuses one buffer and knows line numbers
/// for error messages.
struct Lines<R> {
    input: R,
    buf: String,
    number: usize,
}

impl<R: BufRead> Lines<R> {
    fn new(input: R) -> Self {
        Lines {
            input,
            buf: String::new(),
            number: 0,
        }
    }

    fn malformed(&self, problem: String) -> OutputError {
        OutputError::Malformed {
            line: self.number,
            problem,
        }
    }

    /// The next line without its newline, or `None` at the end.
    fn next(&mut self) -> Result<Option<&str>, OutputError> {
        self.buf.clear();
        match self.input.read_line(&mut self.buf) {
            Ok(0) => Ok(None),
            Ok(_) => {
                self.number += 1;
                Ok(Some(self.buf.trim_end_matches(['\n', '\r'])))
            }
            Err(e) => Err(OutputError::Read(e.to_string())),
        }
    }

    /// The next `array <name> <count>` header, or `None` at the end.
    fn header(&mut self) -> Result<Option<(String, usize)>, OutputError> {
        let Some(line) = self.next()? else {
            return Ok(None);
        };
        let parsed = match line.split(' ').collect::<Vec<_>>()[..] {
            ["array", name, count] => count.parse().ok().map(|c| (name.to_string(), c)),
            _ => None,
        };
        let line = line.to_string();
        parsed
            .map(Some)
            .ok_or_else(|| self.malformed(format!("expected `array <name> <count>`, got `{line}`")))
    }

    /// The next value line.
    fn value(&mut self) -> Result<Value, OutputError> {
        let Some(text) = self.next()? else {
            return Err(self.malformed("the output ended inside an array".into()));
        };
        let integer = is_integer(text);
        match text.parse() {
            Ok(number) => Ok(Value { number, integer }),
            Err(_) => {
                let problem = format!("expected a number, got `{text}`");
                Err(self.malformed(problem))
            }
        }
    }

    /// The `end <name>` line closing array `name`.
    fn end(&mut self, name: &str) -> Result<(), OutputError> {
        let line = self.next()?.map(str::to_string);
        match line {
            Some(line) if line.strip_prefix("end ") == Some(name) => Ok(()),
            Some(line) => Err(self.malformed(format!("expected `end {name}`, got `{line}`"))),
            None => Err(self.malformed(format!("expected `end {name}`, the output ended"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_ARRAYS: &str = "array C 3\n0.5\n-1.25\n3\nend C\narray path 2\n7\n-2\nend path\n";

    fn dump(text: &str) -> Dump {
        Dump::read(text.as_bytes()).unwrap()
    }

    fn check(expected: &str, actual: &str) -> Result<(), Mismatch> {
        dump(expected).check(actual.as_bytes())
    }

    #[test]
    fn time_line_is_found_among_other_stderr_lines() {
        let stderr = "warning: something\npolybench gemm LARGE time_s=0.438125000\n";
        assert_eq!(parse_time(stderr, "gemm", Dataset::Large), Ok(0.438125));
    }

    #[test]
    fn time_line_must_name_the_kernel_and_dataset() {
        let line = "polybench gemm MINI time_s=0.1";
        for (kernel, dataset) in [("gemm", Dataset::Large), ("2mm", Dataset::Mini)] {
            let err = parse_time(line, kernel, dataset).unwrap_err();
            assert!(matches!(err, OutputError::BadTimeLine(..)), "{err}");
        }
        for bad in [
            "polybench gemm MINI",
            "polybench gemm MINI time_s=x",
            "polybench gemm MINI time_s=-1",
        ] {
            assert!(parse_time(bad, "gemm", Dataset::Mini).is_err(), "{bad}");
        }
        let err = parse_time("trap: out of bounds\n", "gemm", Dataset::Mini).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no `polybench gemm MINI time_s=...` line on stderr"
        );
    }

    #[test]
    fn dumps_are_read_with_their_kinds() {
        let d = dump(TWO_ARRAYS);
        assert_eq!(d.arrays.len(), 2);
        assert_eq!(d.arrays[0].name, "C");
        assert_eq!(d.arrays[0].values, [0.5, -1.25, 3.0]);
        assert!(!d.arrays[0].integral);
        assert_eq!(d.arrays[1].values, [7.0, -2.0]);
        assert!(d.arrays[1].integral);
        assert_eq!(dump(""), Dump::default());
    }

    #[test]
    fn malformed_dumps_name_the_line() {
        for (text, line, needle) in [
            ("array C 2\n1\nend C\n", 3, "expected a number, got `end C`"),
            ("array C 1\n1\n", 2, "expected `end C`, the output ended"),
            ("array C 1\n1\nend D\n", 3, "expected `end C`, got `end D`"),
            ("hello\n", 1, "expected `array <name> <count>`, got `hello`"),
            ("array C x\n", 1, "expected `array"),
            ("array C 2\n1\n", 2, "ended inside an array"),
        ] {
            let err = Dump::read(text.as_bytes()).unwrap_err();
            let OutputError::Malformed { line: at, problem } = &err else {
                panic!("{text:?}: {err}");
            };
            assert_eq!(*at, line, "{text:?}: {err}");
            assert!(problem.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn identical_dumps_match() {
        assert_eq!(check(TWO_ARRAYS, TWO_ARRAYS), Ok(()));
        assert_eq!(
            check(
                "array A 2\nnan\n-nan\nend A\n",
                "array A 2\n-nan\nnan\nend A\n"
            ),
            Ok(())
        );
        assert_eq!(
            check("array A 1\ninf\nend A\n", "array A 1\ninf\nend A\n"),
            Ok(())
        );
    }

    #[test]
    fn doubles_match_within_tolerance() {
        let expected = "array A 2\n1000\n0\nend A\n";
        assert_eq!(
            check(
                "array A 1\n0.1\nend A\n",
                "array A 1\n0.10000000000000002\nend A\n"
            ),
            Ok(())
        );
        assert!(check("array A 1\n0.5\nend A\n", "array A 1\n0.500000001\nend A\n").is_err());
        // Whole doubles printed as integers still allow rounding noise...
        assert_eq!(
            check(expected, "array A 2\n1000.0000000001\n1e-15\nend A\n"),
            Ok(())
        );
        // ...but an integer printed as an integer must be exact.
        let err = check(expected, "array A 2\n1001\n0\nend A\n").unwrap_err();
        assert_eq!(err.to_string(), "A[0]: expected 1000, got 1001");
    }

    #[test]
    fn same_value_rules() {
        assert!(same_value(2e9, 2e9 + 1.0, false));
        assert!(!same_value(2e9, 2e9 + 1.0, true));
        assert!(!same_value(f64::INFINITY, f64::NEG_INFINITY, false));
        assert!(!same_value(1.0, f64::NAN, false));
        assert!(same_value(1e-300, -1e-300, false));
        assert!(!same_value(1.0, 1.0 + 1e-8, false));
    }

    #[test]
    fn first_mismatch_names_array_index_and_values() {
        let err = check(TWO_ARRAYS, &TWO_ARRAYS.replace("-1.25", "-1.5")).unwrap_err();
        assert_eq!(
            err,
            Mismatch::Value {
                array: "C".into(),
                index: 1,
                expected: "-1.25".into(),
                actual: "-1.5".into()
            }
        );
        assert_eq!(err.to_string(), "C[1]: expected -1.25, got -1.5");
    }

    #[test]
    fn structural_differences_are_mismatches() {
        let cases = [
            (
                "array C 3\n0.5\n-1.25\n3\nend C\n",
                "expected array path, but the output ended",
            ),
            (
                &TWO_ARRAYS.replace("path", "road"),
                "expected array path, got array road",
            ),
            (
                &TWO_ARRAYS.replace("path 2\n7\n", "path 1\n"),
                "array path: expected 2 values, got 1",
            ),
            (
                &format!("{TWO_ARRAYS}array x 0\nend x\n"),
                "unexpected extra array x",
            ),
            (
                &TWO_ARRAYS.replace("-1.25", "oops"),
                "stdout line 3: expected a number, got `oops`",
            ),
        ];
        for (actual, message) in cases {
            let err = check(TWO_ARRAYS, actual).unwrap_err();
            assert_eq!(err.to_string(), message, "{actual:?}");
        }
    }
}
