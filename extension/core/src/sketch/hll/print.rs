//! `hll_print`: postgresql-hll's human-readable dump of a set, character for
//! character, so scripts and tests that read it see the same text. Sparse values are
//! shown as their registers ("COMPRESSED"), as postgresql-hll unpacks them.

use std::fmt::Write;

use super::{Hll, Repr};

/// Registers per printed row.
const ROW: usize = 32;

impl Hll {
    /// The set's kind, parameters and contents: one line per explicit hash, rows of 32
    /// registers (none when there are fewer than 32).
    pub fn print(&self) -> String {
        let p = &self.params;
        let expthresh = match p.expthresh {
            -1 => format!("-1({})", p.explicit_limit()),
            n => n.to_string(),
        };
        let params = format!("nregs={}, nbits={}, expthresh={expthresh}, sparseon={}", p.registers(), p.regwidth, u8::from(p.sparseon));
        match &self.repr {
            Repr::Undefined => format!("UNDEFINED {params}"),
            Repr::Empty => format!("EMPTY, {params}"),
            Repr::Explicit(list) => {
                let mut out = format!("EXPLICIT, {} elements, {params}:", list.len());
                for (i, h) in list.iter().enumerate() {
                    let _ = write!(out, "\n{i}: {h:>20} ");
                }
                out
            }
            Repr::Full(regs) => {
                let filled = regs.iter().filter(|&&r| r != 0).count();
                let mut out = format!("COMPRESSED, {filled} filled {params}:");
                for (row, chunk) in regs.chunks_exact(ROW).enumerate() {
                    let _ = write!(out, "\n{:>4}: ", row * ROW);
                    for r in chunk {
                        let _ = write!(out, "{r:>2} ");
                    }
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::sketch::hll::{Hll, Params};

    #[test]
    fn prints_as_postgresql_hll_does() {
        let p = Params::new(10, 4, 512, 0).unwrap();
        assert_eq!(Hll::new(p).print(), "EMPTY, nregs=1024, nbits=4, expthresh=512, sparseon=0");
        let mut h = Hll::new(Params::default());
        h.extend(&[5, -3]);
        let rows = format!("\n0: {:>20} \n1: {:>20} ", -3, 5);
        assert_eq!(h.print(), format!("EXPLICIT, 2 elements, nregs=2048, nbits=5, expthresh=-1(160), sparseon=1:{rows}"));
        let mut full = Hll::new(Params::new(5, 5, 0, 1).unwrap());
        full.add(1 | (1 << 5));
        let text = full.print();
        assert!(text.starts_with("COMPRESSED, 1 filled nregs=32, nbits=5, expthresh=0, sparseon=1:\n   0:  0  1  0 "), "{text}");
        assert_eq!(text.lines().count(), 2);
        assert!(Hll::from_bytes(&[0x10, 0x8b, 0x7f]).unwrap().print().starts_with("UNDEFINED nregs=2048"));
    }
}
