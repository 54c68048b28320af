//! SM2 signatures (GB/T 32918.2-2016 / GM/T 0003.2-2012) over the
//! recommended curve of GB/T 32918.5-2017, with SM3 (GB/T 32905-2016) and
//! the signer ID entering Z, as GM/T 0009-2012 specifies
//! (schemas/FORMATS.md, "SM2"; docs/decisions.md D19).
//!
//! The curve arithmetic is RustCrypto's `sm2` crate; Z, e and the signing
//! equation are written out here so that every step can be checked against
//! the standard's worked example (ledger/tests/vectors_sm2.rs) and against
//! OpenSSL (tests/tests/sm2_openssl.rs), not only round-tripped.
//!
//! Encodings: a public key is the 65-byte uncompressed SEC1 point
//! `0x04 ‖ x ‖ y`; a signature is 64 bytes `r ‖ s`, each 32 bytes
//! big-endian. A key's *material* is the point, optionally followed by a
//! stated signer ID (1 to [`MAX_ID_BYTES`] printable ASCII bytes, never the
//! default itself, so that each key has one encoding); no ID means the
//! default [`DEFAULT_ID`].

use sm2::elliptic_curve::group::Group;
use sm2::elliptic_curve::ops::{LinearCombination, MulByGenerator, Reduce};
use sm2::elliptic_curve::point::AffineCoordinates;
use sm2::elliptic_curve::sec1::ToEncodedPoint;
use sm2::elliptic_curve::{Curve, FieldBytesEncoding, PrimeField};
use sm2::{FieldBytes, NonZeroScalar, ProjectivePoint, Scalar};
use sm3::{Digest, Sm3};

/// DEFAULT_ID is the signer ID GM/T 0009-2012 §10 gives when none is agreed.
pub const DEFAULT_ID: &str = "1234567812345678";

/// MAX_ID_BYTES bounds a stated signer ID.
pub const MAX_ID_BYTES: usize = 64;

/// POINT_LEN is the length of an uncompressed SEC1 point.
pub const POINT_LEN: usize = 65;

/// SIGNATURE_LEN is the length of `r ‖ s`.
pub const SIGNATURE_LEN: usize = 64;

// The curve of GB/T 32918.5-2017 (a, b and G), as they enter Z.
const A: [u8; 32] = hex32("fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc");
const B: [u8; 32] = hex32("28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93");
const GX: [u8; 32] = hex32("32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7");
const GY: [u8; 32] = hex32("bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0");

const fn hex32(s: &str) -> [u8; 32] {
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nib(b[2 * i]) << 4) | nib(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nib(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("lowercase hex"),
    }
}

/// Sm2Error says why an SM2 key, ID or signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum Sm2Error {
    /// BadPoint: not a 65-byte uncompressed point on the curve (a compressed
    /// or hybrid point, the point at infinity, or a point off the curve).
    #[error("SM2 public key is not a 65-byte uncompressed point on the SM2 curve: {0}")]
    BadPoint(&'static str),
    /// BadId: the stated signer ID is empty, too long, not printable ASCII,
    /// or the default written out.
    #[error("SM2 signer ID must be 1..64 printable ASCII bytes other than the default: {0}")]
    BadId(&'static str),
    /// BadSignature: r or s is zero or not below n, or the length is not 64.
    #[error("SM2 signature does not verify: {0}")]
    BadSignature(&'static str),
    /// Unverified: a well-formed signature whose equation does not hold
    /// under the key and its signer ID. The ID is named because it enters
    /// Z: a signature made under another ID (the default where the key
    /// states one, or the reverse) fails here though key and message agree.
    #[error("SM2 signature does not verify under signer ID {id:?} (the key's; a signature made under another signer ID, another key or over another message fails here)")]
    Unverified {
        /// id is the signer ID the verification used.
        id: String,
    },
    /// BadSecret: the private key is not in [1, n-2].
    #[error("SM2 private key must be in [1, n-2]")]
    BadSecret,
}

/// Sm2PublicKey is an SM2 public key and the signer ID it signs under.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sm2PublicKey {
    point: [u8; POINT_LEN],
    id: Option<String>,
}

impl std::fmt::Debug for Sm2PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sm2PublicKey({}", super::to_hex(&self.point))?;
        if let Some(id) = &self.id {
            write!(f, ", id {id:?}")?;
        }
        f.write_str(")")
    }
}

