//! Pipe mode: stdin to messages, messages to stdout.

use std::io::{self, Write};

use bytes::Bytes;
use duplex::Message;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::sync::mpsc;

use super::args::{BinaryMode, Settings};
use super::console::{Console, Input, View};
use super::dial::Opened;
use super::exit::Outcome;
use super::output::{pipe_bytes, Direction};
use super::session::{self, Interrupts};

/// Bytes read from stdin at a time in `--binary raw`.
const RAW_CHUNK: usize = 64 * 1024;
/// Largest frame accepted on stdin in `--binary length-prefixed`.
const MAX_STDIN_FRAME: usize = 256 << 20;

/// Runs pipe mode until the connection ends for good.
pub async fn run(settings: &Settings, interrupts: &mut Interrupts) -> Outcome {
    let (tx, rx) = mpsc::channel(16);
    let (mode, keep_open) = (settings.binary, settings.keep_open);
    tokio::spawn(async move {
        read_stdin(tokio::io::stdin(), mode, tx.clone()).await;
        if keep_open {
            // Holding the sender keeps the connection open.
            std::future::pending::<()>().await;
        }
        let _ = tx.send(Input::Quit).await;
    });
    let mut console = Console {
        view: PipeView {
            out: io::BufWriter::with_capacity(64 * 1024, io::stdout()),
            binary: settings.binary,
            json: settings.json,
        },
        inputs: rx,
        ping_interval: settings.ping_interval,
        verbose: false,
        stashed: None,
    };
    session::run(settings, &mut console, interrupts).await
}

/// Writes received data messages to stdout.
struct PipeView {
    /// stdout, buffered: flushed after each batch of messages.
    out: io::BufWriter<io::Stdout>,
    /// The stdout encoding.
    binary: Option<BinaryMode>,
    /// Pretty-print JSON text.
    json: bool,
}

impl View for PipeView {
    fn connected(&mut self, _opened: &Opened) {}

    fn message(&mut self, direction: Direction, message: &Message) -> io::Result<()> {
        if direction == Direction::Out {
            return Ok(());
        }
        let Some(bytes) = pipe_bytes(message, self.binary, self.json) else {
            return Ok(());
        };
        self.out.write_all(&bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn notice(&mut self, text: &str) {
        eprintln!("duplex connect: {text}");
    }
}

/// Turns stdin into [`Input`]s until its end.
pub async fn read_stdin<R>(stdin: R, mode: Option<BinaryMode>, tx: mpsc::Sender<Input>)
where
    R: AsyncRead + Unpin,
{
    let result = match mode {
        None => read_lines(stdin, &tx).await,
        Some(BinaryMode::Raw) => read_raw(stdin, &tx).await,
        Some(BinaryMode::LengthPrefixed) => read_frames(stdin, &tx).await,
    };
    if let Err(e) = result {
        eprintln!("duplex connect: reading stdin: {e}");
    }
}

/// Each line (without its `\n` or `\r\n`) is a text message.
async fn read_lines<R: AsyncRead + Unpin>(stdin: R, tx: &mpsc::Sender<Input>) -> io::Result<()> {
    let mut reader = BufReader::new(stdin);
    let mut line = Vec::new();
    let mut warned = false;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        let text = match String::from_utf8(std::mem::take(&mut line)) {
            Ok(text) => text,
            Err(e) => {
                if !warned {
                    eprintln!("duplex connect: stdin is not UTF-8; invalid bytes are replaced (use --binary for binary data)");
                    warned = true;
                }
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        };
        if tx.send(Input::Send(Message::text(text))).await.is_err() {
            return Ok(());
        }
    }
}

/// Each read is a binary message.
async fn read_raw<R: AsyncRead + Unpin>(mut stdin: R, tx: &mpsc::Sender<Input>) -> io::Result<()> {
    let mut buf = vec![0u8; RAW_CHUNK];
    loop {
        let n = stdin.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        let message = Message::Binary(Bytes::copy_from_slice(&buf[..n]));
        if tx.send(Input::Send(message)).await.is_err() {
            return Ok(());
        }
    }
}

/// A 4-byte big-endian length, then that many bytes: a binary message.
async fn read_frames<R: AsyncRead + Unpin>(
    mut stdin: R,
    tx: &mpsc::Sender<Input>,
) -> io::Result<()> {
    loop {
        let mut prefix = [0u8; 4];
        match stdin.read_exact(&mut prefix).await {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let len = u32::from_be_bytes(prefix) as usize;
        if len > MAX_STDIN_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a length prefix of {len} bytes exceeds the {MAX_STDIN_FRAME}-byte limit"),
            ));
        }
        let mut payload = vec![0u8; len];
        stdin.read_exact(&mut payload).await.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("a frame of {len} bytes was cut short: {e}"),
            )
        })?;
        if tx
            .send(Input::Send(Message::Binary(payload.into())))
            .await
            .is_err()
        {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn inputs(stdin: &'static [u8], mode: Option<BinaryMode>) -> Vec<String> {
        let (tx, mut rx) = mpsc::channel(64);
        read_stdin(stdin, mode, tx).await;
        let mut out = Vec::new();
        while let Ok(input) = rx.try_recv() {
            out.push(match input {
                Input::Send(Message::Text(t)) => format!("text {t}"),
                Input::Send(Message::Binary(b)) => format!("binary {b:?}"),
                other => format!("{other:?}"),
            });
        }
        out
    }

    #[tokio::test]
    async fn lines_become_text_messages() {
        assert_eq!(
            inputs(b"a\r\n\nb", None).await,
            ["text a", "text ", "text b"]
        );
    }

    #[tokio::test]
    async fn length_prefixed_frames() {
        let stdin = b"\x00\x00\x00\x02hi\x00\x00\x00\x00";
        assert_eq!(
            inputs(stdin, Some(BinaryMode::LengthPrefixed)).await,
            [r#"binary b"hi""#, r#"binary b"""#]
        );
        // A cut frame ends the input (with a message on stderr).
        assert!(
            inputs(b"\x00\x00\x00\x05hi", Some(BinaryMode::LengthPrefixed))
                .await
                .is_empty()
        );
    }
}
