//! One story over every store method, run on SQLite and (when OPENMAI_TEST_DATABASE_URL is
//! set) on a fresh PostgreSQL database, so both engines behave the same.

use openmai_store::models::{
    Chatbot, KnowledgeBaseRef, NewApiKey, NewUser, PageNumber, PageRequest, UserProfile,
};
use openmai_store::testing::TestDatabase;
use openmai_store::{Store, StoreError, StoreOptions};
use openmai_types::Timestamp;
use uuid::Uuid;

async fn open(db: &TestDatabase) -> Store {
    Store::open(&db.url, &StoreOptions::default()).await.expect("store opens")
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        name: email.split('@').next().unwrap().into(),
        password_hash: "hash".into(),
        company: String::new(),
        invitation_code: "ABC123".into(),
    }
}

fn chatbot(org: Uuid, name: &str) -> Chatbot {
    Chatbot {
        id: Uuid::nil(),
        organization_id: org,
        name: name.into(),
        large_language_model_id: Uuid::new_v4(),
        rag_id: Uuid::new_v4(),
        embedding_model_id: None,
        reranker_model_id: Some(Uuid::new_v4()),
        instructions: "Be brief.".into(),
        webhook_url: None,
        reply_mode: "normal".into(),
        template: Some("範本".into()),
        unanswerable_template: None,
        enable_chinese_conversion: true,
        output_mode: "text".into(),
        output_format: Some(serde_json::json!({"type": "object", "鍵": [1, 2]})),
        number_of_retrieved_chunks: 12,
        total_words_count: 0,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        knowledge_bases: vec![],
        webhook_secret: String::new(),
        api_web_chat_id: None,
    }
}

#[tokio::test]
async fn users_organisations_and_members_behave_the_same_on_every_engine() {
    for test_db in TestDatabase::every_engine() {
        let engine = test_db.engine();
        let store = open(&test_db).await;

        let alice = store.write(|db| db.insert_user(&new_user("Alice@Example.com"))).await.unwrap();
        assert_eq!(alice.email, "alice@example.com", "{engine}: emails are stored lower-case");
        let duplicate = store.write(|db| db.insert_user(&new_user("ALICE@example.com"))).await;
        assert!(
            matches!(&duplicate, Err(e) if e.is_conflict_on("email")),
            "{engine}: duplicate email is a conflict, got {duplicate:?}"
        );
        let found = store.read(|db| db.find_user_by_email("alice@EXAMPLE.com")).await.unwrap();
        assert_eq!(found.as_ref().map(|u| u.id), Some(alice.id), "{engine}");

        let bob = store.write(|db| db.insert_user(&new_user("bob@example.com"))).await.unwrap();
        let (alice_id, bob_id) = (alice.id, bob.id);
        let acme = store.write(move |db| db.insert_organization("Acme", alice_id)).await.unwrap();
        let other = store.write(move |db| db.insert_organization("Other", bob_id)).await.unwrap();
        assert_eq!(acme.owner_name, "Alice", "{engine}");

        let acme_id = acme.id;
        let member = store.write(move |db| db.insert_membership(acme_id, bob_id)).await.unwrap();
        assert!(!member.is_owner, "{engine}");
        let again = store.write(move |db| db.insert_membership(acme_id, bob_id)).await;
        assert!(matches!(again, Err(StoreError::Conflict { .. })), "{engine}: {again:?}");

        let members =
            store.read(move |db| db.list_members(acme_id, PageRequest::first(10))).await.unwrap();
        assert_eq!(members.count, 2, "{engine}");
        assert!(members.items[0].is_owner && members.items[0].user_id == alice_id, "{engine}");

        // Tenant scoping: Alice does not see Bob's own organisation.
        let other_id = other.id;
        let hidden = store.read(move |db| db.find_organization_for_user(other_id, alice_id)).await;
        assert_eq!(hidden.unwrap(), None, "{engine}");
        let hers = store
            .read(move |db| db.list_organizations_for_user(alice_id, PageRequest::first(10)))
            .await
            .unwrap();
        assert_eq!(hers.items.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["Acme"]);

        let profile = UserProfile {
            name: "Alice A.".into(),
            email: "alice@new.example".into(),
            avatar: Some("https://example.com/a.png".into()),
            company: "Acme".into(),
            invitation_code: "XYZ".into(),
        };
        let updated =
            store.write(move |db| db.update_user_profile(alice_id, &profile)).await.unwrap();
        assert_eq!(updated.name, "Alice A.", "{engine}");
        let taken = UserProfile { email: "BOB@example.com".into(), ..profile_of(&updated) };
        let clash = store.write(move |db| db.update_user_profile(alice_id, &taken)).await;
        assert!(matches!(&clash, Err(e) if e.is_conflict_on("email")), "{engine}: {clash:?}");

        let users = store
            .read(move |db| db.list_users_in_organization(acme_id, PageRequest::first(1)))
            .await
            .unwrap();
        assert_eq!((users.count, users.items.len(), users.has_next()), (2, 1, true), "{engine}");
        let outsider = store.read(move |db| db.find_user_in_organization(other_id, alice_id)).await;
        assert_eq!(outsider.unwrap(), None, "{engine}");

        // Removing Bob from Acme revokes his Acme keys.
        let key = NewApiKey {
            organization_id: acme_id,
            user_id: bob_id,
            name: "ci".into(),
            prefix: "abcd1234".into(),
            key_hash: vec![7; 32],
        };
        store.write(move |db| db.insert_api_key(&key)).await.unwrap();
        assert!(store.read(|db| db.find_api_key_owner(&[7; 32])).await.unwrap().is_some());
        let member_id = member.id;
        store.write(move |db| db.delete_membership(acme_id, member_id)).await.unwrap();
        assert_eq!(
            store.read(|db| db.find_api_key_owner(&[7; 32])).await.unwrap(),
            None,
            "{engine}"
        );
        let gone = store.write(move |db| db.delete_membership(acme_id, member_id)).await;
        assert!(matches!(gone, Err(StoreError::NotFound)), "{engine}");
    }
}

fn profile_of(user: &openmai_store::models::User) -> UserProfile {
    UserProfile {
        name: user.name.clone(),
        email: user.email.clone(),
        avatar: user.avatar.clone(),
        company: user.company.clone(),
        invitation_code: user.invitation_code.clone(),
    }
}

