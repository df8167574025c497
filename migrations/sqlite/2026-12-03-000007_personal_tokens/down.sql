ALTER TABLE api_tokens DROP COLUMN personal;
ALTER TABLE api_tokens DROP COLUMN scope;
