//! Which knowledge bases a request works on. The knowledge-base routes
//! (`knowledge-bases/{id}/files/`…) name one; the older assistant routes
//! (`chatbots/{id}/files/`…) work on the knowledge bases linked to that assistant. Both
//! resolve to a [`Scope`], so one handler serves both.

use openmai_store::models::KnowledgeBase;
use uuid::Uuid;

use crate::api::knowledge_bases::{find_kb, parse_id};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct Scope {
    pub organization_id: Uuid,
    /// The knowledge bases reads and deletes look in.
    pub knowledge_bases: Vec<KnowledgeBase>,
    /// For the assistant routes: the assistant, which new files and FAQs go to (its first
    /// knowledge base, created on first use).
    pub chatbot: Option<(Uuid, String)>,
}

impl Scope {
    pub fn kb_ids(&self) -> Vec<Uuid> {
        self.knowledge_bases.iter().map(|kb| kb.id).collect()
    }

    /// `knowledge-bases/{id}/…`.
    pub async fn knowledge_base(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Scope> {
        let kb = find_kb(state, caller, id).await?;
        Ok(Scope { organization_id: kb.organization_id, knowledge_bases: vec![kb], chatbot: None })
    }

    /// `chatbots/{id}/…`: the assistant's knowledge bases. An id that names one of the
    /// organisation's knowledge bases instead is taken as that knowledge base, because the
    /// official C# example passes a knowledge-base id there.
    pub async fn chatbot(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Scope> {
        let org = caller.organization()?;
        let id = parse_id(id)?;
        let found = state
            .store
            .read(move |db| match db.get_chatbot(org, id) {
                Ok(chatbot) => Ok((Some((chatbot.id, chatbot.name)), db.kbs_of_chatbot(org, id)?)),
                Err(openmai_store::StoreError::NotFound) => Ok((None, vec![db.get_kb(org, id)?])),
                Err(err) => Err(err),
            })
            .await?;
        Ok(Scope { organization_id: org, knowledge_bases: found.1, chatbot: found.0 })
    }

    /// Where new files and FAQs go: the one knowledge base, or the assistant's first,
    /// creating "<assistant> 知識庫" and linking it when the assistant has none.
    pub async fn target(&self, state: &AppState) -> ApiResult<KnowledgeBase> {
        if let Some(kb) = self.knowledge_bases.first() {
            return Ok(kb.clone());
        }
        let Some((chatbot_id, name)) = self.chatbot.clone() else {
            return Err(crate::error::ApiError::not_found());
        };
        let org = self.organization_id;
        Ok(state
            .store
            .write(move |db| {
                db.transaction(|db| {
                    // A concurrent request may have just created it.
                    if let Some(kb) = db.kbs_of_chatbot(org, chatbot_id)?.into_iter().next() {
                        return Ok(kb);
                    }
                    let draft = KnowledgeBase::draft(org, &format!("{name} 知識庫"), None);
                    db.insert_kb(&draft, &[chatbot_id])
                })
            })
            .await?)
    }
}