#[tokio::test]
async fn api_keys_sessions_tokens_and_settings() {
    for test_db in TestDatabase::every_engine() {
        let engine = test_db.engine();
        let store = open(&test_db).await;
        let user = store.write(|db| db.insert_user(&new_user("k@example.com"))).await.unwrap();
        let user_id = user.id;
        let org = store.write(move |db| db.insert_organization("Keys", user_id)).await.unwrap();
        let org_id = org.id;

        let key = store
            .write(move |db| {
                db.insert_api_key(&NewApiKey {
                    organization_id: org_id,
                    user_id,
                    name: "deploy".into(),
                    prefix: "Ab12Cd34".into(),
                    key_hash: b"0123456789abcdef0123456789abcdef".to_vec(),
                })
            })
            .await
            .unwrap();
        let owner = store
            .read(|db| db.find_api_key_owner(b"0123456789abcdef0123456789abcdef"))
            .await
            .unwrap()
            .expect("live key resolves");
        assert_eq!((owner.user_id, owner.organization_id), (user_id, org_id), "{engine}");
        assert_eq!(owner.last_used_at, None);

        let key_id = key.id;
        store
            .write(move |db| db.touch_api_key(key_id, Timestamp(1_700_000_000_000)))
            .await
            .unwrap();
        let listed = store.read(move |db| db.list_api_keys(org_id, user_id)).await.unwrap();
        assert_eq!(listed[0].last_used_at, Some(Timestamp(1_700_000_000_000)), "{engine}");

        let stranger = Uuid::new_v4();
        assert!(!store.write(move |db| db.revoke_api_key(org_id, stranger, key_id)).await.unwrap());
        assert!(store.write(move |db| db.revoke_api_key(org_id, user_id, key_id)).await.unwrap());
        assert!(!store.write(move |db| db.revoke_api_key(org_id, user_id, key_id)).await.unwrap());
        assert!(store.read(move |db| db.list_api_keys(org_id, user_id)).await.unwrap().is_empty());
        let revoked = store.read(|db| db.find_api_key_owner(b"0123456789abcdef0123456789abcdef"));
        assert_eq!(revoked.await.unwrap(), None, "{engine}: a revoked key resolves to nothing");

        let now = Timestamp::now();
        let session = store
            .write(move |db| {
                db.insert_session(b"session-hash", user_id, None, "csrf", now.plus_seconds(60))
            })
            .await
            .unwrap();
        let found = store.read(move |db| db.find_session(b"session-hash", now)).await.unwrap();
        assert_eq!(found.as_ref().map(|s| s.organization_id), Some(None), "{engine}");
        let session_id = session.id;
        store.write(move |db| db.set_session_organization(session_id, org_id)).await.unwrap();
        let found = store.read(move |db| db.find_session(b"session-hash", now)).await.unwrap();
        assert_eq!(found.unwrap().organization_id, Some(org_id), "{engine}");
        let later = now.plus_seconds(120);
        assert_eq!(
            store.read(move |db| db.find_session(b"session-hash", later)).await.unwrap(),
            None
        );
        assert_eq!(store.write(move |db| db.delete_expired_credentials(later)).await.unwrap(), 1);

        store.write(move |db| db.revoke_token("jti-1", later)).await.unwrap();
        store.write(move |db| db.revoke_token("jti-1", later)).await.unwrap();
        assert!(store.read(|db| db.is_token_revoked("jti-1")).await.unwrap(), "{engine}");
        assert!(!store.read(|db| db.is_token_revoked("jti-2")).await.unwrap(), "{engine}");

        let first = store.write(|db| db.insert_setting_if_absent("secret", "one")).await.unwrap();
        let second = store.write(|db| db.insert_setting_if_absent("secret", "two")).await.unwrap();
        assert_eq!((first.as_str(), second.as_str()), ("one", "one"), "{engine}");
        assert_eq!(store.read(|db| db.find_setting("missing")).await.unwrap(), None);

        let permissions =
            store.read(|db| db.list_permissions(PageRequest::first(100))).await.unwrap();
        assert_eq!(permissions.count, 8, "{engine}");
        assert!(permissions.items.iter().any(|p| p.name == "chatbot.manage"), "{engine}");
    }
}

#[tokio::test]
async fn chatbots_pagination_links_and_isolation() {
    for test_db in TestDatabase::every_engine() {
        let engine = test_db.engine();
        let store = open(&test_db).await;
        let user = store.write(|db| db.insert_user(&new_user("c@example.com"))).await.unwrap();
        let user_id = user.id;
        let org = store.write(move |db| db.insert_organization("Bots", user_id)).await.unwrap().id;
        let rival =
            store.write(move |db| db.insert_organization("Rival", user_id)).await.unwrap().id;

        let kb_b =
            store.write(move |db| db.insert_knowledge_base(org, "B 手冊", None)).await.unwrap();
        let kb_a =
            store.write(move |db| db.insert_knowledge_base(org, "A FAQ", Some("d"))).await.unwrap();
        let foreign =
            store.write(move |db| db.insert_knowledge_base(rival, "theirs", None)).await.unwrap();

        let mut draft = chatbot(org, "客服助理");
        draft.knowledge_bases = vec![kb_b.clone(), kb_a.clone(), foreign.clone()];
        let created = store.write(move |db| db.insert_chatbot(&draft)).await.unwrap();
        assert_ne!(created.id, Uuid::nil());
        assert_eq!(created.name, "客服助理", "{engine}");
        assert_eq!(
            created.output_format,
            Some(serde_json::json!({"type": "object", "鍵": [1, 2]}))
        );
        assert!(created.enable_chinese_conversion && created.created_at.millis() > 0, "{engine}");
        assert_eq!(
            created.knowledge_bases,
            vec![kb_a.clone(), kb_b.clone()],
            "{engine}: links are ordered by name and another tenant's base is never linked"
        );

        let ids = [kb_a.id, foreign.id, Uuid::new_v4()];
        let visible = store.read(move |db| db.find_knowledge_bases(org, &ids)).await.unwrap();
        assert_eq!(visible, vec![kb_a.clone()], "{engine}");

        for i in 0..24 {
            store
                .write(move |db| db.insert_chatbot(&chatbot(org, &format!("bot {i:02}"))))
                .await
                .unwrap();
        }
        let first =
            store.read(move |db| db.list_chatbots(org, PageRequest::first(10))).await.unwrap();
        assert_eq!((first.count, first.number, first.items.len()), (25, 1, 10), "{engine}");
        assert_eq!(first.items[0].name, "bot 23", "{engine}: newest first");
        let last = PageRequest { number: PageNumber::Last, size: 10 };
        let last = store.read(move |db| db.list_chatbots(org, last)).await.unwrap();
        assert_eq!((last.number, last.items.len(), last.has_next()), (3, 5, false), "{engine}");
        assert_eq!(last.items[4].name, "客服助理", "{engine}");
        assert_eq!(last.items[4].knowledge_bases.len(), 2, "{engine}: links come with the list");
        let beyond = PageRequest { number: PageNumber::Number(4), size: 10 };
        let beyond = store.read(move |db| db.list_chatbots(org, beyond)).await;
        assert!(matches!(beyond, Err(StoreError::InvalidPage)), "{engine}");
        let zero = PageRequest { number: PageNumber::Number(0), size: 10 };
        assert!(matches!(
            store.read(move |db| db.list_chatbots(org, zero)).await,
            Err(StoreError::InvalidPage)
        ));
        let empty =
            store.read(move |db| db.list_chatbots(rival, PageRequest::first(10))).await.unwrap();
        assert_eq!((empty.count, empty.items.len()), (0, 0), "{engine}: page 1 of nothing is fine");

        let id = created.id;
        let hidden = store.read(move |db| db.get_chatbot(rival, id)).await;
        assert!(matches!(hidden, Err(StoreError::NotFound)), "{engine}: other tenants get 404");

        let mut edited = created.clone();
        edited.name = "改名".into();
        edited.webhook_url = Some("https://hooks.example.com/x".into());
        edited.output_format = None;
        edited.knowledge_bases = vec![KnowledgeBaseRef { id: kb_b.id, name: String::new() }];
        let saved = store
            .write(move |db| {
                db.transaction(|db| {
                    let _locked = db.get_chatbot_for_update(org, id)?;
                    db.update_chatbot(&edited)
                })
            })
            .await
            .unwrap();
        assert_eq!(saved.name, "改名");
        assert_eq!(saved.created_at, created.created_at, "{engine}");
        assert!(saved.updated_at >= created.updated_at);
        assert_eq!(saved.output_format, None, "{engine}");
        assert_eq!(saved.knowledge_bases, vec![kb_b.clone()], "{engine}");

        let mut stolen = saved.clone();
        stolen.organization_id = rival;
        let refused = store.write(move |db| db.update_chatbot(&stolen)).await;
        assert!(matches!(refused, Err(StoreError::NotFound)), "{engine}: {refused:?}");

        assert!(matches!(
            store.write(move |db| db.delete_chatbot(rival, id)).await,
            Err(StoreError::NotFound)
        ));
        store.write(move |db| db.delete_chatbot(org, id)).await.unwrap();
        assert!(matches!(
            store.read(move |db| db.get_chatbot(org, id)).await,
            Err(StoreError::NotFound)
        ));
    }
}

