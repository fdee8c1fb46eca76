DROP TABLE wechat_identities;
