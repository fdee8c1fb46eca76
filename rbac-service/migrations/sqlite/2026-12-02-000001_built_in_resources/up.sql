-- Resources and permissions the platform needs to administer itself or to let people in
-- (the rbac admin API, the user admin API, sign-up, sign-in, ...): they cannot be deleted
-- or repointed, and rbac-service restores them at start. Seeding marks them.
ALTER TABLE resources ADD COLUMN built_in BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE permissions ADD COLUMN built_in BOOLEAN NOT NULL DEFAULT 0;