#[tokio::test]
async fn a_failed_transaction_leaves_nothing_behind() {
    for test_db in TestDatabase::every_engine() {
        let engine = test_db.engine();
        let store = open(&test_db).await;
        let result = store
            .write(|db| {
                db.transaction(|db| {
                    db.insert_user(&new_user("ghost@example.com"))?;
                    db.insert_user(&new_user("ghost@example.com"))
                })
            })
            .await;
        assert!(matches!(result, Err(StoreError::Conflict { .. })), "{engine}");
        assert_eq!(store.read(|db| db.count_users()).await.unwrap(), 0, "{engine}: rolled back");

        let panicked = store
            .write(|db| -> openmai_store::Result<()> {
                db.transaction(|db| {
                    db.insert_user(&new_user("panic@example.com"))?;
                    panic!("boom");
                })
            })
            .await;
        assert!(matches!(panicked, Err(StoreError::Backend(_))), "{engine}: a panic is an error");
        // The poisoned connection was discarded, so the next write starts clean.
        store.write(|db| db.insert_user(&new_user("after@example.com"))).await.unwrap();
        assert_eq!(store.read(|db| db.count_users()).await.unwrap(), 1, "{engine}");
    }
}

#[tokio::test]
async fn sqlite_readers_refuse_writes() {
    let test_db = TestDatabase::sqlite();
    let store = open(&test_db).await;
    let refused = store.read(|db| db.insert_user(&new_user("r@example.com"))).await;
    assert!(refused.is_err(), "a read connection must not write: {refused:?}");
}

#[test]
fn database_urls_are_parsed_strictly_and_printed_without_passwords() {
    use openmai_store::DatabaseUrl;
    assert_eq!(
        DatabaseUrl::parse("sqlite://data/openmai.db").unwrap(),
        DatabaseUrl::sqlite("data/openmai.db")
    );
    assert_eq!(DatabaseUrl::parse("sqlite:/tmp/x.db").unwrap(), DatabaseUrl::sqlite("/tmp/x.db"));
    assert!(DatabaseUrl::parse("sqlite://").is_err());
    assert!(DatabaseUrl::parse("mysql://localhost/x").is_err());
    assert!(DatabaseUrl::parse("data/openmai.db").is_err());
    let pg = DatabaseUrl::parse("postgres://app:s3cret@db.internal:5432/openmai").unwrap();
    assert!(!pg.to_string().contains("s3cret"), "{pg}");
}

#[tokio::test]
async fn a_panicking_read_is_an_error_and_its_connection_is_not_reused() {
    for test_db in TestDatabase::every_engine() {
        let engine = test_db.engine();
        // One connection, so the next read would get the poisoned one if it were kept.
        let options = StoreOptions { max_connections: 1, ..StoreOptions::default() };
        let store = Store::open(&test_db.url, &options).await.unwrap();
        let panicked = store
            .read(|db| -> openmai_store::Result<()> {
                db.count_users()?;
                panic!("boom");
            })
            .await;
        assert!(matches!(panicked, Err(StoreError::Backend(_))), "{engine}: {panicked:?}");
        for _ in 0..3 {
            assert_eq!(store.read(|db| db.count_users()).await.unwrap(), 0, "{engine}");
        }
        store.write(|db| db.insert_user(&new_user("w@example.com"))).await.unwrap();
        assert_eq!(
            store.read(|db| db.count_users()).await.unwrap(),
            1,
            "{engine}: a fresh snapshot"
        );
    }
}

mod knowledge {
    use openmai_store::models::{
        Faq, FileContent, FileStatus, KnowledgeBase, LabelRef, NewChunk, NewJob, NewKbFile,
        PageRequest,
    };
    use openmai_store::testing::TestDatabase;
    use openmai_store::{Store, StoreError};
    use openmai_types::Timestamp;
    use uuid::Uuid;

    use super::{chatbot, new_user, open};

    async fn tenant(store: &Store, email: &str) -> Uuid {
        let user = store.write({
            let email = email.to_owned();
            move |db| db.insert_user(&new_user(&email))
        });
        let user_id = user.await.unwrap().id;
        store.write(move |db| db.insert_organization("Org", user_id)).await.unwrap().id
    }

    fn new_file(kb: Uuid, name: &str) -> NewKbFile {
        NewKbFile {
            knowledge_base_id: kb,
            filename: name.into(),
            storage_key: format!("uploads/x/{name}"),
            file_type: "pdf".into(),
            size: 1234,
            parser_id: None,
        }
    }

