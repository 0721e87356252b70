-- A file's parsed text without the copy its chunks hold (see src/text_layout.rs): when
-- `layout` is set, `content` holds only the parts of the text that no chunk covers, and
-- `layout` (JSON) says how to put the text together from those and the file's chunks.
ALTER TABLE kb_file_contents ADD COLUMN layout TEXT;
