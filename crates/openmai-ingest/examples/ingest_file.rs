//! Ingests one file and prints the result (or the error) as JSON, for trying the parsers by hand:
//! `cargo run -p openmai-ingest --example ingest_file -- FILE [CHUNK_SIZE [OVERLAP]]`.

use std::path::Path;

use openmai_ingest::{IngestOptions, ingest_path};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: ingest_file FILE [CHUNK_SIZE [OVERLAP]]");
        std::process::exit(2);
    };
    let mut options = IngestOptions::default();
    if let Some(size) = args.next().and_then(|s| s.parse().ok()) {
        options.chunk_size = size;
    }
    if let Some(overlap) = args.next().and_then(|s| s.parse().ok()) {
        options.chunk_overlap = overlap;
    }
    let path = Path::new(&path);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match ingest_path(path, &name, &options) {
        Ok(parsed) => println!("{}", serde_json::to_string_pretty(&parsed).unwrap_or_default()),
        Err(e) => {
            println!("{}", serde_json::json!({ "code": e.code(), "message": e.to_string() }));
            std::process::exit(1);
        }
    }
}