    #[tokio::test]
    async fn knowledge_bases_link_both_ways_and_stay_in_their_organisation() {
        for test_db in TestDatabase::every_engine() {
            let engine = test_db.engine();
            let store = open(&test_db).await;
            let org = tenant(&store, "kb@example.com").await;
            let other = tenant(&store, "other@example.com").await;
            let bot =
                store.write(move |db| db.insert_chatbot(&chatbot(org, "客服"))).await.unwrap();
            let foreign_bot =
                store.write(move |db| db.insert_chatbot(&chatbot(other, "theirs"))).await.unwrap();

            let mut draft = KnowledgeBase::draft(org, "產品手冊", Some("FAQ and manuals"));
            draft.similarity_cutoff = 0.25;
            draft.chunk_size = 500;
            let ids = [bot.id, foreign_bot.id];
            let kb = store.write(move |db| db.insert_kb(&draft, &ids)).await.unwrap();
            assert_eq!(kb.name, "產品手冊", "{engine}");
            assert!((kb.similarity_cutoff - 0.25).abs() < 1e-9, "{engine}");
            assert_eq!(
                (kb.chunk_size, kb.number_of_retrieved_chunks, kb.files_count),
                (500, 12, 0)
            );
            assert_eq!(
                kb.chatbots.len(),
                1,
                "{engine}: another tenant's assistant is never linked"
            );

            let bot_id = bot.id;
            let seen_from_bot = store.read(move |db| db.get_chatbot(org, bot_id)).await.unwrap();
            assert_eq!(seen_from_bot.knowledge_bases[0].id, kb.id, "{engine}: linked both ways");
            let linked = store.read(move |db| db.kbs_of_chatbot(org, bot_id)).await.unwrap();
            assert_eq!(linked.len(), 1);

            let kb_id = kb.id;
            assert!(matches!(
                store.read(move |db| db.get_kb(other, kb_id)).await,
                Err(StoreError::NotFound)
            ));
            let listed =
                store.read(move |db| db.list_kbs(other, PageRequest::first(10))).await.unwrap();
            assert_eq!(listed.count, 0, "{engine}");

            let mut edited = kb.clone();
            edited.name = "手冊".into();
            edited.enable_rerank = false;
            let unlinked: [Uuid; 0] = [];
            let saved =
                store.write(move |db| db.update_kb(&edited, Some(&unlinked))).await.unwrap();
            assert_eq!(
                (saved.name.as_str(), saved.enable_rerank, saved.chatbots.len()),
                ("手冊", false, 0)
            );

            let label = store.write(move |db| db.insert_label(org, kb_id, "VIP")).await.unwrap();
            let clash = store.write(move |db| db.insert_label(org, kb_id, "VIP")).await;
            assert!(matches!(clash, Err(StoreError::Conflict { .. })), "{engine}: {clash:?}");
            let label_id = label.id;
            let renamed =
                store.write(move |db| db.rename_label(org, kb_id, label_id, "貴賓")).await.unwrap();
            assert_eq!(renamed.name, "貴賓");

            let files = store
                .write(move |db| {
                    db.insert_files(org, &[new_file(kb_id, "a.pdf"), new_file(kb_id, "b.pdf")])
                })
                .await
                .unwrap();
            assert_eq!(
                files.iter().map(|f| f.status).collect::<Vec<_>>(),
                [FileStatus::Initial; 2]
            );
            let file = files[0].id;
            let bogus = Uuid::new_v4();
            let meta = serde_json::json!({"department": "sales", "nested": {"snake_key": 1}});
            let updated = store
                .write(move |db| {
                    db.update_file_metadata(org, file, Some(&[label_id, bogus]), Some(&meta))
                })
                .await
                .unwrap();
            assert_eq!(
                updated.labels,
                vec![LabelRef { id: label_id, name: "貴賓".into() }],
                "{engine}"
            );
            assert_eq!(updated.raw_user_define_metadata.unwrap()["nested"]["snake_key"], 1);

            let chunks = vec![
                NewChunk {
                    ordinal: 0,
                    content: "第一段".into(),
                    source_start: None,
                    page_number: Some(1),
                    heading: Some("一".into()),
                    embedding: Some(vec![0.5, -0.25, 1.0]),
                },
                NewChunk {
                    ordinal: 1,
                    content: "second".into(),
                    source_start: None,
                    page_number: Some(2),
                    heading: None,
                    embedding: None,
                },
            ];
            let stored = store
                .write(move |db| {
                    db.store_parsed_file(file, "第一段\n\nsecond", Some("UTF-8"), Some(2), &chunks)
                })
                .await
                .unwrap()
                .expect("the file exists");
            assert_eq!(stored.len(), 2, "{engine}");
            assert_eq!(stored[0].embedding.as_deref(), Some(&[0.5, -0.25, 1.0][..]), "{engine}");
            assert_eq!(stored[1].filename, "a.pdf");
            let after = store.read(move |db| db.get_file(org, file)).await.unwrap();
            // Searchable only once indexed: the worker marks it done after that.
            assert_eq!(
                (after.status, after.chunks_count, after.pages),
                (FileStatus::Processing, 2, Some(2))
            );
            let content = store.read(move |db| db.get_file_content(org, file)).await.unwrap();
            assert_eq!(content.encoding.as_deref(), Some("UTF-8"));
            let edited = store
                .write(move |db| db.set_modified_content(org, file, Some("改過")))
                .await
                .unwrap();
            assert_eq!(edited.modified_content.as_deref(), Some("改過"));

            let kbs = [kb_id];
            let page = store
                .read(move |db| db.list_chunks(org, &kbs, Some(file), PageRequest::first(1)))
                .await
                .unwrap();
            assert_eq!((page.count, page.items[0].ordinal), (2, 0), "{engine}");
            let chunk_id = page.items[0].id;
            store
                .write(move |db| {
                    db.update_chunk(
                        org,
                        chunk_id,
                        Some("新內容"),
                        Some(&serde_json::json!({"k": "v"})),
                        None,
                    )
                })
                .await
                .unwrap();
            let changed = store.read(move |db| db.get_chunk(org, &kbs, chunk_id)).await.unwrap();
            assert_eq!((changed.content.as_str(), changed.embedding.is_none()), ("新內容", true));
            assert!(matches!(
                store.read(move |db| db.get_chunk(other, &kbs, chunk_id)).await,
                Err(StoreError::NotFound)
            ));
            store.write(move |db| db.delete_chunk(org, chunk_id)).await.unwrap();
            assert_eq!(store.read(move |db| db.get_file(org, file)).await.unwrap().chunks_count, 1);

            let faq = Faq {
                id: Uuid::nil(),
                organization_id: org,
                knowledge_base_id: kb_id,
                question: "如何退票？".into(),
                answer: "請至櫃台辦理。".into(),
                raw_user_define_metadata: None,
                hits_count: 0,
                created_at: Timestamp(0),
                updated_at: Timestamp(0),
                labels: vec![
                    LabelRef { id: label_id, name: String::new() },
                    LabelRef { id: bogus, name: String::new() },
                ],
            };
            let faq = store.write(move |db| db.insert_faq(&faq)).await.unwrap();
            assert_eq!(
                faq.labels.len(),
                1,
                "{engine}: a label that does not exist is simply not kept"
            );
            let faqs = store
                .read(move |db| db.list_faqs(org, &kbs, PageRequest::first(10)))
                .await
                .unwrap();
            assert_eq!(faqs.count, 1);
            assert_eq!(
                store.write(move |db| db.delete_faqs(org, kb_id, &[])).await.unwrap().len(),
                1,
                "{engine}: [] deletes all"
            );

            let deleted =
                store.write(move |db| db.delete_files(org, &kbs, &[file, bogus])).await.unwrap();
            assert_eq!(deleted.len(), 1, "{engine}");
            let gone = store
                .write(move |db| db.store_parsed_file(file, "late", None, None, &[]))
                .await
                .unwrap();
            assert_eq!(gone, None, "{engine}: a worker finishing after a delete writes nothing");

            let keys = store.write(move |db| db.delete_kb(org, kb_id)).await.unwrap();
            assert_eq!(keys, vec!["uploads/x/b.pdf".to_owned()], "{engine}");
            assert!(matches!(
                store.read(move |db| db.get_label(org, kb_id, label_id)).await,
                Err(StoreError::NotFound)
            ));
        }
    }

