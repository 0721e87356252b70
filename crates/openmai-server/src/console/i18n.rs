//! The console's two languages: Traditional Chinese (the default) and English. Every text a
//! page shows is a field of [`Text`]; a language is one static instance of it.
//!
//! The language comes from `?lang=zh-TW|en` (the language switch, remembered in the
//! `openmai_lang` cookie), else the cookie, else `Accept-Language` (`en…` → English), else
//! Traditional Chinese.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use openmai_types::messages;

pub const COOKIE: &str = "openmai_lang";

pub struct Text {
    /// The cookie / query value.
    pub code: &'static str,
    /// `<html lang>`.
    pub html_lang: &'static str,

    pub menu_ai: &'static str,
    pub menu_assistants: &'static str,
    pub menu_account: &'static str,
    pub menu_api_keys: &'static str,
    pub account_menu: &'static str,
    pub language: &'static str,
    pub organizations: &'static str,
    pub current: &'static str,
    pub create_org: &'static str,
    pub logout: &'static str,
    pub no_org_selected: &'static str,

    pub login_title: &'static str,
    pub login_subtitle: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub login_button: &'static str,
    pub login_failed: &'static str,
    pub login_missing: &'static str,
    pub login_throttled: &'static str,

    pub assistants_title: &'static str,
    pub col_id: &'static str,
    pub col_name: &'static str,
    pub col_llm: &'static str,
    pub col_reply_mode: &'static str,
    pub col_kbs: &'static str,
    pub col_updated: &'static str,
    pub col_actions: &'static str,
    pub edit: &'static str,
    pub delete: &'static str,
    pub confirm_delete: &'static str,
    pub create_assistant: &'static str,
    pub edit_assistant: &'static str,
    pub no_assistants: &'static str,
    pub total_before: &'static str,
    pub total_after: &'static str,
    pub previous: &'static str,
    pub next: &'static str,
    pub pagination: &'static str,
    pub utc: &'static str,

    pub field_name: &'static str,
    pub field_llm: &'static str,
    pub field_reply_mode: &'static str,
    pub field_instructions: &'static str,
    pub instructions_hint: &'static str,
    pub save: &'static str,
    pub create: &'static str,
    pub cancel: &'static str,
    pub form_has_errors: &'static str,

    pub mode_normal: &'static str,
    pub mode_template: &'static str,
    pub mode_hybrid: &'static str,
    pub mode_agent: &'static str,
    pub mode_text_to_sql: &'static str,
    pub mode_workflow: &'static str,

    pub keys_title: &'static str,
    pub keys_intro: &'static str,
    pub key_name: &'static str,
    pub key_name_placeholder: &'static str,
    pub key_prefix: &'static str,
    pub key_created: &'static str,
    pub key_last_used: &'static str,
    pub key_never_used: &'static str,
    pub revoke: &'static str,
    pub confirm_revoke: &'static str,
    pub create_key: &'static str,
    pub no_keys: &'static str,
    pub new_key_title: &'static str,
    pub new_key_warning: &'static str,
    pub copy: &'static str,
    pub copied: &'static str,

    pub org_title: &'static str,
    pub org_name: &'static str,
    pub org_intro: &'static str,
    pub no_org: &'static str,

    pub notice_created: &'static str,
    pub notice_updated: &'static str,
    pub notice_deleted: &'static str,
    pub notice_revoked: &'static str,
    pub notice_org_created: &'static str,
    pub notice_switched: &'static str,

    pub error_title: &'static str,
    pub error_not_found: &'static str,
    pub error_forbidden: &'static str,
    pub error_bad_request: &'static str,
    pub error_throttled: &'static str,
    pub error_unavailable: &'static str,
    pub error_internal: &'static str,
    pub back_home: &'static str,

    pub msg_required: &'static str,
    pub msg_blank: &'static str,
    pub msg_too_long: &'static str,
    pub msg_invalid_choice: &'static str,
    pub msg_unknown: &'static str,

