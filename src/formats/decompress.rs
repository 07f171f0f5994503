//! Compressed logs (gzip, zstd), decompressed as a stream on a thread of
//! their own: the parser works on one block while the next is being
//! decompressed, and memory stays at a few blocks whatever the file's
//! size.
//!
//! Multi-member gzip files (`cat a.gz b.gz`, `pigz`, bgzip) and
//! multi-frame zstd files (`pzstd`, concatenated frames) are read to their
//! end. A file that stops inside a member or frame, or whose data does not
//! decode, is an error ([`is_corrupt`] tells it from a failure to read the
//! file itself): no partial log is ever taken for a whole one.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::Sniffed;

/// Bytes decompressed per message: large enough that the hand-over costs
/// nothing, small enough that the parser starts soon.
const BLOCK: usize = 4 << 20;

/// Blocks decompressed ahead of the parser.
const AHEAD: usize = 2;

/// A read of the compressed file itself failed (not its decoding): the
/// decoder hands such errors on unchanged, and this marks them.
#[derive(Debug)]
struct SourceError(io::Error);

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// The compressed bytes, with read errors marked as [`SourceError`].
struct Source<R>(R);

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), SourceError(e)))
    }
}

/// Data that does not decode: corrupt, or truncated inside a member or
/// frame. Errors of the reader of [`decompressed`] carry it, unless reading
/// the file itself failed.
#[derive(Debug)]
struct Corrupt {
    format: Sniffed,
    error: io::Error,
}

impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Corrupt {}

/// Sorts a decoder's error: a failed read of the file comes out as it was,
/// anything else is [`Corrupt`].
fn classify(format: Sniffed, error: io::Error) -> io::Error {
    if error
        .get_ref()
        .is_some_and(|inner| inner.is::<SourceError>())
    {
        let kind = error.kind();
        let inner = error.into_inner().expect("checked above");
        return match inner.downcast::<SourceError>() {
            Ok(source) => source.0,
            Err(other) => io::Error::new(kind, other),
        };
    }
    io::Error::new(error.kind(), Corrupt { format, error })
}

/// The format whose data did not decode, when `error` (from a reader of
/// [`decompressed`]) says the data is corrupt or truncated (bad input)
/// rather than that the file could not be read; `None` otherwise.
pub fn corrupt_format(error: &io::Error) -> Option<Sniffed> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Corrupt>())
        .map(|c| c.format)
}

/// Whether `error` is [`corrupt_format`]'s.
pub fn is_corrupt(error: &io::Error) -> bool {
    corrupt_format(error).is_some()
}

/// The text of a corruption error, for messages.
pub fn describe_corruption(format: Sniffed, error: &io::Error) -> String {
    let what = match format {
        Sniffed::Gzip => "gzip",
        _ => "zstd",
    };
    let cause = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Corrupt>())
        .map_or_else(|| error.to_string(), |c| c.error.to_string());
    if error.kind() == io::ErrorKind::UnexpectedEof {
        format!("the {what} data ends inside a compressed block: the file is truncated")
    } else {
        format!("the {what} data does not decode ({cause})")
    }
}

/// The decompressed bytes of `source`, a `format` stream (gzip or zstd),
/// decoded on another thread.
pub fn decompressed(format: Sniffed, source: Box<dyn Read + Send>) -> io::Result<Box<dyn Read>> {
    let source = Source(source);
    let decoder: Box<dyn Read + Send> = match format {
        Sniffed::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
            io::BufReader::with_capacity(1 << 20, source),
        )),
        Sniffed::Zstd => Box::new(zstd::stream::read::Decoder::new(source)?),
        _ => return Ok(Box::new(source)),
    };
    Ok(Box::new(Pipelined::start(format, decoder)))
}

/// A reader whose bytes are read from `inner` on another thread, a block
/// at a time.
struct Pipelined {
    blocks: Receiver<io::Result<Vec<u8>>>,
    /// Emptied blocks go back to the thread to be filled again.
    spare: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
    done: bool,
    thread: Option<JoinHandle<()>>,
}

