//! SHA-256 and SHA-512 of a 64- or 128-byte concatenation through the bare
//! compression function: the message block plus one constant padding block,
//! with no buffering or length bookkeeping per node.

use sha2::digest::generic_array::GenericArray;

const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
const SHA512_IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

/// Padding block of a 64-byte message: 0x80, zeros, bit length 512.
const PAD256: [u8; 64] = {
    let mut b = [0u8; 64];
    b[0] = 0x80;
    b[62] = 0x02;
    b
};

/// Padding block of a 128-byte message: 0x80, zeros, bit length 1024.
const PAD512: [u8; 128] = {
    let mut b = [0u8; 128];
    b[0] = 0x80;
    b[126] = 0x04;
    b
};

/// SHA-256(lo || hi) for two 32-byte values, already ordered.
#[inline]
pub fn sha256_pair(lo: &[u8], hi: &[u8], out: &mut [u8]) {
    let mut blocks = [
        GenericArray::default(),
        GenericArray::clone_from_slice(&PAD256),
    ];
    blocks[0][..32].copy_from_slice(lo);
    blocks[0][32..].copy_from_slice(hi);
    let mut state = SHA256_IV;
    sha2::compress256(&mut state, &blocks);
    for (o, s) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&s.to_be_bytes());
    }
}

/// SHA-512(lo || hi) for two 64-byte values, already ordered.
#[inline]
pub fn sha512_pair(lo: &[u8], hi: &[u8], out: &mut [u8]) {
    let mut blocks = [
        GenericArray::default(),
        GenericArray::clone_from_slice(&PAD512),
    ];
    blocks[0][..64].copy_from_slice(lo);
    blocks[0][64..].copy_from_slice(hi);
    let mut state = SHA512_IV;
    sha2::compress512(&mut state, &blocks);
    for (o, s) in out.chunks_exact_mut(8).zip(state) {
        o.copy_from_slice(&s.to_be_bytes());
    }
}

/// Hashes `pairs` sorted pairs of 32-byte nodes from `src` into `dst`.
pub fn sha256_level(src: &[u8], pairs: usize, dst: &mut [u8]) {
    for (pair, out) in src
        .chunks_exact(64)
        .take(pairs)
        .zip(dst.chunks_exact_mut(32))
    {
        let (a, b) = pair.split_at(32);
        if a <= b {
            sha256_pair(a, b, out)
        } else {
            sha256_pair(b, a, out)
        }
    }
}
