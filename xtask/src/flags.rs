//! Hand-rolled command-line splitting, so that `xtask` needs no argument
//! parsing crate: flags are `--name value`, `--name=value`, or bare `--name`.

/// One flag as given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flag {
    /// The name without the leading `--`.
    pub name: String,
    /// Its value; `None` for a switch.
    pub value: Option<String>,
}

/// What a command accepts: each flag's name and whether it takes a value.
pub type Spec<'a> = &'a [(&'a str, bool)];

/// Splits `args` into flags following `spec`. Unknown flags, positional
/// arguments, missing values and values given to switches are errors, so a
/// typo never silently runs something else.
pub fn split(args: &[String], spec: Spec<'_>) -> Result<Vec<Flag>, String> {
    let known = || {
        spec.iter()
            .map(|(n, _)| format!("--{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut flags = Vec::with_capacity(args.len());
    let mut rest = args.iter();
    // Each iteration consumes at least one argument, so this ends.
    while let Some(arg) = rest.next() {
        let Some(body) = arg.strip_prefix("--") else {
            return Err(format!(
                "unexpected argument `{arg}`; expected one of {}",
                known()
            ));
        };
        let (name, inline) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (body, None),
        };
        let Some(&(_, takes_value)) = spec.iter().find(|(n, _)| *n == name) else {
            return Err(format!(
                "unknown flag `--{name}`; expected one of {}",
                known()
            ));
        };
        let value = match (takes_value, inline) {
            (true, Some(v)) => Some(v),
            (true, None) => match rest.next() {
                Some(v) => Some(v.clone()),
                None => return Err(format!("`--{name}` needs a value")),
            },
            (false, Some(_)) => return Err(format!("`--{name}` takes no value")),
            (false, None) => None,
        };
        flags.push(Flag {
            name: name.to_owned(),
            value,
        });
    }
    Ok(flags)
}

/// The non-empty items of a comma-separated list.
pub fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A positive integer; `what` names the flag in the error.
pub fn positive(value: &str, what: &str) -> Result<usize, String> {
    // Accept `1_000_000` as Rust literals do; big N are easier to read so.
    match value.trim().replace('_', "").parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{what} must be a positive integer, not `{value}`")),
    }
}

/// A comma-separated list of positive integers.
pub fn positives(value: &str, what: &str) -> Result<Vec<usize>, String> {
    let items = list(value);
    if items.is_empty() {
        return Err(format!("{what} needs at least one value"));
    }
    items.iter().map(|s| positive(s, what)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    const SPEC: Spec<'static> = &[("n", true), ("quick", false)];

    #[test]
    fn splits_values_inline_values_and_switches() {
        let flags = split(&args("--n 5 --quick --n=7"), SPEC).unwrap();
        let got: Vec<_> = flags
            .iter()
            .map(|f| (f.name.as_str(), f.value.as_deref()))
            .collect();
        assert_eq!(got, [("n", Some("5")), ("quick", None), ("n", Some("7"))]);
    }

    #[test]
    fn rejects_typos_missing_values_and_positionals() {
        assert!(split(&args("--qiuck"), SPEC)
            .unwrap_err()
            .contains("unknown flag `--qiuck`"));
        assert!(split(&args("--n"), SPEC)
            .unwrap_err()
            .contains("needs a value"));
        assert!(split(&args("--quick=yes"), SPEC)
            .unwrap_err()
            .contains("takes no value"));
        assert!(split(&args("merge"), SPEC)
            .unwrap_err()
            .contains("unexpected argument"));
    }

    #[test]
    fn parses_lists_of_positive_numbers() {
        assert_eq!(positives("10,1_000, 5", "--n").unwrap(), [10, 1000, 5]);
        assert!(positives("10,0", "--n").is_err());
        assert!(positives("ten", "--n").is_err());
        assert!(positives(",", "--n").is_err());
        assert_eq!(list("a,,b ,"), ["a", "b"]);
    }
}
