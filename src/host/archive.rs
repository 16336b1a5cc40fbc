//! The built web archive (`build/web`) held in memory: every file read once, with its content
//! type, ETag and Last-Modified made then, so a request touches neither the disk nor a hash.
//! A check at most once a [`Archive::refresh`] call (the host calls it every second) compares
//! the folder's listing (paths, sizes, modification times) and reloads it when a build changed
//! anything.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use sha2::{Digest as _, Sha256};

/// One file, ready to answer with.
pub struct File {
    body: Bytes,
    content_type: HeaderValue,
    etag: HeaderValue,
    last_modified: HeaderValue,
    /// Whole seconds, as Last-Modified says and If-Modified-Since is compared.
    modified: i64,
}

/// What a request path finds.
pub enum Lookup {
    File(Arc<File>),
    /// A folder asked for without its final `/`: where to send the browser.
    Redirect(String),
    Missing,
}

/// The listing a reload is decided on: path, size, modification time.
type Listing = Vec<(PathBuf, u64, Option<SystemTime>)>;

struct Snapshot {
    /// Relative paths with `/` (`v1n1/index.html`).
    files: HashMap<String, Arc<File>>,
    /// Relative folder paths without a final `/`.
    folders: HashSet<String>,
    listing: Listing,
}

pub struct Archive {
    root: PathBuf,
    current: RwLock<Arc<Snapshot>>,
}

impl Archive {
    /// Reads `root` (it may not exist yet: the archive is then empty until a build makes it).
    pub fn load(root: &Path) -> Archive {
        let listing = list(root);
        Archive {
            root: root.to_path_buf(),
            current: RwLock::new(Arc::new(read(root, listing))),
        }
    }

    /// Reloads the archive when its listing changed; true when it did.
    pub fn refresh(&self) -> bool {
        let listing = list(&self.root);
        if listing == self.snapshot().listing {
            return false;
        }
        let fresh = Arc::new(read(&self.root, listing));
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        true
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The file a request path names: `/` and `/v1n1/` are their `index.html`.
    pub fn lookup(&self, path: &str) -> Lookup {
        let decoded;
        let path = if path.contains('%') {
            match percent_encoding::percent_decode_str(path).decode_utf8() {
                Ok(d) => {
                    decoded = d.into_owned();
                    decoded.as_str()
                }
                Err(_) => return Lookup::Missing,
            }
        } else {
            path
        };
        let relative = path.trim_start_matches('/');
        let snapshot = self.snapshot();
        if relative.is_empty() || relative.ends_with('/') {
            let index = format!("{relative}index.html");
            return snapshot
                .files
                .get(&index)
                .map_or(Lookup::Missing, |f| Lookup::File(f.clone()));
        }
        if let Some(file) = snapshot.files.get(relative) {
            return Lookup::File(file.clone());
        }
        if snapshot.folders.contains(relative) {
            // One leading `/`: `//host/…` in a Location header would leave this site.
            return Lookup::Redirect(format!("/{relative}/"));
        }
        Lookup::Missing
    }
}

impl File {
    /// The body's length in bytes (a GET's Content-Length).
    pub fn content_length(&self) -> u64 {
        self.body.len() as u64
    }

    /// The answer to a GET or HEAD with these request headers: the file, or 304 when the
    /// client's copy is current.
    pub fn response(&self, request: &HeaderMap) -> Response<Body> {
        let fresh = match request.get(header::IF_NONE_MATCH) {
            Some(tags) => tags.to_str().is_ok_and(|tags| {
                tags.split(',')
                    .map(|t| t.trim().trim_start_matches("W/"))
                    .any(|t| t == "*" || t.as_bytes() == self.etag.as_bytes())
            }),
            None => request
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
                .is_some_and(|since| since.timestamp() >= self.modified),
        };
        let mut response = if fresh {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r
        } else {
            let mut r = Response::new(Body::from(self.body.clone()));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, self.content_type.clone());
            r
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(header::LAST_MODIFIED, self.last_modified.clone());
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}

fn list(root: &Path) -> Listing {
    let mut out = Vec::new();
    walk(root, &mut out);
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Listing) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        // Hidden files (`.git`, `.htaccess`) and our own temporary files are never served.
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.starts_with(crate::fsutil::TEMP_PREFIX) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            out.push((path.clone(), 0, None));
            walk(&path, out);
        } else if meta.is_file() {
            out.push((path, meta.len(), meta.modified().ok()));
        }
    }
}