fn check_id(id: &str) -> Result<(), Sm2Error> {
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return Err(Sm2Error::BadId("length"));
    }
    if !id.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(Sm2Error::BadId("not printable ASCII"));
    }
    if id == DEFAULT_ID {
        return Err(Sm2Error::BadId("the default ID is written by omitting it"));
    }
    Ok(())
}

fn parse_point(point: &[u8]) -> Result<sm2::PublicKey, Sm2Error> {
    if point.len() != POINT_LEN {
        return Err(Sm2Error::BadPoint("not 65 bytes"));
    }
    if point[0] != 0x04 {
        return Err(Sm2Error::BadPoint("not an uncompressed point (0x04)"));
    }
    // from_sec1_bytes checks that the point is on the curve and is not
    // the identity (the curve has cofactor 1, so that is the whole check).
    sm2::PublicKey::from_sec1_bytes(point).map_err(|_| Sm2Error::BadPoint("not on the curve"))
}

impl Sm2PublicKey {
    /// new checks a point and an optional stated signer ID.
    ///
    /// # Errors
    ///
    /// [`Sm2Error::BadPoint`] or [`Sm2Error::BadId`].
    pub fn new(point: &[u8], id: Option<&str>) -> Result<Sm2PublicKey, Sm2Error> {
        parse_point(point)?;
        if let Some(id) = id {
            check_id(id)?;
        }
        Ok(Sm2PublicKey {
            point: point.try_into().expect("65 bytes"),
            id: id.map(str::to_string),
        })
    }

    /// from_material reads `point ‖ [signer ID]` (see the module doc).
    ///
    /// # Errors
    ///
    /// As [`Sm2PublicKey::new`].
    pub fn from_material(b: &[u8]) -> Result<Sm2PublicKey, Sm2Error> {
        if b.len() < POINT_LEN {
            return Err(Sm2Error::BadPoint("not 65 bytes"));
        }
        let (point, id) = b.split_at(POINT_LEN);
        let id = if id.is_empty() {
            None
        } else {
            Some(std::str::from_utf8(id).map_err(|_| Sm2Error::BadId("not printable ASCII"))?)
        };
        Sm2PublicKey::new(point, id)
    }

    /// material returns `point ‖ [signer ID]`.
    pub fn material(&self) -> Vec<u8> {
        let mut m = self.point.to_vec();
        if let Some(id) = &self.id {
            m.extend_from_slice(id.as_bytes());
        }
        m
    }

    /// point returns the 65-byte uncompressed point.
    pub fn point(&self) -> &[u8; POINT_LEN] {
        &self.point
    }

    /// id returns the signer ID: the stated one, or [`DEFAULT_ID`].
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or(DEFAULT_ID)
    }

    /// stated_id returns the stated signer ID, None for the default.
    pub fn stated_id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// z returns Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA) (GB/T 32918.2 §5.5).
    pub fn z(&self) -> [u8; 32] {
        z(self.id(), &self.point)
    }

    /// verify checks a 64-byte `r ‖ s` signature of `msg`: r and s in
    /// [1, n-1], e = SM3(Z ‖ msg), and the equation of GB/T 32918.2 §7.
    ///
    /// # Errors
    ///
    /// [`Sm2Error::BadSignature`] naming what failed.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), Sm2Error> {
        let sig = <[u8; SIGNATURE_LEN]>::try_from(sig)
            .map_err(|_| Sm2Error::BadSignature("not 64 bytes"))?;
        // B1, B2: r and s in [1, n-1] (from_repr refuses values not below n).
        let scalar = |b: &[u8]| {
            Option::<Scalar>::from(Scalar::from_repr(*FieldBytes::from_slice(b)))
                .filter(|x| !bool::from(x.is_zero()))
                .ok_or(Sm2Error::BadSignature("r or s is zero or not below n"))
        };
        let (r, s) = (scalar(&sig[..32])?, scalar(&sig[32..])?);
        let pk = parse_point(&self.point)?;
        // B4: e' = SM3(Z ‖ M'), as an integer mod n.
        let e =
            <Scalar as Reduce<sm2::U256>>::reduce_bytes(FieldBytes::from_slice(&e(&self.z(), msg)));
        // B5: t = (r' + s') mod n, refused if zero.
        let t = r + s;
        if bool::from(t.is_zero()) {
            return Err(Sm2Error::BadSignature("r + s is zero mod n"));
        }
        // B6, B7: (x1', y1') = [s']G + [t]P; accept iff r' = (e' + x1') mod n.
        let x1 = ProjectivePoint::lincomb(
            &ProjectivePoint::generator(),
            &s,
            &ProjectivePoint::from(*pk.as_affine()),
            &t,
        )
        .to_affine()
        .x();
        if r == e + <Scalar as Reduce<sm2::U256>>::reduce_bytes(&x1) {
            Ok(())
        } else {
            Err(Sm2Error::Unverified {
                id: self.id().to_string(),
            })
        }
    }
}