impl Pipelined {
    fn start(format: Sniffed, mut inner: Box<dyn Read + Send>) -> Pipelined {
        let (send, blocks) = sync_channel::<io::Result<Vec<u8>>>(AHEAD);
        let (spare, spares) = sync_channel::<Vec<u8>>(AHEAD + 2);
        let thread = std::thread::Builder::new()
            .name("segmint-decompress".into())
            .spawn(move || {
                loop {
                    let mut block = spares.try_recv().unwrap_or_default();
                    block.clear();
                    block.reserve(BLOCK);
                    let filled = fill(&mut inner, &mut block);
                    let end = !matches!(filled, Ok(true));
                    let message = filled.map(|_| block).map_err(|e| classify(format, e));
                    // The reader was dropped: nobody wants the rest.
                    if send.send(message).is_err() || end {
                        return;
                    }
                }
            });
        // Without a thread (none to be had) the channel is closed, and the
        // first read says so.
        Pipelined {
            blocks,
            spare,
            current: Vec::new(),
            at: 0,
            done: false,
            thread: thread.ok(),
        }
    }
}

/// Fills `block` up to [`BLOCK`] bytes: `Ok(true)` when full (more may
/// follow), `Ok(false)` at the end of the data.
fn fill(inner: &mut dyn Read, block: &mut Vec<u8>) -> io::Result<bool> {
    while block.len() < BLOCK {
        let want = (BLOCK - block.len()) as u64;
        match inner.take(want).read_to_end(block) {
            Ok(0) => return Ok(false),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

impl Read for Pipelined {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.blocks.recv() {
                Ok(Ok(block)) => {
                    let old = std::mem::replace(&mut self.current, block);
                    self.at = 0;
                    let _ = self.spare.try_send(old);
                    if self.current.len() < BLOCK {
                        // The last block: the thread has ended.
                        self.done = true;
                    }
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::other(SourceError(io::Error::other(
                        "the decompression thread could not be started",
                    ))));
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Drop for Pipelined {
    fn drop(&mut self) {
        // Unblock the thread (its next send fails) and let it end.
        let (_, closed) = sync_channel(0);
        drop(std::mem::replace(&mut self.blocks, closed));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn text(lines: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..lines {
            writeln!(
                out,
                "u{},2025-01-{:02},{}.{:02}",
                i % 977,
                1 + i % 28,
                i,
                i % 100
            )
            .unwrap();
        }
        out
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn read_all(format: Sniffed, bytes: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        decompressed(format, Box::new(io::Cursor::new(bytes)))?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn multi_member_gzip_and_multi_frame_zstd_read_whole() {
        // Several blocks' worth, in two members / frames.
        let (a, b) = (text(200_000), text(150_000));
        let whole = [a.clone(), b.clone()].concat();
        assert!(whole.len() > 2 * BLOCK);
        let gz = [gzip(&a), gzip(&b)].concat();
        assert_eq!(Sniffed::of(&gz), Sniffed::Gzip);
        assert_eq!(read_all(Sniffed::Gzip, gz).unwrap(), whole);
        let zst = [
            zstd::encode_all(&a[..], 1).unwrap(),
            zstd::encode_all(&b[..], 1).unwrap(),
        ]
        .concat();
        assert_eq!(Sniffed::of(&zst), Sniffed::Zstd);
        assert_eq!(read_all(Sniffed::Zstd, zst).unwrap(), whole);
    }

    #[test]
    fn truncated_and_corrupt_data_are_errors_not_short_reads() {
        let data = text(50_000);
        for (format, packed) in [
            (Sniffed::Gzip, gzip(&data)),
            (Sniffed::Zstd, zstd::encode_all(&data[..], 3).unwrap()),
        ] {
            let cut = packed[..packed.len() * 2 / 3].to_vec();
            let error = read_all(format, cut).unwrap_err();
            assert!(is_corrupt(&error), "{format:?}: {error}");
            let message = describe_corruption(format, &error);
            assert!(message.contains("truncated"), "{format:?}: {message}");
            let mut garbled = packed.clone();
            let middle = garbled.len() / 2;
            garbled[middle..middle + 64].fill(0xA5);
            let error = read_all(format, garbled).unwrap_err();
            assert!(is_corrupt(&error), "{format:?}: {error}");
        }
    }

    #[test]
    fn read_errors_of_the_file_are_not_corruption() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::PermissionDenied, "denied"))
            }
        }
        let mut out = Vec::new();
        let error = decompressed(Sniffed::Gzip, Box::new(Failing))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap_err();
        assert!(!is_corrupt(&error), "{error}");
    }
}
