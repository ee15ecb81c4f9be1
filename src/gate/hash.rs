//! The gate's hash: keys and value combinations, read on the application's
//! thread for every repeat, so it must be cheap and still spread well.

/// A fast hash: each word is mixed in with a folded multiply (the full
/// 128-bit product, high half xored into the low), so a difference in any
/// byte reaches every bit — a plain multiply-rotate only carries it upward,
/// and texts that differ in a few letters (user input) collided in one of
/// seven cases. A final avalanche follows (the slot index is taken from the
/// low bits). Process-local: keys never leave the process.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct QuickHash(pub(crate) u64);

impl QuickHash {
    const K: u64 = 0x517c_c1b7_2722_0a95;

    pub(crate) fn write_u64(&mut self, word: u64) {
        let product = u128::from(self.0 ^ word) * u128::from(Self::K);
        // The two halves of a 128-bit product: the casts keep 64 bits each.
        self.0 = (product as u64) ^ ((product >> 64) as u64) ^ word.rotate_left(23);
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        let word_at = |at: usize| {
            let mut word = [0; 8];
            word.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(word)
        };
        let tail = bytes.len() % 8;
        if bytes.len() < 8 {
            let mut word = [0; 8];
            word[..tail].copy_from_slice(bytes);
            self.write_u64(u64::from_le_bytes(word) ^ ((tail as u64) << 56));
            return;
        }
        for i in 0..bytes.len() / 8 {
            self.write_u64(word_at(i * 8));
        }
        // The tail as the last eight bytes (overlapping the last whole word:
        // no copy of a variable length), marked with its length.
        if tail != 0 {
            self.write_u64(word_at(bytes.len() - 8) ^ ((tail as u64) << 56));
        }
    }

    pub(crate) fn finish(&self) -> u64 {
        // splitmix64's finaliser: every input bit reaches the low bits.
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }
}
