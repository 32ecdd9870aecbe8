//! Byte sizes as BuildKit prints them (`tonistiigi/units` with `%.2f`): whole bytes below
//! 1 kB (`59B`), otherwise two decimals with a decimal unit (`400.42kB`, `1.20MB`).

const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];

pub(crate) fn bytes_2f(n: i64) -> String {
    let mut base: i64 = 1;
    let mut i = 0;
    while i + 1 < UNITS.len() && n.unsigned_abs() >= (base as u64).saturating_mul(1000) {
        base *= 1000;
        i += 1;
    }
    if i == 0 {
        return format!("{n}B");
    }
    format!("{:.2}{}", n as f64 / base as f64, UNITS[i])
}

#[cfg(test)]
mod tests {
    use super::bytes_2f;

    #[test]
    fn like_tonistiigi_units() {
        assert_eq!(bytes_2f(0), "0B");
        assert_eq!(bytes_2f(999), "999B");
        assert_eq!(bytes_2f(1000), "1.00kB");
        assert_eq!(bytes_2f(400_420), "400.42kB");
        assert_eq!(bytes_2f(1_234_567), "1.23MB");
        assert_eq!(bytes_2f(3_000_000_000), "3.00GB");
    }
}