    /// Chunks of `text` at byte ranges (`None`: a chunk of its own text), numbered in order.
    fn slices(text: &str, ranges: &[Option<(usize, usize)>]) -> Vec<NewChunk> {
        ranges
            .iter()
            .enumerate()
            .map(|(ordinal, range)| NewChunk {
                ordinal: ordinal as i64,
                content: range.map_or_else(|| "| 欄 |\n| 值 |".into(), |(s, e)| text[s..e].into()),
                source_start: range.map(|(s, _)| s as u64),
                page_number: None,
                heading: None,
                embedding: None,
            })
            .collect()
    }

    /// A new organisation and a knowledge base of its own.
    async fn tenant_with_kb(store: &Store, email: &str) -> (Uuid, Uuid) {
        let org = tenant(store, email).await;
        let draft = KnowledgeBase::draft(org, "手冊", None);
        (org, store.write(move |db| db.insert_kb(&draft, &[])).await.unwrap().id)
    }

    async fn file_text(store: &Store, org: Uuid, file: Uuid) -> FileContent {
        store.read(move |db| db.get_file_content(org, file)).await.unwrap()
    }

    /// Listed files and FAQs carry their own labels, in name order (read for a whole page at
    /// once).
    #[tokio::test]
    async fn listed_files_and_faqs_carry_their_own_labels() {
        for test_db in TestDatabase::every_engine() {
            let engine = test_db.engine();
            let store = open(&test_db).await;
            let (org, kb) = tenant_with_kb(&store, "labels@example.com").await;
            let mut labels = Vec::new();
            // ASCII names: one order under any collation.
            for name in ["beta", "alpha", "gamma"] {
                let label = store.write(move |db| db.insert_label(org, kb, name)).await.unwrap();
                labels.push(LabelRef { id: label.id, name: label.name });
            }
            let (beta, alpha, gamma) = (labels[0].clone(), labels[1].clone(), labels[2].clone());
            let files = store
                .write(move |db| {
                    db.insert_files(
                        org,
                        &[new_file(kb, "x.pdf"), new_file(kb, "y.pdf"), new_file(kb, "z.pdf")],
                    )
                })
                .await
                .unwrap();
            let (x, z) = (files[0].id, files[2].id);
            let (two, one) = ([beta.id, alpha.id], [gamma.id]);
            store
                .write(move |db| {
                    db.update_file_metadata(org, x, Some(&two), None)?;
                    db.update_file_metadata(org, z, Some(&one), None)
                })
                .await
                .unwrap();
            let kbs = [kb];
            let page = store
                .read(move |db| db.list_files(org, &kbs, PageRequest::first(10)))
                .await
                .unwrap();
            let names =
                |labels: &[LabelRef]| labels.iter().map(|l| l.name.clone()).collect::<Vec<_>>();
            let listed: Vec<(String, Vec<String>)> =
                page.items.iter().map(|f| (f.filename.clone(), names(&f.labels))).collect();
            let mut listed = listed;
            listed.sort();
            assert_eq!(
                listed,
                [
                    ("x.pdf".to_owned(), names(&[alpha.clone(), beta.clone()])),
                    ("y.pdf".to_owned(), vec![]),
                    ("z.pdf".to_owned(), names(std::slice::from_ref(&gamma))),
                ],
                "{engine}"
            );

            for (question, labels) in
                [("有標籤", vec![beta.clone(), alpha.clone()]), ("沒有", vec![])]
            {
                let faq = Faq {
                    id: Uuid::nil(),
                    organization_id: org,
                    knowledge_base_id: kb,
                    question: question.into(),
                    answer: "答".into(),
                    raw_user_define_metadata: None,
                    hits_count: 0,
                    created_at: Timestamp(0),
                    updated_at: Timestamp(0),
                    labels,
                };
                store.write(move |db| db.insert_faq(&faq)).await.unwrap();
            }
            let expect = |faqs: &[Faq]| {
                let mut got: Vec<(String, Vec<String>)> =
                    faqs.iter().map(|f| (f.question.clone(), names(&f.labels))).collect();
                got.sort();
                assert_eq!(
                    got,
                    [
                        ("有標籤".to_owned(), names(&[alpha.clone(), beta.clone()])),
                        ("沒有".to_owned(), vec![])
                    ],
                    "{engine}"
                );
            };
            let listed = store
                .read(move |db| db.list_faqs(org, &kbs, PageRequest::first(10)))
                .await
                .unwrap();
            expect(&listed.items);
            let all = store.read(move |db| db.all_faqs(org, kb)).await.unwrap();
            expect(&all);
            let ids: Vec<Uuid> = all.iter().map(|f| f.id).collect();
            expect(&store.read(move |db| db.faqs_by_ids(org, &ids)).await.unwrap());
        }
    }

