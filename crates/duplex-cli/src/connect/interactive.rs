//! Interactive mode: a line editor (rustyline) on one thread, the connection
//! on the runtime, and received messages printed above the prompt through
//! rustyline's external printer.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use duplex::Message;
use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter as _};
use tokio::sync::mpsc;

use super::args::Settings;
use super::command::{self, Command, HELP};
use super::console::{Console, Input, View};
use super::dial::Opened;
use super::exit::{Exit, Outcome};
use super::output::{describe, Clock, Direction, Style};
use super::session::{self, Interrupts};
use super::terminal;

/// The prompt; what is typed there is replaced by the `> ` transcript line
/// once it is sent.
const PROMPT: &str = "> ";
/// Width of `HH:MM:SS.mmm < `: where message text starts.
const INDENT: usize = 15;

/// Runs interactive mode until the connection ends for good.
pub async fn run(settings: &Settings, clock: Clock, interrupts: &mut Interrupts) -> Outcome {
    let style = Style {
        color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let mut editor = match DefaultEditor::new() {
        Ok(editor) => editor,
        Err(e) => return Outcome::new(Exit::Local, format!("cannot use the terminal: {e}")),
    };
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let printer = match editor.create_external_printer() {
        Ok(printer) => printer,
        Err(e) => return Outcome::new(Exit::Local, format!("cannot use the terminal: {e}")),
    };
    let (print_tx, print_rx) = std_mpsc::channel::<String>();
    let printer_thread = std::thread::spawn(move || {
        let mut printer = printer;
        for mut text in print_rx {
            // Between two prompts the printer writes straight to the
            // terminal, where the next prompt would overwrite an
            // unterminated line.
            text.push('\n');
            if printer.print(text).is_err() {
                break;
            }
        }
    });
    let (input_tx, input_rx) = mpsc::channel(16);
    let editor_print = print_tx.clone();
    std::thread::spawn(move || read_lines(editor, input_tx, editor_print, history, style));

    let mut console = Console {
        view: TerminalView {
            printer: print_tx,
            clock,
            style,
            json: settings.json,
            url: settings.url.clone(),
        },
        inputs: input_rx,
        ping_interval: settings.ping_interval,
        verbose: settings.verbose,
        stashed: None,
    };
    let outcome = session::run(settings, &mut console, interrupts).await;
    drop(console);
    finish(printer_thread, &outcome, clock, style);
    outcome
}

/// Ends the transcript: flushes what is queued for the printer, gives the
/// terminal back, and writes the status line where the prompt was.
fn finish(printer_thread: JoinHandle<()>, outcome: &Outcome, clock: Clock, style: Style) {
    let _ = printer_thread.join();
    // The editor thread paints what the printer handed it; give it a moment.
    std::thread::sleep(Duration::from_millis(50));
    terminal::restore();
    let mut out = io::stdout().lock();
    // Clear the abandoned prompt and turn bracketed paste off again.
    let _ = write!(out, "\r\x1b[K\x1b[?2004l");
    if outcome.exit == Exit::Clean {
        let _ = writeln!(
            out,
            "{} {}",
            style.dim(&clock.now()),
            style.status(&format!("* {}", outcome.message))
        );
    }
    let _ = out.flush();
}

/// `$DUPLEX_HISTORY`, else `~/.duplex_history`.
fn history_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("DUPLEX_HISTORY").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".duplex_history"))
}

/// The editor thread: reads lines, runs local commands, hands the rest to
/// the connection.
fn read_lines(
    mut editor: DefaultEditor,
    inputs: mpsc::Sender<Input>,
    printer: std_mpsc::Sender<String>,
    history: Option<PathBuf>,
    style: Style,
) {
    loop {
        let line = match editor.readline(PROMPT) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => {
                erase_typed_line("");
                let _ = inputs.blocking_send(Input::Quit);
                return;
            }
            Err(e) => {
                let _ = printer.send(style.error(&format!("terminal error: {e}")));
                let _ = inputs.blocking_send(Input::Quit);
                return;
            }
        };
        if !line.trim().is_empty() && editor.add_history_entry(line.as_str()).unwrap_or(false) {
            if let Some(path) = &history {
                let _ = editor.save_history(path);
            }
        }
        let input = match command::parse(&line) {
            Ok(Command::Nothing) => continue,
            Ok(Command::Help) => {
                let _ = printer.send(HELP.to_string());
                continue;
            }
            Err(e) => {
                let _ = printer.send(style.error(&e));
                continue;
            }
            Ok(Command::Send(message)) => Input::Send(message),
            Ok(Command::Close(code, reason)) => Input::Close(code, reason),
            Ok(Command::Quit) => Input::Quit,
        };
        // The transcript shows what is sent, timestamped: drop the raw line.
        erase_typed_line(&line);
        let quitting = matches!(input, Input::Close(..) | Input::Quit);
        if inputs.blocking_send(input).is_err() || quitting {
            return;
        }
    }
}

/// Moves up over the line just entered (it may have wrapped) and clears it.
fn erase_typed_line(line: &str) {
    let width = PROMPT.len() + line.chars().count();
    let rows = width.div_ceil(terminal::columns()).max(1);
    let mut out = io::stdout().lock();
    let _ = write!(out, "\x1b[{rows}A\r\x1b[J");
    let _ = out.flush();
}

/// The transcript: timestamped lines above the prompt.
struct TerminalView {
    /// To the printer thread.
    printer: std_mpsc::Sender<String>,
    /// Timestamps.
    clock: Clock,
    /// Colors.
    style: Style,
    /// `--json`.
    json: bool,
    /// The URL, for the banner.
    url: String,
}

impl TerminalView {
    fn print(&self, text: String) {
        let _ = self.printer.send(text);
    }
}

impl View for TerminalView {
    fn connected(&mut self, opened: &Opened) {
        let mut details = vec![format!("{}", opened.peer)];
        if let Some(protocol) = opened.ws.protocol() {
            details.push(format!("subprotocol {protocol}"));
        }
        if opened.ws.is_compressed() {
            details.push("permessage-deflate".into());
        }
        let text = format!(
            "* connected to {} ({}); /help for commands",
            self.url,
            details.join(", ")
        );
        self.print(format!(
            "{} {}",
            self.style.dim(&self.clock.now()),
            self.style.status(&text)
        ));
    }

    fn message(&mut self, direction: Direction, message: &Message) -> io::Result<()> {
        let lines = describe(message, self.json);
        let mut text = format!(
            "{} {} ",
            self.style.dim(&self.clock.now()),
            self.style.arrow(direction)
        );
        let control = !message.is_data();
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                text.push('\n');
                text.push_str(&" ".repeat(INDENT));
            }
            if control || (i > 0 && matches!(message, Message::Binary(_))) {
                text.push_str(&self.style.dim(line));
            } else {
                text.push_str(line);
            }
        }
        self.print(text);
        Ok(())
    }

    fn notice(&mut self, text: &str) {
        self.print(format!(
            "{} {}",
            self.style.dim(&self.clock.now()),
            self.style.error(&format!("* {text}"))
        ));
    }
}