    // Knowledge bases.
    pub menu_knowledge_bases: &'static str,
    pub kbs_title: &'static str,
    pub col_description: &'static str,
    pub col_files_count: &'static str,
    pub col_assistants: &'static str,
    pub create_kb: &'static str,
    pub edit_kb: &'static str,
    pub no_kbs: &'static str,
    pub confirm_delete_kb: &'static str,
    pub field_description: &'static str,
    pub field_chatbots: &'static str,
    pub chatbots_hint: &'static str,
    pub no_chatbots_to_link: &'static str,
    pub section_retrieval: &'static str,
    pub section_chunking: &'static str,
    pub field_retrieved_chunks: &'static str,
    pub field_similarity_cutoff: &'static str,
    pub similarity_hint: &'static str,
    pub field_embedding_model: &'static str,
    pub field_reranker_model: &'static str,
    pub field_enable_rerank: &'static str,
    pub no_embedding_model: &'static str,
    pub no_model: &'static str,
    pub field_chunk_size: &'static str,
    pub field_chunk_overlap: &'static str,
    pub chunk_hint: &'static str,
    pub retrieval_keyword: &'static str,
    pub retrieval_hybrid: &'static str,
    pub tab_files: &'static str,
    pub tab_faqs: &'static str,
    pub tab_labels: &'static str,
    pub tab_search: &'static str,
    pub upload_title: &'static str,
    pub upload_drop: &'static str,
    pub upload_choose: &'static str,
    pub upload_allowed: &'static str,
    pub upload_max: &'static str,
    pub upload_waiting: &'static str,
    pub upload_uploading: &'static str,
    pub upload_registering: &'static str,
    pub upload_done: &'static str,
    pub upload_failed: &'static str,
    pub upload_too_large: &'static str,
    pub upload_bad_type: &'static str,
    pub col_filename: &'static str,
    pub col_type: &'static str,
    pub col_size: &'static str,
    pub col_status: &'static str,
    pub col_failed_reason: &'static str,
    pub col_chunks: &'static str,
    pub col_labels: &'static str,
    pub col_uploaded: &'static str,
    pub reparse: &'static str,
    pub confirm_delete_file: &'static str,
    pub no_files: &'static str,
    pub status_initial: &'static str,
    pub status_processing: &'static str,
    pub status_done: &'static str,
    pub status_failed: &'static str,
    pub status_deleting: &'static str,
    pub chunks_title: &'static str,
    pub col_ordinal: &'static str,
    pub col_page: &'static str,
    pub col_heading: &'static str,
    pub col_text: &'static str,
    pub col_characters: &'static str,
    pub no_chunks: &'static str,
    pub file_labels: &'static str,
    pub save_labels: &'static str,
    pub no_labels_defined: &'static str,
    pub col_question: &'static str,
    pub col_answer: &'static str,
    pub col_hits: &'static str,
    pub create_faq: &'static str,
    pub edit_faq: &'static str,
    pub no_faqs: &'static str,
    pub confirm_delete_faq: &'static str,
    pub field_question: &'static str,
    pub field_answer: &'static str,
    pub field_labels: &'static str,
    pub create_label: &'static str,
    pub label_name: &'static str,
    pub no_labels: &'static str,
    pub confirm_delete_label: &'static str,
    pub label_taken: &'static str,
    pub col_created: &'static str,
    pub search_intro: &'static str,
    pub search_query: &'static str,
    pub search_placeholder: &'static str,
    pub search_button: &'static str,
    pub search_limit: &'static str,
    pub search_no_hits: &'static str,
    pub hits_before: &'static str,
    pub hits_after: &'static str,
    pub hit_score: &'static str,
    pub hit_chunk: &'static str,
    pub hit_faq: &'static str,
    pub hit_file: &'static str,
    pub notice_kb_created: &'static str,
    pub notice_kb_updated: &'static str,
    pub notice_kb_deleted: &'static str,
    pub notice_faq_created: &'static str,
    pub notice_faq_updated: &'static str,
    pub notice_faq_deleted: &'static str,
    pub notice_label_created: &'static str,
    pub notice_label_renamed: &'static str,
    pub notice_label_deleted: &'static str,
    pub notice_file_deleted: &'static str,
    pub notice_file_reparsed: &'static str,
    pub notice_labels_saved: &'static str,
    pub msg_not_integer: &'static str,
    pub msg_not_number: &'static str,
    pub msg_max_before: &'static str,
    pub msg_max_after: &'static str,
    pub msg_min_before: &'static str,
    pub msg_min_after: &'static str,
    pub msg_overlap: &'static str,

    // Assistant form: templates, knowledge bases, webhook; the chat page.
    pub section_answers: &'static str,
    pub field_template: &'static str,
    pub template_hint: &'static str,
    pub field_unanswerable_template: &'static str,
    pub unanswerable_hint: &'static str,
    pub section_knowledge: &'static str,
    pub field_knowledge_bases: &'static str,
    pub knowledge_bases_hint: &'static str,
    pub no_kbs_to_link: &'static str,
    pub retrieved_chunks_hint: &'static str,
    pub section_integration: &'static str,
    pub field_webhook_url: &'static str,
    pub webhook_hint: &'static str,
    pub field_webhook_secret: &'static str,
    pub field_chinese_conversion: &'static str,
    pub msg_not_url: &'static str,
    pub chat: &'static str,
    pub chat_title: &'static str,
    pub new_conversation: &'static str,
    pub recent_conversations: &'static str,
    pub no_conversations: &'static str,
    pub untitled: &'static str,
    pub chat_empty: &'static str,
    pub chat_placeholder: &'static str,
    pub chat_keys_hint: &'static str,
    pub send: &'static str,
    pub you: &'static str,
    pub thinking: &'static str,
    pub citations: &'static str,
    pub cited_passages: &'static str,
    pub page_n: &'static str,
    pub chat_error: &'static str,
    pub chat_interrupted: &'static str,
    pub chat_network: &'static str,
    pub chat_load_failed: &'static str,
    pub reply_failed: &'static str,
    pub needs_javascript: &'static str,
}

