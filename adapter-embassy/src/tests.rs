use super::*;
use std::cell::RefCell;
use std::rc::Rc;
use std::vec::Vec;
use wasm_smtp_core::error::TlsError as SmtpTlsError;
use wasm_smtp_core::{Config, SmtpClient, SmtpError, TlsPolicy};
use wasm_smtp_mock::{block_on, MockTransport};

// The scripted transport of the mock crate serves as a plain socket.
impl Socket for MockTransport {
    fn shutdown(&mut self) {}
}

/// What a [`Stub`] socket saw; shared so that it can be read after the socket is gone.
#[derive(Default)]
struct Log {
    written: Vec<u8>,
    reads: usize,
    flushes: usize,
    shutdowns: usize,
}

/// A socket that records what is written and answers every read with `reply` once,
/// then end of stream.
struct Stub {
    log: Rc<RefCell<Log>>,
    reply: &'static [u8],
}

impl Stub {
    fn new(reply: &'static [u8]) -> (Self, Rc<RefCell<Log>>) {
        let log = Rc::new(RefCell::new(Log::default()));
        (
            Stub {
                log: log.clone(),
                reply,
            },
            log,
        )
    }
}

impl ErrorType for Stub {
    type Error = ErrorKind;
}

impl Read for Stub {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.log.borrow_mut().reads += 1;
        let n = self.reply.len().min(buf.len());
        buf[..n].copy_from_slice(&self.reply[..n]);
        self.reply = &self.reply[n..];
        Ok(n)
    }
}

impl Write for Stub {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.log.borrow_mut().written.extend_from_slice(buf);
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        self.log.borrow_mut().flushes += 1;
        Ok(())
    }
}

impl Socket for Stub {
    fn shutdown(&mut self) {
        self.log.borrow_mut().shutdowns += 1;
    }
}

/// A deterministic generator: the tests never complete a handshake, so its quality does
/// not matter.
struct CountingRng(u64);

