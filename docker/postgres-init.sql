-- One database per service (DESIGN: no service reads another's tables).
CREATE DATABASE auth;
CREATE DATABASE rbac;
CREATE DATABASE payment;
CREATE DATABASE recommend;
CREATE DATABASE chat;
