//! Mobile numbers in E.164 (`+919800000101`), the one normalizer behind the registry's
//! `mobile` column, the rosters' handles and rule R4's comparison of a device's reported
//! handle with a roster.
//!
//! Why one function: the registry, a roster and the phone write the same number in
//! different ways (`9800000101`, `09800000101`, `919800000101`, `+91 98000 00101`). If
//! the upload and the rule normalized differently, an officer listed on the roster would
//! fail R4. So every place that compares or stores a number calls [`normalize_mobile`].
//!
//! Why by hand and not the `phonenumber` crate (the Rust port of libphonenumber): that
//! crate carries the whole metadata of every numbering plan and a regex engine, and this
//! core is compiled into the phone apps; what Pramaan needs is only to turn the ways
//! Indian officers write a mobile into one E.164 form and to refuse what is not a number.
//! A number written with `+` (or `00`) and a country code is taken in any country; a
//! number without one is read in the default country ([`DEFAULT_COUNTRY`], India).

/// The default country for numbers written without `+`: India, `+91`, ten-digit national
/// numbers, trunk prefix `0`.
pub const DEFAULT_COUNTRY: Country = Country {
    code: "91",
    national_digits: 10,
};

/// A country's calling code and the length of its national (significant) numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    /// The calling code without `+` (`"91"`).
    pub code: &'static str,
    /// Digits of a national number after the trunk prefix (`10` in India).
    pub national_digits: usize,
}

/// E.164 allows at most 15 digits (country code included).
const E164_MAX_DIGITS: usize = 15;
/// The shortest international number accepted (country code included).
const E164_MIN_DIGITS: usize = 8;

/// `text` as an E.164 mobile number (`+` and digits), reading a number without a country
/// code in [`DEFAULT_COUNTRY`]. Spaces, dashes, dots and parentheses are ignored. The
/// error says why in words for the uploader.
pub fn normalize_mobile(text: &str) -> Result<String, String> {
    normalize_mobile_in(text, DEFAULT_COUNTRY)
}

/// [`normalize_mobile`] with another default country.
pub fn normalize_mobile_in(text: &str, country: Country) -> Result<String, String> {
    let trimmed = text.trim();
    let (international, rest) = match trimmed.strip_prefix('+') {
        Some(r) => (true, r),
        None => (false, trimmed),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => {
                return Err(format!(
                    "{} is not a phone number (write it as +{}XXXXXXXXXX)",
                    crate::text::for_terminal(trimmed),
                    country.code
                ));
            }
        }
    }
    let bad = |why: &str| {
        Err(format!(
            "{trimmed} is not a phone number: {why} (write it as +{}XXXXXXXXXX)",
            country.code
        ))
    };
    if digits.is_empty() {
        return bad("no digits");
    }
    let international_digits = if international {
        digits
    } else if let Some(d) = digits.strip_prefix("00") {
        d.to_string()
    } else if digits.len() == country.national_digits {
        format!("{}{digits}", country.code)
    } else if digits.len() == country.national_digits + 1 && digits.starts_with('0') {
        format!("{}{}", country.code, &digits[1..])
    } else if digits.len() == country.code.len() + country.national_digits
        && digits.starts_with(country.code)
    {
        digits
    } else {
        return bad(&format!(
            "{} digits, not a {}-digit national number",
            digits.len(),
            country.national_digits
        ));
    };
    if international_digits.starts_with('0') {
        return bad("a country code does not start with 0");
    }
    if !(E164_MIN_DIGITS..=E164_MAX_DIGITS).contains(&international_digits.len()) {
        return bad(&format!(
            "{} digits with the country code, E.164 allows {E164_MIN_DIGITS} to {E164_MAX_DIGITS}",
            international_digits.len()
        ));
    }
    if international_digits.starts_with(country.code)
        && international_digits.len() != country.code.len() + country.national_digits
    {
        return bad(&format!(
            "+{} numbers have {} digits after the country code",
            country.code, country.national_digits
        ));
    }
    Ok(format!("+{international_digits}"))
}

/// A messaging handle as rosters store it and rule R4 compares it: a phone number in
/// E.164 ([`normalize_mobile`]); anything else (a user name, an e-mail) trimmed and
/// compared case-insensitively, ignoring the spaces, dashes and parentheses people type.
pub fn normalize_handle(handle: &str) -> String {
    match normalize_mobile(handle) {
        Ok(e164) => e164,
        Err(_) => handle
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '(' | ')'))
            .collect::<String>()
            .to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indian_mobiles_written_every_way_are_one_number() {
        for written in [
            "9800000101",
            "09800000101",
            "919800000101",
            "+919800000101",
            "+91 98000 00101",
            "+91-98000-00101",
            "0091 9800000101",
        ] {
            assert_eq!(
                normalize_mobile(written).as_deref(),
                Ok("+919800000101"),
                "{written}"
            );
        }
    }

    #[test]
    fn what_is_not_a_mobile_is_refused() {
        for bad in [
            "not-a-phone",
            "",
            "+",
            "12345",
            "98000001011",
            "+91980000010",
            "+9198000001011",
            "+0919800000101",
            "+1234567890123456",
            "98000\u{202e}00101",
        ] {
            let e = normalize_mobile(bad).expect_err(bad);
            assert!(e.contains("not a phone number"), "{bad}: {e}");
        }
        // Another country's number with its code is kept as written.
        assert_eq!(
            normalize_mobile("+44 7700 900123").as_deref(),
            Ok("+447700900123")
        );
    }

    #[test]
    fn handles_are_numbers_when_they_are_numbers() {
        assert_eq!(normalize_handle("9800000101"), "+919800000101");
        assert_eq!(
            normalize_handle(" +91 98000-00101 "),
            normalize_handle("09800000101")
        );
        assert_eq!(normalize_handle(" @Asha_Shah "), "@asha_shah");
        assert_eq!(
            normalize_handle("a.shah@gujarat.gov.in"),
            "a.shah@gujarat.gov.in"
        );
    }
}
