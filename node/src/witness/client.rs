//! Collecting witness cosignatures for a new checkpoint (C2SP tlog-witness,
//! the client side): each witness gets `POST /add-checkpoint` with a
//! consistency proof from the size it last cosigned, in parallel, within a
//! timeout; the cosignature lines that verify with a witness key of
//! log.json are appended to the note.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use regledger::tlog::checkpoint::open_witnessed_checkpoint;
use regledger::tlog::note::VerifierKey;
use regledger::tlog::witness::{cosignature_lines, parse_size_body, AddCheckpoint};
use regledger::HashSuite;

use crate::store::{Store, StoreError};

/// Witnesses is the node's witness configuration and what each last cosigned.
pub struct Witnesses {
    /// urls are the witnesses' base URLs.
    pub urls: Vec<String>,
    /// log_key is the log's own key (the note must stay signed by it).
    pub log_key: VerifierKey,
    /// keys are log.json's witness keys.
    pub keys: Vec<VerifierKey>,
    /// quorum is log.json's quorum.
    pub quorum: usize,
    /// timeout bounds each round of requests.
    pub timeout: Duration,
    /// wait: publish only with the quorum (else publish with what arrived).
    pub wait: bool,
    /// cosigned remembers the size each witness last cosigned (409 corrects it).
    pub cosigned: Mutex<HashMap<String, u64>>,
}

/// Outcome is what a round of witnessing produced.
pub struct Outcome {
    /// note is the checkpoint with the verified cosignatures appended.
    pub note: String,
    /// verified counts the witnesses whose cosignature verified.
    pub verified: usize,
    /// failures say, per witness, why it did not cosign.
    pub failures: Vec<String>,
}

/// MAX_ANSWER_BYTES bounds what the node reads of one witness answer.
pub const MAX_ANSWER_BYTES: usize = 64 << 10;

enum Answer {
    Cosigned(String),
    OldSize(u64),
    Failed(String),
}

fn request_body(
    store: &Store,
    suite: HashSuite,
    old: u64,
    size: u64,
    note: &str,
) -> Result<String, StoreError> {
    let mut proof = Vec::new();
    if old > 0 && old < size {
        proof = store.read()?.consistency_proof(suite, old, size)?;
    }
    let req = AddCheckpoint {
        old,
        proof,
        note: note.as_bytes().to_vec(),
    };
    Ok(String::from_utf8(req.to_body()).expect("a note and base64 lines are UTF-8"))
}

