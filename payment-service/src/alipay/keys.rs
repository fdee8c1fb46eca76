//! RSA keys for RSA2 (SHA256withRSA, PKCS#1 v1.5), through aws-lc-rs (constant time).
//!
//! The app private key signs our requests; it is read as PEM, PKCS#8 (`PRIVATE KEY`) or
//! PKCS#1 (`RSA PRIVATE KEY`). Alipay's public key verifies what Alipay sends; it is read
//! as PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`) or as the bare base64 Alipay's console shows.

use std::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{
    KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

fn key_error(message: impl Into<String>) -> KeyError {
    KeyError(message.into())
}

/// The merchant's private key, which signs requests.
pub struct AppPrivateKey {
    pair: KeyPair,
    rng: SystemRandom,
}

impl fmt::Debug for AppPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppPrivateKey([redacted])")
    }
}

impl AppPrivateKey {
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let (label, der) = decode_pem(pem)?;
        let pair = match label.as_str() {
            "PRIVATE KEY" => KeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => KeyPair::from_der(&der),
            other => {
                return Err(key_error(format!(
                    "expected an RSA private key, found {other:?}"
                )));
            }
        }
        .map_err(|err| key_error(format!("not a usable RSA private key: {err}")))?;
        Ok(Self {
            pair,
            rng: SystemRandom::new(),
        })
    }

    /// A fresh 2048-bit key as PKCS#8 PEM (for local runs and tests).
    pub fn generate_pem() -> Result<String, KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| key_error("RSA key generation failed"))?;
        let der: Pkcs8V1Der<'static> = pair
            .as_der()
            .map_err(|_| key_error("cannot encode the generated key"))?;
        Ok(encode_pem("PRIVATE KEY", der.as_ref()))
    }

    /// RSA2 signature of `message`, base64.
    pub fn sign(&self, message: &[u8]) -> Result<String, KeyError> {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut signature)
            .map_err(|_| key_error("RSA signing failed"))?;
        Ok(STANDARD.encode(signature))
    }

    /// The public half as `PUBLIC KEY` PEM: what is uploaded to Alipay's console.
    pub fn public_key_pem(&self) -> Result<String, KeyError> {
        let der: PublicKeyX509Der<'static> = self
            .pair
            .public_key()
            .as_der()
            .map_err(|_| key_error("cannot encode the public key"))?;
        Ok(encode_pem("PUBLIC KEY", der.as_ref()))
    }
}

/// A public key that checks RSA2 signatures (Alipay's, or in the fake Alipay, ours).
#[derive(Clone)]
pub struct PublicKey {
    key: ParsedPublicKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PublicKey(RSA)")
    }
}

impl PublicKey {
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let der = if text.trim_start().starts_with("-----BEGIN") {
            let (label, der) = decode_pem(text)?;
            if label != "PUBLIC KEY" && label != "RSA PUBLIC KEY" {
                return Err(key_error(format!(
                    "expected an RSA public key, found {label:?}"
                )));
            }
            der
        } else {
            let compact: String = text.split_whitespace().collect();
            STANDARD
                .decode(compact)
                .map_err(|_| key_error("the public key is neither PEM nor base64"))?
        };
        let key = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
            .map_err(|err| key_error(format!("not a usable RSA public key: {err}")))?;
        Ok(Self { key })
    }

    /// Whether `signature` (base64) is a valid RSA2 signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        let Ok(signature) = STANDARD.decode(signature.trim()) else {
            return false;
        };
        self.key.verify_sig(message, &signature).is_ok()
    }
}

pub fn decode_pem(pem: &str) -> Result<(String, Vec<u8>), KeyError> {
    let mut lines = pem.lines().map(str::trim).filter(|l| !l.is_empty());
    let label = lines
        .next()
        .and_then(|l| l.strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or_else(|| key_error("not a PEM document"))?
        .to_owned();
    let body: String = lines.take_while(|l| !l.starts_with("-----END")).collect();
    let der = STANDARD
        .decode(body)
        .map_err(|_| key_error("the PEM body is not base64"))?;
    Ok((label, der))
}

pub fn encode_pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}