fn read(root: &Path, listing: Listing) -> Snapshot {
    let mut files = HashMap::new();
    let mut folders = HashSet::new();
    for (path, _, modified) in &listing {
        let Some(relative) = path
            .strip_prefix(root)
            .ok()
            .and_then(|r| r.to_str())
            .map(|r| r.replace(std::path::MAIN_SEPARATOR, "/"))
        else {
            continue;
        };
        let Some(modified) = modified else {
            folders.insert(relative);
            continue;
        };
        // A file removed between the listing and now is left out; the next refresh sees it.
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        files.insert(relative, Arc::new(file(path, bytes, *modified)));
    }
    Snapshot {
        files,
        folders,
        listing,
    }
}

fn file(path: &Path, bytes: Vec<u8>, modified: SystemTime) -> File {
    let digest = Sha256::digest(&bytes);
    let etag = format!(
        "\"{}\"",
        digest[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let modified: chrono::DateTime<chrono::Utc> = modified.into();
    File {
        body: Bytes::from(bytes),
        content_type: HeaderValue::from_static(content_type(path)),
        etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
        last_modified: HeaderValue::from_str(
            &modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        )
        .unwrap_or(HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT")),
        modified: modified.timestamp(),
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("xml") => "application/atom+xml; charset=utf-8",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("avif") => "image/avif",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(archive: &Archive, path: &str, request: &HeaderMap) -> Response<Body> {
        match archive.lookup(path) {
            Lookup::File(f) => f.response(request),
            Lookup::Redirect(to) => panic!("{path} redirects to {to}"),
            Lookup::Missing => panic!("{path} missing"),
        }
    }

    #[test]
    fn serves_from_memory_revalidates_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("v1n1")).unwrap();
        std::fs::write(dir.path().join("index.html"), "<h1>all</h1>").unwrap();
        std::fs::write(dir.path().join("v1n1/index.html"), "<h1>one</h1>").unwrap();
        std::fs::write(dir.path().join("style.css"), "body{}").unwrap();
        let archive = Archive::load(dir.path());
        let none = HeaderMap::new();
        let r = get(&archive, "/", &none);
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let etag = r.headers()[header::ETAG].clone();
        let css = get(&archive, "/style.css", &none);
        assert_eq!(
            css.headers()[header::CONTENT_TYPE],
            "text/css; charset=utf-8"
        );
        assert!(matches!(archive.lookup("/v1n1"), Lookup::Redirect(to) if to == "/v1n1/"));
        assert!(matches!(archive.lookup("/v1n1/"), Lookup::File(_)));
        assert!(matches!(archive.lookup("/%761n1/"), Lookup::File(_)));
        assert!(matches!(archive.lookup("/../etc/passwd"), Lookup::Missing));
        assert!(matches!(archive.lookup("/nope"), Lookup::Missing));

        let mut conditional = HeaderMap::new();
        conditional.insert(header::IF_NONE_MATCH, etag.clone());
        assert_eq!(
            get(&archive, "/", &conditional).status(),
            StatusCode::NOT_MODIFIED
        );
        let mut since = HeaderMap::new();
        since.insert(
            header::IF_MODIFIED_SINCE,
            r.headers()[header::LAST_MODIFIED].clone(),
        );
        assert_eq!(
            get(&archive, "/", &since).status(),
            StatusCode::NOT_MODIFIED
        );

        assert!(!archive.refresh(), "nothing changed");
        std::fs::write(dir.path().join("index.html"), "<h1>all, and more</h1>").unwrap();
        assert!(archive.refresh());
        let r = get(&archive, "/", &conditional);
        assert_eq!(r.status(), StatusCode::OK, "the new page has a new ETag");
        assert_ne!(r.headers()[header::ETAG], etag);
    }
}
