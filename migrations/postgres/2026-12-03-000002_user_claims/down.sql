DROP TABLE user_claims;
