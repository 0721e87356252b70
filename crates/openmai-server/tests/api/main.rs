//! Integration tests through the real HTTP server, on SQLite and (when
//! OPENMAI_TEST_DATABASE_URL is set) on a fresh PostgreSQL database per test. One binary, so
//! linking happens once.

mod fake_llm;
mod helpers;

mod auth;
mod chatbots;
mod cli;
mod completions;
mod console;
mod console_chat;
mod console_kb;
mod conversations;
mod kb_files;
mod knowledge;
mod models;
mod organizations;
mod parsers;
mod users;
mod wire;