/// z computes Z for a signer ID and a 65-byte point (GB/T 32918.2 §5.5;
/// ENTL is the ID's length in bits, two bytes big-endian).
pub fn z(id: &str, point: &[u8; POINT_LEN]) -> [u8; 32] {
    let entl = u16::try_from(id.len() * 8).expect("IDs are bounded");
    let mut h = Sm3::new();
    h.update(entl.to_be_bytes());
    h.update(id.as_bytes());
    h.update(A);
    h.update(B);
    h.update(GX);
    h.update(GY);
    h.update(&point[1..]);
    h.finalize().into()
}

/// e computes e = SM3(Z ‖ M) (GB/T 32918.2 §6.1, A2).
pub fn e(z: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    let mut h = Sm3::new();
    h.update(z);
    h.update(msg);
    h.finalize().into()
}

/// Sm2SecretKey is an SM2 private key d with its public key. The scalar is
/// held in elliptic-curve's `SecretKey`, which zeroizes on drop.
#[derive(Clone)]
pub struct Sm2SecretKey {
    secret: sm2::SecretKey,
    public: Sm2PublicKey,
}

impl std::fmt::Debug for Sm2SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sm2SecretKey({:?})", self.public)
    }
}

impl PartialEq for Sm2SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.public == other.public
    }
}
impl Eq for Sm2SecretKey {}

impl Sm2SecretKey {
    /// from_bytes makes a key from the 32-byte big-endian d, signing under
    /// the signer ID `id` (None: the default).
    ///
    /// # Errors
    ///
    /// [`Sm2Error::BadSecret`] unless 1 ≤ d ≤ n-2 (d = n-1 has no (1+d)⁻¹),
    /// or [`Sm2Error::BadId`].
    pub fn from_bytes(d: &[u8; 32], id: Option<&str>) -> Result<Sm2SecretKey, Sm2Error> {
        let secret = sm2::SecretKey::from_slice(d).map_err(|_| Sm2Error::BadSecret)?;
        let scalar = secret.to_nonzero_scalar();
        if bool::from((*scalar + Scalar::ONE).is_zero()) {
            return Err(Sm2Error::BadSecret);
        }
        let point = secret.public_key().to_encoded_point(false);
        let public = Sm2PublicKey::new(point.as_bytes(), id)?;
        Ok(Sm2SecretKey { secret, public })
    }

    /// from_secret wraps a parsed elliptic-curve key (from PKCS#8).
    ///
    /// # Errors
    ///
    /// As [`Sm2SecretKey::from_bytes`].
    pub fn from_secret(
        secret: &sm2::SecretKey,
        id: Option<&str>,
    ) -> Result<Sm2SecretKey, Sm2Error> {
        let d: [u8; 32] = secret.to_bytes().into();
        Sm2SecretKey::from_bytes(&d, id)
    }

    /// secret returns the elliptic-curve key (for PKCS#8 export).
    pub fn secret(&self) -> &sm2::SecretKey {
        &self.secret
    }

    /// to_bytes returns d, 32 bytes big-endian (for the skey text).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.secret.to_bytes().into()
    }

    /// public returns the public key.
    pub fn public(&self) -> &Sm2PublicKey {
        &self.public
    }

    /// sign signs `msg` under the key's signer ID. The nonce k is derived
    /// deterministically from d and e (RFC 6979 with HMAC-SM3, as RustCrypto's
    /// `sm2` does), because the core draws no randomness; a signature is
    /// still a valid GB/T 32918.2 signature for any verifier.
    pub fn sign(&self, msg: &[u8]) -> [u8; SIGNATURE_LEN] {
        let e = e(&self.public.z(), msg);
        let d = self.secret.to_nonzero_scalar();
        let order = FieldBytesEncoding::<sm2::Sm2>::encode_field_bytes(&sm2::Sm2::ORDER);
        let e_scalar = <Scalar as Reduce<sm2::U256>>::reduce_bytes(FieldBytes::from_slice(&e));
        let mut extra = 0u32;
        loop {
            // The retry (r = 0, r + k = n or s = 0: probability ~2^-256) feeds
            // a counter as RFC 6979's additional data.
            let k = rfc6979::generate_k::<Sm3, _>(
                &d.to_repr(),
                &order,
                &e_scalar.to_bytes(),
                &extra.to_be_bytes()[..if extra == 0 { 0 } else { 4 }],
            );
            let k = Option::<Scalar>::from(Scalar::from_repr(k)).expect("k < n");
            if let Some(sig) = sign_prehash_with_k(&d, &e, &k) {
                return sig;
            }
            extra += 1;
        }
    }
}

