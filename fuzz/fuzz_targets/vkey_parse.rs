#![no_main]
//! Key text: VerifierKey::parse and Signer::from_skey on the same input.
//!
//! Properties: whatever parses re-formats to text that parses to the same
//! key; a signer made from the input (as a name) round-trips through
//! to_skey/from_skey and its verifier through to_vkey/parse, and its
//! signatures verify with that verifier.
use libfuzzer_sys::fuzz_target;
use regledger::tlog::note::{is_valid_name, KeyType, Signer, VerifierKey};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(v) = VerifierKey::parse(s) {
        assert_eq!(VerifierKey::parse(&v.to_vkey()).unwrap(), v);
    }
    if let Ok(k) = Signer::from_skey(s) {
        let again = Signer::from_skey(&k.to_skey()).unwrap();
        assert_eq!(again.to_skey(), k.to_skey());
        assert_eq!(again.verifier(), k.verifier());
        // Private key text is never a verifier key ("KEY" is not a hex id).
        assert!(VerifierKey::parse(&k.to_skey()).is_err());
    }
    // The input as a key name.
    let seed: [u8; 32] = std::array::from_fn(|i| data.get(i).copied().unwrap_or(i as u8));
    for kt in [
        KeyType::Ed25519,
        KeyType::CosignatureV1,
        KeyType::Sm2,
        KeyType::Sm2CosignatureV1,
    ] {
        match Signer::generate(s, kt, seed) {
            Ok(k) => {
                assert!(is_valid_name(s));
                let k2 = Signer::from_skey(&k.to_skey()).expect("to_skey parses");
                assert_eq!(k2.key_id(), k.key_id());
                assert_eq!(k2.name(), s);
                let v = VerifierKey::parse(&k.verifier().to_vkey()).expect("to_vkey parses");
                assert_eq!(v, k.verifier());
                assert_eq!(v.key_type(), kt);
                let sig = k.sign(data);
                assert!(v.verify_sig(data, &sig));
                let mut bad = sig;
                bad[0] ^= 1;
                assert!(!v.verify_sig(data, &bad));
            }
            // An SM2 seed outside [1, n-2] is refused too (never for a fuzzed
            // 32-byte prefix in practice, but allowed).
            Err(_) => assert!(!is_valid_name(s) || kt.alg() == regledger::crypto::SigAlg::Sm2),
        }
    }
});
