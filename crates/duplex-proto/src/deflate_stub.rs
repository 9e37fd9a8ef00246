//! TEMPORARY stand-in while deflate.rs is written.
#![allow(missing_docs, dead_code)]
use bytes::BytesMut;
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeflateConfig {}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateParams {}
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("negotiation")]
pub struct NegotiationError;
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeflateError { #[error("too big")] TooBig, #[error("corrupt {0}")] Corrupt(String) }
#[derive(Debug)]
pub struct PerMessageDeflate;
impl DeflateConfig {
    pub fn client_offer(&self) -> String { String::new() }
    pub fn negotiate_server(&self, _h: &[&str]) -> Option<(DeflateParams, String)> { None }
    pub fn accept_client(&self, _h: &[&str]) -> Result<Option<DeflateParams>, NegotiationError> { Err(NegotiationError) }
}
impl PerMessageDeflate {
    pub fn new(_p: DeflateParams, _s: bool, _c: &DeflateConfig) -> Self { PerMessageDeflate }
    pub fn should_compress(&self, _l: usize) -> bool { false }
    pub fn compress(&mut self, _p: &[u8], _o: &mut BytesMut) -> Result<(), DeflateError> { Ok(()) }
    pub fn decompress(&mut self, _i: &[u8], _l: bool, _o: &mut BytesMut, _m: usize) -> Result<(), DeflateError> { Err(DeflateError::TooBig) }
}