    /// How many bytes of the file's text are stored, and whether with a layout.
    async fn text_as_stored(store: &Store, file: Uuid) -> (i64, bool) {
        store
            .read(move |db| {
                let mut row = db.query_one(
                    "SELECT LENGTH(content), layout IS NOT NULL FROM kb_file_contents WHERE file_id = $1",
                    openmai_store::params![file],
                )?;
                Ok((row.i64(0)?, row.bool(1)?))
            })
            .await
            .unwrap()
    }

    /// A file's text is stored without what its chunks hold (`text_layout`), and reads back
    /// whole however its chunks change afterwards.
    #[tokio::test]
    async fn a_files_text_reads_back_whole_whatever_happens_to_its_chunks() {
        for test_db in TestDatabase::every_engine() {
            let engine = test_db.engine();
            let store = open(&test_db).await;
            let (org, kb) = tenant_with_kb(&store, "text@example.com").await;
            let file =
                store.write(move |db| db.insert_files(org, &[new_file(kb, "a.md")])).await.unwrap()
                    [0]
                .id;
            let text: String = std::iter::once("# 退票規定\n\n".to_owned())
                .chain((0..60).map(|i| format!("第{i}條：出發前退票者，扣手續費。Refund {i}.\n\n")))
                .collect();
            let b = |n: usize| (n..).find(|&i| text.is_char_boundary(i)).unwrap();
            let (third, len) = (text.len() / 3, text.len());
            // The heading and a separator left out, an overlap, a table chunk of its own.
            let ranges = [
                Some((b(16), b(third))),
                Some((b(third - 100), b(2 * third))),
                Some((b(2 * third + 10), len - 2)),
                None,
            ];
            let chunks = slices(&text, &ranges);
            let stored_text = text.clone();
            let stored = store
                .write(move |db| db.store_parsed_file(file, &stored_text, None, None, &chunks))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(file_text(&store, org, file).await.content, text, "{engine}");
            // Only what no chunk holds is stored: the heading, a separator, the last two bytes.
            let gaps = [&text[..b(16)], &text[b(2 * third)..b(2 * third + 10)], &text[len - 2..]];
            let gap_chars = gaps.concat().chars().count() as i64;
            assert_eq!(text_as_stored(&store, file).await, (gap_chars, true), "{engine}");

            // Editing one chunk and deleting another leave the text as it was parsed.
            let (edited, deleted) = (stored[0].id, stored[2].id);
            store
                .write(move |db| db.update_chunk(org, edited, Some("改過的段落"), None, None))
                .await
                .unwrap();
            store.write(move |db| db.delete_chunk(org, deleted)).await.unwrap();
            assert_eq!(file_text(&store, org, file).await.content, text, "{engine}");
            let chars = i64::try_from(text.chars().count()).unwrap();
            assert_eq!(text_as_stored(&store, file).await, (chars, false), "{engine}");

            // Parsed again: the new text, kept without its chunks' copy once more; then an
            // edited text re-chunked leaves it whole too.
            let again = text.replace("退票", "換票");
            let (chunks, stored_again) = (slices(&again, &ranges), again.clone());
            let stored = store
                .write(move |db| db.store_parsed_file(file, &stored_again, None, None, &chunks))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(stored.len(), 4, "{engine}");
            assert_eq!(file_text(&store, org, file).await.content, again, "{engine}");
            let rechunked = store
                .write(move |db| {
                    db.set_modified_content(org, file, Some("新的全文"))?;
                    let file = db.get_file(org, file)?;
                    db.replace_chunks(&file, &slices("新的全文", &[Some((0, 12))]))
                })
                .await
                .unwrap();
            assert_eq!(rechunked.len(), 1);
            let content = file_text(&store, org, file).await;
            assert_eq!(
                (content.content.as_str(), content.modified_content.as_deref()),
                (again.as_str(), Some("新的全文")),
                "{engine}"
            );
        }
    }

    #[tokio::test]
    async fn jobs_are_claimed_once_retried_and_recovered_after_a_crash() {
        for test_db in TestDatabase::every_engine() {
            let engine = test_db.engine();
            let store = open(&test_db).await;
            let subject = Uuid::new_v4();
            let job = NewJob {
                kind: "ingest".into(),
                organization_id: None,
                subject_id: Some(subject),
                payload: serde_json::json!({"file": subject}),
                max_attempts: 3,
            };
            let queued = store.write(move |db| db.enqueue_job(&job)).await.unwrap();
            let now = Timestamp::now();
            assert_eq!(
                store.read(|db| db.next_job_due(&["ingest"])).await.unwrap(),
                Some(queued.run_after)
            );
            // Workers of other kinds neither see nor take it.
            assert_eq!(store.read(|db| db.next_job_due(&["webhook"])).await.unwrap(), None);
            let other =
                store.write(move |db| db.claim_job("w", now, 60_000, &["webhook", "reply"])).await;
            assert_eq!(other.unwrap(), None, "{engine}");

            // Many claimers at once: exactly one gets it.
            let mut claims = Vec::new();
            for i in 0..8 {
                let store = store.clone();
                claims.push(tokio::spawn(async move {
                    store
                        .write(move |db| db.claim_job(&format!("w{i}"), now, 60_000, &["ingest"]))
                        .await
                        .unwrap()
                }));
            }
            let mut won = Vec::new();
            for claim in claims {
                if let Some(job) = claim.await.unwrap() {
                    won.push(job);
                }
            }
            assert_eq!(won.len(), 1, "{engine}");
            let mine = won.pop().unwrap();
            let worker = mine.locked_by.clone().unwrap();
            assert_eq!(
                (mine.attempts, mine.payload["file"].as_str().map(str::to_owned)),
                (1, Some(subject.to_string()))
            );

            // A retry puts it back for later.
            let (id, w) = (mine.id, worker.clone());
            store
                .write(move |db| db.retry_job(id, &w, now.plus_millis(1_000), "provider 503"))
                .await
                .unwrap();
            assert_eq!(
                store.write(move |db| db.claim_job("x", now, 60_000, &["ingest"])).await.unwrap(),
                None,
                "{engine}: not due yet"
            );
            let later = now.plus_millis(2_000);
            let again = store
                .write(move |db| db.claim_job("w2", later, 1_000, &["ingest"]))
                .await
                .unwrap()
                .unwrap();
            assert_eq!((again.attempts, again.last_error.as_deref()), (2, Some("provider 503")));

            // w2 "crashes": once its lease runs out, another worker takes the job over.
            let during = later.plus_millis(500);
            assert_eq!(
                store
                    .write(move |db| db.claim_job("w3", during, 1_000, &["ingest"]))
                    .await
                    .unwrap(),
                None
            );
            let after = later.plus_millis(1_500);
            let taken = store
                .write(move |db| db.claim_job("w3", after, 60_000, &["ingest"]))
                .await
                .unwrap()
                .unwrap();
            assert_eq!((taken.locked_by.as_deref(), taken.attempts), (Some("w3"), 3), "{engine}");
            assert!(
                !store
                    .write(move |db| db.renew_job_lease(id, "w2", after.plus_millis(9_000)))
                    .await
                    .unwrap()
            );
            assert!(
                store
                    .write(move |db| db.renew_job_lease(id, "w3", after.plus_millis(9_000)))
                    .await
                    .unwrap()
            );

            // Cancelling the subject stops it; completing a cancelled job changes nothing.
            assert_eq!(store.write(move |db| db.cancel_jobs(subject)).await.unwrap(), 1);
            store.write(move |db| db.complete_job(id, "w3")).await.unwrap();
            let jobs = store.read(move |db| db.jobs_for(subject)).await.unwrap();
            assert_eq!(jobs[0].status.as_str(), "cancelled", "{engine}");
            assert_eq!(store.read(|db| db.pending_jobs()).await.unwrap(), 0);
        }
    }
}