pub static ZH_TW: Text = Text {
    code: "zh-TW",
    html_lang: "zh-Hant-TW",

    menu_ai: "AI 功能",
    menu_assistants: "AI 助理",
    menu_account: "帳號",
    menu_api_keys: "API 金鑰",
    account_menu: "帳號選單",
    language: "語言",
    organizations: "組織",
    current: "目前",
    create_org: "創建組織",
    logout: "登出",
    no_org_selected: "未選擇組織",

    login_title: "登入",
    login_subtitle: "登入 OpenMai 管理主控台",
    email: "電子郵件",
    password: "密碼",
    login_button: "登入",
    login_failed: "電子郵件或密碼不正確。",
    login_missing: "請輸入電子郵件與密碼。",
    login_throttled: "登入嘗試次數過多，請稍後再試。",

    assistants_title: "AI 助理",
    col_id: "ID",
    col_name: "名稱",
    col_llm: "大語言模型",
    col_reply_mode: "回答模式",
    col_kbs: "關聯知識庫",
    col_updated: "最後更新時間",
    col_actions: "操作",
    edit: "編輯",
    delete: "刪除",
    confirm_delete: "確定要刪除此 AI 助理嗎？此動作無法復原。",
    create_assistant: "建立 AI 助理",
    edit_assistant: "編輯 AI 助理",
    no_assistants: "尚無 AI 助理",
    total_before: "共 ",
    total_after: " 條資料",
    previous: "上一頁",
    next: "下一頁",
    pagination: "分頁",
    utc: "世界協調時間（UTC）",

    field_name: "名稱",
    field_llm: "大語言模型",
    field_reply_mode: "回答模式",
    field_instructions: "角色指令",
    instructions_hint: "描述 AI 助理的角色、語氣與回答規則。",
    save: "儲存",
    create: "建立",
    cancel: "取消",
    form_has_errors: "請修正下列欄位後再送出。",

    mode_normal: "一般",
    mode_template: "範本",
    mode_hybrid: "混合",
    mode_agent: "Agent",
    mode_text_to_sql: "Text-to-SQL",
    mode_workflow: "工作流程",

    keys_title: "API 金鑰",
    keys_intro: "API 金鑰可讓程式以您的身分呼叫 OpenMai API（Authorization: Api-Key …）。請妥善保管。",
    key_name: "名稱",
    key_name_placeholder: "例如：正式環境",
    key_prefix: "金鑰",
    key_created: "建立時間",
    key_last_used: "最後使用時間",
    key_never_used: "從未使用",
    revoke: "撤銷",
    confirm_revoke: "確定要撤銷此 API 金鑰嗎？使用它的程式將立即無法存取。",
    create_key: "建立 API 金鑰",
    no_keys: "尚無 API 金鑰",
    new_key_title: "已建立新的 API 金鑰",
    new_key_warning: "請立即複製並妥善保存此金鑰。離開此頁面後將無法再次查看完整金鑰。",
    copy: "複製",
    copied: "已複製",

    org_title: "創建組織",
    org_name: "組織名稱",
    org_intro: "建立新的組織後，您將成為其擁有者，並切換到該組織。",
    no_org: "您目前不屬於任何組織。請先創建組織。",

    notice_created: "已建立 AI 助理。",
    notice_updated: "已更新 AI 助理。",
    notice_deleted: "已刪除 AI 助理。",
    notice_revoked: "已撤銷 API 金鑰。",
    notice_org_created: "已創建組織並切換至該組織。",
    notice_switched: "已切換組織。",

    error_title: "發生錯誤",
    error_not_found: "找不到此頁面或資料。",
    error_forbidden: "請求遭到拒絕（安全性檢查未通過）。請重新整理頁面後再試一次。",
    error_bad_request: "無法處理此請求。",
    error_throttled: "請求過於頻繁，請稍後再試。",
    error_unavailable: "服務暫時無法使用，請稍後再試。",
    error_internal: "伺服器發生錯誤，請稍後再試。",
    back_home: "返回主控台",

    msg_required: "此欄位為必填。",
    msg_blank: "此欄位不可為空白。",
    msg_too_long: "內容過長。",
    msg_invalid_choice: "不是有效的選項。",
    msg_unknown: "所選項目不存在。",

    // Knowledge bases.
    menu_knowledge_bases: "知識庫",
    kbs_title: "知識庫",
    col_description: "描述",
    col_files_count: "檔案數",
    col_assistants: "關聯 AI 助理",
    create_kb: "建立知識庫",
    edit_kb: "編輯知識庫",
    no_kbs: "尚無知識庫",
    confirm_delete_kb: "確定要刪除此知識庫嗎？其中的檔案、常見問題與標籤都會一併刪除，且無法復原。",
    field_description: "描述",
    field_chatbots: "關聯 AI 助理",
    chatbots_hint: "按住 Ctrl（macOS 為 ⌘）可選擇多個。",
    no_chatbots_to_link: "此組織尚無 AI 助理。",
    section_retrieval: "檢索設定",
    section_chunking: "檔案切分",
    field_retrieved_chunks: "檢索段落數",
    field_similarity_cutoff: "相似度門檻",
    similarity_hint: "0 到 1 之間；分數低於此門檻的段落不會被採用。",
    field_embedding_model: "嵌入模型",
    field_reranker_model: "重排序模型",
    field_enable_rerank: "啟用重排序",
    no_embedding_model: "不使用（僅關鍵字檢索）",
    no_model: "不使用",
    field_chunk_size: "段落長度（字元）",
    field_chunk_overlap: "段落重疊（字元）",
    chunk_hint: "變更後，新上傳或重新解析的檔案才會套用。",
    retrieval_keyword: "關鍵字檢索",
    retrieval_hybrid: "混合檢索（關鍵字＋向量）",
    tab_files: "檔案",
    tab_faqs: "常見問題",
    tab_labels: "標籤",
    tab_search: "搜尋測試",
    upload_title: "上傳檔案",
    upload_drop: "拖曳檔案到此處，或",
    upload_choose: "選擇檔案",
    upload_allowed: "支援格式",
    upload_max: "單檔上限",
    upload_waiting: "等待上傳",
    upload_uploading: "上傳中",
    upload_registering: "登錄中",
    upload_done: "已上傳",
    upload_failed: "上傳失敗",
    upload_too_large: "檔案超過大小上限",
    upload_bad_type: "不支援此檔案類型",
    col_filename: "檔名",
    col_type: "類型",
    col_size: "大小",
    col_status: "狀態",
    col_failed_reason: "失敗原因",
    col_chunks: "區塊數",
    col_labels: "標籤",
    col_uploaded: "上傳時間",
    reparse: "重新解析",
    confirm_delete_file: "確定要刪除此檔案嗎？它的區塊也會一併刪除。",
    no_files: "尚無檔案",
    status_initial: "等待中",
    status_processing: "處理中",
    status_done: "完成",
    status_failed: "失敗",
    status_deleting: "刪除中",
    chunks_title: "區塊",
    col_ordinal: "#",
    col_page: "頁碼",
    col_heading: "標題",
    col_text: "內容",
    col_characters: "字元數",
    no_chunks: "尚無區塊",
    file_labels: "檔案標籤",
    save_labels: "儲存標籤",
    no_labels_defined: "此知識庫尚無標籤，可在「標籤」分頁新增。",
    col_question: "問題",
    col_answer: "答案",
    col_hits: "命中次數",
    create_faq: "新增常見問題",
    edit_faq: "編輯常見問題",
    no_faqs: "尚無常見問題",
    confirm_delete_faq: "確定要刪除此常見問題嗎？",
    field_question: "問題",
    field_answer: "答案",
    field_labels: "標籤",
    create_label: "新增標籤",
    label_name: "標籤名稱",
    no_labels: "尚無標籤",
    confirm_delete_label: "確定要刪除此標籤嗎？帶有此標籤的檔案與常見問題將不再帶有它。",
    label_taken: "此知識庫已有同名的標籤。",
    col_created: "建立時間",
    search_intro: "輸入問題，查看知識庫會檢索出哪些段落與常見問題。",
    search_query: "查詢",
    search_placeholder: "例如：退票規定是什麼？",
    search_button: "搜尋",
    search_limit: "回傳筆數",
    search_no_hits: "沒有符合的段落或常見問題。",
    hits_before: "找到 ",
    hits_after: " 筆結果",
    hit_score: "分數",
    hit_chunk: "段落",
    hit_faq: "常見問題",
    hit_file: "檔案",
    notice_kb_created: "已建立知識庫。",
    notice_kb_updated: "已更新知識庫。",
    notice_kb_deleted: "已刪除知識庫。",
    notice_faq_created: "已新增常見問題。",
    notice_faq_updated: "已更新常見問題。",
    notice_faq_deleted: "已刪除常見問題。",
    notice_label_created: "已新增標籤。",
    notice_label_renamed: "已重新命名標籤。",
    notice_label_deleted: "已刪除標籤。",
    notice_file_deleted: "已刪除檔案。",
    notice_file_reparsed: "已重新排入解析。",
    notice_labels_saved: "已儲存檔案標籤。",
    msg_not_integer: "請輸入整數。",
    msg_not_number: "請輸入數字。",
    msg_max_before: "請輸入不大於 ",
    msg_max_after: " 的數值。",
    msg_min_before: "請輸入不小於 ",
    msg_min_after: " 的數值。",
    msg_overlap: "段落重疊不可超過段落長度的一半。",
    // Assistant form: templates, knowledge bases, webhook; the chat page.
    section_answers: "回答範本",
    field_template: "回答範本",
    template_hint: "可使用 {{ answer }}（相符常見問題的答案）與 {{ question }}（使用者的問題）。「範本」模式只以相符的常見問題透過此範本回答，找不到時改用無法回答範本；「混合」模式下，相符的常見問題直接以此範本回答，其他問題交給大語言模型。留白則直接回覆常見問題的答案。",
    field_unanswerable_template: "無法回答範本",
    unanswerable_hint: "「範本」模式找不到相符的常見問題時，或關聯知識庫中沒有相關內容時，以此回覆；可使用 {{ question }}。",
    section_knowledge: "知識庫",
    field_knowledge_bases: "關聯知識庫",
    knowledge_bases_hint: "AI 助理會從勾選的知識庫檢索段落與常見問題來回答。",
    no_kbs_to_link: "此組織尚無知識庫。",
    retrieved_chunks_hint: "每次回答最多採用的段落數。",
    section_integration: "整合",
    field_webhook_url: "Webhook 網址",
    webhook_hint: "每則新訊息會以 POST 傳送到此網址。標頭 X-OpenMai-Signature: t=…,v1=… 中，v1 是以 Webhook 密鑰對「t.內容」計算的 HMAC-SHA256（十六進位）。",
    field_webhook_secret: "Webhook 密鑰",
    field_chinese_conversion: "將回答轉換為台灣繁體中文",
    msg_not_url: "請輸入有效的網址。",
    chat: "對話",
    chat_title: "測試對話",
    new_conversation: "新對話",
    recent_conversations: "最近的對話",
    no_conversations: "尚無對話",
    untitled: "（無標題）",
    chat_empty: "輸入問題並送出，開始新的對話。",
    chat_placeholder: "輸入訊息…",
    chat_keys_hint: "Enter 送出，Shift+Enter 換行",
    send: "送出",
    you: "你",
    thinking: "思考中…",
    citations: "參考資料",
    cited_passages: "引用段落",
    page_n: "第 {n} 頁",
    chat_error: "發生錯誤：",
    chat_interrupted: "回答中斷，未完成。",
    chat_network: "無法連線到伺服器。",
    chat_load_failed: "無法載入對話：",
    reply_failed: "此回答未完成。",
    needs_javascript: "此頁需要啟用 JavaScript。",
};