impl rand_core::RngCore for CountingRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand_core::impls::fill_bytes_via_next(self, dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for CountingRng {}

/// Not a certificate: no test here gets as far as verifying one.
const CA: &[u8] = b"0\x03\x02\x01\x00";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn plaintext_session_runs_through_the_core() {
    let (mock, handle) = MockTransport::builder()
        .greeting()
        .ehlo("device.example.com", &["8BITMIME"])
        .mail_from("dev@example.com")
        .rcpt_to("ops@example.com")
        .data()
        .message("Subject: t\r\n\r\n..dot\r\n.\r\n")
        .quit()
        .build();
    let mut transport = EmbassyTransport::plaintext(mock);
    assert!(!transport.is_encrypted());
    assert!(!transport.verifies_certificate());
    let config = Config::new().tls(TlsPolicy::Disabled);
    let outcome = block_on(async {
        let mut client = SmtpClient::connect_with(&mut transport, "device.example.com", config)
            .await
            .unwrap();
        let outcome = client
            .send_mail(
                "dev@example.com",
                &["ops@example.com"],
                "Subject: t\n\n.dot\n",
            )
            .await
            .unwrap();
        let quit = client.quit().await;
        assert!(quit.is_ok(), "{quit:?} {:?}", handle.failure());
        outcome
    });
    assert!(outcome.all_accepted());
    handle.assert_done();
    assert!(transport.last_error().is_none());
    // Closed by quit: the socket comes back.
    assert!(transport.into_socket().is_some());
}

#[test]
fn required_tls_without_a_tls_setup_stops_after_starttls() {
    let (mock, handle) = MockTransport::builder()
        .greeting()
        .ehlo("device.example.com", &["STARTTLS", "AUTH PLAIN"])
        .write("STARTTLS\r\n")
        .read("220 2.0.0 go ahead\r\n")
        .build();
    let mut transport = EmbassyTransport::plaintext(mock);
    let err = block_on(SmtpClient::connect(&mut transport, "device.example.com")).unwrap_err();
    assert_eq!(
        err,
        SmtpError::Tls(SmtpTlsError::Handshake(ErrorKind::Unsupported))
    );
    assert!(matches!(
        transport.last_error(),
        Some(Error::TlsUnavailable)
    ));
    assert!(!transport.is_encrypted());
    // Nothing was written after the 220: the script ends there.
    handle.assert_done();
}

#[test]
fn a_server_that_stays_in_plaintext_after_starttls_fails_the_handshake() {
    // A STARTTLS-stripping middlebox: the "ServerHello" is an SMTP reply.
    let (stub, log) = Stub::new(b"250 2.0.0 carry on in plaintext\r\n");
    let (mut read_record, mut write_record) = ([0u8; 2048], [0u8; 1024]);
    let tls = TlsSetup::new(
        "smtp.example.com",
        CA,
        CountingRng(1),
        &mut read_record,
        &mut write_record,
    );
    let mut transport = EmbassyTransport::starttls(stub, tls);
    assert!(transport.verifies_certificate());
    let err = block_on(transport.upgrade_to_tls()).unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert_eq!(
        wasm_smtp_core::io::Error::kind(&err),
        ErrorKind::InvalidData
    );
    assert!(matches!(transport.last_error(), Some(Error::Tls(_))));
    assert!(!transport.is_encrypted());

    // The ClientHello went out: a TLS handshake record with the server name (SNI).
    let hello = log.borrow().written.clone();
    assert_eq!(&hello[..3], &[0x16, 0x03, 0x01], "{hello:02x?}");
    assert!(contains(&hello, b"smtp.example.com"));

    // From now on nothing reaches the socket, and a second upgrade is refused.
    let mut buf = [0u8; 16];
    assert!(matches!(
        block_on(transport.read(&mut buf)),
        Err(Error::Unusable)
    ));
    assert!(matches!(
        block_on(transport.write(b"AUTH PLAIN secret\r\n")),
        Err(Error::Unusable)
    ));
    assert!(matches!(block_on(transport.flush()), Err(Error::Unusable)));
    assert!(matches!(
        block_on(transport.upgrade_to_tls()),
        Err(Error::Unusable)
    ));
    assert_eq!(log.borrow().written, hello);
    assert!(!contains(&log.borrow().written, b"secret"));

    // Closing writes nothing either (not even a TLS alert); the socket was owned by
    // the TLS connection and is dropped with it.
    block_on(transport.close()).unwrap();
    block_on(transport.close()).unwrap();
    assert_eq!(log.borrow().written, hello);
    assert_eq!(log.borrow().shutdowns, 0);
    assert!(transport.into_socket().is_none());
}

#[test]
fn a_borrowed_socket_comes_back_to_the_caller_after_a_failed_handshake() {
    let (mut stub, log) = Stub::new(b"\x15\x03\x03\x00\x02\x02\x28");
    let (mut read_record, mut write_record) = ([0u8; 2048], [0u8; 1024]);
    {
        let tls = TlsSetup::new(
            "smtp.example.com",
            CA,
            CountingRng(3),
            &mut read_record,
            &mut write_record,
        );
        // A fatal handshake_failure alert from the server.
        let err = block_on(EmbassyTransport::implicit_tls(&mut stub, tls)).unwrap_err();
        assert!(
            matches!(err, Error::Tls(TlsError::HandshakeAborted(..))),
            "{err:?}"
        );
    }
    // The caller still owns the socket and decides (an embassy-net TcpSocket would be
    // aborted here).
    stub.shutdown();
    assert_eq!(log.borrow().shutdowns, 1);
    assert_eq!(log.borrow().written[0], 0x16);
}

#[test]
fn implicit_tls_that_fails_returns_the_error_and_writes_nothing_more() {
    // The server closes the connection instead of answering the ClientHello.
    let (stub, log) = Stub::new(b"");
    let (mut read_record, mut write_record) = ([0u8; 2048], [0u8; 1024]);
    let tls = TlsSetup::without_certificate_verification(
        "smtp.example.com",
        CountingRng(7),
        &mut read_record,
        &mut write_record,
    );
    assert!(!tls.verifies_certificate());
    let err = block_on(EmbassyTransport::implicit_tls(stub, tls)).unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    let log = log.borrow();
    assert_eq!(log.written[0], 0x16);
    assert!(log.reads >= 1);
    // Only the ClientHello was written.
    assert_eq!(
        log.written[3..5],
        ((log.written.len() - 5) as u16).to_be_bytes()
    );
    assert_eq!(log.shutdowns, 0);
}

#[test]
fn tls_setup_debug_shows_no_buffer_contents() {
    let (mut read_record, mut write_record) = ([0x5au8; 64], [0x5au8; 64]);
    let tls = TlsSetup::new(
        "smtp.example.com",
        CA,
        CountingRng(0),
        &mut read_record,
        &mut write_record,
    );
    let text = std::format!("{tls:?}");
    assert!(text.contains("smtp.example.com"));
    assert!(text.contains("verify_certificate: true"));
    assert!(!text.contains("90"), "{text}");
}

#[test]
fn the_guard_requires_a_verified_certificate_and_its_signature() {
    let mut guard: Guarded<'_, NoClock> = Guarded::new(CA);
    // A handshake that never showed a certificate has not verified the server.
    assert!(matches!(guard.finish(), Err(Error::CertificateNotVerified)));
    // A CertificateVerify without a verified Certificate is refused (embedded-tls's
    // verifier would unwrap here).
    let verify = CertificateVerifyRef {
        signature_scheme: embedded_tls::SignatureScheme::EcdsaSecp256r1Sha256,
        signature: &[0x30, 0x00],
    };
    assert!(matches!(
        guard.verify_signature(verify),
        Err(TlsError::InvalidHandshake)
    ));
    assert!(matches!(guard.finish(), Err(Error::CertificateNotVerified)));
    // A certificate without its signature is not enough either.
    guard.certificate = true;
    assert!(matches!(guard.finish(), Err(Error::CertificateNotVerified)));
}

#[test]
fn error_kinds_and_texts() {
    use wasm_smtp_core::io::Error as _;
    assert_eq!(
        Error::Socket(ErrorKind::ConnectionReset).kind(),
        ErrorKind::ConnectionReset
    );
    assert_eq!(
        Error::Tls(TlsError::Io(ErrorKind::TimedOut)).kind(),
        ErrorKind::TimedOut
    );
    assert_eq!(
        Error::Tls(TlsError::InvalidCertificate).kind(),
        ErrorKind::InvalidData
    );
    assert_eq!(Error::CertificateNotVerified.kind(), ErrorKind::InvalidData);
    assert_eq!(Error::TlsUnavailable.kind(), ErrorKind::Unsupported);
    assert_eq!(Error::Unusable.kind(), ErrorKind::NotConnected);
    assert_eq!(
        std::format!("{}", Error::Tls(TlsError::InvalidCertificate)),
        "TLS error: InvalidCertificate"
    );
}
