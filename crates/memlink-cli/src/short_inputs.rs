//! Test inputs for the command-line parsers: every short string over a set
//! of pieces that mixes digits, unit letters, separators and multi-byte
//! characters (where byte-offset slicing goes wrong).

const PIECES: [&str; 12] = ["0", "7", "x", "K", "i", "B", "s", "m", ".", " ", "µ", "é"];

/// Every string of up to four pieces, the empty one included.
pub fn all() -> impl Iterator<Item = String> {
    (0..PIECES.len().pow(4)).map(|n| {
        let mut text = String::new();
        let mut rest = n;
        while rest > 0 {
            text.push_str(PIECES[rest % PIECES.len()]);
            rest /= PIECES.len();
        }
        text
    })
}