async fn ask(client: &reqwest::Client, url: &str, body: String) -> Answer {
    let r = match client
        .post(format!("{}/add-checkpoint", url.trim_end_matches('/')))
        .body(body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return Answer::Failed(format!("{url}: {e}")),
    };
    let status = r.status().as_u16();
    // A witness's answer is a few signature lines or a size: read at most
    // MAX_ANSWER_BYTES, so a hostile witness cannot make the node buffer
    // an endless body until the timeout.
    let mut r = r;
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = r.chunk().await {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Answer::Failed(format!(
                "{url}: answer larger than {MAX_ANSWER_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    match status {
        200 => Answer::Cosigned(text),
        409 => match parse_size_body(&text) {
            Some(n) => Answer::OldSize(n),
            None => Answer::Failed(format!("{url}: 409 without a size")),
        },
        s => Answer::Failed(format!("{url}: HTTP {s}: {}", text.trim())),
    }
}

/// Collected is the note with the verified cosignatures and who gave them.
struct Collected {
    note: String,
    verified: usize,
    cosigned: Vec<String>,
    failures: Vec<String>,
}

/// collect appends to `note` the cosignature lines that verify with a key of
/// `keys`. Each line is checked against the log-signed note alone, so a line
/// counts only for the witness key that made it, once per key (two URLs for
/// one witness, or a line another witness echoes, cannot fake a quorum).
fn collect(
    note: &str,
    answers: Vec<(String, Answer)>,
    log_key: &VerifierKey,
    keys: &[VerifierKey],
) -> Collected {
    let mut keys_seen: Vec<String> = Vec::new();
    let mut kept = String::new();
    let mut cosigned = Vec::new();
    let mut failures = Vec::new();
    for (url, a) in answers {
        match a {
            Answer::Cosigned(lines) => {
                let mut took = false;
                for line in cosignature_lines(&lines) {
                    let alone = format!("{note}{line}\n");
                    let Ok(v) = open_witnessed_checkpoint(alone.as_bytes(), log_key, keys, 1)
                    else {
                        continue;
                    };
                    took = true;
                    let key = v.witnesses[0].to_vkey();
                    if !keys_seen.contains(&key) {
                        keys_seen.push(key);
                        kept.push_str(line);
                        kept.push('\n');
                    }
                }
                if took {
                    cosigned.push(url);
                } else {
                    failures.push(format!("{url}: no cosignature by a witness of log.json"));
                }
            }
            Answer::OldSize(n) => failures.push(format!("{url}: still at size {n}")),
            Answer::Failed(e) => failures.push(e),
        }
    }
    let text = format!("{note}{kept}");
    let verified = open_witnessed_checkpoint(text.as_bytes(), log_key, keys, 0)
        .map(|v| v.witnesses.len())
        .unwrap_or(0);
    Collected {
        note: text,
        verified,
        cosigned,
        failures,
    }
}

impl Witnesses {
    /// restore loads the sizes each witness last cosigned (saved in META), so
    /// a restarted node asks with the right old size instead of a 409 round.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the store cannot be read.
    pub fn restore(&self, store: &Store) -> Result<(), StoreError> {
        let view = store.read()?;
        let mut m = self.cosigned.lock().expect("lock");
        for url in &self.urls {
            let n = view.cosigned_size(url)?;
            if n > 0 {
                m.insert(url.clone(), n);
            }
        }
        Ok(())
    }

    /// persist saves that `urls` cosigned `size`.
    fn persist(&self, store: &Store, urls: &[String], size: u64) -> Result<(), StoreError> {
        let tx = store.write()?;
        for url in urls {
            tx.set_cosigned_size(url, size)?;
        }
        tx.commit()
    }

    /// cosign asks every witness to cosign `note` (for tree `size`) and returns the note with what verified.
    pub fn cosign(&self, store: &Store, suite: HashSuite, size: u64, note: &str) -> Outcome {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                return Outcome {
                    note: note.to_string(),
                    verified: 0,
                    failures: vec![e.to_string()],
                }
            }
        };
        let client = match reqwest::Client::builder().timeout(self.timeout).build() {
            Ok(c) => c,
            Err(e) => {
                return Outcome {
                    note: note.to_string(),
                    verified: 0,
                    failures: vec![e.to_string()],
                }
            }
        };
        let known: HashMap<String, u64> = self.cosigned.lock().expect("lock").clone();
        let answers: Vec<(String, Answer)> = rt.block_on(async {
            let mut tasks = Vec::new();
            for url in &self.urls {
                let old = known.get(url).copied().unwrap_or(0).min(size);
                let (client, url) = (client.clone(), url.clone());
                let body = request_body(store, suite, old, size, note);
                let note = note.to_string();
                tasks.push(async move {
                    let body = match body {
                        Ok(b) => b,
                        Err(e) => return (url, Answer::Failed(e.to_string())),
                    };
                    let mut a = ask(&client, &url, body).await;
                    // The witness knows a different size (e.g. after our restart): once more from it.
                    if let Answer::OldSize(n) = a {
                        a = if n <= size {
                            match request_body(store, suite, n, size, &note) {
                                Ok(b) => ask(&client, &url, b).await,
                                Err(e) => Answer::Failed(e.to_string()),
                            }
                        } else {
                            Answer::Failed(format!(
                                "{url}: the witness has cosigned size {n}, larger than ours ({size})"
                            ))
                        };
                    }
                    (url, a)
                });
            }
            futures_util::future::join_all(tasks).await
        });
        let Collected {
            note: text,
            verified,
            cosigned: updated,
            mut failures,
        } = collect(note, answers, &self.log_key, &self.keys);
        if !updated.is_empty() {
            let mut m = self.cosigned.lock().expect("lock");
            for url in &updated {
                m.insert(url.clone(), size);
            }
            drop(m);
            if let Err(e) = self.persist(store, &updated, size) {
                failures.push(format!("cosigned sizes not saved: {e}"));
            }
        }
        Outcome {
            note: text,
            verified,
            failures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regledger::tlog::checkpoint::{sign_checkpoint, Checkpoint};
    use regledger::tlog::cosignature::cosign;
    use regledger::tlog::note::{KeyType, Signer};

    fn signer(name: &str, t: KeyType, seed: u8) -> Signer {
        Signer::generate(name, t, [seed; 32]).unwrap()
    }

    #[test]
    fn only_distinct_log_json_witnesses_count() {
        let log = signer("log.example", KeyType::Ed25519, 1);
        let w1 = signer("w1.example", KeyType::CosignatureV1, 2);
        let w2 = signer("w2.example", KeyType::CosignatureV1, 3);
        let stranger = signer("w3.example", KeyType::CosignatureV1, 4);
        let cp = Checkpoint {
            origin: "log.example/test".into(),
            size: 3,
            root: regledger::Hash([7; 32]),
            extensions: vec![],
        };
        let note = sign_checkpoint(&cp, &log).unwrap();
        let text = cp.to_text();
        let line = |w: &Signer, ts| cosign(w, &text, ts).unwrap().to_line();
        let keys = vec![w1.verifier(), w2.verifier()];
        // w1 answers at two URLs, a third URL answers with a stranger's line.
        let answers = vec![
            ("http://a".to_string(), Answer::Cosigned(line(&w1, 1))),
            ("http://b".to_string(), Answer::Cosigned(line(&w1, 2))),
            ("http://c".to_string(), Answer::Cosigned(line(&stranger, 1))),
            (
                "http://d".to_string(),
                Answer::Failed("http://d: down".into()),
            ),
        ];
        let c = collect(&note, answers, &log.verifier(), &keys);
        assert_eq!(c.verified, 1);
        assert_eq!(c.cosigned, vec!["http://a", "http://b"]);
        assert_eq!(c.failures.len(), 2, "{:?}", c.failures);
        assert!(open_witnessed_checkpoint(c.note.as_bytes(), &log.verifier(), &keys, 2).is_err());
        // With w2 as well the quorum of two is met and the note verifies.
        let answers = vec![
            ("http://a".to_string(), Answer::Cosigned(line(&w1, 1))),
            ("http://e".to_string(), Answer::Cosigned(line(&w2, 1))),
        ];
        let c = collect(&note, answers, &log.verifier(), &keys);
        assert_eq!(c.verified, 2);
        open_witnessed_checkpoint(c.note.as_bytes(), &log.verifier(), &keys, 2).unwrap();
    }
}