mod conversations {
    use openmai_store::models::{
        Attachment, ConversationFilter, CursorRequest, InboxFilter, MessageStatus, MessageType,
        MessageUsage, NewMessage, PageRequest, ReplyOutcome, WebhookRecord,
    };
    use openmai_store::testing::TestDatabase;
    use openmai_store::{Store, StoreError};
    use openmai_types::Timestamp;
    use uuid::Uuid;

    use super::{chatbot, new_user, open};

    async fn organisation(store: &Store, email: &str) -> (Uuid, Uuid) {
        let email = email.to_owned();
        let user = store.write(move |db| db.insert_user(&new_user(&email))).await.unwrap().id;
        (store.write(move |db| db.insert_organization("Org", user)).await.unwrap().id, user)
    }

    fn message(org: Uuid, conversation: Uuid, text: &str, attachments: Vec<Uuid>) -> NewMessage {
        NewMessage {
            organization_id: org,
            conversation_id: conversation,
            message_type: MessageType::Incoming,
            sender_id: None,
            sender_name: "Ada".into(),
            content: text.into(),
            status: MessageStatus::Done,
            reply_to_id: None,
            query_metadata: Some(serde_json::json!({"labels": ["VIP"]})),
            content_payload: None,
            attachment_ids: attachments,
        }
    }

    fn first(size: u64) -> CursorRequest {
        CursorRequest { position: None, reverse: false, size }
    }

