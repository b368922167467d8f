//! Test inputs for the command-line parsers: every short string over a set
//! of pieces that mixes digits, unit letters, separators and multi-byte
//! characters (where byte-offset slicing goes wrong).

const PIECES: [&str; 12] = ["0", "7", "x", "K", "i", "B", "s", "m", ".", " ", "µ", "é"];

/// Every string of up to four pieces, the empty one included.
pub fn all() -> impl Iterator<Item = String> {
    (0..=4u32).flat_map(|len| {
        (0..PIECES.len().pow(len)).map(move |mut n| {
            let mut text = String::new();
            for _ in 0..len {
                text.push_str(PIECES[n % PIECES.len()]);
                n /= PIECES.len();
            }
            text
        })
    })
}

#[test]
fn every_combination_comes_once() {
    let all: Vec<String> = all().collect();
    let expected: usize = (0..=4u32).map(|k| PIECES.len().pow(k)).sum();
    assert_eq!(all.len(), expected);
    for must in ["", "0", "70", "7.0", "µ0", "0x0", "7KiB"] {
        assert!(all.iter().any(|t| t == must), "{must:?} missing");
    }
}