/// sign_prehash_with_k is the signing equation of GB/T 32918.2 §6.1 (A4–A6)
/// with a given nonce k: (x1, y1) = [k]G, r = (e + x1) mod n,
/// s = (1 + d)⁻¹ (k − r·d) mod n. It returns None where the standard says
/// to draw another k. Public so that tests can reproduce the standard's
/// example, whose k is given; a caller choosing its own k must never reuse
/// one (that reveals d).
pub fn sign_prehash_with_k(
    d: &NonZeroScalar,
    e: &[u8; 32],
    k: &Scalar,
) -> Option<[u8; SIGNATURE_LEN]> {
    if bool::from(k.is_zero()) {
        return None;
    }
    let e = <Scalar as Reduce<sm2::U256>>::reduce_bytes(FieldBytes::from_slice(e));
    let x1 = ProjectivePoint::mul_by_generator(k).to_affine().x();
    let r = e + <Scalar as Reduce<sm2::U256>>::reduce_bytes(&x1);
    if bool::from(r.is_zero() | (r + k).is_zero()) {
        return None;
    }
    let inv = Option::<Scalar>::from((**d + Scalar::ONE).invert())?;
    let s = inv * (*k - r * **d);
    if bool::from(s.is_zero()) {
        return None;
    }
    let mut out = [0u8; SIGNATURE_LEN];
    out[..32].copy_from_slice(&r.to_bytes());
    out[32..].copy_from_slice(&s.to_bytes());
    Some(out)
}

/// PEM: PKCS#8 private keys and SubjectPublicKeyInfo public keys with
/// algorithm id-ecPublicKey and the curve OID 1.2.156.10197.1.301 (what
/// OpenSSL 3 `genpkey -algorithm SM2` writes and BouncyCastle reads). The
/// signer ID is not part of either format; it travels beside the key.
pub mod pem {
    use super::{Sm2Error, Sm2PublicKey, Sm2SecretKey};
    use sm2::elliptic_curve::sec1::ToEncodedPoint;
    use sm2::pkcs8::{
        DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
    };

    /// PemError says why a PEM key was refused.
    #[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
    pub enum PemError {
        /// Format: not PEM, not PKCS#8 / SubjectPublicKeyInfo, or not an SM2 key.
        #[error("not an SM2 key in PEM (PKCS#8 private / SubjectPublicKeyInfo public key, curve OID 1.2.156.10197.1.301): {0}")]
        Format(String),
        /// Key: the key decodes but is refused.
        #[error(transparent)]
        Key(#[from] Sm2Error),
    }

    /// private_to_pem writes the PKCS#8 "PRIVATE KEY" PEM of a key.
    pub fn private_to_pem(k: &Sm2SecretKey) -> String {
        k.secret()
            .to_pkcs8_pem(LineEnding::LF)
            .expect("an SM2 key encodes")
            .to_string()
    }

    /// private_from_pem reads a PKCS#8 "PRIVATE KEY" PEM.
    ///
    /// # Errors
    ///
    /// [`PemError`].
    pub fn private_from_pem(pem: &str, id: Option<&str>) -> Result<Sm2SecretKey, PemError> {
        let s = sm2::SecretKey::from_pkcs8_pem(pem.trim())
            .map_err(|e| PemError::Format(e.to_string()))?;
        Ok(Sm2SecretKey::from_secret(&s, id)?)
    }

    /// public_to_pem writes the SubjectPublicKeyInfo "PUBLIC KEY" PEM.
    pub fn public_to_pem(k: &Sm2PublicKey) -> String {
        sm2::PublicKey::from_sec1_bytes(k.point())
            .expect("a checked point")
            .to_public_key_pem(LineEnding::LF)
            .expect("an SM2 key encodes")
    }

