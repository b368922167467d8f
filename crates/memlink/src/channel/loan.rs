//! Zero-copy: [`Loan`] lends a message's place in the ring to the sender
//! to fill, [`Message`] lends a received message in place. The channel's
//! only `unsafe` outside `shared.rs`: the slices over ring bytes that
//! another process maps.
#![allow(unsafe_code)]

use super::receiver::Receiver;
use super::ring::Record;
use super::sender::Sender;
use crate::error::{Error, Result};

/// Room for one message in the ring, lent to the sender to fill in place.
/// [`Loan::commit`] publishes it; dropping it uncommitted publishes nothing.
///
/// ```
/// use memlink::channel::{ChannelOptions, Receiver};
/// # let name = format!("doc-loan-{}", std::process::id());
///
/// let mut tx = ChannelOptions::new().create_sender(&name)?;
/// let mut rx = Receiver::open(&name)?;
/// let mut loan = tx.loan(11)?;
/// loan.write_at(0, b"zero-copy!!")?;
/// loan.commit();
/// assert_eq!(rx.recv()?, b"zero-copy!!");
/// # Ok::<(), memlink::Error>(())
/// ```
#[derive(Debug)]
pub struct Loan<'a> {
    sender: &'a mut Sender,
    pos: u64,
    len: usize,
    committed: bool,
}

impl<'a> Loan<'a> {
    #[inline]
    pub(super) fn new(sender: &'a mut Sender, pos: u64, len: usize) -> Loan<'a> {
        Loan {
            sender,
            pos,
            len,
            committed: false,
        }
    }

    /// The message's length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the message is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `data` into the message at `offset`.
    #[inline]
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> Result<()> {
        match offset.checked_add(data.len()) {
            Some(end) if end <= self.len => {}
            _ => {
                return Err(Error::OutOfRange {
                    name: self.sender.name().to_owned(),
                    offset: offset as u64,
                    len: data.len() as u64,
                    size: self.len as u64,
                })
            }
        }
        self.sender.channel.write_payload(self.pos, offset, data);
        Ok(())
    }

    /// The first byte of the message, to write through.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.sender.channel.payload_ptr(self.pos, self.len).0
    }

    /// The message as a mutable slice.
    ///
    /// # Safety
    ///
    /// No other process may touch these bytes while the slice lives. Correct
    /// peers never do (the bytes are not published yet); the promise is that
    /// every process with write access to the channel is trusted.
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        let (ptr, len) = self.sender.channel.payload_ptr(self.pos, self.len);
        // SAFETY: `ptr..ptr + len` lies inside the ring and is reserved for
        // this loan; exclusivity across processes is the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(ptr, len) }
    }

    /// Shortens the message to `len` bytes (for producers that learn the
    /// size while writing).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Publishes the message.
    #[inline]
    pub fn commit(mut self) {
        self.committed = true;
        self.sender.publish(self.pos, self.len);
    }
}

impl Drop for Loan<'_> {
    #[inline]
    fn drop(&mut self) {
        if !self.committed {
            self.sender.abandon();
        }
    }
}

/// A received message, lent in place. Dropping it releases its space.
#[derive(Debug)]
pub struct Message<'a> {
    pub(super) receiver: &'a mut Receiver,
    pub(super) record: Record,
}

impl Message<'_> {
    /// The message's length.
    pub fn len(&self) -> usize {
        self.record.len
    }

    /// Whether the message is empty.
    pub fn is_empty(&self) -> bool {
        self.record.len == 0
    }

    /// Copies bytes from `offset` into `buf`.
    #[inline]
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        match offset.checked_add(buf.len()) {
            Some(end) if end <= self.record.len => {}
            _ => {
                return Err(Error::OutOfRange {
                    name: self.receiver.name().to_owned(),
                    offset: offset as u64,
                    len: buf.len() as u64,
                    size: self.record.len as u64,
                })
            }
        }
        self.receiver
            .channel
            .read_payload(self.record.pos, offset, buf);
        Ok(())
    }

    /// The message copied into a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut buf = vec![0u8; self.record.len];
        self.receiver
            .channel
            .read_payload(self.record.pos, 0, &mut buf);
        buf
    }

    /// The first byte of the message.
    pub fn as_ptr(&self) -> *const u8 {
        self.receiver
            .channel
            .payload_ptr(self.record.pos, self.record.len)
            .0
    }

    /// The message as a slice.
    ///
    /// # Safety
    ///
    /// No process may write these bytes while the slice lives. Correct
    /// senders never do (the record stays reserved until this borrow ends);
    /// the promise is that every process with write access is trusted.
    pub unsafe fn as_slice(&self) -> &[u8] {
        let (ptr, len) = self
            .receiver
            .channel
            .payload_ptr(self.record.pos, self.record.len);
        // SAFETY: `ptr..ptr + len` lies inside the ring and stays reserved
        // for this borrow; immutability across processes is the caller's
        // promise.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

impl Drop for Message<'_> {
    #[inline]
    fn drop(&mut self) {
        self.receiver.consume(&self.record);
    }
}
