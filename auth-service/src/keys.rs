//! The RSA key pair that signs access tokens.
//!
//! Production passes the private key in `JWT_PRIVATE_KEY` (PEM). Locally the key lives in
//! `data/keys/jwt-private.pem`, generated on first start, so the repository holds no key.
//! The public half is published as a JWK whose `kid` is its RFC 7638 thumbprint.

use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::JwtSettings;

pub struct SigningKey {
    pub encoding: EncodingKey,
    pub kid: String,
    pub jwk: Value,
}

impl SigningKey {
    pub fn load_or_generate(settings: &JwtSettings) -> anyhow::Result<Self> {
        let pem = match &settings.private_key_pem {
            Some(pem) => pem.expose().to_owned(),
            None => read_or_generate(&settings.private_key_file)?,
        };
        Self::from_pem(&pem)
    }

    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let (label, der) = decode_pem(pem)?;
        let pair = match label.as_str() {
            "PRIVATE KEY" => KeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => KeyPair::from_der(&der),
            other => anyhow::bail!("JWT private key: expected an RSA private key, found {other:?}"),
        }
        .map_err(|err| anyhow::anyhow!("JWT private key is not a usable RSA key: {err}"))?;
        anyhow::ensure!(
            pair.public_modulus_len() >= 256,
            "JWT private key must be at least 2048 bits"
        );
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        // RFC 7638: the thumbprint hashes the required members in lexicographic order.
        let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes())?;
        let jwk = json!({ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e });
        Ok(Self { encoding, kid, jwk })
    }
}

/// A fresh 2048-bit RSA private key as PKCS#8 PEM.
pub fn generate_pem() -> anyhow::Result<String> {
    let pair = KeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
    let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> = pair
        .as_der()
        .map_err(|_| anyhow::anyhow!("cannot encode the generated key"))?;
    Ok(encode_pem("PRIVATE KEY", der.as_ref()))
}

fn read_or_generate(path: &Path) -> anyhow::Result<String> {
    if !path.exists() {
        shared::config::write_once(path, generate_pem()?.as_bytes())?;
        tracing::info!(path = %path.display(), "generated a JWT signing key");
    }
    std::fs::read_to_string(path)
        .map_err(|err| anyhow::anyhow!("reading {}: {err}", path.display()))
}

fn decode_pem(pem: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let mut lines = pem.lines().map(str::trim).filter(|l| !l.is_empty());
    let label = lines
        .next()
        .and_then(|l| l.strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or_else(|| anyhow::anyhow!("not a PEM document"))?
        .to_owned();
    let body: String = lines.take_while(|l| !l.starts_with("-----END")).collect();
    let der = STANDARD
        .decode(body)
        .map_err(|_| anyhow::anyhow!("PEM body is not base64"))?;
    Ok((label, der))
}

fn encode_pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_round_trips_through_pem_with_a_stable_kid() {
        let dir = std::env::temp_dir().join(format!("wp-keys-{}", shared::random::token_hex(6)));
        let path = dir.join("jwt.pem");
        let first = SigningKey::from_pem(&read_or_generate(&path).unwrap()).unwrap();
        let again = SigningKey::from_pem(&read_or_generate(&path).unwrap()).unwrap();
        assert_eq!(
            first.kid, again.kid,
            "the key is generated once and then reused"
        );
        assert_eq!(first.jwk["kty"], "RSA");
        assert_eq!(first.jwk["e"], "AQAB");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn non_rsa_pem_is_refused() {
        let pem = encode_pem("CERTIFICATE", b"junk");
        assert!(SigningKey::from_pem(&pem).is_err());
        assert!(SigningKey::from_pem("not pem").is_err());
    }
}