    #[tokio::test]
    async fn assistants_get_an_api_web_chat_and_conversations_page_by_cursor() {
        for test_db in TestDatabase::every_engine() {
            let engine = test_db.engine();
            let store = open(&test_db).await;
            let (org, user) = organisation(&store, "conv@example.com").await;
            let (rival, _) = organisation(&store, "rival@example.com").await;

            // Every new assistant has its API web chat, and that web chat its inbox.
            let bot =
                store.write(move |db| db.insert_chatbot(&chatbot(org, "客服"))).await.unwrap();
            assert_eq!(bot.webhook_secret.len(), 64, "{engine}");
            let api_chat = bot.api_web_chat_id.expect("an API web chat");
            let chats = store.read(move |db| db.list_web_chats(org)).await.unwrap();
            assert_eq!(chats.len(), 1, "{engine}");
            assert_eq!((chats[0].id, chats[0].access_type.as_str()), (api_chat, "api"));
            assert_eq!(chats[0].name, "客服", "{engine}: a web chat shows its assistant's name");
            let api_inbox =
                store.read(move |db| db.get_inbox_of_web_chat(org, api_chat)).await.unwrap();
            assert_eq!(
                (api_inbox.channel_type.as_str(), api_inbox.channel_name.as_deref()),
                ("web", Some("客服"))
            );
            assert!(store.read(move |db| db.get_web_chat(rival, api_chat)).await.is_err());

            // A web inbox brings its own web chat; other channels have none.
            let bot_id = bot.id;
            let web =
                store.write(move |db| db.insert_inbox(org, bot_id, "官網", "web")).await.unwrap();
            assert!(web.web_chat_id.is_some() && web.name == "官網", "{engine}");
            let line =
                store.write(move |db| db.insert_inbox(org, bot_id, "LINE", "line")).await.unwrap();
            assert_eq!((line.web_chat_id, line.channel_name), (None, None), "{engine}");
            let refused = store.write(move |db| db.insert_inbox(rival, bot_id, "x", "line")).await;
            assert!(matches!(refused, Err(StoreError::NotFound)), "{engine}: {refused:?}");
            let filter = InboxFilter {
                channel_type: Some("web".into()),
                ordering: Some("name".into()),
                ..Default::default()
            };
            let webs = store
                .read(move |db| db.list_inboxes(org, &filter, PageRequest::first(10)))
                .await
                .unwrap();
            assert_eq!(webs.count, 2, "{engine}");
            let mut settings = store.read(move |db| db.get_web_chat(org, api_chat)).await.unwrap();
            settings.description = "說明".into();
            settings.theme = Some(serde_json::json!({"primaryColor": "#123456"}));
            let updated = store.write(move |db| db.update_web_chat(&settings)).await.unwrap();
            assert_eq!(updated.theme.unwrap()["primaryColor"], "#123456", "{engine}");

            // Conversations and messages.
            let inbox = api_inbox.id;
            let conversation = store
                .write(move |db| db.insert_conversation(org, inbox, Some(user)))
                .await
                .unwrap();
            assert_eq!(conversation.chatbot_id, bot.id, "{engine}");
            assert!(conversation.last_message.is_none());
            let conv = conversation.id;
            let image = store
                .write(move |db| {
                    db.insert_attachment(&Attachment {
                        id: Uuid::nil(),
                        organization_id: org,
                        conversation_id: None,
                        attachment_type: "image".into(),
                        filename: "照片.png".into(),
                        storage_key: "uploads/x/a.png".into(),
                        size: 10,
                        created_at: Timestamp(0),
                        updated_at: Timestamp(0),
                    })
                })
                .await
                .unwrap();
            let image_id = image.id;
            let question = store
                .write(move |db| {
                    db.insert_message(&message(org, conv, "退票規定？", vec![image_id]))
                })
                .await
                .unwrap();
            assert_eq!(question.attachments.len(), 1, "{engine}");
            assert_eq!(question.query_metadata.as_ref().unwrap()["labels"][0], "VIP");
            let attached = store.read(move |db| db.get_attachment(org, image_id)).await.unwrap();
            assert_eq!(attached.conversation_id, Some(conv), "{engine}: used in a conversation");
            // Another organisation's attachment cannot be sent.
            let theirs =
                store.write(move |db| db.insert_message(&message(rival, conv, "x", vec![]))).await;
            assert!(matches!(theirs, Err(StoreError::NotFound)), "{engine}");
            let foreign_attachment = store
                .write(move |db| db.insert_message(&message(org, conv, "x", vec![Uuid::new_v4()])))
                .await;
            assert!(matches!(foreign_attachment, Err(StoreError::NotFound)), "{engine}");

            let outcome = ReplyOutcome {
                content: "可於開車前退票。".into(),
                status: MessageStatus::Done,
                citations: Some(serde_json::json!([{"id": "f"}])),
                model: Some("openmai/offline".into()),
                usage: MessageUsage { input_tokens: 12, output_tokens: 8, words_count: 8 },
                error: None,
            };
            let reply = store
                .write(move |db| {
                    db.insert_reply(
                        &NewMessage {
                            message_type: MessageType::Outgoing,
                            reply_to_id: Some(question.id),
                            ..message(org, conv, "", vec![])
                        },
                        &outcome,
                    )
                })
                .await
                .unwrap();
            let reply_id = reply.id;
            // What the insert returns is built in memory; it must be what a read finds.
            let read = store.read(move |db| db.get_message(org, reply_id)).await.unwrap();
            assert_eq!(reply, read, "{engine}");
            assert_eq!(reply.content, "可於開車前退票。", "{engine}");
            let reply_at = reply.created_at;
            assert_eq!(
                (reply.status, reply.usage.words_count),
                (MessageStatus::Done, 8),
                "{engine}"
            );
            let liked = store
                .write(move |db| db.set_message_feedback(org, reply_id, Some("like")))
                .await
                .unwrap();
            assert_eq!(liked.feedback.as_deref(), Some("like"), "{engine}");

            let conversation = store.read(move |db| db.get_conversation(org, conv)).await.unwrap();
            assert_eq!(conversation.title, "退票規定？", "{engine}: named by its first message");
            assert_eq!(conversation.last_message.as_ref().map(|m| m.id), Some(reply_id));
            assert_eq!(conversation.unread_messages_count, 1, "{engine}");
            store.write(move |db| db.mark_conversation_read(org, conv)).await.unwrap();
            let read = store.read(move |db| db.get_conversation(org, conv)).await.unwrap();
            assert_eq!(read.unread_messages_count, 0, "{engine}");
            let history = store
                .read(move |db| db.conversation_history(conv, reply_at, reply_id, 10))
                .await
                .unwrap();
            assert_eq!(history.iter().map(|m| m.id).collect::<Vec<_>>(), [question.id], "{engine}");

            // Cursor pages: newest first, forwards and back, stable as rows are added.
            let mut ids = vec![reply_id, question.id];
            for n in 0..5 {
                let m = store
                    .write(move |db| {
                        db.insert_message(&message(org, conv, &format!("m{n}"), vec![]))
                    })
                    .await
                    .unwrap();
                ids.insert(0, m.id);
            }
            let page1 =
                store.read(move |db| db.list_messages(org, Some(conv), first(3))).await.unwrap();
            assert_eq!(page1.items.iter().map(|m| m.id).collect::<Vec<_>>(), ids[..3], "{engine}");
            assert!(page1.has_older && !page1.has_newer, "{engine}");
            let last = page1.items.last().map(|m| (m.created_at, m.id));
            let page2 = store
                .read(move |db| {
                    db.list_messages(
                        org,
                        Some(conv),
                        CursorRequest { position: last, reverse: false, size: 3 },
                    )
                })
                .await
                .unwrap();
            assert_eq!(page2.items.iter().map(|m| m.id).collect::<Vec<_>>(), ids[3..6], "{engine}");
            assert!(page2.has_older && page2.has_newer, "{engine}");
            let top = page2.items.first().map(|m| (m.created_at, m.id));
            let back = store
                .read(move |db| {
                    db.list_messages(
                        org,
                        Some(conv),
                        CursorRequest { position: top, reverse: true, size: 3 },
                    )
                })
                .await
                .unwrap();
            assert_eq!(back.items, page1.items, "{engine}: previous returns the first page");
            assert!(!back.has_newer && back.has_older, "{engine}");
            let rivals =
                store.read(move |db| db.list_messages(rival, None, first(10))).await.unwrap();
            assert!(rivals.items.is_empty(), "{engine}");

            let by_inbox = ConversationFilter { inbox_id: Some(inbox), chatbot_id: None };
            let listed = store
                .read(move |db| db.list_conversations(org, by_inbox, first(10)))
                .await
                .unwrap();
            assert_eq!(listed.items.len(), 1, "{engine}");
            assert_eq!(listed.items[0].last_message.as_ref().map(|m| m.id), Some(ids[0]));
            let other_inbox = ConversationFilter { inbox_id: Some(line.id), chatbot_id: None };
            let none = store
                .read(move |db| db.list_conversations(org, other_inbox, first(10)))
                .await
                .unwrap();
            assert!(none.items.is_empty(), "{engine}");

            // Webhook records.
            for attempt in 1..=3 {
                let record = WebhookRecord {
                    id: Uuid::nil(),
                    organization_id: org,
                    chatbot_id: bot_id,
                    message_id: Some(reply_id),
                    url: "https://example.com/hook".into(),
                    request_body: serde_json::json!({"content": "答"}),
                    status_code: Some(500),
                    response: "busy".into(),
                    error: None,
                    attempt,
                    duration_ms: 3,
                    created_at: Timestamp(0),
                };
                store.write(move |db| db.insert_webhook_record(&record)).await.unwrap();
            }
            let records = store
                .read(move |db| db.list_webhook_records(org, bot_id, PageRequest::first(2)))
                .await
                .unwrap();
            assert_eq!((records.count, records.items[0].attempt), (3, 3), "{engine}");
            assert_eq!(records.items[0].request_body["content"], "答", "{engine}");

            // Deleting the web inbox deletes its web chat; deleting the assistant, everything.
            let web_id = web.id;
            store.write(move |db| db.delete_inbox(org, web_id)).await.unwrap();
            assert_eq!(store.read(move |db| db.list_web_chats(org)).await.unwrap().len(), 1);
            store.write(move |db| db.delete_chatbot(org, bot_id)).await.unwrap();
            assert!(store.read(move |db| db.get_conversation(org, conv)).await.is_err());
            assert!(store.read(move |db| db.list_web_chats(org)).await.unwrap().is_empty());
            let gone = store.read(move |db| db.get_message(org, reply_id)).await;
            assert!(matches!(gone, Err(StoreError::NotFound)), "{engine}");
        }
    }
}