    /// public_from_pem reads a SubjectPublicKeyInfo "PUBLIC KEY" PEM.
    ///
    /// # Errors
    ///
    /// [`PemError`].
    pub fn public_from_pem(pem: &str, id: Option<&str>) -> Result<Sm2PublicKey, PemError> {
        let p = sm2::PublicKey::from_public_key_pem(pem.trim())
            .map_err(|e| PemError::Format(e.to_string()))?;
        Ok(Sm2PublicKey::new(p.to_encoded_point(false).as_bytes(), id)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Sm2SecretKey {
        Sm2SecretKey::from_bytes(&[b; 32], None).unwrap()
    }

    #[test]
    fn sign_verify_and_tamper() {
        let k = key(7);
        let sig = k.sign(b"hello");
        k.public().verify(b"hello", &sig).unwrap();
        assert!(k.public().verify(b"hellp", &sig).is_err());
        let mut bad = sig;
        bad[40] ^= 1;
        assert!(k.public().verify(b"hello", &bad).is_err());
        // Another signer ID is another Z: the signature no longer verifies.
        let other = Sm2PublicKey::new(k.public().point(), Some("ALICE123@YAHOO.COM")).unwrap();
        let e = other.verify(b"hello", &sig).unwrap_err();
        assert_eq!(
            e,
            Sm2Error::Unverified {
                id: "ALICE123@YAHOO.COM".into()
            }
        );
        // The refusal names the ID it verified under, so a signer who used
        // the default sees which one the key is registered with.
        assert!(e.to_string().contains("\"ALICE123@YAHOO.COM\""), "{e}");
    }

    #[test]
    fn r_or_s_zero_or_not_below_n_is_refused() {
        let k = key(7);
        let sig = k.sign(b"m");
        let n = hex32("fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123");
        for (at, v) in [
            (0, [0u8; 32]),
            (32, [0u8; 32]),
            (0, n),
            (32, n),
            (0, [0xff; 32]),
            (32, [0xff; 32]),
        ] {
            let mut bad = sig;
            bad[at..at + 32].copy_from_slice(&v);
            assert_eq!(
                k.public().verify(b"m", &bad),
                Err(Sm2Error::BadSignature("r or s is zero or not below n"))
            );
        }
        assert!(k.public().verify(b"m", &sig[..63]).is_err());
    }

    #[test]
    fn bad_points_and_ids_are_refused() {
        let p = *key(7).public().point();
        let mut off = p;
        off[64] ^= 1;
        let mut compressed = p[..33].to_vec();
        compressed[0] = 0x02;
        let mut hybrid = p;
        hybrid[0] = 0x06;
        for bad in [
            &off[..],
            &compressed,
            &hybrid,
            &[0u8][..],
            &[0u8; 65],
            &p[..64],
            &[0x04; 65],
        ] {
            assert!(
                matches!(Sm2PublicKey::new(bad, None), Err(Sm2Error::BadPoint(_))),
                "{bad:?}"
            );
        }
        for id in ["", DEFAULT_ID, "tab\there", &"x".repeat(65), "中文"] {
            assert!(
                matches!(Sm2PublicKey::new(&p, Some(id)), Err(Sm2Error::BadId(_))),
                "{id}"
            );
        }
        assert_eq!(Sm2PublicKey::from_material(&p).unwrap().id(), DEFAULT_ID);
        let mut m = p.to_vec();
        m.extend_from_slice(b"ALICE");
        assert_eq!(Sm2PublicKey::from_material(&m).unwrap().id(), "ALICE");
        assert_eq!(Sm2PublicKey::from_material(&m).unwrap().material(), m);
    }

    #[test]
    fn secret_range() {
        assert_eq!(
            Sm2SecretKey::from_bytes(&[0; 32], None),
            Err(Sm2Error::BadSecret)
        );
        let n = hex32("fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123");
        let mut n1 = n;
        n1[31] -= 1;
        let mut n2 = n;
        n2[31] -= 2;
        assert_eq!(Sm2SecretKey::from_bytes(&n, None), Err(Sm2Error::BadSecret));
        assert_eq!(
            Sm2SecretKey::from_bytes(&n1, None),
            Err(Sm2Error::BadSecret)
        );
        assert!(Sm2SecretKey::from_bytes(&n2, None).is_ok());
    }

    #[test]
    fn pem_round_trip_and_garbage() {
        let k = key(9);
        let pem = pem::private_to_pem(&k);
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(
            pem::private_from_pem(&pem, None).unwrap().to_bytes(),
            k.to_bytes()
        );
        let pubpem = pem::public_to_pem(k.public());
        assert_eq!(&pem::public_from_pem(&pubpem, None).unwrap(), k.public());
        assert!(pem::public_from_pem("garbage", None).is_err());
        assert!(pem::private_from_pem(&pubpem, None).is_err());
        assert!(pem::public_from_pem(&pem, None).is_err());
    }
}
