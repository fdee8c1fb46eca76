DROP TABLE seeded;
DROP TABLE user_role_sets;
DROP TABLE user_roles;
DROP TABLE role_permissions;
DROP TABLE roles;
DROP TABLE permissions;
DROP TABLE resources;