pub static EN: Text = Text {
    code: "en",
    html_lang: "en",

    menu_ai: "AI features",
    menu_assistants: "AI assistants",
    menu_account: "Account",
    menu_api_keys: "API keys",
    account_menu: "Account menu",
    language: "Language",
    organizations: "Organisations",
    current: "current",
    create_org: "Create organisation",
    logout: "Log out",
    no_org_selected: "No organisation",

    login_title: "Log in",
    login_subtitle: "Sign in to the OpenMai console",
    email: "Email",
    password: "Password",
    login_button: "Log in",
    login_failed: "Incorrect email or password.",
    login_missing: "Please enter your email and password.",
    login_throttled: "Too many login attempts. Please try again later.",

    assistants_title: "AI assistants",
    col_id: "ID",
    col_name: "Name",
    col_llm: "Large language model",
    col_reply_mode: "Reply mode",
    col_kbs: "Knowledge bases",
    col_updated: "Last updated",
    col_actions: "Actions",
    edit: "Edit",
    delete: "Delete",
    confirm_delete: "Delete this AI assistant? This cannot be undone.",
    create_assistant: "Create AI assistant",
    edit_assistant: "Edit AI assistant",
    no_assistants: "No AI assistants yet",
    total_before: "",
    total_after: " items in total",
    previous: "Previous",
    next: "Next",
    pagination: "Pagination",
    utc: "Coordinated Universal Time (UTC)",

    field_name: "Name",
    field_llm: "Large language model",
    field_reply_mode: "Reply mode",
    field_instructions: "Instructions",
    instructions_hint: "Describe the assistant's role, tone and rules for answering.",
    save: "Save",
    create: "Create",
    cancel: "Cancel",
    form_has_errors: "Please correct the fields below.",

    mode_normal: "Normal",
    mode_template: "Template",
    mode_hybrid: "Hybrid",
    mode_agent: "Agent",
    mode_text_to_sql: "Text-to-SQL",
    mode_workflow: "Workflow",

    keys_title: "API keys",
    keys_intro: "API keys let programs call the OpenMai API as you (Authorization: Api-Key …). Keep them secret.",
    key_name: "Name",
    key_name_placeholder: "e.g. production",
    key_prefix: "Key",
    key_created: "Created",
    key_last_used: "Last used",
    key_never_used: "Never",
    revoke: "Revoke",
    confirm_revoke: "Revoke this API key? Programs using it lose access immediately.",
    create_key: "Create API key",
    no_keys: "No API keys yet",
    new_key_title: "Your new API key",
    new_key_warning: "Copy this key now and store it safely. It will not be shown again once you leave this page.",
    copy: "Copy",
    copied: "Copied",

    org_title: "Create organisation",
    org_name: "Organisation name",
    org_intro: "You will own the new organisation and the console will switch to it.",
    no_org: "You do not belong to any organisation yet. Create one first.",

    notice_created: "AI assistant created.",
    notice_updated: "AI assistant updated.",
    notice_deleted: "AI assistant deleted.",
    notice_revoked: "API key revoked.",
    notice_org_created: "Organisation created; you are now working in it.",
    notice_switched: "Organisation switched.",

    error_title: "Something went wrong",
    error_not_found: "This page or item does not exist.",
    error_forbidden: "The request was refused (security check failed). Reload the page and try again.",
    error_bad_request: "The request could not be processed.",
    error_throttled: "Too many requests. Please try again later.",
    error_unavailable: "The service is temporarily unavailable. Please try again later.",
    error_internal: "A server error occurred. Please try again later.",
    back_home: "Back to the console",

    msg_required: "This field is required.",
    msg_blank: "This field may not be blank.",
    msg_too_long: "This is too long.",
    msg_invalid_choice: "This is not a valid choice.",
    msg_unknown: "The selected item does not exist.",

    // Knowledge bases.
    menu_knowledge_bases: "Knowledge bases",
    kbs_title: "Knowledge bases",
    col_description: "Description",
    col_files_count: "Files",
    col_assistants: "AI assistants",
    create_kb: "Create knowledge base",
    edit_kb: "Edit knowledge base",
    no_kbs: "No knowledge bases yet",
    confirm_delete_kb: "Delete this knowledge base with its files, FAQs and labels? This cannot be undone.",
    field_description: "Description",
    field_chatbots: "Linked AI assistants",
    chatbots_hint: "Hold Ctrl (⌘ on macOS) to choose several.",
    no_chatbots_to_link: "This organisation has no AI assistants yet.",
    section_retrieval: "Retrieval",
    section_chunking: "Splitting files",
    field_retrieved_chunks: "Passages retrieved",
    field_similarity_cutoff: "Similarity cutoff",
    similarity_hint: "Between 0 and 1; passages scoring below it are left out.",
    field_embedding_model: "Embedding model",
    field_reranker_model: "Reranker model",
    field_enable_rerank: "Rerank the passages",
    no_embedding_model: "None (keyword search only)",
    no_model: "None",
    field_chunk_size: "Chunk size (characters)",
    field_chunk_overlap: "Chunk overlap (characters)",
    chunk_hint: "Applies to files uploaded or re-parsed afterwards.",
    retrieval_keyword: "Keyword search",
    retrieval_hybrid: "Hybrid search (keywords + vectors)",
    tab_files: "Files",
    tab_faqs: "FAQs",
    tab_labels: "Labels",
    tab_search: "Search test",
    upload_title: "Upload files",
    upload_drop: "Drop files here, or",
    upload_choose: "choose files",
    upload_allowed: "Formats",
    upload_max: "Largest file",
    upload_waiting: "Waiting",
    upload_uploading: "Uploading",
    upload_registering: "Registering",
    upload_done: "Uploaded",
    upload_failed: "Upload failed",
    upload_too_large: "The file is too large",
    upload_bad_type: "This file type is not supported",
    col_filename: "File name",
    col_type: "Type",
    col_size: "Size",
    col_status: "Status",
    col_failed_reason: "Failure reason",
    col_chunks: "Chunks",
    col_labels: "Labels",
    col_uploaded: "Uploaded",
    reparse: "Re-parse",
    confirm_delete_file: "Delete this file and its chunks?",
    no_files: "No files yet",
    status_initial: "Waiting",
    status_processing: "Processing",
    status_done: "Done",
    status_failed: "Failed",
    status_deleting: "Deleting",
    chunks_title: "Chunks",
    col_ordinal: "#",
    col_page: "Page",
    col_heading: "Heading",
    col_text: "Text",
    col_characters: "Characters",
    no_chunks: "No chunks",
    file_labels: "File labels",
    save_labels: "Save labels",
    no_labels_defined: "This knowledge base has no labels yet; add them on the Labels tab.",
    col_question: "Question",
    col_answer: "Answer",
    col_hits: "Hits",
    create_faq: "Add FAQ",
    edit_faq: "Edit FAQ",
    no_faqs: "No FAQs yet",
    confirm_delete_faq: "Delete this FAQ?",
    field_question: "Question",
    field_answer: "Answer",
    field_labels: "Labels",
    create_label: "Add label",
    label_name: "Label name",
    no_labels: "No labels yet",
    confirm_delete_label: "Delete this label? Files and FAQs carrying it lose it.",
    label_taken: "This knowledge base already has a label with this name.",
    col_created: "Created",
    search_intro: "Ask a question to see which passages and FAQs the knowledge base retrieves.",
    search_query: "Query",
    search_placeholder: "e.g. What is the refund policy?",
    search_button: "Search",
    search_limit: "Results",
    search_no_hits: "No passages or FAQs matched.",
    hits_before: "",
    hits_after: " results",
    hit_score: "Score",
    hit_chunk: "Passage",
    hit_faq: "FAQ",
    hit_file: "File",
    notice_kb_created: "Knowledge base created.",
    notice_kb_updated: "Knowledge base updated.",
    notice_kb_deleted: "Knowledge base deleted.",
    notice_faq_created: "FAQ added.",
    notice_faq_updated: "FAQ updated.",
    notice_faq_deleted: "FAQ deleted.",
    notice_label_created: "Label added.",
    notice_label_renamed: "Label renamed.",
    notice_label_deleted: "Label deleted.",
    notice_file_deleted: "File deleted.",
    notice_file_reparsed: "The file will be parsed again.",
    notice_labels_saved: "File labels saved.",
    msg_not_integer: "Enter a whole number.",
    msg_not_number: "Enter a number.",
    msg_max_before: "Enter a value no greater than ",
    msg_max_after: ".",
    msg_min_before: "Enter a value no less than ",
    msg_min_after: ".",
    msg_overlap: "The overlap may be at most half the chunk size.",
    // Assistant form: templates, knowledge bases, webhook; the chat page.
    section_answers: "Answer templates",
    field_template: "Answer template",
    template_hint: "{{ answer }} (the matching FAQ's answer) and {{ question }} (the person's question) are filled in. Template mode answers only from a matching FAQ, through this template, and with the unanswerable template when none matches; hybrid mode answers a matching FAQ this way and asks the language model otherwise. Blank: the FAQ's answer as it is.",
    field_unanswerable_template: "Unanswerable template",
    unanswerable_hint: "Sent when template mode finds no matching FAQ, or when the linked knowledge bases have nothing on the question; {{ question }} is filled in.",
    section_knowledge: "Knowledge",
    field_knowledge_bases: "Linked knowledge bases",
    knowledge_bases_hint: "The assistant answers from the passages and FAQs of the ticked knowledge bases.",
    no_kbs_to_link: "This organisation has no knowledge bases yet.",
    retrieved_chunks_hint: "At most this many passages go into each answer.",
    section_integration: "Integration",
    field_webhook_url: "Webhook URL",
    webhook_hint: "Each new message is POSTed to this URL. Its X-OpenMai-Signature: t=…,v1=… header carries v1, the hex HMAC-SHA256 of \"<t>.<body>\" keyed with the webhook secret.",
    field_webhook_secret: "Webhook secret",
    field_chinese_conversion: "Convert answers to Taiwan Traditional Chinese",
    msg_not_url: "Enter a valid URL.",
    chat: "Chat",
    chat_title: "Test chat",
    new_conversation: "New conversation",
    recent_conversations: "Recent conversations",
    no_conversations: "No conversations yet",
    untitled: "(untitled)",
    chat_empty: "Ask a question to start a conversation.",
    chat_placeholder: "Type a message…",
    chat_keys_hint: "Enter sends, Shift+Enter adds a line",
    send: "Send",
    you: "You",
    thinking: "Thinking…",
    citations: "Sources",
    cited_passages: "Cited passages",
    page_n: "page {n}",
    chat_error: "Error: ",
    chat_interrupted: "The answer stopped before it was complete.",
    chat_network: "The server could not be reached.",
    chat_load_failed: "Could not load the conversations: ",
    reply_failed: "This answer did not complete.",
    needs_javascript: "This page needs JavaScript.",
};

