//! The fetching side of a connection to a worker, shared by workers
//! (fetching their tasks' inputs) and clients (fetching results): open it
//! with the peer hello, then read the welcome and the worker's answers.
//!
//! A result arrives as a bulk payload in one buffer of its size; the
//! answers are handed back as [`Answer`]s so the caller can act on them
//! with its own state, the connection no longer borrowed.

use std::net::SocketAddr;

use mio::{Interest, Registry, Token};
use rask_core::BulkRefused;

use super::{messages, DataKey, Inbox, PeerMsg, Welcome};
use crate::conn::Conn;

/// What a worker we fetch from answered.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A result's encoding, or why it could not be kept here.
    Data {
        key: DataKey,
        bytes: Result<Vec<u8>, BulkRefused>,
    },
    /// It does not hold `key`.
    Missing { key: DataKey },
}

/// Where and how to fetch: the worker's address as it announced it, and
/// the frame and result limits of the connection.
pub(crate) struct Target<'a> {
    pub addr: &'a str,
    pub max_frame: usize,
    pub max_result: u64,
    pub secret: Option<&'a str>,
}

/// A connection fetching from `to`, registered under the next token (which
/// it returns), its hello queued. `None`: the address does not parse or
/// the connection cannot be opened; the caller treats the worker as lost.
pub(crate) fn open(
    to: Target<'_>,
    registry: &Registry,
    next_token: &mut usize,
) -> Option<(Token, Conn)> {
    let addr: SocketAddr = to.addr.parse().ok()?;
    let token = Token(*next_token);
    *next_token += 1;
    let mut conn = Conn::connect_peer(addr, registry, token, to.max_frame, to.secret).ok()?;
    conn.inbox = Inbox::with_bulk(to.max_frame, to.max_result);
    Some((token, conn))
}

/// Bytes read from one connection in one turn of the caller's loop: a
/// large result arrives over several turns, so its heartbeats and other
/// connections do not wait for all of it.
const TURN_BYTES: usize = 64 << 20;

/// Answers taken from one connection in one turn: a merge's inputs are
/// millions of small results, and 64 MiB of them took most of a second.
const TURN_ANSWERS: usize = 1 << 13;

/// Reads what arrived on `conn` (registered under `token`): the welcome
/// (`welcomed` says whether it came before) and then answers, which go to
/// `out`. `Ok(true)`: the worker closed; `Err`: the connection is to be
/// closed for that reason.
pub(crate) fn read(
    conn: &mut Conn,
    (registry, token): (&Registry, Token),
    welcomed: &mut bool,
    out: &mut Vec<Answer>,
) -> Result<bool, String> {
    let mut budget = TURN_BYTES;
    loop {
        if budget == 0 || out.len() >= TURN_ANSWERS {
            // Bytes may be left in the socket, and no new edge may come for
            // them: registering again reports it readable on the next poll.
            registry
                .reregister(
                    &mut conn.sock,
                    token,
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|e| e.to_string())?;
            return Ok(false);
        }
        let closed = conn
            .inbox
            .fill_up_to(&mut conn.sock, &mut budget)
            .map_err(|e| e.to_string())?;
        // A payload pauses reading: once its frame is taken, read on, or
        // what else the socket holds would wait for an event that has
        // already fired.
        let again = conn.inbox.paused();
        conn.inbox
            .drain_bulk(|body, bulk| answers(body, bulk, welcomed, out))?;
        if closed || !(again || budget == 0) {
            return Ok(closed);
        }
    }
}

fn answers(
    body: &[u8],
    mut bulk: Option<Result<Vec<u8>, BulkRefused>>,
    welcomed: &mut bool,
    out: &mut Vec<Answer>,
) -> Result<(), String> {
    if !*welcomed {
        return match postcard::from_bytes::<Welcome>(body) {
            Ok(Welcome::Accepted { .. }) => {
                *welcomed = true;
                Ok(())
            }
            Ok(Welcome::Refused { reason }) => Err(format!("refused us: {reason}")),
            Err(e) => Err(format!("bad welcome: {e}")),
        };
    }
    for msg in messages::<PeerMsg>(body) {
        match msg.map_err(|e| e.to_string())? {
            PeerMsg::Data { key } => {
                let bytes = bulk.take().ok_or("a result came without its bytes")?;
                out.push(Answer::Data { key, bytes });
            }
            PeerMsg::Missing { key } => out.push(Answer::Missing { key }),
            PeerMsg::Get { .. } => return Err("a worker we fetch from asked for data".into()),
        }
    }
    Ok(())
}
