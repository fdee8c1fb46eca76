ALTER TABLE permissions DROP COLUMN built_in;
ALTER TABLE resources DROP COLUMN built_in;