impl Text {
    /// `共 N 條資料` / `N items in total`.
    pub fn total(&self, count: u64) -> String {
        format!("{}{count}{}", self.total_before, self.total_after)
    }

    pub fn reply_mode(&self, mode: &str) -> &'static str {
        match mode {
            "normal" => self.mode_normal,
            "template" => self.mode_template,
            "hybrid" => self.mode_hybrid,
            "agent" => self.mode_agent,
            "text_to_sql" => self.mode_text_to_sql,
            "workflow" => self.mode_workflow,
            _ => "—",
        }
    }

    /// A validation message in this language (the API's DRF texts are English).
    pub fn field_message(&self, message: &str) -> String {
        if message == messages::REQUIRED || message == messages::NULL {
            self.msg_required.into()
        } else if message == messages::BLANK {
            self.msg_blank.into()
        } else if message.starts_with("Ensure this field has no more than") {
            self.msg_too_long.into()
        } else if message.ends_with("is not a valid choice.") {
            self.msg_invalid_choice.into()
        } else if message.ends_with("object does not exist.") || message == messages::NOT_A_UUID {
            self.msg_unknown.into()
        } else if message == messages::NOT_AN_INTEGER {
            self.msg_not_integer.into()
        } else if message == messages::NOT_A_NUMBER {
            self.msg_not_number.into()
        } else if message == messages::NOT_A_URL {
            self.msg_not_url.into()
        } else if let Some(bound) = limit(message, "Ensure this value is less than or equal to ") {
            format!("{}{bound}{}", self.msg_max_before, self.msg_max_after)
        } else if let Some(bound) = limit(message, "Ensure this value is greater than or equal to ")
        {
            format!("{}{bound}{}", self.msg_min_before, self.msg_min_after)
        } else if message == crate::console::knowledge::OVERLAP_TOO_LARGE {
            self.msg_overlap.into()
        } else {
            message.into()
        }
    }

    /// `找到 N 筆結果` / `N results`.
    pub fn hits(&self, count: usize) -> String {
        format!("{}{count}{}", self.hits_before, self.hits_after)
    }

    /// A knowledge file's status (`initial`, `processing`, `done`, `failed`, `deleting`).
    pub fn file_status(&self, status: &str) -> &'static str {
        match status {
            "initial" => self.status_initial,
            "processing" => self.status_processing,
            "done" => self.status_done,
            "failed" => self.status_failed,
            "deleting" => self.status_deleting,
            _ => "—",
        }
    }

    /// How a knowledge base retrieves (`keyword` or `hybrid`).
    pub fn retrieval_mode(&self, mode: &str) -> &'static str {
        if mode == "hybrid" { self.retrieval_hybrid } else { self.retrieval_keyword }
    }
}

