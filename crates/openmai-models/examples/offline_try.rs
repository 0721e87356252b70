use openmai_models::OfflineResponder;
use openmai_models::chat::Document;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let docs: Vec<Document> = args[2..]
        .iter()
        .enumerate()
        .map(|(i, t)| Document {
            id: (i + 1).to_string(),
            title: "refund.txt".into(),
            text: t.replace("\\n", "\n"),
        })
        .collect();
    let a = OfflineResponder::default().answer(&args[1], &docs);
    println!("{a:?}");
}