/// The number in DRF's `Ensure this value is … N.` after `prefix`, as written (`1.0`
/// printed as `1`).
fn limit<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let bound = message.strip_prefix(prefix)?.strip_suffix('.')?;
    Some(bound.strip_suffix(".0").unwrap_or(bound))
}

pub fn by_code(code: &str) -> Option<&'static Text> {
    match code.trim().to_ascii_lowercase().as_str() {
        "zh-tw" | "zh-hant" | "zh-hant-tw" | "zh" => Some(&ZH_TW),
        "en" | "en-us" | "en-gb" => Some(&EN),
        _ => None,
    }
}

/// `?lang=…` in a query string, when it names a language.
pub fn from_query(query: Option<&str>) -> Option<&'static Text> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    pairs.iter().rev().find(|(k, _)| k == "lang").and_then(|(_, v)| by_code(v))
}

fn from_cookie(headers: &HeaderMap) -> Option<&'static Text> {
    crate::auth::session::cookie(headers, COOKIE).and_then(|code| by_code(&code))
}

/// The most preferred of Traditional Chinese and English in `Accept-Language`.
fn from_accept_language(headers: &HeaderMap) -> Option<&'static Text> {
    let value = headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
    let mut best: Option<(f32, &'static Text)> = None;
    for entry in value.split(',') {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let quality = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let text = if tag == "en" || tag.starts_with("en-") {
            &EN
        } else if tag == "zh" || tag.starts_with("zh-") {
            &ZH_TW
        } else {
            continue;
        };
        if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, text));
        }
    }
    best.map(|(_, text)| text)
}

pub fn choose(headers: &HeaderMap, query: Option<&str>) -> &'static Text {
    from_query(query)
        .or_else(|| from_cookie(headers))
        .or_else(|| from_accept_language(headers))
        .unwrap_or(&ZH_TW)
}

/// The request's language, as an extractor.
pub struct Lang(pub &'static Text);

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang(choose(&parts.headers, parts.uri.query())))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(name: header::HeaderName, value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn query_then_cookie_then_accept_language_then_chinese() {
        let none = HeaderMap::new();
        assert_eq!(choose(&none, None).code, "zh-TW");
        assert_eq!(choose(&none, Some("page=2&lang=en")).code, "en");
        let cookie = headers(header::COOKIE, "a=b; openmai_lang=en");
        assert_eq!(choose(&cookie, None).code, "en");
        assert_eq!(choose(&cookie, Some("lang=zh-TW")).code, "zh-TW");
        let accept = headers(header::ACCEPT_LANGUAGE, "en-US,en;q=0.9");
        assert_eq!(choose(&accept, None).code, "en");
        let accept = headers(header::ACCEPT_LANGUAGE, "zh-TW,zh;q=0.9,en;q=0.8");
        assert_eq!(choose(&accept, None).code, "zh-TW");
        let accept = headers(header::ACCEPT_LANGUAGE, "fr-FR, en;q=0.5");
        assert_eq!(choose(&accept, None).code, "en");
        assert_eq!(choose(&none, Some("lang=klingon")).code, "zh-TW");
    }

    #[test]
    fn totals_and_messages_read_naturally() {
        assert_eq!(ZH_TW.total(11), "共 11 條資料");
        assert_eq!(EN.total(11), "11 items in total");
        assert_eq!(ZH_TW.field_message(messages::BLANK), "此欄位不可為空白。");
        assert_eq!(EN.reply_mode("hybrid"), "Hybrid");
        assert_eq!(ZH_TW.reply_mode("template"), "範本");
        assert_eq!(ZH_TW.field_message(&messages::max_value(100)), "請輸入不大於 100 的數值。");
        assert_eq!(
            EN.field_message(&messages::min_value_float(0.0)),
            "Enter a value no less than 0."
        );
        assert_eq!(ZH_TW.field_message(messages::NOT_AN_INTEGER), "請輸入整數。");
        assert_eq!(ZH_TW.file_status("done"), "完成");
        assert_eq!(ZH_TW.hits(3), "找到 3 筆結果");
    }
}
